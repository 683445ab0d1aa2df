-- The registry row of a customer view is writable by its owner, and the
-- view can be refreshed by any member of the owner role, superusers
-- included: nothing the owner stores there may run as the refresher.
\set VERBOSITY default
CREATE ROLE regress_cv_owner;
CREATE SCHEMA analytics_sec AUTHORIZATION regress_cv_owner;
CREATE TABLE analytics_sec.secret(cid int, at timestamptz, amount numeric);
INSERT INTO analytics_sec.secret
SELECT g % 20, timestamptz '2025-01-01 00:00+00' + g * interval '1 day', g FROM generate_series(1, 200) g;
ALTER TABLE analytics_sec.secret OWNER TO CURRENT_USER;
REVOKE ALL ON analytics_sec.secret FROM PUBLIC;

SET ROLE regress_cv_owner;
CREATE TABLE analytics_sec.orders(cid int, at timestamptz, amount numeric);
INSERT INTO analytics_sec.orders
SELECT g % 20, timestamptz '2025-01-01 00:00+00' + g * interval '1 day', g FROM generate_series(1, 200) g;
SELECT clm.create_customer_view('analytics_sec.cv', 'analytics_sec.orders', 'cid', 'at', 'amount',
                                timestamptz '2026-01-01 00:00+00');

-- 1. SQL in orders_relation: a name that to_regclass resolves (unquoted
-- parts may hold anything but dots and spaces; the lookup truncates to 63
-- bytes) but that runs a function when pasted into a query unquoted
UPDATE clm.customer_view
   SET orders_relation = $$analytics_sec.x,lateral(select/**/set_config(concat('clm',chr(46),'regress_pwned'),current_user::text,false))z,pg_stat_activity$$,
       customer_column = 'pid', ordered_at_column = 'backend_start', amount_column = 'pid'
 WHERE view_schema = 'analytics_sec' AND view_name = 'cv';
CREATE TABLE analytics_sec.x(i int);
INSERT INTO analytics_sec.x VALUES (1);
SELECT pg_catalog.format('CREATE TABLE analytics_sec.%I (i int)',
                         left(lower(substr(orders_relation, length('analytics_sec.') + 1)), 63))
  FROM clm.customer_view WHERE view_schema = 'analytics_sec' AND view_name = 'cv'
\gexec
RESET ROLE;
SELECT clm.refresh_customer_view('analytics_sec.cv', timestamptz '2100-01-01 00:00+00') IS NOT NULL AS refreshed;
SELECT coalesce(current_setting('clm.regress_pwned', true), '') = '' AS not_injected;

-- 2. the fit reads the orders on the owner's behalf: pointing the row at a
-- table only the refresher can read must not leak a model of it
SET ROLE regress_cv_owner;
UPDATE clm.customer_view
   SET orders_relation = 'analytics_sec.secret'::regclass, customer_column = 'cid',
       ordered_at_column = 'at', amount_column = 'amount', bgnbd = NULL
 WHERE view_schema = 'analytics_sec' AND view_name = 'cv';
RESET ROLE;
SELECT clm.refresh_customer_view('analytics_sec.cv', timestamptz '2026-01-01 00:00+00') IS NOT NULL AS refreshed;
SELECT bgnbd IS NULL AS no_model_of_secret FROM clm.customer_view
 WHERE view_schema = 'analytics_sec' AND view_name = 'cv';

-- 3. a role may register views only where it may create them: otherwise
-- it could take a name in someone else's schema, and the owner of that
-- schema could neither see nor remove the row, nor create the view
CREATE ROLE regress_cv_other;
CREATE SCHEMA analytics_sec_other AUTHORIZATION regress_cv_other;
GRANT USAGE ON SCHEMA analytics_sec TO regress_cv_other;
GRANT SELECT ON analytics_sec.orders TO regress_cv_other;
SET ROLE regress_cv_other;
INSERT INTO clm.customer_view (view_schema, view_name, orders_relation, customer_column, ordered_at_column,
                               amount_column, policy, time_unit, horizon_days, clv_months,
                               monthly_discount_rate, as_of, definition)
VALUES ('analytics_sec', 'cv2', 'analytics_sec.orders', 'cid', 'at', 'amount', 'default', '7 days', 90, 12,
        0.01, '2026-01-01', '');
INSERT INTO clm.customer_view (view_schema, view_name, orders_relation, customer_column, ordered_at_column,
                               amount_column, policy, time_unit, horizon_days, clv_months,
                               monthly_discount_rate, as_of, definition)
VALUES ('analytics_sec_other', 'cv2', 'analytics_sec.orders', 'cid', 'at', 'amount', 'default', '7 days', 90, 12,
        0.01, '2026-01-01', '');
UPDATE clm.customer_view SET view_schema = 'analytics_sec' WHERE view_schema = 'analytics_sec_other';
DELETE FROM clm.customer_view WHERE view_schema = 'analytics_sec_other';
-- through create_customer_view the same is a plain privilege error
SELECT clm.create_customer_view('analytics_sec.cv3', 'analytics_sec.orders', 'cid', 'at', 'amount',
                                timestamptz '2026-01-01 00:00+00');
SELECT clm.create_customer_view('no_such_schema.cv3', 'analytics_sec.orders', 'cid', 'at', 'amount',
                                timestamptz '2026-01-01 00:00+00');
RESET ROLE;
SET ROLE regress_cv_owner;
SELECT clm.create_customer_view('analytics_sec.cv2', 'analytics_sec.orders', 'cid', 'at', 'amount',
                                timestamptz '2026-01-01 00:00+00');
RESET ROLE;
SELECT r.view_schema, r.view_name, c.relowner::regrole AS owner
  FROM clm.customer_view AS r
  LEFT JOIN pg_class AS c ON c.oid = to_regclass(format('%I.%I', r.view_schema, r.view_name))
 WHERE r.view_schema LIKE 'analytics_sec%' ORDER BY 1, 2;
-- a role with CREATE on a schema may not take over or remove the registry
-- row of a view someone else owns there, nor move its own row onto it
GRANT CREATE ON SCHEMA analytics_sec TO regress_cv_other;
SET ROLE regress_cv_other;
DELETE FROM clm.customer_view WHERE view_schema = 'analytics_sec' AND view_name = 'cv2';
UPDATE clm.customer_view SET as_of = '2000-01-01' WHERE view_schema = 'analytics_sec' AND view_name = 'cv2';
SELECT clm.drop_customer_view('analytics_sec.cv2');
INSERT INTO clm.customer_view (view_schema, view_name, orders_relation, customer_column, ordered_at_column,
                               amount_column, policy, time_unit, horizon_days, clv_months,
                               monthly_discount_rate, as_of, definition)
VALUES ('analytics_sec', 'cv2', 'analytics_sec.orders', 'cid', 'at', 'amount', 'default', '7 days', 90, 12,
        0.01, '2026-01-01', '');
SELECT clm.create_customer_view('analytics_sec.cv_mine', 'analytics_sec.orders', 'cid', 'at', 'amount',
                                timestamptz '2026-01-01 00:00+00');
UPDATE clm.customer_view SET view_name = 'cv2' WHERE view_schema = 'analytics_sec' AND view_name = 'cv_mine';
SELECT clm.drop_customer_view('analytics_sec.cv_mine');
RESET ROLE;
REVOKE CREATE ON SCHEMA analytics_sec FROM regress_cv_other;
SELECT view_name, as_of FROM clm.customer_view WHERE view_schema = 'analytics_sec' ORDER BY 1;
-- a row whose view was dropped by hand belongs to whoever may create the
-- view: a role without CREATE on the schema neither sees nor removes it,
-- one with CREATE does (and create_customer_view replaces it)
SET ROLE regress_cv_owner;
SELECT clm.create_customer_view('analytics_sec.cv_stale', 'analytics_sec.orders', 'cid', 'at', 'amount',
                                timestamptz '2026-01-01 00:00+00');
DROP MATERIALIZED VIEW analytics_sec.cv_stale;
RESET ROLE;
SET ROLE regress_cv_other;
SELECT count(*) AS stale_rows_seen FROM clm.customer_view WHERE view_name = 'cv_stale';
DELETE FROM clm.customer_view WHERE view_name = 'cv_stale';
RESET ROLE;
GRANT CREATE ON SCHEMA analytics_sec TO regress_cv_other;
SET ROLE regress_cv_other;
SELECT count(*) AS stale_rows_seen FROM clm.customer_view WHERE view_name = 'cv_stale';
SELECT clm.drop_customer_view('analytics_sec.cv_stale');
RESET ROLE;
REVOKE CREATE ON SCHEMA analytics_sec FROM regress_cv_other;
SELECT count(*) AS stale_rows_left FROM clm.customer_view WHERE view_name = 'cv_stale';
-- a member of the owner role refreshes and drops like the owner
CREATE ROLE regress_cv_member IN ROLE regress_cv_owner;
SET ROLE regress_cv_member;
SELECT clm.create_customer_view('analytics_sec.cv_team', 'analytics_sec.orders', 'cid', 'at', 'amount',
                                timestamptz '2026-01-01 00:00+00');
ALTER MATERIALIZED VIEW analytics_sec.cv_team OWNER TO regress_cv_owner;
SELECT clm.refresh_customer_view('analytics_sec.cv_team', timestamptz '2026-02-01 00:00+00') IS NOT NULL AS refreshed;
SELECT clm.drop_customer_view('analytics_sec.cv_team');
RESET ROLE;
DROP ROLE regress_cv_member;

-- 4. a role that made a customer view is dropped after REASSIGN OWNED:
-- the view's new owner refreshes and drops it (the registry row follows the
-- materialized view's owner), and everyone else's reads of the registry
-- (and so every refresh) keep working
CREATE ROLE regress_cv_gone;
GRANT CREATE, USAGE ON SCHEMA analytics_sec_other TO regress_cv_gone;
GRANT USAGE ON SCHEMA analytics_sec_other TO regress_cv_owner;
SET ROLE regress_cv_gone;
CREATE TABLE analytics_sec_other.orders(cid int, at timestamptz, amount numeric);
INSERT INTO analytics_sec_other.orders
SELECT g % 20, timestamptz '2025-01-01 00:00+00' + g * interval '1 day', g FROM generate_series(1, 200) g;
SELECT clm.create_customer_view('analytics_sec_other.cv_gone', 'analytics_sec_other.orders', 'cid', 'at', 'amount',
                                timestamptz '2026-01-01 00:00+00');
RESET ROLE;
REASSIGN OWNED BY regress_cv_gone TO regress_cv_other;
DROP OWNED BY regress_cv_gone;
DROP ROLE regress_cv_gone;
SET ROLE regress_cv_owner;
SELECT view_schema, view_name FROM clm.customer_view WHERE view_schema LIKE 'analytics_sec%' ORDER BY 1, 2;
SELECT clm.refresh_customer_view('analytics_sec.cv2', timestamptz '2026-01-01 00:00+00', false) IS NOT NULL AS refreshed;
RESET ROLE;
SET ROLE regress_cv_other;
SELECT count(*) AS rows_of_readable_views FROM analytics_sec_other.cv_gone;
SELECT clm.refresh_customer_view('analytics_sec_other.cv_gone', timestamptz '2026-02-01 00:00+00') IS NOT NULL AS refreshed;
SELECT as_of, customers FROM clm.customer_view WHERE view_schema = 'analytics_sec_other' AND view_name = 'cv_gone';
SELECT DISTINCT as_of FROM analytics_sec_other.cv_gone;
SELECT clm.drop_customer_view('analytics_sec_other.cv_gone');
SELECT to_regclass('analytics_sec_other.cv_gone') AS view_left,
       (SELECT count(*) FROM clm.customer_view WHERE view_name = 'cv_gone') AS registry_rows;
RESET ROLE;

-- 5. a customer view in a schema another role may not even look into
-- (no USAGE) stays invisible to that role, and its registry reads work
REVOKE USAGE ON SCHEMA analytics_sec_other FROM regress_cv_owner;
SET ROLE regress_cv_owner;
SELECT view_schema, view_name FROM clm.customer_view WHERE view_schema LIKE 'analytics_sec%' ORDER BY 1, 2;
SELECT clm.refresh_customer_view('analytics_sec.cv2', timestamptz '2026-01-01 00:00+00', false) IS NOT NULL AS refreshed;
RESET ROLE;

-- 6. a customer view renamed by hand leaves its registry row under the old
-- name, which a role that may create that name can take: replacing it with
-- a row of its own must not change what the renamed view holds after a
-- plain REFRESH (it refreshes empty: its row is gone with its name)
SET ROLE regress_cv_owner;
SELECT clm.create_customer_view('analytics_sec.cv_renamed', 'analytics_sec.orders', 'cid', 'at', 'amount',
                                timestamptz '2026-01-01 00:00+00');
ALTER MATERIALIZED VIEW analytics_sec.cv_renamed RENAME TO cv_new_name;
RESET ROLE;
GRANT CREATE ON SCHEMA analytics_sec TO regress_cv_other;
SET ROLE regress_cv_other;
DELETE FROM clm.customer_view WHERE view_schema = 'analytics_sec' AND view_name = 'cv_renamed';
INSERT INTO clm.customer_view (view_schema, view_name, orders_relation, customer_column, ordered_at_column,
                               amount_column, policy, time_unit, horizon_days, clv_months,
                               monthly_discount_rate, as_of, definition)
VALUES ('analytics_sec', 'cv_renamed', 'analytics_sec.orders', 'cid', 'at', 'amount', 'default', '7 days', 90, 12,
        0.01, '2030-01-01', '');
RESET ROLE;
REVOKE CREATE ON SCHEMA analytics_sec FROM regress_cv_other;
SET ROLE regress_cv_owner;
REFRESH MATERIALIZED VIEW analytics_sec.cv_new_name;
SELECT count(*) AS customers, max(as_of) AS as_of FROM analytics_sec.cv_new_name;
DROP MATERIALIZED VIEW analytics_sec.cv_new_name;
RESET ROLE;

DELETE FROM clm.customer_view WHERE view_schema LIKE 'analytics_sec%';
DROP SCHEMA analytics_sec CASCADE;
DROP SCHEMA analytics_sec_other CASCADE;
DROP ROLE regress_cv_owner;
DROP ROLE regress_cv_other;
