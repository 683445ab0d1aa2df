--
-- setup: install clm.  Runs first; the other tests assume the extension.
-- When clm gains a 1.1, this becomes the upgrade-chain test: install the
-- oldest version and ALTER EXTENSION ... UPDATE through every step.
--
CREATE EXTENSION clm;
SELECT extname, extversion, extrelocatable, n.nspname AS schema
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE extname = 'clm';
-- the schema is fixed: clm cannot be installed anywhere else
DROP EXTENSION clm;
CREATE EXTENSION clm SCHEMA public;
CREATE EXTENSION clm;
