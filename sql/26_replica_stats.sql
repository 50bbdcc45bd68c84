-- 26_replica_stats: simple_cache_replica_stats() without the library preloaded: no resource
-- manager, so nothing is logged or replayed, and writes at commit on a server without
-- standbys apply locally with no warning.
SELECT * FROM simple_cache_replica_stats();
SELECT simple_cache_put('replica:k', 'v');
BEGIN;
SELECT simple_cache_invalidate('replica:k');
COMMIT;
SELECT simple_cache_get('replica:k') IS NULL AS invalidated;
SELECT records_logged, puts_refused FROM simple_cache_replica_stats();
-- The setting's values; an unknown one is refused.
SET simple_cache.unreplicated_invalidations = error;
BEGIN;
SELECT simple_cache_invalidate('replica:k');
COMMIT;  -- no standby in sight: no error
SET simple_cache.unreplicated_invalidations = sometimes;
RESET simple_cache.unreplicated_invalidations;
SHOW simple_cache.unreplicated_invalidations;
-- The testing aid that lowers the record limit cannot raise it past 512 MB: PostgreSQL 15
-- writes a larger WAL record without complaint but cannot read one over 1 GB back, so a
-- standby (and the primary's own crash recovery) would stop at it.
SET simple_cache.debug_invalidation_record_limit = 600000000;
SET simple_cache.debug_invalidation_record_limit = 536870912;
RESET simple_cache.debug_invalidation_record_limit;
