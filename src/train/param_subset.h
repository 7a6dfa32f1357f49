// Which parameters a run trains (`--params`): a union of groups and tensor names, turned into index
// ranges of the flat buffer. Rows that carry no information are never included: wte's padded rows
// (V..Vp-1 stay zero, as llm.c expects) and, unless asked, wpe's rows at positions ≥ the training length.
#pragma once
#include <string>
#include <vector>

#include "model/parameters.h"
#include "optim/direction.h"

namespace nograd {

struct ParameterSubset {
    std::vector<IndexRange> ranges;  // sorted, non-overlapping
    std::vector<bool> decays;        // per range: weight decay applies (matrices, not biases or LayerNorm)
    size_t size() const;
};

// `list`: comma-separated items among all, embeddings, attention, mlp, layernorm, bias, layers:A-B
// (every per-layer tensor of layers A..B, 0-based inclusive) and tensor names (wte, qkvw, ...).
// Throws UsageError naming --params for unknown items or empty ranges.
ParameterSubset select_parameters(const std::string& list, const ParameterTable& table, const GPT2Config& config,
                                  int seq_len, bool all_positions = false);

// The names `--params` accepts, for --help.
std::string parameter_groups_help();

}  // namespace nograd
