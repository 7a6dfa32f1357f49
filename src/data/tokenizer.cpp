// GPT-2 byte-level BPE: load OpenAI's vocabulary files, split text with GPT-2's pattern (PCRE2, UTF + UCP,
// JIT), and merge each piece's bytes by merge rank, caching pieces seen before. Special tokens are not parsed.
#include "data/tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/error.h"

namespace nograd {
namespace {

// GPT-2's pre-tokenizer is Python `regex` running
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Two of its classes mean something slightly different in PCRE2 10.42, so they are spelled out:
// - Python regex's \s is exactly Unicode White_Space; PCRE2's \s (UCP) also takes U+180E MONGOLIAN VOWEL
//   SEPARATOR (White_Space only before Unicode 6.3). Neither takes U+001C..U+001F (unlike Python's str.isspace).
// - PCRE2 10.42 knows Unicode 14; Debian 12's python3-regex knows Unicode 15.0, which added these letters
//   (Kawi, Nag Mundari, CJK extension H, ...) and digits. Found by matching every code point with both
//   engines; tests/test_tokenizer.cpp checks every code point against the reference's classes again.
constexpr const char* kWhiteSpace =
    "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";
constexpr const char* kLetters =
    "\\p{L}\\x{1123F}-\\x{11240}\\x{11F02}\\x{11F04}-\\x{11F10}\\x{11F12}-\\x{11F33}\\x{1342F}\\x{13441}-\\x{13446}"
    "\\x{1B132}\\x{1B155}\\x{1DF25}-\\x{1DF2A}\\x{1E030}-\\x{1E06D}\\x{1E4D0}-\\x{1E4EB}\\x{2B739}\\x{31350}-\\x{323AF}";
constexpr const char* kNumbers = "\\p{N}\\x{11F50}-\\x{11F59}\\x{1D2C0}-\\x{1D2D3}\\x{1E4F0}-\\x{1E4F9}";

// Entries a BpeCache may hold before it is emptied: bounds memory on huge texts with many distinct pieces.
constexpr size_t kMaxCacheEntries = size_t{1} << 20;
constexpr size_t kMaxCacheArena = size_t{1} << 26;  // bytes of keys, or ids, before it is emptied
// Texts shorter than this are encoded on one thread (splitting costs a cold cache per thread).
constexpr size_t kParallelMinBytes = size_t{1} << 20;

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw file_error(path, "a readable file", "none (missing or unreadable)");
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves,
// the other 68 bytes get code points 256, 257, ... in byte order. Returns code point → byte (or -1).
std::vector<int> unicode_to_byte_table() {
    std::vector<int> table(256 + 68, -1);
    int next = 256;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        table[printable ? b : next++] = b;
    }
    return table;
}

// Length of the well-formed UTF-8 sequence starting at p (Unicode Table 3-7), or 0 if there is none.
// This is exactly the set of sequences Python's UTF-8 decoder accepts.
int utf8_sequence_length(const unsigned char* p, size_t available) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    int length = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (length == 0 || available < static_cast<size_t>(length)) return 0;
    // The second byte's range is narrower after E0, ED, F0, F4 (no overlongs, surrogates or > U+10FFFF).
    unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
    unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    if (p[1] < lo || p[1] > hi) return 0;
    for (int k = 2; k < length; k++)
        if ((p[k] & 0xC0) != 0x80) return 0;
    return length;
}

// Decodes a token string of encoder.json (UTF-8 in GPT-2's byte alphabet) to its raw bytes.
std::string token_string_to_bytes(const std::string& token, const std::vector<int>& to_byte, const std::string& path) {
    std::string bytes;
    const auto* p = reinterpret_cast<const unsigned char*>(token.data());
    for (size_t i = 0; i < token.size();) {
        int length = utf8_sequence_length(p + i, token.size() - i);
        unsigned cp = length == 1 ? p[i] : length == 2 ? ((p[i] & 0x1F) << 6 | (p[i + 1] & 0x3F)) : 0x7FFFFFFF;
        if (cp >= to_byte.size() || to_byte[cp] < 0)
            throw file_error(path, "tokens written in GPT-2's byte-to-unicode alphabet",
                             "token \"" + token + "\" with a character outside it");
        bytes += static_cast<char>(to_byte[cp]);
        i += length;
    }
    return bytes;
}

uint64_t pair_key(int left, int right) {
    return static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32 | static_cast<uint32_t>(right);
}

// Fibonacci hashing: the golden-ratio multiply spreads consecutive ids over the table's high bits.
size_t slot_of(uint64_t pair, size_t mask) { return static_cast<size_t>((pair * 0x9E3779B97F4A7C15ull) >> 32) & mask; }

}  // namespace

// The compiled pre-tokenizer pattern; PCRE2 code is read-only after compiling, so threads share it.
struct Gpt2Tokenizer::Regex {
    pcre2_code* code = nullptr;
    ~Regex() { pcre2_code_free(code); }
};

Gpt2Tokenizer::Gpt2Tokenizer() = default;
Gpt2Tokenizer::Gpt2Tokenizer(Gpt2Tokenizer&&) noexcept = default;
Gpt2Tokenizer& Gpt2Tokenizer::operator=(Gpt2Tokenizer&&) noexcept = default;
Gpt2Tokenizer::~Gpt2Tokenizer() = default;

std::string Gpt2Tokenizer::pretokenizer_pattern() {
    std::string ws = kWhiteSpace, letters = kLetters, numbers = kNumbers;
    return "'s|'t|'re|'ve|'m|'ll|'d| ?[" + letters + "]+| ?[" + numbers + "]+| ?[^" + ws + letters + numbers +
           "]+|[" + ws + "]+(?![^" + ws + "])|[" + ws + "]+";
}

namespace {

// encoder.json → token bytes by id (ids must be exactly 0..V-1) and the string → id map for vocab.bpe.
void load_encoder(const std::string& path, std::vector<std::string>& token_bytes,
                  std::unordered_map<std::string, int>& id_of) {
    nlohmann::json json;
    try {
        json = nlohmann::json::parse(read_file(path));
    } catch (const nlohmann::json::exception& e) {
        throw file_error(path, "JSON (token string → id)", std::string("a parse error: ") + e.what());
    }
    if (!json.is_object() || json.empty())
        throw file_error(path, "a non-empty JSON object (token string → id)", "a " + std::string(json.type_name()));
    const std::vector<int> to_byte = unicode_to_byte_table();
    token_bytes.assign(json.size(), std::string());
    std::vector<bool> seen(json.size(), false);
    for (const auto& [token, id_value] : json.items()) {
        if (!id_value.is_number_integer() || id_value.get<int64_t>() < 0 ||
            id_value.get<int64_t>() >= static_cast<int64_t>(json.size()) || seen[id_value.get<size_t>()])
            // Only a scalar is printed: dumping a deeply nested value recurses once per level (stack overflow).
            throw file_error(path, "distinct integer ids 0.." + std::to_string(json.size() - 1),
                             "id " + (id_value.is_primitive() ? id_value.dump() : std::string("an ") + id_value.type_name()) +
                                 " for token \"" + token + "\"");
        int id = id_value.get<int>();
        seen[id] = true;
        token_bytes[id] = token_string_to_bytes(token, to_byte, path);
        id_of.emplace(token, id);
    }
}

}  // namespace

// vocab.bpe: "#version: 0.2", then one merge "A B" per line in priority order (A, B and AB are tokens).
void Gpt2Tokenizer::load_merges(const std::string& path, const std::unordered_map<std::string, int>& id_of) {
    std::istringstream lines(read_file(path));
    std::string line;
    if (!std::getline(lines, line) || line.rfind("#version", 0) != 0)
        throw file_error(path, "a first line \"#version: 0.2\"", "\"" + line.substr(0, 40) + "\"");
    // Ranks follow line order. Like the reference's dict, a repeated pair keeps its last rank.
    for (int line_number = 2, rank = 0; std::getline(lines, line); line_number++) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        const size_t space = line.find(' ');
        const std::string left = line.substr(0, space), right = space == std::string::npos ? "" : line.substr(space + 1);
        auto l = id_of.find(left), r = id_of.find(right), m = id_of.find(left + right);
        if (left.empty() || right.empty() || right.find(' ') != std::string::npos || l == id_of.end() ||
            r == id_of.end() || m == id_of.end())
            throw file_error(path + " line " + std::to_string(line_number),
                             "a merge \"A B\" of two tokens of encoder.json whose join is also one", "\"" + line + "\"");
        add_merge(l->second, r->second, rank++, m->second);
    }
}

Gpt2Tokenizer Gpt2Tokenizer::load(const std::string& vocab_dir) {
    Gpt2Tokenizer tok;
    const std::string encoder_path = vocab_dir + "/encoder.json";
    std::unordered_map<std::string, int> id_of;
    load_encoder(encoder_path, tok.token_bytes_, id_of);

    auto eot = id_of.find("<|endoftext|>");
    if (eot == id_of.end()) throw file_error(encoder_path, "the token \"<|endoftext|>\"", "none");
    tok.eot_token_ = eot->second;
    std::fill(std::begin(tok.byte_token_), std::end(tok.byte_token_), -1);
    for (int id = 0; id < tok.vocab_size(); id++)
        if (tok.token_bytes_[id].size() == 1 && id != tok.eot_token_)
            tok.byte_token_[static_cast<unsigned char>(tok.token_bytes_[id][0])] = id;
    for (int b = 0; b < 256; b++)
        if (tok.byte_token_[b] < 0)
            throw file_error(encoder_path, "a token for each of the 256 bytes", "none for byte " + std::to_string(b));
    tok.load_merges(vocab_dir + "/vocab.bpe", id_of);

    tok.regex_ = std::make_unique<Regex>();
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    const std::string pattern = pretokenizer_pattern();
    tok.regex_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.c_str()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
    if (!tok.regex_->code) throw Error("PCRE2 rejected GPT-2's pre-tokenizer pattern at offset " +
                                       std::to_string(error_offset) + " (PCRE2 error " + std::to_string(error_code) + ")");
    pcre2_jit_compile(tok.regex_->code, PCRE2_JIT_COMPLETE);  // if JIT is unavailable the interpreter runs it
    return tok;
}

// ---------------------------------------------------------------------------------------------------------
// Pre-tokenization

namespace {

// Calls emit(begin, end) for each regex match in valid UTF-8 `text`, in order. Every character matches one
// of the alternatives, so matches tile the text; a gap (impossible in principle) is still emitted.
template <class Emit>
void for_each_match(const pcre2_code* code, std::string_view text, Emit&& emit) {
    pcre2_match_data* match = pcre2_match_data_create_from_pattern(code, nullptr);
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t pos = 0;
    while (pos < text.size()) {
        int rc = pcre2_match(code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, match, nullptr);
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {  // e.g. a resource limit: never seen, but never silent
            pcre2_match_data_free(match);
            PCRE2_UCHAR message[256];
            pcre2_get_error_message(rc, message, sizeof message);
            throw Error("pre-tokenizer (PCRE2) failed at byte " + std::to_string(pos) + ": " +
                        reinterpret_cast<const char*>(message));
        }
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
        size_t begin = rc < 0 ? text.size() : ovector[0], end = rc < 0 ? text.size() : ovector[1];
        if (begin > pos) emit(pos, begin);
        if (end > begin) emit(begin, end);
        pos = std::max(end, begin);
    }
    pcre2_match_data_free(match);
}

// Bytes outside well-formed UTF-8 sequences become U+FFFD in `clean` (like Python's surrogateescape they
// then count as "other" characters); raw_offset maps each offset of `clean` back to the raw text.
bool replace_invalid_utf8(std::string_view raw, std::string& clean, std::vector<size_t>& raw_offset) {
    const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
    size_t i = 0;
    while (i < raw.size()) {  // the valid prefix, with a fast path for ASCII
        const int length = p[i] < 0x80 ? 1 : utf8_sequence_length(p + i, raw.size() - i);
        if (length == 0) break;
        i += length;
    }
    if (i == raw.size()) return false;
    clean.assign(raw.substr(0, i));
    raw_offset.resize(i);
    for (size_t k = 0; k < i; k++) raw_offset[k] = k;
    while (i < raw.size()) {
        int length = utf8_sequence_length(p + i, raw.size() - i);
        if (length == 0) {
            clean += "\xEF\xBF\xBD";
            raw_offset.insert(raw_offset.end(), 3, i);
            i++;
            continue;
        }
        clean.append(raw.substr(i, length));
        for (int k = 0; k < length; k++) raw_offset.push_back(i + k);
        i += length;
    }
    raw_offset.push_back(raw.size());
    return true;
}

// Pieces of any byte string, as views into it.
template <class Emit>
void for_each_piece(const pcre2_code* code, std::string_view raw, Emit&& emit) {
    std::string clean;
    std::vector<size_t> raw_offset;
    if (!replace_invalid_utf8(raw, clean, raw_offset)) {
        for_each_match(code, raw, [&](size_t b, size_t e) { emit(raw.substr(b, e - b)); });
        return;
    }
    for_each_match(code, clean, [&](size_t b, size_t e) {
        emit(raw.substr(raw_offset[b], raw_offset[e] - raw_offset[b]));
    });
}

}  // namespace

std::vector<std::string_view> Gpt2Tokenizer::split_pieces(std::string_view text) const {
    std::vector<std::string_view> pieces;
    for_each_piece(regex_->code, text, [&](std::string_view piece) { pieces.push_back(piece); });
    return pieces;
}

// ---------------------------------------------------------------------------------------------------------
// BPE

const Gpt2Tokenizer::MergeSlot* Gpt2Tokenizer::find_merge(int left, int right) const {
    if (merge_slots_.empty()) return nullptr;
    const uint64_t pair = pair_key(left, right);
    const size_t mask = merge_slots_.size() - 1;
    for (size_t slot = slot_of(pair, mask);; slot = (slot + 1) & mask) {
        if (merge_slots_[slot].pair == pair) return &merge_slots_[slot];
        if (merge_slots_[slot].pair == kEmptySlot) return nullptr;
    }
}

// Adds or replaces a merge, doubling the table when it would be more than half full.
void Gpt2Tokenizer::add_merge(int left, int right, int rank, int merged) {
    if (2 * (merge_count_ + 1) > merge_slots_.size()) {
        std::vector<MergeSlot> old = std::move(merge_slots_);
        merge_slots_.assign(std::max<size_t>(64, 2 * old.size()), MergeSlot{});
        merge_count_ = 0;
        for (const MergeSlot& m : old)
            if (m.pair != kEmptySlot) add_merge(static_cast<int>(m.pair >> 32), static_cast<int>(m.pair & 0xFFFFFFFF), m.rank, m.merged);
    }
    const uint64_t pair = pair_key(left, right);
    const size_t mask = merge_slots_.size() - 1;
    size_t slot = slot_of(pair, mask);
    while (merge_slots_[slot].pair != kEmptySlot && merge_slots_[slot].pair != pair) slot = (slot + 1) & mask;
    if (merge_slots_[slot].pair == kEmptySlot) merge_count_++;
    merge_slots_[slot] = MergeSlot{pair, rank, merged};
}

// GPT-2's bpe(): start from one token per byte; repeatedly take the adjacent pair with the lowest merge rank
// and join every occurrence of it, left to right; stop when no adjacent pair has a merge.
// rank[i] caches the rank of the pair (word[i], word[i+1]); after a pass only pairs touching a new token
// are looked up again (kStale marks them).
void Gpt2Tokenizer::bpe(std::string_view piece, std::vector<int>& out) const {
    constexpr int kNoMerge = INT_MAX, kStale = -1;
    std::vector<int> word(piece.size());
    for (size_t i = 0; i < piece.size(); i++) word[i] = byte_token_[static_cast<unsigned char>(piece[i])];
    auto rank_of = [&](size_t i) {
        const MergeSlot* m = find_merge(word[i], word[i + 1]);
        return m ? m->rank : kNoMerge;
    };
    std::vector<int> rank(word.size() > 1 ? word.size() - 1 : 0);
    for (size_t i = 0; i < rank.size(); i++) rank[i] = rank_of(i);
    while (!rank.empty()) {
        const size_t best = std::min_element(rank.begin(), rank.end()) - rank.begin();
        if (rank[best] == kNoMerge) break;
        const int left = word[best], right = word[best + 1], merged = find_merge(left, right)->merged;
        // Compact in place (kept <= i, so nothing is overwritten before it is read).
        size_t kept = 0;
        for (size_t i = 0; i < word.size(); kept++) {
            const bool join = i + 1 < word.size() && word[i] == left && word[i + 1] == right;
            word[kept] = join ? merged : word[i];
            if (join && kept > 0) rank[kept - 1] = kStale;
            if (kept < rank.size()) rank[kept] = join ? kStale : (i < rank.size() ? rank[i] : kNoMerge);
            i += join ? 2 : 1;
        }
        word.resize(kept);
        rank.resize(kept - 1);  // at least one token is left
        for (size_t i = 0; i < rank.size(); i++)
            if (rank[i] == kStale) rank[i] = rank_of(i);
    }
    out.insert(out.end(), word.begin(), word.end());
}

// ---------------------------------------------------------------------------------------------------------
// Piece cache

namespace {
uint64_t piece_hash(std::string_view piece) { return std::hash<std::string_view>{}(piece); }
uint32_t tag_of(uint64_t hash) { return static_cast<uint32_t>(hash >> 32) | 1u; }
}  // namespace

bool BpeCache::lookup(std::string_view piece, std::vector<int>& out) const {
    if (slots_.empty()) return false;
    const uint64_t hash = piece_hash(piece);
    const uint32_t tag = tag_of(hash);
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask; slots_[i].tag != 0; i = (i + 1) & mask) {
        const Slot& s = slots_[i];
        if (s.tag == tag && s.key_length == piece.size() && keys_.compare(s.key_at, s.key_length, piece) == 0) {
            out.insert(out.end(), ids_.begin() + s.ids_at, ids_.begin() + s.ids_at + s.id_count);
            return true;
        }
    }
    return false;
}

void BpeCache::insert(std::string_view piece, const int* ids, size_t count) {
    if (piece.size() > UINT16_MAX || count > UINT16_MAX) return;
    if (used_ >= kMaxCacheEntries || keys_.size() + piece.size() > kMaxCacheArena || ids_.size() + count > kMaxCacheArena) {
        *this = BpeCache();  // start over rather than grow without bound
    }
    if (2 * (used_ + 1) > slots_.size()) grow();
    const uint64_t hash = piece_hash(piece);
    const size_t mask = slots_.size() - 1;
    size_t i = hash & mask;
    while (slots_[i].tag != 0) i = (i + 1) & mask;
    slots_[i] = Slot{tag_of(hash), static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(ids_.size()),
                     static_cast<uint16_t>(piece.size()), static_cast<uint16_t>(count)};
    keys_.append(piece);
    ids_.insert(ids_.end(), ids, ids + count);
    used_++;
}

// Doubles the slot array and re-places every entry (hashes are recomputed from the stored keys).
void BpeCache::grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(std::max<size_t>(1024, 2 * old.size()), Slot{});
    const size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
        if (s.tag == 0) continue;
        size_t i = piece_hash(std::string_view(keys_).substr(s.key_at, s.key_length)) & mask;
        while (slots_[i].tag != 0) i = (i + 1) & mask;
        slots_[i] = s;
    }
}

void Gpt2Tokenizer::encode_piece(std::string_view piece, BpeCache& cache, std::vector<int>& out) const {
    if (piece.size() == 1) {
        out.push_back(byte_token_[static_cast<unsigned char>(piece[0])]);
        return;
    }
    if (cache.lookup(piece, out)) return;
    const size_t start = out.size();
    bpe(piece, out);
    cache.insert(piece, out.data() + start, out.size() - start);
}

std::vector<int> Gpt2Tokenizer::encode(std::string_view text, BpeCache& cache) const {
    std::vector<int> ids;
    ids.reserve(text.size() / 4 + 16);
    for_each_piece(regex_->code, text, [&](std::string_view piece) { encode_piece(piece, cache, ids); });
    return ids;
}

namespace {

// Offsets where `text` may be cut without changing its pieces: a space between two ASCII letters. The letter
// before it ends a piece (no alternative runs from a letter across a space) and the space starts the next
// one; both are ASCII, so no UTF-8 sequence spans the cut. Returns 0, cuts..., text.size().
std::vector<size_t> piece_safe_cuts(std::string_view text, size_t parts) {
    auto is_letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    std::vector<size_t> cuts{0};
    for (size_t k = 1; k < parts; k++) {
        size_t pos = std::max(cuts.back() + 1, text.size() * k / parts);
        while (pos + 1 < text.size() && !(text[pos] == ' ' && is_letter(text[pos - 1]) && is_letter(text[pos + 1]))) pos++;
        if (pos + 1 >= text.size()) break;
        cuts.push_back(pos);
    }
    cuts.push_back(text.size());
    return cuts;
}

}  // namespace

std::vector<int> Gpt2Tokenizer::encode(std::string_view text) const {
    const int threads = omp_get_max_threads();
    if (text.size() < kParallelMinBytes || threads < 2 || omp_in_parallel()) {
        BpeCache cache;
        return encode(text, cache);
    }
    const std::vector<size_t> cuts = piece_safe_cuts(text, threads);
    const int parts = static_cast<int>(cuts.size()) - 1;
    std::vector<std::vector<int>> part_ids(parts);
#pragma omp parallel for schedule(static, 1)
    for (int p = 0; p < parts; p++) {
        BpeCache cache;
        part_ids[p] = encode(text.substr(cuts[p], cuts[p + 1] - cuts[p]), cache);
    }
    std::vector<int> ids;
    for (const auto& part : part_ids) ids.insert(ids.end(), part.begin(), part.end());
    return ids;
}

// ---------------------------------------------------------------------------------------------------------
// Decoding

const std::string& Gpt2Tokenizer::decode_token(int id) const {
    if (id < 0 || id >= vocab_size())
        throw Error("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                    std::to_string(vocab_size()) + ")");
    return token_bytes_[id];
}

std::string Gpt2Tokenizer::decode(const std::vector<int>& ids) const {
    std::string text;
    for (int id : ids) text += decode_token(id);
    return text;
}

}  // namespace nograd
