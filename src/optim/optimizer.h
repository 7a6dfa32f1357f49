// What every optimizer sees of the problem, and what it reports. The same interface serves backprop
// (AdamW, SGD) and the zeroth-order methods, and the same optimizer code runs on GPT-2 and on the
// synthetic objectives of the tests (a quadratic, Rosenbrock): an Objective is just a flat parameter
// vector, the entries to train, and a loss (plus, for first-order methods, its gradient).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "optim/direction.h"
#include "util/comm.h"

namespace nograd {

struct Objective {
    std::span<float> params;              // every parameter, flat (GPT-2: llm.c's order)
    std::vector<IndexRange> trainable;    // entries to perturb and update; the rest never change
    std::vector<bool> decays;             // per trainable range: does weight decay apply?
    // Loss at the current parameters on the current minibatch: one forward pass. Every call within one
    // optimizer step sees the same minibatch.
    std::function<double()> loss;
    // Zeroth-order methods: the losses at θ + s·u for each s of `scales`, u the perturbation's direction over
    // the trainable entries, all on the current minibatch. θ itself is only read (no perturb-and-restore, so
    // no rounding drift); the forward passes run together, so u is generated once for all the scales.
    std::function<std::vector<double>(const Perturbation&, std::span<const float> scales)> losses_along;
    // First-order methods only: loss and gradient (written to `gradient`, same layout as params).
    std::function<double()> loss_and_gradient;
    std::span<float> gradient;
    // Population parallelism (es, spsa, random with several processes): when set, the processes share out
    // the step's loss evaluations (optim/zeroth_order.h, probe_losses) and gather the losses; `loss` and
    // `losses_along` are then local to each process. Null: this process evaluates every loss (alone, or with
    // the loss functions themselves splitting the batch across processes).
    Communicator* population = nullptr;
};

// What one step did, for the progress line and the JSON log.
struct StepReport {
    double loss = 0.0;                 // the loss this step reports
    std::string loss_kind;             // "unperturbed" or "mean_perturbed" (mean of L+ and L-)
    int forward_passes = 0;
    int backward_passes = 0;
    int direction_generations = 0;     // passes that regenerate z over the trained subset
    nlohmann::json fields = nlohmann::json::object();  // method-specific: projected_gradient, sigma, ...
};

struct StepContext {
    uint64_t step;   // numbered from 1
    double lr;       // after the schedule
};

class Optimizer {
public:
    virtual ~Optimizer() = default;
    virtual std::string name() const = 0;
    virtual StepReport step(Objective& objective, const StepContext& context) = 0;

    // Persistent state for resume: scalars as JSON, vectors (moments, H) as float spans. load_state
    // receives what save produced, vectors already sized by the optimizer's own constructor.
    virtual nlohmann::json state_scalars() const { return nlohmann::json::object(); }
    virtual void load_state_scalars(const nlohmann::json&) {}
    virtual std::vector<std::span<float>> state_vectors() { return {}; }
    // The hyperparameters in effect, for the log's run record.
    virtual nlohmann::json hyperparameters() const = 0;
};

}  // namespace nograd
