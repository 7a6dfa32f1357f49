#include "model/model_file.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <numeric>
#include <optional>
#include <nlohmann/json.hpp>

#include "model/checkpoint.h"
#include "model/safetensors.h"
#include "util/error.h"
#include "util/file.h"

namespace nograd {
namespace {

using nlohmann::json;

const std::string kPrefix = "transformer.";  // GPT2LMHeadModel's names; GPT2Model's have none

// One of Hugging Face's GPT-2 tensors and where it lives in llm.c's flat buffer.
struct HfTensor {
    std::string name;           // without the prefix, e.g. "h.3.attn.c_attn.weight"
    std::vector<size_t> shape;  // Hugging Face's: Conv1D weights (in, out); wte has V rows, not Vp
    std::string llmc_name;      // the parameter table's name, e.g. "qkvw"
    int layer = -1;             // the slice of a per-layer tensor; -1 for the others
    bool transposed = false;    // a Conv1D weight: (in, out) there, (out, in) in llm.c
};

std::vector<HfTensor> hf_gpt2_tensors(const GPT2Config& c) {
    const size_t C = c.channels, V = c.vocab_size, maxT = c.max_seq_len;
    std::vector<HfTensor> out = {{"wte.weight", {V, C}, "wte"}, {"wpe.weight", {maxT, C}, "wpe"}};
    const std::vector<HfTensor> block = {
        {"ln_1.weight", {C}, "ln1w"},           {"ln_1.bias", {C}, "ln1b"},
        {"attn.c_attn.weight", {C, 3 * C}, "qkvw", 0, true},     {"attn.c_attn.bias", {3 * C}, "qkvb"},
        {"attn.c_proj.weight", {C, C}, "attprojw", 0, true},     {"attn.c_proj.bias", {C}, "attprojb"},
        {"ln_2.weight", {C}, "ln2w"},           {"ln_2.bias", {C}, "ln2b"},
        {"mlp.c_fc.weight", {C, 4 * C}, "fcw", 0, true},         {"mlp.c_fc.bias", {4 * C}, "fcb"},
        {"mlp.c_proj.weight", {4 * C, C}, "fcprojw", 0, true},   {"mlp.c_proj.bias", {C}, "fcprojb"}};
    for (int layer = 0; layer < c.num_layers; ++layer)
        for (HfTensor t : block) {
            t.name = "h." + std::to_string(layer) + "." + t.name;
            t.layer = layer;
            out.push_back(t);
        }
    out.push_back({"ln_f.weight", {C}, "lnfw"});
    out.push_back({"ln_f.bias", {C}, "lnfb"});
    return out;
}

// Where tensor t starts in a parameter buffer laid out by `table`.
size_t llmc_offset(const ParameterTable& table, const HfTensor& t, int num_layers) {
    const TensorInfo& info = table.find(t.llmc_name);
    return info.offset + (t.layer < 0 ? 0 : size_t(t.layer) * (info.size / num_layers));
}

// dst (cols, rows) := srcᵀ for src (rows, cols).
void transpose(float* dst, const float* src, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; ++r)
        for (size_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
}

size_t element_count(const std::vector<size_t>& shape) {
    return std::accumulate(shape.begin(), shape.end(), size_t(1), std::multiplies<size_t>());
}

std::string shape_text(const std::vector<size_t>& shape) {
    std::string s = "(";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + ")";
}

// ---- reading: names, config, checks ----

// A safetensors GPT-2 as found in the file: its tensors by name without the prefix, and its config.
struct HfModelFile {
    SafetensorsHeader header;
    std::map<std::string, SafeTensorEntry> tensors;  // parameters only: buffers and lm_head set apart
    std::optional<SafeTensorEntry> lm_head;          // tied to wte when present
    GPT2Config config;
};

// transformers' older files also hold the causal-mask buffers h.N.attn.bias and h.N.attn.masked_bias.
bool is_mask_buffer(const std::string& name) {
    auto ends_with = [&](const std::string& s) {
        return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
    };
    return name.rfind("h.", 0) == 0 && (ends_with(".attn.bias") || ends_with(".attn.masked_bias"));
}

void sort_names(HfModelFile& hf, const std::string& path) {
    for (const SafeTensorEntry& t : hf.header.tensors) {
        if (t.name == "lm_head.weight") { hf.lm_head = t; continue; }
        const bool prefixed = t.name.rfind(kPrefix, 0) == 0;
        const std::string name = prefixed ? t.name.substr(kPrefix.size()) : t.name;
        if (is_mask_buffer(name)) continue;
        if (!hf.tensors.emplace(name, t).second)
            throw file_error(path, "each GPT-2 tensor once", "both '" + name + "' and '" + kPrefix + name + "'");
    }
}

// A parameter by its unprefixed name; a file that kept only the tied lm_head.weight gives it as wte.
const SafeTensorEntry* find_parameter(const HfModelFile& hf, const std::string& name) {
    const auto it = hf.tensors.find(name);
    if (it != hf.tensors.end()) return &it->second;
    return name == "wte.weight" && hf.lm_head ? &*hf.lm_head : nullptr;
}

int as_int_dim(size_t value, const std::string& path, const std::string& what) {
    if (value == 0 || value > size_t(INT_MAX)) throw file_error(path, what + " between 1 and 2^31-1", std::to_string(value));
    return int(value);
}

const SafeTensorEntry& matrix_for_config(const HfModelFile& hf, const std::string& name, const std::string& path) {
    const SafeTensorEntry* t = find_parameter(hf, name);
    if (!t) throw file_error(path, "GPT-2 tensor '" + name + "'", "no such tensor");
    if (t->shape.size() != 2) throw file_error(path, "tensor '" + t->name + "' as a matrix", "shape " + shape_text(t->shape));
    return *t;
}

// Layers as the number of h.N blocks (highest N + 1: a missing block is reported by name later).
int count_layers(const HfModelFile& hf, const std::string& path) {
    long layers = 0;
    for (const auto& [name, t] : hf.tensors) {
        if (name.rfind("h.", 0) != 0) continue;
        const size_t dot = name.find('.', 2);
        const std::string digits = name.substr(2, dot == std::string::npos ? std::string::npos : dot - 2);
        if (digits.empty() || digits.size() > 6 || !std::all_of(digits.begin(), digits.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
            throw file_error(path, "GPT-2 block names h.N.*", "tensor '" + t.name + "'");
        layers = std::max(layers, std::stol(digits) + 1);
    }
    if (layers == 0) throw file_error(path, "GPT-2 blocks h.0.* ...", "no tensor named h.N.*");
    return int(layers);
}

GPT2Config config_from_shapes(const HfModelFile& hf, const std::string& path, int heads_override) {
    const SafeTensorEntry& wte = matrix_for_config(hf, "wte.weight", path);
    const SafeTensorEntry& wpe = matrix_for_config(hf, "wpe.weight", path);
    GPT2Config c;
    c.vocab_size = as_int_dim(wte.shape[0], path, "vocabulary size (rows of " + wte.name + ")");
    c.padded_vocab_size = padded_vocab(c.vocab_size);
    c.channels = as_int_dim(wte.shape[1], path, "channels (columns of " + wte.name + ")");
    c.max_seq_len = as_int_dim(wpe.shape[0], path, "max sequence length (rows of " + wpe.name + ")");
    c.num_layers = count_layers(hf, path);
    c.num_heads = heads_override > 0 ? heads_override : standard_gpt2_heads(c.channels);
    if (c.num_heads == 0)
        throw Error(path + ": no " + config_json_path(path) + " beside it, and C=" + std::to_string(c.channels) +
                    " is not a standard GPT-2 width (768, 1024, 1280, 1600) that tells the head count: "
                    "give it with --heads NH, or put Hugging Face's config.json beside the file");
    validate_config(c, path);
    return c;
}

int config_int(const json& j, const std::string& key, const std::string& path) {
    if (!j.contains(key)) throw file_error(path, "the GPT-2 config field '" + key + "'", "none");
    const json& v = j[key];
    if (!v.is_number_unsigned() || v.get<uint64_t>() > uint64_t(INT_MAX))
        throw file_error(path, "'" + key + "' as a positive integer", v.dump());
    return v.get<int>();
}

// nograd's GPT-2 is the original one: tanh GELU, LayerNorm eps 1e-5, attention scaled by 1/√hs only.
void check_gpt2_variant(const json& j, const std::string& path) {
    auto check = [&](const std::string& key, bool ok, const std::string& expected) {
        if (j.contains(key) && !ok) throw file_error(path, "'" + key + "' " + expected, j[key].dump());
    };
    auto value = [&](const std::string& key) { return j.contains(key) ? j[key] : json(); };
    check("model_type", value("model_type") == "gpt2", "\"gpt2\"");
    check("activation_function", value("activation_function") == "gelu_new" ||
              value("activation_function") == "gelu_pytorch_tanh", "\"gelu_new\" (GELU, tanh approximation)");
    check("layer_norm_epsilon", value("layer_norm_epsilon").is_number() &&
              std::abs(value("layer_norm_epsilon").get<double>() - 1e-5) < 1e-12, "1e-05");
    check("scale_attn_weights", value("scale_attn_weights") == true, "true");
    check("scale_attn_by_inverse_layer_idx", value("scale_attn_by_inverse_layer_idx") == false, "false");
    check("n_inner", value("n_inner").is_null() || value("n_inner") == 4 * config_int(j, "n_embd", path),
          "null or 4 × n_embd");
}

GPT2Config config_from_json(const std::string& path) {
    InputFile file(path);
    std::string text(file.size(), '\0');
    file.read_exact(text.data(), text.size(), "config");
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error& e) {
        throw file_error(path, "a JSON model config", std::string("invalid JSON: ") + e.what());
    }
    if (!j.is_object()) throw file_error(path, "a JSON object", j.type_name());
    check_gpt2_variant(j, path);
    GPT2Config c;
    c.num_layers = config_int(j, "n_layer", path);
    c.num_heads = config_int(j, "n_head", path);
    c.channels = config_int(j, "n_embd", path);
    c.vocab_size = config_int(j, "vocab_size", path);
    c.padded_vocab_size = padded_vocab(c.vocab_size);
    c.max_seq_len = config_int(j, j.contains("n_positions") ? "n_positions" : "n_ctx", path);
    validate_config(c, path);
    return c;
}

GPT2Config safetensors_config(const HfModelFile& hf, const std::string& path, int heads_override) {
    const std::string json_path = config_json_path(path);
    if (!file_exists(json_path)) return config_from_shapes(hf, path, heads_override);
    GPT2Config c = config_from_json(json_path);
    if (heads_override > 0 && heads_override != c.num_heads)
        throw UsageError("--heads " + std::to_string(heads_override) + " contradicts " + json_path + " (n_head " +
                         std::to_string(c.num_heads) + ")");
    return c;
}

// Every expected tensor present with its shape and a readable dtype; nothing unexpected besides buffers.
void check_tensors(const HfModelFile& hf, const std::string& path) {
    const std::vector<HfTensor> expected = hf_gpt2_tensors(hf.config);
    const std::string source = " (" + describe(hf.config) + ")";
    for (const HfTensor& want : expected) {
        const SafeTensorEntry* t = find_parameter(hf, want.name);
        if (!t) throw file_error(path, "GPT-2 tensor '" + want.name + "'" + source, "no such tensor");
        if (t->shape != want.shape)
            throw file_error(path, "tensor '" + t->name + "' of shape " + shape_text(want.shape) + source,
                             "shape " + shape_text(t->shape));
        if (t->dtype != "F32" && t->dtype != "F16" && t->dtype != "BF16")
            throw file_error(path, "tensor '" + t->name + "' as F32, F16 or BF16", t->dtype);
    }
    // (Not a structured binding: clang 14, the fuzz build's compiler, cannot capture one in a lambda.)
    for (const auto& entry : hf.tensors) {
        const std::string& name = entry.first;
        if (std::none_of(expected.begin(), expected.end(), [&](const HfTensor& e) { return e.name == name; }))
            throw file_error(path, "only GPT-2's tensors" + source, "tensor '" + entry.second.name + "'");
    }
    if (hf.lm_head && hf.lm_head->shape != expected[0].shape)
        throw file_error(path, "tensor 'lm_head.weight' tied to wte, of shape " + shape_text(expected[0].shape),
                         "shape " + shape_text(hf.lm_head->shape));
}

HfModelFile open_hf_gpt2(InputFile& file, int heads_override) {
    HfModelFile hf;
    hf.header = read_safetensors_header(file);
    sort_names(hf, file.path());
    hf.config = safetensors_config(hf, file.path(), heads_override);
    check_tensors(hf, file.path());
    return hf;
}

// ---- reading: the weights ----

void check_finite(const float* values, size_t n, const std::string& tensor, const std::string& path) {
    for (size_t i = 0; i < n; ++i)
        if (!std::isfinite(values[i]))
            throw file_error(path, "finite weights in tensor '" + tensor + "'",
                             std::to_string(values[i]) + " at element " + std::to_string(i));
}

// The file's LM head, when it has one, must be the embedding itself: nograd's GPT-2 ties them.
void check_tied_head(InputFile& file, const HfModelFile& hf, const GPT2& model) {
    if (!hf.lm_head || !hf.tensors.count("wte.weight")) return;
    std::vector<float> head(hf.lm_head->count());
    read_tensor_f32(file, hf.header, *hf.lm_head, head.data());
    const float* wte = model.params.data();  // its first V rows
    const auto diff = std::mismatch(head.begin(), head.end(), wte);
    if (diff.first != head.end())
        throw file_error(file.path(), "'lm_head.weight' equal to 'wte.weight' (nograd ties the LM head)",
                         "a different value at element " + std::to_string(diff.first - head.begin()));
}

GPT2 load_safetensors(const std::string& path, int heads_override) {
    InputFile file(path);
    const HfModelFile hf = open_hf_gpt2(file, heads_override);
    GPT2 model(hf.config);
    const GPT2Config& c = hf.config;
    float* wte_padding = model.params.data() + size_t(c.vocab_size) * c.channels;
    std::fill(wte_padding, wte_padding + size_t(c.padded_vocab_size - c.vocab_size) * c.channels, 0.0f);
    std::vector<float> scratch;
    for (const HfTensor& want : hf_gpt2_tensors(c)) {
        const SafeTensorEntry& t = *find_parameter(hf, want.name);  // check_tensors: present
        float* dst = model.params.data() + llmc_offset(model.table, want, c.num_layers);
        float* read_into = dst;
        if (want.transposed) {
            scratch.resize(t.count());
            read_into = scratch.data();
        }
        read_tensor_f32(file, hf.header, t, read_into);
        check_finite(read_into, t.count(), t.name, path);
        if (want.transposed) transpose(dst, scratch.data(), want.shape[0], want.shape[1]);
    }
    check_tied_head(file, hf, model);
    return model;
}

// ---- writing ----

json hf_config_json(const GPT2Config& c) {
    json j = {{"activation_function", "gelu_new"},
              {"architectures", json::array({"GPT2LMHeadModel"})},
              {"layer_norm_epsilon", 1e-5},
              {"model_type", "gpt2"},
              {"n_ctx", c.max_seq_len},
              {"n_embd", c.channels},
              {"n_head", c.num_heads},
              {"n_layer", c.num_layers},
              {"n_positions", c.max_seq_len},
              {"tie_word_embeddings", true},
              {"vocab_size", c.vocab_size}};
    if (c.vocab_size > 50256) j["bos_token_id"] = j["eos_token_id"] = 50256;  // GPT-2's <|endoftext|>
    return j;
}

void save_safetensors(const GPT2& model, const std::string& path) {
    if (const std::string bad = describe_non_finite(model); !bad.empty())
        throw Error(path + ": refusing to save a model with a non-finite parameter: " + bad);
    const float* p = model.params.data();
    std::vector<HfTensor> tensors = hf_gpt2_tensors(model.config);
    std::sort(tensors.begin(), tensors.end(), [](const HfTensor& a, const HfTensor& b) { return a.name < b.name; });
    std::vector<TensorToWrite> specs;
    for (const HfTensor& t : tensors) specs.push_back({t.name, t.shape});
    auto fill = [&](size_t i, float* dst) {
        const HfTensor& t = tensors[i];
        const float* src = p + llmc_offset(model.table, t, model.config.num_layers);
        if (t.transposed) transpose(dst, src, t.shape[1], t.shape[0]);  // llm.c (out, in) → (in, out)
        else std::copy(src, src + element_count(t.shape), dst);  // wte: its first V rows
    };
    AtomicOutputFile out(path), config(config_json_path(path));
    write_safetensors(out, specs, {{"format", "pt"}}, fill);
    const std::string text = hf_config_json(model.config).dump(2) + "\n";
    config.write(text.data(), text.size());
    config.finish();
    out.commit();
    config.commit();
}

}  // namespace

bool is_safetensors_path(const std::string& path) {
    const std::string ext = ".safetensors";
    return path.size() >= ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0;
}

int standard_gpt2_heads(int channels) {
    switch (channels) {
        case 768: return 12;
        case 1024: return 16;
        case 1280: return 20;
        case 1600: return 25;
        default: return 0;
    }
}

std::string config_json_path(const std::string& model_path) {
    return (std::filesystem::path(model_path).parent_path() / "config.json").string();
}

namespace {

// A .safetensors name, or a file whose first 4 bytes are not llm.c's magic and whose header starts like
// safetensors' JSON, is read as safetensors; everything else goes to the checkpoint reader, which says
// what is wrong with it.
bool reads_as_safetensors(const std::string& path) {
    if (is_safetensors_path(path)) return true;
    InputFile file(path);
    if (file.size() < 9) return false;
    unsigned char head[9];
    file.read_exact(head, sizeof head, "file header");
    int32_t magic;
    std::memcpy(&magic, head, 4);
    return magic != kCheckpointMagic && head[8] == '{';
}

void check_heads_agree(const GPT2Config& c, int heads_override, const std::string& path) {
    if (heads_override > 0 && heads_override != c.num_heads)
        throw UsageError("--heads " + std::to_string(heads_override) + " contradicts " + path + " (NH=" +
                         std::to_string(c.num_heads) + " in its header)");
}

}  // namespace

GPT2 load_model(const std::string& path, int heads_override) {
    if (reads_as_safetensors(path)) return load_safetensors(path, heads_override);
    GPT2 model = load_checkpoint(path);
    check_heads_agree(model.config, heads_override, path);
    return model;
}

GPT2Config read_model_config(const std::string& path, int heads_override) {
    if (reads_as_safetensors(path)) {
        InputFile file(path);
        return open_hf_gpt2(file, heads_override).config;
    }
    const GPT2Config c = read_checkpoint_config(path);
    check_heads_agree(c, heads_override, path);
    return c;
}

void save_model(const GPT2& model, const std::string& path) {
    if (is_safetensors_path(path)) save_safetensors(model, path);
    else save_checkpoint(model, path);
}

}  // namespace nograd
