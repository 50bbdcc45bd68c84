-- 25_at_commit_failure: a failure while COMMIT prepares the writes at commit (here an injected
-- ERROR in the shared-memory allocation of a put's entry, through simple_cache.debug_fail_after)
-- happens before the commit record: the whole transaction rolls back, table changes included,
-- the cache is as it was (no write of the transaction applied, no partition lock held, no
-- shared memory leaked), and the next transaction works normally. Keys start with 'f25:'.
\pset null '<NULL>'

-- Bytes in use minus the bucket arrays (see 01_basic).
CREATE FUNCTION pg_temp.payload() RETURNS bigint
LANGUAGE sql AS $$
    SELECT substring(a from 'in use: (\d+) bytes')::bigint
           - 8 * substring(h from 'buckets: (\d+)')::bigint
           - 8 * coalesce(substring(h from 'resize: in progress from (\d+) buckets')::bigint, 0)
    FROM (SELECT simple_cache_dump_area() AS a, simple_cache_dump_hash_table() AS h) d
$$;
CREATE FUNCTION pg_temp.locks_held() RETURNS int
LANGUAGE sql AS $$
    SELECT substring(simple_cache_dump_hash_table() from 'partition locks held by this backend: (\d+)')::int
$$;

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'f25:'); END $$;
CREATE TABLE f25 (id int);
SELECT simple_cache_put('f25:old', 'stays') AS existed;
SELECT pg_temp.payload() AS payload_before \gset

BEGIN;
INSERT INTO f25 VALUES (1);
SELECT simple_cache_invalidate('f25:old');
SELECT simple_cache_put_at_commit('f25:new', 'never stored');
SELECT simple_cache_put_at_commit('f25:new2', repeat('x', 100000));
SET LOCAL simple_cache.debug_fail_after = 1;
COMMIT;

SELECT count(*) AS rows_committed FROM f25;
SELECT simple_cache_get('f25:old') AS old, simple_cache_get('f25:new') AS new,
       simple_cache_get('f25:new2') IS NULL AS new2_absent;
SELECT pg_temp.locks_held() AS locks_held, pg_temp.payload() = :payload_before AS no_leak;
SELECT count(*) AS pending_contexts FROM pg_backend_memory_contexts WHERE name = 'simple_cache pending writes';

-- The next transaction's writes at commit apply as usual.
BEGIN;
INSERT INTO f25 VALUES (2);
SELECT simple_cache_invalidate('f25:old');
SELECT simple_cache_put_at_commit('f25:new', 'stored');
COMMIT;
SELECT count(*) AS rows_committed FROM f25;
SELECT simple_cache_get('f25:old') AS old, simple_cache_get('f25:new') AS new;

DROP TABLE f25;
DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'f25:'); END $$;
