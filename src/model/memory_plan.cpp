#include "model/memory_plan.h"

#include <algorithm>

#include "model/activations.h"
#include "model/backward.h"
#include "model/generate.h"
#include "model/parameters.h"
#include "model/perturbed_forward.h"
#include "util/error.h"

namespace nograd {

size_t MemoryPlan::total() const {
    size_t sum = 0;
    for (const MemoryItem& item : items) sum += item.bytes;
    return sum;
}

MemoryPlan inference_plan(const GPT2Config& c, int B, int T) {
    return {"inference",
            {{"parameters", parameter_count(c) * 4},
             {"activations (inference layout)", Activations::floats_needed(c, B, T, ActivationLayout::inference) * 4}}};
}

MemoryPlan zeroth_order_plan(const GPT2Config& c, int B, int T, int points, int threads) {
    return {"zeroth-order",
            {{"parameters", parameter_count(c) * 4},
             {"lockstep forward, " + std::to_string(points) + " points (activations without logits, logits chunk, weight copies)",
              PerturbedForward::bytes_needed(c, B, T, points, threads)}}};
}

MemoryPlan backprop_plan(const GPT2Config& c, int B, int T) {
    const size_t p = parameter_count(c) * 4;
    const size_t acts = Activations::floats_needed(c, B, T, ActivationLayout::training) * 4;
    // Activation gradients: one residual-stream gradient plus two per-layer scratch buffers (6·B·T·C
    // floats, see model/backward.h); the logits' gradient overwrites the logits in place.
    const size_t dacts = ActivationGrads::floats_needed(c, B, T) * 4;
    return {"backprop (adamw)",
            {{"parameters", p},
             {"gradients", p},
             {"adamw moments m, v", 2 * p},
             {"activations (training layout)", acts},
             {"activation gradients", dacts}}};
}

MemoryPlan sampling_plan(const GPT2Config& c) {
    const size_t C = c.channels;
    // KVCache's scratch: x, ln, qkv (3C), atty, proj, fch (4C), scores (NH, maxT); plus the V logits.
    const size_t scratch = 11 * C + size_t(c.num_heads) * c.max_seq_len + size_t(c.vocab_size);
    return {"sample",
            {{"parameters", parameter_count(c) * 4},
             {"KV cache", KVCache::floats_needed(c) * 4},
             {"one position's scratch and logits", scratch * 4}}};
}

void check_batch_shape(const GPT2Config& c, long long B, long long T, const std::string& source) {
    if (B < 1) throw UsageError("--batch: expected at least 1, found " + std::to_string(B));
    if (T < 1) throw UsageError("--seq: expected at least 1, found " + std::to_string(T));
    if (T > c.max_seq_len)
        throw UsageError("--seq " + std::to_string(T) + ": longer than the model's max_seq_len " +
                         std::to_string(c.max_seq_len) + " (" + source + ")");
    // Kernels index with int: the widest per-token buffers must fit in 2^31 elements.
    const long long widest = std::max<long long>({4LL * c.channels, c.padded_vocab_size, 1LL * c.num_heads * T});
    if (B * T > (1LL << 31) / widest)
        throw UsageError("--batch " + std::to_string(B) + " --seq " + std::to_string(T) +
                         ": B*T*" + std::to_string(widest) + " overflows 32-bit indexing; use a smaller batch");
}

}  // namespace nograd
