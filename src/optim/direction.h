// Random perturbation directions z that are never stored: z_i is a pure function of (seed, stream, i), with
// i the parameter's index in the flat buffer, regenerated in small chunks wherever it is needed and fused
// into the update loops. What each optimizer does with z (gains, clipping, H floors) lives in its own file.
#pragma once
#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace nograd {

enum class Distribution { gaussian, rademacher };

// Which direction: `seed` is the run's seed (the generator's key); `stream` tells the directions of one run apart,
// normally direction_stream(step, sample). Same key => same z, bit for bit, for any thread count or chunking.
struct DirectionKey {
    uint64_t seed;
    uint64_t stream;
    friend bool operator==(const DirectionKey&, const DirectionKey&) = default;
};

// stream = step * 2^20 + sample: up to 2^20 directions per step (samples, population members, or the second
// perturbation of 2SPSA) and 2^44 steps.
constexpr uint64_t direction_stream(uint64_t step, uint64_t sample) {
    assert(sample < (uint64_t(1) << 20) && step < (uint64_t(1) << 44));
    return (step << 20) | sample;
}

// Indices [begin, end) of the flat parameter buffer. A list of ranges is a parameter subset; its entries are
// numbered 0..n-1 in list order ("subset offsets"), which is how subset-sized vectors (H, momentum) are
// indexed. Ranges in one list must not overlap.
struct IndexRange {
    size_t begin;
    size_t end;
};
size_t subset_size(std::span<const IndexRange> ranges);

// How z_i is computed (this fixes the bits; changing it changes every run).
// Block number k has the four words x0..x3 = counter_hash_block(k low, counter_hash_key(seed, stream, k high))
// of optim/counter_hash.h.
// Gaussian: block 32b + l (l < 32) with output words x0..x3 gives the Box-Muller pairs (x0, x2) and (x1, x3):
//   for p in {0, 1}, u = ((x_p >> 8) + 1) / 2^24 in (0, 1], angle = 2 pi (x_{p+2} >> 8) / 2^24, and
//   z_{128b + 32p + l} = sqrt(-2 ln u) cos(angle), z_{128b + 64 + 32p + l} = sqrt(-2 ln u) sin(angle).
// Rademacher: i = 4096b + 32(32w + t) + l uses bit t of word w of block 32b + l, with the top bit of the block
//   high word set (so its keys never meet the Gaussian ones); z = -1 if the bit is set, else +1.
// The log and sin/cos are float polynomials (about 2e-7 relative error), so bits can differ between builds
// that contract a*b+c into an FMA and builds that don't (PORTABLE=1), never between runs of one build.
inline constexpr size_t kGaussianBatch = 128;
inline constexpr size_t kRademacherBatch = 4096;
inline constexpr size_t kDirectionChunk = 4096;  // work unit of the parallel loops: 16 KB of z, stays in L1

// out[k] = z_{begin+k} for k < end - begin. Parallel (OpenMP, static schedule).
void generate_direction(float* out, size_t begin, size_t end, DirectionKey key, Distribution dist);
// The same on the calling thread only, for use inside a parallel region or a per-layer loop.
void generate_direction_serial(float* out, size_t begin, size_t end, DirectionKey key, Distribution dist);

// params[i] += scale * z_i for i in [begin, end) (params is the base of the flat buffer): random search's
// move to an accepted candidate, and the in-place reference the tests hold the lockstep forward against.
void add_scaled_direction(float* params, size_t begin, size_t end, float scale, DirectionKey key,
                          Distribution dist);
void add_scaled_direction(float* params, std::span<const IndexRange> ranges, float scale, DirectionKey key,
                          Distribution dist);
// params[i] += sum_s scales[s] * z^(keys[s])_i: several directions in one pass over params (n-SPSA, ES),
// added one after another in the order given. A key repeated right after itself reuses its z (one
// generation), so a sequence of moves along one direction costs one pass and one generation.
void add_scaled_directions(float* params, std::span<const IndexRange> ranges, std::span<const DirectionKey> keys,
                           std::span<const float> scales, Distribution dist);
// params[i] += scale * z_i / sqrt(diag_h[k]): HiZOO's perturbation theta +- eps z / sqrt(H) made in place,
// the reference the tests hold the lockstep forward's copies against.
void add_preconditioned_direction(float* params, std::span<const IndexRange> ranges, float scale,
                                  const float* diag_h, DirectionKey key, Distribution dist);

// A direction over a parameter subset, as the forward pass needs it: u_i = z_i(key) for i in `subset` (divided
// by sqrt(diag_h[k]), k the subset offset of i, when diag_h is set: HiZOO's θ ± εz/√H), and u_i = 0 elsewhere.
struct Perturbation {  // Perturbation{}: an empty subset, so every point reads θ itself
    DirectionKey key{0, 0};
    Distribution dist = Distribution::gaussian;
    std::span<const IndexRange> subset;
    const float* diag_h = nullptr;  // subset-sized, or null
};

// Does [begin, end) hold any entry of the subset?
bool touches(std::span<const IndexRange> subset, size_t begin, size_t end);

// outs[k][j] = params[begin + j] + scales[k] * u_{begin+j} for j < end − begin and every k: the perturbed copies
// of one piece of θ at several points along u, from one generation of u (made in L1-sized chunks, never
// stored whole). θ is only read. Parallel (OpenMP, static schedule); the bits do not depend on the thread count.
void perturbed_copies(std::span<float* const> outs, std::span<const float> scales, const float* params, size_t begin,
                      size_t end, const Perturbation& perturbation);

// The ranges cut at multiples of kDirectionChunk into numbered pieces, so an OpenMP loop can hand them out.
class DirectionChunkPlan {
public:
    struct Piece {
        size_t begin, end;     // parameter indices, within one chunk
        size_t subset_offset;  // subset offset of `begin`
    };
    explicit DirectionChunkPlan(std::span<const IndexRange> ranges);
    size_t size() const { return piece_count_; }
    Piece piece(size_t number) const;

private:
    std::span<const IndexRange> ranges_;
    std::vector<size_t> first_piece_;    // per range: number of its first piece
    std::vector<size_t> subset_offset_;  // per range: subset offset of its begin
    size_t piece_count_ = 0;
};

// Entries generated per step of the fused loops below (whole generation batches). Measured on d12's 124M
// parameters, 2 threads: 1024 Gaussian entries (4 KB of z, which stays in L1 beside the parameters) ran
// newton's update pass in 67 ms where 128 took 99 and 2048 took 68 (spsa's: 46, 50 and 57 ms); whole
// 4096-entry chunks made theta += eps z 14% slower still.
constexpr size_t direction_step(Distribution dist) {
    return dist == Distribution::gaussian ? 8 * kGaussianBatch : kRademacherBatch;
}

// Calls f(z, param_begin, count, subset_offset) over the ranges, piece by piece, where z[k] = z_{param_begin+k}
// for k < count (count <= direction_step(dist), all within one kDirectionChunk) and subset_offset numbers
// param_begin within the subset. Chunks run in parallel (f must be safe for that and must not throw), so
// callers fuse any per-coordinate update without a parameter-sized buffer, e.g. HiZOO's H update + step:
//   for_each_direction_chunk(ranges, key, dist, [&](const float* z, size_t p, size_t n, size_t s) {
//       for (size_t k = 0; k < n; ++k) { float& h = diag_h[s + k]; ... theta[p + k] -= ... / std::sqrt(h); }
//   });
// (Without -fno-math-errno GCC leaves such a std::sqrt loop scalar; sqrt_in_place below is the vector way.)
// Per-coordinate work gives the same bits for any thread count; reductions across pieces are the caller's.
// Called inside another parallel region, it runs on the calling thread (OpenMP nesting is off by default).
template <class F>
void for_each_direction_chunk(std::span<const IndexRange> ranges, DirectionKey key, Distribution dist, F&& f) {
    const DirectionChunkPlan plan(ranges);
    const ptrdiff_t pieces = static_cast<ptrdiff_t>(plan.size());
    const size_t step = direction_step(dist);
#pragma omp parallel for schedule(static) if (pieces > 1)
    for (ptrdiff_t number = 0; number < pieces; ++number) {
        alignas(64) float z[kRademacherBatch];
        const DirectionChunkPlan::Piece piece = plan.piece(static_cast<size_t>(number));
        for (size_t first = piece.begin; first < piece.end;) {
            const size_t last = std::min(piece.end, (first / step + 1) * step);  // stop at a batch boundary
            generate_direction_serial(z, first, last, key, dist);
            f(static_cast<const float*>(z), first, last - first, piece.subset_offset + (first - piece.begin));
            first = last;
        }
    }
}

// x[k] = sqrt(x[k]) for k < n, x[k] >= 0, vectorized even without -fno-math-errno (which std::sqrt needs to
// vectorize in GCC): for fused callbacks that divide by sqrt(H) on a chunk-sized stack buffer.
void sqrt_in_place(float* x, size_t n);

// The Box-Muller kernel behind the Gaussian directions, exposed for tests: for k < n, with u and the angle
// derived from radius_bits[k] and angle_bits[k] as described above, z_cos[k] = r cos(angle), z_sin[k] = r sin(angle).
void box_muller_from_bits(const uint32_t* radius_bits, const uint32_t* angle_bits, float* z_cos, float* z_sin,
                          size_t n);

}  // namespace nograd
