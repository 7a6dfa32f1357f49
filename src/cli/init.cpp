// `nograd init`: a freshly initialised GPT-2, written as an llm.c checkpoint.
#include <cstdio>

#include "cli/commands.h"
#include "model/checkpoint.h"
#include "util/error.h"
#include "util/flags.h"

namespace nograd {

int run_init(const Args& args) {
    Flags flags("nograd init (--preset d12|d24|d36|d48 | --layers L --heads NH --channels C) --out M.bin",
                "Writes a GPT-2 with GPT-2's random initialisation as an llm.c checkpoint (fp32).",
                {{"--preset", "NAME", "", "d12, d24, d36, d48: GPT-2 124M, 350M, 774M, 1558M"},
                 {"--layers", "L", "", "transformer blocks"},
                 {"--heads", "NH", "", "attention heads (must divide channels)"},
                 {"--channels", "C", "", "embedding width"},
                 {"--vocab", "V", "50257", "vocabulary size; padded to a multiple of 128"},
                 {"--max-seq", "T", "1024", "longest sequence (rows of the position embedding)"},
                 {"--seed", "S", "1337", "initialisation seed"},
                 {"--out", "M.bin", "", "checkpoint to write"}});
    flags.parse(args);
    setup_threads(flags);
    GPT2Config config;
    const bool custom = flags.has("--layers") || flags.has("--heads") || flags.has("--channels");
    if (flags.has("--preset")) {
        if (custom) throw UsageError("--preset cannot be combined with --layers/--heads/--channels");
        config = preset_config(flags.text("--preset"), "--preset");
    } else {
        if (!custom) throw UsageError("give --preset, or --layers, --heads and --channels");
        config.num_layers = int(flags.integer("--layers", 0, 1, 4096));
        config.num_heads = int(flags.integer("--heads", 0, 1, 4096));
        config.channels = int(flags.integer("--channels", 0, 1, 65536));
        if (!flags.has("--layers") || !flags.has("--heads") || !flags.has("--channels"))
            throw UsageError("--layers, --heads and --channels go together");
    }
    config.vocab_size = int(flags.integer("--vocab", 50257, 1, 4000000));
    config.padded_vocab_size = padded_vocab(config.vocab_size);
    config.max_seq_len = int(flags.integer("--max-seq", 1024, 1, 1 << 20));
    const std::string out = flags.required("--out");
    validate_flags_config(config, "--heads/--channels");
    GPT2 model(config);
    init_gpt2_weights(model, uint64_t(flags.integer("--seed", 1337, 0, INT64_MAX)));
    save_checkpoint(model, out);
    std::printf("wrote %s: %s, %zu parameters\n", out.c_str(), describe(config).c_str(), model.params.size());
    return 0;
}

}  // namespace nograd
