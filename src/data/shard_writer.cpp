// Token shard writer: header + uint16 tokens, little-endian, written atomically; documents split into train
// and validation by a seeded shuffle. Shards are cut at a token count, not at document boundaries.
#include "data/shard_writer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "data/shards.h"
#include "util/error.h"
#include "util/file.h"

namespace nograd {
namespace {

constexpr int32_t kShardVersion = 1;
constexpr size_t kHeaderInts = 256;

void put_u32_le(std::vector<unsigned char>& out, uint32_t value) {
    for (int k = 0; k < 4; k++) out.push_back(static_cast<unsigned char>(value >> (8 * k)));
}

// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", 2014): a fixed,
// portable sequence, unlike std::shuffle whose result depends on the standard library.
uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

std::string shard_path(const std::string& prefix, const std::string& split, size_t index) {
    char number[16];
    std::snprintf(number, sizeof number, "%06zu", index);
    return prefix + "_" + split + "_" + number + ".bin";
}

// Deletes PREFIX_split_NNNNNN.bin from `first` on, while such files exist (leftovers of a larger run).
void remove_stale_shards(const std::string& prefix, const std::string& split, size_t first) {
    for (size_t i = first; file_exists(shard_path(prefix, split, i)); i++) std::remove(shard_path(prefix, split, i).c_str());
}

// Streams one split's tokens into shards of at most max_tokens, writing each shard as it fills.
class ShardStream {
public:
    ShardStream(std::string prefix, std::string split, size_t max_tokens)
        : prefix_(std::move(prefix)), split_(std::move(split)), max_tokens_(max_tokens) {}

    void add(int token) {
        if (token < 0 || token > 65535)
            throw Error("token id " + std::to_string(token) + " does not fit a uint16 token shard (" +
                        shard_path(prefix_, split_, files_.size()) + ")");
        buffer_.push_back(static_cast<uint16_t>(token));
        total_++;
        if (buffer_.size() == max_tokens_) flush();
    }
    // Writes the last, partly filled shard; returns the files written.
    std::vector<std::string> finish() {
        if (!buffer_.empty() || files_.empty()) flush();
        remove_stale_shards(prefix_, split_, files_.size());
        return files_;
    }
    size_t total() const { return total_; }

private:
    void flush() {
        files_.push_back(shard_path(prefix_, split_, files_.size()));
        write_token_shard(files_.back(), buffer_);
        buffer_.clear();
    }

    std::string prefix_, split_;
    size_t max_tokens_;
    std::vector<uint16_t> buffer_;
    std::vector<std::string> files_;
    size_t total_ = 0;
};

}  // namespace

void write_token_shard(const std::string& path, const std::vector<uint16_t>& tokens) {
    if (tokens.size() > static_cast<size_t>(INT32_MAX))
        throw Error(path + ": " + std::to_string(tokens.size()) + " tokens do not fit one shard (at most 2^31 - 1)");
    std::vector<unsigned char> bytes;
    bytes.reserve(kHeaderInts * 4 + 2 * tokens.size());
    put_u32_le(bytes, kShardMagic);
    put_u32_le(bytes, kShardVersion);
    put_u32_le(bytes, static_cast<uint32_t>(tokens.size()));
    bytes.resize(kHeaderInts * 4, 0);
    for (uint16_t t : tokens) {
        bytes.push_back(static_cast<unsigned char>(t & 0xFF));
        bytes.push_back(static_cast<unsigned char>(t >> 8));
    }
    AtomicOutputFile out(path);
    out.write(bytes.data(), bytes.size());
    out.commit();
}

std::vector<bool> choose_validation_docs(size_t num_docs, double val_fraction, uint64_t seed) {
    if (!(val_fraction >= 0.0 && val_fraction < 1.0))
        throw UsageError("--val-fraction: expected a number in [0, 1), found " + std::to_string(val_fraction));
    std::vector<bool> is_val(num_docs, false);
    if (val_fraction == 0.0) return is_val;
    if (num_docs < 2)
        throw Error("a validation split needs at least 2 documents (one for each split), found " + std::to_string(num_docs));
    size_t num_val = static_cast<size_t>(std::llround(val_fraction * static_cast<double>(num_docs)));
    num_val = std::min(std::max<size_t>(num_val, 1), num_docs - 1);
    // The first num_val entries of a Fisher–Yates shuffle of 0..n-1 are a uniform random subset.
    std::vector<size_t> order(num_docs);
    std::iota(order.begin(), order.end(), size_t{0});
    uint64_t state = seed;
    for (size_t i = 0; i < num_val; i++) {
        size_t remaining = num_docs - i;
        size_t pick = i + static_cast<size_t>((static_cast<unsigned __int128>(splitmix64(state)) * remaining) >> 64);
        std::swap(order[i], order[pick]);
        is_val[order[i]] = true;
    }
    return is_val;
}

ShardSplit write_token_shards(const std::vector<std::vector<int>>& docs, const std::string& prefix,
                              double val_fraction, uint64_t seed, size_t max_tokens_per_shard, int eot) {
    if (docs.empty()) throw Error(prefix + ": no documents to write");
    if (max_tokens_per_shard == 0 || max_tokens_per_shard > static_cast<size_t>(INT32_MAX))
        throw Error("tokens per shard: expected 1 .. 2^31 - 1, found " + std::to_string(max_tokens_per_shard));
    const std::vector<bool> is_val = choose_validation_docs(docs.size(), val_fraction, seed);
    ShardStream train(prefix, "train", max_tokens_per_shard), val(prefix, "val", max_tokens_per_shard);
    ShardSplit split;
    for (size_t d = 0; d < docs.size(); d++) {
        ShardStream& stream = is_val[d] ? val : train;
        (is_val[d] ? split.val_docs : split.train_docs)++;
        stream.add(eot);  // llm.c's data scripts put the end-of-text token before each document
        for (int token : docs[d]) stream.add(token);
    }
    split.train_files = train.finish();
    split.train_tokens = train.total();
    if (split.val_docs > 0) {
        split.val_files = val.finish();
        split.val_tokens = val.total();
    } else {
        remove_stale_shards(prefix, "val", 0);
    }
    return split;
}

}  // namespace nograd
