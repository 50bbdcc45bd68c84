-- 9: the same cold key read cache-aside without a lease: get, and on a miss compute and put.
SELECT length(coalesce(simple_cache_get('naive:' || :round),
                       (SELECT v FROM (SELECT bench_slow_fill('naive:' || :round) AS v) f
                        WHERE simple_cache_put('naive:' || :round, v) IS NOT NULL)));
