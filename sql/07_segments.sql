-- 07_segments: the area gives its DSM segments back. After 200 values of 1 MB, and then a
-- million small entries, are put and flushed, the segments' total falls back to what it was
-- before (within 2 MB), and no segment stays wholly free.
-- Keys start with 's07:'. A flush empties this database; other databases' entries stay, so
-- the bound is relative to the total measured after a first flush.
\pset null '<NULL>'

-- The segments' total and how many of them are wholly free, from the area report.
CREATE FUNCTION pg_temp.segment_bytes() RETURNS bigint
LANGUAGE sql AS $$ SELECT substring(simple_cache_dump_area() from '\nsegments: (\d+) bytes')::bigint $$;
CREATE FUNCTION pg_temp.wholly_free() RETURNS int
LANGUAGE sql AS $$ SELECT substring(simple_cache_dump_area() from '\nsegments: .*, (\d+) of them wholly free')::int $$;
CREATE FUNCTION pg_temp.in_use() RETURNS bigint
LANGUAGE sql AS $$ SELECT substring(simple_cache_dump_area() from 'in use: (\d+) bytes')::bigint $$;
-- dsa_dump()'s own figure, which the report line must repeat.
CREATE FUNCTION pg_temp.dump_total() RETURNS bigint
LANGUAGE sql AS $$ SELECT substring(simple_cache_dump_area() from '\n\s*total_segment_size: (\d+)')::bigint $$;

-- Room for everything below, whatever limit earlier tests left; put back at the end.
SELECT coalesce(size_limit, 9223372036854775807) AS limit_before FROM simple_cache_stats \gset
SELECT simple_cache_set_size_limit(1024 * 1024 * 1024);

SELECT simple_cache_flush() >= 0 AS flushed;
SELECT pg_temp.segment_bytes() AS base, pg_temp.in_use() AS in_use_before \gset
SELECT :base = pg_temp.dump_total() AS line_matches_dump, pg_temp.wholly_free() AS wholly_free;

-- 200 values of 1 MB: each takes pages of its own, in segments made for them.
SELECT count(*) AS new_big FROM generate_series(1, 200) g
WHERE NOT simple_cache_put('s07:big:' || g, repeat(chr(65 + g % 26), 1024 * 1024));
SELECT pg_temp.segment_bytes() - :base >= 200 * 1024 * 1024 AS segments_grew;
SELECT simple_cache_flush() AS flushed;
SELECT pg_temp.segment_bytes() - :base <= 2 * 1024 * 1024 AS big_given_back,
       pg_temp.wholly_free() AS wholly_free,
       pg_temp.in_use() = :in_use_before AS in_use_as_before;

-- A million small entries: the hash table grows to a million buckets and shrinks again.
SELECT count(*) AS new_small FROM generate_series(1, 1000000) g
WHERE NOT simple_cache_put('s07:' || g, 'v' || g);
SELECT pg_temp.segment_bytes() - :base >= 48 * 1024 * 1024 AS segments_grew;
SELECT simple_cache_flush() AS flushed;
SELECT pg_temp.segment_bytes() - :base <= 2 * 1024 * 1024 AS small_given_back,
       pg_temp.wholly_free() AS wholly_free,
       pg_temp.in_use() = :in_use_before AS in_use_as_before;

SELECT simple_cache_set_size_limit(:limit_before);
