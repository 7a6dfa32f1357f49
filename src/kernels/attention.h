// Causal multi-head self-attention over a packed qkv tensor (B, T, 3C): per token the C query values,
// then C keys, then C values; head h owns channels [h·hs, (h+1)·hs) of each, hs = C / NH.
#pragma once

namespace nograd {

// Inference: streams over the keys with an online softmax (Milakov & Gimelshein 2018), so no T×T
// matrix exists; scratch is O(hs) per thread. out (B, T, C).
void attention_forward_streaming(float* out, const float* qkv, int B, int T, int C, int NH);

// Training: also stores the softmax probabilities att (B, NH, T, T) for the backward pass (entries
// above the diagonal are written as 0). out (B, T, C).
void attention_forward(float* out, float* att, const float* qkv, int B, int T, int C, int NH);

}  // namespace nograd
