-- 23_invalidation_trigger: simple_cache_invalidate_trigger(), which drops at commit the keys
-- built by template from the rows a statement changes (row level), or by prefix (statement
-- level, for TRUNCATE). Rollback keeps the keys; the writer reads its own invalidations at
-- once; a bad template or a missing column is an error naming the trigger, at its first call.
-- Other sessions' view before the commit: test/isolation/specs/invalidation_trigger.spec.
-- Keys start with 't23:'.
\pset null '<NULL>'
DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 't23:'); END $$;

CREATE TABLE t23 (id int PRIMARY KEY, team int, email text, "Name" text);
CREATE TRIGGER t23_invalidate AFTER INSERT OR UPDATE OR DELETE ON t23
    FOR EACH ROW EXECUTE FUNCTION simple_cache_invalidate_trigger(
        't23:user:{id}', 't23:team:{team}:members', 't23:email:{email}', 't23:{{name}}:{Name}');
CREATE TRIGGER t23_truncate AFTER TRUNCATE ON t23
    FOR EACH STATEMENT EXECUTE FUNCTION simple_cache_invalidate_trigger('t23:user:{id}', 't23:team:{team}:members');
INSERT INTO t23 VALUES (1, 10, 'ann@example.com', 'Ann'), (2, 10, NULL, 'Bob'), (3, 20, 'cy@example.com', 'Cy');

-- Fills the cache as an application would, from the table.
CREATE FUNCTION pg_temp.fill() RETURNS void LANGUAGE sql AS $$
    SELECT simple_cache_put('t23:user:' || id, "Name") FROM t23;
    SELECT simple_cache_put('t23:team:' || team || ':members', string_agg("Name", ',' ORDER BY id)) FROM t23 GROUP BY team;
    SELECT simple_cache_put('t23:email:' || email, id::text) FROM t23 WHERE email IS NOT NULL;
    SELECT simple_cache_put('t23:{name}:' || "Name", id::text) FROM t23;
    SELECT simple_cache_put('t23:other', 'not derived from t23');
$$;
CREATE FUNCTION pg_temp.cached() RETURNS TABLE(key text, value text) LANGUAGE sql AS $$
    SELECT key, value FROM simple_cache_list_prefix('t23:') ORDER BY key COLLATE "C"
$$;
SELECT pg_temp.fill();
SELECT * FROM pg_temp.cached();

-- UPDATE: the OLD row's keys and the NEW row's keys go at commit; the writer reads NULL at once.
BEGIN;
UPDATE t23 SET team = 20 WHERE id = 1;
SELECT simple_cache_get('t23:user:1') AS user1, simple_cache_get('t23:team:10:members') AS team10,
       simple_cache_get('t23:team:20:members') AS team20, simple_cache_get('t23:user:2') AS user2;
SELECT count(*) AS still_in_cache FROM simple_cache_list_prefix('t23:team:');
ROLLBACK;
-- Rolled back: every key stays.
SELECT * FROM pg_temp.cached();
UPDATE t23 SET team = 20 WHERE id = 1;
SELECT * FROM pg_temp.cached();

-- DELETE and INSERT: the deleted row's keys, the inserted row's keys. A NULL column makes no
-- key (Bob has no email), the others still go.
SELECT pg_temp.fill();
DELETE FROM t23 WHERE id = 2;
INSERT INTO t23 VALUES (4, 30, 'dee@example.com', 'Dee');
SELECT * FROM pg_temp.cached();

-- A savepoint rolled back takes its invalidations with it.
SELECT pg_temp.fill();
BEGIN;
UPDATE t23 SET "Name" = 'Anne' WHERE id = 1;
SAVEPOINT sp;
UPDATE t23 SET "Name" = 'Cyd' WHERE id = 3;
ROLLBACK TO SAVEPOINT sp;
COMMIT;
SELECT * FROM pg_temp.cached();

-- TRUNCATE: each template drops by the text before its first placeholder, at commit; keys
-- outside those prefixes stay. Rolled back, it drops nothing.
SELECT pg_temp.fill();
BEGIN;
TRUNCATE t23;
SELECT simple_cache_get('t23:user:1') AS user1, simple_cache_get('t23:other') AS other;
ROLLBACK;
SELECT count(*) AS after_rollback FROM simple_cache_list_prefix('t23:user:');
TRUNCATE t23;
SELECT * FROM pg_temp.cached();

-- A template without placeholders names one key, dropped as it is, at row and statement level.
CREATE TABLE t23_fixed (id int);
CREATE TRIGGER t23_fixed_rows AFTER INSERT ON t23_fixed
    FOR EACH ROW EXECUTE FUNCTION simple_cache_invalidate_trigger('t23:fixed');
CREATE TRIGGER t23_fixed_truncate AFTER TRUNCATE ON t23_fixed
    FOR EACH STATEMENT EXECUTE FUNCTION simple_cache_invalidate_trigger('t23:fixed');
SELECT simple_cache_put('t23:fixed', 'x') AS e1, simple_cache_put('t23:fixed2', 'y') AS e2;
INSERT INTO t23_fixed VALUES (1);
SELECT simple_cache_get('t23:fixed') AS fixed, simple_cache_get('t23:fixed2') AS fixed2;
SELECT simple_cache_put('t23:fixed', 'x') AS e1;
TRUNCATE t23_fixed;
SELECT simple_cache_get('t23:fixed') AS fixed, simple_cache_get('t23:fixed2') AS fixed2;

-- A column value too long for a key makes no key; the statement goes through.
INSERT INTO t23 VALUES (5, 50, repeat('e', 1024 * 1024 + 1), 'Eve');
SELECT count(*) AS eve FROM t23 WHERE id = 5;
-- A key is measured while it is built: a template that repeats a long column stops at the first
-- copy that passes 1 MB, instead of building the whole key (here 1.1 GB, over the 1 GB that a
-- string may take, 54000) and only then finding it too long.
CREATE TABLE t23_long (id int, t text, b bytea);
DO $$ BEGIN
    EXECUTE format('CREATE TRIGGER t23_long_invalidate AFTER INSERT OR UPDATE OR DELETE ON t23_long '
                   'FOR EACH ROW EXECUTE FUNCTION simple_cache_invalidate_trigger(%L, %L)',
                   't23:long:' || repeat('{t}', 1100), 't23:long-bytea:{id}:{b}');
END $$;
INSERT INTO t23_long VALUES (1, repeat('x', 1024 * 1024), 'short'::bytea);
UPDATE t23_long SET id = 2, b = decode(repeat('ab', 600 * 1024), 'hex');
DELETE FROM t23_long;
SELECT count(*) AS long_rows FROM t23_long;
-- Short values still make their keys.
INSERT INTO t23_long VALUES (3, 'y', 'z'::bytea);
SELECT simple_cache_put('t23:long-bytea:3:\x7a', 'cached') AS put;
SELECT simple_cache_get('t23:long-bytea:3:\x7a') AS cached;
DELETE FROM t23_long;
SELECT simple_cache_get('t23:long-bytea:3:\x7a') AS dropped;

-- Errors, at the first call, naming the trigger and the table; the statement changes nothing.
CREATE TABLE t23_bad (id int, "Mixed" int);
INSERT INTO t23_bad VALUES (1, 1);
CREATE TRIGGER t23_unclosed AFTER UPDATE ON t23_bad
    FOR EACH ROW EXECUTE FUNCTION simple_cache_invalidate_trigger('t23:ok:{id}', 't23:bad:{id');
UPDATE t23_bad SET id = 2;
DROP TRIGGER t23_unclosed ON t23_bad;
CREATE TRIGGER t23_stray AFTER UPDATE ON t23_bad
    FOR EACH ROW EXECUTE FUNCTION simple_cache_invalidate_trigger('t23:bad:id}');
UPDATE t23_bad SET id = 2;
DROP TRIGGER t23_stray ON t23_bad;
CREATE TRIGGER t23_empty AFTER UPDATE ON t23_bad
    FOR EACH ROW EXECUTE FUNCTION simple_cache_invalidate_trigger('t23:bad:{}');
UPDATE t23_bad SET id = 2;
DROP TRIGGER t23_empty ON t23_bad;
CREATE TRIGGER t23_missing AFTER UPDATE ON t23_bad
    FOR EACH ROW EXECUTE FUNCTION simple_cache_invalidate_trigger('t23:bad:{idd}');
UPDATE t23_bad SET id = 2;
DROP TRIGGER t23_missing ON t23_bad;
-- Column names are matched exactly, case included.
CREATE TRIGGER t23_case AFTER UPDATE ON t23_bad
    FOR EACH ROW EXECUTE FUNCTION simple_cache_invalidate_trigger('t23:bad:{mixed}');
UPDATE t23_bad SET id = 2;
DROP TRIGGER t23_case ON t23_bad;
-- A dropped column is a missing column.
ALTER TABLE t23_bad ADD COLUMN gone int;
ALTER TABLE t23_bad DROP COLUMN gone;
CREATE TRIGGER t23_dropped AFTER UPDATE ON t23_bad
    FOR EACH ROW EXECUTE FUNCTION simple_cache_invalidate_trigger('t23:bad:{gone}');
UPDATE t23_bad SET id = 2;
DROP TRIGGER t23_dropped ON t23_bad;
CREATE TRIGGER t23_no_templates AFTER UPDATE ON t23_bad
    FOR EACH ROW EXECUTE FUNCTION simple_cache_invalidate_trigger();
UPDATE t23_bad SET id = 2;
DROP TRIGGER t23_no_templates ON t23_bad;
CREATE TRIGGER t23_before BEFORE UPDATE ON t23_bad
    FOR EACH ROW EXECUTE FUNCTION simple_cache_invalidate_trigger('t23:bad:{id}');
UPDATE t23_bad SET id = 2;
DROP TRIGGER t23_before ON t23_bad;
SELECT * FROM t23_bad;
SELECT simple_cache_invalidate_trigger();
-- A trigger that does not fire (no rows) reports nothing, even with a bad template.
CREATE TRIGGER t23_quiet AFTER UPDATE ON t23_bad
    FOR EACH ROW EXECUTE FUNCTION simple_cache_invalidate_trigger('t23:bad:{nope}');
UPDATE t23_bad SET id = 3 WHERE false;
DROP TRIGGER t23_quiet ON t23_bad;
-- The escape for braces.
CREATE TRIGGER t23_braces AFTER UPDATE ON t23_bad
    FOR EACH ROW EXECUTE FUNCTION simple_cache_invalidate_trigger('t23:{{{Mixed}}}');
SELECT simple_cache_put('t23:{1}', 'braced') AS e;
UPDATE t23_bad SET id = 3;
SELECT simple_cache_get('t23:{1}') AS braced;

DROP TABLE t23, t23_fixed, t23_bad, t23_long;
DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 't23:'); END $$;
