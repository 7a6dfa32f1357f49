// llm.c's decode-only tokenizer file `gpt2_tokenizer.bin` (FORMATS.md): a 256 × uint32 header — magic
// 20240328, version 2, number of tokens, end-of-text id — then each token's bytes as (1 length byte, bytes).
// Reading and writing only; it cannot encode (that needs the merges: data/tokenizer.h).
#pragma once
#include <string>
#include <vector>

namespace nograd {

class Gpt2Tokenizer;

class DecodeTokenizer {
public:
    // Throws nograd::Error naming the path for a missing file, bad magic or version, a length byte of 0, a
    // file that ends inside the token list, or bytes after it. Version 1 files (no end-of-text slot) mean 50256.
    static DecodeTokenizer load(const std::string& path);

    const std::string& decode_token(int id) const;  // throws nograd::Error for an id outside [0, vocab_size())
    std::string decode(const std::vector<int>& ids) const;
    int vocab_size() const { return static_cast<int>(tokens_.size()); }
    int eot_token() const { return eot_token_; }

private:
    std::vector<std::string> tokens_;
    int eot_token_ = -1;
};

// Writes the file through a temporary file renamed over `path`. Every token must be 1..255 bytes long.
void write_decode_tokenizer(const std::string& path, const std::vector<std::string>& token_bytes, int eot_token);
// The same for a loaded BPE tokenizer: its decoding table as llm.c's gpt2_tokenizer.bin.
void write_decode_tokenizer(const std::string& path, const Gpt2Tokenizer& tokenizer);

}  // namespace nograd
