// The residual stream's addition.
#pragma once

namespace nograd {

// out (N) = a + b; out may equal a or b.
void residual_forward(float* out, const float* a, const float* b, long N);

// da (N) += dout and db (N) += dout: accumulated, since the residual stream's gradient is a sum.
// (The model's backward pass needs no call: it keeps one residual gradient that both branches share.)
void residual_backward(float* da, float* db, const float* dout, long N);

}  // namespace nograd
