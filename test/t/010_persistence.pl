# Persistence of the cache across restarts, with the library preloaded: the save at a clean
# shutdown and the load at start-up (values, databases, remaining time to live), the periodic
# save that a crash falls back on, damaged files (logged and ignored, never a crash), and
# simple_cache.save = off.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use ServerBack;

my $node = PostgreSQL::Test::Cluster->new('persistence');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'simple_cache'\nsimple_cache.save_interval = 0\nrestart_after_crash = on\n");
$node->start;
my $datafile = $node->data_dir . '/simple_cache.dat';

# Runs a query in a database (postgres by default) and returns its output.
sub query
{
	my ($sql, $db) = @_;
	return $node->safe_psql($db // 'postgres', $sql);
}

# The saved file's bytes, or undef when there is none.
sub read_file_bytes
{
	open(my $fh, '<:raw', $datafile) or return undef;
	local $/;
	my $bytes = <$fh>;
	close($fh);
	return $bytes;
}

# Replaces the saved file with the given bytes.
sub write_file_bytes
{
	my ($bytes) = @_;
	open(my $fh, '>:raw', $datafile) or die "cannot write $datafile: $!";
	print $fh $bytes;
	close($fh);
}

# Waits until the saved file contains the given bytes; false after 30 seconds.
sub wait_for_file_containing
{
	my ($needle) = @_;
	for (1 .. 300)
	{
		my $bytes = read_file_bytes();
		return 1 if defined $bytes && index($bytes, $needle) >= 0;
		usleep(100_000);
	}
	return 0;
}

# Starts the server and waits until the log shows the worker's load attempt.
sub start_and_wait_for_log
{
	my ($regexp) = @_;
	my $offset = -s $node->logfile;
	$node->start;
	$node->wait_for_log($regexp, $offset);
	return $offset;
}

my $loaded = qr/simple_cache: loaded (\d+) entries/;

# --- A clean restart keeps values, kinds, databases and remaining time to live ---------------

query('CREATE EXTENSION simple_cache');
query('CREATE DATABASE other');
query('CREATE EXTENSION simple_cache', 'other');
query(q{SELECT simple_cache_put('plain', 'text value'),
               simple_cache_put('ttl', 'lives an hour', interval '1 hour'),
               simple_cache_put('bytes', '\x00ff10'::bytea),
               simple_cache_put('short', 'soon gone', interval '4 seconds')});
my $put_at = time;
query(q{SELECT simple_cache_put('plain', 'other database')}, 'other');

$node->stop;
ok(-f $datafile, 'a clean shutdown saves the cache');
is((stat($datafile))[2] & 07777, 0600, 'the saved file is readable by its owner only');

# Let 'short' expire while the server is down.
my $wait = $put_at + 4.2 - time;
usleep(int($wait * 1_000_000)) if $wait > 0;
my $offset = start_and_wait_for_log($loaded);
ok($node->log_contains(qr/simple_cache: loaded 4 entries/, $offset), 'the start-up load restores the live entries');
ok($node->log_contains(qr/1 saved entries had expired/, $offset), 'and skips the one that expired meanwhile');
is(query(q{SELECT simple_cache_get('plain')}), 'text value', 'a text value is back');
is(query(q{SELECT simple_cache_get('plain')}, 'other'), 'other database', 'each database keeps its own entries');
is(query(q{SELECT simple_cache_get_bytea('bytes')}), '\x00ff10', 'a bytea value is back');
is(query(q{SELECT simple_cache_ttl('plain') IS NULL}), 't', 'an entry without expiry still has none');
is(query(q{SELECT extract(epoch FROM simple_cache_ttl('ttl')) BETWEEN 3500 AND 3600}),
	't', 'an entry with a time to live keeps what remained of it');
is(query(q{SELECT simple_cache_get('short') IS NULL}), 't', 'an entry that expired while the server was down is gone');
is(query(q{SELECT key_value_bytes || ' ' || puts FROM simple_cache_stats}),
	'58 0', 'the byte counter matches the restored entries, which do not count as puts');

# --- After an immediate stop, the last periodic save is loaded --------------------------------

query(q{ALTER SYSTEM SET simple_cache.save_interval = 1});
query(q{SELECT pg_reload_conf()});
query(q{SELECT simple_cache_put('periodic', 'saved by the worker')});
ok(wait_for_file_containing('saved by the worker'), 'a periodic save writes a new entry');
$node->stop('immediate');
start_and_wait_for_log($loaded);
is(query(q{SELECT simple_cache_get('periodic')}), 'saved by the worker',
	'after an immediate stop the periodic save is loaded');

# --- After a backend crashes, the last periodic save is loaded --------------------------------

query(q{SELECT simple_cache_put('before crash', 'in the last save')});
ok(wait_for_file_containing('in the last save'), 'the periodic save has the entry');
query(q{ALTER SYSTEM SET simple_cache.save_interval = 0});
query(q{SELECT pg_reload_conf()});
usleep(1_000_000);    # the worker takes the new setting: no more periodic saves
query(q{SELECT simple_cache_put('after save', 'never saved')});
my $victim = $node->background_psql('postgres');
# (chomp: some releases' BackgroundPsql returns the line with its newline)
chomp(my $pid = $victim->query_safe('SELECT pg_backend_pid()'));
$offset = -s $node->logfile;
kill 'KILL', $pid;
eval { $victim->quit; };
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $offset);
$node->wait_for_log($loaded, $offset);
wait_until_back($node, 'postgres') or die 'the server did not come back';
is(query(q{SELECT simple_cache_get('before crash')}), 'in the last save', 'after a crash the last periodic save is loaded');
is(query(q{SELECT simple_cache_get('after save') IS NULL}), 't', 'what came after that save is lost');

# --- Damaged files are logged and ignored ----------------------------------------------------

$node->stop;
my $valid = read_file_bytes();
ok(defined $valid && length($valid) > 48, 'a valid file to damage');
my $flipped = $valid;
substr($flipped, length($flipped) - 3, 1) = chr(ord(substr($flipped, length($flipped) - 3, 1)) ^ 0x40);
my $newer = $valid;
substr($newer, 8, 1) = chr(3);
my $huge_count = $valid;
substr($huge_count, 16, 8) = "\xff" x 8;
my @damaged = (
	[ 'an empty file',            '',                                     qr/fewer than a header/ ],
	[ 'a truncated file',         substr($valid, 0, length($valid) - 5),  qr/truncated/ ],
	[ 'a file of only a header',  substr($valid, 0, 48),                  qr/truncated/ ],
	[ 'a flipped bit',            $flipped,                               qr/payload checksum does not match/ ],
	[ 'a newer format version',   $newer,                                 qr/format version 3/ ],
	[ 'a damaged header',         $huge_count,                            qr/header checksum does not match/ ],
	[ 'a foreign file',           "not a saved cache\n" x 100,            qr/not a saved cache/ ]);
for my $case (@damaged)
{
	my ($name, $bytes, $why) = @$case;
	write_file_bytes($bytes);
	$offset = start_and_wait_for_log(qr/saved cache file "simple_cache.dat" is not valid/);
	ok($node->log_contains($why, $offset), "$name: the log says why");
	is(query(q{SELECT entries FROM simple_cache_stats}), '0', "$name: nothing is loaded");
	$node->stop;
}
unlike(slurp_file($node->logfile), qr/terminated by signal (?!9)|PANIC|was terminated by exception/,
	'no server process crashed (other than the backend killed on purpose)');

# --- simple_cache.save = off: nothing is written, nothing is loaded ---------------------------

$node->append_conf('postgresql.conf', "simple_cache.save = off\nsimple_cache.save_interval = 1\n");
unlink($datafile);
$node->start;
my ($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT simple_cache_load()');
is($stdout, '0', 'without a file simple_cache_load() loads nothing');
like($stderr, qr/NOTICE:  simple_cache: no saved cache to load/, 'and says so');
query(q{SELECT simple_cache_put('unsaved', 'stays in memory')});
usleep(2_500_000);    # more than two periodic intervals
$node->stop;
ok(!-e $datafile, 'with save off neither the interval nor the shutdown writes a file');
write_file_bytes($valid);
$node->start;
usleep(1_000_000);
is(query(q{SELECT count(*) FROM simple_cache_list()}), '0', 'with save off an existing file is not loaded');
is(query(q{SELECT simple_cache_load()}), '6', 'with save off simple_cache_load() still loads');
is(query(q{SELECT simple_cache_save() = (SELECT entries FROM simple_cache_stats)}), 't',
	'and simple_cache_save() still saves');

# --- Temporary files left by a save that crashed are removed by the next save -----------------

my $stale = $node->data_dir . '/simple_cache.dat.999999999.tmp';
my $live = $node->data_dir . '/simple_cache.dat.' . $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'}) . '.tmp';
for my $file ($stale, $live)
{
	open(my $fh, '>', $file) or die "cannot write $file: $!";
	close($fh);
}
query(q{SELECT simple_cache_save()});
ok(!-e $stale, "a dead process's temporary file is removed");
ok(-e $live, "a live process's temporary file is left alone");
unlink($live);

$node->stop;
done_testing();
