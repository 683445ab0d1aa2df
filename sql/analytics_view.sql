--
-- analytics_view: clm.create_customer_view / refresh_customer_view /
-- drop_customer_view on tables with hostile names and bigint, uuid and text
-- keys.  The view's columns are checked against the same figures computed
-- by hand-written SQL and by the component functions directly.
--
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA analytics_view;
SET search_path = analytics_view, public;

-- 300 customers with 1..6 orders each over 2024-01 .. 2025-08, deterministic
CREATE TABLE x (keep int);
CREATE TABLE "Orders; DROP TABLE x" (
    "Customer; DROP TABLE x" bigint,
    "when"" --" timestamptz,
    "amount $" numeric(10,2));
INSERT INTO "Orders; DROP TABLE x"
SELECT c, timestamptz '2024-01-01 00:00+00'
            + ((c * 7919 + k * k * 104729) % 600) * interval '1 day'
            + ((c + k * 37) % 24) * interval '1 hour',
       5 + ((c * 31 + k * 17) % 200)
FROM generate_series(1, 300) AS c, generate_series(1, 1 + c % 6) AS k;
INSERT INTO "Orders; DROP TABLE x" VALUES (NULL, '2024-05-01', 50);   -- no customer: ignored

SELECT clm.create_customer_view('"Customer View; DROP TABLE x"', '"Orders; DROP TABLE x"',
                                'Customer; DROP TABLE x', 'when" --', 'amount $',
                                as_of => '2025-07-01');
SELECT to_regclass('analytics_view.x') IS NOT NULL AS x_still_there;

-- the view: a materialized view next to the orders, with a unique index
SELECT c.relname, c.relkind, i.indisunique, pg_get_indexdef(i.indexrelid) AS index
FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid
WHERE c.relnamespace = 'analytics_view'::regnamespace AND c.relkind = 'm';
SELECT attname, format_type(atttypid, atttypmod) AS type
FROM pg_attribute
WHERE attrelid = '"Customer View; DROP TABLE x"'::regclass AND attnum > 0
ORDER BY attnum;

-- the registry row: as-of, models and thresholds fixed at creation
SELECT view_schema, view_name, orders_relation, customer_column,
       ordered_at_column, amount_column, policy, time_unit, horizon_days, clv_months,
       monthly_discount_rate, as_of, customers,
       (bgnbd).r IS NOT NULL AS has_bgnbd, (gamma_gamma).p IS NOT NULL AS has_gamma_gamma,
       (thresholds).recency_breaks IS NOT NULL AS has_thresholds, definition LIKE '%WITH m AS%' AS has_definition
FROM clm.customer_view WHERE view_schema = 'analytics_view';
SELECT 'clm.customer_view'::regclass = ANY (extconfig) AS registry_is_dumped
FROM pg_extension WHERE extname = 'clm';

-- one row per customer with orders up to as_of (inclusive); same figures as plain SQL
CREATE TABLE by_hand AS
SELECT "Customer; DROP TABLE x" AS customer_key,
       count(*) AS orders, sum("amount $") AS revenue,
       min("when"" --") AS first_order_at, max("when"" --") AS last_order_at,
       extract(epoch FROM timestamptz '2025-07-01' - max("when"" --")) / 86400 AS recency_days
FROM "Orders; DROP TABLE x"
WHERE "Customer; DROP TABLE x" IS NOT NULL AND "when"" --" <= '2025-07-01'
GROUP BY 1;
SELECT (SELECT count(*) FROM "Customer View; DROP TABLE x") AS view_rows,
       (SELECT count(*) FROM by_hand) AS customers,
       (SELECT count(*) FROM "Customer View; DROP TABLE x" v JOIN by_hand h USING (customer_key)
         WHERE v.orders = h.orders AND v.revenue = h.revenue AND v.first_order_at = h.first_order_at
           AND v.last_order_at = h.last_order_at AND abs(v.recency_days - h.recency_days) < 1e-9) AS matching_rows;

-- scores, segment, stage and predictions equal the component functions
-- applied directly with the registry's as_of, thresholds and models
CREATE TABLE direct AS
WITH reg AS (SELECT * FROM clm.customer_view WHERE view_schema = 'analytics_view'), d AS (
    SELECT o."Customer; DROP TABLE x" AS customer_key,
           clm.rfm_agg(o."when"" --", o."amount $", reg.as_of) AS rfm,
           clm.purchase_summary(o."when"" --", o."amount $", reg.as_of, reg.time_unit) AS ps
      FROM "Orders; DROP TABLE x" AS o, reg
     WHERE o."Customer; DROP TABLE x" IS NOT NULL AND o."when"" --" <= reg.as_of
     GROUP BY 1
)
SELECT d.customer_key, d.rfm, d.ps, clm.rfm_score(d.rfm, reg.thresholds) AS sc,
       reg.as_of, reg.bgnbd, reg.gamma_gamma
  FROM d, reg;
SELECT count(*) AS rows_checked,
       bool_and(v.r_score = (d.sc).r AND v.f_score = (d.sc).f AND v.m_score = (d.sc).m
                AND v.rfm_score = (d.sc).score) AS scores_ok,
       bool_and(v.segment IS NOT DISTINCT FROM clm.rfm_segment(d.sc)) AS segment_ok,
       bool_and(v.stage = clm.classify_stage(v.orders, v.first_order_at, v.last_order_at, d.as_of)) AS stage_ok,
       bool_and(abs(v.p_alive - clm.bgnbd_p_alive(d.bgnbd, (d.ps).x, (d.ps).t_x, (d.ps).t)) < 1e-12) AS p_alive_ok,
       bool_and(abs(v.expected_purchases
                    - clm.bgnbd_expected_purchases(d.bgnbd, 90 / 7.0, (d.ps).x, (d.ps).t_x, (d.ps).t)) < 1e-9) AS expected_ok,
       bool_and(abs(v.predicted_clv
                    - clm.clv(d.bgnbd, d.gamma_gamma, (d.ps).x, (d.ps).t_x, (d.ps).t, (d.ps).mean_spend, 12, 0.01, 7))
                < 1e-9 * greatest(1, abs(v.predicted_clv))) AS clv_ok,
       bool_and(v.p_alive BETWEEN 0 AND 1) AS p_alive_in_0_1,
       bool_and(v.predicted_clv >= 0) AS clv_not_negative,
       bool_and(v.as_of = '2025-07-01') AS as_of_ok
FROM "Customer View; DROP TABLE x" AS v JOIN direct AS d USING (customer_key);

-- a plain REFRESH reproduces the view exactly (as_of and models are stored)
CREATE TABLE before_refresh AS SELECT * FROM "Customer View; DROP TABLE x";
REFRESH MATERIALIZED VIEW "Customer View; DROP TABLE x";
SELECT count(*) AS changed_rows
FROM ((SELECT * FROM before_refresh EXCEPT SELECT * FROM "Customer View; DROP TABLE x")
      UNION ALL
      (SELECT * FROM "Customer View; DROP TABLE x" EXCEPT SELECT * FROM before_refresh)) AS d;

-- refresh_customer_view moves as_of, refits and refreshes concurrently
-- (unqualified name: unique in the registry); new orders count from then on
INSERT INTO "Orders; DROP TABLE x" VALUES (1, '2025-07-15', 99), (100001, '2025-07-20', 10);
SELECT clm.refresh_customer_view('"Customer View; DROP TABLE x"', '2025-08-01');
SELECT count(*) AS view_rows, min(as_of) = '2025-08-01' AND max(as_of) = '2025-08-01' AS as_of_moved,
       count(*) FILTER (WHERE customer_key = 100001) AS new_customer,
       (SELECT orders FROM "Customer View; DROP TABLE x" WHERE customer_key = 1) AS customer_1_orders
FROM "Customer View; DROP TABLE x";
SELECT as_of, customers FROM clm.customer_view WHERE view_schema = 'analytics_view';
-- non-concurrent refresh works too
SELECT clm.refresh_customer_view('analytics_view."Customer View; DROP TABLE x"', '2025-08-01', concurrent => false);

-- uuid and text keys, date and timestamp columns, integer amounts
CREATE TABLE orders_uuid AS
SELECT ('00000000-0000-0000-0000-' || lpad(to_hex("Customer; DROP TABLE x"), 12, '0'))::uuid AS customer_id,
       "when"" --"::timestamp AS placed_at, ("amount $" * 100)::bigint AS cents
FROM "Orders; DROP TABLE x" WHERE "Customer; DROP TABLE x" IS NOT NULL;
CREATE TABLE orders_text AS
SELECT 'cust-' || "Customer; DROP TABLE x" AS customer_id, "when"" --"::date AS placed_on,
       "amount $"::float8 AS amount
FROM "Orders; DROP TABLE x" WHERE "Customer; DROP TABLE x" IS NOT NULL;
SELECT clm.create_customer_view('cv_uuid', 'orders_uuid', 'customer_id', 'placed_at', 'cents', as_of => '2025-07-01');
SELECT clm.create_customer_view('analytics_view.cv_text', 'orders_text', 'customer_id', 'placed_on', 'amount',
                                as_of => '2025-07-01', time_unit => '1 day', horizon_days => 30, clv_months => 6);
SELECT format_type(atttypid, NULL) AS key_type, attrelid::regclass AS view
FROM pg_attribute WHERE attname = 'customer_key' AND attrelid IN ('cv_uuid'::regclass, 'cv_text'::regclass)
ORDER BY 2;
-- (a date is its midnight: the orders dated 2025-07-01 are at as_of and count)
SELECT (SELECT count(*) FROM cv_uuid) AS uuid_rows, (SELECT count(*) FROM cv_text) AS text_rows,
       (SELECT sum(revenue) FROM cv_uuid) = 100 * (SELECT sum(revenue) FROM by_hand) AS uuid_revenue_in_cents,
       (SELECT sum(revenue) FROM cv_text)
           = (SELECT sum(amount) FROM orders_text WHERE placed_on <= '2025-07-01') AS text_revenue,
       (SELECT count(*) FROM orders_text WHERE placed_on = '2025-07-01') AS orders_dated_as_of;
SELECT clm.refresh_customer_view('cv_text', '2025-07-02');

-- bad arguments
SELECT clm.create_customer_view('cv_uuid', 'orders_uuid', 'customer_id', 'placed_at', 'cents', as_of => '2025-07-01');
SELECT clm.create_customer_view('a.b.c', 'orders_uuid', 'customer_id', 'placed_at', 'cents');
SELECT clm.create_customer_view('bad name', 'orders_uuid', 'customer_id', 'placed_at', 'cents');
SELECT clm.create_customer_view(NULL, 'orders_uuid', 'customer_id', 'placed_at', 'cents');
SELECT clm.create_customer_view(repeat('v', 51), 'orders_uuid', 'customer_id', 'placed_at', 'cents');
SELECT clm.create_customer_view('cv2', 'orders_uuid', 'customer', 'placed_at', 'cents');
SELECT clm.create_customer_view('cv2', 'orders_uuid', 'customer_id', 'placed_at', NULL);
SELECT clm.create_customer_view('cv2', 'orders_uuid', 'customer_id', 'placed_at', 'cents', as_of => 'infinity');
SELECT clm.create_customer_view('cv2', 'orders_uuid', 'customer_id', 'placed_at', 'cents', time_unit => '0 days');
SELECT clm.create_customer_view('cv2', 'orders_uuid', 'customer_id', 'placed_at', 'cents', horizon_days => 0);
SELECT clm.create_customer_view('cv2', 'orders_uuid', 'customer_id', 'placed_at', 'cents', clv_months => 5000);
SELECT clm.create_customer_view('cv2', 'orders_uuid', 'customer_id', 'placed_at', 'cents', monthly_discount_rate => 'NaN');
SELECT clm.create_customer_view('cv2', 'orders_uuid', 'customer_id', 'placed_at', 'cents', policy => NULL);
SELECT clm.refresh_customer_view('no_such_view');
SELECT clm.refresh_customer_view(NULL);
SELECT clm.refresh_customer_view('cv_uuid', NULL);
SELECT clm.refresh_customer_view('cv_uuid', concurrent => NULL);
-- a view dropped by hand: refresh says so; creating it again replaces the stale entry
DROP MATERIALIZED VIEW cv_uuid;
SELECT clm.refresh_customer_view('cv_uuid');
SELECT clm.create_customer_view('cv_uuid', 'orders_uuid', 'customer_id', 'placed_at', 'cents', as_of => '2025-07-01');
-- ambiguous unqualified names
CREATE SCHEMA analytics_view2;
SELECT clm.create_customer_view('analytics_view2.cv_uuid', 'orders_uuid', 'customer_id', 'placed_at', 'cents', as_of => '2025-07-01');
SELECT clm.refresh_customer_view('cv_uuid');
SELECT clm.drop_customer_view('analytics_view2.cv_uuid');
DROP SCHEMA analytics_view2;

-- a role that does not own a view cannot refresh it or touch its registry row
CREATE ROLE regress_analytics_reader;
GRANT USAGE ON SCHEMA analytics_view TO regress_analytics_reader;
GRANT SELECT ON cv_text TO regress_analytics_reader;
SET ROLE regress_analytics_reader;
SELECT count(*) > 0 AS reader_sees_rows FROM cv_text;
SELECT view_name FROM clm.customer_view WHERE view_schema = 'analytics_view' ORDER BY 1;   -- only views it may read
UPDATE clm.customer_view SET as_of = '2000-01-01';
DELETE FROM clm.customer_view;
SELECT clm.refresh_customer_view('cv_text');
SELECT clm.drop_customer_view('cv_text');
RESET ROLE;
SELECT count(*) AS registry_rows, bool_and(as_of > '2025-01-01') AS untouched FROM clm.customer_view WHERE view_schema = 'analytics_view';

-- drop_customer_view removes the view and its registry entry
SELECT clm.drop_customer_view('cv_uuid');
SELECT clm.drop_customer_view('analytics_view.cv_text');
SELECT clm.drop_customer_view('"Customer View; DROP TABLE x"');
SELECT count(*) AS registry_rows FROM clm.customer_view WHERE view_schema = 'analytics_view';
SELECT count(*) AS views_left FROM pg_class WHERE relnamespace = 'analytics_view'::regnamespace AND relkind = 'm';
SELECT clm.drop_customer_view('cv_uuid');

DROP OWNED BY regress_analytics_reader;
DROP ROLE regress_analytics_reader;
RESET search_path;
DROP SCHEMA analytics_view CASCADE;
