# Persistence of the free-space map across restarts, with the library preloaded: the save at a
# clean shutdown and the load at start-up (a heap-style relation's pages with their free bytes,
# an index-style free-page list, in two databases), reports and forgets made right after the
# start that the load must not undo, and a damaged map file (logged and ignored, the server
# starts with an empty map).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('fsm_persistence');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'simple_cache'\nsimple_cache.save_interval = 0\n");
$node->start;
my $mapfile = $node->data_dir . '/simple_cache_fsm.dat';

# Runs a query in a database (postgres by default) and returns its output.
sub query
{
	my ($sql, $db) = @_;
	return $node->safe_psql($db // 'postgres', $sql);
}

# Restarts the server and waits until the log shows the worker's map load (or its failure).
sub restart_and_wait_for_log
{
	my ($regexp) = @_;
	$node->stop;
	my $offset = -s $node->logfile;
	$node->start;
	$node->wait_for_log($regexp, $offset);
}

# Both relations' pages, as simple_cache_fsm_pages shows them.
sub pages
{
	my ($db) = @_;
	return query(q{SELECT 'heap', * FROM simple_cache_fsm_pages('t15_heap')
	               UNION ALL SELECT 'index', * FROM simple_cache_fsm_pages('t15_index')
	               ORDER BY 1, 2}, $db);
}

for my $db ('postgres', 'other')
{
	query('CREATE DATABASE other') if $db eq 'other';
	query('CREATE EXTENSION simple_cache', $db);
	query('CREATE TABLE t15_heap (i integer); CREATE INDEX t15_index ON t15_heap (i)', $db);
}
query(q{SELECT simple_cache_fsm_record_many('t15_heap', ARRAY[2, 4, 8, 16]::bigint[], ARRAY[64, 512, 4096, 8000])});
query(q{SELECT simple_cache_fsm_add_free_page('t15_index', b) FROM unnest(ARRAY[11, 3, 7]) b});
query(q{SELECT simple_cache_fsm_record_many('t15_heap', ARRAY[1]::bigint[], ARRAY[1000])}, 'other');
query(q{SELECT simple_cache_fsm_add_free_page('t15_index', 5)}, 'other');

my $before = pages();
my $before_other = pages('other');
like($before, qr/heap\|16\|8000/, 'heap pages recorded');
like($before, qr/index\|11\|/, 'free-page list recorded');

# --- A clean restart gives the same pages back ------------------------------------------------

restart_and_wait_for_log(qr/simple_cache: loaded \d+ relations from "simple_cache_fsm.dat"/);
ok(-e $mapfile, 'the map was saved at shutdown');
is(pages(), $before, 'same pages after a clean restart');
is(pages('other'), $before_other, 'same pages in the other database');
is(query(q{SELECT is_index FROM simple_cache_fsm_relations WHERE relid = 't15_index'::regclass}),
	't', 'the free-page list is still index-style');
is(query('SELECT consistent FROM simple_cache_fsm_check()'), 't', 'the map is consistent after the load');

# --- The start-up load does not undo what clients do before it gets there -----------------
# A saved cache of 300000 entries makes the worker load the map a moment after the start;
# right after the start a client reports new pages for the heap relation and forgets the
# free-page list, and the other database's table (with its index) is dropped. The load must
# keep the client's report and bring back neither the list nor the dropped relations.
query(q{SELECT count(simple_cache_put('delay:' || g, repeat('x', 100))) FROM generate_series(1, 300000) g});
$node->stop;
my $load_offset = -s $node->logfile;
$node->start;
query(q{SELECT simple_cache_fsm_record_many('t15_heap', ARRAY[3]::bigint[], ARRAY[333]);
        SELECT simple_cache_fsm_forget('t15_index')});
query(q{DROP TABLE t15_heap}, 'other');
$node->wait_for_log(qr/simple_cache: loaded \d+ relations from "simple_cache_fsm.dat"/, $load_offset);
is(query(q{SELECT string_agg(block || ':' || avail, ',') FROM simple_cache_fsm_pages('t15_heap')}), '3:333',
	'a report made right after the start is not replaced by the saved pages');
is(query(q{SELECT count(*) FROM simple_cache_fsm_relations WHERE relid = 't15_index'::regclass}), '0',
	'a relation forgotten right after the start does not come back');
is(query(q{SELECT count(*) FROM simple_cache_fsm_relations}, 'other'), '0',
	'a table dropped right after the start does not come back, nor does its index');
is(query(q{SELECT relations FROM simple_cache_fsm_summary()}), '1', 'only the reported relation is tracked');
query('SELECT simple_cache_flush()');

# --- A damaged file is logged and ignored ----------------------------------------------------

$node->stop;
open(my $fh, '+<:raw', $mapfile) or die "cannot open $mapfile: $!";
seek($fh, 60, 0);
print $fh "\xff\xff\xff\xff";
close($fh);
my $offset = -s $node->logfile;
$node->start;
$node->wait_for_log(qr/saved free-space map file "simple_cache_fsm.dat" is not valid/, $offset);
pass('a damaged map file is logged');
is(query('SELECT count(*) FROM simple_cache_fsm_pages(\'t15_heap\')'), '0', 'the map is empty');
is(query('SELECT relations FROM simple_cache_fsm_summary()'), '0', 'no relation is tracked');
is(query(q{SELECT simple_cache_put('t15', 'alive'); SELECT simple_cache_get('t15')}), "f\nalive",
	'the server works');

$node->stop;
done_testing();
