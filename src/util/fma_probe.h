// How fast this machine multiplies and adds, measured rather than looked up: the bench divides every
// GFLOP/s figure by this probe's result, so a share of peak means the same on any CPU.
#pragma once

namespace nograd {

// Lanes of one fused multiply-add in the widest vector this build targets (16 with AVX-512, 8 with AVX2,
// 4 with SSE), so peak = cores x clock x 2 FLOP x lanes x FMA units per core.
int fma_vector_lanes();

// fp32 GFLOP/s of `threads` threads, each running independent chains of vector FMAs for about `seconds`.
// Enough chains are in flight to cover the FMA latency on every unit (Zen 4: 2 units x 4 cycles), so the
// result is the arithmetic peak, not a latency bound. Takes the best of a few short runs.
double measure_fma_peak(int threads, double seconds);

}  // namespace nograd
