-- 14_eviction: the size limit, simple_cache.max_memory and simple_cache.eviction.
--
-- The limit caps the growth of the shared area's DSM segments; simple_cache_set_size_limit()
-- and simple_cache.max_memory both set it, and whichever changed last is in force. When a put
-- does not fit: with eviction = lru (the default) the CLOCK hand evicts entries that were not
-- read since it last passed them (expired entries first) until the put fits; with eviction =
-- none the put fails with 53200 and nothing changes. A value larger than the whole limit is
-- 53200 in both modes. Lowering the limit below what is in use evicts down to it (lru) or is
-- refused with 53200 (none).
--
-- The area is shared and may already be large (its segments stay once made), so the limit is
-- derived from the area report as in 03_size_limit: the current total segment size plus
-- 1 MB, and filler values sized from the largest free run. The cache is shared with the other
-- files and databases, and eviction may take anyone's entries: this file only relies on its
-- own keys ('v14:'). The limit, simple_cache.max_memory and simple_cache.eviction are set
-- back at the end.
\pset null '<NULL>'

-- The SQLSTATE an SQL command raises, or 'ok'.
CREATE FUNCTION pg_temp.sqlstate_of(command text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE command;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

-- The area's current total segment size ("max_total_segment_size" is the limit, not this).
CREATE FUNCTION pg_temp.total_segment_size() RETURNS bigint
LANGUAGE sql AS $$ SELECT substring(simple_cache_dump_area() from '\n\s*total_segment_size: (\d+)')::bigint $$;

CREATE FUNCTION pg_temp.locks_held() RETURNS int
LANGUAGE sql AS $$
    SELECT substring(simple_cache_dump_hash_table() from 'partition locks held by this backend: (\d+)')::int
$$;

-- A digest of this file's entries with keys starting with prefix (keys and values).
CREATE FUNCTION pg_temp.digest(prefix text DEFAULT 'v14:') RETURNS text
LANGUAGE sql AS $$
    SELECT md5(coalesce(string_agg(key || '=' || md5(value), ',' ORDER BY key COLLATE "C"), ''))
    FROM simple_cache_list() WHERE starts_with(key, prefix)
$$;

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'v14:'); END $$;
-- Some put first: simple_cache.max_memory is applied by the first put after it changes.
SELECT simple_cache_put('v14:start', 'start') AS existed;
SELECT size_limit AS limit_before FROM simple_cache_stats \gset

-- ---------------------------------------------------------------------------------------------
-- simple_cache.eviction: lru by default, or none; only superusers may change it (see
-- 15_privileges); other values are refused with 22023.
RESET simple_cache.eviction;
SHOW simple_cache.eviction;
SELECT name, setting, boot_val, context, enumvals FROM pg_settings WHERE name = 'simple_cache.eviction';
SET simple_cache.eviction = none;
SHOW simple_cache.eviction;
SELECT pg_temp.sqlstate_of($q$SET simple_cache.eviction = 'fifo'$q$) AS fifo,
       pg_temp.sqlstate_of($q$SET simple_cache.eviction = ''$q$) AS empty;
SHOW simple_cache.eviction;
RESET simple_cache.eviction;

-- simple_cache.max_memory: 256 MB by default, in kB units, at least 1 MB; a server-wide
-- setting (ALTER SYSTEM and a reload), which a session cannot SET (55P02).
SELECT name, boot_val, unit, min_val, context FROM pg_settings WHERE name = 'simple_cache.max_memory';
SELECT pg_temp.sqlstate_of($q$SET simple_cache.max_memory = '1GB'$q$) AS session_set;
-- ALTER SYSTEM refuses values out of range or not a size (22023); it cannot run inside a
-- function, so the errors show as such (out of range by its SQLSTATE alone: newer releases word
-- the range with units).
\set VERBOSITY sqlstate
ALTER SYSTEM SET simple_cache.max_memory = '512kB';
\set VERBOSITY default
ALTER SYSTEM SET simple_cache.max_memory = 'plenty';
ALTER SYSTEM SET simple_cache.max_memory = '4TB';
SHOW simple_cache.max_memory;

-- The setting and simple_cache_set_size_limit(): whichever changed last is in force.
ALTER SYSTEM SET simple_cache.max_memory = '300MB';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SHOW simple_cache.max_memory;
SELECT simple_cache_put('v14:apply', '1') AS existed;
SELECT size_limit AS after_max_memory FROM simple_cache_stats;
SELECT simple_cache_set_size_limit(400 * 1024 * 1024);
SELECT simple_cache_put('v14:apply', '2') AS existed;
SELECT size_limit AS after_set_size_limit FROM simple_cache_stats;
ALTER SYSTEM SET simple_cache.max_memory = '320MB';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SELECT simple_cache_put('v14:apply', '3') AS existed;
SELECT size_limit AS after_max_memory_again FROM simple_cache_stats;
ALTER SYSTEM RESET simple_cache.max_memory;
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SHOW simple_cache.max_memory;
SELECT simple_cache_put('v14:apply', '4') AS existed;
SELECT size_limit AS after_reset FROM simple_cache_stats;

-- Lowering simple_cache.max_memory below what is in use: the next write takes it up whatever
-- the eviction setting, since the limit set last is in force. With eviction = none nothing is
-- evicted and a write that needs room fails with 53200; with lru, entries are evicted until
-- the bytes in use are under the new setting.
SET simple_cache.eviction = none;
SELECT count(*) AS put FROM generate_series(1, 30) i WHERE NOT simple_cache_put('v14:mm:' || i, repeat(chr(64 + i), 100000));
SELECT area_bytes > 3000000 AS over_3mb_in_use FROM simple_cache_stats;
SELECT evictions AS evictions_before FROM simple_cache_stats \gset
SELECT pg_temp.digest('v14:mm:') AS digest_before \gset
ALTER SYSTEM SET simple_cache.max_memory = '1MB';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
\set VERBOSITY sqlstate
SELECT simple_cache_put('v14:apply', '5') AS existed;
\set VERBOSITY default
SELECT size_limit, evictions - :evictions_before AS evicted FROM simple_cache_stats;
SELECT pg_temp.digest('v14:mm:') = :'digest_before' AS entries_intact;
-- (The put that applies the setting then adds its own small entry, and the hash table may be
-- resizing: a little slack over the 2 MB.)
SET simple_cache.eviction = lru;
ALTER SYSTEM SET simple_cache.max_memory = '2MB';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SELECT simple_cache_put('v14:apply', '6') AS existed;
SELECT size_limit, area_bytes <= 2 * 1024 * 1024 + 65536 AS evicted_down_to_limit,
       evictions > :evictions_before AS evictions_counted
FROM simple_cache_stats;
SELECT count(*) < 30 AS fewer_mm_entries FROM simple_cache_list() WHERE starts_with(key, 'v14:mm:');
SELECT simple_cache_get('v14:apply') AS last_put_kept;
ALTER SYSTEM RESET simple_cache.max_memory;
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SHOW simple_cache.max_memory;
SELECT simple_cache_put('v14:apply', '7') AS existed;
SELECT size_limit AS after_reset FROM simple_cache_stats;
DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'v14:mm:'); END $$;

-- ---------------------------------------------------------------------------------------------
-- Filling past the limit with eviction = lru: every put succeeds, the evictions counter grows,
-- and keys read before every put survive while keys never read are evicted.
--
-- Why this is deterministic: a read sets the entry's reference bit; the CLOCK hand clears a
-- set bit and passes on, and evicts an entry whose bit is clear. A hot key is read before each
-- put, so between two passes of the hand over it there is always a read, unless a single put
-- made the hand go round the whole table twice, which it does only if evicting every other
-- entry did not make room. The fillers all have one size, so evicting any one makes room for
-- the next. The cold keys (filler-sized, never read) are put before the fill; filling three
-- times the cache's capacity after the first eviction takes the hand round the table about
-- three times. The hand's position in a partition restarts when the table resizes, so an
-- unread key can be missed now and then: most cold keys go, not necessarily all.
SET simple_cache.eviction = lru;
SELECT pg_temp.total_segment_size() + 1024 * 1024 AS lim \gset
SELECT simple_cache_set_size_limit(:lim);
SELECT size_limit = :lim AS limit_in_force FROM simple_cache_stats;
CREATE TEMP TABLE fill AS
SELECT greatest(65536, max(m[1]::int) * 4096 / 128) AS size, 0 AS first_eviction_at, 0 AS stored,
       0::bigint AS evictions_before, 0::bigint AS evictions_after
FROM regexp_matches(simple_cache_dump_area(), 'contiguous_pages = (\d+)', 'g') m;
SELECT size AS fill_size FROM fill \gset
SELECT count(*) AS hot FROM generate_series(1, 3) i WHERE NOT simple_cache_put('v14:hot:' || i, 'hot ' || i);
SELECT count(*) AS cold FROM generate_series(1, 20) i WHERE NOT simple_cache_put('v14:cold:' || lpad(i::text, 2, '0'), repeat('c', :fill_size));
UPDATE fill SET evictions_before = (SELECT evictions FROM simple_cache_stats);
DO $$
DECLARE
    value text := repeat('f', (SELECT size FROM fill));
    before bigint := (SELECT evictions_before FROM fill);
    n int := 0;
    first int;
BEGIN
    -- Until the first eviction (the limit is reached) ...
    LOOP
        PERFORM simple_cache_get('v14:hot:' || h) FROM generate_series(1, 3) h;
        n := n + 1;
        PERFORM simple_cache_put('v14:fill:' || lpad(n::text, 6, '0'), value);
        EXIT WHEN (SELECT evictions FROM simple_cache_stats) > before;
        IF n > 100000 THEN
            RAISE EXCEPTION 'no eviction after % puts', n;
        END IF;
    END LOOP;
    first := n;
    -- ... and three times as many again.
    FOR round IN 1 .. 3 * first LOOP
        PERFORM simple_cache_get('v14:hot:' || h) FROM generate_series(1, 3) h;
        n := n + 1;
        PERFORM simple_cache_put('v14:fill:' || lpad(n::text, 6, '0'), value);
    END LOOP;
    UPDATE fill SET first_eviction_at = first, stored = n, evictions_after = (SELECT evictions FROM simple_cache_stats);
END
$$;
-- Every put succeeded (an error would have ended the DO block) and evictions were counted.
SELECT first_eviction_at > 1 AS limit_reached, stored = 4 * first_eviction_at AS all_puts_done,
       evictions_after - evictions_before >= 2 * first_eviction_at AS evictions_counted
FROM fill;
-- The hot keys are all there with their values; most cold keys are gone; most fillers are
-- gone (the cache holds about first_eviction_at of them), the latest one is there.
SELECT count(*) AS hot_kept FROM generate_series(1, 3) i WHERE simple_cache_get('v14:hot:' || i) = 'hot ' || i;
SELECT count(*) < 10 AS most_cold_evicted FROM simple_cache_list() WHERE starts_with(key, 'v14:cold:');
SELECT count(*) < (SELECT stored / 2 FROM fill) AS most_fillers_evicted
FROM simple_cache_list() WHERE starts_with(key, 'v14:fill:');
SELECT simple_cache_get('v14:fill:' || lpad(stored::text, 6, '0')) = repeat('f', size) AS latest_kept FROM fill;
-- The area stayed within the limit and no lock is left held.
SELECT pg_temp.total_segment_size() <= :lim AS within_limit, pg_temp.locks_held() AS locks_held;

-- An entry read and then expired is gone after another round of fills, and is counted as an
-- expiration whichever removes it: the eviction hand takes expired entries first, referenced
-- or not; the light sweep after puts takes only expired ones; a read of an expired entry
-- removes it.
SELECT simple_cache_put('v14:expiring', 'soon gone', '1 second') AS existed,
       simple_cache_get('v14:expiring') AS read_once;
SELECT pg_sleep(1.2);
SELECT expirations AS expirations_before FROM simple_cache_stats \gset
DO $$
DECLARE
    value text := repeat('f', (SELECT size FROM fill));
    n int := (SELECT stored FROM fill);
BEGIN
    FOR round IN 1 .. (SELECT first_eviction_at FROM fill) LOOP
        PERFORM simple_cache_get('v14:hot:' || h) FROM generate_series(1, 3) h;
        n := n + 1;
        PERFORM simple_cache_put('v14:fill:' || lpad(n::text, 6, '0'), value);
    END LOOP;
    UPDATE fill SET stored = n;
END
$$;
SELECT simple_cache_get('v14:expiring') AS expired, count(*) AS listed
FROM simple_cache_list() WHERE key = 'v14:expiring';
SELECT expirations > :expirations_before AS counted_as_expiration FROM simple_cache_stats;
SELECT count(*) AS hot_kept FROM generate_series(1, 3) i WHERE simple_cache_get('v14:hot:' || i) = 'hot ' || i;

-- ---------------------------------------------------------------------------------------------
-- The same full cache with eviction = none: fill until a put fails; it fails with 53200, and
-- so does any further put of that size, new key or replacing one, with nothing changed.
SET simple_cache.eviction = none;
SELECT evictions AS evictions_before FROM simple_cache_stats \gset
CREATE TEMP TABLE fill_none AS SELECT 0 AS stored, ''::text AS failure;
DO $$
DECLARE
    value text := repeat('g', (SELECT size FROM fill));
    n int := 0;
BEGIN
    LOOP
        BEGIN
            PERFORM simple_cache_put('v14:none:' || lpad(n::text, 6, '0'), value);
        EXCEPTION WHEN OTHERS THEN
            UPDATE fill_none SET stored = n, failure = SQLSTATE;
            RETURN;
        END;
        n := n + 1;
        IF n > 100000 THEN
            RAISE EXCEPTION 'no failure after % puts', n;
        END IF;
    END LOOP;
END
$$;
SELECT failure FROM fill_none;
SELECT pg_temp.digest() AS digest_before, area_bytes AS area_bytes_before FROM simple_cache_stats \gset
\set VERBOSITY terse
SELECT simple_cache_put('v14:none:new', repeat('n', :fill_size));
\set VERBOSITY default
SELECT pg_temp.sqlstate_of(format('SELECT simple_cache_put(%L, repeat(%L, %s))', 'v14:none:new', 'n', :fill_size)) AS new_key,
       pg_temp.sqlstate_of(format('SELECT simple_cache_put(%L, repeat(%L, %s))', 'v14:hot:1', 'n', :fill_size)) AS replace_hot,
       pg_temp.sqlstate_of(format('SELECT simple_cache_add(%L, repeat(%L, %s))', 'v14:none:new', 'n', :fill_size)) AS add,
       pg_temp.sqlstate_of(format('SELECT simple_cache_replace(%L, repeat(%L, %s))', 'v14:hot:2', 'n', :fill_size)) AS replace,
       pg_temp.sqlstate_of(format('SELECT simple_cache_cas(%L, %L, repeat(%L, %s))', 'v14:hot:3', 'hot 3', 'n', :fill_size)) AS cas;
SELECT pg_temp.digest() = :'digest_before' AS entries_intact, simple_cache_get('v14:none:new') AS new_key,
       simple_cache_get('v14:hot:1') AS hot_1, simple_cache_get('v14:hot:2') AS hot_2, simple_cache_get('v14:hot:3') AS hot_3;
SELECT area_bytes = :area_bytes_before AS no_bytes_leaked, evictions = :evictions_before AS nothing_evicted
FROM simple_cache_stats;
SELECT pg_temp.locks_held() AS locks_held;

-- ---------------------------------------------------------------------------------------------
-- Lowering the limit below what is in use: refused with 53200 when eviction is none, and
-- nothing changes ...
SELECT size_limit AS limit_full, area_bytes / 2 AS half FROM simple_cache_stats \gset
\set VERBOSITY terse
SELECT simple_cache_set_size_limit(:half);
\set VERBOSITY default
SELECT pg_temp.sqlstate_of(format('SELECT simple_cache_set_size_limit(%s)', :half)) AS lower_limit_none;
SELECT size_limit = :limit_full AS limit_unchanged, evictions = :evictions_before AS nothing_evicted
FROM simple_cache_stats;
SELECT pg_temp.digest() = :'digest_before' AS entries_intact;
-- ... and with lru, entries are evicted until the bytes in use are under the new limit.
SET simple_cache.eviction = lru;
SELECT entries AS entries_before_lru FROM simple_cache_stats \gset
SELECT simple_cache_set_size_limit(:half);
SELECT size_limit = :half AS limit_set, area_bytes <= :half AS evicted_down_to_limit,
       evictions > :evictions_before AS evictions_counted
FROM simple_cache_stats;
SELECT entries < :entries_before_lru AS fewer_entries FROM simple_cache_stats;
SELECT simple_cache_put('v14:after_lowering', 'works') AS existed, simple_cache_get('v14:after_lowering') AS value;

-- ---------------------------------------------------------------------------------------------
-- A value larger than the whole limit: 53200 in both modes, before anything is evicted. (The
-- limit is half of what was in use, which depends on the files run before this one: the value
-- is one byte over it.)
SELECT pg_temp.digest() AS digest_before, evictions AS evictions_before, size_limit + 1 AS huge_size
FROM simple_cache_stats \gset
\set VERBOSITY terse
SELECT simple_cache_put('v14:huge', repeat('h', :huge_size));
\set VERBOSITY default
SELECT pg_temp.sqlstate_of(format('SELECT simple_cache_put(%L, repeat(%L, %s))', 'v14:huge', 'h', :huge_size)) AS lru_new_key,
       pg_temp.sqlstate_of(format('SELECT simple_cache_put(%L, repeat(%L, %s))', 'v14:after_lowering', 'h', :huge_size)) AS lru_replace,
       pg_temp.sqlstate_of(format('SELECT simple_cache_put(%L, decode(repeat(%L, %s), %L))', 'v14:huge', '00', :huge_size, 'hex')) AS lru_bytea;
SET simple_cache.eviction = none;
SELECT pg_temp.sqlstate_of(format('SELECT simple_cache_put(%L, repeat(%L, %s))', 'v14:huge', 'h', :huge_size)) AS none_new_key,
       pg_temp.sqlstate_of(format('SELECT simple_cache_put(%L, repeat(%L, %s))', 'v14:after_lowering', 'h', :huge_size)) AS none_replace;
SELECT pg_temp.digest() = :'digest_before' AS entries_intact, evictions = :evictions_before AS nothing_evicted,
       simple_cache_get('v14:huge') AS huge, simple_cache_get('v14:after_lowering') AS kept
FROM simple_cache_stats;
SELECT pg_temp.locks_held() AS locks_held;

-- ---------------------------------------------------------------------------------------------
-- A put into a full cache by the database that holds the most of it evicts its own entries at
-- once: the hand does not first pass over every entry in search of a larger database's. A
-- round examines up to 64 entries and evicts every one not read since, so puts past full
-- examine about one entry each (before: each eviction also passed over the whole table twice,
-- 2 x entries / 64 per put).
CREATE FUNCTION pg_temp.examined() RETURNS bigint
LANGUAGE sql AS $$
    SELECT substring(simple_cache_dump_hash_table() from 'entries examined by eviction: (\d+)')::bigint
$$;
-- Filled until a batch of 1000 small puts evicts at least 900 entries: by then the small
-- entries evict each other, not the larger ones left by this file or the files before it.
SET simple_cache.eviction = lru;
SELECT simple_cache_set_size_limit(4 * 1024 * 1024);
DO $$
DECLARE
    evictions_before_batch bigint;
BEGIN
    FOR batch IN 0 .. 199 LOOP
        evictions_before_batch := (SELECT evictions FROM simple_cache_stats);
        PERFORM simple_cache_put('v14:c:' || g, rpad(g::text, 32, 'c')) FROM generate_series(batch * 1000, batch * 1000 + 999) g;
        EXIT WHEN (SELECT evictions FROM simple_cache_stats) - evictions_before_batch >= 900;
    END LOOP;
END
$$;
SELECT entries AS full_entries, evictions AS evictions_before, pg_temp.examined() AS examined_before
FROM simple_cache_stats \gset
-- Puts past full, in steps of 100, until 1000 entries more were evicted (one put can evict
-- many at once: a bucket array that doubles takes the room of thousands of entries).
CREATE TEMP TABLE past_full AS SELECT 0 AS put_count;
DO $$
DECLARE
    evictions_at_start bigint := (SELECT evictions FROM simple_cache_stats);
    n int := 0;
BEGIN
    WHILE (SELECT evictions FROM simple_cache_stats) - evictions_at_start < 1000 AND n < 100000 LOOP
        PERFORM simple_cache_put('v14:d:' || g, rpad(g::text, 32, 'd')) FROM generate_series(n + 1, n + 100) g;
        n := n + 100;
    END LOOP;
    UPDATE past_full SET put_count = n;
END
$$;
SELECT :full_entries > 10000 AS many_entries, evictions - :evictions_before >= 1000 AS evicted,
       (pg_temp.examined() - :examined_before) / past_full.put_count::numeric < 50 AS few_examined_per_put
FROM simple_cache_stats, past_full;

-- Clean up: the limit and the eviction setting as they were, this file's entries dropped.
RESET simple_cache.eviction;
SELECT simple_cache_set_size_limit(:limit_before);
SELECT size_limit = :limit_before AS limit_restored FROM simple_cache_stats;
SELECT count(*) > 0 AS dropped FROM simple_cache_list() WHERE starts_with(key, 'v14:') AND simple_cache_drop(key);
SELECT count(*) AS remaining FROM simple_cache_list() WHERE starts_with(key, 'v14:');
SELECT pg_temp.locks_held() AS locks_held;
