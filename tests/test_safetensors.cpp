// Hugging Face safetensors: the half/bfloat16 conversions against an independent formula, the fixture of
// tools/make_safetensors_fixture.py (F32/F16/BF16 files beside their llm.c twin and a loss computed in
// NumPy from Hugging Face's layout), export and round trips, and every malformed file rejected by name.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "helpers.h"
#include "model/checkpoint.h"
#include "model/model_file.h"
#include "model/safetensors.h"
#include "util/error.h"

using namespace nograd;
using nograd::testing::TempDir;
using nlohmann::json;

namespace {

const std::string kFixture = "tests/fixtures/safetensors/";

json expected_values() { return json::parse(nograd::testing::read_bytes(kFixture + "expected.json")); }

// The loss of gpt2_forward on the fixture's tokens (B sequences of T+1 tokens).
float fixture_loss(const GPT2& model) {
    const json e = expected_values();
    const int B = e["B"], T = e["T"];
    const std::vector<int> tokens = e["tokens"];
    std::vector<int> inputs, targets;
    for (int b = 0; b < B; ++b)
        for (int t = 0; t < T; ++t) {
            inputs.push_back(tokens[b * (T + 1) + t]);
            targets.push_back(tokens[b * (T + 1) + t + 1]);
        }
    Activations acts(model.config, B, T, ActivationLayout::inference);
    return gpt2_forward(model, acts, inputs.data(), targets.data());
}

// A safetensors file taken apart, to be edited and written back (header re-serialised, data as it was).
struct EditableFile {
    json header;
    std::vector<char> data;
};

EditableFile take_apart(const std::string& path) {
    const auto bytes = nograd::testing::read_bytes(path);
    uint64_t n;
    std::memcpy(&n, bytes.data(), 8);
    return {json::parse(std::string(bytes.data() + 8, n)), std::vector<char>(bytes.begin() + 8 + n, bytes.end())};
}

void put_together(const std::string& path, const EditableFile& f) {
    const std::string text = f.header.dump();
    const uint64_t n = text.size();
    std::vector<char> bytes(8);
    std::memcpy(bytes.data(), &n, 8);
    bytes.insert(bytes.end(), text.begin(), text.end());
    bytes.insert(bytes.end(), f.data.begin(), f.data.end());
    nograd::testing::write_bytes(path, bytes.data(), bytes.size());
}

// Writes the fixture `source` edited by `edit` into dir/name, with the fixture's config.json beside it.
std::string edited(const TempDir& dir, const std::string& source, const std::function<void(EditableFile&)>& edit,
                   const std::string& name = "edited.safetensors") {
    EditableFile f = take_apart(kFixture + source);
    edit(f);
    put_together(dir.file(name), f);
    std::filesystem::copy_file(kFixture + "config.json", dir.file("config.json"),
                               std::filesystem::copy_options::overwrite_existing);
    return dir.file(name);
}

void check_error_names(const std::function<void()>& fn, const std::string& path, const std::string& needle) {
    try {
        fn();
        FAIL("expected an error mentioning '" << needle << "'");
    } catch (const Error& e) {
        const std::string msg = e.what();
        CAPTURE(msg);
        CHECK(msg.find(path) != std::string::npos);
        CHECK(msg.find(needle) != std::string::npos);
    }
}

// binary16 by its definition (IEEE 754): (-1)^s · 2^(e-15) · (1 + m/1024), subnormals 2^-14 · m/1024.
double half_by_definition(uint16_t bits) {
    const int sign = bits >> 15, exponent = (bits >> 10) & 0x1F, mantissa = bits & 0x3FF;
    const double magnitude = exponent == 31 ? (mantissa ? NAN : INFINITY)
                             : exponent == 0 ? std::ldexp(double(mantissa), -24)
                                             : std::ldexp(1.0 + mantissa / 1024.0, exponent - 15);
    return sign ? -magnitude : magnitude;
}

uint32_t float_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

}  // namespace

TEST_SUITE("files") {
    TEST_CASE("half_to_float is exact for all 65536 binary16 values, bfloat16 widens exactly") {
        for (uint32_t bits = 0; bits < 65536; ++bits) {
            const float got = half_to_float(uint16_t(bits));
            const double want = half_by_definition(uint16_t(bits));
            CAPTURE(bits);
            if (std::isnan(want)) {
                REQUIRE(std::isnan(got));
                CHECK(((float_bits(got) >> 13) & 0x3FF) == (bits & 0x3FF));  // payload kept
                CHECK(std::signbit(got) == bool(bits & 0x8000));
            } else {
                REQUIRE(double(got) == want);
                REQUIRE(std::signbit(got) == bool(bits & 0x8000));  // including -0
            }
        }
        CHECK(half_to_float(0x0001) == 5.9604644775390625e-08f);  // smallest subnormal, 2^-24
        CHECK(half_to_float(0x03FF) == 6.097555160522461e-05f);   // largest subnormal
        CHECK(half_to_float(0x0400) == 6.103515625e-05f);         // smallest normal, 2^-14
        CHECK(half_to_float(0x7BFF) == 65504.0f);
        CHECK(half_to_float(0xC000) == -2.0f);
        CHECK(half_to_float(0xFC00) == -INFINITY);
        CHECK(bfloat16_to_float(0x3F80) == 1.0f);
        CHECK(bfloat16_to_float(0xC049) == -3.140625f);
        CHECK(bfloat16_to_float(0x0001) == std::ldexp(1.0f, -133));  // an fp32 subnormal
        CHECK(std::isinf(bfloat16_to_float(0x7F80)));
    }

    TEST_CASE("F32 safetensors loads bit-identical to its llm.c twin, with NumPy's loss from Hugging Face's layout") {
        const GPT2 bin = load_model(kFixture + "model.bin");
        const GPT2 st = load_model(kFixture + "model.safetensors");
        CHECK(describe(st.config) == describe(bin.config));
        CHECK(st.config.num_heads == 4);  // from config.json
        REQUIRE(st.params.size() == bin.params.size());
        CHECK(std::memcmp(st.params.data(), bin.params.data(), 4 * bin.params.size()) == 0);
        const float loss = fixture_loss(st);
        CHECK(loss == fixture_loss(bin));
        CHECK(std::abs(loss - double(expected_values()["loss_f32"])) < 1e-4);
        CHECK(describe(read_model_config(kFixture + "model.safetensors")) == describe(bin.config));
    }

    TEST_CASE("F16 (prefixed, tied lm_head, mask buffers) and BF16 files load within their precision") {
        const GPT2 bin = load_model(kFixture + "model.bin");
        const GPT2 f16 = load_model(kFixture + "model_f16.safetensors");
        const GPT2 bf16 = load_model(kFixture + "model_bf16.safetensors");
        REQUIRE(f16.params.size() == bin.params.size());
        REQUIRE(bf16.params.size() == bin.params.size());
        // Round to nearest: half an ulp, relative 2^-11 (F16) and 2^-8 (BF16); F16 subnormals are 2^-24 apart.
        CHECK(nograd::testing::worst_error(f16.params.data(), bin.params.data(), bin.params.size(),
                                           std::ldexp(1.0, -25), std::ldexp(1.0, -11)) <= 1.0);
        CHECK(nograd::testing::worst_error(bf16.params.data(), bin.params.data(), bin.params.size(), 0.0,
                                           std::ldexp(1.0, -8)) <= 1.0);
        int subnormal = 0;
        for (size_t i = 0; i < f16.params.size(); ++i)
            subnormal += f16.params[i] != 0 && std::abs(f16.params[i]) < std::ldexp(1.0f, -14);
        CHECK(subnormal >= 5);  // the fixture plants them: the subnormal path is exercised
        const size_t V = bin.config.vocab_size, Vp = bin.config.padded_vocab_size, C = bin.config.channels;
        for (size_t i = V * C; i < Vp * C; ++i) REQUIRE(f16.params[i] == 0.0f);
        CHECK(std::abs(fixture_loss(f16) - double(expected_values()["loss_f16"])) < 1e-4);
        CHECK(std::abs(fixture_loss(bf16) - double(expected_values()["loss_bf16"])) < 1e-4);
    }

    TEST_CASE("export writes the fixture's F32 file byte for byte, and a config.json that loads back") {
        TempDir dir;
        const GPT2 bin = load_model(kFixture + "model.bin");
        save_model(bin, dir.file("model.safetensors"));
        CHECK(nograd::testing::read_bytes(dir.file("model.safetensors")) ==
              nograd::testing::read_bytes(kFixture + "model.safetensors"));
        const json config = json::parse(nograd::testing::read_bytes(dir.file("config.json")));
        CHECK(config["model_type"] == "gpt2");
        CHECK(config["n_layer"] == 2);
        CHECK(config["n_head"] == 4);
        CHECK(config["n_embd"] == 16);
        CHECK(config["vocab_size"] == 96);
        CHECK(config["n_positions"] == 16);
        CHECK(config["activation_function"] == "gelu_new");
        CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 2);  // no temp files
    }

    TEST_CASE("round trips: .bin -> .safetensors -> .bin with nograd convert, and a padded vocabulary") {
        TempDir dir;
        REQUIRE(run_convert({"--in", kFixture + "model.bin", "--out", dir.file("m.safetensors")}) == 0);
        REQUIRE(run_convert({"--in", dir.file("m.safetensors"), "--out", dir.file("back.bin")}) == 0);
        CHECK(nograd::testing::read_bytes(dir.file("back.bin")) == nograd::testing::read_bytes(kFixture + "model.bin"));
        GPT2Config c;
        c.vocab_size = 130; c.padded_vocab_size = 256; c.max_seq_len = 4;
        c.num_layers = 1; c.num_heads = 2; c.channels = 8;
        GPT2 model(c);
        init_gpt2_weights(model, 11);
        save_model(model, dir.file("padded.safetensors"));
        const GPT2 back = load_model(dir.file("padded.safetensors"));
        CHECK(describe(back.config) == describe(c));
        CHECK(std::memcmp(back.params.data(), model.params.data(), 4 * model.params.size()) == 0);
        model.params[3] = NAN;
        check_error_names([&] { save_model(model, dir.file("nan.safetensors")); }, "nan.safetensors", "non-finite");
        CHECK(!std::filesystem::exists(dir.file("nan.safetensors")));
    }

    TEST_CASE("without config.json the config comes from the shapes; heads from GPT-2's widths or --heads") {
        TempDir dir;
        std::filesystem::copy_file(kFixture + "model.safetensors", dir.file("weights.safetensors"));
        check_error_names([&] { load_model(dir.file("weights.safetensors")); }, "weights.safetensors", "--heads");
        const GPT2 st = load_model(dir.file("weights.safetensors"), 4);
        const GPT2 bin = load_model(kFixture + "model.bin");
        CHECK(describe(st.config) == describe(bin.config));
        CHECK(std::memcmp(st.params.data(), bin.params.data(), 4 * bin.params.size()) == 0);
        CHECK(read_model_config(dir.file("weights.safetensors"), 4).num_layers == 2);
        CHECK(standard_gpt2_heads(768) == 12);
        CHECK(standard_gpt2_heads(1024) == 16);
        CHECK(standard_gpt2_heads(1280) == 20);
        CHECK(standard_gpt2_heads(1600) == 25);
        CHECK(standard_gpt2_heads(16) == 0);
        // Recognised by content without the extension; a file holding only the tied lm_head uses it as wte.
        const std::string renamed = edited(dir, "model.safetensors", [](EditableFile& f) {
            f.header["lm_head.weight"] = f.header["wte.weight"];
            f.header.erase("wte.weight");
        }, "weights.st");
        CHECK(std::memcmp(load_model(renamed).params.data(), bin.params.data(), 4 * bin.params.size()) == 0);
        CHECK_THROWS_AS(load_model(renamed, 2), UsageError);             // contradicts config.json
        CHECK_THROWS_AS(load_model(kFixture + "model.bin", 2), UsageError);  // contradicts the header
    }

    TEST_CASE("malformed containers are rejected naming the file and the tensor") {
        TempDir dir;
        const auto good = nograd::testing::read_bytes(kFixture + "model.safetensors");
        auto write_variant = [&](const std::string& name, std::vector<char> bytes) {
            nograd::testing::write_bytes(dir.file(name), bytes.data(), bytes.size());
            return dir.file(name);
        };
        auto with_length = [&](uint64_t n) { auto b = good; std::memcpy(b.data(), &n, 8); return b; };
        const std::string too_long = write_variant("long.safetensors", with_length(good.size()));
        check_error_names([&] { load_model(too_long); }, too_long, "header length");
        const std::string absurd = write_variant("absurd.safetensors", with_length(uint64_t(1) << 60));
        check_error_names([&] { load_model(absurd); }, absurd, "header length");
        const std::string tiny = write_variant("tiny.safetensors", std::vector<char>(good.begin(), good.begin() + 5));
        check_error_names([&] { load_model(tiny); }, tiny, "8-byte header length");
        auto bad_json = good;
        bad_json[8] = '#';  // the header's opening brace
        check_error_names([&] { load_model(write_variant("json.safetensors", bad_json)); }, "json.safetensors", "invalid JSON");
        const std::string truncated = write_variant("short.safetensors", std::vector<char>(good.begin(), good.end() - 4));
        check_error_names([&] { load_model(truncated); }, truncated, "past the end");
        auto longer = good;
        longer.insert(longer.end(), 4, 0);
        check_error_names([&] { load_model(write_variant("trail.safetensors", longer)); }, "trail.safetensors", "trailing");
    }

    TEST_CASE("malformed headers: dtype, shape, offsets, names and tied head, each named") {
        TempDir dir;
        auto check_edit = [&](const std::string& source, const std::function<void(EditableFile&)>& edit,
                              const std::string& needle) {
            const std::string path = edited(dir, source, edit);
            CAPTURE(needle);
            check_error_names([&] { load_model(path); }, path, needle);
        };
        const std::string f32 = "model.safetensors", f16 = "model_f16.safetensors";
        check_edit(f32, [](EditableFile& f) { f.header["ln_f.bias"]["dtype"] = "F33"; }, "tensor 'ln_f.bias'");
        check_edit(f32, [](EditableFile& f) { f.header["ln_f.bias"]["dtype"] = "F33"; }, "found F33");
        check_edit(f32, [](EditableFile& f) { f.header["ln_f.bias"]["dtype"] = "I32"; }, "'ln_f.bias' as F32, F16 or BF16");
        check_edit(f32, [](EditableFile& f) { f.header["h.0.attn.c_proj.weight"]["shape"] = {8, 32}; },
                   "'h.0.attn.c_proj.weight' of shape (16, 16)");
        check_edit(f32, [](EditableFile& f) { f.header["h.0.ln_1.bias"]["shape"] = {15}; }, "'h.0.ln_1.bias' to span 60 bytes");
        check_edit(f32, [](EditableFile& f) { f.header["h.0.ln_1.bias"]["shape"] = {-16}; }, "non-negative integer");
        check_edit(f32, [](EditableFile& f) {  // ln_1.bias's data precedes ln_1.weight's: the overlap comes first
            f.header["h.0.ln_1.weight"]["data_offsets"] = f.header["h.0.ln_1.bias"]["data_offsets"];
        }, "overlapping tensor 'h.0.ln_1.bias'");
        check_edit(f32, [](EditableFile& f) {
            json& last = f.header["wte.weight"]["data_offsets"];  // wte's data comes last (sorted names)
            last = {size_t(last[0]) + 4, size_t(last[1]) + 4};
            f.data.insert(f.data.end(), 4, 0);
        }, "a gap");
        check_edit(f32, [](EditableFile& f) { f.header["__metadata__"]["format"] = 1; }, "__metadata__");
        check_edit(f32, [](EditableFile& f) { f.header = json::array({1, 2}); f.data.clear(); }, "JSON object");
        check_edit(f32, [](EditableFile& f) {
            f.header["h.1.attn.masked_bias"] = f.header["h.1.mlp.c_fc.bias"];  // an ignored buffer now
            f.header.erase("h.1.mlp.c_fc.bias");
        }, "'h.1.mlp.c_fc.bias'");
        check_edit(f16, [](EditableFile& f) {
            f.header["transformer.score.bias"] = f.header["transformer.h.0.attn.masked_bias"];
            f.header.erase("transformer.h.0.attn.masked_bias");
        }, "tensor 'transformer.score.bias'");
        check_edit(f16, [](EditableFile& f) {
            f.header["wte.weight"] = f.header["lm_head.weight"];
            f.header.erase("lm_head.weight");
        }, "both 'wte.weight' and 'transformer.wte.weight'");
        check_edit(f16, [](EditableFile& f) { f.data[size_t(f.header["lm_head.weight"]["data_offsets"][0]) + 7] ^= 0x40; },
                   "'lm_head.weight' equal to 'wte.weight'");
        check_edit(f32, [](EditableFile& f) {
            const float nan = NAN;
            std::memcpy(&f.data[size_t(f.header["ln_f.weight"]["data_offsets"][0]) + 8], &nan, 4);
        }, "finite weights in tensor 'ln_f.weight'");
    }

    TEST_CASE("a config.json that contradicts the weights or describes another GPT-2 variant is rejected") {
        TempDir dir;
        const std::string path = dir.file("model.safetensors");
        std::filesystem::copy_file(kFixture + "model.safetensors", path);
        auto with_config = [&](const std::function<void(json&)>& edit) {
            json config = json::parse(nograd::testing::read_bytes(kFixture + "config.json"));
            edit(config);
            const std::string text = config.dump();
            nograd::testing::write_bytes(dir.file("config.json"), text.data(), text.size());
        };
        with_config([](json& c) { c["n_layer"] = 3; });
        check_error_names([&] { load_model(path); }, path, "'h.2.ln_1.weight'");
        with_config([](json& c) { c["n_positions"] = 32; });
        check_error_names([&] { load_model(path); }, path, "'wpe.weight' of shape (32, 16)");
        with_config([](json& c) { c["activation_function"] = "relu"; });
        check_error_names([&] { load_model(path); }, "config.json", "activation_function");
        with_config([](json& c) { c["scale_attn_by_inverse_layer_idx"] = true; });
        check_error_names([&] { load_model(path); }, "config.json", "scale_attn_by_inverse_layer_idx");
        with_config([](json& c) { c.erase("n_head"); });
        check_error_names([&] { read_model_config(path); }, "config.json", "'n_head'");
        nograd::testing::write_bytes(dir.file("config.json"), "{oops", 5);
        check_error_names([&] { load_model(path); }, "config.json", "invalid JSON");
    }
}
