# The free-space map's room stays the map's, on a server whose limit was never lowered. The
# map allocates in an area of its own whose size limit is that room, so the cache can neither
# take it nor split it: the cache fills its share, the map reports 120 relations, the cache
# fills again, the map forgets them, the cache fills once more, and the map's next report of
# 120 relations still fits. Before, the map grew segments of the one shared area into its
# room; the cache's entries then took the free pages of those segments (dsa.c's limit binds
# only new segments), and the map's next report failed with 53200 at its 116th relation
# though the cache's bytes stayed below the limit less the room.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('map_room');
$node->init;
$node->append_conf('postgresql.conf', "simple_cache.max_memory = '16MB'");
$node->start;

sub query { return $node->safe_psql('postgres', $_[0]); }

# A figure of simple_cache_dump_area(): the number after the given label.
sub area_figure
{
	my ($label) = @_;
	my $dump = query('SELECT simple_cache_dump_area()');
	$dump =~ /\n\s*\Q$label\E:? (\d+)/ or die "no '$label' in the area report";
	return $1;
}

# Puts small entries in batches until a batch evicts; returns the number put.
sub fill_cache
{
	my ($prefix) = @_;
	return query(qq{
DO \$\$
DECLARE
    start bigint := (SELECT evictions FROM simple_cache_stats);
BEGIN
    FOR batch IN 0 .. 999 LOOP
        PERFORM simple_cache_put('$prefix' || g, repeat('v', 100)) FROM generate_series(batch * 1000, batch * 1000 + 999) g;
        EXIT WHEN (SELECT evictions FROM simple_cache_stats) > start;
    END LOOP;
END
\$\$;
SELECT count(*) FROM simple_cache_list() WHERE starts_with(key, '$prefix');
});
}

# Reports 1000 pages of each of the relations 950001 .. 950000 + n; returns how many
# relations kept all of them.
sub report_relations
{
	my ($n) = @_;
	return query(qq{
SELECT count(*) FILTER (WHERE kept = 1000)
FROM (SELECT simple_cache_fsm_record_many(950000 + g, array_agg(b::bigint), array_agg(4000)) AS kept
      FROM generate_series(1, $n) g, generate_series(0, 999) b GROUP BY g) r;
});
}

# The cache's bytes in use less its bucket arrays: a write checks its bytes against the share
# before its item is made, and the table may then grow its bucket array past it.
sub cache_bytes_but_buckets
{
	my $table = query('SELECT simple_cache_dump_hash_table()');
	my $buckets = $table =~ /buckets: (\d+)/ ? $1 : 0;
	my $old = $table =~ /resize: in progress from (\d+) buckets/ ? $1 : 0;
	return area_figure('in use') - 8 * ($buckets + $old);
}

# The map's area as the area report gives it: (bytes in use, bytes of segments).
sub map_area
{
	my $dump = query('SELECT simple_cache_dump_area()');
	$dump =~ /map's area: (\d+) bytes in use in \d+ blocks, (\d+) bytes in/ or die "no map's area in the area report";
	return ($1, $2);
}

query('CREATE EXTENSION simple_cache');
query("SELECT simple_cache_put('start', 'x')");    # takes up simple_cache.max_memory
my $limit = area_figure('size limit');
my $room = area_figure('reserved room');
is($limit, 16 * 1024 * 1024, 'the limit is simple_cache.max_memory');
cmp_ok($room, '>', 0, "some of it is kept for the map ($room bytes)");
like(query('SELECT simple_cache_dump_area()'), qr/map's area: not made/, 'the map has no area before its first use');

# The cache fills what the allocator leaves it.
cmp_ok(fill_cache('a:'), '>', 10000, 'the cache filled its share with small entries');
cmp_ok(area_figure('total_segment_size'), '<=', $limit - $room, 'its segments stay out of the room');

# The map's first report makes its area, with the whole room in segments at once.
is(report_relations(1), 1, "the map's first report fits");
$room = area_figure('reserved room');
is((map_area())[1], $room, 'the whole room was made into segments on first use');

# The map reports 120 relations of 1000 pages, in its own area.
is(report_relations(120), 120, 'the map kept every page of 120 relations');
$room = area_figure('reserved room');
my ($map_bytes, $map_segments) = map_area();
cmp_ok($map_bytes, '>', 120 * 1000 * 8, "the map's pages are in its area ($map_bytes bytes)");
cmp_ok($map_segments, '<=', $room, "its area's segments ($map_segments bytes) stay within the room ($room)");

# The cache is filled again, then the map forgets the relations and the cache fills once more.
cmp_ok(fill_cache('b:'), '>', 500, 'the cache filled again (it was full: the first batch evicts)');
is(query('SELECT count(*) FILTER (WHERE simple_cache_fsm_forget((950000 + g)::oid)) FROM generate_series(1, 120) g'),
	120, 'the map forgot the 120 relations');
cmp_ok(fill_cache('c:'), '>', 500, 'the cache filled once more');
cmp_ok(area_figure('total_segment_size'), '<=', $limit - $room, "the cache's segments still stay out of the room");

# The map's next reports find their room.
is(report_relations(120), 120, 'the map keeps every page of 120 relations again');
is(query('SELECT count(*) FROM simple_cache_fsm_relations WHERE relid > 950000'), 120, 'all 120 are tracked');
($map_bytes, $map_segments) = map_area();
cmp_ok(area_figure('total_segment_size') + $map_segments, '<=', $limit,
	'both areas together stay within the limit');

$node->stop;

# A second server, whose map settings ask for less than an eighth of its limit, so that the
# room follows them. Raised, they grow the room, and the cache's share shrinks by as much: the
# cache's segments are there already, so its writes keep its bytes in use within the new share.
$node = PostgreSQL::Test::Cluster->new('map_room_growth');
$node->init;
$node->append_conf('postgresql.conf', "simple_cache.max_memory = '32MB'\nsimple_cache.fsm_max_pages = 20000");
$node->start;
query('CREATE EXTENSION simple_cache');
is(report_relations(10), 10, 'the map kept every page of 10 relations');
$limit = area_figure('size limit');
$room = area_figure('reserved room');
cmp_ok(fill_cache('a:'), '>', 10000, 'the cache filled its share');
$node->append_conf('postgresql.conf', 'simple_cache.fsm_max_pages = 200000');
$node->reload;
query("SELECT simple_cache_put('after reload', 'x')");    # takes up the reload
my $grown = area_figure('reserved room');
cmp_ok($grown, '>', $room, "the room grew with the map's settings ($room -> $grown bytes)");
cmp_ok(fill_cache('b:'), '>', 0, 'the cache filled again');
cmp_ok(cache_bytes_but_buckets(), '<=', $limit - $grown, "the cache's bytes in use stay within its new share");
is(report_relations(120), 120, 'the map kept every page of 120 relations in the grown room');

# Lowered again, the settings shrink the room again; the map's area keeps the segments it has
# (dsa.c gives none back) and makes no new one.
$node->append_conf('postgresql.conf', 'simple_cache.fsm_max_pages = 20000');
$node->reload;
query("SELECT simple_cache_put('after second reload', 'x')");
is(area_figure('reserved room'), $room, 'the room is back to what the settings ask for');
($map_bytes, $map_segments) = map_area();
cmp_ok($map_segments, '<=', $grown, "the map's area keeps its segments, within the room it had");

# A limit set at run time evicts the cache down to its share of it, not to the whole limit.
query('SELECT simple_cache_set_size_limit(24 * 1024 * 1024)');
my $share = 24 * 1024 * 1024 - area_figure('reserved room');
cmp_ok(area_figure('in use'), '<=', $share, "simple_cache_set_size_limit evicts down to the cache's share ($share bytes)");

# With eviction off, a limit whose share is below the bytes in use is refused, though the bytes
# are within the limit itself; nothing changes.
my $in_use = area_figure('in use');
my $asked = $in_use + int(area_figure('reserved room') / 2);
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET simple_cache.eviction = none; SELECT simple_cache_set_size_limit($asked)");
like($stderr, qr/size limit is below the memory in use/, "eviction none: a limit whose share is below the bytes in use is refused");
is(area_figure('size limit'), 24 * 1024 * 1024, 'the limit in force is unchanged');
query('SELECT simple_cache_fsm_forget((950000 + g)::oid) FROM generate_series(1, 120) g');
is(report_relations(10), 10, 'the map, its relations forgotten, again keeps every page of 10 relations');

$node->stop;
done_testing();
