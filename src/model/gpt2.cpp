#include "model/gpt2.h"

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/attention.h"
#include "kernels/crossentropy.h"
#include "kernels/encoder.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/residual.h"
#include "optim/direction.h"

namespace nograd {

GPT2::GPT2(const GPT2Config& c)
    : config(c), table(make_parameter_table(c)), params(table.total), weights(make_views(params.data(), table)) {}

LayerWeights layer_weights(const ParameterViews& w, const GPT2Config& c, int l) {
    const size_t C = c.channels;
    return {w.ln1w + l * C,         w.ln1b + l * C,          w.qkvw + l * 3 * C * C, w.qkvb + l * 3 * C,
            w.attprojw + l * C * C, w.attprojb + l * C,      w.ln2w + l * C,         w.ln2b + l * C,
            w.fcw + l * 4 * C * C,  w.fcb + l * 4 * C,       w.fcprojw + l * 4 * C * C, w.fcprojb + l * C};
}

void init_gpt2_weights(GPT2& model, uint64_t seed) {
    const GPT2Config& c = model.config;
    const float residual_std = 0.02f / std::sqrt(2.0f * c.num_layers);
    for (size_t i = 0; i < model.table.tensors.size(); ++i) {
        const TensorInfo& t = model.table.tensors[i];
        float* p = model.params.data() + t.offset;
        if (t.group == TensorGroup::layernorm && !t.is_bias) { for (size_t k = 0; k < t.size; ++k) p[k] = 1.0f; continue; }
        if (t.is_bias) { for (size_t k = 0; k < t.size; ++k) p[k] = 0.0f; continue; }
        // Each tensor draws its own stream, so resizing one tensor leaves the others' values alone.
        generate_direction(p, 0, t.size, DirectionKey{seed, 0xC0FFEE00u + i}, Distribution::gaussian);
        const float std = (t.name == "attprojw" || t.name == "fcprojw") ? residual_std : 0.02f;
        for (size_t k = 0; k < t.size; ++k) p[k] *= std;
    }
    // llm.c keeps the padding rows of wte at zero; they never reach the softmax.
    float* pad = model.weights.wte + size_t(c.vocab_size) * c.channels;
    for (size_t k = 0; k < size_t(c.padded_vocab_size - c.vocab_size) * c.channels; ++k) pad[k] = 0.0f;
}

std::string describe_non_finite(const GPT2& model) {
    const float* p = model.params.data();
    for (const TensorInfo& t : model.table.tensors)
        for (size_t k = 0; k < t.size; ++k)
            if (!std::isfinite(p[t.offset + k]))
                return "tensor '" + t.name + "' element " + std::to_string(k) + " is " + std::to_string(p[t.offset + k]);
    return "";
}

void ThetaWeights::linear(float* const* out, const float* const* in, const float* weight, const float* bias, int N,
                          int IC, int OC, int ldo) {
    matmul_forward(out[0], in[0], weight, bias, N, IC, OC, ldo);
}

void block_forward(std::span<const BlockActivations> a, const float* const* x_in, const LayerWeights& w,
                   PointWeights& weights, int B, int T, int C, int NH) {
    const int BT = B * T;
    const size_t K = a.size();
    using Field = float* BlockActivations::*;
    auto layernorm = [&](Field out, Field mean, Field rstd, auto input, const float* gain, const float* shift) {
        const float* const* g = weights.get(gain, size_t(C), WeightSlot::a);
        const float* const* s = weights.get(shift, size_t(C), WeightSlot::b);
        for (size_t k = 0; k < K; ++k)
            layernorm_forward(a[k].*out, a[k].*mean, a[k].*rstd, input(k), g[k], s[k], BT, C);
    };
    std::vector<float*> outs(K);
    std::vector<const float*> ins(K);
    auto linear = [&](Field out, Field in, const float* weight, const float* bias, int IC, int OC) {
        for (size_t k = 0; k < K; ++k) outs[k] = a[k].*out, ins[k] = a[k].*in;
        weights.linear(outs.data(), ins.data(), weight, bias, BT, IC, OC, OC);
    };
    layernorm(&BlockActivations::ln1, &BlockActivations::ln1_mean, &BlockActivations::ln1_rstd,
              [&](size_t k) { return x_in[k]; }, w.ln1w, w.ln1b);
    linear(&BlockActivations::qkv, &BlockActivations::ln1, w.qkvw, w.qkvb, C, 3 * C);
    for (size_t k = 0; k < K; ++k) {
        if (a[k].att) attention_forward(a[k].atty, a[k].att, a[k].qkv, B, T, C, NH);
        else attention_forward_streaming(a[k].atty, a[k].qkv, B, T, C, NH);
    }
    linear(&BlockActivations::attproj, &BlockActivations::atty, w.attprojw, w.attprojb, C, C);
    for (size_t k = 0; k < K; ++k) residual_forward(a[k].residual2, x_in[k], a[k].attproj, long(BT) * C);
    layernorm(&BlockActivations::ln2, &BlockActivations::ln2_mean, &BlockActivations::ln2_rstd,
              [&](size_t k) { return a[k].residual2; }, w.ln2w, w.ln2b);
    linear(&BlockActivations::fch, &BlockActivations::ln2, w.fcw, w.fcb, C, 4 * C);
    for (size_t k = 0; k < K; ++k) gelu_forward(a[k].fch_gelu, a[k].fch, long(BT) * 4 * C);
    linear(&BlockActivations::fcproj, &BlockActivations::fch_gelu, w.fcprojw, w.fcprojb, 4 * C, C);
    for (size_t k = 0; k < K; ++k) residual_forward(a[k].residual3, a[k].residual2, a[k].fcproj, long(BT) * C);
}

float gpt2_forward(const GPT2& model, Activations& acts, const int* inputs, const int* targets) {
    const GPT2Config& c = model.config;
    const ParameterViews& w = model.weights;
    const int B = acts.B, T = acts.T, C = c.channels, BT = B * T;
    encoder_forward(acts.encoded, inputs, w.wte, w.wpe, B, T, C);
    const float* x = acts.encoded;
    ThetaWeights theta;
    for (int l = 0; l < c.num_layers; ++l) {
        block_forward({&acts.blocks[l], 1}, &x, layer_weights(w, c, l), theta, B, T, C, c.num_heads);
        x = acts.blocks[l].residual3;
    }
    layernorm_forward(acts.lnf, acts.lnf_mean, acts.lnf_rstd, x, w.lnfw, w.lnfb, BT, C);
    // Tied LM head over the real vocabulary only: logits (BT, V of Vp) = lnf · wte[0:V]ᵀ.
    matmul_forward(acts.logits, acts.lnf, w.wte, nullptr, BT, C, c.vocab_size, c.padded_vocab_size);
    if (!targets) return std::numeric_limits<float>::quiet_NaN();
    crossentropy_forward(acts.losses, acts.logits, targets, BT, c.vocab_size, c.padded_vocab_size);
    std::vector<double> sums(static_cast<size_t>(B));
    for (int b = 0; b < B; ++b) sums[size_t(b)] = sequence_loss_sum(acts.losses + size_t(b) * T, T);
    return batch_mean_loss(sums, T);
}

// Fixed orders: the same bits for any thread count and any split of the batch.
double sequence_loss_sum(const float* losses, int T) {
    double sum = 0.0;
    for (int t = 0; t < T; ++t) sum += losses[t];
    return sum;
}

float batch_mean_loss(std::span<const double> sequence_sums, int T) {
    double sum = 0.0;
    for (const double s : sequence_sums) sum += s;
    return float(sum / (double(sequence_sums.size()) * T));
}

}  // namespace nograd
