// GELU, tanh approximation (GPT-2's): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
#pragma once

namespace nograd {

// out (N) = gelu(inp); out may equal inp (in place).
void gelu_forward(float* out, const float* inp, long N);

// dinp (N) = dout · gelu'(inp): assigned, not accumulated; dinp may equal dout (in place), not inp.
void gelu_backward(float* dinp, const float* dout, const float* inp, long N);

}  // namespace nograd
