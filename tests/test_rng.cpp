// Tests of the perturbation random numbers: the counter hash against pinned known answers and for the
// properties its construction promises, the vectorized Gaussian/Rademacher directions against a scalar
// double-precision reference of the documented index mapping, their statistics, and invariance to threads,
// chunking and subsets; then the fused updates.
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <numbers>
#include <vector>

#include "optim/direction.h"
#include "optim/counter_hash.h"

using namespace nograd;

namespace {

// z_i straight from the definition in direction.h: the scalar counter hash, Box-Muller in double with libm.
constexpr uint64_t kGaussianLanes = kGaussianBatch / 4, kRademacherLanes = kRademacherBatch / 128;

std::array<uint32_t, 4> reference_block(DirectionKey key, uint64_t block, uint32_t tag) {
    return counter_hash_block(uint32_t(block), counter_hash_key(key.seed, key.stream, uint32_t(block >> 32) | tag));
}

double reference_gaussian(DirectionKey key, uint64_t i) {
    const uint64_t batch = i / kGaussianBatch, within = i % kGaussianBatch;
    const uint64_t block = kGaussianLanes * batch + within % kGaussianLanes;
    const uint64_t pair = (within / kGaussianLanes) % 2;
    const auto x = reference_block(key, block, 0);
    const double u = double((x[pair] >> 8) + 1) / 16777216.0;
    const double angle = 2.0 * std::numbers::pi * double(x[pair + 2] >> 8) / 16777216.0;
    const double radius = std::sqrt(-2.0 * std::log(u));
    return within >= 2 * kGaussianLanes ? radius * std::sin(angle) : radius * std::cos(angle);
}

float reference_rademacher(DirectionKey key, uint64_t i) {
    const uint64_t batch = i / kRademacherBatch, within = i % kRademacherBatch;
    const uint64_t block = kRademacherLanes * batch + within % kRademacherLanes;
    const uint64_t row = within / kRademacherLanes;  // row = 32 w + t
    const auto x = reference_block(key, block, 0x80000000u);
    return (x[row / 32] >> (row % 32)) & 1u ? -1.0f : 1.0f;
}

std::vector<float> direction(size_t begin, size_t end, DirectionKey key, Distribution dist) {
    std::vector<float> z(end - begin);
    generate_direction(z.data(), begin, end, key, dist);
    return z;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

struct Moments {
    double mean, variance, skewness, excess_kurtosis;
};

Moments moments(const std::vector<float>& z) {
    double sum = 0;
    for (float v : z) sum += v;
    const double mean = sum / double(z.size());
    double m2 = 0, m3 = 0, m4 = 0;
    for (float v : z) {
        const double d = v - mean;
        m2 += d * d;
        m3 += d * d * d;
        m4 += d * d * d * d;
    }
    const double n = double(z.size());
    m2 /= n, m3 /= n, m4 /= n;
    return {mean, m2, m3 / std::pow(m2, 1.5), m4 / (m2 * m2) - 3.0};
}

double correlation(const float* a, const float* b, size_t n) {
    double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
    for (size_t k = 0; k < n; ++k) {
        sa += a[k], sb += b[k], saa += double(a[k]) * a[k], sbb += double(b[k]) * b[k], sab += double(a[k]) * b[k];
    }
    const double cov = sab / n - (sa / n) * (sb / n);
    return cov / std::sqrt((saa / n - (sa / n) * (sa / n)) * (sbb / n - (sb / n) * (sb / n)));
}

// Restores the OpenMP thread count when a test that changes it ends.
struct ThreadCountGuard {
    int saved = omp_get_max_threads();
    ~ThreadCountGuard() { omp_set_num_threads(saved); }
};

// Deterministic pseudo-random cut points for chunking tests (a 64-bit LCG, Knuth's MMIX constants).
struct Lcg {
    uint64_t state;
    uint64_t next(uint64_t bound) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        return (state >> 33) % bound;
    }
};

}  // namespace

TEST_SUITE("optim") {

TEST_CASE("the counter hash gives its known answers and keeps counters, keys and words apart") {
    // Known answers pin the definition in counter_hash.h (a change here changes every run's directions):
    // the published triple32 maps 0 to 0; the block values were computed once from the scalar definition.
    static_assert(triple32(0) == 0 && triple32(1) == 0x042741d6u && lowbias32(1) == 0x688990c0u);
    struct Kat {
        uint64_t seed, stream;
        uint32_t high, low;
        std::array<uint32_t, 4> expected;
    };
    const Kat kats[] = {
        {0, 0, 0, 0, {0xf38e6452, 0x21eb82e0, 0x55199b3e, 0x4e92f916}},
        {~0ull, ~0ull, ~0u, ~0u, {0x80d64934, 0x1e2bb3b8, 0x7132a2ef, 0x93c66ff7}},
        {0x0123456789abcdefull, direction_stream(12345, 7), 0x80000000u, 0x243f6a88u,
         {0x05adea62, 0xec412350, 0x2d6ef7da, 0xe87abf2a}},
    };
    for (const Kat& k : kats) CHECK(counter_hash_block(k.low, counter_hash_key(k.seed, k.stream, k.high)) == k.expected);
    // Both hashes are bijections: no collisions among 2^20 consecutive inputs.
    std::vector<uint32_t> a, b;
    for (uint32_t x = 0; x < (1u << 20); ++x) a.push_back(triple32(x + 0x9e3779b9u)), b.push_back(lowbias32(x));
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    CHECK(std::adjacent_find(a.begin(), a.end()) == a.end());
    CHECK(std::adjacent_find(b.begin(), b.end()) == b.end());
    // Every byte of every word is uniform: chi-square over 256 bins for 2^18 blocks per word and byte position
    // (255 degrees of freedom: mean 255, sd 22.6; 400 is beyond 6 sd).
    const auto key = counter_hash_key(5, direction_stream(9, 0), 0);
    for (int w = 0; w < 4; ++w)
        for (int byte = 0; byte < 4; ++byte) {
            std::array<double, 256> count{};
            const uint32_t n = 1u << 18;
            for (uint32_t block = 0; block < n; ++block) count[(counter_hash_block(block, key)[w] >> (8 * byte)) & 255] += 1;
            double chi2 = 0;
            for (double c : count) chi2 += (c - n / 256.0) * (c - n / 256.0) / (n / 256.0);
            CAPTURE(w);
            CAPTURE(byte);
            CHECK(chi2 < 400.0);
        }
}

TEST_CASE("Gaussian directions follow the documented mapping to fp32 accuracy") {
    // The vectorized log/sincos polynomials are good to ~1e-7 relative; 1e-6 * max(1, |z|) leaves margin
    // yet catches a wrong word, lane, quadrant or sign (errors of order 1).
    const DirectionKey key{0x0123456789abcdefull, direction_stream(12345, 7)};
    for (uint64_t begin : {uint64_t(0), uint64_t(1) << 38}) {  // the second exercises the counter high word
        const std::vector<float> z = direction(begin, begin + 8192, key, Distribution::gaussian);
        double worst = 0;
        for (size_t k = 0; k < z.size(); ++k) {
            const double ref = reference_gaussian(key, begin + k);
            worst = std::max(worst, std::abs(z[k] - ref) / std::max(1.0, std::abs(ref)));
        }
        CHECK(worst < 1e-6);
    }
}

TEST_CASE("Box-Muller kernel is accurate over the whole input range") {
    // Sweep every radius exponent (u from 2^-24 to 1) and all angles, including exact quarter turns.
    std::vector<uint32_t> radius_bits, angle_bits;
    for (uint32_t e = 0; e <= 24; ++e)
        for (uint32_t j = 0; j < 64; ++j) radius_bits.push_back(((1u << e) - 1 + j * 97u * e) << 8);
    radius_bits.push_back(0xFFFFFFFFu);  // u = 1: r = 0
    for (size_t k = 0; k < radius_bits.size(); ++k) angle_bits.push_back(uint32_t(k * 2654435761u));
    for (uint32_t q = 0; q < 4; ++q) radius_bits.push_back(0), angle_bits.push_back(q << 30);
    const size_t n = radius_bits.size();
    std::vector<float> z_cos(n), z_sin(n);
    box_muller_from_bits(radius_bits.data(), angle_bits.data(), z_cos.data(), z_sin.data(), n);
    double worst = 0;
    for (size_t k = 0; k < n; ++k) {
        const double u = double((radius_bits[k] >> 8) + 1) / 16777216.0;
        const double r = std::sqrt(-2.0 * std::log(u));
        const double angle = 2.0 * std::numbers::pi * double(angle_bits[k] >> 8) / 16777216.0;
        worst = std::max({worst, std::abs(z_cos[k] - r * std::cos(angle)) / std::max(1.0, r),
                          std::abs(z_sin[k] - r * std::sin(angle)) / std::max(1.0, r)});
    }
    CHECK(worst < 1e-6);
    CHECK(z_cos[n - 5] == 0.0f);  // u = 1 gives exactly 0
    CHECK(z_sin[n - 5] == 0.0f);
    CHECK(z_cos[n - 4] == doctest::Approx(std::sqrt(48.0 * std::numbers::ln2)));  // largest radius, angle 0
    CHECK(z_sin[n - 3] == doctest::Approx(std::sqrt(48.0 * std::numbers::ln2)));  // quarter turn: all sine
    CHECK(z_cos[n - 3] == 0.0f);
    CHECK(z_cos[n - 2] == doctest::Approx(-std::sqrt(48.0 * std::numbers::ln2)));
}

TEST_CASE("sqrt_in_place is the correctly rounded square root, tails included") {
    for (size_t n : {0, 1, 8, 13, 100}) {
        std::vector<float> x(n);
        for (size_t k = 0; k < n; ++k) x[k] = k == 0 ? 0.0f : 1e-30f + float(k * k) * 1.37f + 1.0f / float(k);
        std::vector<float> expected(n);
        for (size_t k = 0; k < n; ++k) expected[k] = std::sqrt(x[k]);
        sqrt_in_place(x.data(), n);
        CHECK(same_bits(x, expected));
    }
}

TEST_CASE("Gaussian directions have standard normal moments") {
    // n = 1e6 samples. Standard errors of the estimators for N(0,1): mean 1/sqrt(n) = 1e-3, variance
    // sqrt(2/n) = 1.4e-3, skewness sqrt(6/n) = 2.4e-3, excess kurtosis sqrt(24/n) = 4.9e-3. Bounds at 5 SE are
    // never crossed by chance here, while a uniform (kurtosis -1.2), a missing factor 2 in -2 ln u (variance
    // 0.5) or a biased sign is off by far more. Tail frequencies are checked the same way.
    const size_t n = 1000000;
    const std::vector<float> z = direction(3, 3 + n, {7, direction_stream(1, 0)}, Distribution::gaussian);
    const Moments m = moments(z);
    CHECK(std::abs(m.mean) < 5e-3);
    CHECK(std::abs(m.variance - 1.0) < 7e-3);
    CHECK(std::abs(m.skewness) < 1.2e-2);
    CHECK(std::abs(m.excess_kurtosis) < 2.5e-2);
    size_t beyond2 = 0, beyond3 = 0;
    for (float v : z) beyond2 += std::abs(v) > 2.0f, beyond3 += std::abs(v) > 3.0f;
    // P(|z| > 2) = 0.04550, SE 2.1e-4; P(|z| > 3) = 0.00270, SE 5.2e-5.
    CHECK(std::abs(double(beyond2) / n - 0.04550) < 1.05e-3);
    CHECK(std::abs(double(beyond3) / n - 0.00270) < 2.6e-4);
    // Neighbours, the two pairs of a block, Box-Muller partners (cos and sin share r) and whole batches are
    // uncorrelated: SE of a correlation is 1/sqrt(n) = 1e-3.
    for (size_t lag : {size_t(1), kGaussianBatch / 4, kGaussianBatch / 2, kGaussianBatch})
        CHECK(std::abs(correlation(z.data(), z.data() + lag, n - lag)) < 5e-3);
}

TEST_CASE("Rademacher directions are exactly +-1, balanced in every bit position, as documented") {
    const DirectionKey key{99, direction_stream(3, 1)};
    const size_t n = 1 << 20;
    const std::vector<float> z = direction(0, n, key, Distribution::rademacher);
    CHECK(std::all_of(z.begin(), z.end(), [](float v) { return v == 1.0f || v == -1.0f; }));
    double sum = 0;
    for (float v : z) sum += v;
    CHECK(std::abs(sum / n) < 5.0 / std::sqrt(double(n)));  // mean of n fair signs: SE 1/sqrt(n)
    // Each of the 128 (word, bit) positions feeds n/128 = 8192 entries: SE of their mean 0.011, bound 5 SE.
    std::array<double, 128> row_sum{};
    for (size_t i = 0; i < n; ++i) row_sum[(i % kRademacherBatch) / kRademacherLanes] += z[i];
    for (double s : row_sum) CHECK(std::abs(s / (n / 128.0)) < 0.056);
    for (size_t i = 0; i < n; i += 997) REQUIRE(z[i] == reference_rademacher(key, i));
    const std::vector<float> far = direction(uint64_t(1) << 40, (uint64_t(1) << 40) + 4096, key,
                                             Distribution::rademacher);
    for (size_t k = 0; k < far.size(); ++k) REQUIRE(far[k] == reference_rademacher(key, (uint64_t(1) << 40) + k));
}

TEST_CASE("directions are bit-identical for 1, 2 and 3 threads") {
    ThreadCountGuard guard;
    const size_t begin = 12345, end = begin + 1000003;
    for (Distribution dist : {Distribution::gaussian, Distribution::rademacher}) {
        omp_set_num_threads(1);
        const std::vector<float> one = direction(begin, end, {5, 6}, dist);
        std::vector<float> params_one(end, 0.5f);
        add_scaled_direction(params_one.data(), begin, end, 1e-3f, {5, 6}, dist);
        for (int threads : {2, 3}) {
            omp_set_num_threads(threads);
            CHECK(same_bits(direction(begin, end, {5, 6}, dist), one));
            std::vector<float> params(end, 0.5f);
            add_scaled_direction(params.data(), begin, end, 1e-3f, {5, 6}, dist);
            CHECK(same_bits(params, params_one));
        }
    }
}

TEST_CASE("any chunking or single entry gives the same bits as the full range") {
    const size_t n = 300000;
    for (Distribution dist : {Distribution::gaussian, Distribution::rademacher}) {
        const DirectionKey key{11, direction_stream(2, 9)};
        const std::vector<float> full = direction(0, n, key, dist);
        std::vector<float> pieces(n);
        Lcg lcg{1};
        for (size_t begin = 0; begin < n;) {
            const size_t end = std::min(n, begin + 1 + lcg.next(5000));
            generate_direction_serial(pieces.data() + begin, begin, end, key, dist);
            begin = end;
        }
        CHECK(same_bits(pieces, full));
        for (int k = 0; k < 200; ++k) {
            const size_t i = lcg.next(n);
            float single;
            generate_direction(&single, i, i + 1, key, dist);
            REQUIRE(std::memcmp(&single, &full[i], sizeof(float)) == 0);
        }
    }
}

TEST_CASE("a subset's z equals those entries of the full z, numbered by subset offset") {
    const size_t n = 70000;
    // Unsorted, crossing chunk boundaries (4096), tiny, empty and chunk-aligned ranges.
    const std::vector<IndexRange> ranges = {{50000, 61000}, {3, 4}, {4090, 4100}, {7, 7},
                                            {8192, 12288}, {20000, 20001}, {30001, 45000}};
    const size_t size = subset_size(ranges);
    CHECK(size == 11000 + 1 + 10 + 4096 + 1 + 14999);
    for (Distribution dist : {Distribution::gaussian, Distribution::rademacher}) {
        const DirectionKey key{21, 22};
        const std::vector<float> full = direction(0, n, key, dist);
        std::vector<float> compact(size, NAN);
        std::vector<size_t> index(size, n);
        std::atomic<int> bad_pieces = 0;  // counted, not asserted: the callback runs on OpenMP threads
        for_each_direction_chunk(ranges, key, dist, [&](const float* z, size_t first, size_t count, size_t offset) {
            const bool one_chunk = count >= 1 && first / kDirectionChunk == (first + count - 1) / kDirectionChunk;
            if (!one_chunk || offset + count > size) {
                ++bad_pieces;
                return;
            }
            for (size_t k = 0; k < count; ++k) compact[offset + k] = z[k], index[offset + k] = first + k;
        });
        CHECK(bad_pieces.load() == 0);
        std::vector<float> gathered;
        std::vector<size_t> expected_index;
        for (const IndexRange& r : ranges)
            for (size_t i = r.begin; i < r.end; ++i) gathered.push_back(full[i]), expected_index.push_back(i);
        CHECK(same_bits(compact, gathered));
        CHECK(index == expected_index);
    }
}

TEST_CASE("different seeds or streams give unrelated directions") {
    const size_t n = 200000;
    for (Distribution dist : {Distribution::gaussian, Distribution::rademacher}) {
        const std::vector<float> base = direction(0, n, {1, direction_stream(5, 0)}, dist);
        const DirectionKey others[] = {{2, direction_stream(5, 0)},
                                       {1, direction_stream(5, 1)},
                                       {1, direction_stream(6, 0)},
                                       {uint64_t(1) << 32 | 1, direction_stream(5, 0)}};  // seed high word
        for (const DirectionKey& key : others) {
            const std::vector<float> other = direction(0, n, key, dist);
            size_t equal = 0;
            for (size_t k = 0; k < n; ++k) equal += other[k] == base[k];
            // Rademacher entries agree half the time; Gaussian ones essentially never.
            const double expected = dist == Distribution::rademacher ? 0.5 : 0.0;
            CHECK(std::abs(double(equal) / n - expected) < 0.01);
            CHECK(std::abs(correlation(base.data(), other.data(), n)) < 5.0 / std::sqrt(double(n)));
        }
    }
    CHECK(direction_stream(1, 0) != direction_stream(0, 1));
    CHECK(direction_stream(3, 5) == (uint64_t(3) << 20 | 5));
}

TEST_CASE("adding +s z then -s z restores the parameters to rounding") {
    const size_t n = 100000, begin = 777, end = 90001;
    std::vector<float> params(n);
    for (size_t i = 0; i < n; ++i) params[i] = 0.02f * std::sin(0.37f * float(i));
    const std::vector<float> original = params;
    const DirectionKey key{3, direction_stream(40, 2)};
    const float scale = 1e-3f;
    const std::vector<float> z = direction(0, n, key, Distribution::gaussian);
    add_scaled_direction(params.data(), begin, end, scale, key, Distribution::gaussian);
    double worst_step = 0;
    for (size_t i = 0; i < n; ++i) {
        const double expected = i >= begin && i < end ? double(original[i]) + scale * double(z[i]) : original[i];
        worst_step = std::max(worst_step, std::abs(params[i] - expected));
    }
    CHECK(worst_step <= 1e-8);  // one fp32 rounding of values below ~0.03 is at most 1.9e-9
    add_scaled_direction(params.data(), begin, end, -scale, key, Distribution::gaussian);
    double worst = 0;
    for (size_t i = 0; i < n; ++i) worst = std::max(worst, double(std::abs(params[i] - original[i])));
    CHECK(worst <= 1e-8);  // two roundings, each <= half an ulp of |theta| + |s z| < 0.03
    std::vector<float> zeros(n, 0.0f);
    add_scaled_direction(zeros.data(), 0, n, 1.0f, key, Distribution::gaussian);
    CHECK(zeros == z);  // 0 + 1 * z is exact (as a value: a z of -0 becomes +0)
}

TEST_CASE("perturbed copies, preconditioned and multi-key updates match naive loops over stored z") {
    const size_t n = 40000;
    const std::vector<IndexRange> ranges = {{100, 9000}, {20000, 20500}, {30000, 39999}};
    const size_t size = subset_size(ranges);
    std::vector<float> diag_h(size);
    for (size_t k = 0; k < size; ++k) diag_h[k] = 0.1f + float(k % 13);
    std::vector<float> theta(n);
    for (size_t i = 0; i < n; ++i) theta[i] = 1.0f + 1e-4f * float(i % 101);
    const DirectionKey key{8, 9}, key2{8, 10};
    const std::vector<float> z = direction(0, n, key, Distribution::gaussian);
    const std::vector<float> z2 = direction(0, n, key2, Distribution::gaussian);
    std::vector<float> preconditioned(n, 1.0f), multi(n, 1.0f);
    add_preconditioned_direction(preconditioned.data(), ranges, 0.25f, diag_h.data(), key, Distribution::gaussian);
    // Two points of [150, 39990) (cut across chunks and ranges), u = z/√H, θ itself read-only.
    const size_t lo = 150, hi = 39990;
    std::vector<float> plus(hi - lo), minus(hi - lo);
    float* copies[2] = {plus.data(), minus.data()};
    const float point_scales[2] = {0.25f, -0.5f};
    perturbed_copies(copies, point_scales, theta.data(), lo, hi, Perturbation{key, Distribution::gaussian, ranges,
                                                                              diag_h.data()});
    const DirectionKey keys[] = {key, key2};
    const float scales[] = {0.25f, -0.5f};
    add_scaled_directions(multi.data(), ranges, keys, scales, Distribution::gaussian);
    double worst = 0;
    size_t k = 0;
    for (const IndexRange& r : ranges) {
        for (size_t i = r.begin; i < r.end; ++i, ++k) {
            const double u = z[i] / std::sqrt(double(diag_h[k]));
            worst = std::max({worst, std::abs(preconditioned[i] - (1.0 + 0.25 * u)),
                              std::abs(multi[i] - (1.0 + 0.25 * z[i] - 0.5 * z2[i]))});
            if (i >= lo && i < hi)
                worst = std::max({worst, std::abs(plus[i - lo] - (theta[i] + 0.25 * u)),
                                  std::abs(minus[i - lo] - (theta[i] - 0.5 * u))});
        }
    }
    CHECK(worst < 4e-6);  // values up to ~10: a few fp32 roundings of 1e-6 each
    for (const size_t i : {size_t(9000), size_t(15000), size_t(19999), size_t(20500)}) {  // outside the subset: θ
        CHECK(plus[i - lo] == theta[i]);
        CHECK(minus[i - lo] == theta[i]);
    }
    CHECK(!touches(ranges, 9000, 20000));
    CHECK(touches(ranges, 8999, 9001));
    CHECK(preconditioned[n - 1] == 1.0f);
    CHECK(multi[15000] == 1.0f);
}

TEST_CASE("for_each_direction_chunk fuses a HiZOO-style step without a z buffer") {
    // H <- (1 - a) H + a c H z^2, then theta <- theta - lr g z / sqrt(H), over a subset, compared with the
    // same update written over a stored z.
    const size_t n = 30000;
    const std::vector<IndexRange> ranges = {{5000, 13000}, {20000, 29000}};
    const float alpha = 0.1f, curvature = 2.0f, lr = 0.01f, g = 0.3f;
    std::vector<float> theta(n, 0.5f), h(subset_size(ranges), 1.0f);
    const DirectionKey key{4, direction_stream(100, 0)};
    for_each_direction_chunk(ranges, key, Distribution::gaussian, [&](const float* z, size_t first, size_t count,
                                                                     size_t offset) {
        for (size_t k = 0; k < count; ++k) {
            float& hk = h[offset + k];
            hk = (1 - alpha) * hk + alpha * curvature * hk * z[k] * z[k];
            theta[first + k] -= lr * g * z[k] / std::sqrt(hk);
        }
    });
    const std::vector<float> z = direction(0, n, key, Distribution::gaussian);
    double worst = 0;
    size_t k = 0;
    for (const IndexRange& r : ranges) {
        for (size_t i = r.begin; i < r.end; ++i, ++k) {
            const double hk = (1 - alpha) + alpha * curvature * double(z[i]) * z[i];
            worst = std::max({worst, std::abs(h[k] - hk) / hk, std::abs(theta[i] - (0.5 - lr * g * z[i] / std::sqrt(hk)))});
        }
    }
    CHECK(worst < 1e-6);
    CHECK(theta[0] == 0.5f);
}

}  // TEST_SUITE
