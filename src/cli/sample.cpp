// `nograd sample`: generates text from a checkpoint with the KV-cached forward (model/generate.h) and prints
// it as it is made: decoded bytes with a tokenizer, token ids without one. One sequence, no batching.
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/model_flags.h"
#include "data/tokenizer.h"
#include "data/tokenizer_bin.h"
#include "kernels/gemm.h"
#include "model/checkpoint.h"
#include "model/generate.h"
#include "util/error.h"
#include "util/flags.h"

namespace nograd {
namespace {

constexpr int kGpt2EndOfText = 50256;  // the start token when no prompt and no tokenizer are given

// Decodes with llm.c's gpt2_tokenizer.bin (--tokenizer) or else the BPE vocabulary (--vocab); neither means ids.
struct Decoder {
    std::unique_ptr<DecodeTokenizer> table;
    const Gpt2Tokenizer* bpe = nullptr;

    bool active() const { return table || bpe; }
    std::string token(int id) const { return table ? table->decode_token(id) : bpe->decode_token(id); }
    int eot() const { return table ? table->eot_token() : bpe ? bpe->eot_token() : kGpt2EndOfText; }
};

// The decoder for the output, checked to cover the model's vocabulary.
Decoder make_decoder(const Flags& f, const Gpt2Tokenizer* bpe, int V) {
    Decoder decoder;
    decoder.bpe = bpe;
    std::string path = f.text("--vocab");
    if (f.has("--tokenizer")) {
        path = f.text("--tokenizer");
        decoder.table = std::make_unique<DecodeTokenizer>(DecodeTokenizer::load(path));
    }
    if (decoder.table && decoder.table->vocab_size() < V)
        throw file_error(path, "at least the model's " + std::to_string(V) + " tokens",
                         std::to_string(decoder.table->vocab_size()));
    if (!decoder.table && bpe && bpe->vocab_size() < V)
        throw file_error(path, "at least the model's " + std::to_string(V) + " tokens",
                         std::to_string(bpe->vocab_size()));
    return decoder;
}

std::vector<int> parse_prompt_ids(const std::string& text) {
    std::vector<int> ids;
    size_t start = 0;
    for (;;) {
        const size_t comma = text.find(',', start);
        const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        size_t used = 0;
        long long id = -1;
        try {
            id = std::stoll(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (item.empty() || used != item.size() || id < 0 || id > 1LL << 30)
            throw UsageError("--prompt-ids: expected comma-separated token ids such as 50256,464, found '" + item +
                             "' in '" + text + "'");
        ids.push_back(int(id));
        if (comma == std::string::npos) return ids;
        start = comma + 1;
    }
}

// The prompt's ids from --prompt-ids or --prompt (encoded with --vocab), or else the end-of-text token.
std::vector<int> prompt_ids(const Flags& f, const Gpt2Tokenizer* bpe, const Decoder& decoder, int V, int maxT) {
    if (f.has("--prompt-ids") && f.has("--prompt")) throw UsageError("give --prompt-ids or --prompt, not both");
    std::vector<int> ids;
    std::string flag = "--prompt-ids";
    if (f.has("--prompt-ids")) {
        ids = parse_prompt_ids(f.text("--prompt-ids"));
    } else if (f.has("--prompt")) {
        flag = "--prompt";
        if (!bpe) throw UsageError("--prompt needs --vocab DIR (encoder.json and vocab.bpe) to encode the text");
        ids = bpe->encode(f.text("--prompt"));
        if (ids.empty()) throw UsageError("--prompt: expected a text of at least one token, found ''");
    } else {
        if (decoder.eot() >= V)
            throw UsageError("no --prompt-ids or --prompt, and the end-of-text token " + std::to_string(decoder.eot()) +
                             " is outside this model's vocabulary (V = " + std::to_string(V) + "): give a prompt");
        return {decoder.eot()};
    }
    for (int id : ids)
        if (id >= V)
            throw UsageError(flag + ": expected token ids below the model's V = " + std::to_string(V) + ", found " +
                             std::to_string(id));
    if (int(ids.size()) >= maxT)
        throw UsageError(flag + ": expected fewer than maxT = " + std::to_string(maxT) + " tokens, found " +
                         std::to_string(ids.size()));
    return ids;
}

std::string decode_all(const Decoder& decoder, const std::vector<int>& ids) {
    std::string text;
    for (int id : ids) text += decoder.token(id);
    return text;
}

void print_json(const GenerationResult& r, const std::vector<int>& prompt, const Decoder& decoder,
                const SamplingOptions& o, int threads) {
    nlohmann::json out = {{"prompt_ids", prompt},
                          {"tokens", r.tokens},
                          {"generated", r.tokens.size()},
                          {"prefill_seconds", r.prefill_seconds},
                          {"seconds", r.sample_seconds},
                          {"tokens_per_second", r.tokens.size() / r.sample_seconds},
                          {"temperature", o.temperature},
                          {"top_k", o.top_k},
                          {"seed", o.seed},
                          {"threads", threads},
                          {"backend", gemm_backend_name()}};
    if (decoder.active()) {
        out["prompt_text"] = decode_all(decoder, prompt);
        out["text"] = decode_all(decoder, r.tokens);
    }
    // A sampled sequence may cut a UTF-8 character in two: replace such bytes rather than fail.
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

}  // namespace

int run_sample(const Args& args) {
    Flags flags("nograd sample --model M.bin --steps N [--tokenizer gpt2_tokenizer.bin] [--vocab DIR] "
                "[--prompt-ids 50256,464,... | --prompt \"text\"] [--temperature T] [--top-k K] [--seed S] [--json]",
                "Generates tokens with a KV-cached forward and prints them: decoded text with a tokenizer, token ids "
                "without one.\nWithout a prompt, generation starts from the end-of-text token (the tokenizer's, "
                "else GPT-2's 50256).",
                {model_flag("the model to sample from"),
                 heads_flag(),
                 {"--steps", "N", "", "tokens to generate (fewer if the sequence reaches maxT)"},
                 {"--tokenizer", "FILE", "", "llm.c's gpt2_tokenizer.bin, for decoding"},
                 {"--vocab", "DIR", "", "GPT-2 BPE files (encoder.json, vocab.bpe): encodes --prompt, decodes too"},
                 {"--prompt-ids", "LIST", "", "prompt as comma-separated token ids"},
                 {"--prompt", "TEXT", "", "prompt as text (needs --vocab)"},
                 {"--temperature", "T", "1.0", "softmax temperature, 0 to 100; 0 = greedy"},
                 {"--top-k", "K", "0", "sample among the K most likely tokens only; 0 = all"},
                 {"--seed", "S", "1337", "sampling seed (SplitMix64)"},
                 {"--json", "", "", "print one JSON object (ids, text, timing) instead of streaming"}});
    flags.parse(args);
    const int threads = setup_threads(flags);
    const int steps = int(flags.integer("--steps", 0, 1, 1 << 30));
    if (!flags.has("--steps")) throw UsageError("missing required flag --steps (see --help)");
    SamplingOptions options;
    options.temperature = flags.real("--temperature", 1.0, 0.0, 100.0);
    options.top_k = int(flags.integer("--top-k", 0, 0, 1 << 30));
    options.seed = uint64_t(flags.integer("--seed", 1337, 0, std::numeric_limits<long long>::max()));
    GPT2 model = load_model_from_flags(flags);
    const int V = model.config.vocab_size;
    std::unique_ptr<Gpt2Tokenizer> bpe;
    if (flags.has("--vocab")) bpe = std::make_unique<Gpt2Tokenizer>(Gpt2Tokenizer::load(flags.text("--vocab")));
    const Decoder decoder = make_decoder(flags, bpe.get(), V);
    const std::vector<int> prompt = prompt_ids(flags, bpe.get(), decoder, V, model.config.max_seq_len);
    const bool json = flags.has("--json");
    const bool user_prompt = flags.has("--prompt-ids") || flags.has("--prompt");
    // Streaming: the user's prompt, then each token as it is made (bytes with a tokenizer, else ids).
    size_t printed = 0;
    const auto print_token = [&](int id) {
        if (decoder.active()) {
            const std::string bytes = decoder.token(id);  // may hold a 0 byte: written, not printed as a C string
            std::fwrite(bytes.data(), 1, bytes.size(), stdout);
        } else {
            std::printf(printed ? " %d" : "%d", id);
        }
        ++printed;
        std::fflush(stdout);
    };
    if (!json && user_prompt)
        for (int id : prompt) print_token(id);
    const GenerationResult r = generate(model, prompt, steps, options, json ? std::function<void(int)>() : print_token);
    if (json) {
        print_json(r, prompt, decoder, options, threads);
        return 0;
    }
    std::printf("\n");
    std::fprintf(stderr, "%zu tokens in %.3f s (%.1f tokens/s) after a %zu-token prompt (%.3f s), %d threads, %s\n",
                 r.tokens.size(), r.sample_seconds, r.tokens.size() / r.sample_seconds, prompt.size(),
                 r.prefill_seconds, threads, gemm_backend_name());
    return 0;
}

}  // namespace nograd
