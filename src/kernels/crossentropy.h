// Softmax cross-entropy over the real vocabulary: the padded columns V..Vp-1 never enter the softmax.
#pragma once

namespace nograd {

// losses (N) = logsumexp(logits[n, 0:V]) − logits[n, targets[n]]; logits rows have stride Vp.
void crossentropy_forward(float* losses, const float* logits, const int* targets, int N, int V, int Vp);

}  // namespace nograd
