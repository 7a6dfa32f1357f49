// `nograd train`: any optimizer, backprop or zeroth-order, through one training loop.
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/commands.h"
#include "cli/model_flags.h"
#include "kernels/gemm.h"
#include "model/checkpoint.h"
#include "model/model_file.h"
#include "model/memory_plan.h"
#include "optim/zeroth_order.h"
#include "train/optimizer_factory.h"
#include "train/train_state.h"
#include "train/trainer.h"
#include "util/comm.h"
#include "util/error.h"
#include "util/file.h"
#include "util/flags.h"
#include "util/resources.h"

namespace nograd {
namespace {

std::vector<FlagSpec> train_flag_specs() {
    std::vector<FlagSpec> specs = {
        model_flag("start from this model"),
        heads_flag(),
        {"--init-preset", "P", "", "or start from a fresh GPT-2: d12, d24, d36, d48"},
        {"--init-layers", "L", "", "or a fresh custom GPT-2 (with --init-heads, --init-channels)"},
        {"--init-heads", "NH", "", "attention heads of the fresh model"},
        {"--init-channels", "C", "", "channels of the fresh model"},
        {"--init-vocab", "V", "50257", "vocabulary of the fresh model"},
        {"--init-max-seq", "T", "1024", "max sequence length of the fresh model"},
        {"--train", "PATTERN", "", "glob of training token shards (quoted)"},
        {"--val", "PATTERN", "", "glob of validation token shards"},
        {"--optimizer", "NAME", "", "adamw, sgd (backprop); random, es, spsa, newton (zeroth-order)"},
        {"--steps", "N", "", "total steps (a resumed run continues up to N)"},
        {"--batch", "B", "4", "sequences per batch"},
        {"--seq", "T", "64", "tokens per sequence"},
        {"--lr", "LR", "per method: " + default_learning_rates_text(), "learning rate (random search has none)"},
        {"--schedule", "KIND", "constant", "learning-rate schedule: constant or cosine (with --warmup)"},
        {"--warmup", "N", "0", "cosine: linear warmup steps"},
        {"--lr-final", "F", "0.1", "cosine: final rate as a fraction of --lr"},
        {"--seed", "S", "1337", "data order, directions, and a fresh model's weights"},
        {"--shuffle", "", "on", "shuffle batches each epoch"},
        {"--no-shuffle", "", "", "step s trains on batch s-1, as `nograd eval` numbers them"},
        {"--params", "LIST", "all", "what to train: all, embeddings, attention, mlp, layernorm, bias, layers:A-B, tensor names"},
        {"--all-positions", "", "", "also train wpe rows beyond --seq (never touched by default)"},
        {"--val-every", "K", "0 (start and end only)", "validate every K steps"},
        {"--val-batches", "J", "4", "validation batches per validation"},
        {"--save", "OUT.bin", "", "checkpoint to write (and OUT.state beside it)"},
        {"--save-every", "K", "0 (end only)", "also save every K steps"},
        {"--log", "run.jsonl", "", "JSON-lines log (truncated; appended on --resume)"},
        {"--curve", "val.csv", "", "validation losses as CSV: step, forward_passes, seconds, val_loss"},
        {"--resume", "OUT.state", "", "continue the run saved in OUT.state and OUT.bin (either name works)"},
        {"--max-forward-passes", "N", "0 (none)", "stop when this many forward-pass equivalents are spent (backward = 2)"},
        {"--divergence-factor", "F", number_text(TrainSettings{}.divergence_factor),
         "a loss above F x the first step's counts as divergence, like a non-finite one (0: only non-finite)"},
        {"--on-divergence", "WHAT", "stop", "stop (without saving), or rollback: reload the last saved pair "
                                            "(needs --save) and halve the learning rate"},
        {"--max-rollbacks", "N", std::to_string(TrainSettings{}.max_rollbacks), "rollbacks before stopping"},
        {"--data-parallel", "", "", "under mpirun: split each batch's sequences across the processes instead of the "
                                    "step's perturbations (es, spsa, random); newton, adamw, sgd always do"},
        {"--json", "", "", "print a one-line JSON summary as the last line of stdout"},
    };
    for (const FlagSpec& s : optimizer_flag_specs()) specs.push_back(s);
    return specs;
}

GPT2 fresh_model(const Flags& f, uint64_t seed) {
    GPT2Config c;
    if (f.has("--init-preset")) {
        c = preset_config(f.text("--init-preset"), "--init-preset");
    } else {
        if (!f.has("--init-layers") || !f.has("--init-heads") || !f.has("--init-channels"))
            throw UsageError("give --model, --init-preset, or all of --init-layers, --init-heads, --init-channels");
        c.num_layers = int(f.integer("--init-layers", 0, 1, 4096));
        c.num_heads = int(f.integer("--init-heads", 0, 1, 4096));
        c.channels = int(f.integer("--init-channels", 0, 1, 65536));
    }
    c.vocab_size = int(f.integer("--init-vocab", 50257, 1, 4000000));
    c.padded_vocab_size = padded_vocab(c.vocab_size);
    c.max_seq_len = int(f.integer("--init-max-seq", 1024, 1, 1 << 20));
    validate_flags_config(c, "--init-heads/--init-channels");
    GPT2 model(c);
    init_gpt2_weights(model, seed);
    return model;
}

GPT2 starting_model(const Flags& f, uint64_t seed) {
    const int sources = int(f.has("--model")) + int(f.has("--resume")) +
                        int(f.has("--init-preset") || f.has("--init-layers") || f.has("--init-heads") || f.has("--init-channels"));
    if (sources > 1) throw UsageError("give only one of --model, --resume, --init-*");
    if (f.has("--resume")) return load_model(model_path_for(f.text("--resume")));
    if (f.has("--model")) return load_model_from_flags(f);
    return fresh_model(f, seed);
}

// processes: how many run together (mpirun -np); a method without a population to share splits the batch.
TrainSettings settings_from(const Flags& f, const OptimizerChoice& choice, const std::string& save_path,
                            int processes) {
    TrainSettings s;
    s.steps = f.integer("--steps", 0, 1, 1LL << 40);
    if (!f.has("--steps")) throw UsageError("missing required flag --steps");
    s.batch = int(f.integer("--batch", 4, 1, 1 << 20));
    s.seq = int(f.integer("--seq", 64, 1, 1 << 20));
    s.seed = uint64_t(f.integer("--seed", 1337, 0, INT64_MAX));
    if (f.has("--shuffle") && f.has("--no-shuffle")) throw UsageError("--shuffle and --no-shuffle exclude each other");
    s.shuffle = !f.has("--no-shuffle");
    s.val_every = f.integer("--val-every", 0, 0, 1LL << 40);
    s.val_batches = f.integer("--val-batches", 4, 1, 1LL << 30);
    s.save_path = save_path;
    s.save_every = f.integer("--save-every", 0, 0, 1LL << 40);
    s.log_path = f.text("--log");
    s.curve_path = f.text("--curve");
    s.resume_path = f.has("--resume") ? resume_state_path(f.text("--resume")) : "";
    s.schedule.kind = f.text("--schedule", "constant");
    if (s.schedule.kind != "constant" && s.schedule.kind != "cosine")
        throw UsageError("--schedule: expected constant or cosine, found '" + s.schedule.kind + "'");
    s.schedule.lr = f.real("--lr", choice.default_lr, 0.0, 1e6);
    s.schedule.warmup_steps = f.integer("--warmup", 0, 0, s.steps);
    s.schedule.final_fraction = f.real("--lr-final", 0.1, 0.0, 1.0);
    s.schedule.total_steps = s.steps;
    s.max_forward_passes = f.real("--max-forward-passes", 0.0, 0.0, 1e18);
    s.divergence_factor = f.real("--divergence-factor", s.divergence_factor, 0.0, 1e30);
    const std::string on_divergence = f.text("--on-divergence", "stop");
    if (on_divergence != "stop" && on_divergence != "rollback")
        throw UsageError("--on-divergence: expected stop or rollback, found '" + on_divergence + "'");
    s.on_divergence = on_divergence == "rollback" ? DivergenceAction::rollback : DivergenceAction::stop;
    if (s.on_divergence == DivergenceAction::rollback && save_path.empty())
        throw UsageError("--on-divergence rollback needs --save: it rolls back to the last saved checkpoint");
    s.max_rollbacks = f.integer("--max-rollbacks", s.max_rollbacks, 0, 1000);
    s.first_order = choice.first_order;
    s.data_parallel = f.has("--data-parallel") || (processes > 1 && !choice.population_parallel);
    for (const auto& [name, value] : f.values()) s.flags[name] = value;
    return s;
}

// The checkpoint --save names (or --resume's, continuing it), checked before anything slow happens.
std::string save_path_from(const Flags& flags) {
    if (flags.has("--resume") && !has_checkpoint_suffix(flags.text("--resume")) &&
        !has_state_suffix(flags.text("--resume")))
        throw UsageError("--resume " + flags.text("--resume") + ": expected OUT.state or OUT.bin, the pair --save wrote");
    const std::string save_path = flags.text("--save", flags.has("--resume") ? model_path_for(flags.text("--resume")) : "");
    if (!save_path.empty() && !has_checkpoint_suffix(save_path))
        throw UsageError("--save " + save_path + ": expected a name ending in .bin (an llm.c checkpoint, with its "
                         "training state beside it as .state); for Hugging Face files convert afterwards with "
                         "`nograd convert`");
    return save_path;
}

void print_result(const Flags& flags, const std::string& method, const std::string& save_path, bool has_val,
                  size_t trained, const TrainResult& r) {
    if (r.interrupted)
        std::fprintf(stderr, "interrupted after step %ld%s\n", r.steps_done,
                     save_path.empty() ? "" : ("; saved " + save_path + ", continue with --resume " +
                                               state_path_for(save_path)).c_str());
    if (std::isnan(r.train_loss)) std::printf("steps %ld (none run now), ", r.steps_done);
    else std::printf("steps %ld, train loss %.6f, ", r.steps_done, r.train_loss);
    if (has_val) std::printf("val loss %.6f -> %.6f, ", r.val_loss_before, r.val_loss_after);
    std::printf("forward passes %.0f, %.2f s\n", r.forward_passes, r.seconds);
    if (flags.has("--json")) {
        auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
        const nlohmann::json out = {{"optimizer", method}, {"steps", r.steps_done}, {"train_loss", num(r.train_loss)},
                                    {"val_loss_before", num(r.val_loss_before)}, {"val_loss_after", num(r.val_loss_after)},
                                    {"forward_passes", r.forward_passes}, {"seconds", r.seconds},
                                    {"trained_parameters", trained}, {"interrupted", r.interrupted},
                                    {"peak_rss_bytes", peak_resident_bytes()}, {"rollbacks", r.rollbacks},
                                    {"stop_reason", r.stop_reason}};
        std::printf("%s\n", out.dump().c_str());
    }
}

}  // namespace

// Every process (mpirun -np K) runs this with the same arguments. Setting up (flags, model, data) is
// agreed on before anything waits for anyone: if one process fails, all of them stop with an error.
int run_train(const Args& args) {
    Communicator comm = Communicator::world();
    Flags flags("nograd train (--model M.bin | --init-preset P | --init-layers L --init-heads NH --init-channels C | "
                "--resume OUT.state) --train 'PATTERN' --optimizer NAME --steps N [flags]",
                "Trains with backprop (adamw, sgd) or without gradients (random, es, spsa, newton).",
                train_flag_specs());
    std::optional<GPT2> model;
    std::optional<ParameterSubset> subset;
    OptimizerChoice choice;
    std::optional<TrainSettings> settings;
    std::optional<TokenDataset> train_data;
    std::unique_ptr<TokenDataset> val_data;
    std::string method, save_path;
    setup_together(comm, [&] {
        flags.parse(args);
        setup_threads(flags);
        const uint64_t seed = uint64_t(flags.integer("--seed", 1337, 0, INT64_MAX));
        method = flags.required("--optimizer");
        default_learning_rate(method);  // validates the name before anything slow happens
        const std::string train_pattern = flags.required("--train");
        save_path = save_path_from(flags);
        if (!save_path.empty() && comm.rank() == 0) check_writable(save_path, "--save");
        model.emplace(starting_model(flags, seed));
        const int B = int(flags.integer("--batch", 4, 1, 1 << 20)), T = int(flags.integer("--seq", 64, 1, 1 << 20));
        check_batch_shape(model->config, B, T, flags.text("--model", "the model"));
        subset.emplace(select_parameters(flags.text("--params", "all"), model->table, model->config, T,
                                         flags.has("--all-positions")));
        choice = make_optimizer(method, flags, seed, subset->size());
        settings.emplace(settings_from(flags, choice, save_path, comm.size()));
        train_data.emplace(train_pattern, model->config.vocab_size);
        if (flags.has("--val")) val_data = std::make_unique<TokenDataset>(flags.text("--val"), model->config.vocab_size);
    });
    const TrainResult r = train(*model, *choice.optimizer, *train_data, val_data.get(), *subset, *settings, comm);
    if (comm.rank() == 0) print_result(flags, method, save_path, val_data != nullptr, subset->size(), r);
    return 0;
}

}  // namespace nograd
