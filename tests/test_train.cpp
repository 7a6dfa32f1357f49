// The training loop: parameter subsets, data order, resume, non-finite losses, thread-count
// invariance, and that every method actually learns on a tiny GPT-2.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <omp.h>

#include "model/backward.h"
#include "model/checkpoint.h"
#include "model/perturbed_forward.h"
#include "optim/spsa.h"
#include "optim/zeroth_order.h"
#include "train/evaluate.h"
#include "train/data_order.h"
#include "train/train_state.h"
#include "train_fixture.h"
#include "util/error.h"

using namespace nograd;
using namespace nograd::testing;

namespace {

struct Run {
    GPT2 model;
    TrainResult result;
};

// Trains a fresh small model with `method` for `steps` and returns it.
Run train_small(const std::string& method, long steps, const std::string& data,
                TrainSettings settings = quiet_settings(0, false),
                std::vector<std::string> extra = {}, const std::string& params = "all") {
    GPT2 model = small_model();
    settings.steps = steps;
    const ParameterSubset subset = select_parameters(params, model.table, model.config, settings.seq);
    const Flags flags = optimizer_flags(extra);
    OptimizerChoice choice = make_optimizer(method, flags, settings.seed, subset.size());
    settings.first_order = choice.first_order;
    if (settings.schedule.lr == 0.0) settings.schedule.lr = choice.default_lr;
    TokenDataset train_data(data, model.config.vocab_size);
    Communicator alone = Communicator::single_process();
    TrainResult r = train(model, *choice.optimizer, train_data, nullptr, subset, settings, alone);
    return {std::move(model), r};
}

bool same_bits(const GPT2& a, const GPT2& b) {
    return std::memcmp(a.params.data(), b.params.data(), a.params.size() * 4) == 0;
}

const std::vector<std::string> kMethods = {"adamw", "sgd", "random", "es", "spsa", "newton"};

}  // namespace

TEST_SUITE("train") {
    TEST_CASE("--params selects the union of groups, layers and names, and never the padded rows") {
        const GPT2 model = small_model();
        const auto& table = model.table;
        const GPT2Config& c = model.config;
        const ParameterSubset all = select_parameters("all", table, c, 16);
        // Everything but wte's padded rows and wpe's rows at positions >= 16.
        CHECK(all.size() == table.total - size_t(c.padded_vocab_size - c.vocab_size) * c.channels -
                                size_t(c.max_seq_len - 16) * c.channels);
        const ParameterSubset with_positions = select_parameters("all", table, c, 16, true);
        CHECK(with_positions.size() == all.size() + size_t(c.max_seq_len - 16) * c.channels);
        const ParameterSubset bitfit = select_parameters("bias,layernorm", table, c, 16);
        size_t expected = 0;
        for (const TensorInfo& t : table.tensors)
            if (t.is_bias || t.group == TensorGroup::layernorm) expected += t.size;
        CHECK(bitfit.size() == expected);
        for (bool d : bitfit.decays) CHECK(!d);
        const ParameterSubset layer1 = select_parameters("layers:1-1", table, c, 16);
        CHECK(layer1.size() == size_t(12 * c.channels * c.channels + 13 * c.channels));
        const TensorInfo& qkvw = table.find("qkvw");
        const ParameterSubset named = select_parameters("qkvw,qkvw", table, c, 16);
        REQUIRE(named.ranges.size() == 1);
        CHECK(named.ranges[0].begin == qkvw.offset);
        CHECK(named.ranges[0].end == qkvw.offset + qkvw.size);
        CHECK(named.decays[0]);
        for (const char* bad : {"", "nonsense", "layers:0-9", "layers:2-1", "layers:x", "bias,,mlp"})
            CHECK_THROWS_AS(select_parameters(bad, table, c, 16), UsageError);
    }

    TEST_CASE("data order: unshuffled follows eval's batch numbers; shuffled is a fixed permutation per epoch") {
        DataOrder plain(5, false, 1);
        for (uint64_t s = 1; s <= 12; ++s) CHECK(plain.batch_for_step(s) == (s - 1) % 5);
        DataOrder a(50, true, 7), b(50, true, 7), other(50, true, 8);
        std::vector<size_t> epoch1, epoch2;
        for (uint64_t s = 1; s <= 50; ++s) epoch1.push_back(a.batch_for_step(s));
        for (uint64_t s = 51; s <= 100; ++s) epoch2.push_back(a.batch_for_step(s));
        std::vector<size_t> sorted = epoch1;
        std::sort(sorted.begin(), sorted.end());
        for (size_t i = 0; i < 50; ++i) CHECK(sorted[i] == i);  // a permutation
        CHECK(epoch1 != epoch2);
        CHECK(b.batch_for_step(77) == epoch2[26]);  // random access: a pure function of the step
        bool differs = false;
        for (uint64_t s = 1; s <= 50; ++s) differs |= other.batch_for_step(s) != epoch1[s - 1];
        CHECK(differs);
    }

    TEST_CASE("resume continues bit-identically for every method") {
        TempDir dir;
        write_token_shard(dir.file("train.bin"), 4000, 64);
        for (const std::string& method : kMethods) {
            CAPTURE(method);
            std::vector<std::string> extra;
            if (method == "sgd" || method == "spsa") extra = {"--momentum", "0.5"};
            TrainSettings settings = quiet_settings(0, false);
            const Run full = train_small(method, 9, dir.file("train.bin"), settings, extra);
            settings.save_path = dir.file(method + ".bin");
            train_small(method, 4, dir.file("train.bin"), settings, extra);
            // Continue from the saved pair, as `nograd train --resume` does.
            GPT2 model = load_checkpoint(settings.save_path);
            settings.resume_path = state_path_for(settings.save_path);
            settings.steps = 9;
            const ParameterSubset subset = select_parameters("all", model.table, model.config, settings.seq);
            OptimizerChoice choice = make_optimizer(method, optimizer_flags(extra), settings.seed, subset.size());
            settings.first_order = choice.first_order;
            settings.schedule.lr = choice.default_lr;
            TokenDataset data(dir.file("train.bin"), 64);
            Communicator alone = Communicator::single_process();
            const TrainResult r = train(model, *choice.optimizer, data, nullptr, subset, settings, alone);
            CHECK(r.steps_done == 9);
            CHECK(same_bits(model, full.model));
        }
    }

    TEST_CASE("resume refuses a state paired with another model, a changed run, or a corrupted file") {
        TempDir dir;
        write_token_shard(dir.file("train.bin"), 2000, 64);
        TrainSettings settings = quiet_settings(0, false);
        settings.save_path = dir.file("run.bin");
        train_small("spsa", 3, dir.file("train.bin"), settings);
        const std::string state = state_path_for(settings.save_path);
        CHECK_NOTHROW(load_train_state(state));
        // A different model beside the state.
        GPT2 other = small_model(99);
        settings.resume_path = state;
        settings.save_path.clear();
        {
            const ParameterSubset subset = select_parameters("all", other.table, other.config, settings.seq);
            OptimizerChoice choice = make_optimizer("spsa", optimizer_flags({}), settings.seed, subset.size());
            settings.schedule.lr = choice.default_lr;
            TokenDataset data(dir.file("train.bin"), 64);
            settings.steps = 5;
            Communicator alone = Communicator::single_process();
            CHECK_THROWS_WITH_AS(train(other, *choice.optimizer, data, nullptr, subset, settings, alone),
                                 doctest::Contains("checksum mismatch"), Error);
            // The right model but another batch size.
            GPT2 right = load_checkpoint(dir.file("run.bin"));
            settings.batch = 1;
            CHECK_THROWS_WITH_AS(train(right, *choice.optimizer, data, nullptr, subset, settings, alone),
                                 doctest::Contains("batch"), UsageError);
        }
        auto bytes = read_bytes(state);
        bytes[bytes.size() / 2] ^= 0x10;
        write_bytes(dir.file("bad.state"), bytes.data(), bytes.size());
        CHECK_THROWS_WITH_AS(load_train_state(dir.file("bad.state")), doctest::Contains("checksum"), Error);
        write_bytes(dir.file("short.state"), bytes.data(), 30);
        CHECK_THROWS_AS(load_train_state(dir.file("short.state")), Error);
    }

    TEST_CASE("a non-finite loss stops training, names the step, and writes no checkpoint") {
        TempDir dir;
        write_token_shard(dir.file("train.bin"), 2000, 64);
        for (const std::string& method : kMethods) {
            CAPTURE(method);
            GPT2 model = small_model();
            model.weights.lnfw[3] = NAN;  // poisons every loss from the first step on
            TrainSettings s = quiet_settings(5, false);
            s.save_path = dir.file(method + ".bin");
            const ParameterSubset subset = select_parameters("all", model.table, model.config, s.seq);
            OptimizerChoice choice = make_optimizer(method, optimizer_flags({}), s.seed, subset.size());
            s.first_order = choice.first_order;
            s.schedule.lr = choice.default_lr;
            TokenDataset data(dir.file("train.bin"), 64);
            Communicator alone = Communicator::single_process();
            CHECK_THROWS_WITH_AS(train(model, *choice.optimizer, data, nullptr, subset, s, alone),
                                 doctest::Contains("step 1"), Error);
            CHECK(!file_exists(s.save_path));
            CHECK(!file_exists(state_path_for(s.save_path)));
        }
    }

    TEST_CASE("same seed gives bit-identical parameters with 1 and 2 threads, for every method") {
        TempDir dir;
        write_token_shard(dir.file("train.bin"), 2000, 64);
        const int threads = omp_get_max_threads();
        for (const std::string& method : kMethods) {
            CAPTURE(method);
            omp_set_num_threads(1);
            const Run one = train_small(method, 4, dir.file("train.bin"));
            omp_set_num_threads(2);
            const Run two = train_small(method, 4, dir.file("train.bin"));
            CHECK(same_bits(one.model, two.model));
        }
        omp_set_num_threads(threads);
    }

    TEST_CASE("--data-parallel on one process gives the bits of a plain run, for every method") {
        // One process takes the data-parallel path (its block is the whole batch, per-sequence sums gathered
        // from itself): the losses and updates must be those of the ordinary path.
        TempDir dir;
        write_token_shard(dir.file("train.bin"), 2000, 64);
        for (const std::string& method : kMethods) {
            CAPTURE(method);
            TrainSettings split = quiet_settings(0, false);
            split.data_parallel = true;
            const Run plain = train_small(method, 3, dir.file("train.bin"));
            const Run data_parallel = train_small(method, 3, dir.file("train.bin"), split);
            CHECK(same_bits(plain.model, data_parallel.model));
            CHECK(plain.result.train_loss == data_parallel.result.train_loss);
        }
    }

    TEST_CASE("only the chosen parameters change") {
        TempDir dir;
        write_token_shard(dir.file("train.bin"), 2000, 64);
        const GPT2 start = small_model();
        for (const std::string& method : kMethods) {
            CAPTURE(method);
            // newton's warm-up steps leave θ exactly where it was (it is only read): skip them here.
            const std::vector<std::string> extra = method == "newton" ? std::vector<std::string>{"--h-warmup", "0"}
                                                                      : std::vector<std::string>{};
            const Run run = train_small(method, 3, dir.file("train.bin"), quiet_settings(0, false), extra, "bias,layers:1-1");
            const ParameterSubset subset = select_parameters("bias,layers:1-1", start.table, start.config, 16);
            std::vector<bool> trained(start.params.size(), false);
            for (const IndexRange& r : subset.ranges)
                for (size_t i = r.begin; i < r.end; ++i) trained[i] = true;
            size_t changed_outside = 0, changed_inside = 0;
            for (size_t i = 0; i < start.params.size(); ++i) {
                const bool changed = std::memcmp(&start.params[i], &run.model.params[i], 4) != 0;
                (trained[i] ? changed_inside : changed_outside) += changed;
            }
            CHECK(changed_outside == 0);
            if (method != "random") CHECK(changed_inside > 0);  // random search may reject every candidate
        }
    }

    TEST_CASE("every method lowers the training loss of a tiny GPT-2 within 200 steps") {
        TempDir dir;
        write_token_shard(dir.file("train.bin"), 8000, 64);
        const TokenDataset data(dir.file("train.bin"), 64);
        // Step sizes from the per-method defaults' neighbourhood, for a 30k-parameter model.
        const std::map<std::string, std::string> lr = {{"adamw", "3e-3"}, {"sgd", "0.3"}, {"random", "0"},
                                                       {"es", "3e-5"},  {"spsa", "3e-3"}, {"newton", "0.1"}};
        for (const std::string& method : kMethods) {
            CAPTURE(method);
            TrainSettings settings = quiet_settings(0, false);
            settings.schedule.lr = std::stod(lr.at(method));
            const GPT2 start = small_model();
            Activations acts(start.config, settings.batch, settings.seq, ActivationLayout::inference);
            const double before = evaluate_loss(start, acts, data, 16).loss;
            std::vector<std::string> extra;
            TrainSettings train_settings = settings;
            if (method == "random") {
                // Random search accepts a candidate on one batch's loss. At 32 tokens a batch that noise
                // outweighs the candidate's gain and the loss over 16 batches wandered up for some seeds;
                // with 4x the tokens it falls for every seed tried (11, 12, 13: 4.21 -> 3.57..3.59).
                extra = {"--sigma", "3e-3"};
                train_settings.batch = 8;
            }
            const Run run = train_small(method, 200, dir.file("train.bin"), train_settings, extra);
            const double after = evaluate_loss(run.model, acts, data, 16).loss;
            MESSAGE(method << ": loss over 16 batches " << before << " -> " << after);
            CHECK(after < before - 0.05);
        }
    }

    TEST_CASE("spsa on a tiny GPT-2: the mean of g z over many directions points along the backprop gradient") {
        TempDir dir;
        write_token_shard(dir.file("train.bin"), 2000, 64);
        const TokenDataset data(dir.file("train.bin"), 64);
        GPT2 model = small_model();
        const int B = 2, T = 16;
        std::vector<int> inputs(B * T), targets(B * T);
        data.read_batch(0, B, T, inputs.data(), targets.data());
        const ParameterSubset subset = select_parameters("layernorm", model.table, model.config, T);
        const size_t d = subset.size();
        // The true gradient over the subset, by backprop.
        Activations train_acts(model.config, B, T, ActivationLayout::training);
        ActivationGrads dacts(model.config, B, T);
        FloatBuffer grads(model.params.size());
        grads.fill(0.0f);
        gpt2_forward_backward(model, train_acts, dacts, grads.data(), inputs.data(), targets.data());
        std::vector<double> gradient;
        for (const IndexRange& r : subset.ranges)
            for (size_t i = r.begin; i < r.end; ++i) gradient.push_back(grads[i]);
        // E[g z] = E[z zᵀ] ∇L = ∇L; with N directions the mean's cosine to ∇L is about 1/sqrt(1 + d/N).
        PerturbedForward lockstep(model.config, B, T);
        Objective objective;
        objective.params = model.params.span();
        objective.trainable = subset.ranges;
        objective.decays = subset.decays;
        objective.losses_along = [&](const Perturbation& p, std::span<const float> scales) {
            return lockstep.mean_losses(model, inputs.data(), targets.data(), p, scales);
        };
        const uint64_t seed = 5, steps = 4000;
        SpsaOptimizer spsa(SpsaOptions{}, seed, d);
        std::vector<double> mean(d, 0.0);
        std::vector<float> z(d);
        for (uint64_t step = 1; step <= steps; ++step) {
            const double g = spsa.step(objective, {step, 0.0}).fields["projected_gradient"].get<double>();
            size_t k = 0;
            for (const IndexRange& r : subset.ranges) {
                generate_direction(z.data() + k, r.begin, r.end, step_direction(seed, step, 0), Distribution::gaussian);
                k += r.end - r.begin;
            }
            for (size_t i = 0; i < d; ++i) mean[i] += g * double(z[i]) / double(steps);
        }
        double dot = 0.0, norm_mean = 0.0, norm_grad = 0.0;
        for (size_t i = 0; i < d; ++i)
            dot += mean[i] * gradient[i], norm_mean += mean[i] * mean[i], norm_grad += gradient[i] * gradient[i];
        const double cosine = dot / std::sqrt(norm_mean * norm_grad);
        MESSAGE("cosine(mean g z, backprop gradient) over " << d << " LayerNorm parameters: " << cosine);
        CHECK(cosine > 0.9);
    }
}
