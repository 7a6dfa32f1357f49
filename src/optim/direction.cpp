// Directions z regenerated from (seed, stream, index): the counter hash (counter_hash.h) on 32 blocks at
// once in structure-of-arrays form, then Box-Muller with float polynomials for log and sin/cos, all in plain
// loops that the compiler vectorizes. The sqrt has an AVX intrinsics path with a plain-C twin.
#include "optim/direction.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#ifdef __AVX__
#include <immintrin.h>
#endif

#include "optim/counter_hash.h"

namespace nograd {

// Without -fno-math-errno GCC keeps std::sqrt scalar (it must be able to set errno for negative inputs),
// which made the Gaussian generation 3x slower; hence the AVX path.
void sqrt_in_place(float* x, size_t n) {
#if defined(__AVX__) && !defined(__NO_MATH_ERRNO__)
    size_t k = 0;
    for (; k + 8 <= n; k += 8) _mm256_storeu_ps(x + k, _mm256_sqrt_ps(_mm256_loadu_ps(x + k)));
    for (; k < n; ++k) x[k] = _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(x[k])));
#else
    for (size_t k = 0; k < n; ++k) x[k] = std::sqrt(x[k]);
#endif
}

namespace {

constexpr size_t kLanes = 32;  // blocks per batch: two AVX-512 registers per word
constexpr uint32_t kRademacherTag = 0x80000000u;  // top bit of the block high word, see direction.h
static_assert(kGaussianBatch == 4 * kLanes && kRademacherBatch == 128 * kLanes);
static_assert(kDirectionChunk % kGaussianBatch == 0 && kDirectionChunk % kRademacherBatch == 0);

struct BlockLanes {
    alignas(64) uint32_t word[4][kLanes];  // word[w][l]: output word w of block first_block + l
};

// counter_hash_block (counter_hash.h) on blocks first_block .. first_block + 31, as plain loops across the
// lanes that the compiler vectorizes (32-bit multiplies and shifts). first_block is a multiple of 32, so
// the lanes share the block number's high word, which goes into the key.
void hash_lanes(BlockLanes& x, uint64_t first_block, uint32_t block_tag, DirectionKey key) {
    assert(first_block % kLanes == 0);
    const std::array<uint32_t, 5> k =
        counter_hash_key(key.seed, key.stream, uint32_t(first_block >> 32) | block_tag);
    const uint32_t low = uint32_t(first_block);
    alignas(64) uint32_t y[kLanes];
    for (size_t l = 0; l < kLanes; ++l) y[l] = triple32((low + uint32_t(l)) ^ k[0]);
    for (size_t w = 0; w < 4; ++w)
        for (size_t l = 0; l < kLanes; ++l) x.word[w][l] = lowbias32(y[l] ^ k[w + 1]);
}

// -2 ln u for u = k / 2^24, k in [1, 2^24]. Write k = 2^e m with m in [sqrt(1/2), sqrt(2)]; then
// ln m = 2 atanh(t) = 2 (t + t^3/3 + t^5/5 + ...) with t = (m - 1)/(m + 1), |t| <= 0.172, so stopping at t^9
// leaves < 3e-9 relative error. The factor -2 is folded into the constants; -2 ln 2 is split in two
// (Cody-Waite) so that e times its leading part is exact.
inline float minus_two_log_unit(uint32_t k) {
    constexpr float kMinus2Ln2Hi = -1.38629150390625f;  // -2 ln 2 to 16 significant bits
    constexpr float kMinus2Ln2Lo = -2.85721364e-06f;   // the rest of -2 ln 2
    const uint32_t bits = std::bit_cast<uint32_t>(float(int32_t(k)));  // exact: k <= 2^24
    const uint32_t mantissa = bits & 0x007FFFFFu;
    const uint32_t halve = mantissa > 0x003504F3u ? 1u : 0u;  // m > sqrt(2): take m/2 and e + 1
    const float m = std::bit_cast<float>(mantissa | (halve ? 0x3F000000u : 0x3F800000u));
    const float e = float(int32_t(bits >> 23) - (127 + 24) + int32_t(halve));  // exponent of k / 2^24
    const float t = (m - 1.0f) / (m + 1.0f);
    const float t2 = t * t;
    const float series = -4.0f + t2 * (-4.0f / 3 + t2 * (-4.0f / 5 + t2 * (-4.0f / 7 + t2 * (-4.0f / 9))));
    return e * kMinus2Ln2Hi + (e * kMinus2Ln2Lo + t * series);
}

// cos and sin of 2 pi a / 2^24 for a < 2^24. The nearest quarter turn q is split off exactly in integers,
// the remaining angle phi in [-pi/4, pi/4] goes through Taylor polynomials (next terms < 2e-9), and
// (cos phi, sin phi) is rotated by q quarter turns: swap for odd q, then flip signs.
inline void cos_sin_turn(uint32_t a, float& cos_out, float& sin_out) {
    constexpr float kRadiansPerUnit = 3.14159265358979f / 8388608.0f;  // (pi/2) / 2^22
    const uint32_t quarter = (a + (1u << 21)) >> 22;                       // 0..4
    const float phi = float(int32_t(a) - int32_t(quarter << 22)) * kRadiansPerUnit;
    const float p2 = phi * phi;
    const float s = phi + phi * p2 *
                              (-1.0f / 6 + p2 * (1.0f / 120 + p2 * (-1.0f / 5040 + p2 * (1.0f / 362880))));
    const float c = 1.0f + p2 * (-0.5f + p2 * (1.0f / 24 + p2 * (-1.0f / 720 + p2 * (1.0f / 40320 +
                                                                                     p2 * (-1.0f / 3628800)))));
    const bool odd = quarter & 1u;
    const uint32_t cos_sign = ((quarter + 1u) & 2u) << 30;  // q = 1, 2: cos < 0 side
    const uint32_t sin_sign = (quarter & 2u) << 30;         // q = 2, 3: sin < 0 side
    cos_out = std::bit_cast<float>(std::bit_cast<uint32_t>(odd ? s : c) ^ cos_sign);
    sin_out = std::bit_cast<float>(std::bit_cast<uint32_t>(odd ? c : s) ^ sin_sign);
}

// Box-Muller: r cos(angle) and r sin(angle) with r = sqrt(-2 ln u) are independent N(0, 1) when u and the
// angle are uniform. u = ((bits >> 8) + 1) / 2^24 lies in (0, 1], so the log never sees 0; its 24 bits
// cap |z| at sqrt(2 ln 2^24) = 5.77. Three passes so the sqrt can be a vector instruction.
inline void box_muller_kernel(const uint32_t* __restrict radius_bits, const uint32_t* __restrict angle_bits,
                              float* __restrict z_cos, float* __restrict z_sin, size_t n) {
    for (size_t k = 0; k < n; ++k) z_cos[k] = minus_two_log_unit((radius_bits[k] >> 8) + 1);  // r^2, parked
    sqrt_in_place(z_cos, n);
    for (size_t k = 0; k < n; ++k) {
        float c, s;
        cos_sin_turn(angle_bits[k] >> 8, c, s);
        z_sin[k] = z_cos[k] * s;
        z_cos[k] = z_cos[k] * c;
    }
}

// z for indices [128 batch, 128 batch + 128): radius words 0, 1 pair with angle words 2, 3.
void gaussian_batch(float* __restrict out, uint64_t batch, DirectionKey key) {
    BlockLanes x;
    hash_lanes(x, batch * kLanes, 0, key);
    box_muller_kernel(x.word[0], x.word[2], out, out + 2 * kLanes, 2 * kLanes);
}

// z for indices [4096 batch, 4096 batch + 4096): bit t of word w of lane l sets the sign of entry 32(32w+t)+l.
void rademacher_batch(float* __restrict out, uint64_t batch, DirectionKey key) {
    BlockLanes x;
    hash_lanes(x, batch * kLanes, kRademacherTag, key);
    for (size_t w = 0; w < 4; ++w) {
        for (uint32_t t = 0; t < 32; ++t) {
            float* row = out + (32 * w + t) * kLanes;
#pragma omp simd
            for (size_t l = 0; l < kLanes; ++l)
                row[l] = std::bit_cast<float>(0x3F800000u | ((x.word[w][l] << (31 - t)) & 0x80000000u));
        }
    }
}

}  // namespace

void box_muller_from_bits(const uint32_t* radius_bits, const uint32_t* angle_bits, float* z_cos, float* z_sin,
                          size_t n) {
    box_muller_kernel(radius_bits, angle_bits, z_cos, z_sin, n);
}

// Batches inside [begin, end) are written in place; a batch cut by begin or end is computed whole into a
// local array and the wanted part copied, so every z_i comes from the same arithmetic whatever the range.
void generate_direction_serial(float* out, size_t begin, size_t end, DirectionKey key, Distribution dist) {
    const bool gaussian = dist == Distribution::gaussian;
    const size_t batch_size = gaussian ? kGaussianBatch : kRademacherBatch;
    alignas(64) float cut_batch[kRademacherBatch];
    for (size_t batch = begin / batch_size; batch * batch_size < end; ++batch) {
        const size_t first = batch * batch_size;
        const size_t lo = std::max(begin, first), hi = std::min(end, first + batch_size);
        const bool whole = lo == first && hi == first + batch_size;
        float* target = whole ? out + (first - begin) : cut_batch;
        if (gaussian)
            gaussian_batch(target, batch, key);
        else
            rademacher_batch(target, batch, key);
        if (!whole) std::memcpy(out + (lo - begin), cut_batch + (lo - first), (hi - lo) * sizeof(float));
    }
}

size_t subset_size(std::span<const IndexRange> ranges) {
    size_t total = 0;
    for (const IndexRange& range : ranges) total += range.end - range.begin;
    return total;
}

DirectionChunkPlan::DirectionChunkPlan(std::span<const IndexRange> ranges) : ranges_(ranges) {
    first_piece_.reserve(ranges.size());
    subset_offset_.reserve(ranges.size());
    size_t offset = 0;
    for (const IndexRange& range : ranges) {
        assert(range.begin <= range.end);
        first_piece_.push_back(piece_count_);
        subset_offset_.push_back(offset);
        if (range.end > range.begin)
            piece_count_ += (range.end - 1) / kDirectionChunk - range.begin / kDirectionChunk + 1;
        offset += range.end - range.begin;
    }
}

DirectionChunkPlan::Piece DirectionChunkPlan::piece(size_t number) const {
    // The last range whose first piece is <= number; empty ranges share their successor's first piece and
    // come before it, so upper_bound skips them.
    const size_t r = size_t(std::upper_bound(first_piece_.begin(), first_piece_.end(), number) -
                            first_piece_.begin()) - 1;
    const IndexRange& range = ranges_[r];
    const size_t chunk = range.begin / kDirectionChunk + (number - first_piece_[r]);
    const size_t begin = std::max(range.begin, chunk * kDirectionChunk);
    const size_t end = std::min(range.end, (chunk + 1) * kDirectionChunk);
    return {begin, end, subset_offset_[r] + (begin - range.begin)};
}

void generate_direction(float* out, size_t begin, size_t end, DirectionKey key, Distribution dist) {
    const IndexRange whole[1] = {{begin, end}};
    const DirectionChunkPlan plan(whole);
    const ptrdiff_t pieces = static_cast<ptrdiff_t>(plan.size());
#pragma omp parallel for schedule(static) if (pieces > 1)
    for (ptrdiff_t number = 0; number < pieces; ++number) {
        const DirectionChunkPlan::Piece piece = plan.piece(static_cast<size_t>(number));
        generate_direction_serial(out + piece.subset_offset, piece.begin, piece.end, key, dist);
    }
}

void add_scaled_direction(float* params, std::span<const IndexRange> ranges, float scale, DirectionKey key,
                          Distribution dist) {
    for_each_direction_chunk(ranges, key, dist, [&](const float* z, size_t first, size_t count, size_t) {
        float* __restrict p = params + first;
        for (size_t k = 0; k < count; ++k) p[k] += scale * z[k];
    });
}

void add_scaled_direction(float* params, size_t begin, size_t end, float scale, DirectionKey key,
                          Distribution dist) {
    const IndexRange whole[1] = {{begin, end}};
    add_scaled_direction(params, whole, scale, key, dist);
}

// A batch of params stays in L1 while each key's z is generated and added: n directions, one memory pass.
void add_scaled_directions(float* params, std::span<const IndexRange> ranges, std::span<const DirectionKey> keys,
                           std::span<const float> scales, Distribution dist) {
    assert(keys.size() == scales.size());
    const DirectionChunkPlan plan(ranges);
    const ptrdiff_t pieces = static_cast<ptrdiff_t>(plan.size());
    const size_t step = direction_step(dist);
#pragma omp parallel for schedule(static) if (pieces > 1)
    for (ptrdiff_t number = 0; number < pieces; ++number) {
        alignas(64) float z[kRademacherBatch];
        const DirectionChunkPlan::Piece piece = plan.piece(static_cast<size_t>(number));
        for (size_t first = piece.begin; first < piece.end;) {
            const size_t last = std::min(piece.end, (first / step + 1) * step);
            float* __restrict p = params + first;
            for (size_t s = 0; s < keys.size(); ++s) {
                if (s == 0 || keys[s] != keys[s - 1]) generate_direction_serial(z, first, last, keys[s], dist);
                for (size_t k = 0; k < last - first; ++k) p[k] += scales[s] * z[k];
            }
            first = last;
        }
    }
}

void add_preconditioned_direction(float* params, std::span<const IndexRange> ranges, float scale,
                                  const float* diag_h, DirectionKey key, Distribution dist) {
    for_each_direction_chunk(ranges, key, dist, [&](const float* z, size_t first, size_t count, size_t offset) {
        alignas(64) float sqrt_h[kDirectionChunk];
        std::memcpy(sqrt_h, diag_h + offset, count * sizeof(float));
        sqrt_in_place(sqrt_h, count);
        float* __restrict p = params + first;
        for (size_t k = 0; k < count; ++k) p[k] += scale * z[k] / sqrt_h[k];
    });
}

bool touches(std::span<const IndexRange> subset, size_t begin, size_t end) {
    return std::any_of(subset.begin(), subset.end(),
                       [&](const IndexRange& r) { return r.begin < end && begin < r.end && r.begin < r.end; });
}

namespace {

// A subset range with its subset offset, for finding the ranges that meet a piece of θ.
struct OffsetRange {
    IndexRange range;
    size_t subset_offset;
};

std::vector<OffsetRange> ranges_meeting(std::span<const IndexRange> subset, size_t begin, size_t end) {
    std::vector<OffsetRange> meeting;
    size_t offset = 0;
    for (const IndexRange& r : subset) {
        if (r.begin < end && begin < r.end && r.begin < r.end) meeting.push_back({r, offset});
        offset += r.end - r.begin;
    }
    std::sort(meeting.begin(), meeting.end(),
              [](const OffsetRange& a, const OffsetRange& b) { return a.range.begin < b.range.begin; });
    return meeting;
}

// u[j] = u_{a+j} for j < b − a (see Perturbation), from the subset ranges that meet [a, b), sorted.
void perturbation_piece(float* __restrict u, size_t a, size_t b, std::span<const OffsetRange> meeting,
                        const Perturbation& p) {
    const bool covered = std::any_of(meeting.begin(), meeting.end(),
                                     [&](const OffsetRange& m) { return m.range.begin <= a && b <= m.range.end; });
    if (!covered) std::fill_n(u, b - a, 0.0f);
    for (const OffsetRange& m : meeting) {
        if (m.range.end <= a) continue;
        if (m.range.begin >= b) break;
        const size_t lo = std::max(a, m.range.begin), hi = std::min(b, m.range.end);
        generate_direction_serial(u + (lo - a), lo, hi, p.key, p.dist);
        if (!p.diag_h) continue;
        alignas(64) float sqrt_h[kDirectionChunk];
        std::memcpy(sqrt_h, p.diag_h + m.subset_offset + (lo - m.range.begin), (hi - lo) * sizeof(float));
        sqrt_in_place(sqrt_h, hi - lo);
        float* __restrict z = u + (lo - a);
        for (size_t k = 0; k < hi - lo; ++k) z[k] /= sqrt_h[k];
    }
}

}  // namespace

void perturbed_copies(std::span<float* const> outs, std::span<const float> scales, const float* params, size_t begin,
                      size_t end, const Perturbation& perturbation) {
    assert(outs.size() == scales.size());
    if (outs.empty()) return;
    const std::vector<OffsetRange> meeting = ranges_meeting(perturbation.subset, begin, end);
    // Pieces cut at multiples of kDirectionChunk of the flat index, so the work units are the same whatever
    // piece of θ is asked for; within a piece, one generation batch at a time, so u stays in L1 (with whole
    // 4096-entry pieces, u, θ and the copies outgrew L1 and the copies cost 1.6x a pass over θ).
    const size_t first_chunk = begin / kDirectionChunk, step = direction_step(perturbation.dist);
    const ptrdiff_t chunks = ptrdiff_t(end > begin ? (end - 1) / kDirectionChunk - first_chunk + 1 : 0);
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (ptrdiff_t c = 0; c < chunks; ++c) {
        const size_t a = std::max(begin, (first_chunk + size_t(c)) * kDirectionChunk);
        const size_t b = std::min(end, (first_chunk + size_t(c) + 1) * kDirectionChunk);
        alignas(64) float u[kRademacherBatch];
        for (size_t x = a; x < b;) {
            const size_t y = std::min(b, (x / step + 1) * step);  // stop at a batch boundary
            perturbation_piece(u, x, y, meeting, perturbation);
            const float* __restrict theta = params + x;
            for (size_t k = 0; k < outs.size(); ++k) {
                float* __restrict out = outs[k] + (x - begin);
                const float s = scales[k];
                for (size_t j = 0; j < y - x; ++j) out[j] = theta[j] + s * u[j];
            }
            x = y;
        }
    }
}

}  // namespace nograd
