-- simple_cache_bench 1.0: benchmark helpers, never part of a production install.
\echo Use "CREATE EXTENSION simple_cache_bench" to load this file. \quit

-- Runs n inserts (growing from empty), n hits, n misses and n deletes on a fresh table of the
-- given implementation ('dht', 'dshash' or 'dynahash') with 16-byte keys and 32-byte payloads,
-- timing every operation. The 'timer' row is the per-measurement clock overhead, already
-- subtracted from the other rows. p50_ns is the median, which preemption by other processes
-- hardly moves (but which also leaves out a resize's rare slow operations).
CREATE FUNCTION simple_cache_bench_hash(impl text, n bigint)
RETURNS TABLE(op text, ops bigint, ns_per_op float8, p99_ns float8, max_ns float8, p50_ns float8)
AS 'MODULE_PATHNAME', 'simple_cache_bench_hash'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

-- Memory of the last simple_cache_bench_hash(impl, ...) run in this session, taken when the
-- table held all n entries: the area's total segment size, the pages its superblocks and large
-- spans occupy, and (dht only) the bytes the table asked for. dynahash: its memory context.
CREATE FUNCTION simple_cache_bench_memory(impl text,
    OUT entries bigint, OUT payload_bytes bigint, OUT segment_bytes bigint,
    OUT span_bytes bigint, OUT requested_bytes bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'simple_cache_bench_memory'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

-- Insert latency of the last run in this session, per 1% of n: mean and max per slice.
CREATE FUNCTION simple_cache_bench_insert_profile(impl text)
RETURNS TABLE(pct int, entries bigint, mean_ns float8, max_ns float8)
AS 'MODULE_PATHNAME', 'simple_cache_bench_insert_profile'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
