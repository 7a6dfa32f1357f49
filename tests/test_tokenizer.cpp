// GPT-2 BPE tokenizer: ids against the reference encoder's fixture (tools/reference_encode.py), the
// pre-tokenizer's character classes on every code point, round trips of arbitrary bytes, merge order on a
// hand-made vocabulary, file errors, and llm.c's decode-only gpt2_tokenizer.bin.
#include <doctest/doctest.h>
#include <omp.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "data/tokenizer.h"
#include "data/tokenizer_bin.h"
#include "helpers.h"
#include "util/error.h"

using nograd::Gpt2Tokenizer;
using nograd::testing::TempDir;

namespace {

const std::string kVocabDir = "data/cache/gpt2-vocab";
const std::string kCasesPath = "tests/fixtures/tokenizer_cases.json";

// The real GPT-2 vocabulary, loaded once for the whole file (loading takes ~0.2 s).
const Gpt2Tokenizer& gpt2() {
    REQUIRE_MESSAGE(std::filesystem::exists(kVocabDir + "/encoder.json"),
                    "the GPT-2 vocabulary is missing from " << kVocabDir << ": run data/fetch-vocab.sh");
    static const Gpt2Tokenizer tokenizer = Gpt2Tokenizer::load(kVocabDir);
    return tokenizer;
}

nlohmann::json read_json(const std::string& path) {
    auto bytes = nograd::testing::read_bytes(path);
    REQUIRE_MESSAGE(!bytes.empty(), "cannot read " << path);
    return nlohmann::json::parse(bytes.begin(), bytes.end());
}

std::string from_hex(const std::string& hex) {
    std::string bytes;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return bytes;
}

std::string utf8(uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
        s += static_cast<char>(cp);
    } else if (cp < 0x800) {
        s += static_cast<char>(0xC0 | cp >> 6);
        s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        s += static_cast<char>(0xE0 | cp >> 12);
        s += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        s += static_cast<char>(0xF0 | cp >> 18);
        s += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
        s += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
}

std::string join(const std::vector<std::string_view>& pieces) {
    std::string all;
    for (auto p : pieces) all += p;
    return all;
}

// GPT-2's byte alphabet written independently of the tokenizer: printable Latin-1 stands for itself, the
// other bytes are U+0100 onwards in byte order.
std::string byte_symbol(int b) {
    bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    if (printable) return utf8(b);
    int rank = 0;
    for (int c = 0; c < b; c++) rank += !((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF));
    return utf8(256 + rank);
}

// A vocabulary of the 256 byte tokens (id = byte value), the given merges (ids 256, 257, ... in order) and
// "<|endoftext|>" last, written to dir.
void write_tiny_vocab(const TempDir& dir, const std::vector<std::pair<std::string, std::string>>& merges) {
    nlohmann::json encoder;
    for (int b = 0; b < 256; b++) encoder[byte_symbol(b)] = b;
    std::string bpe = "#version: 0.2\n";
    for (const auto& [left, right] : merges) {
        if (!encoder.contains(left + right)) encoder[left + right] = static_cast<int>(encoder.size());
        bpe += left + " " + right + "\n";
    }
    encoder["<|endoftext|>"] = static_cast<int>(encoder.size());
    const std::string json = encoder.dump();
    nograd::testing::write_bytes(dir.file("encoder.json"), json.data(), json.size());
    nograd::testing::write_bytes(dir.file("vocab.bpe"), bpe.data(), bpe.size());
}

std::string error_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const nograd::Error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_SUITE("data") {

TEST_CASE("tokenizer: GPT-2 ids equal the reference encoder's on every fixture case") {
    const Gpt2Tokenizer& tok = gpt2();
    CHECK(tok.vocab_size() == 50257);
    CHECK(tok.eot_token() == 50256);
    const nlohmann::json fixture = read_json(kCasesPath);
    REQUIRE(fixture["cases"].size() >= 60);
    for (const auto& c : fixture["cases"]) {
        const std::string bytes = from_hex(c["hex"].get<std::string>());
        const std::vector<int> expected = c["ids"].get<std::vector<int>>();
        const std::vector<int> ids = tok.encode(bytes);
        CHECK_MESSAGE(ids == expected, "case \"" << c["name"].get<std::string>() << "\"");
        CHECK_MESSAGE(tok.decode(ids) == bytes, "case \"" << c["name"].get<std::string>() << "\"");
    }
}

TEST_CASE("tokenizer: the literal text <|endoftext|> is ordinary text") {
    const std::vector<int> ids = gpt2().encode("<|endoftext|>");
    CHECK(ids == std::vector<int>{27, 91, 437, 1659, 5239, 91, 29});
    CHECK(gpt2().decode_token(50256) == "<|endoftext|>");
}

// Probes each code point c with two tiny texts and reads its class off the pieces: "a" c "1" gives
// [a c, 1] for a letter, [a, c 1] for a number, [a, c, 1] otherwise; "!" c "!" is one piece for an "other"
// character and three for white space. The expected classes are the reference regex module's.
TEST_CASE("tokenizer: letter, number and white-space classes agree with Python regex on every code point") {
    const Gpt2Tokenizer& tok = gpt2();
    const nlohmann::json classes = read_json(kCasesPath)["classes"];
    std::vector<char> expected(0x110000, 'o');
    for (const auto& [name, code] : {std::pair{"letter", 'L'}, {"number", 'N'}, {"white_space", 'W'}})
        for (const auto& range : classes[name])
            for (uint32_t cp = range[0]; cp <= range[1].get<uint32_t>(); cp++) expected[cp] = code;
    int mismatches = 0;
    for (uint32_t cp = 0; cp < 0x110000; cp++) {
        if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == ' ') continue;  // no surrogates in UTF-8; ' ' prefixes pieces
        const std::string c = utf8(cp), probe = "a" + c + "1";  // pieces are views into probe
        const auto first = tok.split_pieces(probe);
        char found = '?';
        if (first.size() == 2) found = first[0] == "a" ? 'N' : 'L';
        if (first.size() == 3) found = tok.split_pieces("!" + c + "!").size() == 1 ? 'o' : 'W';
        if (found != expected[cp] && ++mismatches <= 10)
            FAIL_CHECK("U+" << std::hex << cp << ": pre-tokenizer class " << found << ", reference " << expected[cp]);
    }
    CHECK(mismatches == 0);
}

TEST_CASE("tokenizer: Unicode White_Space is white space; U+180E and U+001C..U+001F are not") {
    // "a" c c "b" splits as [a, c, c, b] when c is white space, [a, cc, b] when it is punctuation-like.
    for (uint32_t cp : {0x09u, 0x0Bu, 0x0Cu, 0x85u, 0xA0u, 0x1680u, 0x2000u, 0x200Au, 0x2028u, 0x2029u, 0x202Fu,
                        0x205Fu, 0x3000u})
        CHECK_MESSAGE(gpt2().split_pieces("a" + utf8(cp) + utf8(cp) + "b").size() == 4, "U+" << std::hex << cp);
    for (uint32_t cp : {0x1Cu, 0x1Du, 0x1Eu, 0x1Fu, 0x180Eu, 0x200Bu, 0x2060u, 0xFEFFu})
        CHECK_MESSAGE(gpt2().split_pieces("a" + utf8(cp) + utf8(cp) + "b").size() == 3, "U+" << std::hex << cp);
}

TEST_CASE("tokenizer: decode(encode(x)) == x for random byte strings, valid UTF-8 or not") {
    const Gpt2Tokenizer& tok = gpt2();
    std::mt19937 rng(1234);
    // Mostly text-like material, with invalid lead/continuation bytes and truncated sequences mixed in.
    const std::vector<std::string> atoms = {"a", "Z", " ", "  ", "\n", "\r\n", "\t", "'s", "'", "7", ".", "é",
                                            "\xC3", "\xA9", "\xE2\x82", "\xFF", "\x80", "\xF0\x9F\x98\x80", "\xED\xA0\x80",
                                            "\xE3\x81\x82", "\xC2\xA0", "\xE3\x80\x80", "<|endoftext|>", std::string(1, '\0')};
    for (int trial = 0; trial < 3000; trial++) {
        std::string x;
        const int length = static_cast<int>(rng() % 24);
        for (int k = 0; k < length; k++) {
            if (trial % 3 == 0) x += static_cast<char>(rng() & 0xFF);  // uniformly random bytes
            else x += atoms[rng() % atoms.size()];
        }
        const std::vector<int> ids = tok.encode(x);
        REQUIRE_MESSAGE(tok.decode(ids) == x, "trial " << trial);
        CHECK(join(tok.split_pieces(x)) == x);
    }
}

TEST_CASE("tokenizer: a large text encoded in parallel gives the serial ids") {
    const Gpt2Tokenizer& tok = gpt2();
    std::string text;
    const nlohmann::json fixture = read_json(kCasesPath);
    for (int copy = 0; text.size() < (size_t{3} << 20) / 2; copy++)
        for (const auto& c : fixture["cases"]) text += from_hex(c["hex"].get<std::string>()) + " word " + std::to_string(copy);
    nograd::BpeCache cache;
    const std::vector<int> serial = tok.encode(text, cache);
    const int saved_threads = omp_get_max_threads();
    omp_set_num_threads(2);
    const std::vector<int> parallel = tok.encode(text);
    omp_set_num_threads(saved_threads);
    CHECK(parallel == serial);
    CHECK(tok.decode(parallel) == text);
}

TEST_CASE("tokenizer: the piece cache returns what was stored, across growth") {
    nograd::BpeCache cache;
    std::mt19937 rng(5);
    std::vector<std::pair<std::string, std::vector<int>>> stored;
    for (int k = 0; k < 5000; k++) {
        std::string piece = std::to_string(k) + std::string(rng() % 20, static_cast<char>('a' + k % 26));
        std::vector<int> ids(rng() % 6 + 1);
        for (int& id : ids) id = static_cast<int>(rng() % 50257);
        cache.insert(piece, ids.data(), ids.size());
        stored.emplace_back(piece, ids);
    }
    CHECK(cache.size() == 5000);
    for (const auto& [piece, ids] : stored) {
        std::vector<int> out = {-7};
        REQUIRE(cache.lookup(piece, out));
        CHECK(out == [&] { std::vector<int> e = {-7}; e.insert(e.end(), ids.begin(), ids.end()); return e; }());
    }
    std::vector<int> out;
    CHECK_FALSE(cache.lookup("5000", out));
    CHECK_FALSE(cache.lookup("", out));
    CHECK(out.empty());
}

TEST_CASE("tokenizer: merges apply by rank, every occurrence left to right") {
    TempDir dir;
    auto ids = [&](const std::vector<std::pair<std::string, std::string>>& merges, const std::string& text) {
        write_tiny_vocab(dir, merges);
        return Gpt2Tokenizer::load(dir.path().string()).encode(text);
    };
    // ids: 256 = first merge's result, 257 = second's, ...
    CHECK(ids({{"b", "c"}, {"a", "b"}}, "abc") == std::vector<int>{'a', 256});  // "b c" ranks first
    CHECK(ids({{"a", "b"}, {"b", "c"}}, "abc") == std::vector<int>{256, 'c'});
    CHECK(ids({{"b", "c"}, {"a", "b"}, {"c", "d"}}, "abcd") == std::vector<int>{'a', 256, 'd'});  // not leftmost first
    CHECK(ids({{"a", "a"}}, "aaa") == std::vector<int>{256, 'a'});              // left to right, no overlap
    CHECK(ids({{"a", "a"}, {"aa", "aa"}}, "aaaaa") == std::vector<int>{257, 'a'});
    CHECK(ids({{"c", "d"}, {"a", "b"}, {"ab", "cd"}}, "abcd xabcd") == std::vector<int>{258, ' ', 'x', 258});
    // A merge only applies inside a piece: " a" and "b" stay apart across the pre-tokenizer's split.
    CHECK(ids({{"a", "b"}}, "a b ab") == std::vector<int>{'a', ' ', 'b', ' ', 256});
    // Space is Ġ (U+0120) in the byte alphabet.
    CHECK(ids({{"\xC4\xA0", "a"}}, "a a") == std::vector<int>{'a', 256});
    Gpt2Tokenizer tok = Gpt2Tokenizer::load(dir.path().string());
    CHECK(tok.vocab_size() == 258);
    CHECK(tok.eot_token() == 257);
    CHECK(tok.decode({256, 'a', 'b'}) == " aab");
}

TEST_CASE("tokenizer: missing or malformed vocabulary files are errors naming the file") {
    TempDir dir;
    CHECK(error_of([&] { Gpt2Tokenizer::load(dir.path().string()); }).find("encoder.json") != std::string::npos);
    write_tiny_vocab(dir, {{"a", "b"}});
    const std::string good_bpe = "#version: 0.2\na b\n";
    auto load_with = [&](const std::string& name, const std::string& content) {
        nograd::testing::write_bytes(dir.file(name), content.data(), content.size());
        return error_of([&] { Gpt2Tokenizer::load(dir.path().string()); });
    };
    CHECK(load_with("vocab.bpe", "a b\n").find("vocab.bpe: expected a first line") != std::string::npos);
    CHECK(load_with("vocab.bpe", "#version: 0.2\na b\nq zz\n").find("vocab.bpe line 3") != std::string::npos);
    CHECK(load_with("vocab.bpe", "#version: 0.2\nab\n").find("vocab.bpe line 2") != std::string::npos);
    load_with("vocab.bpe", good_bpe);
    std::filesystem::remove(dir.file("vocab.bpe"));
    CHECK(error_of([&] { Gpt2Tokenizer::load(dir.path().string()); }).find("vocab.bpe") != std::string::npos);
    load_with("vocab.bpe", good_bpe);
    CHECK(load_with("encoder.json", "{\"a\": 0,").find("encoder.json: expected JSON") != std::string::npos);
    CHECK(load_with("encoder.json", "[1, 2]").find("encoder.json: expected a non-empty JSON object") != std::string::npos);
    CHECK(load_with("encoder.json", "{\"a\": 0, \"b\": 5}").find("encoder.json: expected distinct integer ids") != std::string::npos);
    CHECK(load_with("encoder.json", "{\"a\": 0, \"b\": 1}").find("<|endoftext|>") != std::string::npos);
    CHECK(load_with("encoder.json", "{\"a\": 0, \"<|endoftext|>\": 1}").find("256 bytes") != std::string::npos);
    CHECK(load_with("encoder.json", "{\"a\\n\": 0}").find("byte-to-unicode alphabet") != std::string::npos);
    CHECK_THROWS_AS(gpt2().decode_token(50257), nograd::Error);
    CHECK_THROWS_AS(gpt2().decode({-1}), nograd::Error);
}

TEST_CASE("tokenizer: gpt2_tokenizer.bin round trip and its file errors") {
    TempDir dir;
    const std::string path = dir.file("gpt2_tokenizer.bin");
    nograd::write_decode_tokenizer(path, gpt2());
    const nograd::DecodeTokenizer loaded = nograd::DecodeTokenizer::load(path);
    REQUIRE(loaded.vocab_size() == 50257);
    CHECK(loaded.eot_token() == 50256);
    size_t expected_size = 1024;
    for (int id = 0; id < 50257; id++) {
        expected_size += 1 + gpt2().decode_token(id).size();
        if (loaded.decode_token(id) != gpt2().decode_token(id)) FAIL_CHECK("token " << id);
    }
    const std::vector<char> bytes = nograd::testing::read_bytes(path);
    REQUIRE(bytes.size() == expected_size);
    CHECK(loaded.decode(gpt2().encode("Hello, world")) == "Hello, world");

    auto load_variant = [&](const std::function<void(std::vector<char>&)>& change) {
        std::vector<char> copy = bytes;
        change(copy);
        nograd::testing::write_bytes(dir.file("bad.bin"), copy.data(), copy.size());
        return error_of([&] { nograd::DecodeTokenizer::load(dir.file("bad.bin")); });
    };
    auto mentions = [&](const std::string& message, const std::string& what) {
        return message.find(dir.file("bad.bin")) != std::string::npos && message.find(what) != std::string::npos;
    };
    CHECK(mentions(load_variant([](auto& b) { b[0] = 1; }), "magic"));
    CHECK(mentions(load_variant([](auto& b) { b[4] = 7; }), "version"));
    CHECK(mentions(load_variant([](auto& b) { b.resize(b.size() - 1); }), "ends in token 50256"));
    CHECK(mentions(load_variant([](auto& b) { b.resize(500); }), "header"));
    CHECK(mentions(load_variant([](auto& b) { b[1024] = 0; }), "length 0"));
    CHECK(mentions(load_variant([](auto& b) { b.push_back('x'); }), "1 more bytes"));
    CHECK(error_of([&] { nograd::DecodeTokenizer::load(dir.file("missing.bin")); }).find("missing.bin") != std::string::npos);
    CHECK_THROWS_AS(nograd::write_decode_tokenizer(dir.file("x.bin"), {"a", ""}, 0), nograd::Error);
    CHECK_THROWS_AS(nograd::write_decode_tokenizer(dir.file("x.bin"), {std::string(256, 'a')}, 0), nograd::Error);
}

}  // TEST_SUITE
