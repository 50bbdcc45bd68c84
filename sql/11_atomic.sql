-- 11_atomic: the conditional and read-modify-write operations. simple_cache_add stores only
-- when the key is absent, simple_cache_replace only when it is present, simple_cache_incr adds
-- to an integer value, simple_cache_cas swaps a value only if it is the expected one. Each
-- returns what it did; refused calls and errors change nothing. (Concurrent use is covered by
-- the isolation spec atomic_races and the pgbench suite.)
-- Keys start with 'a11:'.
\pset null '<NULL>'

-- The SQLSTATE an SQL command raises, or 'ok'.
CREATE FUNCTION pg_temp.sqlstate_of(command text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE command;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

-- A digest of this file's entries, to show that refused calls and errors change nothing.
CREATE FUNCTION pg_temp.digest() RETURNS text
LANGUAGE sql AS $$
    SELECT md5(coalesce(string_agg(key || '=' || encode(simple_cache_get_bytea(key), 'hex'), ','
                                   ORDER BY key COLLATE "C"), ''))
    FROM simple_cache_list() WHERE starts_with(key, 'a11:')
$$;

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'a11:'); END $$;

-- ---------------------------------------------------------------------------------------------
-- add: true and stored when the key is absent; false and untouched when present.
SELECT simple_cache_add('a11:add', 'first') AS added;
SELECT simple_cache_add('a11:add', 'second') AS added_again;
SELECT simple_cache_get('a11:add') AS value;
-- After a drop the key is absent again.
SELECT simple_cache_drop('a11:add') AS dropped, simple_cache_add('a11:add', 'third') AS added;
SELECT simple_cache_get('a11:add') AS value;
-- A refused add does not touch the ttl either.
SELECT simple_cache_add('a11:add:ttl', 'with ttl', '1 hour') AS added,
       simple_cache_add('a11:add:ttl', 'no ttl', NULL) AS added_again;
SELECT simple_cache_get('a11:add:ttl') AS value,
       simple_cache_ttl('a11:add:ttl') BETWEEN '59 minutes' AND '1 hour' AS ttl_kept;
-- The empty value and the empty key are ordinary.
SELECT simple_cache_add('a11:add:empty', '') AS added, simple_cache_add('a11:add:empty', 'x') AS added_again;
SELECT simple_cache_get('a11:add:empty') = '' AS still_empty;

-- replace: true and stored when the key is present; false and not created when absent.
SELECT simple_cache_replace('a11:replace', 'nothing to replace') AS replaced;
SELECT simple_cache_get('a11:replace') AS not_created;
SELECT simple_cache_put('a11:replace', 'old') AS existed;
SELECT simple_cache_replace('a11:replace', 'new') AS replaced;
SELECT simple_cache_get('a11:replace') AS value;
SELECT simple_cache_replace('a11:replace', 'newer', '1 hour') AS replaced;
SELECT simple_cache_get('a11:replace') AS value,
       simple_cache_ttl('a11:replace') BETWEEN '59 minutes' AND '1 hour' AS ttl_set;
SELECT simple_cache_drop('a11:replace') AS dropped, simple_cache_replace('a11:replace', 'after drop') AS replaced;
SELECT simple_cache_get('a11:replace') AS not_created;

-- Errors in add and replace: a NULL key or value is 22004, as in put.
SELECT pg_temp.digest() AS digest_before \gset
SELECT simple_cache_add(NULL, 'x');
SELECT simple_cache_replace('a11:add', NULL::text);
SELECT pg_temp.sqlstate_of($q$SELECT simple_cache_add(NULL, 'x')$q$) AS add_null_key,
       pg_temp.sqlstate_of($q$SELECT simple_cache_add('a11:new', NULL::text)$q$) AS add_null_value,
       pg_temp.sqlstate_of($q$SELECT simple_cache_add('a11:new', NULL::bytea)$q$) AS add_null_bytea,
       pg_temp.sqlstate_of($q$SELECT simple_cache_add(NULL, 'x', '1 hour')$q$) AS add_null_key_ttl,
       pg_temp.sqlstate_of($q$SELECT simple_cache_replace(NULL, 'x')$q$) AS replace_null_key,
       pg_temp.sqlstate_of($q$SELECT simple_cache_replace('a11:add', NULL::text)$q$) AS replace_null_value,
       pg_temp.sqlstate_of($q$SELECT simple_cache_replace('a11:add', NULL::bytea, '1 hour')$q$) AS replace_null_bytea;
-- A key over 1 MB is 54000 in every function taking a key.
SELECT pg_temp.sqlstate_of($q$SELECT simple_cache_add('a11:' || repeat('k', 1048573), 'x')$q$) AS add_long_key,
       pg_temp.sqlstate_of($q$SELECT simple_cache_replace('a11:' || repeat('k', 1048573), 'x')$q$) AS replace_long_key,
       pg_temp.sqlstate_of($q$SELECT simple_cache_incr('a11:' || repeat('k', 1048573))$q$) AS incr_long_key,
       pg_temp.sqlstate_of($q$SELECT simple_cache_cas('a11:' || repeat('k', 1048573), 'a', 'b')$q$) AS cas_long_key,
       pg_temp.sqlstate_of($q$SELECT simple_cache_expire('a11:' || repeat('k', 1048573), '1 hour')$q$) AS expire_long_key,
       pg_temp.sqlstate_of($q$SELECT simple_cache_ttl('a11:' || repeat('k', 1048573))$q$) AS ttl_long_key;
SELECT pg_temp.digest() = :'digest_before' AS unchanged, simple_cache_get('a11:new') AS new_key;

-- ---------------------------------------------------------------------------------------------
-- incr: creates an absent key with delta (default 1), adds delta to an integer value and
-- returns the result; the value stays text, readable with get.
SELECT simple_cache_incr('a11:counter') AS created;
SELECT simple_cache_incr('a11:counter') AS incremented;
SELECT simple_cache_incr('a11:counter', 40) AS by_40;
SELECT simple_cache_incr('a11:counter', delta => -50) AS by_minus_50;
SELECT simple_cache_incr('a11:counter', 0) AS by_0;
SELECT simple_cache_get('a11:counter') AS value;
SELECT simple_cache_incr('a11:created_with_delta', -7) AS created, simple_cache_get('a11:created_with_delta') AS value;
-- It works on any value that reads as a 64-bit decimal integer: put as text, with spaces
-- around it, with a sign, with leading zeros.
SELECT simple_cache_put('a11:int', '41') AS existed, simple_cache_incr('a11:int') AS result;
SELECT simple_cache_put('a11:int', ' 9 ') AS existed, simple_cache_incr('a11:int') AS result;
SELECT simple_cache_put('a11:int', '+5') AS existed, simple_cache_incr('a11:int') AS result;
SELECT simple_cache_put('a11:int', '-5') AS existed, simple_cache_incr('a11:int') AS result;
SELECT simple_cache_put('a11:int', '007') AS existed, simple_cache_incr('a11:int') AS result;
SELECT simple_cache_get('a11:int') AS value_rewritten;
-- Up to the ends of bigint.
SELECT simple_cache_put('a11:int', '9223372036854775806') AS existed, simple_cache_incr('a11:int') AS result;
SELECT simple_cache_put('a11:int', '-9223372036854775807') AS existed, simple_cache_incr('a11:int', -1) AS result;
SELECT simple_cache_incr('a11:int', 9223372036854775807) AS result;

-- The stored number is read as PostgreSQL reads a bigint: the same whitespace may come before
-- and after it (space, tab, newline, carriage return, vertical tab, form feed), none between
-- the sign and the digits, nothing else around it. Each sample gets the same verdict from
-- incr as from ::bigint: the same number (incr adds 1) or the same SQLSTATE.
CREATE FUNCTION pg_temp.incr_verdict(v text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM simple_cache_put('a11:ws', v);
    RETURN 'ok ' || simple_cache_incr('a11:ws');
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;
CREATE FUNCTION pg_temp.bigint_verdict(v text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    RETURN 'ok ' || (v::bigint + 1);
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;
SELECT label, pg_temp.incr_verdict(v) AS incr, pg_temp.incr_verdict(v) = pg_temp.bigint_verdict(v) AS same_as_bigint
FROM (VALUES ('spaces around', ' 7 '), ('tab before', E'\t7'), ('tab after', E'7\t'),
             ('newline before', E'\n7'), ('newline after', E'7\n'), ('CR LF after', E'7\r\n'),
             ('vertical tab around', E'\x0b7\x0b'), ('form feed around', E'\f7\f'),
             ('all six around a sign', E' \t\n\r\x0b\f-7 \t\n\r\x0b\f'),
             ('space after the sign', '- 7'), ('space inside', '7 7'), ('only spaces', E' \n '),
             ('sign only', E'+\n'), ('no-break space after', '7' || chr(160)),
             ('maximum with newline', E'9223372036854775806\n'), ('beyond with newline', E'9223372036854775808\n'))
     AS s(label, v);
SELECT simple_cache_put('a11:ws', E'\t41\r\n') AS existed, simple_cache_incr('a11:ws') AS result,
       simple_cache_get('a11:ws') AS rewritten;

-- incr errors change nothing. 22003 (numeric_value_out_of_range) when the result or the
-- stored number is out of bigint range; 22P02 (invalid_text_representation) when the value
-- is not an integer, or was stored as bytea; 22004 for a NULL key or delta.
SELECT simple_cache_put('a11:max', '9223372036854775807') AS existed,
       simple_cache_put('a11:min', '-9223372036854775808') AS existed2,
       simple_cache_put('a11:huge', '99999999999999999999') AS existed3,
       simple_cache_put('a11:word', 'seven') AS existed4,
       simple_cache_put('a11:decimal', '1.5') AS existed5,
       simple_cache_put('a11:empty', '') AS existed6,
       simple_cache_put('a11:trailing', '12abc') AS existed7,
       simple_cache_put('a11:hex', '0x10') AS existed8,
       simple_cache_put('a11:bytea', '\x3132'::bytea) AS existed9;
SELECT pg_temp.digest() AS digest_before \gset
SELECT simple_cache_incr('a11:max');
SELECT simple_cache_incr('a11:word');
SELECT pg_temp.sqlstate_of($q$SELECT simple_cache_incr('a11:max')$q$) AS max_plus_1,
       pg_temp.sqlstate_of($q$SELECT simple_cache_incr('a11:max', 9223372036854775807)$q$) AS max_plus_max,
       pg_temp.sqlstate_of($q$SELECT simple_cache_incr('a11:min', -1)$q$) AS min_minus_1,
       pg_temp.sqlstate_of($q$SELECT simple_cache_incr('a11:huge')$q$) AS stored_out_of_range;
SELECT pg_temp.sqlstate_of($q$SELECT simple_cache_incr('a11:word')$q$) AS word,
       pg_temp.sqlstate_of($q$SELECT simple_cache_incr('a11:decimal')$q$) AS decimal,
       pg_temp.sqlstate_of($q$SELECT simple_cache_incr('a11:empty')$q$) AS empty,
       pg_temp.sqlstate_of($q$SELECT simple_cache_incr('a11:trailing')$q$) AS trailing_garbage,
       pg_temp.sqlstate_of($q$SELECT simple_cache_incr('a11:hex')$q$) AS hex,
       pg_temp.sqlstate_of($q$SELECT simple_cache_incr('a11:bytea')$q$) AS bytea_digits;
SELECT pg_temp.sqlstate_of($q$SELECT simple_cache_incr(NULL)$q$) AS null_key,
       pg_temp.sqlstate_of($q$SELECT simple_cache_incr('a11:counter', NULL)$q$) AS null_delta,
       pg_temp.sqlstate_of($q$SELECT simple_cache_incr('a11:absent', NULL)$q$) AS null_delta_absent;
SELECT pg_temp.digest() = :'digest_before' AS unchanged, simple_cache_get('a11:absent') AS absent;
SELECT simple_cache_get('a11:max') AS max, simple_cache_get('a11:min') AS min,
       simple_cache_get('a11:word') AS word, simple_cache_get('a11:counter') AS counter;

-- ---------------------------------------------------------------------------------------------
-- cas: swaps the value only if it equals expected byte for byte; false otherwise, and false
-- for an absent key (cas never creates a key).
SELECT simple_cache_put('a11:cas', 'v1') AS existed;
SELECT simple_cache_cas('a11:cas', 'v1', 'v2') AS swapped;
SELECT simple_cache_get('a11:cas') AS value;
SELECT simple_cache_cas('a11:cas', 'v1', 'v3') AS swapped_stale;
SELECT simple_cache_cas('a11:cas', 'V2', 'v3') AS swapped_case;
SELECT simple_cache_cas('a11:cas', 'v2 ', 'v3') AS swapped_space;
SELECT simple_cache_get('a11:cas') AS value;
SELECT simple_cache_cas('a11:cas:absent', '', 'created?') AS swapped_absent;
SELECT simple_cache_get('a11:cas:absent') AS not_created;
-- The empty value is a value like any other.
SELECT simple_cache_put('a11:cas:empty', '') AS existed,
       simple_cache_cas('a11:cas:empty', '', 'filled') AS swapped;
SELECT simple_cache_cas('a11:cas:empty', 'filled', '') AS swapped_back,
       simple_cache_get('a11:cas:empty') = '' AS empty_again;
-- A swap keeps the key's ttl (or its lack of one).
SELECT simple_cache_put('a11:cas:ttl', 'a', '1 hour') AS existed,
       simple_cache_cas('a11:cas:ttl', 'a', 'b') AS swapped;
SELECT simple_cache_get('a11:cas:ttl') AS value,
       simple_cache_ttl('a11:cas:ttl') BETWEEN '59 minutes' AND '1 hour' AS ttl_kept,
       simple_cache_ttl('a11:cas') AS no_ttl_kept;
-- Compare-and-swap as an increment.
SELECT simple_cache_put('a11:cas:n', '0') AS existed;
DO $$
DECLARE
    seen text;
BEGIN
    FOR i IN 1 .. 100 LOOP
        seen := simple_cache_get('a11:cas:n');
        IF NOT simple_cache_cas('a11:cas:n', seen, (seen::int + 1)::text) THEN
            RAISE EXCEPTION 'cas failed with no other writer';
        END IF;
    END LOOP;
END
$$;
SELECT simple_cache_get('a11:cas:n') AS value;
-- The comparison is on bytes: a bytea value can be swapped by its text form; the new value
-- is text.
SELECT simple_cache_put('a11:cas:bytes', '\x616263'::bytea) AS existed,
       simple_cache_cas('a11:cas:bytes', 'abc', 'def') AS swapped;
SELECT simple_cache_get('a11:cas:bytes') AS value, simple_cache_get_bytea('a11:cas:bytes') AS bytes;
-- cas errors: a NULL argument is 22004; nothing changes.
SELECT pg_temp.digest() AS digest_before \gset
SELECT simple_cache_cas('a11:cas', NULL, 'x');
SELECT pg_temp.sqlstate_of($q$SELECT simple_cache_cas(NULL, 'v2', 'x')$q$) AS null_key,
       pg_temp.sqlstate_of($q$SELECT simple_cache_cas('a11:cas', NULL, 'x')$q$) AS null_expected,
       pg_temp.sqlstate_of($q$SELECT simple_cache_cas('a11:cas', 'v2', NULL)$q$) AS null_new_value;
SELECT pg_temp.digest() = :'digest_before' AS unchanged, simple_cache_get('a11:cas') AS value;

-- ---------------------------------------------------------------------------------------------
-- Not transactional: what add, replace, incr and cas did stays after a rollback.
BEGIN;
SELECT simple_cache_add('a11:tx:add', 'added in a transaction') AS added,
       simple_cache_replace('a11:add', 'replaced in a transaction') AS replaced,
       simple_cache_incr('a11:counter', 100) AS incremented,
       simple_cache_cas('a11:cas', 'v2', 'swapped in a transaction') AS swapped;
ROLLBACK;
SELECT simple_cache_get('a11:tx:add') AS add, simple_cache_get('a11:add') AS replace,
       simple_cache_get('a11:counter') AS counter, simple_cache_get('a11:cas') AS cas;

-- Clean up.
SELECT count(*) > 0 AS dropped FROM simple_cache_list() WHERE starts_with(key, 'a11:') AND simple_cache_drop(key);
SELECT count(*) AS remaining FROM simple_cache_list() WHERE starts_with(key, 'a11:');
