# With the library preloaded, the persistence worker's saves (periodic and at shutdown) leave
# out the entries and map relations of a database dropped since they were put, even when no
# session used the extension after the DROP; and a database created later with the dropped
# one's oid finds nothing of it after a restart.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dropped_saves');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'simple_cache'\nsimple_cache.save_interval = 0\n");
$node->start;
my $datadir = $node->data_dir;

# The bytes of a file in the data directory ('' when there is none).
sub file_bytes
{
	my ($name) = @_;
	open(my $fh, '<:raw', "$datadir/$name") or return '';
	local $/;
	my $bytes = <$fh>;
	close($fh);
	return $bytes;
}

$node->safe_psql('postgres', 'CREATE EXTENSION simple_cache');
$node->safe_psql('postgres', q{SELECT simple_cache_put('kept-key', 'kept-value')});
$node->safe_psql('postgres', 'CREATE DATABASE victim');
$node->safe_psql('victim', 'CREATE EXTENSION simple_cache');
$node->safe_psql('victim', q{SELECT simple_cache_put('victim-key', 'victim-secret')});
$node->safe_psql('victim',
	q{SELECT simple_cache_fsm_record_many(987654, ARRAY[1, 2, 3]::bigint[], ARRAY[100, 200, 300])});
my $victim_oid = $node->safe_psql('postgres', q{SELECT oid FROM pg_database WHERE datname = 'victim'});

# A save while the database exists writes its entries and relations.
$node->restart;
like(file_bytes('simple_cache.dat'), qr/victim-secret/, 'a save writes the entries of a live database');
ok(index(file_bytes('simple_cache_fsm.dat'), pack('V', 987654)) >= 0, 'and its relations');
is($node->safe_psql('victim', q{SELECT simple_cache_get('victim-key')}), 'victim-secret', 'and they come back');

# Dropped by a session that never calls the extension; then a clean shutdown saves.
$node->safe_psql('postgres', 'DROP DATABASE victim');
$node->stop;
my $cache_file = file_bytes('simple_cache.dat');
unlike($cache_file, qr/victim-secret/, "the shutdown save leaves out a dropped database's entries");
like($cache_file, qr/kept-value/, "and keeps the other databases' entries");
my $map_file = file_bytes('simple_cache_fsm.dat');
my $relid_bytes = pack('V', 987654);    # as the file stores it: little-endian
ok(index($map_file, $relid_bytes) < 0, "the map's save leaves out its relations");

# A database created with the dropped one's oid finds nothing after the restart.
$node->start;
$node->safe_psql('postgres', "CREATE DATABASE attacker OID = $victim_oid");
$node->safe_psql('attacker', 'CREATE EXTENSION simple_cache');
is($node->safe_psql('attacker', q{SELECT count(*) FROM simple_cache_list()}), '0', 'the new database lists nothing');
is($node->safe_psql('attacker', q{SELECT count(*) FROM simple_cache_fsm_pages(987654)}), '0',
	'and has no pages in the map');
is($node->safe_psql('postgres', q{SELECT simple_cache_get('kept-key')}), 'kept-value', 'the other entries came back');

$node->stop;
done_testing();
