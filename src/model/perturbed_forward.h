// GPT-2's loss at several points θ + s_k·u along one direction u, without ever writing θ: the forward passes
// of the points run op by op together ("lockstep"), and just before each op the tensor it reads is copied K
// times as θ + s_k·u from one generation of u (optim/direction.h, perturbed_copies). So an antithetic pair
// L(θ ± εz) costs one generation of z and one read of θ, where perturbing θ in place costs two passes that
// read and write it, each generating z, plus a third to restore it.
// The logits are never held whole: the LM head runs over vocabulary chunks into an online log-sum-exp
// (kernels/crossentropy.h), so a point needs only the loss_only activations.
#pragma once
#include <cstddef>
#include <span>
#include <vector>

#include "model/activations.h"
#include "model/gpt2.h"
#include "optim/direction.h"
#include "util/buffer.h"

namespace nograd {

class PerturbedForward {
public:
    // A chunk of weight rows that one thread copies and multiplies, at most 4.5 MB: one whole 384-row gemm
    // tile of every d12 layer (K ≤ 3072), which stays in that thread's L2 and share of L3 until the gemm has
    // read it. At d12 with two points, 1.5 MB chunks (128 rows of the MLP's output layer) cost ~20 ms more
    // per step than whole tiles; larger chunks gained nothing.
    static constexpr size_t kChunkFloats = 384 * 3072;

    // Points of (B, T) tokens each, on up to omp_get_max_threads() threads (as set when it is built). The
    // buffers of a point are allocated the first time a call asks for that many points, and kept.
    // chunk_floats: see kChunkFloats; vocab_rows: rows per LM-head chunk, 0 for vocab_chunk(config), at most
    // that (tests make both small, so that small models still cut their layers and vocabulary in chunks).
    PerturbedForward(const GPT2Config& config, int B, int T, size_t chunk_floats = kChunkFloats, int vocab_rows = 0);

    // Bytes it allocates (for memory plans): per point the loss_only activations, one chunk of logits and two
    // small tensors; per thread and point, the copy of one chunk of weight rows.
    static size_t bytes_needed(const GPT2Config& config, int B, int T, int points, int threads,
                               size_t chunk_floats = kChunkFloats);

    // For each s of `scales`, the per-sequence loss sums (sequence_loss_sum of each of the B sequences) at
    // θ + s·u, u the perturbation's direction (a scale of 0 is θ itself). inputs and targets are (B, T).
    // Throws nograd::Error for a model of another shape than the config it was built for.
    std::vector<std::vector<double>> sequence_sums(const GPT2& model, const int* inputs, const int* targets,
                                                   const Perturbation& perturbation, std::span<const float> scales);

    // The same reduced to each point's mean loss over the batch (batch_mean_loss of its sums).
    std::vector<double> mean_losses(const GPT2& model, const int* inputs, const int* targets,
                                    const Perturbation& perturbation, std::span<const float> scales);
    // The mean loss at θ itself: one point, nothing copied.
    double loss(const GPT2& model, const int* inputs, const int* targets);

    // Vocabulary rows per LM-head chunk: 4C, at least 3072, rounded up to whole 384-column gemm tiles
    // (kernels/gemm.cpp). With 384-row chunks, the demo's 64-channel model spent its steps in 131 one-tile
    // products per point, which leave one thread idle: its zeroth-order steps ran ~40 % slower.
    static int vocab_chunk(const GPT2Config& config);

private:
    // What one point owns.
    struct Point {
        Point(const GPT2Config& config, int B, int T, int threads, size_t chunk_buffer, int vocab_rows);
        Activations acts;          // loss_only layout
        FloatBuffer logits;        // (B·T, vocab_rows): one chunk of its logits
        FloatBuffer small_copies;  // two slots of max(4C, T·C) floats
        FloatBuffer row_copies;    // per thread: one chunk of weight rows
    };

    GPT2Config config_;
    int B_, T_, threads_;
    size_t chunk_floats_;
    int vocab_rows_;
    size_t chunk_buffer_floats_;
    std::vector<Point> points_;
};

}  // namespace nograd
