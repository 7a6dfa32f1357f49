// nograd's entry point: dispatches to a subcommand and turns errors into messages and exit statuses
// (1 for runtime and file errors, 2 for usage errors; never a signal from a bad input).
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "cli/commands.h"
#include "util/error.h"
#include "util/flags.h"

namespace {

struct Command {
    const char* name;
    int (*run)(const nograd::Args&);
    const char* summary;
};

const Command kCommands[] = {
    {"init", nograd::run_init, "write a freshly initialised GPT-2 checkpoint"},
    {"info", nograd::run_info, "show a checkpoint's config, parameters and memory plan"},
    {"eval", nograd::run_eval, "mean loss of a checkpoint on token shards"},
    {"train", nograd::run_train, "train with backprop or without gradients"},
    {"tokenize", nograd::run_tokenize, "text files or the Brown corpus to llm.c token shards"},
    {"convert", nograd::run_convert, "convert a model between llm.c .bin and Hugging Face .safetensors"},
    {"sample", nograd::run_sample, "generate text from a checkpoint (KV-cached)"},
    {"bench", nograd::run_bench, "measure speed and memory against this machine's peak"},
};

void print_usage(FILE* out) {
    std::fprintf(out, "usage: nograd COMMAND [flags]   (nograd COMMAND --help for its flags)\n\ncommands:\n");
    for (const Command& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
        print_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? nograd::kExitUsage : 0;
    }
    const nograd::Args args(argv + 2, argv + argc);
    for (const Command& c : kCommands) {
        if (std::strcmp(argv[1], c.name) != 0) continue;
        try {
            return c.run(args);
        } catch (const nograd::HelpRequested& h) {
            std::fputs(h.text.c_str(), stdout);
            return 0;
        } catch (const nograd::Error& e) {
            std::fprintf(stderr, "nograd %s: %s\n", c.name, e.what());
            return e.exit_status();
        } catch (const std::bad_alloc&) {
            std::fprintf(stderr, "nograd %s: out of memory (see `nograd info` for the memory plan)\n", c.name);
            return nograd::kExitRuntime;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "nograd %s: %s\n", c.name, e.what());
            return nograd::kExitRuntime;
        }
    }
    std::fprintf(stderr, "nograd: unknown command '%s'\n", argv[1]);
    print_usage(stderr);
    return nograd::kExitUsage;
}
