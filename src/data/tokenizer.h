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
// Open addressing over flat arrays (keys and ids stored back to back), with no allocation per entry: encoding
// the 6 MB Brown corpus with a warm cache took 0.65 s instead of 1.23 s with std::unordered_map<std::string,
// std::vector<int>> (one thread, busy machine).
class BpeCache {
public:
    // Appends the cached ids of `piece` to `out` and returns true; returns false if it is not cached.
    bool lookup(std::string_view piece, std::vector<int>& out) const;
    // Remembers ids for piece (pieces or id lists over 65535 long are skipped). Emptied when it gets large.
    void insert(std::string_view piece, const int* ids, size_t count);
    size_t size() const { return used_; }

private:
    struct Slot {
        uint32_t tag = 0;  // high bits of the piece's hash, never 0; 0 marks an empty slot
        uint32_t key_at = 0, ids_at = 0;
        uint16_t key_length = 0, id_count = 0;
    };
    void grow();

    std::vector<Slot> slots_;  // size a power of two, at most half full
    std::string keys_;         // cached pieces, back to back
    std::vector<int> ids_;     // their ids, back to back
    size_t used_ = 0;
};

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
    // One merge rule in an open-addressing hash table keyed by the pair (left id << 32 | right id). Pair
    // lookups dominate BPE time; this flat table plus bpe()'s incremental rank update took encoding 2 MB of
    // distinct random words (no cache hits) from 0.89 s to 0.53 s CPU, against std::unordered_map.
    struct MergeSlot {
        uint64_t pair = kEmptySlot;
        int rank = 0;    // position in vocab.bpe: lower merges first
        int merged = 0;  // id of the joined token
    };
    static constexpr uint64_t kEmptySlot = ~uint64_t{0};  // ids are < 2^31, so no real pair looks like this
    struct Regex;  // compiled PCRE2 pattern (kept out of this header)

    Gpt2Tokenizer();
    void load_merges(const std::string& path, const std::unordered_map<std::string, int>& id_of);
    const MergeSlot* find_merge(int left, int right) const;
    void add_merge(int left, int right, int rank, int merged);
    void bpe(std::string_view piece, std::vector<int>& out) const;
    void encode_piece(std::string_view piece, BpeCache& cache, std::vector<int>& out) const;

    std::vector<std::string> token_bytes_;           // id → raw bytes
    int byte_token_[256] = {};                       // byte value → id of its one-byte token
    std::vector<MergeSlot> merge_slots_;             // size a power of two, at most half full
    size_t merge_count_ = 0;
    int eot_token_ = -1;
    std::unique_ptr<Regex> regex_;
};

}  // namespace nograd
