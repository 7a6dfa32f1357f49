// llm.c file formats: checkpoint and shard round trips, and every bad-input case named in the
// foundation issue producing an error that names the file.
#include <doctest/doctest.h>

#include <cstring>
#include <functional>

#include "data/shards.h"
#include "helpers.h"
#include "model/checkpoint.h"
#include "util/error.h"

using namespace nograd;
using nograd::testing::TempDir;

namespace {

GPT2Config tiny_config() {
    GPT2Config c;
    c.vocab_size = 50; c.padded_vocab_size = 128; c.max_seq_len = 8;
    c.num_layers = 2; c.num_heads = 2; c.channels = 8;
    return c;
}

void write_shard(const std::string& path, const std::vector<uint16_t>& tokens, int magic = kShardMagic,
                 int version = 1, int count = -1) {
    std::vector<int32_t> header(256, 0);
    header[0] = magic; header[1] = version; header[2] = count < 0 ? int(tokens.size()) : count;
    std::vector<char> bytes(1024 + 2 * tokens.size());
    std::memcpy(bytes.data(), header.data(), 1024);
    std::memcpy(bytes.data() + 1024, tokens.data(), 2 * tokens.size());
    nograd::testing::write_bytes(path, bytes.data(), bytes.size());
}

// Writes a copy of `source` with header slot `slot` replaced by `value`.
std::string patched_checkpoint(const TempDir& dir, const std::string& source, int slot, int32_t value) {
    auto bytes = nograd::testing::read_bytes(source);
    std::memcpy(bytes.data() + 4 * slot, &value, 4);
    const std::string path = dir.file("patched.bin");
    nograd::testing::write_bytes(path, bytes.data(), bytes.size());
    return path;
}

void check_error_names(const std::function<void()>& fn, const std::string& path, const std::string& needle) {
    try {
        fn();
        FAIL("expected an error mentioning '" << needle << "'");
    } catch (const Error& e) {
        const std::string msg = e.what();
        CAPTURE(msg);
        CHECK(msg.find(path) != std::string::npos);
        CHECK(msg.find(needle) != std::string::npos);
    }
}

}  // namespace

TEST_SUITE("files") {
    TEST_CASE("checkpoint write then read is bit-exact, and the file has llm.c's size") {
        TempDir dir;
        GPT2 model(tiny_config());
        init_gpt2_weights(model, 7);
        save_checkpoint(model, dir.file("m.bin"));
        CHECK(nograd::testing::read_bytes(dir.file("m.bin")).size() == 1024 + 4 * model.params.size());
        GPT2 back = load_checkpoint(dir.file("m.bin"));
        CHECK(back.config.num_layers == 2);
        CHECK(back.config.padded_vocab_size == 128);
        CHECK(std::memcmp(back.params.data(), model.params.data(), 4 * model.params.size()) == 0);
        CHECK(!std::filesystem::exists(dir.file("m.bin.tmp")));
    }

    TEST_CASE("save_checkpoint refuses a NaN and leaves the previous file intact") {
        TempDir dir;
        GPT2 model(tiny_config());
        init_gpt2_weights(model, 7);
        save_checkpoint(model, dir.file("m.bin"));
        const auto before = nograd::testing::read_bytes(dir.file("m.bin"));
        model.params[100] = NAN;
        check_error_names([&] { save_checkpoint(model, dir.file("m.bin")); }, dir.file("m.bin"), "non-finite");
        CHECK(nograd::testing::read_bytes(dir.file("m.bin")) == before);
        CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 1);  // no temp file left
    }

    TEST_CASE("bad checkpoints are rejected with the path, what was expected and what was found") {
        TempDir dir;
        GPT2 model(tiny_config());
        init_gpt2_weights(model, 7);
        const std::string good = dir.file("good.bin");
        save_checkpoint(model, good);
        check_error_names([&] { load_checkpoint(dir.file("missing.bin")); }, dir.file("missing.bin"), "cannot open");
        check_error_names([&] { load_checkpoint(dir.path().string()); }, dir.path().string(), "directory");
        check_error_names([&] { load_checkpoint(patched_checkpoint(dir, good, 0, 1234)); }, "patched.bin", "magic");
        check_error_names([&] { load_checkpoint(patched_checkpoint(dir, good, 1, 4)); }, "patched.bin", "version");
        check_error_names([&] { load_checkpoint(patched_checkpoint(dir, good, 6, 0)); }, "patched.bin", "channels > 0");
        check_error_names([&] { load_checkpoint(patched_checkpoint(dir, good, 5, 3)); }, "patched.bin", "dividing");
        check_error_names([&] { load_checkpoint(patched_checkpoint(dir, good, 7, 49)); }, "patched.bin", "padded_vocab");
        check_error_names([&] { load_checkpoint(patched_checkpoint(dir, good, 4, 3)); }, "patched.bin", "bytes");
        check_error_names([&] { load_checkpoint(patched_checkpoint(dir, good, 4, 1000000)); }, "patched.bin", "expected");
        auto bytes = nograd::testing::read_bytes(good);
        nograd::testing::write_bytes(dir.file("short.bin"), bytes.data(), bytes.size() - 4);
        check_error_names([&] { load_checkpoint(dir.file("short.bin")); }, "short.bin", "bytes");
        bytes.push_back(0);
        nograd::testing::write_bytes(dir.file("long.bin"), bytes.data(), bytes.size());
        check_error_names([&] { load_checkpoint(dir.file("long.bin")); }, "long.bin", "bytes");
        nograd::testing::write_bytes(dir.file("tiny.bin"), bytes.data(), 100);
        check_error_names([&] { load_checkpoint(dir.file("tiny.bin")); }, "tiny.bin", "header");
    }

    TEST_CASE("shards: batches follow llm.c's order across sorted shards") {
        TempDir dir;
        std::vector<uint16_t> a(23), b(10);
        for (int i = 0; i < 23; ++i) a[i] = uint16_t(i);
        for (int i = 0; i < 10; ++i) b[i] = uint16_t(100 + i);
        write_shard(dir.file("d_001.bin"), b);  // sorted by name: d_000 comes first
        write_shard(dir.file("d_000.bin"), a);
        TokenDataset data(dir.file("d_*.bin"), 200);
        // B·T = 6: shard a gives batches at 0, 6, 12 (18+7 > 23 stops), shard b gives one at 0.
        CHECK(data.num_batches(2, 3) == 3 + 1);
        std::vector<int> in(6), tg(6);
        data.read_batch(2, 2, 3, in.data(), tg.data());
        CHECK(in == std::vector<int>{12, 13, 14, 15, 16, 17});
        CHECK(tg == std::vector<int>{13, 14, 15, 16, 17, 18});
        data.read_batch(3, 2, 3, in.data(), tg.data());
        CHECK(in.front() == 100);
        CHECK(tg.back() == 106);
        check_error_names([&] { data.read_batch(4, 2, 3, in.data(), tg.data()); }, "d_*.bin", "only 4 batches");
    }

    TEST_CASE("bad shards are rejected naming the file") {
        TempDir dir;
        write_shard(dir.file("magic.bin"), {1, 2, 3}, 7);
        check_error_names([&] { TokenDataset(dir.file("magic.bin"), 50); }, "magic.bin", "magic");
        write_shard(dir.file("version.bin"), {1, 2, 3}, kShardMagic, 2);
        check_error_names([&] { TokenDataset(dir.file("version.bin"), 50); }, "version.bin", "version 1");
        write_shard(dir.file("count.bin"), {1, 2, 3}, kShardMagic, 1, 4);
        check_error_names([&] { TokenDataset(dir.file("count.bin"), 50); }, "count.bin", "bytes");
        check_error_names([&] { TokenDataset(dir.file("none_*.bin"), 50); }, "none_*.bin", "no token shard");
        write_shard(dir.file("small.bin"), {1, 2, 3, 4, 5, 6});
        check_error_names([&] { TokenDataset(dir.file("small.bin"), 50).num_batches(2, 3); }, "small.bin", "B*T+1");
        write_shard(dir.file("big.bin"), {1, 2, 3, 4, 5, 60, 7});
        TokenDataset big(dir.file("big.bin"), 50);
        std::vector<int> in(6), tg(6);
        check_error_names([&] { big.read_batch(0, 2, 3, in.data(), tg.data()); }, "big.bin", "id 60");
    }
}
