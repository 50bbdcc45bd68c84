-- 18_layout_version: a backend whose library expects another layout of the shared area than the
-- one the area was made with is refused, with the same message on every call (it does not stay
-- half attached), and works again once it expects the right one. The mismatch is pretended with
-- the testing setting simple_cache.debug_layout_version, in a fresh session.
\set VERBOSITY terse
SELECT simple_cache_put('l18:k', 'v') IS NOT NULL AS area_exists;
\c
LOAD 'simple_cache';
SET simple_cache.debug_layout_version = 999999;
SELECT simple_cache_get('l18:k');
SELECT simple_cache_get('l18:k');
SELECT simple_cache_fsm_get_page(918001, 10);
RESET simple_cache.debug_layout_version;
SELECT simple_cache_get('l18:k') AS value;
SELECT simple_cache_drop('l18:k') AS dropped;
