// `es`: antithetic evolution strategies with centred-rank fitness shaping (Salimans, Ho, Chen, Sidor &
// Sutskever 2017, "Evolution Strategies as a Scalable Alternative to Reinforcement Learning"), descending a
// loss instead of ascending a reward; SGD or Adam on the estimate. Left out: their weight decay on the
// parameters, virtual batch norm, and the multi-worker seed exchange (a single process here).
#pragma once
#include <cstdint>
#include <vector>

#include "optim/optimizer.h"
#include "util/flags.h"

namespace nograd {

// Every hyperparameter with its default; the flag is "--" + the field name with '_' as '-'.
struct EsOptions {
    int pairs = 4;         // n antithetic pairs θ ± σz_i per step: 2n forward passes
    double sigma = 1e-3;   // σ, the perturbation scale (Salimans et al. use 0.02 on small policy networks)
    Distribution dist = Distribution::gaussian;
    bool adam = false;     // Adam on ĝ instead of SGD: costs two subset-sized vectors (m, v)
    double beta1 = 0.9;    // Adam's first-moment decay
    double beta2 = 0.999;  // Adam's second-moment decay
    double adam_eps = 1e-8;  // Adam's denominator guard

    static std::vector<FlagSpec> flag_specs();
    static EsOptions from_flags(const Flags& flags);  // defaults for absent flags
};

// Centred ranks of the losses in [−0.5, 0.5] (rank/(N−1) − 0.5, lowest loss −0.5); ties share their mean
// rank and a NaN loss ranks as the worst. N ≥ 2.
std::vector<double> centred_ranks(std::span<const double> losses);

// Memory: the parameters, plus m and v (two subset-sized vectors) with Adam.
// Cost per step: 2n forward passes (each pair's two in lockstep, reading θ), one pass that writes θ, and
// 2n z generations.
// Because ranks fix the size of ĝ whatever the loss scale, the step does not shrink near an optimum:
// converging needs a decaying lr (the trainer's schedule).
class EsOptimizer final : public Optimizer {
public:
    static constexpr double kDefaultLr = 1e-6;

    // subset_size: entries of the objectives' trainable subset (sizes Adam's m and v).
    EsOptimizer(const EsOptions& options, uint64_t seed, size_t subset_size);
    std::string name() const override { return "es"; }
    // Reports loss_kind "mean_perturbed": the mean of the 2n perturbed losses.
    StepReport step(Objective& objective, const StepContext& context) override;
    nlohmann::json state_scalars() const override;
    void load_state_scalars(const nlohmann::json& state) override;
    std::vector<std::span<float>> state_vectors() override;
    nlohmann::json hyperparameters() const override;

private:
    void update(Objective& objective, std::span<const DirectionKey> keys, std::span<const float> weights,
                float lr);

    EsOptions options_;
    uint64_t seed_;
    size_t subset_size_;
    std::vector<float> adam_m_, adam_v_;  // (subset) Adam moments, empty unless options_.adam
    uint64_t adam_steps_ = 0;             // t in Adam's bias corrections
};

}  // namespace nograd
