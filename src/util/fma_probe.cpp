// The FMA probe: chains of a = a*m + c on whole vectors, in GCC's portable vector types (one zmm/ymm/xmm
// register per chain; -ffp-contract=fast fuses each into one FMA instruction).
#include "util/fma_probe.h"

#include <omp.h>

#include <algorithm>
#include <chrono>

namespace nograd {
namespace {

#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
typedef float Vec __attribute__((vector_size(4 * kLanes)));

// 16 independent chains: Zen 4 needs >= 8 in flight (2 pipes x 4 cycles latency) for 256-bit vectors and
// >= 4 for 512-bit ones; 16 covers both with room, yet fits the 16 registers of AVX2 and the 32 of AVX-512.
constexpr int kChains = 16;

// `iterations` rounds of kChains FMAs; returns a sum so the work cannot be optimised away.
float fma_chains(long iterations) {
    Vec acc[kChains];
    for (int c = 0; c < kChains; ++c) acc[c] = Vec{} + 1.0f + 0.001f * c;
    const Vec m = Vec{} + 0.999999f, add = Vec{} + 1e-6f;  // a → 1: no overflow, no subnormals
    // Without -ffast-math the compiler may not reassociate or fold these chains, so each FMA is executed.
    for (long i = 0; i < iterations; ++i)
        for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * m + add;
    float sum = 0.0f;
    for (int c = 0; c < kChains; ++c)
        for (int l = 0; l < kLanes; ++l) sum += acc[c][l];
    return sum;
}

// One timed run: every thread does the same work; the slowest thread sets the time.
double run_once(int threads, long iterations) {
    float sink = 0.0f;
    const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += fma_chains(iterations);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double flops = 2.0 * kLanes * kChains * double(iterations) * threads;
    return sink == 0.12345f ? 0.0 : flops / seconds * 1e-9;  // the comparison keeps `sink` alive
}

}  // namespace

int fma_vector_lanes() { return kLanes; }

double measure_fma_peak(int threads, double seconds) {
    long iterations = 1 << 16;
    // Size the runs to ~seconds/5 each, then keep the best of five (the others lose time to other processes).
    while (true) {
        const auto start = std::chrono::steady_clock::now();
        run_once(threads, iterations);
        const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (t > seconds / 20 || iterations > (1L << 40)) {
            iterations = long(double(iterations) * (seconds / 5) / std::max(t, 1e-6));
            break;
        }
        iterations *= 4;
    }
    double best = 0.0;
    for (int run = 0; run < 5; ++run) best = std::max(best, run_once(threads, std::max(iterations, 1L)));
    return best;
}

}  // namespace nograd
