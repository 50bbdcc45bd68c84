// What the DHT unit tests share: test sizes scaled by SIMPLE_CACHE_TEST_SCALE, and a
// self-checking entry whose value, checksum and tail bytes show any torn or zeroed item.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "simple_cache/core/dht.hpp"
#include "simple_cache/core/hash.hpp"

namespace dht_test {

using simple_cache::core::KeyView;

// Sizes scale with SIMPLE_CACHE_TEST_SCALE (default 1) so the suites stay fast under sanitizers.
inline int64_t scaled(int64_t n)
{
    static const double scale = [] {
        const char *s = std::getenv("SIMPLE_CACHE_TEST_SCALE");
        double v = s != nullptr ? std::atof(s) : 1.0;
        return v > 0 ? v : 1.0;
    }();
    return std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(n) * scale));
}

// The entry stored in test tables: a value, a checksum of the value (so torn or zeroed entries
// are detected) and the tail size, which the table asks for when freeing an item.
struct TestEntry {
    uint64_t value;
    uint64_t check;
    uint32_t tail_bytes;
    uint32_t spare;
    size_t tail_size() const { return tail_bytes; }
};

// The checksum stored with a value (never 0, so a zeroed entry fails it).
inline uint64_t checksum(uint64_t value)
{
    return simple_cache::core::avalanche64(value ^ 0x5bd1e9955bd1e995ULL) | 1;
}

// Byte i of the tail that goes with value.
inline char tail_byte(uint64_t value, size_t i)
{
    return static_cast<char>(static_cast<uint8_t>(checksum(value) >> ((i & 7) * 8)) ^
                             static_cast<uint8_t>(i * 131));
}

// Fills an entry and its tail for value.
inline void fill(TestEntry &e, char *tail, uint64_t value, uint32_t tail_size)
{
    e.value = value;
    e.check = checksum(value);
    e.tail_bytes = tail_size;
    for (uint32_t i = 0; i < tail_size; ++i)
        tail[i] = tail_byte(value, i);
}

// Whether an entry and its tail are exactly as fill() left them.
inline bool intact(const TestEntry &e, const char *tail)
{
    if (e.check != checksum(e.value))
        return false;
    for (uint32_t i = 0; i < e.tail_bytes; ++i)
        if (tail[i] != tail_byte(e.value, i))
            return false;
    return true;
}

// A string as a table key.
inline KeyView kv(const std::string &s)
{
    return KeyView{s.data(), static_cast<uint32_t>(s.size())};
}

}  // namespace dht_test
