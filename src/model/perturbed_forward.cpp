#include "model/perturbed_forward.h"

#include <algorithm>
#include <cassert>
#include <omp.h>

#include "kernels/crossentropy.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "util/error.h"

namespace nograd {
namespace {

constexpr int kGemmTileCols = 384;       // kernels/gemm.cpp's tile width

// Rounded up to 16 floats, so that every slot stays 64-byte aligned.
size_t aligned(size_t floats) { return (floats + 15) / 16 * 16; }

size_t small_slot_floats(const GPT2Config& c, int T) { return aligned(std::max(size_t(4) * c.channels, size_t(T) * c.channels)); }

// Weight rows per chunk of a Linear layer with IC inputs: up to a whole gemm tile of 384 rows, fewer (a
// multiple of 32, at least 32) when IC is wide, so that a chunk holds at most chunk_floats.
int chunk_rows(size_t chunk_floats, int IC) {
    return std::clamp(int(chunk_floats / size_t(IC)) / 32 * 32, 32, kGemmTileCols);
}

// Floats of one thread's copy of a chunk, for the largest chunk of any Linear layer of the model: IC = C with
// up to max(4C, an LM-head chunk) rows, or IC = 4C with C rows.
size_t chunk_buffer_floats(const GPT2Config& c, size_t chunk_floats, int vocab_rows) {
    const int C = c.channels, widest = std::max(4 * C, vocab_rows);
    const size_t narrow_inputs = size_t(std::min(chunk_rows(chunk_floats, C), widest)) * C;
    const size_t wide_inputs = size_t(std::min(chunk_rows(chunk_floats, 4 * C), C)) * 4 * C;
    return aligned(std::max(narrow_inputs, wide_inputs));
}

// The weights of the points θ + s_k·u. A tensor the perturbation does not touch, and every point with s = 0,
// read θ itself; the others read copies: small tensors whole, a Linear layer's matrix chunk by chunk of rows,
// each chunk copied and multiplied by one thread while it is in that thread's cache (θ is read from memory
// once, by the copy, and the copies are never written back).
class PerturbedWeights final : public PointWeights {
public:
    // small_copies[k]: point k's two slots of small_floats; row_copies[k]: its chunk buffer per thread, of
    // chunk_buffer_floats each, for chunks of at most chunk_floats.
    PerturbedWeights(const GPT2& model, const Perturbation& perturbation, std::span<const float> scales,
                     std::vector<float*> small_copies, size_t small_floats, std::vector<float*> row_copies,
                     size_t chunk_floats, size_t chunk_buffer_floats)
        : base_(model.params.data()), perturbation_(perturbation), scales_(scales), small_floats_(small_floats),
          small_copies_(std::move(small_copies)), row_copies_(std::move(row_copies)), chunk_floats_(chunk_floats),
          chunk_buffer_floats_(chunk_buffer_floats) {
        for (std::vector<const float*>& p : pointers_) p.resize(scales.size());
        for (size_t k = 0; k < scales.size(); ++k)
            if (scales[k] != 0.0f) moving_.push_back(k), moving_scales_.push_back(scales[k]);
    }

    const float* const* get(const float* theta, size_t count, WeightSlot slot) override {
        assert(count <= small_floats_);
        const size_t s = size_t(slot);
        std::vector<const float*>& out = pointers_[s];
        std::fill(out.begin(), out.end(), theta);
        if (!touches(piece(theta, count))) return out.data();
        std::vector<float*> copies;
        for (const size_t k : moving_) copies.push_back(small_copies_[k] + s * small_floats_), out[k] = copies.back();
        perturbed_copies(copies, moving_scales_, base_, offset(theta), offset(theta) + count, perturbation_);
        return out.data();
    }

    void linear(float* const* out, const float* const* in, const float* weight, const float* bias, int N, int IC,
                int OC, int ldo) override {
        const size_t K = scales_.size();
        const float* const* b = bias ? get(bias, size_t(OC), WeightSlot::a) : nullptr;
        if (!touches(piece(weight, size_t(OC) * IC))) {
            for (size_t k = 0; k < K; ++k) matmul_forward(out[k], in[k], weight, b ? b[k] : nullptr, N, IC, OC, ldo);
            return;
        }
        const int rows = chunk_rows(chunk_floats_, IC), chunks = (OC + rows - 1) / rows;
        // Dynamic: a chunk's result does not depend on which thread computes it.
#pragma omp parallel for schedule(dynamic, 1)
        for (int c = 0; c < chunks; ++c) {
            const int r0 = c * rows, n = std::min(rows, OC - r0);
            const float* theta = weight + size_t(r0) * IC;
            const size_t thread = size_t(omp_get_thread_num());
            std::vector<const float*> w(K, theta);
            std::vector<float*> copies;
            for (const size_t k : moving_) copies.push_back(row_copies_[k] + thread * chunk_buffer_floats_), w[k] = copies.back();
            perturbed_copies(copies, moving_scales_, base_, offset(theta), offset(theta) + size_t(n) * IC, perturbation_);
            for (size_t k = 0; k < K; ++k)
                matmul_forward_serial(out[k] + r0, in[k], w[k], b ? b[k] + r0 : nullptr, N, IC, n, ldo);
        }
    }

private:
    size_t offset(const float* theta) const { return size_t(theta - base_); }
    IndexRange piece(const float* theta, size_t count) const { return {offset(theta), offset(theta) + count}; }
    // Does some point read a copy of this piece (a point that moves, over entries of the subset)?
    bool touches(IndexRange r) const {
        return !moving_.empty() && nograd::touches(perturbation_.subset, r.begin, r.end);
    }

    const float* base_;
    const Perturbation& perturbation_;
    std::span<const float> scales_;
    size_t small_floats_;
    std::vector<float*> small_copies_, row_copies_;
    size_t chunk_floats_, chunk_buffer_floats_;
    std::vector<size_t> moving_;       // the points with s != 0, which read copies
    std::vector<float> moving_scales_;  // their scales
    std::vector<const float*> pointers_[2];
};

// Token + position embedding for each point: x_k[b, t] = wte_k[token] + wpe_k[t].
void embed(std::span<Activations* const> points, PointWeights& weights, const GPT2& model, const int* inputs, int B, int T) {
    const int C = model.config.channels;
    const float* const* wpe = weights.get(model.weights.wpe, size_t(T) * C, WeightSlot::a);
    for (int n = 0; n < B * T; ++n) {
        const float* const* wte = weights.get(model.weights.wte + size_t(inputs[n]) * C, size_t(C), WeightSlot::b);
        for (size_t k = 0; k < points.size(); ++k) {
            float* out = points[k]->encoded + size_t(n) * C;
            const float* token = wte[k];
            const float* position = wpe[k] + size_t(n % T) * C;
            for (int i = 0; i < C; ++i) out[i] = token[i] + position[i];
        }
    }
}

}  // namespace

int PerturbedForward::vocab_chunk(const GPT2Config& c) {
    auto whole_tiles = [](int rows) { return (rows + kGemmTileCols - 1) / kGemmTileCols * kGemmTileCols; };
    // ≥ 8 tiles, so every thread has work; no more than the vocabulary needs.
    return std::min(whole_tiles(std::max(4 * c.channels, 8 * kGemmTileCols)), whole_tiles(c.vocab_size));
}

size_t PerturbedForward::bytes_needed(const GPT2Config& c, int B, int T, int points, int threads,
                                      size_t chunk_floats) {
    const size_t per_point = Activations::floats_needed(c, B, T, ActivationLayout::loss_only) +
                             size_t(B) * T * size_t(vocab_chunk(c)) + 2 * small_slot_floats(c, T) +
                             size_t(threads) * chunk_buffer_floats(c, chunk_floats, vocab_chunk(c));
    return 4 * size_t(points) * per_point;
}

PerturbedForward::Point::Point(const GPT2Config& c, int B, int T, int threads, size_t chunk_buffer, int vocab_rows)
    : acts(c, B, T, ActivationLayout::loss_only), logits(size_t(B) * T * size_t(vocab_rows)),
      small_copies(2 * small_slot_floats(c, T)), row_copies(size_t(threads) * chunk_buffer) {}

PerturbedForward::PerturbedForward(const GPT2Config& c, int B, int T, size_t chunk_floats, int vocab_rows)
    : config_(c), B_(B), T_(T), threads_(omp_get_max_threads()), chunk_floats_(chunk_floats),
      vocab_rows_(vocab_rows > 0 ? std::min(vocab_rows, vocab_chunk(c)) : vocab_chunk(c)),
      chunk_buffer_floats_(chunk_buffer_floats(c, chunk_floats, vocab_rows_)) {}

std::vector<std::vector<double>> PerturbedForward::sequence_sums(const GPT2& model, const int* inputs,
                                                                 const int* targets, const Perturbation& perturbation,
                                                                 std::span<const float> scales) {
    assert(!scales.empty());
    const GPT2Config& c = model.config;
    if (c.channels != config_.channels || c.num_layers != config_.num_layers || c.num_heads != config_.num_heads ||
        c.vocab_size != config_.vocab_size || c.padded_vocab_size != config_.padded_vocab_size)
        throw Error("lockstep forward: expected the model it was built for (" + describe(config_) + "), found " +
                    describe(c));
    if (omp_get_max_threads() > threads_) {  // more threads than the copy buffers were made for
        threads_ = omp_get_max_threads();
        points_.clear();
    }
    const int B = B_, T = T_, C = c.channels, BT = B * T, V = c.vocab_size;
    const size_t K = scales.size();
    while (points_.size() < K) points_.emplace_back(config_, B, T, threads_, chunk_buffer_floats_, vocab_rows_);
    std::vector<Activations*> acts;
    std::vector<float*> small_copies, row_copies;
    for (size_t k = 0; k < K; ++k) {
        acts.push_back(&points_[k].acts);
        small_copies.push_back(points_[k].small_copies.data());
        row_copies.push_back(points_[k].row_copies.data());
    }
    PerturbedWeights weights(model, perturbation, scales, small_copies, small_slot_floats(c, T), row_copies,
                             chunk_floats_, chunk_buffer_floats_);

    embed(acts, weights, model, inputs, B, T);
    std::vector<BlockActivations> blocks(K);
    std::vector<const float*> x(K);
    for (size_t k = 0; k < K; ++k) x[k] = acts[k]->encoded;
    for (int l = 0; l < c.num_layers; ++l) {
        for (size_t k = 0; k < K; ++k) blocks[k] = acts[k]->blocks[size_t(l)];
        block_forward(blocks, x.data(), layer_weights(model.weights, c, l), weights, B, T, C, c.num_heads);
        for (size_t k = 0; k < K; ++k) x[k] = blocks[k].residual3;
    }
    const float* const* lnfw = weights.get(model.weights.lnfw, size_t(C), WeightSlot::a);
    const float* const* lnfb = weights.get(model.weights.lnfb, size_t(C), WeightSlot::b);
    for (size_t k = 0; k < K; ++k) layernorm_forward(acts[k]->lnf, nullptr, nullptr, x[k], lnfw[k], lnfb[k], BT, C);

    // The tied LM head over the real vocabulary, chunk by chunk: logits (BT, rows) = lnf · wte[v0 : v0+rows]ᵀ.
    const int chunk = vocab_rows_;
    std::vector<ChunkedCrossEntropy> losses(K, ChunkedCrossEntropy(BT));
    std::vector<float*> logits(K);
    std::vector<const float*> lnf(K);
    for (size_t k = 0; k < K; ++k) logits[k] = points_[k].logits.data(), lnf[k] = acts[k]->lnf;
    for (int v0 = 0; v0 < V; v0 += chunk) {
        const int rows = std::min(chunk, V - v0);
        weights.linear(logits.data(), lnf.data(), model.weights.wte + size_t(v0) * C, nullptr, BT, C, rows, chunk);
        for (size_t k = 0; k < K; ++k) losses[k].add_chunk(logits[k], chunk, v0, rows, targets);
    }
    std::vector<std::vector<double>> sums(K, std::vector<double>(size_t(B)));
    for (size_t k = 0; k < K; ++k) {
        losses[k].losses(acts[k]->losses);
        for (int b = 0; b < B; ++b) sums[k][size_t(b)] = sequence_loss_sum(acts[k]->losses + size_t(b) * T, T);
    }
    return sums;
}

std::vector<double> PerturbedForward::mean_losses(const GPT2& model, const int* inputs, const int* targets,
                                              const Perturbation& perturbation, std::span<const float> scales) {
    std::vector<double> losses;
    for (const std::vector<double>& sums : sequence_sums(model, inputs, targets, perturbation, scales))
        losses.push_back(batch_mean_loss(sums, T_));
    return losses;
}

double PerturbedForward::loss(const GPT2& model, const int* inputs, const int* targets) {
    const float theta[1] = {0.0f};
    return mean_losses(model, inputs, targets, Perturbation{}, theta)[0];
}

}  // namespace nograd
