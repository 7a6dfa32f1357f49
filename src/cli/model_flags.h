// The flags every command that reads a model shares: --model (llm.c .bin or Hugging Face .safetensors)
// and --heads (for a .safetensors whose head count neither a config.json nor GPT-2's widths tell).
#pragma once
#include <string>

#include "model/gpt2.h"
#include "util/flags.h"

namespace nograd {

FlagSpec model_flag(const std::string& role);  // role: "the model to evaluate", ...
FlagSpec heads_flag();
int heads_from_flags(const Flags& flags);       // 0 when --heads is absent
GPT2 load_model_from_flags(const Flags& flags);  // --model, required

}  // namespace nograd
