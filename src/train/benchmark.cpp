#include "train/benchmark.h"

#include <omp.h>
#include <algorithm>
#include <chrono>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "model/generate.h"
#include "optim/adamw.h"
#include "optim/direction.h"
#include "optim/es.h"
#include "optim/newton.h"
#include "optim/random_search.h"
#include "optim/spsa.h"
#include "util/error.h"

namespace nograd {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_of(const std::function<void()>& work) {
    const auto start = Clock::now();
    work();
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Median seconds of `work` over `rounds` runs after one warm-up run.
double median_seconds(const std::function<void()>& work, int rounds) {
    return median(time_interleaved({work}, rounds)[0]);
}

// Tokens uniform over [0, V), from SplitMix64 so every run of the bench sees the same batch.
std::vector<int> random_tokens(size_t n, int V, uint64_t seed) {
    SplitMix64 rng(seed);
    std::vector<int> tokens(n);
    for (int& t : tokens) t = int(rng.next() % uint64_t(V));
    return tokens;
}

std::unique_ptr<Optimizer> make_bench_optimizer(BenchMode mode, size_t subset, uint64_t seed) {
    switch (mode) {
        case BenchMode::backprop: return std::make_unique<AdamW>(subset);
        case BenchMode::random: return std::make_unique<RandomSearchOptimizer>(RandomSearchOptions{}, seed, subset);
        case BenchMode::es: return std::make_unique<EsOptimizer>(EsOptions{}, seed, subset);
        case BenchMode::spsa: return std::make_unique<SpsaOptimizer>(SpsaOptions{}, seed, subset);
        case BenchMode::spsa_rademacher: {
            SpsaOptions options;
            options.dist = Distribution::rademacher;
            return std::make_unique<SpsaOptimizer>(options, seed, subset);
        }
        case BenchMode::newton: return std::make_unique<NewtonOptimizer>(NewtonOptions{}, seed, subset);
        case BenchMode::forward: break;
    }
    return nullptr;
}

double bench_learning_rate(BenchMode mode) {
    switch (mode) {
        case BenchMode::backprop: return 1e-4;  // llm.c's CPU trainer
        case BenchMode::random: return RandomSearchOptimizer::kDefaultLr;
        case BenchMode::es: return EsOptimizer::kDefaultLr;
        case BenchMode::spsa:
        case BenchMode::spsa_rademacher: return SpsaOptimizer::kDefaultLr;
        case BenchMode::newton: return NewtonOptimizer::kDefaultLr;
        case BenchMode::forward: break;
    }
    return 0.0;
}

}  // namespace

BenchModel::BenchModel(GPT2 m, int B_, int T_, uint64_t seed)
    : model(std::move(m)), B(B_), T(T_),
      inputs(random_tokens(size_t(B_) * T_, model.config.vocab_size, seed)),
      targets(random_tokens(size_t(B_) * T_, model.config.vocab_size, seed + 1)),
      trainable(select_parameters("all", model.table, model.config, T_)) {}

double forward_flops(const GPT2Config& c, int B, int T) {
    const double BT = double(B) * T, C = c.channels, L = c.num_layers;
    return 2.0 * BT * (12.0 * L * C * C + double(c.vocab_size) * C) + 2.0 * L * BT * (T + 1.0) * C;
}

const std::vector<BenchMode>& all_bench_modes() {
    static const std::vector<BenchMode> modes = {BenchMode::forward, BenchMode::backprop, BenchMode::random,
                                                 BenchMode::es,      BenchMode::spsa,     BenchMode::spsa_rademacher,
                                                 BenchMode::newton};
    return modes;
}

std::string bench_mode_name(BenchMode mode) {
    switch (mode) {
        case BenchMode::forward: return "forward";
        case BenchMode::backprop: return "backprop";
        case BenchMode::random: return "random";
        case BenchMode::es: return "es";
        case BenchMode::spsa: return "spsa";
        case BenchMode::spsa_rademacher: return "spsa-rademacher";
        case BenchMode::newton: return "newton";
    }
    return "?";
}

BenchMode bench_mode_from_name(const std::string& name, const std::string& flag) {
    for (BenchMode mode : all_bench_modes())
        if (bench_mode_name(mode) == name) return mode;
    throw UsageError(flag + ": expected forward, backprop, random, es, spsa, spsa-rademacher or newton, found '" +
                     name + "'");
}

ModeRunner::ModeRunner(BenchModel& bench, BenchMode mode)
    : bench_(bench), mode_(mode) {
    objective_.params = bench.model.params.span();
    objective_.trainable = bench.trainable.ranges;
    objective_.decays = bench.trainable.decays;
    const int B = bench.B, T = bench.T;
    if (mode != BenchMode::forward && mode != BenchMode::backprop) {
        lockstep_ = std::make_unique<PerturbedForward>(bench.model.config, B, T);
        objective_.losses_along = [this](const Perturbation& p, std::span<const float> scales) {
            return lockstep_->mean_losses(bench_.model, bench_.inputs.data(), bench_.targets.data(), p, scales);
        };
        objective_.loss = [this] { return lockstep_->loss(bench_.model, bench_.inputs.data(), bench_.targets.data()); };
        optimizer_ = make_bench_optimizer(mode, bench.trainable.size(), 1337);
        return;
    }
    acts_ = std::make_unique<Activations>(bench.model.config, B, T,
                                          mode == BenchMode::backprop ? ActivationLayout::training
                                                                      : ActivationLayout::inference);
    objective_.loss = [this] {
        return gpt2_forward(bench_.model, *acts_, bench_.inputs.data(), bench_.targets.data());
    };
    if (mode == BenchMode::backprop) {
        act_grads_ = std::make_unique<ActivationGrads>(bench.model.config, bench.B, bench.T);
        grads_ = FloatBuffer(bench.model.params.size());
        objective_.gradient = grads_.span();
        objective_.loss_and_gradient = [this] {
            return gpt2_forward_backward(bench_.model, *acts_, *act_grads_, grads_.data(), bench_.inputs.data(),
                                         bench_.targets.data());
        };
    }
    optimizer_ = make_bench_optimizer(mode, bench.trainable.size(), 1337);
}

ModeRunner::~ModeRunner() = default;

void ModeRunner::run() {
    if (!optimizer_) {
        objective_.loss();
        return;
    }
    last_report_ = optimizer_->step(objective_, StepContext{++step_, bench_learning_rate(mode_)});
}

int ModeRunner::forward_passes() const {
    switch (mode_) {
        case BenchMode::forward: return 1;
        case BenchMode::backprop: return 1;
        case BenchMode::random: return 1 + RandomSearchOptions{}.population;
        case BenchMode::es: return 2 * EsOptions{}.pairs;
        case BenchMode::spsa:
        case BenchMode::spsa_rademacher: return 2 * SpsaOptions{}.samples;
        case BenchMode::newton: return 3;
    }
    return 0;
}

MemoryPlan ModeRunner::plan() const {
    const GPT2Config& c = bench_.model.config;
    if (mode_ == BenchMode::backprop) return backprop_plan(c, bench_.B, bench_.T);
    const int points = mode_ == BenchMode::newton ? 3 : 2;  // per lockstep: L0 and L± for newton
    MemoryPlan plan = mode_ == BenchMode::forward
                          ? inference_plan(c, bench_.B, bench_.T)
                          : zeroth_order_plan(c, bench_.B, bench_.T, points, omp_get_max_threads());
    plan.mode = bench_mode_name(mode_);
    if (mode_ == BenchMode::newton) plan.items.push_back({"diagonal Hessian H", bench_.trainable.size() * 4});
    return plan;
}

std::vector<std::vector<double>> time_interleaved(const std::vector<std::function<void()>>& units, int rounds) {
    std::vector<std::vector<double>> seconds(units.size());
    for (int round = -1; round < rounds; ++round)
        for (size_t u = 0; u < units.size(); ++u) {
            const double t = seconds_of(units[u]);
            if (round >= 0) seconds[u].push_back(t);
        }
    return seconds;
}

double median(std::vector<double> values) {
    if (values.empty()) return 0.0;
    std::sort(values.begin(), values.end());
    const size_t n = values.size();
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

namespace {

// Every Linear layer of the forward pass in order, on the inference activations (the values do not
// matter for the timing; the shapes and the weights' memory traffic do).
void forward_matmuls(const GPT2& model, const Activations& acts) {
    const GPT2Config& c = model.config;
    const int BT = acts.B * acts.T, C = c.channels;
    for (int l = 0; l < c.num_layers; ++l) {
        const LayerWeights w = layer_weights(model.weights, c, l);
        const BlockActivations& a = acts.blocks[l];
        matmul_forward(a.qkv, a.ln1, w.qkvw, w.qkvb, BT, C, 3 * C);
        matmul_forward(a.attproj, a.atty, w.attprojw, w.attprojb, BT, C, C);
        matmul_forward(a.fch, a.ln2, w.fcw, w.fcb, BT, C, 4 * C);
        matmul_forward(a.fcproj, a.fch_gelu, w.fcprojw, w.fcprojb, BT, 4 * C, C);
    }
    matmul_forward(acts.logits, acts.lnf, model.weights.wte, nullptr, BT, C, c.vocab_size, c.padded_vocab_size);
}

// The backward pass's Linear layers (weight and input gradients) at the same shapes, accumulating into
// `grads` (a parameter-sized buffer) from the activation-gradient scratch.
void backward_matmuls(const GPT2& model, const Activations& acts, ActivationGrads& g, float* grads) {
    const GPT2Config& c = model.config;
    const int BT = acts.B * acts.T, C = c.channels;
    const ParameterViews d = make_views(grads, model.table);
    matmul_backward(g.ln, d.wte, nullptr, acts.logits, acts.lnf, model.weights.wte, BT, C, c.vocab_size,
                    c.padded_vocab_size);
    for (int l = c.num_layers - 1; l >= 0; --l) {
        const LayerWeights w = layer_weights(model.weights, c, l);
        const LayerWeights dw = layer_weights(d, c, l);
        const BlockActivations& a = acts.blocks[l];
        auto m = [](const float* p) { return const_cast<float*>(p); };
        matmul_backward(g.fch, m(dw.fcprojw), m(dw.fcprojb), g.residual, a.fch_gelu, w.fcprojw, BT, 4 * C, C);
        matmul_backward(g.ln, m(dw.fcw), m(dw.fcb), g.fch, a.ln2, w.fcw, BT, C, 4 * C);
        matmul_backward(g.atty, m(dw.attprojw), m(dw.attprojb), g.residual, a.atty, w.attprojw, BT, C, C);
        matmul_backward(g.ln, m(dw.qkvw), m(dw.qkvb), g.qkv, a.ln1, w.qkvw, BT, C, 3 * C);
    }
}

}  // namespace

KernelTimes time_kernels(BenchModel& bench, int rounds, bool with_backprop) {
    const GPT2& model = bench.model;
    const GPT2Config& c = model.config;
    const int B = bench.B, T = bench.T, C = c.channels, L = c.num_layers;
    KernelTimes times;
    {
        Activations acts(c, B, T, ActivationLayout::inference);
        gpt2_forward(model, acts, bench.inputs.data(), bench.targets.data());
        const BlockActivations& a = acts.blocks[0];
        const std::vector<std::vector<double>> s = time_interleaved(
            {[&] { forward_matmuls(model, acts); },
             [&] { for (int l = 0; l < L; ++l) attention_forward_streaming(a.atty, a.qkv, B, T, C, c.num_heads); }},
            rounds);
        times.forward_matmul = median(s[0]);
        times.forward_attention = median(s[1]);
    }
    if (!with_backprop) return times;
    Activations acts(c, B, T, ActivationLayout::training);
    ActivationGrads grads(c, B, T);
    FloatBuffer dparams(model.params.size());
    dparams.fill(0.0f);
    gpt2_forward_backward(model, acts, grads, dparams.data(), bench.inputs.data(), bench.targets.data());
    AdamW adamw(bench.trainable.size());
    Objective objective;
    objective.params = bench.model.params.span();
    objective.trainable = bench.trainable.ranges;
    objective.decays = bench.trainable.decays;
    objective.gradient = dparams.span();
    // The step's gradient bookkeeping without the passes: zero the buffer as gpt2_forward_backward does.
    objective.loss_and_gradient = [&] {
        std::fill_n(dparams.data(), dparams.size(), 0.0f);
        return 0.0;
    };
    uint64_t step = 0;
    const std::vector<std::vector<double>> s = time_interleaved(
        {[&] {
             forward_matmuls(model, acts);
             backward_matmuls(model, acts, grads, dparams.data());
         },
         [&] {
             for (int l = 0; l < L; ++l) {
                 const BlockActivations& a = acts.blocks[l];
                 attention_forward(a.atty, a.att, a.qkv, B, T, C, c.num_heads);
                 attention_backward(grads.qkv, grads.atty, a.qkv, a.att, B, T, C, c.num_heads);
             }
         },
         [&] { adamw.step(objective, StepContext{++step, 1e-4}); }},
        rounds);
    times.train_matmul = median(s[0]);
    times.train_attention = median(s[1]);
    times.adamw_update = median(s[2]);
    return times;
}

PerturbationTimes time_perturbation(BenchModel& bench, Distribution dist, int rounds) {
    PerturbationTimes times;
    times.parameters = bench.trainable.size();
    const std::vector<IndexRange>& ranges = bench.trainable.ranges;
    float* params = bench.model.params.data();
    const DirectionKey key{2024, direction_stream(1, 0)};
    float sign = 1.0f;  // alternate +εz and −εz so repeated rounds leave θ where it was (up to rounding)
    times.in_place = median_seconds([&] { add_scaled_direction(params, ranges, sign *= -1.0f, key, dist); }, rounds);
    times.generate_only = median_seconds(
        [&] {
            const DirectionChunkPlan plan(ranges);
            const ptrdiff_t pieces = ptrdiff_t(plan.size());
#pragma omp parallel for schedule(static)
            for (ptrdiff_t number = 0; number < pieces; ++number) {
                alignas(64) float z[kDirectionChunk];
                const DirectionChunkPlan::Piece piece = plan.piece(size_t(number));
                generate_direction_serial(z, piece.begin, piece.end, key, dist);
                asm volatile("" : : "r"(z) : "memory");  // keep the otherwise unused z
            }
        },
        rounds);
    return times;
}

double sampling_tokens_per_second(const GPT2& model, int prompt, int steps, int rounds) {
    const std::vector<int> tokens = random_tokens(size_t(prompt), model.config.vocab_size, 7);
    std::vector<double> rates;
    for (int round = 0; round < rounds; ++round) {
        SamplingOptions options;
        options.seed = uint64_t(round);
        const GenerationResult r = generate(model, tokens, steps, options);
        rates.push_back(double(r.tokens.size()) / std::max(r.sample_seconds, 1e-9));
    }
    return median(rates);
}

}  // namespace nograd
