// MeZO / SPSA step: two losses per direction, in lockstep with θ only read, then one fused pass that
// applies θ ← θ − η(ĝ + λθ) (or the momentum form) with ĝ = (1/n) Σ_s g_s z_s.
#include "optim/spsa.h"

#include <cmath>
#include <limits>

#include "optim/zeroth_order.h"
#include "util/error.h"

namespace nograd {

std::vector<FlagSpec> SpsaOptions::flag_specs() {
    const SpsaOptions d;
    return {
        eps_flag(),
        {"--samples", "N", std::to_string(d.samples), "spsa: directions averaged per step (n-SPSA), 2N forward passes"},
        distribution_flag(d.dist),
        {"--weight-decay", "L", number_text(d.weight_decay), "spsa: weight decay (not biases, not LayerNorm)"},
        {"--momentum", "MU", number_text(d.momentum), "spsa: momentum (> 0 costs one vector over the trained subset)"},
        {"--gains", "NAME", "constant", "spsa: constant, or spall: a_k = lr((1+A)/(k+1+A))^alpha, c_k = eps/(k+1)^gamma"},
        {"--spall-A", "A", number_text(d.spall_A), "spsa --gains spall: stability constant (~10% of the steps)"},
        {"--spall-alpha", "X", number_text(d.spall_alpha), "spsa --gains spall: decay exponent of the step size"},
        {"--spall-gamma", "X", number_text(d.spall_gamma), "spsa --gains spall: decay exponent of eps"},
    };
}

SpsaOptions SpsaOptions::from_flags(const Flags& flags) {
    constexpr double lo = std::numeric_limits<double>::lowest(), hi = std::numeric_limits<double>::max();
    SpsaOptions o;
    o.eps = flags.real("--eps", o.eps, lo, hi);
    o.samples = int(flags.integer("--samples", o.samples, 1, 1 << 20));
    o.dist = distribution_from_flags(flags, o.dist);
    o.weight_decay = flags.real("--weight-decay", o.weight_decay, lo, hi);
    o.momentum = flags.real("--momentum", o.momentum, lo, hi);
    const std::string gains = flags.text("--gains", "constant");
    if (gains != "constant" && gains != "spall")
        throw UsageError("--gains: expected constant or spall, found '" + gains + "'");
    o.gains = gains == "spall" ? Gains::spall : Gains::constant;
    o.spall_A = flags.real("--spall-A", o.spall_A, lo, hi);
    o.spall_alpha = flags.real("--spall-alpha", o.spall_alpha, lo, hi);
    o.spall_gamma = flags.real("--spall-gamma", o.spall_gamma, lo, hi);
    return o;
}

SpsaOptimizer::SpsaOptimizer(const SpsaOptions& options, uint64_t seed, size_t subset_size)
    : options_(options), seed_(seed), subset_size_(subset_size) {
    require_positive(options.eps, "--eps");
    require_in_range(options.samples, 1, 1 << 20, "--samples");
    require_in_range(options.weight_decay, 0.0, 1e6, "--weight-decay");
    require_in_range(options.momentum, 0.0, 0.9999, "--momentum");
    require_in_range(options.spall_A, 0.0, 1e12, "--spall-A");
    require_in_range(options.spall_alpha, 0.0, 10.0, "--spall-alpha");
    require_in_range(options.spall_gamma, 0.0, 10.0, "--spall-gamma");
    if (options.momentum > 0.0) momentum_.assign(subset_size, 0.0f);
}

SpsaOptimizer::Gain SpsaOptimizer::gain_at(const StepContext& context) const {
    if (options_.gains == Gains::constant) return {float(context.lr), float(options_.eps)};
    const double k = double(context.step - 1);  // Spall numbers iterations from 0
    const double a_k = context.lr * std::pow((1.0 + options_.spall_A) / (k + 1.0 + options_.spall_A),
                                             options_.spall_alpha);
    const double c_k = options_.eps / std::pow(k + 1.0, options_.spall_gamma);
    return {float(a_k), float(c_k)};
}

StepReport SpsaOptimizer::step(Objective& objective, const StepContext& context) {
    check_objective(objective, subset_size_, "spsa");
    const Gain gain = gain_at(context);
    const std::vector<DirectionKey> keys = step_directions(seed_, context.step, size_t(options_.samples));
    const PairLosses losses = evaluate_antithetic_pairs(objective, keys, gain.eps, options_.dist);

    StepReport report;
    report.loss_kind = "mean_perturbed";
    report.forward_passes = 2 * options_.samples;
    report.direction_generations = losses.generations;
    std::vector<double> projected;  // g_s = (L⁺ − L⁻)/(2ε), MeZO's projected gradient
    double loss_sum = 0.0, projected_sum = 0.0;
    for (size_t s = 0; s < keys.size(); ++s) {
        projected.push_back((losses.plus[s] - losses.minus[s]) / (2.0 * double(gain.eps)));
        loss_sum += 0.5 * (losses.plus[s] + losses.minus[s]);
        projected_sum += projected.back();
    }
    report.loss = loss_sum / double(keys.size());
    report.fields["projected_gradient"] = projected_sum / double(keys.size());
    report.fields["eps"] = gain.eps;
    report.fields["lr"] = gain.lr;
    if (!all_finite(losses.plus) || !all_finite(losses.minus)) {
        // A non-finite loss would spread NaN into every parameter: skip the update (θ was never moved).
        report.fields["skipped_nonfinite"] = true;
        return report;
    }
    update(objective, keys, projected, gain);
    report.direction_generations += int(keys.size());
    return report;
}

// One pass: ĝ = (1/n) Σ_s g_s z_s, then
//   θ ← θ − η(ĝ + λθ)                       (MeZO, Algorithm 1 with weight decay)
//   m ← μm + ĝ + λθ,  θ ← θ − ηm            (momentum > 0; ZO-SGD-MMT in ZO-Bench)
void SpsaOptimizer::update(Objective& objective, std::span<const DirectionKey> keys, std::span<const double> projected,
                           Gain gain) {
    const size_t n = keys.size();
    std::vector<float> update_scales(n);
    for (size_t s = 0; s < n; ++s) update_scales[s] = float(projected[s] / double(n));

    float* params = objective.params.data();
    float* momentum = momentum_.empty() ? nullptr : momentum_.data();
    const DecayMask decays(objective.trainable, objective.decays);
    const float lr = gain.lr, mu = float(options_.momentum), weight_decay = float(options_.weight_decay);
    for_each_combined_chunk(
        objective.trainable, keys, update_scales, options_.dist,
        [&](const float* estimate, size_t first, size_t count, size_t offset) {
            float* __restrict p = params + first;
            const float lambda = decays.at(offset) ? weight_decay : 0.0f;
            if (!momentum) {
                for (size_t k = 0; k < count; ++k) p[k] -= lr * (estimate[k] + lambda * p[k]);
                return;
            }
            float* __restrict m = momentum + offset;
            for (size_t k = 0; k < count; ++k) {
                m[k] = mu * m[k] + estimate[k] + lambda * p[k];
                p[k] -= lr * m[k];
            }
        });
}

std::vector<std::span<float>> SpsaOptimizer::state_vectors() {
    if (momentum_.empty()) return {};
    return {std::span<float>(momentum_)};
}

nlohmann::json SpsaOptimizer::hyperparameters() const {
    return {{"optimizer", name()},
            {"seed", seed_},
            {"eps", options_.eps},
            {"samples", options_.samples},
            {"dist", distribution_name(options_.dist)},
            {"weight_decay", options_.weight_decay},
            {"momentum", options_.momentum},
            {"gains", options_.gains == Gains::spall ? "spall" : "constant"},
            {"spall_A", options_.spall_A},
            {"spall_alpha", options_.spall_alpha},
            {"spall_gamma", options_.spall_gamma}};
}

}  // namespace nograd
