--
-- analytics_cohort: clm.cohort_retention and clm.lifecycle_kpis on a tiny
-- data set whose every figure was worked out by hand (see the comments).
--
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA analytics_cohort;
SET search_path = analytics_cohort, public;

CREATE TABLE orders (cust int, at timestamptz, amt numeric(10,2));
INSERT INTO orders VALUES
    (1, '2024-01-05', 10), (1, '2024-02-10', 20), (1, '2024-04-01', 5),
    (2, '2024-01-20', 7),
    (3, '2024-02-01', 100), (3, '2024-02-15', 50), (3, '2024-03-03', 1),
    (4, '2024-06-30 23:59', 9),
    (5, '2024-07-01 00:00', 3),         -- at as_of: counts, in July (not complete)
    (NULL, '2024-01-01', 1000);          -- no customer: ignored

-- Monthly, as of 2024-07-01 00:00 (June complete, July just begun).
-- January cohort {1, 2}: month 0 both (17.00), month 1 customer 1 (20.00),
-- month 3 customer 1 (5.00), zero rows for months 2, 4, 5.
-- February cohort {3}: 150.00 then 1.00.  June cohort {4}.  Customer 5 is
-- not there: its only order, at as_of, falls in July, which has begun and
-- is not complete.
SELECT cohort, period_number, cohort_size, active_customers, retention_rate,
       revenue, round(revenue_per_customer, 2) AS revenue_per_customer
FROM clm.cohort_retention('orders', 'cust', 'at', 'amt', 'month', '2024-07-01');

-- hand-computed checks as booleans
SELECT count(*) = 12 AS twelve_rows,
       bool_and(retention_rate = 1) FILTER (WHERE period_number = 0) AS period0_is_100pct,
       sum(revenue) = 17 + 20 + 5 + 150 + 1 + 9 AS revenue_adds_up,
       (SELECT sum(amt) FROM orders WHERE cust IS NOT NULL AND at < '2024-07-01') = sum(revenue) AS all_orders_counted
FROM clm.cohort_retention('orders', 'cust', 'at', 'amt', 'month', '2024-07-01');

-- As of mid-June: June is partial, so by default the grid stops at May ...
SELECT max(period_number) AS last_jan_period, count(*) AS n_rows
FROM clm.cohort_retention('orders', 'cust', 'at', 'amt', 'month', '2024-06-15 12:00');
-- ... and include_partial adds June, which holds no orders up to as_of
SELECT cohort, period_number, active_customers
FROM clm.cohort_retention('orders', 'cust', 'at', 'amt', 'month', '2024-06-15 12:00', true)
WHERE period_number >= 4;

-- Quarterly: Q1 cohort {1, 2, 3} = 188.00; in Q2 only customer 1 (5.00); Q2 cohort {4}
SELECT cohort, period_number, cohort_size, active_customers,
       round(retention_rate::numeric, 4) AS retention_rate, revenue
FROM clm.cohort_retention('orders', 'cust', 'at', 'amt', 'quarter', '2024-07-01');

-- Weekly (ISO weeks start on Monday; 2024-01-01 is a Monday), as of
-- Thursday 2024-02-01: the last complete week starts 2024-01-22.
SELECT cohort, period_number, cohort_size, active_customers, revenue
FROM clm.cohort_retention('orders', 'cust', 'at', 'amt', 'week', '2024-02-01');

-- Calendar periods follow the session time zone: in Tokyo, customer 4's
-- order at 2024-06-30 23:59 UTC falls on July 1st, after the last complete
-- month, so the June cohort disappears.
SET timezone = 'Asia/Tokyo';
SELECT count(*) FILTER (WHERE cohort = '2024-06-01') AS june_rows
FROM clm.cohort_retention('orders', 'cust', 'at', 'amt', 'month', '2024-07-01 00:00+00');
SET timezone = 'UTC';

-- Keys of any type: uuid and text keys, integer amounts, timestamp without
-- time zone and date columns give the same figures.
CREATE TABLE orders_uuid AS
    SELECT CASE WHEN cust IS NULL THEN NULL
                ELSE ('00000000-0000-0000-0000-00000000000' || cust)::uuid END AS customer_id,
           at::timestamp AS ordered_at, (amt * 100)::bigint AS cents
    FROM orders;
CREATE TABLE orders_text AS
    SELECT 'customer-' || cust AS customer_id, at::date AS ordered_on, amt::float8 AS amount FROM orders;
SELECT (SELECT array_agg(active_customers ORDER BY cohort, period_number)
          FROM clm.cohort_retention('orders', 'cust', 'at', 'amt', 'month', '2024-07-01'))
     = (SELECT array_agg(active_customers ORDER BY cohort, period_number)
          FROM clm.cohort_retention('orders_uuid', 'customer_id', 'ordered_at', 'cents', 'month', '2024-07-01')) AS uuid_same,
       (SELECT sum(revenue) FROM clm.cohort_retention('orders_uuid', 'customer_id', 'ordered_at', 'cents', 'month', '2024-07-01'))
     = 20200 AS cents_sum,
       (SELECT array_agg(active_customers ORDER BY cohort, period_number)
          FROM clm.cohort_retention('orders', 'cust', 'at', 'amt', 'month', '2024-07-01'))
     = (SELECT array_agg(active_customers ORDER BY cohort, period_number)
          FROM clm.cohort_retention('orders_text', 'customer_id', 'ordered_on', 'amount', 'month', '2024-07-01')) AS text_same;

-- A hostile table and column names work and inject nothing.
CREATE TABLE x (keep int);
CREATE TABLE "Orders; DROP TABLE x" ("Customer ID; DROP TABLE x" int, "when"" --" timestamptz, "$amount" numeric);
INSERT INTO "Orders; DROP TABLE x" SELECT cust, at, amt FROM orders;
SELECT count(*) AS n_rows, sum(revenue) AS revenue
FROM clm.cohort_retention('"Orders; DROP TABLE x"', 'Customer ID; DROP TABLE x', 'when" --', '$amount', 'month', '2024-07-01');
SELECT to_regclass('analytics_cohort.x') IS NOT NULL AS x_still_there;

-- Bad arguments
SELECT * FROM clm.cohort_retention('orders', 'cust', 'at', 'amt', 'day', '2024-07-01');
SELECT * FROM clm.cohort_retention('orders', 'cust', 'at', 'amt', NULL, '2024-07-01');
SELECT * FROM clm.cohort_retention('orders', 'cust', 'at', 'amt', 'month', NULL);
SELECT * FROM clm.cohort_retention('orders', 'cust', 'at', 'amt', 'month', 'infinity');
SELECT * FROM clm.cohort_retention('orders', 'customer', 'at', 'amt', 'month', '2024-07-01');
SELECT * FROM clm.cohort_retention('orders', 'cust', 'amt', 'amt', 'month', '2024-07-01');
SELECT * FROM clm.cohort_retention('orders', 'cust', 'at', 'at', 'month', '2024-07-01');
SELECT * FROM clm.cohort_retention('orders', 'cust', 'at', NULL, 'month', '2024-07-01');
SELECT * FROM clm.cohort_retention(NULL, 'cust', 'at', 'amt', 'month', '2024-07-01');
SELECT * FROM clm.cohort_retention('orders', 'cust', 'at', 'amt', 'month', '2024-07-01', NULL);
SELECT * FROM clm.cohort_retention('no_such_table', 'cust', 'at', 'amt');
-- an empty table gives no rows, not an error
CREATE TABLE no_orders (LIKE orders);
SELECT count(*) AS n FROM clm.cohort_retention('no_orders', 'cust', 'at', 'amt', 'month', '2024-07-01');

--
-- lifecycle_kpis, February 2024, 30-day inactivity:
--   active {1, 3}; new {3}; customer 3 ordered twice -> repeat rate 1/2;
--   3 orders, 170.00 -> AOV 56.67, frequency 1.5;
--   alive at Feb 1: customer 1 (Jan 5 + 30 d = Feb 4) and 2 (Jan 20 + 30 d = Feb 19);
--   both churn in February (1 at Feb 4, before its Feb 10 order; 2 at Feb 19) -> 2/2.
--
SELECT active_customers, new_customers, returning_customers, orders_count, revenue,
       repeat_purchase_rate, customers_at_start, churned_customers, churn_rate,
       round(average_order_value, 2) AS aov, purchase_frequency,
       average_predicted_clv, customers_per_stage
FROM clm.lifecycle_kpis('orders', 'cust', 'at', 'amt', '2024-02-01', '2024-03-01', '30 days');
-- March with a 60-day rule: alive at Mar 1 = {1 (Feb 10), 2 (Jan 20 + 60 d = Mar 20), 3};
-- 2 churns Mar 20; 1 churns Apr 10 (after the window); 3 (Mar 3) still alive -> 1/3.
SELECT active_customers, customers_at_start, churned_customers, round(churn_rate::numeric, 4) AS churn_rate
FROM clm.lifecycle_kpis('orders', 'cust', 'at', 'amt', '2024-03-01', '2024-04-01', '60 days');

-- the CLV and stage columns read any relation with predicted_clv and stage
CREATE TABLE fake_view (customer_key int, stage text, predicted_clv float8);
INSERT INTO fake_view VALUES (1, 'lead', 10), (2, 'lead', 20), (3, 'loyal', 60);
SELECT average_predicted_clv, customers_per_stage
FROM clm.lifecycle_kpis('orders', 'cust', 'at', 'amt', '2024-02-01', '2024-03-01', customer_view => 'fake_view');
-- an empty window
SELECT active_customers, orders_count, revenue, repeat_purchase_rate, average_order_value
FROM clm.lifecycle_kpis('orders', 'cust', 'at', 'amt', '2030-01-01', '2030-02-01');

-- an order whose amount is unknown (NULL) is still an order, but it cannot
-- enter the average order value: February stays 170.00 / 3 = 56.67 (not
-- 170.00 / 4); a window whose only order has no amount has no AOV
INSERT INTO orders VALUES (4, '2024-02-15', NULL), (5, '2030-01-10', NULL);
SELECT orders_count, revenue, round(average_order_value, 2) AS aov, purchase_frequency
FROM clm.lifecycle_kpis('orders', 'cust', 'at', 'amt', '2024-02-01', '2024-03-01', '30 days');
SELECT orders_count, revenue, average_order_value
FROM clm.lifecycle_kpis('orders', 'cust', 'at', 'amt', '2030-01-01', '2030-02-01');
DELETE FROM orders WHERE amt IS NULL;

-- bad arguments
SELECT * FROM clm.lifecycle_kpis('orders', 'cust', 'at', 'amt', '2024-03-01', '2024-02-01');
SELECT * FROM clm.lifecycle_kpis('orders', 'cust', 'at', 'amt', NULL, '2024-02-01');
SELECT * FROM clm.lifecycle_kpis('orders', 'cust', 'at', 'amt', '-infinity', '2024-02-01');
SELECT * FROM clm.lifecycle_kpis('orders', 'cust', 'at', 'amt', '2024-01-01', '2024-02-01', '-1 day');
SELECT * FROM clm.lifecycle_kpis('orders', 'cust', 'at', 'amt', '2024-01-01', '2024-02-01', customer_view => 'orders');

RESET search_path;
DROP SCHEMA analytics_cohort CASCADE;
