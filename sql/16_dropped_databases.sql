-- 16_dropped_databases: what a dropped database leaves behind is never visible to a later
-- database, even one created with the same oid, is not saved, and is reclaimed. The same for a
-- dropped and re-created extension. Keys start with 'd16:'.
\pset null '<NULL>'

-- Global entry count from the table report (every database together).
\set all_entries 'substring(simple_cache_dump_hash_table() from $$entries: (\\d+)$$)::bigint'

SELECT current_database() AS main_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_simple_cache_victim WITH (FORCE);
DROP DATABASE IF EXISTS regress_simple_cache_attacker WITH (FORCE);
RESET client_min_messages;
CREATE DATABASE regress_simple_cache_victim;
SELECT :all_entries AS entries_before \gset

-- The victim stores a secret in the cache and a relation in the free-space map.
\c regress_simple_cache_victim
CREATE EXTENSION simple_cache;
SELECT simple_cache_put('d16:apikey', 's3cr3t-token') AS existed,
       simple_cache_put('d16:second', 'two') AS existed2,
       simple_cache_put('d16:third', 'three') AS existed3;
SELECT simple_cache_fsm_record_many(900016, ARRAY[0, 1, 2]::bigint[], ARRAY[100, 200, 300]) AS kept;
SELECT oid AS victim_oid FROM pg_database WHERE datname = current_database() \gset
-- A save writes the victim's entries.
SELECT simple_cache_save() AS saved_with_victim \gset

\c :main_db
SELECT :all_entries - :entries_before AS victim_entries;
DROP DATABASE regress_simple_cache_victim;
-- The dropped database's entries are not saved any more.
SELECT :saved_with_victim - simple_cache_save() AS entries_no_longer_saved;

-- A role with only CREATEDB makes a database with the victim's oid.
CREATE ROLE regress_simple_cache_attacker CREATEDB LOGIN;
SET ROLE regress_simple_cache_attacker;
CREATE DATABASE regress_simple_cache_attacker OID = :victim_oid;
RESET ROLE;
\c regress_simple_cache_attacker
CREATE EXTENSION simple_cache;
SET ROLE regress_simple_cache_attacker;
SELECT oid = :victim_oid AS same_oid FROM pg_database WHERE datname = current_database();
-- Nothing of the victim is visible: not by key, not in the listing, not in the map.
SELECT simple_cache_get('d16:apikey') AS apikey, simple_cache_get_bytea('d16:apikey') AS apikey_bytes;
SELECT count(*) AS listed FROM simple_cache_list();
SELECT * FROM simple_cache_mget(ARRAY['d16:apikey', 'd16:second']);
SELECT simple_cache_ttl('d16:apikey') AS ttl, simple_cache_drop('d16:apikey') AS dropped,
       simple_cache_replace('d16:apikey', 'x') AS replaced, simple_cache_cas('d16:apikey', 's3cr3t-token', 'x') AS swapped;
SELECT count(*) AS map_pages FROM simple_cache_fsm_pages(900016);
SELECT simple_cache_fsm_get_page(900016, 50) AS page;
-- A key put now is the attacker's own.
SELECT simple_cache_add('d16:apikey', 'mine') AS added, simple_cache_get('d16:apikey') AS apikey;
RESET ROLE;
SELECT count(*) AS map_relations FROM simple_cache_fsm_relations;

-- The victim's memory came back: the save after the drop purged its scope.
\c :main_db
SELECT :all_entries - :entries_before AS entries_left;
SELECT count(*) FILTER (WHERE relid = 900016) AS victim_relations_here FROM simple_cache_fsm_relations;

-- DROP EXTENSION and CREATE EXTENSION start a database's cache afresh.
\c regress_simple_cache_attacker
SELECT simple_cache_get('d16:apikey') AS before_drop;
DROP EXTENSION simple_cache;
CREATE EXTENSION simple_cache;
SELECT simple_cache_get('d16:apikey') AS after_recreate;
SELECT count(*) AS listed FROM simple_cache_list();
SELECT simple_cache_put('d16:again', 'new') AS existed;

-- A dropped database that nobody re-creates is noticed by the next collection, which a
-- backend's first call runs (at most once a second), and reclaimed by a save (or a flush, or
-- eviction, which takes such entries first).
\c :main_db
-- Two entries: the attacker's key from before DROP EXTENSION (its scope retired, purged by the
-- next save) and the one put since.
SELECT :all_entries - :entries_before AS entries_before_drop;
DROP DATABASE regress_simple_cache_attacker;
DROP ROLE regress_simple_cache_attacker;
SELECT pg_sleep(1.1);
\c :main_db
SELECT simple_cache_get('d16:nothing') AS first_call;
SELECT simple_cache_save() >= 0 AS saved;
SELECT :all_entries - :entries_before AS entries_after_drop;
