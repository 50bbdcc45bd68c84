// Hash tables inside one backend, for the benchmark suite: the project's DHT over the real DSA +
// LWLock policy, PostgreSQL's dshash on a DSA area, and dynahash (backend-local, no locks, a
// lower bound). All three get the same 16-byte keys, 32-byte payloads and hash function, and
// every single operation is timed with the TSC, so that the tail (p99, max) is visible too.
//
//   simple_cache_bench_hash(impl, n)         insert n keys into an empty table, then n hits,
//                                            n misses and n deletes (lookups in shuffled order)
//   simple_cache_bench_memory(impl)          the area's size when the last run held n entries
//   simple_cache_bench_insert_profile(impl)  the last run's insert latency per 1% of n
//
// Timing: lfence; rdtsc; lfence around each operation, converted to ns with a calibration
// against CLOCK_MONOTONIC. The cost of one measurement (two back-to-back reads) is measured in
// the same call, subtracted from every sample, and reported as the row 'timer'. Inserts run
// three times into fresh tables and each insert counts with its fastest time ('insert'; the
// first repetition unfiltered is 'insert_raw'), which filters out preemption by other
// processes on a busy machine.

// Standard and compiler headers first: PostgreSQL's port.h redefines printf and friends.
#include <x86intrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <type_traits>
#include <utility>

#include "simple_cache/core/dht.hpp"
#include "simple_cache/pg/dsa_policy.hpp"
#include "simple_cache/pg/error.hpp"

extern "C" {
#include "lib/dshash.h"
#include "utils/hsearch.h"

PG_MODULE_MAGIC;

// The module is built with hidden symbols (see Makefile); these are its SQL entry points.
PGDLLEXPORT Datum simple_cache_bench_hash(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum simple_cache_bench_memory(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum simple_cache_bench_insert_profile(PG_FUNCTION_ARGS);
}

namespace sc = simple_cache;

namespace {

// ---------------------------------------------------------------------------------------------
// Keys, payloads and the shared hash function.

struct Key {
    uint64_t a;
    uint64_t b;
};
static_assert(sizeof(Key) == 16, "16-byte keys");

// The DHT's fixed entry: the 32-byte payload, no variable tail.
struct Payload {
    uint64_t words[4];
    size_t tail_size() const { return 0; }
};
static_assert(sizeof(Payload) == 32, "32-byte payloads");

using BenchTable = sc::core::Dht<sc::pg::DsaPolicy, Payload>;

constexpr size_t kKeyBytes = sizeof(Key);
constexpr size_t kEntryBytes = sizeof(Key) + sizeof(Payload);  // dshash / dynahash entries

// The i-th key: distinct for every i, hashed to random places by the table's hash.
inline Key key_of(uint64_t i)
{
    return Key{i, i * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL};
}

inline Payload payload_of(uint64_t i)
{
    return Payload{{i, ~i, i << 1, i >> 1}};
}

// The DHT's own hash, used by all three tables so that only the table structure differs.
inline uint32_t bench_hash(const void *key, size_t size)
{
    return BenchTable::hash_of(sc::core::KeyView{key, static_cast<uint32_t>(size)});
}

// ---------------------------------------------------------------------------------------------
// The clock.

inline uint64_t ticks()
{
    _mm_lfence();
    uint64_t t = __rdtsc();
    _mm_lfence();
    return t;
}

double ns_per_tick = 0.0;

// Calibrates the TSC against CLOCK_MONOTONIC over 50 ms (once per backend).
void calibrate()
{
    if (ns_per_tick > 0.0)
        return;
    timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    uint64_t t0 = ticks();
    double elapsed;
    do {
        clock_gettime(CLOCK_MONOTONIC, &b);
        elapsed = double(b.tv_sec - a.tv_sec) * 1e9 + double(b.tv_nsec - a.tv_nsec);
    } while (elapsed < 50e6);
    uint64_t t1 = ticks();
    ns_per_tick = elapsed / double(t1 - t0);
}

struct OpStats {
    const char *op;
    uint64_t ops;
    double ns_per_op;
    double p99_ns;
    double max_ns;
    double p50_ns;  // the median: robust against preemption by other processes
};

constexpr int kTimerSamples = 1 << 16;
uint64_t timer_samples[kTimerSamples];

// The cost of one measurement: median, p99 and max of back-to-back clock reads, in ticks for
// the median (returned) and in ns in *stats.
uint64_t measure_timer(OpStats *stats)
{
    for (int i = 0; i < kTimerSamples; ++i) {
        uint64_t t0 = ticks();
        timer_samples[i] = ticks() - t0;
    }
    std::sort(timer_samples, timer_samples + kTimerSamples);
    uint64_t median = timer_samples[kTimerSamples / 2];
    *stats = OpStats{"timer", uint64_t(kTimerSamples), double(median) * ns_per_tick,
                     double(timer_samples[kTimerSamples * 99 / 100]) * ns_per_tick,
                     double(timer_samples[kTimerSamples - 1]) * ns_per_tick, double(median) * ns_per_tick};
    return median;
}

// ---------------------------------------------------------------------------------------------
// Results kept per implementation for the session (memory and insert profile of the last run).

enum Impl { kDht, kDshash, kDynahash, kImplCount };
const char *const kImplNames[kImplCount] = {"dht", "dshash", "dynahash"};

struct MemoryStats {
    bool valid;
    int64_t entries;
    int64_t payload_bytes;
    int64_t segment_bytes;    // DSA: total_segment_size; dynahash: its context's allocations
    int64_t span_bytes;       // DSA: pages held by superblocks and large spans (-1: n/a)
    int64_t requested_bytes;  // DHT: bytes asked of the policy (-1: n/a)
};

constexpr int kSlices = 100;

struct InsertProfile {
    bool valid;
    int64_t entries[kSlices];  // table size at the end of the slice
    double mean_ns[kSlices];
    double max_ns[kSlices];
};

MemoryStats last_memory[kImplCount];
InsertProfile last_profile[kImplCount];

// Reads the numbers a DSA report gives: total_segment_size and the pages of every span.
void parse_area_dump(const std::string &dump, MemoryStats *m)
{
    static const char kTotal[] = " total_segment_size: ";  // not max_total_segment_size
    static const char kPages[] = ", pages = ";              // span lines only
    const char *total = std::strstr(dump.c_str(), kTotal);
    m->segment_bytes = total ? std::strtoll(total + std::strlen(kTotal), nullptr, 10) : -1;
    int64_t pages = 0;
    for (const char *at = std::strstr(dump.c_str(), kPages); at != nullptr; at = std::strstr(at + 1, kPages))
        pages += std::strtoll(at + std::strlen(kPages), nullptr, 10);
    m->span_bytes = pages * 4096;  // FPM_PAGE_SIZE
}

// ---------------------------------------------------------------------------------------------
// The three tables behind one small interface.

// The project's DHT on a DSA area, through the same policy the cache uses.
struct DhtTable {
    BenchTable *table;
    sc::pg::DsaPolicy *policy;
    dsa_area *area;

    bool insert(const Key &k, const Payload &p)
    {
        sc::core::InsertStatus status;
        BenchTable::Ref ref = table->find_or_insert(sc::core::KeyView{&k, kKeyBytes}, 0,
                                                    [&](Payload &e, char *) { e = p; }, &status);
        if (status == sc::core::InsertStatus::out_of_memory)
            throw std::bad_alloc();
        return status == sc::core::InsertStatus::inserted;
    }
    bool find(const Key &k, Payload *out)
    {
        BenchTable::Ref ref = table->find(sc::core::KeyView{&k, kKeyBytes}, sc::core::LockMode::shared);
        if (!ref)
            return false;
        *out = ref.entry();
        return true;
    }
    bool erase(const Key &k) { return table->erase(sc::core::KeyView{&k, kKeyBytes}); }
    void memory(MemoryStats *m)
    {
        parse_area_dump(sc::pg::capture_area_dump(area), m);
        m->requested_bytes = policy->counters().total_bytes();
    }
};

uint32 dshash_bench_hash(const void *key, size_t size, void *)
{
    return bench_hash(key, size);
}

// Core PostgreSQL's dshash on a DSA area: entry = key, then payload.
struct DshashTable {
    dshash_table *table;
    dsa_area *area;

    bool insert(const Key &k, const Payload &p)
    {
        bool found;
        auto *e = static_cast<char *>(dshash_find_or_insert(table, &k, &found));
        std::memcpy(e + kKeyBytes, &p, sizeof p);
        dshash_release_lock(table, e);
        return !found;
    }
    bool find(const Key &k, Payload *out)
    {
        auto *e = static_cast<char *>(dshash_find(table, &k, false));
        if (e == nullptr)
            return false;
        std::memcpy(out, e + kKeyBytes, sizeof *out);
        dshash_release_lock(table, e);
        return true;
    }
    bool erase(const Key &k) { return dshash_delete_key(table, &k); }
    void memory(MemoryStats *m)
    {
        parse_area_dump(sc::pg::capture_area_dump(area), m);
        m->requested_bytes = -1;
    }
};

uint32 dynahash_bench_hash(const void *key, Size size)
{
    return bench_hash(key, size);
}

// Backend-local dynahash in its own memory context: no shared memory, no locks.
struct DynahashTable {
    HTAB *table;
    MemoryContext context;

    bool insert(const Key &k, const Payload &p)
    {
        bool found;
        auto *e = static_cast<char *>(hash_search(table, &k, HASH_ENTER, &found));
        std::memcpy(e + kKeyBytes, &p, sizeof p);
        return !found;
    }
    bool find(const Key &k, Payload *out)
    {
        auto *e = static_cast<char *>(hash_search(table, &k, HASH_FIND, nullptr));
        if (e == nullptr)
            return false;
        std::memcpy(out, e + kKeyBytes, sizeof *out);
        return true;
    }
    bool erase(const Key &k) { return hash_search(table, &k, HASH_REMOVE, nullptr) != nullptr; }
    void memory(MemoryStats *m)
    {
        m->segment_bytes = static_cast<int64_t>(MemoryContextMemAllocated(context, true));
        m->span_bytes = -1;
        m->requested_bytes = -1;
    }
};

// ---------------------------------------------------------------------------------------------
// The run.

// Inserts are timed kInsertRepeats times, each time into a fresh table; every insert's latency
// is the smallest of its repetitions. A preemption by another process (a 4 ms time slice on a
// busy machine) rarely hits the same insert in every repetition, while the table's own slow
// inserts (resizes) recur at the same table size, so the filtered maximum is the table's.
constexpr int kInsertRepeats = 3;

// What one run measures.
struct RunResult {
    OpStats timer;
    OpStats ops[5];  // insert (best of repetitions), find_hit, find_miss, delete, insert_raw
};

volatile uint64_t checksum_sink;

// Turns n per-operation tick counts into an OpStats (reorders the samples).
OpStats summarize(const char *op, uint64_t *samples, uint64_t n, uint64_t overhead)
{
    double sum = 0;
    uint64_t max = 0;
    for (uint64_t i = 0; i < n; ++i) {
        uint64_t t = samples[i] > overhead ? samples[i] - overhead : 0;
        samples[i] = t;
        sum += double(t);
        max = std::max(max, t);
    }
    uint64_t p50_index = n / 2;
    std::nth_element(samples, samples + p50_index, samples + n);
    double p50 = double(samples[p50_index]) * ns_per_tick;
    uint64_t p99_index = std::min(n - 1, n * 99 / 100);
    std::nth_element(samples, samples + p99_index, samples + n);
    return OpStats{op, n, sum / double(n) * ns_per_tick, double(samples[p99_index]) * ns_per_tick,
                   double(max) * ns_per_tick, p50};
}

// Records the insert latency per 1% of n (samples still in insertion order).
void profile_inserts(const uint64_t *samples, uint64_t n, uint64_t overhead, InsertProfile *profile)
{
    for (int s = 0; s < kSlices; ++s) {
        uint64_t begin = n * s / kSlices, end = n * (s + 1) / kSlices;
        double sum = 0;
        uint64_t max = 0;
        for (uint64_t i = begin; i < end; ++i) {
            uint64_t t = samples[i] > overhead ? samples[i] - overhead : 0;
            sum += double(t);
            max = std::max(max, t);
        }
        profile->entries[s] = int64_t(end);
        profile->mean_ns[s] = end > begin ? sum / double(end - begin) * ns_per_tick : 0.0;
        profile->max_ns[s] = double(max) * ns_per_tick;
    }
    profile->valid = true;
}

[[noreturn]] void wrong_count(const char *op, uint64_t got, uint64_t want)
{
    throw sc::pg::SqlError(ERRCODE_INTERNAL_ERROR,
                           std::string("simple_cache_bench: ") + op + " counted " + std::to_string(got) +
                               ", expected " + std::to_string(want));
}

// Inserts keys 0..n-1 into t, timing each insert into samples.
template <class Table>
void insert_phase(Table &t, uint64_t n, uint64_t *samples)
{
    uint64_t count = 0;
    for (uint64_t i = 0; i < n; ++i) {
        if ((i & 0xffff) == 0)
            sc::pg::check_for_interrupts();
        Key k = key_of(i);
        Payload p = payload_of(i);
        uint64_t t0 = ticks();
        count += t.insert(k, p);
        samples[i] = ticks() - t0;
    }
    if (count != n)
        wrong_count("insert", count, n);
}

// Runs every phase with fresh tables from run (create() / drop()). samples and best have room
// for n counts; perm is a permutation of 0..n-1 (the lookup and delete order).
template <class Run>
void run_phases(Run &run, Impl impl, uint64_t n, const uint32_t *perm, uint64_t *samples, uint64_t *best,
                uint64_t overhead, RunResult *result)
{
    for (int rep = 0; rep < kInsertRepeats; ++rep) {
        if (rep > 0)
            run.drop();
        insert_phase(run.create(), n, samples);
        if (rep == 0) {
            std::memcpy(best, samples, n * sizeof(uint64_t));
            result->ops[4] = summarize("insert_raw", samples, n, overhead);
        } else {
            for (uint64_t i = 0; i < n; ++i)
                best[i] = std::min(best[i], samples[i]);
        }
    }
    auto &t = run.table();
    profile_inserts(best, n, overhead, &last_profile[impl]);
    result->ops[0] = summarize("insert", best, n, overhead);

    MemoryStats &m = last_memory[impl];
    m.valid = false;
    t.memory(&m);
    m.entries = int64_t(n);
    m.payload_bytes = int64_t(n * kEntryBytes);
    m.valid = true;

    uint64_t check = 0;
    uint64_t count = 0;
    Payload out{};
    for (uint64_t j = 0; j < n; ++j) {
        if ((j & 0xffff) == 0)
            sc::pg::check_for_interrupts();
        Key k = key_of(perm[j]);
        uint64_t t0 = ticks();
        bool hit = t.find(k, &out);
        samples[j] = ticks() - t0;
        count += hit;
        check += out.words[0];
    }
    if (count != n)
        wrong_count("find_hit", count, n);
    result->ops[1] = summarize("find_hit", samples, n, overhead);

    count = 0;
    for (uint64_t j = 0; j < n; ++j) {
        if ((j & 0xffff) == 0)
            sc::pg::check_for_interrupts();
        Key k = key_of(n + perm[j]);
        uint64_t t0 = ticks();
        bool hit = t.find(k, &out);
        samples[j] = ticks() - t0;
        count += hit;
    }
    if (count != 0)
        wrong_count("find_miss", count, 0);
    result->ops[2] = summarize("find_miss", samples, n, overhead);

    count = 0;
    for (uint64_t j = 0; j < n; ++j) {
        if ((j & 0xffff) == 0)
            sc::pg::check_for_interrupts();
        Key k = key_of(perm[j]);
        uint64_t t0 = ticks();
        count += t.erase(k);
        samples[j] = ticks() - t0;
    }
    if (count != n)
        wrong_count("delete", count, n);
    result->ops[3] = summarize("delete", samples, n, overhead);
    checksum_sink = check;
    run.drop();
}

// This backend's tranche for the benchmark's areas and table locks, registered by name.
int bench_tranche()
{
    static int tranche = 0;
    if (tranche == 0) {
        tranche = sc::pg::guard([] { return LWLockNewTrancheId(); });
        sc::pg::guard([] { LWLockRegisterTranche(tranche, "simple_cache_bench"); });
    }
    return tranche;
}

sc::pg::AllocationCounters dht_counters;

// Fresh DHTs, each on a fresh DSA area. Dropping a table detaches (and so destroys) its area.
struct DhtRun {
    int tranche = 0;
    dsa_area *area = nullptr;
    alignas(sc::pg::DsaPolicy) unsigned char policy_room[sizeof(sc::pg::DsaPolicy)];
    alignas(BenchTable) unsigned char table_room[sizeof(BenchTable)];
    DhtTable t{};

    DhtTable &create()
    {
        area = sc::pg::guard([&] { return dsa_create(tranche); });
        dht_counters.counters.reset(sc::pg::AllocationCounters::kBytes);
        dht_counters.counters.reset(sc::pg::AllocationCounters::kBlocks);
        auto *policy = new (policy_room) sc::pg::DsaPolicy(area, &dht_counters, tranche);
        dsa_pointer header = BenchTable::create(*policy);
        if (!DsaPointerIsValid(header))
            throw std::bad_alloc();
        t = DhtTable{new (table_room) BenchTable(*policy, header), policy, area};
        return t;
    }
    DhtTable &table() { return t; }
    void drop()
    {
        dsa_area *a = std::exchange(area, nullptr);
        if (a != nullptr)
            sc::pg::guard([&] { dsa_detach(a); });
    }
};
static_assert(std::is_trivially_destructible_v<BenchTable>, "no destructor is skipped by an ERROR");

// Fresh dshash tables, each on a fresh DSA area.
struct DshashRun {
    int tranche = 0;
    dsa_area *area = nullptr;
    DshashTable t{};

    DshashTable &create()
    {
        area = sc::pg::guard([&] { return dsa_create(tranche); });
        dshash_table *table = sc::pg::guard([&] {
            dshash_parameters params;
            params.key_size = kKeyBytes;
            params.entry_size = kEntryBytes;
            params.compare_function = dshash_memcmp;
            params.hash_function = dshash_bench_hash;
            params.tranche_id = tranche;
            return dshash_create(area, &params, nullptr);
        });
        t = DshashTable{table, area};
        return t;
    }
    DshashTable &table() { return t; }
    void drop()
    {
        dsa_area *a = std::exchange(area, nullptr);
        if (a != nullptr)
            sc::pg::guard([&] {
                dshash_detach(t.table);
                dsa_detach(a);
            });
    }
};

// Fresh dynahash tables, each in its own memory context.
struct DynahashRun {
    MemoryContext context = nullptr;
    DynahashTable t{};

    DynahashTable &create()
    {
        context = sc::pg::guard([] {
            return AllocSetContextCreate(CurrentMemoryContext, "simple_cache_bench dynahash",
                                         ALLOCSET_DEFAULT_SIZES);
        });
        HTAB *htab = sc::pg::guard([&] {
            HASHCTL ctl;
            std::memset(&ctl, 0, sizeof ctl);
            ctl.keysize = kKeyBytes;
            ctl.entrysize = kEntryBytes;
            ctl.hash = dynahash_bench_hash;
            ctl.hcxt = context;
            return hash_create("simple_cache_bench", 256, &ctl, HASH_ELEM | HASH_FUNCTION | HASH_CONTEXT);
        });
        t = DynahashTable{htab, context};
        return t;
    }
    DynahashTable &table() { return t; }
    void drop()
    {
        MemoryContext c = std::exchange(context, nullptr);
        if (c != nullptr)
            sc::pg::guard([&] { MemoryContextDelete(c); });
    }
};

// One complete run of impl with n keys.
void run_impl(Impl impl, uint64_t n, const uint32_t *perm, uint64_t *samples, uint64_t *best, RunResult *result)
{
    calibrate();
    uint64_t overhead = measure_timer(&result->timer);
    last_profile[impl].valid = false;
    last_memory[impl].valid = false;
    switch (impl) {
    case kDht: {
        DhtRun run;
        run.tranche = bench_tranche();
        run_phases(run, impl, n, perm, samples, best, overhead, result);
        break;
    }
    case kDshash: {
        DshashRun run;
        run.tranche = bench_tranche();
        run_phases(run, impl, n, perm, samples, best, overhead, result);
        break;
    }
    default: {
        DynahashRun run;
        run_phases(run, impl, n, perm, samples, best, overhead, result);
        break;
    }
    }
}

// The implementation named by a text argument, or an error.
Impl impl_arg(FunctionCallInfo fcinfo, int arg)
{
    char *name = text_to_cstring(PG_GETARG_TEXT_PP(arg));
    for (int i = 0; i < kImplCount; ++i)
        if (std::strcmp(name, kImplNames[i]) == 0)
            return static_cast<Impl>(i);
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("simple_cache_bench: unknown implementation \"%s\"", name),
                    errhint("Use 'dht', 'dshash' or 'dynahash'.")));
    pg_unreachable();
}

// A permutation of 0..n-1 from a fixed seed (splitmix64 + Fisher-Yates).
void shuffle(uint32_t *perm, uint64_t n)
{
    uint64_t state = 0x853c49e6748fea9bULL;
    for (uint64_t i = 0; i < n; ++i)
        perm[i] = uint32_t(i);
    for (uint64_t i = n; i > 1; --i) {
        uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        std::swap(perm[i - 1], perm[z % i]);
    }
}

// Adds one result row.
void put_op_row(ReturnSetInfo *rsinfo, const OpStats &s)
{
    Datum values[6] = {PointerGetDatum(cstring_to_text(s.op)), Int64GetDatum(int64(s.ops)),
                       Float8GetDatum(s.ns_per_op), Float8GetDatum(s.p99_ns), Float8GetDatum(s.max_ns),
                       Float8GetDatum(s.p50_ns)};
    bool nulls[6] = {};
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

}  // namespace

// simple_cache_bench_hash(impl text, n bigint)
//   RETURNS TABLE(op text, ops bigint, ns_per_op float8, p99_ns float8, max_ns float8, p50_ns float8)
SIMPLE_CACHE_FUNCTION(simple_cache_bench_hash)
{
    Impl impl = impl_arg(fcinfo, 0);
    int64 n = PG_GETARG_INT64(1);
    if (n < 100 || n > (int64(1) << 31))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("simple_cache_bench_hash: n must be between 100 and 2^31")));
    auto *samples = static_cast<uint64_t *>(MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint64_t) * n));
    auto *best = static_cast<uint64_t *>(MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint64_t) * n));
    auto *perm = static_cast<uint32_t *>(MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint32_t) * n));
    shuffle(perm, uint64_t(n));
    RunResult result;
    run_impl(impl, uint64_t(n), perm, samples, best, &result);
    pfree(samples);
    pfree(best);
    pfree(perm);

    InitMaterializedSRF(fcinfo, 0);
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    for (const OpStats &s : result.ops)
        put_op_row(rsinfo, s);
    put_op_row(rsinfo, result.timer);
    return (Datum) 0;
}

// simple_cache_bench_memory(impl text, OUT entries, OUT payload_bytes, OUT segment_bytes,
//   OUT span_bytes, OUT requested_bytes) RETURNS record; NULL fields where not measured.
SIMPLE_CACHE_FUNCTION(simple_cache_bench_memory)
{
    Impl impl = impl_arg(fcinfo, 0);
    const MemoryStats &m = last_memory[impl];
    if (!m.valid)
        PG_RETURN_NULL();
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "simple_cache_bench_memory: return type must be a row type");
    Datum values[5] = {Int64GetDatum(m.entries), Int64GetDatum(m.payload_bytes),
                       Int64GetDatum(m.segment_bytes), Int64GetDatum(m.span_bytes),
                       Int64GetDatum(m.requested_bytes)};
    bool nulls[5] = {false, false, m.segment_bytes < 0, m.span_bytes < 0, m.requested_bytes < 0};
    return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
}

// simple_cache_bench_insert_profile(impl text)
//   RETURNS TABLE(pct int, entries bigint, mean_ns float8, max_ns float8)
SIMPLE_CACHE_FUNCTION(simple_cache_bench_insert_profile)
{
    Impl impl = impl_arg(fcinfo, 0);
    InitMaterializedSRF(fcinfo, 0);
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    const InsertProfile &p = last_profile[impl];
    for (int s = 0; p.valid && s < kSlices; ++s) {
        Datum values[4] = {Int32GetDatum(s + 1), Int64GetDatum(p.entries[s]), Float8GetDatum(p.mean_ns[s]),
                           Float8GetDatum(p.max_ns[s])};
        bool nulls[4] = {};
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    return (Datum) 0;
}
