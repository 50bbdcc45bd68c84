# simple_cache_fsm_vacuum's memory is bounded whatever the size of the relation it scans: it
# keeps at most as many pages as the map could keep for one relation and as
# maintenance_work_mem holds (the pages with the most room), while every page it finds still
# counts in the relation's request.
#
# The relation: a table whose data file is extended, while the server is down, by sparse
# segments of zeros to 2 million pages (16 GB that take no disk), each an all-zero page that
# the scan counts as an empty page. Keeping every one of them would take 6 bytes a page, about
# 12 MB; with maintenance_work_mem = 1MB the scan may keep at most 174,762.
# Memory is measured as in 050_bounded_results.pl: the backend's peak resident set (VmHWM) less
# the shared memory pages it touched (RssShmem), before and after the call.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $segments = 16;              # of 131,072 pages each (1 GB, the default segment size)
my $pages = $segments * 131072;
my $bound_mb = 4;               # the old code took about 12 MB here

my $node = PostgreSQL::Test::Cluster->new('vacuum_memory');
$node->init;
$node->append_conf('postgresql.conf', "simple_cache.fsm_max_pages = 10000000\n");
$node->start;

sub query { return $node->safe_psql('postgres', $_[0]); }

query(q{
CREATE EXTENSION simple_cache;
CREATE TABLE wide (id int, filler text);
INSERT INTO wide SELECT g, repeat('x', 100) FROM generate_series(1, 60) g;  -- block 0, part full
-- This backend's peak resident set so far less the shared pages it touched, in kB.
CREATE FUNCTION peak_kb() RETURNS bigint LANGUAGE sql AS $$
    SELECT substring(s FROM 'VmHWM:\s*(\d+) kB')::bigint - substring(s FROM 'RssShmem:\s*(\d+) kB')::bigint
    FROM pg_read_file('/proc/self/status') s
$$;
});
my $file = $node->data_dir . '/' . query(q{SELECT pg_relation_filepath('wide')});
$node->stop;

# The first segment and the others, each a full 1 GB of zeros beyond what is written.
truncate($file, 1024 * 1024 * 1024) or die "truncate $file: $!";
for my $n (1 .. $segments - 1)
{
	my $segment = "$file.$n";
	open(my $fh, '>', $segment) or die "create $segment: $!";
	close($fh);
	truncate($segment, 1024 * 1024 * 1024) or die "truncate $segment: $!";
}
$node->start;

is(query(q{SELECT pg_relation_size('wide') / 8192}), $pages, "the table has $pages pages");

my $out = query(q{
	SET maintenance_work_mem = '1MB';
	SELECT simple_cache_get('nothing') \g /dev/null
	SELECT peak_kb() AS before \gset
	SELECT simple_cache_fsm_vacuum('wide') AS kept \gset
	SELECT :kept || ' ' || (peak_kb() - :before) / 1024;
});
my ($kept, $growth) = $out =~ /^(\d+) (-?\d+)$/m or die "unexpected output: $out";
cmp_ok($growth, '<', $bound_mb, "the scan of $pages pages raised the peak by $growth MB");
cmp_ok($kept, '<=', 174762, "it kept $kept pages, no more than maintenance_work_mem holds");
cmp_ok($kept, '>', 100000, 'and as many as that bound and the map allow');

is( query(q{SELECT requested_pages FROM simple_cache_fsm_relations WHERE relid = 'wide'::regclass}),
	$pages, 'every page found counts in the request');
is( query(q{SELECT count(*) FILTER (WHERE block = 0) || ' ' || min(avail) || ' ' || max(avail)
	FROM simple_cache_fsm_pages('wide')}),
	'0 8164 8164', 'the pages kept are those with the most room: empty ones, not the part-full first page');
is(query(q{SELECT (simple_cache_fsm_check()).consistent}), 't', 'the map is consistent');

$node->stop;
done_testing();
