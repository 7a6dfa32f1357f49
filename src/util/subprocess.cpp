#include "util/subprocess.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "util/error.h"

namespace nograd {

ProcessResult run_process(const std::vector<std::string>& argv) {
    int pipe_fds[2];
    if (argv.empty() || pipe(pipe_fds) != 0) throw Error("cannot start a subprocess: " + std::string(std::strerror(errno)));
    const pid_t pid = fork();
    if (pid < 0) throw Error("cannot start " + argv[0] + ": " + std::strerror(errno));
    if (pid == 0) {
        dup2(pipe_fds[1], 1);
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        std::vector<char*> args;
        for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
        _exit(127);
    }
    close(pipe_fds[1]);
    ProcessResult result;
    char buffer[4096];
    for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        result.out.append(buffer, size_t(n));
    }
    close(pipe_fds[0]);
    int wstatus = 0;
    struct rusage usage {};
    while (wait4(pid, &wstatus, 0, &usage) < 0 && errno == EINTR) {}
    result.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    result.peak_rss_bytes = static_cast<long long>(usage.ru_maxrss) * 1024;
    return result;
}

std::string self_executable() {
    char path[4096];
    const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) throw Error("/proc/self/exe: cannot find the running program: " + std::string(std::strerror(errno)));
    return std::string(path, size_t(n));
}

}  // namespace nograd
