#include "optim/adamw.h"

#include <cmath>

#include "optim/first_order.h"

namespace nograd {
namespace {

// The per-coordinate constants of one step.
struct AdamWStep {
    double lr, beta1, beta2, eps;
    double inv_correction1, inv_correction2;  // 1/(1−β1^t), 1/(1−β2^t)
};

// The update of one range; m and v point at the range's first subset offset. θ, m and v are stored in
// float but each coordinate's arithmetic runs in double: the loop is bound by memory traffic, so this
// costs nothing measurable, and it keeps float rounding out of θ − lr·(…) where the two nearly cancel.
// Per-coordinate work only, so any thread split gives the same bits.
void adamw_range(float* theta, const float* grad, float* m, float* v, size_t n, const AdamWStep& s, double wd) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; ++i) {
        const double g = grad[i];
        const double m_new = s.beta1 * m[i] + (1.0 - s.beta1) * g;
        const double v_new = s.beta2 * v[i] + (1.0 - s.beta2) * g * g;
        const double m_hat = m_new * s.inv_correction1;
        const double v_hat = v_new * s.inv_correction2;
        theta[i] = float(theta[i] - s.lr * (m_hat / (std::sqrt(v_hat) + s.eps) + wd * theta[i]));
        m[i] = float(m_new);
        v[i] = float(v_new);
    }
}

}  // namespace

AdamW::AdamW(size_t trainable_count, const AdamWOptions& options)
    : options_(options), m_(trainable_count), v_(trainable_count) {
    m_.fill(0.0f);
    v_.fill(0.0f);
}

StepReport AdamW::step(Objective& objective, const StepContext& context) {
    check_state_size("adamw", m_.size(), objective);
    StepReport report = evaluate_gradient(objective, options_.max_grad_norm);
    if (update_skipped(report)) return report;
    const double t = double(context.step);
    const AdamWStep s{context.lr, options_.beta1, options_.beta2, options_.eps,
                      1.0 / (1.0 - std::pow(options_.beta1, t)), 1.0 / (1.0 - std::pow(options_.beta2, t))};
    size_t offset = 0;  // subset offset of the current range
    for (size_t r = 0; r < objective.trainable.size(); ++r) {
        const IndexRange range = objective.trainable[r];
        const bool decays = options_.weight_decay > 0.0 && range_decays(objective, r, options_.decay_all_tensors);
        adamw_range(objective.params.data() + range.begin, objective.gradient.data() + range.begin,
                    m_.data() + offset, v_.data() + offset, range.end - range.begin, s,
                    decays ? options_.weight_decay : 0.0);
        offset += range.end - range.begin;
    }
    return report;
}

nlohmann::json AdamW::hyperparameters() const {
    return {{"beta1", options_.beta1},
            {"beta2", options_.beta2},
            {"eps", options_.eps},
            {"weight_decay", options_.weight_decay},
            {"decay_all_tensors", options_.decay_all_tensors},
            {"max_grad_norm", options_.max_grad_norm}};
}

}  // namespace nograd
