// The lockstep forward (model/perturbed_forward.h) against the plain one: a loss at θ + s·u must be the loss
// gpt2_forward gives after perturbing θ in place, for any subset, preconditioned or not; θ itself is never
// written; a point's bits do not depend on the other points, nor on the thread count.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <omp.h>

#include "model/perturbed_forward.h"
#include "train/param_subset.h"
#include "util/error.h"

using namespace nograd;

namespace {

// Vocabulary 500, 2 layers of 64 channels.
GPT2 small_model() {
    GPT2Config c;
    c.vocab_size = 500; c.padded_vocab_size = 512; c.max_seq_len = 32;
    c.num_layers = 2; c.num_heads = 4; c.channels = 64;
    GPT2 model(c);
    init_gpt2_weights(model, 7);
    return model;
}

struct Tokens {
    std::vector<int> inputs, targets;
};

Tokens tokens(int B, int T, int V) {
    Tokens t{std::vector<int>(B * T), std::vector<int>(B * T)};
    for (int i = 0; i < B * T; ++i) t.inputs[i] = (i * 7919 + 11) % V, t.targets[i] = (i * 104729 + 3) % V;
    return t;
}

float mean_of(const std::vector<double>& sums, int T) { return batch_mean_loss(sums, T); }

}  // namespace

TEST_SUITE("model") {
    TEST_CASE("lockstep losses equal gpt2_forward after perturbing theta in place, and theta is never written") {
        GPT2 model = small_model();
        const int B = 3, T = 16;
        const Tokens batch = tokens(B, T, model.config.vocab_size);
        // 4096-float chunks: the 64-input layers are cut into chunks of 64 rows, the MLP's output layer of 32;
        // LM-head chunks of 384 rows, so the online log-sum-exp meets a second, shorter chunk (116 rows).
        PerturbedForward lockstep(model.config, B, T, 4096, 384);
        PerturbedForward whole_layers(model.config, B, T);
        Activations acts(model.config, B, T, ActivationLayout::inference);
        const std::vector<float> theta(model.params.data(), model.params.data() + model.params.size());
        const float plain = gpt2_forward(model, acts, batch.inputs.data(), batch.targets.data());
        for (const char* params : {"all", "bias,layernorm", "layers:1-1", "embeddings", "attention"}) {
            const ParameterSubset subset = select_parameters(params, model.table, model.config, T);
            std::vector<float> diag_h(subset.size());
            for (size_t k = 0; k < diag_h.size(); ++k) diag_h[k] = 0.25f + float(k % 13);
            for (const bool preconditioned : {false, true}) {
                CAPTURE(params);
                CAPTURE(preconditioned);
                const Perturbation p{{9, 4}, Distribution::gaussian, subset.ranges,
                                     preconditioned ? diag_h.data() : nullptr};
                const float scales[3] = {0.0f, 0.05f, -0.05f};
                const auto sums = lockstep.sequence_sums(model, batch.inputs.data(), batch.targets.data(), p, scales);
                REQUIRE(sums.size() == 3);
                CHECK(std::memcmp(model.params.data(), theta.data(), theta.size() * 4) == 0);
                CHECK(mean_of(sums[0], T) == doctest::Approx(plain).epsilon(1e-6));
                for (int k = 1; k < 3; ++k) {
                    // The in-place route on a copy of the model.
                    GPT2 moved = small_model();
                    if (preconditioned)
                        add_preconditioned_direction(moved.params.data(), subset.ranges, scales[k], diag_h.data(),
                                                     p.key, p.dist);
                    else
                        add_scaled_direction(moved.params.data(), subset.ranges, scales[k], p.key, p.dist);
                    const float expected = gpt2_forward(moved, acts, batch.inputs.data(), batch.targets.data());
                    CHECK(mean_of(sums[k], T) == doctest::Approx(expected).epsilon(1e-5));
                    CHECK(std::abs(expected - plain) > 1e-4);  // the perturbation is large enough to be seen
                    // A point alone gives the bits it gave beside the others, and so do whole layers.
                    const float alone[1] = {scales[k]};
                    CHECK(lockstep.sequence_sums(model, batch.inputs.data(), batch.targets.data(), p, alone)[0] ==
                          sums[k]);
                    CHECK(mean_of(whole_layers.sequence_sums(model, batch.inputs.data(), batch.targets.data(), p,
                                                             alone)[0], T) ==
                          doctest::Approx(expected).epsilon(1e-5));
                }
            }
        }
    }

    TEST_CASE("lockstep losses give the same bits with 1 and 2 threads, and with the Rademacher directions") {
        GPT2 model = small_model();
        const int B = 2, T = 8;
        const Tokens batch = tokens(B, T, model.config.vocab_size);
        const ParameterSubset subset = select_parameters("all", model.table, model.config, T);
        const int threads = omp_get_max_threads();
        for (const Distribution dist : {Distribution::gaussian, Distribution::rademacher}) {
            const Perturbation p{{3, 1}, dist, subset.ranges, nullptr};
            const float scales[2] = {0.01f, -0.01f};
            std::vector<std::vector<double>> runs[2];
            for (const int n : {1, 2}) {
                omp_set_num_threads(n);
                PerturbedForward lockstep(model.config, B, T, 4096);
                runs[n - 1] = lockstep.sequence_sums(model, batch.inputs.data(), batch.targets.data(), p, scales);
            }
            omp_set_num_threads(threads);
            CHECK(runs[0] == runs[1]);
            CHECK(runs[0][0] != runs[0][1]);
        }
    }

    TEST_CASE("a lockstep point's per-sequence sums do not depend on the rest of the batch (--data-parallel)") {
        GPT2 model = small_model();
        const int B = 4, T = 8;
        const Tokens batch = tokens(B, T, model.config.vocab_size);
        const ParameterSubset subset = select_parameters("all", model.table, model.config, T);
        const Perturbation p{{5, 2}, Distribution::gaussian, subset.ranges, nullptr};
        const float scales[2] = {0.02f, -0.02f};
        PerturbedForward whole(model.config, B, T), part(model.config, 1, T);
        const auto all = whole.sequence_sums(model, batch.inputs.data(), batch.targets.data(), p, scales);
        for (int b = 0; b < B; ++b) {
            const auto one = part.sequence_sums(model, batch.inputs.data() + b * T, batch.targets.data() + b * T, p, scales);
            for (int k = 0; k < 2; ++k) CHECK(one[k][0] == all[k][size_t(b)]);
        }
    }

    TEST_CASE("a lockstep forward refuses a model of another shape than it was built for") {
        GPT2 model = small_model();
        GPT2Config wider = model.config;
        wider.channels = 128;
        PerturbedForward lockstep(wider, 1, 4);
        const Tokens batch = tokens(1, 4, model.config.vocab_size);
        const float theta[1] = {0.0f};
        CHECK_THROWS_WITH_AS(lockstep.sequence_sums(model, batch.inputs.data(), batch.targets.data(),
                                                    Perturbation{{1, 1}, Distribution::gaussian, {}, nullptr}, theta),
                             doctest::Contains("lockstep forward: expected the model it was built for"), Error);
    }
}
