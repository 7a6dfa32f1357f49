// Stochastic gradient descent (Robbins & Monro 1951) with heavy-ball momentum (Polyak 1964) and L2 weight
// decay, as torch.optim.SGD (no dampening, no Nesterov). Per trained coordinate:
//   g ← g + wd · θ (decaying ranges only),   b ← μ b + g (only when μ > 0; b starts at 0),   θ ← θ − lr · b
// With μ = 0 and wd = 0 a step is exactly θ − lr · g, bit for bit.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "optim/optimizer.h"
#include "util/buffer.h"

namespace nograd {

struct SGDOptions {
    double momentum = 0.0;       // μ; the momentum buffer exists only when μ > 0
    double weight_decay = 0.0;   // on the ranges whose objective.decays flag is set
    double max_grad_norm = 0.0;  // clip the gradient's norm over the trained subset to this; ≤ 0: off
};

class SGD : public Optimizer {
public:
    static constexpr double kDefaultLr = 0.1;

    // trainable_count: subset_size(objective.trainable), the momentum buffer's size when μ > 0.
    SGD(size_t trainable_count, const SGDOptions& options = {});

    std::string name() const override { return "sgd"; }
    StepReport step(Objective& objective, const StepContext& context) override;
    // {momentum} when μ > 0 (indexed by subset offset), else nothing.
    std::vector<std::span<float>> state_vectors() override;
    nlohmann::json hyperparameters() const override;

private:
    SGDOptions options_;
    size_t trainable_count_;
    FloatBuffer momentum_;  // subset-sized, or empty when μ = 0
};

}  // namespace nograd
