// Machinery shared by the zeroth-order optimizers (random search, ES, SPSA, diagonal Newton): the keys of a
// step's directions, the antithetic-pair evaluation that SPSA and ES share, the fused final pass that
// restores θ and applies a per-coordinate update in one sweep, and option plumbing. The update rules
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

// A step's loss evaluations as one walk through parameter space, in place: θ moves by θ += scale·z(key),
// one move after another, and the loss is taken at points along the way (point j after the first
// points[j] moves). Restoring θ in place is not exact in fp32, so the bits of θ at point j depend on every
// earlier move: a process that evaluates only some points still makes all the moves, in the same order.
struct Walk {
    std::vector<DirectionKey> keys;
    std::vector<float> scales;
    std::vector<size_t> points;

    void move(DirectionKey key, float scale) {
        keys.push_back(key);
        scales.push_back(scale);
    }
    void evaluate() { points.push_back(keys.size()); }
};

struct WalkLosses {
    std::vector<double> losses;  // one per point, in walk order
    int generations = 0;         // z generations over the subset made by this process
};

// Takes the walk; θ ends after the last move. With objective.population set (several processes), each process
// evaluates its block of the points (Communicator::block_of), making the moves between and beyond them in
// merged passes, and the losses are gathered: every process returns all losses and ends with the θ one
// process would, bit for bit. Each run of moves between two evaluations is one pass over θ.
WalkLosses take_walk(Objective& objective, const Walk& walk, Distribution dist);
// What one process does: every move, but only the losses of points [first, last) (the rest stay NaN).
WalkLosses take_walk_share(Objective& objective, const Walk& walk, Distribution dist, size_t first, size_t last);

// The losses of n antithetic pairs: plus[i] = L(θ + s z_i), minus[i] = L(θ − s z_i), all on one batch.
struct PairLosses {
    std::vector<double> plus, minus;
    int generations = 0;  // z generations over the subset
};

// Evaluates the pairs of `keys` at scale s in place, as a walk: +s z_0, then per pair −2s z_i, and between
// pairs one pass that restores z_i and perturbs z_{i+1}. It returns with θ at θ − s z_{n−1}: the caller's
// final pass adds s z_{n−1} back, folded into its update. 2n forward passes, 2n passes over θ, 3n − 1
// generations (one process; with several, each makes 2n/K of the forward passes).
PairLosses evaluate_antithetic_pairs(Objective& objective, std::span<const DirectionKey> keys, float scale,
                                     Distribution dist);

// The final pass of SPSA and ES: for each piece of the ranges, regenerates each key's z once (n
// generations, one pass over θ) and forms
//   restore[k]  = Σ_s restore_scales[s] · z^(s)_k      (undo the last perturbation)
//   combined[k] = Σ_s update_scales[s]  · z^(s)_k      (the gradient estimate, before the update rule)
// then calls f(restore, combined, param_begin, count, subset_offset). Pieces run in parallel: f must be
// per-coordinate (then the bits are the same for any thread count) and must not throw.
template <class F>
void for_each_combined_chunk(std::span<const IndexRange> ranges, std::span<const DirectionKey> keys,
                             std::span<const float> restore_scales, std::span<const float> update_scales,
                             Distribution dist, F&& f) {
    const DirectionChunkPlan plan(ranges);
    const ptrdiff_t pieces = static_cast<ptrdiff_t>(plan.size());
#pragma omp parallel for schedule(static) if (pieces > 1)
    for (ptrdiff_t number = 0; number < pieces; ++number) {
        alignas(64) float z[kDirectionChunk];
        alignas(64) float restore[kDirectionChunk];
        alignas(64) float combined[kDirectionChunk];
        const DirectionChunkPlan::Piece piece = plan.piece(static_cast<size_t>(number));
        const size_t count = piece.end - piece.begin;
        std::fill_n(restore, count, 0.0f);
        std::fill_n(combined, count, 0.0f);
        for (size_t s = 0; s < keys.size(); ++s) {
            generate_direction_serial(z, piece.begin, piece.end, keys[s], dist);
            const float r = restore_scales[s], u = update_scales[s];
            for (size_t k = 0; k < count; ++k) {
                restore[k] += r * z[k];
                combined[k] += u * z[k];
            }
        }
        f(static_cast<const float*>(restore), static_cast<const float*>(combined), piece.begin, count,
          piece.subset_offset);
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
