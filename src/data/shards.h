// Reading llm.c token shards (256 × int32 header: magic 20240520, version 1, ntok; then ntok uint16)
// from a glob of files, and cutting them into batches exactly as llm.c's loader does (unshuffled):
// in each shard, sorted by name, batch k starts at token k·B·T and holds B·T+1 tokens (inputs, then
// targets shifted by one); batches never span two shards. Shuffling is the training loop's business.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nograd {

constexpr int kShardMagic = 20240520;

struct ShardInfo {
    std::string path;
    size_t num_tokens = 0;
};

// Reads and checks one shard's header and size.
ShardInfo read_shard_info(const std::string& path);

class TokenDataset {
public:
    // Every file matching `pattern` (sorted by name); token ids must be < vocab_size.
    TokenDataset(const std::string& pattern, int vocab_size);

    // Batches of B sequences of T tokens; errors (naming the pattern) if there are none.
    size_t num_batches(int B, int T) const;
    // inputs and targets: (B, T) each. Throws naming the file and position on a token id ≥ vocab.
    void read_batch(size_t batch, int B, int T, int* inputs, int* targets) const;

    const std::vector<ShardInfo>& shards() const { return shards_; }
    const std::string& pattern() const { return pattern_; }
    size_t total_tokens() const;

private:
    std::string pattern_;
    int vocab_size_;
    std::vector<ShardInfo> shards_;
};

}  // namespace nograd
