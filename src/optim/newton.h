// `newton`: diagonal Newton without gradients, after HiZOO (Zhao et al., ICLR 2025, Algorithm 1): a
// diagonal Hessian estimate H preconditions both the perturbation (θ ± εz/√H) and the step, plus Sophia's
// per-coordinate clipping and a floor on H (Liu et al. 2023). Left out: HiZOO's fourth, logging-only forward
// pass, weight decay, and any full (non-diagonal) curvature.
#pragma once
#include <cstdint>
#include <vector>

#include "optim/optimizer.h"
#include "util/flags.h"

namespace nograd {

// Every hyperparameter with its default; the flag is "--" + the field name with '_' as '-'.
struct NewtonOptions {
    double eps = 1e-2;    // ε: losses at θ ± εz/√H. Near H's fixed point uᵀ∇²L u ≈ 2 for u = z/√H, so the
                          // curvature signal L⁺ + L⁻ − 2L0 ≈ 2ε² whatever the scale of θ. It must beat the fp32
                          // noise of the losses: |noise| inflates the estimate, H grows, u shrinks, the signal
                          // shrinks, and H runs away (seen on Rosenbrock at ε = 1e-3; 1e-2 was stable)
    double alpha = 0.05;  // α: EMA weight of the curvature sample in H's update. HiZOO's 1e-8 leaves H ≈ 1
                          // (MeZO); on the d=20, κ=1e3 quadratic 0.05 tracks curvature (corr(log H, log a) > 0.9)
    double h_floor = 1e-4;  // H ≥ h_floor, so z/√H stays bounded for coordinates that look flat
    double clip = 1.0;    // Sophia: each coordinate's step is lr·clamp(g z/√H, ±clip)
    int h_warmup = 20;    // the first steps only estimate H (θ is not moved): from H = 1 the first
                          // curvature samples are single draws, and stepping on them diverged on the
                          // quadratic test (lr ≥ 0.1, 2 of 5 seeds); ~1/α steps average them out
    Distribution dist = Distribution::gaussian;

    static std::vector<FlagSpec> flag_specs();
    static NewtonOptions from_flags(const Flags& flags);  // defaults for absent flags
};

// Memory: one subset-sized vector, H. Cost per step: 3 forward passes (L0, then L⁺ and L⁻ in lockstep,
// reading θ and H), one pass that writes θ and H, and 2 z generations.
// H settles near (d/2 + 1)·diag(∇²L) (Gaussian z, d = subset size), so the step η·g·z/√H is an η-fraction
// of a noisy Newton step whatever d and the loss scale: the learning rate is dimensionless, ~0.1–1.
class NewtonOptimizer final : public Optimizer {
public:
    static constexpr double kDefaultLr = 0.1;

    // subset_size: entries of the objectives' trainable subset (sizes H).
    NewtonOptimizer(const NewtonOptions& options, uint64_t seed, size_t subset_size);
    std::string name() const override { return "newton"; }
    // Reports loss_kind "unperturbed": L0 = L(θ).
    StepReport step(Objective& objective, const StepContext& context) override;
    std::vector<std::span<float>> state_vectors() override { return {std::span<float>(diag_h_)}; }
    nlohmann::json hyperparameters() const override;
    std::span<const float> diag_hessian() const { return diag_h_; }  // (subset) H, for tests and logging

private:
    // Returns how many coordinates were clipped.
    size_t update_h_and_step(Objective& objective, DirectionKey key, float projected, float curvature, float lr);

    NewtonOptions options_;
    uint64_t seed_;
    std::vector<float> diag_h_;  // (subset) H, initialised to 1
};

}  // namespace nograd
