// Builds the optimizer `--optimizer NAME` asks for, with its hyperparameters from the flags; also the
// list of every method's flags for `nograd train --help` (each flag once; its help says which methods
// read it).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "optim/optimizer.h"
#include "util/flags.h"

namespace nograd {

struct OptimizerChoice {
    std::unique_ptr<Optimizer> optimizer;
    bool first_order = false;  // needs backprop (and the training activation layout)
    bool population_parallel = false;  // several processes can share out a step's loss evaluations
    double default_lr = 0.0;
};

std::vector<FlagSpec> optimizer_flag_specs();

// The method names, in --help order: adamw sgd random es spsa newton.
const std::vector<std::string>& optimizer_names();

// Throws UsageError naming --optimizer for an unknown method.
OptimizerChoice make_optimizer(const std::string& name, const Flags& flags, uint64_t seed, size_t subset_size);

// The learning rate a method uses when --lr is absent.
double default_learning_rate(const std::string& name);
std::string default_learning_rates_text();  // "adamw 0.0003, sgd 0.1, ...", for --help

}  // namespace nograd
