// Communicator: the single-process case is plain copies; with NOGRAD_MPI (make MPI=1) the same calls go to
// MPI whenever more than one process runs. Values travel as raw bytes (MPI_BYTE): the processes of a run
// share one build and one architecture, and bytes keep doubles and checksums bit-exact.
#include "util/comm.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "util/error.h"

#ifdef NOGRAD_MPI
#define OMPI_SKIP_MPICXX 1  // the C API only: MPI's deprecated C++ bindings do not compile warning-free
#include <mpi.h>
#endif

namespace nograd {
namespace {

#ifdef NOGRAD_MPI
// Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE; PMIx-based launchers (srun --mpi=pmix, prterun) set PMIX_RANK.
bool started_by_launcher() { return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK"); }

void check_mpi(int code, const char* call) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    throw Error(std::string(call) + " failed: " + std::string(text, size_t(length)));
}
#endif

}  // namespace

Communicator Communicator::single_process() { return Communicator(0, 1, false); }

Communicator Communicator::world() {
#ifdef NOGRAD_MPI
    if (!started_by_launcher()) return single_process();
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
        // Only the main thread calls MPI; OpenMP threads never do.
        int provided = 0;
        check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    }
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return Communicator(rank, size, !initialised);
#else
    return single_process();
#endif
}

Communicator::Communicator(Communicator&& other) noexcept
    : rank_(other.rank_), size_(other.size_), owns_mpi_(other.owns_mpi_), bytes_sent_(other.bytes_sent_) {
    other.owns_mpi_ = false;
}

Communicator::~Communicator() {
#ifdef NOGRAD_MPI
    if (owns_mpi_) MPI_Finalize();
#endif
}

Block block_of(size_t count, int rank, int size) {
    const size_t k = size_t(size), r = size_t(rank);
    const size_t base = count / k, extra = count % k;
    const size_t begin = r * base + std::min(r, extra);
    return {begin, begin + base + (r < extra ? 1 : 0)};
}

void Communicator::allgather_bytes(const void* mine, size_t bytes, void* all) {
    if (size_ == 1) {
        std::memcpy(all, mine, bytes);
        return;
    }
#ifdef NOGRAD_MPI
    check_mpi(MPI_Allgather(mine, int(bytes), MPI_BYTE, all, int(bytes), MPI_BYTE, MPI_COMM_WORLD), "MPI_Allgather");
    bytes_sent_ += uint64_t(size_ - 1) * bytes;
#endif
}

// Blocks differ in size by at most one item: every process sends the largest block's size (its own
// padded), which keeps this one fixed-size MPI_Allgather.
std::vector<double> Communicator::allgather_blocks(std::span<const double> mine, size_t count) {
    const size_t widest = (count + size_t(size_) - 1) / size_t(size_);
    std::vector<double> padded(widest, 0.0), gathered(widest * size_t(size_));
    std::copy(mine.begin(), mine.end(), padded.begin());
    allgather_bytes(padded.data(), widest * sizeof(double), gathered.data());
    std::vector<double> all;
    all.reserve(count);
    for (int r = 0; r < size_; ++r) {
        const size_t n = nograd::block_of(count, r, size_).size();
        all.insert(all.end(), gathered.begin() + ptrdiff_t(size_t(r) * widest),
                   gathered.begin() + ptrdiff_t(size_t(r) * widest + n));
    }
    return all;
}

std::vector<uint64_t> Communicator::allgather(std::span<const uint64_t> mine) {
    std::vector<uint64_t> all(mine.size() * size_t(size_));
    allgather_bytes(mine.data(), mine.size_bytes(), all.data());
    return all;
}

void Communicator::allreduce_sum(std::span<float> data) {
    if (size_ == 1) return;
#ifdef NOGRAD_MPI
    // MPI_Allreduce takes an int count: large buffers go in pieces of 2^30 floats.
    constexpr size_t kPiece = size_t(1) << 30;
    for (size_t first = 0; first < data.size(); first += kPiece) {
        const int n = int(std::min(kPiece, data.size() - first));
        check_mpi(MPI_Allreduce(MPI_IN_PLACE, data.data() + first, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
                  "MPI_Allreduce");
    }
    bytes_sent_ += 2 * uint64_t(size_ - 1) * data.size_bytes() / uint64_t(size_);
#endif
}

bool Communicator::any(bool flag) {
    if (size_ == 1) return flag;
    const uint64_t mine = flag ? 1 : 0;
    const std::vector<uint64_t> all = allgather(std::span<const uint64_t>(&mine, 1));
    return std::any_of(all.begin(), all.end(), [](uint64_t v) { return v != 0; });
}

void Communicator::barrier() {
    if (size_ == 1) return;
#ifdef NOGRAD_MPI
    check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#endif
}

void Communicator::abort(const std::string& command, const std::string& message, int status) {
    std::fprintf(stderr, "nograd %s (rank %d of %d): %s\n", command.c_str(), rank_, size_, message.c_str());
    std::fflush(stderr);
#ifdef NOGRAD_MPI
    if (size_ > 1) MPI_Abort(MPI_COMM_WORLD, status);
#endif
    std::exit(status);
}

void finish_setup_together(Communicator& comm, std::exception_ptr error) {
    const uint64_t failed = error ? 1 : 0;
    const std::vector<uint64_t> all = comm.allgather(std::span<const uint64_t>(&failed, 1));
    if (error && comm.size() > 1) {
        try {
            std::rethrow_exception(error);
        } catch (const Error& e) {  // say which process, since they may run on different hosts
            throw Error("rank " + std::to_string(comm.rank()) + " of " + std::to_string(comm.size()) + ": " +
                            e.what(), e.exit_status());
        }
    }
    if (error) std::rethrow_exception(error);
    std::string ranks;
    for (size_t r = 0; r < all.size(); ++r)
        if (all[r]) ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
    if (!ranks.empty())
        throw Error("stopping: process rank " + ranks + " of " + std::to_string(comm.size()) +
                    " failed to set up (its error is printed above)");
}

}  // namespace nograd
