// Backpropagation through GPT-2: the activation-gradient buffers and the backward pass, which writes
// d(mean loss)/d(parameter) into a flat gradient buffer laid out by the model's parameter table.
// Optimizers (optim/adamw.*, optim/sgd.*) and the training loop live elsewhere.
#pragma once
#include <cstddef>

#include "model/activations.h"
#include "model/config.h"
#include "model/gpt2.h"
#include "util/buffer.h"

namespace nograd {

// Gradients with respect to activations. Far smaller than llm.c's full per-layer set: the backward pass
// walks the layers from the top down and only ever needs the current layer's gradients, so
//  - one residual-stream gradient serves every layer: a residual add passes its gradient to both of its
//    inputs unchanged, so the layer's branches simply accumulate into it (no residual_backward call);
//  - two scratch buffers are reused by every layer, each shared by gradients that are never live at once;
//  - the logits' gradient overwrites acts.logits in place (crossentropy_backward allows it).
// Total 6·B·T·C floats, independent of L and V.
class ActivationGrads {
public:
    ActivationGrads(const GPT2Config& config, int B, int T);

    // Floats the buffers need, without allocating (for the memory plan).
    static size_t floats_needed(const GPT2Config& config, int B, int T);

    int B = 0, T = 0;
    float* residual = nullptr;  // (B, T, C)  d loss / d residual stream at the point being processed
    float* ln = nullptr;        // (B, T, C)  d loss / d LayerNorm output (lnf, ln2, ln1 in turn)
    float* atty = nullptr;      // (B, T, C)  d loss / d attention output; aliases ln (live between ln2 and ln1)
    float* fch = nullptr;       // (B, T, 4C) d loss / d MLP hidden, after then (in place) before GELU
    float* qkv = nullptr;       // (B, T, 3C) d loss / d qkv; aliases fch (the MLP is done by then)

private:
    FloatBuffer storage_;
};

// Accumulates d(mean loss)/d(parameters) into grad_params (table.total floats, same layout as
// model.params) from a forward pass already run with `targets` into the training layout `acts`.
// Overwrites acts.logits with the logits' gradient. inputs and targets (B, T) are those of the forward.
void gpt2_backward(const GPT2& model, Activations& acts, ActivationGrads& grads, float* grad_params,
                   const int* inputs, const int* targets);

// One training step's gradient: zeroes grad_params, runs gpt2_forward into the training layout `acts`,
// then gpt2_backward. Returns the mean cross-entropy loss. Deterministic: the same bits for any thread
// count (every reduction runs in a fixed order; the gemm backends never split the inner dimension).
float gpt2_forward_backward(const GPT2& model, Activations& acts, ActivationGrads& grads, float* grad_params,
                            const int* inputs, const int* targets);

}  // namespace nograd
