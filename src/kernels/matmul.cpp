// Linear layers on top of gemm(); the bias is added in a separate, parallel pass. (Folding it into the gemm,
// beta = 1 onto rows preset to the bias, measured 5-7% slower with BLIS at d12's shapes: BLIS's row-major C
// update with beta != 0 costs more than the extra pass over out, which stays in cache.)
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

void matmul_forward_serial(float* out, const float* inp, const float* weight, const float* bias, int N, int IC,
                           int OC, int ldo) {
    gemm_serial(Transpose::no, Transpose::yes, N, OC, IC, 1.0f, inp, IC, weight, IC, 0.0f, out, ldo);
    if (!bias) return;
    for (int n = 0; n < N; ++n)
        for (int o = 0; o < OC; ++o) out[size_t(n) * ldo + o] += bias[o];
}

void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int N, int IC, int OC, int ldd) {
    if (ldd == 0) ldd = OC;
    // dinp := 1 · dout (N,OC) · weight (OC,IC) + 1 · dinp
    if (dinp) gemm(Transpose::no, Transpose::no, N, IC, OC, 1.0f, dout, ldd, weight, IC, 1.0f, dinp, IC);
    // dweight := 1 · doutᵀ (OC,N) · inp (N,IC) + 1 · dweight
    gemm(Transpose::yes, Transpose::no, OC, IC, N, 1.0f, dout, ldd, inp, IC, 1.0f, dweight, IC);
    if (!dbias) return;
    // Column sums: threads split the outputs, each summing its columns over n in order.
    constexpr int kColumns = 64;
#pragma omp parallel for schedule(static)
    for (int o0 = 0; o0 < OC; o0 += kColumns) {
        const int o1 = o0 + kColumns < OC ? o0 + kColumns : OC;
        for (int n = 0; n < N; ++n) {
            const float* g = dout + size_t(n) * ldd;
            for (int o = o0; o < o1; ++o) dbias[o] += g[o];
        }
    }
}

}  // namespace nograd
