--
-- catalog: rules every object of the extension must follow, checked on the
-- installed catalog rather than by reading the script.  Each query lists
-- the offenders, so the expected output is empty result sets.
--
\set VERBOSITY default

-- every member object carries a COMMENT; array types and the row types of
-- tables and views come with their base object (PostgreSQL 17 and later
-- record them as members too)
SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) AS uncommented
FROM pg_catalog.pg_depend d
WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass
  AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'clm')
  AND d.deptype = 'e'
  AND pg_catalog.obj_description(d.objid, (SELECT relname FROM pg_catalog.pg_class WHERE oid = d.classid)) IS NULL
  AND NOT EXISTS (SELECT FROM pg_catalog.pg_type t
                  WHERE d.classid = 'pg_catalog.pg_type'::regclass AND t.oid = d.objid
                    AND (EXISTS (SELECT FROM pg_catalog.pg_type e WHERE e.typarray = t.oid)
                         OR EXISTS (SELECT FROM pg_catalog.pg_class c
                                    WHERE c.oid = t.typrelid AND c.relkind <> 'c')))
ORDER BY 1;

-- every aggregate can run in parallel plans: PARALLEL SAFE, a combine
-- function, and serial/deserial functions when the state is internal
SELECT a.aggfnoid::regprocedure AS not_parallel_ready
FROM pg_catalog.pg_aggregate a
JOIN pg_catalog.pg_proc p ON p.oid = a.aggfnoid
WHERE p.pronamespace = 'clm'::regnamespace
  AND a.aggkind = 'n'
  AND (p.proparallel <> 's'
       OR a.aggcombinefn = 0
       OR (a.aggtranstype = 'internal'::regtype
           AND (a.aggserialfn = 0 OR a.aggdeserialfn = 0)))
ORDER BY 1;

-- SQL and PL/pgSQL functions resolve names at run time: they must pin
-- search_path, unless they have an SQL-standard body (parsed at CREATE)
SELECT p.oid::regprocedure AS unpinned_search_path
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_language l ON l.oid = p.prolang
WHERE p.pronamespace = 'clm'::regnamespace
  AND l.lanname IN ('sql', 'plpgsql')
  AND p.prosqlbody IS NULL
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(p.proconfig) c WHERE c LIKE 'search\_path=%')
ORDER BY 1;

-- SECURITY DEFINER functions: pinned search_path and not executable by PUBLIC
SELECT p.oid::regprocedure AS unsafe_security_definer
FROM pg_catalog.pg_proc p
WHERE p.pronamespace = 'clm'::regnamespace
  AND p.prosecdef
  AND (NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(p.proconfig) c WHERE c LIKE 'search\_path=%')
       OR pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE'))
ORDER BY 1;

-- C functions come from clm's own library, through module_pathname (CREATE
-- FUNCTION has already checked that each symbol exists)
SELECT p.oid::regprocedure AS missing_symbol
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_language l ON l.oid = p.prolang
WHERE p.pronamespace = 'clm'::regnamespace AND l.lanname = 'c'
  AND p.probin IS DISTINCT FROM '$libdir/clm'
ORDER BY 1;

-- a role with no privileges beyond the defaults can use the schema
CREATE ROLE clm_catalog_nobody;
SELECT pg_catalog.has_schema_privilege('clm_catalog_nobody', 'clm', 'USAGE') AS schema_usable;
DROP ROLE clm_catalog_nobody;
