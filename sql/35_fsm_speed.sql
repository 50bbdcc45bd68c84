-- 35_fsm_speed: simple_cache_fsm_vacuum over a table of 10,000 pages, then 100,000 get_page
-- calls (round-robin over every page with room), all measured on the server. Both must take
-- well under a second; the test allows one second for the two together. The times themselves
-- are not printed (they vary), only the verdict.
\pset null '<NULL>'

-- One row of 700 bytes per page (fillfactor 10): 10,000 pages, each with about 7.4 kB free.
CREATE TABLE fsm35_t (id int, pad text) WITH (fillfactor = 10, autovacuum_enabled = off);
INSERT INTO fsm35_t SELECT g, repeat('s', 700) FROM generate_series(1, 10000) g;
SELECT pg_relation_size('fsm35_t') / current_setting('block_size')::int AS pages;

CREATE TEMP TABLE fsm35_timing AS SELECT clock_timestamp() AS t0, NULL::timestamptz AS t1,
    NULL::timestamptz AS t2, NULL::int AS kept, NULL::bigint AS found;
UPDATE fsm35_timing SET kept = simple_cache_fsm_vacuum('fsm35_t'), t1 = clock_timestamp();
UPDATE fsm35_timing SET found = (SELECT count(simple_cache_fsm_get_page('fsm35_t', 4000))
                                 FROM generate_series(1, 100000)),
                        t2 = clock_timestamp();
SELECT kept, found, t2 - t0 < interval '1 second' AS under_a_second FROM fsm35_timing;
SELECT simple_cache_fsm_avg_request('fsm35_t') AS avg_request;
-- Round-robin: 100,000 more requests over the 10,000 pages hand out every page ten times.
SELECT count(*) AS distinct_pages, min(times), max(times)
FROM (SELECT page, count(*) AS times
      FROM (SELECT simple_cache_fsm_get_page('fsm35_t', 4000) AS page FROM generate_series(1, 100000)) r
      GROUP BY page) c;

DROP TABLE fsm35_t;
SELECT count(*) AS tracked FROM simple_cache_fsm_relations;
