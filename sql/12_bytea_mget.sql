-- 12_bytea_mget: bytea values and simple_cache_mget.
--
-- A value is stored as the bytes it was given, with a note of whether it came as text or
-- bytea. simple_cache_get_bytea reads any value as its bytes; simple_cache_get (and mget)
-- read a bytea value as text only if its bytes are valid in the database encoding, and
-- otherwise raise 22021 (character_not_in_repertoire).
-- simple_cache_mget(text[]) returns one (key, value) row per array element, in array order,
-- with a NULL value for absent keys.
-- Keys start with 'y12:'. Values that are not valid UTF-8 are dropped again right after use.
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

-- A digest of this file's entries (keys and value bytes).
CREATE FUNCTION pg_temp.digest() RETURNS text
LANGUAGE sql AS $$
    SELECT md5(coalesce(string_agg(key || '=' || encode(simple_cache_get_bytea(key), 'hex'), ','
                                   ORDER BY key COLLATE "C"), ''))
    FROM simple_cache_list() WHERE starts_with(key, 'y12:')
$$;

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'y12:'); END $$;

-- ---------------------------------------------------------------------------------------------
-- bytea values round-trip byte for byte, including zero bytes and bytes that are not UTF-8.
SELECT simple_cache_put('y12:bin', '\x00ff10fe00'::bytea) AS existed;
SELECT simple_cache_get_bytea('y12:bin') AS bytes;
SELECT simple_cache_put('y12:bin', '\x000102'::bytea) AS existed;
SELECT simple_cache_get_bytea('y12:bin') AS bytes;
-- The empty bytea is a value, not NULL.
SELECT simple_cache_put('y12:bin:empty', ''::bytea) AS existed;
SELECT simple_cache_get_bytea('y12:bin:empty') AS bytes, simple_cache_get_bytea('y12:bin:empty') IS NULL AS is_null,
       simple_cache_get('y12:bin:empty') = '' AS empty_text;
-- Absent and NULL keys give NULL.
SELECT simple_cache_get_bytea('y12:absent') AS absent, simple_cache_get_bytea(NULL) AS null_key;
-- A 2 MB value of every byte value.
SELECT simple_cache_put('y12:bin:large', decode(repeat(string_agg(lpad(to_hex(b), 2, '0'), '' ORDER BY b), 8192), 'hex')) AS existed
FROM generate_series(0, 255) b;
SELECT octet_length(simple_cache_get_bytea('y12:bin:large')) AS bytes,
       md5(simple_cache_get_bytea('y12:bin:large')) = md5(decode(repeat(string_agg(lpad(to_hex(b), 2, '0'), '' ORDER BY b), 8192), 'hex')) AS same
FROM generate_series(0, 255) b;
SELECT simple_cache_drop('y12:bin:large') AS dropped;

-- A string literal picks the text variant; a bytea expression the bytea one.
SELECT simple_cache_put('y12:literal', 'abc') AS existed;
SELECT simple_cache_get_bytea('y12:literal') AS bytes;
SELECT simple_cache_put('y12:literal', convert_to('abc', 'UTF8')) AS existed;
SELECT simple_cache_get('y12:literal') AS text;

-- Reading text as bytea gives its bytes in the database encoding.
SELECT simple_cache_put('y12:text', 'Grüße, 日本 🐘') AS existed;
SELECT simple_cache_get_bytea('y12:text') = convert_to('Grüße, 日本 🐘', 'UTF8') AS same_bytes,
       simple_cache_get_bytea('y12:text') AS bytes;
-- Reading bytea as text works when the bytes are valid in the database encoding.
SELECT simple_cache_put('y12:utf8', convert_to('élan ∀x', 'UTF8')) AS existed;
SELECT simple_cache_get('y12:utf8') AS text;
-- ... and raises 22021 otherwise, in get and in mget; the value stays and reads as bytea.
SELECT simple_cache_put('y12:bad', '\x41ff42'::bytea) AS existed, simple_cache_put('y12:bad:nul', '\x410042'::bytea) AS existed2;
SELECT simple_cache_get('y12:bad');
SELECT pg_temp.sqlstate_of($q$SELECT simple_cache_get('y12:bad')$q$) AS get_invalid,
       pg_temp.sqlstate_of($q$SELECT simple_cache_get('y12:bad:nul')$q$) AS get_zero_byte,
       pg_temp.sqlstate_of($q$SELECT * FROM simple_cache_mget(ARRAY['y12:text', 'y12:bad'])$q$) AS mget_invalid;
SELECT simple_cache_get_bytea('y12:bad') AS bad, simple_cache_get_bytea('y12:bad:nul') AS bad_nul;
SELECT simple_cache_drop('y12:bad') AS dropped, simple_cache_drop('y12:bad:nul') AS dropped2;

-- add and replace have bytea variants too, with and without ttl.
SELECT simple_cache_add('y12:add', '\xaa'::bytea) AS added, simple_cache_add('y12:add', '\xbb'::bytea) AS added_again;
SELECT simple_cache_get_bytea('y12:add') AS bytes;
SELECT simple_cache_replace('y12:add', '\xcc'::bytea, '1 hour') AS replaced,
       simple_cache_replace('y12:absent', '\xcc'::bytea) AS replaced_absent;
SELECT simple_cache_get_bytea('y12:add') AS bytes,
       simple_cache_ttl('y12:add') BETWEEN '59 minutes' AND '1 hour' AS ttl_set,
       simple_cache_get_bytea('y12:absent') AS not_created;
SELECT simple_cache_add('y12:add:ttl', '\x01'::bytea, '1 hour') AS added,
       simple_cache_put('y12:put:ttl', '\x02'::bytea, '1 hour') AS existed,
       simple_cache_put('y12:put:nottl', '\x03'::bytea, NULL) AS existed2;
SELECT simple_cache_ttl('y12:add:ttl') BETWEEN '59 minutes' AND '1 hour' AS add_ttl,
       simple_cache_ttl('y12:put:ttl') BETWEEN '59 minutes' AND '1 hour' AS put_ttl,
       simple_cache_ttl('y12:put:nottl') AS no_ttl;
-- A text put over a bytea value (and back) changes how the value reads.
SELECT simple_cache_replace('y12:add', 'now text') AS replaced;
SELECT simple_cache_get('y12:add') AS text, simple_cache_get_bytea('y12:add') AS bytes;

-- Errors: a NULL bytea value is 22004 and a key over 1 MB 54000; nothing changes.
SELECT pg_temp.digest() AS digest_before \gset
SELECT simple_cache_put('y12:bin', NULL::bytea);
SELECT pg_temp.sqlstate_of($q$SELECT simple_cache_put('y12:bin', NULL::bytea)$q$) AS put_null,
       pg_temp.sqlstate_of($q$SELECT simple_cache_put('y12:bin', NULL::bytea, '1 hour')$q$) AS put_null_ttl,
       pg_temp.sqlstate_of($q$SELECT simple_cache_put(NULL, '\x00'::bytea)$q$) AS put_null_key,
       pg_temp.sqlstate_of($q$SELECT simple_cache_put('y12:' || repeat('k', 1048573), '\x00'::bytea)$q$) AS put_long_key,
       pg_temp.sqlstate_of($q$SELECT simple_cache_get_bytea('y12:' || repeat('k', 1048573))$q$) AS get_long_key;
SELECT pg_temp.digest() = :'digest_before' AS unchanged, simple_cache_get_bytea('y12:bin') AS bytes;

-- ---------------------------------------------------------------------------------------------
-- mget: one row per element, in order, absent keys with a NULL value.
SELECT simple_cache_put('y12:m:1', 'one') AS existed, simple_cache_put('y12:m:2', 'two') AS existed2,
       simple_cache_put('y12:m:3', 'three') AS existed3;
SELECT * FROM simple_cache_mget(ARRAY['y12:m:3', 'y12:m:absent', 'y12:m:1', 'y12:m:2']);
-- Duplicates come back as often as asked for; a NULL element gives a row of NULLs.
SELECT * FROM simple_cache_mget(ARRAY['y12:m:2', NULL, 'y12:m:2', 'y12:m:1']) WITH ORDINALITY AS m(key, value, n);
-- An empty array gives no row; a NULL array gives no row (STRICT).
SELECT count(*) AS empty_array FROM simple_cache_mget('{}');
SELECT count(*) AS null_array FROM simple_cache_mget(NULL);
-- A two-dimensional array is read in row-major order.
SELECT * FROM simple_cache_mget(ARRAY[['y12:m:1', 'y12:m:2'], ['y12:m:absent', 'y12:m:3']]);
-- Values read as by simple_cache_get: bytea as text when valid, the empty value as ''.
SELECT key, value, value = '' AS is_empty FROM simple_cache_mget(ARRAY['y12:utf8', 'y12:bin:empty', 'y12:literal', 'y12:m:none']);
-- Many keys keep their order.
SELECT count(*) AS put FROM generate_series(1, 1000) i WHERE NOT simple_cache_put('y12:many:' || i, 'v' || i);
SELECT count(*) AS rows, bool_and(key = 'y12:many:' || n) AS keys_in_order,
       bool_and(value IS NOT DISTINCT FROM CASE WHEN n <= 1000 THEN 'v' || n END) AS values_match
FROM simple_cache_mget(ARRAY(SELECT 'y12:many:' || i FROM generate_series(1, 1010) i)) WITH ORDINALITY AS m(key, value, n);
SELECT count(*) AS rows, bool_and(key = 'y12:many:' || (1001 - n)) AS reverse_order
FROM simple_cache_mget(ARRAY(SELECT 'y12:many:' || i FROM generate_series(1000, 1, -1) i)) WITH ORDINALITY AS m(key, value, n);
-- A key over 1 MB in the array is 54000.
SELECT pg_temp.sqlstate_of($q$SELECT * FROM simple_cache_mget(ARRAY['y12:m:1', 'y12:' || repeat('k', 1048573)])$q$) AS mget_long_key;
-- mget is an ordinary set-returning function: it joins and aggregates.
SELECT string_agg(coalesce(value, '-'), ' ' ORDER BY n) AS joined
FROM simple_cache_mget(ARRAY['y12:m:1', 'y12:m:2', 'y12:m:none', 'y12:m:3']) WITH ORDINALITY AS m(key, value, n);

-- Clean up.
SELECT count(*) > 0 AS dropped FROM simple_cache_list() WHERE starts_with(key, 'y12:') AND simple_cache_drop(key);
SELECT count(*) AS remaining FROM simple_cache_list() WHERE starts_with(key, 'y12:');
