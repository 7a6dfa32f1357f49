// Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror & Shaw, "Parallel random numbers:
// as easy as 1, 2, 3" (SC 2011): output = a keyed bijection of a 128-bit counter, so any stream position
// is computed directly. This is the scalar reference; direction.cpp runs the same rounds on 16 lanes.
#pragma once
#include <array>
#include <cstdint>

namespace nograd {

// Round multipliers and the Weyl constants that advance the key between rounds (the paper's Table 2).
inline constexpr uint32_t kPhiloxMul0 = 0xD2511F53u;
inline constexpr uint32_t kPhiloxMul1 = 0xCD9E8D57u;
inline constexpr uint32_t kPhiloxWeyl0 = 0x9E3779B9u;  // golden ratio
inline constexpr uint32_t kPhiloxWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1
inline constexpr int kPhiloxRounds = 10;

// One round: two 32x32 -> 64-bit products; each high half is xored with an untouched word and a key word,
// and the words are permuted so every word passes through a multiplier every other round.
constexpr std::array<uint32_t, 4> philox_round(std::array<uint32_t, 4> x, std::array<uint32_t, 2> key) {
    const uint64_t product0 = uint64_t(kPhiloxMul0) * x[0];
    const uint64_t product1 = uint64_t(kPhiloxMul1) * x[2];
    return {uint32_t(product1 >> 32) ^ x[1] ^ key[0], uint32_t(product1),
            uint32_t(product0 >> 32) ^ x[3] ^ key[1], uint32_t(product0)};
}

// Ten rounds; the key is bumped by the Weyl constants before every round but the first.
constexpr std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key) {
    for (int round = 0; round < kPhiloxRounds; ++round) {
        if (round > 0) {
            key[0] += kPhiloxWeyl0;
            key[1] += kPhiloxWeyl1;
        }
        counter = philox_round(counter, key);
    }
    return counter;
}

}  // namespace nograd
