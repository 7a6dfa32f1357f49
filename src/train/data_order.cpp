#include "train/data_order.h"

#include <numeric>

namespace nograd {
namespace {

// SplitMix64 (Steele et al. 2014): a fully specified generator, so a shuffle gives the same order
// with any standard library (std::shuffle's algorithm is implementation-defined).
uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

}  // namespace

DataOrder::DataOrder(size_t num_batches, bool shuffle, uint64_t seed)
    : num_batches_(num_batches), shuffle_(shuffle), seed_(seed) {}

size_t DataOrder::batch_for_step(uint64_t step) {
    const uint64_t index = step - 1, epoch = index / num_batches_;
    if (!shuffle_) return index % num_batches_;
    if (epoch != epoch_) {
        permutation_.resize(num_batches_);
        std::iota(permutation_.begin(), permutation_.end(), size_t(0));
        uint64_t state = seed_ * 0x100000001B3ull + epoch;
        for (size_t i = num_batches_ - 1; i > 0; --i)  // Fisher–Yates
            std::swap(permutation_[i], permutation_[splitmix64(state) % (i + 1)]);
        epoch_ = epoch;
    }
    return permutation_[index % num_batches_];
}

}  // namespace nograd
