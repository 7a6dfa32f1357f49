// The KV-cached forward pass reuses the model's kernels with one row (N = 1); only attention is new, since a
// single query attends over cached keys instead of a packed (T, 3C) tensor. Sampling is plain C++.
#include "model/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>

#include "kernels/encoder.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/residual.h"
#include "util/error.h"

namespace nograd {

KVCache::KVCache(const GPT2Config& c)
    : max_seq_len(c.max_seq_len), channels(c.channels), x(c.channels), ln(c.channels), qkv(3 * size_t(c.channels)),
      atty(c.channels), proj(c.channels), fch(4 * size_t(c.channels)), scores(size_t(c.num_heads) * c.max_seq_len),
      keys_(floats_needed(c) / 2), values_(floats_needed(c) / 2) {}

size_t KVCache::floats_needed(const GPT2Config& c) {
    return 2 * size_t(c.num_layers) * c.max_seq_len * c.channels;
}

namespace {

float dot(const float* a, const float* b, int n) {
    float s = 0.0f;
    for (int i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}

// One query q (C) against the cached keys and values (maxT, C) of positions 0..t, per head h:
//   out_h = Σ_{j≤t} softmax_j(q_h·k_{j,h} / √hs) · v_{j,h}.
// Two passes over the cache: the scores and their maximum, then exp(score − max) weights and the weighted
// sum of values. scores (NH, maxT) holds each head's row; heads run in parallel and write disjoint slices.
void attend_cached(float* out, float* scores, const float* q, const float* keys, const float* values, int t, int C,
                   int NH, int maxT) {
    const int hs = C / NH;
    const float scale = 1.0f / std::sqrt(float(hs));
#pragma omp parallel for schedule(static)
    for (int h = 0; h < NH; ++h) {
        float* s = scores + size_t(h) * maxT;
        float max = -std::numeric_limits<float>::infinity();
        for (int j = 0; j <= t; ++j) {
            s[j] = scale * dot(q + h * hs, keys + size_t(j) * C + h * hs, hs);
            max = std::max(max, s[j]);
        }
        float sum = 0.0f;
        for (int j = 0; j <= t; ++j) {
            s[j] = std::exp(s[j] - max);
            sum += s[j];
        }
        float* o = out + h * hs;
        std::fill(o, o + hs, 0.0f);
        for (int j = 0; j <= t; ++j) {
            const float* v = values + size_t(j) * C + h * hs;
            for (int i = 0; i < hs; ++i) o[i] += s[j] * v[i];
        }
        for (int i = 0; i < hs; ++i) o[i] /= sum;
    }
}

// block_forward for one position: reads and updates the residual stream kv.x (C) in place.
void block_next_token(KVCache& kv, const LayerWeights& w, int layer, int position, int C, int NH) {
    float* x = kv.x.data();
    layernorm_forward(kv.ln.data(), nullptr, nullptr, x, w.ln1w, w.ln1b, 1, C);
    matmul_forward(kv.qkv.data(), kv.ln.data(), w.qkvw, w.qkvb, 1, C, 3 * C);
    // This position's key and value join the cache before attending, so the query also sees itself.
    std::memcpy(kv.keys(layer) + size_t(position) * C, kv.qkv.data() + C, sizeof(float) * C);
    std::memcpy(kv.values(layer) + size_t(position) * C, kv.qkv.data() + 2 * C, sizeof(float) * C);
    attend_cached(kv.atty.data(), kv.scores.data(), kv.qkv.data(), kv.keys(layer), kv.values(layer), position, C,
                  NH, kv.max_seq_len);
    matmul_forward(kv.proj.data(), kv.atty.data(), w.attprojw, w.attprojb, 1, C, C);
    residual_forward(x, x, kv.proj.data(), C);
    layernorm_forward(kv.ln.data(), nullptr, nullptr, x, w.ln2w, w.ln2b, 1, C);
    matmul_forward(kv.fch.data(), kv.ln.data(), w.fcw, w.fcb, 1, C, 4 * C);
    gelu_forward(kv.fch.data(), kv.fch.data(), 4 * C);
    matmul_forward(kv.proj.data(), kv.fch.data(), w.fcprojw, w.fcprojb, 1, 4 * C, C);
    residual_forward(x, x, kv.proj.data(), C);
}

}  // namespace

void forward_next_token(const GPT2& model, KVCache& cache, int token, int position, float* logits_out) {
    const GPT2Config& c = model.config;
    if (token < 0 || token >= c.vocab_size)
        throw Error("forward_next_token: expected a token id below " + std::to_string(c.vocab_size) + ", found " +
                    std::to_string(token));
    if (position < 0 || position >= c.max_seq_len)
        throw Error("forward_next_token: expected a position below maxT = " + std::to_string(c.max_seq_len) +
                    ", found " + std::to_string(position));
    const ParameterViews& w = model.weights;
    const int C = c.channels;
    // x = wte[token] + wpe[position]: the encoder with B = T = 1 and wpe shifted to this position.
    encoder_forward(cache.x.data(), &token, w.wte, w.wpe + size_t(position) * C, 1, 1, C);
    for (int l = 0; l < c.num_layers; ++l)
        block_next_token(cache, layer_weights(w, c, l), l, position, C, c.num_heads);
    if (!logits_out) return;
    layernorm_forward(cache.ln.data(), nullptr, nullptr, cache.x.data(), w.lnfw, w.lnfb, 1, C);
    // Tied LM head over the real vocabulary: logits (V) = lnf · wte[0:V]ᵀ.
    matmul_forward(logits_out, cache.ln.data(), w.wte, nullptr, 1, C, c.vocab_size);
}

uint64_t SplitMix64::next() {
    state_ += 0x9E3779B97F4A7C15ull;  // 2^64 / golden ratio
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int argmax_token(const float* logits, int V) {
    int best = 0;
    for (int v = 1; v < V; ++v)
        if (logits[v] > logits[best]) best = v;
    return best;
}

namespace {

// Ids allowed by top-k, in increasing order: the k largest logits (the lower id wins a tie), or all V.
std::vector<int> candidate_ids(const float* logits, int V, int top_k) {
    std::vector<int> ids(V);
    std::iota(ids.begin(), ids.end(), 0);
    if (top_k <= 0 || top_k >= V) return ids;
    const auto ranks_higher = [logits](int a, int b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
    std::nth_element(ids.begin(), ids.begin() + top_k, ids.end(), ranks_higher);
    ids.resize(top_k);
    std::sort(ids.begin(), ids.end());
    return ids;
}

}  // namespace

int sample_token(const float* logits, int V, const SamplingOptions& options, SplitMix64& rng) {
    if (options.temperature == 0.0) return argmax_token(logits, V);
    const std::vector<int> ids = candidate_ids(logits, V, options.top_k);
    double max = -std::numeric_limits<double>::infinity();
    for (int id : ids) max = std::max(max, double(logits[id]));
    // softmax(l / T) up to its normaliser: exp((l − max) / T), the largest weight exactly 1.
    std::vector<double> weights(ids.size());
    double total = 0.0;
    for (size_t i = 0; i < ids.size(); ++i) total += weights[i] = std::exp((logits[ids[i]] - max) / options.temperature);
    const double u = rng.uniform() * total;
    double cumulative = 0.0;
    for (size_t i = 0; i < ids.size(); ++i) {
        cumulative += weights[i];
        if (u < cumulative) return ids[i];
    }
    // Only when u·total rounds up to total: the last id with a nonzero weight.
    for (size_t i = ids.size(); i-- > 0;)
        if (weights[i] > 0.0) return ids[i];
    return ids.back();
}

namespace {

void check_generation_inputs(const GPT2Config& c, const std::vector<int>& prompt, int steps,
                             const SamplingOptions& options) {
    if (prompt.empty() || prompt.size() >= size_t(c.max_seq_len))
        throw Error("prompt: expected 1 to " + std::to_string(c.max_seq_len - 1) + " tokens (maxT − 1), found " +
                    std::to_string(prompt.size()));
    for (size_t i = 0; i < prompt.size(); ++i)
        if (prompt[i] < 0 || prompt[i] >= c.vocab_size)
            throw Error("prompt token " + std::to_string(i) + ": expected an id below V = " +
                        std::to_string(c.vocab_size) + ", found " + std::to_string(prompt[i]));
    if (steps < 1) throw Error("steps: expected at least 1, found " + std::to_string(steps));
    if (!std::isfinite(options.temperature) || options.temperature < 0.0)
        throw Error("temperature: expected a finite number ≥ 0, found " + std::to_string(options.temperature));
    if (options.top_k < 0) throw Error("top-k: expected ≥ 0 (0 = off), found " + std::to_string(options.top_k));
}

void check_finite_logits(const std::vector<float>& logits, int position) {
    for (float v : logits)
        if (!std::isfinite(v))
            throw Error("non-finite logits after position " + std::to_string(position) +
                        ": the model's parameters are not usable");
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

GenerationResult generate(const GPT2& model, const std::vector<int>& prompt, int steps,
                          const SamplingOptions& options, const std::function<void(int)>& on_token) {
    const GPT2Config& c = model.config;
    check_generation_inputs(c, prompt, steps, options);
    KVCache cache(c);
    std::vector<float> logits(c.vocab_size);
    SplitMix64 rng(options.seed);
    GenerationResult result;
    auto start = std::chrono::steady_clock::now();
    const int P = int(prompt.size());
    // Only the last prompt token's logits are used: the others skip the LM head.
    for (int i = 0; i < P; ++i) forward_next_token(model, cache, prompt[i], i, i == P - 1 ? logits.data() : nullptr);
    result.prefill_seconds = seconds_since(start);
    start = std::chrono::steady_clock::now();
    int fed = P;  // tokens in the cache; the next sampled token lands at index `fed`
    for (;;) {
        check_finite_logits(logits, fed - 1);
        const int token = sample_token(logits.data(), c.vocab_size, options, rng);
        result.tokens.push_back(token);
        if (on_token) on_token(token);
        if (int(result.tokens.size()) == steps || fed + 1 == c.max_seq_len) break;
        forward_next_token(model, cache, token, fed, logits.data());
        ++fed;
    }
    result.sample_seconds = seconds_since(start);
    return result;
}

}  // namespace nograd
