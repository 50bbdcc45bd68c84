-- pgTAP: every error the functions raise, with its SQLSTATE and message; after each one, no
-- partition lock is held, nothing changed, and the cache keeps working.
-- Keys start with 'tap03:'; the size limit is set back to the maximum before the end.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS simple_cache;
SELECT plan(60);

CREATE FUNCTION pg_temp.locks_held() RETURNS int
LANGUAGE sql AS $$
    SELECT substring(simple_cache_dump_hash_table() from 'partition locks held by this backend: (\d+)')::int
$$;

CREATE FUNCTION pg_temp.in_use() RETURNS bigint
LANGUAGE sql AS $$ SELECT substring(simple_cache_dump_area() from 'in use: (\d+) bytes')::bigint $$;

CREATE FUNCTION pg_temp.my_entries() RETURNS text
LANGUAGE sql AS $$
    SELECT coalesce(string_agg(key || '=' || value, ',' ORDER BY key COLLATE "C"), '')
    FROM simple_cache_list() WHERE starts_with(key, 'tap03:')
$$;

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'tap03:'); END $$;
DO $$ BEGIN PERFORM simple_cache_put('tap03:k', 'original'), simple_cache_put('tap03:other', 'other'); END $$;
SELECT pg_temp.my_entries() AS entries_before \gset

-- 22004: NULL key or value in put, NULL limit.
SELECT throws_ok($$SELECT simple_cache_put(NULL, 'x')$$, '22004', 'simple_cache_put: key must not be NULL',
                 'put with a NULL key raises 22004');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held after the NULL key error');
SELECT throws_ok($$SELECT simple_cache_put('tap03:k', NULL)$$, '22004', 'simple_cache_put: value must not be NULL',
                 'put with a NULL value raises 22004');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held after the NULL value error');
SELECT throws_ok($$SELECT simple_cache_put('tap03:new', NULL)$$, '22004', 'simple_cache_put: value must not be NULL',
                 'put of a new key with a NULL value raises 22004');
SELECT throws_ok($$SELECT simple_cache_put(NULL, NULL)$$, '22004', 'simple_cache_put: key must not be NULL',
                 'put with a NULL key and value raises 22004');
SELECT is(pg_temp.my_entries(), :'entries_before', 'the NULL puts changed nothing');
SELECT throws_ok($$SELECT simple_cache_set_size_limit(NULL)$$, '22004', 'simple_cache_set_size_limit: n must not be NULL',
                 'set_size_limit(NULL) raises 22004');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held after the NULL limit error');

-- 54000: a key of more than 1 MB, in every function taking a key.
SELECT throws_ok($$SELECT simple_cache_put('tap03:' || repeat('k', 1048571), 'x')$$, '54000', 'simple_cache key is too long',
                 'put with a key of 1 MB + 1 byte raises 54000');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held after the long key error in put');
SELECT throws_ok($$SELECT simple_cache_get('tap03:' || repeat('k', 1048571))$$, '54000', 'simple_cache key is too long',
                 'get with a key of 1 MB + 1 byte raises 54000');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held after the long key error in get');
SELECT throws_ok($$SELECT simple_cache_drop('tap03:' || repeat('k', 1048571))$$, '54000', 'simple_cache key is too long',
                 'drop with a key of 1 MB + 1 byte raises 54000');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held after the long key error in drop');
SELECT throws_ok($$SELECT simple_cache_put('tap03:' || repeat('é', 524285) || 'x', 'x')$$, '54000', 'simple_cache key is too long',
                 'the key limit counts bytes: 524285 two-byte characters after the prefix and one more byte raise 54000');
SELECT is(pg_temp.my_entries(), :'entries_before', 'the long keys changed nothing');

-- 22023: a limit that is not positive.
SELECT substring(simple_cache_dump_area() from 'size limit: ([^\n]*)') AS limit_before \gset
SELECT throws_ok($$SELECT simple_cache_set_size_limit(0)$$, '22023', 'simple_cache size limit must be positive',
                 'set_size_limit(0) raises 22023');
SELECT throws_ok($$SELECT simple_cache_set_size_limit(-1)$$, '22023', 'simple_cache size limit must be positive',
                 'set_size_limit(-1) raises 22023');
SELECT throws_ok($$SELECT simple_cache_set_size_limit(-9223372036854775808)$$, '22023', 'simple_cache size limit must be positive',
                 'set_size_limit of the smallest bigint raises 22023');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held after the bad limit errors');
SELECT is(substring(simple_cache_dump_area() from 'size limit: ([^\n]*)'), :'limit_before',
          'the refused limits were not applied');

-- 53200: a put that cannot fit under the limit (a value larger than the whole limit).
SET simple_cache.eviction = none;
SELECT substring(simple_cache_dump_area() from '\n\s*total_segment_size: (\d+)')::bigint AS lim \gset
SELECT lives_ok(format('SELECT simple_cache_set_size_limit(%s)', :lim), 'the limit can be set to the current area size');
SELECT pg_temp.in_use() AS in_use_before \gset
SELECT throws_ok(format('SELECT simple_cache_put(%L, repeat(%L, %s))', 'tap03:k', 'v', :lim + 1),
                 '53200', 'simple_cache is out of shared memory', 'a replacing put over the limit raises 53200');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held after the replacing put over the limit');
SELECT is(simple_cache_get('tap03:k'), 'original', 'the key keeps its old value');
SELECT throws_ok(format('SELECT simple_cache_put(%L, repeat(%L, %s))', 'tap03:new', 'v', :lim + 1),
                 '53200', 'simple_cache is out of shared memory', 'a new-key put over the limit raises 53200');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held after the new-key put over the limit');
SELECT is(simple_cache_get('tap03:new'), NULL, 'the new key was not stored');
SELECT is(pg_temp.my_entries(), :'entries_before', 'every entry is as it was');
SELECT is(pg_temp.in_use(), :in_use_before::bigint, 'the failed puts left no memory allocated');
SELECT lives_ok('SELECT simple_cache_set_size_limit(9223372036854775807)', 'the limit is raised again');
SELECT is(simple_cache_put('tap03:big', repeat('v', :lim + 1)), false, 'the same put fits under the raised limit');
SELECT is(simple_cache_drop('tap03:big'), true, 'the big entry is dropped');

-- 42501: a role without grants cannot use the size limit, the reports or the failure setting.
-- (SET LOCAL ROLE inside the statement is undone when its subtransaction fails.)
CREATE ROLE tap_simple_cache_nobody;
SELECT throws_ok($$SET LOCAL ROLE tap_simple_cache_nobody; SELECT simple_cache_set_size_limit(1)$$,
                 '42501', 'permission denied for function simple_cache_set_size_limit',
                 'set_size_limit is refused to a role without EXECUTE');
SELECT throws_ok($$SET LOCAL ROLE tap_simple_cache_nobody; SELECT simple_cache_dump_area()$$,
                 '42501', 'permission denied for function simple_cache_dump_area',
                 'dump_area is refused to a role without EXECUTE');
SELECT throws_ok($$SET LOCAL ROLE tap_simple_cache_nobody; SELECT simple_cache_dump_hash_table()$$,
                 '42501', 'permission denied for function simple_cache_dump_hash_table',
                 'dump_hash_table is refused to a role without EXECUTE');
SELECT throws_ok($$SET LOCAL ROLE tap_simple_cache_nobody; SET LOCAL simple_cache.debug_fail_after = 1$$,
                 '42501', 'permission denied to set parameter "simple_cache.debug_fail_after"',
                 'simple_cache.debug_fail_after is refused to a role that is not superuser');
SELECT is(current_user::text, session_user::text, 'the role switch was undone');
SELECT is(substring(simple_cache_dump_area() from 'size limit: ([^\n]*)'), '9223372036854775807 bytes',
          'the refused set_size_limit did not change the limit');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held after the privilege errors');
-- The data functions are open to that role.
SELECT lives_ok($$SET LOCAL ROLE tap_simple_cache_nobody;
                  SELECT simple_cache_put('tap03:role', 'r'), simple_cache_get('tap03:role'),
                         simple_cache_drop('tap03:role'), (SELECT count(*) FROM simple_cache_list())$$,
                'put, get, drop and list work for a role without special grants');
RESET ROLE;

-- XX000: an injected failure at the first shared-memory operation of each data function.
SELECT throws_ok($$SELECT set_config('simple_cache.debug_fail_after', '1', true); SELECT simple_cache_put('tap03:k', 'injected')$$,
                 'XX000', 'simple_cache: injected failure', 'an injected failure in put raises XX000');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held after the failure in put');
SELECT is(simple_cache_get('tap03:k'), 'original', 'the failed put did not change the value');
SELECT throws_ok($$SELECT set_config('simple_cache.debug_fail_after', '1', true); SELECT simple_cache_put('tap03:new', 'injected')$$,
                 'XX000', 'simple_cache: injected failure', 'an injected failure in a new-key put raises XX000');
SELECT is(simple_cache_get('tap03:new'), NULL, 'the failed put did not store the new key');
SELECT throws_ok($$SELECT set_config('simple_cache.debug_fail_after', '1', true); SELECT simple_cache_get('tap03:k')$$,
                 'XX000', 'simple_cache: injected failure', 'an injected failure in get raises XX000');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held after the failure in get');
SELECT throws_ok($$SELECT set_config('simple_cache.debug_fail_after', '1', true); SELECT simple_cache_drop('tap03:k')$$,
                 'XX000', 'simple_cache: injected failure', 'an injected failure in drop raises XX000');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held after the failure in drop');
SELECT is(simple_cache_get('tap03:k'), 'original', 'the failed drop left the key in place');
SELECT throws_ok($$SELECT set_config('simple_cache.debug_fail_after', '50', true); SELECT count(*) FROM simple_cache_list()$$,
                 'XX000', 'simple_cache: injected failure', 'an injected failure in the middle of list raises XX000');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held after the failure in list');
SELECT is(current_setting('simple_cache.debug_fail_after'), '0', 'the failure setting is off again');
SELECT is(pg_temp.my_entries(), :'entries_before', 'after all the errors every entry is as it was');
SELECT is(simple_cache_put('tap03:k', 'changed'), true, 'put works after the errors');
SELECT is(simple_cache_get('tap03:k'), 'changed', 'get works after the errors');

-- Clean up (ROLLBACK does not remove cache entries).
SELECT is((SELECT count(*) FROM simple_cache_list() WHERE starts_with(key, 'tap03:') AND simple_cache_drop(key)),
          2::bigint, 'the entries of this file are dropped');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held at the end');

SELECT * FROM finish();
ROLLBACK;
