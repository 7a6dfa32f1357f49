// libFuzzer target: llm.c model checkpoints (model/checkpoint.*). Any bytes either load or fail with
// nograd::Error; a checkpoint that loads must agree with its header-only read, run a forward pass without
// a sanitizer report, and (when its weights are finite) write back to the same parameters bit for bit.
#include <algorithm>
#include <cstring>
#include <vector>

#include "fuzz_util.h"
#include "model/activations.h"
#include "model/checkpoint.h"
#include "model/gpt2.h"
#include "util/error.h"

using namespace nograd;

namespace {

void check_loaded(const GPT2& model, const std::string& path) {
    const GPT2Config header = read_checkpoint_config(path);
    FUZZ_CHECK(header.vocab_size == model.config.vocab_size && header.channels == model.config.channels &&
               header.num_layers == model.config.num_layers && header.max_seq_len == model.config.max_seq_len);
    // A forward pass over a few tokens: every accepted config must be runnable.
    const int T = std::min(model.config.max_seq_len, 4);
    std::vector<int> inputs(T), targets(T);
    for (int t = 0; t < T; ++t) {
        inputs[t] = t % model.config.vocab_size;
        targets[t] = (t + 1) % model.config.vocab_size;
    }
    Activations acts(model.config, 1, T, ActivationLayout::inference);
    gpt2_forward(model, acts, inputs.data(), targets.data());
    // Round trip: what nograd writes, it reads back bit-exactly (a non-finite weight is refused instead).
    const std::string copy = path + ".copy";
    try {
        save_checkpoint(model, copy);
    } catch (const Error&) {
        return;
    }
    const GPT2 again = load_checkpoint(copy);
    std::remove(copy.c_str());
    FUZZ_CHECK(again.params.size() == model.params.size());
    FUZZ_CHECK(std::memcmp(again.params.data(), model.params.data(), 4 * model.params.size()) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::string path = fuzz::scratch_path("checkpoint", ".bin");
    fuzz::write_file(path, data, size);
    try {
        const GPT2 model = load_checkpoint(path);
        check_loaded(model, path);
    } catch (const Error&) {
    }
    return 0;
}
