-- 44_shared_structs: where the extension's small shared struct (the area's handle and tranche
-- ids) lives on a server that does not preload the library. Up to PostgreSQL 16 it is carved
-- from the main shared memory segment's spare room (ShmemInitStruct, listed in
-- pg_shmem_allocations); from 17 on it is a named DSM segment (GetNamedDSMSegment), the
-- mechanism made for libraries loaded after start-up, and the main segment is left alone.
SELECT simple_cache_put('s08:key', 'value') IS NOT NULL AS used,
       simple_cache_get('s08:key') AS value;
SELECT ((SELECT count(*) FROM pg_shmem_allocations WHERE name = 'simple_cache') = 1)
       = (current_setting('server_version_num')::int < 170000) AS in_the_main_segment_only_before_17;
SELECT simple_cache_drop('s08:key') AS dropped;
