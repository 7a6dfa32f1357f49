// GPT-2's byte-level BPE tokenizer (encode and decode), loaded from OpenAI's encoder.json + vocab.bpe.
// Gives the ids of OpenAI's reference encoder (Python `regex` pre-tokenizer, Unicode 15.0 classes) for any
// UTF-8 text. Special tokens are not parsed: "<|endoftext|>" inside a text is ordinary text.
//
// Invalid UTF-8 never throws: every byte that is not part of a well-formed UTF-8 sequence is split like a
// punctuation character (exactly what the reference does after Python's bytes.decode("utf-8",
// "surrogateescape"), which turns such a byte into a lone surrogate, category Cs), and byte-level BPE then
// encodes the raw byte. So decode(encode(x)) == x for every byte string x.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace nograd {

// Ids of pieces already encoded, keyed by the piece's bytes. Natural text repeats its words, so most pieces
// hit this cache and skip the merge loop. One cache per thread; it may be reused across encode() calls.
// The transparent hash lets a lookup take the piece as a string_view without copying it into a string.
struct PieceHash {
    using is_transparent = void;
    size_t operator()(std::string_view piece) const { return std::hash<std::string_view>{}(piece); }
};
using BpeCache = std::unordered_map<std::string, std::vector<int>, PieceHash, std::equal_to<>>;

class Gpt2Tokenizer {
public:
    // Reads DIR/encoder.json and DIR/vocab.bpe. Throws nograd::Error naming the file when one is missing or
    // malformed (bad JSON, ids not 0..V-1, no "<|endoftext|>", a byte token missing, bad merge line).
    static Gpt2Tokenizer load(const std::string& vocab_dir);

    // Text → ids. Large texts are split at piece boundaries and encoded on all OpenMP threads; the result is
    // the same as a serial encode.
    std::vector<int> encode(std::string_view text) const;
    // Serial encode that reuses (and fills) the caller's cache: for many documents on one thread.
    std::vector<int> encode(std::string_view text, BpeCache& cache) const;

    // The pre-tokenizer alone: the text's pieces, in order, covering every byte.
    std::vector<std::string_view> split_pieces(std::string_view text) const;

    // Ids → bytes (concatenated). Throws nograd::Error for an id outside [0, vocab_size()).
    std::string decode(const std::vector<int>& ids) const;
    const std::string& decode_token(int id) const;

    int vocab_size() const { return static_cast<int>(token_bytes_.size()); }
    int eot_token() const { return eot_token_; }  // id of "<|endoftext|>" (50256 in GPT-2)

    // The pre-tokenizer's regular expression as given to PCRE2 (GPT-2's pattern with \s, \p{L} and \p{N}
    // spelled out; see tokenizer.cpp).
    static std::string pretokenizer_pattern();

    Gpt2Tokenizer(Gpt2Tokenizer&&) noexcept;
    Gpt2Tokenizer& operator=(Gpt2Tokenizer&&) noexcept;
    ~Gpt2Tokenizer();

private:
    struct Merge {
        int rank;    // line number in vocab.bpe: lower merges first
        int merged;  // id of the joined token
    };
    struct Regex;  // compiled PCRE2 pattern (kept out of this header)

    Gpt2Tokenizer();
    void bpe(std::string_view piece, std::vector<int>& out) const;
    void encode_piece(std::string_view piece, BpeCache& cache, std::vector<int>& out) const;
    void encode_valid_utf8(std::string_view text, BpeCache& cache, std::vector<int>& out) const;

    std::vector<std::string> token_bytes_;           // id → raw bytes
    int byte_token_[256] = {};                       // byte value → id of its one-byte token
    std::unordered_map<uint64_t, Merge> merges_;     // (left id << 32 | right id) → merge
    int eot_token_ = -1;
    std::unique_ptr<Regex> regex_;
};

}  // namespace nograd
