-- 17_settings_fresh_session: the extension's settings in a session that has not loaded the
-- library yet (without shared_preload_libraries). PostgreSQL 15 knows the simple_cache.*
-- settings in a session only once the library is loaded there, by a call of any simple_cache
-- function or by LOAD 'simple_cache'. The README's way to change a server setting is LOAD
-- first, then ALTER SYSTEM: it works from a fresh session for each of them. SET of a session
-- setting before the load is kept, and applies once the library is loaded.
-- (That ALTER SYSTEM without the load fails on a server whose configuration never named the
-- setting, and that a change made the documented way is in force after a reload, are checked
-- by test/t/050_size_limit_setting.pl on servers of its own: here earlier files have reloaded
-- such settings, which leaves the server knowing their names.)
-- The settings are set back with ALTER SYSTEM RESET; nothing is reloaded here.
\pset null '<NULL>'

-- A fresh session: no simple_cache function has run in it, so the library is not loaded.
\c
SELECT count(*) AS settings_known_before_load FROM pg_settings WHERE name LIKE 'simple_cache.%';

-- The documented way: LOAD 'simple_cache' first.
LOAD 'simple_cache';
SELECT count(*) > 0 AS settings_known_after_load FROM pg_settings WHERE name LIKE 'simple_cache.%';
ALTER SYSTEM SET simple_cache.max_memory = '300MB';
ALTER SYSTEM SET simple_cache.fsm_max_pages = 300000;
ALTER SYSTEM SET simple_cache.save_interval = 120;
ALTER SYSTEM SET simple_cache.eviction = 'none';
-- Written to postgresql.auto.conf, each with a value the setting accepts.
SELECT name, setting, applied, error FROM pg_file_settings
WHERE name LIKE 'simple_cache.%' ORDER BY name COLLATE "C";
-- With the library loaded, a value out of range is refused (22023; the message's wording of the
-- range differs between releases).
\set VERBOSITY sqlstate
ALTER SYSTEM SET simple_cache.max_memory = '512kB';
\set VERBOSITY default
ALTER SYSTEM RESET simple_cache.max_memory;
ALTER SYSTEM RESET simple_cache.fsm_max_pages;
ALTER SYSTEM RESET simple_cache.save_interval;
ALTER SYSTEM RESET simple_cache.eviction;
SELECT count(*) AS left_in_the_file FROM pg_file_settings WHERE name LIKE 'simple_cache.%';

-- Any simple_cache function loads the library too.
\c
SELECT simple_cache_get('s17:absent') AS absent;
ALTER SYSTEM SET simple_cache.max_memory = '300MB';
ALTER SYSTEM RESET simple_cache.max_memory;

-- SET before the load: the value is kept and applies once the library is loaded.
\c
SET simple_cache.default_ttl = '10min';
SHOW simple_cache.default_ttl;
SELECT simple_cache_put('s17:ttl', 'v') AS existed,
       simple_cache_ttl('s17:ttl') BETWEEN '9 minutes' AND '10 minutes' AS default_ttl_applied;
SHOW simple_cache.default_ttl;
SELECT simple_cache_drop('s17:ttl') AS dropped;
