// The build's identity for logs and saved states: git commit and build options.
#pragma once
#include <string>

namespace nograd {

std::string nograd_version();  // e.g. "nograd 73c2b2f (blis, native)"

}  // namespace nograd
