#include "kernels/gelu.h"

#include <cmath>

namespace nograd {

void gelu_forward(float* out, const float* inp, long N) {
    const float k = 0.7978845608028654f;  // √(2/π)
#pragma omp parallel for schedule(static)
    for (long i = 0; i < N; ++i) {
        const float x = inp[i];
        out[i] = 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
    }
}

void gelu_backward(float* dinp, const float* dout, const float* inp, long N) {
    const float k = 0.7978845608028654f;  // √(2/π)
#pragma omp parallel for schedule(static)
    for (long i = 0; i < N; ++i) {
        const float x = inp[i];
        // With u = k(x + 0.044715x³): gelu' = ½(1 + tanh u) + ½x(1 − tanh²u)·k(1 + 3·0.044715x²).
        const float th = std::tanh(k * (x + 0.044715f * x * x * x));
        const float du = k * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] = dout[i] * (0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du);
    }
}

}  // namespace nograd
