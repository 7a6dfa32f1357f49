// HiZOO-style diagonal Newton step: three losses on one batch (θ itself, then θ ± εz/√H in lockstep, θ only
// read), then one fused pass per coordinate that updates H and takes the clipped preconditioned step.
#include "optim/newton.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "optim/zeroth_order.h"

namespace nograd {

std::vector<FlagSpec> NewtonOptions::flag_specs() {
    const NewtonOptions d;
    return {
        eps_flag(),
        {"--alpha", "A", number_text(d.alpha), "newton: EMA weight of each curvature sample in H"},
        {"--h-floor", "H", number_text(d.h_floor), "newton: lower bound on the diagonal Hessian estimate H"},
        {"--clip", "C", number_text(d.clip), "newton: per-coordinate step is lr*clamp(g z/sqrt(H), +-C) (Sophia)"},
        {"--h-warmup", "N", std::to_string(d.h_warmup), "newton: first N steps only estimate H, parameters stay"},
        distribution_flag(d.dist),
    };
}

NewtonOptions NewtonOptions::from_flags(const Flags& flags) {
    constexpr double lo = std::numeric_limits<double>::lowest(), hi = std::numeric_limits<double>::max();
    NewtonOptions o;
    o.eps = flags.real("--eps", o.eps, lo, hi);
    o.alpha = flags.real("--alpha", o.alpha, lo, hi);
    o.h_floor = flags.real("--h-floor", o.h_floor, lo, hi);
    o.clip = flags.real("--clip", o.clip, lo, hi);
    o.h_warmup = int(flags.integer("--h-warmup", o.h_warmup, 0, 1 << 30));
    o.dist = distribution_from_flags(flags, o.dist);
    return o;
}

NewtonOptimizer::NewtonOptimizer(const NewtonOptions& options, uint64_t seed, size_t subset_size)
    : options_(options), seed_(seed), diag_h_(subset_size, 1.0f) {
    require_positive(options.eps, "--eps");
    require_in_range(options.alpha, 0.0, 1.0, "--alpha");
    require_positive(options.h_floor, "--h-floor");
    require_positive(options.clip, "--clip");
    require_in_range(options.h_warmup, 0, 1 << 30, "--h-warmup");
}

StepReport NewtonOptimizer::step(Objective& objective, const StepContext& context) {
    check_objective(objective, diag_h_.size(), "newton");
    const DirectionKey key = step_direction(seed_, context.step, 0);
    const float eps = float(options_.eps);
    // L(θ) and L(θ ± εz/√H) in lockstep: θ is read from memory once for all three.
    const Probe points[1] = {{key, {0.0f, eps, -eps}}};
    const ProbeLosses probed = probe_losses(objective, points, options_.dist, diag_h_.data());
    const double loss0 = probed.losses[0][0], loss_plus = probed.losses[0][1], loss_minus = probed.losses[0][2];

    StepReport report;
    report.loss = loss0;
    report.loss_kind = "unperturbed";
    report.forward_passes = 3;
    report.direction_generations = probed.generations + 1;  // + the update pass
    // g = uᵀ∇L and, since L⁺ + L⁻ − 2L0 ≈ ε² uᵀ∇²L u, curvature = uᵀ∇²L u / 2 with u = z/√H (ε cancels).
    const double projected = (loss_plus - loss_minus) / (2.0 * double(eps));
    const double curvature = std::abs(loss_plus + loss_minus - 2.0 * loss0) / (2.0 * double(eps) * double(eps));
    report.fields["projected_gradient"] = projected;
    report.fields["curvature"] = curvature;
    report.fields["eps"] = eps;
    const double losses[3] = {loss0, loss_plus, loss_minus};
    if (!all_finite(losses)) {
        // Leave θ and H as they were: one NaN would reach every coordinate.
        report.direction_generations = probed.generations;
        report.fields["skipped_nonfinite"] = true;
        return report;
    }
    const bool warming_up = context.step <= uint64_t(options_.h_warmup);
    const size_t clipped = update_h_and_step(objective, key, float(projected), float(curvature),
                                                     warming_up ? 0.0f : float(context.lr));
    if (warming_up) report.fields["h_warmup"] = true;
    report.fields["clipped_fraction"] = diag_h_.empty() ? 0.0 : double(clipped) / double(diag_h_.size());
    return report;
}

namespace {

struct NewtonCoefficients {
    float alpha, curvature, h_floor, projected, clip, lr;
};

// The per-coordinate update below on one piece; returns how many steps were clipped. A plain function with
// restrict pointers, ternaries and an int count, so GCC vectorizes it: written inline in the callback with
// std::max/std::clamp and a size_t count it stayed scalar, and newton's last pass cost 3x spsa's.
int newton_update(float* __restrict theta, float* __restrict h, const float* __restrict z, size_t count,
                  const NewtonCoefficients c) {
    int clipped = 0;
    for (size_t k = 0; k < count; ++k) {
        const float h_old = h[k];
        const float h_ema = (1.0f - c.alpha) * h_old + c.alpha * c.curvature * h_old * z[k] * z[k];
        const float h_new = c.h_floor < h_ema ? h_ema : c.h_floor;  // max(floor, ·)
        const float step = c.projected * z[k] / std::sqrt(h_new);
        clipped += std::abs(step) > c.clip ? 1 : 0;
        h[k] = h_new;
        theta[k] -= c.lr * (step < -c.clip ? -c.clip : (c.clip < step ? c.clip : step));
    }
    return clipped;
}

}  // namespace

// Per coordinate, with z regenerated once (HiZOO, Algorithm 1, plus Sophia's clip and a floor):
//   H   ← max(h_floor, (1 − α) H_old + α · curvature · H_old z²)
//   θ   ← θ − η · clamp(g z/√H, ±clip)                                 (with the new H)
// The clipped count is summed with an atomic integer add, which gives the same total in any order.
size_t NewtonOptimizer::update_h_and_step(Objective& objective, DirectionKey key, float projected, float curvature,
                                          float lr) {
    float* params = objective.params.data();
    float* diag_h = diag_h_.data();
    const NewtonCoefficients coefficients{float(options_.alpha), curvature, float(options_.h_floor),
                                          projected, float(options_.clip), lr};
    size_t clipped = 0;
    for_each_direction_chunk(objective.trainable, key, options_.dist,
                             [&](const float* z, size_t first, size_t count, size_t offset) {
        const int piece_clipped = newton_update(params + first, diag_h + offset, z, count, coefficients);
#pragma omp atomic
        clipped += size_t(piece_clipped);
    });
    return clipped;
}

nlohmann::json NewtonOptimizer::hyperparameters() const {
    return {{"optimizer", name()},
            {"seed", seed_},
            {"eps", options_.eps},
            {"alpha", options_.alpha},
            {"h_floor", options_.h_floor},
            {"clip", options_.clip},
            {"h_warmup", options_.h_warmup},
            {"dist", distribution_name(options_.dist)},
            {"subset_size", diag_h_.size()}};
}

}  // namespace nograd
