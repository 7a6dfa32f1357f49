// GPT-2's hyperparameters and the standard presets. A config is checked once, where it enters the
// program (a file header or the command line); everything downstream may assume it is valid.
#pragma once
#include <cstddef>
#include <string>

namespace nograd {

struct GPT2Config {
    int max_seq_len = 1024;         // maxT: rows of the position embedding
    int vocab_size = 50257;         // V: real tokens; the softmax runs over these only
    int padded_vocab_size = 50304;  // Vp: V rounded up to a multiple of 128 (zero rows, as llm.c)
    int num_layers = 12;            // L
    int num_heads = 12;             // NH
    int channels = 768;             // C

    bool operator==(const GPT2Config&) const = default;
};

// V rounded up to a multiple of 128.
int padded_vocab(int vocab_size);

// GPT-2 124M/350M/774M/1558M by llm.c's depth names d12, d24, d36, d48 (vocab 50257, maxT 1024).
GPT2Config preset_config(const std::string& name, const std::string& flag);

// Throws nograd::Error naming `source` (a path or a flag) on zero sizes, heads not dividing
// channels, Vp < V, or sizes so large that the parameter count overflows what we can allocate.
void validate_config(const GPT2Config& config, const std::string& source);

// The same for a config given on the command line: problems are usage errors (exit 2).
void validate_flags_config(const GPT2Config& config, const std::string& flags);

std::string describe(const GPT2Config& config);

}  // namespace nograd
