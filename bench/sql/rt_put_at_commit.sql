-- 1g: the same write made at commit, simple_cache_put_at_commit, in a transaction block: the
-- queueing, the item built at pre-commit and the link at commit.
\set k random(1, :nkeys)
BEGIN;
SELECT simple_cache_put_at_commit('k' || :k, 'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv');
COMMIT;
