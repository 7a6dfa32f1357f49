// `nograd bench`: how close nograd runs to this machine's limits. Measures the FMA peak with its own probe,
// then on GPT-2s made in memory (random weights, random tokens) the forward pass, a backprop step, a step
// of each zeroth-order method (as a multiple of one forward pass timed in the same rounds), a perturbation
// pass, KV-cached sampling, where a step's time goes, and each mode's peak resident memory in a fresh
// process (the bench re-executes itself with --child-memory) beside what the memory plan predicts.
// Prints tables, writes everything to a JSON file, and checks the targets of issue 6.
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "kernels/gemm.h"
#include "model/checkpoint.h"
#include "model/generate.h"
#include "model/memory_plan.h"
#include "model/model_file.h"
#include "train/benchmark.h"
#include "util/error.h"
#include "util/file.h"
#include "util/flags.h"
#include "util/fma_probe.h"
#include "util/resources.h"
#include "util/subprocess.h"
#include "util/version.h"

namespace nograd {
namespace {

// Insertion order is kept, so tables and the file list modes as the bench ran them.
using json = nlohmann::ordered_json;

// Configs by name: GPT-2's presets, plus "tiny" (the demo's size class with GPT-2's vocabulary) and "micro"
// (a toy for CI: vocabulary 512, 64 channels).
GPT2Config bench_config(const std::string& name) {
    GPT2Config c;
    if (name == "tiny") {
        c.num_layers = 4, c.num_heads = 4, c.channels = 256;
    } else if (name == "micro") {
        c.num_layers = 2, c.num_heads = 2, c.channels = 64, c.vocab_size = 512, c.padded_vocab_size = 512;
        c.max_seq_len = 256;
    } else {
        c = preset_config(name, "--child-case");
    }
    return c;
}

// One cell of the grid: a config and shape, a thread count, the modes to time.
struct Case {
    std::string config;
    int B, T, threads;
    std::vector<BenchMode> modes;
    int rounds;
    bool details = false;  // kernel breakdown, perturbation pass, sampling
};

struct Grid {
    std::vector<Case> cases;
    std::vector<std::pair<Case, BenchMode>> memory;  // one fresh process each
    bool sampling_memory = false;
    bool d48_load = false;   // --full: spsa on GPT-2 1.5B loaded from a checkpoint, in a fresh process
    bool backends = false;   // --full: every backend built beside this binary
};

std::vector<BenchMode> modes(std::initializer_list<BenchMode> list) { return list; }

// The default grid, what --full adds to it (extras), or the toy grid of --tiny.
Grid make_grid(bool defaults, bool extras, bool tiny, int rounds) {
    using M = BenchMode;
    Grid g;
    const std::vector<BenchMode>& all = all_bench_modes();
    if (tiny) {
        g.cases.push_back({"micro", 2, 32, 1, all, 2, true});
        g.cases.push_back({"micro", 2, 32, 2, all, 2, false});
        for (BenchMode m : {M::forward, M::backprop, M::spsa, M::newton}) g.memory.push_back({g.cases[0], m});
        return g;
    }
    if (defaults) {
        for (int threads : {1, 2}) {
            g.cases.push_back({"tiny", 4, 64, threads, all, rounds, false});
            g.cases.push_back({"d12", 4, 64, threads, all, threads == 1 ? std::max(3, rounds - 2) : rounds, threads == 2});
        }
        g.cases.push_back({"d12", 4, 256, 2, modes({M::forward, M::backprop, M::spsa, M::newton}), std::min(3, rounds),
                           false});
        const Case d12 = {"d12", 4, 64, 2, all, 1};
        for (BenchMode m : all) g.memory.push_back({d12, m});
        g.sampling_memory = true;
    }
    if (!extras) return g;
    const int few = std::min(3, rounds);  // the big cases take seconds per forward pass
    g.cases.push_back({"d12", 1, 1024, 2, modes({M::forward, M::spsa}), few, true});
    g.cases.push_back({"d24", 4, 64, 2, modes({M::forward, M::backprop, M::spsa, M::newton}), few, false});
    g.cases.push_back({"d48", 4, 64, 2, modes({M::forward, M::spsa}), few, false});  // newton's H: 6 GB more
    g.memory.push_back({{"d12", 1, 1024, 2, {}, 1}, M::forward});
    g.d48_load = true;
    g.backends = true;
    return g;
}

void set_threads(int threads) {
    omp_set_num_threads(threads);
    gemm_setup(threads);
}

std::string case_text(const Case& c) {
    return c.config + "," + std::to_string(c.B) + "," + std::to_string(c.T);
}

Case parse_case(const std::string& text, int threads) {
    std::stringstream in(text);
    std::string config, b, t;
    if (!std::getline(in, config, ',') || !std::getline(in, b, ',') || !std::getline(in, t))
        throw UsageError("--child-case: expected CONFIG,B,T (e.g. d12,4,64), found '" + text + "'");
    try {
        return {config, std::stoi(b), std::stoi(t), threads, {}, 1};
    } catch (const std::exception&) {
        throw UsageError("--child-case: expected CONFIG,B,T with whole numbers, found '" + text + "'");
    }
}

json plan_json(const MemoryPlan& plan) {
    json items = json::array();
    for (const MemoryItem& item : plan.items) items.push_back({{"name", item.name}, {"bytes", item.bytes}});
    return {{"mode", plan.mode}, {"total_bytes", plan.total()}, {"items", items}};
}

// ---- one case: where the time goes ----

json perturbation_json(const PerturbationTimes& p) {
    return {{"ms", 1e3 * p.in_place}, {"generate_only_ms", 1e3 * p.generate_only},
            {"gb_per_second", 8.0 * double(p.parameters) / p.in_place * 1e-9},  // read and write each float
            {"ns_per_parameter", p.in_place / double(p.parameters) * 1e9}, {"parameters", p.parameters}};
}

// Step time split into matrix products, attention, z generation + perturbation passes, and the rest
// (LayerNorm, GELU, residuals, embeddings, loss, bias adds, optimizer bookkeeping), from kernels timed alone.
json split(double step_ms, double matmul_ms, double attention_ms, double rng_ms) {
    return {{"step_ms", step_ms}, {"matmul_ms", matmul_ms}, {"attention_ms", attention_ms},
            {"rng_perturbation_ms", rng_ms}, {"rest_ms", step_ms - matmul_ms - attention_ms - rng_ms}};
}

json time_details(BenchModel& bench, const json& result, const Case& c) {
    const bool backprop = result["modes"].contains("backprop");
    const KernelTimes k = time_kernels(bench, c.rounds, backprop);
    const PerturbationTimes gauss = time_perturbation(bench, Distribution::gaussian, c.rounds);
    const PerturbationTimes rad = time_perturbation(bench, Distribution::rademacher, c.rounds);
    json d;
    d["perturbation"]["gaussian"] = perturbation_json(gauss);
    d["perturbation"]["rademacher"] = perturbation_json(rad);
    const json& modes = result["modes"];
    const double fwd_mm = 1e3 * k.forward_matmul, fwd_att = 1e3 * k.forward_attention;
    for (const auto& [name, r] : modes.items()) {
        const double ms = r["ms"];
        if (name == "backprop") {
            d["breakdown"][name] = split(ms, 1e3 * k.train_matmul, 1e3 * k.train_attention, 0.0);
            d["breakdown"][name]["adamw_ms"] = 1e3 * k.adamw_update;
            continue;
        }
        const int passes = r["forward_passes"], generations = r["generations"];
        const double pass_ms = 1e3 * (name == "spsa-rademacher" ? rad.in_place : gauss.in_place);
        d["breakdown"][name] = split(ms, passes * fwd_mm, passes * fwd_att, generations * pass_ms);
    }
    d["sampling"] = {{"prompt", 16}, {"tokens", 32},
                     {"tokens_per_second", sampling_tokens_per_second(bench.model, 16, 32, 3)}};
    return d;
}

// ---- one case: timing ----

json time_case(const Case& c, double peak_gflops) {
    set_threads(c.threads);
    GPT2 fresh(bench_config(c.config));
    init_gpt2_weights(fresh, 1);
    BenchModel bench(std::move(fresh), c.B, c.T, 42);
    std::vector<std::unique_ptr<ModeRunner>> runners;
    std::vector<std::function<void()>> units;
    for (BenchMode m : c.modes) {
        runners.push_back(std::make_unique<ModeRunner>(bench, m));
        units.push_back([r = runners.back().get()] { r->run(); });
    }
    const std::vector<std::vector<double>> seconds = time_interleaved(units, c.rounds);
    const double flops = forward_flops(bench.model.config, c.B, c.T);
    json out = {{"config", c.config}, {"B", c.B}, {"T", c.T}, {"threads", c.threads},
                {"parameters", bench.model.params.size()}, {"forward_gflop", flops * 1e-9}, {"rounds", c.rounds}};
    const double forward_s = median(seconds[0]);  // modes start with forward
    for (size_t i = 0; i < c.modes.size(); ++i) {
        const double s = median(seconds[i]);
        const BenchMode m = c.modes[i];
        json r = {{"ms", 1e3 * s}, {"forwards", s / forward_s}, {"ms_rounds", seconds[i]},
                  {"generations", runners[i]->last_generations()}, {"forward_passes", runners[i]->forward_passes()}};
        const double work = m == BenchMode::backprop ? 3 * flops : m == BenchMode::forward ? flops : 0.0;
        if (work > 0) {
            r["gflops"] = work / s * 1e-9;
            r["peak_share"] = work / s * 1e-9 / peak_gflops;
            r["tokens_per_second"] = c.B * c.T / s;
        }
        out["modes"][bench_mode_name(m)] = r;
    }
    runners.clear();
    if (c.details) out["details"] = time_details(bench, out, c);
    return out;
}

// ---- one mode's memory, in this (fresh) process ----

int child_memory(const Flags& flags, int threads) {
    const Case c = parse_case(flags.required("--child-case"), threads);
    const std::string mode = flags.required("--child-memory");
    GPT2 model = flags.has("--model") ? load_model(flags.text("--model")) : GPT2(bench_config(c.config));
    if (!flags.has("--model")) init_gpt2_weights(model, 1);
    check_batch_shape(model.config, c.B, c.T, "--child-case");
    json out = {{"config", c.config}, {"B", c.B}, {"T", c.T}, {"mode", mode}, {"loaded", flags.has("--model")}};
    if (mode == "sample") {
        const MemoryPlan plan = sampling_plan(model.config);
        sampling_tokens_per_second(model, 16, 8, 1);
        out["plan"] = plan_json(plan);
    } else {
        BenchModel bench(std::move(model), c.B, c.T, 42);
        ModeRunner runner(bench, bench_mode_from_name(mode, "--child-memory"));
        for (int i = 0; i < 2; ++i) runner.run();
        out["plan"] = plan_json(runner.plan());
    }
    out["peak_rss_bytes"] = peak_resident_bytes();
    std::printf("%s\n", out.dump().c_str());
    return 0;
}

// Timing of some modes of one case in this process, as JSON: how another backend's binary reports.
int child_time(const Flags& flags, int threads, double peak_gflops) {
    Case c = parse_case(flags.required("--child-case"), threads);
    std::stringstream in(flags.required("--child-time"));
    for (std::string m; std::getline(in, m, ',');) c.modes.push_back(bench_mode_from_name(m, "--child-time"));
    if (c.modes.empty() || c.modes[0] != BenchMode::forward)
        throw UsageError("--child-time: expected a list starting with forward, found '" + flags.text("--child-time") + "'");
    c.rounds = int(flags.integer("--rounds", 5, 1, 1000));
    json out = time_case(c, peak_gflops);
    out["backend"] = gemm_backend_name();
    std::printf("%s\n", out.dump().c_str());
    return 0;
}

json run_child(const std::vector<std::string>& argv) {
    const ProcessResult r = run_process(argv);
    const size_t last = r.out.find_last_of('\n', r.out.size() >= 2 ? r.out.size() - 2 : 0);
    const std::string line = r.out.substr(last == std::string::npos ? 0 : last + 1);
    if (r.status != 0 || !json::accept(line))
        throw Error(argv[0] + " " + argv[1] + ": the measuring subprocess failed (exit " + std::to_string(r.status) +
                    "), printing '" + line + "'");
    json out = json::parse(line);
    out["rusage_peak_rss_bytes"] = r.peak_rss_bytes;
    return out;
}

std::vector<std::string> child_argv(const std::string& binary, const Case& c, const std::string& flag,
                                    const std::string& value) {
    return {binary, "bench", flag, value, "--child-case", case_text(c), "--threads", std::to_string(c.threads)};
}

// ---- printing ----

void print_probe(const json& probe) {
    std::printf("FMA peak (own probe, %d-lane fp32 FMAs): ", int(probe["lanes"]));
    for (const auto& [threads, gflops] : probe["gflops"].items())
        std::printf("%s thread%s %.1f GFLOP/s   ", threads.c_str(), threads == "1" ? "" : "s", double(gflops));
    std::printf("\n");
}

void print_case(const json& r) {
    std::printf("\n%s  B=%d T=%d  %d thread%s  (%.1fM parameters, %.2f GFLOP per forward)\n",
                std::string(r["config"]).c_str(), int(r["B"]), int(r["T"]), int(r["threads"]),
                int(r["threads"]) == 1 ? "" : "s", double(r["parameters"]) * 1e-6, double(r["forward_gflop"]));
    std::printf("  %-16s %10s %8s %10s %9s %7s %6s\n", "mode", "ms", "x fwd", "tokens/s", "GFLOP/s", "%peak", "z-gen");
    for (const auto& [name, m] : r["modes"].items()) {
        std::printf("  %-16s %10.1f %8.2f", name.c_str(), double(m["ms"]), double(m["forwards"]));
        if (m.contains("gflops"))
            std::printf(" %10.0f %9.1f %6.1f%%", double(m["tokens_per_second"]), double(m["gflops"]),
                        100.0 * double(m["peak_share"]));
        else
            std::printf(" %10s %9s %7s", "", "", "");
        std::printf(" %6d\n", int(m["generations"]));
    }
}

void print_details(const json& r) {
    const json& d = r["details"];
    std::printf("  where the time goes (kernels timed alone at these shapes), ms per step:\n");
    std::printf("  %-16s %10s %10s %10s %10s %10s\n", "mode", "step", "matmul", "attention", "rng+pass", "rest");
    for (const auto& [name, b] : d["breakdown"].items())
        std::printf("  %-16s %10.1f %10.1f %10.1f %10.1f %10.1f%s\n", name.c_str(), double(b["step_ms"]),
                    double(b["matmul_ms"]), double(b["attention_ms"]), double(b["rng_perturbation_ms"]),
                    double(b["rest_ms"]), b.contains("adamw_ms") ? " (rest includes AdamW)" : "");
    for (const auto& [dist, p] : d["perturbation"].items())
        std::printf("  perturbation pass theta += eps*z (%s): %.1f ms, %.1f GB/s, %.3f ns/parameter; "
                    "generating z alone %.1f ms\n",
                    dist.c_str(), double(p["ms"]), double(p["gb_per_second"]), double(p["ns_per_parameter"]),
                    double(p["generate_only_ms"]));
    std::printf("  sampling with the KV cache: %.1f tokens/s\n", double(d["sampling"]["tokens_per_second"]));
}

void print_memory(const json& memory) {
    std::printf("\npeak resident memory, one fresh process per mode (plan = what the memory plan predicts):\n");
    std::printf("  %-22s %-16s %12s %12s %8s\n", "case", "mode", "peak MiB", "plan MiB", "peak/plan");
    for (const json& m : memory) {
        const double peak = m["peak_rss_bytes"], plan = m["plan"]["total_bytes"];
        const std::string where = std::string(m["config"]) + " B=" + std::to_string(int(m["B"])) + " T=" +
                                  std::to_string(int(m["T"])) + (m["loaded"] ? " (loaded)" : "");
        std::printf("  %-22s %-16s %12.1f %12.1f %8.3f\n", where.c_str(), std::string(m["mode"]).c_str(),
                    peak / 1048576.0, plan / 1048576.0, peak / plan);
    }
}

void print_plans(const std::string& config, int B, int T) {
    const GPT2Config c = bench_config(config);
    const MemoryPlan zo = zeroth_order_plan(c, B, T, 2, omp_get_max_threads()), bp = backprop_plan(c, B, T);
    std::printf("\nmemory plans, %s B=%d T=%d: spsa %.2f GB; adamw %.2f GB:", config.c_str(), B, T,
                zo.total() * 1e-9, bp.total() * 1e-9);
    for (const MemoryItem& item : bp.items) std::printf(" %s %.2f GB;", item.name.c_str(), item.bytes * 1e-9);
    std::printf("\n");
}

// ---- the run ----

json measure_probe(const std::vector<int>& thread_counts) {
    json probe = {{"lanes", fma_vector_lanes()}};
    for (int t : thread_counts) probe["gflops"][std::to_string(t)] = measure_fma_peak(t, 1.0);
    return probe;
}

json run_memory(const Grid& g) {
    json memory = json::array();
    const std::string self = self_executable();
    for (const auto& [c, mode] : g.memory)
        memory.push_back(run_child(child_argv(self, c, "--child-memory", bench_mode_name(mode))));
    if (g.sampling_memory) memory.push_back(run_child(child_argv(self, {"d12", 1, 1, 2, {}, 1}, "--child-memory", "sample")));
    return memory;
}

// --full: GPT-2 1.5B written to disk by `nograd init`, then spsa in a fresh process that loads it (loading
// included in its peak). One d48 process at a time: this one holds no model meanwhile.
json run_d48_load(const std::string& folder) {
    const std::string self = self_executable(), path = folder + "/bench-d48.bin";
    run_process({self, "init", "--preset", "d48", "--out", path});
    const Case d48 = {"d48", 4, 64, 2, {}, 1};
    std::vector<std::string> argv = child_argv(self, d48, "--child-memory", "spsa");
    argv.insert(argv.end(), {"--model", path});
    json r = run_child(argv);
    std::filesystem::remove(path);
    return r;
}

// --full: the same case on every backend built beside this binary (build/<variant>/nograd), each in its own
// process, one after the other.
json run_backends(double peak_gflops) {
    const std::filesystem::path build = std::filesystem::path(self_executable()).parent_path().parent_path();
    json backends = json::array();
    for (const char* variant : {"blis", "openblas", "none"}) {
        const std::filesystem::path binary = build / variant / "nograd";
        if (!std::filesystem::exists(binary)) {
            std::fprintf(stderr, "bench: %s not built (make BLAS=%s), skipped\n", binary.c_str(), variant);
            continue;
        }
        std::vector<std::string> argv = child_argv(binary.string(), {"d12", 4, 64, 2, {}, 1}, "--child-time",
                                                   "forward,backprop,spsa");
        argv.insert(argv.end(), {"--rounds", "5"});
        json r = run_child(argv);
        for (auto& [name, m] : r["modes"].items())
            if (m.contains("gflops")) m["peak_share"] = double(m["gflops"]) / peak_gflops;
        r["variant"] = variant;
        backends.push_back(r);
    }
    return backends;
}

void print_backends(const json& backends) {
    std::printf("\nbackends, d12 B=4 T=64, 2 threads (each its own build and process):\n");
    std::printf("  %-10s %-24s %12s %8s %14s %8s %10s\n", "variant", "backend", "forward ms", "%peak",
                "backprop ms", "%peak", "spsa x fwd");
    for (const json& b : backends) {
        const json& m = b["modes"];
        std::printf("  %-10s %-24s %12.1f %7.1f%% %14.1f %7.1f%% %10.2f\n", std::string(b["variant"]).c_str(),
                    std::string(b["backend"]).c_str(), double(m["forward"]["ms"]),
                    100.0 * double(m["forward"]["peak_share"]), double(m["backprop"]["ms"]),
                    100.0 * double(m["backprop"]["peak_share"]), double(m["spsa"]["forwards"]));
    }
}

// ---- scaling and targets ----

void print_scaling(const json& cases) {
    std::printf("\nscaling (2 threads): cost per parameter and token should stay flat across configs\n");
    std::printf("  %-18s %10s %8s %12s %12s %14s %16s\n", "case", "params M", "tokens", "forward ms", "ms/GFLOP",
                "spsa ms", "spsa ns/(p*tok)");
    for (const json& r : cases) {
        if (int(r["threads"]) != 2) continue;
        const double params = r["parameters"], tokens = double(r["B"]) * double(r["T"]);
        const json& m = r["modes"];
        const std::string where = std::string(r["config"]) + " B=" + std::to_string(int(r["B"])) + " T=" +
                                  std::to_string(int(r["T"]));
        std::printf("  %-18s %10.1f %8.0f %12.1f %12.3f", where.c_str(), params * 1e-6, tokens,
                    double(m["forward"]["ms"]), double(m["forward"]["ms"]) / double(r["forward_gflop"]));
        if (m.contains("spsa"))
            std::printf(" %14.1f %16.4f", double(m["spsa"]["ms"]), double(m["spsa"]["ms"]) * 1e6 / (params * tokens));
        std::printf("\n");
    }
}

const json* find_case(const json& cases, const std::string& config, int B, int T, int threads) {
    for (const json& r : cases)
        if (r["config"] == config && r["B"] == B && r["T"] == T && r["threads"] == threads) return &r;
    return nullptr;
}

json target(const std::string& name, double value, const std::string& op, double limit) {
    const bool met = op == "<=" ? value <= limit : value >= limit;
    return {{"target", name}, {"value", value}, {"op", op}, {"limit", limit}, {"met", met}};
}

// Issue 6's targets, from this run's numbers (2 threads, d12 B=4 T=64 unless said otherwise).
json check_targets(const json& all) {
    json t = json::array();
    const json* two = find_case(all["cases"], "d12", 4, 64, 2);
    const json* one = find_case(all["cases"], "d12", 4, 64, 1);
    if (two) {
        const json& m = (*two)["modes"];
        t.push_back(target("forward share of peak, built backend", m["forward"]["peak_share"], ">=", 0.50));
        t.push_back(target("backprop step ms (7.4 s / 4)", m["backprop"]["ms"], "<=", 7400.0 / 4));
        t.push_back(target("backprop share of peak", m["backprop"]["peak_share"], ">=", 0.45));
        t.push_back(target("spsa step / forward (Gaussian)", m["spsa"]["forwards"], "<=", 2.25));
        t.push_back(target("spsa step / forward (Rademacher)", m["spsa-rademacher"]["forwards"], "<=", 2.12));
        t.push_back(target("newton step / forward", m["newton"]["forwards"], "<=", 3.35));
        t.push_back(target("random step / forward", m["random"]["forwards"], "<=", 2.2));
        if (one)
            for (const auto& [name, r] : m.items())
                t.push_back(target(name + ": 1-thread / 2-thread time",
                                   double((*one)["modes"][name]["ms"]) / double(r["ms"]), ">=", 1.7));
    }
    if (all.contains("backends") && !all["backends"].empty()) {
        double best = 0.0;
        for (const json& b : all["backends"]) {
            best = std::max(best, double(b["modes"]["forward"]["peak_share"]));
            if (b["variant"] == "none")
                t.push_back(target("forward share of peak, BLAS=none", b["modes"]["forward"]["peak_share"], ">=", 0.40));
        }
        t.push_back(target("forward share of peak, best backend", best, ">=", 0.55));
    }
    if (const json* longest = find_case(all["cases"], "d12", 1, 1024, 2)) {
        const json& f = (*longest)["details"]["breakdown"]["forward"];
        t.push_back(target("attention share of the forward at T=1024", double(f["attention_ms"]) / double(f["step_ms"]),
                           "<=", 0.15));
    }
    for (const json& mem : all["memory"]) {
        const double ratio = double(mem["peak_rss_bytes"]) / double(mem["plan"]["total_bytes"]);
        if (mem["config"] == "d12" && mem["mode"] == "spsa" && mem["T"] == 64)
            t.push_back(target("spsa d12 peak RSS / (parameters + inference plan)", ratio, "<=", 1.10));
        if (mem["config"] == "d48" && mem["mode"] == "spsa")
            t.push_back(target("spsa d48 peak RSS with loading, GB", double(mem["peak_rss_bytes"]) * 1e-9, "<=", 7.0));
    }
    return t;
}

void print_targets(const json& targets) {
    std::printf("\ntargets (issue 6):\n");
    for (const json& t : targets)
        std::printf("  %-52s %10.3f %s %-8g %s\n", std::string(t["target"]).c_str(), double(t["value"]),
                    std::string(t["op"]).c_str(), double(t["limit"]), t["met"] ? "met" : "MISSED");
}

void write_json(const json& all, const std::string& path) {
    const std::filesystem::path folder = std::filesystem::path(path).parent_path();
    if (!folder.empty()) std::filesystem::create_directories(folder);
    AtomicOutputFile out(path);
    const std::string text = all.dump(1) + "\n";
    out.write(text.data(), text.size());
    out.commit();
}

}  // namespace

int run_bench(const Args& args) {
    Flags flags("nograd bench [--full | --extras | --tiny] [--rounds R] [--out build/bench.json]",
                "Measures speed and memory against this machine's FMA peak (see README, Performance).",
                {{"--full", "", "", "add d24, d48 (1.5B, with loading), T=1024 and every backend built beside this one"},
                 {"--extras", "", "", "only what --full adds (to complete a default run on a busy machine)"},
                 {"--tiny", "", "", "a toy config only, two rounds: checks that the bench runs (CI)"},
                 {"--rounds", "R", "7", "timed rounds per case (medians; one warm-up round more)"},
                 {"--out", "PATH", "build/bench.json", "JSON file with every measurement"},
                 {"--child-memory", "MODE", "", "internal: run MODE in this process and report its peak memory"},
                 {"--child-time", "MODES", "", "internal: time MODES (forward,...) of --child-case, print JSON"},
                 {"--child-case", "CONFIG,B,T", "", "internal: the case a child measures"},
                 {"--model", "M.bin", "", "internal (--child-memory): load the weights from this checkpoint"}});
    flags.parse(args);
    const int threads = setup_threads(flags);
    if (flags.has("--child-memory")) return child_memory(flags, threads);
    if (flags.has("--child-time")) return child_time(flags, threads, 1.0);
    const bool full = flags.has("--full"), tiny = flags.has("--tiny"), extras = flags.has("--extras");
    if (int(full) + int(tiny) + int(extras) > 1) throw UsageError("--full, --extras and --tiny exclude each other");
    const std::string out_path = flags.text("--out", "build/bench.json");
    const Grid grid = make_grid(!extras, full || extras, tiny, int(flags.integer("--rounds", 7, 1, 1000)));
    json all = {{"nograd", nograd_version()}, {"backend", gemm_backend_name()},
                {"flop_formula", "forward = 2*B*T*(12*L*C^2 + V*C) + 2*L*B*T*(T+1)*C; backprop step = 3 x forward"}};
    std::printf("%s, %s\n", nograd_version().c_str(), gemm_backend_name());
    all["probe"] = measure_probe({1, 2});
    print_probe(all["probe"]);
    for (const Case& c : grid.cases) {
        const json r = time_case(c, all["probe"]["gflops"][std::to_string(c.threads)]);
        print_case(r);
        if (r.contains("details")) print_details(r);
        all["cases"].push_back(r);
        std::fflush(stdout);
    }
    all["memory"] = run_memory(grid);
    if (grid.d48_load) all["memory"].push_back(run_d48_load(std::filesystem::path(out_path).parent_path().string()));
    print_memory(all["memory"]);
    print_plans("d12", 4, 64);
    print_plans("d48", 4, 64);
    if (grid.backends) {
        all["backends"] = run_backends(all["probe"]["gflops"]["2"]);
        print_backends(all["backends"]);
    }
    print_scaling(all["cases"]);
    all["targets"] = check_targets(all);
    print_targets(all["targets"]);
    write_json(all, out_path);
    std::printf("\nwrote %s\n", out_path.c_str());
    return 0;
}

}  // namespace nograd
