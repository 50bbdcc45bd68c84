# The single value a background psql session's query returns. The BackgroundPsql of some
# releases (16beta2, 17beta2) leaves the result's trailing newline in place and newer ones
# remove it; the tests compare values without it.
package BackgroundValue;

use strict;
use warnings;

use Exporter 'import';
our @EXPORT = qw(value_of);

# Runs $sql in the background session $session (query_safe: an error fails the test) and
# returns its output without trailing newlines.
sub value_of
{
	my ($session, $sql) = @_;
	my $result = $session->query_safe($sql);
	$result =~ s/\n+\z//;
	return $result;
}

1;
