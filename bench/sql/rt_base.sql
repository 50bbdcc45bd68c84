-- 1a: the baseline round trip, a trivial expression on the key.
\set k random(1, :nkeys)
SELECT 'k' || :k;
