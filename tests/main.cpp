// The doctest runner for the whole suite. Test suites: "kernels", "model", "files", "cli", "optim", "data".
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
