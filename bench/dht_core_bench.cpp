// Core DHT timings on the heap policy, one thread: ns per insert (growing from empty to n),
// per find hit, per find miss and per erase, and the slowest single insert while growing.
// Usage: dht_core_bench [n]   (default 1000000). Context figures only; the comparisons with
// dshash and the server-side runs live in the benchmark suite.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "simple_cache/core/dht.hpp"
#include "simple_cache/core/heap_policy.hpp"

using namespace simple_cache::core;

namespace {

// A 32-byte payload, as in the benchmark suite's hash-table comparison.
struct Payload {
    char bytes[32];
    size_t tail_size() const { return 0; }
};

using Table = Dht<HeapPolicy, Payload>;
using Clock = std::chrono::steady_clock;

// Writes the 16-byte key for i.
void make_key(uint64_t i, char (&key)[16])
{
    std::memcpy(key, &i, 8);
    uint64_t salt = i * 0x9e3779b97f4a7c15ULL;
    std::memcpy(key + 8, &salt, 8);
}

// Nanoseconds between two time points.
double ns_between(Clock::time_point a, Clock::time_point b)
{
    return std::chrono::duration<double, std::nano>(b - a).count();
}

}  // namespace

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
    HeapPolicy policy;
    Table table(policy, Table::create(policy));
    char key[16];
    std::vector<double> insert_ns;
    insert_ns.reserve(n);

    Clock::time_point start = Clock::now();
    for (uint64_t i = 0; i < n; ++i) {
        make_key(i, key);
        Clock::time_point t0 = Clock::now();
        InsertStatus status;
        Table::Ref ref = table.find_or_insert(KeyView{key, 16}, 0, [](Payload &, char *) {}, &status);
        ref.release();
        insert_ns.push_back(ns_between(t0, Clock::now()));
    }
    Clock::time_point inserted = Clock::now();
    uint64_t hits = 0;
    for (uint64_t i = 0; i < n; ++i) {
        make_key(i, key);
        hits += table.find(KeyView{key, 16}, LockMode::shared) ? 1 : 0;
    }
    Clock::time_point found = Clock::now();
    for (uint64_t i = n; i < 2 * n; ++i) {
        make_key(i, key);
        hits += table.find(KeyView{key, 16}, LockMode::shared) ? 1 : 0;
    }
    Clock::time_point missed = Clock::now();
    for (uint64_t i = 0; i < n; ++i) {
        make_key(i, key);
        table.erase(KeyView{key, 16});
    }
    Clock::time_point erased = Clock::now();

    std::vector<double> sorted = insert_ns;
    std::sort(sorted.begin(), sorted.end());
    DhtStats stats = table.stats();
    std::printf("n=%llu hits=%llu grows=%llu shrinks=%llu final_buckets=%llu\n",
                static_cast<unsigned long long>(n), static_cast<unsigned long long>(hits),
                static_cast<unsigned long long>(stats.grows), static_cast<unsigned long long>(stats.shrinks),
                static_cast<unsigned long long>(1ULL << stats.size_log2));
    std::printf("insert    %8.1f ns/op (timed per op: p99 %.0f ns, max %.0f ns)\n",
                ns_between(start, inserted) / n, sorted[sorted.size() * 99 / 100], sorted.back());
    std::printf("find_hit  %8.1f ns/op\n", ns_between(inserted, found) / n);
    std::printf("find_miss %8.1f ns/op\n", ns_between(found, missed) / n);
    std::printf("erase     %8.1f ns/op\n", ns_between(missed, erased) / n);
    table.destroy();
    return policy.live_blocks() == 0 ? 0 : 1;
}
