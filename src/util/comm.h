// The processes of one run and the few collective operations nograd needs between them: gather a few
// numbers from every process, sum gradients, agree on a flag, abort. A single-process communicator is
// always there (every operation is then a copy); a build with MPI=1 adds MPI's world communicator (Open MPI),
// used when the program was started by mpirun. Nothing here knows about models or optimizers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <exception>
#include <span>
#include <string>
#include <vector>

namespace nograd {

// Items [begin, end) of a list: one process's share.
struct Block {
    size_t begin = 0, end = 0;
    size_t size() const { return end - begin; }
};

// Rank `rank`'s share when `count` items are dealt out to `size` processes in contiguous blocks in rank
// order, the first count % size ranks taking one more (so shares differ by at most one item, may be empty).
Block block_of(size_t count, int rank, int size);

class Communicator {
public:
    // This process alone.
    static Communicator single_process();
    // Every process mpirun started (MPI_COMM_WORLD), initialising MPI; finalised by the destructor. In a
    // build without MPI, or in a process not started by mpirun (no launcher in the environment), this
    // process alone: such a process never loads MPI's runtime.
    static Communicator world();

    Communicator(Communicator&& other) noexcept;
    Communicator& operator=(Communicator&&) = delete;
    ~Communicator();

    int rank() const { return rank_; }
    int size() const { return size_; }

    // This process's share of `count` items (see block_of above).
    Block block_of(size_t count) const { return nograd::block_of(count, rank_, size_); }

    // Every process's block_of(count) of a list of values, concatenated in rank order: the whole list, the
    // same bits on every process. `mine` holds this process's block.
    std::vector<double> allgather_blocks(std::span<const double> mine, size_t count);
    // Every process's `mine` (the same size on each), concatenated in rank order.
    std::vector<uint64_t> allgather(std::span<const uint64_t> mine);
    // data[i] ← Σ over processes of data[i], the same result on every process.
    void allreduce_sum(std::span<float> data);
    // True on every process if `flag` is true on any.
    bool any(bool flag);
    // Returns once every process has called it (no payload: nothing counted in bytes_sent).
    void barrier();
    // Prints "nograd <command> (rank r of K): <message>" on stderr and ends every process with `status`
    // (MPI_Abort): for an error on one process after the others may already wait in a collective.
    [[noreturn]] void abort(const std::string& command, const std::string& message, int status);

    // Bytes this process has handed to the network so far, counted as the standard algorithms send them
    // (ring allgather: its block to each of the K−1 others; ring allreduce: 2(K−1)/K of the buffer).
    uint64_t bytes_sent() const { return bytes_sent_; }

private:
    Communicator(int rank, int size, bool owns_mpi) : rank_(rank), size_(size), owns_mpi_(owns_mpi) {}
    void allgather_bytes(const void* mine, size_t bytes, void* all);

    int rank_ = 0, size_ = 1;
    bool owns_mpi_ = false;  // this object initialised MPI and finalises it
    uint64_t bytes_sent_ = 0;
};

// Ends a setup phase that every process runs (load the model, the data, a resumed state): `error` is this
// process's failure, if any. When any process failed, every process throws — a failed one its own error,
// the others an Error naming the failed ranks — so none is left waiting in a later collective.
void finish_setup_together(Communicator& comm, std::exception_ptr error);

// Runs `setup` on every process under finish_setup_together's rule.
template <class F>
void setup_together(Communicator& comm, F&& setup) {
    std::exception_ptr error;
    try {
        setup();
    } catch (...) {
        error = std::current_exception();
    }
    finish_setup_together(comm, error);
}

}  // namespace nograd
