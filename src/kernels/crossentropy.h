// Softmax cross-entropy over the real vocabulary, and its backward pass: the padded columns V..Vp-1
// never enter the softmax and get a zero gradient.
#pragma once
#include <vector>

namespace nograd {

// losses (N) = logsumexp(logits[n, 0:V]) − logits[n, targets[n]]; logits rows have stride Vp.
void crossentropy_forward(float* losses, const float* logits, const int* targets, int N, int V, int Vp);

// The same loss with the logits arriving in vocabulary chunks, so the (N, V) logits never exist at once: an
// online log-sum-exp per row (Milakov & Gimelshein 2018). Start each row at max = −inf, sum = 0; then for each
// chunk of columns [v0, v0 + count), stored with row stride ld:
//   max' = max(max, chunk max),  sum ← sum · exp(max − max') + Σ exp(logit − max'),  and the target's logit
// is picked up by the chunk that holds it. The loss is log(sum) + max − logit[target]. Rows are independent.
struct ChunkedCrossEntropy {
    explicit ChunkedCrossEntropy(int N);
    void add_chunk(const float* logits, int ld, int v0, int count, const int* targets);
    void losses(float* out) const;  // (N)

    std::vector<float> running_max;
    std::vector<double> running_sum;
    std::vector<float> target_logit;
};

// dlogits (N, Vp) = (softmax(logits[n, 0:V]) − onehot(targets[n])) · dloss for columns < V, and 0 for the
// padded columns: assigned, not accumulated. dloss is the gradient of the objective with respect to each
// position's loss (1/N for a mean). dlogits may equal logits: the LM head's gradient overwrites its
// logits in place and saves a (N, Vp) buffer.
void crossentropy_backward(float* dlogits, const float* logits, const int* targets, float dloss, int N, int V,
                           int Vp);

}  // namespace nograd
