// The backward pass: the forward's kernels in reverse order, layer L−1 down to the embeddings, with the
// buffer sharing described in backward.h.
#include "model/backward.h"

#include <cassert>

#include "kernels/attention.h"
#include "kernels/crossentropy.h"
#include "kernels/encoder.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"

namespace nograd {
namespace {

// Sizes of the three buffers, written once for the count and the layout.
struct GradSizes {
    size_t narrow, wide;  // B·T·C and B·T·4C
};
GradSizes grad_sizes(const GPT2Config& c, int B, int T) {
    const size_t BTC = size_t(B) * T * c.channels;
    return {BTC, 4 * BTC};
}

// One layer's slice of the gradient buffer. layer_weights() already knows the per-layer offsets; the
// gradient buffer is ours and writable, so its pointers are simply made mutable again.
struct LayerGrads {
    float *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb;
    float *ln2w, *ln2b, *fcw, *fcb, *fcprojw, *fcprojb;
};
LayerGrads layer_grads(const ParameterViews& g, const GPT2Config& c, int layer) {
    const LayerWeights w = layer_weights(g, c, layer);
    auto m = [](const float* p) { return const_cast<float*>(p); };
    return {m(w.ln1w), m(w.ln1b), m(w.qkvw), m(w.qkvb), m(w.attprojw), m(w.attprojb),
            m(w.ln2w), m(w.ln2b), m(w.fcw),  m(w.fcb),  m(w.fcprojw), m(w.fcprojb)};
}

void zero(float* p, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; ++i) p[i] = 0.0f;
}

// One block in reverse. On entry g.residual holds d loss / d residual3 (the block's output); on exit,
// d loss / d x_in (its input). Both branches add into it: residual3 = residual2 + mlp(residual2) gives
// d residual2 = d residual3 + (MLP path), and likewise for residual2 = x_in + attention(x_in).
void block_backward(ActivationGrads& g, const LayerGrads& d, const BlockActivations& a, const float* x_in,
                    const LayerWeights& w, int B, int T, int C, int NH) {
    const int BT = B * T;
    const size_t BTC = size_t(BT) * C;
    // MLP: fcproj(gelu(fc(ln2(residual2)))).
    zero(g.fch, 4 * BTC);
    matmul_backward(g.fch, d.fcprojw, d.fcprojb, g.residual, a.fch_gelu, w.fcprojw, BT, 4 * C, C);
    gelu_backward(g.fch, g.fch, a.fch, long(4 * BTC));
    zero(g.ln, BTC);
    matmul_backward(g.ln, d.fcw, d.fcb, g.fch, a.ln2, w.fcw, BT, C, 4 * C);
    layernorm_backward(g.residual, d.ln2w, d.ln2b, g.ln, a.residual2, w.ln2w, a.ln2_mean, a.ln2_rstd, BT, C);
    // Attention: attproj(attention(qkv(ln1(x_in)))). g.atty reuses g.ln's memory, whose value is spent.
    zero(g.atty, BTC);
    matmul_backward(g.atty, d.attprojw, d.attprojb, g.residual, a.atty, w.attprojw, BT, C, C);
    attention_backward(g.qkv, g.atty, a.qkv, a.att, B, T, C, NH);  // g.qkv reuses g.fch's memory
    zero(g.ln, BTC);
    matmul_backward(g.ln, d.qkvw, d.qkvb, g.qkv, a.ln1, w.qkvw, BT, C, 3 * C);
    layernorm_backward(g.residual, d.ln1w, d.ln1b, g.ln, x_in, w.ln1w, a.ln1_mean, a.ln1_rstd, BT, C);
}

}  // namespace

size_t ActivationGrads::floats_needed(const GPT2Config& config, int B, int T) {
    const GradSizes s = grad_sizes(config, B, T);
    return 2 * s.narrow + s.wide;
}

ActivationGrads::ActivationGrads(const GPT2Config& config, int B_, int T_)
    : B(B_), T(T_), storage_(floats_needed(config, B_, T_)) {
    const GradSizes s = grad_sizes(config, B, T);
    residual = storage_.data();
    ln = atty = residual + s.narrow;
    fch = qkv = ln + s.narrow;
}

void gpt2_backward(const GPT2& model, Activations& acts, ActivationGrads& g, float* grad_params,
                   const int* inputs, const int* targets) {
    assert(acts.layout == ActivationLayout::training && acts.B == g.B && acts.T == g.T);
    const GPT2Config& c = model.config;
    const ParameterViews& w = model.weights;
    const ParameterViews d = make_views(grad_params, model.table);
    const int B = acts.B, T = acts.T, C = c.channels, L = c.num_layers, BT = B * T;
    const float* top = L > 0 ? acts.blocks[L - 1].residual3 : acts.encoded;
    // Loss = mean over the B·T positions, so each position's loss has gradient 1/(B·T).
    crossentropy_backward(acts.logits, acts.logits, targets, 1.0f / float(BT), BT, c.vocab_size,
                          c.padded_vocab_size);
    // Tied LM head: logits (BT, V of Vp) = lnf · wte[0:V]ᵀ, so its weight gradient lands in dwte's real rows.
    zero(g.ln, size_t(BT) * C);
    matmul_backward(g.ln, d.wte, nullptr, acts.logits, acts.lnf, w.wte, BT, C, c.vocab_size, c.padded_vocab_size);
    zero(g.residual, size_t(BT) * C);
    layernorm_backward(g.residual, d.lnfw, d.lnfb, g.ln, top, w.lnfw, acts.lnf_mean, acts.lnf_rstd, BT, C);
    for (int l = L - 1; l >= 0; --l) {
        const float* x_in = l > 0 ? acts.blocks[l - 1].residual3 : acts.encoded;
        block_backward(g, layer_grads(d, c, l), acts.blocks[l], x_in, layer_weights(w, c, l), B, T, C,
                       c.num_heads);
    }
    encoder_backward(d.wte, d.wpe, g.residual, inputs, B, T, C);
}

float gpt2_forward_backward(const GPT2& model, Activations& acts, ActivationGrads& grads, float* grad_params,
                            const int* inputs, const int* targets) {
    zero(grad_params, model.table.total);
    const float loss = gpt2_forward(model, acts, inputs, targets);
    gpt2_backward(model, acts, grads, grad_params, inputs, targets);
    return loss;
}

}  // namespace nograd
