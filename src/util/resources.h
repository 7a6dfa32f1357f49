// What the process has used so far, as the operating system counts it.
#pragma once
#include <sys/resource.h>

#include <cstdio>
#include <cstring>

namespace nograd {

// Peak resident memory of this process in bytes (Linux reports ru_maxrss in KiB). The same figure as
// VmHWM in /proc/self/status; a process measuring one mode's peak must not have run anything bigger first.
inline long long peak_resident_bytes() {
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<long long>(usage.ru_maxrss) * 1024;
}

// Resident memory right now (VmRSS in /proc/self/status), in bytes; 0 where /proc is missing.
inline long long current_resident_bytes() {
    FILE* status = std::fopen("/proc/self/status", "r");
    if (!status) return 0;
    char line[256];
    long long kib = 0;
    while (std::fgets(line, sizeof line, status))
        if (std::strncmp(line, "VmRSS:", 6) == 0) std::sscanf(line + 6, "%lld", &kib);
    std::fclose(status);
    return kib * 1024;
}

}  // namespace nograd
