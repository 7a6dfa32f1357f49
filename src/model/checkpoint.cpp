#include "model/checkpoint.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "util/error.h"
#include "util/file.h"

namespace nograd {
namespace {

constexpr int kHeaderInts = 256;

GPT2Config config_from_header(const int32_t* h, const std::string& path) {
    if (h[0] != kCheckpointMagic)
        throw file_error(path, "llm.c model magic " + std::to_string(kCheckpointMagic), std::to_string(h[0]));
    if (h[1] != 3 && h[1] != 5)
        throw file_error(path, "checkpoint version 3 (fp32) or 5 (bf16)", "version " + std::to_string(h[1]));
    GPT2Config c;
    c.max_seq_len = h[2];
    c.vocab_size = h[3];
    c.num_layers = h[4];
    c.num_heads = h[5];
    c.channels = h[6];
    c.padded_vocab_size = h[7];
    validate_config(c, path);
    return c;
}

// bf16 is the top half of an fp32: widening is exact.
void widen_bf16(float* out, const uint16_t* in, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        const uint32_t bits = uint32_t(in[i]) << 16;
        std::memcpy(&out[i], &bits, 4);
    }
}

struct CheckpointHeader {
    GPT2Config config;
    bool bf16;
};

// Reads and checks the header, and that the file holds exactly the parameters it announces.
CheckpointHeader open_checkpoint(InputFile& file) {
    int32_t header[kHeaderInts];
    file.read_exact(header, sizeof header, "checkpoint header");
    const GPT2Config config = config_from_header(header, file.path());
    const bool bf16 = header[1] == 5;
    const size_t expected = sizeof header + parameter_count(config) * (bf16 ? 2 : 4);
    if (file.size() != expected)
        throw file_error(file.path(), std::to_string(expected) + " bytes for " + describe(config) + " in " +
                                          (bf16 ? "bf16" : "fp32"),
                         std::to_string(file.size()) + " bytes");
    return {config, bf16};
}

// The parameters, straight into the model's buffer (bf16 widened through a small chunk).
void read_parameters(GPT2& model, InputFile& file, bool bf16) {
    const size_t count = model.params.size();
    if (!bf16) {
        file.read_exact(model.params.data(), count * 4, "parameters");
    } else {
        std::vector<uint16_t> chunk(1 << 20);
        for (size_t done = 0; done < count; done += chunk.size()) {
            const size_t n = std::min(chunk.size(), count - done);
            file.read_exact(chunk.data(), n * 2, "bf16 parameters");
            widen_bf16(model.params.data() + done, chunk.data(), n);
        }
    }
    if (const std::string bad = describe_non_finite(model); !bad.empty())
        throw file_error(file.path(), "finite parameters", bad);
}

}  // namespace

GPT2Config read_checkpoint_config(const std::string& path) {
    InputFile file(path);
    int32_t header[kHeaderInts];
    file.read_exact(header, sizeof header, "checkpoint header");
    return config_from_header(header, path);
}

GPT2 load_checkpoint(const std::string& path) {
    InputFile file(path);
    const auto [config, bf16] = open_checkpoint(file);
    GPT2 model(config);
    read_parameters(model, file, bf16);
    return model;
}

void reload_checkpoint(GPT2& model, const std::string& path) {
    InputFile file(path);
    const auto [config, bf16] = open_checkpoint(file);
    if (config != model.config)
        throw file_error(path, "the config " + describe(model.config), describe(config));
    read_parameters(model, file, bf16);
}

void save_checkpoint(const GPT2& model, const std::string& path) {
    AtomicOutputFile out(path);
    write_checkpoint(model, out, path);
    out.commit();
}

void write_checkpoint(const GPT2& model, AtomicOutputFile& out, const std::string& path) {
    if (const std::string bad = describe_non_finite(model); !bad.empty())
        throw Error(path + ": refusing to save a model with a non-finite parameter: " + bad);
    const float* p = model.params.data();
    const GPT2Config& c = model.config;
    int32_t header[kHeaderInts] = {kCheckpointMagic, 3, c.max_seq_len, c.vocab_size, c.num_layers,
                                   c.num_heads, c.channels, c.padded_vocab_size};
    out.write(header, sizeof header);
    out.write(p, model.params.size() * sizeof(float));
    out.finish();
}

}  // namespace nograd
