// Reader and writer for llm.c's gpt2_tokenizer.bin. Integers are little-endian uint32 in a 1024-byte header.
#include "data/tokenizer_bin.h"

#include <cstdint>

#include "data/tokenizer.h"
#include "util/error.h"
#include "util/file.h"

namespace nograd {
namespace {

constexpr uint32_t kTokenizerMagic = 20240328;
constexpr size_t kHeaderInts = 256;

uint32_t get_u32_le(const unsigned char* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

}  // namespace

DecodeTokenizer DecodeTokenizer::load(const std::string& path) {
    InputFile file(path);
    unsigned char header[kHeaderInts * 4];
    file.read_exact(header, sizeof header, "tokenizer header");
    const uint32_t magic = get_u32_le(header), version = get_u32_le(header + 4), count = get_u32_le(header + 8);
    if (magic != kTokenizerMagic)
        throw file_error(path, "tokenizer magic " + std::to_string(kTokenizerMagic), std::to_string(magic));
    if (version != 1 && version != 2)
        throw file_error(path, "tokenizer version 1 or 2", "version " + std::to_string(version));
    if (count == 0 || count > (1u << 24)) throw file_error(path, "1 .. 2^24 tokens", std::to_string(count));

    DecodeTokenizer tok;
    tok.eot_token_ = version == 1 ? 50256 : static_cast<int>(get_u32_le(header + 12));
    if (tok.eot_token_ < 0 || tok.eot_token_ >= static_cast<int>(count))
        throw file_error(path, "an end-of-text id below " + std::to_string(count), std::to_string(tok.eot_token_));
    // Each token takes at least 2 bytes (length + 1 byte): a count the file cannot hold is refused before
    // reserving room for it (2^24 empty strings would be 512 MB).
    if (count > (file.size() - sizeof header) / 2)
        throw file_error(path, std::to_string(count) + " tokens (at least " + std::to_string(2ull * count) +
                                   " bytes after the header)", std::to_string(file.size() - sizeof header) + " bytes");
    std::vector<unsigned char> body(file.size() - sizeof header);
    file.read_exact(body.data(), body.size(), "token list");
    size_t pos = 0;
    tok.tokens_.reserve(count);
    for (uint32_t id = 0; id < count; id++) {
        if (pos >= body.size() || pos + 1 + body[pos] > body.size())
            throw file_error(path, std::to_string(count) + " tokens", "a file that ends in token " + std::to_string(id));
        const size_t length = body[pos];
        if (length == 0) throw file_error(path, "token lengths 1..255", "length 0 for token " + std::to_string(id));
        tok.tokens_.emplace_back(reinterpret_cast<const char*>(body.data() + pos + 1), length);
        pos += 1 + length;
    }
    if (pos != body.size())
        throw file_error(path, "the end of the file after " + std::to_string(count) + " tokens",
                         std::to_string(body.size() - pos) + " more bytes");
    return tok;
}

const std::string& DecodeTokenizer::decode_token(int id) const {
    if (id < 0 || id >= vocab_size())
        throw Error("token id " + std::to_string(id) + " is outside the vocabulary [0, " + std::to_string(vocab_size()) + ")");
    return tokens_[id];
}

std::string DecodeTokenizer::decode(const std::vector<int>& ids) const {
    std::string text;
    for (int id : ids) text += decode_token(id);
    return text;
}

void write_decode_tokenizer(const std::string& path, const std::vector<std::string>& token_bytes, int eot_token) {
    if (token_bytes.empty() || eot_token < 0 || eot_token >= static_cast<int>(token_bytes.size()))
        throw Error(path + ": cannot write a tokenizer of " + std::to_string(token_bytes.size()) +
                    " tokens with end-of-text id " + std::to_string(eot_token));
    std::vector<unsigned char> bytes(kHeaderInts * 4, 0);
    const uint32_t header[4] = {kTokenizerMagic, 2, static_cast<uint32_t>(token_bytes.size()), static_cast<uint32_t>(eot_token)};
    for (int slot = 0; slot < 4; slot++)
        for (int k = 0; k < 4; k++) bytes[4 * slot + k] = static_cast<unsigned char>(header[slot] >> (8 * k));
    for (size_t id = 0; id < token_bytes.size(); id++) {
        const std::string& token = token_bytes[id];
        if (token.empty() || token.size() > 255)
            throw Error(path + ": token " + std::to_string(id) + " has " + std::to_string(token.size()) +
                        " bytes; the format stores 1..255");
        bytes.push_back(static_cast<unsigned char>(token.size()));
        bytes.insert(bytes.end(), token.begin(), token.end());
    }
    AtomicOutputFile out(path);
    out.write(bytes.data(), bytes.size());
    out.commit();
}

void write_decode_tokenizer(const std::string& path, const Gpt2Tokenizer& tokenizer) {
    std::vector<std::string> token_bytes(tokenizer.vocab_size());
    for (int id = 0; id < tokenizer.vocab_size(); id++) token_bytes[id] = tokenizer.decode_token(id);
    write_decode_tokenizer(path, token_bytes, tokenizer.eot_token());
}

}  // namespace nograd
