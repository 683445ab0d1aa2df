--
-- lifecycle_history_lookup_errors: where a customers table's row-level
-- security applies to the reader, clm.stage_history_visible looks each
-- history row's customer up by key, as the reader.  A lookup that cannot
-- succeed (a key that is no value of the key column's type any more, a
-- policy reading a table the reader may not read) is a customer the reader
-- cannot see: the row is filtered out, and reading the history never fails
-- for it.  A key that could belong to either of two key columns is never
-- looked up in the wrong one.  Errors about the query itself (a timeout)
-- are not swallowed.
--
\set VERBOSITY default
SET timezone = 'UTC';
CREATE ROLE regress_hle_owner;
CREATE ROLE regress_hle_reader;
-- the owner may act as the reader: the tables' policies run for it
GRANT regress_hle_reader TO regress_hle_owner;
CREATE SCHEMA hle AUTHORIZATION regress_hle_owner;
GRANT USAGE ON SCHEMA hle TO regress_hle_reader;

SET ROLE regress_hle_owner;
-- the key column changed type after a customer whose key is no integer
-- left: its history stays
CREATE TABLE hle.retyped (k text PRIMARY KEY, s clm.lifecycle_stage,
                          tenant name NOT NULL DEFAULT 'regress_hle_reader');
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON hle.retyped
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('s', 'k');
INSERT INTO hle.retyped (k, s) VALUES ('legacy-1', 'prospect'), ('2', 'prospect');
DELETE FROM hle.retyped WHERE k = 'legacy-1';
ALTER TABLE hle.retyped ALTER COLUMN k TYPE int USING k::int;
ALTER TABLE hle.retyped ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON hle.retyped USING (tenant = current_user);
GRANT SELECT ON hle.retyped TO regress_hle_reader;

-- two guards keyed on different columns: customer 1 (ext '2') is the
-- reader's, customer 2 (ext '1') is not.  Looking ext '1' up as an id
-- would show the reader customer 2's history.
CREATE TABLE hle.two_keys (id int PRIMARY KEY, ext text UNIQUE, s1 clm.lifecycle_stage,
                           s2 clm.lifecycle_stage, tenant name NOT NULL);
CREATE TRIGGER stage_guard_1 BEFORE INSERT OR UPDATE ON hle.two_keys
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('s1', 'id');
CREATE TRIGGER stage_guard_2 BEFORE INSERT OR UPDATE ON hle.two_keys
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('s2', 'ext');
INSERT INTO hle.two_keys VALUES (1, '2', 'prospect', 'lead', 'regress_hle_reader'),
                                (2, '1', 'prospect', 'lead', 'someone_else');
ALTER TABLE hle.two_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON hle.two_keys USING (tenant = current_user);
GRANT SELECT ON hle.two_keys TO regress_hle_reader;

-- a policy that reads a table the reader may not read
CREATE TABLE hle.tenants (name name);
CREATE TABLE hle.unreadable_policy (id int PRIMARY KEY, s clm.lifecycle_stage,
                                    tenant name NOT NULL DEFAULT 'regress_hle_reader');
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON hle.unreadable_policy
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('s', 'id');
INSERT INTO hle.unreadable_policy (id, s) VALUES (1, 'prospect');
ALTER TABLE hle.unreadable_policy ENABLE ROW LEVEL SECURITY;
CREATE POLICY listed_tenant ON hle.unreadable_policy USING (tenant IN (SELECT name FROM hle.tenants));
GRANT SELECT ON hle.unreadable_policy TO regress_hle_reader;

-- a table without row-level security: all of its history
CREATE TABLE hle.open (id int PRIMARY KEY, s clm.lifecycle_stage);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON hle.open
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('s', 'id');
INSERT INTO hle.open VALUES (1, 'prospect');
GRANT SELECT ON hle.open TO regress_hle_reader;
-- a table a parallel plan would scan with workers (joined to the history
-- by id modulo its size: the ids depend on the tests run before)
CREATE TABLE hle.numbers AS SELECT g::bigint AS i FROM generate_series(0, 99999) AS g;
ANALYZE hle.numbers;
GRANT SELECT ON hle.numbers TO regress_hle_reader;
RESET ROLE;

SET ROLE regress_hle_reader;
-- reading the table itself fails; reading the history does not
SELECT * FROM hle.unreadable_policy;
SELECT relation, customer_key, from_stage, to_stage FROM clm.stage_history
 WHERE relation::text LIKE 'hle.%' ORDER BY id;
SELECT clm.stage_history_visible('hle.retyped', 'legacy-1') AS legacy_key,
       clm.stage_history_visible('hle.retyped', '2') AS current_key,
       clm.stage_history_visible('hle.two_keys', '1') AS other_tenants_ext,
       clm.stage_history_visible('hle.unreadable_policy', '1') AS unreadable_policy;
SELECT from_stage, to_stage, transitions FROM clm.stage_transition_matrix(NULL, NULL)
 WHERE transitions > 0;
-- a query that could run with parallel workers joins the history too (the
-- lookups' subtransactions keep it from using them)
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT count(*) AS joined FROM clm.stage_history AS h
  JOIN hle.numbers AS g ON g.i = h.id % 100000
 WHERE h.relation::text LIKE 'hle.%';
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET ROLE;

-- a key of a domain type is looked up as its base type: the domain's CHECK,
-- which may call its owner's functions, does not run as the reader
CREATE ROLE regress_hle_typeowner;
CREATE SCHEMA hle_types AUTHORIZATION regress_hle_typeowner;
GRANT USAGE ON SCHEMA hle_types TO PUBLIC;
SET ROLE regress_hle_typeowner;
CREATE FUNCTION hle_types.note(k text) RETURNS boolean LANGUAGE sql VOLATILE
    RETURN set_config('regress_hle.domain_check_ran_as', current_user, false) IS NOT NULL;
CREATE DOMAIN hle_types.code AS text CHECK (hle_types.note(VALUE));
RESET ROLE;
SET ROLE regress_hle_owner;
CREATE TABLE hle.coded (k hle_types.code PRIMARY KEY, s clm.lifecycle_stage,
                        tenant name NOT NULL DEFAULT 'regress_hle_reader');
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON hle.coded
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('s', 'k');
INSERT INTO hle.coded (k, s) VALUES ('A-1', 'prospect');
ALTER TABLE hle.coded ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON hle.coded USING (tenant = current_user);
GRANT SELECT ON hle.coded TO regress_hle_reader;
RESET ROLE;
SET regress_hle.domain_check_ran_as = '';
SET ROLE regress_hle_reader;
SELECT customer_key, to_stage FROM clm.stage_history WHERE relation = 'hle.coded'::regclass;
RESET ROLE;
SELECT current_setting('regress_hle.domain_check_ran_as') AS domain_check_ran_as;

-- a cancel during a lookup is the query's, not the row's: it is raised
SET ROLE regress_hle_owner;
CREATE FUNCTION hle.slow() RETURNS boolean LANGUAGE sql VOLATILE
    RETURN pg_sleep(10) IS NOT NULL;
CREATE POLICY slow ON hle.retyped AS RESTRICTIVE USING (hle.slow());
RESET ROLE;
SET ROLE regress_hle_reader;
SET statement_timeout = '1s';
SELECT count(*) FROM clm.stage_history WHERE relation = 'hle.retyped'::regclass;
RESET statement_timeout;
RESET ROLE;

DELETE FROM clm.stage_history WHERE relation::text LIKE 'hle.%';
DROP SCHEMA hle CASCADE;
DROP SCHEMA hle_types CASCADE;
DROP ROLE regress_hle_owner, regress_hle_reader, regress_hle_typeowner;
RESET timezone;
