#include "train/param_subset.h"

#include <algorithm>
#include <sstream>

#include "util/error.h"

namespace nograd {
namespace {

// Per tensor, which layers are selected (all for whole-tensor selections).
struct Selection {
    std::vector<std::vector<bool>> layers;  // [tensor][layer]; non-per-layer tensors use index 0
};

bool group_matches(const std::string& item, const TensorInfo& t) {
    if (item == "all") return true;
    if (item == "embeddings") return t.group == TensorGroup::embeddings;
    if (item == "attention") return t.group == TensorGroup::attention;
    if (item == "mlp") return t.group == TensorGroup::mlp;
    if (item == "layernorm") return t.group == TensorGroup::layernorm;
    if (item == "bias") return t.is_bias;
    return item == t.name;
}

bool parse_layers(const std::string& item, int num_layers, int& first, int& last) {
    if (item.rfind("layers:", 0) != 0) return false;
    const std::string span = item.substr(7);
    const size_t dash = span.find('-');
    try {
        size_t used = 0;
        first = std::stoi(span.substr(0, dash), &used);
        if (used != (dash == std::string::npos ? span.size() : dash)) throw std::invalid_argument("");
        last = first;
        if (dash != std::string::npos) {
            last = std::stoi(span.substr(dash + 1), &used);
            if (used != span.size() - dash - 1) throw std::invalid_argument("");
        }
    } catch (const std::exception&) {
        throw UsageError("--params: expected layers:A-B with whole numbers, found '" + item + "'");
    }
    if (first < 0 || last < first || last >= num_layers)
        throw UsageError("--params " + item + ": expected 0 <= A <= B < " + std::to_string(num_layers));
    return true;
}

void select_item(Selection& sel, const std::string& item, const ParameterTable& table, int num_layers) {
    int first = 0, last = 0;
    const bool by_layer = parse_layers(item, num_layers, first, last);
    bool matched = false;
    for (size_t i = 0; i < table.tensors.size(); ++i) {
        const TensorInfo& t = table.tensors[i];
        if (by_layer ? !t.per_layer : !group_matches(item, t)) continue;
        matched = true;
        for (size_t l = 0; l < sel.layers[i].size(); ++l)
            if (!by_layer || (int(l) >= first && int(l) <= last)) sel.layers[i][l] = true;
    }
    if (!matched) throw UsageError("--params: unknown item '" + item + "' (expected " + parameter_groups_help() + ")");
}

// The part of tensor t that may ever be trained: drops wte's padded rows and unused wpe rows.
size_t useful_size(const TensorInfo& t, const GPT2Config& c, int seq_len, bool all_positions) {
    if (t.name == "wte") return size_t(c.vocab_size) * c.channels;
    if (t.name == "wpe" && !all_positions) return size_t(seq_len) * c.channels;
    return t.size;
}

}  // namespace

size_t ParameterSubset::size() const { return subset_size(ranges); }

std::string parameter_groups_help() {
    return "all, embeddings, attention, mlp, layernorm, bias, layers:A-B, or tensor names such as wte, qkvw, lnfb";
}

ParameterSubset select_parameters(const std::string& list, const ParameterTable& table, const GPT2Config& c,
                                  int seq_len, bool all_positions) {
    Selection sel;
    for (const TensorInfo& t : table.tensors) sel.layers.emplace_back(t.per_layer ? c.num_layers : 1, false);
    std::stringstream items(list);
    std::string item;
    int count = 0;
    while (std::getline(items, item, ',')) {
        if (item.empty()) throw UsageError("--params: empty item in '" + list + "'");
        select_item(sel, item, table, c.num_layers);
        ++count;
    }
    if (count == 0) throw UsageError("--params: expected at least one item, found '" + list + "'");
    ParameterSubset subset;
    for (size_t i = 0; i < table.tensors.size(); ++i) {
        const TensorInfo& t = table.tensors[i];
        const size_t slice = t.per_layer ? t.size / c.num_layers : useful_size(t, c, seq_len, all_positions);
        for (size_t l = 0; l < sel.layers[i].size(); ++l) {
            if (!sel.layers[i][l]) continue;
            const size_t begin = t.offset + l * slice, end = begin + slice;
            // Consecutive layers of one tensor join into one range.
            if (!subset.ranges.empty() && subset.ranges.back().end == begin && subset.decays.back() == t.decays())
                subset.ranges.back().end = end;
            else {
                subset.ranges.push_back({begin, end});
                subset.decays.push_back(t.decays());
            }
        }
    }
    return subset;
}

}  // namespace nograd
