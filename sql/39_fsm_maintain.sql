-- 39_fsm_maintain: PostgreSQL 17 added the MAINTAIN privilege (and the pg_maintain role), which
-- lets a role VACUUM a table it does not own; the map's maintain right follows VACUUM's rule, so
-- from 17 on MAINTAIN gives it (and, through it, the read and use rights). Before 17 there is no
-- such privilege (16beta2 had it; it was taken out before 16.0): the GRANT fails, or on 16beta2
-- is not honoured, and the role stays refused (expected/39_fsm_maintain_1.out).
-- Made-up relations are oids 3900001 and up.
\pset null '<NULL>'
SET client_min_messages = warning;
DROP TABLE IF EXISTS fsm39_t;
DROP ROLE IF EXISTS regress_fsm39_maintainer;
DROP ROLE IF EXISTS regress_fsm39_pg_maintain;
DROP ROLE IF EXISTS regress_fsm39_none;
RESET client_min_messages;

CREATE TABLE fsm39_t (id int);
CREATE ROLE regress_fsm39_maintainer;
CREATE ROLE regress_fsm39_none;
DO $$ BEGIN GRANT MAINTAIN ON fsm39_t TO regress_fsm39_maintainer; EXCEPTION WHEN syntax_error THEN NULL; END $$;
CREATE ROLE regress_fsm39_pg_maintain;
DO $$ BEGIN GRANT pg_maintain TO regress_fsm39_pg_maintain; EXCEPTION WHEN undefined_object THEN NULL; END $$;
SELECT simple_cache_fsm_record_many('fsm39_t'::regclass, ARRAY[1, 2]::bigint[], ARRAY[100, 200]) AS recorded;

-- The three roles' rights, each call's SQLSTATE or ok.
CREATE FUNCTION pg_temp.outcome(call text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE call;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
CREATE TEMP TABLE calls (n int, call text);
INSERT INTO calls VALUES
    (1, $$SELECT simple_cache_fsm_record_many('fsm39_t'::regclass, ARRAY[3]::bigint[], ARRAY[300])$$),
    (2, $$SELECT simple_cache_fsm_truncate('fsm39_t'::regclass, 3)$$),
    (3, $$SELECT simple_cache_fsm_pages('fsm39_t'::regclass)$$),
    (4, $$SELECT simple_cache_fsm_get_page('fsm39_t'::regclass, 50)$$);
GRANT SELECT ON calls TO PUBLIC;
CREATE TEMP TABLE outcomes (role text, n int, got text);
GRANT INSERT ON outcomes TO PUBLIC;

SET ROLE regress_fsm39_none;
INSERT INTO outcomes SELECT 'none', n, pg_temp.outcome(call) FROM calls;
RESET ROLE;
SET ROLE regress_fsm39_maintainer;
INSERT INTO outcomes SELECT 'maintainer', n, pg_temp.outcome(call) FROM calls;
RESET ROLE;
SET ROLE regress_fsm39_pg_maintain;
INSERT INTO outcomes SELECT 'pg_maintain', n, pg_temp.outcome(call) FROM calls;
RESET ROLE;
SELECT role, string_agg(n || ':' || got, ' ' ORDER BY n) AS outcomes
FROM outcomes GROUP BY role ORDER BY role;

SELECT simple_cache_fsm_forget('fsm39_t'::regclass) AS forgotten;
DROP TABLE fsm39_t;
DROP ROLE regress_fsm39_maintainer;
DROP ROLE regress_fsm39_pg_maintain;
DROP ROLE regress_fsm39_none;
