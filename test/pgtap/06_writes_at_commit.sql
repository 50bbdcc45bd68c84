-- pgTAP: the writes at commit, the invalidation trigger and the prefix functions: signatures,
-- return types, strictness (the writes at commit raise 22004 for NULLs themselves), parallel
-- safety (the writes are PARALLEL UNSAFE; the reads that see them run in the leader only) and
-- privileges; and, inside this test's own transaction, that a pending write is the writer's
-- alone until the commit (which never comes: the test rolls back).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS simple_cache;
SELECT plan(49);

CREATE TEMP TABLE tap_functions (name name, args name[], returns text, strict boolean);
INSERT INTO tap_functions VALUES
    ('simple_cache_put_at_commit', ARRAY['text', 'text'], 'void', false),
    ('simple_cache_put_at_commit', ARRAY['text', 'text', 'interval'], 'void', false),
    ('simple_cache_put_at_commit', ARRAY['text', 'bytea'], 'void', false),
    ('simple_cache_put_at_commit', ARRAY['text', 'bytea', 'interval'], 'void', false),
    ('simple_cache_incr_at_commit', ARRAY['text', 'bigint'], 'bigint', false),
    ('simple_cache_invalidate', ARRAY['text'], 'void', false),
    ('simple_cache_invalidate_prefix', ARRAY['text'], 'void', false),
    ('simple_cache_invalidate_trigger', ARRAY[]::name[], 'trigger', false),
    ('simple_cache_list_prefix', ARRAY['text'], 'setof record', true),
    ('simple_cache_count_prefix', ARRAY['text'], 'bigint', true),
    ('simple_cache_drop_prefix', ARRAY['text'], 'bigint', true);

SELECT has_function(name, args) FROM tap_functions;
SELECT function_returns(name, args, returns) FROM tap_functions;
SELECT CASE WHEN strict THEN is_strict(name, args) ELSE isnt_strict(name, args) END FROM tap_functions;

SELECT is((SELECT string_agg(DISTINCT proparallel::text, ',') FROM pg_proc
           WHERE proname IN ('simple_cache_put_at_commit', 'simple_cache_incr_at_commit', 'simple_cache_invalidate',
                             'simple_cache_invalidate_prefix', 'simple_cache_invalidate_trigger', 'simple_cache_drop_prefix')),
          'u', 'the writes at commit and the prefix drop are PARALLEL UNSAFE');
SELECT is((SELECT string_agg(DISTINCT proparallel::text, ',') FROM pg_proc
           WHERE proname IN ('simple_cache_get', 'simple_cache_get_bytea', 'simple_cache_mget')),
          'r', 'the reads that see pending writes are PARALLEL RESTRICTED');

CREATE ROLE tap_simple_cache_at_commit_nobody;
SELECT function_privs_are('public', name, args, 'tap_simple_cache_at_commit_nobody', ARRAY['EXECUTE'])
FROM tap_functions;

SELECT lives_ok($$ SELECT simple_cache_put_at_commit('tap06:k', 'pending') $$, 'a put at commit is queued');
SELECT is(simple_cache_get('tap06:k'), 'pending', 'the writer reads its pending put');
SELECT is(simple_cache_count_prefix('tap06:'), 0::bigint, 'the cache does not hold it before the commit');

SELECT * FROM finish();
ROLLBACK;
