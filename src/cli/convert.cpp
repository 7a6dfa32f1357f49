// `nograd convert`: a GPT-2 from one file format to the other, llm.c's .bin and Hugging Face's
// .safetensors, in either direction; the output's extension picks the format. Weights are copied exactly
// (F16/BF16 inputs are widened to fp32); exports are always F32.
#include <cstdio>

#include "cli/commands.h"
#include "cli/model_flags.h"
#include "model/model_file.h"
#include "util/flags.h"

namespace nograd {

int run_convert(const Args& args) {
    Flags flags("nograd convert --in A --out B [--heads NH]",
                "Converts a GPT-2 between llm.c's .bin and Hugging Face's .safetensors (either direction).",
                {{"--in", "A", "", "llm.c checkpoint (fp32/bf16) or Hugging Face .safetensors (F32/F16/BF16)"},
                 {"--out", "B", "", "B.safetensors: Hugging Face names, F32, config.json written beside it; "
                                    "any other name: llm.c fp32 checkpoint"},
                 heads_flag()});
    flags.parse(args);
    const std::string in = flags.required("--in"), out = flags.required("--out");
    const GPT2 model = load_model(in, heads_from_flags(flags));
    save_model(model, out);
    std::printf("wrote %s (%s)\n", out.c_str(), describe(model.config).c_str());
    if (is_safetensors_path(out)) std::printf("wrote %s\n", config_json_path(out).c_str());
    return 0;
}

}  // namespace nograd
