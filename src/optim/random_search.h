// `random`: random search as a (1+λ) evolution strategy with Rechenberg's 1/5th success rule (Rechenberg
// 1973; Beyer & Schwefel 2002, "Evolution strategies — a comprehensive introduction", §4.2): try θ + σz_j,
// keep the best candidate if its loss is ≤ the parent's on the same batch, adapt σ. Left out: recombination,
// covariance adaptation (CMA-ES needs a d×d matrix), and the lr schedule (σ is the step size).
#pragma once
#include <cstdint>
#include <vector>

#include "optim/optimizer.h"
#include "util/flags.h"

namespace nograd {

// Every hyperparameter with its default; the flag is "--" + the field name with '_' as '-'.
struct RandomSearchOptions {
    double sigma = 1e-3;  // initial σ (candidates θ + σz); then adapted, and saved in the training state
    int population = 1;   // λ candidates per step: 1 + λ forward passes (the parent is re-evaluated each batch)
    Distribution dist = Distribution::gaussian;

    static std::vector<FlagSpec> flag_specs();
    static RandomSearchOptions from_flags(const Flags& flags);  // defaults for absent flags
};

// Memory: the parameters only. Cost per step: 1 + λ forward passes that read θ (λ z generations; the parent
// in lockstep with the first candidate), and one pass that writes θ (one generation more) only when a
// candidate is accepted.
class RandomSearchOptimizer final : public Optimizer {
public:
    // σ is the step size and adapts itself: the trainer's lr (and its schedule) is not used.
    static constexpr bool kUsesLr = false;
    static constexpr double kDefaultLr = 0.0;
    static constexpr double kSuccessFactor = 1.3956124250860895;  // e^{1/3}: σ grows on success
    static constexpr double kFailureFactor = 0.9200444146293233;  // e^{−1/12}: shrinks on failure; the
                                                                  // two balance at 1 success in 5

    // subset_size: entries of the objectives' trainable subset (checked at each step; no vector is kept).
    RandomSearchOptimizer(const RandomSearchOptions& options, uint64_t seed, size_t subset_size);
    std::string name() const override { return "random"; }
    // Reports loss_kind "unperturbed": the parent's loss on this step's batch.
    StepReport step(Objective& objective, const StepContext& context) override;
    nlohmann::json state_scalars() const override;
    void load_state_scalars(const nlohmann::json& state) override;
    nlohmann::json hyperparameters() const override;
    double sigma() const { return sigma_; }

private:
    RandomSearchOptions options_;
    uint64_t seed_;
    size_t subset_size_;
    double sigma_;
    uint64_t steps_ = 0, accepted_ = 0;  // for the acceptance rate
};

}  // namespace nograd
