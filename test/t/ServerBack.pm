# Waiting for a server to accept connections again after a crash restart.
#
# PostgreSQL::Test::Cluster's poll_query_until hands its query to psql on standard input. While
# the server refuses connections (it is in recovery), psql may exit before reading it, and the
# write then fails with a broken pipe, which the test harness of some releases (16beta2 seen)
# turns into the death of the whole test. This module's poll passes the query on psql's command
# line instead.
package ServerBack;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(time usleep);

our @EXPORT = qw(wait_until_back);

# Polls $node's database $dbname every 0.1 s until it answers a query; returns 1 then, or 0
# after the harness's default timeout.
sub wait_until_back
{
	my ($node, $dbname) = @_;
	my $cmd = [ $node->installed_command('psql'), '-XAt', '-c', 'SELECT true', '-d', $node->connstr($dbname) ];
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline)
	{
		my ($stdout, $stderr) = ('', '');
		IPC::Run::run($cmd, '>', \$stdout, '2>', \$stderr);
		return 1 if $stdout =~ /^t$/m;
		usleep(100_000);
	}
	return 0;
}

1;
