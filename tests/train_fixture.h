// A tiny GPT-2 and a small token dataset made on the fly, for tests of the training loop.
#pragma once
#include <cstring>
#include <string>
#include <vector>

#include "helpers.h"
#include "model/gpt2.h"
#include "train/optimizer_factory.h"
#include "train/trainer.h"

namespace nograd::testing {

inline GPT2Config small_config(int vocab = 64, int channels = 32, int layers = 2) {
    GPT2Config c;
    c.vocab_size = vocab; c.padded_vocab_size = padded_vocab(vocab); c.max_seq_len = 32;
    c.num_layers = layers; c.num_heads = 4; c.channels = channels;
    return c;
}

inline GPT2 small_model(uint64_t seed = 5, int vocab = 64) {
    GPT2 model(small_config(vocab));
    init_gpt2_weights(model, seed);
    return model;
}

// A learnable stream: a repeating pattern with a little noise, so every method can lower the loss.
inline void write_token_shard(const std::string& path, size_t count, int vocab, uint32_t seed = 3) {
    std::vector<int32_t> header(256, 0);
    header[0] = 20240520; header[1] = 1; header[2] = int32_t(count);
    std::vector<uint16_t> tokens(count);
    uint32_t x = seed;
    for (size_t i = 0; i < count; ++i) {
        x = x * 1664525u + 1013904223u;
        tokens[i] = uint16_t((x >> 28) == 0 ? (x >> 8) % vocab : (i * 7) % 13);
    }
    std::vector<char> bytes(1024 + 2 * count);
    std::memcpy(bytes.data(), header.data(), 1024);
    std::memcpy(bytes.data() + 1024, tokens.data(), 2 * count);
    write_bytes(path, bytes.data(), bytes.size());
}

// Flags for one optimizer, as the command line would give them.
inline Flags optimizer_flags(const std::vector<std::string>& args) {
    Flags flags("test", "test", optimizer_flag_specs());
    flags.parse(args);
    return flags;
}

inline TrainSettings quiet_settings(long steps, bool first_order) {
    TrainSettings s;
    s.steps = steps;
    s.batch = 2;
    s.seq = 16;
    s.seed = 11;
    s.first_order = first_order;
    s.progress = false;
    return s;
}

}  // namespace nograd::testing
