// The forward pass against PyTorch (tests/fixtures/gpt2_tiny, made by tools/make_fixtures.py) and the
// properties a fresh model must have.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <fstream>
#include <omp.h>

#include "data/shards.h"
#include "helpers.h"
#include "model/checkpoint.h"

using namespace nograd;
using nograd::testing::kTinyFixture;

namespace {

struct Batch {
    std::vector<int> inputs, targets;
};

Batch fixture_batch(int vocab, int B, int T) {
    TokenDataset data(kTinyFixture + "tokens.bin", vocab);
    Batch batch{std::vector<int>(B * T), std::vector<int>(B * T)};
    data.read_batch(0, B, T, batch.inputs.data(), batch.targets.data());
    return batch;
}

}  // namespace

TEST_SUITE("model") {
    TEST_CASE("forward logits and loss match PyTorch within 1e-4") {
        const auto meta = nograd::testing::tiny_fixture_meta();
        const int B = meta["B"], T = meta["T"];
        GPT2 model = load_checkpoint(kTinyFixture + "model.bin");
        const int V = model.config.vocab_size, Vp = model.config.padded_vocab_size;
        const Batch batch = fixture_batch(V, B, T);
        for (ActivationLayout layout : {ActivationLayout::inference, ActivationLayout::training}) {
            Activations acts(model.config, B, T, layout);
            const float loss = gpt2_forward(model, acts, batch.inputs.data(), batch.targets.data());
            CHECK(std::abs(loss - double(meta["loss"])) < 1e-4);
            const auto bytes = nograd::testing::read_bytes(kTinyFixture + "logits.bin");
            REQUIRE(bytes.size() == size_t(B) * T * V * 4);
            const float* expected = reinterpret_cast<const float*>(bytes.data());
            double worst = 0;
            for (int bt = 0; bt < B * T; ++bt)
                for (int v = 0; v < V; ++v)
                    worst = std::max(worst, double(std::abs(acts.logits[size_t(bt) * Vp + v] - expected[bt * V + v])));
            CHECK(worst < 1e-4);
        }
    }

    TEST_CASE("a bf16 (version 5) checkpoint loads and matches PyTorch's loss for the bf16 weights") {
        const auto meta = nograd::testing::tiny_fixture_meta();
        const int B = meta["B"], T = meta["T"];
        GPT2 model = load_checkpoint(kTinyFixture + "model_bf16.bin");
        const Batch batch = fixture_batch(model.config.vocab_size, B, T);
        Activations acts(model.config, B, T, ActivationLayout::inference);
        CHECK(std::abs(gpt2_forward(model, acts, batch.inputs.data(), batch.targets.data()) -
                       double(meta["loss_bf16"])) < 1e-4);
    }

    TEST_CASE("a fresh GPT-2 init gives loss close to ln(V) on random tokens, and its statistics are GPT-2's") {
        GPT2Config c;
        c.vocab_size = 500; c.padded_vocab_size = 512; c.max_seq_len = 32;
        c.num_layers = 2; c.num_heads = 4; c.channels = 64;
        GPT2 model(c);
        init_gpt2_weights(model, 42);
        const int B = 4, T = 32;
        std::vector<int> in(B * T), tg(B * T);
        for (int i = 0; i < B * T; ++i) { in[i] = (i * 7919) % 500; tg[i] = (i * 104729 + 3) % 500; }
        Activations acts(c, B, T, ActivationLayout::inference);
        CHECK(std::abs(gpt2_forward(model, acts, in.data(), tg.data()) - std::log(500.0)) < 0.05);
        const TensorInfo& fcw = model.table.find("fcw");
        double sq = 0;
        for (size_t i = 0; i < fcw.size; ++i) sq += double(model.params[fcw.offset + i]) * model.params[fcw.offset + i];
        CHECK(std::sqrt(sq / fcw.size) == doctest::Approx(0.02).epsilon(0.02));
        const TensorInfo& proj = model.table.find("fcprojw");
        sq = 0;
        for (size_t i = 0; i < proj.size; ++i) sq += double(model.params[proj.offset + i]) * model.params[proj.offset + i];
        CHECK(std::sqrt(sq / proj.size) == doctest::Approx(0.02 / 2.0).epsilon(0.03));  // 0.02/√(2L), L = 2
        for (size_t i = size_t(c.vocab_size) * c.channels; i < size_t(c.padded_vocab_size) * c.channels; ++i)
            REQUIRE(model.weights.wte[i] == 0.0f);
        CHECK(model.weights.ln1w[0] == 1.0f);
        CHECK(model.weights.qkvb[5] == 0.0f);
    }

    TEST_CASE("the forward pass gives the same bits with 1 and 2 threads") {
        GPT2 model = load_checkpoint(kTinyFixture + "model.bin");
        const Batch batch = fixture_batch(model.config.vocab_size, 2, 8);
        Activations acts(model.config, 2, 8, ActivationLayout::inference);
        const int threads = omp_get_max_threads();
        omp_set_num_threads(1);
        const float one = gpt2_forward(model, acts, batch.inputs.data(), batch.targets.data());
        omp_set_num_threads(2);
        const float two = gpt2_forward(model, acts, batch.inputs.data(), batch.targets.data());
        omp_set_num_threads(threads);
        CHECK(one == two);
    }

    TEST_CASE("a sequence's losses do not depend on the rest of the batch; the loss reduces by sequence") {
        // What --data-parallel relies on: a process running the forward pass on its own sequences gets the
        // bits one process gets on the whole batch, so gathering per-sequence sums reproduces its loss.
        GPT2 model = load_checkpoint(kTinyFixture + "model.bin");
        const int B = 4, T = 4;  // the fixture's 17 tokens
        const Batch batch = fixture_batch(model.config.vocab_size, B, T);
        Activations whole(model.config, B, T, ActivationLayout::inference);
        const float loss = gpt2_forward(model, whole, batch.inputs.data(), batch.targets.data());
        std::vector<double> sums;
        for (const auto& [first, count] : {std::pair{0, 1}, {1, 2}, {3, 1}}) {  // sequences [0,1), [1,3), [3,4)
            Activations part(model.config, count, T, ActivationLayout::inference);
            gpt2_forward(model, part, batch.inputs.data() + first * T, batch.targets.data() + first * T);
            CHECK(std::memcmp(part.losses, whole.losses + first * T, sizeof(float) * count * T) == 0);
            for (int b = 0; b < count; ++b) sums.push_back(sequence_loss_sum(part.losses + b * T, T));
        }
        CHECK(batch_mean_loss(sums, T) == loss);
        double mean = 0.0;  // and it is the mean loss, to double rounding
        for (int i = 0; i < B * T; ++i) mean += whole.losses[i] / double(B * T);
        CHECK(std::abs(loss - mean) < 1e-6);
    }

    TEST_CASE("the parameter table follows llm.c's order and GPT-2's parameter count") {
        GPT2Config c = preset_config("d12", "test");
        const ParameterTable table = make_parameter_table(c);
        CHECK(table.total == 124475904u);
        CHECK(table.tensors.front().name == "wte");
        CHECK(table.tensors[4].name == "qkvw");
        CHECK(table.tensors.back().name == "lnfb");
        CHECK(table.find("lnfb").offset + table.find("lnfb").size == table.total);
        CHECK(parameter_count(preset_config("d48", "test")) == 1557686400u);
    }

    TEST_CASE("the inference layout does not grow with depth; the training layout does") {
        GPT2Config shallow = preset_config("d12", "test"), deep = shallow;
        deep.num_layers = 48;
        CHECK(Activations::floats_needed(shallow, 4, 64, ActivationLayout::inference) ==
              Activations::floats_needed(deep, 4, 64, ActivationLayout::inference));
        CHECK(Activations::floats_needed(deep, 4, 64, ActivationLayout::training) >
              3 * Activations::floats_needed(shallow, 4, 64, ActivationLayout::training));
    }
}
