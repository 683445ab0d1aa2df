-- clm: customer lifecycle management for PostgreSQL
--
-- The install script is built by the Makefile from the SQL sources of each
-- area (src/<area>/*.sql), in the order given there: lifecycle, RFM, CLV,
-- analytics.  Every object lives in the schema clm (the control file fixes
-- it; relocatable = false), and every reference is qualified with
-- @extschema@ or pg_catalog, because the search_path in effect during
-- CREATE EXTENSION is not to be trusted.

\echo Use "CREATE EXTENSION clm" to load this file. \quit

-- CREATE EXTENSION creates the schema clm owned by the installing role, or
-- adopts a schema of that name that already exists.  Whoever owns that
-- schema controls its contents and its name: the owner of a schema created
-- beforehand by someone else could later rename it away and put look-alike
-- functions into a new clm, which jobs of the DBA (clm.refresh_stages under
-- pg_cron) would then run with the DBA's rights.  So clm installs only into
-- a schema owned by the installing role, in which no other role may create
-- objects.
DO $install_check$
DECLARE
    nsp pg_catalog.pg_namespace;
    creators text;
BEGIN
    SELECT * INTO nsp FROM pg_catalog.pg_namespace WHERE oid = '@extschema@'::pg_catalog.regnamespace;
    IF nsp.nspowner OPERATOR(pg_catalog.<>) (SELECT oid FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) CURRENT_USER) THEN
        RAISE EXCEPTION 'schema "%" is owned by role "%", not by the role installing clm', nsp.nspname,
                        pg_catalog.pg_get_userbyid(nsp.nspowner)
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The owner of the schema could rename it and put look-alike objects in its place.',
                  HINT = 'Find out why that role created it; then drop or rename it, or have it transferred to you (ALTER SCHEMA ... OWNER TO), and install again.';
    END IF;
    SELECT pg_catalog.string_agg(DISTINCT CASE a.grantee WHEN 0 THEN 'PUBLIC'
                                      ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END, ', ') INTO creators
      FROM pg_catalog.aclexplode(nsp.nspacl) AS a
     WHERE a.privilege_type OPERATOR(pg_catalog.=) 'CREATE' AND a.grantee OPERATOR(pg_catalog.<>) nsp.nspowner;
    IF creators IS NOT NULL THEN
        RAISE EXCEPTION 'other roles may create objects in schema "%"', nsp.nspname
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'CREATE on the schema is granted to: ' || creators || '.',
                  HINT = 'REVOKE CREATE ON SCHEMA ' || pg_catalog.quote_ident(nsp.nspname) || ' FROM those roles, and install again.';
    END IF;
END
$install_check$;

-- Everything in the schema is meant for every role of the database.
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
