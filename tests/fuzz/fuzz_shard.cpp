// libFuzzer target: llm.c token shards (data/shards.*). The whole input is one shard file. Any bytes either
// open or fail with nograd::Error; an opened shard serves every batch it claims, with ids below the vocabulary,
// inputs and targets shifted by one, and asking one batch past the end is an error, not a read out of bounds.
#include <vector>

#include "data/shards.h"
#include "fuzz_util.h"
#include "util/error.h"

using namespace nograd;

namespace {

// Reads every batch of shape B×T (at most 64), checking the promises read_batch makes.
void read_all_batches(const TokenDataset& data, int B, int T, int vocab) {
    size_t batches = 0;
    try {
        batches = data.num_batches(B, T);
    } catch (const Error&) {
        return;  // fewer than B*T+1 tokens
    }
    FUZZ_CHECK(batches * B * T + 1 <= data.total_tokens());
    std::vector<int> inputs(size_t(B) * T), targets(size_t(B) * T);
    for (size_t k = 0; k < std::min<size_t>(batches, 64); ++k) {
        try {
            data.read_batch(k, B, T, inputs.data(), targets.data());
        } catch (const Error&) {
            continue;  // a token id >= vocab
        }
        for (size_t i = 0; i < inputs.size(); ++i) {
            FUZZ_CHECK(inputs[i] >= 0 && inputs[i] < vocab && targets[i] >= 0 && targets[i] < vocab);
            if (i + 1 < inputs.size()) FUZZ_CHECK(targets[i] == inputs[i + 1]);
        }
    }
    bool refused = false;
    try {
        data.read_batch(batches, B, T, inputs.data(), targets.data());
    } catch (const Error&) {
        refused = true;
    }
    FUZZ_CHECK(refused);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::string path = fuzz::scratch_path("shard", ".bin");
    fuzz::write_file(path, data, size);
    try {
        const int vocab = 300;  // small, so both valid and out-of-vocabulary ids are easy to reach
        const TokenDataset dataset(path, vocab);
        FUZZ_CHECK(dataset.shards().size() == 1);
        read_all_batches(dataset, 1, 3, vocab);
        read_all_batches(dataset, 2, 5, vocab);
    } catch (const Error&) {
    }
    return 0;
}
