-- pgTAP: the functions and settings beyond put/get/drop/list: expiry, add/replace/incr/cas,
-- bytea values, mget, flush and the statistics. Their signatures, return types, strictness,
-- volatility and privileges; the statistics view's columns; every error they raise, with its
-- SQLSTATE and message, after which nothing changed and no partition lock is held.
-- Keys start with 'tap04:'; the size limit is set back before the end.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS simple_cache;
SELECT plan(238);

CREATE FUNCTION pg_temp.locks_held() RETURNS int
LANGUAGE sql AS $$
    SELECT substring(simple_cache_dump_hash_table() from 'partition locks held by this backend: (\d+)')::int
$$;

CREATE FUNCTION pg_temp.my_entries() RETURNS text
LANGUAGE sql AS $$
    SELECT coalesce(string_agg(key || '=' || encode(simple_cache_get_bytea(key), 'hex') || '/' ||
                               (simple_cache_ttl(key) IS NOT NULL), ',' ORDER BY key COLLATE "C"), '')
    FROM simple_cache_list() WHERE starts_with(key, 'tap04:')
$$;

-- The functions: name, argument types, result type, whether STRICT.
CREATE TEMP TABLE fns (name name, args name[], result text, strict boolean);
INSERT INTO fns VALUES
    ('simple_cache_put',         ARRAY['text', 'text', 'interval'],  'boolean',  false),
    ('simple_cache_put',         ARRAY['text', 'bytea'],             'boolean',  false),
    ('simple_cache_put',         ARRAY['text', 'bytea', 'interval'], 'boolean',  false),
    ('simple_cache_add',         ARRAY['text', 'text'],              'boolean',  false),
    ('simple_cache_add',         ARRAY['text', 'text', 'interval'],  'boolean',  false),
    ('simple_cache_add',         ARRAY['text', 'bytea'],             'boolean',  false),
    ('simple_cache_add',         ARRAY['text', 'bytea', 'interval'], 'boolean',  false),
    ('simple_cache_replace',     ARRAY['text', 'text'],              'boolean',  false),
    ('simple_cache_replace',     ARRAY['text', 'text', 'interval'],  'boolean',  false),
    ('simple_cache_replace',     ARRAY['text', 'bytea'],             'boolean',  false),
    ('simple_cache_replace',     ARRAY['text', 'bytea', 'interval'], 'boolean',  false),
    ('simple_cache_incr',        ARRAY['text', 'bigint'],            'bigint',   false),
    ('simple_cache_cas',         ARRAY['text', 'text', 'text'],      'boolean',  false),
    ('simple_cache_get_bytea',   ARRAY['text'],                      'bytea',    true),
    ('simple_cache_mget',        ARRAY['text[]'],                    'setof record', true),
    ('simple_cache_expire',      ARRAY['text', 'interval'],          'boolean',  true),
    ('simple_cache_ttl',         ARRAY['text'],                      'interval', true),
    ('simple_cache_flush',       ARRAY[]::name[],                    'bigint',   true),
    ('simple_cache_stats',       ARRAY[]::name[],                    'record',   true),
    ('simple_cache_stats_reset', ARRAY[]::name[],                    'void',     true);

-- 20 x 4: they exist, return what they should, are STRICT or check NULLs themselves (to raise
-- 22004), and are volatile.
SELECT has_function(name, args) FROM fns ORDER BY name, args;
SELECT function_returns(name, args, result) FROM fns ORDER BY name, args;
SELECT CASE WHEN strict THEN is_strict(name, args) ELSE isnt_strict(name, args) END FROM fns ORDER BY name, args;
SELECT volatility_is(name, args, 'volatile') FROM fns ORDER BY name, args;

-- Argument and result details.
SELECT is(pg_get_function_arguments('simple_cache_incr(text,bigint)'::regprocedure), 'key text, delta bigint DEFAULT 1',
          'simple_cache_incr has delta DEFAULT 1');
SELECT is(pg_get_function_result('simple_cache_mget(text[])'::regprocedure), 'TABLE(key text, value text)',
          'simple_cache_mget returns TABLE(key text, value text)');
SELECT is(pg_get_function_arguments('simple_cache_cas(text,text,text)'::regprocedure), 'key text, expected text, new_value text',
          'simple_cache_cas takes key, expected, new_value');

-- The statistics view: 13 columns of the right types.
SELECT has_view('simple_cache_stats');
SELECT columns_are('simple_cache_stats', ARRAY['entries', 'key_value_bytes', 'area_bytes', 'size_limit', 'hits', 'misses',
                   'puts', 'drops', 'evictions', 'expirations', 'resizes', 'buckets', 'stats_reset']);
SELECT has_column('simple_cache_stats'::name, c::name) FROM unnest(ARRAY['entries', 'key_value_bytes', 'area_bytes', 'size_limit', 'hits',
       'misses', 'puts', 'drops', 'evictions', 'expirations', 'resizes', 'buckets', 'stats_reset']) c;
SELECT col_type_is('simple_cache_stats'::name, c::name, 'bigint') FROM unnest(ARRAY['entries', 'key_value_bytes', 'area_bytes', 'size_limit',
       'hits', 'misses', 'puts', 'drops', 'evictions', 'expirations', 'resizes', 'buckets']) c;
SELECT col_type_is('simple_cache_stats', 'stats_reset', 'timestamp with time zone');
SELECT is((SELECT count(*) FROM simple_cache_stats), 1::bigint, 'the view has one row');

-- The settings.
SELECT is((SELECT boot_val || '/' || unit || '/' || context FROM pg_settings WHERE name = 'simple_cache.default_ttl'),
          '0/s/user', 'simple_cache.default_ttl: 0 seconds by default, any user may set it');
SELECT is((SELECT boot_val || '/' || unit || '/' || context FROM pg_settings WHERE name = 'simple_cache.max_memory'),
          '262144/kB/sighup', 'simple_cache.max_memory: 256 MB by default, set for the whole server');
SELECT is((SELECT boot_val || '/' || context || '/' || array_to_string(enumvals, ',') FROM pg_settings WHERE name = 'simple_cache.eviction'),
          'lru/superuser/lru,none', 'simple_cache.eviction: lru by default, or none; superuser only');

-- Privileges: data functions and stats() for everyone; flush and stats_reset revoked from
-- PUBLIC; the dumps granted to pg_monitor.
CREATE ROLE tap_simple_cache_nobody04;
SELECT function_privs_are('public', name, args, 'tap_simple_cache_nobody04', ARRAY['EXECUTE'])
FROM fns WHERE name NOT IN ('simple_cache_flush', 'simple_cache_stats_reset') ORDER BY name, args;
SELECT function_privs_are('public', 'simple_cache_flush', ARRAY[]::name[], 'tap_simple_cache_nobody04', ARRAY[]::name[]);
SELECT function_privs_are('public', 'simple_cache_stats_reset', ARRAY[]::name[], 'tap_simple_cache_nobody04', ARRAY[]::name[]);
SELECT function_privs_are('public', 'simple_cache_flush', ARRAY[]::name[], 'pg_monitor', ARRAY[]::name[]);
SELECT function_privs_are('public', 'simple_cache_stats_reset', ARRAY[]::name[], 'pg_monitor', ARRAY[]::name[]);
SELECT function_privs_are('public', 'simple_cache_dump_area', ARRAY[]::name[], 'pg_monitor', ARRAY['EXECUTE']);
SELECT function_privs_are('public', 'simple_cache_dump_hash_table', ARRAY[]::name[], 'pg_monitor', ARRAY['EXECUTE']);
SELECT function_privs_are('public', 'simple_cache_set_size_limit', ARRAY['bigint'], 'pg_monitor', ARRAY[]::name[]);

-- ---------------------------------------------------------------------------------------------
-- Behaviour, briefly (the pg_regress suites go further).
DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'tap04:'); END $$;
SELECT is(simple_cache_put('tap04:k', 'original'), false, 'put of a new key');
SELECT is(simple_cache_add('tap04:k', 'x'), false, 'add of a present key is refused');
SELECT is(simple_cache_add('tap04:added', 'a', '1 hour'), true, 'add of an absent key stores it');
SELECT ok(simple_cache_ttl('tap04:added') BETWEEN '59 minutes' AND '1 hour', 'the ttl given to add is in force');
SELECT is(simple_cache_replace('tap04:absent', 'x'), false, 'replace of an absent key is refused');
SELECT is(simple_cache_get('tap04:absent'), NULL, 'replace did not create the key');
SELECT is(simple_cache_replace('tap04:added', 'b'), true, 'replace of a present key stores the value');
SELECT is(simple_cache_ttl('tap04:added'), NULL, 'replace without a ttl leaves no ttl (default_ttl is 0)');
SELECT is(simple_cache_incr('tap04:n'), 1::bigint, 'incr creates an absent key with 1');
SELECT is(simple_cache_incr('tap04:n', 41), 42::bigint, 'incr adds delta');
SELECT is(simple_cache_get('tap04:n'), '42', 'incr stores the result as text');
SELECT is(simple_cache_cas('tap04:n', '42', '43'), true, 'cas with the current value swaps');
SELECT is(simple_cache_cas('tap04:n', '42', '44'), false, 'cas with a stale value does not');
SELECT is(simple_cache_get('tap04:n'), '43', 'the value is the swapped one');
SELECT is(simple_cache_put('tap04:bin', '\x00ff'::bytea), false, 'a bytea value can be put');
SELECT is(simple_cache_get_bytea('tap04:bin'), '\x00ff'::bytea, 'and read back byte for byte');
SELECT is(simple_cache_get_bytea('tap04:k'), convert_to('original', 'UTF8'), 'a text value reads as its bytes');
SELECT is(simple_cache_put('tap04:utf8', convert_to('héllo', 'UTF8')), false, 'a bytea value that is valid UTF-8');
SELECT is(simple_cache_get('tap04:utf8'), 'héllo', 'reads as text');
SELECT results_eq($$SELECT key, value FROM simple_cache_mget(ARRAY['tap04:n', 'tap04:none', 'tap04:k'])$$,
                  $$VALUES ('tap04:n', '43'), ('tap04:none', NULL), ('tap04:k', 'original')$$,
                  'mget returns the keys in order, NULL for an absent one');
SELECT is(simple_cache_expire('tap04:k', '1 hour'), true, 'expire sets a ttl on a present key');
SELECT ok(simple_cache_ttl('tap04:k') BETWEEN '59 minutes' AND '1 hour', 'ttl reports the remaining time');
SELECT is(simple_cache_expire('tap04:absent', '1 hour'), false, 'expire of an absent key is false');
SELECT is(simple_cache_put('tap04:k', 'original', NULL), true, 'put with a NULL ttl');
SELECT is(simple_cache_ttl('tap04:k'), NULL, 'removes the ttl');
SELECT is(simple_cache_put('tap04:short', 's', '1 second'), false, 'put with a 1-second ttl');
DO $$ BEGIN PERFORM pg_sleep(1.2); END $$;
SELECT is(simple_cache_get('tap04:short'), NULL, 'the key has expired');
SELECT is((SELECT count(*) FROM simple_cache_list() WHERE key = 'tap04:short'), 0::bigint, 'and is not listed');
SELECT lives_ok('SET LOCAL simple_cache.default_ttl = 3600', 'default_ttl can be set');
SELECT is(simple_cache_put('tap04:default', 'd'), false, 'a put without ttl');
SELECT ok(simple_cache_ttl('tap04:default') BETWEEN '59 minutes' AND '1 hour', 'gets default_ttl');
SELECT lives_ok('SET LOCAL simple_cache.default_ttl = 0', 'default_ttl set back to 0');
SELECT ok((SELECT entries > 0 AND size_limit > 0 AND area_bytes >= key_value_bytes FROM simple_cache_stats),
          'the statistics show entries, a limit and the bytes in use');
SELECT lives_ok('SELECT simple_cache_stats_reset()', 'stats_reset works for a superuser');
SELECT is((SELECT hits + misses + puts + drops + evictions + expirations FROM simple_cache_stats), 0::bigint,
          'stats_reset zeroes the counters');

-- ---------------------------------------------------------------------------------------------
-- Errors. Each is followed by checks that nothing changed.
SELECT pg_temp.my_entries() AS entries_before \gset

-- 22023: a zero, negative or sub-millisecond ttl.
SELECT throws_ok($$SELECT simple_cache_put('tap04:k', 'x', '0 seconds')$$, '22023',
                 'simple_cache_put: time to live must be positive', 'put with a zero ttl raises 22023');
SELECT throws_ok($$SELECT simple_cache_put('tap04:bin', '\x01'::bytea, '-1 hour')$$, '22023',
                 'simple_cache_put: time to live must be positive', 'bytea put with a negative ttl raises 22023');
SELECT throws_ok($$SELECT simple_cache_add('tap04:new', 'x', '-1 second')$$, '22023',
                 'simple_cache_add: time to live must be positive', 'add with a negative ttl raises 22023');
SELECT throws_ok($$SELECT simple_cache_replace('tap04:k', 'x', '0 seconds')$$, '22023',
                 'simple_cache_replace: time to live must be positive', 'replace with a zero ttl raises 22023');
SELECT throws_ok($$SELECT simple_cache_expire('tap04:k', '-1 day')$$, '22023',
                 'simple_cache_expire: time to live must be positive', 'expire with a negative ttl raises 22023');
SELECT throws_ok($$SELECT simple_cache_put('tap04:k', 'x', '0.5 milliseconds')$$, '22023',
                 'simple_cache_put: time to live must be positive', 'a ttl under a millisecond raises 22023');
-- 22008: a ttl past the end of the expiry field.
SELECT throws_ok($$SELECT simple_cache_put('tap04:k', 'x', '5000 years')$$, '22008',
                 'simple_cache time to live is too long', 'put with a ttl of 5000 years raises 22008');
SELECT throws_ok($$SELECT simple_cache_expire('tap04:k', '5000 years')$$, '22008',
                 'simple_cache time to live is too long', 'expire with a ttl of 5000 years raises 22008');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held after the ttl errors');

-- 22004: NULL arguments.
SELECT throws_ok($$SELECT simple_cache_put('tap04:bin', NULL::bytea)$$, '22004',
                 'simple_cache_put: value must not be NULL', 'bytea put with a NULL value raises 22004');
SELECT throws_ok($$SELECT simple_cache_add(NULL, 'x')$$, '22004',
                 'simple_cache_add: key must not be NULL', 'add with a NULL key raises 22004');
SELECT throws_ok($$SELECT simple_cache_add('tap04:new', NULL::text)$$, '22004',
                 'simple_cache_add: value must not be NULL', 'add with a NULL value raises 22004');
SELECT throws_ok($$SELECT simple_cache_replace('tap04:k', NULL::bytea)$$, '22004',
                 'simple_cache_replace: value must not be NULL', 'replace with a NULL value raises 22004');
SELECT throws_ok($$SELECT simple_cache_incr(NULL)$$, '22004',
                 'simple_cache_incr: key must not be NULL', 'incr with a NULL key raises 22004');
SELECT throws_ok($$SELECT simple_cache_incr('tap04:n', NULL)$$, '22004',
                 'simple_cache_incr: delta must not be NULL', 'incr with a NULL delta raises 22004');
SELECT throws_ok($$SELECT simple_cache_cas(NULL, 'a', 'b')$$, '22004',
                 'simple_cache_cas: key must not be NULL', 'cas with a NULL key raises 22004');
SELECT throws_ok($$SELECT simple_cache_cas('tap04:n', NULL, 'b')$$, '22004',
                 'simple_cache_cas: expected must not be NULL', 'cas with a NULL expected value raises 22004');
SELECT throws_ok($$SELECT simple_cache_cas('tap04:n', '43', NULL)$$, '22004',
                 'simple_cache_cas: new_value must not be NULL', 'cas with a NULL new value raises 22004');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held after the NULL errors');

-- 22P02 and 22003: incr on a value that is not a 64-bit integer, or past the ends of bigint.
SELECT lives_ok($$SELECT simple_cache_put('tap04:word', 'seven'), simple_cache_put('tap04:max', '9223372036854775807'),
                         simple_cache_put('tap04:min', '-9223372036854775808'), simple_cache_put('tap04:huge', '1' || repeat('0', 20)),
                         simple_cache_put('tap04:digits', '\x3432'::bytea), simple_cache_put('tap04:bad', '\xff'::bytea)$$,
                'values for the incr and encoding errors');
SELECT pg_temp.my_entries() AS entries_before \gset
SELECT throws_ok($$SELECT simple_cache_incr('tap04:word')$$, '22P02',
                 'simple_cache value is not a 64-bit integer', 'incr of a word raises 22P02');
SELECT throws_ok($$SELECT simple_cache_incr('tap04:digits')$$, '22P02',
                 'simple_cache value is not a 64-bit integer', 'incr of a bytea value raises 22P02, even if it is digits');
SELECT throws_ok($$SELECT simple_cache_incr('tap04:max')$$, '22003',
                 'simple_cache_incr result is out of range for bigint', 'incr past the largest bigint raises 22003');
SELECT throws_ok($$SELECT simple_cache_incr('tap04:min', -1)$$, '22003',
                 'simple_cache_incr result is out of range for bigint', 'incr past the smallest bigint raises 22003');
SELECT throws_ok($$SELECT simple_cache_incr('tap04:huge')$$, '22003',
                 'simple_cache value is not a 64-bit integer', 'incr of a number out of bigint range raises 22003');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held after the incr errors');

-- 22021: a bytea value that is not valid text, read as text.
SELECT throws_ok($$SELECT simple_cache_get('tap04:bad')$$, '22021',
                 'simple_cache value is not valid text in this database''s encoding', 'get of invalid text raises 22021');
SELECT throws_ok($$SELECT * FROM simple_cache_mget(ARRAY['tap04:k', 'tap04:bad'])$$, '22021',
                 'simple_cache value is not valid text in this database''s encoding', 'mget of invalid text raises 22021');
SELECT is(simple_cache_get_bytea('tap04:bad'), '\xff'::bytea, 'the value reads as bytea');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held after the encoding errors');
SELECT lives_ok($$SELECT simple_cache_drop('tap04:bad')$$, 'the invalid-text value is dropped');
SELECT pg_temp.my_entries() AS entries_before \gset

-- 54000: a key over 1 MB.
SELECT throws_ok($$SELECT simple_cache_add('tap04:' || repeat('k', 1048571), 'x')$$, '54000',
                 'simple_cache key is too long', 'add with a key of 1 MB + 1 byte raises 54000');
SELECT throws_ok($$SELECT simple_cache_incr('tap04:' || repeat('k', 1048571))$$, '54000',
                 'simple_cache key is too long', 'incr with a key of 1 MB + 1 byte raises 54000');
SELECT throws_ok($$SELECT simple_cache_get_bytea('tap04:' || repeat('k', 1048571))$$, '54000',
                 'simple_cache key is too long', 'get_bytea with a key of 1 MB + 1 byte raises 54000');
SELECT throws_ok($$SELECT * FROM simple_cache_mget(ARRAY['tap04:' || repeat('k', 1048571)])$$, '54000',
                 'simple_cache key is too long', 'mget with a key of 1 MB + 1 byte raises 54000');
SELECT throws_ok($$SELECT simple_cache_ttl('tap04:' || repeat('k', 1048571))$$, '54000',
                 'simple_cache key is too long', 'ttl with a key of 1 MB + 1 byte raises 54000');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held after the long key errors');

-- 53200: a value larger than the whole limit (with and without eviction); lowering the limit
-- below what is in use while eviction is none.
SELECT size_limit AS limit_before FROM simple_cache_stats \gset
SELECT lives_ok('SELECT simple_cache_set_size_limit(4 * 1024 * 1024 + (SELECT area_bytes FROM simple_cache_stats))',
                'a limit 4 MB above what is in use');
SELECT size_limit AS lim, evictions AS evictions_before FROM simple_cache_stats \gset
SELECT throws_ok(format('SELECT simple_cache_put(%L, repeat(%L, %s))', 'tap04:k', 'v', :lim + 1), '53200',
                 'simple_cache is out of shared memory', 'with eviction = lru, a value larger than the limit raises 53200');
SELECT throws_ok(format('SELECT simple_cache_add(%L, repeat(%L, %s))', 'tap04:new', 'v', :lim + 1), '53200',
                 'simple_cache is out of shared memory', 'so does add');
SELECT lives_ok('SET LOCAL simple_cache.eviction = none', 'eviction off');
SELECT throws_ok(format('SELECT simple_cache_put(%L, repeat(%L, %s))', 'tap04:k', 'v', :lim + 1), '53200',
                 'simple_cache is out of shared memory', 'with eviction = none, a value larger than the limit raises 53200');
SELECT throws_ok(format('SELECT simple_cache_set_size_limit(%s)', (SELECT area_bytes / 2 FROM simple_cache_stats)), '53200',
                 'simple_cache size limit is below the memory in use',
                 'with eviction = none, a limit below the memory in use raises 53200');
SELECT is((SELECT size_limit FROM simple_cache_stats), :lim::bigint, 'the refused limit was not applied');
SELECT is((SELECT evictions FROM simple_cache_stats), :evictions_before::bigint, 'nothing was evicted');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held after the out-of-memory errors');
SELECT lives_ok('SET LOCAL simple_cache.eviction = lru', 'eviction back on');
SELECT lives_ok(format('SELECT simple_cache_set_size_limit(%s)', :limit_before), 'the limit is set back');

-- Settings: bad values (22023), a server setting set in a session (55P02), a superuser setting
-- set by another role (42501).
SELECT throws_ok($$SET LOCAL simple_cache.eviction = 'fifo'$$, '22023',
                 'invalid value for parameter "simple_cache.eviction": "fifo"', 'an unknown eviction policy raises 22023');
-- (The SQLSTATE only: the server words the range of a setting with units differently across
-- releases, "(0 .. 2147483647)" in 15 and 16, "(0 s .. 2147483647 s)" from 17 on.)
SELECT throws_ok($$SET LOCAL simple_cache.default_ttl = -1$$, '22023', NULL,
                 'a negative default_ttl raises 22023');
SELECT throws_ok($$SET LOCAL simple_cache.max_memory = '1GB'$$, '55P02',
                 'parameter "simple_cache.max_memory" cannot be changed now', 'max_memory cannot be SET in a session');
SELECT throws_ok($$SET LOCAL ROLE tap_simple_cache_nobody04; SET LOCAL simple_cache.eviction = none$$, '42501',
                 'permission denied to set parameter "simple_cache.eviction"', 'eviction is for superusers');

-- 42501: flush and stats_reset for a role without grants.
SELECT throws_ok($$SET LOCAL ROLE tap_simple_cache_nobody04; SELECT simple_cache_flush()$$, '42501',
                 'permission denied for function simple_cache_flush', 'flush is refused to a role without EXECUTE');
SELECT throws_ok($$SET LOCAL ROLE tap_simple_cache_nobody04; SELECT simple_cache_stats_reset()$$, '42501',
                 'permission denied for function simple_cache_stats_reset', 'stats_reset is refused to a role without EXECUTE');
SELECT is(current_user::text, session_user::text, 'the role switch was undone');
SELECT lives_ok($$SET LOCAL ROLE tap_simple_cache_nobody04;
                  SELECT simple_cache_add('tap04:role', 'r'), simple_cache_incr('tap04:role:n'), simple_cache_ttl('tap04:role'),
                         simple_cache_get_bytea('tap04:role'), (SELECT count(*) FROM simple_cache_mget(ARRAY['tap04:role'])),
                         (SELECT entries FROM simple_cache_stats())$$,
                'the data functions and simple_cache_stats() work for a role without grants');
RESET ROLE;
SELECT lives_ok($$SELECT simple_cache_drop('tap04:role'), simple_cache_drop('tap04:role:n')$$, 'its keys are dropped');
SELECT is(pg_temp.my_entries(), :'entries_before', 'after all the errors every entry is as it was');
SELECT is(simple_cache_get('tap04:k'), 'original', 'and the cache keeps working');

-- flush removes this database's entries (the other pgTAP files leave none behind).
SELECT cmp_ok(simple_cache_flush(), '>=', 9::bigint, 'flush removes at least this file''s entries and returns the count');
SELECT is((SELECT count(*) FROM simple_cache_list()), 0::bigint, 'nothing is left in this database');
SELECT is(simple_cache_flush(), 0::bigint, 'a second flush finds nothing');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held at the end');

SELECT * FROM finish();
ROLLBACK;
