// What the DHT unit tests share: test sizes scaled by SIMPLE_CACHE_TEST_SCALE, a self-checking
// entry whose value, checksum and tail bytes show any torn or zeroed item, keys built to have
// identical hashes, and a heap policy that counts the locks taken.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include "simple_cache/core/dht.hpp"
#include "simple_cache/core/hash.hpp"
#include "simple_cache/core/heap_policy.hpp"

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

// Keys with identical hashes. hash_bytes folds 8-byte words into a 64-bit state with invertible
// steps, so for any key A and any prefix P (a multiple of 8 bytes long) there is a word u such
// that P + u ends in the same state as A: the two keys then have the same hash. This builds
// such keys, including ones that extend A itself.
namespace collide {

constexpr uint64_t kK1 = 0x9e3779b97f4a7c15ULL;  // the constants of hash_bytes
constexpr uint64_t kK2 = 0xbf58476d1ce4e5b9ULL;

inline uint64_t inverse(uint64_t a)  // of an odd number, modulo 2^64
{
    uint64_t x = a;
    for (int i = 0; i < 6; ++i)
        x *= 2 - a * x;
    return x;
}

inline uint64_t rotl(uint64_t x, unsigned r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t rotr(uint64_t x, unsigned r) { return (x >> r) | (x << (64 - r)); }

// hash_bytes' state after the whole words of data, for a key of total length n.
inline uint64_t state_after(const std::string &data, size_t n)
{
    uint64_t state = kK1 ^ (static_cast<uint64_t>(n) * kK2);
    for (size_t off = 0; off + 8 <= data.size(); off += 8) {
        uint64_t word;
        std::memcpy(&word, data.data() + off, 8);
        state = rotl(state ^ (word * kK2), 29) * kK1;
    }
    if (data.size() % 8 != 0) {
        uint64_t word = 0;
        std::memcpy(&word, data.data() + data.size() / 8 * 8, data.size() % 8);
        state = rotl(state ^ (word * kK2), 29) * kK1;
    }
    return state;
}

// prefix (length a multiple of 8) + one more word, with the same hash as target.
inline std::string extend_to_collide(const std::string &prefix, const std::string &target)
{
    uint64_t want = state_after(target, target.size());
    uint64_t before = state_after(prefix, prefix.size() + 8);
    uint64_t u = (rotr(want * inverse(kK1), 29) ^ before) * inverse(kK2);
    std::string out = prefix;
    out.append(reinterpret_cast<const char *>(&u), 8);
    return out;
}

}  // namespace collide

// A HeapPolicy that counts the locks held and the shared acquisitions made, and can run a hook
// before each lock() (a single-threaded caller then holds none) to change the table between
// the steps of an operation.
class LockCountingPolicy : public simple_cache::core::HeapPolicy {
  public:
    using LockMode = simple_cache::core::LockMode;

    // Runs the hook (not from within itself), then takes the lock and counts it.
    void lock(Lock *lock, LockMode mode)
    {
        if (before_lock && !in_hook_) {
            in_hook_ = true;
            before_lock();
            in_hook_ = false;
        }
        HeapPolicy::lock(lock, mode);
        held_.fetch_add(1, std::memory_order_relaxed);
        if (mode == LockMode::shared)
            shared_taken_.fetch_add(1, std::memory_order_relaxed);
    }
    // Tries the lock exclusively and counts it when taken.
    bool try_lock_exclusive(Lock *lock)
    {
        bool ok = HeapPolicy::try_lock_exclusive(lock);
        if (ok)
            held_.fetch_add(1, std::memory_order_relaxed);
        return ok;
    }
    // Releases the lock and counts it.
    void unlock(Lock *lock, LockMode mode)
    {
        held_.fetch_sub(1, std::memory_order_relaxed);
        HeapPolicy::unlock(lock, mode);
    }
    int held() const { return held_.load(std::memory_order_relaxed); }
    int64_t shared_taken() const { return shared_taken_.load(std::memory_order_relaxed); }

    std::function<void()> before_lock;

  private:
    std::atomic<int> held_{0};
    std::atomic<int64_t> shared_taken_{0};
    bool in_hook_ = false;
};

}  // namespace dht_test
