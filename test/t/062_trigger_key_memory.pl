# The invalidation trigger measures a key while it builds it: a row with a 200 MB text value in
# a column its template names costs the writing backend no more memory than the same row
# without the trigger (the key would be over 1 MB, so it is given up before the value is read).
# Peak memory is the backend's VmHWM, read from /proc (Linux only).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use BackgroundValue;

plan skip_all => 'needs /proc/<pid>/status' unless -r "/proc/$$/status";

my $node = PostgreSQL::Test::Cluster->new('trigger_key_memory');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION simple_cache;
CREATE TABLE plain_rows (id int, t text);
CREATE TABLE triggered_rows (id int, t text);
CREATE TRIGGER triggered_rows_cache AFTER INSERT OR UPDATE OR DELETE ON triggered_rows
    FOR EACH ROW EXECUTE FUNCTION simple_cache_invalidate_trigger('bv:{t}');
});

# The peak resident memory (kB) of a fresh backend that runs $sql.
sub peak_kb_of
{
	my ($sql) = @_;
	my $session = $node->background_psql('postgres');
	my $pid = value_of($session, 'SELECT pg_backend_pid()');
	value_of($session, $sql);
	open(my $status, '<', "/proc/$pid/status") or die "cannot read /proc/$pid/status: $!";
	my ($peak) = map { /^VmHWM:\s+(\d+)/ ? $1 : () } <$status>;
	close $status;
	$session->quit;
	return $peak;
}

my $without = peak_kb_of(q{INSERT INTO plain_rows VALUES (1, repeat('x', 200 * 1024 * 1024))});
my $with = peak_kb_of(q{INSERT INTO triggered_rows VALUES (1, repeat('x', 200 * 1024 * 1024))});
note "VmHWM without the trigger: $without kB, with it: $with kB";
ok($with < $without + 50 * 1024, 'the trigger adds less than 50 MB to the peak memory of a 200 MB insert');
my $update = peak_kb_of(q{UPDATE triggered_rows SET id = 2});
note "VmHWM of the UPDATE: $update kB";
ok($update < 100 * 1024, 'an UPDATE of that row (old and new keys) peaks under 100 MB: the stored value is not read');
is($node->safe_psql('postgres', 'SELECT count(*) FROM triggered_rows'), '1', 'the row was written');

$node->stop;
done_testing();
