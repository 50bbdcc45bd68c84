# Invalidations at commit reach hot standbys through simple_cache's WAL resource manager.
# A primary and a streaming standby, both with simple_cache preloaded; each fills its own cache.
#   A  simple_cache_invalidate() committed on the primary removes the key from the standby's
#      cache once replayed; a rolled-back one removes nothing;
#   B  the invalidation trigger (an UPDATE) and simple_cache_invalidate_prefix(); several
#      prefixes replayed in one scan; a transaction of 1000 keys (more than the fence table holds
#      one by one) drops only its keys; one over the record limit drops the whole database;
#   C  between the replay of a transaction's record and of its commit (held back with
#      recovery_min_apply_delay on a second standby), puts of the keys are refused and fetch
#      stores nothing; after the commit they are stored again; under a database fence, puts of
#      any key of the database are refused in the window; with no slot free in the fence
#      table, the overflow fence refuses puts of any key until the transaction has ended;
#   D  a reader on the standby racing the replay never gets a cached value older than the row
#      it read before (the primary updates a row in a loop, the trigger invalidates its key);
#   E  a standby restarted catches up from WAL and does not load its saved cache;
#   F  an immediate stop of the primary with invalidations in flight: crash recovery replays
#      them, the primary works, the standby catches up;
#   G  a promoted standby takes puts and writes at commit;
#   H  a standby without the library preloaded stops at the first record with PostgreSQL's
#      "resource manager ... not registered" error;
#   I  a record of another layout version (another release on the primary) drops and fences
#      every database's entries instead of being skipped;
#   S  savepoints: a rolled-back one's invalidations are not logged, released ones' are, with
#      the top-level xid;
#   J  a record of a database dropped right after it; no fence stays up.
# It also prints the WAL bytes one invalidated key costs.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('standby_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', <<'EOF');
shared_preload_libraries = 'simple_cache'
simple_cache.save_interval = 0
# The standbys have no replication slots: a standby that lags (a busy machine) while a backup's
# checkpoint recycles WAL must still find the segments it needs.
wal_keep_size = '1GB'
EOF
$primary->start;

sub on_primary { return $primary->safe_psql('postgres', $_[0]); }

on_primary(<<'EOF');
CREATE EXTENSION simple_cache;
CREATE TABLE items (id int PRIMARY KEY, v bigint NOT NULL);
INSERT INTO items SELECT i, 0 FROM generate_series(1, 10) i;
CREATE TRIGGER items_cache AFTER UPDATE OR DELETE ON items
    FOR EACH ROW EXECUTE FUNCTION simple_cache_invalidate_trigger('item:{id}');
-- The standby's reader: reads item 1's row, then its cached value (filled by fetch from the
-- row); counts the times the cached value was older than the row read before it.
CREATE FUNCTION read_race(rounds int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    row_v bigint;
    cached bigint;
    older int := 0;
    hits int := 0;
BEGIN
    FOR i IN 1 .. rounds LOOP
        SELECT v INTO row_v FROM items WHERE id = 1;
        cached := simple_cache_fetch('item:1', 'SELECT v::text FROM items WHERE id = 1', NULL)::bigint;
        IF cached < row_v THEN
            older := older + 1;
        END IF;
        hits := hits + 1;
    END LOOP;
    RETURN older || ' older of ' || hits;
END $$;
-- The primary's writer: each round updates item 1, then item 5, each in a transaction of its
-- own, pausing after each (the trigger invalidates item:1, then item:5, at the commits). On a
-- standby, a value of item:1 stored from old rows would then stay until the next round.
CREATE PROCEDURE write_rounds(rounds int, pause float8 DEFAULT 0) LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. rounds LOOP
        UPDATE items SET v = v + 1 WHERE id = 1;
        COMMIT;
        PERFORM pg_sleep(pause);
        UPDATE items SET v = v + 1 WHERE id = 5;
        COMMIT;
        PERFORM pg_sleep(pause);
    END LOOP;
END $$;
EOF

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby_replica');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

sub on_standby { return $standby->safe_psql('postgres', $_[0]); }
sub caught_up { $primary->wait_for_catchup($_[0], 'replay'); }
sub replica_stat { return $_[0]->safe_psql('postgres', "SELECT $_[1] FROM simple_cache_replica_stats()"); }

caught_up($standby);
is(on_standby('SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
is(replica_stat($standby, 'wal_rmgr_registered::text || wal_rmgr_id'), 'true128',
	'the standby registered the resource manager with the default id');

# ---------------------------------------------------------------------------------------------
# A: a committed invalidation reaches the standby; a rolled-back one does not.
on_standby("SELECT simple_cache_put('a:committed', 'old'), simple_cache_put('a:rolled_back', 'kept')");
on_primary("SELECT simple_cache_put('a:committed', 'primary value')");
on_primary(q{
BEGIN;
SELECT simple_cache_invalidate('a:committed');
COMMIT;
BEGIN;
SELECT simple_cache_invalidate('a:rolled_back');
ROLLBACK;
});
caught_up($standby);
is(on_standby("SELECT simple_cache_get('a:committed') IS NULL"), 't',
	'A: the committed invalidation dropped the key on the standby');
is(on_standby("SELECT simple_cache_get('a:rolled_back')"), 'kept', 'A: the rolled-back one dropped nothing');
is(on_primary("SELECT simple_cache_get('a:committed') IS NULL"), 't', 'A: and on the primary');
cmp_ok(replica_stat($primary, 'records_logged'), '>=', 1, 'A: the primary counts the records it logged');
cmp_ok(replica_stat($standby, 'records_replayed'), '>=', 1, 'A: the standby counts the records it replayed');
cmp_ok(replica_stat($standby, 'keys_replayed'), '>=', 1, 'A: and the keys');

# Plain immediate writes stay local.
on_primary("SELECT simple_cache_drop('a:rolled_back')");
caught_up($standby);
is(on_standby("SELECT simple_cache_get('a:rolled_back')"), 'kept', 'A: an immediate drop stays on the primary');

# ---------------------------------------------------------------------------------------------
# B: the trigger (row keys) and the prefix drop.
on_standby(
	"SELECT simple_cache_put('item:2', 'stale'), simple_cache_put('item:3', 'fresh'), simple_cache_put('user:1', 'u1'), simple_cache_put('user:2', 'u2'), simple_cache_put('other', 'o')"
);
on_primary('UPDATE items SET v = v + 1 WHERE id = 2');
on_primary("BEGIN; SELECT simple_cache_invalidate_prefix('user:'); COMMIT;");
caught_up($standby);
is(on_standby("SELECT simple_cache_get('item:2') IS NULL"), 't', 'B: the trigger invalidated the updated row\'s key');
is(on_standby("SELECT simple_cache_get('item:3')"), 'fresh', 'B: the other rows\' keys stay');
is(on_standby("SELECT count(*) FROM simple_cache_list() WHERE key LIKE 'user:%'"), '0',
	'B: the prefix drop removed every key under it');
is(on_standby("SELECT simple_cache_get('other')"), 'o', 'B: keys outside the prefix stay');
cmp_ok(replica_stat($standby, 'prefixes_replayed'), '>=', 1, 'B: the standby counts the prefixes');

# Several prefixes of one transaction (one covering another, one matching nothing) are replayed
# in one scan of the standby's cache, as the primary applies them: a scan per prefix held up
# the replay of a transaction of 500 prefixes for 18 s on a standby of 200000 entries.
on_standby("SELECT simple_cache_put(k, 'v') FROM unnest(ARRAY['p1:a', 'p2:b', 'p2:x:c', 'p3:d']) k");
my ($scans_before, $prefixes_counted) = split /\|/, replica_stat($standby, "replay_scans || '|' || prefixes_replayed");
on_primary(q{
BEGIN;
SELECT simple_cache_invalidate_prefix(p) FROM unnest(ARRAY['p1:', 'p2:x:', 'p2:', 'nomatch:']) p;
COMMIT;
});
caught_up($standby);
is(on_standby("SELECT string_agg(key, ',' ORDER BY key) FROM simple_cache_list() WHERE key LIKE 'p_:%'"), 'p3:d',
	'B: every key under the transaction\'s prefixes is dropped, the others stay');
is(replica_stat($standby, 'prefixes_replayed') - $prefixes_counted, 4, 'B: four prefixes replayed');
is(replica_stat($standby, 'replay_scans') - $scans_before, 1, 'B: in one scan of the cache');

# A transaction of more keys than the fence table holds one by one (960) is fenced over its
# whole database until its commit, but only its own keys are dropped: a bulk update of 1000 rows
# must not empty the standby's cache of the database.
on_standby("SELECT count(simple_cache_put('many:' || i, 'v')) FROM generate_series(1, 1200) i");
on_standby("SELECT simple_cache_put('many_bystander', 'v')");
on_primary("BEGIN; SELECT count(simple_cache_invalidate('many:' || i)) FROM generate_series(1, 1000) i; COMMIT;");
caught_up($standby);
is(on_standby("SELECT count(*) FROM simple_cache_list() WHERE key LIKE 'many:%'"), '200',
	'B: a transaction of 1000 keys drops its 1000 keys on the standby');
is(on_standby("SELECT simple_cache_get('many_bystander')"), 'v', 'B: and not the other keys of the database');
on_standby("SELECT simple_cache_put('many:1', 'refilled')");
is(on_standby("SELECT simple_cache_get('many:1')"), 'refilled', 'B: once its commit is replayed, puts are stored');
on_standby("SELECT simple_cache_flush()");

# A transaction whose record would pass the limit (lowered here) invalidates the whole database.
on_standby("SELECT simple_cache_put('big:' || i, 'v') FROM generate_series(1, 3) i");
on_standby("SELECT simple_cache_put('bystander', 'v')");
my $prefixes_before = replica_stat($standby, 'prefixes_replayed');
on_primary(q{
SET simple_cache.debug_invalidation_record_limit = 100;
BEGIN;
SELECT count(simple_cache_invalidate('big:' || i)) FROM generate_series(1, 20) i;
COMMIT;
});
caught_up($standby);
is(on_standby("SELECT count(*) FROM simple_cache_list()"), '0', 'B: a record over the limit drops the whole database');
is(replica_stat($standby, 'prefixes_replayed'), $prefixes_before + 1, 'B: as one empty prefix');

# ---------------------------------------------------------------------------------------------
# C: the window between the record and the commit, held open by a delayed standby (the delay
# holds back commit records only).
$primary->backup('base_c');
my $delayed = PostgreSQL::Test::Cluster->new('standby_delayed');
$delayed->init_from_backup($primary, 'base_c', has_streaming => 1);
$delayed->append_conf('postgresql.conf', "recovery_min_apply_delay = '2s'");
$delayed->start;
caught_up($delayed);
sub on_delayed { return $delayed->safe_psql('postgres', $_[0]); }
on_delayed("SELECT simple_cache_put('c:key', 'before')");
my $replayed_before = replica_stat($delayed, 'records_replayed');
on_primary("BEGIN; SELECT simple_cache_invalidate('c:key'); COMMIT;");
$delayed->poll_query_until('postgres', "SELECT records_replayed > $replayed_before FROM simple_cache_replica_stats()")
  or die 'the delayed standby did not replay the record';
is(replica_stat($delayed, 'fences_active'), '1', 'C: the record installed a fence');
is(on_delayed("SELECT simple_cache_get('c:key') IS NULL"), 't', 'C: the replay dropped the key at once');
on_delayed("SELECT simple_cache_put('c:key', 'refill from old rows')");
is(on_delayed("SELECT simple_cache_get('c:key') IS NULL"), 't', 'C: a put before the commit is replayed is refused');
is(on_delayed("SELECT simple_cache_fetch('c:key', 'SELECT ''fetched early''', NULL)"), 'fetched early',
	'C: fetch returns the computed value');
is(on_delayed("SELECT simple_cache_get('c:key') IS NULL"), 't', 'C: but does not store it');
cmp_ok(replica_stat($delayed, 'puts_refused'), '>=', 1, 'C: refused puts are counted');
caught_up($delayed);
on_delayed("SELECT simple_cache_put('c:key', 'after')");
is(on_delayed("SELECT simple_cache_get('c:key')"), 'after', 'C: once the commit is replayed, puts are stored');
is(replica_stat($delayed, 'fences_active'), '0', 'C: and the fence is gone');

# The fence over a whole database (a transaction of more keys than the fence table holds one by
# one) refuses puts of any key of the database in the window, and only then.
$replayed_before = replica_stat($delayed, 'records_replayed');
on_primary("BEGIN; SELECT count(simple_cache_invalidate('c2:' || i)) FROM generate_series(1, 1000) i; COMMIT;");
$delayed->poll_query_until('postgres', "SELECT records_replayed > $replayed_before FROM simple_cache_replica_stats()")
  or die 'the delayed standby did not replay the record';
on_delayed("SELECT simple_cache_put('c2:unrelated', 'refill from old rows')");
is(on_delayed("SELECT simple_cache_get('c2:unrelated') IS NULL"), 't',
	'C: a database fence refuses a put of any key of the database before the commit is replayed');
caught_up($delayed);
on_delayed("SELECT simple_cache_put('c2:unrelated', 'after')");
is(on_delayed("SELECT simple_cache_get('c2:unrelated')"), 'after', 'C: and stores it after');

# When the fence table has no slot left (many transactions committing at once, their records
# replayed before their commits), the overflow fence refuses every put on the standby until the
# transactions up to the last such one have ended; before, such a record's database was
# dropped with no fence, and a refill from old rows was stored. A third standby uses none of
# the table's slots (the testing aid simple_cache.debug_fence_slots = 0), so every record takes
# the overflow fence; its delay holds the window open until it is lowered.
# (Its own backup, taken now: commits in the WAL before the record would hold it back.)
$primary->backup('base_full');
my $full = PostgreSQL::Test::Cluster->new('standby_full');
$full->init_from_backup($primary, 'base_full', has_streaming => 1);
$full->append_conf('postgresql.conf', "simple_cache.debug_fence_slots = 0\nrecovery_min_apply_delay = '10min'");
$full->start;
$full->poll_query_until('postgres', "SELECT count(*) = 1 FROM pg_extension WHERE extname = 'simple_cache'")
  or die 'the third standby did not replay the extension';
sub on_full { return $full->safe_psql('postgres', $_[0]); }
on_full("SELECT simple_cache_put('c3:key', 'before')");
$replayed_before = replica_stat($full, 'records_replayed');
on_primary("SELECT simple_cache_invalidate('c3:key')");
$full->poll_query_until('postgres', "SELECT records_replayed > $replayed_before FROM simple_cache_replica_stats()")
  or die 'the third standby did not replay the record';
is(replica_stat($full, 'fences_active'), '1', 'C: with no slot free, the record took the overflow fence');
is(on_full("SELECT simple_cache_get('c3:key') IS NULL"), 't', 'C: and its key was dropped');
on_full("SELECT simple_cache_put('c3:key', 'refill from old rows'), simple_cache_put('c3:unrelated', 'x')");
is(on_full("SELECT simple_cache_get('c3:key') IS NULL AND simple_cache_get('c3:unrelated') IS NULL"), 't',
	'C: under the overflow fence, puts of any key are refused before the commit is replayed');
$full->append_conf('postgresql.conf', "recovery_min_apply_delay = 0");
$full->reload;
caught_up($full);
$full->poll_query_until('postgres', "SELECT simple_cache_put('c3:key', 'after') IS NOT NULL AND simple_cache_get('c3:key') = 'after'")
  or die 'puts were still refused after the commit was replayed';
pass('C: once the commit is replayed, puts are stored again');
is(replica_stat($full, 'fences_active'), '0', 'C: and the overflow fence is gone');
$full->stop;

# ---------------------------------------------------------------------------------------------
# I: a record of a layout this release cannot read, as a primary running another release of
# simple_cache would write it (here with the testing aid simple_cache.debug_invalidation_record_format).
# The standby cannot tell which keys, or even which database, it names: it drops every entry of
# every database and fences them all until the transaction's commit is replayed. It must not
# skip the record, which would leave the invalidated values in its cache for good.
on_primary('CREATE DATABASE otherdb');
$primary->safe_psql('otherdb', 'CREATE EXTENSION simple_cache');
caught_up($standby);
caught_up($delayed);
for my $node ($standby, $delayed)
{
	$node->safe_psql('postgres', "SELECT simple_cache_put('i:here', 'v')");
	$node->safe_psql('otherdb', "SELECT simple_cache_put('i:there', 'v')");
}
my $fallbacks_before = replica_stat($delayed, 'database_fallbacks');
my $i_offset = -s $delayed->logfile;
on_primary(q{
SET simple_cache.debug_invalidation_record_format = 1396917554;
BEGIN;
SELECT simple_cache_invalidate('i:named');
COMMIT;
});
ok($delayed->wait_for_log(qr/simple_cache: a cache invalidation record is/, $i_offset),
	'I: the delayed standby met the record of another layout');
on_delayed("SELECT simple_cache_put('i:here', 'refill from old rows')");
$delayed->safe_psql('otherdb', "SELECT simple_cache_put('i:there', 'refill from old rows')");
is(on_delayed("SELECT simple_cache_get('i:here') IS NULL"), 't',
	'I: the key of the record\'s database is dropped, and a put before the commit is refused');
is($delayed->safe_psql('otherdb', "SELECT simple_cache_get('i:there') IS NULL"), 't',
	'I: so is another database\'s (the record may name any database)');
cmp_ok(replica_stat($delayed, 'database_fallbacks'), '>', $fallbacks_before, 'I: counted as a fallback');
caught_up($delayed);
on_delayed("SELECT simple_cache_put('i:here', 'after')");
$delayed->safe_psql('otherdb', "SELECT simple_cache_put('i:there', 'after')");
is(on_delayed("SELECT simple_cache_get('i:here')") . ' ' . $delayed->safe_psql('otherdb', "SELECT simple_cache_get('i:there')"),
	'after after', 'I: once the commit is replayed, puts are stored in both databases');
caught_up($standby);
is(on_standby("SELECT simple_cache_get('i:here') IS NULL") . $standby->safe_psql('otherdb', "SELECT simple_cache_get('i:there') IS NULL"),
	'tt', 'I: the other standby dropped both databases\' entries too');

# ---------------------------------------------------------------------------------------------
# S: subtransactions. A savepoint rolled back takes its invalidations with it (they are not
# logged); those of released savepoints, nested ones included, are logged with the top-level
# transaction's xid (the one whose commit the standby waits for), even when the savepoint had
# an xid of its own.
on_standby("SELECT simple_cache_put('s:' || k, 'v') FROM unnest(ARRAY['rolled_back', 'released', 'nested', 'top']) k");
my $keys_before = replica_stat($standby, 'keys_replayed');
my $s_start = on_primary('SELECT pg_current_wal_insert_lsn()');
my $top_xid = on_primary(q{
BEGIN;
SAVEPOINT a;
SELECT simple_cache_invalidate('s:rolled_back') \g /dev/null
ROLLBACK TO a;
SAVEPOINT b;
INSERT INTO items VALUES (100, 0);
SELECT simple_cache_invalidate('s:released') \g /dev/null
SAVEPOINT c;
SELECT simple_cache_invalidate('s:nested') \g /dev/null
RELEASE c;
RELEASE b;
SELECT simple_cache_invalidate('s:top') \g /dev/null
SELECT txid_current() % 4294967296;
COMMIT;
});
my $s_end = on_primary('SELECT pg_current_wal_insert_lsn()');
caught_up($standby);
is(on_standby("SELECT string_agg(k || '=' || coalesce(simple_cache_get('s:' || k), 'dropped'), ' ' ORDER BY k) FROM unnest(ARRAY['rolled_back', 'released', 'nested', 'top']) k"),
	'nested=dropped released=dropped rolled_back=v top=dropped',
	'S: the rolled-back savepoint\'s key stays, the released ones\' keys are dropped');
is(replica_stat($standby, 'keys_replayed') - $keys_before, 3, 'S: exactly three keys were logged');
my ($waldump_out, $waldump_err) = ('', '');
IPC::Run::run([ 'pg_waldump', '-p', $primary->data_dir . '/pg_wal', '-s', $s_start, '-e', $s_end ],
	'>', \$waldump_out, '2>', \$waldump_err);
my @records = grep { /^rmgr: custom128\s/ } split /\n/, $waldump_out;
is(scalar(@records), 1, 'S: one record for the transaction') or diag($waldump_out . $waldump_err);
like($records[0] // '', qr/\btx: +$top_xid,/, 'S: carrying the top-level xid');

# ---------------------------------------------------------------------------------------------
# D: a reader racing the replay never caches a value older than a row it has seen. On the
# delayed standby every commit is replayed 2 seconds after it was made, and the next
# transaction's record right after it: with the writer pausing 20 ms between its transactions,
# the reader is half of the time between a record of item 1 and its commit, when a fill would
# store the old row's value, which would stay for 20 ms after the commit. Then on the standby
# without delay, where the window is short.
sub race
{
	my ($node, $rounds, $pause, $label) = @_;
	my ($writer_out, $writer_err) = ('', '');
	my $writer = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $primary->connstr('postgres'), '-c', "CALL write_rounds($rounds, $pause)" ],
		'>', \$writer_out, '2>', \$writer_err);
	my @results;
	while ($writer->pumpable)
	{
		push @results, $node->safe_psql('postgres', 'SELECT read_race(100)');
		$writer->pump_nb;
	}
	$writer->finish;
	is($writer_err, '', "D: the writer ran without errors ($label)");
	my $lsn = on_primary('SELECT pg_current_wal_insert_lsn()');
	until ($node->safe_psql('postgres', "SELECT pg_last_wal_replay_lsn() >= '$lsn'") eq 't')
	{
		push @results, $node->safe_psql('postgres', 'SELECT read_race(100)');
	}
	push @results, $node->safe_psql('postgres', 'SELECT read_race(10)');
	my @older = grep { !/^0 older/ } @results;
	is(scalar(@older), 0,
		"D: no cached value was older than the row read before it ($label, " . scalar(@results) . ' runs)')
	  or diag(join("\n", @results));
	is($node->safe_psql('postgres', "SELECT simple_cache_fetch('item:1', 'SELECT v::text FROM items WHERE id = 1', NULL)"),
		$node->safe_psql('postgres', 'SELECT v FROM items WHERE id = 1'),
		"D: after the race the cached value is the row's ($label)");
}
race($delayed, 100, 0.02, 'delayed standby');
cmp_ok(replica_stat($delayed, 'puts_refused'), '>=', 10, 'D: the fences refused the reader\'s fills (the test hit the window)');
$delayed->stop;
race($standby, 200, 0, 'standby');

# ---------------------------------------------------------------------------------------------
# WAL bytes per invalidated key: the records of a transaction invalidating one key and of one
# invalidating 1000 keys of 11 bytes, as pg_walinspect shows them (which also runs the resource
# manager's describe and identify functions); from the WAL positions when it is not installed.
my $walinspect = on_primary("SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_walinspect'") eq '1';
on_primary('CREATE EXTENSION pg_walinspect') if $walinspect;
sub wal_bytes_of
{
	my ($sql) = @_;
	my $start = on_primary('SELECT pg_current_wal_insert_lsn()');
	on_primary($sql);
	my $end = on_primary('SELECT pg_current_wal_insert_lsn()');
	return on_primary("SELECT '$end'::pg_lsn - '$start'::pg_lsn") unless $walinspect;
	return on_primary(
		"SELECT sum(record_length) || ' ' || string_agg(record_type || ': ' || description, '; ')
		 FROM pg_get_wal_records_info('$start', '$end') WHERE resource_manager = 'simple_cache'");
}
my ($one, $one_desc) = split / /, wal_bytes_of("BEGIN; SELECT simple_cache_invalidate('wal:0000001'); COMMIT;"), 2;
my ($thousand, $thousand_desc) = split / /, wal_bytes_of(
	"BEGIN; SELECT count(simple_cache_invalidate('wal:' || lpad(i::text, 7, '0'))) FROM generate_series(1, 1000) i; COMMIT;"), 2;
my $per_key = ($thousand - $one) / 999;
diag("WAL bytes of the simple_cache record: invalidating one key $one, 1000 keys $thousand; per further "
	  . "11-byte key " . sprintf('%.1f', $per_key));
SKIP:
{
	skip 'pg_walinspect is not installed', 2 unless $walinspect;
	like($thousand_desc, qr/^INVALIDATE: xid \d+ database \d+: 1000 keys, 0 prefixes$/,
		'one record per transaction, described by the resource manager');
	is(sprintf('%.0f', $per_key), 16, 'each further key costs its bytes and 5 more');
}

# ---------------------------------------------------------------------------------------------
# E: a restarted standby catches up from WAL and does not load its saved cache.
on_standby("SELECT simple_cache_put('e:saved', 'in the saved file')");
$standby->stop;
on_primary("BEGIN; SELECT simple_cache_invalidate('e:saved'); COMMIT;");
on_primary('UPDATE items SET v = v + 1 WHERE id = 3');
my $log_offset = -s $standby->logfile;
$standby->start;
caught_up($standby);
ok($standby->wait_for_log(qr/simple_cache: the saved cache "[^"]*" is not loaded/, $log_offset),
	'E: the standby does not load its saved cache');
is(on_standby("SELECT simple_cache_get('e:saved') IS NULL"), 't', 'E: the key is not back');
cmp_ok(replica_stat($standby, 'records_replayed'), '>=', 1, 'E: the standby replayed the records it missed');
on_standby("SELECT simple_cache_put('e:after', 'x')");
on_primary("BEGIN; SELECT simple_cache_invalidate('e:after'); COMMIT;");
caught_up($standby);
is(on_standby("SELECT simple_cache_get('e:after') IS NULL"), 't', 'E: invalidations go on reaching it');

# ---------------------------------------------------------------------------------------------
# F: an immediate stop of the primary while invalidations are being committed.
my $v_before_flight = on_primary('SELECT v FROM items WHERE id = 1');
my $flight = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $primary->connstr('postgres'), '-c', 'CALL write_rounds(100000)' ],
	'>', \my $flight_out, '2>', \my $flight_err);
$primary->poll_query_until('postgres', "SELECT v > $v_before_flight + 50 FROM items WHERE id = 1")
  or die 'the writer did not start';
$primary->stop('immediate');
$flight->finish;
my $primary_offset = -s $primary->logfile;
$primary->start;
cmp_ok(replica_stat($primary, 'records_replayed'), '>=', 1, 'F: crash recovery replayed invalidation records');
is(replica_stat($primary, 'replayed_since_start'), 't', 'F: and says so');
is(replica_stat($primary, 'fences_active'), '0', 'F: crash recovery puts up no fences (no session can read meanwhile)');
ok(!$primary->log_contains(qr/simple_cache: replaying the invalidations/, $primary_offset),
	'F: and falls back to nothing');
ok($primary->wait_for_log(qr/simple_cache: the saved cache "[^"]*" is not loaded/, $primary_offset),
	'F: the saved cache is not loaded after a recovery that replayed invalidations');
on_primary("SELECT simple_cache_put('f:key', 'v')");
is(on_primary("SELECT simple_cache_get('f:key')"), 'v', 'F: the primary takes puts after the crash');
on_primary("BEGIN; SELECT simple_cache_invalidate('f:key'); COMMIT;");
is(on_primary("SELECT simple_cache_get('f:key') IS NULL"), 't', 'F: and writes at commit');
on_standby("SELECT simple_cache_put('f:standby', 'v')");
on_primary("BEGIN; SELECT simple_cache_invalidate('f:standby'); COMMIT;");
caught_up($standby);
is(on_standby("SELECT simple_cache_get('f:standby') IS NULL"), 't', 'F: the standby follows the restarted primary');

# ---------------------------------------------------------------------------------------------
# J: a database dropped right after a transaction of it invalidated keys: the standby replays
# the record, then the drop, and goes on; every fence it put up comes down (the table is
# bounded, and a fence whose transaction has ended is removed by the next put, record or
# wake-up of the worker).
$standby->safe_psql('otherdb', "SELECT simple_cache_put('j:gone', 'v')");
on_standby("SELECT simple_cache_put('j:after', 'v')");
my $fallbacks_j = replica_stat($standby, 'database_fallbacks');
$primary->safe_psql('otherdb', "BEGIN; SELECT simple_cache_invalidate('j:gone'); COMMIT;");
on_primary('DROP DATABASE otherdb');
on_primary("BEGIN; SELECT simple_cache_invalidate('j:after'); COMMIT;");
caught_up($standby);
is(on_standby("SELECT simple_cache_get('j:after') IS NULL"), 't', 'J: the standby goes on replaying after the drop');
is(replica_stat($standby, 'database_fallbacks'), $fallbacks_j, 'J: without falling back');
ok($standby->poll_query_until('postgres', 'SELECT fences_active = 0 FROM simple_cache_replica_stats()'),
	'J: no fence stays up');

# ---------------------------------------------------------------------------------------------
# H: a standby without the library preloaded stops at the first record.
$primary->backup('base_h');
my $bare = PostgreSQL::Test::Cluster->new('standby_without_library');
$bare->init_from_backup($primary, 'base_h', has_streaming => 1);
$bare->append_conf('postgresql.conf', "shared_preload_libraries = ''");
$bare->start;
caught_up($bare);
my $bare_offset = -s $bare->logfile;
on_primary("BEGIN; SELECT simple_cache_invalidate('h:key'); COMMIT;");
ok($bare->wait_for_log(qr/resource manager with ID 128 not registered/, $bare_offset),
	'H: a standby without simple_cache stops with the "resource manager not registered" error');
$bare->stop('immediate', fail_ok => 1);

# ---------------------------------------------------------------------------------------------
# G: promotion; the promoted standby logs its own writes at commit.
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()') or die 'promotion did not finish';
on_standby("SELECT simple_cache_put('g:key', 'promoted')");
is(on_standby("SELECT simple_cache_get('g:key')"), 'promoted', 'G: the promoted standby takes puts');
my $logged_before = replica_stat($standby, 'records_logged');
on_standby("BEGIN; SELECT simple_cache_put_at_commit('g:at_commit', 'v'); SELECT simple_cache_invalidate('g:key'); COMMIT;");
is(on_standby("SELECT simple_cache_get('g:key') IS NULL"), 't', 'G: its invalidations at commit apply');
is(on_standby("SELECT simple_cache_get('g:at_commit')"), 'v', 'G: its puts at commit apply');
cmp_ok(replica_stat($standby, 'records_logged'), '>', $logged_before, 'G: and it logs them for its own standbys');
on_standby('UPDATE items SET v = v + 1 WHERE id = 4');

$standby->stop;
$primary->stop;
done_testing();
