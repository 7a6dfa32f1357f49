// One error policy for the whole program: anything a user can cause (a bad file, a bad flag)
// becomes an nograd::Error that names the file or flag, what was expected and what was found.
// main() catches it, prints it on stderr and exits with its status. Kernels never throw.
#pragma once
#include <stdexcept>
#include <string>

namespace nograd {

enum ExitStatus { kExitRuntime = 1, kExitUsage = 2 };

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message, int exit_status = kExitRuntime)
        : std::runtime_error(message), exit_status_(exit_status) {}
    int exit_status() const { return exit_status_; }

private:
    int exit_status_;
};

// A problem with the command line: exit status 2.
class UsageError : public Error {
public:
    explicit UsageError(const std::string& message) : Error(message, kExitUsage) {}
};

// "<path>: expected <expected>, found <found>" — the shape of every file error.
inline Error file_error(const std::string& path, const std::string& expected, const std::string& found) {
    return Error(path + ": expected " + expected + ", found " + found);
}

}  // namespace nograd
