// Causal multi-head self-attention over a packed qkv tensor (B, T, 3C): per token the C query values,
// then C keys, then C values; head h owns channels [h·hs, (h+1)·hs) of each, hs = C / NH.
#pragma once

namespace nograd {

// Inference: streams over the keys with an online softmax (Milakov & Gimelshein 2018), so no T×T
// matrix exists; 64 queries meet 64 keys at a time, and the scratch is one such tile per thread
// (O(hs), independent of T). out (B, T, C).
void attention_forward_streaming(float* out, const float* qkv, int B, int T, int C, int NH);

// Training: also stores the softmax probabilities att (B, NH, T, T) for the backward pass (entries
// above the diagonal are written as 0). out (B, T, C).
void attention_forward(float* out, float* att, const float* qkv, int B, int T, int C, int NH);

// Backward of attention_forward from its saved probabilities att (B, NH, T, T). dqkv (B, T, 3C) is
// assigned (overwritten), not accumulated; dout (B, T, C). Needs no T×T gradient buffer: each query row's
// score gradients live in O(T) scratch per thread. Threads split (b, h) pairs, which own disjoint
// slices of dqkv, so the bits do not depend on the thread count.
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* att, int B, int T, int C,
                        int NH);

}  // namespace nograd
