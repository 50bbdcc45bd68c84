-- pgTAP: the extension installs and is registered.
-- Every file runs in one transaction that is rolled back, so files do not depend on each other.
-- Template for more files: CREATE EXTENSION both, plan(n), assertions, finish(), ROLLBACK.
-- Useful assertions: has_function('simple_cache_get', ARRAY['text']), is(), results_eq(),
-- throws_ok(), lives_ok(); see https://pgtap.org/documentation.html
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(2);

SELECT lives_ok('CREATE EXTENSION IF NOT EXISTS simple_cache', 'CREATE EXTENSION simple_cache works');
SELECT ok(EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'simple_cache'),
          'simple_cache is listed in pg_extension');

SELECT * FROM finish();
ROLLBACK;
