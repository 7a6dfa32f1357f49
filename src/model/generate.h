// Text generation: an incremental forward pass that computes one new position's logits from a cache of
// every earlier position's keys and values (no re-run of the prefix), and temperature / top-k sampling.
// One sequence at a time (no batching); the prompt is fed token by token through the same path.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "model/gpt2.h"
#include "util/buffer.h"

namespace nograd {

// The keys and values of every layer for positions 0..maxT-1 of one sequence, and the scratch one
// position's forward pass needs. Memory: 2·L·maxT·C floats for the cache (d12: 2·12·1024·768 floats =
// 75.5 MB), plus (10C + NH·maxT + V) floats of scratch.
class KVCache {
public:
    explicit KVCache(const GPT2Config& config);
    static size_t floats_needed(const GPT2Config& config);  // 2·L·maxT·C: the cache alone

    float* keys(int layer) { return keys_.data() + size_t(layer) * max_seq_len * channels; }      // (maxT, C)
    float* values(int layer) { return values_.data() + size_t(layer) * max_seq_len * channels; }  // (maxT, C)

    int max_seq_len, channels;
    // Scratch for one position, overwritten by every forward_next_token call.
    FloatBuffer x;       // (C)    residual stream
    FloatBuffer ln;      // (C)    LayerNorm output (ln1, ln2, then lnf)
    FloatBuffer qkv;     // (3C)   this position's query, key and value
    FloatBuffer atty;    // (C)    attention output before its projection
    FloatBuffer proj;    // (C)    output of a residual branch's projection
    FloatBuffer fch;     // (4C)   MLP hidden, GELU applied in place
    FloatBuffer scores;  // (NH, maxT) attention scores of the one query

private:
    FloatBuffer keys_, values_;  // (L, maxT, C) each
};

// Runs `token` at `position` through the model, appends its keys and values to the cache, and writes the
// logits predicting position+1 into logits_out (V floats). Contract: positions 0..position-1 of the cache
// hold this sequence's earlier tokens (call with position 0, 1, 2, ... in order). Throws nograd::Error for a
// token outside [0, V) or a position outside [0, maxT).
void forward_next_token(const GPT2& model, KVCache& cache, int token, int position, float* logits_out);

// SplitMix64 (Steele, Lea & Flood 2014): a 64-bit counter advanced by the golden-ratio increment and
// hashed; the same seed gives the same stream on every platform.
class SplitMix64 {
public:
    explicit SplitMix64(uint64_t seed) : state_(seed) {}
    uint64_t next();
    // Uniform in [0, 1): the top 53 bits of next() times 2^-53, exactly representable as a double.
    double uniform() { return double(next() >> 11) * 0x1.0p-53; }

private:
    uint64_t state_;
};

struct SamplingOptions {
    double temperature = 1.0;  // 0 = greedy (argmax); otherwise logits are divided by it
    int top_k = 0;             // sample among the k largest logits only; 0 (or ≥ V) = the whole vocabulary
    uint64_t seed = 1337;
};

// The index of the largest of V logits; the lowest index among ties.
int argmax_token(const float* logits, int V);

// One token from softmax(logits / temperature) restricted to the top_k largest logits (ties broken towards
// the lower id), drawing one rng.uniform(). Greedy (no draw) when temperature is 0. Candidates are walked in
// increasing id order, so a draw u picks the first id whose cumulative probability exceeds u.
int sample_token(const float* logits, int V, const SamplingOptions& options, SplitMix64& rng);

struct GenerationResult {
    std::vector<int> tokens;       // the generated tokens, without the prompt
    double prefill_seconds = 0.0;  // feeding the prompt
    double sample_seconds = 0.0;   // producing the generated tokens
};

// Feeds `prompt` (1 ≤ length < maxT, ids < V), then samples up to `steps` tokens (≥ 1), stopping early when
// the sequence (prompt + generated) reaches maxT. on_token, when given, is called with each token as it is
// made. Throws nograd::Error for a bad prompt, steps or options.
GenerationResult generate(const GPT2& model, const std::vector<int>& prompt, int steps,
                          const SamplingOptions& options, const std::function<void(int)>& on_token = {});

}  // namespace nograd
