# Limits of the lease table: one database cannot take every slot (a database may take a new
# lease only while it holds fewer than there are free slots), a lease lasts at most
# simple_cache.max_lease_time, and a database at its share gets a distinct answer (53400 from
# simple_cache_get_or_lease; simple_cache_fetch computes at once and stores nothing).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use BackgroundValue;

my $node = PostgreSQL::Test::Cluster->new('lease_limits');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION simple_cache');
$node->safe_psql('postgres', 'CREATE ROLE plain LOGIN');
$node->safe_psql('postgres', 'CREATE DATABASE b');
$node->safe_psql('b', 'CREATE EXTENSION simple_cache');

# The SQLSTATE of a statement in database b, as role plain ('ok' when it succeeds).
sub sqlstate_in_b
{
	my ($session, $statement) = @_;
	$session->{stderr} = '';
	$session->query(qq{
DO \$\$ BEGIN
    $statement;
    RAISE NOTICE 'sqlstate ok';
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'sqlstate %', SQLSTATE;
END \$\$;
SELECT 'done';
});
	my ($sqlstate) = $session->{stderr} =~ /sqlstate (\w+)/;
	$session->{stderr} = '';
	return $sqlstate // 'none';
}

my $hog = $node->background_psql('b', on_error_stop => 0);
value_of($hog, 'SET ROLE plain');

# A lease of a hundred years is refused: longer than simple_cache.max_lease_time.
is(sqlstate_in_b($hog, q{PERFORM simple_cache_get_or_lease('long', '100 years')}), '22023',
	'a lease longer than simple_cache.max_lease_time is 22023');
$hog->{stderr} = '';
$hog->query(q{SELECT simple_cache_get_or_lease('long', '9000 years')});
like($hog->{stderr}, qr/lease time/, 'the error speaks of the lease time');
unlike($hog->{stderr}, qr/time to live/, 'and not of a time to live');
$hog->{stderr} = '';
is(value_of($hog, 'SHOW simple_cache.max_lease_time'), '10min', 'simple_cache.max_lease_time defaults to 10 minutes');
$hog->query(q{SET simple_cache.max_lease_time = '100y'});
like($hog->{stderr}, qr/permission denied/, 'a plain role may not raise simple_cache.max_lease_time');
$hog->{stderr} = '';

# Database b takes leases one by one until it is refused: it gets half of the table.
my $taken = value_of($hog, q{
CREATE TEMP TABLE held (key text, lease bigint);
DO $$
DECLARE got bigint;
BEGIN
    FOR g IN 1..512 LOOP
        BEGIN
            SELECT lease INTO got FROM simple_cache_get_or_lease('L' || g, '10 minutes');
        EXCEPTION WHEN configuration_limit_exceeded THEN
            EXIT;
        END;
        INSERT INTO held VALUES ('L' || g, got);
    END LOOP;
END $$;
SELECT count(*) FROM held WHERE lease IS NOT NULL;
});
is($taken, '256', 'one database gets at most half of the 512 lease slots');
is(value_of($hog, 'SELECT count(*) FROM simple_cache_leases()'), '256', 'and holds them');

# At its share, database b is told so: 53400, not the "another session holds it" answer.
$hog->{stderr} = '';
$hog->query(q{SELECT * FROM simple_cache_get_or_lease('one more')});
like($hog->{stderr}, qr/53400|lease slot/, 'a further get_or_lease there fails with 53400');
is(sqlstate_in_b($hog, q{PERFORM simple_cache_get_or_lease('one more')}), '53400',
	'its SQLSTATE is 53400 configuration_limit_exceeded');
# A fetch there computes its value at once and stores nothing.
is(value_of($hog, q{SELECT simple_cache_fetch('b-dash', 'SELECT 7')}), '7', 'a fetch in the full database computes');
is(value_of($hog, q{SELECT simple_cache_get('b-dash') IS NULL}), 't', 'and stores nothing');

# Database postgres still gets leases while b holds its share.
is($node->safe_psql('postgres', q{SELECT lease IS NOT NULL FROM simple_cache_get_or_lease('fresh')}), 't',
	'another database still gets a lease');
is($node->safe_psql('postgres', q{SELECT simple_cache_fetch('dash', 'SELECT 42')}), '42', 'a fetch there computes');
is($node->safe_psql('postgres', q{SELECT simple_cache_get('dash')}), '42', 'and stores its value');

# A fetch waits for another's lease at most its own simple_cache.lease_time: then it computes
# the value itself and stores nothing (the lease stays with its holder).
{
	my $long = $node->background_psql('postgres');
	is(value_of($long, q{SELECT lease IS NOT NULL FROM simple_cache_get_or_lease('hot', '10 minutes')}), 't',
		'a client takes a ten-minute lease on a hot key');
	my $started = time;
	is($node->safe_psql('postgres', q{SET statement_timeout = '20s'; SET simple_cache.lease_time = '1s';
		SELECT simple_cache_fetch('hot', 'SELECT 99')}), '99',
		'a fetch of the key computes its value after waiting its own lease time');
	ok(time - $started < 15, 'without waiting for the ten-minute lease');
	is($node->safe_psql('postgres', q{SELECT simple_cache_get('hot') IS NULL}), 't', 'and stores nothing');
	$long->quit;
}

# A long lease on a hot key holds its fetches back at most simple_cache.max_lease_time.
$node->safe_psql('postgres', q{LOAD 'simple_cache'; ALTER SYSTEM SET simple_cache.max_lease_time = '2s'; SELECT pg_reload_conf();});
$node->poll_query_until('postgres', q{SELECT current_setting('simple_cache.max_lease_time', true) = '2s'})
  or die 'the lowered maximum was not loaded';
my $holder = $node->background_psql('postgres', on_error_stop => 0);
is(value_of($holder, q{SELECT lease IS NOT NULL FROM simple_cache_get_or_lease('hot1', '1 second')}), 't',
	'a lease within the lowered maximum');
$holder->{stderr} = '';
$holder->query(q{SELECT simple_cache_get_or_lease('hot2', '1 hour')});
like($holder->{stderr}, qr/simple_cache.max_lease_time/, 'a longer one is refused under the lowered maximum');
$holder->{stderr} = '';
value_of($holder, q{SET simple_cache.lease_time = '1h'});
is(value_of($holder, q{SELECT lease IS NOT NULL FROM simple_cache_get_or_lease('hot3')}), 't',
	'simple_cache.lease_time over the maximum is cut to it');
my $expires = value_of($holder, q{SELECT max(expires) - now() < '3 seconds' FROM simple_cache_leases()});
is($expires, 't', 'the lease of simple_cache.lease_time lasts at most the maximum');
$holder->quit;
$node->safe_psql('postgres', q{LOAD 'simple_cache'; ALTER SYSTEM RESET simple_cache.max_lease_time; SELECT pg_reload_conf();});

$hog->quit;
$node->stop;
done_testing();
