// The tiny run that tests/fuzz/fuzz_resume.cpp resumes and tests/fuzz/make_seeds.cpp saves its seeds from:
// one model, one shard, one settings block, and each optimizer with flags that give it state vectors.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "data/shard_writer.h"
#include "data/shards.h"
#include "model/gpt2.h"
#include "train/optimizer_factory.h"
#include "train/param_subset.h"
#include "train/trainer.h"
#include "util/checksum.h"
#include "util/flags.h"

namespace nograd::fuzz {

// Optimizer name and the flags it runs with (the index is the fuzz input's first byte, modulo the count).
inline const std::vector<std::pair<std::string, std::vector<std::string>>>& resume_methods() {
    static const std::vector<std::pair<std::string, std::vector<std::string>>> methods = {
        {"adamw", {}}, {"sgd", {"--momentum", "0.5"}}, {"random", {}},
        {"es", {"--adam", "--pairs", "1"}}, {"spsa", {"--momentum", "0.5"}}, {"newton", {"--h-warmup", "1"}}};
    return methods;
}

inline GPT2 resume_model() {
    GPT2Config c;
    c.vocab_size = 16; c.padded_vocab_size = 128; c.max_seq_len = 4; c.num_layers = 1; c.num_heads = 1; c.channels = 4;
    GPT2 model(c);
    init_gpt2_weights(model, 3);
    return model;
}

inline uint64_t resume_model_checksum(const GPT2& model) {
    return checksum64(model.params.data(), model.params.size() * 4);  // what the trainer stores
}

inline void write_resume_shard(const std::string& path) {
    std::vector<uint16_t> tokens;
    for (int i = 0; i < 64; ++i) tokens.push_back(uint16_t((i * 5) % 16));
    write_token_shard(path, tokens);
}

// Runs `method` on `model` up to `steps`, resuming from `resume_path` when it is not empty, saving to
// `save_path` when that is not empty.
inline TrainResult run_resume(size_t method, GPT2& model, const TokenDataset& data, long steps,
                              const std::string& resume_path, const std::string& save_path) {
    const auto& [name, args] = resume_methods()[method];
    Flags flags("fuzz", "fuzz", optimizer_flag_specs());
    flags.parse(args);
    TrainSettings s;
    s.steps = steps;
    s.batch = 1;
    s.seq = 4;
    s.seed = 7;
    s.progress = false;
    s.resume_path = resume_path;
    s.save_path = save_path;
    const ParameterSubset subset = select_parameters("all", model.table, model.config, s.seq);
    OptimizerChoice choice = make_optimizer(name, flags, s.seed, subset.size());
    s.first_order = choice.first_order;
    s.schedule.lr = choice.default_lr;
    Communicator alone = Communicator::single_process();
    return train(model, *choice.optimizer, data, nullptr, subset, s, alone);
}

}  // namespace nograd::fuzz
