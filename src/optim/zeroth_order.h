// Machinery shared by the zeroth-order optimizers (random search, ES, SPSA, diagonal Newton): the keys of a
// step's directions, the loss probes along them (with the antithetic pairs that SPSA and ES share), the fused
// final pass that applies a per-coordinate update in one sweep, and option plumbing. The update rules
// themselves live in each optimizer's own file; nothing here allocates a parameter-sized buffer.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "optim/direction.h"
#include "optim/optimizer.h"
#include "util/flags.h"

namespace nograd {

// Direction `sample` of step `step`: a pure function of (seed, step, sample), so a resumed run and any
// thread count regenerate the same z.
inline DirectionKey step_direction(uint64_t seed, uint64_t step, uint64_t sample) {
    return {seed, direction_stream(step, sample)};
}
std::vector<DirectionKey> step_directions(uint64_t seed, uint64_t step, size_t count);

// Throws nograd::Error unless the objective trains `expected_subset` entries and has one decay flag per
// trainable range (an empty `decays` means no range decays).
void check_objective(const Objective& objective, size_t expected_subset, const std::string& optimizer);

// Which trainable ranges take weight decay, looked up by subset offset (a chunk piece lies in one range).
class DecayMask {
public:
    DecayMask(std::span<const IndexRange> ranges, const std::vector<bool>& decays);
    bool at(size_t subset_offset) const;

private:
    std::vector<size_t> range_end_;  // subset offset one past each range
    std::vector<bool> decays_;
};

// A step's loss evaluations along one direction: L(θ + s·u(key)) for each s of `scales` (u preconditioned by
// the optimizer's diag_h when it passes one). Scale 0 is θ itself and generates nothing.
struct Probe {
    DirectionKey key;
    std::vector<float> scales;
};

struct ProbeLosses {
    std::vector<std::vector<double>> losses;  // per probe, per scale
    int generations = 0;                      // z generations over the subset made by this process
};

// Every probe's losses through objective.losses_along, θ unchanged. With objective.population set (several
// processes), the processes take contiguous blocks of the probes (Communicator::block_of) and gather the
// losses, so every process returns all of them; the probes must then all have the same number of scales.
ProbeLosses probe_losses(Objective& objective, std::span<const Probe> probes, Distribution dist,
                         const float* diag_h = nullptr);

// The losses of n antithetic pairs: plus[i] = L(θ + s z_i), minus[i] = L(θ − s z_i), all on one batch.
struct PairLosses {
    std::vector<double> plus, minus;
    int generations = 0;  // z generations over the subset
};

// 2n forward passes, run pair by pair (each pair's two in lockstep), n generations; θ is not changed.
PairLosses evaluate_antithetic_pairs(Objective& objective, std::span<const DirectionKey> keys, float scale,
                                     Distribution dist);

// The final pass of SPSA and ES: for each piece of the ranges, regenerates each key's z once (n
// generations, one pass over θ), forms combined[k] = Σ_s scales[s] · z^(s)_k (the gradient estimate, before
// the update rule) and calls f(combined, param_begin, count, subset_offset), one generation batch at a time
// (count ≤ direction_step(dist), so z and combined stay in L1: whole 4096-entry pieces made SPSA's update
// pass ~1.5x slower). Pieces run in parallel: f must be per-coordinate (then the bits are the same for any
// thread count) and must not throw.
template <class F>
void for_each_combined_chunk(std::span<const IndexRange> ranges, std::span<const DirectionKey> keys,
                             std::span<const float> scales, Distribution dist, F&& f) {
    const DirectionChunkPlan plan(ranges);
    const ptrdiff_t pieces = static_cast<ptrdiff_t>(plan.size());
    const size_t step = direction_step(dist);
#pragma omp parallel for schedule(static) if (pieces > 1)
    for (ptrdiff_t number = 0; number < pieces; ++number) {
        alignas(64) float z[kRademacherBatch];
        alignas(64) float combined[kRademacherBatch];
        const DirectionChunkPlan::Piece piece = plan.piece(static_cast<size_t>(number));
        for (size_t first = piece.begin; first < piece.end;) {
            const size_t last = std::min(piece.end, (first / step + 1) * step);  // stop at a batch boundary
            const size_t count = last - first;
            std::fill_n(combined, count, 0.0f);
            for (size_t s = 0; s < keys.size(); ++s) {
                generate_direction_serial(z, first, last, keys[s], dist);
                const float u = scales[s];
                for (size_t k = 0; k < count; ++k) combined[k] += u * z[k];
            }
            f(static_cast<const float*>(combined), first, count, piece.subset_offset + (first - piece.begin));
            first = last;
        }
    }
}

bool all_finite(std::span<const double> values);

// Reading back state_scalars(): the named number, or nograd::Error naming the optimizer and the key.
double state_number(const nlohmann::json& state, const std::string& key, const std::string& optimizer);
uint64_t state_count(const nlohmann::json& state, const std::string& key, const std::string& optimizer);

// Option plumbing. Flag names are "--" + the field name with '_' as '-'; validation throws UsageError
// naming the flag, what was expected and what was found.
std::string distribution_name(Distribution dist);
Distribution distribution_from_flags(const Flags& flags, Distribution fallback);
FlagSpec distribution_flag(Distribution fallback);
FlagSpec eps_flag();  // --eps, shared by spsa and newton, whose defaults differ: the help names both
std::string number_text(double value);  // "%g": 1e-3 prints as 0.001
void require_positive(double value, const std::string& flag);
void require_in_range(double value, double low, double high, const std::string& flag);  // low <= v <= high

}  // namespace nograd
