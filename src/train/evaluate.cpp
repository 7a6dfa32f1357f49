#include "train/evaluate.h"

#include <chrono>
#include <vector>

#include "util/error.h"

namespace nograd {

EvalResult evaluate_loss(const GPT2& model, Activations& acts, const TokenDataset& data, long K) {
    return evaluate_loss(data, acts.B, acts.T, K, [&](const int* inputs, const int* targets) {
        return double(gpt2_forward(model, acts, inputs, targets));
    });
}

EvalResult evaluate_loss(const TokenDataset& data, int B, int T, long K, const BatchLoss& loss) {
    const size_t available = data.num_batches(B, T);
    if (size_t(K) > available)
        throw Error(data.pattern() + ": " + std::to_string(K) + " batches requested, but B=" + std::to_string(B) +
                    " T=" + std::to_string(T) + " gives only " + std::to_string(available));
    std::vector<int> inputs(size_t(B) * T), targets(size_t(B) * T);
    EvalResult result;
    double sum = 0.0;
    for (long k = 0; k < K; ++k) {
        data.read_batch(size_t(k), B, T, inputs.data(), targets.data());
        const auto start = std::chrono::steady_clock::now();
        sum += loss(inputs.data(), targets.data());
        result.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    result.loss = sum / double(K);
    result.batches = K;
    return result;
}

}  // namespace nograd
