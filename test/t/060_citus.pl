# simple_cache sharded over a Citus cluster: a coordinator and two workers on this machine,
# over unix sockets. Checks:
#   * simple_cache_citus_distribute(): its errors (no Citus, no privilege) and that it is
#     idempotent;
#   * routing: top-level keyed calls run on the worker that owns the key, keys split as the
#     shard map says, and our owner lookup agrees with Citus' own;
#   * NULL arguments on every keyed function, also through prepared statements: a clear error
#     or NULL, never a crashed node;
#   * the forms Citus does not route (transaction block, FROM clause, two calls, subquery,
#     PL/pgSQL) fail with 0A000 and write nothing;
#   * cluster-wide stats, list, mget and flush;
#   * moving shards to a new worker, then dropping the entries the old nodes no longer own;
#   * a worker that is down: a clear error for its keys, the others still served.
# Skipped when Citus is not installed in the PostgreSQL under test (test/install-citus.sh).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $libdir = `pg_config --pkglibdir`;
chomp $libdir;
my $sharedir = `pg_config --sharedir`;
chomp $sharedir;
if (!-f "$libdir/citus.so" || !-f "$sharedir/extension/citus.control")
{
	plan skip_all => "Citus is not installed in this PostgreSQL ($libdir): "
	  . 'test/install-citus.sh installs it from ../shared/citus';
}

# Starts a node with Citus preloaded and the citus extension created.
sub citus_node
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	# The rebalancer connects to its own node by citus.local_hostname: the socket directory.
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'citus'
citus.local_hostname = '@{[$node->host]}'
max_connections = 60
citus.max_cached_conns_per_worker = 2
});
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION citus');
	return $node;
}

# Runs a query and returns (SQLSTATE or '', stdout): psql with VERBOSITY verbose reports the
# SQLSTATE of an error.
sub sqlstate_of
{
	my ($node, $sql) = @_;
	my ($ret, $stdout, $stderr) =
	  $node->psql('postgres', "\\set VERBOSITY verbose\n$sql", on_error_stop => 1);
	return ($stderr =~ /ERROR:\s+([0-9A-Z]{5}):/ ? $1 : '', $stdout, $stderr);
}

my $coordinator = citus_node('coordinator');
my $worker1 = citus_node('worker1');
my $worker2 = citus_node('worker2');
my @workers = ($worker1, $worker2);

# Each node's start time, to prove no node restarted (a crashed backend restarts the server).
sub start_times
{
	return join ',', map { $_->safe_psql('postgres', 'SELECT pg_postmaster_start_time()') }
	  ($coordinator, @workers);
}

$coordinator->safe_psql('postgres', sprintf(
	"SELECT citus_set_coordinator_host('%s', %d)", $coordinator->host, $coordinator->port));
for my $worker (@workers)
{
	$coordinator->safe_psql('postgres',
		sprintf("SELECT citus_add_node('%s', %d)", $worker->host, $worker->port));
}
# Citus creates the extension on the workers too.
$coordinator->safe_psql('postgres', 'CREATE EXTENSION simple_cache');
for my $worker (@workers)
{
	is($worker->safe_psql('postgres', q{SELECT count(*) FROM pg_extension WHERE extname = 'simple_cache'}),
		'1', 'CREATE EXTENSION on the coordinator reached worker ' . $worker->name);
}

sub coord { return $coordinator->safe_psql('postgres', $_[0]); }

# --- Set-up and its errors --------------------------------------------------------------------
my ($state) = sqlstate_of($coordinator, q{SELECT simple_cache_citus_mget(ARRAY['k'])});
is($state, '55000', 'before set-up, the cluster mget says the cache is not distributed');

$coordinator->safe_psql('postgres', q{
CREATE DATABASE plain;
CREATE ROLE cache_user LOGIN;
});
$coordinator->safe_psql('plain', 'CREATE EXTENSION simple_cache');
my ($ret, $stdout, $stderr) = $coordinator->psql('plain',
	"\\set VERBOSITY verbose\nSELECT simple_cache_citus_distribute()");
like($stderr, qr/55000: simple_cache_citus_distribute: Citus is not installed in this database/,
	'without Citus in the database, set-up fails with 55000 and says why');
($ret, $stdout, $stderr) = $coordinator->psql('postgres',
	"\\set VERBOSITY verbose\nSET ROLE cache_user;\nSELECT simple_cache_citus_distribute()");
like($stderr, qr/42501/, 'set-up is not executable by PUBLIC');
$coordinator->safe_psql('postgres', 'GRANT EXECUTE ON FUNCTION simple_cache_citus_distribute(integer) TO cache_user');
($ret, $stdout, $stderr) = $coordinator->psql('postgres',
	"\\set VERBOSITY verbose\nSET ROLE cache_user;\nSELECT simple_cache_citus_distribute()");
like($stderr, qr/42501: simple_cache_citus_distribute: only a superuser or the owner of simple_cache may run it/,
	'granted, it still refuses a role that is neither superuser nor the owner');
$coordinator->safe_psql('postgres', 'REVOKE EXECUTE ON FUNCTION simple_cache_citus_distribute(integer) FROM cache_user');

($state) = sqlstate_of($coordinator, 'SELECT simple_cache_citus_distribute(0)');
is($state, '22023', 'a shard count below 1 is refused');
is(coord(q{SELECT to_regclass('simple_cache_citus_anchor') IS NULL}), 't', 'and nothing was made');
my $first = coord('SELECT simple_cache_citus_distribute()');
like($first, qr/^19 keyed functions distributed \(19 newly\).* on 2 nodes$/, "set-up: $first");
my $second = coord('SELECT simple_cache_citus_distribute()');
like($second, qr/\(0 newly\)/, "a second set-up changes nothing: $second");
is(coord(q{SELECT count(*) FROM pg_dist_object WHERE distribution_argument_index = 0
           AND objid IN (SELECT simple_cache_citus_keyed_functions())}),
	'19', 'every keyed function is distributed by its key');

# --- Routing and the split of keys ------------------------------------------------------------
my $keys = 600;
my $puts = join "\n", map { "SELECT simple_cache_put('key:$_', 'value:$_');" } 1 .. $keys;
$coordinator->safe_psql('postgres', $puts);
# Where Citus places each key, by its own function.
coord(qq{
CREATE TABLE expected_owner AS
SELECT 'key:' || i AS key, n.nodeport
FROM generate_series(1, $keys) i
JOIN pg_dist_placement p ON p.shardid = get_shard_id_for_distribution_column('simple_cache_citus_anchor', 'key:' || i)
JOIN pg_dist_node n USING (groupid);
});
is(coord('SELECT entries FROM simple_cache_stats'), '0', 'the coordinator cached nothing');
for my $worker (@workers)
{
	my $port = $worker->port;
	my $expected = coord("SELECT count(*) FROM expected_owner WHERE nodeport = $port");
	ok($expected > 0 && $expected < $keys, "the shard map gives worker port $port $expected of $keys keys");
	is($worker->safe_psql('postgres', 'SELECT count(*) FROM simple_cache_list()'), $expected,
		"worker port $port holds exactly the keys the shard map gives it");
	my $listed = $worker->safe_psql('postgres',
		q{SELECT string_agg(key, ',' ORDER BY key) FROM simple_cache_list()});
	is($listed, coord("SELECT string_agg(key, ',' ORDER BY key) FROM expected_owner WHERE nodeport = $port"),
		"worker port $port holds the very keys Citus maps to it");
}
is(coord(q{SELECT count(*) FROM expected_owner e JOIN pg_dist_node n USING (nodeport)
           WHERE simple_cache_citus_owner(e.key) IS DISTINCT FROM n.nodename || ':' || n.nodeport}),
	'0', 'simple_cache_citus_owner agrees with Citus for every key');
is(coord(q{SELECT simple_cache_get('key:7')}), 'value:7', 'a top-level get is routed to the owner');
is(coord(q{SELECT * FROM simple_cache_get('key:8')}), 'value:8', 'so is SELECT * FROM get(...)');
is(coord(q{PREPARE g(text) AS SELECT simple_cache_get($1);
           EXECUTE g('key:9'); EXECUTE g('key:9'); EXECUTE g('key:9'); EXECUTE g('key:9');
           EXECUTE g('key:9'); EXECUTE g('key:9')}), join("\n", ('value:9') x 6),
	'so is a prepared statement, on every execution');
is($coordinator->safe_psql('postgres', qq{SET ROLE cache_user;\nSELECT simple_cache_get('key:11');\n}
	. q{SELECT value FROM simple_cache_citus_mget(ARRAY['key:12'])}), "value:11\nvalue:12",
	'a role without privileges gets routed calls and the cluster mget');
is(coord(q{SELECT simple_cache_incr('counter'); SELECT simple_cache_incr('counter', 4)}), "1\n5",
	'incr is routed (the count kept on one worker)');
coord(q{INSERT INTO expected_owner SELECT 'counter', n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
        WHERE p.shardid = get_shard_id_for_distribution_column('simple_cache_citus_anchor', 'counter')});

# --- NULL arguments ---------------------------------------------------------------------------
my $before = start_times();
my @null_calls = (
	[q{SELECT simple_cache_put(NULL, 'x')}, '22004'],
	[q{SELECT simple_cache_put(NULL, 'x', interval '1 hour')}, '22004'],
	[q{SELECT simple_cache_put(NULL, 'x', NULL)}, '22004'],
	[q{SELECT simple_cache_put(NULL, '\x00'::bytea)}, '22004'],
	[q{SELECT simple_cache_put(NULL, '\x00'::bytea, NULL)}, '22004'],
	[q{SELECT simple_cache_add(NULL, 'x')}, '22004'],
	[q{SELECT simple_cache_add(NULL, 'x', NULL)}, '22004'],
	[q{SELECT simple_cache_add(NULL, '\x00'::bytea)}, '22004'],
	[q{SELECT simple_cache_replace(NULL, 'x')}, '22004'],
	[q{SELECT simple_cache_replace(NULL, '\x00'::bytea, NULL)}, '22004'],
	[q{SELECT simple_cache_incr(NULL)}, '22004'],
	[q{SELECT simple_cache_incr(NULL, 2)}, '22004'],
	[q{SELECT simple_cache_cas(NULL, 'a', 'b')}, '22004'],
	[q{SELECT * FROM simple_cache_put(NULL, 'x')}, '22004'],
	[q{SELECT simple_cache_put('key:1', NULL)}, '22004'],
	[q{SELECT simple_cache_incr('counter', NULL)}, '22004'],
	[q{SELECT simple_cache_cas('counter', NULL, 'b')}, '22004'],
	[q{SELECT simple_cache_get(NULL)}, ''],
	[q{SELECT simple_cache_get_bytea(NULL)}, ''],
	[q{SELECT simple_cache_drop(NULL)}, ''],
	[q{SELECT simple_cache_expire(NULL, interval '1 hour')}, ''],
	[q{SELECT simple_cache_ttl(NULL)}, ''],
	[q{PREPARE p(text) AS SELECT simple_cache_put($1, 'x');
	   EXECUTE p('key:1'); EXECUTE p('key:2'); EXECUTE p('key:3'); EXECUTE p('key:4');
	   EXECUTE p('key:5'); EXECUTE p(NULL)}, '22004'],
	[q{PREPARE q(text) AS SELECT simple_cache_incr($1);
	   EXECUTE q(NULL); EXECUTE q(NULL); EXECUTE q(NULL); EXECUTE q(NULL); EXECUTE q(NULL);
	   EXECUTE q(NULL); EXECUTE q(NULL)}, '22004'],
	[q{DO $$BEGIN PERFORM simple_cache_put(NULL, 'x'); END$$}, '22004'],
);
for my $call (@null_calls)
{
	my ($sql, $expected_state) = @$call;
	my ($got) = sqlstate_of($coordinator, $sql);
	is($got, $expected_state, "NULL argument: $sql -> " . ($expected_state || 'no error'));
}
is(start_times(), $before, 'no node restarted: no NULL argument crashed a backend');
is(coord(q{SELECT simple_cache_get('key:1')}) . ' ' . coord(q{SELECT simple_cache_get('key:600')}),
	'x value:600', 'the caches survived (key:1 rewritten by the prepared put)');
$coordinator->safe_psql('postgres', join "\n", map { "SELECT simple_cache_put('key:$_', 'value:$_');" } 1 .. 5);

# --- Forms Citus does not route ---------------------------------------------------------------
my @unrouted = (
	[ 'a transaction block', qq{BEGIN;\nSELECT simple_cache_put('key:1', 'stranded');\nCOMMIT;} ],
	[ 'a call per row of FROM', q{SELECT simple_cache_put(k, 'stranded') FROM (VALUES ('key:1')) v(k)} ],
	[ 'a get per row of FROM', q{SELECT simple_cache_get(k) FROM (VALUES ('key:1')) v(k)} ],
	[ 'a subquery in FROM', q{SELECT * FROM (SELECT simple_cache_get('key:1')) s} ],
	[ 'two calls in one SELECT', q{SELECT simple_cache_get('key:1'), simple_cache_get('key:2')} ],
	[ 'a scalar subquery', q{SELECT (SELECT simple_cache_put('key:1', 'stranded'))} ],
	[ 'a WHERE clause', q{SELECT simple_cache_get('key:1') WHERE now() IS NOT NULL} ],
	[ 'a PL/pgSQL expression', q{DO $$BEGIN PERFORM simple_cache_put('key:1', 'stranded'); END$$} ],
	[ 'a PL/pgSQL assignment', q{DO $$DECLARE v text; BEGIN v := simple_cache_get('key:1'); END$$} ],
	[ 'mget', q{SELECT * FROM simple_cache_mget(ARRAY['key:1'])} ],
	[ 'drop in a transaction block', qq{BEGIN;\nSELECT simple_cache_drop('key:1');\nCOMMIT;} ],
);
for my $form (@unrouted)
{
	my ($name, $sql) = @$form;
	my ($got, undef, $err) = sqlstate_of($coordinator, $sql);
	is($got, '0A000', "not routed, refused: $name");
	like($err, qr/belongs to the Citus node .*:\d+, but this call runs on another node/,
		"the error names the owner: $name");
}
is(coord('SELECT entries FROM simple_cache_stats'), '0', 'the refused calls wrote nothing on the coordinator');
is(coord(q{SELECT simple_cache_get('key:1')}), 'value:1', 'and nothing on the owner');
# On a worker, a key it owns may be used in any form; a key it does not own may not.
my ($own_key, $other_key) = map {
	coord("SELECT key FROM expected_owner WHERE nodeport $_ " . $worker1->port . ' ORDER BY key LIMIT 1')
} ('=', '<>');
is($worker1->safe_psql('postgres', "BEGIN; SELECT simple_cache_get('$own_key'); COMMIT;"),
	coord("SELECT simple_cache_get('$own_key')"), 'on its owner, a key works in a transaction block');
my ($got_state) = sqlstate_of($worker1, "BEGIN;\nSELECT simple_cache_get('$other_key');\nCOMMIT;");
is($got_state, '0A000', 'on a worker, a key another worker owns is refused in a transaction block');
is($worker1->safe_psql('postgres', "SELECT simple_cache_get('$other_key')"),
	coord("SELECT simple_cache_get('$other_key')"),
	'a worker routes a top-level call for a key another worker owns (Citus metadata is on every node)');

# --- The invalidation trigger ------------------------------------------------------------------
# It drops at commit on the node where the table is changed: a key that node does not own is
# refused (0A000 naming the trigger), as simple_cache_invalidate refuses it, instead of being
# dropped on the wrong node while its owner keeps the stale value.
my $worker1_name = $worker1->host . ':' . $worker1->port;
my ($trig_own, $trig_other) = map {
	coord(qq{SELECT k FROM (SELECT 'trig:' || i AS k FROM generate_series(1, 50) i) s
	         WHERE simple_cache_citus_owner(k) $_ '$worker1_name' ORDER BY k LIMIT 1})
} ('=', '<>');
my $trigger_table = q{CREATE TABLE trig_local (k text);
CREATE TRIGGER trig_local_cache AFTER INSERT OR UPDATE OR DELETE ON trig_local
    FOR EACH ROW EXECUTE FUNCTION simple_cache_invalidate_trigger('{k}');};
$worker1->safe_psql('postgres', $trigger_table);
$coordinator->safe_psql('postgres', $trigger_table);
$worker1->safe_psql('postgres', "SELECT simple_cache_put('$trig_own', 'cached')");
$worker1->safe_psql('postgres', "INSERT INTO trig_local VALUES ('$trig_own')");
is($worker1->safe_psql('postgres', "SELECT simple_cache_get('$trig_own') IS NULL"), 't',
	'on its owner, the trigger drops a key at commit');
my ($trigger_state, undef, $trigger_error) =
  sqlstate_of($worker1, "INSERT INTO trig_local VALUES ('$trig_other')");
is($trigger_state, '0A000', 'on a worker, the trigger refuses a key another worker owns');
like($trigger_error, qr/trigger "trig_local_cache" on table "trig_local": key "\Q$trig_other\E" belongs to the Citus node/,
	'the error names the trigger, the table and the key');
($trigger_state) = sqlstate_of($coordinator, "INSERT INTO trig_local VALUES ('$trig_own')");
is($trigger_state, '0A000', 'on the coordinator, the trigger refuses every key (it owns none)');
is($worker1->safe_psql('postgres', 'SELECT count(*) FROM trig_local'), '1', 'the refused row was not written');
$worker1->safe_psql('postgres', 'DROP TABLE trig_local');
$coordinator->safe_psql('postgres', 'DROP TABLE trig_local');

# --- Cluster-wide views and calls -------------------------------------------------------------
coord(q{SELECT simple_cache_get('key:10')});
coord(q{SELECT simple_cache_get('missing:1')});
my $per_node = coord(q{SELECT string_agg(format('%s=%s/%s/%s', nodeport, entries, hits, misses), ' ' ORDER BY nodeport)
                       FROM simple_cache_citus_stats() WHERE error IS NULL});
my $direct = join ' ', map {
	$_->port . '=' . $_->safe_psql('postgres', q{SELECT format('%s/%s/%s', entries, hits, misses) FROM simple_cache_stats})
} sort { $a->port <=> $b->port } ($coordinator, @workers);
is($per_node, $direct, "cluster stats show each node's own figures ($per_node)");
is(coord('SELECT entries FROM simple_cache_citus_stats_total'), $keys + 1,
	'cluster-wide entries: every key and the counter');
is(coord('SELECT format($$%s %s$$, nodes, nodes_failed) FROM simple_cache_citus_stats_total'), '3 0',
	'three nodes answered');
my $sum_hits = 0;
$sum_hits += $_->safe_psql('postgres', 'SELECT hits FROM simple_cache_stats') for ($coordinator, @workers);
is(coord('SELECT hits FROM simple_cache_citus_stats_total'), $sum_hits, 'cluster-wide hits are the sum');

is(coord(q{SELECT count(*) FROM simple_cache_citus_list()}), $keys + 1, 'the cluster listing has every entry');
is(coord(q{SELECT count(*) FROM simple_cache_citus_list() l JOIN expected_owner e USING (key)
           WHERE l.nodeport <> e.nodeport}), '0', 'and names the node that holds each');
is(coord(q{SELECT string_agg(coalesce(key, '-') || '=' || coalesce(value, '-'), ' ')
           FROM simple_cache_citus_mget(ARRAY['key:3', 'missing', NULL, 'key:4', 'key:3', 'key:599'])}),
	'key:3=value:3 missing=- -=- key:4=value:4 key:3=value:3 key:599=value:599',
	'cluster mget: values in the order asked, from both workers, NULL for absent and NULL keys');
is(coord(q{SELECT count(*) FROM simple_cache_citus_mget(ARRAY[]::text[])}), '0', 'cluster mget of nothing');

# --- Moving shards ----------------------------------------------------------------------------
my $worker3 = citus_node('worker3');
coord(sprintf("SELECT citus_add_node('%s', %d)", $worker3->host, $worker3->port));
coord(q{SELECT rebalance_table_shards('simple_cache_citus_anchor', shard_transfer_mode := 'block_writes')});
my $moved = coord(sprintf(q{SELECT count(*) FROM expected_owner e
    JOIN pg_dist_placement p ON p.shardid = get_shard_id_for_distribution_column('simple_cache_citus_anchor', e.key)
    JOIN pg_dist_node n USING (groupid) WHERE n.nodeport = %d}, $worker3->port));
ok($moved > 0, "the rebalance moved shards holding $moved keys to the new worker");
is(coord('SELECT simple_cache_citus_drop_moved()'), $moved,
	'after the move, the old owners drop exactly the entries of the moved shards');
is(coord('SELECT entries FROM simple_cache_citus_stats_total'), $keys + 1 - $moved, 'the others stay');
my $kept_key = coord(sprintf(q{SELECT e.key FROM expected_owner e
    JOIN pg_dist_placement p ON p.shardid = get_shard_id_for_distribution_column('simple_cache_citus_anchor', e.key)
    JOIN pg_dist_node n USING (groupid) WHERE n.nodeport <> %d ORDER BY e.key LIMIT 1}, $worker3->port));
my $moved_key = coord(sprintf(q{SELECT e.key FROM expected_owner e
    JOIN pg_dist_placement p ON p.shardid = get_shard_id_for_distribution_column('simple_cache_citus_anchor', e.key)
    JOIN pg_dist_node n USING (groupid) WHERE n.nodeport = %d ORDER BY e.key LIMIT 1}, $worker3->port));
is(coord("SELECT simple_cache_get('$kept_key')"), "value:" . substr($kept_key, 4), 'a key that stayed is still served');
is(coord("SELECT simple_cache_get('$moved_key')"), '', 'a moved key is a miss (NULL) on its new owner');
coord("SELECT simple_cache_put('$moved_key', 'again')");
is($worker3->safe_psql('postgres', "SELECT simple_cache_get('$moved_key')"), 'again',
	'and is written on its new owner');

# --- Flush ------------------------------------------------------------------------------------
my $total = coord('SELECT entries FROM simple_cache_citus_stats_total');
is(coord('SELECT simple_cache_citus_flush()'), $total, 'the cluster flush drops every entry');
is(coord('SELECT entries FROM simple_cache_citus_stats_total'), '0', 'no entry left on any node');

# --- A worker that is down --------------------------------------------------------------------
my $puts_again = join "\n", map { "SELECT simple_cache_put('key:$_', 'value:$_');" } 1 .. 50;
$coordinator->safe_psql('postgres', $puts_again);
my ($down_key, $up_key) = map {
	coord(sprintf(q{SELECT 'key:' || i FROM generate_series(1, 50) i
	    JOIN pg_dist_placement p ON p.shardid = get_shard_id_for_distribution_column('simple_cache_citus_anchor', 'key:' || i)
	    JOIN pg_dist_node n USING (groupid) WHERE n.nodeport %s %d ORDER BY i LIMIT 1}, $_, $worker2->port))
} ('=', '<>');
$worker2->stop('fast');
($ret, $stdout, $stderr) = $coordinator->psql('postgres', "SELECT simple_cache_get('$down_key')");
isnt($ret, 0, "a key of the stopped worker fails ($down_key)");
like($stderr, qr/connection to the remote node .* failed|could not connect|Connection refused/i,
	'with an error that says the node cannot be reached');
is(coord("SELECT simple_cache_get('$up_key')"), 'value:' . substr($up_key, 4),
	"a key of a running worker is still served ($up_key)");
($ret, $stdout, $stderr) = $coordinator->psql('postgres',
	"SELECT string_agg(coalesce(value, '-'), ' ') FROM simple_cache_citus_mget(ARRAY['$down_key', '$up_key'])");
is($stdout, '- value:' . substr($up_key, 4), 'the cluster mget serves the running worker');
like($stderr, qr/WARNING:.*simple_cache_citus_mget: node .*:@{[$worker2->port]} failed/,
	'and names the stopped one in a warning');
is(coord('SELECT nodes_failed FROM simple_cache_citus_stats_total'), '1', 'cluster stats count the stopped node');
($state, undef, $stderr) = sqlstate_of($coordinator, 'SELECT simple_cache_citus_flush()');
is($state, '08006', 'the cluster flush fails while a node is down');
like($stderr, qr/simple_cache_citus_flush: node .*:@{[$worker2->port]} failed/, 'naming the node');
$worker2->start;
is(coord("SELECT simple_cache_get('$down_key')"), '',
	'the restarted worker answers again (its cache started empty)');

done_testing();
