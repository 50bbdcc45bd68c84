-- 9: every client asks for the same cold key at once through simple_cache_fetch; the fill query
-- (bench_slow_fill: records the computation, then sleeps 50 ms) must run once per round.
SELECT length(simple_cache_fetch('stampede:' || :round, format('SELECT bench_slow_fill(%L)', 'stampede:' || :round)));
