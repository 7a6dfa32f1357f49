// Writing llm.c token shards (FORMATS.md: 256 × int32 header — magic 20240520, version 1, ntok — then ntok
// uint16 tokens) from tokenized documents, split into train and validation by document. Reading shards is
// src/data/shards.h's job.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nograd {

// llm.c's data scripts write 10^8 tokens per shard.
constexpr size_t kDefaultTokensPerShard = 100'000'000;

// Writes one shard (through a temporary file renamed over `path`). Throws nograd::Error for a token outside
// [0, 65535] or more than 2^31 - 1 tokens.
void write_token_shard(const std::string& path, const std::vector<uint16_t>& tokens);

struct ShardSplit {
    std::vector<std::string> train_files, val_files;  // in order
    size_t train_docs = 0, val_docs = 0;
    size_t train_tokens = 0, val_tokens = 0;          // end-of-text tokens included
};

// Which documents go to validation: round(val_fraction · n) of them (at least 1 when val_fraction > 0, and
// at least one document is left for training), chosen by a seeded shuffle that gives the same answer on
// every platform. Returns one flag per document.
std::vector<bool> choose_validation_docs(size_t num_docs, double val_fraction, uint64_t seed);

// Writes PREFIX_train_000000.bin, PREFIX_train_000001.bin, ... and PREFIX_val_000000.bin, ...: each split is
// the concatenation, in input order, of `eot` followed by each of its documents' tokens, cut into shards of
// at most max_tokens_per_shard tokens (a document may continue in the next shard, as in llm.c).
// 0 <= val_fraction < 1; with 0 no val file is written. Shards with the same prefix and higher numbers, left
// by an earlier larger run (and a stale val shard when val_fraction is 0), are deleted so a glob of
// PREFIX_train_*.bin sees only this run's files.
ShardSplit write_token_shards(const std::vector<std::vector<int>>& docs, const std::string& prefix,
                              double val_fraction, uint64_t seed,
                              size_t max_tokens_per_shard = kDefaultTokensPerShard, int eot = 50256);

}  // namespace nograd
