// `nograd info`: a checkpoint's config, its parameter table, and what running it costs in memory.
#include <omp.h>
#include <algorithm>
#include <cstdio>

#include "cli/commands.h"
#include "cli/model_flags.h"
#include "model/model_file.h"
#include "model/memory_plan.h"
#include "util/flags.h"

namespace nograd {
namespace {

std::string shape_text(const TensorInfo& t) {
    std::string s = "(";
    for (size_t i = 0; i < t.shape.size(); ++i) s += (i ? ", " : "") + std::to_string(t.shape[i]);
    return s + ")";
}

void print_plan(const MemoryPlan& plan, int B, int T) {
    std::printf("\nmemory, %s, B=%d T=%d:\n", plan.mode.c_str(), B, T);
    for (const MemoryItem& item : plan.items)
        std::printf("  %-32s %14zu bytes  %9.1f MiB\n", item.name.c_str(), item.bytes, item.bytes / 1048576.0);
    std::printf("  %-32s %14zu bytes  %9.1f MiB\n", "total", plan.total(), plan.total() / 1048576.0);
}

}  // namespace

int run_info(const Args& args) {
    Flags flags("nograd info --model M.bin [--batch B --seq T]",
                "Prints a checkpoint's config, every parameter tensor and the memory each mode needs.",
                {model_flag("the model to describe"),
                 heads_flag(),
                 {"--batch", "B", "4", "batch size for the memory plan"},
                 {"--seq", "T", "64, or the model's max_seq_len if shorter", "sequence length for the memory plan"}});
    flags.parse(args);
    const std::string path = flags.required("--model");
    const GPT2Config config = read_model_config(path, heads_from_flags(flags));
    const int B = int(flags.integer("--batch", 4, 1, 1 << 20));
    const int T = int(flags.integer("--seq", std::min(64, config.max_seq_len), 1, 1 << 20));
    check_batch_shape(config, B, T, path);
    const ParameterTable table = make_parameter_table(config);
    std::printf("model %s\nconfig %s\n\nparameters:\n", path.c_str(), describe(config).c_str());
    for (const TensorInfo& t : table.tensors)
        std::printf("  %-9s %-18s %12zu\n", t.name.c_str(), shape_text(t).c_str(), t.size);
    std::printf("  %-28s %12zu (%.1f MiB)\n", "total", table.total, table.total * 4 / 1048576.0);
    print_plan(inference_plan(config, B, T), B, T);
    print_plan(zeroth_order_plan(config, B, T, 2, omp_get_max_threads()), B, T);  // spsa and es
    print_plan(backprop_plan(config, B, T), B, T);
    return 0;
}

}  // namespace nograd
