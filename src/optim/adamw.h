// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, "Decoupled Weight Decay Regularization",
// ICLR 2019, Algorithm 2), in llm.c's form. Per trained coordinate, at step t (from 1):
//   m ← β1 m + (1−β1) g,   v ← β2 v + (1−β2) g²,   m̂ = m / (1−β1^t),   v̂ = v / (1−β2^t),
//   θ ← θ − lr · (m̂ / (√v̂ + eps) + wd · θ)
// (torch.optim.AdamW gives the same update). θ, m, v are stored as float; each coordinate's arithmetic
// runs in double, which reproduces a float64 reference step to float rounding of the result.
// Learning-rate schedules are the trainer's business.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "optim/optimizer.h"
#include "util/buffer.h"

namespace nograd {

struct AdamWOptions {
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.0;       // llm.c's default
    // false: decay only the ranges whose objective.decays flag is set (matrices, not biases or LayerNorm:
    // ParameterTable's decays()); true: every trained tensor, as llm.c's CPU trainer and PyTorch's
    // AdamW over one parameter group do (and the tests' fixture).
    bool decay_all_tensors = false;
    double max_grad_norm = 0.0;      // clip the gradient's norm over the trained subset to this; ≤ 0: off
};

class AdamW : public Optimizer {
public:
    static constexpr double kDefaultLr = 3e-4;

    // Moments sized to the trained subset (subset_size(objective.trainable)), zero at the start.
    AdamW(size_t trainable_count, const AdamWOptions& options = {});

    std::string name() const override { return "adamw"; }
    // One loss_and_gradient() call; then the update above on objective.trainable, with t = context.step.
    StepReport step(Objective& objective, const StepContext& context) override;
    // {m, v}, each indexed by subset offset (direction.h's IndexRange convention).
    std::vector<std::span<float>> state_vectors() override { return {m_.span(), v_.span()}; }
    nlohmann::json hyperparameters() const override;

    const AdamWOptions& options() const { return options_; }

private:
    AdamWOptions options_;
    FloatBuffer m_;  // first moment, subset-sized
    FloatBuffer v_;  // second moment, subset-sized
};

}  // namespace nograd
