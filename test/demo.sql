-- simple_cache demo: run by "make demo" on a throwaway cluster, after CREATE EXTENSION.
\echo '--- store three entries (put returns true when it replaced an existing value)'
SELECT simple_cache_put('greeting', 'hello');
SELECT simple_cache_put('answer', '42');
SELECT simple_cache_put('colour', 'blue');

\echo '--- read them back (a missing key gives NULL)'
SELECT simple_cache_get('greeting') AS greeting,
       simple_cache_get('answer')   AS answer,
       simple_cache_get('missing')  AS missing;

\echo '--- overwrite one'
SELECT simple_cache_put('colour', 'green');
SELECT simple_cache_get('colour') AS colour;

\echo '--- list everything'
SELECT * FROM simple_cache_list() ORDER BY key;

\echo '--- drop one and list again'
SELECT simple_cache_drop('answer');
SELECT * FROM simple_cache_list() ORDER BY key;
