# Writes at commit on a server that cannot WAL-log them (simple_cache not preloaded), and the
# resource manager's id setting.
#   A  without signs of standbys the writes apply locally, silently;
#   B  with a physical replication slot, simple_cache.unreplicated_invalidations decides: a
#      WARNING (the default) or an ERROR that rolls the transaction back, or nothing (off);
#   C  a standby streaming from the server is a sign too (its WAL sender);
#   D  simple_cache.wal_rmgr_id picks the id; a standby using another id stops at the first
#      record with PostgreSQL's "resource manager ... not registered" error; an id outside
#      the custom range is refused at start; an id another library's resource manager took
#      first is refused at start with a message naming it (a small library built here, found
#      through dynamic_library_path; skipped without a C compiler).
use strict;
use warnings;

use Cwd;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('unreplicated');
$node->init(allows_streaming => 1);
$node->start;

sub query { return $node->safe_psql('postgres', $_[0]); }

# Runs sql; returns "stderr" with the notices.
sub stderr_of
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $sql);
	return $err;
}

query('CREATE EXTENSION simple_cache');
my $commit_sql = "SELECT simple_cache_put('k', 'v'); BEGIN; SELECT simple_cache_invalidate('k'); COMMIT;";

# ---------------------------------------------------------------------------------------------
# A: no WAL sender, no slot: local, silent.
is(stderr_of($commit_sql), '', 'A: no standby in sight: no warning');
is(query("SELECT simple_cache_get('k') IS NULL"), 't', 'A: the invalidation applied locally');
is(query('SELECT wal_rmgr_registered FROM simple_cache_replica_stats()'), 'f',
	'A: not preloaded, no resource manager');

# ---------------------------------------------------------------------------------------------
# B: a physical replication slot.
query("SELECT pg_create_physical_replication_slot('some_standby')");
like(stderr_of($commit_sql), qr/WARNING:  simple_cache: this transaction's cache invalidations do not reach the standbys/,
	'B: with a physical slot, a warning');
is(query("SELECT simple_cache_get('k') IS NULL"), 't', 'B: and the invalidation applied locally');
like(
	stderr_of("SET simple_cache.unreplicated_invalidations = error; $commit_sql"),
	qr/ERROR:  simple_cache: this transaction's cache invalidations do not reach the standbys/,
	'B: set to error, the commit is refused');
is(query("SELECT simple_cache_get('k')"), 'v', 'B: and nothing was invalidated');
is(stderr_of("SET simple_cache.unreplicated_invalidations = off; $commit_sql"), '', 'B: set to off, silence');
is(query("SELECT simple_cache_get('k') IS NULL"), 't', 'B: and the invalidation applied locally');
is(stderr_of("SELECT simple_cache_put('k', 'v'); SELECT simple_cache_drop('k');"), '',
	'B: immediate writes never warn');
query("SELECT pg_drop_replication_slot('some_standby')");
is(stderr_of($commit_sql), '', 'B: the slot dropped, no warning');

# ---------------------------------------------------------------------------------------------
# C: a streaming standby (without a slot) shows through its WAL sender.
$node->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('unreplicated_standby');
$standby->init_from_backup($node, 'base', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby, 'replay');
like(stderr_of($commit_sql), qr/WARNING:  simple_cache: this transaction's cache invalidations do not reach/,
	'C: a streaming standby: a warning');
$standby->stop;

# ---------------------------------------------------------------------------------------------
# D: the id setting.
$node->append_conf('postgresql.conf', <<'EOF');
shared_preload_libraries = 'simple_cache'
simple_cache.wal_rmgr_id = 201
EOF
$node->restart;
is(query('SELECT wal_rmgr_registered::text || wal_rmgr_id FROM simple_cache_replica_stats()'), 'true201',
	'D: the resource manager registered with the configured id');
$node->backup('base_d');
my $other_id = PostgreSQL::Test::Cluster->new('standby_other_id');
$other_id->init_from_backup($node, 'base_d', has_streaming => 1);
$other_id->append_conf('postgresql.conf', 'simple_cache.wal_rmgr_id = 202');
$other_id->start;
$node->wait_for_catchup($other_id, 'replay');
my $offset = -s $other_id->logfile;
is(stderr_of($commit_sql), '', 'D: preloaded, the writes are logged without a warning');
ok($other_id->wait_for_log(qr/resource manager with ID 201 not registered/, $offset),
	'D: a standby with another id stops at the first record');
$other_id->stop('immediate', fail_ok => 1);

$node->append_conf('postgresql.conf', 'simple_cache.wal_rmgr_id = 12');
$node->stop;
my $log_offset = -s $node->logfile;
ok(!$node->start(fail_ok => 1), 'D: an id below the custom range is refused at start');
ok($node->log_contains(qr/FATAL:  simple_cache.wal_rmgr_id is 12, outside the range of custom WAL resource managers/, $log_offset),
	'D: the log names the setting');

# An id taken by another library's resource manager: "squatter" registers 128 first.
my $squat_dir = Cwd::abs_path(PostgreSQL::Test::Utils::tempdir);  # the setting wants an absolute path
open(my $source, '>', "$squat_dir/squatter.c") or die $!;
print $source <<'EOF';
#include "postgres.h"
#include "fmgr.h"
#include "access/xlog_internal.h"
PG_MODULE_MAGIC;
PGDLLEXPORT void _PG_init(void);
static void squat_redo(XLogReaderState *record) { (void) record; }
static void squat_desc(StringInfo buf, XLogReaderState *record) { (void) buf; (void) record; }
static const char *squat_identify(uint8 info) { (void) info; return NULL; }
static RmgrData squat_rmgr = {"squatter", squat_redo, squat_desc, squat_identify, NULL, NULL, NULL, NULL};
void _PG_init(void) { RegisterCustomRmgr(128, &squat_rmgr); }
EOF
close($source);
my $include = `pg_config --includedir-server`;
chomp $include;
my $built = system('cc', '-shared', '-fPIC', "-I$include", '-o', "$squat_dir/squatter.so", "$squat_dir/squatter.c") == 0;
SKIP:
{
	skip 'no C compiler to build the squatting library', 2 unless $built;
	$node->append_conf('postgresql.conf', <<"EOF");
simple_cache.wal_rmgr_id = 128
dynamic_library_path = '$squat_dir:\$libdir'
shared_preload_libraries = 'squatter, simple_cache'
EOF
	$log_offset = -s $node->logfile;
	ok(!$node->start(fail_ok => 1), 'D: an id another resource manager took is refused at start');
	ok( $node->log_contains(
			qr/FATAL:  simple_cache: WAL resource manager id 128 is already taken by "squatter"/, $log_offset),
		'D: the log names the other resource manager');
}

done_testing();
