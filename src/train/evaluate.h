// Mean loss over the first K batches of a dataset (llm.c's unshuffled order): `nograd eval` and the
// trainer's validation both use this.
#pragma once
#include <functional>

#include "data/shards.h"
#include "model/gpt2.h"

namespace nograd {

struct EvalResult {
    double loss = 0.0;
    double seconds = 0.0;  // forward passes only, not reading data
    long batches = 0;
};

// Throws naming the dataset when it has fewer than K batches of acts.B × acts.T.
EvalResult evaluate_loss(const GPT2& model, Activations& acts, const TokenDataset& data, long K);

// The same with any batch loss (inputs, targets: (B, T)), e.g. one whose batch is split across processes.
using BatchLoss = std::function<double(const int* inputs, const int* targets)>;
EvalResult evaluate_loss(const TokenDataset& data, int B, int T, long K, const BatchLoss& loss);

}  // namespace nograd
