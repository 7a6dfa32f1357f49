#include "model/activations.h"

namespace nograd {
namespace {

// Hands out consecutive pieces of one buffer; with a null base it only counts.
class Bump {
public:
    explicit Bump(float* base) : base_(base) {}
    float* take(size_t n) {
        float* p = base_ ? base_ + used_ : nullptr;
        used_ += (n + 15) / 16 * 16;  // keep every piece 64-byte aligned
        return p;
    }
    size_t used() const { return used_; }

private:
    float* base_;
    size_t used_ = 0;
};

BlockActivations inference_block(Bump& bump, const GPT2Config& c, size_t BT) {
    const size_t C = c.channels;
    BlockActivations a{};
    // The residual stream is updated in place: x ← x + attproj, then x ← x + fcproj.
    a.residual2 = a.residual3 = bump.take(BT * C);
    a.ln1 = a.ln2 = bump.take(BT * C);
    a.qkv = bump.take(BT * 3 * C);
    a.atty = bump.take(BT * C);
    a.attproj = a.fcproj = bump.take(BT * C);
    a.fch = a.fch_gelu = bump.take(BT * 4 * C);  // GELU in place
    return a;
}

BlockActivations training_block(Bump& bump, const GPT2Config& c, size_t B, size_t T) {
    const size_t C = c.channels, BT = B * T;
    BlockActivations a{};
    a.ln1 = bump.take(BT * C);
    a.ln1_mean = bump.take(BT);
    a.ln1_rstd = bump.take(BT);
    a.qkv = bump.take(BT * 3 * C);
    a.att = bump.take(B * c.num_heads * T * T);
    a.atty = bump.take(BT * C);
    a.attproj = bump.take(BT * C);
    a.residual2 = bump.take(BT * C);
    a.ln2 = bump.take(BT * C);
    a.ln2_mean = bump.take(BT);
    a.ln2_rstd = bump.take(BT);
    a.fch = bump.take(BT * 4 * C);
    a.fch_gelu = bump.take(BT * 4 * C);
    a.fcproj = bump.take(BT * C);
    a.residual3 = bump.take(BT * C);
    return a;
}

// Lays out every buffer of `layout`; returns the floats used. `out` may be null (count only).
size_t lay_out(Activations* out, float* base, const GPT2Config& c, int B, int T, ActivationLayout layout) {
    Bump bump(base);
    const size_t BT = size_t(B) * T, C = c.channels;
    std::vector<BlockActivations> blocks;
    float *encoded, *lnf, *lnf_mean = nullptr, *lnf_rstd = nullptr;
    if (layout != ActivationLayout::training) {
        const BlockActivations shared = inference_block(bump, c, BT);
        blocks.assign(c.num_layers, shared);
        encoded = shared.residual3;  // the embedding is written straight into the residual stream
        lnf = shared.ln1;
    } else {
        encoded = bump.take(BT * C);
        for (int l = 0; l < c.num_layers; ++l) blocks.push_back(training_block(bump, c, B, T));
        lnf = bump.take(BT * C);
        lnf_mean = bump.take(BT);
        lnf_rstd = bump.take(BT);
    }
    float* logits = layout == ActivationLayout::loss_only ? nullptr : bump.take(BT * c.padded_vocab_size);
    float* losses = bump.take(BT);
    if (out) {
        out->encoded = encoded;
        out->blocks = std::move(blocks);
        out->lnf = lnf;
        out->lnf_mean = lnf_mean;
        out->lnf_rstd = lnf_rstd;
        out->logits = logits;
        out->losses = losses;
    }
    return bump.used();
}

}  // namespace

size_t Activations::floats_needed(const GPT2Config& config, int B, int T, ActivationLayout layout) {
    return lay_out(nullptr, nullptr, config, B, T, layout);
}

Activations::Activations(const GPT2Config& config, int B_, int T_, ActivationLayout layout_)
    : B(B_), T(T_), layout(layout_), storage_(floats_needed(config, B_, T_, layout_)) {
    storage_.fill(0.0f);
    lay_out(this, storage_.data(), config, B, T, layout);
}

}  // namespace nograd
