#include "util/version.h"

#ifndef NOGRAD_GIT_COMMIT
#define NOGRAD_GIT_COMMIT "unknown"
#endif
#ifndef NOGRAD_BUILD
#define NOGRAD_BUILD "unknown"
#endif

namespace nograd {

std::string nograd_version() { return std::string("nograd ") + NOGRAD_GIT_COMMIT + " (" + NOGRAD_BUILD + ")"; }

}  // namespace nograd
