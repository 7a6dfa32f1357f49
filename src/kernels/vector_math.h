// e^x and the logistic function in plain, branch-free float code that the compiler vectorizes inside the
// kernels' loops. glibc's expf/tanhf stay scalar calls without -ffast-math (which nograd does not use), and
// they were the larger part of the forward's non-matmul time: 12.9M exponentials in the d12 loss and 9.4M
// tanh in its GELUs per forward pass at B=4, T=64. libm is the naive twin the tests compare against.
#pragma once
#include <bit>
#include <cstdint>

namespace nograd {

// e^x to within 1e-7 relative (about 1 ulp; measured 7e-8 over the range) for x in [-87, 88]; exactly 0 below -87 (where e^x < 2^-125 is
// negligible against the 1s that softmax and GELU add it to), 1.65e38 (e^88) above 88, NaN for NaN.
// e^x = 2^k · e^r with k = round(x / ln 2), r = x − k·ln 2 in [−ln2/2, ln2/2] (ln 2 split in two parts,
// Cody–Waite, so k·ln2_hi is exact), and e^r by its Taylor series to r^7 (next term < 6e-9 relative).
// k is rounded by adding 1.5·2^23, which leaves it in the low mantissa bits: no float→int conversion.
inline float exp_approx(float x) {
    constexpr float kLog2e = 1.44269504f, kLn2Hi = 0.693145752f, kLn2Lo = 1.42860677e-06f;
    constexpr float kShift = 12582912.0f;  // 1.5 · 2^23
    const float low = x < -87.0f ? -87.0f : x;  // written so that NaN passes through both
    const float clamped = low > 88.0f ? 88.0f : low;
    const float shifted = clamped * kLog2e + kShift;
    const float k = shifted - kShift;
    const float r = (clamped - k * kLn2Hi) - k * kLn2Lo;
    const float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 +
                        r * (1.0f / 720 + r * (1.0f / 5040)))))));
    const uint32_t k_bits = std::bit_cast<uint32_t>(shifted) - std::bit_cast<uint32_t>(kShift);  // k mod 2^32
    const float two_to_k = std::bit_cast<float>((k_bits + 127u) << 23);
    return x < -87.0f ? 0.0f : p * two_to_k;
}

// 1 / (1 + e^−x), to within 2e-7 relative.
inline float sigmoid_approx(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

}  // namespace nograd
