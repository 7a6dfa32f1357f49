// Shared pieces of the zeroth-order optimizers: subset checks, the weight-decay mask, the in-place
// antithetic-pair evaluation (MeZO's perturb / flip, with restores folded into the next perturbation) and
// option plumbing. See zeroth_order.h for the pass and generation counts.
#include "optim/zeroth_order.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "optim/newton.h"
#include "optim/spsa.h"
#include "util/error.h"

namespace nograd {

std::vector<DirectionKey> step_directions(uint64_t seed, uint64_t step, size_t count) {
    std::vector<DirectionKey> keys;
    keys.reserve(count);
    for (size_t sample = 0; sample < count; ++sample) keys.push_back(step_direction(seed, step, sample));
    return keys;
}

void check_objective(const Objective& objective, size_t expected_subset, const std::string& optimizer) {
    const size_t found = subset_size(objective.trainable);
    if (found != expected_subset)
        throw Error(optimizer + ": expected a trainable subset of " + std::to_string(expected_subset) +
                    " entries (the size it was built for), found " + std::to_string(found));
    if (!objective.decays.empty() && objective.decays.size() != objective.trainable.size())
        throw Error(optimizer + ": expected one weight-decay flag per trainable range (" +
                    std::to_string(objective.trainable.size()) + "), found " +
                    std::to_string(objective.decays.size()));
    for (const IndexRange& range : objective.trainable)
        if (range.begin > range.end || range.end > objective.params.size())
            throw Error(optimizer + ": expected trainable ranges within the " +
                        std::to_string(objective.params.size()) + " parameters, found [" +
                        std::to_string(range.begin) + ", " + std::to_string(range.end) + ")");
}

DecayMask::DecayMask(std::span<const IndexRange> ranges, const std::vector<bool>& decays)
    : decays_(decays.empty() ? std::vector<bool>(ranges.size(), false) : decays) {
    size_t offset = 0;
    range_end_.reserve(ranges.size());
    for (const IndexRange& range : ranges) {
        offset += range.end - range.begin;
        range_end_.push_back(offset);
    }
}

// The first range ending after the offset holds it; empty ranges end where they start and are skipped.
bool DecayMask::at(size_t subset_offset) const {
    const size_t r = size_t(std::upper_bound(range_end_.begin(), range_end_.end(), subset_offset) -
                            range_end_.begin());
    return r < decays_.size() && decays_[r];
}

namespace {

// Moves [begin, end) of the walk in one pass; returns the z generations (a repeated key reuses its z).
int make_moves(Objective& objective, const Walk& walk, size_t begin, size_t end, Distribution dist) {
    if (begin == end) return 0;
    const std::span<const DirectionKey> keys(walk.keys.data() + begin, end - begin);
    const std::span<const float> scales(walk.scales.data() + begin, end - begin);
    add_scaled_directions(objective.params.data(), objective.trainable, keys, scales, dist);
    int generations = 1;
    for (size_t m = 1; m < keys.size(); ++m) generations += keys[m] != keys[m - 1] ? 1 : 0;
    return generations;
}

}  // namespace

WalkLosses take_walk_share(Objective& objective, const Walk& walk, Distribution dist, size_t first, size_t last) {
    WalkLosses result;
    result.losses.assign(walk.points.size(), std::numeric_limits<double>::quiet_NaN());
    size_t moved = 0;
    for (size_t j = first; j < last; ++j) {
        result.generations += make_moves(objective, walk, moved, walk.points[j], dist);
        moved = walk.points[j];
        result.losses[j] = objective.loss();
    }
    result.generations += make_moves(objective, walk, moved, walk.keys.size(), dist);
    return result;
}

WalkLosses take_walk(Objective& objective, const Walk& walk, Distribution dist) {
    Communicator* group = objective.population;
    if (!group || group->size() == 1) return take_walk_share(objective, walk, dist, 0, walk.points.size());
    const Block mine = group->block_of(walk.points.size());
    WalkLosses result = take_walk_share(objective, walk, dist, mine.begin, mine.end);
    const std::span<const double> evaluated(result.losses.data() + mine.begin, mine.size());
    result.losses = group->allgather_blocks(evaluated, walk.points.size());
    return result;
}

PairLosses evaluate_antithetic_pairs(Objective& objective, std::span<const DirectionKey> keys, float scale,
                                     Distribution dist) {
    Walk route;
    for (size_t i = 0; i < keys.size(); ++i) {
        if (i > 0) route.move(keys[i - 1], scale);  // restore z_{i−1} and perturb along z_i in one pass
        route.move(keys[i], scale);                 // θ + s z_i
        route.evaluate();
        route.move(keys[i], -2.0f * scale);         // θ − s z_i
        route.evaluate();
    }
    const WalkLosses walked = take_walk(objective, route, dist);
    PairLosses losses;
    for (size_t i = 0; i < keys.size(); ++i) {
        losses.plus.push_back(walked.losses[2 * i]);
        losses.minus.push_back(walked.losses[2 * i + 1]);
    }
    losses.generations = walked.generations;
    return losses;
}

bool all_finite(std::span<const double> values) {
    return std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); });
}

double state_number(const nlohmann::json& state, const std::string& key, const std::string& optimizer) {
    const auto it = state.find(key);
    if (it == state.end() || !it->is_number())
        throw Error(optimizer + " state: expected a number '" + key + "', found " +
                    (it == state.end() ? std::string("none") : it->dump()));
    return it->get<double>();
}

uint64_t state_count(const nlohmann::json& state, const std::string& key, const std::string& optimizer) {
    const auto it = state.find(key);
    if (it == state.end() || !it->is_number_unsigned())
        throw Error(optimizer + " state: expected a count '" + key + "', found " +
                    (it == state.end() ? std::string("none") : it->dump()));
    return it->get<uint64_t>();
}

std::string distribution_name(Distribution dist) {
    return dist == Distribution::gaussian ? "gaussian" : "rademacher";
}

Distribution distribution_from_flags(const Flags& flags, Distribution fallback) {
    const std::string text = flags.text("--dist", distribution_name(fallback));
    if (text == "gaussian") return Distribution::gaussian;
    if (text == "rademacher") return Distribution::rademacher;
    throw UsageError("--dist: expected gaussian or rademacher, found '" + text + "'");
}

FlagSpec distribution_flag(Distribution fallback) {
    return {"--dist", "NAME", distribution_name(fallback),
            "direction distribution: gaussian (MeZO) or rademacher (+-1, classic SPSA)"};
}

FlagSpec eps_flag() {
    return {"--eps", "E",
            number_text(SpsaOptions{}.eps) + " (spsa), " + number_text(NewtonOptions{}.eps) + " (newton)",
            "spsa: perturbation scale (theta +- eps z); newton: the same in curvature units (theta +- eps z/sqrt(H))"};
}

std::string number_text(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    return text;
}

void require_positive(double value, const std::string& flag) {
    if (!(value > 0.0) || !std::isfinite(value))
        throw UsageError(flag + ": expected a positive number, found " + number_text(value));
}

void require_in_range(double value, double low, double high, const std::string& flag) {
    if (!(value >= low && value <= high))
        throw UsageError(flag + ": expected a number from " + number_text(low) + " to " + number_text(high) +
                         ", found " + number_text(value));
}

}  // namespace nograd
