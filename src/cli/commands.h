// One function per subcommand, each in its own file under src/cli/. They take the arguments after the
// subcommand's name, print results on stdout and return the exit status; errors are thrown.
#pragma once
#include <string>
#include <vector>

namespace nograd {

using Args = std::vector<std::string>;

int run_init(const Args& args);
int run_info(const Args& args);
int run_eval(const Args& args);
int run_train(const Args& args);
int run_tokenize(const Args& args);
int run_convert(const Args& args);
int run_sample(const Args& args);
int run_bench(const Args& args);

}  // namespace nograd
