// Activation buffers, in two layouts built by one layout function (so sizes are written once):
//  - inference: one set of scratch buffers reused by every layer, so memory does not grow with L.
//    All a zeroth-order method needs, since it only ever asks for losses.
//  - training: every layer's intermediate values kept for the backward pass (llm.c's layout), plus
//    LayerNorm statistics and attention probabilities.
//  - loss_only: the inference layout without the (B, T, Vp) logits, for the forward that takes its loss over
//    vocabulary chunks (model/perturbed_forward.h). At d12, B=4, T=64 the logits are 49 of its 60 MB.
#pragma once
#include <cstddef>
#include <vector>

#include "model/config.h"
#include "util/buffer.h"

namespace nograd {

// Where one transformer block reads and writes. In the inference layout several of these alias.
struct BlockActivations {
    float* ln1;        // (B, T, C)
    float* ln1_mean;   // (B, T)       training only, else null
    float* ln1_rstd;   // (B, T)       training only, else null
    float* qkv;        // (B, T, 3C)
    float* att;        // (B, NH, T, T) training only; null selects streaming attention
    float* atty;       // (B, T, C)    attention output before its projection
    float* attproj;    // (B, T, C)
    float* residual2;  // (B, T, C)    residual stream after attention
    float* ln2;        // (B, T, C)
    float* ln2_mean;   // (B, T)       training only
    float* ln2_rstd;   // (B, T)       training only
    float* fch;        // (B, T, 4C)   MLP hidden, before GELU
    float* fch_gelu;   // (B, T, 4C)   after GELU (aliases fch in inference)
    float* fcproj;     // (B, T, C)
    float* residual3;  // (B, T, C)    the block's output
};

enum class ActivationLayout { inference, training, loss_only };

class Activations {
public:
    Activations(const GPT2Config& config, int B, int T, ActivationLayout layout);

    // Floats the layout needs, without allocating (for `nograd info` and memory plans).
    static size_t floats_needed(const GPT2Config& config, int B, int T, ActivationLayout layout);

    int B = 0, T = 0;
    ActivationLayout layout;
    float* encoded = nullptr;              // (B, T, C) token + position embedding
    std::vector<BlockActivations> blocks;  // L entries; identical in the inference layout
    float* lnf = nullptr;                  // (B, T, C)
    float* lnf_mean = nullptr;             // (B, T) training only
    float* lnf_rstd = nullptr;             // (B, T) training only
    float* logits = nullptr;               // (B, T, Vp); columns V..Vp-1 are never written; null in loss_only
    float* losses = nullptr;               // (B, T)

private:
    FloatBuffer storage_;
};

}  // namespace nograd
