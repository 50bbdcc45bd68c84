# Giving shared memory segments back while other sessions work. A give-back briefly takes every
# free page of the area (and allows no new segment), so a session whose allocation finds no
# room meanwhile must wait for it and retry, never fail.
#   * Deterministically: a flush's give-back is held with simple_cache.debug_give_back_pause
#     while another session, with simple_cache.eviction = none, puts a 1 MB value: that put
#     must wait (on the area's lock, as pg_stat_activity shows: "simple_cache", or
#     "extension" to a backend that has not used the extension) and then succeed.
#   * Under load, three sessions at once: one puts 40 values of 1 MB in database gb_flush and
#     flushes them, over and over; one puts and drops values of 1 MB in gb_drop (each drop of
#     a segment's last large block makes a give-back due, run by its next write); one, with
#     eviction none, puts values of 300 kB and small values in gb_check and reads them back:
#     the cache never holds more than about 45 MB of its 512 MB limit, so no put may fail, and
#     every value read must be whole.
# Afterwards nothing may be left wholly free beyond the 4 MB kept for reuse, the bytes in use
# must be back where they were, and no lock may be held.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('give_back');
$node->init;
$node->append_conf('postgresql.conf', "simple_cache.max_memory = '512MB'\n");
$node->start;

for my $db (qw(gb_flush gb_drop gb_check))
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION simple_cache');
}
$node->safe_psql('gb_check', q{
CREATE UNLOGGED TABLE gb_outcomes (outcome text, n bigint);
-- A value of `size` bytes for key k: its key, size and a digest, repeated.
CREATE FUNCTION gb_value(k text, size int) RETURNS text IMMUTABLE LANGUAGE sql AS $$
    SELECT rpad(k || ':' || size || ':', size, md5(k || size))
$$;
});

sub query { return $node->safe_psql($_[0], $_[1]); }

query('gb_check', q{SELECT simple_cache_get('none')});  # makes the cache's table
my $in_use_before = query('gb_check', q{SELECT substring(simple_cache_dump_area() from 'in use: (\d+) bytes')});

# --- A put while a give-back holds the free space ------------------------------------------
query('gb_check', q{CREATE UNLOGGED TABLE gb_waited (outcome text)});
query('gb_flush', q{SELECT count(simple_cache_put('p:' || i, repeat('p', 1024 * 1024))) FROM generate_series(1, 40) i});
my $holder = $node->background_psql('gb_flush');
$holder->query_safe(q{SET simple_cache.debug_give_back_pause = '4s'});
$holder->query_until(qr/flushing/, "\\echo flushing\nSELECT simple_cache_flush();\n\\echo flushed\n");
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE datname = 'gb_flush' AND wait_event_type = 'Extension'}), 'a flush holds its give-back');
my $waiter = $node->background_psql('gb_check');
$waiter->query_safe('SET simple_cache.eviction = none');
$waiter->query_until(qr/putting/, q{\echo putting
	DO $$
	BEGIN
		PERFORM simple_cache_put('w', repeat('w', 1024 * 1024));
		INSERT INTO gb_waited VALUES ('ok');
	EXCEPTION WHEN OTHERS THEN
		INSERT INTO gb_waited VALUES (SQLSTATE);
	END
	$$;
	\echo put
});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE datname = 'gb_check' AND wait_event_type = 'LWLock' AND wait_event IN ('simple_cache', 'extension')}),
	'a put that finds no room waits for the give-back');
$holder->query_until(qr/flushed/, '');
$waiter->query_until(qr/\bput\b/, '');
$holder->quit;
$waiter->quit;
is(query('gb_check', q{SELECT string_agg(outcome, ',') FROM gb_waited}), 'ok', 'and then succeeds');
query('gb_check', q{SELECT simple_cache_drop('w')});

# --- Under load -------------------------------------------------------------------------------
my %scripts = (
	gb_flush => q{
		DO $$
		BEGIN
			FOR round IN 1 .. 25 LOOP
				PERFORM simple_cache_put('f:' || i, repeat('f', 1024 * 1024)) FROM generate_series(1, 40) i;
				PERFORM simple_cache_flush();
			END LOOP;
		END
		$$;
	},
	gb_drop => q{
		DO $$
		BEGIN
			FOR round IN 1 .. 25 LOOP
				PERFORM simple_cache_put('d:' || i, repeat('d', 1024 * 1024)) FROM generate_series(1, 40) i;
				PERFORM simple_cache_drop('d:' || i) FROM generate_series(1, 40) i;
			END LOOP;
		END
		$$;
	},
	gb_check => q{
		SET simple_cache.eviction = none;
		DO $$
		DECLARE
			k text;
			size int;
			v text;
		BEGIN
			FOR i IN 1 .. 3000 LOOP
				k := 'c:' || i % 100;
				size := CASE WHEN i % 3 = 0 THEN 300000 ELSE 100 + i % 1000 END;
				BEGIN
					PERFORM simple_cache_put(k, gb_value(k, size));
					INSERT INTO gb_outcomes VALUES ('ok', 1);
				EXCEPTION WHEN OTHERS THEN
					INSERT INTO gb_outcomes VALUES (SQLSTATE, 1);
				END;
				v := simple_cache_get(k);
				IF v IS NOT NULL AND v <> gb_value(k, split_part(v, ':', 3)::int) THEN
					INSERT INTO gb_outcomes VALUES ('torn', 1);
				END IF;
			END LOOP;
		END
		$$;
	});

my @sessions;
for my $db (sort keys %scripts)
{
	my $session = $node->background_psql($db);
	$session->query_until(qr/started/, "\\echo started\n" . $scripts{$db} . "\n\\echo done\n");
	push @sessions, $session;
}
for my $session (@sessions)
{
	$session->query_until(qr/done/, '');
	$session->quit;
}

my $outcomes = query('gb_check', q{SELECT string_agg(outcome || '=' || n, ' ' ORDER BY outcome)
	FROM (SELECT outcome, sum(n) AS n FROM gb_outcomes GROUP BY 1) o});
is($outcomes, 'ok=3000', 'no put failed and no value read was torn while segments were given back');

query('gb_check', 'SELECT simple_cache_flush()');
my ($wholly_free, $in_use, $locks) = split /\|/, query('gb_check', q{
	SELECT substring(a from '\nsegments: .* wholly free \((\d+) bytes\)'),
	       substring(a from 'in use: (\d+) bytes'),
	       substring(simple_cache_dump_hash_table() from 'partition locks held by this backend: (\d+)')
	FROM simple_cache_dump_area() a});
cmp_ok($wholly_free, '<=', 4 * 1024 * 1024, "at most the 4 MB spare stays wholly free ($wholly_free bytes)");
is($in_use, $in_use_before, 'the bytes in use are back where they were');
is($locks, '0', 'no partition lock held');

unlike(slurp_file($node->logfile), qr/PANIC|TRAP:|terminated by signal|was terminated by exception|simple_cache bug/,
	'no server process crashed');
$node->stop;
done_testing();
