#include "kernels/crossentropy.h"

#include <cmath>
#include <cstddef>

namespace nograd {

void crossentropy_forward(float* losses, const float* logits, const int* targets, int N, int V, int Vp) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; ++n) {
        const float* row = logits + size_t(n) * Vp;
        float max = row[0];
        for (int v = 1; v < V; ++v) max = row[v] > max ? row[v] : max;
        // Summing 50k exponentials in double keeps the loss within float rounding of the exact value.
        double sum = 0.0;
        for (int v = 0; v < V; ++v) sum += std::exp(double(row[v] - max));
        losses[n] = float(std::log(sum) + max - row[targets[n]]);
    }
}

void crossentropy_backward(float* dlogits, const float* logits, const int* targets, float dloss, int N, int V,
                           int Vp) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; ++n) {
        const float* row = logits + size_t(n) * Vp;
        float* d = dlogits + size_t(n) * Vp;
        float max = row[0];
        for (int v = 1; v < V; ++v) max = row[v] > max ? row[v] : max;
        // d first holds the unnormalised exponentials (each read of row[v] precedes the write to d[v],
        // so in place is safe), then is scaled by dloss / Σ.
        double sum = 0.0;
        for (int v = 0; v < V; ++v) sum += (d[v] = std::exp(row[v] - max));
        const float scale = float(dloss / sum);
        for (int v = 0; v < V; ++v) d[v] *= scale;
        d[targets[n]] -= dloss;
        for (int v = V; v < Vp; ++v) d[v] = 0.0f;
    }
}

}  // namespace nograd
