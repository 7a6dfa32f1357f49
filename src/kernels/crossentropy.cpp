// Row by row: the maximum, then Σ exp(l − max) with vectorized float exponentials (kernels/vector_math.h)
// summed in double. Rows are independent, so the bits do not depend on the thread count.
#include "kernels/crossentropy.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "kernels/vector_math.h"

namespace nograd {
namespace {

// NaN logits are skipped here but still reach the sum below, so a NaN row gives a NaN loss.
float row_max(const float* row, int V) {
    float max = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : max)
    for (int v = 0; v < V; ++v) max = row[v] > max ? row[v] : max;
    return max;
}

// Σ_v exp(row[v] − max) in double (50k terms summed in float would lose ~4 digits of the loss), over 16
// fixed lanes so the exponentials vectorize and the order of the sum is the same in every build; with
// kStore, also writes each exponential to out[v] (out may be row: each entry is read before it is written).
template <bool kStore>
double sum_exp(float* out, const float* row, int V, float max) {
    constexpr int kWidth = 16;
    double lanes[kWidth] = {};
    int v = 0;
    for (; v + kWidth <= V; v += kWidth) {
        float e[kWidth];
        for (int l = 0; l < kWidth; ++l) e[l] = exp_approx(row[v + l] - max);
        for (int l = 0; l < kWidth; ++l) lanes[l] += double(e[l]);
        if (kStore)
            for (int l = 0; l < kWidth; ++l) out[v + l] = e[l];
    }
    double sum = 0.0;
    for (; v < V; ++v) {
        const float e = exp_approx(row[v] - max);
        if (kStore) out[v] = e;
        sum += double(e);
    }
    for (int l = 0; l < kWidth; ++l) sum += lanes[l];
    return sum;
}

}  // namespace

void crossentropy_forward(float* losses, const float* logits, const int* targets, int N, int V, int Vp) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; ++n) {
        const float* row = logits + size_t(n) * Vp;
        const float max = row_max(row, V);
        losses[n] = float(std::log(sum_exp<false>(nullptr, row, V, max)) + max - row[targets[n]]);
    }
}

ChunkedCrossEntropy::ChunkedCrossEntropy(int N)
    : running_max(size_t(N), -std::numeric_limits<float>::infinity()), running_sum(size_t(N), 0.0),
      target_logit(size_t(N), 0.0f) {}

void ChunkedCrossEntropy::add_chunk(const float* logits, int ld, int v0, int count, const int* targets) {
    const int N = int(running_max.size());
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; ++n) {
        const float* row = logits + size_t(n) * ld;
        const float max = std::max(running_max[n], row_max(row, count));
        // exp(−inf − max) = 0 on the first chunk, where the sum is still 0
        const double rescale = running_sum[n] == 0.0 ? 0.0 : std::exp(double(running_max[n]) - double(max));
        running_sum[n] = running_sum[n] * rescale + sum_exp<false>(nullptr, row, count, max);
        running_max[n] = max;
        const int t = targets[n] - v0;
        if (t >= 0 && t < count) target_logit[n] = row[t];
    }
}

void ChunkedCrossEntropy::losses(float* out) const {
    for (size_t n = 0; n < running_max.size(); ++n)
        out[n] = float(std::log(running_sum[n]) + running_max[n] - target_logit[n]);
}

void crossentropy_backward(float* dlogits, const float* logits, const int* targets, float dloss, int N, int V,
                           int Vp) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; ++n) {
        const float* row = logits + size_t(n) * Vp;
        float* d = dlogits + size_t(n) * Vp;
        const float max = row_max(row, V);
        // d first holds the unnormalised exponentials, then is scaled by dloss / Σ.
        const double sum = sum_exp<true>(d, row, V, max);
        const float scale = float(dloss / sum);
#pragma omp simd
        for (int v = 0; v < V; ++v) d[v] *= scale;
        d[targets[n]] -= dloss;
        for (int v = V; v < Vp; ++v) d[v] = 0.0f;
    }
}

}  // namespace nograd
