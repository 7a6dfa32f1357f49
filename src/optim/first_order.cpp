#include "optim/first_order.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "util/error.h"

namespace nograd {
namespace {

constexpr size_t kNormBlock = 4096;  // fixed reduction blocks: the order of the sum is independent of threads

// Σ g_i² over one range, in double, block by block in order.
double range_sum_of_squares(const float* grad, IndexRange range) {
    const size_t blocks = (range.end - range.begin + kNormBlock - 1) / kNormBlock;
    std::vector<double> partial(blocks);
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < blocks; ++k) {
        const size_t begin = range.begin + k * kNormBlock;
        const size_t end = begin + kNormBlock < range.end ? begin + kNormBlock : range.end;
        double sum = 0.0;
        for (size_t i = begin; i < end; ++i) sum += double(grad[i]) * grad[i];
        partial[k] = sum;
    }
    double total = 0.0;
    for (double p : partial) total += p;
    return total;
}

}  // namespace

double gradient_norm(std::span<const float> grad, std::span<const IndexRange> ranges) {
    double total = 0.0;
    for (const IndexRange& range : ranges) total += range_sum_of_squares(grad.data(), range);
    return std::sqrt(total);
}

double clip_gradient_norm(std::span<float> grad, std::span<const IndexRange> ranges, double max_norm) {
    const double norm = gradient_norm(grad, ranges);
    if (max_norm <= 0.0 || !std::isfinite(norm) || norm <= max_norm) return norm;
    const float scale = float(max_norm / norm);
    for (const IndexRange& range : ranges) {
#pragma omp parallel for schedule(static)
        for (size_t i = range.begin; i < range.end; ++i) grad[i] *= scale;
    }
    return norm;
}

StepReport evaluate_gradient(Objective& objective, double max_grad_norm) {
    StepReport report;
    report.loss = objective.loss_and_gradient();
    report.loss_kind = "unperturbed";
    report.forward_passes = 1;
    report.backward_passes = 1;
    const double norm = std::isfinite(report.loss)
                            ? clip_gradient_norm(objective.gradient, objective.trainable, max_grad_norm)
                            : report.loss;
    if (!std::isfinite(norm)) {
        report.loss = std::numeric_limits<double>::quiet_NaN();
        report.fields["skipped_nonfinite"] = true;
        return report;
    }
    report.fields["grad_norm"] = norm;
    return report;
}

bool update_skipped(const StepReport& report) { return report.fields.contains("skipped_nonfinite"); }

bool range_decays(const Objective& objective, size_t r, bool decay_all) {
    if (decay_all) return true;
    if (objective.decays.size() != objective.trainable.size())
        throw Error("weight decay: expected one decay flag per trainable range (" +
                    std::to_string(objective.trainable.size()) + "), found " +
                    std::to_string(objective.decays.size()));
    return objective.decays[r];
}

void check_state_size(const char* optimizer, size_t state_size, const Objective& objective) {
    const size_t trained = subset_size(objective.trainable);
    if (state_size != trained)
        throw Error(std::string(optimizer) + ": state sized for " + std::to_string(state_size) +
                    " trainable parameters, but the objective trains " + std::to_string(trained));
}

}  // namespace nograd
