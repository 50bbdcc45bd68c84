-- 07_segments: the area gives its DSM segments back. After 200 values of 1 MB, and then a
-- million small entries, are put and flushed, the segments' total falls back to what it was
-- before (within 2 MB), and no segment stays wholly free. A flush with another database's
-- values still in the area gives back the segments that only held this database's; so do
-- drops and replacements of large values, without a flush.
-- Keys start with 's07:'. A flush empties this database; other databases' entries stay, so
-- the bounds are relative to the total measured after a first flush.
\pset null '<NULL>'

SET client_min_messages = warning;
DROP SCHEMA IF EXISTS s07 CASCADE;
DROP DATABASE IF EXISTS regress_simple_cache_s07 WITH (FORCE);
RESET client_min_messages;
CREATE SCHEMA s07;
-- The segments' total and how many of them are wholly free, from the area report.
CREATE FUNCTION s07.segment_bytes() RETURNS bigint
LANGUAGE sql AS $$ SELECT substring(simple_cache_dump_area() from '\nsegments: (\d+) bytes')::bigint $$;
CREATE FUNCTION s07.wholly_free() RETURNS int
LANGUAGE sql AS $$ SELECT substring(simple_cache_dump_area() from '\nsegments: .*, (\d+) of them wholly free')::int $$;
CREATE FUNCTION s07.wholly_free_bytes() RETURNS bigint
LANGUAGE sql AS $$ SELECT substring(simple_cache_dump_area() from '\nsegments: .* wholly free \((\d+) bytes\)')::bigint $$;
CREATE FUNCTION s07.in_use() RETURNS bigint
LANGUAGE sql AS $$ SELECT substring(simple_cache_dump_area() from 'in use: (\d+) bytes')::bigint $$;
-- dsa_dump()'s own figure, which the report line must repeat.
CREATE FUNCTION s07.dump_total() RETURNS bigint
LANGUAGE sql AS $$ SELECT substring(simple_cache_dump_area() from '\n\s*total_segment_size: (\d+)')::bigint $$;

-- Room for everything below, whatever limit earlier tests left; put back at the end.
SELECT coalesce(size_limit, 9223372036854775807) AS limit_before FROM simple_cache_stats \gset
SELECT simple_cache_set_size_limit(1024 * 1024 * 1024);

SELECT simple_cache_flush() >= 0 AS flushed;
SELECT s07.segment_bytes() AS base, s07.in_use() AS in_use_before \gset
SELECT :base = s07.dump_total() AS line_matches_dump, s07.wholly_free() AS wholly_free;

-- 200 values of 1 MB: each takes pages of its own, in segments made for them.
SELECT count(*) AS new_big FROM generate_series(1, 200) g
WHERE NOT simple_cache_put('s07:big:' || g, repeat(chr(65 + g % 26), 1024 * 1024));
SELECT s07.segment_bytes() - :base >= 200 * 1024 * 1024 AS segments_grew;
SELECT simple_cache_flush() AS flushed;
SELECT s07.segment_bytes() - :base <= 2 * 1024 * 1024 AS big_given_back,
       s07.wholly_free() AS wholly_free,
       s07.in_use() = :in_use_before AS in_use_as_before;

-- A million small entries: the hash table grows to a million buckets and shrinks again.
SELECT count(*) AS new_small FROM generate_series(1, 1000000) g
WHERE NOT simple_cache_put('s07:' || g, 'v' || g);
-- (Less the room that was free in the segments already there: on a cluster that ran this file
-- before, other databases' entries can keep such segments.)
SELECT s07.segment_bytes() - :base >= 48 * 1024 * 1024 - (:base - :in_use_before) AS segments_grew;
SELECT simple_cache_flush() AS flushed;
SELECT s07.segment_bytes() - :base <= 2 * 1024 * 1024 AS small_given_back,
       s07.wholly_free() AS wholly_free,
       s07.in_use() = :in_use_before AS in_use_as_before;

-- Another database's 20 values of 1 MB, put first, stay in their segments; the 150 put here
-- after them go, and with them every segment they alone held.
SELECT current_database() AS main_db \gset
CREATE DATABASE regress_simple_cache_s07;
\c regress_simple_cache_s07
CREATE EXTENSION simple_cache;
SELECT count(*) AS other_big FROM generate_series(1, 20) g
WHERE NOT simple_cache_put('s07:other:' || g, repeat('o', 1024 * 1024));
\c :main_db
SELECT count(*) AS new_big FROM generate_series(1, 150) g
WHERE NOT simple_cache_put('s07:big:' || g, repeat('b', 1024 * 1024));
SELECT s07.segment_bytes() - :base >= 170 * 1024 * 1024 AS segments_grew;
SELECT simple_cache_flush() AS flushed;
SELECT s07.segment_bytes() - :base <= 40 * 1024 * 1024 AS mostly_given_back,
       s07.wholly_free() AS wholly_free;
\c regress_simple_cache_s07
SELECT count(*) AS other_intact FROM generate_series(1, 20) g
WHERE simple_cache_get('s07:other:' || g) = repeat('o', 1024 * 1024);
SELECT simple_cache_flush() AS flushed_other;
\c :main_db
SELECT s07.segment_bytes() - :base <= 2 * 1024 * 1024 AS all_given_back,
       s07.wholly_free() AS wholly_free,
       s07.in_use() = :in_use_before AS in_use_as_before;

DROP DATABASE regress_simple_cache_s07;

-- Without a flush: 200 values of 1 MB dropped one by one give their segments back as well,
-- but for at most 4 MB of wholly free segments kept for reuse. So do 200 more replaced one by
-- one with small values, but for the segments the small values now hold (which can be any:
-- they share one 64 kB block, wherever dsa.c put it); a flush then gives back the rest.
SELECT count(*) AS new_big FROM generate_series(1, 200) g
WHERE NOT simple_cache_put('s07:big:' || g, repeat('d', 1024 * 1024));
SELECT count(*) FILTER (WHERE simple_cache_drop('s07:big:' || g)) AS dropped FROM generate_series(1, 200) g;
SELECT s07.segment_bytes() - :base <= 6 * 1024 * 1024 AS dropped_given_back,
       s07.wholly_free_bytes() <= 4 * 1024 * 1024 AS spare_within_4mb,
       s07.in_use() = :in_use_before AS in_use_as_before;
SELECT count(*) AS new_big FROM generate_series(1, 200) g
WHERE NOT simple_cache_put('s07:big:' || g, repeat('r', 1024 * 1024));
SELECT count(*) FILTER (WHERE simple_cache_put('s07:big:' || g, 'small')) AS replaced FROM generate_series(1, 200) g;
SELECT s07.wholly_free_bytes() <= 4 * 1024 * 1024 AS spare_within_4mb;
SELECT simple_cache_flush() AS flushed;
SELECT s07.segment_bytes() - :base <= 2 * 1024 * 1024 AS all_given_back,
       s07.wholly_free() AS wholly_free,
       s07.in_use() = :in_use_before AS in_use_as_before;

SELECT simple_cache_set_size_limit(:limit_before);
DROP SCHEMA s07 CASCADE;
