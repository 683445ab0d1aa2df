--
-- lifecycle_history_access: which rows of clm.stage_history a role reads.
-- A row is visible when the reader may read the customers table it belongs
-- to (SELECT on it, USAGE on its schema) and, where that table's row-level
-- security applies to the reader, the customer row itself.  Rows of tables
-- the reader may not read are filtered out, never an error; a table that is
-- dropped and created again starts a new history; temporary tables carry no
-- guard (their history could not be told from a later table's).
--
\set VERBOSITY default
SET timezone = 'UTC';
CREATE ROLE regress_hist_alice;
CREATE ROLE regress_hist_bob;
CREATE ROLE regress_hist_carol;
CREATE ROLE regress_hist_dave;
-- alice's schema is private: nobody else may even look up names in it
CREATE SCHEMA hist_a AUTHORIZATION regress_hist_alice;
CREATE SCHEMA hist_b AUTHORIZATION regress_hist_bob;
GRANT USAGE ON SCHEMA hist_b TO PUBLIC;

SET ROLE regress_hist_alice;
CREATE TABLE hist_a.customers (id int PRIMARY KEY, status clm.lifecycle_stage);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON hist_a.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
INSERT INTO hist_a.customers VALUES (1, 'prospect');
UPDATE hist_a.customers SET status = 'lead';
-- SELECT on the table without USAGE on its schema is not enough
GRANT SELECT ON hist_a.customers TO regress_hist_carol;
SELECT relation, customer_key, from_stage, to_stage FROM clm.stage_history ORDER BY id;
RESET ROLE;

-- bob's customers belong to tenants; each tenant sees its own rows only
SET ROLE regress_hist_bob;
CREATE TABLE hist_b.customers (id int PRIMARY KEY, tenant name NOT NULL, status clm.lifecycle_stage);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON hist_b.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
ALTER TABLE hist_b.customers ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON hist_b.customers USING (tenant = current_user);
-- a policy function that notes whose rights it runs with
CREATE FUNCTION hist_b.note_reader() RETURNS boolean LANGUAGE sql VOLATILE
    RETURN set_config('regress_hist.policy_ran_as', current_user, false) IS NOT NULL;
CREATE POLICY note_reader ON hist_b.customers AS RESTRICTIVE USING (hist_b.note_reader());
GRANT SELECT ON hist_b.customers TO regress_hist_carol, regress_hist_dave;
INSERT INTO hist_b.customers VALUES
    (10, 'regress_hist_carol', 'prospect'), (11, 'regress_hist_carol', 'prospect'),
    (20, 'regress_hist_dave', 'prospect');
UPDATE hist_b.customers SET status = 'first_purchase' WHERE id IN (10, 20);
-- the owner is not subject to the table's policy: all of its history
SELECT relation, customer_key, from_stage, to_stage FROM clm.stage_history ORDER BY id;
RESET ROLE;

-- carol is subject to the table's policy, which bob wrote: looking her
-- customers up would run bob's policy with carol's rights, which bob may
-- not use.  So she sees none of that table's history (and no error for
-- alice's private schema)
SET ROLE regress_hist_carol;
SELECT count(*) AS visible FROM clm.stage_history;
SELECT current_setting('regress_hist.policy_ran_as', true) AS policy_ran_as;
RESET ROLE;
-- once bob may act as the tenants anyway, their customers are looked up
GRANT regress_hist_carol, regress_hist_dave TO regress_hist_bob;
-- carol: only her tenant's customers
SET ROLE regress_hist_carol;
SELECT relation, customer_key, from_stage, to_stage FROM clm.stage_history ORDER BY id;
SELECT from_stage, to_stage, transitions FROM clm.stage_transition_matrix(NULL, NULL) WHERE transitions > 0;
SELECT step, stage, customers FROM clm.stage_funnel(NULL, NULL, '{prospect,first_purchase}');
SELECT current_setting('regress_hist.policy_ran_as', true) AS policy_ran_as;
SELECT count(*) AS rows_of_hist_b FROM clm.stage_history WHERE relation = 'hist_b.customers'::regclass;
RESET ROLE;

SET ROLE regress_hist_dave;
SELECT relation, customer_key, from_stage, to_stage FROM clm.stage_history ORDER BY id;
SELECT clm.stage_history_visible('hist_b.customers', '20') AS dave_sees_20,
       clm.stage_history_visible('hist_b.customers', '10') AS dave_sees_10,
       clm.stage_history_visible('hist_b.customers', '99') AS dave_sees_99,
       clm.stage_history_visible(0, '20') AS dropped_table;
RESET ROLE;

-- a role with no privilege on any customers table sees no history at all
CREATE ROLE regress_hist_nobody;
SET ROLE regress_hist_nobody;
SELECT count(*) AS visible FROM clm.stage_history;
SELECT count(*) AS matrix_rows FROM clm.stage_transition_matrix(NULL, NULL);
-- and still cannot write it
INSERT INTO clm.stage_history (relation, customer_key, to_stage, changed_at)
VALUES ('hist_b.customers', '10', 'loyal', '2026-01-01');
-- asking the policy function directly tells it nothing it could not read itself
SELECT clm.stage_history_visible('hist_b.customers', '10') AS nobody_sees_10;
-- nor can it detach history: that function is for the event trigger only
SELECT clm.stage_history_detach_dropped();
RESET ROLE;

-- losing the privilege hides the rows again; FORCE ROW LEVEL SECURITY
-- subjects the owner to the table's policy for history too
REVOKE SELECT ON hist_b.customers FROM regress_hist_dave;
SET ROLE regress_hist_dave;
SELECT count(*) AS visible FROM clm.stage_history;
RESET ROLE;
ALTER TABLE hist_b.customers FORCE ROW LEVEL SECURITY;
SET ROLE regress_hist_bob;
SELECT count(*) AS visible FROM clm.stage_history;
RESET ROLE;
ALTER TABLE hist_b.customers NO FORCE ROW LEVEL SECURITY;

-- a customer deleted from the table: under the table's policy its history
-- goes with it (nobody can tell whose it was); the owner keeps seeing it
DELETE FROM hist_b.customers WHERE id = 11;
SET ROLE regress_hist_carol;
SELECT customer_key, to_stage FROM clm.stage_history ORDER BY id;
RESET ROLE;
SET ROLE regress_hist_bob;
SELECT customer_key, to_stage FROM clm.stage_history ORDER BY id;

-- dropped and created again: the new table does not inherit the old history
CREATE TABLE hist_b.leads (id int PRIMARY KEY, status clm.lifecycle_stage);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON hist_b.leads
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
INSERT INTO hist_b.leads VALUES (1, 'lead');
DROP TABLE hist_b.leads;
CREATE TABLE hist_b.leads (id int PRIMARY KEY, status clm.lifecycle_stage);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON hist_b.leads
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
INSERT INTO hist_b.leads VALUES (1, 'prospect');
SELECT relation, customer_key, from_stage, to_stage FROM clm.stage_history WHERE relation = 'hist_b.leads'::regclass ORDER BY id;
SELECT from_stage, to_stage, transitions FROM clm.stage_transition_matrix(NULL, NULL, 'hist_b.leads') WHERE transitions > 0;
-- renamed: the history follows the table
ALTER TABLE hist_b.leads RENAME TO prospects;
SELECT relation, customer_key, to_stage FROM clm.stage_history WHERE relation = 'hist_b.prospects'::regclass ORDER BY id;

-- a temporary table cannot carry the guard
CREATE TEMP TABLE customers (id int PRIMARY KEY, status clm.lifecycle_stage);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
INSERT INTO customers VALUES (1, 'prospect');
DROP TABLE customers;
RESET ROLE;

-- the owner of clm.stage_history sees everything, the dropped table's rows
-- without a table (relation 0, shown as "-")
SELECT relation, customer_key, from_stage, to_stage, changed_by FROM clm.stage_history
WHERE changed_by::text LIKE 'regress\_hist\_%' ORDER BY id;

DELETE FROM clm.stage_history WHERE changed_by::text LIKE 'regress\_hist\_%';
DROP SCHEMA hist_a CASCADE;
DROP SCHEMA hist_b CASCADE;
DROP ROLE regress_hist_alice, regress_hist_bob, regress_hist_carol, regress_hist_dave, regress_hist_nobody;
RESET timezone;
