// Model files in either format nograd reads and writes: llm.c's .bin checkpoints (model/checkpoint.*) and
// Hugging Face's GPT-2 .safetensors (the container is model/safetensors.*; GPT-2's names, layouts and
// config.json are here). Leaves out: sharded safetensors (model-0000k-of-0000n), other architectures,
// untied LM heads, and writing F16/BF16.
#pragma once
#include <string>

#include "model/gpt2.h"

namespace nograd {

// Reads an llm.c checkpoint (recognised by its magic) or a Hugging Face GPT-2 safetensors file (by its
// .safetensors extension or its header): F32/F16/BF16, names with or without `transformer.`, Conv1D
// weights transposed to llm.c's (out, in), vocabulary padded with zero rows. The config comes from a
// config.json beside the file, else from the shapes; heads_override > 0 gives the head count for a width
// that is not a standard GPT-2 size (and must agree with config.json or the checkpoint if they have one).
GPT2 load_model(const std::string& path, int heads_override = 0);

// The config alone, with every check load_model makes except reading the weights.
GPT2Config read_model_config(const std::string& path, int heads_override = 0);

// By extension: .safetensors writes Hugging Face's names and layouts (F32, no `transformer.` prefix, no
// padded rows, __metadata__ {"format": "pt"}) and a config.json beside it, so transformers' GPT2LMHeadModel
// loads the folder; any other name writes an llm.c fp32 checkpoint. Atomic; refuses non-finite weights.
void save_model(const GPT2& model, const std::string& path);

bool is_safetensors_path(const std::string& path);

// Heads of the standard GPT-2 widths: 768 → 12, 1024 → 16, 1280 → 20, 1600 → 25; 0 for any other width.
int standard_gpt2_heads(int channels);

// The config.json that belongs to a model file: the one in the same folder.
std::string config_json_path(const std::string& model_path);

}  // namespace nograd
