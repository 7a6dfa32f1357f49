#include "model/parameters.h"

#include "util/error.h"

namespace nograd {

ParameterTable make_parameter_table(const GPT2Config& c) {
    const size_t L = c.num_layers, C = c.channels, Vp = c.padded_vocab_size, maxT = c.max_seq_len;
    using G = TensorGroup;
    struct Row { const char* name; std::vector<size_t> shape; bool per_layer, is_bias; G group; };
    const std::vector<Row> rows = {
        {"wte", {Vp, C}, false, false, G::embeddings},
        {"wpe", {maxT, C}, false, false, G::embeddings},
        {"ln1w", {L, C}, true, false, G::layernorm},
        {"ln1b", {L, C}, true, true, G::layernorm},
        {"qkvw", {L, 3 * C, C}, true, false, G::attention},
        {"qkvb", {L, 3 * C}, true, true, G::attention},
        {"attprojw", {L, C, C}, true, false, G::attention},
        {"attprojb", {L, C}, true, true, G::attention},
        {"ln2w", {L, C}, true, false, G::layernorm},
        {"ln2b", {L, C}, true, true, G::layernorm},
        {"fcw", {L, 4 * C, C}, true, false, G::mlp},
        {"fcb", {L, 4 * C}, true, true, G::mlp},
        {"fcprojw", {L, C, 4 * C}, true, false, G::mlp},
        {"fcprojb", {L, C}, true, true, G::mlp},
        {"lnfw", {C}, false, false, G::layernorm},
        {"lnfb", {C}, false, true, G::layernorm},
    };
    ParameterTable table;
    for (const Row& row : rows) {
        TensorInfo t;
        t.name = row.name;
        t.shape = row.shape;
        t.offset = table.total;
        t.size = 1;
        for (size_t d : row.shape) t.size *= d;
        t.per_layer = row.per_layer;
        t.is_bias = row.is_bias;
        t.group = row.group;
        table.total += t.size;
        table.tensors.push_back(t);
    }
    return table;
}

size_t parameter_count(const GPT2Config& c) {
    const size_t L = c.num_layers, C = c.channels;
    return size_t(c.padded_vocab_size) * C + size_t(c.max_seq_len) * C + L * (12 * C * C + 13 * C) + 2 * C;
}

const TensorInfo* ParameterTable::lookup(const std::string& name) const {
    for (const TensorInfo& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

const TensorInfo& ParameterTable::find(const std::string& name) const {
    if (const TensorInfo* t = lookup(name)) return *t;
    throw Error("unknown parameter tensor '" + name + "'");
}

ParameterViews make_views(float* base, const ParameterTable& table) {
    float* p[16];
    for (size_t i = 0; i < 16; ++i) p[i] = base + table.tensors[i].offset;
    return {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15]};
}

}  // namespace nograd
