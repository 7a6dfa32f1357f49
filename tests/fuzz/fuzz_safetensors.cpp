// libFuzzer target: Hugging Face GPT-2 .safetensors files (model/safetensors.* for the container,
// model/model_file.* for GPT-2's names, shapes and config.json). Input: a 2-byte little-endian length n,
// n bytes of config.json written beside the model (none when n is 0), then the .safetensors file. Any input
// either loads or fails with nograd::Error; a model that loads runs a forward pass and survives a
// save → load round trip bit for bit.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <vector>

#include "fuzz_util.h"
#include "model/activations.h"
#include "model/gpt2.h"
#include "model/model_file.h"
#include "util/error.h"

using namespace nograd;

namespace {

struct Scratch {
    std::string dir = fuzz::scratch_path("safetensors"), copy_dir = fuzz::scratch_path("safetensors-copy");
    Scratch() {
        std::filesystem::create_directories(dir);
        std::filesystem::create_directories(copy_dir);
    }
};

void check_loaded(const GPT2& model, const std::string& copy_path) {
    const int T = std::min(model.config.max_seq_len, 4);
    std::vector<int> inputs(T), targets(T);
    for (int t = 0; t < T; ++t) {
        inputs[t] = t % model.config.vocab_size;
        targets[t] = (t + 1) % model.config.vocab_size;
    }
    Activations acts(model.config, 1, T, ActivationLayout::inference);
    gpt2_forward(model, acts, inputs.data(), targets.data());
    save_model(model, copy_path);
    const GPT2 again = load_model(copy_path);
    FUZZ_CHECK(again.params.size() == model.params.size());
    FUZZ_CHECK(std::memcmp(again.params.data(), model.params.data(), 4 * model.params.size()) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const Scratch scratch;
    if (size < 2) return 0;
    const size_t config_bytes = std::min<size_t>(data[0] | size_t(data[1]) << 8, size - 2);
    const std::string config = scratch.dir + "/config.json", model = scratch.dir + "/model.safetensors";
    if (config_bytes > 0) fuzz::write_file(config, data + 2, config_bytes);
    else std::remove(config.c_str());
    fuzz::write_file(model, data + 2 + config_bytes, size - 2 - config_bytes);
    try {
        check_loaded(load_model(model), scratch.copy_dir + "/model.safetensors");
    } catch (const Error&) {
    }
    return 0;
}
