// `nograd tokenize`'s work: encode whole files (one document each, byte for byte: no newline or Unicode
// normalisation, no stripping) with GPT-2's BPE and write llm.c train/val token shards. No CLI parsing here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/shard_writer.h"

namespace nograd {

class Gpt2Tokenizer;

// Encodes each text as one document and writes PREFIX_train_*.bin / PREFIX_val_*.bin (see
// write_token_shards). Documents are encoded in parallel on the OpenMP threads; the result does not depend
// on the thread count.
ShardSplit tokenize_documents(const Gpt2Tokenizer& tokenizer, const std::vector<std::string>& texts,
                              const std::string& out_prefix, double val_fraction, uint64_t seed,
                              size_t max_tokens_per_shard = kDefaultTokensPerShard);

// Loads the vocabulary from vocab_dir (encoder.json, vocab.bpe), reads each input file as one document and
// writes the shards. Throws nograd::Error naming a missing or unreadable input.
ShardSplit tokenize_files(const std::string& vocab_dir, const std::vector<std::string>& inputs,
                          const std::string& out_prefix, double val_fraction, uint64_t seed,
                          size_t max_tokens_per_shard = kDefaultTokensPerShard);

}  // namespace nograd
