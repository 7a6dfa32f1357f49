// What the process has used so far, as the operating system counts it.
#pragma once
#include <sys/resource.h>

namespace nograd {

// Peak resident memory of this process in bytes (Linux reports ru_maxrss in KiB).
inline long long peak_resident_bytes() {
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<long long>(usage.ru_maxrss) * 1024;
}

}  // namespace nograd
