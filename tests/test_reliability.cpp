// Reliability: inputs that once crashed or over-allocated (regressions from fuzzing), runs that are killed,
// interrupted or cannot write, resume pairs that do not belong together, the divergence guard, and the
// range checks of every numeric flag of eval/train/init/tokenize. The processes are the real binary.
#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <span>
#include <sys/resource.h>
#include <sys/stat.h>

#include "cli_runner.h"
#include "data/tokenizer.h"
#include "data/tokenizer_bin.h"
#include "model/checkpoint.h"
#include "train/train_state.h"
#include "train_fixture.h"
#include "util/checksum.h"
#include "util/error.h"
#include "util/file.h"

using namespace nograd;
using namespace nograd::testing;

namespace {

const std::string kModel = kTinyFixture + "model.bin", kTokens = kTinyFixture + "tokens.bin";

// A nograd process left running while the test acts on it (run_nograd waits for the end).
struct Background {
    pid_t pid = -1;
    int status = -1;  // known once reaped
    std::string err_path;

    // Starts NOGRAD_BINARY with stdout/stderr to files in `dir`; file_size_limit > 0 caps the size of any
    // file it writes (RLIMIT_FSIZE, with SIGXFSZ ignored so a write beyond it fails with EFBIG as on a
    // full disk).
    Background(const std::vector<std::string>& args, const TempDir& dir, rlim_t file_size_limit = 0)
        : err_path(dir.file("background.err")) {
        const std::string out_path = dir.file("background.out");
        pid = fork();
        if (pid != 0) return;
        dup2(open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 1);
        dup2(open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
        if (file_size_limit > 0) {
            std::signal(SIGXFSZ, SIG_IGN);
            const struct rlimit limit = {file_size_limit, file_size_limit};
            setrlimit(RLIMIT_FSIZE, &limit);
        }
        std::vector<char*> argv = {const_cast<char*>(NOGRAD_BINARY)};
        for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    // False once the process has ended (it is reaped then, and wait() returns its status).
    bool running() {
        if (status >= 0) return false;
        int wstatus = 0;
        if (waitpid(pid, &wstatus, WNOHANG) != pid) return true;
        status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
        return false;
    }
    // Exit status; 128 + the signal number when killed by one.
    int wait() {
        if (status >= 0) return status;
        int wstatus = 0;
        waitpid(pid, &wstatus, 0);
        return status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    }
    std::string err() const {
        const auto bytes = read_bytes(err_path);
        return {bytes.begin(), bytes.end()};
    }
};

void check_fails(const std::vector<std::string>& args, int status, const std::string& needle) {
    const CliResult r = run_nograd(args);
    CAPTURE(args);
    CAPTURE(r.err);
    CHECK(r.status == status);
    CHECK(r.err.find(needle) != std::string::npos);
}

template <class T>
std::vector<T> operator+(std::vector<T> a, const std::vector<T>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

size_t count_lines_with(const std::string& path, const std::string& needle) {
    std::ifstream in(path);
    size_t n = 0;
    for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
    return n;
}

// A model whose save (0.5 MB of parameters, 1.6 MB with AdamW's state) takes long enough to be caught in the
// middle, and a shard for it.
struct SaveScenario {
    TempDir dir;
    std::string model = dir.file("m.bin"), data = dir.file("d.bin");
    SaveScenario() {
        REQUIRE(run_nograd({"init", "--layers", "2", "--heads", "4", "--channels", "64", "--vocab", "512", "--max-seq",
                            "32", "--out", model}).status == 0);
        write_token_shard(data, 20000, 512);
    }
    std::vector<std::string> train(const std::string& steps) const {
        return {"train", "--train", data, "--optimizer", "adamw", "--steps", steps, "--batch", "2", "--seq", "16",
                "--threads", "1"};
    }
};

// Starts a run that saves every step and SIGKILLs it once a pair exists and the next save has opened its
// temporary file. Returns true when the kill landed before that save renamed anything (its temporary
// checkpoint is still there); a kill that raced past the rename is retried by the caller.
bool kill_during_save(const SaveScenario& s, const std::string& out) {
    std::remove(out.c_str());
    std::remove(state_path_for(out).c_str());
    Background run(s.train("60") + std::vector<std::string>{"--model", s.model, "--save", out, "--save-every", "1"},
                   s.dir);
    const std::string temp = out + ".tmp" + std::to_string(run.pid);
    while (!(file_exists(state_path_for(out)) && file_exists(temp))) {
        if (!run.running()) return false;
        usleep(20);
    }
    kill(run.pid, SIGKILL);
    return run.wait() == 128 + SIGKILL && file_exists(temp);
}

// Writes a training state like `state` with `meta` changed, with a correct checksum (a crafted file).
void write_state_like(const std::string& path, const TrainState& state, const nlohmann::json& meta) {
    std::vector<std::vector<float>> vectors = state.vectors;
    std::vector<std::span<float>> spans(vectors.begin(), vectors.end());
    AtomicOutputFile out(path);
    write_train_state(out, meta, spans);
    out.commit();
}

}  // namespace

TEST_SUITE("reliability") {
    // ---- regressions found by fuzzing (tests/fuzz/) ----

    TEST_CASE("gpt2_tokenizer.bin: a token count the file cannot hold is refused before allocating") {
        TempDir dir;
        std::vector<uint32_t> header(256, 0);
        header[0] = 20240328; header[1] = 2; header[2] = 1u << 24; header[3] = 0;  // 2^24 tokens claimed
        std::vector<char> bytes(1024);
        std::memcpy(bytes.data(), header.data(), 1024);
        bytes.push_back(1);
        bytes.push_back('a');
        write_bytes(dir.file("tok.bin"), bytes.data(), bytes.size());
        // Before the fix this reserved 2^24 strings (512 MB) first; now the size check comes first.
        CHECK_THROWS_WITH_AS(DecodeTokenizer::load(dir.file("tok.bin")),
                             doctest::Contains("16777216 tokens (at least 33554432 bytes"), Error);
    }

    TEST_CASE("encoder.json: a deeply nested id is an error naming the file, not a stack overflow") {
        TempDir dir;
        const size_t depth = 1'000'000;  // printing it in the message once recursed once per level
        {
            std::ofstream json(dir.file("encoder.json"));
            json << "{\"a\": " << std::string(depth, '[') << std::string(depth, ']') << "}";
            std::ofstream(dir.file("vocab.bpe")) << "#version: 0.2\n";
        }
        CHECK_THROWS_WITH_AS(Gpt2Tokenizer::load(dir.path().string()),
                             doctest::Contains("encoder.json: expected distinct integer ids 0..0, found id an array"),
                             Error);
    }

    TEST_CASE("training state: a crafted step (huge, negative, not a number) or deep JSON is refused") {
        TempDir dir;
        write_token_shard(dir.file("train.bin"), 2000, 64);
        auto settings = [&] {
            TrainSettings s = quiet_settings(2, false);
            s.schedule.lr = 1e-3;
            return s;
        };
        auto run = [&](GPT2& model, TrainSettings s) {
            const ParameterSubset subset = select_parameters("all", model.table, model.config, s.seq);
            OptimizerChoice choice = make_optimizer("spsa", optimizer_flags({}), s.seed, subset.size());
            TokenDataset data(dir.file("train.bin"), 64);
            Communicator alone = Communicator::single_process();
            return train(model, *choice.optimizer, data, nullptr, subset, s, alone);
        };
        TrainSettings first = settings();
        first.save_path = dir.file("run.bin");
        GPT2 model = small_model();
        run(model, first);
        const TrainState state = load_train_state(dir.file("run.state"));
        // A JSON step of 1e300 was converted to long (undefined behaviour); -1e11 trained for ~10^11 steps.
        for (const nlohmann::json& step : {nlohmann::json(1e300), nlohmann::json(-100000000000LL), nlohmann::json("2"),
                                           nlohmann::json(2.5)}) {
            CAPTURE(step.dump());
            nlohmann::json meta = state.meta;
            meta["step"] = step;
            write_state_like(dir.file("bad.state"), state, meta);
            GPT2 resumed = load_checkpoint(dir.file("run.bin"));
            TrainSettings s = settings();
            s.resume_path = dir.file("bad.state");
            s.steps = 4;
            CHECK_THROWS_WITH_AS(run(resumed, s), doctest::Contains("expected a step count from 0 to 2^40"), Error);
        }
        nlohmann::json deep = 1;
        for (int i = 0; i < 100; ++i) deep = nlohmann::json::array({deep});
        nlohmann::json meta = state.meta;
        meta["settings"]["batch"] = deep;
        write_state_like(dir.file("deep.state"), state, meta);
        CHECK_THROWS_WITH_AS(load_train_state(dir.file("deep.state")), doctest::Contains("JSON nested at most"), Error);
    }

    // ---- runs that die, are interrupted, or cannot write ----

    TEST_CASE("SIGKILL during a save leaves the previous pair, and --resume continues bit-exactly") {
        const SaveScenario s;
        const std::string full = s.dir.file("full.bin"), out = s.dir.file("x.bin");
        REQUIRE(run_nograd(s.train("60") + std::vector<std::string>{"--model", s.model, "--save", full}).status == 0);
        bool killed_mid_save = false;
        for (int attempt = 0; attempt < 5 && !killed_mid_save; ++attempt) killed_mid_save = kill_during_save(s, out);
        REQUIRE(killed_mid_save);
        // The pair on disk is complete and belongs together.
        const GPT2 saved = load_checkpoint(out);
        const TrainState state = load_train_state(state_path_for(out));
        CHECK(state.meta["model_checksum"] == checksum64(saved.params.data(), saved.params.size() * 4));
        const long step = state.meta["step"];
        MESSAGE("killed while saving step " << step + 1 << " of 60");
        CHECK(step >= 1);
        CHECK(step < 60);
        const CliResult resumed = run_nograd(s.train("60") + std::vector<std::string>{"--resume", state_path_for(out)});
        CAPTURE(resumed.err);
        REQUIRE(resumed.status == 0);
        CHECK(read_bytes(out) == read_bytes(full));
        const TrainState a = load_train_state(state_path_for(out)), b = load_train_state(state_path_for(full));
        CHECK(a.meta["step"] == 60);
        CHECK(a.vectors == b.vectors);  // AdamW's m and v, bit for bit
    }

    TEST_CASE("a save killed between its two renames is completed by --resume, which continues bit-exactly") {
        const SaveScenario s;
        const std::string full = s.dir.file("full.bin"), out = s.dir.file("x.bin"), next = s.dir.file("y.bin");
        REQUIRE(run_nograd(s.train("6") + std::vector<std::string>{"--model", s.model, "--save", full}).status == 0);
        REQUIRE(run_nograd(s.train("3") + std::vector<std::string>{"--model", s.model, "--save", out}).status == 0);
        // The step-4 pair, made by continuing a copy of the step-3 pair.
        for (const auto& [from, to] : {std::pair{out, next}, std::pair{state_path_for(out), state_path_for(next)}}) {
            const auto bytes = read_bytes(from);
            write_bytes(to, bytes.data(), bytes.size());
        }
        REQUIRE(run_nograd(s.train("4") + std::vector<std::string>{"--resume", state_path_for(next)}).status == 0);
        // What a kill between the renames of step 4's save leaves: the new checkpoint in place, the old state,
        // and the new state in the temporary file of a writer that no longer runs (pid 99999999 cannot exist).
        const auto new_model = read_bytes(next), new_state = read_bytes(state_path_for(next));
        write_bytes(out, new_model.data(), new_model.size());
        write_bytes(state_path_for(out) + ".tmp99999999", new_state.data(), new_state.size());
        const CliResult resumed = run_nograd(s.train("6") + std::vector<std::string>{"--resume", state_path_for(out)});
        CAPTURE(resumed.err);
        REQUIRE(resumed.status == 0);
        CHECK(resumed.err.find("completed a save that was interrupted") != std::string::npos);
        CHECK(read_bytes(out) == read_bytes(full));
        CHECK(!file_exists(state_path_for(out) + ".tmp99999999"));
        // A leftover that does not belong to the checkpoint is not taken: the mismatch is reported.
        write_bytes(out, new_model.data(), new_model.size());
        const auto old_state = read_bytes(state_path_for(full));
        write_bytes(state_path_for(out) + ".tmp99999999", old_state.data(), old_state.size());
        check_fails(s.train("6") + std::vector<std::string>{"--resume", state_path_for(out)}, 1, "checksum mismatch");
    }

    TEST_CASE("SIGINT or SIGTERM: the step finishes, the pair is saved, and the message says how to resume") {
        const SaveScenario s;
        for (const int signal : {SIGINT, SIGTERM}) {
            CAPTURE(signal);
            const std::string out = s.dir.file("run.bin"), log = s.dir.file("run.jsonl");
            std::remove(log.c_str());
            Background run({"train", "--model", s.model, "--train", s.data, "--optimizer", "spsa", "--steps", "1000000",
                            "--batch", "2", "--seq", "16", "--save", out, "--log", log, "--threads", "1"},
                           s.dir);
            while (count_lines_with(log, "\"kind\":\"step\"") < 3 && run.running()) usleep(1000);
            kill(run.pid, signal);
            REQUIRE(run.wait() == 0);
            const std::string err = run.err();
            CAPTURE(err);
            const size_t at = err.find("interrupted after step ");
            REQUIRE(at != std::string::npos);
            const long step = std::stol(err.substr(at + 23));
            CHECK(err.find("continue with --resume " + state_path_for(out)) != std::string::npos);
            const TrainState state = load_train_state(state_path_for(out));
            CHECK(state.meta["step"] == step);
            CHECK(count_lines_with(log, "\"kind\":\"step\"") == size_t(step));  // every started step finished
            const CliResult more = run_nograd({"train", "--resume", state_path_for(out), "--train", s.data, "--optimizer",
                                               "spsa", "--steps", std::to_string(step + 2), "--batch", "2", "--seq",
                                               "16", "--threads", "1"});
            CAPTURE(more.err);
            CHECK(more.status == 0);
            CHECK(more.out.find("steps " + std::to_string(step + 2)) == 0);
        }
    }

    TEST_CASE("an unwritable --save is reported before training, and leaves no file") {
        TempDir dir;
        write_bytes(dir.file("not_a_folder"), "x", 1);
        for (const std::string& save : {dir.file("missing/out.bin"), dir.file("not_a_folder/out.bin")}) {
            CAPTURE(save);
            const CliResult r = run_nograd({"train", "--model", kModel, "--train", kTokens, "--optimizer", "spsa",
                                            "--steps", "3", "--batch", "2", "--seq", "8", "--save", save, "--log",
                                            dir.file("run.jsonl")});
            CHECK(r.status == 1);
            CHECK(r.err.find("--save " + save) != std::string::npos);
            CHECK(r.err.find("step") == std::string::npos);  // no step ran
            CHECK(!file_exists(dir.file("run.jsonl")));      // nothing was opened for the run
        }
        // Nothing but the file we made is in the folder.
        size_t entries = 0;
        for (const auto& e : std::filesystem::directory_iterator(dir.path())) entries += e.path().filename() != "not_a_folder";
        CHECK(entries == 0);
    }

    TEST_CASE("a write that fails (full disk) keeps the previous pair and leaves no temporary file") {
        const SaveScenario s;
        const std::string out = s.dir.file("x.bin");
        REQUIRE(run_nograd(s.train("2") + std::vector<std::string>{"--model", s.model, "--save", out}).status == 0);
        const std::vector<char> model_before = read_bytes(out), state_before = read_bytes(state_path_for(out));
        // Files may grow to 100 kB only: the 0.5 MB checkpoint cannot be written.
        Background run(s.train("4") + std::vector<std::string>{"--resume", state_path_for(out)}, s.dir, 100'000);
        CHECK(run.wait() == 1);
        CAPTURE(run.err());
        CHECK(run.err().find(out + ": write failed") != std::string::npos);
        CHECK(run.err().find("untouched") != std::string::npos);
        CHECK(read_bytes(out) == model_before);
        CHECK(read_bytes(state_path_for(out)) == state_before);
        for (const auto& e : std::filesystem::directory_iterator(s.dir.path()))
            CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
    }

    TEST_CASE("resuming a mismatched, corrupted or missing pair is refused with a clear message") {
        TempDir dir;
        auto train = [&](const std::string& out, const std::string& seed) {
            return run_nograd({"train", "--model", kModel, "--train", kTokens, "--optimizer", "spsa", "--steps", "2",
                               "--batch", "2", "--seq", "8", "--seed", seed, "--save", out});
        };
        REQUIRE(train(dir.file("a.bin"), "1").status == 0);
        REQUIRE(train(dir.file("b.bin"), "2").status == 0);
        const std::vector<std::string> resume = {"train", "--train", kTokens, "--optimizer", "spsa", "--steps", "4",
                                                 "--batch", "2", "--seq", "8", "--seed", "1", "--resume"};
        // b's checkpoint beside a's state.
        const auto b_model = read_bytes(dir.file("b.bin"));
        write_bytes(dir.file("a.bin"), b_model.data(), b_model.size());
        check_fails(resume + std::vector<std::string>{dir.file("a.state")}, 1, "checksum mismatch");
        check_fails(resume + std::vector<std::string>{dir.file("a.state")}, 1, dir.file("a.state"));
        // A flipped bit in the state.
        auto state = read_bytes(dir.file("b.state"));
        state[state.size() / 2] ^= 0x04;
        write_bytes(dir.file("b.state"), state.data(), state.size());
        check_fails(resume + std::vector<std::string>{dir.file("b.state")}, 1, "corrupted file (checksum mismatch)");
        // A checkpoint with no state beside it.
        std::remove(dir.file("b.state").c_str());
        check_fails(resume + std::vector<std::string>{dir.file("b.bin")}, 1, dir.file("b.state") + ": cannot open");
    }

    // SGD at lr 3 on the tiny fixture (batch 1, seq 8): step losses 4.49, 5.04, 16.2, ... (the loss of a step
    // is measured before its update), so a factor of 3 stops the run at step 3.
    std::vector<std::string> diverging_sgd(const std::string& out, const std::string& steps) {
        return {"train", "--model", kModel, "--train", kTokens, "--optimizer", "sgd", "--lr", "3", "--steps", steps,
                "--batch", "1", "--seq", "8", "--threads", "1", "--divergence-factor", "3", "--save", out};
    }

    TEST_CASE("--divergence-factor stops the run, names the step, and saves nothing diverged") {
        TempDir dir;
        const std::string out = dir.file("run.bin");
        const CliResult stopped = run_nograd(diverging_sgd(out, "8"));
        CAPTURE(stopped.err);
        CHECK(stopped.status == 1);
        CHECK(stopped.err.find("step 3: the loss") != std::string::npos);
        CHECK(stopped.err.find("--divergence-factor") != std::string::npos);
        CHECK(!file_exists(out));  // saving only at the end: nothing written
        CHECK(!file_exists(state_path_for(out)));
        // Saving every step: each pair is checked (the loss of its parameters on its step's batch) before it
        // is written; step 2's passes, step 3's loss (on another batch) stops the run.
        const CliResult every = run_nograd(diverging_sgd(out, "8") + std::vector<std::string>{"--save-every", "1"});
        CAPTURE(every.err);
        CHECK(every.status == 1);
        CHECK(every.err.find("step 3: the loss") != std::string::npos);
        const TrainState state = load_train_state(state_path_for(out));
        CHECK(state.meta["step"] == 2);
        CHECK(describe_non_finite(load_checkpoint(out)).empty());
        // newton's --h-warmup 1 leaves the parameters alone in step 1 (its pair is written), then lr 1e6 blows
        // them up in step 2's update: that pair is never written, step 1's stays. (No rounding luck involved:
        // with a tiny eps, SPSA's blow-up step depended on float rounding and differed between builds.)
        std::filesystem::remove(out);
        std::filesystem::remove(state_path_for(out));
        const CliResult blown = run_nograd({"train", "--model", kModel, "--train", kTokens, "--optimizer", "newton",
                                            "--lr", "1e6", "--h-warmup", "1", "--steps", "8", "--batch", "2", "--seq",
                                            "8", "--save-every", "1", "--save", out});
        CAPTURE(blown.err);
        CHECK(blown.status == 1);
        CHECK(blown.err.find("step 2: the loss after its update") != std::string::npos);
        CHECK(load_train_state(state_path_for(out)).meta["step"] == 1);
        CHECK(describe_non_finite(load_checkpoint(out)).empty());
    }

    TEST_CASE("--on-divergence rollback: back to the last good pair, learning rate halved, run completes; resume is exact") {
        TempDir dir;
        const std::vector<std::string> rollback = {"--save-every", "1", "--on-divergence", "rollback"};
        const std::string full = dir.file("full.bin"), part = dir.file("part.bin");
        const CliResult r = run_nograd(diverging_sgd(full, "8") + rollback +
                                       std::vector<std::string>{"--log", dir.file("full.jsonl"), "--json"});
        CAPTURE(r.err);
        REQUIRE(r.status == 0);
        CHECK(r.err.find("rolled back to step") != std::string::npos);
        const auto summary = nlohmann::json::parse(last_line(r.out));
        CHECK(summary["steps"] == 8);
        CHECK(summary["rollbacks"].get<long>() >= 1);
        CHECK(summary["train_loss"].get<double>() < 3 * 4.49);
        CHECK(count_lines_with(dir.file("full.jsonl"), "\"kind\":\"rollback\"") == summary["rollbacks"].get<size_t>());
        CHECK(describe_non_finite(load_checkpoint(full)).empty());
        // The halved rate is part of the saved state: a run stopped at step 5 and resumed ends on the same bits.
        REQUIRE(run_nograd(diverging_sgd(part, "5") + rollback).status == 0);
        std::vector<std::string> resume = diverging_sgd(part, "8") + rollback;
        resume.erase(resume.begin() + 1, resume.begin() + 3);  // no --model: the pair says where to start
        const CliResult resumed = run_nograd(resume + std::vector<std::string>{"--resume", state_path_for(part)});
        CAPTURE(resumed.err);
        REQUIRE(resumed.status == 0);
        CHECK(read_bytes(part) == read_bytes(full));
        // Without --save there is nothing to roll back to.
        check_fails({"train", "--model", kModel, "--train", kTokens, "--optimizer", "sgd", "--steps", "2", "--batch",
                     "1", "--seq", "8", "--on-divergence", "rollback"}, 2, "--on-divergence rollback needs --save");
    }

    TEST_CASE("a checkpoint holding a NaN is refused when loaded, naming the file and the tensor") {
        TempDir dir;
        auto bytes = read_bytes(kModel);
        const float nan = std::numeric_limits<float>::quiet_NaN();
        std::memcpy(bytes.data() + bytes.size() - 4, &nan, 4);  // the last entry of lnfb
        write_bytes(dir.file("nan.bin"), bytes.data(), bytes.size());
        check_fails({"eval", "--model", dir.file("nan.bin"), "--data", kTokens, "--batch", "2", "--seq", "8"}, 1,
                    dir.file("nan.bin") + ": expected finite parameters, found tensor 'lnfb'");
    }

    TEST_CASE("resume refuses a different --params subset of the same size") {
        TempDir dir;
        const std::vector<std::string> run = {"train", "--train", kTokens, "--optimizer", "spsa", "--steps", "2",
                                              "--batch", "2", "--seq", "8"};
        REQUIRE(run_nograd(run + std::vector<std::string>{"--model", kModel, "--params", "ln1w", "--save",
                                                          dir.file("a.bin")}).status == 0);
        std::vector<std::string> more = run;
        more[6] = "4";
        check_fails(more + std::vector<std::string>{"--resume", dir.file("a.state"), "--params", "ln2w"}, 2,
                    "trained_ranges");
    }

    TEST_CASE("threads, file names and flags of another method are usage errors naming them") {
        const std::vector<std::string> eval = {"eval", "--model", kModel, "--data", kTokens, "--batch", "2", "--seq", "8"};
        const CliResult crowded = run_nograd(eval, {"OMP_NUM_THREADS=100000"});
        CHECK(crowded.status == 2);
        CHECK(crowded.err.find("OMP_NUM_THREADS: expected 1 to") != std::string::npos);
        check_fails(eval + std::vector<std::string>{"--threads", "4096"}, 2, "--threads: expected 1 to");
        const std::vector<std::string> train = {"train", "--model", kModel, "--train", kTokens, "--batch", "2",
                                                "--seq", "8", "--steps", "1"};
        check_fails(train + std::vector<std::string>{"--optimizer", "adamw", "--sigma", "3"}, 2,
                    "--sigma: not a flag of --optimizer adamw (it is read by random, es)");
        check_fails(train + std::vector<std::string>{"--optimizer", "spsa", "--save", "/tmp/run"}, 2,
                    "--save /tmp/run: expected a name ending in .bin");
        check_fails(train + std::vector<std::string>{"--optimizer", "spsa", "--resume", "/tmp/run"}, 2,
                    "--resume /tmp/run: expected OUT.state or OUT.bin");
        // info's default sequence length is cut to the model's (16 here), so plain `info --model` works.
        const CliResult info = run_nograd({"info", "--model", kModel});
        CAPTURE(info.err);
        CHECK(info.status == 0);
        CHECK(info.out.find("T=16") != std::string::npos);
    }

    TEST_CASE("a folder without room for a save is reported before training") {
        TempDir dir;
        CHECK_NOTHROW(check_free_space(dir.file("x.bin"), 1000, "--save"));
        CHECK_THROWS_WITH_AS(check_free_space(dir.file("x.bin"), size_t(1) << 62, "--save"),
                             doctest::Contains(("--save " + dir.file("x.bin") + ": expected").c_str()), Error);
    }

    // ---- numeric flags: range, NaN, overflow; exit 2 naming the flag ----

    TEST_CASE("eval: numeric flags out of range") {
        const std::vector<std::string> base = {"eval", "--model", kModel, "--data", kTokens};
        auto with = [&](std::vector<std::string> extra) { return base + extra; };
        check_fails(with({"--batch", "0", "--seq", "8"}), 2, "--batch");
        check_fails(with({"--batch", "-2", "--seq", "8"}), 2, "--batch");
        check_fails(with({"--batch", "2.5", "--seq", "8"}), 2, "--batch");
        check_fails(with({"--batch", "1e3", "--seq", "8"}), 2, "--batch");
        check_fails(with({"--batch", "0x10", "--seq", "8"}), 2, "--batch");
        check_fails(with({"--batch", "", "--seq", "8"}), 2, "--batch");
        check_fails(with({"--batch", "99999999999999999999", "--seq", "8"}), 2, "--batch");  // overflows int64
        check_fails(with({"--batch", "2097152", "--seq", "8"}), 2, "--batch");              // > 2^20
        check_fails(with({"--batch", "2", "--seq", "0"}), 2, "--seq");
        check_fails(with({"--batch", "2", "--seq", "17"}), 2, "--seq");  // > the model's max_seq_len 16
        check_fails(with({"--batch", "2", "--seq", "8", "--batches", "0"}), 2, "--batches");
        check_fails(with({"--batch", "2", "--seq", "8", "--batches", "nan"}), 2, "--batches");
        check_fails(with({"--batch", "2", "--seq", "8", "--threads", "-1"}), 2, "--threads");
        check_fails(with({"--batch", "2", "--seq", "8", "--threads", "5000"}), 2, "--threads");
        // B*T*Vp = 2^17 * 8 * 4096 = 2^32: past 32-bit indexing, refused before anything is allocated.
        TempDir dir;
        REQUIRE(run_nograd({"init", "--layers", "1", "--heads", "1", "--channels", "8", "--vocab", "4000", "--max-seq",
                            "8", "--out", dir.file("wide.bin")}).status == 0);
        check_fails({"eval", "--model", dir.file("wide.bin"), "--data", kTokens, "--batch", "131072", "--seq", "8"}, 2,
                    "--batch 131072 --seq 8: B*T*4096 overflows 32-bit indexing");
    }

    TEST_CASE("train: numeric flags out of range, NaN or infinite") {
        const std::vector<std::string> base = {"train", "--model", kModel, "--train", kTokens, "--batch", "2", "--seq", "8"};
        auto check = [&](const std::string& optimizer, const std::vector<std::string>& extra, const std::string& flag) {
            std::vector<std::string> args = base + std::vector<std::string>{"--optimizer", optimizer};
            if (std::find(extra.begin(), extra.end(), "--steps") == extra.end()) args = args + std::vector<std::string>{"--steps", "2"};
            check_fails(args + extra, 2, flag);
        };
        check("spsa", {"--steps", "0"}, "--steps");
        check("spsa", {"--steps", "-3"}, "--steps");
        check("spsa", {"--steps", "1.5"}, "--steps");
        check("spsa", {"--batch", "0"}, "--batch");
        check("spsa", {"--seq", "100"}, "--seq");
        check("spsa", {"--seed", "-1"}, "--seed");
        check("spsa", {"--lr", "-0.1"}, "--lr");
        check("spsa", {"--lr", "nan"}, "--lr");
        check("spsa", {"--lr", "inf"}, "--lr");
        check("spsa", {"--lr", "1e400"}, "--lr");  // overflows double
        check("spsa", {"--lr", "2e6"}, "--lr");
        check("spsa", {"--schedule", "cosine", "--warmup", "3"}, "--warmup");  // more than --steps 2
        check("spsa", {"--lr-final", "1.5"}, "--lr-final");
        check("spsa", {"--val-every", "-1"}, "--val-every");
        check("spsa", {"--val-batches", "0"}, "--val-batches");
        check("spsa", {"--save-every", "-1"}, "--save-every");
        check("spsa", {"--max-forward-passes", "-1"}, "--max-forward-passes");
        check("spsa", {"--divergence-factor", "-2"}, "--divergence-factor");
        check("spsa", {"--divergence-factor", "nan"}, "--divergence-factor");
        // Optimizer flags.
        check("spsa", {"--eps", "0"}, "--eps");
        check("spsa", {"--eps", "-1e-3"}, "--eps");
        check("spsa", {"--samples", "0"}, "--samples");
        check("spsa", {"--momentum", "1"}, "--momentum");
        check("spsa", {"--weight-decay", "-1"}, "--weight-decay");
        check("sgd", {"--momentum", "-0.5"}, "--momentum");
        check("sgd", {"--grad-clip", "-1"}, "--grad-clip");
        check("adamw", {"--beta1", "1"}, "--beta1");
        check("adamw", {"--beta2", "1.5"}, "--beta2");
        check("adamw", {"--adam-eps", "0"}, "--adam-eps");
        check("adamw", {"--weight-decay", "nan"}, "--weight-decay");
        check("es", {"--sigma", "0"}, "--sigma");
        check("es", {"--pairs", "0"}, "--pairs");
        check("random", {"--sigma", "-1"}, "--sigma");
        check("random", {"--population", "0"}, "--population");
        check("newton", {"--alpha", "2"}, "--alpha");
        check("newton", {"--h-floor", "0"}, "--h-floor");
        check("newton", {"--clip", "-1"}, "--clip");
        check("newton", {"--h-warmup", "-1"}, "--h-warmup");
        // A fresh model's sizes.
        const std::vector<std::string> fresh = {"train", "--train", kTokens, "--optimizer", "spsa", "--steps", "1",
                                                "--batch", "2", "--seq", "8", "--init-vocab", "96", "--init-max-seq", "16"};
        check_fails(fresh + std::vector<std::string>{"--init-layers", "0", "--init-heads", "4", "--init-channels", "32"}, 2,
                    "--init-layers");
        check_fails(fresh + std::vector<std::string>{"--init-layers", "1", "--init-heads", "4", "--init-channels", "70000"},
                    2, "--init-channels");
        check_fails(fresh + std::vector<std::string>{"--init-layers", "1", "--init-heads", "3", "--init-channels", "32"}, 2,
                    "dividing");
    }

    TEST_CASE("init: numeric flags out of range") {
        TempDir dir;
        const std::vector<std::string> base = {"init", "--out", dir.file("m.bin")};
        auto with = [&](std::vector<std::string> extra) { return base + extra; };
        check_fails(with({"--layers", "0", "--heads", "4", "--channels", "32"}), 2, "--layers");
        check_fails(with({"--layers", "5000", "--heads", "4", "--channels", "32"}), 2, "--layers");
        check_fails(with({"--layers", "1", "--heads", "0", "--channels", "32"}), 2, "--heads");
        check_fails(with({"--layers", "1", "--heads", "4", "--channels", "-32"}), 2, "--channels");
        check_fails(with({"--layers", "1", "--heads", "4", "--channels", "70000"}), 2, "--channels");
        check_fails(with({"--layers", "1", "--heads", "4", "--channels", "32", "--vocab", "0"}), 2, "--vocab");
        check_fails(with({"--layers", "1", "--heads", "4", "--channels", "32", "--vocab", "5000000"}), 2, "--vocab");
        check_fails(with({"--layers", "1", "--heads", "4", "--channels", "32", "--max-seq", "0"}), 2, "--max-seq");
        check_fails(with({"--layers", "1", "--heads", "4", "--channels", "32", "--max-seq", "4194304"}), 2, "--max-seq");
        check_fails(with({"--layers", "1", "--heads", "4", "--channels", "32", "--seed", "-5"}), 2, "--seed");
        check_fails(with({"--layers", "1", "--heads", "4", "--channels", "32", "--seed", "18446744073709551616"}), 2,
                    "--seed");
        CHECK(!file_exists(dir.file("m.bin")));
    }

    TEST_CASE("tokenize: numeric flags out of range, checked before any file is read") {
        TempDir dir;
        const std::vector<std::string> base = {"tokenize", "--vocab", "/nonexistent", "--in", "/nonexistent.txt",
                                               "--out", dir.file("x")};
        auto with = [&](std::vector<std::string> extra) { return base + extra; };
        check_fails(with({"--val-fraction", "1"}), 2, "--val-fraction");
        check_fails(with({"--val-fraction", "-0.1"}), 2, "--val-fraction");
        check_fails(with({"--val-fraction", "nan"}), 2, "--val-fraction");
        check_fails(with({"--test-fraction", "1.5"}), 2, "--test-fraction");
        check_fails(with({"--test-fraction", "inf"}), 2, "--test-fraction");
        check_fails(with({"--seed", "-1"}), 2, "--seed");
        check_fails(with({"--seed", "abc"}), 2, "--seed");
        check_fails(with({"--threads", "0"}), 2, "--threads");
    }
}
