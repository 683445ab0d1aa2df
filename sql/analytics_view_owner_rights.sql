-- The models of a customer view are fitted with its owner's rights, as
-- REFRESH MATERIALIZED VIEW runs the view's query: whoever refreshes (a
-- superuser here) neither runs the owner's code as themselves nor fits over
-- rows or columns the owner may not read.
\set VERBOSITY terse
SET timezone = 'UTC';
CREATE ROLE regress_cvr_owner;
CREATE SCHEMA analytics_rights AUTHORIZATION regress_cvr_owner;

-- 1. the owner's orders relation is a view that calls the owner's function:
-- it records who runs it, tries to make its owner a superuser and to change
-- the caller's search_path
SET ROLE regress_cvr_owner;
CREATE TABLE analytics_rights.seen (who name, superuser_attempt text);
CREATE TABLE analytics_rights.raw (cid int, at timestamptz, amount numeric);
INSERT INTO analytics_rights.raw
SELECT g % 20, timestamptz '2025-01-01 00:00+00' + g * interval '1 day', g FROM generate_series(1, 200) g;
CREATE FUNCTION analytics_rights.spy() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        ALTER ROLE regress_cvr_owner SUPERUSER;
        INSERT INTO analytics_rights.seen VALUES (current_user, 'succeeded');
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO analytics_rights.seen VALUES (current_user, 'failed');
    END;
    PERFORM set_config('search_path', 'analytics_rights, pg_catalog', false);
    RETURN 0;
END $$;
CREATE VIEW analytics_rights.orders AS
SELECT cid, at, amount + analytics_rights.spy() AS amount FROM analytics_rights.raw;
SELECT clm.create_customer_view('analytics_rights.cv', 'analytics_rights.orders', 'cid', 'at', 'amount',
                                timestamptz '2025-06-01 00:00+00');
DELETE FROM analytics_rights.seen;
RESET ROLE;
SET search_path = public;
SELECT clm.refresh_customer_view('analytics_rights.cv', timestamptz '2025-07-01 00:00+00');
SELECT who, superuser_attempt, count(*) > 0 AS calls FROM analytics_rights.seen GROUP BY 1, 2 ORDER BY 1, 2;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_cvr_owner';
SHOW search_path;
SELECT customers, as_of FROM clm.customer_view WHERE view_schema = 'analytics_rights' AND view_name = 'cv';
-- a plain REFRESH with row_security off, as pg_dump's scripts run it: the
-- view's query reads its registry row as the owner, with the registry's
-- row-level security on
SET row_security = off;
REFRESH MATERIALIZED VIEW analytics_rights.cv;
RESET row_security;
SELECT count(*) AS view_rows, min(as_of) AS as_of FROM analytics_rights.cv;

-- the fit itself is not callable by PUBLIC, refuses to run as anyone but
-- the owner (a superuser may call it), and the helper that switches to the
-- owner checks ownership first
SELECT has_function_privilege('public', 'clm._customer_view_fit(regclass, timestamptz)', 'EXECUTE') AS public_may_fit,
       has_function_privilege('public', 'clm._customer_view_refit(regclass, timestamptz)', 'EXECUTE') AS public_may_refit;
SELECT clm._customer_view_fit('analytics_rights.cv', timestamptz '2025-07-01 00:00+00');
CREATE ROLE regress_cvr_stranger;
GRANT USAGE ON SCHEMA analytics_rights TO regress_cvr_stranger;
SET ROLE regress_cvr_stranger;
SELECT clm._customer_view_fit('analytics_rights.cv', timestamptz '2025-07-01 00:00+00');
SELECT clm._customer_view_refit('analytics_rights.cv', timestamptz '2025-07-01 00:00+00');
SELECT clm._customer_view_refit('analytics_rights.raw', timestamptz '2025-07-01 00:00+00');
RESET ROLE;
SELECT count(*) AS calls_as_others FROM analytics_rights.seen WHERE who <> 'regress_cvr_owner';

-- 2. row-level security on orders the owner does not own: the owner sees
-- customers 0..9 only, and a superuser's refresh fits over those rows
CREATE TABLE analytics_rights.shared (cid int, at timestamptz, amount numeric);
ALTER TABLE analytics_rights.shared OWNER TO CURRENT_USER;
INSERT INTO analytics_rights.shared SELECT cid, at, amount FROM analytics_rights.raw;
ALTER TABLE analytics_rights.shared ENABLE ROW LEVEL SECURITY;
CREATE POLICY low_customers ON analytics_rights.shared FOR SELECT TO regress_cvr_owner USING (cid < 10);
GRANT SELECT ON analytics_rights.shared TO regress_cvr_owner;
SET ROLE regress_cvr_owner;
SELECT clm.create_customer_view('analytics_rights.cv_rls', 'analytics_rights.shared', 'cid', 'at', 'amount',
                                timestamptz '2025-06-01 00:00+00');
RESET ROLE;
SELECT clm.refresh_customer_view('analytics_rights.cv_rls', timestamptz '2025-07-01 00:00+00');
SET ROLE regress_cvr_owner;
-- the models and thresholds equal those the owner fits on its own rows
WITH s AS (
    SELECT cid, clm.rfm_agg(at, amount, timestamptz '2025-07-01 00:00+00') AS rfm,
           clm.purchase_summary(at, amount, timestamptz '2025-07-01 00:00+00', '7 days') AS ps
      FROM analytics_rights.shared WHERE at <= '2025-07-01 00:00+00' GROUP BY cid
), own AS (
    SELECT count(*) AS customers, clm.rfm_thresholds(rfm) AS th,
           clm.bgnbd_fit((ps).x, (ps).t_x, (ps).t) AS bg FROM s
)
SELECT r.customers, r.customers = own.customers AS customers_as_owner_sees,
       r.thresholds::text = own.th::text AS thresholds_as_owner_sees,
       r.bgnbd::text = own.bg::text AS bgnbd_as_owner_sees,
       (SELECT count(*) FROM analytics_rights.cv_rls) AS view_rows
  FROM clm.customer_view AS r, own
 WHERE r.view_schema = 'analytics_rights' AND r.view_name = 'cv_rls';
RESET ROLE;

-- 3. column privileges: the owner may read the customer and time columns
-- but no longer the amount; every column the fit reads is checked
REVOKE SELECT ON analytics_rights.shared FROM regress_cvr_owner;
GRANT SELECT (cid, at) ON analytics_rights.shared TO regress_cvr_owner;
SELECT clm.refresh_customer_view('analytics_rights.cv_rls', timestamptz '2025-08-01 00:00+00');
SELECT as_of FROM clm.customer_view WHERE view_schema = 'analytics_rights' AND view_name = 'cv_rls';
-- creating a view of columns one may not read fails the same way, and
-- leaves nothing behind
SET ROLE regress_cvr_owner;
SELECT clm.create_customer_view('analytics_rights.cv_cols', 'analytics_rights.shared', 'cid', 'at', 'amount',
                                timestamptz '2025-06-01 00:00+00');
RESET ROLE;
SELECT to_regclass('analytics_rights.cv_cols') AS view_left,
       (SELECT count(*) FROM clm.customer_view WHERE view_name = 'cv_cols') AS registry_rows;

RESET search_path;
DROP SCHEMA analytics_rights CASCADE;
DELETE FROM clm.customer_view WHERE view_schema = 'analytics_rights';
DROP ROLE regress_cvr_owner;
DROP ROLE regress_cvr_stranger;
