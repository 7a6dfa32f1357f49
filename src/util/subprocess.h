// Running another program and collecting what it printed: the bench re-executes itself once per mode, so
// each mode's peak resident memory is measured in a fresh process.
#pragma once
#include <string>
#include <vector>

namespace nograd {

struct ProcessResult {
    int status = -1;              // exit status; 128 + signal number when killed by a signal
    std::string out;              // everything written to stdout (stderr passes through)
    long long peak_rss_bytes = 0; // the child's peak resident memory, as the kernel counts it
};

// Runs argv[0] with the arguments argv[1..] and waits for it. Throws nograd::Error naming the program
// when it cannot be started.
ProcessResult run_process(const std::vector<std::string>& argv);

// The path of the running executable (/proc/self/exe), for re-executing it.
std::string self_executable();

}  // namespace nograd
