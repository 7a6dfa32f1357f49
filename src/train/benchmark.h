// What `nograd bench` measures: a GPT-2 made in memory (GPT-2's random initialisation, random tokens), the
// units of work it times — a forward pass, one step of each optimizer, a perturbation pass, sampling —
// and the kernels of a step timed alone at the step's shapes, for "where the time goes". Nothing here
// instruments the hot code: the component times come from running the same kernels separately.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/backward.h"
#include "model/gpt2.h"
#include "model/memory_plan.h"
#include "model/perturbed_forward.h"
#include "optim/optimizer.h"
#include "train/param_subset.h"

namespace nograd {

// A model and one minibatch of random tokens. The model is either freshly initialised or given.
struct BenchModel {
    BenchModel(GPT2 model, int B, int T, uint64_t seed);
    GPT2 model;
    int B, T;
    std::vector<int> inputs, targets;  // (B, T) uniform over the real vocabulary
    ParameterSubset trainable;         // --params all: every parameter except wte's padded rows and wpe ≥ T
};

// FLOPs of one forward pass, counting multiply and add: the matrix products (the four Linear layers of
// every block and the tied LM head over the V real tokens) and causal attention (q·k and p·v for the
// T(T+1)/2 pairs of each sequence):
//   2·B·T·(12·L·C² + V·C) + 2·L·B·T·(T+1)·C.
// LayerNorm, GELU, softmax and the loss add < 1% and are left out. A backprop step counts 3× this.
double forward_flops(const GPT2Config& config, int B, int T);

enum class BenchMode { forward, backprop, random, es, spsa, spsa_rademacher, newton };
const std::vector<BenchMode>& all_bench_modes();
std::string bench_mode_name(BenchMode mode);  // "forward", "backprop", "random", "es", "spsa", "spsa-rademacher", "newton"
BenchMode bench_mode_from_name(const std::string& name, const std::string& flag);  // UsageError naming flag

// One mode's unit of work (a forward pass, or one optimizer step with the optimizer's defaults) and
// everything it needs: activations in the layout the mode uses, gradients for backprop, the optimizer
// and its state. Each run() is one more step (fresh directions each time).
class ModeRunner {
public:
    ModeRunner(BenchModel& bench, BenchMode mode);
    ~ModeRunner();
    void run();
    BenchMode mode() const { return mode_; }
    int forward_passes() const;          // per unit
    int last_generations() const { return last_report_.direction_generations; }  // z passes, last step
    const StepReport& last_report() const { return last_report_; }
    MemoryPlan plan() const;             // what the mode should need in memory

private:
    BenchModel& bench_;
    BenchMode mode_;
    std::unique_ptr<Activations> acts_;           // forward (inference layout) and backprop (training)
    std::unique_ptr<PerturbedForward> lockstep_;  // the zeroth-order modes, as `nograd train` runs them
    std::unique_ptr<ActivationGrads> act_grads_;
    FloatBuffer grads_;
    Objective objective_;
    std::unique_ptr<Optimizer> optimizer_;
    uint64_t step_ = 0;
    StepReport last_report_;
};

// Runs the units in turn, once per round, after one warm-up round; returns seconds[unit][round].
// Interleaving spreads the slow phases of a shared machine over every unit alike.
std::vector<std::vector<double>> time_interleaved(const std::vector<std::function<void()>>& units, int rounds);
double median(std::vector<double> values);

// The kernels of a forward pass and a backprop step, each timed alone at the model's shapes (medians of
// `rounds`), in seconds per forward pass / per step.
struct KernelTimes {
    double forward_matmul = 0;     // the 4 Linear layers × L and the LM head
    double forward_attention = 0;  // streaming attention × L (inference layout)
    double train_matmul = 0;       // forward and backward Linear layers and LM head of a backprop step
    double train_attention = 0;    // materialising attention forward + backward × L
    double adamw_update = 0;       // zeroing the gradient, its norm, and AdamW's update over every parameter
};
KernelTimes time_kernels(BenchModel& bench, int rounds, bool with_backprop);

// One pass θ += s·z over the trainable subset, in place (what every zeroth-order step repeats), and the
// generation of z alone into a cache-sized buffer (no memory traffic), in seconds.
struct PerturbationTimes {
    double in_place = 0;
    double generate_only = 0;
    size_t parameters = 0;
};
PerturbationTimes time_perturbation(BenchModel& bench, Distribution dist, int rounds);

// Tokens per second of KV-cached sampling: `steps` tokens after a `prompt`-token prompt (median of rounds).
double sampling_tokens_per_second(const GPT2& model, int prompt, int steps, int rounds);

}  // namespace nograd
