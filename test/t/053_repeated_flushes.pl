# Rounds of large puts and flushes must reuse the area's memory, whatever the server's dsa.c.
# Six rounds, each: 40 values of 1 MB put (every put must succeed under a 400 MB limit), then a
# flush, whose give-back returns the wholly free segments. The area must stop growing: the last
# round needs no more segments than the fourth, and the area stays well below the limit.
#
# On a server whose dsa.c does not move a segment to a higher bin when frees enlarge its largest
# free run (15.0-15.3, 16beta1, 16beta2; see test/dsa-rebinning-probe.sh), filling the free runs
# during a give-back left every segment in the bin of a full one, so no allocation looked at it
# again: each round took new segments (65, 132, 199, 266, 400 MB) and the sixth round's puts
# failed. There the give-back leaves out its fill phase. This test runs on every server.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('repeated_flushes');
$node->init;
$node->append_conf('postgresql.conf', "simple_cache.max_memory = '400MB'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION simple_cache');
# Puts n values of 1 MB under keys prefix:1 .. prefix:n; returns how many were stored (a put
# that finds no room fails with 53200 and is counted out).
$node->safe_psql('postgres', q{
CREATE FUNCTION put_megabytes(prefix text, n int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    stored int := 0;
BEGIN
    FOR i IN 1 .. n LOOP
        BEGIN
            PERFORM simple_cache_put(prefix || ':' || i, repeat(chr(64 + i), 1024 * 1024));
            stored := stored + 1;
        EXCEPTION WHEN program_limit_exceeded OR out_of_memory THEN
            NULL;
        END;
    END LOOP;
    RETURN stored;
END
$$});

# Bytes of all the area's segments, from the area report.
sub area_bytes
{
	return $node->safe_psql('postgres',
		q{SELECT substring(simple_cache_dump_area() from '\nsegments: (\d+) bytes')});
}

my @sizes;
for my $round (1 .. 6)
{
	my $stored = $node->safe_psql('postgres', "SELECT put_megabytes('r$round', 40)");
	is($stored, '40', "round $round: every 1 MB put is stored");
	push @sizes, area_bytes();
	$node->safe_psql('postgres', 'SELECT simple_cache_flush()');
}
note('area after each round\'s puts: ' . join(', ', map { int($_ / 1024 / 1024) . ' MB' } @sizes));
cmp_ok($sizes[5], '<=', $sizes[3],
	"the last round needs no more segments than the fourth ($sizes[5] vs $sizes[3] bytes)");
cmp_ok($sizes[5], '<', 300 * 1024 * 1024, 'the area stays well below the 400 MB limit');

unlike(slurp_file($node->logfile), qr/PANIC|TRAP:|terminated by signal|simple_cache bug/,
	'no server process crashed');
$node->stop;
done_testing();
