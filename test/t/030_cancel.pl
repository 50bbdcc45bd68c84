# Query cancel (pg_cancel_backend) and termination (pg_terminate_backend) sent by another
# session in the middle of long operations: simple_cache_list, mget, flush, save and load over
# half a million entries, a put that evicts its way to room, lowering the size limit, and the
# free-space map's vacuum of a table (while it waits for the table's lock).
#
# For each: the statement fails with 57014 (cancel) or the session ends (terminate); no
# partition lock stays held by the cancelled session (the 'partition locks held by this
# backend' line of simple_cache_dump_hash_table) and the next call from another session is
# not blocked (it runs under a statement_timeout); the bytes in use match the entries exactly
# (in use, less the bucket arrays, equals a constant plus a fixed overhead per entry plus the
# key and value bytes of the statistics); every value is intact (self-checking values,
# key || ':' || md5(key)); a cancelled save leaves the saved file as it was and no temporary
# file, a terminated one leaves its temporary file, which the next save removes; and once
# everything is dropped the bytes in use are back at their baseline.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('cancel');
$node->init;
$node->append_conf('postgresql.conf', "simple_cache.max_memory = '1GB'\n");
$node->start;
my $datadir = $node->data_dir;
my $n = 500000;

sub query { return $node->safe_psql('postgres', $_[0]); }

query(q{
CREATE EXTENSION simple_cache;
CREATE FUNCTION value_of(k text) RETURNS text IMMUTABLE LANGUAGE sql AS $$ SELECT k || ':' || md5(k) $$;
CREATE FUNCTION payload() RETURNS bigint LANGUAGE sql AS $$
    SELECT substring(a from 'in use: (\d+) bytes')::bigint
           - 8 * substring(h from 'buckets: (\d+)')::bigint
           - 8 * coalesce(substring(h from 'resize: in progress from (\d+) buckets')::bigint, 0)
    FROM (SELECT simple_cache_dump_area() AS a, simple_cache_dump_hash_table() AS h) d
$$;
CREATE FUNCTION locks_held() RETURNS int LANGUAGE sql AS $$
    SELECT substring(simple_cache_dump_hash_table() from 'partition locks held by this backend: (\d+)')::int
$$;
CREATE TABLE base (overhead bigint, unaccounted bigint, baseline bigint);
});
# The per-entry overhead, measured with one entry (as 04_error_injection does), once the cache
# exists.
query(q{SELECT simple_cache_get('nothing')});
query(q{INSERT INTO base SELECT 0, payload(), payload()});
query(q{SELECT simple_cache_put('probe', 'probe')});
query(q{UPDATE base SET overhead = payload() - unaccounted - 10});
query(q{SELECT simple_cache_drop('probe')});
query(q{CREATE FUNCTION unaccounted() RETURNS bigint LANGUAGE sql AS $$
    SELECT payload() - (SELECT overhead FROM base) * s.entries - s.key_value_bytes FROM simple_cache_stats s $$});
query(q{UPDATE base SET unaccounted = unaccounted()});
ok(query('SELECT overhead FROM base') > 0, 'the per-entry overhead is measured');

# Puts the keys k:1 .. k:n that are missing.
sub fill
{
	query("SELECT count(simple_cache_add('k:' || i, value_of('k:' || i))) FROM generate_series(1, $n) i");
}

# The state seen from another session, under a statement timeout (so a held lock would show
# as a timeout, not a hang): "entries bad_values accounted locks".
sub state
{
	return $node->safe_psql('postgres', q{
		SET statement_timeout = '30s';
		SELECT concat_ws(' ', count(*), count(*) FILTER (WHERE value <> value_of(key)),
		                 unaccounted() = (SELECT unaccounted FROM base), locks_held())
		FROM simple_cache_list() WHERE starts_with(key, 'k:')});
}

# Another session is not blocked: a put, a get and a drop under a short statement timeout.
sub not_blocked
{
	my ($what) = @_;
	my $started = time;
	my $result = $node->safe_psql('postgres', q{
		SET statement_timeout = '10s';
		SELECT concat_ws(' ', simple_cache_put('other', 'x'), simple_cache_get('other'), simple_cache_drop('other'))});
	is($result, 'f x t', sprintf('%s: another session is not blocked (%.2fs)', $what, time - $started));
}

# Runs $sql in a background session, waits until it has been active for $wait_ms and the SQL
# condition $ready holds, then sends $signal (cancel or terminate) from another session. Returns (session, pid, stderr of the
# statement); the session is gone after a terminate.
my $interrupts = 0;

sub interrupt
{
	my ($sql, $signal, $wait_ms, $ready) = @_;
	$ready //= 'true';
	my $session = $node->background_psql('postgres', on_error_stop => 0);
	# (chomp: some releases' BackgroundPsql returns the line with its newline)
	chomp(my $pid = $session->query_safe('SELECT pg_backend_pid()'));
	$session->{stderr} = '';
	my $mark = 'interrupt ' . ++$interrupts;
	$session->query_until(qr/started/, "\\echo started\n/* $mark */ $sql;\n\\echo finished\n");
	# As soon as it has run for $wait_ms and $ready holds, one query checks that and sends the
	# signal, so that it lands early in the phase $ready detects. (If the statement ends
	# first, the signal comes too late and the caller's checks say so.)
	my $deadline = time + 180;
	my $sent = 'wait';
	while ($sent eq 'wait' && time < $deadline)
	{
		$sent = query(
			"SELECT CASE WHEN query NOT LIKE '/* $mark */%' THEN 'wait'
			             WHEN state <> 'active' THEN 'ended'
			             WHEN clock_timestamp() - query_start > interval '$wait_ms ms' AND $ready
			             THEN pg_${signal}_backend(pid)::text
			             ELSE 'wait' END
			 FROM pg_stat_activity WHERE pid = $pid");
	}
	note "$signal of $pid: $sent";
	if ($signal eq 'cancel')
	{
		$session->query_until(qr/finished/, '');
		# A query of its own waits for the statement's stderr too; then it is cleared, so
		# that the session's next queries start clean.
		$session->query('SELECT 1');
		my $stderr = $session->{stderr};
		$session->{stderr} = '';
		return ($session, $pid, $stderr);
	}
	$node->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid")
	  or die "$pid did not exit";
	eval { $session->quit; };
	return (undef, $pid, '');
}

# Like interrupt with a cancel, for a statement that may end before the cancel lands on a busy
# machine (its phase is detected by polling from other sessions): when the statement was not
# cancelled, the attempt shows nothing, so $prepare puts the state back and it is tried again,
# at most three times in all. Returns what interrupt returns for the last attempt.
sub cancel_in_the_middle
{
	my ($what, $prepare, $sql, $ready) = @_;
	my ($session, $pid, $stderr);
	for my $attempt (1 .. 3)
	{
		$prepare->();
		($session, $pid, $stderr) = interrupt($sql, 'cancel', 0, $ready);
		last if $stderr =~ /canceling statement due to user request/ || $attempt == 3;
		note "$what: attempt $attempt ended before the cancel landed; trying again";
		$session->quit;
	}
	return ($session, $pid, $stderr);
}

# After a cancel: the statement failed with 57014 and the cancelled session holds no lock and
# still works.
sub check_cancelled
{
	my ($what, $session, $stderr) = @_;
	like($stderr, qr/canceling statement due to user request/, "$what: the statement was cancelled");
	is($session->query_safe('SELECT locks_held()') =~ s/\n\z//r, '0', "$what: the cancelled session holds no partition lock");
	is($session->query_safe(q{SELECT simple_cache_put('again', 'v') IS NOT NULL AND simple_cache_drop('again')}) =~ s/\n\z//r,
		't', "$what: the cancelled session works again");
	$session->quit;
}

fill();
is(state(), "$n 0 t 0", "$n entries put");

# --- list ------------------------------------------------------------------------------
my ($session, $pid, $stderr) = interrupt(q{SELECT count(*) FROM simple_cache_list()}, 'cancel', 50);
check_cancelled('list', $session, $stderr);
not_blocked('list');
is(state(), "$n 0 t 0", 'list: nothing changed');

# --- mget of every key ------------------------------------------------------------------
query(q{SELECT simple_cache_stats_reset()});
($session, $pid, $stderr) = interrupt(qq{SELECT count(*) FROM simple_cache_mget(ARRAY(SELECT 'k:' || i FROM generate_series(1, $n) i))},
	'cancel', 0, q{(SELECT hits > 0 FROM simple_cache_stats)});
check_cancelled('mget', $session, $stderr);
not_blocked('mget');
is(state(), "$n 0 t 0", 'mget: nothing changed');

# --- flush -------------------------------------------------------------------------------
($session, $pid, $stderr) = cancel_in_the_middle('flush', \&fill, q{SELECT simple_cache_flush()},
	qq{(SELECT entries < $n FROM simple_cache_stats)});
check_cancelled('flush', $session, $stderr);
not_blocked('flush');
my ($left, $bad, $accounted, $locks) = split / /, state();
ok($left > 0 && $left < $n, "flush: cancelled in the middle ($left of $n entries left)");
is("$bad $accounted $locks", '0 t 0', 'flush: the rest intact, every byte accounted for');
fill();

# --- save: cancelled (file unchanged, no temporary file), then terminated (temporary file left,
# removed by the next save) -----------------------------------------------------------------
query('SELECT simple_cache_save()');
my $saved = slurp_file("$datadir/simple_cache.dat");
query("SELECT count(simple_cache_put('k:' || i, value_of('k:' || i))) FROM generate_series(1, 10) i");
my $saving = q{(SELECT count(*) > 0 FROM pg_ls_dir('.') f WHERE f LIKE 'simple_cache.dat.%.tmp')};
($session, $pid, $stderr) = interrupt(q{SELECT simple_cache_save()}, 'cancel', 0, $saving);
check_cancelled('save', $session, $stderr);
ok(slurp_file("$datadir/simple_cache.dat") eq $saved, 'save: the saved file is unchanged');
ok(!-e "$datadir/simple_cache.dat.$pid.tmp", 'save: no temporary file is left');
($session, $pid, $stderr) = interrupt(q{SELECT simple_cache_save()}, 'terminate', 0, $saving);
ok(slurp_file("$datadir/simple_cache.dat") eq $saved, 'save, terminated: the saved file is unchanged');
ok(-e "$datadir/simple_cache.dat.$pid.tmp", 'save, terminated: its temporary file is left');
not_blocked('save, terminated');
is(state(), "$n 0 t 0", 'save: nothing changed in the cache');
query('SELECT simple_cache_save()');
ok(!-e "$datadir/simple_cache.dat.$pid.tmp", 'save: the next save removes the temporary file');

# --- load: drop a tenth, then cancel a load in the middle ----------------------------------
query("SELECT count(*) FROM generate_series(1, $n, 10) i WHERE simple_cache_drop('k:' || i)");
my $dropped_to = query('SELECT entries FROM simple_cache_stats');
($session, $pid, $stderr) = interrupt(q{SELECT simple_cache_load()}, 'cancel', 0,
	qq{(SELECT entries > $dropped_to + 1000 FROM simple_cache_stats)});
check_cancelled('load', $session, $stderr);
not_blocked('load');
($left, $bad, $accounted, $locks) = split / /, state();
ok($left > $n - $n / 10 && $left < $n, "load: cancelled in the middle of restoring ($left entries)");
is("$bad $accounted $locks", '0 t 0', 'load: every value intact, every byte accounted for');
is(query('SELECT simple_cache_load()'), $n, 'load: a complete load afterwards');
is(state(), "$n 0 t 0", 'load: all entries back');

# --- a put that evicts its way to room ----------------------------------------------------
# Under a cap on the database far below what it holds (simple_cache.database_max_memory, set in
# the same statement), a put must first evict the database's own entries, 64 at a time, down
# to the cap: hundreds of thousands of them, so the cancel lands in the middle.
($session, $pid, $stderr) = cancel_in_the_middle(
	'evicting put',
	sub {
		fill();
		query(q{SELECT simple_cache_put('big', 'old value')});
		query(q{SELECT simple_cache_stats_reset()});
	},
	q{SELECT simple_cache_put('big', 'new value')
	  FROM (SELECT set_config('simple_cache.database_max_memory', '1MB', false)) capped},
	q{(SELECT evictions > 0 FROM simple_cache_stats)});
check_cancelled('evicting put', $session, $stderr);
not_blocked('evicting put');
is(query(q{SELECT simple_cache_get('big')}), 'old value', 'evicting put: the key keeps its old value');
($left, $bad, $accounted, $locks) = split / /, state();
ok($left < $n, "evicting put: cancelled in the middle of evicting ($left entries left)");
is("$bad $accounted $locks", '0 t 0', 'evicting put: the rest intact, every byte accounted for');

# --- lowering the size limit far below use -------------------------------------------------
my $limit;
($session, $pid, $stderr) = cancel_in_the_middle(
	'lowering the limit',
	sub {
		query('SELECT simple_cache_set_size_limit(1024 * 1024 * 1024)');
		fill();
		$limit = query('SELECT size_limit FROM simple_cache_stats');
		query(q{SELECT simple_cache_stats_reset()});
	},
	q{SELECT simple_cache_set_size_limit(20 * 1024 * 1024)},
	q{(SELECT evictions > 0 FROM simple_cache_stats)});
check_cancelled('lowering the limit', $session, $stderr);
not_blocked('lowering the limit');
is(query('SELECT size_limit FROM simple_cache_stats'), $limit, 'lowering the limit: the limit stays as it was');
($left, $bad, $accounted, $locks) = split / /, state();
ok($left < $n, "lowering the limit: cancelled in the middle of evicting ($left entries left)");
is("$bad $accounted $locks", '0 t 0', 'lowering the limit: the rest intact, every byte accounted for');

# --- everything dropped: the bytes in use are back at the baseline --------------------------
query(q{SELECT count(*) FROM simple_cache_list() WHERE simple_cache_drop(key)});
is(query('SELECT payload() = baseline FROM base'), 't', 'all dropped: the bytes in use are back at the baseline');

# --- the free-space map's vacuum, cancelled while it waits for the table's lock -------------
SKIP:
{
	skip 'the free-space map functions are not installed', 6
	  unless query(q{SELECT to_regprocedure('simple_cache_fsm_vacuum(regclass)') IS NOT NULL}) eq 't';
	query(q{CREATE TABLE big AS SELECT g, repeat('x', 500) AS filler FROM generate_series(1, 100000) g;
	        DELETE FROM big WHERE g % 4 = 0});
	is(query(q{SELECT simple_cache_fsm_vacuum('big') > 0}), 't', 'vacuum: a first vacuum records the free space');
	my $pages = query(q{SELECT md5(string_agg(block || ':' || avail, ',' ORDER BY block)) FROM simple_cache_fsm_pages('big')});
	query(q{DELETE FROM big WHERE g % 4 = 1});
	my $locker = $node->background_psql('postgres');
	$locker->query_safe('BEGIN; LOCK TABLE big IN ACCESS EXCLUSIVE MODE');
	($session, $pid, $stderr) = interrupt(q{SELECT simple_cache_fsm_vacuum('big')}, 'cancel', 50);
	like($stderr, qr/canceling statement due to user request/, 'vacuum: cancelled while waiting');
	is($session->query_safe('SELECT consistent::text || locks_held FROM simple_cache_fsm_check()') =~ s/\n\z//r, 'true0',
		'vacuum: the map is consistent and the cancelled session holds no map lock');
	$session->quit;
	$locker->query_safe('COMMIT');
	$locker->quit;
	is(query(q{SELECT md5(string_agg(block || ':' || avail, ',' ORDER BY block)) FROM simple_cache_fsm_pages('big')}),
		$pages, 'vacuum: the pages recorded are unchanged');
	# And in the middle of the scan of the table's pages.
	($session, $pid, $stderr) = interrupt(q{SELECT simple_cache_fsm_vacuum('big')}, 'cancel', 0);
	ok($stderr eq '' || $stderr =~ /canceling statement due to user request/, 'vacuum: cancelled, or done first');
	$session->quit;
	is(query(q{SELECT simple_cache_fsm_vacuum('big') > 0 AND (SELECT consistent FROM simple_cache_fsm_check())}), 't',
		'vacuum: the next vacuum works');
}

unlike(slurp_file($node->logfile), qr/PANIC|TRAP:|terminated by signal|was terminated by exception|simple_cache bug/,
	'no server process crashed');
$node->stop;
done_testing();
