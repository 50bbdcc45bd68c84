# simple_cache_fetch under concurrency: a stampede of 32 clients on one cold key runs its query
# once; the sessions waiting for a lease go on when its holder is terminated or cancelled (one
# of them takes over and computes the value), a cancelled waiter leaves the holder alone, and
# no lease is left behind in any case.
#
# The lease holder's query is held deterministically: gated_value() runs a query counter and,
# on its first run, waits for an advisory lock that the test holds; later runs return at once.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use BackgroundValue;

my $node = PostgreSQL::Test::Cluster->new('fetch_leases');
$node->init;
$node->start;

sub query { return $node->safe_psql('postgres', $_[0]); }

query(q{
CREATE EXTENSION simple_cache;
CREATE SEQUENCE stampede_runs;
CREATE TABLE stampede_results (value text);
-- The slow query of the stampede: counts its runs, takes a second.
CREATE FUNCTION slow_value() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_sleep(1);
    RETURN 'run ' || nextval('stampede_runs');
END $$;
CREATE SEQUENCE gated_runs;
-- The held query: its first run waits for advisory lock 6060 (held by the test).
CREATE FUNCTION gated_value() RETURNS text LANGUAGE plpgsql AS $$
DECLARE n bigint := nextval('gated_runs');
BEGIN
    IF n = 1 THEN
        PERFORM pg_advisory_xact_lock(6060);
    END IF;
    RETURN 'run ' || n;
END $$;
});

# ---------------------------------------------------------------------------------------------
# The stampede: 32 clients, one transaction each, fetch the same cold key.
$node->pgbench(
	'--no-vacuum --client=32 --jobs=4 --transactions=1',
	0, [qr{processed: 32/32}], [qr{^$}],
	'32 clients fetch one cold key',
	{
		'060_stampede' => q{
INSERT INTO stampede_results SELECT simple_cache_fetch('stampede', 'SELECT slow_value()', NULL);
}
	});
is(query('SELECT last_value FROM stampede_runs'), '1', 'the query ran exactly once');
is(query("SELECT count(*) || ' ' || count(DISTINCT value) || ' ' || min(value) FROM stampede_results"),
	'32 1 run 1', 'every client got the one computed value');
is(query("SELECT simple_cache_get('stampede')"), 'run 1', 'the value is cached');
is(query('SELECT count(*) FROM simple_cache_leases()'), '0', 'no lease is left after the stampede');

# ---------------------------------------------------------------------------------------------
# A holder and a waiter. Returns (gate session, holder session, holder pid, waiter session,
# waiter pid) once the holder waits at the gate and the waiter waits for the lease.
my $round = 0;

sub holder_and_waiter
{
	my ($key) = @_;
	++$round;
	query("SELECT setval('gated_runs', 1, false)");
	my $gate = $node->background_psql('postgres');
	$gate->query_safe('SELECT pg_advisory_lock(6060)');
	my @sessions;
	for my $role ('holder', 'waiter')
	{
		my $session = $node->background_psql('postgres', on_error_stop => 0);
		my $pid = value_of($session, 'SELECT pg_backend_pid()');
		$session->{stderr} = '';
		$session->query_until(qr/started/,
			"\\echo started\n/* $role $round */ SELECT simple_cache_fetch('$key', 'SELECT gated_value()', NULL);\n\\echo finished\n");
		push @sessions, $session, $pid;
		# The holder has the lease and waits at the gate before the waiter starts.
		$node->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = $pid AND query LIKE '/* $role $round */%' AND "
			  . ($role eq 'holder' ? "wait_event_type = 'Lock'" : "wait_event_type = 'Extension'"))
		  or die "the $role did not start waiting";
	}
	return ($gate, @sessions);
}

# The holder is terminated: the waiter takes over, runs the query itself and stores its value.
{
	my ($gate, $holder, $holder_pid, $waiter, $waiter_pid) = holder_and_waiter('terminated');
	query("SELECT pg_terminate_backend($holder_pid)");
	$waiter->query_until(qr/finished/, '');
	my $result = value_of($waiter, "SELECT simple_cache_get('terminated')");
	is($result, 'run 2', 'after the holder is terminated the waiter computes and stores the value');
	is(query('SELECT last_value FROM gated_runs'), '2', 'the query ran once more, in the waiter');
	is(query('SELECT count(*) FROM simple_cache_leases()'), '0', 'no lease is left after a terminated holder');
	$node->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $holder_pid")
	  or die "the holder did not exit";
	eval { $holder->quit; };
	$waiter->quit;
	$gate->quit;
}

# The holder is cancelled: it fails with 57014 and ends its lease; the waiter takes over.
{
	my ($gate, $holder, $holder_pid, $waiter, $waiter_pid) = holder_and_waiter('cancelled');
	query("SELECT pg_cancel_backend($holder_pid)");
	$holder->query_until(qr/finished/, '');
	$holder->query('SELECT 1');
	like($holder->{stderr}, qr/canceling statement due to user request/, 'the cancelled holder reports the cancel');
	$holder->{stderr} = '';
	$waiter->query_until(qr/finished/, '');
	is(value_of($waiter, "SELECT simple_cache_get('cancelled')"), 'run 2',
		'after the holder is cancelled the waiter computes and stores the value');
	is(query('SELECT count(*) FROM simple_cache_leases()'), '0', 'no lease is left after a cancelled holder');
	is(value_of($holder, "SELECT simple_cache_fetch('cancelled', 'SELECT 1/0')"), 'run 2',
		'the cancelled session goes on (and hits)');
	$holder->quit;
	$waiter->quit;
	$gate->quit;
}

# The waiter is cancelled: it fails with 57014 at once; the holder goes on and stores its value.
{
	my ($gate, $holder, $holder_pid, $waiter, $waiter_pid) = holder_and_waiter('waiter cancelled');
	query("SELECT pg_cancel_backend($waiter_pid)");
	$waiter->query_until(qr/finished/, '');
	$waiter->query('SELECT 1');
	like($waiter->{stderr}, qr/canceling statement due to user request/, 'the cancelled waiter reports the cancel');
	$waiter->{stderr} = '';
	is(query('SELECT count(*) FROM simple_cache_leases()'), '1', "the holder's lease is still out");
	$gate->query_safe('SELECT pg_advisory_unlock(6060)');
	$holder->query_until(qr/finished/, '');
	is(query("SELECT simple_cache_get('waiter cancelled')"), 'run 1', 'the holder stores its value');
	is(query('SELECT count(*) FROM simple_cache_leases()'), '0', 'no lease is left after a cancelled waiter');
	$holder->quit;
	$waiter->quit;
	$gate->quit;
}

# A terminated two-step holder (a lease taken with get_or_lease, never put): its exit ends the
# lease, so the next miss gets one at once rather than after simple_cache.lease_time.
{
	my $session = $node->background_psql('postgres');
	my $pid = value_of($session, 'SELECT pg_backend_pid()');
	ok(value_of($session, "SELECT lease > 0 FROM simple_cache_get_or_lease('two-step', '10 minutes')") eq 't',
		'a session takes a lease for ten minutes');
	query("SELECT pg_terminate_backend($pid)");
	$node->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid")
	  or die "the session did not exit";
	eval { $session->quit; };
	is(query("SELECT lease > 0 FROM simple_cache_get_or_lease('two-step')"), 't',
		"the terminated session's lease ended with it");
}

# Leases are per database, like keys: a lease on a key in one database does not hold back the
# same key in another, and each database lists only its own leases.
{
	query('CREATE DATABASE other');
	$node->safe_psql('other', 'CREATE EXTENSION simple_cache');
	my $session = $node->background_psql('postgres');
	ok(value_of($session, "SELECT lease > 0 FROM simple_cache_get_or_lease('shared name', '10 minutes')") eq 't',
		'a lease on a key in one database');
	is($node->safe_psql('other', "SELECT lease > 0 FROM simple_cache_get_or_lease('shared name', '10 minutes')"), 't',
		'the same key in another database gets its own lease');
	is($node->safe_psql('other', 'SELECT count(*) FROM simple_cache_leases() WHERE holder_pid = ' .
			value_of($session, 'SELECT pg_backend_pid()')), '0',
		"another database does not list the first database's lease");
	$session->quit;
}

# Two fetches whose queries fetch each other's keys in opposite order: the second to wait sees
# that the holder it would wait for is itself waiting for a lease it holds, computes that value
# without storing it, and both finish at once instead of after simple_cache.lease_time.
{
	my @sessions;
	for my $pair (['cycle:a', 'cycle:b'], ['cycle:b', 'cycle:a'])
	{
		my ($outer, $inner) = @$pair;
		my $session = $node->background_psql('postgres');
		$session->query_safe(q{SET simple_cache.lease_time = '60s'; SET statement_timeout = '30s'});
		$session->query_until(qr/started/, "\\echo started\n"
			  . "SELECT simple_cache_fetch('$outer', \$\$SELECT (SELECT '$outer(' FROM pg_sleep(1)) || "
			  . "simple_cache_fetch('$inner', 'SELECT ''$inner computed by $outer''') || ')'\$\$);\n"
			  . "\\echo finished\n");
		push @sessions, $session;
	}
	my $started = time;
	$_->query_until(qr/finished/, '') for @sessions;
	ok(time - $started < 20, 'fetches waiting for each other finish without waiting for the leases to expire');
	my $a = query(q{SELECT simple_cache_get('cycle:a')});
	my $b = query(q{SELECT simple_cache_get('cycle:b')});
	ok($a =~ /^cycle:a\(/ && $b =~ /^cycle:b\(/, "both outer values are stored ($a; $b)");
	is(query('SELECT count(*) FROM simple_cache_leases()'), '0', 'no lease is left after the cycle');
	$_->quit for @sessions;
}

$node->stop;
done_testing();
