// Token + position embedding: the first layer of GPT-2, and its backward pass.
#pragma once

namespace nograd {

// out (B,T,C) = wte[tokens[b,t]] + wpe[t]. tokens (B,T) must be < Vp (checked by the data loader).
void encoder_forward(float* out, const int* tokens, const float* wte, const float* wpe, int B, int T, int C);

// Accumulates: dwte[tokens[b,t]] += dout[b,t] and dwpe[t] += dout[b,t] (dwte (Vp,C), dwpe (maxT,C)).
// Each gradient entry is summed in a fixed order, so the bits do not depend on the thread count.
void encoder_backward(float* dwte, float* dwpe, const float* dout, const int* tokens, int B, int T, int C);

}  // namespace nograd
