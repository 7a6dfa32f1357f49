#include "model/config.h"

#include "model/parameters.h"
#include "util/error.h"

namespace nograd {

int padded_vocab(int vocab_size) { return (vocab_size + 127) / 128 * 128; }

GPT2Config preset_config(const std::string& name, const std::string& flag) {
    GPT2Config c;
    if (name == "d12") { c.num_layers = 12; c.num_heads = 12; c.channels = 768; }
    else if (name == "d24") { c.num_layers = 24; c.num_heads = 16; c.channels = 1024; }
    else if (name == "d36") { c.num_layers = 36; c.num_heads = 20; c.channels = 1280; }
    else if (name == "d48") { c.num_layers = 48; c.num_heads = 25; c.channels = 1600; }
    else throw UsageError(flag + ": expected d12, d24, d36 or d48, found '" + name + "'");
    return c;
}

void validate_config(const GPT2Config& c, const std::string& source) {
    auto bad = [&](const std::string& what, long long found) {
        return Error(source + ": impossible model config: expected " + what + ", found " + std::to_string(found));
    };
    if (c.max_seq_len <= 0) throw bad("max_seq_len > 0", c.max_seq_len);
    if (c.vocab_size <= 0) throw bad("vocab_size > 0", c.vocab_size);
    if (c.num_layers <= 0) throw bad("num_layers > 0", c.num_layers);
    if (c.num_heads <= 0) throw bad("num_heads > 0", c.num_heads);
    if (c.channels <= 0) throw bad("channels > 0", c.channels);
    if (c.padded_vocab_size < c.vocab_size)
        throw bad("padded_vocab_size >= vocab_size (" + std::to_string(c.vocab_size) + ")", c.padded_vocab_size);
    if (c.channels % c.num_heads != 0)
        throw bad("num_heads dividing channels (" + std::to_string(c.channels) + ")", c.num_heads);
    // Keep every size we index with int (B*T*C, Vp*C ...) and the total parameter count sane:
    // a corrupted header must not make us try to allocate terabytes.
    const long long kMaxDim = 1 << 20;
    if (c.max_seq_len > kMaxDim) throw bad("max_seq_len <= 1048576", c.max_seq_len);
    if (c.padded_vocab_size > 4 * kMaxDim) throw bad("padded_vocab_size <= 4194304", c.padded_vocab_size);
    if (c.num_layers > 4096) throw bad("num_layers <= 4096", c.num_layers);
    if (c.channels > 65536) throw bad("channels <= 65536", c.channels);
    const double params = double(parameter_count(c));
    if (params > 64e9) throw Error(source + ": impossible model config: expected at most 64e9 parameters, found " +
                                   std::to_string(params));
}

void validate_flags_config(const GPT2Config& c, const std::string& flags) {
    try {
        validate_config(c, flags);
    } catch (const Error& e) {
        throw UsageError(e.what());
    }
}

std::string describe(const GPT2Config& c) {
    return "L=" + std::to_string(c.num_layers) + " NH=" + std::to_string(c.num_heads) +
           " C=" + std::to_string(c.channels) + " V=" + std::to_string(c.vocab_size) +
           " Vp=" + std::to_string(c.padded_vocab_size) + " maxT=" + std::to_string(c.max_seq_len);
}

}  // namespace nograd
