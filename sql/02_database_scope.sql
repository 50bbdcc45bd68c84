-- 02_database_scope: keys belong to the database they were put in. One shared table holds
-- the entries of every database, but get, drop and list only see the current database's.
-- Keys start with 'd02:'; a second database is created for the test and dropped at the end.
\pset null '<NULL>'

-- Global entry count from the table report (every database together).
CREATE FUNCTION pg_temp.all_entries() RETURNS bigint
LANGUAGE sql AS $$ SELECT substring(simple_cache_dump_hash_table() from 'entries: (\d+)')::bigint $$;

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'd02:'); END $$;
SELECT current_database() AS main_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_simple_cache_d02 WITH (FORCE);
RESET client_min_messages;
CREATE DATABASE regress_simple_cache_d02;

-- In the main database.
SELECT simple_cache_put('d02:shared', 'main value') AS existed,
       simple_cache_put('d02:main_only', 'only in main') AS existed2;
SELECT pg_temp.all_entries() AS entries_before \gset

\c regress_simple_cache_d02
CREATE EXTENSION simple_cache;
-- Nothing of the main database is visible here.
SELECT simple_cache_get('d02:shared') AS shared, simple_cache_get('d02:main_only') AS main_only;
SELECT count(*) AS listed FROM simple_cache_list() WHERE starts_with(key, 'd02:');
-- The same key is a new key in this database, with its own value.
SELECT simple_cache_put('d02:shared', 'other value') AS existed,
       simple_cache_put('d02:other_only', 'only in other') AS existed2;
SELECT simple_cache_get('d02:shared') AS shared;
SELECT key, value FROM simple_cache_list() WHERE starts_with(key, 'd02:') ORDER BY key COLLATE "C";
-- Dropping a key of the other database does nothing.
SELECT simple_cache_drop('d02:main_only') AS dropped;
-- Both databases' entries are in the same table.
SELECT substring(simple_cache_dump_hash_table() from 'entries: (\d+)')::bigint - :entries_before AS entries_added_here;

\c :main_db
-- The main database still sees its own values only.
SELECT simple_cache_get('d02:shared') AS shared, simple_cache_get('d02:other_only') AS other_only;
SELECT key, value FROM simple_cache_list() WHERE starts_with(key, 'd02:') ORDER BY key COLLATE "C";
SELECT simple_cache_drop('d02:other_only') AS dropped;
-- Replacing and dropping here leaves the other database's entry alone.
SELECT simple_cache_put('d02:shared', 'main value 2') AS existed;
SELECT simple_cache_drop('d02:shared') AS dropped;
SELECT simple_cache_get('d02:shared') AS shared;

\c regress_simple_cache_d02
SELECT simple_cache_get('d02:shared') AS shared, simple_cache_get('d02:other_only') AS other_only;
-- Clean up this database's entries before it goes away (the cache would keep them).
SELECT count(*) AS dropped FROM simple_cache_list() WHERE starts_with(key, 'd02:') AND simple_cache_drop(key);
SELECT count(*) AS remaining FROM simple_cache_list();

\c :main_db
SELECT key, value FROM simple_cache_list() WHERE starts_with(key, 'd02:') ORDER BY key COLLATE "C";
SELECT count(*) AS dropped FROM simple_cache_list() WHERE starts_with(key, 'd02:') AND simple_cache_drop(key);
SELECT count(*) AS remaining FROM simple_cache_list() WHERE starts_with(key, 'd02:');
DROP DATABASE regress_simple_cache_d02 WITH (FORCE);
