-- pgTAP: the seven SQL functions exist with their signatures, return types, strictness,
-- volatility and privileges.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS simple_cache;
SELECT plan(36);

SELECT has_function('simple_cache_put', ARRAY['text', 'text']);
SELECT has_function('simple_cache_get', ARRAY['text']);
SELECT has_function('simple_cache_drop', ARRAY['text']);
SELECT has_function('simple_cache_list', ARRAY[]::name[]);
SELECT has_function('simple_cache_set_size_limit', ARRAY['bigint']);
SELECT has_function('simple_cache_dump_area', ARRAY[]::name[]);
SELECT has_function('simple_cache_dump_hash_table', ARRAY[]::name[]);

SELECT function_returns('simple_cache_put', ARRAY['text', 'text'], 'boolean');
SELECT function_returns('simple_cache_get', ARRAY['text'], 'text');
SELECT function_returns('simple_cache_drop', ARRAY['text'], 'boolean');
SELECT function_returns('simple_cache_list', ARRAY[]::name[], 'setof record');
SELECT function_returns('simple_cache_set_size_limit', ARRAY['bigint'], 'void');
SELECT function_returns('simple_cache_dump_area', ARRAY[]::name[], 'text');
SELECT function_returns('simple_cache_dump_hash_table', ARRAY[]::name[], 'text');

-- simple_cache_list's columns.
SELECT is(pg_get_function_arguments('simple_cache_list'::regproc), 'OUT key text, OUT value text',
          'simple_cache_list() returns (key text, value text) rows');

-- put and set_size_limit check NULLs themselves (to raise 22004); the others are STRICT.
SELECT isnt_strict('simple_cache_put', ARRAY['text', 'text']);
SELECT is_strict('simple_cache_get', ARRAY['text']);
SELECT is_strict('simple_cache_drop', ARRAY['text']);
SELECT is_strict('simple_cache_list', ARRAY[]::name[]);
SELECT isnt_strict('simple_cache_set_size_limit', ARRAY['bigint']);
SELECT is_strict('simple_cache_dump_area', ARRAY[]::name[]);
SELECT is_strict('simple_cache_dump_hash_table', ARRAY[]::name[]);

-- The cache changes under every call: nothing may be treated as stable.
SELECT volatility_is('simple_cache_put', ARRAY['text', 'text'], 'volatile');
SELECT volatility_is('simple_cache_get', ARRAY['text'], 'volatile');
SELECT volatility_is('simple_cache_drop', ARRAY['text'], 'volatile');
SELECT volatility_is('simple_cache_list', ARRAY[]::name[], 'volatile');
SELECT volatility_is('simple_cache_set_size_limit', ARRAY['bigint'], 'volatile');
SELECT volatility_is('simple_cache_dump_area', ARRAY[]::name[], 'volatile');
SELECT volatility_is('simple_cache_dump_hash_table', ARRAY[]::name[], 'volatile');

-- Any role may use the data functions; the size limit and the reports are revoked from PUBLIC.
CREATE ROLE tap_simple_cache_nobody;
SELECT function_privs_are('public', 'simple_cache_put', ARRAY['text', 'text'], 'tap_simple_cache_nobody', ARRAY['EXECUTE']);
SELECT function_privs_are('public', 'simple_cache_get', ARRAY['text'], 'tap_simple_cache_nobody', ARRAY['EXECUTE']);
SELECT function_privs_are('public', 'simple_cache_drop', ARRAY['text'], 'tap_simple_cache_nobody', ARRAY['EXECUTE']);
SELECT function_privs_are('public', 'simple_cache_list', ARRAY[]::name[], 'tap_simple_cache_nobody', ARRAY['EXECUTE']);
SELECT function_privs_are('public', 'simple_cache_set_size_limit', ARRAY['bigint'], 'tap_simple_cache_nobody', ARRAY[]::name[]);
SELECT function_privs_are('public', 'simple_cache_dump_area', ARRAY[]::name[], 'tap_simple_cache_nobody', ARRAY[]::name[]);
SELECT function_privs_are('public', 'simple_cache_dump_hash_table', ARRAY[]::name[], 'tap_simple_cache_nobody', ARRAY[]::name[]);

SELECT * FROM finish();
ROLLBACK;
