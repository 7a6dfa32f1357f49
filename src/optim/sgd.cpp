#include "optim/sgd.h"

#include "optim/first_order.h"

namespace nograd {
namespace {

// The update of one range. `buffer` points at the range's first subset offset, or is null when μ = 0.
// Per-coordinate work only, so any thread split gives the same bits. The decay term is added only when
// wd ≠ 0, so that a plain step is exactly θ − lr·g.
void sgd_range(float* theta, const float* grad, float* buffer, size_t n, float lr, float momentum, float wd) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; ++i) {
        float g = grad[i];
        if (wd != 0.0f) g += wd * theta[i];
        if (buffer) g = buffer[i] = momentum * buffer[i] + g;
        theta[i] -= lr * g;
    }
}

}  // namespace

SGD::SGD(size_t trainable_count, const SGDOptions& options)
    : options_(options), trainable_count_(trainable_count),
      momentum_(options.momentum > 0.0 ? trainable_count : 0) {
    momentum_.fill(0.0f);
}

StepReport SGD::step(Objective& objective, const StepContext& context) {
    check_state_size("sgd", trainable_count_, objective);
    StepReport report = evaluate_gradient(objective, options_.max_grad_norm);
    if (update_skipped(report)) return report;
    size_t offset = 0;  // subset offset of the current range
    for (size_t r = 0; r < objective.trainable.size(); ++r) {
        const IndexRange range = objective.trainable[r];
        const bool decays = options_.weight_decay > 0.0 && range_decays(objective, r, false);
        float* buffer = momentum_.size() > 0 ? momentum_.data() + offset : nullptr;
        sgd_range(objective.params.data() + range.begin, objective.gradient.data() + range.begin, buffer,
                  range.end - range.begin, float(context.lr), float(options_.momentum),
                  decays ? float(options_.weight_decay) : 0.0f);
        offset += range.end - range.begin;
    }
    return report;
}

std::vector<std::span<float>> SGD::state_vectors() {
    if (momentum_.size() == 0) return {};
    return {momentum_.span()};
}

nlohmann::json SGD::hyperparameters() const {
    return {{"momentum", options_.momentum},
            {"weight_decay", options_.weight_decay},
            {"max_grad_norm", options_.max_grad_norm}};
}

}  // namespace nograd
