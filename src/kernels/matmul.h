// A Linear layer: out = inp · weightᵀ + bias, over N rows (N = B·T tokens), and its backward pass.
#pragma once

namespace nograd {

// out (N, OC) = inp (N, IC) · weight (OC, IC)ᵀ + bias (OC); bias may be null.
// ldo is out's row stride (≥ OC): the LM head writes V real columns into rows of Vp.
void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int IC, int OC,
                    int ldo = 0);

// matmul_forward on the calling thread only, for a caller that splits OC across threads itself.
void matmul_forward_serial(float* out, const float* inp, const float* weight, const float* bias, int N, int IC,
                           int OC, int ldo);

// Backward of matmul_forward; accumulates all three gradients:
//   dinp (N, IC) += dout (N, OC) · weight (OC, IC)     (skipped when dinp is null)
//   dweight (OC, IC) += doutᵀ · inp (N, IC)
//   dbias (OC) += Σ_n dout[n]                        (skipped when dbias is null)
// ldd is dout's row stride (≥ OC; the LM head's gradient has rows of Vp). The bias sums run in a fixed
// order and the gemm backends never split the inner dimension, so the bits do not depend on the thread count.
void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int N, int IC, int OC, int ldd = 0);

}  // namespace nograd
