-- Smoke check for a server started with shared_preload_libraries = 'simple_cache'.
-- Run by test/run-all.sh with psql -v ON_ERROR_STOP=1: any error fails the suite.
DO $$
BEGIN
    IF current_setting('shared_preload_libraries') NOT LIKE '%simple_cache%' THEN
        RAISE EXCEPTION 'simple_cache is not in shared_preload_libraries (%)',
            current_setting('shared_preload_libraries');
    END IF;
END
$$;

CREATE EXTENSION simple_cache;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'simple_cache') THEN
        RAISE EXCEPTION 'simple_cache is not listed in pg_extension';
    END IF;
END
$$;

-- A second backend must also come up fine with the library preloaded.
\connect
SELECT extname, extversion FROM pg_extension WHERE extname = 'simple_cache';
