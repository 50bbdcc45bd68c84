# Memory pressure on a fresh server, where the size limit is the only thing between the cache
# and more shared memory:
#   * a 1 MB limit (simple_cache.max_memory = 1MB, the least it takes, and
#     simple_cache_set_size_limit) with values of 100 to 400 kB, values bigger than the whole
#     limit, values close to it, and huge and small puts alternating;
#   * several sessions at once putting large values and reading them back under that limit;
#   * lowering the limit at run time below what is in use, with simple_cache.eviction = lru
#     (evicts down to it) and none, by simple_cache_set_size_limit (refused, nothing changes)
#     and by simple_cache.max_memory with a reload (in force; writes needing room fail).
# Nothing may crash; every error must be 53200 (out_of_memory); and after every step these
# invariants must hold: no partition lock held; the bytes in use, less the hash table's bucket
# arrays, within the limit (a resize that eviction sets off allocates its new array without
# regard to a lowered limit: see the note at the end); the statistics agree with the entries
# (count, key and value bytes); every value intact (values are self-checking:
# key || ':' || size || ':' || md5(...) repeated to the size).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('memory_pressure');
$node->init;
$node->append_conf('postgresql.conf', "simple_cache.max_memory = '1MB'\n");
$node->start;

sub query { return $node->safe_psql('postgres', $_[0]); }

query(q{
CREATE EXTENSION simple_cache;
-- A value of about `size` bytes for key k, and whether a value is one.
CREATE FUNCTION mp_value(k text, size int) RETURNS text IMMUTABLE LANGUAGE sql AS $$
    SELECT k || ':' || size || ':' || repeat(md5(k || size), greatest(size / 32, 1))
$$;
CREATE FUNCTION mp_ok(k text, val text) RETURNS boolean IMMUTABLE LANGUAGE sql AS $$
    SELECT CASE WHEN val IS NULL THEN true
                WHEN NOT starts_with(val, k || ':') OR substr(val, length(k) + 2) !~ '^\d{1,9}:' THEN false
                ELSE val = mp_value(k, split_part(substr(val, length(k) + 2), ':', 1)::int) END
$$;
-- Puts mp_value(k, size); returns 'ok' or the SQLSTATE.
CREATE FUNCTION mp_put(k text, size int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM simple_cache_put(k, mp_value(k, size));
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;
CREATE UNLOGGED TABLE mp_outcomes (client int, outcome text, n bigint);
});

# The invariants, as one line: "locks within_limit stats_agree bad_values entries".
sub invariants
{
	return query(q{
		SELECT concat_ws(' ',
			substring(h from 'partition locks held by this backend: (\d+)'),
			substring(a from 'in use: (\d+) bytes')::bigint
			  - 8 * substring(h from 'buckets: (\d+)')::bigint
			  - 8 * coalesce(substring(h from 'resize: in progress from (\d+) buckets')::bigint, 0) <= s.size_limit,
			s.entries = l.n AND s.key_value_bytes = l.bytes,
			l.bad, l.n)
		FROM (SELECT simple_cache_dump_area() AS a, simple_cache_dump_hash_table() AS h) d, simple_cache_stats s,
		     (SELECT count(*) AS n, coalesce(sum(octet_length(key) + octet_length(value)), 0) AS bytes,
		             count(*) FILTER (WHERE NOT mp_ok(key, value)) AS bad
		      FROM simple_cache_list()) l});
}

sub check
{
	my ($what) = @_;
	my ($locks, $within, $agree, $bad, $entries) = split / /, invariants();
	is("$locks $within $agree $bad", '0 t t 0', "$what: invariants hold ($entries entries)");
	return $entries;
}

# Runs puts "key:size" given as a SQL VALUES list; returns outcome counts "ok=N 53200=M".
sub puts
{
	my ($values) = @_;
	return query(qq{
		SELECT string_agg(outcome || '=' || n, ' ' ORDER BY outcome)
		FROM (SELECT mp_put(k, size) AS outcome, count(*) AS n FROM ($values) v(k, size) GROUP BY 1) o});
}

# --- A 1 MB limit from simple_cache.max_memory ---------------------------------------------
is(query(q{SELECT mp_put('first', 10)}), 'ok', 'a first put under a 1 MB limit');
is(query('SELECT size_limit FROM simple_cache_stats'), 1024 * 1024, 'the limit in force is 1 MB');
check('start');

# Values of 100 to 400 kB, 200 of them: each fits, evicting older ones.
my $outcomes = puts(q{SELECT 'big:' || i, 100000 + (i * 7919) % 300000 FROM generate_series(1, 200) i});
like($outcomes, qr/^ok=\d+$/, "200 puts of 100-400 kB values under 1 MB all succeed, evicting ($outcomes)");
my $entries = check('after large values');
ok($entries >= 1 && $entries <= 10, "only a few large values fit at once ($entries)");

# A value bigger than the whole limit: 53200 in both modes, nothing changes.
my $before = query(q{SELECT md5(string_agg(key || value, ',' ORDER BY key)) FROM simple_cache_list()});
is(puts(q{VALUES ('huge', 2 * 1024 * 1024)}), '53200=1', 'a 2 MB value under a 1 MB limit: 53200');
query('SET simple_cache.eviction = none');
is($node->safe_psql('postgres', q{SET simple_cache.eviction = none; SELECT mp_put('huge', 2 * 1024 * 1024)}), '53200',
	'and with eviction off: 53200');
is(query(q{SELECT md5(string_agg(key || value, ',' ORDER BY key)) FROM simple_cache_list()}), $before,
	'nothing changed');
check('after values over the limit');

# Values close to the limit: they fit only once everything else is evicted, or not at all; one
# that is refused must leave the other entries as they were.
my ($stored, $refused, $refused_changed) = (0, 0, 0);
for my $i (map { 1 + 20 * $_ } 0 .. 9)
{
	puts(q{SELECT 'small:' || i, 30000 FROM generate_series(1, 3) i});
	my $digest = query(q{SELECT md5(string_agg(key || value, ',' ORDER BY key)) FROM simple_cache_list()});
	my $outcome = query("SELECT mp_put('near:$i', 1024 * 1024 - 1024 * $i)");
	if ($outcome eq 'ok') { $stored++; next; }
	die "near:$i: $outcome" unless $outcome eq '53200';
	$refused++;
	$refused_changed++
	  if query(q{SELECT md5(string_agg(key || value, ',' ORDER BY key)) FROM simple_cache_list()}) ne $digest;
}
note "values just under the limit: $stored stored, $refused refused, $refused_changed of them after evicting";
is($refused_changed, 0, "values just under the limit: a refused one evicts nothing ($refused refused)");
# The same with the sizes of test/reliability/regressions.sh, where the allocator's superblocks
# (not the entries' bytes) are what leaves too little room: three values of 30 kB stay.
query('SELECT simple_cache_flush()');
puts(q{SELECT 'three:' || i, 30000 FROM generate_series(1, 3) i});
my $three = query(q{SELECT md5(string_agg(key || value, ',' ORDER BY key)) FROM simple_cache_list()});
is(puts(q{VALUES ('three:big', 900000)}), '53200=1', 'a 900000-byte value next to three of 30 kB: 53200');
is(query(q{SELECT md5(string_agg(key || value, ',' ORDER BY key)) FROM simple_cache_list()}), $three,
	'and the three values are still there, unchanged');
check('after values near the limit');

# Huge and small puts alternating.
$outcomes = puts(q{SELECT CASE WHEN i % 2 = 0 THEN 'alt:huge:' || i % 7 ELSE 'alt:small:' || i END,
                          CASE WHEN i % 2 = 0 THEN 150000 + (i * 104729) % 600000 ELSE 20 + i % 200 END
                   FROM generate_series(1, 1000) i});
like($outcomes, qr/^(53200=\d+ )?ok=\d+$/, "1000 alternating huge and small puts: only 53200 errors ($outcomes)");
check('after alternating puts');

# --- Several sessions at once under the 1 MB limit -----------------------------------------
# Each of 4 sessions puts values of 1 to 300 kB on 20 shared keys and reads keys back, for
# 3000 operations; any value read must be whole, any error 53200.
my @sessions;
for my $client (1 .. 4)
{
	my $session = $node->background_psql('postgres');
	$session->query_until(qr/started/, qq{\\echo started
		DO \$\$
		DECLARE
			k text;
			v text;
			outcome text;
			torn bigint := 0;
		BEGIN
			FOR i IN 1 .. 3000 LOOP
				k := 'shared:' || (i * $client * 7) % 20;
				IF i % 3 = 0 THEN
					v := simple_cache_get(k);
					IF NOT mp_ok(k, v) THEN
						torn := torn + 1;
					END IF;
					outcome := 'read';
				ELSE
					outcome := mp_put(k, 1000 + (i * $client * 7919) % 300000);
				END IF;
				INSERT INTO mp_outcomes VALUES ($client, outcome, 1);
			END LOOP;
			INSERT INTO mp_outcomes VALUES ($client, 'torn', torn);
		END
		\$\$;
		\\echo done
	});
	push @sessions, $session;
}
for my $session (@sessions)
{
	$session->query_until(qr/done/, '');
	$session->quit;
}
is(query(q{SELECT count(*) FROM mp_outcomes WHERE outcome <> 'torn'}), 12000, 'concurrent: 12000 operations ran');
is(query(q{SELECT coalesce(sum(n), 0) FROM mp_outcomes WHERE outcome = 'torn'}), '0', 'concurrent: no torn value was read');
is(query(q{SELECT coalesce(string_agg(DISTINCT outcome, ','), 'none') FROM mp_outcomes
           WHERE outcome NOT IN ('ok', 'read', 'torn', '53200')}), 'none', 'concurrent: every error was 53200');
note 'concurrent outcomes: ' . query(q{SELECT string_agg(outcome || '=' || n, ' ') FROM
	(SELECT outcome, sum(n) AS n FROM mp_outcomes GROUP BY 1 ORDER BY 1) o});
check('after concurrent pressure');

# --- Lowering the limit below use, with simple_cache_set_size_limit --------------------------
query(q{SELECT simple_cache_set_size_limit(64 * 1024 * 1024)});
query(q{SELECT simple_cache_flush()});
is(puts(q{SELECT 'fill:' || i, 1000 + i % 3000 FROM generate_series(1, 20000) i}), 'ok=20000', '20000 entries put under 64 MB');
check('filled');
my $in_use = query(q{SELECT substring(simple_cache_dump_area() from 'in use: (\d+) bytes')});

# With eviction off the lower limit is refused, and nothing changes.
$before = query(q{SELECT md5(string_agg(key || value, ',' ORDER BY key)) FROM simple_cache_list()});
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	q{SET simple_cache.eviction = none; SELECT simple_cache_set_size_limit(8 * 1024 * 1024)});
like($stderr, qr/ERROR:  simple_cache size limit is below the memory in use/, 'eviction none: a lower limit is refused');
is(query('SELECT size_limit FROM simple_cache_stats'), 64 * 1024 * 1024, 'eviction none: the limit is unchanged');
is(query(q{SELECT md5(string_agg(key || value, ',' ORDER BY key)) FROM simple_cache_list()}), $before,
	'eviction none: no entry changed');
check('eviction none, limit refused');

# With eviction on it evicts down to the new limit.
query(q{SELECT simple_cache_set_size_limit(8 * 1024 * 1024)});
is(query('SELECT size_limit FROM simple_cache_stats'), 8 * 1024 * 1024, 'lru: the lower limit is in force');
$entries = check('lru, limit lowered');
ok($entries > 0 && $entries < 20000, "lru: evicted down to the limit ($entries entries left)");
$outcomes = puts(q{SELECT 'fill:' || i, 1000 + i % 3000 FROM generate_series(1, 20000) i});
is($outcomes, 'ok=20000', 'lru: further puts succeed, evicting');
check('lru, puts after lowering');

# --- Lowering simple_cache.max_memory below use, with a reload -----------------------------
# Reloads the configuration and waits until new sessions see simple_cache.$name = $value.
sub reload_until
{
	my ($name, $value) = @_;
	query(q{SELECT pg_reload_conf()});
	$node->poll_query_until('postgres', "SELECT current_setting('simple_cache.$name') = '$value'")
	  or die "the reload of $name = $value was not seen";
}

query(q{SELECT simple_cache_set_size_limit(64 * 1024 * 1024)});
puts(q{SELECT 'fill:' || i, 1000 + i % 3000 FROM generate_series(1, 20000) i});
# eviction none (server-wide): the next write takes the lower setting up all the same (the
# limit set last is in force); a write that needs room then fails with 53200 and evicts
# nothing, until entries are dropped.
$before = query(q{SELECT md5(string_agg(key || value, ',' ORDER BY key)) FROM simple_cache_list()});
query(q{ALTER SYSTEM SET simple_cache.max_memory = '4MB'});
query(q{LOAD 'simple_cache'; ALTER SYSTEM SET simple_cache.eviction = 'none'});
reload_until('max_memory', '4MB');
reload_until('eviction', 'none');
is(puts(q{VALUES ('after:reload', 100)}), '53200=1',
	'max_memory below use, eviction none: the next write is taken up and, needing room, fails with 53200');
is(query('SELECT size_limit FROM simple_cache_stats'), 4 * 1024 * 1024, 'the lower limit is in force');
is(query(q{SELECT md5(string_agg(key || value, ',' ORDER BY key)) FROM simple_cache_list()}), $before,
	'nothing was evicted');
my ($locks, $within, $agree, $bad) = split / /, invariants();
is("$locks $agree $bad", '0 t 0', 'max_memory lowered, eviction none: no lock held, statistics agree, values intact');

# eviction lru: the next write evicts down to the lowered setting.
query(q{SELECT simple_cache_set_size_limit(64 * 1024 * 1024)});
query(q{LOAD 'simple_cache'; ALTER SYSTEM SET simple_cache.eviction = 'lru'});
reload_until('eviction', 'lru');
puts(q{SELECT 'fill:' || i, 1000 + i % 3000 FROM generate_series(1, 20000) i});
query(q{ALTER SYSTEM SET simple_cache.max_memory = '2MB'});
reload_until('max_memory', '2MB');
is(puts(q{VALUES ('after:lru', 100)}), 'ok=1', 'max_memory below use, lru: the next write succeeds');
is(query('SELECT size_limit FROM simple_cache_stats'), 2 * 1024 * 1024, 'the lower limit is in force');
check('max_memory lowered, lru');

# A note, not a failure: after eviction to a lowered limit the table often shrinks, and the
# new bucket array is allocated without regard to the limit, so the bytes in use (bucket
# arrays included) can stay a little over it while the resize is in progress.
note 'bytes in use against the limit, bucket arrays included: ' . query(q{
	SELECT substring(simple_cache_dump_area() from 'in use: (\d+) bytes') || ' of ' || size_limit FROM simple_cache_stats});

unlike(slurp_file($node->logfile), qr/PANIC|TRAP:|terminated by signal|was terminated by exception|simple_cache bug/,
	'no server process crashed');
$node->stop;
done_testing();
