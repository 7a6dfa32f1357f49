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

}  // namespace nograd
