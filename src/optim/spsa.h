// `spsa`: MeZO's zeroth-order SGD (Malladi et al. 2023, Algorithm 1), which is SPSA (Spall 1992) with
// Gaussian directions and in-place perturbations: two forward passes per estimate for any number of
// parameters, no gradient buffer. Options: n-SPSA, Rademacher directions, Spall's decaying gains, weight
// decay, momentum. Left out: ZO-Adam and the sign variant (ZO-Bench found neither clearly better).
#pragma once
#include <cstdint>
#include <vector>

#include "optim/optimizer.h"
#include "util/flags.h"

namespace nograd {

enum class Gains { constant, spall };

// Every hyperparameter with its default; the flag is "--" + the field name with '_' as '-'.
struct SpsaOptions {
    double eps = 1e-3;          // ε: losses at θ ± εz (MeZO's default); with Spall gains, c = eps
    int samples = 1;            // n: estimates averaged per step (n-SPSA), each divided by n; 2n forward passes
    Distribution dist = Distribution::gaussian;  // rademacher: z ∈ {±1}, classic SPSA
    double weight_decay = 0.0;  // λ in θ ← θ − η(ĝ + λθ), only on ranges whose decays flag is set
    double momentum = 0.0;      // μ in m ← μm + ĝ + λθ, θ ← θ − ηm; > 0 allocates one subset-sized vector
    // Spall (1998)'s decaying gains a_k = a/(k+1+A)^α, c_k = c/(k+1)^γ with k = step − 1. To keep --lr and
    // --eps meaning "the gains of the first step" in both modes, a = lr·(1+A)^α and c = eps; with constant
    // gains η = lr (after the trainer's schedule) and ε = eps.
    Gains gains = Gains::constant;
    double spall_A = 100.0;     // stability constant A, Spall: ≈ 10% of the planned steps
    double spall_alpha = 0.602; // α, Spall's practical value (0.602 ≤ α ≤ 1)
    double spall_gamma = 0.101; // γ, Spall's practical value

    static std::vector<FlagSpec> flag_specs();
    static SpsaOptions from_flags(const Flags& flags);  // defaults for absent flags
};

// Memory: the parameters, plus one subset-sized vector only when momentum > 0.
// Cost per step: 2n forward passes (each pair's two in lockstep, reading θ), one pass that writes θ, and
// 2n z generations (one per pair, one per direction in the update; n = 1: 2).
class SpsaOptimizer final : public Optimizer {
public:
    static constexpr double kDefaultLr = 1e-4;

    // subset_size: entries of the objectives' trainable subset (sizes the momentum vector).
    SpsaOptimizer(const SpsaOptions& options, uint64_t seed, size_t subset_size);
    std::string name() const override { return "spsa"; }
    // Reports loss_kind "mean_perturbed": the mean of L⁺ and L⁻ over the samples.
    StepReport step(Objective& objective, const StepContext& context) override;
    std::vector<std::span<float>> state_vectors() override;
    nlohmann::json hyperparameters() const override;

private:
    struct Gain {
        float lr, eps;
    };
    Gain gain_at(const StepContext& context) const;
    void update(Objective& objective, std::span<const DirectionKey> keys, std::span<const double> projected,
                Gain gain);

    SpsaOptions options_;
    uint64_t seed_;
    size_t subset_size_;
    std::vector<float> momentum_;  // (subset) m, empty unless options_.momentum > 0
};

}  // namespace nograd
