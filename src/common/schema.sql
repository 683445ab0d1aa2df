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
-- objects, that holds no object of another role (created while someone
-- could: a function overloading one of clm's with text arguments would be
-- chosen over clm's for a call with string literals, and its owner could
-- replace its body at any time), and whose default privileges grant the
-- installing role's new objects to no one (they would grant clm's tables
-- and functions).
DO $install_check$
DECLARE
    nsp pg_catalog.pg_namespace;
    creators text;
    foreign_objects text;
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
    SELECT pg_catalog.string_agg(pg_catalog.format('%s %s (owner %s)', i.type, i.identity,
                                                   pg_catalog.pg_get_userbyid(o.owner)),
                                 ', ' ORDER BY o.classid, o.objid) INTO foreign_objects
      FROM (SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, c.oid, c.relowner FROM pg_catalog.pg_class AS c
             WHERE c.relnamespace OPERATOR(pg_catalog.=) nsp.oid
            UNION ALL
            SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass, p.oid, p.proowner FROM pg_catalog.pg_proc AS p
             WHERE p.pronamespace OPERATOR(pg_catalog.=) nsp.oid
            UNION ALL
            SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, t.oid, t.typowner FROM pg_catalog.pg_type AS t
             WHERE t.typnamespace OPERATOR(pg_catalog.=) nsp.oid
            UNION ALL
            SELECT 'pg_catalog.pg_operator'::pg_catalog.regclass, o.oid, o.oprowner FROM pg_catalog.pg_operator AS o
             WHERE o.oprnamespace OPERATOR(pg_catalog.=) nsp.oid
            UNION ALL
            SELECT 'pg_catalog.pg_collation'::pg_catalog.regclass, c.oid, c.collowner FROM pg_catalog.pg_collation AS c
             WHERE c.collnamespace OPERATOR(pg_catalog.=) nsp.oid
            UNION ALL
            SELECT 'pg_catalog.pg_conversion'::pg_catalog.regclass, c.oid, c.conowner FROM pg_catalog.pg_conversion AS c
             WHERE c.connamespace OPERATOR(pg_catalog.=) nsp.oid
            UNION ALL
            SELECT 'pg_catalog.pg_opclass'::pg_catalog.regclass, c.oid, c.opcowner FROM pg_catalog.pg_opclass AS c
             WHERE c.opcnamespace OPERATOR(pg_catalog.=) nsp.oid
            UNION ALL
            SELECT 'pg_catalog.pg_opfamily'::pg_catalog.regclass, f.oid, f.opfowner FROM pg_catalog.pg_opfamily AS f
             WHERE f.opfnamespace OPERATOR(pg_catalog.=) nsp.oid
            UNION ALL
            SELECT 'pg_catalog.pg_ts_config'::pg_catalog.regclass, c.oid, c.cfgowner FROM pg_catalog.pg_ts_config AS c
             WHERE c.cfgnamespace OPERATOR(pg_catalog.=) nsp.oid
            UNION ALL
            SELECT 'pg_catalog.pg_ts_dict'::pg_catalog.regclass, d.oid, d.dictowner FROM pg_catalog.pg_ts_dict AS d
             WHERE d.dictnamespace OPERATOR(pg_catalog.=) nsp.oid
            UNION ALL
            SELECT 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass, x.oid, x.stxowner FROM pg_catalog.pg_statistic_ext AS x
             WHERE x.stxnamespace OPERATOR(pg_catalog.=) nsp.oid) AS o(classid, objid, owner),
           LATERAL pg_catalog.pg_identify_object(o.classid, o.objid, 0) AS i
     WHERE o.owner OPERATOR(pg_catalog.<>) nsp.nspowner;
    IF foreign_objects IS NOT NULL THEN
        RAISE EXCEPTION 'schema "%" holds objects of other roles', nsp.nspname
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = pg_catalog.format('%s.', foreign_objects),
                  HINT = 'Their owners can change them, and calls meant for clm could reach them; drop them, and install again.';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_default_acl AS d
                WHERE d.defaclnamespace OPERATOR(pg_catalog.=) nsp.oid
                  AND d.defaclrole OPERATOR(pg_catalog.=) nsp.nspowner) THEN
        RAISE EXCEPTION 'schema "%" has default privileges for the objects the installing role creates in it', nsp.nspname
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'They would grant clm''s tables and functions, such as the stage history, to other roles.',
                  HINT = 'Remove them with ALTER DEFAULT PRIVILEGES IN SCHEMA ' || pg_catalog.quote_ident(nsp.nspname)
                         || ' REVOKE ..., and install again.';
    END IF;
END
$install_check$;

-- Everything in the schema is meant for every role of the database.
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
