// The bits behind nograd's random directions: a counter-based generator, i.e. a pure function of (key,
// counter), so any position of any stream is computed directly. It replaces Philox4x32-10 (Salmon et al.,
// SC 2011), whose 10 rounds of 32x32->64-bit products cost as much as the Box-Muller transform on top of
// them: 0.39 ns per normal on one Zen 4 core, where this one costs 0.07 ns (see direction.cpp).
//
// Construction. Per call, SplitMix64's finaliser (Steele, Lea & Flood 2014) turns (seed, stream, the block
// number's high word) into five 32-bit key words k0..k4 — a strong 64-bit mix, paid once per 32 blocks.
// Per block b (its low 32 bits), two layers of Chris Wellons' `triple32` integer hash (three multiply-
// xorshift rounds, the lowest avalanche bias his search found for 32 bits):
//   y = triple32(b ^ k0),   word_j = triple32(y ^ k_{j+1})  for j = 0..3.
// Each word is a bijection of b, so no counter repeats a word within a stream, and the second layer keeps
// the four words of a block from being the same function of b shifted (which one layer with a per-word
// key would be). The statistical tests in tests/test_rng.cpp (moments, tails, lag and cross-stream
// correlations, byte frequencies, bit balance) check what the optimizers rely on.
#pragma once
#include <array>
#include <cstdint>

namespace nograd {

// Wellons' triple32: bijective on 32-bit integers.
constexpr uint32_t triple32(uint32_t x) {
    x ^= x >> 17;
    x *= 0xED5AD4BBu;
    x ^= x >> 11;
    x *= 0xAC4C1B51u;
    x ^= x >> 15;
    x *= 0x31848BABu;
    x ^= x >> 14;
    return x;
}

// Wellons' lowbias32: two multiply-xorshift rounds, bijective; weaker alone (avalanche bias 0.17 against
// triple32's 0.02) but here it only spreads an already hashed word over four outputs.
constexpr uint32_t lowbias32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    x ^= x >> 16;
    return x;
}

// SplitMix64's output function: a bijective 64-bit mix.
constexpr uint64_t splitmix64_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// The five key words of (seed, stream, high): high is the block number's top 32 bits (plus a tag bit that
// keeps Rademacher counters apart from Gaussian ones, see direction.h).
constexpr std::array<uint32_t, 5> counter_hash_key(uint64_t seed, uint64_t stream, uint32_t high) {
    constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;  // SplitMix64's increment
    const uint64_t a = splitmix64_mix(seed + kGolden);
    const uint64_t b = splitmix64_mix(a ^ (stream + 2 * kGolden));
    const uint64_t c = splitmix64_mix(b ^ (uint64_t(high) + 3 * kGolden));
    const uint64_t d = splitmix64_mix(c + kGolden);
    return {uint32_t(c), uint32_t(c >> 32), uint32_t(d), uint32_t(d >> 32), uint32_t(a ^ b)};
}

// The four 32-bit words of block `low` under `key`.
constexpr std::array<uint32_t, 4> counter_hash_block(uint32_t low, const std::array<uint32_t, 5>& key) {
    const uint32_t y = triple32(low ^ key[0]);
    return {lowbias32(y ^ key[1]), lowbias32(y ^ key[2]), lowbias32(y ^ key[3]), lowbias32(y ^ key[4])};
}

}  // namespace nograd
