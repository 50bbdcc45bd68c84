# Leases and writes at commit: a lease taken after COMMIT started (after the writes were made
# ready, before they are applied) must not store a value over a put at commit, nor under a
# prefix invalidated at commit. The commit applies the writes after its commit record; the
# window is held open deterministically with synchronous replication to a standby that does
# not exist: the committing session waits (after writing the commit record, before applying
# the writes) until it is cancelled, which lets the commit finish locally.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use BackgroundValue;

my $node = PostgreSQL::Test::Cluster->new('at_commit_leases');
$node->init(allows_streaming => 1);  # max_wal_senders > 0: synchronous replication is asked for
$node->append_conf('postgresql.conf', "synchronous_commit = local\n");
$node->start;
$node->append_conf('postgresql.conf', "synchronous_standby_names = 'nobody'\n");
$node->reload;

sub query { return $node->safe_psql('postgres', $_[0]); }

query(q{
CREATE EXTENSION simple_cache;
CREATE TABLE rows (v text);
INSERT INTO rows VALUES ('old');
-- A lease holder's query: reads the row, then waits for advisory lock 6065 (held by the test).
CREATE FUNCTION gated_row() RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
    SELECT v INTO r FROM rows;
    PERFORM pg_advisory_xact_lock(6065);
    RETURN r;
END $$;
});

# Runs one round: the writer's transaction (ending in COMMIT) is held after its commit record;
# a fetch of $key takes its lease and reads the old row; the commit is let finish; then the
# fetch stores what it read. Returns the fetcher's session.
sub round
{
	my ($name, $key, $writes) = @_;
	query("UPDATE rows SET v = 'old'");
	my $gate = $node->background_psql('postgres');
	value_of($gate, 'SELECT pg_advisory_lock(6065)');
	my $writer = $node->background_psql('postgres', on_error_stop => 0);
	my $writer_pid = value_of($writer, 'SELECT pg_backend_pid()');
	$writer->query_until(qr/started/,
		"\\echo started\nSET synchronous_commit = on;\nBEGIN;\nUPDATE rows SET v = 'new';\n$writes\nCOMMIT;\n\\echo committed\n");
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = $writer_pid AND wait_event = 'SyncRep'")
	  or die "$name: the writer did not wait after its commit record";
	my $fetcher = $node->background_psql('postgres');
	my $fetcher_pid = value_of($fetcher, 'SELECT pg_backend_pid()');
	$fetcher->query_until(qr/started/,
		"\\echo started\nSELECT simple_cache_fetch('$key', 'SELECT gated_row()', NULL);\n\\echo fetched\n");
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = $fetcher_pid AND wait_event_type = 'Lock'")
	  or die "$name: the fetch did not take its lease";
	query("SELECT pg_cancel_backend($writer_pid)");  # the commit finishes locally and applies
	$writer->query_until(qr/committed/, '');
	value_of($gate, 'SELECT pg_advisory_unlock(6065)');
	$fetcher->query_until(qr/fetched/, '');
	$writer->quit;
	$gate->quit;
	$fetcher->quit;
}

round('put', 'row', "SELECT simple_cache_put_at_commit('row', 'new');");
is(query("SELECT simple_cache_get('row')"), 'new',
	'a lease taken while COMMIT runs, before the writes are applied, stores nothing over the put at commit');

round('prefix', 'p:row', "SELECT simple_cache_invalidate_prefix('p:');");
is(query("SELECT coalesce(simple_cache_get('p:row'), '<absent>')"), '<absent>',
	'a lease taken while COMMIT runs, before the writes are applied, stores nothing under the prefix invalidated at commit');

is(query('SELECT count(*) FROM simple_cache_leases()'), '0', 'no lease is left');

done_testing();
