// LayerNorm over the last dimension (C) of N rows, eps = 1e-5 as in GPT-2, and its backward pass.
#pragma once

namespace nograd {

constexpr float kLayerNormEps = 1e-5f;

// out (N, C) = (inp − mean) · rstd · weight + bias, per row. mean and rstd (N) are written when not
// null (the backward pass needs them); out may not alias inp.
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int N, int C);

// Backward from the saved mean and rstd (N). Accumulates all three gradients: dinp (N, C) += ∂/∂inp
// (the residual stream's gradient is a sum), dweight (C) and dbias (C) += the sums over rows.
// Every sum runs in a fixed order, so the bits do not depend on the thread count. dinp may not alias dout.
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int N, int C);

}  // namespace nograd
