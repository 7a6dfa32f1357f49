// Which batch each training step uses. Unshuffled, step s takes batch s−1 (wrapping around at the end
// of the data), exactly as `nograd eval` numbers batches. Shuffled, each epoch is a permutation of the
// batches drawn from (seed, epoch) alone, so the batch of any step is a pure function of the step
// number: resuming needs no saved data position beyond the step itself.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace nograd {

class DataOrder {
public:
    DataOrder(size_t num_batches, bool shuffle, uint64_t seed);
    size_t batch_for_step(uint64_t step);  // step numbered from 1
    size_t num_batches() const { return num_batches_; }

private:
    size_t num_batches_;
    bool shuffle_;
    uint64_t seed_;
    uint64_t epoch_ = UINT64_MAX;  // the epoch `permutation_` belongs to
    std::vector<size_t> permutation_;
};

}  // namespace nograd
