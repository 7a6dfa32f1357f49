// Shared by the libFuzzer targets in tests/fuzz/: the parsers read files by path, so each target writes the
// fuzzer's bytes to a scratch file of its own (one per process) and calls the real loader on it.
// A target returns normally for any input the parser rejects with nograd::Error; anything else that escapes
// (another exception, a crash, a sanitizer report, a broken property checked with FUZZ_CHECK) is a finding.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace nograd::fuzz {

// A path under $TMPDIR (else /tmp) unique to this process and target; `suffix` keeps extensions meaningful.
inline std::string scratch_path(const std::string& target, const std::string& suffix = "") {
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp && *tmp ? tmp : "/tmp") + "/nograd-fuzz-" + target + "-" + std::to_string(getpid()) + suffix;
}

inline void write_file(const std::string& path, const uint8_t* data, size_t size) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) { std::perror(path.c_str()); std::abort(); }
    if (size && std::fwrite(data, 1, size, f) != size) { std::perror(path.c_str()); std::abort(); }
    std::fclose(f);
}

// A property the parser promises; a violation aborts, which libFuzzer reports as a crash with the input.
#define FUZZ_CHECK(cond)                                                            \
    do {                                                                            \
        if (!(cond)) {                                                              \
            std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            std::abort();                                                           \
        }                                                                           \
    } while (0)

}  // namespace nograd::fuzz
