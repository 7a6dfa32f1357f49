// libFuzzer target: the command-line parser (util/flags.*) and the `--params` list (train/param_subset.*).
// The input is the argument list, NUL-separated. Parsing either succeeds, asks for help, or throws a
// UsageError; a parsed number is always inside the range asked for and finite; a parameter subset is sorted,
// non-overlapping, inside the model, and never touches wte's padded rows.
#include <cmath>
#include <string_view>

#include "fuzz_util.h"
#include "model/config.h"
#include "model/parameters.h"
#include "train/optimizer_factory.h"
#include "train/param_subset.h"
#include "util/error.h"
#include "util/flags.h"

using namespace nograd;

namespace {

std::vector<FlagSpec> specs() {
    std::vector<FlagSpec> s = {{"--model", "M.bin", "", "a path"},
                               {"--batch", "B", "4", "an integer"},
                               {"--lr", "LR", "", "a real"},
                               {"--json", "", "", "a switch"},
                               {"--in", "FILES...", "", "a list"},
                               {"--params", "LIST", "all", "a parameter subset"}};
    for (const FlagSpec& o : optimizer_flag_specs()) s.push_back(o);
    return s;
}

std::vector<std::string> split_args(const uint8_t* data, size_t size) {
    std::vector<std::string> args;
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    while (!rest.empty() && args.size() < 64) {
        const size_t nul = rest.find('\0');
        args.emplace_back(rest.substr(0, nul));
        rest = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
    }
    return args;
}

// Every accessor on every flag, with ranges like the subcommands use.
void query_all(const Flags& flags) {
    for (const FlagSpec& s : specs()) {
        flags.text(s.name);
        flags.list(s.name);
        try {
            const long long v = flags.integer(s.name, 7, -5, 1LL << 40);
            FUZZ_CHECK(v == 7 || (v >= -5 && v <= (1LL << 40)));
        } catch (const UsageError&) {
        }
        try {
            const double v = flags.real(s.name, 0.5, 0.0, 1e6);
            FUZZ_CHECK(std::isfinite(v) && v >= 0.0 && v <= 1e6);
        } catch (const UsageError&) {
        }
    }
}

void check_subset(const std::string& list) {
    GPT2Config c;
    c.vocab_size = 10; c.padded_vocab_size = 128; c.max_seq_len = 8; c.num_layers = 3; c.num_heads = 2; c.channels = 4;
    const ParameterTable table = make_parameter_table(c);
    try {
        const ParameterSubset subset = select_parameters(list, table, c, 5);
        size_t end = 0;
        for (const IndexRange& r : subset.ranges) {
            FUZZ_CHECK(r.begin >= end && r.end > r.begin && r.end <= table.total);
            // wte is the first tensor: its padded rows V..Vp-1 are [V*C, Vp*C).
            FUZZ_CHECK(r.end <= size_t(c.vocab_size) * c.channels || r.begin >= size_t(c.padded_vocab_size) * c.channels);
            end = r.end;
        }
        FUZZ_CHECK(subset.decays.size() == subset.ranges.size());
    } catch (const UsageError&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Flags flags("fuzz", "fuzz", specs());
    try {
        flags.parse(split_args(data, size));
        query_all(flags);
        if (flags.has("--params")) check_subset(flags.text("--params"));
    } catch (const HelpRequested& h) {
        FUZZ_CHECK(!h.text.empty());
    } catch (const UsageError&) {
    }
    return 0;
}
