# The size limit in force is the last one set, by simple_cache_set_size_limit() or by a change
# of simple_cache.max_memory, which is taken up once:
#   * a statement that began before a reload keeps the old max_memory to its end; its writes
#     never put that old value back in force, neither over the new setting nor over a later
#     simple_cache_set_size_limit();
#   * reading (the statistics view) never takes a change up; the next write of a session that
#     has read the new configuration does;
#   * a server that only uses the free-space map obeys max_memory too;
#   * with the library preloaded, the persistence worker takes a change up right after the
#     reload, and evicts down to a lowered limit (eviction lru) with no client writing;
#   * the README's way to change a setting works from a fresh session: without preloading,
#     ALTER SYSTEM of a simple_cache setting fails in a session that has not loaded the library
#     (on a server whose configuration never named it) and works after LOAD 'simple_cache';
#     with preloading it works in any session.
# "After the reload" is waited for by polling new sessions until they show the new value;
# nothing here depends on how long anything takes.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $mb = 1024 * 1024;

# Sets simple_cache.max_memory with ALTER SYSTEM and a reload, and waits until new sessions
# see it (the postmaster has read the configuration).
sub set_max_memory
{
	my ($node, $value) = @_;
	$node->safe_psql('postgres', "LOAD 'simple_cache'; ALTER SYSTEM SET simple_cache.max_memory = '$value'");
	$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
	$node->poll_query_until('postgres', "SELECT current_setting('simple_cache.max_memory') = '$value'")
	  or die "the reload of max_memory = $value was not seen";
}

# --- A server without preloading ------------------------------------------------------------
my $node = PostgreSQL::Test::Cluster->new('size_limit_setting');
$node->init;
$node->start;

sub query { return $node->safe_psql('postgres', $_[0]); }

query(q{
CREATE EXTENSION simple_cache;
CREATE TABLE go (step int);
-- Waits until step n was reached (a row in go), reading go afresh each time.
CREATE FUNCTION wait_for(n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    WHILE NOT EXISTS (SELECT FROM go WHERE step >= n) LOOP
        PERFORM pg_sleep(0.01);
    END LOOP;
END
$$;
-- One statement that writes before step 1, between steps 1 and 2 and after step 2, and
-- reports what it sees: its own max_memory and the limit in force after each round.
CREATE FUNCTION stale_writer() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    seen text;
BEGIN
    PERFORM simple_cache_put('stale:start', 'v');
    seen := current_setting('simple_cache.max_memory');
    PERFORM wait_for(1);
    PERFORM simple_cache_put('stale:a:' || i, 'v') FROM generate_series(1, 100) i;
    seen := seen || ' ' || (SELECT size_limit FROM simple_cache_stats);
    PERFORM wait_for(2);
    PERFORM simple_cache_put('stale:b:' || i, 'v') FROM generate_series(1, 100) i;
    RETURN seen || ' ' || (SELECT size_limit FROM simple_cache_stats);
END
$$;
});

# Each query() is a fresh session, which has not loaded the library.
for my $setting (q{simple_cache.max_memory = '16MB'}, 'simple_cache.fsm_max_pages = 300000',
	'simple_cache.save_interval = 120')
{
	# Without the library, the setting is the server's to judge: before 17 it refuses a
	# parameter nothing has defined; 17 and later write it as a placeholder.
	my ($ret, $stdout, $stderr) = $node->psql('postgres', "ALTER SYSTEM SET $setting");
	if (query('SHOW server_version_num') >= 170000)
	{
		is($ret, 0, "without the library loaded, ALTER SYSTEM SET $setting is kept as a placeholder");
	}
	else
	{
		like($stderr, qr/unrecognized configuration parameter/,
			"without the library loaded, ALTER SYSTEM SET $setting is refused");
	}
	is(query("LOAD 'simple_cache'; ALTER SYSTEM SET $setting; SELECT 'written'"), 'written',
		"after LOAD 'simple_cache', ALTER SYSTEM SET $setting works");
}
query(q{LOAD 'simple_cache'; ALTER SYSTEM RESET simple_cache.max_memory; ALTER SYSTEM RESET simple_cache.fsm_max_pages;
	ALTER SYSTEM RESET simple_cache.save_interval});

query(q{SELECT simple_cache_put('first', 'v')});
is(query('SELECT size_limit FROM simple_cache_stats'), 256 * $mb, 'the default limit, 256 MB, is in force');

# A session starts a statement before the reload: its max_memory stays 256MB to its end.
my $stale = $node->background_psql('postgres');
$stale->query_until(qr/started/, "\\echo started\nSELECT stale_writer();\n\\echo stale_done\n");
$node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE 'SELECT stale_writer()%' AND state = 'active'})
  or die 'the stale statement did not start';

set_max_memory($node, '16MB');
is(query('SELECT size_limit FROM simple_cache_stats'), 256 * $mb, 'reading the statistics does not take the change up');
query(q{SELECT simple_cache_put('fresh', 'v')});
is(query('SELECT size_limit FROM simple_cache_stats'), 16 * $mb, 'the next write takes max_memory = 16MB up');

# The stale statement writes: the limit stays 16 MB.
query('INSERT INTO go VALUES (1)');
$node->poll_query_until('postgres', q{SELECT count(*) = 100 FROM simple_cache_list() WHERE key LIKE 'stale:a:%'})
  or die 'the stale statement did not write';
is(query('SELECT size_limit FROM simple_cache_stats'), 16 * $mb,
	'writes of a statement begun before the reload do not put 256MB back');

# simple_cache_set_size_limit() then sets 4 MB; the stale statement writes again: 4 MB stays.
query('SELECT simple_cache_set_size_limit(4 * 1024 * 1024)');
is(query('SELECT size_limit FROM simple_cache_stats'), 4 * $mb, 'simple_cache_set_size_limit sets 4 MB');
query('INSERT INTO go VALUES (2)');
my $seen = $stale->query_until(qr/stale_done/, '');
$seen =~ s/\s*stale_done\s*$//;
is($seen, '256MB ' . (16 * $mb) . ' ' . (4 * $mb),
	'the stale statement kept 256MB as its setting and saw 16 MB, then 4 MB in force');
is(query('SELECT size_limit FROM simple_cache_stats'), 4 * $mb,
	'writes of a statement begun before the reload do not undo simple_cache_set_size_limit');
$stale->quit;

# The setting stays taken up: more writes (in sessions that read it) change nothing ...
query(q{SELECT simple_cache_put('again:' || i, 'v') FROM generate_series(1, 10) i});
is(query('SELECT size_limit FROM simple_cache_stats'), 4 * $mb, 'an unchanged max_memory does not override the call');
# ... until it changes again.
set_max_memory($node, '24MB');
query(q{SELECT simple_cache_put('after:24', 'v')});
is(query('SELECT size_limit FROM simple_cache_stats'), 24 * $mb, 'a new change of max_memory is taken up by a write');

# Reloading an unchanged value changes nothing; a change back to an earlier value is a change.
query('SELECT simple_cache_set_size_limit(8 * 1024 * 1024)');
set_max_memory($node, '24MB');
query(q{SELECT simple_cache_put('after:24:again', 'v')});
is(query('SELECT size_limit FROM simple_cache_stats'), 8 * $mb, 'reloading an unchanged max_memory changes nothing');
set_max_memory($node, '16MB');
query(q{SELECT simple_cache_put('after:16', 'v')});
is(query('SELECT size_limit FROM simple_cache_stats'), 16 * $mb, 'max_memory set back to 16MB is taken up');

unlike(slurp_file($node->logfile), qr/PANIC|TRAP:|terminated by signal/, 'no server process crashed');
$node->stop;

# --- A server that only uses the free-space map ---------------------------------------------
# The map allocates in an area of its own, and the limit caps it too: at 1 MB the map's area
# has its first segment and no more, so a report of 200,000 pages (several MB of chunks) cannot
# fit.
my $map = PostgreSQL::Test::Cluster->new('map_only');
$map->init;
$map->append_conf('postgresql.conf', "simple_cache.max_memory = '1MB'\nsimple_cache.fsm_max_pages = 10000000\n");
$map->start;
$map->safe_psql('postgres', 'CREATE EXTENSION simple_cache');
is($map->safe_psql('postgres',
	q{SELECT simple_cache_fsm_record_many(900001, ARRAY[0, 1, 2]::bigint[], ARRAY[100, 200, 300])}),
	'3', 'map only: a small report fits');
my ($ret, $stdout, $stderr) = $map->psql('postgres', q{
	SELECT simple_cache_fsm_record_many(900002, array_agg(b), array_agg(100)) FROM generate_series(0, 199999) b});
like($stderr, qr/ERROR:  .*(shared memory|out of memory)/, 'map only: a report of 200,000 pages does not fit under 1 MB');
is($map->safe_psql('postgres', q{SELECT count(*) FROM simple_cache_fsm_pages(900002)}), '0',
	'map only: nothing of the refused report is kept');
like($map->safe_psql('postgres', 'SELECT simple_cache_dump_area()'), qr/size limit: 1048576 bytes/,
	'map only: the limit in force is max_memory');
# Under a 2 MB limit the map's room is half of it (its area's first segment is larger): the
# cache keeps the other half as its share and still stores values.
like($map->safe_psql('postgres', 'SELECT simple_cache_dump_area()'), qr/reserved room: 524288 bytes/,
	"map only: under a 2 MB limit the map's room is half of it");
$map->safe_psql('postgres', q{SELECT simple_cache_put('small', 'value')});
is($map->safe_psql('postgres', q{SELECT simple_cache_get('small')}), 'value',
	'map only: the cache still stores a value in its half');
$map->stop;

# --- A preloaded server: the persistence worker takes a change up ---------------------------
my $pre = PostgreSQL::Test::Cluster->new('preloaded_limit');
$pre->init;
$pre->append_conf('postgresql.conf', "shared_preload_libraries = 'simple_cache'\n");
$pre->start;
$pre->safe_psql('postgres', 'CREATE EXTENSION simple_cache');
is($pre->safe_psql('postgres', q{ALTER SYSTEM SET simple_cache.fsm_max_pages = 300000;
	ALTER SYSTEM RESET simple_cache.fsm_max_pages; SELECT 'written'}), 'written',
	'preloaded: ALTER SYSTEM works in any session, without LOAD');
$pre->safe_psql('postgres', q{SELECT count(simple_cache_put('fill:' || i, repeat('x', 2000))) FROM generate_series(1, 5000) i});
ok($pre->safe_psql('postgres', 'SELECT area_bytes > 8 * 1024 * 1024 FROM simple_cache_stats') eq 't',
	'preloaded: over 8 MB in use');
set_max_memory($pre, '4MB');
ok($pre->poll_query_until('postgres',
	q{SELECT size_limit = 4 * 1024 * 1024 AND area_bytes <= 4 * 1024 * 1024 AND evictions > 0 FROM simple_cache_stats}),
	'preloaded: the worker takes max_memory = 4MB up and evicts down to it, with no client writing');
unlike(slurp_file($pre->logfile), qr/PANIC|TRAP:|terminated by signal/, 'preloaded: no server process crashed');
$pre->stop;

done_testing();
