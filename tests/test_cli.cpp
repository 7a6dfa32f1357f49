// The command line as a user meets it: exit statuses (0 ok, 1 runtime/file error, 2 usage error),
// messages that name the flag or file, --json as the last line, and peak memory per mode.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "train_fixture.h"

using namespace nograd::testing;

namespace {

const std::string kModel = kTinyFixture + "model.bin", kTokens = kTinyFixture + "tokens.bin";

void check_fails(const std::vector<std::string>& args, int status, const std::string& needle) {
    const CliResult r = run_nograd(args);
    CAPTURE(r.err);
    CHECK(r.status == status);
    CHECK(r.err.find(needle) != std::string::npos);
    CHECK(r.out.empty());
}

}  // namespace

TEST_SUITE("cli") {
    TEST_CASE("commands and flags: help, unknown, malformed, missing") {
        CHECK(run_nograd({}).status == 2);
        CHECK(run_nograd({"--help"}).status == 0);
        check_fails({"frobnicate"}, 2, "unknown command");
        const CliResult help = run_nograd({"eval", "--help"});
        CHECK(help.status == 0);
        CHECK(help.out.find("--batches K") != std::string::npos);
        CHECK(help.out.find("(default: 1)") != std::string::npos);
        check_fails({"eval", "--data", kTokens, "--batch", "2", "--seq", "8"}, 2, "--model");
        check_fails({"eval", "--model", kModel, "--data", kTokens, "--batch", "2", "--seq", "8", "--bogus"}, 2, "--bogus");
        check_fails({"eval", "--model", kModel, "--data", kTokens, "--batch", "two", "--seq", "8"}, 2, "--batch");
        check_fails({"eval", "--model", kModel, "--data", kTokens, "--batch", "0", "--seq", "8"}, 2, "--batch");
        check_fails({"eval", "--model", kModel, "--data", kTokens, "--batch", "2", "--seq"}, 2, "--seq");
        check_fails({"eval", "--model", kModel, "--data", kTokens, "--batch", " 2", "--seq", "8"}, 2, "--batch");
        check_fails({"eval", "--model", "--json", "--data", kTokens, "--batch", "2", "--seq", "8"}, 2,
                    "--model needs a value (M.bin), found the flag --json");
        check_fails({"eval", "--model", kModel, "--data", kTokens, "--batch", "2", "--seq", "8", "--threads", "0"}, 2,
                    "--threads");
        check_fails({"eval", "--model", kModel, "--data", kTokens, "--batch", "2", "--seq", "8", "--batch", "2"}, 2,
                    "twice");
        check_fails({"init", "--preset", "d13", "--out", "/tmp/x.bin"}, 2, "--preset");
        check_fails({"init", "--layers", "2", "--heads", "5", "--channels", "32", "--out", "/tmp/x.bin"}, 2, "dividing");
        check_fails({"train", "--model", kModel, "--train", kTokens, "--optimizer", "magic", "--steps", "1"}, 2,
                    "--optimizer");
        check_fails({"train", "--model", kModel, "--train", kTokens, "--optimizer", "spsa", "--steps", "1",
                     "--batch", "2", "--seq", "8", "--params", "wings"}, 2, "--params");
        check_fails({"train", "--model", kModel, "--train", kTokens, "--optimizer", "spsa", "--steps", "1",
                     "--batch", "2", "--seq", "8", "--lr", "nan"}, 2, "--lr");
        check_fails({"bench", "--full", "--tiny"}, 2, "--tiny");
        check_fails({"bench", "--extras", "--full"}, 2, "--extras");
        check_fails({"bench", "--child-memory", "sgd", "--child-case", "micro,2,8"}, 2, "--child-memory");
        check_fails({"bench", "--child-memory", "spsa", "--child-case", "micro,2"}, 2, "--child-case");
    }

    TEST_CASE("file and data problems exit 1 naming the file") {
        check_fails({"eval", "--model", "/nonexistent/m.bin", "--data", kTokens, "--batch", "2", "--seq", "8"}, 1,
                    "/nonexistent/m.bin");
        check_fails({"eval", "--model", kTokens, "--data", kTokens, "--batch", "2", "--seq", "8"}, 1, "magic");
        check_fails({"eval", "--model", kModel, "--data", "/nonexistent/*.bin", "--batch", "2", "--seq", "8"}, 1,
                    "no token shard");
        check_fails({"eval", "--model", kModel, "--data", kTokens, "--batch", "4", "--seq", "8"}, 1, "B*T+1");
        check_fails({"eval", "--model", kModel, "--data", kTokens, "--batch", "2", "--seq", "8", "--batches", "2"}, 1,
                    "only 1");
        check_fails({"eval", "--model", kModel, "--data", kTokens, "--batch", "1", "--seq", "17"}, 2, "max_seq_len");
        check_fails({"train", "--model", kModel, "--train", kTokens, "--optimizer", "spsa", "--steps", "1",
                     "--batch", "2", "--seq", "8", "--save", "/nonexistent/dir/out.bin"}, 1, "--save");
    }

    TEST_CASE("eval prints the loss, and with --json one JSON object as the last line") {
        const CliResult plain = run_nograd({"eval", "--model", kModel, "--data", kTokens, "--batch", "2", "--seq", "8"});
        REQUIRE(plain.status == 0);
        // PyTorch's loss on this batch (the fixture), against the six decimals eval prints.
        const double expected = tiny_fixture_meta()["loss"];
        const std::string line = last_line(plain.out);
        REQUIRE(line.rfind("loss ", 0) == 0);
        CHECK(std::abs(std::stod(line.substr(5)) - expected) < 2e-6);
        const CliResult json = run_nograd({"eval", "--model", kModel, "--data", kTokens, "--batch", "2", "--seq", "8",
                                           "--json", "--threads", "1"});
        REQUIRE(json.status == 0);
        const auto j = nlohmann::json::parse(last_line(json.out));
        CHECK(std::abs(double(j["loss"]) - expected) < 1e-5);
        CHECK(j["tokens"] == 16);
        CHECK(double(j["seconds"]) > 0);
        CHECK(double(j["tokens_per_second"]) == doctest::Approx(16.0 / double(j["seconds"])));
    }

    TEST_CASE("train --optimizer sgd --lr 1 --steps 1 moves every parameter by minus PyTorch's gradient") {
        TempDir dir;
        const CliResult r = run_nograd({"train", "--model", kModel, "--train", kTokens, "--batch", "2", "--seq", "8",
                                        "--optimizer", "sgd", "--lr", "1", "--steps", "1", "--no-shuffle",
                                        "--save", dir.file("after.bin")});
        CAPTURE(r.err);
        REQUIRE(r.status == 0);
        const auto before = read_bytes(kModel), after = read_bytes(dir.file("after.bin"));
        REQUIRE(before.size() == after.size());
        const size_t header = 256 * sizeof(int32_t), count = (before.size() - header) / sizeof(float);
        const auto expected = read_floats(kTinyFixture + "grads.bin", count);
        std::vector<float> moved(count);
        for (size_t i = 0; i < count; ++i) {
            float b, a;
            std::memcpy(&b, before.data() + header + 4 * i, 4);
            std::memcpy(&a, after.data() + header + 4 * i, 4);
            moved[i] = b - a;
        }
        // θ − θ' = 1·g; the subtraction adds the rounding of θ' (|θ| ≤ ~1, so ~6e-8) to fp32 backward's error.
        CHECK(worst_error(moved.data(), expected.data(), count, 2e-6, 1e-4) <= 1.0);
    }

    TEST_CASE("train --json summarises the run; --resume of a finished run with more steps continues it") {
        TempDir dir;
        const std::vector<std::string> common = {"train", "--model", kModel, "--train", kTokens, "--batch", "2", "--seq", "8",
                                                 "--optimizer", "spsa", "--json"};
        auto args = common;
        args.insert(args.end(), {"--steps", "3", "--save", dir.file("a.bin"), "--log", dir.file("a.jsonl")});
        const CliResult r = run_nograd(args);
        REQUIRE(r.status == 0);
        const auto j = nlohmann::json::parse(last_line(r.out));
        CHECK(j["steps"] == 3);
        CHECK(j["forward_passes"] == 6.0);
        const CliResult more = run_nograd({"train", "--resume", dir.file("a.state"), "--train", kTokens, "--batch", "2",
                                           "--seq", "8", "--optimizer", "spsa", "--steps", "5", "--json"});
        CAPTURE(more.err);
        REQUIRE(more.status == 0);
        CHECK(nlohmann::json::parse(last_line(more.out))["steps"] == 5);
        const CliResult changed = run_nograd({"train", "--resume", dir.file("a.state"), "--train", kTokens, "--batch",
                                              "2", "--seq", "8", "--optimizer", "newton", "--steps", "7"});
        CHECK(changed.status == 2);
        CHECK(changed.err.find("optimizer") != std::string::npos);
    }

    TEST_CASE("train --max-forward-passes stops at the budget, and the progress counts steps to it") {
        // spsa spends 2 forward passes a step: a budget of 40 ends at step 20 of the million asked for.
        const CliResult r = run_nograd({"train", "--model", kModel, "--train", kTokens, "--batch", "2", "--seq", "8",
                                        "--optimizer", "spsa", "--steps", "1000000", "--max-forward-passes", "40",
                                        "--json"});
        CAPTURE(r.err);
        REQUIRE(r.status == 0);
        const auto j = nlohmann::json::parse(last_line(r.out));
        CHECK(j["steps"] == 20);
        CHECK(j["forward_passes"] == 40.0);
        CHECK(r.err.find("step     1/20 ") != std::string::npos);
        CHECK(r.err.find("step    20/20 ") != std::string::npos);
        CHECK(r.err.find("/1000000") == std::string::npos);
    }

    TEST_CASE("memory: a zeroth-order step needs inference memory; newton adds one vector" *
              doctest::skip(kUnderAddressSanitizer)) {
        // Deep but narrow (128 layers of 64 channels, vocab 512: 6.3M parameters, 25 MB), so parameters
        // dominate the process's footprint while each forward pass stays cheap. (At 64 layers the ~0.7 MB of
        // the lockstep's two points, copy buffers and logits chunks took spsa to 1.09–1.10 × eval.)
        TempDir dir;
        const std::string model = dir.file("m.bin"), data = dir.file("d.bin");
        REQUIRE(run_nograd({"init", "--layers", "128", "--heads", "4", "--channels", "64", "--vocab", "512",
                            "--max-seq", "64", "--out", model}).status == 0);
        write_token_shard(data, 4000, 512);
        const std::vector<std::string> shape = {"--batch", "2", "--seq", "32"};
        auto with = [&](std::vector<std::string> args) { args.insert(args.end(), shape.begin(), shape.end()); return args; };
        const CliResult eval = run_nograd(with({"eval", "--model", model, "--data", data}));
        const CliResult spsa = run_nograd(with({"train", "--model", model, "--train", data, "--optimizer", "spsa", "--steps", "2"}));
        const CliResult newton = run_nograd(with({"train", "--model", model, "--train", data, "--optimizer", "newton", "--steps", "2"}));
        REQUIRE(eval.status == 0);
        REQUIRE(spsa.status == 0);
        REQUIRE(newton.status == 0);
        const double params_kb = double(read_bytes(model).size() - 1024) / 1024;
        MESSAGE("peak RSS kB: eval " << eval.peak_rss_kb << ", spsa " << spsa.peak_rss_kb << ", newton " << newton.peak_rss_kb);
        CHECK(spsa.peak_rss_kb < 1.10 * eval.peak_rss_kb);
        CHECK(newton.peak_rss_kb > spsa.peak_rss_kb + 0.8 * params_kb);  // H is (almost) parameter-sized
        CHECK(newton.peak_rss_kb < spsa.peak_rss_kb + 1.15 * params_kb);
    }
}
