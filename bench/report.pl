#!/usr/bin/env perl
# Turns bench/run.sh's samples into the results table.
#
#   perl bench/report.pl RESULTS_DIR
#
# Reads RESULTS_DIR/samples.csv (section,case,param,round,metric,value) and meta.txt, and
# writes results.md (the table, with the machine and the method in a few lines), results.csv
# (one row per measure), concurrency.dat (for the plot) and prints results.md.
#
# Every comparison is paired by round: A and B ran next to each other in the same round, the
# ratio is taken per round, and the table shows the median ratio with the range over rounds.
use strict;
use warnings;
use List::Util qw(max min sum);

my $dir = shift @ARGV or die "usage: report.pl RESULTS_DIR\n";

# ---------------------------------------------------------------------------------------------
# Input

my %S;  # $S{section}{case}{param}{round}{metric} = value
open my $in, '<', "$dir/samples.csv" or die "$dir/samples.csv: $!\n";
<$in>;
while (<$in>) {
    chomp;
    my ($section, $case, $param, $round, $metric, $value) = split /,/;
    next unless defined $value && $value ne '';
    $S{$section}{$case}{$param}{$round}{$metric} = $value;
}
close $in;

my %M;
if (open my $m, '<', "$dir/meta.txt") {
    while (<$m>) {
        chomp;
        my ($k, $v) = split /=/, $_, 2;
        $M{$k} = $v;
    }
}

# ---------------------------------------------------------------------------------------------
# Statistics

sub median {
    my @v = sort { $a <=> $b } grep { defined } @_;
    return undef unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

# Values of one series by round.
sub series {
    my ($section, $case, $param, $metric) = @_;
    my $by_round = $S{$section}{$case}{$param} or return {};
    my %r;
    for my $round (keys %$by_round) {
        my $v = $by_round->{$round}{$metric};
        $r{$round} = $v if defined $v;
    }
    return \%r;
}

# Median of one series.
sub med {
    my $s = series(@_);
    return median(values %$s);
}

# Per-round values of f(a, b, ...) over rounds where every series has a value; returns
# (median, min, max, rounds).
sub paired {
    my ($f, @series) = @_;
    my %common;
    my @maps = map { series(@$_) } @series;
    return () unless @maps && %{ $maps[0] };
    ROUND: for my $round (keys %{ $maps[0] }) {
        for my $m (@maps) { next ROUND unless defined $m->{$round} }
        my $v = $f->(map { $_->{$round} } @maps);
        $common{$round} = $v if defined $v;
    }
    my @v = values %common;
    return () unless @v;
    return (median(@v), min(@v), max(@v), scalar @v);
}

# ---------------------------------------------------------------------------------------------
# Formatting

sub fmt_num {
    my ($v) = @_;
    return 'n/a' unless defined $v;
    my $a = abs $v;
    return sprintf('%.0f', $v) if $a >= 1000;
    return sprintf('%.1f', $v) if $a >= 100;
    return sprintf('%.2f', $v) if $a >= 1;
    return sprintf('%.3f', $v);
}

sub fmt_rate {
    my ($v) = @_;
    return 'n/a' unless defined $v;
    return sprintf('%.1fk', $v / 1000) if $v >= 1000;
    return sprintf('%.0f', $v);
}

sub fmt_ns {
    my ($v) = @_;
    return 'n/a' unless defined $v;
    return sprintf('%.1f ms', $v / 1e6) if $v >= 1e6;
    return sprintf('%.1f µs', $v / 1e3) if $v >= 1e4;
    return sprintf('%.0f ns', $v);
}

my @rows;  # { id, section, measure, value, lo, hi, rounds, unit, target, status, abs }

# Adds a ratio row from paired(...) results. $target: [op, limit] or undef.
sub ratio_row {
    my (%a) = @_;
    my ($med, $lo, $hi, $n) = @{ $a{stats} || [] };
    my $status = 'context';
    if ($a{target}) {
        my ($op, $limit) = @{ $a{target} };
        if (!defined $med) {
            $status = 'not measured';
        } elsif ($op eq '>=') {
            $status = $med >= $limit ? 'met' : 'MISSED';
        } else {
            $status = $med <= $limit ? 'met' : 'MISSED';
        }
    }
    push @rows, {
        id => $a{id}, section => $a{section}, measure => $a{measure}, value => $med, lo => $lo, hi => $hi,
        rounds => $n, unit => $a{unit} // 'x',
        target => $a{target} ? "$a{target}[0] $a{target}[1]" : '',
        status => $status, abs => $a{abs} // '',
    };
}

my $ratio = sub { my ($x, $y) = @_; $y ? $x / $y : undef };
my $added = sub { my ($get, $base) = @_; $base ? ($get - $base) / $base : undef };

# ---------------------------------------------------------------------------------------------
# 1: SQL round trip

for my $c (1, 8) {
    my %tps = map { $_ => med('rt', $_, $c, 'tps') } qw(base get put table_get table_upsert);
    ratio_row(id => "1.b/a c$c", section => 1, measure => "get hit vs baseline `SELECT 'k' || :k`, $c client" . ($c > 1 ? 's' : ''),
        stats => [paired($ratio, ['rt', 'get', $c, 'tps'], ['rt', 'base', $c, 'tps'])], target => ['>=', 0.95],
        abs => sprintf('get %s tps, baseline %s tps', fmt_rate($tps{get}), fmt_rate($tps{base})));
    ratio_row(id => "1.b/d c$c", section => 1, measure => "get hit vs UNLOGGED table PK lookup, $c client" . ($c > 1 ? 's' : ''),
        stats => [paired($ratio, ['rt', 'get', $c, 'tps'], ['rt', 'table_get', $c, 'tps'])], target => ['>=', 1.3],
        abs => sprintf('get %s tps, table %s tps', fmt_rate($tps{get}), fmt_rate($tps{table_get})));
    ratio_row(id => "1.h/b c$c", section => 1, measure => "fetch hit vs get hit (cost: get tps / fetch tps), $c client" . ($c > 1 ? 's' : ''),
        stats => [paired($ratio, ['rt', 'get', $c, 'tps'], ['rt', 'fetch', $c, 'tps'])], target => ['<=', 1.1],
        abs => sprintf('fetch %s tps, get %s tps', fmt_rate(med('rt', 'fetch', $c, 'tps')), fmt_rate($tps{get})));
    ratio_row(id => "1.c/e c$c", section => 1, measure => "put overwrite vs UNLOGGED table upsert, $c client" . ($c > 1 ? 's' : ''),
        stats => [paired($ratio, ['rt', 'put', $c, 'tps'], ['rt', 'table_upsert', $c, 'tps'])], target => ['>=', 2],
        abs => sprintf('put %s tps, upsert %s tps', fmt_rate($tps{put}), fmt_rate($tps{table_upsert})));
    my ($tx, $at_commit) = map { med('rt', $_, $c, 'tps') } qw(put_tx put_at_commit);
    ratio_row(id => "1.g/f c$c", section => 1,
        measure => "put at commit vs plain put, each in BEGIN … COMMIT, $c client" . ($c > 1 ? 's' : ''),
        stats => [paired($ratio, ['rt', 'put_at_commit', $c, 'tps'], ['rt', 'put_tx', $c, 'tps'])],
        abs => sprintf('at commit %s tps, plain %s tps', fmt_rate($at_commit), fmt_rate($tx)));
}

# ---------------------------------------------------------------------------------------------
# 2: inside one statement

{
    my ($n) = keys %{ $S{stmt}{base} || {} };
    if (defined $n) {
        my $per_row = sub { my $case = shift; my $ms = med('stmt', $case, $n, 'ms'); defined $ms ? $ms * 1e6 / $n : undef };
        my ($b, $g, $j, $ji) = map { $per_row->($_) } qw(base get join join_index);
        ratio_row(id => '2.get', section => 2, measure => "get's added per-row cost / baseline per-row cost ($n rows)",
            stats => [paired($added, ['stmt', 'get', $n, 'ms'], ['stmt', 'base', $n, 'ms'])], target => ['<=', 1.0],
            abs => sprintf('baseline %s/row, with get %s/row (get adds %s)', fmt_ns($b), fmt_ns($g),
                defined $g && defined $b ? fmt_ns($g - $b) : 'n/a'));
        ratio_row(id => '2.fetch', section => 2, measure => "statement time: fetch hit vs get hit ($n rows)",
            stats => [paired($ratio, ['stmt', 'fetch', $n, 'ms'], ['stmt', 'get', $n, 'ms'])], target => ['<=', 1.1],
            abs => sprintf('fetch %s/row, get %s/row', fmt_ns($per_row->('fetch')), fmt_ns($g)));
        my $plan = $M{stmt_join_plan} // 'planner\'s choice';
        ratio_row(id => '2.join', section => 2, measure => "statement time: get vs join to UNLOGGED table ($plan)",
            stats => [paired($ratio, ['stmt', 'get', $n, 'ms'], ['stmt', 'join', $n, 'ms'])],
            abs => sprintf('join %s/row (below 1: get is faster)', fmt_ns($j)));
        ratio_row(id => '2.join_index', section => 2, measure => 'statement time: get vs join forced to index nested loop',
            stats => [paired($ratio, ['stmt', 'get', $n, 'ms'], ['stmt', 'join_index', $n, 'ms'])],
            abs => sprintf('index join %s/row', fmt_ns($ji)));
    }
    # mget against the same keys row by row (the speed-up per key: rows time / mget time).
    for my $keys (sort { $a <=> $b } keys %{ $S{stmt}{mget} || {} }) {
        my $calls = $keys == 10000 ? ($M{mget_small_reps} // 1) : 1;
        my $per_key = sub { my $ms = med('stmt', shift, $keys, 'ms'); defined $ms ? $ms * 1e6 / ($keys * $calls) : undef };
        my $what = $calls > 1 ? "$keys keys per call, $calls calls in the statement" : "$keys keys, one call";
        ratio_row(id => "2.mget.$keys", section => 2,
            measure => "mget speed-up per key over row-by-row get of the same keys ($what)",
            stats => [paired($ratio, ['stmt', 'rows', $keys, 'ms'], ['stmt', 'mget', $keys, 'ms'])], target => ['>=', 2],
            abs => sprintf('mget %s/key, get row by row %s/key', fmt_ns($per_key->('mget')), fmt_ns($per_key->('rows'))));
    }
}

# ---------------------------------------------------------------------------------------------
# 3: hash tables inside one backend

{
    my $n = $M{settings} && $M{settings} =~ /hash_n=(\d+)/ ? $1 : '?';
    my @ops = (
        ['find_hit', 'ns_per_op', ['<=', 0.9], 'find_hit ns/op'],
        ['insert', 'ns_per_op', ['<=', 1.0], 'insert ns/op (growing from empty)'],
        ['insert', 'max_ns', ['<=', 0.05], 'insert max latency'],
        ['insert', 'p99_ns', undef, 'insert p99 latency'],
        ['find_hit', 'p99_ns', undef, 'find_hit p99 latency'],
        ['find_miss', 'ns_per_op', ['<=', 0.8], 'find_miss ns/op'],
        ['delete', 'ns_per_op', ['<=', 1.0], 'delete ns/op'],
        ['delete', 'max_ns', undef, 'delete max latency'],
    );
    for my $o (@ops) {
        my ($op, $metric, $target, $label) = @$o;
        my ($d, $s, $y) = map { med('hash', $_, $op, $metric) } qw(dht dshash dynahash);
        ratio_row(id => "3.$op.$metric", section => 3, measure => "dht / dshash: $label (n = $n)",
            stats => [paired($ratio, ['hash', 'dht', $op, $metric], ['hash', 'dshash', $op, $metric])], target => $target,
            abs => sprintf('dht %s, dshash %s, dynahash %s', fmt_ns($d), fmt_ns($s), fmt_ns($y)));
    }
    my ($dr, $sr) = map { med('hash', $_, 'insert_raw', 'max_ns') } qw(dht dshash);
    ratio_row(id => '3.insert_raw.max_ns', section => 3, measure => "dht / dshash: insert max latency, unfiltered (first repetition)",
        stats => [paired($ratio, ['hash', 'dht', 'insert_raw', 'max_ns'], ['hash', 'dshash', 'insert_raw', 'max_ns'])],
        abs => sprintf('dht %s, dshash %s (includes preemption by other processes)', fmt_ns($dr), fmt_ns($sr)));
    if ($S{hash}{dht_presized}) {
        for my $o (['insert', 'max_ns', 'insert max latency'], ['insert', 'ns_per_op', 'insert ns/op'],
                   ['find_hit', 'ns_per_op', 'find_hit ns/op']) {
            my ($op, $metric, $label) = @$o;
            my ($d, $s) = map { med('hash', $_, $op, $metric) } qw(dht_presized dshash_presized);
            ratio_row(id => "3.presized.$op.$metric", section => 3,
                measure => "dht / dshash: $label, with min_dynamic_shared_memory = 1GB (n = $n)",
                stats => [paired($ratio, ['hash', 'dht_presized', $op, $metric], ['hash', 'dshash_presized', $op, $metric])],
                abs => sprintf('dht %s, dshash %s', fmt_ns($d), fmt_ns($s)));
        }
    }
    my $t = med('hash', 'dht', 'timer', 'ns_per_op');
    ratio_row(id => '3.dynahash', section => 3, measure => "dynahash / dht: find_hit ns/op (backend-local lower bound)",
        stats => [paired($ratio, ['hash', 'dynahash', 'find_hit', 'ns_per_op'], ['hash', 'dht', 'find_hit', 'ns_per_op'])],
        abs => sprintf('clock overhead per measurement %s (subtracted)', fmt_ns($t)));
}

# ---------------------------------------------------------------------------------------------
# 4: memory per entry

my $PAYLOAD = 48;  # 16-byte key + 32-byte value
sub mem_row {
    my ($id, $case, $param, $metric, $label, $target) = @_;
    my $m = $S{mem}{$case}{$param} or return;
    my $e = $m->{0}{entries} or return;
    my $bytes = $m->{0}{$metric};
    return unless defined $bytes;
    my $per = $bytes / $e;
    my $over = $per - $PAYLOAD;
    my $status = 'context';
    $status = $over <= $target ? 'met' : 'MISSED' if defined $target;
    push @rows, {
        id => $id, section => 4, measure => $label, value => $over, unit => 'B overhead/entry',
        target => defined $target ? "<= $target B" : '', status => $status,
        abs => sprintf('%.1f B/entry for %d B payload (%s entries, %.1f MB)', $per, $PAYLOAD, fmt_rate($e), $bytes / 1048576),
    };
}
{
    my @cache_params = sort { $a <=> $b } grep { /^\d+$/ } keys %{ $S{mem}{cache} || {} };
    my ($p1, $p2) = @cache_params;
    if (defined $p1) {
        mem_row('4.cache.in_use', 'cache', $p1, 'in_use_bytes', "cache via SQL, 1M entries: 'in use' accounting", 32);
        mem_row('4.cache.segments', 'cache', $p1, 'segment_bytes', 'cache via SQL, 1M entries: total_segment_size', 32);
        mem_row('4.cache.spans', 'cache', $p1, 'span_bytes', 'cache via SQL, 1M entries: pages in DSA spans', undef);
    }
    if (defined $p2) {
        mem_row('4.cache10M.in_use', 'cache', $p2, 'in_use_bytes', "cache via SQL, $p2 entries: 'in use' accounting", undef);
        mem_row('4.cache10M.segments', 'cache', $p2, 'segment_bytes', "cache via SQL, $p2 entries: total_segment_size", undef);
    }
    for my $impl (qw(dht dshash)) {
        my ($n) = keys %{ $S{mem}{"bench_$impl"} || {} };
        next unless defined $n;
        mem_row("4.bench.$impl.spans", "bench_$impl", $n, 'span_bytes', "simple_cache_bench $impl: pages in DSA spans", undef);
        mem_row("4.bench.$impl.segments", "bench_$impl", $n, 'segment_bytes', "simple_cache_bench $impl: total_segment_size", undef);
    }
    mem_row('4.bench.dht.in_use', 'bench_dht', (keys %{ $S{mem}{bench_dht} || {} })[0] // 0, 'in_use_bytes',
        'simple_cache_bench dht: bytes requested', undef);
    my ($n) = keys %{ $S{mem}{bench_dynahash} || {} };
    mem_row('4.bench.dynahash', 'bench_dynahash', $n, 'segment_bytes', 'simple_cache_bench dynahash: memory context (backend-local)', undef)
        if defined $n;
    push @rows, {
        id => '4.published.redis', section => 4, measure => 'Redis (published, not measured)', value => undef, unit => '',
        target => '', status => 'context',
        abs => 'redis.io FAQ: 1M small key -> string value pairs use ~85 MB on 64-bit (~85 B/pair with the data); '
            . 'redis.io MEMORY USAGE: an empty key with an empty value measures 56 B of pure overhead (7.2, jemalloc)',
    };
    push @rows, {
        id => '4.published.memcached', section => 4, measure => 'memcached (published layout, not measured)', value => undef,
        unit => '', target => '', status => 'context',
        abs => '48 B item header + 8 B CAS + key + 1 + value + 2 (CRLF), rounded up to a slab class (factor 1.25): '
            . 'a 16 B key with a 32 B value is a ~107 B item in a 120 B chunk, plus ~5-11 B of hash table: ~75-80 B over the 48 B payload',
    };
}

# ---------------------------------------------------------------------------------------------
# 5: scale and eviction

{
    my @large = keys %{ $S{scale}{large_get} || {} };
    my @small = keys %{ $S{scale}{small_get} || {} };
    if (@large && @small) {
        my ($nl, $ns) = ($large[0], $small[0]);
        my $rows = $M{scale_rows} || 1;
        my $pr = sub { my $ms = med('scale', @_, 'ms'); defined $ms ? $ms * 1e6 / $rows : undef };
        my ($lg, $lb, $sg, $sb) = ($pr->('large_get', $nl), $pr->('large_base', $nl), $pr->('small_get', $ns), $pr->('small_base', $ns));
        ratio_row(id => '5.scale', section => 5, measure => "get latency at $nl entries / at $ns entries (per row, one statement)",
            stats => [paired($ratio, ['scale', 'large_get', $nl, 'ms'], ['scale', 'small_get', $ns, 'ms'])], target => ['<=', 1.3],
            abs => sprintf('%s/row vs %s/row', fmt_ns($lg), fmt_ns($sg)));
        ratio_row(id => '5.scale.added', section => 5, measure => "get's added cost (minus baseline) at $nl / at $ns entries",
            stats => [paired(sub { my ($a, $b, $c, $d) = @_; ($c - $d) > 0 ? ($a - $b) / ($c - $d) : undef },
                ['scale', 'large_get', $nl, 'ms'], ['scale', 'large_base', $nl, 'ms'],
                ['scale', 'small_get', $ns, 'ms'], ['scale', 'small_base', $ns, 'ms'])],
            abs => sprintf('get adds %s vs %s', defined $lg && defined $lb ? fmt_ns($lg - $lb) : 'n/a',
                defined $sg && defined $sb ? fmt_ns($sg - $sb) : 'n/a'));
        my ($tl, $ts) = (med('scale', 'large_pgbench', $nl, 'tps'), med('scale', 'small_pgbench', $ns, 'tps'));
        ratio_row(id => '5.scale.pgbench', section => 5, measure => "get latency through pgbench at $nl / at $ns entries (1 client)",
            stats => [paired($ratio, ['scale', 'small_pgbench', $ns, 'tps'], ['scale', 'large_pgbench', $nl, 'tps'])],
            target => ['<=', 1.3],
            abs => sprintf('%s tps vs %s tps', fmt_rate($tl), fmt_rate($ts)));
    }
    for my $c (1, 8) {
        my ($e, $s) = (med('evict', 'evict', $c, 'tps'), med('evict', 'small', $c, 'tps'));
        next unless defined $e || defined $s;
        ratio_row(id => "5.evict c$c", section => 5, measure => "put throughput with eviction (cache full) / without, $c client" . ($c > 1 ? 's' : ''),
            stats => [paired($ratio, ['evict', 'evict', $c, 'tps'], ['evict', 'small', $c, 'tps'])], target => ['>=', 0.7],
            abs => sprintf('%s tps vs %s tps; %s evictions per put', fmt_rate($e), fmt_rate($s), $M{evict_evictions_per_put} // '?'));
    }
}

# ---------------------------------------------------------------------------------------------
# 6: concurrency

my @CLIENTS = (1, 2, 8, 32);
unlink "$dir/concurrency.dat";
if ($S{conc}) {
    open my $cd, '>', "$dir/concurrency.dat" or die "$dir/concurrency.dat: $!\n";
    print $cd "# clients get_tps put_tps\n";
    for my $c (@CLIENTS) {
        printf $cd "%d %s %s\n", $c, med('conc', 'get', $c, 'tps') // 'NaN', med('conc', 'put', $c, 'tps') // 'NaN';
    }
    close $cd;
}
# The best client count is taken from the medians: the largest of four noisy values in one
# round is biased upwards, the median of each client count is not. The range is per round.
for my $op (qw(get put base)) {
    next if $op eq 'base' && !$S{conc}{base};
    my @series = map { ['conc', $op, $_, 'tps'] } @CLIENTS;
    my @meds = map { med('conc', $op, $_, 'tps') } @CLIENTS;
    my ($m, $lo, $hi, $n) = paired(sub { my $best = max(@_); $best ? $_[-1] / $best : undef }, @series);
    my $best = max(grep { defined } @meds);
    my $value = defined $best && defined $meds[-1] && $best ? $meds[-1] / $best : undef;
    my $label = $op eq 'base' ? "baseline SELECT 'k' || :k (reference)" : $op;
    ratio_row(id => "6.$op", section => 6, measure => "$label: throughput at 32 clients / best client count",
        stats => [$value, $lo, $hi, $n], target => $op eq 'base' ? undef : ['>=', 0.9],
        abs => join(', ', map { "$_: " . fmt_rate(med('conc', $op, $_, 'tps')) } @CLIENTS) . ' tps'
            . (defined $m ? sprintf('; median of per-round ratios %.2f', $m) : ''));
}

# ---------------------------------------------------------------------------------------------
# 7: peers

for my $p (['get', 'redis_get', 'mc_get', 'sc_get'], ['set/put', 'redis_set', 'mc_set', 'sc_put']) {
    my ($label, $r, $m, $sc) = @$p;
    my ($vr, $vm, $vs) = map { med('peer', $_, 1, 'ops') } ($r, $m, $sc);
    ratio_row(id => "7.redis.$sc", section => 7, measure => "simple_cache (pgbench) / redis-server, $label, 1 client",
        stats => [paired($ratio, ['peer', $sc, 1, 'ops'], ['peer', $r, 1, 'ops'])],
        abs => sprintf('simple_cache %s/s, redis %s/s', fmt_rate($vs), fmt_rate($vr))) if defined $vr;
    ratio_row(id => "7.memcached.$sc", section => 7, measure => "simple_cache (pgbench) / memcached, $label, 1 client",
        stats => [paired($ratio, ['peer', $sc, 1, 'ops'], ['peer', $m, 1, 'ops'])],
        abs => sprintf('simple_cache %s/s, memcached %s/s', fmt_rate($vs), fmt_rate($vm))) if defined $vm;
}

# 7, pgmemcache: the same pgbench get and put through pgmemcache to a local memcached.
for my $c (1, 8) {
    for my $p (['get', 'sc_get', 'pgmc_get', 'memcache_get'], ['put', 'sc_put', 'pgmc_put', 'memcache_set']) {
        my ($label, $sc, $pm, $fn) = @$p;
        my ($vs, $vp) = map { med('pgmc', $_, $c, 'tps') } ($sc, $pm);
        next unless defined $vp;
        ratio_row(id => "7.pgmemcache.$label c$c", section => 7,
            measure => "simple_cache $label / pgmemcache $fn (pgbench), $c client" . ($c > 1 ? 's' : ''),
            stats => [paired($ratio, ['pgmc', $sc, $c, 'tps'], ['pgmc', $pm, $c, 'tps'])],
            abs => sprintf('simple_cache %s tps, pgmemcache %s tps', fmt_rate($vs), fmt_rate($vp)));
    }
}

# ---------------------------------------------------------------------------------------------
# 9: stampede

if ($S{stampede}) {
    my ($clients) = keys %{ $S{stampede}{fetch} || $S{stampede}{naive} || {} };
    my $one = sub { my ($x) = @_; $x };
    for my $p (['fetch', 'simple_cache_fetch (a lease; the others wait for its value)', ['<=', 1]],
               ['naive', 'get, and on a miss compute and put (no lease)', undef]) {
        my ($case, $how, $target) = @$p;
        next unless $S{stampede}{$case};
        ratio_row(id => "9.$case", section => 9, unit => 'computations',
            measure => "computations of one cold key asked for by $clients clients at once: $how",
            stats => [paired($one, ['stampede', $case, $clients, 'computations'])], target => $target,
            abs => sprintf('mean client latency %s ms (the computation takes 50 ms)',
                fmt_num(med('stampede', $case, $clients, 'latency_ms'))));
    }
}

# ---------------------------------------------------------------------------------------------
# Output

my @section_names = (
    '', '1 SQL round trip (pgbench, -M prepared, random keys over 100k)', '2 Inside one statement',
    '3 Hash tables inside one backend (simple_cache_bench)', '4 Memory per entry (16-byte keys, 32-byte values)',
    '5 Scale and eviction', '6 Concurrency (pgbench, 2 cores)', '7 Peers for context (same run)',
    '8 Citus (bench/citus.sh, results in citus.md)', '9 Stampede (pgbench, one cold key, each client once)',
);

sub value_text {
    my ($r) = @_;
    return '' unless defined $r->{value};
    if ($r->{unit} eq 'x') {
        my $f = abs($r->{value}) < 0.1 ? '%.3f' : '%.2f';
        my $t = sprintf($f, $r->{value});
        $t .= sprintf(" ($f–$f, %d rounds)", $r->{lo}, $r->{hi}, $r->{rounds}) if ($r->{rounds} // 0) > 1;
        return $t;
    }
    return sprintf('%.0f %s (%.0f–%.0f, %d rounds)', $r->{value}, $r->{unit}, $r->{lo}, $r->{hi}, $r->{rounds})
        if $r->{unit} eq 'computations' && ($r->{rounds} // 0) > 1;
    return sprintf('%.1f %s', $r->{value}, $r->{unit});
}

my $md = '';
$md .= "# simple_cache benchmark results\n\n";
$md .= sprintf("%s run, %s. Machine: %s CPUs (`nproc`), %s, %s RAM, Linux %s; %s. Commit %s.\n",
    $M{quick} ? 'QUICK' : 'Full', $M{date} // '?', $M{nproc} // '?', $M{cpu} // '?', $M{memory} // '?',
    $M{kernel} // '?', $M{postgres} // '?', $M{commit} // '?');
$md .= sprintf("Load average before / after: %s / %s. Duration %s. Settings: %s.\n\n",
    $M{load_before} // '?', $M{load_after} // '?', $M{duration} // '?', $M{settings} // '?');
$md .= "Ratios are medians of per-round ratios (A and B run next to each other in each round, order "
    . "alternating), with the range over rounds in brackets; absolute figures are medians and only context. "
    . "Section 6 divides the medians (see bench/README.md).\n";
my $last_section = 0;
my $met = 0;
my $missed = 0;
for my $r (@rows) {
    if ($r->{section} != $last_section) {
        $last_section = $r->{section};
        $md .= "\n### $section_names[$last_section]\n\n";
        $md .= "| measure | result | target | status | absolute (context) |\n|---|---|---|---|---|\n";
    }
    $met++ if $r->{status} eq 'met';
    $missed++ if $r->{status} eq 'MISSED';
    my $status = $r->{status} eq 'MISSED' ? '**MISSED**' : $r->{status};
    my @cells = map { (my $c = $_ // '') =~ s/\|/\\|/g; $c } ($r->{measure}, value_text($r), $r->{target}, $status, $r->{abs});
    $md .= '| ' . join(' | ', @cells) . " |\n";
}
$md .= "\nTargets: $met met, $missed missed.\n";
$md .= "\nPlots: `insert_latency.png` (insert latency over table growth, dht vs dshash vs dynahash), "
    . "`insert_latency_presized.png` (the same with min_dynamic_shared_memory, full run), `concurrency.png`.\n";

open my $out, '>', "$dir/results.md" or die "$dir/results.md: $!\n";
print $out $md;
close $out;

open my $csv, '>', "$dir/results.csv" or die "$dir/results.csv: $!\n";
print $csv "id,section,measure,value,unit,min,max,rounds,target,status,absolute\n";
for my $r (@rows) {
    my @f = map { my $v = $_ // ''; $v =~ s/"/""/g; $v =~ /[,"]/ ? qq("$v") : $v }
        ($r->{id}, $r->{section}, $r->{measure}, defined $r->{value} ? sprintf('%.4f', $r->{value}) : '',
         $r->{unit}, defined $r->{lo} ? sprintf('%.4f', $r->{lo}) : '', defined $r->{hi} ? sprintf('%.4f', $r->{hi}) : '',
         $r->{rounds}, $r->{target}, $r->{status}, $r->{abs});
    print $csv join(',', @f), "\n";
}
close $csv;

print $md;
