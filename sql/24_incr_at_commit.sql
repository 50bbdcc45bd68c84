-- 24_incr_at_commit: simple_cache_incr_at_commit, an increment applied at commit. It returns
-- the value as the transaction sees it; the cache changes only at commit, where the increment
-- adds to whatever the counter holds then (other sessions' increments meanwhile included), or,
-- when the transaction put or invalidated the key first, to that state. Rollback, to the
-- transaction's start or to a savepoint, discards it. Keys start with 'n24:'.
\pset null '<NULL>'
DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'n24:'); END $$;

-- On an absent key: created with delta at commit.
BEGIN;
SELECT simple_cache_incr_at_commit('n24:new') AS seen, simple_cache_incr_at_commit('n24:new', 4) AS seen2;
SELECT simple_cache_get('n24:new') AS own_read,
       (SELECT count(*) FROM simple_cache_list_prefix('n24:new')) AS in_cache;
COMMIT;
SELECT simple_cache_get('n24:new') AS after_commit;

-- On a stored counter: others' increments before the commit are kept, the transaction's
-- added on top.
SELECT simple_cache_put('n24:c', '100') AS existed;
BEGIN;
SELECT simple_cache_incr_at_commit('n24:c', 10) AS seen;
SELECT simple_cache_incr('n24:c', 1) AS immediate_incr;  -- acts at once, as another session's
SELECT simple_cache_get('n24:c') AS own_read;
COMMIT;
SELECT simple_cache_get('n24:c') AS after_commit;

-- Rollback discards; a savepoint rolled back discards the increments after it.
BEGIN;
SELECT simple_cache_incr_at_commit('n24:c', 1000) AS seen;
ROLLBACK;
SELECT simple_cache_get('n24:c') AS after_rollback;
BEGIN;
SELECT simple_cache_incr_at_commit('n24:c', 1) AS seen;
SAVEPOINT sp;
SELECT simple_cache_incr_at_commit('n24:c', 1000) AS seen_in_savepoint;
ROLLBACK TO SAVEPOINT sp;
SELECT simple_cache_get('n24:c') AS own_read_after_rollback_to;
COMMIT;
SELECT simple_cache_get('n24:c') AS after_commit;

-- On a pending put: the increment applies to the put value (and keeps its time to live).
BEGIN;
SELECT simple_cache_put_at_commit('n24:p', '5', interval '1 hour');
SELECT simple_cache_incr_at_commit('n24:p', 2) AS seen;
COMMIT;
SELECT simple_cache_get('n24:p') AS after_commit,
       simple_cache_ttl('n24:p') BETWEEN interval '59 minutes' AND interval '1 hour' AS ttl_kept;

-- On a pending invalidation (of the key or its prefix): starts from nothing.
SELECT simple_cache_put('n24:d', '50') AS existed;
BEGIN;
SELECT simple_cache_invalidate('n24:d');
SELECT simple_cache_incr_at_commit('n24:d', 3) AS seen;
COMMIT;
SELECT simple_cache_get('n24:d') AS after_commit;
SELECT simple_cache_put('n24:d', '50') AS existed;
BEGIN;
SELECT simple_cache_incr_at_commit('n24:d', 1) AS before_prefix_drop;
SELECT simple_cache_invalidate_prefix('n24:d');
SELECT simple_cache_incr_at_commit('n24:d', 7) AS after_prefix_drop;
COMMIT;
SELECT simple_cache_get('n24:d') AS after_commit;

-- An invalidation after an increment wins.
BEGIN;
SELECT simple_cache_incr_at_commit('n24:c', 1) AS seen;
SELECT simple_cache_invalidate('n24:c');
SELECT simple_cache_get('n24:c') AS own_read;
COMMIT;
SELECT simple_cache_get('n24:c') AS after_commit;

-- Errors: each raised by the call, which queues nothing.
SELECT simple_cache_incr_at_commit(NULL);
SELECT simple_cache_incr_at_commit('n24:x', NULL);
SELECT simple_cache_put('n24:text', 'abc') AS existed, simple_cache_put('n24:bin', '\x01'::bytea) AS existed2,
       simple_cache_put('n24:max', '9223372036854775807') AS existed3;
SELECT simple_cache_incr_at_commit('n24:text');
SELECT simple_cache_incr_at_commit('n24:bin');
SELECT simple_cache_incr_at_commit('n24:max');
BEGIN;
SELECT simple_cache_put_at_commit('n24:pending_text', 'abc');
SAVEPOINT sp;
SELECT simple_cache_incr_at_commit('n24:pending_text');
ROLLBACK TO SAVEPOINT sp;
SELECT simple_cache_put_at_commit('n24:pending_bin', '\x01'::bytea);
SAVEPOINT sp2;
SELECT simple_cache_incr_at_commit('n24:pending_bin');
ROLLBACK TO SAVEPOINT sp2;
SELECT simple_cache_incr_at_commit('n24:sum', 9223372036854775807) AS big;
SAVEPOINT sp3;
SELECT simple_cache_incr_at_commit('n24:sum', 1);
ROLLBACK TO SAVEPOINT sp3;
COMMIT;
SELECT simple_cache_get('n24:pending_text') AS pending_text, simple_cache_get_bytea('n24:pending_bin') AS pending_bin,
       simple_cache_get('n24:sum') AS sum, simple_cache_get('n24:max') AS max, simple_cache_get('n24:x') AS x;
SELECT simple_cache_incr_at_commit(repeat('k', 1024 * 1024 + 1));

-- Checked again when COMMIT starts: a counter another session changed into something that
-- is not a number makes COMMIT fail (22P02), and the transaction rolls back.
SELECT simple_cache_put('n24:changed', '1') AS existed;
BEGIN;
SELECT simple_cache_incr_at_commit('n24:changed') AS seen;
SELECT simple_cache_put('n24:changed', 'not a number') AS existed;  -- as another session would
COMMIT;
SELECT simple_cache_get('n24:changed') AS changed;

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'n24:'); END $$;
