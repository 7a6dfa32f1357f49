// `nograd eval`: the mean loss of a checkpoint over the first K batches of a token dataset.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/model_flags.h"
#include "data/shards.h"
#include "kernels/gemm.h"
#include "model/model_file.h"
#include "model/memory_plan.h"
#include "train/evaluate.h"
#include "util/error.h"
#include "util/flags.h"
#include "util/resources.h"

namespace nograd {

int run_eval(const Args& args) {
    Flags flags("nograd eval --model M.bin --data 'PATTERN' --batch B --seq T [--batches K] [--json]",
                "Mean cross-entropy over the first K batches (llm.c's unshuffled batch order).",
                {model_flag("the model to evaluate"),
                 heads_flag(),
                 {"--data", "PATTERN", "", "glob of llm.c token shards, quoted"},
                 {"--batch", "B", "", "sequences per batch"},
                 {"--seq", "T", "", "tokens per sequence"},
                 {"--batches", "K", "1", "batches to average over"},
                 {"--json", "", "", "print one JSON object as the last line of stdout"}});
    flags.parse(args);
    const int threads = setup_threads(flags);
    const std::string model_path = flags.required("--model"), pattern = flags.required("--data");
    const long long B = flags.integer("--batch", 0, 1, 1 << 20), T = flags.integer("--seq", 0, 1, 1 << 20);
    if (!flags.has("--batch") || !flags.has("--seq")) throw UsageError("--batch and --seq are required");
    const long long K = flags.integer("--batches", 1, 1, 1LL << 40);
    GPT2 model = load_model_from_flags(flags);
    check_batch_shape(model.config, B, T, model_path);
    const TokenDataset data(pattern, model.config.vocab_size);
    Activations acts(model.config, int(B), int(T), ActivationLayout::inference);
    const EvalResult result = evaluate_loss(model, acts, data, long(K));
    const double loss = result.loss, seconds = result.seconds;
    const long long tokens = K * B * T;
    if (!flags.has("--json")) {
        std::printf("loss %.6f\n", loss);
        std::fprintf(stderr, "%lld tokens in %.3f s (%.0f tokens/s), %d threads, %s\n", tokens, seconds,
                     tokens / seconds, threads, gemm_backend_name());
        return 0;
    }
    const nlohmann::json out = {{"loss", loss},         {"tokens", tokens},   {"seconds", seconds},
                                {"tokens_per_second", tokens / seconds},   {"batches", K},
                                {"batch", B},           {"seq", T},           {"threads", threads},
                                {"backend", gemm_backend_name()}, {"peak_rss_bytes", peak_resident_bytes()}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
}

}  // namespace nograd
