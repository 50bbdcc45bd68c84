# The saved files are never lost and never stuck, with the library preloaded:
#   A  the persistence worker stopped (SIGTERM) in the middle of the start-up load of a large
#      file: saves are refused while the load is unfinished, the restarted worker finishes the
#      load, and after the next restart every saved entry is there;
#   B  the same, with clients putting and dropping keys before the resumed load finishes:
#      their writes stay the last word;
#   C  the worker stopped in the middle of the free-space map's load;
#   D  simple_cache.save = off at start-up, then on: the file that was not loaded is not saved
#      over until it is loaded, removed or saved over on purpose;
#   E  an unreadable file (mode 000 or 0400): saves (simple_cache_save(), simple_cache_fsm_save()
#      and the periodic ones) replace it; at start-up the load is retried, the file kept and the
#      fix logged (the worker failing to load: it exits and its successor tries again), until
#      the file can be read.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('saved_files_kept');
$node->init;
$node->append_conf('postgresql.conf', <<'EOF');
shared_preload_libraries = 'simple_cache'
simple_cache.save_interval = 0
simple_cache.max_memory = '1GB'
simple_cache.fsm_max_relations = 20000
simple_cache.fsm_max_pages = 2000000
EOF
$node->start;
my $datadir = $node->data_dir;
my $datafile = "$datadir/simple_cache.dat";
my $mapfile = "$datadir/simple_cache_fsm.dat";

# Runs a query in the postgres database and returns its output.
sub query { return $node->safe_psql('postgres', $_[0]); }

# Runs a query that must fail; returns its error output, with the SQLSTATE.
sub query_error
{
	my ($sql) = @_;
	my ($ret, $stdout, $stderr) = $node->psql('postgres', $sql, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	return $ret == 0 ? "no error: $stdout" : $stderr;
}

# The first 48 bytes (the header: save time, counts, checksums) and the size of a file, which
# tell one save from another; undef when the file cannot be read.
sub file_id
{
	my ($path) = @_;
	open(my $fh, '<:raw', $path) or return undef;
	my $header = '';
	read($fh, $header, 48);
	close($fh);
	return unpack('H*', $header) . ' ' . (-s $path);
}

# Whether a file contains a string (false when it cannot be read).
sub file_contains
{
	my ($path, $needle) = @_;
	open(my $fh, '<:raw', $path) or return 0;
	local $/;
	my $bytes = <$fh>;
	close($fh);
	return index($bytes, $needle) >= 0;
}

# Polls a condition every `pause` microseconds (100 ms by default); false when it did not
# hold within `seconds`.
sub wait_until
{
	my ($seconds, $condition, $pause) = @_;
	my $deadline = time + $seconds;
	while (time < $deadline)
	{
		return 1 if $condition->();
		usleep($pause // 100_000);
	}
	return $condition->() ? 1 : 0;
}

# Whether the log, from offset on, matches regexp; waits up to `seconds` for it.
sub log_shows
{
	my ($regexp, $offset, $seconds) = @_;
	return wait_until($seconds, sub { $node->log_contains($regexp, $offset) });
}

# The persistence worker's pid: the postmaster's child whose process title names it ('' if
# none). It has no database connection, so pg_stat_activity does not list it.
sub worker_pid
{
	my $postmaster = $node->{_pid};
	opendir(my $dh, '/proc') or die "cannot read /proc: $!";
	my $found = '';
	for my $pid (grep { /^\d+$/ } readdir($dh))
	{
		open(my $stat, '<', "/proc/$pid/stat") or next;
		my $line = <$stat>;
		close($stat);
		next unless defined $line && $line =~ /^\d+ \(.*\) \S+ (\d+)/ && $1 == $postmaster;
		open(my $cmd, '<', "/proc/$pid/cmdline") or next;
		my $title = <$cmd> // '';
		close($cmd);
		if ($title =~ /simple_cache persistence/)
		{
			$found = $pid;
			last;
		}
	}
	closedir($dh);
	return $found;
}

# Sets persistence settings with ALTER SYSTEM and reloads; the worker takes them at once.
sub set_conf
{
	my (%settings) = @_;
	query("ALTER SYSTEM SET $_ = '$settings{$_}'") for sort keys %settings;
	query('SELECT pg_reload_conf()');
	usleep(500_000);
}

my $loaded_line = qr/simple_cache: loaded (\d+) entries from "simple_cache.dat"/;
my $map_loaded_line = qr/simple_cache: loaded (\d+) relations from "simple_cache_fsm.dat"/;

# Restarts the server and waits until the worker has loaded both saved files.
sub restart_and_wait_for_loads
{
	my $offset = -s $node->logfile;
	$node->restart;
	$node->wait_for_log($loaded_line, $offset);
	$node->wait_for_log($map_loaded_line, $offset);
}

# Starts the server and stops the worker (SIGTERM) once its start-up load has got under way,
# as the query `progress` shows (at least `at_least`); returns what `progress` showed once
# the worker had stopped.
sub start_and_stop_load
{
	my ($progress, $at_least, $what) = @_;
	$node->start;
	my $monitor = $node->background_psql('postgres');
	my $worker = '';
	ok(wait_until(60, sub { ($worker = worker_pid()) ne '' }, 10_000), "$what: the persistence worker runs");
	ok(wait_until(60, sub { $monitor->query_safe($progress) >= $at_least }, 5_000),
		"$what: the start-up load is under way");
	kill 'TERM', $worker;
	ok(wait_until(30, sub { worker_pid() ne $worker }), "$what: the worker stopped");
	my $at_stop = $monitor->query_safe($progress);
	$monitor->quit;
	return $at_stop;
}

query('CREATE EXTENSION simple_cache');

# --- A: SIGTERM to the worker in the middle of the start-up load ----------------------------

my $total = 1_000_000;
query("SELECT count(simple_cache_put('a:' || i, 'value ' || i)) FROM generate_series(1, $total) i");
query(q{SELECT simple_cache_fsm_record_many(900001, ARRAY[1, 2]::bigint[], ARRAY[100, 200])});
$node->stop;
my $saved = file_id($datafile);
my $saved_map = file_id($mapfile);
ok(defined $saved && defined $saved_map, 'A: a clean shutdown saved the cache and the map');

my $offset = -s $node->logfile;
my $at_kill = start_and_stop_load('SELECT entries FROM simple_cache_stats', 1000, 'A');
cmp_ok($at_kill, '<', $total, "A: it stopped in the middle of the load ($at_kill of $total entries loaded)");

like(query_error('SELECT simple_cache_save()'), qr/55000/,
	'A: simple_cache_save() is refused (55000) while the load is unfinished');
like(query_error('SELECT simple_cache_fsm_save()'), qr/55000/, 'A: so is simple_cache_fsm_save()');
is(file_id($datafile), $saved, 'A: the saved cache is unchanged');
is(file_id($mapfile), $saved_map, 'A: the saved map is unchanged');

ok(log_shows(qr/simple_cache: loaded $total entries from "simple_cache.dat"/, $offset, 90),
	'A: the restarted worker finished the load, counting every saved entry');
ok($node->log_contains(qr/The load resumed where an earlier attempt had stopped/, $offset), 'A: it resumed the load');
ok(log_shows($map_loaded_line, $offset, 30), "A: and the map's");
restart_and_wait_for_loads();
is(query("SELECT count(*) FROM generate_series(1, $total) i WHERE simple_cache_get('a:' || i) = 'value ' || i"),
	$total, 'A: after the next restart every saved entry is there');
is(query(q{SELECT string_agg(block || ':' || avail, ',') FROM simple_cache_fsm_pages(900001)}), '1:100,2:200',
	'A: so is the saved map');

# --- B: clients' writes made before the resumed load finishes win over it -------------------

$node->stop;
$offset = -s $node->logfile;
$at_kill = start_and_stop_load('SELECT entries FROM simple_cache_stats', 1000, 'B');
cmp_ok($at_kill, '<', $total, "B: it stopped in the middle of the load ($at_kill of $total entries loaded)");
# Clients change keys before the load is finished: puts of every key i = 1 (mod 2000), drops
# of every key i = 2 (mod 2000).
query(qq{SELECT count(simple_cache_put('a:' || i, 'client ' || i)) FROM generate_series(1, $total, 2000) i});
query(qq{SELECT count(simple_cache_drop('a:' || i)) FROM generate_series(2, $total, 2000) i});
ok(log_shows($loaded_line, $offset, 90), 'B: the restarted worker finished the load');
my ($skipped) = slurp_file($node->logfile) =~ /.*saved entries had expired, \d+ did not fit, (\d+) were left to what clients/s;
ok(defined $skipped, 'B: its log line counts the entries left to clients');
restart_and_wait_for_loads();
is(query(qq{SELECT count(*) FROM generate_series(1, $total, 2000) i WHERE simple_cache_get('a:' || i) = 'client ' || i}),
	'500', 'B: every put made before the load finished stands');
is(query(qq{SELECT count(*) FROM generate_series(2, $total, 2000) i WHERE simple_cache_get('a:' || i) IS NOT NULL}),
	'0', 'B: every key dropped before the load finished stays dropped');
my $untouched = query(qq{SELECT count(*) FROM generate_series(1, $total) i
                         WHERE i % 2000 NOT IN (1, 2) AND simple_cache_get('a:' || i) = 'value ' || i});
# A saved entry whose key shares a mark with a changed key is left out too (a cache miss);
# the load's count of entries left to clients includes those.
cmp_ok($untouched, '>=', $total - 1000 - ($skipped // $total),
	"B: every other saved entry is there, but for a few sharing a mark ($untouched of 999000)");
is(query("SELECT count(*) FROM simple_cache_list() WHERE starts_with(key, 'a:')"), $untouched + 500,
	'B: and no other key');

# --- C: SIGTERM to the worker in the middle of the map's start-up load ---------------------

my $relations = 20000;
query('SELECT simple_cache_flush()');
query(qq{SELECT count(simple_cache_fsm_record_many(900000 + r, ARRAY[r, r + 1]::bigint[], ARRAY[r % 8000, 1]))
         FROM generate_series(1, $relations) r});
is(query('SELECT relations FROM simple_cache_fsm_summary()'), $relations, "C: $relations relations tracked");
$node->stop;    # saves an empty cache: the map's load starts at once
$saved_map = file_id($mapfile);
$offset = -s $node->logfile;
$at_kill = start_and_stop_load('SELECT relations FROM simple_cache_fsm_summary()', 100, 'C');
cmp_ok($at_kill, '<', $relations, "C: it stopped in the middle of the map's load ($at_kill of $relations relations)");
is(query('SELECT simple_cache_save()'), '0', 'C: simple_cache_save() works, the cache being loaded');
like(query_error('SELECT simple_cache_fsm_save()'), qr/55000/, 'C: simple_cache_fsm_save() is refused meanwhile');
is(file_id($mapfile), $saved_map, 'C: the saved map is unchanged');
ok(log_shows($map_loaded_line, $offset, 90), "C: the restarted worker finished the map's load");
ok($node->log_contains(qr/The load resumed where an earlier attempt had stopped/, $offset), 'C: it resumed the load');
restart_and_wait_for_loads();
is(query('SELECT relations FROM simple_cache_fsm_summary()'), $relations,
	'C: after the next restart every saved relation is tracked');
is(query(qq{SELECT count(*) FROM generate_series(1, $relations) r
            WHERE (SELECT string_agg(block || ':' || avail, ',') FROM simple_cache_fsm_pages(900000 + r))
                  = r || ':' || (r % 8000) || ',' || (r + 1) || ':1'}),
	$relations, 'C: with its pages');

# --- D: simple_cache.save = off at start-up, then on ------------------------------------------

query('SELECT simple_cache_flush()');
query(q{SELECT count(simple_cache_put('d:' || i, 'value ' || i)) FROM generate_series(1, 1000) i});
$node->stop;
$saved = file_id($datafile);
$saved_map = file_id($mapfile);
$node->append_conf('postgresql.conf', 'simple_cache.save = off');
$offset = -s $node->logfile;
$node->start;
query(q{SELECT simple_cache_put('d:new', 'after the start')});
is(query('SELECT count(*) FROM simple_cache_list()'), '1', 'D: with save off the file is not loaded');
set_conf('simple_cache.save' => 'on', 'simple_cache.save_interval' => '1');
usleep(2_500_000);    # more than two periodic intervals
is(file_id($datafile), $saved, 'D: turned on, the periodic save does not replace the file it never loaded');
is(file_id($mapfile), $saved_map, 'D: nor the map file');
ok(log_shows(qr/not saving the cache over "simple_cache.dat"/, $offset, 10), 'D: the log says why');
is(query('SELECT simple_cache_load()'), '1000', 'D: simple_cache_load() loads it');
ok(wait_until(30, sub { file_contains($datafile, 'after the start') && file_contains($datafile, 'value 999') }),
	'D: then the periodic saves resume, with the loaded entries and the new one');
is(file_id($mapfile), $saved_map, 'D: the map file is still not saved over');
is(query('SELECT simple_cache_fsm_load()'), $relations, 'D: simple_cache_fsm_load() loads it');
ok(wait_until(30, sub { file_id($mapfile) ne $saved_map }), 'D: then the periodic saves of the map resume');
set_conf('simple_cache.save_interval' => '0');

# --- E: an unreadable file is replaced by the next save --------------------------------------

for my $mode (0000, 0400)
{
	my $m = sprintf('%04o', $mode);
	chmod($mode, $datafile, $mapfile) or die "chmod: $!";
	query(qq{SELECT simple_cache_put('e:sql', 'explicit save over mode $m')});
	is(query('SELECT simple_cache_save() > 0'), 't', "E: simple_cache_save() replaces a file of mode $m");
	ok(file_contains($datafile, "explicit save over mode $m"), "E: the new file holds the cache (mode $m)");
	is((stat($datafile))[2] & 07777, 0600, "E: and has the cluster's file mode (mode $m)");
	is(query('SELECT simple_cache_fsm_save()'), $relations, "E: simple_cache_fsm_save() does the same (mode $m)");
	chmod($mode, $datafile, $mapfile) or die "chmod: $!";
	query(qq{SELECT simple_cache_put('e:periodic', 'periodic save over mode $m')});
	set_conf('simple_cache.save_interval' => '1');
	ok(wait_until(30, sub { file_contains($datafile, "periodic save over mode $m") }),
		"E: a periodic save replaces a file of mode $m");
	ok(wait_until(30, sub { ((stat($mapfile))[2] & 07777) == 0600 }), "E: and the map file (mode $m)");
	set_conf('simple_cache.save_interval' => '0');
}

# At start-up an unreadable file is kept: the load is retried, and the log says how to fix it.
$node->stop;
$saved = file_id($datafile);
chmod(0000, $datafile) or die "chmod: $!";
$offset = -s $node->logfile;
$node->start;
ok(log_shows(qr/could not open file "simple_cache.dat": Permission denied/, $offset, 30),
	'E: at start-up an unreadable file cannot be loaded');
ok(log_shows(qr/HINT:  If the error logged above persists, correct its cause, or move "simple_cache.dat"/, $offset, 30),
	'E: the log says what to do');
like(query_error('SELECT simple_cache_save()'), qr/55000/, 'E: simple_cache_save() does not replace it meanwhile');
chmod(0600, $datafile) or die "chmod: $!";
ok(log_shows($loaded_line, $offset, 60), 'E: once readable, the restarted worker loads it');
is(file_id($datafile), $saved, 'E: the file was kept as it was');
is(query(q{SELECT count(*) FROM simple_cache_list() WHERE starts_with(key, 'd:')}), '1001',
	'E: its entries are back');

unlike(slurp_file($node->logfile), qr/PANIC|TRAP:|was terminated by exception|terminated by signal/,
	'no server process crashed');
$node->stop;
done_testing();
