// Antithetic ES step: 2n losses at θ ± σz_i on one batch (θ only read), centred ranks, then one fused pass
// that applies SGD or Adam to ĝ = Σ_i (r⁺_i − r⁻_i) z_i / (2nσ).
#include "optim/es.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "optim/zeroth_order.h"
#include "util/error.h"

namespace nograd {

std::vector<FlagSpec> EsOptions::flag_specs() {
    const EsOptions d;
    return {
        {"--pairs", "N", std::to_string(d.pairs), "es: antithetic pairs per step (2N forward passes)"},
        {"--sigma", "S", number_text(d.sigma), "es: perturbation scale sigma; random: initial sigma"},
        distribution_flag(d.dist),
        {"--adam", "", "", "es: Adam on the ES estimate instead of SGD (two vectors over the trained subset)"},
        {"--beta1", "B", number_text(d.beta1), "Adam's first-moment decay"},
        {"--beta2", "B", number_text(d.beta2), "Adam's second-moment decay"},
        {"--adam-eps", "E", number_text(d.adam_eps), "Adam's denominator guard"},
    };
}

EsOptions EsOptions::from_flags(const Flags& flags) {
    constexpr double lo = std::numeric_limits<double>::lowest(), hi = std::numeric_limits<double>::max();
    EsOptions o;
    o.pairs = int(flags.integer("--pairs", o.pairs, 1, 1 << 20));
    o.sigma = flags.real("--sigma", o.sigma, lo, hi);
    o.dist = distribution_from_flags(flags, o.dist);
    o.adam = flags.has("--adam");
    o.beta1 = flags.real("--beta1", o.beta1, lo, hi);
    o.beta2 = flags.real("--beta2", o.beta2, lo, hi);
    o.adam_eps = flags.real("--adam-eps", o.adam_eps, lo, hi);
    return o;
}

std::vector<double> centred_ranks(std::span<const double> losses) {
    const size_t n = losses.size();
    auto key = [&](size_t i) { return std::isnan(losses[i]) ? std::numeric_limits<double>::infinity() : losses[i]; };
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
    std::vector<double> ranks(n);
    for (size_t first = 0; first < n;) {
        size_t last = first;  // [first, last] hold equal losses: each gets their mean rank
        while (last + 1 < n && key(order[last + 1]) == key(order[first])) ++last;
        const double mean_rank = 0.5 * double(first + last);
        for (size_t j = first; j <= last; ++j) ranks[order[j]] = mean_rank / double(n - 1) - 0.5;
        first = last + 1;
    }
    return ranks;
}

EsOptimizer::EsOptimizer(const EsOptions& options, uint64_t seed, size_t subset_size)
    : options_(options), seed_(seed), subset_size_(subset_size) {
    require_in_range(options.pairs, 1, 1 << 20, "--pairs");
    require_positive(options.sigma, "--sigma");
    require_in_range(options.beta1, 0.0, 0.999999, "--beta1");
    require_in_range(options.beta2, 0.0, 0.999999, "--beta2");
    require_positive(options.adam_eps, "--adam-eps");
    if (options.adam) {
        adam_m_.assign(subset_size, 0.0f);
        adam_v_.assign(subset_size, 0.0f);
    }
}

StepReport EsOptimizer::step(Objective& objective, const StepContext& context) {
    check_objective(objective, subset_size_, "es");
    const size_t n = size_t(options_.pairs);
    const float sigma = float(options_.sigma);
    const std::vector<DirectionKey> keys = step_directions(seed_, context.step, n);
    const PairLosses losses = evaluate_antithetic_pairs(objective, keys, sigma, options_.dist);

    // Ranks of all 2n losses (plus first, then minus); Salimans et al. rank rewards, we rank losses and
    // step along −ĝ. Weight of z_i: (r⁺_i − r⁻_i)/(2nσ).
    std::vector<double> all(losses.plus);
    all.insert(all.end(), losses.minus.begin(), losses.minus.end());
    const std::vector<double> ranks = centred_ranks(all);
    std::vector<float> weights(n);
    for (size_t i = 0; i < n; ++i) weights[i] = float((ranks[i] - ranks[n + i]) / (2.0 * double(n) * double(sigma)));
    update(objective, keys, weights, float(context.lr));

    StepReport report;
    report.loss = std::accumulate(all.begin(), all.end(), 0.0) / double(all.size());
    report.loss_kind = "mean_perturbed";
    report.forward_passes = int(2 * n);
    report.direction_generations = losses.generations + int(n);
    report.fields["sigma"] = sigma;
    report.fields["loss_min"] = *std::min_element(all.begin(), all.end());
    report.fields["loss_max"] = *std::max_element(all.begin(), all.end());
    return report;
}

// One pass: ĝ = Σ_i w_i z_i, then SGD θ ← θ − ηĝ or Adam (Kingma & Ba 2015):
// m ← β1 m + (1−β1)ĝ, v ← β2 v + (1−β2)ĝ², θ ← θ − η m̂/(√v̂ + eps).
void EsOptimizer::update(Objective& objective, std::span<const DirectionKey> keys, std::span<const float> weights,
                         float lr) {
    const size_t n = keys.size();
    float* params = objective.params.data();
    if (!options_.adam) {
        std::vector<float> scales(n);
        for (size_t i = 0; i < n; ++i) scales[i] = -lr * weights[i];
        add_scaled_directions(params, objective.trainable, keys, scales, options_.dist);
        return;
    }
    adam_steps_ += 1;
    const float b1 = float(options_.beta1), b2 = float(options_.beta2), guard = float(options_.adam_eps);
    const float correction1 = float(1.0 - std::pow(options_.beta1, double(adam_steps_)));
    const float correction2 = float(1.0 - std::pow(options_.beta2, double(adam_steps_)));
    float* adam_m = adam_m_.data();
    float* adam_v = adam_v_.data();
    for_each_combined_chunk(
        objective.trainable, keys, weights, options_.dist,
        [&](const float* estimate, size_t first, size_t count, size_t offset) {
            float* __restrict p = params + first;
            float* __restrict m = adam_m + offset;
            float* __restrict v = adam_v + offset;
            for (size_t k = 0; k < count; ++k) {
                const float g = estimate[k];
                m[k] = b1 * m[k] + (1.0f - b1) * g;
                v[k] = b2 * v[k] + (1.0f - b2) * g * g;
                p[k] -= lr * (m[k] / correction1) / (std::sqrt(v[k] / correction2) + guard);
            }
        });
}

nlohmann::json EsOptimizer::state_scalars() const { return {{"adam_steps", adam_steps_}}; }

void EsOptimizer::load_state_scalars(const nlohmann::json& state) {
    adam_steps_ = state_count(state, "adam_steps", "es");
}

std::vector<std::span<float>> EsOptimizer::state_vectors() {
    if (!options_.adam) return {};
    return {std::span<float>(adam_m_), std::span<float>(adam_v_)};
}

nlohmann::json EsOptimizer::hyperparameters() const {
    return {{"optimizer", name()},      {"seed", seed_},
            {"pairs", options_.pairs},  {"sigma", options_.sigma},
            {"dist", distribution_name(options_.dist)},
            {"adam", options_.adam},    {"beta1", options_.beta1},
            {"beta2", options_.beta2},  {"adam_eps", options_.adam_eps}};
}

}  // namespace nograd
