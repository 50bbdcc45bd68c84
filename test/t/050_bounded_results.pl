# The memory of the set-returning functions is bounded by work_mem plus the largest single
# value, not by how many rows a call returns, and what they return stays complete and right:
#   * simple_cache_mget of the same 1 MB value 600 times, with work_mem = 4MB;
#   * simple_cache_list of a database of 300 values of 1 MB and 20,000 small ones, with
#     work_mem = 4MB and 64kB;
#   * simple_cache_fsm_pages of a relation with 8 million pages, with work_mem = 4MB;
#   * simple_cache_list of a database that holds a 600 MB bytea value that is not valid text
#     (its hex form would not fit in a text value), then a text value of 1 GB less 10 bytes
#     (its row would not fit in one allocation): that row shows a NULL value and a WARNING
#     names its key, and every other row is listed as usual; mget of the 1 GB value fails
#     with 54000.
# Memory is measured, not assumed: each call runs in a session of its own, whose backend reads
# /proc/self/status before and after the call: its peak resident set (VmHWM) less the shared
# memory pages it has touched (RssShmem), which reading the cache's shared area adds whatever
# the code does. The peak comes before or at the end, so this never hides a peak of private
# memory that lasted while the shared pages were read.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $bound_mb = 100;    # generous: the old code took 300 to 600 MB here

my $node = PostgreSQL::Test::Cluster->new('bounded_results');
$node->init;
$node->append_conf('postgresql.conf',
	"simple_cache.max_memory = '3GB'\nsimple_cache.fsm_max_pages = 10000000\n");
$node->start;

sub query { return $node->safe_psql('postgres', $_[0]); }

query(q{
CREATE EXTENSION simple_cache;
-- This backend's peak resident set so far less the shared pages it touched, in kB.
CREATE FUNCTION peak_kb() RETURNS bigint LANGUAGE sql AS $$
    SELECT substring(s FROM 'VmHWM:\s*(\d+) kB')::bigint - substring(s FROM 'RssShmem:\s*(\d+) kB')::bigint
    FROM pg_read_file('/proc/self/status') s
$$;
-- Runs q (one text value) and reports its result and how many MB it raised the peak by.
CREATE FUNCTION measure(q text, OUT result text, OUT growth_mb bigint) LANGUAGE plpgsql AS $$
DECLARE
    before bigint := peak_kb();
BEGIN
    EXECUTE q INTO result;
    growth_mb := (peak_kb() - before) / 1024;
END
$$;
-- The SQLSTATE a command raises, or 'ok'.
CREATE FUNCTION sqlstate_of(command text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE command;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;
-- The value stored under a key of the listed database.
CREATE FUNCTION expected(k text) RETURNS text IMMUTABLE LANGUAGE sql AS $$
    SELECT CASE WHEN k LIKE 'L:%' THEN repeat(lpad(substr(k, 3), 8, '0'), 131072)
                ELSE repeat(md5(k), 3) END
$$;
});

# Runs the measured query q in a fresh session after warm_up (SQL run first in that session,
# also to load the library and plan the measuring function); returns (result, growth in MB).
sub measured
{
	my ($work_mem, $warm_up, $q) = @_;
	my $out = query(qq{
		SET work_mem = '$work_mem';
		SELECT * FROM measure('SELECT 1::text') \\g /dev/null
		SELECT simple_cache_get('nothing') \\g /dev/null
		$warm_up
		SELECT result || ' ' || growth_mb FROM measure(\$q\$$q\$q\$);
	});
	my @lines = split /\n/, $out;
	my ($result, $growth) = $lines[-1] =~ /^(.*) (-?\d+)$/ or die "unexpected output: $out";
	return ($result, $growth);
}

# 1. mget: 600 rows of the same 1 MB value.
query(q{SELECT simple_cache_put('big', repeat('x', 1024 * 1024))});
my ($result, $growth) = measured('4MB',
	q{SELECT count(*) FROM simple_cache_mget(ARRAY['big']) \g /dev/null},
	q{SELECT count(*) || ' ' || count(*) FILTER (WHERE value = repeat('x', 1024 * 1024))
	  FROM simple_cache_mget(array_fill('big'::text, ARRAY[600]))});
is($result, '600 600', 'mget of 600 x 1 MB returns every row, each value right');
cmp_ok($growth, '<', $bound_mb, "mget of 600 x 1 MB with work_mem = 4MB grows the backend by $growth MB");
query(q{SELECT simple_cache_drop('big')});

# 2. list: 300 values of 1 MB and 20,000 small ones (about 302 MB).
query(q{SELECT count(simple_cache_put('L:' || g, expected('L:' || g))) FROM generate_series(1, 300) g});
query(q{SELECT count(simple_cache_put('S:' || g, expected('S:' || g))) FROM generate_series(1, 20000) g});
my $check_list = q{SELECT count(*) || ' ' || count(DISTINCT key) || ' ' || count(*) FILTER (WHERE value = expected(key))
	FROM simple_cache_list()};
for my $work_mem ('4MB', '64kB')
{
	($result, $growth) = measured($work_mem, '', $check_list);
	is($result, '20300 20300 20300', "list with work_mem = $work_mem returns every entry once, each value right");
	cmp_ok($growth, '<', $bound_mb,
		"list of a 300 MB database with work_mem = $work_mem grows the backend by $growth MB");
}

# 3. fsm_pages: 8 million pages of one relation.
is(query(q{SELECT simple_cache_fsm_record_many(900001, array_agg(g), array_agg((g % 8000)::int))
	FROM generate_series(0::bigint, 7999999) g}), '8000000', 'a relation with 8 million pages is recorded');
($result, $growth) = measured('4MB', '',
	q{SELECT count(*) || ' ' || sum(avail) || ' ' || bool_and(avail = block % 8000)
	  FROM simple_cache_fsm_pages(900001)});
is($result, '8000000 31996000000 true', 'fsm_pages returns every page with its amount');
# The old code copied the pages (8 bytes each, 64 MB here) before returning any.
cmp_ok($growth, '<', 32, "fsm_pages of 8 million pages with work_mem = 4MB grows the backend by $growth MB");
query(q{SELECT simple_cache_fsm_forget(900001)});

# 4. A 600 MB bytea value that is not valid text: its hex form would take 1.2 GB, over the
# 1 GB limit of a text value.
my $huge = 600 * 1024 * 1024;
query(qq{SELECT simple_cache_put('huge:bin', set_byte(convert_to(repeat('a', $huge), 'UTF8'), 0, 255))});
my ($rc, $out, $err) = $node->psql('postgres', q{
	SET work_mem = '4MB';
	SELECT count(*) || ' ' || count(*) FILTER (WHERE value = expected(key)) || ' ' ||
	       count(*) FILTER (WHERE key = 'huge:bin' AND value IS NULL)
	FROM simple_cache_list();
});
is($rc, 0, 'list of a database holding a 600 MB binary value succeeds');
is($out, '20301 20300 1', 'the huge value is listed as NULL, every other entry as usual');
like($err, qr/WARNING:  simple_cache_list: the value of key "huge:bin" is not shown/,
	'a WARNING names the key whose value is not shown');
like($err, qr/HINT:  Read it with simple_cache_get_bytea\(\)/, 'the WARNING points to simple_cache_get_bytea');
($result, $growth) = measured('4MB', '',
	q{SELECT count(*) FROM simple_cache_list() WHERE key LIKE 'huge%' AND value IS NULL});
is($result, '1', 'the huge value is listed as NULL again');
cmp_ok($growth, '<', $bound_mb, "listing the 600 MB value's row grows the backend by $growth MB");
is(query(qq{SELECT octet_length(v) = $huge AND get_byte(v, 0) = 255 AND get_byte(v, $huge - 1) = 97
	FROM (SELECT simple_cache_get_bytea('huge:bin') AS v) s}), 't',
	'simple_cache_get_bytea still reads the huge value');

# 5. A text value of 1 GB less 10 bytes: valid text, but its row would pass the 1 GB limit of
# one allocation. The big values above go first, to keep the cluster's memory down.
query(q{SELECT simple_cache_drop('huge:bin'), count(simple_cache_drop('L:' || g)) FROM generate_series(1, 300) g});
my $giant = 1024 * 1024 * 1024 - 1 - 4 - 10;    # MaxAllocSize less a varlena header, less 10
query(qq{SELECT simple_cache_put('giant', repeat('x', $giant))});
($rc, $out, $err) = $node->psql('postgres', q{
	SELECT count(*) || ' ' || count(*) FILTER (WHERE key = 'giant' AND value IS NULL)
	FROM simple_cache_list();
});
is($rc, 0, 'list of a database holding a 1 GB text value succeeds');
is($out, '20001 1', 'the 1 GB value is listed as NULL, every other entry as usual');
like($err, qr/WARNING:  simple_cache_list: the value of key "giant" is not shown\n.*1 GB limit of a row.*\n.*HINT:  Read it with simple_cache_get\(\)/,
	'a WARNING names the key whose row would be too large');
($rc, $out, $err) = $node->psql('postgres', q{SELECT count(*) FROM simple_cache_mget(ARRAY['S:1', 'giant'])});
like($err, qr/ERROR:  simple_cache_mget: the value of key "giant" is too large for a row/,
	'mget of the 1 GB value fails with a clear error');
is(query(q{SELECT sqlstate_of($$SELECT count(*) FROM simple_cache_mget(ARRAY['giant'])$$)}), '54000',
	'its SQLSTATE is 54000');
is(query(qq{SELECT length(simple_cache_get('giant')) = $giant}), 't', 'simple_cache_get still reads it');
query(q{SELECT simple_cache_drop('giant')});

$node->stop;
done_testing();
