// A Linear layer: out = inp · weightᵀ + bias, over N rows (N = B·T tokens).
#pragma once

namespace nograd {

// out (N, OC) = inp (N, IC) · weight (OC, IC)ᵀ + bias (OC); bias may be null.
// ldo is out's row stride (≥ OC): the LM head writes V real columns into rows of Vp.
void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int IC, int OC,
                    int ldo = 0);

}  // namespace nograd
