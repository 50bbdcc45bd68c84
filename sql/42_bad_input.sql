-- 42_bad_input: bad arguments to every cache function, table-driven. One table of
-- (call, expected outcome); a plpgsql loop runs each call in a subtransaction and records
-- 'ok' or the SQLSTATE it raised, with the message. For every call it also checks that
-- nothing changed: the digest of this file's entries (keys, values, whether they expire) and
-- the bytes in use (without the bucket arrays, which resizing moves) are the same before and
-- after, and no partition lock is held. The cases: NULL in every argument of every function
-- (STRICT functions just return NULL), empty keys, keys of 1 MB + 1 byte, values near 1 GB
-- and over the size limit, zero, negative, sub-millisecond and too long TTLs, zero and
-- negative size limits, non-integer and overflowing incr, wrong types, a damaged saved file.
-- The free-space map's functions have their own table in 43_bad_input_fsm.
-- Keys start with 'e42:'.
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

-- Every key this file's calls could touch (named, not found by listing, so that the checks
-- do not depend on how simple_cache_list() shows a bytea value that is no valid text).
CREATE FUNCTION pg_temp.keys() RETURNS SETOF text
LANGUAGE sql AS $$
    SELECT unnest(ARRAY['e42:text', 'e42:int', 'e42:max', 'e42:min', 'e42:huge', 'e42:word', 'e42:bytes',
                        'e42:ttl', 'e42:cas', 'e42:new', 'e42:absent', '', repeat('k', 1048576)])
$$;

-- This file's entries: key, value bytes and whether (and roughly how long) they live.
CREATE FUNCTION pg_temp.digest() RETURNS text
LANGUAGE sql AS $$
    SELECT md5(coalesce(string_agg(left(key, 20) || '=' || encode(simple_cache_get_bytea(key), 'hex') || '/' ||
                                   CASE WHEN simple_cache_ttl(key) IS NULL THEN 'forever'
                                        WHEN simple_cache_ttl(key) > interval '50 minutes' THEN 'about an hour'
                                        ELSE 'less' END,
                                   ',' ORDER BY key COLLATE "C"), ''))
    FROM pg_temp.keys() key WHERE simple_cache_get_bytea(key) IS NOT NULL
$$;

-- A known size limit (an earlier file may have left none in force), restored at the end.
SELECT coalesce(size_limit, 9223372036854775807) AS limit_before FROM simple_cache_stats \gset
SELECT simple_cache_set_size_limit(256 * 1024 * 1024);

SELECT count(*) >= 0 AS cleared FROM pg_temp.keys() key WHERE simple_cache_drop(key);
SELECT count(*) AS stored FROM (VALUES
    (simple_cache_put('e42:text', 'hello')),
    (simple_cache_put('e42:int', '41')),
    (simple_cache_put('e42:max', '9223372036854775807')),
    (simple_cache_put('e42:min', '-9223372036854775808')),
    (simple_cache_put('e42:huge', '99999999999999999999')),
    (simple_cache_put('e42:word', 'forty-one')),
    (simple_cache_put('e42:bytes', '\x00ff'::bytea)),
    (simple_cache_put('e42:ttl', 'lives an hour', interval '1 hour')),
    (simple_cache_put('e42:cas', 'v1'))) v(existed);

-- A saved file that is not one, for simple_cache_load() (a valid file is saved at the end).
DO $$
BEGIN
    EXECUTE format('COPY (SELECT %L) TO %L', 'not a saved cache',
                   current_setting('data_directory') || '/simple_cache.dat');
END
$$;

CREATE TEMP TABLE cases (n serial PRIMARY KEY, call text NOT NULL, expected text NOT NULL);
INSERT INTO cases (call, expected) VALUES
    -- NULL in every argument of put, add and replace (text and bytea, with and without ttl);
    -- a NULL ttl means "no expiry" and is no error.
    ($$SELECT simple_cache_put(NULL, 'v')$$, '22004'),
    ($$SELECT simple_cache_put('e42:text', NULL::text)$$, '22004'),
    ($$SELECT simple_cache_put(NULL, 'v', interval '1 hour')$$, '22004'),
    ($$SELECT simple_cache_put('e42:text', NULL::text, interval '1 hour')$$, '22004'),
    ($$SELECT simple_cache_put('e42:text', 'hello', NULL)$$, 'ok'),
    ($$SELECT simple_cache_put(NULL, '\x01'::bytea)$$, '22004'),
    ($$SELECT simple_cache_put('e42:text', NULL::bytea)$$, '22004'),
    ($$SELECT simple_cache_put('e42:text', NULL::bytea, interval '1 hour')$$, '22004'),
    ($$SELECT simple_cache_add(NULL, 'v')$$, '22004'),
    ($$SELECT simple_cache_add('e42:new', NULL::text)$$, '22004'),
    ($$SELECT simple_cache_add(NULL, 'v', interval '1 hour')$$, '22004'),
    ($$SELECT simple_cache_add('e42:new', NULL::bytea)$$, '22004'),
    ($$SELECT simple_cache_add('e42:text', 'other', NULL)$$, 'ok'),
    ($$SELECT simple_cache_replace(NULL, 'v')$$, '22004'),
    ($$SELECT simple_cache_replace('e42:text', NULL::text)$$, '22004'),
    ($$SELECT simple_cache_replace('e42:text', NULL::bytea, interval '1 hour')$$, '22004'),
    ($$SELECT simple_cache_replace('e42:absent', 'v', NULL)$$, 'ok'),
    -- NULL in the STRICT functions: no call, a NULL result.
    ($$SELECT simple_cache_get(NULL)$$, 'ok'),
    ($$SELECT simple_cache_get_bytea(NULL)$$, 'ok'),
    ($$SELECT * FROM simple_cache_mget(NULL)$$, 'ok'),
    ($$SELECT * FROM simple_cache_mget(ARRAY[NULL, 'e42:text', NULL])$$, 'ok'),
    ($$SELECT simple_cache_drop(NULL)$$, 'ok'),
    ($$SELECT simple_cache_expire(NULL, interval '1 hour')$$, 'ok'),
    ($$SELECT simple_cache_expire('e42:text', NULL)$$, 'ok'),
    ($$SELECT simple_cache_ttl(NULL)$$, 'ok'),
    -- NULL in incr, cas and set_size_limit.
    ($$SELECT simple_cache_incr(NULL)$$, '22004'),
    ($$SELECT simple_cache_incr(NULL, 1)$$, '22004'),
    ($$SELECT simple_cache_incr('e42:int', NULL)$$, '22004'),
    ($$SELECT simple_cache_cas(NULL, 'v1', 'v2')$$, '22004'),
    ($$SELECT simple_cache_cas('e42:cas', NULL, 'v2')$$, '22004'),
    ($$SELECT simple_cache_cas('e42:cas', 'v1', NULL)$$, '22004'),
    ($$SELECT simple_cache_set_size_limit(NULL)$$, '22004'),
    -- Empty keys are keys like any other: absent here, so nothing to read, drop or change.
    ($$SELECT simple_cache_get('')$$, 'ok'),
    ($$SELECT simple_cache_get_bytea('')$$, 'ok'),
    ($$SELECT * FROM simple_cache_mget(ARRAY['', ''])$$, 'ok'),
    ($$SELECT simple_cache_drop('')$$, 'ok'),
    ($$SELECT simple_cache_ttl('')$$, 'ok'),
    ($$SELECT simple_cache_expire('', interval '1 hour')$$, 'ok'),
    ($$SELECT simple_cache_replace('', 'v')$$, 'ok'),
    ($$SELECT simple_cache_cas('', '', 'v')$$, 'ok'),
    -- Keys of 1 MB + 1 byte, in every function taking a key.
    ($$SELECT simple_cache_put(repeat('k', 1048577), 'v')$$, '54000'),
    ($$SELECT simple_cache_put(repeat('k', 1048577), '\x01'::bytea, interval '1 hour')$$, '54000'),
    ($$SELECT simple_cache_add(repeat('k', 1048577), 'v')$$, '54000'),
    ($$SELECT simple_cache_replace(repeat('k', 1048577), 'v')$$, '54000'),
    ($$SELECT simple_cache_get(repeat('k', 1048577))$$, '54000'),
    ($$SELECT simple_cache_get_bytea(repeat('k', 1048577))$$, '54000'),
    ($$SELECT * FROM simple_cache_mget(ARRAY['e42:text', repeat('k', 1048577)])$$, '54000'),
    ($$SELECT simple_cache_drop(repeat('k', 1048577))$$, '54000'),
    ($$SELECT simple_cache_expire(repeat('k', 1048577), interval '1 hour')$$, '54000'),
    ($$SELECT simple_cache_ttl(repeat('k', 1048577))$$, '54000'),
    ($$SELECT simple_cache_incr(repeat('k', 1048577))$$, '54000'),
    ($$SELECT simple_cache_cas(repeat('k', 1048577), 'a', 'b')$$, '54000'),
    -- A key of exactly 1 MB is accepted.
    ($$SELECT simple_cache_get(repeat('k', 1048576))$$, 'ok'),
    ($$SELECT simple_cache_drop(repeat('k', 1048576))$$, 'ok'),
    -- Values near 1 GB and over the limit (256 MB here): refused before anything is allocated.
    ($$SELECT simple_cache_put('e42:text', repeat(repeat('x', 1048576), 1023))$$, '53200'),
    ($$SELECT simple_cache_add('e42:new', repeat(repeat('x', 1048576), 257))$$, '53200'),
    ($$SELECT simple_cache_replace('e42:text', repeat(repeat('x', 1048576), 257), interval '1 hour')$$, '53200'),
    ($$SELECT simple_cache_cas('e42:cas', 'v1', repeat(repeat('x', 1048576), 257))$$, '53200'),
    ($$SELECT simple_cache_put(repeat('k', 1048576), repeat(repeat('x', 1048576), 255))$$, '53200'),
    -- Time to live: zero, negative, under a millisecond, negative overall, past the year 6450.
    ($$SELECT simple_cache_put('e42:new', 'v', interval '0')$$, '22023'),
    ($$SELECT simple_cache_put('e42:text', 'v', interval '-1 second')$$, '22023'),
    ($$SELECT simple_cache_put('e42:text', 'v', interval '0.5 milliseconds')$$, '22023'),
    ($$SELECT simple_cache_put('e42:text', 'v', interval '1 month -31 days')$$, '22023'),
    ($$SELECT simple_cache_put('e42:text', 'v', interval '1000000 years')$$, '22008'),
    ($$SELECT simple_cache_put('e42:text', '\x01'::bytea, interval '-1 day')$$, '22023'),
    ($$SELECT simple_cache_add('e42:new', 'v', interval '0')$$, '22023'),
    ($$SELECT simple_cache_replace('e42:text', 'v', interval '-1 day')$$, '22023'),
    ($$SELECT simple_cache_expire('e42:text', interval '0')$$, '22023'),
    ($$SELECT simple_cache_expire('e42:ttl', interval '-1 second')$$, '22023'),
    ($$SELECT simple_cache_expire('e42:ttl', interval '0.1 milliseconds')$$, '22023'),
    ($$SELECT simple_cache_expire('e42:text', interval '1000000 years')$$, '22008'),
    ($$SELECT simple_cache_expire('e42:absent', interval '-1 second')$$, '22023'),
    -- Size limits: zero, negative, not a number.
    ($$SELECT simple_cache_set_size_limit(0)$$, '22023'),
    ($$SELECT simple_cache_set_size_limit(-1)$$, '22023'),
    ($$SELECT simple_cache_set_size_limit(-9223372036854775808)$$, '22023'),
    ($$SELECT simple_cache_set_size_limit('a lot')$$, '22P02'),
    -- incr: values that are no integer (text, bytea, empty), out of bigint, overflowing
    -- results, deltas that are no bigint.
    ($$SELECT simple_cache_incr('e42:word')$$, '22P02'),
    ($$SELECT simple_cache_incr('e42:text', -1)$$, '22P02'),
    ($$SELECT simple_cache_incr('e42:bytes')$$, '22P02'),
    ($$SELECT simple_cache_incr('e42:huge')$$, '22003'),
    ($$SELECT simple_cache_incr('e42:max')$$, '22003'),
    ($$SELECT simple_cache_incr('e42:min', -1)$$, '22003'),
    ($$SELECT simple_cache_incr('e42:int', 9223372036854775807)$$, '22003'),
    ($$SELECT simple_cache_incr('e42:int', '1.5')$$, '22P02'),
    ($$SELECT simple_cache_incr('e42:int', 1.5)$$, '42883'),
    ($$SELECT simple_cache_incr('e42:int', 9223372036854775808)$$, '42883'),
    ($$SELECT simple_cache_incr('e42:int', 'one')$$, '22P02'),
    -- A bytea value that is no valid text, read as text.
    ($$SELECT simple_cache_get('e42:bytes')$$, '22021'),
    ($$SELECT * FROM simple_cache_mget(ARRAY['e42:text', 'e42:bytes'])$$, '22021'),
    ($$SELECT count(*) FROM simple_cache_list() WHERE key = 'e42:bytes' AND value = '\x00ff'$$, 'ok'),
    -- Wrong argument types and counts.
    ($$SELECT simple_cache_put('e42:text')$$, '42883'),
    ($$SELECT simple_cache_get(42)$$, '42883'),
    ($$SELECT simple_cache_expire('e42:text', 60)$$, '42883'),
    ($$SELECT simple_cache_cas('e42:cas', 'v1')$$, '42883'),
    -- A saved file that is damaged: nothing is loaded from it.
    ($$SELECT simple_cache_load()$$, 'XX001');

CREATE TEMP TABLE results (n int PRIMARY KEY, got text, message text, same_entries bool, same_bytes bool,
                           locks int);

DO $$
DECLARE
    c record;
    digest_before text;
    bytes_before bigint;
    got text;
    message text;
BEGIN
    FOR c IN SELECT * FROM cases ORDER BY n LOOP
        digest_before := pg_temp.digest();
        bytes_before := pg_temp.payload();
        BEGIN
            EXECUTE c.call;
            got := 'ok';
            message := NULL;
        EXCEPTION WHEN OTHERS THEN
            got := SQLSTATE;
            message := SQLERRM;
        END;
        INSERT INTO results VALUES (c.n, got, message, pg_temp.digest() = digest_before,
                                    pg_temp.payload() = bytes_before, pg_temp.locks_held());
    END LOOP;
END
$$;

-- One row per case: what it raised, and whether anything changed.
SELECT c.n, c.call, r.got,
       CASE WHEN r.got = c.expected THEN 'as expected' ELSE 'EXPECTED ' || c.expected END AS verdict,
       CASE WHEN r.same_entries AND r.same_bytes AND r.locks = 0 THEN 'unchanged'
            ELSE concat_ws(', ', CASE WHEN NOT r.same_entries THEN 'ENTRIES CHANGED' END,
                           CASE WHEN NOT r.same_bytes THEN 'BYTES CHANGED' END,
                           CASE WHEN r.locks <> 0 THEN r.locks || ' LOCKS HELD' END) END AS state
FROM cases c JOIN results r USING (n) ORDER BY c.n;

-- The messages, one per distinct error.
SELECT r.got, r.message, count(*) AS cases
FROM results r WHERE r.got <> 'ok' GROUP BY r.got, r.message ORDER BY r.got, r.message COLLATE "C";

SELECT count(*) AS cases, count(*) FILTER (WHERE r.got = c.expected) AS as_expected,
       count(*) FILTER (WHERE r.same_entries AND r.same_bytes AND r.locks = 0) AS unchanged
FROM cases c JOIN results r USING (n);

-- The accepted edge cases do work: an empty key, and a key of exactly 1 MB.
SELECT simple_cache_put('', 'empty key') AS existed, simple_cache_get('') AS value, simple_cache_drop('') AS dropped,
       simple_cache_get('') AS after_drop;
SELECT simple_cache_put(repeat('k', 1048576), 'long key') AS existed, simple_cache_get(repeat('k', 1048576)) AS value,
       (SELECT m.value FROM simple_cache_mget(ARRAY[repeat('k', 1048576)]) m) AS by_mget,
       simple_cache_drop(repeat('k', 1048576)) AS dropped;

-- The entries are as they were put, and still work.
SELECT key, CASE WHEN key = 'e42:bytes' THEN encode(simple_cache_get_bytea(key), 'hex') ELSE simple_cache_get(key) END AS value,
       simple_cache_ttl(key) IS NOT NULL AS expires
FROM pg_temp.keys() key WHERE simple_cache_get_bytea(key) IS NOT NULL ORDER BY key COLLATE "C";
SELECT simple_cache_incr('e42:int') AS incremented, simple_cache_cas('e42:cas', 'v1', 'v2') AS swapped;

-- Clean up: this file's entries dropped, a valid saved file again, the limit as it was.
SELECT count(*) AS dropped FROM pg_temp.keys() key WHERE simple_cache_drop(key);
SELECT simple_cache_save() >= 0 AS saved;
SELECT simple_cache_set_size_limit(:limit_before);
SELECT pg_temp.locks_held() AS locks_held;
