// What each way of using a model needs in memory, from the config alone (for `nograd info` and the
// memory tests). Bytes, not counting the program itself or the data loader.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "model/config.h"

namespace nograd {

struct MemoryItem {
    std::string name;
    size_t bytes;
};

struct MemoryPlan {
    std::string mode;
    std::vector<MemoryItem> items;
    size_t total() const;
};

// Parameters + the inference activation layout: evaluation (`nograd eval`).
MemoryPlan inference_plan(const GPT2Config& config, int B, int T);

// Parameters + the lockstep forward of `points` points (model/perturbed_forward.h) on `threads` threads: every
// zeroth-order method (2 points; newton 3), before its own vectors (newton's H, momentum, Adam's moments).
MemoryPlan zeroth_order_plan(const GPT2Config& config, int B, int T, int points, int threads);

// Parameters, gradients, AdamW's two moments and the training activation layout.
MemoryPlan backprop_plan(const GPT2Config& config, int B, int T);

// Parameters + the KV cache and one position's scratch of `nograd sample` (model/generate.h).
MemoryPlan sampling_plan(const GPT2Config& config);

// Rejects B, T that the model cannot take or whose buffers would overflow 32-bit indexing;
// `source` names the model file.
void check_batch_shape(const GPT2Config& config, long long B, long long T, const std::string& source);

}  // namespace nograd
