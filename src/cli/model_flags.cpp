#include "cli/model_flags.h"

#include "model/model_file.h"

namespace nograd {

FlagSpec model_flag(const std::string& role) {
    return {"--model", "M.bin", "", role + ": llm.c checkpoint (fp32/bf16) or Hugging Face .safetensors (F32/F16/BF16)"};
}

FlagSpec heads_flag() {
    return {"--heads", "NH", "", "attention heads of a .safetensors with no config.json beside it and a width "
                                 "not among GPT-2's (768, 1024, 1280, 1600)"};
}

int heads_from_flags(const Flags& flags) { return int(flags.integer("--heads", 0, 1, 65536)); }

GPT2 load_model_from_flags(const Flags& flags) {
    return load_model(flags.required("--model"), heads_from_flags(flags));
}

}  // namespace nograd
