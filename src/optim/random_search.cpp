// (1+λ)-ES step: the parent's loss and λ candidates' losses, θ only read, then one pass to the accepted
// candidate (none when every candidate is rejected), and the 1/5th rule.
#include "optim/random_search.h"

#include <cmath>
#include <limits>

#include "optim/zeroth_order.h"
#include "util/error.h"

namespace nograd {

std::vector<FlagSpec> RandomSearchOptions::flag_specs() {
    const RandomSearchOptions d;
    return {
        {"--sigma", "S", number_text(d.sigma), "es: perturbation scale sigma; random: initial sigma"},
        {"--population", "N", std::to_string(d.population), "random: candidates per step (1 + N forward passes)"},
        distribution_flag(d.dist),
    };
}

RandomSearchOptions RandomSearchOptions::from_flags(const Flags& flags) {
    RandomSearchOptions o;
    o.sigma = flags.real("--sigma", o.sigma, std::numeric_limits<double>::lowest(),
                         std::numeric_limits<double>::max());
    o.population = int(flags.integer("--population", o.population, 1, 1 << 20));
    o.dist = distribution_from_flags(flags, o.dist);
    return o;
}

RandomSearchOptimizer::RandomSearchOptimizer(const RandomSearchOptions& options, uint64_t seed, size_t subset_size)
    : options_(options), seed_(seed), subset_size_(subset_size), sigma_(options.sigma) {
    require_positive(options.sigma, "--sigma");
    require_in_range(options.population, 1, 1 << 20, "--population");
}

StepReport RandomSearchOptimizer::step(Objective& objective, const StepContext& context) {
    check_objective(objective, subset_size_, "random");
    const size_t population = size_t(options_.population);
    const std::vector<DirectionKey> keys = step_directions(seed_, context.step, population);
    const float sigma = float(sigma_);

    // The parent at θ (scale 0) and each candidate θ + σz_j; θ is not moved until one is accepted. Alone, the
    // parent runs in lockstep with the first candidate (θ read once for both); shared out between processes,
    // every loss is a probe of its own, so that the processes can split them evenly.
    const bool shared = objective.population && objective.population->size() > 1;
    std::vector<Probe> probes;
    if (shared) probes.push_back({keys[0], {0.0f}});
    for (size_t j = 0; j < population; ++j) probes.push_back({keys[j], {sigma}});
    if (!shared) probes[0].scales = {0.0f, sigma};
    const ProbeLosses probed = probe_losses(objective, probes, options_.dist);
    std::vector<double> losses;  // the parent's, then the candidates'
    for (const std::vector<double>& probe : probed.losses) losses.insert(losses.end(), probe.begin(), probe.end());
    const double parent_loss = losses[0];
    StepReport report;
    report.direction_generations = probed.generations;
    double best_loss = losses[1];
    size_t best = 0;
    for (size_t j = 1; j < population; ++j) {
        const double loss = losses[1 + j];
        if (loss < best_loss || std::isnan(best_loss)) {
            best_loss = loss;
            best = j;
        }
    }
    const bool accept = best_loss <= parent_loss;  // false for NaN
    if (accept) {
        add_scaled_direction(objective.params.data(), objective.trainable, sigma, keys[best], options_.dist);
        report.direction_generations += 1;
    }

    // Rechenberg's 1/5th success rule in Beyer & Schwefel's multiplicative form.
    sigma_ *= accept ? kSuccessFactor : kFailureFactor;
    steps_ += 1;
    accepted_ += accept ? 1 : 0;
    report.loss = parent_loss;
    report.loss_kind = "unperturbed";
    report.forward_passes = int(1 + population);
    report.fields["sigma"] = sigma;
    report.fields["accepted"] = accept;
    report.fields["acceptance_rate"] = double(accepted_) / double(steps_);
    report.fields["candidate_loss"] = best_loss;
    return report;
}

nlohmann::json RandomSearchOptimizer::state_scalars() const {
    return {{"sigma", sigma_}, {"steps", steps_}, {"accepted", accepted_}};
}

void RandomSearchOptimizer::load_state_scalars(const nlohmann::json& state) {
    sigma_ = state_number(state, "sigma", "random");
    steps_ = state_count(state, "steps", "random");
    accepted_ = state_count(state, "accepted", "random");
}

nlohmann::json RandomSearchOptimizer::hyperparameters() const {
    return {{"optimizer", name()},
            {"seed", seed_},
            {"sigma", options_.sigma},
            {"population", options_.population},
            {"dist", distribution_name(options_.dist)}};
}

}  // namespace nograd
