// Runs the real nograd binary (the one built beside this test binary), or any command, and collects what a
// user sees: exit status, stdout, stderr, and the process's peak resident memory.
#pragma once
#include <fcntl.h>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "helpers.h"

namespace nograd::testing {

struct CliResult {
    int status = -1;        // exit status; 128 + signal number when killed by a signal
    std::string out, err;
    long peak_rss_kb = 0;
};

// Runs argv[0] (looked up in PATH unless it has a slash) with the rest as its arguments.
inline CliResult run_command(const std::vector<std::string>& command, const std::vector<std::string>& env = {}) {
    TempDir dir;
    const std::string out_path = dir.file("out"), err_path = dir.file("err");
    const pid_t pid = fork();
    if (pid == 0) {
        const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(out, 1);
        dup2(err, 2);
        for (const std::string& e : env) putenv(const_cast<char*>(e.c_str()));
        std::vector<char*> argv;
        for (const std::string& a : command) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execvp(argv[0], argv.data());
        _exit(127);
    }
    int wstatus = 0;
    struct rusage usage {};
    wait4(pid, &wstatus, 0, &usage);
    CliResult r;
    r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    const auto out = read_bytes(out_path), err = read_bytes(err_path);
    r.out.assign(out.begin(), out.end());
    r.err.assign(err.begin(), err.end());
    r.peak_rss_kb = usage.ru_maxrss;
    return r;
}

inline CliResult run_nograd(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    std::vector<std::string> command = {NOGRAD_BINARY};
    command.insert(command.end(), args.begin(), args.end());
    return run_command(command, env);
}

inline std::string last_line(const std::string& text) {
    std::string t = text;
    while (!t.empty() && t.back() == '\n') t.pop_back();
    const size_t nl = t.rfind('\n');
    return nl == std::string::npos ? t : t.substr(nl + 1);
}

}  // namespace nograd::testing
