-- Set-up for test/reliability/consistency.sh: the functions its pgbench clients call and the
-- tables in which they log what they did and what they saw wrong.
--
-- Values are self-checking: key || ':' || writer || ':' || seq || ':' || md5 of all that comes
-- before. A value that does not check out (torn, mixed with another, of another key) was never
-- written, and is an anomaly. Counters ('c:N') are changed by simple_cache_incr and by
-- get + cas loops only; every successful change logs its delta, so at the end each counter
-- must equal the sum of its deltas: an increment lost (or counted twice) shows.
CREATE EXTENSION simple_cache;

CREATE UNLOGGED TABLE rel_incr_log (client int, counter int, delta bigint);
CREATE UNLOGGED TABLE rel_anomalies (client int, what text, key text, value text, at timestamptz DEFAULT clock_timestamp());

CREATE FUNCTION rel_value(k text, writer int, seq bigint) RETURNS text IMMUTABLE LANGUAGE sql AS $$
    SELECT p || ':' || md5(p) FROM (SELECT k || ':' || writer || ':' || seq AS p) s
$$;

-- Whether val is a value some writer wrote for k (NULL, absent, counts as right).
CREATE FUNCTION rel_ok(k text, val text) RETURNS boolean IMMUTABLE LANGUAGE sql AS $$
    SELECT CASE WHEN val IS NULL THEN true
                WHEN length(val) < length(k) + 37 OR substr(val, length(val) - 32, 1) <> ':' THEN false
                ELSE right(val, 32) = md5(left(val, -33)) AND starts_with(val, k || ':')
                     AND substr(left(val, -33), length(k) + 2) ~ '^[0-9]+:[0-9]+$'
           END
$$;

-- Records an anomaly.
CREATE FUNCTION rel_anomaly(client int, what text, k text, val text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO rel_anomalies (client, what, key, value) VALUES (client, what, k, left(val, 200))
$$;

-- Checks a value read for key k.
CREATE FUNCTION rel_check(client int, what text, k text, val text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT rel_ok(k, val) THEN
        PERFORM rel_anomaly(client, what, k, val);
    END IF;
END
$$;

-- One operation of a client: op (0 .. 99) picks it, k (0 .. keys - 1) the key, seq is the
-- client's own sequence number, counters the number of counters.
CREATE FUNCTION rel_step(client int, op int, k int, seq bigint, keys int, counters int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    key text := 'k:' || k;
    counter int := k % counters;
    ckey text := 'c:' || (k % counters);
    delta bigint := seq % 5 + 1;
    seen text;
    r record;
BEGIN
    IF op < 25 THEN
        PERFORM rel_check(client, 'get', key, simple_cache_get(key));
        seen := simple_cache_get(ckey);
        IF seen IS NOT NULL AND seen !~ '^-?[0-9]+$' THEN
            PERFORM rel_anomaly(client, 'get counter', ckey, seen);
        END IF;
    ELSIF op < 33 THEN
        FOR r IN SELECT * FROM simple_cache_mget(ARRAY(SELECT 'k:' || ((k + g * 7) % keys) FROM generate_series(0, 9) g)) LOOP
            PERFORM rel_check(client, 'mget', r.key, r.value);
        END LOOP;
    ELSIF op < 55 THEN
        PERFORM simple_cache_put(key, rel_value(key, client, seq));
    ELSIF op < 59 THEN
        PERFORM simple_cache_add(key, rel_value(key, client, seq));
    ELSIF op < 63 THEN
        PERFORM simple_cache_replace(key, rel_value(key, client, seq));
    ELSIF op < 68 THEN
        PERFORM simple_cache_drop(key);
    ELSIF op < 80 THEN
        PERFORM simple_cache_incr(ckey, delta);
        INSERT INTO rel_incr_log VALUES (client, counter, delta);
    ELSIF op < 86 THEN
        -- An increment by get + cas, retried until it wins.
        FOR attempt IN 1 .. 1000 LOOP
            seen := simple_cache_get(ckey);
            IF seen IS NULL THEN
                IF simple_cache_add(ckey, delta::text) THEN
                    INSERT INTO rel_incr_log VALUES (client, counter, delta);
                    EXIT;
                END IF;
            ELSIF simple_cache_cas(ckey, seen, (seen::bigint + delta)::text) THEN
                INSERT INTO rel_incr_log VALUES (client, counter, delta);
                EXIT;
            END IF;
        END LOOP;
    ELSIF op < 94 THEN
        -- A read-modify-write of a data key with cas.
        seen := simple_cache_get(key);
        PERFORM rel_check(client, 'get before cas', key, seen);
        IF seen IS NOT NULL THEN
            PERFORM simple_cache_cas(key, seen, rel_value(key, client, seq));
        END IF;
    ELSIF op < 97 THEN
        PERFORM simple_cache_expire(key, interval '1 hour');
        PERFORM simple_cache_put(key, rel_value(key, client, seq), interval '1 hour');
    ELSIF op < 99 THEN
        seen := simple_cache_get(key);
        PERFORM rel_check(client, 'get', key, seen);
    ELSE
        FOR r IN SELECT * FROM simple_cache_list() LOOP
            IF starts_with(r.key, 'k:') THEN
                PERFORM rel_check(client, 'list', r.key, r.value);
            ELSIF r.value !~ '^-?[0-9]+$' THEN
                PERFORM rel_anomaly(client, 'list counter', r.key, r.value);
            END IF;
        END LOOP;
    END IF;
END
$$;

-- The verdict once the clients are done: one row.
CREATE FUNCTION rel_verdict(OUT anomalies bigint, OUT counters_checked bigint, OUT lost_increments bigint,
                            OUT increments bigint, OUT torn_at_rest bigint, OUT entries bigint,
                            OUT stats_agree boolean, OUT locks_held int)
LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM rel_anomalies),
           (SELECT count(*) FROM (SELECT DISTINCT counter FROM rel_incr_log) c),
           (SELECT coalesce(sum(abs(coalesce(simple_cache_get('c:' || l.counter)::bigint, 0) - l.total)), 0)
            FROM (SELECT counter, sum(delta) AS total FROM rel_incr_log GROUP BY counter) l),
           (SELECT count(*) FROM rel_incr_log),
           (SELECT count(*) FROM simple_cache_list() WHERE starts_with(key, 'k:') AND NOT rel_ok(key, value)),
           (SELECT count(*) FROM simple_cache_list()),
           (SELECT s.entries = l.n AND s.key_value_bytes = l.bytes
            FROM simple_cache_stats s,
                 (SELECT count(*) AS n, coalesce(sum(octet_length(key) + octet_length(value)), 0) AS bytes
                  FROM simple_cache_list()) l),
           substring(simple_cache_dump_hash_table() from 'partition locks held by this backend: (\d+)')::int
$$;
