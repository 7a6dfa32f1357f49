#include "kernels/encoder.h"

#include <cstddef>

namespace nograd {

void encoder_forward(float* out, const int* tokens, const float* wte, const float* wpe, int B, int T, int C) {
#pragma omp parallel for schedule(static)
    for (int bt = 0; bt < B * T; ++bt) {
        const float* token_row = wte + size_t(tokens[bt]) * C;
        const float* position_row = wpe + size_t(bt % T) * C;
        float* y = out + size_t(bt) * C;
        for (int c = 0; c < C; ++c) y[c] = token_row[c] + position_row[c];
    }
}

void encoder_backward(float* dwte, float* dwpe, const float* dout, const int* tokens, int B, int T, int C) {
    // Position rows: each thread owns whole rows t and sums over b in order.
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; ++t)
        for (int b = 0; b < B; ++b) {
            const float* g = dout + (size_t(b) * T + t) * C;
            float* d = dwpe + size_t(t) * C;
            for (int c = 0; c < C; ++c) d[c] += g[c];
        }
    // Token rows repeat when a token does, so threads split the channels instead of the tokens: every
    // thread walks all B·T tokens in order over its own columns (no races, no thread-dependent order).
    constexpr int kColumns = 64;
#pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < C; c0 += kColumns) {
        const int c1 = c0 + kColumns < C ? c0 + kColumns : C;
        for (int bt = 0; bt < B * T; ++bt) {
            const float* g = dout + size_t(bt) * C;
            float* d = dwte + size_t(tokens[bt]) * C;
            for (int c = c0; c < c1; ++c) d[c] += g[c];
        }
    }
}

}  // namespace nograd
