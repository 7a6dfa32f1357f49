#include "data/shards.h"

#include <algorithm>
#include <glob.h>

#include "util/error.h"
#include "util/file.h"

namespace nograd {
namespace {

constexpr size_t kHeaderBytes = 256 * sizeof(int32_t);

std::vector<std::string> expand_glob(const std::string& pattern) {
    glob_t g{};
    const int rc = glob(pattern.c_str(), 0, nullptr, &g);
    std::vector<std::string> paths;
    if (rc == 0)
        for (size_t i = 0; i < g.gl_pathc; ++i) paths.emplace_back(g.gl_pathv[i]);
    globfree(&g);
    if (paths.empty()) throw Error(pattern + ": no token shard matches this pattern");
    std::sort(paths.begin(), paths.end());
    return paths;
}

size_t batches_in(size_t num_tokens, size_t BT) { return num_tokens == 0 ? 0 : (num_tokens - 1) / BT; }

}  // namespace

ShardInfo read_shard_info(const std::string& path) {
    InputFile file(path);
    int32_t header[256];
    file.read_exact(header, sizeof header, "token shard header");
    if (header[0] != kShardMagic)
        throw file_error(path, "token shard magic " + std::to_string(kShardMagic), std::to_string(header[0]));
    if (header[1] != 1) throw file_error(path, "token shard version 1", "version " + std::to_string(header[1]));
    if (header[2] < 0) throw file_error(path, "a token count >= 0", std::to_string(header[2]));
    const size_t ntok = size_t(header[2]);
    const size_t expected = kHeaderBytes + 2 * ntok;
    if (file.size() != expected)
        throw file_error(path, std::to_string(expected) + " bytes for " + std::to_string(ntok) + " tokens",
                         std::to_string(file.size()) + " bytes");
    return {path, ntok};
}

TokenDataset::TokenDataset(const std::string& pattern, int vocab_size) : pattern_(pattern), vocab_size_(vocab_size) {
    for (const std::string& path : expand_glob(pattern)) shards_.push_back(read_shard_info(path));
}

size_t TokenDataset::total_tokens() const {
    size_t n = 0;
    for (const ShardInfo& s : shards_) n += s.num_tokens;
    return n;
}

size_t TokenDataset::num_batches(int B, int T) const {
    const size_t BT = size_t(B) * T;
    size_t n = 0;
    for (const ShardInfo& s : shards_) n += batches_in(s.num_tokens, BT);
    if (n == 0)
        throw Error(pattern_ + ": expected at least B*T+1 = " + std::to_string(BT + 1) +
                    " tokens in one shard, found " + std::to_string(total_tokens()) + " tokens in " +
                    std::to_string(shards_.size()) + " shard(s)");
    return n;
}

void TokenDataset::read_batch(size_t batch, int B, int T, int* inputs, int* targets) const {
    const size_t BT = size_t(B) * T;
    size_t k = batch;
    for (const ShardInfo& s : shards_) {
        const size_t here = batches_in(s.num_tokens, BT);
        if (k >= here) { k -= here; continue; }
        std::vector<uint16_t> tokens(BT + 1);
        InputFile file(s.path);
        const size_t first = k * BT;
        file.seek(kHeaderBytes + 2 * first);
        file.read_exact(tokens.data(), 2 * tokens.size(), "tokens");
        for (size_t i = 0; i <= BT; ++i)
            if (tokens[i] >= vocab_size_)
                throw file_error(s.path, "token ids < vocab size " + std::to_string(vocab_size_),
                                 "id " + std::to_string(tokens[i]) + " at token " + std::to_string(first + i));
        for (size_t i = 0; i < BT; ++i) {
            inputs[i] = tokens[i];
            targets[i] = tokens[i + 1];
        }
        return;
    }
    throw Error(pattern_ + ": batch " + std::to_string(batch) + " requested, but B=" + std::to_string(B) + " T=" +
                std::to_string(T) + " gives only " + std::to_string(num_batches(B, T)) + " batches");
}

}  // namespace nograd
