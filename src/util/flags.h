// Command-line flags for one subcommand. Each flag is declared once, with its value name, default and
// help; --help prints them all; unknown, repeated, missing-value or malformed flags are UsageErrors
// (exit 2) naming the flag. Every subcommand also gets --threads N and --help.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace nograd {

struct FlagSpec {
    std::string name;          // "--batch"
    std::string value;         // "B"; empty for a switch such as "--json"; "FILES..." takes every
                               // following argument up to the next flag
    std::string default_text;  // shown by --help; empty when there is none
    std::string help;
};

// Thrown by parse() for --help; main prints the text and exits 0.
struct HelpRequested {
    std::string text;
};

class Flags {
public:
    Flags(std::string usage, std::string summary, std::vector<FlagSpec> specs);
    void parse(const std::vector<std::string>& args);

    bool has(const std::string& name) const;
    std::string text(const std::string& name, const std::string& fallback = "") const;
    std::string required(const std::string& name) const;
    long long integer(const std::string& name, long long fallback, long long min, long long max) const;
    double real(const std::string& name, double fallback, double min, double max) const;
    std::vector<std::string> list(const std::string& name) const;  // the values of a "..." flag
    const std::map<std::string, std::string>& values() const { return values_; }  // as given, for logs
    std::string help() const;

private:
    const FlagSpec* spec(const std::string& name) const;
    std::string usage_, summary_;
    std::vector<FlagSpec> specs_;
    std::map<std::string, std::string> values_;
    std::map<std::string, std::vector<std::string>> lists_;
};

// Applies --threads (else OMP_NUM_THREADS, else all cores) to OpenMP and the matrix backend; returns it.
int setup_threads(const Flags& flags);

}  // namespace nograd
