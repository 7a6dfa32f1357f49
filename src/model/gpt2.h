// The GPT-2 model: a config, one flat parameter buffer with named views into it, and the forward pass.
// The backward pass lives in model/backward.*; checkpoints in model/checkpoint.*.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "model/activations.h"
#include "model/config.h"
#include "model/parameters.h"
#include "util/buffer.h"

namespace nograd {

struct GPT2 {
    explicit GPT2(const GPT2Config& config);  // parameters allocated, not initialised
    GPT2(GPT2&&) = default;

    GPT2Config config;
    ParameterTable table;
    FloatBuffer params;       // table.total floats, llm.c's file order
    ParameterViews weights;   // named views into params
};

// One layer's slice of the stacked per-layer tensors.
struct LayerWeights {
    const float *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb;
    const float *ln2w, *ln2b, *fcw, *fcb, *fcprojw, *fcprojb;
};
LayerWeights layer_weights(const ParameterViews& w, const GPT2Config& config, int layer);

// GPT-2's initialisation (Radford et al. 2019): weights N(0, 0.02), the two residual projections
// N(0, 0.02/√(2L)), biases 0, LayerNorm weights 1; padded vocabulary rows zero. Deterministic in seed.
void init_gpt2_weights(GPT2& model, uint64_t seed);

// The first non-finite parameter, as "tensor 'qkvw' element 12 is nan", or "" when every one is finite.
// Loading and saving refuse such models: a NaN never enters or leaves nograd through a file.
std::string describe_non_finite(const GPT2& model);

// Forward pass over inputs (B, T) into acts; returns the mean cross-entropy against targets (B, T),
// batch_mean_loss of the sequences' losses, or NaN when targets is null (logits only). B and T are acts.B,
// acts.T; T ≤ max_seq_len. Per-position losses are left in acts.losses.
float gpt2_forward(const GPT2& model, Activations& acts, const int* inputs, const int* targets);

// The batch loss, reduced by sequence so that a batch split by sequences across processes (--data-parallel)
// gives the same bits: each sequence's T losses summed in double, in order; then the B sums, in order,
// divided by B·T. Every sequence's losses are themselves independent of the rest of the batch.
double sequence_loss_sum(const float* losses, int T);
float batch_mean_loss(std::span<const double> sequence_sums, int T);

// How a forward pass reads its weights. A pass may run several points at once (model/perturbed_forward.h
// runs θ + s_k·u for k < K in lockstep); the plain forward has one point, θ itself.
enum class WeightSlot { a, b };  // two small tensors are in use at once (a LayerNorm's weight and bias)
class PointWeights {
public:
    virtual ~PointWeights() = default;
    // For each point k, where it reads the `count` floats that θ holds at `theta` (a piece of model.params, at
    // most max(4C, T·C) floats). The pointers stay valid until the same slot is asked for again.
    virtual const float* const* get(const float* theta, size_t count, WeightSlot slot) = 0;
    // For each point k: out[k] (N, OC) = in[k] (N, IC) · weight_kᵀ + bias_k (row stride ldo), where weight_k
    // and bias_k are point k's reading of the θ pieces at `weight` (OC, IC) and `bias` (OC, may be null).
    virtual void linear(float* const* out, const float* const* in, const float* weight, const float* bias, int N,
                        int IC, int OC, int ldo) = 0;
};

// One point, reading θ itself.
class ThetaWeights final : public PointWeights {
public:
    const float* const* get(const float* theta, size_t, WeightSlot slot) override {
        const float*& held = theta_[size_t(slot)];
        held = theta;
        return &held;
    }
    void linear(float* const* out, const float* const* in, const float* weight, const float* bias, int N, int IC,
                int OC, int ldo) override;

private:
    const float* theta_[2] = {};  // per slot
};

// One transformer block for each point k: reads the residual stream x_in[k] (B, T, C), writes a[k].residual3.
// The points' ops alternate, each tensor's weights fetched once for all points.
void block_forward(std::span<const BlockActivations> a, const float* const* x_in, const LayerWeights& w,
                   PointWeights& weights, int B, int T, int C, int NH);

}  // namespace nograd
