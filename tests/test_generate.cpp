// The KV-cached forward against full re-runs of gpt2_forward (logits at every position, greedy sequences),
// the sampler's distribution, determinism and limits, and the error paths of generate() and `nograd sample`.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <set>

#include "cli/commands.h"
#include "helpers.h"
#include "model/generate.h"
#include "util/error.h"

using namespace nograd;
using nograd::testing::kTinyFixture;

namespace {

// V = 300, maxT = 96, L = 2, NH = 4, C = 32. GPT-2's N(0, 0.02) init scaled ×5, so the logits are spread far
// enough apart that greedy choices are not decided by rounding and the greedy sequence does not collapse to
// one repeated token.
GPT2 small_model() {
    GPT2Config c;
    c.max_seq_len = 96;
    c.vocab_size = 300;
    c.padded_vocab_size = padded_vocab(c.vocab_size);
    c.num_layers = 2;
    c.num_heads = 4;
    c.channels = 32;
    GPT2 model(c);
    init_gpt2_weights(model, 42);
    for (size_t i = 0; i < model.params.size(); ++i) model.params[i] *= 5.0f;
    return model;
}

// Logits (T, Vp) of one full forward over `tokens` (B = 1, T = tokens.size()).
std::vector<float> full_logits(const GPT2& model, const std::vector<int>& tokens) {
    const int T = int(tokens.size()), Vp = model.config.padded_vocab_size;
    Activations acts(model.config, 1, T, ActivationLayout::inference);
    gpt2_forward(model, acts, tokens.data(), nullptr);
    return std::vector<float>(acts.logits, acts.logits + size_t(T) * Vp);
}

// Greedy decoding the slow way: a full forward over the whole sequence for every new token.
std::vector<int> greedy_by_full_reruns(const GPT2& model, std::vector<int> sequence, int steps) {
    const int V = model.config.vocab_size, Vp = model.config.padded_vocab_size;
    std::vector<int> out;
    for (int s = 0; s < steps; ++s) {
        const std::vector<float> logits = full_logits(model, sequence);
        const float* last = logits.data() + (sequence.size() - 1) * Vp;
        int best = 0;
        for (int v = 1; v < V; ++v)
            if (last[v] > last[best]) best = v;
        out.push_back(best);
        sequence.push_back(best);
    }
    return out;
}

SamplingOptions sampling(double temperature, int top_k, uint64_t seed) {
    SamplingOptions o;
    o.temperature = temperature;
    o.top_k = top_k;
    o.seed = seed;
    return o;
}

// Frequencies of sample_token over `draws` draws from one stream.
std::vector<double> frequencies(const std::vector<float>& logits, const SamplingOptions& o, int draws) {
    SplitMix64 rng(o.seed);
    std::vector<double> f(logits.size(), 0.0);
    for (int i = 0; i < draws; ++i) f[sample_token(logits.data(), int(logits.size()), o, rng)] += 1.0 / draws;
    return f;
}

}  // namespace

TEST_SUITE("model") {
    TEST_CASE("KV-cached logits match a full forward at every position within 1e-4") {
        const GPT2 model = small_model();
        const int V = model.config.vocab_size, Vp = model.config.padded_vocab_size, T = model.config.max_seq_len;
        std::mt19937 rng(3);
        std::vector<int> tokens(T);
        for (int& t : tokens) t = int(rng() % V);
        const std::vector<float> expected = full_logits(model, tokens);  // causal: row t sees tokens 0..t only
        KVCache cache(model.config);
        std::vector<float> logits(V);
        double worst = 0.0, largest = 0.0;
        for (int t = 0; t < T; ++t) {
            forward_next_token(model, cache, tokens[t], t, logits.data());
            for (int v = 0; v < V; ++v) {
                worst = std::max(worst, double(std::abs(logits[v] - expected[size_t(t) * Vp + v])));
                largest = std::max(largest, double(std::abs(expected[size_t(t) * Vp + v])));
            }
        }
        INFO("largest |logit| " << largest << ", worst difference " << worst);
        CHECK(worst < 1e-4);
        CHECK(largest > 1.0);  // the scaled model's logits are not all near 0
        CHECK(KVCache::floats_needed(model.config) == 2u * 2 * 96 * 32);
    }

    TEST_CASE("greedy sampling with the KV cache gives the same 64 tokens as argmax over full re-runs") {
        const GPT2 model = small_model();
        const std::vector<int> prompt = {7, 123, 42};
        const GenerationResult r = generate(model, prompt, 64, sampling(0.0, 0, 1));
        REQUIRE(r.tokens.size() == 64);
        CHECK(r.tokens == greedy_by_full_reruns(model, prompt, 64));
        CHECK(std::set<int>(r.tokens.begin(), r.tokens.end()).size() >= 8);  // not one token repeated
    }

    TEST_CASE("sampling: same seed, same tokens; another seed, other tokens; top-k 1 is greedy") {
        const GPT2 model = small_model();
        const std::vector<int> prompt = {5};
        const auto a = generate(model, prompt, 40, sampling(1.0, 0, 11)).tokens;
        CHECK(a == generate(model, prompt, 40, sampling(1.0, 0, 11)).tokens);
        CHECK(a != generate(model, prompt, 40, sampling(1.0, 0, 12)).tokens);
        const auto greedy = generate(model, prompt, 40, sampling(0.0, 0, 11)).tokens;
        CHECK(a != greedy);
        CHECK(generate(model, prompt, 40, sampling(1.0, 1, 99)).tokens == greedy);
        CHECK(generate(model, prompt, 40, sampling(0.7, 1, 5)).tokens == greedy);
        std::vector<int> streamed;
        generate(model, prompt, 40, sampling(1.0, 0, 11), [&](int t) { streamed.push_back(t); });
        CHECK(streamed == a);
    }

    TEST_CASE("generation stops when the sequence reaches maxT") {
        const GPT2 model = small_model();
        const int maxT = model.config.max_seq_len;
        CHECK(generate(model, std::vector<int>(maxT - 3, 1), 10, sampling(1.0, 0, 1)).tokens.size() == 3);
        CHECK(generate(model, std::vector<int>(maxT - 1, 1), 10, sampling(1.0, 0, 1)).tokens.size() == 1);
        CHECK(generate(model, {1}, 500, sampling(0.0, 0, 1)).tokens.size() == size_t(maxT - 1));
    }

    TEST_CASE("SplitMix64 matches its published first output and maps to [0, 1)") {
        SplitMix64 rng(0);
        CHECK(rng.next() == 0xE220A8397B1DCDAFull);  // splitmix64 seeded with 0 (Vigna's reference code)
        SplitMix64 u(123);
        double lo = 1.0, hi = 0.0, mean = 0.0;
        for (int i = 0; i < 10000; ++i) {
            const double x = u.uniform();
            lo = std::min(lo, x), hi = std::max(hi, x), mean += x / 10000;
        }
        CHECK(lo >= 0.0);
        CHECK(hi < 1.0);
        CHECK(std::abs(mean - 0.5) < 0.01);
    }

    TEST_CASE("sample_token draws from softmax(logits / temperature) over the top k") {
        const std::vector<float> logits = {0.0f, 1.0f, 2.0f, -1.0f, 0.5f};
        for (double temperature : {1.0, 2.0, 0.5}) {
            const std::vector<double> f = frequencies(logits, sampling(temperature, 0, 7), 40000);
            double z = 0.0;
            for (float l : logits) z += std::exp(l / temperature);
            for (size_t i = 0; i < logits.size(); ++i) CHECK(std::abs(f[i] - std::exp(logits[i] / temperature) / z) < 0.01);
        }
        // top-k 2 keeps ids 2 and 1, renormalised: e² / (e + e²) and e / (e + e²).
        const std::vector<double> f = frequencies(logits, sampling(1.0, 2, 8), 40000);
        CHECK(f[0] == 0.0);
        CHECK(f[3] == 0.0);
        CHECK(f[4] == 0.0);
        CHECK(std::abs(f[2] - std::exp(2.0) / (std::exp(1.0) + std::exp(2.0))) < 0.01);
        // Ties at the top-k boundary go to the lower ids; greedy picks the lowest id among equal maxima.
        const std::vector<float> ties = {1.0f, 3.0f, 3.0f, 3.0f, 0.0f};
        const std::vector<double> g = frequencies(ties, sampling(1.0, 2, 9), 2000);
        CHECK(g[1] + g[2] == doctest::Approx(1.0));
        CHECK(g[1] > 0.3);
        CHECK(g[2] > 0.3);
        CHECK(argmax_token(ties.data(), 5) == 1);
        SplitMix64 rng(1);
        CHECK(sample_token(ties.data(), 5, sampling(0.0, 0, 1), rng) == 1);
        CHECK(sample_token(ties.data(), 5, sampling(1.0, 1, 1), rng) == 1);
    }

    TEST_CASE("generate and forward_next_token reject bad inputs") {
        const GPT2 model = small_model();
        const int V = model.config.vocab_size, maxT = model.config.max_seq_len;
        const SamplingOptions ok = sampling(1.0, 0, 1);
        CHECK_THROWS_AS(generate(model, {}, 4, ok), Error);
        CHECK_THROWS_AS(generate(model, {1, V}, 4, ok), Error);
        CHECK_THROWS_AS(generate(model, {-1}, 4, ok), Error);
        CHECK_THROWS_AS(generate(model, std::vector<int>(maxT, 1), 4, ok), Error);
        CHECK_THROWS_AS(generate(model, {1}, 0, ok), Error);
        CHECK_THROWS_AS(generate(model, {1}, 4, sampling(-0.5, 0, 1)), Error);
        CHECK_THROWS_AS(generate(model, {1}, 4, sampling(std::nan(""), 0, 1)), Error);
        CHECK_THROWS_AS(generate(model, {1}, 4, sampling(INFINITY, 0, 1)), Error);
        CHECK_THROWS_AS(generate(model, {1}, 4, sampling(1.0, -1, 1)), Error);
        KVCache cache(model.config);
        std::vector<float> logits(V);
        CHECK_THROWS_AS(forward_next_token(model, cache, 1, maxT, logits.data()), Error);
        CHECK_THROWS_AS(forward_next_token(model, cache, V, 0, logits.data()), Error);
        GPT2 broken = small_model();
        broken.params[broken.table.find("lnfw").offset] = std::numeric_limits<float>::quiet_NaN();
        CHECK_THROWS_WITH_AS(generate(broken, {1}, 4, ok), doctest::Contains("non-finite"), Error);
    }

    TEST_CASE("nograd sample: bad flags are usage errors naming the flag, bad files name the file") {
        const std::string model = kTinyFixture + "model.bin";  // V = 96, maxT = 16: no GPT-2 end-of-text token
        const auto usage_error = [](const Args& args, const std::string& needle) {
            CHECK_THROWS_WITH_AS(run_sample(args), doctest::Contains(needle.c_str()), UsageError);
        };
        usage_error({"--model", model, "--prompt-ids", "1"}, "--steps");
        usage_error({"--model", model, "--prompt-ids", "1", "--steps", "0"}, "--steps");
        usage_error({"--model", model, "--prompt-ids", "1", "--steps", "2", "--temperature", "-1"}, "--temperature");
        usage_error({"--model", model, "--prompt-ids", "1", "--steps", "2", "--temperature", "nan"}, "--temperature");
        usage_error({"--model", model, "--prompt-ids", "1", "--steps", "2", "--top-k", "-1"}, "--top-k");
        usage_error({"--model", model, "--prompt-ids", "1,x", "--steps", "2"}, "--prompt-ids");
        usage_error({"--model", model, "--prompt-ids", "1,,2", "--steps", "2"}, "--prompt-ids");
        usage_error({"--model", model, "--prompt-ids", "-3", "--steps", "2"}, "--prompt-ids");
        usage_error({"--model", model, "--prompt-ids", "1,96", "--steps", "2"}, "--prompt-ids");
        std::string sixteen_ids = "1";
        for (int i = 1; i < 16; ++i) sixteen_ids += ",1";
        usage_error({"--model", model, "--prompt-ids", sixteen_ids, "--steps", "2"}, "maxT");
        usage_error({"--model", model, "--prompt", "hello", "--steps", "2"}, "--vocab");
        usage_error({"--model", model, "--prompt", "hi", "--prompt-ids", "1", "--steps", "2"}, "--prompt");
        usage_error({"--model", model, "--steps", "2"}, "give a prompt");
        CHECK_THROWS_WITH_AS(run_sample({"--model", "/nonexistent/m.bin", "--steps", "2"}),
                             doctest::Contains("/nonexistent/m.bin"), Error);
        CHECK_THROWS_WITH_AS(run_sample({"--model", model, "--steps", "2", "--prompt-ids", "1", "--tokenizer",
                                         "/nonexistent/tok.bin"}),
                             doctest::Contains("/nonexistent/tok.bin"), Error);
    }
}
