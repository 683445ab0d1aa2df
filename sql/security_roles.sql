--
-- security_roles: clm acts with the rights of the role that calls it.  A
-- non-owner with the privileges a job needs can do it; a role without them
-- gets permission denied (42501) and changes nothing.  Covered here: the
-- order trigger and clm.refresh_stages on someone else's tables, the
-- analyses over someone else's orders, and writes to clm's own tables by a
-- role that does not own the extension.  (The customer view's functions and
-- the history's visibility have their own tests: analytics_view_security,
-- analytics_view_owner_rights, lifecycle_history_access.)
--
\set VERBOSITY terse
CREATE ROLE regress_sr_owner;
CREATE ROLE regress_sr_clerk;
CREATE ROLE regress_sr_analyst;
CREATE ROLE regress_sr_nobody;
CREATE SCHEMA sr AUTHORIZATION regress_sr_owner;
GRANT USAGE ON SCHEMA sr TO regress_sr_clerk, regress_sr_analyst, regress_sr_nobody;

SET ROLE regress_sr_owner;
CREATE TABLE sr.customers (id int PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TABLE sr.orders (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                        customer_id int NOT NULL REFERENCES sr.customers,
                        at timestamptz NOT NULL, amount numeric NOT NULL);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON sr.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
CREATE TRIGGER stage_on_order AFTER INSERT ON sr.orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('sr.customers', 'customer_id', 'status', 'at');
INSERT INTO sr.customers VALUES (1, 'prospect', '2024-01-01'), (2, 'prospect', '2024-01-01');
INSERT INTO sr.orders (customer_id, at, amount) VALUES
    (1, '2024-02-01', 10), (1, '2024-03-01', 20), (2, '2024-02-15', 5);
-- the clerk enters orders and may read customers, but not update them
GRANT SELECT, INSERT ON sr.orders TO regress_sr_clerk;
GRANT SELECT ON sr.customers TO regress_sr_clerk;
-- the analyst reads orders only
GRANT SELECT ON sr.orders TO regress_sr_analyst;
RESET ROLE;

-- the owner's stages, for comparison after every refused attempt
CREATE FUNCTION pg_temp.stages() RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(id || ':' || status, ',' ORDER BY id) FROM sr.customers $$;
CREATE FUNCTION pg_temp.history_rows() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM clm.stage_history WHERE relation = 'sr.customers'::regclass $$;
SELECT pg_temp.stages() AS stages, pg_temp.history_rows() AS history_rows;

-- 1. The order trigger moves the customer as the inserting role: without
--    UPDATE on the customers the order is refused, and nothing moves.
SET ROLE regress_sr_clerk;
INSERT INTO sr.orders (customer_id, at, amount) VALUES (2, '2024-04-01', 7);
RESET ROLE;
SELECT pg_temp.stages() AS stages, pg_temp.history_rows() AS history_rows,
       (SELECT count(*) FROM sr.orders) AS orders;
-- with UPDATE granted, the same clerk's order moves customer 2
GRANT UPDATE ON sr.customers TO regress_sr_clerk;
SET ROLE regress_sr_clerk;
INSERT INTO sr.orders (customer_id, at, amount) VALUES (2, '2024-04-01', 7);
RESET ROLE;
SELECT pg_temp.stages() AS stages, pg_temp.history_rows() AS history_rows;
SELECT changed_by FROM clm.stage_history WHERE relation = 'sr.customers'::regclass
 ORDER BY id DESC LIMIT 1;
REVOKE UPDATE ON sr.customers FROM regress_sr_clerk;

-- 2. clm.refresh_stages updates as the caller: refused without UPDATE.
SET ROLE regress_sr_analyst;
SELECT clm.refresh_stages('sr.customers', 'sr.orders', 'id', 'status', 'customer_id', 'at',
                          '2026-01-01 00:00+00');
SET ROLE regress_sr_clerk;
SELECT clm.refresh_stages('sr.customers', 'sr.orders', 'id', 'status', 'customer_id', 'at',
                          '2026-01-01 00:00+00');
RESET ROLE;
SELECT pg_temp.stages() AS stages, pg_temp.history_rows() AS history_rows;
-- the owner (not a superuser) may
SET ROLE regress_sr_owner;
SELECT clm.refresh_stages('sr.customers', 'sr.orders', 'id', 'status', 'customer_id', 'at',
                          '2026-01-01 00:00+00') AS moved;
RESET ROLE;
SELECT pg_temp.stages() AS stages;

-- 3. The analyses read the orders as the caller: an analyst with SELECT on
--    the orders gets results, a role without it gets 42501.
SET ROLE regress_sr_analyst;
SELECT cohort, period_number, cohort_size, active_customers
  FROM clm.cohort_retention('sr.orders', 'customer_id', 'at', 'amount', 'month',
                            '2024-04-30 00:00+00')
 WHERE period_number <= 1 ORDER BY 1, 2;
SELECT count(*) AS strata_rows
  FROM clm.churn_survival('sr.orders', 'customer_id', 'at', '30 days', '2024-06-01 00:00+00');
SELECT active_customers, new_customers
  FROM clm.lifecycle_kpis('sr.orders', 'customer_id', 'at', 'amount',
                          '2024-01-01 00:00+00', '2024-05-01 00:00+00');
SET ROLE regress_sr_nobody;
SELECT * FROM clm.cohort_retention('sr.orders', 'customer_id', 'at', 'amount', 'month',
                                   '2024-04-30 00:00+00');
SELECT * FROM clm.churn_survival('sr.orders', 'customer_id', 'at', '30 days', '2024-06-01 00:00+00');
SELECT * FROM clm.lifecycle_kpis('sr.orders', 'customer_id', 'at', 'amount',
                                 '2024-01-01 00:00+00', '2024-05-01 00:00+00');
SELECT clm.rfm_agg(at, amount, '2024-06-01 00:00+00') FROM sr.orders;
-- nor does it see the customers' history
SELECT count(*) AS history_visible FROM clm.stage_history;

-- 4. clm's own tables: readable by everyone, writable only by the
--    extension's owner (a superuser here), whatever the other role owns.
SET ROLE regress_sr_owner;
SELECT count(*) > 0 AS reads_policies FROM clm.lifecycle_policy;
INSERT INTO clm.lifecycle_policy (name) VALUES ('regress_sr');
UPDATE clm.lifecycle_policy SET fallback_gap_days = 1 WHERE name = 'default';
SELECT count(*) > 0 AS reads_rules FROM clm.rfm_segment_rule;
INSERT INTO clm.rfm_segment_rule (ruleset, segment, r_min, r_max, f_min, f_max, m_min, m_max, label_en)
VALUES ('regress_sr', 'x', 1, 5, 1, 5, 1, 5, 'x');
INSERT INTO clm.stage_transition_rule VALUES ('churned', 'lead');
DELETE FROM clm.stage_history;
UPDATE clm.stage_history SET to_stage = 'loyal';
INSERT INTO clm.stage_history (relation, customer_key, to_stage, changed_at)
VALUES ('sr.customers', '1', 'loyal', now());
SELECT pg_catalog.setval('clm.stage_history_id_seq', 1);
DELETE FROM clm.customer_view;
RESET ROLE;
SELECT pg_temp.stages() AS stages, pg_temp.history_rows() AS history_rows,
       (SELECT count(*) FROM clm.lifecycle_policy WHERE name = 'regress_sr') AS policies_added;

DELETE FROM clm.stage_history WHERE relation = 'sr.customers'::regclass;
DROP SCHEMA sr CASCADE;
DROP ROLE regress_sr_owner, regress_sr_clerk, regress_sr_analyst, regress_sr_nobody;
