# Active expiry: with the library preloaded, the background worker reclaims expired entries
# that nobody reads or writes, in bounded steps, and counts them as expirations; entries
# without expiry, and those not yet expired, stay. Only the statistics are read meanwhile
# (reading them reclaims nothing).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('active_expiry');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'simple_cache'\nsimple_cache.save = off\n");
$node->start;

sub query { return $node->safe_psql('postgres', $_[0]); }

query('CREATE EXTENSION simple_cache');
# The entries that stay first, then 20000 that expire 2 seconds after they were put (the
# writers' own light sweeps may take a few of them once they have expired).
query(q{SELECT count(simple_cache_put('long:' || i, 'v', '1 hour')) FROM generate_series(1, 500) i});
query(q{SELECT count(simple_cache_put('forever:' || i, 'v', NULL)) FROM generate_series(1, 500) i});
query(q{SELECT count(simple_cache_put('short:' || i, 'v', '2 seconds')) FROM generate_series(1, 20000) i});
my $activity = query('SELECT hits + misses + puts + drops FROM simple_cache_stats');

ok($node->poll_query_until('postgres', 'SELECT entries = 1000 FROM simple_cache_stats'),
	'the worker reclaims the expired entries without any read or write');
is(query('SELECT expirations FROM simple_cache_stats'), '20000', 'each reclaimed entry counts as an expiration');
is(query('SELECT count(*) FROM simple_cache_list() WHERE starts_with(key, \'short:\')'), '0', 'no short-lived entry is left');
is(query('SELECT hits + misses + puts + drops FROM simple_cache_stats'), $activity, 'no session read or wrote meanwhile');
is(query(q{SELECT count(*) FILTER (WHERE starts_with(key, 'long:')) || ' ' || count(*) FILTER (WHERE starts_with(key, 'forever:'))
           FROM simple_cache_list()}), '500 500', 'entries without expiry and not yet expired stay');

$node->stop;
done_testing();
