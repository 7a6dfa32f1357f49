#include "train/optimizer_factory.h"

#include <algorithm>

#include "optim/adamw.h"
#include "optim/es.h"
#include "optim/newton.h"
#include "optim/random_search.h"
#include "optim/sgd.h"
#include "optim/spsa.h"
#include "optim/zeroth_order.h"
#include "util/error.h"

namespace nograd {
namespace {

// The first-order methods' flags (their options structs are plain data).
const FlagSpec kWeightDecayFlag{"--weight-decay", "L", "0", "adamw/sgd/spsa: weight decay (adamw/sgd/spsa: matrices only)"};
const FlagSpec kMomentumFlag{"--momentum", "MU", "0", "sgd/spsa: momentum (> 0 costs one vector over the trained subset)"};
const FlagSpec kGradClipFlag{"--grad-clip", "N", "0 (off)", "adamw/sgd: clip the gradient norm to N"};

std::vector<FlagSpec> adamw_flag_specs() {
    return {{"--beta1", "B1", "0.9", "adamw: first-moment decay"},
            {"--beta2", "B2", "0.999", "adamw: second-moment decay"},
            {"--adam-eps", "E", "1e-8", "adamw: denominator epsilon"},
            kWeightDecayFlag, kGradClipFlag};
}

std::vector<FlagSpec> sgd_flag_specs() { return {kMomentumFlag, kWeightDecayFlag, kGradClipFlag}; }

// The flags method `name` reads (a known name).
std::vector<FlagSpec> method_flag_specs(const std::string& name) {
    if (name == "adamw") return adamw_flag_specs();
    if (name == "sgd") return sgd_flag_specs();
    if (name == "random") return RandomSearchOptions::flag_specs();
    if (name == "es") return EsOptions::flag_specs();
    if (name == "spsa") return SpsaOptions::flag_specs();
    return NewtonOptions::flag_specs();
}

// A hyperparameter flag of another method would be silently ignored: refuse it, naming who reads it.
void reject_foreign_flags(const std::string& name, const Flags& flags) {
    const std::vector<FlagSpec> own = method_flag_specs(name);
    for (const FlagSpec& spec : optimizer_flag_specs()) {
        if (!flags.has(spec.name)) continue;
        if (std::any_of(own.begin(), own.end(), [&](const FlagSpec& o) { return o.name == spec.name; })) continue;
        std::string readers;
        for (const std::string& other : optimizer_names())
            for (const FlagSpec& o : method_flag_specs(other))
                if (o.name == spec.name) readers += (readers.empty() ? "" : ", ") + other;
        throw UsageError(spec.name + ": not a flag of --optimizer " + name + " (it is read by " + readers + ")");
    }
}

AdamWOptions adamw_options(const Flags& f) {
    AdamWOptions o;
    o.beta1 = f.real("--beta1", o.beta1, 0.0, 0.999999);
    o.beta2 = f.real("--beta2", o.beta2, 0.0, 0.999999999);
    o.eps = f.real("--adam-eps", o.eps, 1e-30, 1.0);
    o.weight_decay = f.real("--weight-decay", o.weight_decay, 0.0, 1e3);
    o.max_grad_norm = f.real("--grad-clip", o.max_grad_norm, 0.0, 1e30);
    return o;
}

SGDOptions sgd_options(const Flags& f) {
    SGDOptions o;
    o.momentum = f.real("--momentum", o.momentum, 0.0, 0.999999);
    o.weight_decay = f.real("--weight-decay", o.weight_decay, 0.0, 1e3);
    o.max_grad_norm = f.real("--grad-clip", o.max_grad_norm, 0.0, 1e30);
    return o;
}

void append_unique(std::vector<FlagSpec>& out, const std::vector<FlagSpec>& specs) {
    for (const FlagSpec& s : specs)
        if (std::none_of(out.begin(), out.end(), [&](const FlagSpec& o) { return o.name == s.name; })) out.push_back(s);
}

}  // namespace

const std::vector<std::string>& optimizer_names() {
    static const std::vector<std::string> names = {"adamw", "sgd", "random", "es", "spsa", "newton"};
    return names;
}

std::vector<FlagSpec> optimizer_flag_specs() {
    std::vector<FlagSpec> specs;
    append_unique(specs, adamw_flag_specs());
    append_unique(specs, sgd_flag_specs());
    append_unique(specs, RandomSearchOptions::flag_specs());
    append_unique(specs, EsOptions::flag_specs());
    append_unique(specs, SpsaOptions::flag_specs());
    append_unique(specs, NewtonOptions::flag_specs());
    return specs;
}

std::string default_learning_rates_text() {
    std::string text;
    for (const std::string& name : optimizer_names())
        text += (text.empty() ? "" : ", ") + name + " " + number_text(default_learning_rate(name));
    return text;
}

double default_learning_rate(const std::string& name) {
    if (name == "adamw") return AdamW::kDefaultLr;
    if (name == "sgd") return SGD::kDefaultLr;
    if (name == "random") return RandomSearchOptimizer::kDefaultLr;
    if (name == "es") return EsOptimizer::kDefaultLr;
    if (name == "spsa") return SpsaOptimizer::kDefaultLr;
    if (name == "newton") return NewtonOptimizer::kDefaultLr;
    throw UsageError("--optimizer: expected adamw, sgd, random, es, spsa or newton, found '" + name + "'");
}

OptimizerChoice make_optimizer(const std::string& name, const Flags& flags, uint64_t seed, size_t subset_size) {
    OptimizerChoice c;
    c.default_lr = default_learning_rate(name);
    reject_foreign_flags(name, flags);
    if (name == "adamw") {
        c.optimizer = std::make_unique<AdamW>(subset_size, adamw_options(flags));
        c.first_order = true;
    } else if (name == "sgd") {
        c.optimizer = std::make_unique<SGD>(subset_size, sgd_options(flags));
        c.first_order = true;
    } else if (name == "random") {
        c.optimizer = std::make_unique<RandomSearchOptimizer>(RandomSearchOptions::from_flags(flags), seed, subset_size);
        c.population_parallel = true;
    } else if (name == "es") {
        c.optimizer = std::make_unique<EsOptimizer>(EsOptions::from_flags(flags), seed, subset_size);
        c.population_parallel = true;
    } else if (name == "spsa") {
        c.optimizer = std::make_unique<SpsaOptimizer>(SpsaOptions::from_flags(flags), seed, subset_size);
        c.population_parallel = true;
    } else {
        c.optimizer = std::make_unique<NewtonOptimizer>(NewtonOptions::from_flags(flags), seed, subset_size);
    }
    return c;
}

}  // namespace nograd
