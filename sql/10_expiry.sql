-- 10_expiry: time to live. put/add/replace with a ttl interval, simple_cache_expire,
-- simple_cache_ttl and the simple_cache.default_ttl setting; an expired key reads as absent
-- everywhere (get, get_bytea, mget, list, ttl, drop, add, replace, incr, cas, expire).
--
-- Nothing here depends on timing beyond short sleeps: keys that must expire get a ttl of
-- 1 second and are checked after pg_sleep(1.2); keys that must not expire get an hour or more;
-- remaining times are checked against ranges, never exact values.
-- Keys start with 'x10:'; simple_cache.default_ttl is reset at the end.
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

-- This file's entries with their values and whether they expire, to show errors change nothing.
CREATE FUNCTION pg_temp.digest() RETURNS text
LANGUAGE sql AS $$
    SELECT md5(coalesce(string_agg(key || '=' || value || '/' || (simple_cache_ttl(key) IS NOT NULL),
                                   ',' ORDER BY key COLLATE "C"), ''))
    FROM simple_cache_list() WHERE starts_with(key, 'x10:')
$$;

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'x10:'); END $$;
RESET simple_cache.default_ttl;
SHOW simple_cache.default_ttl;

-- Without a ttl (and with default_ttl = 0) a value never expires: ttl is NULL.
SELECT simple_cache_put('x10:forever', 'f') AS existed;
SELECT simple_cache_ttl('x10:forever') AS ttl, simple_cache_get('x10:forever') AS value;

-- With a ttl the remaining time is at most the ttl and close to it.
SELECT simple_cache_put('x10:hour', 'h', '1 hour') AS existed;
SELECT simple_cache_ttl('x10:hour') BETWEEN '59 minutes' AND '1 hour' AS ttl_in_range,
       simple_cache_get('x10:hour') AS value;
-- Any interval works; days count 24 hours and a month 30 days.
SELECT simple_cache_put('x10:days', 'd', '2 days 3 hours') AS existed,
       simple_cache_put('x10:month', 'm', '1 mon') AS existed2,
       simple_cache_put('x10:ms', 'ms', '1 hour 250 milliseconds') AS existed3;
SELECT simple_cache_ttl('x10:days') BETWEEN '50 hours 59 minutes' AND '51 hours' AS days_in_range,
       simple_cache_ttl('x10:month') BETWEEN '719 hours 59 minutes' AND '720 hours' AS month_in_range,
       simple_cache_ttl('x10:ms') BETWEEN '59 minutes' AND '1 hour 250 milliseconds' AS ms_in_range;
-- Expiry far ahead is accepted (the expiry field reaches about 4460 years past 2000).
SELECT simple_cache_put('x10:far', 'far', '4000 years') AS existed;
SELECT simple_cache_ttl('x10:far') > '34000000 hours' AS far_ahead;

-- A NULL ttl means no expiry, and putting again without one drops an earlier ttl.
SELECT simple_cache_put('x10:hour', 'h2', NULL) AS existed;
SELECT simple_cache_ttl('x10:hour') AS ttl, simple_cache_get('x10:hour') AS value;
SELECT simple_cache_put('x10:days', 'd2') AS existed;
SELECT simple_cache_ttl('x10:days') AS ttl;
-- ... and putting with one gives a key that had none a ttl.
SELECT simple_cache_put('x10:hour', 'h3', '2 hours') AS existed;
SELECT simple_cache_ttl('x10:hour') BETWEEN '119 minutes' AND '2 hours' AS ttl_in_range;

-- simple_cache_ttl: NULL for an absent key and for a NULL key (STRICT).
SELECT simple_cache_ttl('x10:absent') AS absent, simple_cache_ttl(NULL) AS null_key;

-- simple_cache_expire sets, changes and extends a key's ttl; false for an absent key; NULL
-- for NULL arguments (STRICT).
SELECT simple_cache_expire('x10:forever', '3 hours') AS expired_set;
SELECT simple_cache_ttl('x10:forever') BETWEEN '179 minutes' AND '3 hours' AS ttl_in_range,
       simple_cache_get('x10:forever') AS value;
SELECT simple_cache_expire('x10:forever', '10 minutes') AS shortened;
SELECT simple_cache_ttl('x10:forever') BETWEEN '9 minutes' AND '10 minutes' AS ttl_in_range;
SELECT simple_cache_expire('x10:forever', '1 day') AS extended;
SELECT simple_cache_ttl('x10:forever') BETWEEN '23 hours 59 minutes' AND '1 day' AS ttl_in_range;
SELECT simple_cache_expire('x10:absent', '1 hour') AS absent;
SELECT simple_cache_get('x10:absent') AS not_created;
SELECT simple_cache_expire(NULL, '1 hour') AS null_key, simple_cache_expire('x10:forever', NULL) AS null_ttl;
SELECT simple_cache_ttl('x10:forever') BETWEEN '23 hours 59 minutes' AND '1 day' AS ttl_unchanged;
-- A NULL ttl in expire is not "no expiry": to remove a ttl, put the value again with a NULL ttl.
SELECT simple_cache_put('x10:forever', simple_cache_get('x10:forever'), NULL) AS existed;
SELECT simple_cache_ttl('x10:forever') AS ttl;

-- Errors: a zero or negative ttl is refused with 22023, also in expire and for a key that is
-- absent; so is a ttl under one millisecond (the expiry is kept in milliseconds).
SELECT pg_temp.digest() AS digest_before \gset
SELECT simple_cache_put('x10:hour', 'zero', '0 seconds');
SELECT simple_cache_expire('x10:hour', '-1 second');
SELECT pg_temp.sqlstate_of($q$SELECT simple_cache_put('x10:hour', 'x', '0 seconds')$q$) AS put_zero,
       pg_temp.sqlstate_of($q$SELECT simple_cache_put('x10:hour', 'x', '-1 hour')$q$) AS put_negative,
       pg_temp.sqlstate_of($q$SELECT simple_cache_put('x10:new', 'x', '-1 hour')$q$) AS put_new_negative,
       pg_temp.sqlstate_of($q$SELECT simple_cache_put('x10:hour', 'x', '1 day -25 hours')$q$) AS put_mixed_negative,
       pg_temp.sqlstate_of($q$SELECT simple_cache_put('x10:hour', 'x', '500 microseconds')$q$) AS put_sub_ms,
       pg_temp.sqlstate_of($q$SELECT simple_cache_put('x10:hour', '\x00'::bytea, '0 seconds')$q$) AS put_bytea_zero;
SELECT pg_temp.sqlstate_of($q$SELECT simple_cache_add('x10:new', 'x', '0 seconds')$q$) AS add_zero,
       pg_temp.sqlstate_of($q$SELECT simple_cache_add('x10:new', '\x00'::bytea, '-1 second')$q$) AS add_bytea_negative,
       pg_temp.sqlstate_of($q$SELECT simple_cache_replace('x10:hour', 'x', '0 seconds')$q$) AS replace_zero,
       pg_temp.sqlstate_of($q$SELECT simple_cache_replace('x10:hour', '\x00'::bytea, '-1 second')$q$) AS replace_bytea_negative,
       pg_temp.sqlstate_of($q$SELECT simple_cache_expire('x10:hour', '0 seconds')$q$) AS expire_zero,
       pg_temp.sqlstate_of($q$SELECT simple_cache_expire('x10:hour', '-1 day')$q$) AS expire_negative,
       pg_temp.sqlstate_of($q$SELECT simple_cache_expire('x10:absent', '0 seconds')$q$) AS expire_absent_zero;
-- A ttl reaching past what the expiry field holds is refused
-- with 22008 (datetime_field_overflow).
SELECT simple_cache_put('x10:hour', 'x', '5000 years');
SELECT pg_temp.sqlstate_of($q$SELECT simple_cache_put('x10:hour', 'x', '5000 years')$q$) AS put_too_long,
       pg_temp.sqlstate_of($q$SELECT simple_cache_add('x10:new', 'x', '100000 years')$q$) AS add_too_long,
       pg_temp.sqlstate_of($q$SELECT simple_cache_replace('x10:hour', 'x', '5000 years')$q$) AS replace_too_long,
       pg_temp.sqlstate_of($q$SELECT simple_cache_expire('x10:hour', '5000 years')$q$) AS expire_too_long;
-- Nothing changed: same values, same keys with a ttl, no new key.
SELECT pg_temp.digest() = :'digest_before' AS unchanged, simple_cache_get('x10:new') AS new_key;
SELECT simple_cache_get('x10:hour') AS value,
       simple_cache_ttl('x10:hour') BETWEEN '119 minutes' AND '2 hours' AS ttl_unchanged;

-- simple_cache.default_ttl (seconds) applies to put, add and replace without a ttl argument.
SET simple_cache.default_ttl = 90;
SHOW simple_cache.default_ttl;
SET simple_cache.default_ttl = '1h';
SHOW simple_cache.default_ttl;
SELECT simple_cache_put('x10:def:put', 'p') AS existed,
       simple_cache_add('x10:def:add', 'a') AS added,
       simple_cache_put('x10:def:bytea', '\x01'::bytea) AS existed2,
       simple_cache_replace('x10:forever', 'r') AS replaced;
SELECT simple_cache_ttl('x10:def:put') BETWEEN '59 minutes' AND '1 hour' AS put_default,
       simple_cache_ttl('x10:def:add') BETWEEN '59 minutes' AND '1 hour' AS add_default,
       simple_cache_ttl('x10:def:bytea') BETWEEN '59 minutes' AND '1 hour' AS bytea_default,
       simple_cache_ttl('x10:forever') BETWEEN '59 minutes' AND '1 hour' AS replace_default;
-- An explicit ttl wins over the default, and so does an explicit NULL (no expiry).
SELECT simple_cache_put('x10:def:explicit', 'e', '5 hours') AS existed,
       simple_cache_put('x10:def:null', 'n', NULL) AS existed2;
SELECT simple_cache_ttl('x10:def:explicit') BETWEEN '299 minutes' AND '5 hours' AS explicit_wins,
       simple_cache_ttl('x10:def:null') AS null_wins;
-- A key created by simple_cache_incr gets no ttl (the default applies to put, add, replace).
SELECT simple_cache_incr('x10:def:counter') AS counter;
SELECT simple_cache_ttl('x10:def:counter') AS counter_ttl;
-- The setting is per session (any role may set it) and rejects what is not a whole number of
-- seconds from 0 up (22023); a refused SET leaves the value as it was.
SELECT pg_temp.sqlstate_of($q$SET simple_cache.default_ttl = -1$q$) AS negative,
       pg_temp.sqlstate_of($q$SET simple_cache.default_ttl = 'soon'$q$) AS not_a_number,
       pg_temp.sqlstate_of($q$SET simple_cache.default_ttl = '1 fortnight'$q$) AS bad_unit,
       pg_temp.sqlstate_of($q$SET simple_cache.default_ttl = 2147483648$q$) AS too_large;
SHOW simple_cache.default_ttl;
SET simple_cache.default_ttl = 0;
SELECT simple_cache_put('x10:def:off', 'o') AS existed;
SELECT simple_cache_ttl('x10:def:off') AS ttl_when_default_is_zero;
RESET simple_cache.default_ttl;

-- Keys that expire: every way of giving a key a 1-second ttl, then one sleep.
SELECT simple_cache_put('x10:short:put', 'p', '1 second') AS existed,
       simple_cache_ttl('x10:short:put') BETWEEN '0' AND '1 second' AS ttl_at_most_1s;
SELECT simple_cache_put('x10:short:bytea', '\xdeadbeef'::bytea, '1 second') AS existed,
       simple_cache_add('x10:short:add', 'a', '1 second') AS added,
       simple_cache_put('x10:short:replace', 'before') AS existed2,
       simple_cache_replace('x10:short:replace', 'after', '1 second') AS replaced,
       simple_cache_put('x10:short:expire', 'e') AS existed3,
       simple_cache_expire('x10:short:expire', '1 second') AS expire_set;
-- incr and cas keep the key's ttl.
SELECT simple_cache_put('x10:short:incr', '10', '1 second') AS existed,
       simple_cache_incr('x10:short:incr', 5) AS incremented,
       simple_cache_put('x10:short:cas', 'old', '1 second') AS existed2,
       simple_cache_cas('x10:short:cas', 'old', 'new') AS swapped;
SELECT simple_cache_ttl('x10:short:incr') BETWEEN '0' AND '1 second' AS incr_kept_ttl,
       simple_cache_ttl('x10:short:cas') BETWEEN '0' AND '1 second' AS cas_kept_ttl;
-- With default_ttl = 1 a put without ttl expires too.
SET simple_cache.default_ttl = 1;
SELECT simple_cache_put('x10:short:default', 'd') AS existed;
RESET simple_cache.default_ttl;
-- The same keys with a long ttl, for comparison, and a key in mget.
SELECT simple_cache_put('x10:long:put', 'stays', '1 hour') AS existed;
SELECT count(*) AS short_keys FROM simple_cache_list() WHERE starts_with(key, 'x10:short:');
SELECT expirations AS expirations_before FROM simple_cache_stats \gset

SELECT pg_sleep(1.2);

-- After expiry every read sees nothing, and list leaves the keys out.
SELECT count(*) AS listed_after_expiry FROM simple_cache_list() WHERE starts_with(key, 'x10:short:');
SELECT simple_cache_ttl('x10:short:put') AS put_ttl, simple_cache_ttl('x10:short:add') AS add_ttl;
SELECT simple_cache_get('x10:short:put') AS put, simple_cache_get_bytea('x10:short:bytea') AS bytea,
       simple_cache_get('x10:short:add') AS add, simple_cache_get('x10:short:replace') AS replace,
       simple_cache_get('x10:short:default') AS by_default;
SELECT key, value FROM simple_cache_mget(ARRAY['x10:short:expire', 'x10:long:put', 'x10:short:incr']);
SELECT simple_cache_get('x10:long:put') AS long_ttl_stays;
-- Expired keys count as absent for every operation: drop finds nothing, expire and cas fail,
-- replace does not store, add and put store as for a new key, incr starts again from delta.
SELECT simple_cache_drop('x10:short:expire') AS dropped,
       simple_cache_expire('x10:short:put', '1 hour') AS expire_set,
       simple_cache_cas('x10:short:cas', 'new', 'newer') AS swapped,
       simple_cache_replace('x10:short:replace', 'again') AS replaced;
SELECT simple_cache_get('x10:short:put') AS put, simple_cache_get('x10:short:cas') AS cas,
       simple_cache_get('x10:short:replace') AS replace;
SELECT simple_cache_add('x10:short:add', 'added again') AS added,
       simple_cache_put('x10:short:bytea', 'put again') AS existed,
       simple_cache_incr('x10:short:incr', 7) AS incr_restarted;
SELECT simple_cache_get('x10:short:add') AS add, simple_cache_get('x10:short:bytea') AS bytea,
       simple_cache_ttl('x10:short:add') AS add_ttl, simple_cache_ttl('x10:short:incr') AS incr_ttl;
-- Every one of the 8 expired entries was counted as an expiration (reads and writes reap
-- expired entries, and so do light sweeps after writes).
SELECT expirations - :expirations_before >= 8 AS expirations_counted FROM simple_cache_stats;

-- Clean up.
RESET simple_cache.default_ttl;
SELECT count(*) > 0 AS dropped FROM simple_cache_list() WHERE starts_with(key, 'x10:') AND simple_cache_drop(key);
SELECT count(*) AS remaining FROM simple_cache_list() WHERE starts_with(key, 'x10:');
