// The backward pass of the whole model: finite differences of an independent double-precision GPT-2 written
// here (so fp32 rounding cannot hide an error) for every parameter tensor, PyTorch's gradients
// (tests/fixtures/gpt2_tiny/grads.bin, float64-computed), and the training layout's forward loss.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "data/shards.h"
#include "helpers.h"
#include "model/backward.h"
#include "model/checkpoint.h"
#include "model/memory_plan.h"

using namespace nograd;
using nograd::testing::kTinyFixture;
using nograd::testing::read_floats;

namespace {

using Vec = std::vector<double>;

// GPT-2 in double precision, loops straight from the definitions; shares only the parameter layout
// (the table's offsets) with nograd.
class ReferenceGPT2 {
public:
    ReferenceGPT2(const GPT2Config& c, const ParameterTable& table) : c_(c), table_(table) {}

    double loss(const Vec& p, const std::vector<int>& inputs, const std::vector<int>& targets, int B, int T) const {
        const int C = c_.channels, BT = B * T;
        const double* wte = &p[off("wte")];
        const double* wpe = &p[off("wpe")];
        Vec x(size_t(BT) * C);
        for (int bt = 0; bt < BT; ++bt)
            for (int i = 0; i < C; ++i) x[bt * C + i] = wte[inputs[bt] * C + i] + wpe[(bt % T) * C + i];
        for (int l = 0; l < c_.num_layers; ++l) x = block(p, l, x, B, T);
        const Vec h = layernorm(x, p, "lnfw", "lnfb", 0, BT);
        double total = 0;
        for (int bt = 0; bt < BT; ++bt) {
            Vec logits(c_.vocab_size, 0.0);
            double max = -1e300, sum = 0;
            for (int v = 0; v < c_.vocab_size; ++v) {
                for (int i = 0; i < C; ++i) logits[v] += h[bt * C + i] * wte[v * C + i];
                max = std::max(max, logits[v]);
            }
            for (int v = 0; v < c_.vocab_size; ++v) sum += std::exp(logits[v] - max);
            total += std::log(sum) + max - logits[targets[bt]];
        }
        return total / BT;
    }

private:
    size_t off(const char* name) const { return table_.find(name).offset; }

    Vec layernorm(const Vec& x, const Vec& p, const char* w, const char* b, size_t off_layer, int N) const {
        const int C = c_.channels;
        const double* weight = &p[off(w) + off_layer];
        const double* bias = &p[off(b) + off_layer];
        Vec y(x.size());
        for (int n = 0; n < N; ++n) {
            double m = 0, var = 0;
            for (int i = 0; i < C; ++i) m += x[n * C + i] / C;
            for (int i = 0; i < C; ++i) var += (x[n * C + i] - m) * (x[n * C + i] - m) / C;
            for (int i = 0; i < C; ++i)
                y[n * C + i] = (x[n * C + i] - m) / std::sqrt(var + 1e-5) * weight[i] + bias[i];
        }
        return y;
    }

    // y (N, OC) = x (N, IC) · W(OC, IC)ᵀ + b, W and b the layer-l slices of tensors w, b.
    Vec linear(const Vec& x, const Vec& p, const char* w, const char* b, int l, int N, int IC, int OC) const {
        const double* weight = &p[off(w) + size_t(l) * OC * IC];
        const double* bias = &p[off(b) + size_t(l) * OC];
        Vec y(size_t(N) * OC);
        for (int n = 0; n < N; ++n)
            for (int o = 0; o < OC; ++o) {
                double s = bias[o];
                for (int i = 0; i < IC; ++i) s += x[n * IC + i] * weight[o * IC + i];
                y[n * OC + o] = s;
            }
        return y;
    }

    Vec attention(const Vec& qkv, int B, int T) const {
        const int C = c_.channels, NH = c_.num_heads, hs = C / NH;
        Vec out(size_t(B) * T * C, 0.0);
        for (int b = 0; b < B; ++b)
            for (int h = 0; h < NH; ++h)
                for (int t = 0; t < T; ++t) {
                    auto qkv_at = [&](int tok, int part, int i) { return qkv[(b * T + tok) * 3 * C + part * C + h * hs + i]; };
                    Vec w(t + 1);
                    double max = -1e300, sum = 0;
                    for (int j = 0; j <= t; ++j) {
                        w[j] = 0;
                        for (int i = 0; i < hs; ++i) w[j] += qkv_at(t, 0, i) * qkv_at(j, 1, i);
                        w[j] /= std::sqrt(double(hs));
                        max = std::max(max, w[j]);
                    }
                    for (int j = 0; j <= t; ++j) sum += (w[j] = std::exp(w[j] - max));
                    for (int j = 0; j <= t; ++j)
                        for (int i = 0; i < hs; ++i) out[(b * T + t) * C + h * hs + i] += w[j] / sum * qkv_at(j, 2, i);
                }
        return out;
    }

    Vec block(const Vec& p, int l, Vec x, int B, int T) const {
        const int C = c_.channels, BT = B * T;
        const Vec qkv = linear(layernorm(x, p, "ln1w", "ln1b", size_t(l) * C, BT), p, "qkvw", "qkvb", l, BT, C, 3 * C);
        const Vec attproj = linear(attention(qkv, B, T), p, "attprojw", "attprojb", l, BT, C, C);
        for (size_t i = 0; i < x.size(); ++i) x[i] += attproj[i];
        Vec fc = linear(layernorm(x, p, "ln2w", "ln2b", size_t(l) * C, BT), p, "fcw", "fcb", l, BT, C, 4 * C);
        for (double& v : fc) v = 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
        const Vec fcproj = linear(fc, p, "fcprojw", "fcprojb", l, BT, 4 * C, C);
        for (size_t i = 0; i < x.size(); ++i) x[i] += fcproj[i];
        return x;
    }

    GPT2Config c_;
    const ParameterTable& table_;
};

// Like the fixture: weights N(0, 0.2) so that attention is far from uniform and every path carries
// gradient; LayerNorm weights 1 + 0.1·N; biases 0.05·N; padded wte rows zero.
GPT2 random_model(const GPT2Config& c, uint32_t seed) {
    GPT2 model(c);
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    for (const TensorInfo& t : model.table.tensors)
        for (size_t k = 0; k < t.size; ++k) {
            const float z = normal(rng);
            float& p = model.params[t.offset + k];
            p = t.group == TensorGroup::layernorm && !t.is_bias ? 1.0f + 0.1f * z : t.is_bias ? 0.05f * z : 0.2f * z;
        }
    for (size_t k = size_t(c.vocab_size) * c.channels; k < size_t(c.padded_vocab_size) * c.channels; ++k)
        model.weights.wte[k] = 0.0f;
    return model;
}

}  // namespace

TEST_SUITE("model") {
    TEST_CASE("backward: every parameter tensor matches central differences of a double-precision GPT-2") {
        GPT2Config c;
        c.max_seq_len = 8, c.vocab_size = 50, c.padded_vocab_size = 128, c.num_layers = 2, c.num_heads = 2,
        c.channels = 16;
        const int B = 2, T = 5;  // T < maxT: wpe rows T.. get no gradient
        GPT2 model = random_model(c, 31);
        std::mt19937 rng(32);
        std::vector<int> inputs(B * T), targets(B * T);
        for (int i = 0; i < B * T; ++i) inputs[i] = int(rng() % 12), targets[i] = int(rng() % c.vocab_size);
        Activations acts(c, B, T, ActivationLayout::training);
        ActivationGrads dacts(c, B, T);
        FloatBuffer grads(model.table.total);
        gpt2_forward_backward(model, acts, dacts, grads.data(), inputs.data(), targets.data());

        const ReferenceGPT2 reference(c, model.table);
        Vec p(model.params.data(), model.params.data() + model.table.total);
        const double h = 1e-5;
        for (const TensorInfo& t : model.table.tensors) {
            std::uniform_int_distribution<size_t> pick(0, t.name == "wpe" ? size_t(T) * c.channels - 1 : t.size - 1);
            double worst = 0;
            for (int sample = 0; sample < 6; ++sample) {
                const size_t i = t.offset + pick(rng);
                const double keep = p[i];
                p[i] = keep + h;
                const double up = reference.loss(p, inputs, targets, B, T);
                p[i] = keep - h;
                const double down = reference.loss(p, inputs, targets, B, T);
                p[i] = keep;
                const double numeric = (up - down) / (2 * h);
                // fp32 backward vs the exact derivative: 2e-6 absolute (gradients here reach ~0.5), 2e-4
                // relative. Measured errors stay below 1% of this; a wrong factor anywhere is far outside.
                worst = std::max(worst, std::abs(grads[i] - numeric) / (2e-6 + 2e-4 * std::abs(numeric)));
            }
            CAPTURE(t.name);
            CHECK(worst <= 1.0);
        }
        // Exactly zero: padded vocabulary rows, and position rows past T.
        for (size_t k = size_t(c.vocab_size) * c.channels; k < size_t(c.padded_vocab_size) * c.channels; ++k)
            REQUIRE(grads[k] == 0.0f);
        const size_t wpe = model.table.find("wpe").offset;
        for (size_t k = size_t(T) * c.channels; k < size_t(c.max_seq_len) * c.channels; ++k) REQUIRE(grads[wpe + k] == 0.0f);
    }

    TEST_CASE("backward: gradients match PyTorch's float64 gradients (fixture)") {
        const auto meta = nograd::testing::tiny_fixture_meta();
        const int B = meta["B"], T = meta["T"];
        GPT2 model = load_checkpoint(kTinyFixture + "model.bin");
        TokenDataset data(kTinyFixture + "tokens.bin", model.config.vocab_size);
        std::vector<int> inputs(B * T), targets(B * T);
        data.read_batch(0, B, T, inputs.data(), targets.data());
        Activations acts(model.config, B, T, ActivationLayout::training);
        ActivationGrads dacts(model.config, B, T);
        FloatBuffer grads(model.table.total);
        grads.fill(12345.0f);  // gpt2_forward_backward must zero it first
        const float loss = gpt2_forward_backward(model, acts, dacts, grads.data(), inputs.data(), targets.data());
        CHECK(std::abs(loss - double(meta["loss"])) < 1e-5);
        const auto expected = read_floats(kTinyFixture + "grads.bin", model.table.total);
        for (const TensorInfo& t : model.table.tensors) {
            CAPTURE(t.name);
            // Fixture gradients reach 0.46; fp32 roundoff is ~1e-7 of that.
            CHECK(nograd::testing::worst_error(grads.data() + t.offset, expected.data() + t.offset, t.size, 1e-6, 1e-4) <= 1.0);
        }
    }

    TEST_CASE("the training layout's forward loss equals the fixture's and the inference layout's") {
        const auto meta = nograd::testing::tiny_fixture_meta();
        const int B = meta["B"], T = meta["T"];
        GPT2 model = load_checkpoint(kTinyFixture + "model.bin");
        TokenDataset data(kTinyFixture + "tokens.bin", model.config.vocab_size);
        std::vector<int> inputs(B * T), targets(B * T);
        data.read_batch(0, B, T, inputs.data(), targets.data());
        Activations training(model.config, B, T, ActivationLayout::training);
        Activations inference(model.config, B, T, ActivationLayout::inference);
        const float train_loss = gpt2_forward(model, training, inputs.data(), targets.data());
        const float infer_loss = gpt2_forward(model, inference, inputs.data(), targets.data());
        CHECK(std::abs(train_loss - double(meta["loss"])) < 1e-5);
        CHECK(std::abs(train_loss - infer_loss) < 1e-5);
    }

    TEST_CASE("activation gradients take 6·B·T·C floats, and the backprop memory plan says so") {
        GPT2Config c;
        c.max_seq_len = 64, c.vocab_size = 500, c.padded_vocab_size = 512, c.num_layers = 3, c.num_heads = 4,
        c.channels = 64;
        CHECK(ActivationGrads::floats_needed(c, 3, 7) == size_t(6) * 3 * 7 * 64);
        const MemoryPlan plan = backprop_plan(c, 3, 7);
        bool found = false;
        for (const MemoryItem& item : plan.items)
            if (item.name == "activation gradients") {
                found = true;
                CHECK(item.bytes == size_t(6) * 3 * 7 * 64 * 4);
            }
        CHECK(found);
    }
}
