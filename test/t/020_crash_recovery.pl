# Crashes and restarts, with the library preloaded, persistence on and restart_after_crash on.
# A backend is killed with SIGKILL (the postmaster then restarts every process and sets up
# shared memory anew, so the cache starts empty and the persistence worker loads the last save):
#   A  in the middle of a long put loop, while the worker saves every second;
#   B  in the middle of scans (simple_cache_list over every entry, again and again);
#   C  during a resize (a bulk insert that grows the table; the kill comes right after the
#      table report said a resize was in progress);
#   D  in the middle of simple_cache_save(): the file loaded is a complete save (the previous
#      one, or one the backend finished), never a mix; the temporary file left behind is
#      removed by the next save;
#   E  the persistence worker itself, in the middle of a periodic save;
#   F  in the middle of simple_cache_load().
# Then an immediate shutdown: the last save is loaded, exactly (G); the start-up load never
# undoes what clients do after the start: puts, drops, a flush (H); a stray SIGTERM to the
# worker does not end persistence (I).
# Each time the server must come back (polled until it accepts connections), the extension
# must work (put, get, incr, cas, drop, list, save; no lock held; the statistics agree with the
# entries), and no torn value may ever be returned: values are self-checking,
#   key || ':' || version || ':' || md5(key || ':' || version) repeated 1 to 4 times,
# and every value read after a restart, by get and by list, must be absent or exactly right.
#
# SIMPLE_CACHE_CRASH_ROUNDS (default 1) repeats A, B and C that many times, with random delays
# before the kill (test/stress.sh uses it). The last line of output counts the crashes survived.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use ServerBack;

my $rounds = $ENV{SIMPLE_CACHE_CRASH_ROUNDS} // 1;
my $crashes = 0;

my $node = PostgreSQL::Test::Cluster->new('crash_recovery');
$node->init;
$node->append_conf('postgresql.conf', <<'EOF');
shared_preload_libraries = 'simple_cache'
simple_cache.save_interval = 0
simple_cache.max_memory = '1GB'
restart_after_crash = on
EOF
$node->start;
my $datadir = $node->data_dir;

sub query { return $node->safe_psql('postgres', $_[0]); }

query(<<'EOF');
CREATE EXTENSION simple_cache;
-- The value of version v of key k.
CREATE FUNCTION rel_value(k text, v bigint) RETURNS text IMMUTABLE LANGUAGE sql AS
$$ SELECT k || ':' || v || ':' || repeat(md5(k || ':' || v), 1 + (v % 4)::int) $$;
-- Whether val is some version of k's value (NULL, absent, counts as right).
CREATE FUNCTION rel_ok(k text, val text) RETURNS boolean IMMUTABLE LANGUAGE sql AS $$
    SELECT CASE WHEN val IS NULL THEN true
                WHEN NOT starts_with(val, k || ':') OR substr(val, length(k) + 2) !~ '^\d{1,18}:' THEN false
                ELSE val = rel_value(k, split_part(substr(val, length(k) + 2), ':', 1)::bigint) END
$$;
-- The version a value holds.
CREATE FUNCTION rel_version(k text, val text) RETURNS bigint IMMUTABLE LANGUAGE sql AS
$$ SELECT split_part(substr(val, length(k) + 2), ':', 1)::bigint $$;
EOF

# Every value of the keys prefix || 1 .. n read by get and every listed entry of the prefix:
# "present bad listed listed_bad min_version max_version".
sub check_values
{
	my ($prefix, $n) = @_;
	return query(qq{
		WITH g AS MATERIALIZED (SELECT k, v, rel_ok(k, v) AS ok
		                        FROM (SELECT '$prefix' || i AS k, simple_cache_get('$prefix' || i) AS v
		                              FROM generate_series(1, $n) i) s),
		     l AS MATERIALIZED (SELECT rel_ok(key, value) AS ok FROM simple_cache_list() WHERE starts_with(key, '$prefix'))
		SELECT concat_ws(' ', count(v), count(*) FILTER (WHERE NOT ok),
			(SELECT count(*) FROM l), (SELECT count(*) FILTER (WHERE NOT ok) FROM l),
			coalesce(min(rel_version(k, v)) FILTER (WHERE v IS NOT NULL AND ok), -1),
			coalesce(max(rel_version(k, v)) FILTER (WHERE v IS NOT NULL AND ok), -1))
		FROM g});
}

# The saved file's bytes, or undef.
sub file_bytes
{
	open(my $fh, '<:raw', "$datadir/simple_cache.dat") or return undef;
	local $/;
	my $bytes = <$fh>;
	close($fh);
	return $bytes;
}

# Waits until the saved file matches a pattern; false after 30 seconds.
sub wait_for_file
{
	my ($pattern) = @_;
	for (1 .. 300)
	{
		my $bytes = file_bytes();
		return 1 if defined $bytes && $bytes =~ $pattern;
		usleep(100_000);
	}
	return 0;
}

# Temporary files of saves in the data directory.
sub temp_files
{
	opendir(my $dh, $datadir) or die "cannot read $datadir: $!";
	my @files = grep { /^simple_cache\.dat\.\d+\.tmp$/ } readdir($dh);
	closedir($dh);
	return @files;
}

# The persistence worker's pid (it has no database connection, so no pg_stat_activity row):
# the postmaster's child whose process title names it.
sub worker_pid
{
	my $postmaster = $node->{_pid};
	opendir(my $dh, '/proc') or die "cannot read /proc: $!";
	for my $pid (grep { /^\d+$/ } readdir($dh))
	{
		open(my $stat, '<', "/proc/$pid/stat") or next;
		my $line = <$stat>;
		close($stat);
		next unless defined $line && $line =~ /^\d+ \(.*\) \S+ (\d+)/ && $1 == $postmaster;
		open(my $cmd, '<', "/proc/$pid/cmdline") or next;
		my $title = <$cmd> // '';
		close($cmd);
		return $pid if $title =~ /simple_cache persistence/;
	}
	closedir($dh);
	return '';
}

# Starts a long-running statement in a background psql and returns (session, backend pid).
sub start_background
{
	my ($sql) = @_;
	my $session = $node->background_psql('postgres', on_error_stop => 0);
	# (chomp: some releases' BackgroundPsql returns the line with its newline)
	chomp(my $pid = $session->query_safe('SELECT pg_backend_pid()'));
	$session->query_until(qr/started/, "\\echo started\n$sql\n");
	return ($session, $pid);
}

# Kills a process with SIGKILL and waits until the server is back and the persistence worker
# has loaded the saved cache (when there is one). Returns the log offset of the crash.
sub crash
{
	my ($pid, $session, $what) = @_;
	my $offset = -s $node->logfile;
	ok(kill('KILL', $pid), "$what: process $pid killed");
	eval { $session->quit if $session; };
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $offset);
	wait_until_back($node, 'postgres') or die "$what: the server did not come back";
	$node->wait_for_log(qr/simple_cache: loaded \d+ entries/, $offset) if defined file_bytes();
	$crashes++;
	pass("$what: the server came back and accepts connections");
	return $offset;
}

# The extension works after a restart: every data function, no lock held, statistics that
# agree with the entries of this database (the only one used), a save.
sub check_works
{
	my ($what) = @_;
	my $result = query(q{
		SELECT concat_ws(' ',
			simple_cache_put('works:k', 'v1'), simple_cache_get('works:k'),
			simple_cache_cas('works:k', 'v1', 'v2'), simple_cache_get('works:k'),
			simple_cache_incr('works:n', 5), simple_cache_incr('works:n'),
			simple_cache_add('works:k', 'no'), simple_cache_replace('works:k', 'v3'),
			(SELECT count(*) FROM simple_cache_list() WHERE starts_with(key, 'works:')),
			simple_cache_drop('works:k'), simple_cache_drop('works:n'),
			substring(simple_cache_dump_hash_table() from 'partition locks held by this backend: (\d+)'))});
	is($result, 'f v1 t v2 5 6 f t 2 t t 0', "$what: the extension works");
	is(query(q{SELECT s.entries = l.n AND s.key_value_bytes = l.bytes
	           FROM simple_cache_stats s,
	                (SELECT count(*) AS n, coalesce(sum(octet_length(key) + octet_length(value)), 0) AS bytes
	                 FROM simple_cache_list()) l}),
		't', "$what: the statistics agree with the entries");
}

# Sets simple_cache.save_interval and waits until the worker has it.
sub set_save_interval
{
	my ($seconds) = @_;
	query("ALTER SYSTEM SET simple_cache.save_interval = $seconds");
	query('SELECT pg_reload_conf()');
	usleep(300_000);
}

my $keys = 20000;

for my $round (1 .. $rounds)
{
	# --- A: kill -9 in the middle of a put loop, with periodic saves running -------------
	query("SELECT simple_cache_flush()");
	query("SELECT count(simple_cache_put('a:' || i, rel_value('a:' || i, 0))) FROM generate_series(1, $keys) i");
	is(query('SELECT simple_cache_save()'), $keys, "A$round: saved version 0 of $keys keys");
	set_save_interval(1);
	my ($session, $pid) = start_background(qq{
		DO \$\$
		BEGIN
			FOR version IN 1 .. 1000000 LOOP
				PERFORM simple_cache_put('a:' || i, rel_value('a:' || i, version)) FROM generate_series(1, $keys) i;
				PERFORM simple_cache_put('progress:a', version::text);
				EXIT WHEN clock_timestamp() - statement_timestamp() > interval '120 seconds';
			END LOOP;
		END
		\$\$;});
	$node->poll_query_until('postgres', q{SELECT coalesce(simple_cache_get('progress:a')::int, 0) >= 2})
	  or die 'the put loop made no progress';
	# Wait for a periodic save made while the loop runs (it holds version 1 or later).
	my $saved_during = 0;
	for (1 .. 100)
	{
		my $bytes = file_bytes();
		if (defined $bytes && $bytes =~ /a:1:[1-9]\d*:/)
		{
			$saved_during = 1;
			last;
		}
		usleep(100_000);
	}
	ok($saved_during, "A$round: a periodic save happened during the put loop");
	usleep(int(rand(500_000)));
	crash($pid, $session, "A$round (puts)");
	my ($present, $bad, $listed, $listed_bad, $min, $max) = split / /, check_values('a:', $keys);
	is("$present $bad $listed_bad", "$keys 0 0", "A$round: every key is back and no value is torn");
	ok($max >= 1, "A$round: the values are those of a save made during the loop (versions $min to $max)");
	check_works("A$round");

	# --- B: kill -9 in the middle of scans --------------------------------------------
	set_save_interval(0);
	query("SELECT count(simple_cache_put('b:' || i, rel_value('b:' || i, i))) FROM generate_series(1, 150000) i");
	query('SELECT simple_cache_save()');
	($session, $pid) = start_background(q{
		DO $$
		BEGIN
			FOR round IN 1 .. 1000000 LOOP
				PERFORM count(*) FROM simple_cache_list();
				PERFORM simple_cache_incr('progress:b');
				EXIT WHEN clock_timestamp() - statement_timestamp() > interval '120 seconds';
			END LOOP;
		END
		$$;});
	$node->poll_query_until('postgres', q{SELECT coalesce(simple_cache_get('progress:b')::int, 0) >= 1})
	  or die 'the scans made no progress';
	usleep(int(rand(300_000)));
	crash($pid, $session, "B$round (scan)");
	($present, $bad, $listed, $listed_bad) = split / /, check_values('b:', 150000);
	is("$present $bad $listed $listed_bad", "150000 0 150000 0", "B$round: the saved entries are back, none torn");
	check_works("B$round");

	# --- C: kill -9 during a resize ----------------------------------------------------
	query('SELECT simple_cache_flush()');
	set_save_interval(1);
	($session, $pid) = start_background(q{
		SELECT count(simple_cache_put('c:' || i, rel_value('c:' || i, i))) FROM generate_series(1, 3000000) i;});
	# First a periodic save with part of the bulk insert in it, then a resize in progress.
	my $deadline = time + 60;
	usleep(100_000) until (file_bytes() // '') =~ /c:\d+:\d+:/ || time > $deadline;
	my $report = '';
	while (time < $deadline)
	{
		$report = query(q{SELECT simple_cache_dump_hash_table()});
		last if $report =~ /resize: in progress/;
	}
	like($report, qr/resize: in progress from \d+ buckets/, "C$round: a resize was in progress just before the kill");
	my ($entries) = $report =~ /^entries: (\d+)/m;
	note "C$round: killed at $entries entries, " . ($report =~ /^(resize: .*)$/m)[0];
	crash($pid, $session, "C$round (resize)");
	my ($loaded, $torn, $get_torn) = split / /, query(q{
		SELECT concat_ws(' ', count(*), count(*) FILTER (WHERE NOT rel_ok(key, value)),
		                 count(*) FILTER (WHERE NOT rel_ok(key, simple_cache_get(key))))
		FROM simple_cache_list() WHERE starts_with(key, 'c:')});
	ok($loaded > 0, "C$round: the last periodic save, made during the bulk insert, was loaded ($loaded entries)");
	is("$torn $get_torn", '0 0', "C$round: no torn value, by list or by get");
	check_works("C$round");
	set_save_interval(0);
}

# The entries (all of one version) that the files of D, E and F hold.
sub check_one_save
{
	my ($prefix, $n, $what, @versions) = @_;
	my ($present, $bad, $listed, $listed_bad, $min, $max) = split / /, check_values($prefix, $n);
	is("$bad $listed_bad", '0 0', "$what: no torn value among the $present entries loaded");
	ok($min == $max && (grep { $_ == $min } @versions) && $present == $listed,
		"$what: the load restored one complete save ($present entries, version $min to $max)");
	return ($present, $min);
}

# --- D: kill -9 in the middle of simple_cache_save() -----------------------------------
# The file holds 20000 entries of version 1; the cache then gets 100000 of version 7 and a
# backend saves them again and again. Whatever the kill interrupts, the file that is loaded is
# a complete save: the first, or one of the backend's.
query('SELECT simple_cache_flush()');
query("SELECT count(simple_cache_put('d:' || i, rel_value('d:' || i, 1))) FROM generate_series(1, 20000) i");
query('SELECT simple_cache_save()');
query("SELECT count(simple_cache_put('d:' || i, rel_value('d:' || i, 7))) FROM generate_series(1, 100000) i");
my ($session, $pid) = start_background(q{
	DO $$ BEGIN FOR i IN 1 .. 1000 LOOP PERFORM simple_cache_save(); END LOOP; END $$;});
my $deadline = time + 60;
usleep(5_000) until grep({ $_ eq "simple_cache.dat.$pid.tmp" } temp_files()) || time > $deadline;
ok((grep { $_ eq "simple_cache.dat.$pid.tmp" } temp_files()), 'D: a save was in progress (its temporary file exists)');
crash($pid, $session, 'D (save)');
my ($present) = check_one_save('d:', 100000, 'D', 1, 7);
ok(($present == 20000) || ($present == 100000), 'D: all the entries of that save');
ok(scalar(temp_files()) == 1, 'D: the killed save left its temporary file');
query('SELECT simple_cache_save()');
is(scalar(temp_files()), 0, 'D: the next save removed it');
check_works('D');

# --- E: kill -9 the persistence worker in the middle of a periodic save ------------------
query('SELECT simple_cache_flush()');
query("SELECT count(simple_cache_put('e:' || i, rel_value('e:' || i, 2))) FROM generate_series(1, 100000) i");
query('SELECT simple_cache_save()');
query("SELECT count(simple_cache_put('e:' || i, rel_value('e:' || i, 3))) FROM generate_series(1, 100000) i");
my $worker = worker_pid();
ok($worker =~ /^\d+$/, "E: the persistence worker runs (pid $worker)");
set_save_interval(1);
$deadline = time + 60;
usleep(2_000) until grep({ $_ eq "simple_cache.dat.$worker.tmp" } temp_files()) || time > $deadline;
ok((grep { $_ eq "simple_cache.dat.$worker.tmp" } temp_files()), 'E: the worker was saving');
crash($worker, undef, 'E (worker saving)');
($present) = check_one_save('e:', 100000, 'E', 2, 3);
is($present, 100000, 'E: every entry of that save is back');
set_save_interval(0);
query('SELECT simple_cache_save()');
is(scalar(temp_files()), 0, 'E: the next save removed the temporary file');
check_works('E');

# --- F: kill -9 in the middle of simple_cache_load() -------------------------------------
query('SELECT simple_cache_save()');
query('SELECT simple_cache_flush()');
($session, $pid) = start_background(q{
	DO $$ BEGIN FOR i IN 1 .. 1000 LOOP PERFORM simple_cache_load(); END LOOP; END $$;});
$node->poll_query_until('postgres', q{SELECT count(*) > 1000 FROM simple_cache_list()})
  or die 'the load restored nothing';
crash($pid, $session, 'F (load)');
($present) = check_one_save('e:', 100000, 'F', 2, 3);
is($present, 100000, 'F: the start-up load restored the whole file');
check_works('F');

# --- G: immediate shutdown: the last save is loaded, exactly ------------------------------
query('SELECT simple_cache_flush()');
query("SELECT count(simple_cache_put('g:' || i, rel_value('g:' || i, i % 5))) FROM generate_series(1, 100000) i");
is(query('SELECT simple_cache_save()'), '100000', 'G: saved 100000 entries');
query("SELECT count(simple_cache_put('g:' || i, rel_value('g:' || i, 9))) FROM generate_series(1, 100000, 2) i");
query("SELECT count(simple_cache_put('g:' || i, rel_value('g:' || i, 9))) FROM generate_series(100001, 120000) i");
my $offset = -s $node->logfile;
$node->stop('immediate');
$node->start;
$node->wait_for_log(qr/simple_cache: loaded 100000 entries/, $offset);
pass('G: after an immediate shutdown the worker loaded the 100000 saved entries');
is(query(q{SELECT count(*) FILTER (WHERE simple_cache_get('g:' || i) = rel_value('g:' || i, i % 5))
           FROM generate_series(1, 100000) i}),
	'100000', 'G: exactly the saved values are back');
is(query(q{SELECT count(*) FROM generate_series(100001, 120000) i WHERE simple_cache_get('g:' || i) IS NOT NULL}),
	'0', 'G: nothing written after the save is');
check_works('G');

# --- H: the start-up load never undoes what clients write meanwhile ----------------------
# 300000 entries of version 0 are saved at a clean shutdown; right after the start a client
# puts version 1 of every key while the worker loads: no key may go back to version 0.
query('SELECT simple_cache_flush()');
query("SELECT count(simple_cache_put('h:' || i, rel_value('h:' || i, 0))) FROM generate_series(1, 300000) i");
$offset = -s $node->logfile;
$node->restart;
query("SELECT count(simple_cache_put('h:' || i, rel_value('h:' || i, 1))) FROM generate_series(1, 300000) i");
$node->wait_for_log(qr/simple_cache: loaded \d+ entries/, $offset);
is(query(q{SELECT count(*) FROM generate_series(1, 300000) i WHERE simple_cache_get('h:' || i) = rel_value('h:' || i, 0)}),
	'0', 'H: no value put right after the start is replaced by the saved one');
# The same for drops: a key dropped right after the start stays dropped, while the keys
# nobody touched are loaded (all but the few that share a mark with a dropped key).
$offset = -s $node->logfile;
$node->restart;
query("SELECT count(*) FROM generate_series(1, 150000) i WHERE simple_cache_drop('h:' || i)");
$node->wait_for_log(qr/simple_cache: loaded \d+ entries/, $offset);
is(query(q{SELECT count(*) FROM generate_series(1, 150000) i WHERE simple_cache_get('h:' || i) IS NOT NULL}),
	'0', 'H: no key dropped right after the start comes back');
my $untouched = query(q{SELECT count(*) FROM generate_series(150001, 300000) i
                        WHERE simple_cache_get('h:' || i) = rel_value('h:' || i, 1)});
cmp_ok($untouched, '>=', 135000, "H: the untouched keys are loaded ($untouched of 150000)");
is(query(q{SELECT count(*) FROM simple_cache_list() WHERE starts_with(key, 'h:')}), $untouched,
	'H: no other key is there');
# And for a flush: nothing saved in the flushed database comes back after a flush made right
# after the start, while another database's saved entries are all loaded.
$node->safe_psql('postgres', 'CREATE DATABASE h_other');
$node->safe_psql('h_other', 'CREATE EXTENSION simple_cache');
$node->safe_psql('h_other', "SELECT count(simple_cache_put('o:' || i, 'other')) FROM generate_series(1, 50000) i");
$offset = -s $node->logfile;
$node->restart;
query('SELECT simple_cache_flush()');
$node->wait_for_log(qr/simple_cache: loaded \d+ entries/, $offset);
is(query('SELECT count(*) FROM simple_cache_list()'), '0', 'H: nothing comes back after a flush right after the start');
is($node->safe_psql('h_other', q{SELECT count(*) FROM simple_cache_list() WHERE value = 'other'}), '50000',
	'H: a flush in one database does not keep the other databases from loading');
$node->safe_psql('h_other', 'SELECT simple_cache_flush()');
check_works('H');

# --- I: a stray SIGTERM does not end persistence ------------------------------------------
# The worker saves and exits; the postmaster starts it again (after 10 s), periodic saves go
# on, and a clean shutdown saves what was written meanwhile.
query('SELECT simple_cache_flush()');
$worker = worker_pid();
ok($worker =~ /^\d+$/, "I: the persistence worker runs (pid $worker)");
kill 'TERM', $worker;
$deadline = time + 30;
my $again = '';
while (time < $deadline)
{
	$again = worker_pid();
	last if $again =~ /^\d+$/ && $again != $worker;
	usleep(200_000);
}
ok($again =~ /^\d+$/ && $again != $worker, "I: the worker is back after a SIGTERM (pid $again)");
query(q{SELECT simple_cache_put('i:after', rel_value('i:after', 1))});
set_save_interval(1);
ok(wait_for_file(qr/i:after:1:/), 'I: periodic saves go on');
set_save_interval(0);
query(q{SELECT simple_cache_put('i:later', rel_value('i:later', 2))});
$offset = -s $node->logfile;
$node->restart;
$node->wait_for_log(qr/simple_cache: loaded \d+ entries/, $offset);
is(query(q{SELECT simple_cache_get('i:later') = rel_value('i:later', 2)}), 't',
	'I: the save at the clean shutdown kept what was written after the SIGTERM');
check_works('I');

# --- No process crashed on its own ------------------------------------------------------
my $log = slurp_file($node->logfile);
unlike($log, qr/PANIC|TRAP:|was terminated by exception|terminated by signal (?!9\b)/,
	'no server process crashed or panicked (only the SIGKILLs sent on purpose)');
unlike($log, qr/simple_cache bug|is not valid/, 'no simple_cache bug report and no invalid saved file in the log');

$node->stop;
diag "crashes survived: $crashes";
done_testing();
