-- 21_at_commit: writes that take effect when the transaction commits (simple_cache_put_at_commit,
-- simple_cache_invalidate, simple_cache_invalidate_prefix). Within one session: what the writer
-- reads before the commit, what the commit applies and in which order, what a rollback (of the
-- transaction, of a savepoint, of a failed statement) discards, and every error. What other
-- sessions see before the commit is tested in test/isolation/specs/at_commit.spec.
-- Keys start with 'c21:'.
\pset null '<NULL>'
DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'c21:'); END $$;

-- A put at commit: the writer sees it at once (read-your-writes), the cache only at commit.
BEGIN;
SELECT simple_cache_put_at_commit('c21:a', 'one');
SELECT simple_cache_get('c21:a') AS own_read,
       (SELECT count(*) FROM simple_cache_list() WHERE key = 'c21:a') AS in_cache;
COMMIT;
SELECT simple_cache_get('c21:a') AS after_commit,
       (SELECT count(*) FROM simple_cache_list() WHERE key = 'c21:a') AS in_cache;

-- Rollback discards the pending writes, puts and drops alike.
BEGIN;
SELECT simple_cache_put_at_commit('c21:a', 'two');
SELECT simple_cache_invalidate('c21:a');
SELECT simple_cache_put_at_commit('c21:b', 'new');
SELECT simple_cache_get('c21:a') AS own_read_a, simple_cache_get('c21:b') AS own_read_b;
ROLLBACK;
SELECT simple_cache_get('c21:a') AS a, simple_cache_get('c21:b') AS b;

-- An invalidation: the writer reads NULL at once; the key goes at commit.
BEGIN;
SELECT simple_cache_invalidate('c21:a');
SELECT simple_cache_get('c21:a') AS own_read,
       (SELECT count(*) FROM simple_cache_list() WHERE key = 'c21:a') AS in_cache;
COMMIT;
SELECT simple_cache_get('c21:a') AS after_commit;

-- Order: the last write of a key decides; each is applied in the order it was made.
SELECT simple_cache_put('c21:order', 'old') AS existed;
BEGIN;
SELECT simple_cache_put_at_commit('c21:order', 'v1');
SELECT simple_cache_invalidate('c21:order');
SELECT simple_cache_put_at_commit('c21:order', 'v2');
SELECT simple_cache_put_at_commit('c21:gone', 'x');
SELECT simple_cache_invalidate('c21:gone');
SELECT simple_cache_get('c21:order') AS own_order, simple_cache_get('c21:gone') AS own_gone;
COMMIT;
SELECT simple_cache_get('c21:order') AS order_value, simple_cache_get('c21:gone') AS gone;

-- Savepoints: rolling back to one discards the writes made after it, and only those; a
-- released savepoint's writes stay with the transaction.
BEGIN;
SELECT simple_cache_put_at_commit('c21:s1', 'before savepoint');
SAVEPOINT sp;
SELECT simple_cache_put_at_commit('c21:s1', 'after savepoint');
SELECT simple_cache_put_at_commit('c21:s2', 'after savepoint');
SELECT simple_cache_get('c21:s1') AS s1_in_savepoint;
ROLLBACK TO SAVEPOINT sp;
SELECT simple_cache_get('c21:s1') AS s1_after_rollback_to, simple_cache_get('c21:s2') AS s2_after_rollback_to;
SAVEPOINT sp2;
SELECT simple_cache_put_at_commit('c21:s3', 'released');
RELEASE SAVEPOINT sp2;
COMMIT;
SELECT simple_cache_get('c21:s1') AS s1, simple_cache_get('c21:s2') AS s2, simple_cache_get('c21:s3') AS s3;

-- A PL/pgSQL exception block is a subtransaction: its writes go with its error.
DO $$
BEGIN
    PERFORM simple_cache_put_at_commit('c21:block', 'kept');
    BEGIN
        PERFORM simple_cache_put_at_commit('c21:block', 'discarded');
        PERFORM simple_cache_put_at_commit('c21:block2', 'discarded');
        PERFORM 1 / 0;
    EXCEPTION WHEN division_by_zero THEN
        RAISE NOTICE 'inside: block=%, block2=%', simple_cache_get('c21:block'), simple_cache_get('c21:block2');
    END;
END $$;
SELECT simple_cache_get('c21:block') AS block, simple_cache_get('c21:block2') AS block2;

-- Outside a transaction block the statement's own transaction decides: applied when the
-- statement succeeds, discarded when it fails.
SELECT simple_cache_put_at_commit('c21:auto', 'applied');
SELECT simple_cache_get('c21:auto') AS auto_applied;
SELECT simple_cache_put_at_commit('c21:auto_failed', 'never'), 1 / 0;
SELECT simple_cache_get('c21:auto_failed') AS auto_failed;

-- A prefix invalidation: the writer's reads of keys under it are NULL unless written after it.
SELECT simple_cache_put('c21:p:1', '1') AS e1, simple_cache_put('c21:p:2', '2') AS e2,
       simple_cache_put('c21:q:1', 'q') AS e3;
BEGIN;
SELECT simple_cache_put_at_commit('c21:p:0', 'written before');
SELECT simple_cache_invalidate_prefix('c21:p:');
SELECT simple_cache_put_at_commit('c21:p:2', 'written after');
SELECT simple_cache_get('c21:p:0') AS p0, simple_cache_get('c21:p:1') AS p1,
       simple_cache_get('c21:p:2') AS p2, simple_cache_get('c21:q:1') AS q1;
SELECT count(*) AS p_keys_in_cache FROM simple_cache_list() WHERE starts_with(key, 'c21:p:');
COMMIT;
SELECT key, value FROM simple_cache_list() WHERE starts_with(key, 'c21:p:') OR key = 'c21:q:1' ORDER BY key;

-- mget reads the pending writes too.
BEGIN;
SELECT simple_cache_put_at_commit('c21:m1', 'pending');
SELECT simple_cache_invalidate('c21:q:1');
SELECT * FROM simple_cache_mget(ARRAY['c21:m1', 'c21:q:1', 'c21:p:2']);
ROLLBACK;

-- Time to live: counted from the commit; NULL means none; the default setting applies
-- without one.
BEGIN;
SELECT simple_cache_put_at_commit('c21:ttl', 'expires', interval '1 hour');
SELECT simple_cache_put_at_commit('c21:nottl', 'stays', NULL);
COMMIT;
SELECT simple_cache_ttl('c21:ttl') BETWEEN interval '59 minutes' AND interval '1 hour' AS ttl_set,
       simple_cache_ttl('c21:nottl') AS no_ttl;

-- bytea values, and reading one that is not text as text.
BEGIN;
SELECT simple_cache_put_at_commit('c21:bin', '\xff00'::bytea);
SELECT simple_cache_get_bytea('c21:bin') AS own_bytea;
SELECT simple_cache_get('c21:bin');
ROLLBACK;
SELECT simple_cache_put_at_commit('c21:bin', '\x6869'::bytea, interval '1 hour');
SELECT simple_cache_get_bytea('c21:bin') AS bytea_value, simple_cache_get('c21:bin') AS as_text;

-- The pending writes live in their own memory context, for the transaction only.
BEGIN;
SELECT simple_cache_put_at_commit('c21:ctx', 'x');
SELECT count(*) AS contexts FROM pg_backend_memory_contexts WHERE name = 'simple_cache pending writes';
COMMIT;
SELECT count(*) AS contexts_after FROM pg_backend_memory_contexts WHERE name = 'simple_cache pending writes';

-- Errors, each of which changes nothing.
SELECT simple_cache_put_at_commit(NULL, 'v');
SELECT simple_cache_put_at_commit('c21:err', NULL::text);
SELECT simple_cache_put_at_commit('c21:err', NULL::bytea, interval '1 hour');
SELECT simple_cache_invalidate(NULL);
SELECT simple_cache_invalidate_prefix(NULL);
SELECT simple_cache_put_at_commit('c21:err', 'v', interval '-1 second');
SELECT simple_cache_put_at_commit('c21:err', 'v', interval '0');
SELECT simple_cache_put_at_commit('c21:err', 'v', interval '10000 years');
SELECT simple_cache_put_at_commit(repeat('k', 1024 * 1024 + 1), 'v');
SELECT simple_cache_invalidate(repeat('k', 1024 * 1024 + 1));
SELECT simple_cache_invalidate_prefix(repeat('k', 1024 * 1024 + 1));
SELECT simple_cache_get('c21:err') AS err;

-- The memory limit on a transaction's pending writes: 54000, and the earlier writes stay.
SET simple_cache.max_pending_memory = '64kB';
BEGIN;
SELECT simple_cache_put_at_commit('c21:small', 'fits');
SAVEPOINT before_big;
SELECT simple_cache_put_at_commit('c21:big', repeat('x', 70000));
ROLLBACK TO SAVEPOINT before_big;
COMMIT;
SELECT simple_cache_get('c21:small') AS small, simple_cache_get('c21:big') AS big;
RESET simple_cache.max_pending_memory;

-- PREPARE TRANSACTION with pending writes is refused (and rolls the transaction back).
BEGIN;
SELECT simple_cache_put_at_commit('c21:prepared', 'x');
PREPARE TRANSACTION 'c21';
SELECT simple_cache_get('c21:prepared') AS prepared;

-- The immediate functions are unchanged inside a transaction: they act at once.
BEGIN;
SELECT simple_cache_put('c21:now', 'at once') AS existed;
ROLLBACK;
SELECT simple_cache_get('c21:now') AS survives_rollback;

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'c21:'); END $$;
