-- 50_citus_absent: the Citus glue on a server without Citus. The set-up and the cluster-wide
-- calls fail with 55000 and change nothing; the keyed functions behave as on any single
-- server (no shard map: every key is this node's); the planner support of the keyed functions
-- raises a constant NULL key's error while planning, with the call's own message, and leaves
-- calls in queries with a FROM clause working. (With Citus: test/t/060_citus.pl.)
-- Keys start with 'e50:'.
\set VERBOSITY terse

-- Runs a statement and returns its SQLSTATE, or 'ok'.
CREATE FUNCTION pg_temp.sqlstate_of(statement text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

SELECT simple_cache_put('e50:a', 'one');

SELECT simple_cache_citus_distribute();
SELECT simple_cache_citus_distribute(4);
SELECT simple_cache_citus_flush();
SELECT * FROM simple_cache_citus_list();
SELECT * FROM simple_cache_citus_mget(ARRAY['e50:a']);
SELECT simple_cache_citus_drop_moved();
SELECT * FROM simple_cache_citus_stats();
SELECT pg_temp.sqlstate_of('SELECT * FROM ' || call) AS sqlstate, call
FROM unnest(ARRAY['simple_cache_citus_distribute()', 'simple_cache_citus_flush()',
                  'simple_cache_citus_list()', $$simple_cache_citus_mget(ARRAY['e50:a'])$$,
                  'simple_cache_citus_drop_moved()', 'simple_cache_citus_stats()']) call;
SELECT to_regclass('simple_cache_citus_anchor') AS no_anchor_made;

-- No shard map: no owner, nothing to drop, every key served here in any form.
SELECT simple_cache_citus_owner('e50:a') AS owner, simple_cache_citus_drop_unowned() AS dropped;
SELECT simple_cache_get('e50:a');
SELECT simple_cache_put(k, 'two') FROM (VALUES ('e50:b')) v(k);
SELECT key, simple_cache_get(key) FROM (VALUES ('e50:a'), ('e50:b')) v(key) ORDER BY key;
BEGIN;
SELECT simple_cache_incr('e50:n'), simple_cache_incr('e50:n', 2);
COMMIT;

-- A constant NULL key fails while the call is planned (also in EXPLAIN, also as a bound
-- parameter of a custom plan), with the message the call itself gives; STRICT ones fold.
SELECT simple_cache_put(NULL, 'x');
EXPLAIN (COSTS OFF) SELECT simple_cache_add(NULL, 'x', interval '1 hour');
PREPARE put_key(text) AS SELECT simple_cache_put($1, 'x');
SET plan_cache_mode = force_custom_plan;
EXECUTE put_key(NULL);
RESET plan_cache_mode;
SELECT simple_cache_get(NULL) IS NULL AS strict_get, simple_cache_drop(NULL) IS NULL AS strict_drop;
SELECT pg_temp.sqlstate_of(format('SELECT %s', call)) AS sqlstate, call
FROM unnest(ARRAY[
    $$simple_cache_put(NULL, '\x00'::bytea, NULL)$$, $$simple_cache_replace(NULL, 'x')$$,
    $$simple_cache_incr(NULL)$$, $$simple_cache_cas(NULL, 'a', 'b')$$]) call;
-- A key that is an expression is checked when the call runs.
SELECT simple_cache_put(nullif('k', 'k'), 'x');

-- Nothing changed: the entries are the ones written above.
SELECT key, value FROM simple_cache_list() WHERE key LIKE 'e50:%' ORDER BY key;
SELECT count(simple_cache_drop(key)) FROM simple_cache_list() WHERE key LIKE 'e50:%';
