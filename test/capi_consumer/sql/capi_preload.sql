-- capi_preload: run only on a server with shared_preload_libraries = 'capi_consumer'
-- (test/run-all.sh, suite capi, second part), not by "make installcheck" alone. The
-- consumer's _PG_init, run in the postmaster, loads simple_cache with simple_cache_api_load()
-- although the list does not name it; every backend inherits the library, the published
-- struct and the pointer, so the API is there before any call.
SHOW shared_preload_libraries;
SELECT capi_found_at_preload() AS found_in_postmaster, capi_published() AS published;
SELECT capi_put('p:key', 'preloaded') AS existed, simple_cache_get('p:key') AS sql_get, capi_drop('p:key') AS dropped;
