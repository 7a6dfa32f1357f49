// Several processes under mpirun (a build with MPI=1 only): population and data parallelism end with the
// parameters one process gets, bit for bit; resume works across runs; divergence rollbacks replay the same way;
// backprop averages gradients; a process that fails, early or late, stops all of them instead of leaving them
// waiting. Each run goes through `timeout`, so a hang fails the test (status 124) instead of stalling the suite.
#ifdef NOGRAD_MPI
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "model/checkpoint.h"
#include "train_fixture.h"

using namespace nograd;
using namespace nograd::testing;

namespace {

const std::string kModel = kTinyFixture + "model.bin";
constexpr int kVocab = 96;  // the tiny fixture's

// One process per entry of `ranks`, each with its own arguments (mpirun's colon syntax), as CI runs them:
// as root, more processes than cores allowed, one thread each.
CliResult mpirun(const std::vector<std::vector<std::string>>& ranks) {
    std::vector<std::string> command = {"timeout", "-k", "10", "120", "mpirun", "--allow-run-as-root",
                                        "--oversubscribe"};
    for (size_t r = 0; r < ranks.size(); ++r) {
        if (r > 0) command.push_back(":");
        command.insert(command.end(), {"-np", "1", NOGRAD_BINARY});
        command.insert(command.end(), ranks[r].begin(), ranks[r].end());
    }
    return run_command(command, {"OMP_NUM_THREADS=1"});
}

CliResult mpirun(int processes, const std::vector<std::string>& args) {
    return mpirun(std::vector<std::vector<std::string>>(size_t(processes), args));
}

CliResult alone(const std::vector<std::string>& args) { return run_nograd(args, {"OMP_NUM_THREADS=1"}); }

std::vector<std::string> train_args(const TempDir& dir, const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> args = {"train", "--model", kModel, "--train", dir.file("train.bin"), "--batch", "4",
                                     "--seq", "16", "--save", dir.file(out + ".bin"), "--log", dir.file(out + ".jsonl")};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

std::vector<nlohmann::json> records_of_kind(const std::string& log_path, const std::string& kind) {
    std::vector<nlohmann::json> records;
    std::ifstream in(log_path);
    for (std::string line; std::getline(in, line);) {
        nlohmann::json record = nlohmann::json::parse(line);
        if (record["kind"] == kind) records.push_back(record);
    }
    return records;
}

std::vector<nlohmann::json> step_records(const std::string& log_path) { return records_of_kind(log_path, "step"); }

bool same_file(const std::string& a, const std::string& b) {
    const std::vector<char> x = read_bytes(a), y = read_bytes(b);
    return !x.empty() && x == y;
}

size_t count_of(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

// Runs `extra` on one process and on `processes`; both must succeed, print their summary once, and save
// the same checkpoint bytes. Returns the multi-process run's step records.
std::vector<nlohmann::json> check_same_as_one_process(const TempDir& dir, int processes,
                                                      const std::vector<std::string>& extra) {
    const CliResult one = alone(train_args(dir, "one", extra));
    const CliResult many = mpirun(processes, train_args(dir, "many", extra));
    CAPTURE(one.err);
    CAPTURE(many.err);
    REQUIRE(one.status == 0);
    REQUIRE(many.status == 0);
    CHECK(count_of(many.out, "steps ") == 1);  // only rank 0 prints
    CHECK(same_file(dir.file("one.bin"), dir.file("many.bin")));
    return step_records(dir.file("many.jsonl"));
}

}  // namespace

TEST_SUITE("mpi") {
    TEST_CASE("population: spsa --samples 4, es and random on 2 and 3 processes end bit-identical to 1") {
        TempDir dir;
        write_token_shard(dir.file("train.bin"), 4000, kVocab);
        const std::vector<std::vector<std::string>> methods = {
            {"--optimizer", "spsa", "--samples", "4"}, {"--optimizer", "es"}, {"--optimizer", "random", "--population", "3"}};
        for (const int processes : {2, 3}) {
            for (std::vector<std::string> extra : methods) {
                CAPTURE(processes);
                CAPTURE(extra[1]);
                extra.insert(extra.end(), {"--steps", "5"});
                const std::vector<nlohmann::json> steps = check_same_as_one_process(dir, processes, extra);
                REQUIRE(steps.size() == 5);
                for (const nlohmann::json& step : steps) {
                    CHECK(step["ranks"] == processes);
                    // Scalars only: each process's block of losses (8 bytes each) to each other process,
                    // and the 8-byte stop flag.
                    CHECK(step["bytes_sent"].get<int>() > 8);
                    CHECK(step["bytes_sent"].get<int>() < 1024);
                }
            }
        }
    }

    TEST_CASE("data parallelism: spsa --data-parallel, es --data-parallel and newton equal 1 process on the whole batch") {
        TempDir dir;
        write_token_shard(dir.file("train.bin"), 4000, kVocab);
        const std::vector<std::vector<std::string>> methods = {{"--optimizer", "spsa", "--samples", "2", "--data-parallel"},
                                                               {"--optimizer", "es", "--pairs", "2", "--data-parallel"},
                                                               {"--optimizer", "newton"}};
        for (std::vector<std::string> extra : methods) {
            CAPTURE(extra[1]);
            extra.insert(extra.end(), {"--steps", "4"});
            const std::vector<nlohmann::json> steps = check_same_as_one_process(dir, 2, extra);
            REQUIRE(steps.size() == 4);
            // Per forward pass, each process sends its 2 sequences' loss sums (8 bytes each) to the other,
            // plus (counted from step 2 on) the 8-byte stop flag exchanged after the previous step.
            double forward_passes = 0;
            for (const nlohmann::json& step : steps) {
                const double step_passes = step["forward_passes"].get<double>() - forward_passes;
                forward_passes = step["forward_passes"];
                CHECK(step["ranks"] == 2);
                CHECK(step["bytes_sent"] == step_passes * 16 + (step["step"] == 1 ? 0 : 8));
            }
        }
    }

    TEST_CASE("resume: a run saved by 2 processes continues on 3 bit-identically to one uninterrupted process") {
        TempDir dir;
        write_token_shard(dir.file("train.bin"), 4000, kVocab);
        const std::vector<std::string> method = {"--optimizer", "spsa", "--samples", "3", "--momentum", "0.5"};
        std::vector<std::string> straight = method, first = method;
        straight.insert(straight.end(), {"--steps", "6"});
        first.insert(first.end(), {"--steps", "3"});
        REQUIRE(alone(train_args(dir, "one", straight)).status == 0);
        REQUIRE(mpirun(2, train_args(dir, "many", first)).status == 0);
        std::vector<std::string> resumed = {"train", "--resume", dir.file("many.state"), "--train", dir.file("train.bin"),
                                            "--batch", "4", "--seq", "16", "--steps", "6"};
        resumed.insert(resumed.end(), method.begin(), method.end());
        const CliResult r = mpirun(3, resumed);  // another process count: the bits do not depend on it
        CAPTURE(r.err);
        REQUIRE(r.status == 0);
        CHECK(same_file(dir.file("one.bin"), dir.file("many.bin")));
    }

    TEST_CASE("divergence: rollback on 2 and 3 processes replays the 1-process run; a stop ends all with its error") {
        TempDir dir;
        write_token_shard(dir.file("train.bin"), 4000, kVocab);
        // SPSA at lr 0.5 with seed 4 blows up in several updates and rolls back 6 times, every pair saved. The
        // last rollback goes to the older pair (OUT.prev): step 4's own loss, at the parameters saved after
        // step 3, diverged, so it returns to step 2.
        const std::vector<std::string> rollback = {"--optimizer", "spsa", "--samples", "4", "--lr", "0.5", "--seed",
                                                   "4", "--steps", "12", "--save-every", "1", "--on-divergence",
                                                   "rollback", "--max-rollbacks", "6"};
        for (const int processes : {2, 3}) {
            CAPTURE(processes);
            check_same_as_one_process(dir, processes, rollback);
            const std::vector<nlohmann::json> one = records_of_kind(dir.file("one.jsonl"), "rollback");
            const auto to_older_pair = [](const nlohmann::json& r) { return r["to_step"] == r["step"].get<int>() - 2; };
            CHECK(std::any_of(one.begin(), one.end(), to_older_pair));
            CHECK(records_of_kind(dir.file("many.jsonl"), "rollback") == one);
        }
        std::vector<std::string> data_parallel = rollback;
        data_parallel.push_back("--data-parallel");
        check_same_as_one_process(dir, 2, data_parallel);
        CHECK(!records_of_kind(dir.file("many.jsonl"), "rollback").empty());

        // Without rollback every process stops at the same step with the one-process message and status,
        // not through MPI_Abort.
        const std::vector<std::string> stop = {"--optimizer", "spsa", "--samples", "4", "--lr", "10", "--steps", "10"};
        const CliResult alone_stop = alone(train_args(dir, "one-stop", stop));
        const CliResult many_stop = mpirun(2, train_args(dir, "many-stop", stop));
        CAPTURE(alone_stop.err);
        CAPTURE(many_stop.err);
        REQUIRE(alone_stop.status == 1);
        CHECK(many_stop.status == 1);
        const size_t at = alone_stop.err.find("nograd train: step ");
        REQUIRE(at != std::string::npos);
        const std::string message = alone_stop.err.substr(at, alone_stop.err.find('\n', at) - at);
        CHECK(message.find("the loss") != std::string::npos);
        CHECK(count_of(many_stop.err, message) == 2);  // each process ends with it
        CHECK(many_stop.err.find("MPI_ABORT") == std::string::npos);
        CHECK(!file_exists(dir.file("many-stop.bin")));
    }

    TEST_CASE("backprop on 2 processes: the 1-process loss, averaged gradients, the allreduce's bytes in the log") {
        TempDir dir;
        write_token_shard(dir.file("train.bin"), 4000, kVocab);
        for (const std::string method : {"sgd", "adamw"}) {
            CAPTURE(method);
            const std::vector<std::string> extra = {"--optimizer", method, "--steps", "3", "--json"};
            const CliResult one = alone(train_args(dir, "one", extra));
            const CliResult many = mpirun(2, train_args(dir, "many", extra));
            CAPTURE(many.err);
            REQUIRE(one.status == 0);
            REQUIRE(many.status == 0);
            const std::vector<nlohmann::json> first = step_records(dir.file("one.jsonl"));
            const std::vector<nlohmann::json> second = step_records(dir.file("many.jsonl"));
            REQUIRE(second.size() == 3);
            CHECK(first[0]["loss"] == second[0]["loss"]);  // same parameters, loss reduced by sequence
            // Ring allreduce of the N trained floats: 2(K−1)/K · 4N = 4N bytes for K = 2; plus the gathered
            // loss sums (16) and, from step 2 on, the stop flag (8).
            const double trained = nlohmann::json::parse(last_line(many.out))["trained_parameters"];
            CHECK(second[0]["bytes_sent"] == 4 * trained + 16);
            CHECK(second[1]["bytes_sent"] == 4 * trained + 16 + 8);
            if (method != "sgd") continue;
            // The averaged gradient is the whole batch's up to summation order, so SGD lands within rounding.
            const GPT2 a = load_checkpoint(dir.file("one.bin")), b = load_checkpoint(dir.file("many.bin"));
            CHECK(worst_error(a.params.data(), b.params.data(), a.params.size(), 1e-6, 1e-5) <= 1.0);
        }
    }

    TEST_CASE("a process that fails to load its data, or holds other parameters, stops every process with an error") {
        TempDir dir;
        write_token_shard(dir.file("train.bin"), 4000, kVocab);
        const std::vector<std::string> good = train_args(dir, "run", {"--optimizer", "spsa", "--steps", "2"});
        std::vector<std::string> missing = good;
        missing[4] = dir.file("nothing-here-*.bin");  // --train
        const CliResult no_data = mpirun({good, missing});
        CAPTURE(no_data.err);
        CHECK(no_data.status == 1);  // not 124: nobody hung
        CHECK(no_data.err.find("rank 1 of 2: " + missing[4]) != std::string::npos);
        CHECK(no_data.err.find("process rank 1 of 2 failed to set up") != std::string::npos);
        CHECK(!file_exists(dir.file("run.bin")));

        std::vector<std::string> other_model = {"train", "--init-layers", "2", "--init-heads", "4", "--init-channels",
                                                "32", "--init-vocab", "96", "--init-max-seq", "16"};
        other_model.insert(other_model.end(), good.begin() + 3, good.end());  // everything after --model M
        const CliResult mismatch = mpirun({good, other_model});
        CAPTURE(mismatch.err);
        CHECK(mismatch.status == 1);
        CHECK(mismatch.err.find("process rank 1 holds different parameters than rank 0") != std::string::npos);
    }

    TEST_CASE("an error on one process after setup ends every process (MPI_Abort) instead of a hang") {
        TempDir dir;
        write_token_shard(dir.file("train.bin"), 4000, kVocab);
        std::vector<std::string> args = train_args(dir, "run", {"--optimizer", "spsa", "--steps", "50"});
        args[12] = "/dev/full";  // --log: rank 0 fails at its first write, rank 1 is already in the first step
        const CliResult r = mpirun(2, args);
        CAPTURE(r.err);
        CHECK(r.status != 0);
        CHECK(r.status != 124);
        CHECK(r.err.find("nograd train (rank 0 of 2): --log /dev/full") != std::string::npos);
    }
}

#endif  // NOGRAD_MPI
