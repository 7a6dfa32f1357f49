#include "kernels/layernorm.h"

#include <cmath>

namespace nograd {

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int N, int C) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; ++n) {
        const float* x = inp + size_t(n) * C;
        // Two passes (mean, then variance about it) rather than E[x²] − E[x]², which cancels badly.
        float sum = 0.0f;
        for (int c = 0; c < C; ++c) sum += x[c];
        const float m = sum / C;
        float sq = 0.0f;
        for (int c = 0; c < C; ++c) sq += (x[c] - m) * (x[c] - m);
        const float s = 1.0f / std::sqrt(sq / C + kLayerNormEps);
        float* y = out + size_t(n) * C;
        for (int c = 0; c < C; ++c) y[c] = (x[c] - m) * s * weight[c] + bias[c];
        if (mean) mean[n] = m;
        if (rstd) rstd[n] = s;
    }
}

namespace {

// dinp += rstd · (g − mean(g) − x̂ · mean(g · x̂)) per row, with x̂ = (x − mean) · rstd and g = dout · weight:
// the chain rule through y = x̂ · w + b, where x̂ depends on every x of its row through the mean and rstd.
void layernorm_input_grad(float* dinp, const float* dout, const float* inp, const float* weight,
                          const float* mean, const float* rstd, int N, int C) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; ++n) {
        const float* x = inp + size_t(n) * C;
        const float* dy = dout + size_t(n) * C;
        const float m = mean[n], s = rstd[n];
        float sum_g = 0.0f, sum_gx = 0.0f;
        for (int c = 0; c < C; ++c) {
            const float g = dy[c] * weight[c];
            sum_g += g;
            sum_gx += g * (x[c] - m) * s;
        }
        const float mean_g = sum_g / C, mean_gx = sum_gx / C;
        float* dx = dinp + size_t(n) * C;
        for (int c = 0; c < C; ++c) dx[c] += s * (dy[c] * weight[c] - mean_g - (x[c] - m) * s * mean_gx);
    }
}

// dweight += Σ_n dout · x̂, dbias += Σ_n dout. Threads split the channels, each summing over n in order.
void layernorm_param_grads(float* dweight, float* dbias, const float* dout, const float* inp, const float* mean,
                           const float* rstd, int N, int C) {
    constexpr int kColumns = 64;
#pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < C; c0 += kColumns) {
        const int c1 = c0 + kColumns < C ? c0 + kColumns : C;
        for (int n = 0; n < N; ++n) {
            const float* x = inp + size_t(n) * C;
            const float* dy = dout + size_t(n) * C;
            for (int c = c0; c < c1; ++c) {
                dweight[c] += dy[c] * (x[c] - mean[n]) * rstd[n];
                dbias[c] += dy[c];
            }
        }
    }
}

}  // namespace

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int N, int C) {
    layernorm_input_grad(dinp, dout, inp, weight, mean, rstd, N, C);
    layernorm_param_grads(dweight, dbias, dout, inp, mean, rstd, N, C);
}

}  // namespace nograd
