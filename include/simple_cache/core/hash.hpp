// Key hashing for the core tables: a fast 32-bit hash of a byte string whose high bits are
// well mixed (the tables take their partition and bucket numbers from the top bits).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace simple_cache::core {

// Scrambles a 64-bit word so that every input bit affects every output bit.
inline uint64_t avalanche64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

// Rotates a 64-bit word left by r bits (0 < r < 64).
inline uint64_t rotate_left64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

// Hashes n bytes: eight bytes per step folded into a 64-bit state, then avalanched. Returns the
// high half, which carries the best-mixed bits. A secret seed keeps users from choosing keys
// that crowd one partition.
inline uint32_t hash_bytes(const void *data, size_t n, uint64_t seed = 0)
{
    constexpr uint64_t k1 = 0x9e3779b97f4a7c15ULL;
    constexpr uint64_t k2 = 0xbf58476d1ce4e5b9ULL;
    const auto *p = static_cast<const unsigned char *>(data);
    uint64_t state = k1 ^ (static_cast<uint64_t>(n) * k2) ^ avalanche64(seed);

    while (n >= 8) {
        uint64_t word;
        std::memcpy(&word, p, 8);
        state = rotate_left64(state ^ (word * k2), 29) * k1;
        p += 8;
        n -= 8;
    }
    if (n > 0) {
        uint64_t word = 0;
        std::memcpy(&word, p, n);
        state = rotate_left64(state ^ (word * k2), 29) * k1;
    }
    return static_cast<uint32_t>(avalanche64(state) >> 32);
}

}  // namespace simple_cache::core
