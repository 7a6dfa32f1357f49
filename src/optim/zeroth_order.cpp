// Shared pieces of the zeroth-order optimizers: subset checks, the weight-decay mask, the loss probes
// (shared out between processes when there are several) and option plumbing. See zeroth_order.h for the pass and generation counts.
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

ProbeLosses probe_losses(Objective& objective, std::span<const Probe> probes, Distribution dist,
                         const float* diag_h) {
    if (!objective.losses_along) throw Error("zeroth-order step: the objective has no losses_along");
    Communicator* group = objective.population;
    const bool shared = group && group->size() > 1;
    const Block mine = shared ? group->block_of(probes.size()) : Block{0, probes.size()};
    const size_t slots = probes.empty() ? 0 : probes[0].scales.size();
    if (shared)
        for (const Probe& probe : probes)
            if (probe.scales.size() != slots) throw Error("probe_losses: probes of different sizes cannot be shared out");
    ProbeLosses result;
    result.losses.resize(probes.size());
    for (size_t j = mine.begin; j < mine.end; ++j) {
        const Probe& probe = probes[j];
        const Perturbation p{probe.key, dist, objective.trainable, diag_h};
        result.losses[j] = objective.losses_along(p, probe.scales);
        const bool moves = std::any_of(probe.scales.begin(), probe.scales.end(), [](float s) { return s != 0.0f; });
        result.generations += moves ? 1 : 0;
    }
    if (!shared) return result;
    // One gather per scale slot: slot i of every probe, each process sending its block.
    for (size_t j = 0; j < probes.size(); ++j)
        if (j < mine.begin || j >= mine.end) result.losses[j].assign(slots, 0.0);
    for (size_t i = 0; i < slots; ++i) {
        std::vector<double> evaluated;
        for (size_t j = mine.begin; j < mine.end; ++j) evaluated.push_back(result.losses[j][i]);
        const std::vector<double> all = group->allgather_blocks(evaluated, probes.size());
        for (size_t j = 0; j < probes.size(); ++j) result.losses[j][i] = all[j];
    }
    return result;
}

PairLosses evaluate_antithetic_pairs(Objective& objective, std::span<const DirectionKey> keys, float scale,
                                     Distribution dist) {
    std::vector<Probe> pairs;
    for (const DirectionKey& key : keys) pairs.push_back({key, {scale, -scale}});
    const ProbeLosses probed = probe_losses(objective, pairs, dist);
    PairLosses losses;
    for (const std::vector<double>& pair : probed.losses) {
        losses.plus.push_back(pair[0]);
        losses.minus.push_back(pair[1]);
    }
    losses.generations = probed.generations;
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
