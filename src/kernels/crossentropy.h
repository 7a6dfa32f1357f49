// Softmax cross-entropy over the real vocabulary, and its backward pass: the padded columns V..Vp-1
// never enter the softmax and get a zero gradient.
#pragma once

namespace nograd {

// losses (N) = logsumexp(logits[n, 0:V]) − logits[n, targets[n]]; logits rows have stride Vp.
void crossentropy_forward(float* losses, const float* logits, const int* targets, int N, int V, int Vp);

// dlogits (N, Vp) = (softmax(logits[n, 0:V]) − onehot(targets[n])) · dloss for columns < V, and 0 for the
// padded columns: assigned, not accumulated. dloss is the gradient of the objective with respect to each
// position's loss (1/N for a mean). dlogits may equal logits: the LM head's gradient overwrites its
// logits in place and saves a (N, Vp) buffer.
void crossentropy_backward(float* dlogits, const float* logits, const int* targets, float dloss, int N, int V,
                           int Vp);

}  // namespace nograd
