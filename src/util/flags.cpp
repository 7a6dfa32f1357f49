#include "util/flags.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <omp.h>
#include <sched.h>

#include "kernels/gemm.h"
#include "util/error.h"

namespace nograd {

Flags::Flags(std::string usage, std::string summary, std::vector<FlagSpec> specs)
    : usage_(std::move(usage)), summary_(std::move(summary)), specs_(std::move(specs)) {
    specs_.push_back({"--threads", "N", "OMP_NUM_THREADS, else all cores", "threads for OpenMP and the matrix library"});
    specs_.push_back({"--help", "", "", "print this help"});
}

const FlagSpec* Flags::spec(const std::string& name) const {
    for (const FlagSpec& s : specs_)
        if (s.name == name) return &s;
    return nullptr;
}

void Flags::parse(const std::vector<std::string>& args) {
    for (size_t i = 0; i < args.size(); ++i) {
        std::string name = args[i], value;
        if (name.rfind("--", 0) != 0) throw UsageError("unexpected argument '" + name + "' (see --help)");
        const size_t eq = name.find('=');
        const bool inline_value = eq != std::string::npos;
        if (inline_value) { value = name.substr(eq + 1); name = name.substr(0, eq); }
        const FlagSpec* s = spec(name);
        if (!s) throw UsageError("unknown flag " + name + " (see --help)");
        if (name == "--help") throw HelpRequested{help()};
        if (values_.count(name)) throw UsageError(name + " given twice");
        if (s->value.size() > 3 && s->value.compare(s->value.size() - 3, 3, "...") == 0) {
            std::vector<std::string>& items = lists_[name];
            if (inline_value) items.push_back(value);
            while (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) items.push_back(args[++i]);
            if (items.empty()) throw UsageError(name + " needs at least one value (" + s->value + ")");
        } else if (s->value.empty()) {
            if (inline_value) throw UsageError(name + " takes no value");
        } else if (!inline_value) {
            if (i + 1 >= args.size()) throw UsageError(name + " needs a value (" + s->value + ")");
            // `--out --json` is a forgotten value, not a file named --json (--out=--json still is one).
            if (spec(args[i + 1].substr(0, args[i + 1].find('='))))
                throw UsageError(name + " needs a value (" + s->value + "), found the flag " + args[i + 1]);
            value = args[++i];
        }
        values_[name] = value;
    }
}

bool Flags::has(const std::string& name) const { return values_.count(name) > 0; }

std::vector<std::string> Flags::list(const std::string& name) const {
    auto it = lists_.find(name);
    return it == lists_.end() ? std::vector<std::string>{} : it->second;
}

std::string Flags::text(const std::string& name, const std::string& fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
}

std::string Flags::required(const std::string& name) const {
    if (!has(name)) throw UsageError("missing required flag " + name + " (see --help)");
    return text(name);
}

long long Flags::integer(const std::string& name, long long fallback, long long min, long long max) const {
    if (!has(name)) return fallback;
    const std::string s = text(name);
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || std::isspace((unsigned char)s[0]) || *end != '\0' || errno == ERANGE)
        throw UsageError(name + ": expected an integer, found '" + s + "'");
    if (v < min || v > max)
        throw UsageError(name + ": expected " + std::to_string(min) + " to " + std::to_string(max) + ", found " + s);
    return v;
}

double Flags::real(const std::string& name, double fallback, double min, double max) const {
    if (!has(name)) return fallback;
    const std::string s = text(name);
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || std::isspace((unsigned char)s[0]) || *end != '\0' || !std::isfinite(v))
        throw UsageError(name + ": expected a finite number, found '" + s + "'");
    if (v < min || v > max)
        throw UsageError(name + ": expected a number from " + std::to_string(min) + " to " + std::to_string(max) +
                         ", found " + s);
    return v;
}

std::string Flags::help() const {
    std::string out = "usage: " + usage_ + "\n\n" + summary_ + "\n\nflags:\n";
    for (const FlagSpec& s : specs_) {
        std::string left = "  " + s.name + (s.value.empty() ? "" : " " + s.value);
        if (left.size() < 26) left.resize(26, ' ');
        else left += "  ";
        out += left + s.help + (s.default_text.empty() ? "" : " (default: " + s.default_text + ")") + "\n";
    }
    return out;
}

namespace {

// CPUs this process may run on (its affinity mask, which taskset, cgroups and mpirun narrow).
int available_cpus() {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    return CPU_COUNT(&set) > 0 ? CPU_COUNT(&set) : 1;
}

}  // namespace

// More threads than CPUs only slows OpenMP down (its threads spin while waiting: 16 threads on 2 cores made
// a tiny eval 100x slower), and absurd counts crash libgomp, so both sources are held to the CPU count.
int setup_threads(const Flags& flags) {
    const int cpus = available_cpus();
    const int from_env = omp_get_max_threads();  // OMP_NUM_THREADS, else the CPU count
    if (!flags.has("--threads") && (from_env < 1 || from_env > cpus))
        throw UsageError("OMP_NUM_THREADS: expected 1 to " + std::to_string(cpus) + " (the CPUs available), found " +
                         std::to_string(from_env));
    const int threads = int(flags.integer("--threads", from_env, 1, cpus));
    omp_set_num_threads(threads);
    gemm_setup(threads);
    return threads;
}

}  // namespace nograd
