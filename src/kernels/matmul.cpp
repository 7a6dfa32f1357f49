// Linear layers on top of gemm(); the bias is added in a separate, parallel pass.
#include "kernels/matmul.h"

#include <cstddef>

#include "kernels/gemm.h"

namespace nograd {

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int IC, int OC,
                    int ldo) {
    if (ldo == 0) ldo = OC;
    // out := 1 · inp (N,IC) · weightᵀ (IC,OC) + 0 · out
    gemm(Transpose::no, Transpose::yes, N, OC, IC, 1.0f, inp, IC, weight, IC, 0.0f, out, ldo);
    if (!bias) return;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; ++n)
        for (int o = 0; o < OC; ++o) out[size_t(n) * ldo + o] += bias[o];
}

}  // namespace nograd
