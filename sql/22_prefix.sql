-- 22_prefix: the keys under a prefix (simple_cache_list_prefix, simple_cache_count_prefix,
-- simple_cache_drop_prefix). A prefix is compared byte for byte (no pattern characters), only
-- live entries are listed and counted, and a prefix never reaches another database's keys,
-- even the same keys: a second database is created for the test and dropped at the end.
-- Keys start with 'p22:'.
\pset null '<NULL>'
DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'p22:'); END $$;
SELECT current_database() AS main_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_simple_cache_p22 WITH (FORCE);
RESET client_min_messages;
CREATE DATABASE regress_simple_cache_p22;

SELECT simple_cache_put('p22:user:1', 'ann') AS e1, simple_cache_put('p22:user:2', 'bob') AS e2,
       simple_cache_put('p22:user:10', 'cy') AS e3, simple_cache_put('p22:user', 'no colon') AS e4,
       simple_cache_put('p22:order:1', 'o1') AS e5, simple_cache_put('p22:%x', 'percent') AS e6,
       simple_cache_put('p22:_y', 'underscore') AS e7, simple_cache_put('p22:bin', '\xff'::bytea) AS e8;

-- The same keys in the other database.
\c regress_simple_cache_p22
CREATE EXTENSION simple_cache;
SELECT simple_cache_put('p22:user:1', 'other ann') AS e1, simple_cache_put('p22:user:3', 'other dee') AS e2;
\c :main_db
\pset null '<NULL>'

-- Listing and counting.
SELECT key, value FROM simple_cache_list_prefix('p22:user:') ORDER BY key COLLATE "C";
SELECT simple_cache_count_prefix('p22:user:') AS user_keys, simple_cache_count_prefix('p22:user') AS user_any,
       simple_cache_count_prefix('p22:') AS all_p22, simple_cache_count_prefix('p22:nothing') AS none;
-- The prefix is matched literally: % and _ are ordinary characters.
SELECT key FROM simple_cache_list_prefix('p22:%') ORDER BY key COLLATE "C";
SELECT simple_cache_count_prefix('p22:_') AS underscore_keys;
-- A bytea value that is not text is listed in hex, as simple_cache_list shows it.
SELECT key, value FROM simple_cache_list_prefix('p22:bin');
-- The empty prefix is every key of this database: the same as simple_cache_list.
SELECT simple_cache_count_prefix('') = (SELECT count(*) FROM simple_cache_list()) AS empty_prefix_is_all;
-- The count and the listing agree.
SELECT simple_cache_count_prefix('p22:') = (SELECT count(*) FROM simple_cache_list_prefix('p22:')) AS agree;

-- Expired entries are neither listed nor counted.
SELECT simple_cache_put('p22:user:expired', 'gone', interval '1 millisecond') AS e;
SELECT pg_sleep(0.01);
SELECT simple_cache_count_prefix('p22:user:') AS user_keys_after_expiry,
       (SELECT count(*) FROM simple_cache_list_prefix('p22:user:expired')) AS listed;

-- Dropping: returns how many live entries went; keys outside the prefix stay.
SELECT simple_cache_drop_prefix('p22:user:') AS dropped;
SELECT key FROM simple_cache_list_prefix('p22:') ORDER BY key COLLATE "C";
SELECT simple_cache_drop_prefix('p22:user:') AS dropped_again;

-- NULL: STRICT functions return NULL (or no rows) and change nothing.
SELECT simple_cache_count_prefix(NULL) AS count_null, simple_cache_drop_prefix(NULL) AS drop_null;
SELECT count(*) AS list_null FROM simple_cache_list_prefix(NULL);
SELECT simple_cache_count_prefix('p22:') AS still_there;

-- A prefix longer than any key can be: the key length limit applies, and nothing changes.
SELECT simple_cache_count_prefix(repeat('p', 1024 * 1024 + 1));
SELECT simple_cache_drop_prefix(repeat('p', 1024 * 1024 + 1));
SELECT count(*) FROM simple_cache_list_prefix(repeat('p', 1024 * 1024 + 1));
-- A long prefix that fits: nothing under it.
SELECT simple_cache_count_prefix(repeat('p', 1024 * 1024)) AS long_prefix;

-- Dropping 'p22:' here leaves the other database's keys alone, the same keys included; there,
-- the empty prefix drops that database's keys, and only those.
SELECT simple_cache_drop_prefix('p22:') AS dropped_p22;
SELECT simple_cache_count_prefix('p22:') AS left_here;
\c regress_simple_cache_p22
\pset null '<NULL>'
SELECT key, value FROM simple_cache_list_prefix('p22:') ORDER BY key COLLATE "C";
SELECT simple_cache_drop_prefix('') AS dropped_in_other;
\c :main_db
SET client_min_messages = warning;
DROP DATABASE regress_simple_cache_p22 WITH (FORCE);
RESET client_min_messages;
