-- 44_incr_ttl_get_and_drop: two conveniences for rate limiters and queues.
-- simple_cache_incr(key, delta, ttl) gives a key it creates a time to live and leaves the expiry
-- of an existing key alone; simple_cache_get_and_drop(key) removes a key and returns its value in
-- one step (under the key's exclusive lock, so of concurrent takers one gets the value). Errors
-- change nothing.
-- Keys start with 'r21:'.
\pset null '<NULL>'

CREATE FUNCTION pg_temp.sqlstate_of(command text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE command;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

-- A digest of this file's entries and whether each has a ttl, to show that errors change nothing.
CREATE FUNCTION pg_temp.digest() RETURNS text
LANGUAGE sql AS $$
    SELECT coalesce(string_agg(key || '=' || encode(simple_cache_get_bytea(key), 'hex') || '/' ||
                               (simple_cache_ttl(key) IS NOT NULL), ',' ORDER BY key COLLATE "C"), '')
    FROM simple_cache_list() WHERE starts_with(key, 'r21:')
$$;

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'r21:'); END $$;

-- ---------------------------------------------------------------------------------------------
-- incr with a ttl: the key it creates expires after ttl.
SELECT simple_cache_incr('r21:window', 1, '1 hour') AS first;
SELECT simple_cache_ttl('r21:window') BETWEEN '59 minutes' AND '1 hour' AS ttl_set;
-- Later increments keep the expiry the key was created with (a fixed window).
SELECT simple_cache_incr('r21:window', 1, '10 seconds') AS second,
       simple_cache_incr('r21:window', 5, '1 second') AS third;
SELECT simple_cache_ttl('r21:window') > '59 minutes' AS ttl_kept;
-- The two-argument form leaves it alone too.
SELECT simple_cache_incr('r21:window', 1) AS fourth, simple_cache_ttl('r21:window') > '59 minutes' AS ttl_kept;
-- An existing key without expiry gets none.
SELECT simple_cache_put('r21:plain', '10', NULL) AS existed;
SELECT simple_cache_incr('r21:plain', 1, '1 hour') AS incremented, simple_cache_ttl('r21:plain') AS ttl;
-- A NULL ttl creates a key without expiry.
SELECT simple_cache_incr('r21:no-ttl', 3, NULL) AS created, simple_cache_ttl('r21:no-ttl') AS ttl;
-- The two-argument form creates keys without expiry, whatever simple_cache.default_ttl says.
SET simple_cache.default_ttl = '1h';
SELECT simple_cache_incr('r21:default', 1) AS created, simple_cache_ttl('r21:default') AS ttl;
RESET simple_cache.default_ttl;
-- An expired key counts as absent: it is created again, with the new ttl.
SELECT simple_cache_put('r21:expired', '41', '1 millisecond') AS existed;
SELECT pg_sleep(0.05);
SELECT simple_cache_incr('r21:expired', 1, '1 hour') AS restarted,
       simple_cache_ttl('r21:expired') > '59 minutes' AS new_ttl;

-- Errors: NULL key or delta, zero, negative or too long ttl, a non-integer value; nothing changes.
SELECT simple_cache_put('r21:word', 'hello', NULL) AS existed;
SELECT pg_temp.digest() AS before \gset
SELECT command, pg_temp.sqlstate_of(command) AS sqlstate FROM (VALUES
    ($$SELECT simple_cache_incr(NULL, 1, '1 hour')$$),
    ($$SELECT simple_cache_incr('r21:new', NULL, '1 hour')$$),
    ($$SELECT simple_cache_incr('r21:new', 1, '0 seconds')$$),
    ($$SELECT simple_cache_incr('r21:new', 1, '-1 hour')$$),
    ($$SELECT simple_cache_incr('r21:window', 1, '0 seconds')$$),
    ($$SELECT simple_cache_incr('r21:new', 1, '300000 years')$$),
    ($$SELECT simple_cache_incr('r21:word', 1, '1 hour')$$),
    ($$SELECT simple_cache_incr(repeat('k', 1048577), 1, '1 hour')$$)
) AS t(command);
SELECT pg_temp.digest() = :'before' AS unchanged;

-- ---------------------------------------------------------------------------------------------
-- get_and_drop: returns the value and removes the key.
SELECT simple_cache_put('r21:job', 'payload', NULL) AS existed;
SELECT simple_cache_stats_reset();
SELECT simple_cache_get_and_drop('r21:job') AS taken;
SELECT simple_cache_get('r21:job') AS gone, simple_cache_get_and_drop('r21:job') AS taken_again;
-- It counts as a hit and a drop; the miss as a miss.
SELECT hits, misses, drops FROM simple_cache_stats;
-- An expired key gives NULL (and is reclaimed).
SELECT simple_cache_put('r21:stale', 'old', '1 millisecond') AS existed;
SELECT pg_sleep(0.05);
SELECT simple_cache_get_and_drop('r21:stale') AS expired_value;
SELECT count(*) AS left_over FROM simple_cache_list() WHERE key = 'r21:stale';
-- Empty values and bytea values.
SELECT simple_cache_put('r21:empty', '') AS existed;
SELECT simple_cache_get_and_drop('r21:empty') = '' AS empty_value;
SELECT simple_cache_put('r21:bytes', '\x00ff'::bytea) AS existed;
SELECT simple_cache_get_and_drop_bytea('r21:bytes') AS taken_bytes;
-- A text value taken as bytea.
SELECT simple_cache_put('r21:text', 'abc') AS existed;
SELECT simple_cache_get_and_drop_bytea('r21:text') AS taken_bytes;
-- A bytea value that is not valid text: taking it as text fails and leaves it stored.
SELECT simple_cache_put('r21:binary', '\xff00'::bytea) AS existed;
SELECT pg_temp.sqlstate_of($$SELECT simple_cache_get_and_drop('r21:binary')$$) AS sqlstate;
SELECT simple_cache_get_bytea('r21:binary') AS still_there;
SELECT simple_cache_get_and_drop_bytea('r21:binary') AS taken_bytes;
-- NULL key: STRICT, NULL result; an overlong key is refused.
SELECT simple_cache_get_and_drop(NULL) AS null_key, simple_cache_get_and_drop_bytea(NULL) AS null_key_bytea;
SELECT pg_temp.sqlstate_of($$SELECT simple_cache_get_and_drop(repeat('k', 1048577))$$) AS sqlstate;
-- Keys are compared exactly: a key that merely looks alike is not taken.
SELECT simple_cache_put('r21:Job', 'upper') AS existed;
SELECT simple_cache_get_and_drop('r21:job') AS other_key, simple_cache_get_and_drop('r21:Job') AS taken;

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'r21:'); END $$;
