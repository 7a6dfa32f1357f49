// Token shard writer: header and token bytes read back by hand, train/val split by document, shard size
// limit, stale-shard cleanup, errors; and `tokenize` end to end on small files (needs data/fetch-vocab.sh).
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "data/shard_writer.h"
#include "data/tokenize_files.h"
#include "data/tokenizer.h"
#include "helpers.h"
#include "util/error.h"

using namespace nograd;

namespace {

// A shard's tokens, after checking the header (magic, version, count) and the exact file size.
std::vector<int> read_shard_by_hand(const std::string& path) {
    const std::vector<char> bytes = testing::read_bytes(path);
    REQUIRE_MESSAGE(bytes.size() >= 1024, path);
    auto u8 = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])); };
    auto int_at = [&](size_t slot) { return u8(4 * slot) | u8(4 * slot + 1) << 8 | u8(4 * slot + 2) << 16 | u8(4 * slot + 3) << 24; };
    CHECK(int_at(0) == 20240520u);
    CHECK(int_at(1) == 1u);
    for (size_t slot = 3; slot < 256; slot++) CHECK(int_at(slot) == 0u);
    const size_t ntok = int_at(2);
    REQUIRE(bytes.size() == 1024 + 2 * ntok);
    std::vector<int> tokens(ntok);
    for (size_t i = 0; i < ntok; i++) tokens[i] = static_cast<int>(u8(1024 + 2 * i) | u8(1024 + 2 * i + 1) << 8);
    return tokens;
}

std::vector<int> read_all(const std::vector<std::string>& files) {
    std::vector<int> all;
    for (const auto& f : files) {
        auto part = read_shard_by_hand(f);
        all.insert(all.end(), part.begin(), part.end());
    }
    return all;
}

std::vector<int> stream_of(const std::vector<std::vector<int>>& docs, const std::vector<bool>& pick, bool want) {
    std::vector<int> stream;
    for (size_t d = 0; d < docs.size(); d++) {
        if (pick[d] != want) continue;
        stream.push_back(50256);
        stream.insert(stream.end(), docs[d].begin(), docs[d].end());
    }
    return stream;
}

}  // namespace

TEST_SUITE("data") {

TEST_CASE("shards: write then read back; documents split by a seeded choice, order kept") {
    testing::TempDir dir;
    std::vector<std::vector<int>> docs;
    for (int d = 0; d < 20; d++) docs.push_back(std::vector<int>(d % 5 + 1, 1000 * d + 65535 % (d + 2)));
    docs[3] = {};  // an empty document is still an end-of-text token
    docs[4] = {0, 65535, 50256};
    const std::string prefix = dir.file("set");
    const ShardSplit split = write_token_shards(docs, prefix, 0.25, 7);
    const std::vector<bool> is_val = choose_validation_docs(docs.size(), 0.25, 7);
    CHECK(split.train_files == std::vector<std::string>{prefix + "_train_000000.bin"});
    CHECK(split.val_files == std::vector<std::string>{prefix + "_val_000000.bin"});
    CHECK(split.val_docs == 5);
    CHECK(split.train_docs == 15);
    CHECK(read_all(split.train_files) == stream_of(docs, is_val, false));
    CHECK(read_all(split.val_files) == stream_of(docs, is_val, true));
    CHECK(split.train_tokens + split.val_tokens == read_all(split.train_files).size() + read_all(split.val_files).size());
    CHECK_FALSE(std::filesystem::exists(prefix + "_train_000000.bin.tmp"));
}

TEST_CASE("shards: the seed alone decides the validation documents") {
    CHECK(choose_validation_docs(100, 0.1, 1) == choose_validation_docs(100, 0.1, 1));
    CHECK(choose_validation_docs(100, 0.1, 1) != choose_validation_docs(100, 0.1, 2));
    auto count = [](const std::vector<bool>& v) { return std::count(v.begin(), v.end(), true); };
    CHECK(count(choose_validation_docs(100, 0.1, 3)) == 10);
    CHECK(count(choose_validation_docs(10, 0.25, 3)) == 3);  // round(2.5) = 3
    CHECK(count(choose_validation_docs(10, 0.01, 3)) == 1);  // at least one
    CHECK(count(choose_validation_docs(3, 0.9, 3)) == 2);    // at least one left for training
    CHECK(count(choose_validation_docs(5, 0.0, 3)) == 0);
    // Every document is picked by some seed (the choice is not stuck on a few positions).
    std::vector<bool> ever(10, false);
    for (uint64_t seed = 0; seed < 200; seed++) {
        auto v = choose_validation_docs(10, 0.2, seed);
        for (size_t i = 0; i < v.size(); i++) ever[i] = ever[i] || v[i];
    }
    CHECK(count(ever) == 10);
    CHECK_THROWS_AS(choose_validation_docs(5, 1.0, 0), UsageError);
    CHECK_THROWS_AS(choose_validation_docs(5, -0.1, 0), UsageError);
    CHECK_THROWS_AS(choose_validation_docs(1, 0.5, 0), Error);
}

TEST_CASE("shards: size limit cuts numbered shards; stale shards of a larger run are removed") {
    testing::TempDir dir;
    const std::string prefix = dir.file("cut");
    const std::vector<std::vector<int>> docs = {{1, 2, 3, 4}, {5, 6}, {7}};  // stream of 10 tokens with eots
    for (const char* stale : {"_train_000004.bin", "_train_000005.bin", "_val_000000.bin"})
        testing::write_bytes(prefix + stale, "x", 1);
    const ShardSplit split = write_token_shards(docs, prefix, 0.0, 1, 3);
    REQUIRE(split.train_files.size() == 4);
    CHECK(split.train_files[3] == prefix + "_train_000003.bin");
    CHECK(read_shard_by_hand(split.train_files[0]) == std::vector<int>{50256, 1, 2});
    CHECK(read_shard_by_hand(split.train_files[3]) == std::vector<int>{7});
    CHECK(read_all(split.train_files) == std::vector<int>{50256, 1, 2, 3, 4, 50256, 5, 6, 50256, 7});
    CHECK(split.val_files.empty());
    CHECK_FALSE(std::filesystem::exists(prefix + "_train_000004.bin"));
    CHECK_FALSE(std::filesystem::exists(prefix + "_train_000005.bin"));
    CHECK_FALSE(std::filesystem::exists(prefix + "_val_000000.bin"));
    // Exactly full shards leave no empty shard behind.
    CHECK(write_token_shards({{1, 2}, {3, 4}}, prefix, 0.0, 1, 3).train_files.size() == 2);  // 6 tokens
}

TEST_CASE("shards: errors") {
    testing::TempDir dir;
    CHECK_THROWS_AS(write_token_shards({{1, 65536}}, dir.file("big"), 0.0, 1), Error);
    CHECK_THROWS_AS(write_token_shards({{-1}}, dir.file("neg"), 0.0, 1), Error);
    CHECK_THROWS_AS(write_token_shards({}, dir.file("none"), 0.0, 1), Error);
    CHECK_THROWS_AS(write_token_shards({{1}}, dir.file("zero"), 0.0, 1, 0), Error);
    CHECK_THROWS_AS(write_token_shards({{1}}, dir.path().string() + "/no/such/dir/x", 0.0, 1), Error);
}

TEST_CASE("tokenize: files become documents encoded byte for byte") {
    REQUIRE_MESSAGE(std::filesystem::exists("data/cache/gpt2-vocab/vocab.bpe"),
                    "the GPT-2 vocabulary is missing: run data/fetch-vocab.sh");
    testing::TempDir dir;
    const std::vector<std::string> texts = {"Hello world\r\n", "  naïve \xFF bytes\n\n", "<|endoftext|> is text", ""};
    std::vector<std::string> inputs;
    for (size_t i = 0; i < texts.size(); i++) {
        inputs.push_back(dir.file("doc" + std::to_string(i) + ".txt"));
        testing::write_bytes(inputs.back(), texts[i].data(), texts[i].size());
    }
    const ShardSplit split = tokenize_files("data/cache/gpt2-vocab", inputs, dir.file("out"), 0.0, 5);
    const Gpt2Tokenizer tok = Gpt2Tokenizer::load("data/cache/gpt2-vocab");
    std::vector<int> expected;
    for (const auto& t : texts) {
        expected.push_back(50256);
        for (int id : tok.encode(t)) expected.push_back(id);
    }
    CHECK(expected[1] == 15496);  // "Hello"
    CHECK(read_all(split.train_files) == expected);
    CHECK(split.train_docs == 4);

    std::string message;
    try {
        tokenize_files("data/cache/gpt2-vocab", {dir.file("absent.txt")}, dir.file("out"), 0.0, 5);
    } catch (const Error& e) {
        message = e.what();
    }
    CHECK(message.find("absent.txt") != std::string::npos);
}

}  // TEST_SUITE
