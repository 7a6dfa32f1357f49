// The parameter table: GPT-2's 16 tensors in llm.c's file order, each with its shape and offset in
// one flat float buffer. Order and sizes are written once, here; parameters, gradients, optimizer
// moments and the Hessian diagonal all use the same table to view their own flat buffers.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "model/config.h"

namespace nograd {

enum class TensorGroup { embeddings, attention, mlp, layernorm };

struct TensorInfo {
    std::string name;            // llm.c's name, e.g. "qkvw"
    std::vector<size_t> shape;   // e.g. {L, 3C, C}; Linear weights are (out, in)
    size_t offset = 0;           // first element in the flat buffer
    size_t size = 0;             // product of the shape
    bool per_layer = false;      // stacked over L, layer-major
    bool is_bias = false;        // a bias vector (no weight decay, part of --params bias)
    TensorGroup group = TensorGroup::embeddings;
    // Weight decay applies to matrices only (MeZO/nanoGPT convention): not biases, not LayerNorm.
    bool decays() const { return !is_bias && group != TensorGroup::layernorm; }
};

struct ParameterTable {
    std::vector<TensorInfo> tensors;  // 16 entries, file order
    size_t total = 0;

    const TensorInfo& find(const std::string& name) const;  // throws nograd::Error for unknown names
    const TensorInfo* lookup(const std::string& name) const; // nullptr for unknown names
};

ParameterTable make_parameter_table(const GPT2Config& config);
size_t parameter_count(const GPT2Config& config);  // Vp·C + maxT·C + L·(12C² + 13C) + 2C

// Named pointers into a flat buffer laid out by the table. Shapes use B, T, C, L, V, Vp, maxT.
struct ParameterViews {
    float* wte;       // (Vp, C)   token embedding, also the tied LM head; rows V..Vp-1 stay zero
    float* wpe;       // (maxT, C) position embedding
    float* ln1w;      // (L, C)
    float* ln1b;      // (L, C)
    float* qkvw;      // (L, 3C, C) rows Q, then K, then V
    float* qkvb;      // (L, 3C)
    float* attprojw;  // (L, C, C)
    float* attprojb;  // (L, C)
    float* ln2w;      // (L, C)
    float* ln2b;      // (L, C)
    float* fcw;       // (L, 4C, C)
    float* fcb;       // (L, 4C)
    float* fcprojw;   // (L, C, 4C)
    float* fcprojb;   // (L, C)
    float* lnfw;      // (C)
    float* lnfb;      // (C)
};

ParameterViews make_views(float* base, const ParameterTable& table);

}  // namespace nograd
