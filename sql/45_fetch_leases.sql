-- 45_fetch_leases: read-through with leases. simple_cache_fetch(key, query [, ttl]) returns the
-- cached value or runs the query (one row, one column, with the caller's privileges) under a
-- lease and stores its value; the two-step form: simple_cache_get_or_lease, then
-- simple_cache_put_leased (or simple_cache_release_lease). Every error leaves nothing stored and
-- no lease out. (Races: the isolation spec lease_stale_set; waiters, stampedes and killed
-- holders: test/t/060_fetch_leases.pl.) Keys start with 'r22:'.
\pset null '<NULL>'

CREATE FUNCTION pg_temp.sqlstate_of(command text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE command;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

-- This file's entries, and the leases out in this database.
CREATE FUNCTION pg_temp.state() RETURNS text
LANGUAGE sql AS $$
    SELECT coalesce(string_agg(key || '=' || left(value, 20), ',' ORDER BY key COLLATE "C"), '') ||
           ' / leases: ' || (SELECT count(*) FROM simple_cache_leases())
    FROM simple_cache_list() WHERE starts_with(key, 'r22:')
$$;

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'r22:'); END $$;
CREATE SEQUENCE r22_runs;

-- ---------------------------------------------------------------------------------------------
-- fetch: a miss runs the query and stores its value; a hit runs nothing.
SELECT simple_cache_fetch('r22:a', $$SELECT 'computed ' || nextval('r22_runs')$$) AS first,
       simple_cache_fetch('r22:a', $$SELECT 'computed ' || nextval('r22_runs')$$) AS second;
SELECT simple_cache_get('r22:a') AS cached, last_value AS runs FROM r22_runs;
-- The query's text is not part of the key: a hit returns the value whatever query is given.
SELECT simple_cache_fetch('r22:a', 'SELECT 1/0') AS hit;
-- The value is the column's output form, whatever its type.
SELECT simple_cache_fetch('r22:int', 'SELECT 6 * 7') AS int_value,
       simple_cache_fetch('r22:date', $$SELECT date '2024-02-29'$$) AS date_value,
       simple_cache_fetch('r22:array', 'SELECT ARRAY[1, 2]') AS array_value,
       simple_cache_fetch('r22:empty', $$SELECT ''$$) = '' AS empty_value;
-- ttl: given, NULL (no expiry), or absent (simple_cache.default_ttl).
SELECT simple_cache_fetch('r22:ttl', $$SELECT 'x'$$, '1 hour') AS value,
       simple_cache_ttl('r22:ttl') BETWEEN '59 minutes' AND '1 hour' AS ttl_set;
SELECT simple_cache_fetch('r22:no-ttl', $$SELECT 'x'$$, NULL) AS value, simple_cache_ttl('r22:no-ttl') AS ttl;
SET simple_cache.default_ttl = '2h';
SELECT simple_cache_fetch('r22:default-ttl', $$SELECT 'x'$$) AS value,
       simple_cache_ttl('r22:default-ttl') > '1 hour' AS default_ttl_set;
RESET simple_cache.default_ttl;
-- A large value.
SELECT length(simple_cache_fetch('r22:large', $$SELECT repeat('x', 10000000)$$, NULL)) AS fetched_length,
       length(simple_cache_get('r22:large')) AS cached_length;
SELECT simple_cache_drop('r22:large') AS dropped;
-- A query that drops its own key voids its own lease: the value is returned, not stored.
SELECT simple_cache_fetch('r22:self', $$SELECT 'x' || simple_cache_drop('r22:self')$$) AS value;
SELECT simple_cache_get('r22:self') AS not_stored;
-- So does a query that puts the key itself: the put stays, the fetched value is not stored.
SELECT simple_cache_fetch('r22:put-self', $$SELECT 'fetched' || simple_cache_put('r22:put-self', 'put')$$) AS value;
SELECT simple_cache_get('r22:put-self') AS cached;
-- A query may fetch other keys: each is computed once and stored.
SELECT simple_cache_fetch('r22:outer',
    $$SELECT 'outer(' || simple_cache_fetch('r22:inner', $i$SELECT 'inner'$i$) || ')'$$) AS nested;
SELECT simple_cache_get('r22:outer') AS outer_cached, simple_cache_get('r22:inner') AS inner_cached;
-- A fetch of the key inside its own query does not wait for the lease its session holds: it
-- computes its value without storing it; the outer fetch stores its own.
SELECT simple_cache_fetch('r22:recursive',
    $$SELECT 'outer(' || simple_cache_fetch('r22:recursive', $i$SELECT 'inner'$i$) || ')'$$) AS recursive;
SELECT simple_cache_get('r22:recursive') AS cached;
SELECT simple_cache_drop('r22:recursive') AS dropped;
-- An error that the query catches itself (a subtransaction) does not end the lease.
CREATE FUNCTION pg_temp.catches() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        PERFORM 1/0;
    EXCEPTION WHEN division_by_zero THEN
        RETURN 'caught inside';
    END;
END $$;
SELECT simple_cache_fetch('r22:catches', 'SELECT pg_temp.catches()') AS value;
SELECT simple_cache_get('r22:catches') AS cached;
-- Under REPEATABLE READ the query's snapshot may predate an invalidation: computed, not stored.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT simple_cache_fetch('r22:rr', $$SELECT 'from a snapshot'$$) AS value;
COMMIT;
SELECT simple_cache_get('r22:rr') AS not_stored;
-- But a hit is a hit there too.
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT simple_cache_fetch('r22:a', 'SELECT 1/0') AS hit;
COMMIT;
SELECT pg_temp.state() AS state;

-- Errors: NULLs, a bad ttl, bad queries, queries returning no row, two rows, two columns, no
-- column or NULL, transaction control, an error in the query, an overlong key. Each leaves
-- nothing stored, no lease out, and the runs counter as it was (statements roll back).
SELECT pg_temp.state() AS before \gset
SELECT command, pg_temp.sqlstate_of(command) AS sqlstate FROM (VALUES
    ($$SELECT simple_cache_fetch(NULL, 'SELECT 1')$$),
    ($$SELECT simple_cache_fetch('r22:e', NULL)$$),
    ($$SELECT simple_cache_fetch('r22:e', NULL, '1 hour')$$),
    ($$SELECT simple_cache_fetch('r22:e', 'SELECT 1', '0 seconds')$$),
    ($$SELECT simple_cache_fetch('r22:e', 'SELECT 1', '-1 hour')$$),
    ($$SELECT simple_cache_fetch('r22:e', 'SELEC 1')$$),
    ($$SELECT simple_cache_fetch('r22:e', '')$$),
    ($$SELECT simple_cache_fetch('r22:e', 'SELECT 1 WHERE false')$$),
    ($$SELECT simple_cache_fetch('r22:e', 'SELECT 1 UNION ALL SELECT 2')$$),
    ($$SELECT simple_cache_fetch('r22:e', 'SELECT 1, 2')$$),
    ($$SELECT simple_cache_fetch('r22:e', 'SELECT')$$),
    ($$SELECT simple_cache_fetch('r22:e', 'SELECT NULL')$$),
    ($$SELECT simple_cache_fetch('r22:e', 'SELECT nextval(''r22_runs''), 1/0')$$),
    ($$SELECT simple_cache_fetch('r22:e', 'SELECT 1; SELECT 2, 3')$$),
    ($$SELECT simple_cache_fetch('r22:e', 'COMMIT')$$),
    ($$SELECT simple_cache_fetch('r22:e', 'DO $d$ BEGIN END $d$')$$),
    ($$SELECT simple_cache_fetch('r22:e', 'SELECT * FROM r22_no_such_table')$$),
    ($$SELECT simple_cache_fetch(repeat('k', 1048577), 'SELECT 1')$$)
) AS t(command);
SELECT pg_temp.state() = :'before' AS unchanged;

-- The query runs with the caller's privileges.
CREATE TABLE r22_secret (s text);
INSERT INTO r22_secret VALUES ('classified');
CREATE ROLE r22_nobody;
SET ROLE r22_nobody;
SELECT pg_temp.sqlstate_of($$SELECT simple_cache_fetch('r22:secret', 'SELECT s FROM r22_secret')$$) AS sqlstate;
RESET ROLE;
SELECT pg_temp.state() = :'before' AS unchanged;
-- Once a privileged role has cached the value, a hit returns it to anyone (no query runs): the
-- cache's keys are shared by every role of the database.
SELECT simple_cache_fetch('r22:secret', 'SELECT s FROM r22_secret') AS cached_by_owner;
SET ROLE r22_nobody;
SELECT simple_cache_fetch('r22:secret', 'SELECT s FROM r22_secret') AS hit_for_anyone;
RESET ROLE;
DROP ROLE r22_nobody;
DROP TABLE r22_secret;

-- An error caught inside the transaction (a savepoint) ends the lease as well.
DO $$
BEGIN
    PERFORM simple_cache_fetch('r22:caught', 'SELECT 1/0');
EXCEPTION WHEN division_by_zero THEN
    RAISE NOTICE 'caught; leases out: %', (SELECT count(*) FROM simple_cache_leases());
END $$;

-- ---------------------------------------------------------------------------------------------
-- The two-step form. A miss gives a lease; while it is out, others get neither value nor lease.
CREATE TEMP TABLE leases (name text, lease bigint);
INSERT INTO leases SELECT 'first', lease FROM simple_cache_get_or_lease('r22:two');
SELECT value, lease > 0 AS leased FROM simple_cache_get_or_lease('r22:two');
SELECT holder_pid = pg_backend_pid() AS mine, expires > now() AS live, voided FROM simple_cache_leases();
-- A wrong lease number stores nothing and leaves the lease out.
SELECT simple_cache_put_leased('r22:two', 'wrong', lease + 1000) AS stored FROM leases WHERE name = 'first';
SELECT simple_cache_put_leased('r22:other', 'wrong key', lease) AS stored FROM leases WHERE name = 'first';
SELECT count(*) AS leases_out FROM simple_cache_leases();
-- The right one stores and ends the lease; a second put with it stores nothing.
SELECT simple_cache_put_leased('r22:two', 'computed', lease, '1 hour') AS stored FROM leases WHERE name = 'first';
SELECT simple_cache_put_leased('r22:two', 'again', lease) AS stored_again FROM leases WHERE name = 'first';
SELECT simple_cache_get('r22:two') AS cached, simple_cache_ttl('r22:two') > '59 minutes' AS ttl_set,
       (SELECT count(*) FROM simple_cache_leases()) AS leases_out;
-- A hit gives the value and no lease.
SELECT value, lease FROM simple_cache_get_or_lease('r22:two');
-- A drop voids the lease: the put is refused.
INSERT INTO leases SELECT 'voided', lease FROM simple_cache_get_or_lease('r22:void');
SELECT simple_cache_drop('r22:void') AS dropped, (SELECT voided FROM simple_cache_leases()) AS voided;
SELECT simple_cache_put_leased('r22:void', 'stale', lease) AS stored FROM leases WHERE name = 'voided';
SELECT simple_cache_get('r22:void') AS not_stored, (SELECT count(*) FROM simple_cache_leases()) AS leases_out;
-- A flush voids every lease of the database.
INSERT INTO leases SELECT 'flushed', lease FROM simple_cache_get_or_lease('r22:flush');
SELECT simple_cache_flush() >= 0 AS flushed;
SELECT simple_cache_put_leased('r22:flush', 'stale', lease) AS stored FROM leases WHERE name = 'flushed';
-- Release gives the lease up; the next miss gets a new one.
INSERT INTO leases SELECT 'released', lease FROM simple_cache_get_or_lease('r22:release');
SELECT simple_cache_release_lease('r22:release', lease) AS released,
       simple_cache_release_lease('r22:release', lease) AS released_again FROM leases WHERE name = 'released';
INSERT INTO leases SELECT 'after release', lease FROM simple_cache_get_or_lease('r22:release');
SELECT a.lease <> r.lease AS new_lease, simple_cache_release_lease('r22:release', a.lease) AS released
FROM leases a, leases r WHERE a.name = 'after release' AND r.name = 'released';
-- An expired lease: its put is refused, and the next miss takes the key over.
INSERT INTO leases SELECT 'expired', lease FROM simple_cache_get_or_lease('r22:expired', '1 millisecond');
SELECT pg_sleep(0.05);
SELECT simple_cache_put_leased('r22:expired', 'late', lease) AS stored FROM leases WHERE name = 'expired';
INSERT INTO leases SELECT 'expired again', lease FROM simple_cache_get_or_lease('r22:expired', '1 millisecond');
SELECT pg_sleep(0.05);
INSERT INTO leases SELECT 'taken over', lease FROM simple_cache_get_or_lease('r22:expired');
SELECT t.lease <> e.lease AS taken_over,
       simple_cache_put_leased('r22:expired', 'late', e.lease) AS late_put,
       simple_cache_put_leased('r22:expired', 'on time', t.lease) AS put
FROM leases t, leases e WHERE t.name = 'taken over' AND e.name = 'expired again';
SELECT simple_cache_get('r22:expired') AS cached;
DO $$ BEGIN PERFORM simple_cache_flush(); END $$;
-- Lease numbers cannot be guessed from one another: two leases taken one after the other do
-- not have neighbouring numbers, so a put with a number next to one's own lease stores nothing.
INSERT INTO leases SELECT 'guess x', lease FROM simple_cache_get_or_lease('r22:guess-x');
INSERT INTO leases SELECT 'guess y', lease FROM simple_cache_get_or_lease('r22:guess-y');
SELECT simple_cache_put_leased('r22:guess-x', 'guessed', y.lease - 1) AS stored_below,
       simple_cache_put_leased('r22:guess-y', 'guessed', x.lease + 1) AS stored_above,
       abs(y.lease - x.lease) > 1000000 AS far_apart, x.lease > 0 AND y.lease > 0 AS positive
FROM leases x, leases y WHERE x.name = 'guess x' AND y.name = 'guess y';
SELECT simple_cache_get('r22:guess-x') AS x, simple_cache_get('r22:guess-y') AS y;
SELECT count(*) FILTER (WHERE simple_cache_release_lease('r22:guess-' || right(name, 1), lease)) AS released
FROM leases WHERE name LIKE 'guess _';
DO $$ BEGIN PERFORM simple_cache_flush(); END $$;
-- A session that has a write of the key queued for its commit (here an invalidation from a
-- trigger) may have computed the value from its own uncommitted changes: a fetch returns it
-- but stores nothing, and a lease taken then stores nothing either, even after a rollback.
CREATE TABLE r22_users (id int PRIMARY KEY, name text);
INSERT INTO r22_users VALUES (42, 'Ann');
CREATE TRIGGER r22_users_cache AFTER INSERT OR UPDATE OR DELETE ON r22_users
    FOR EACH ROW EXECUTE FUNCTION simple_cache_invalidate_trigger('r22:user:{id}');
SELECT simple_cache_put('r22:user:42', 'Ann') AS put;
BEGIN;
UPDATE r22_users SET name = 'UNCOMMITTED-Eve' WHERE id = 42;
SELECT simple_cache_fetch('r22:user:42', 'SELECT name FROM r22_users WHERE id = 42') AS fetched;
SELECT lease AS pending_lease FROM simple_cache_get_or_lease('r22:user:42') \gset
SELECT simple_cache_put_leased('r22:user:42', 'UNCOMMITTED-Eve', :pending_lease) AS stored_in_transaction;
SELECT lease AS pending_lease FROM simple_cache_get_or_lease('r22:user:42') \gset
ROLLBACK;
SELECT simple_cache_put_leased('r22:user:42', 'UNCOMMITTED-Eve', :pending_lease) AS stored_after_rollback;
SELECT simple_cache_get('r22:user:42') AS cached;
-- The same under a prefix invalidation queued for the commit.
SELECT simple_cache_drop('r22:user:42') AS dropped;
BEGIN;
UPDATE r22_users SET name = 'UNCOMMITTED-Eve' WHERE id = 42;
SELECT simple_cache_invalidate_prefix('r22:user:') AS queued;
SELECT simple_cache_fetch('r22:user:7', $$SELECT 'uncommitted'$$) AS fetched;
ROLLBACK;
SELECT simple_cache_get('r22:user:7') AS cached, (SELECT count(*) FROM simple_cache_leases()) AS leases_out;
-- So does a write queued by the query itself: its value is returned, not stored.
BEGIN;
SELECT simple_cache_fetch('r22:user:8',
    $$SELECT 'queued by its query' FROM (SELECT simple_cache_invalidate('r22:user:8')) i$$) AS fetched;
ROLLBACK;
SELECT simple_cache_get('r22:user:8') AS cached, (SELECT count(*) FROM simple_cache_leases()) AS leases_out;
-- Committed, the next fetch stores as usual.
SELECT simple_cache_fetch('r22:user:42', 'SELECT name FROM r22_users WHERE id = 42') AS fetched,
       simple_cache_get('r22:user:42') AS cached;
DROP TABLE r22_users;
DO $$ BEGIN PERFORM simple_cache_flush(); END $$;
SELECT pg_temp.state() AS state;

-- Errors of the two-step functions; nothing changes.
SELECT pg_temp.state() AS before \gset
SELECT command, pg_temp.sqlstate_of(command) AS sqlstate FROM (VALUES
    ($$SELECT simple_cache_get_or_lease(NULL)$$),
    ($$SELECT simple_cache_get_or_lease('r22:e', NULL)$$),
    ($$SELECT simple_cache_get_or_lease('r22:e', '0 seconds')$$),
    ($$SELECT simple_cache_get_or_lease(repeat('k', 1048577))$$),
    ($$SELECT simple_cache_put_leased(NULL, 'v', 1)$$),
    ($$SELECT simple_cache_put_leased('r22:e', NULL, 1)$$),
    ($$SELECT simple_cache_put_leased('r22:e', 'v', NULL)$$),
    ($$SELECT simple_cache_put_leased('r22:e', 'v', 0)$$),
    ($$SELECT simple_cache_put_leased('r22:e', 'v', -5)$$),
    ($$SELECT simple_cache_put_leased('r22:e', 'v', 1, '0 seconds')$$),
    ($$SELECT simple_cache_put_leased(repeat('k', 1048577), 'v', 1)$$),
    ($$SELECT simple_cache_release_lease('r22:e', 0)$$)
) AS t(command);
SELECT simple_cache_release_lease(NULL, 1) AS null_key, simple_cache_release_lease('r22:e', NULL) AS null_lease;
SELECT pg_temp.state() = :'before' AS unchanged;

DROP SEQUENCE r22_runs;
DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'r22:'); END $$;
