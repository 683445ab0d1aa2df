--
-- setup: install clm the way a database in use gets it: the oldest release
-- first, then ALTER EXTENSION ... UPDATE through every step to the current
-- version.  Runs first; the other tests run on the updated install.
--
CREATE EXTENSION clm VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'clm';
ALTER EXTENSION clm UPDATE;
SELECT extname, extversion, extrelocatable, n.nspname AS schema
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE extname = 'clm';
-- the update path PostgreSQL found: 1.0 reaches the default version
SELECT source, target, path FROM pg_extension_update_paths('clm')
WHERE path IS NOT NULL ORDER BY 1, 2;
-- a version clm never had, and an update to a version with no path, are
-- refused by PostgreSQL itself, and change nothing
DROP EXTENSION clm;
CREATE EXTENSION clm VERSION '0.9';
CREATE EXTENSION clm VERSION '1.0';
ALTER EXTENSION clm UPDATE TO '0.9';
ALTER EXTENSION clm UPDATE TO '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'clm';
DROP EXTENSION clm;
-- the schema is fixed: clm cannot be installed anywhere else
CREATE EXTENSION clm SCHEMA public;
CREATE EXTENSION clm VERSION '1.0';
ALTER EXTENSION clm UPDATE;
-- there is no way back: no downgrade script
ALTER EXTENSION clm UPDATE TO '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'clm';
