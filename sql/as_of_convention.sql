--
-- as_of_convention: every function of clm agrees on which orders an as_of
-- time takes in.  as_of is inclusive: an order placed exactly at as_of
-- counts, one a microsecond later does not.  Windows [since, until) are
-- half-open: since is in, until is out.
--
-- The orders around as_of = 2024-06-15 12:00 UTC (A), with amounts that are
-- powers of two, so that every sum names the orders it took in:
--   customer 1: Jan 10 (1), Mar 5 (2), A (4)
--   customer 2: Feb 1 (8), A - 1 us (16)
--   customer 3: Feb 20 (32), A + 1 us (64)
--   customer 4: A (128)                     first order exactly at as_of
--   customer 5: A + 1 us (256)              no order up to as_of
-- Counted as of A: 1+2+4+8+16+32+128 = 191; per customer 7, 24, 32, 128.
--
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA as_of_convention;
SET search_path = as_of_convention, public;
\set a '2024-06-15 12:00:00+00'

CREATE TABLE orders (cust bigint, at timestamptz, amt numeric);
INSERT INTO orders VALUES
    (1, '2024-01-10', 1), (1, '2024-03-05', 2), (1, :'a', 4),
    (2, '2024-02-01', 8), (2, timestamptz :'a' - interval '1 microsecond', 16),
    (3, '2024-02-20', 32), (3, timestamptz :'a' + interval '1 microsecond', 64),
    (4, :'a', 128),
    (5, timestamptz :'a' + interval '1 microsecond', 256);

-- the reference: plain SQL with ordered_at <= as_of
CREATE TABLE counted AS
SELECT cust, count(*) AS orders, sum(amt) AS revenue, min(at) AS first_at, max(at) AS last_at
  FROM orders WHERE at <= :'a' GROUP BY cust;
SELECT cust, orders, revenue, last_at = :'a' AS last_at_is_as_of FROM counted ORDER BY cust;

-- clm.rfm_agg, clm.rfm_agg_by_customer and clm.purchase_summary: the same
-- orders, frequency and monetary per customer; customer 5 has none (NULL)
CREATE TABLE per_function AS
WITH agg AS (
    SELECT cust, clm.rfm_agg(at, amt, :'a') AS rfm,
           clm.purchase_summary(at, amt, :'a', '1 day') AS ps
      FROM orders GROUP BY cust
), by_customer AS (
    SELECT (u).customer_id AS cust, (u).rfm
      FROM (SELECT unnest(clm.rfm_agg_by_customer(cust, at, amt, :'a')) AS u FROM orders) AS s
)
SELECT agg.cust,
       (agg.rfm).frequency AS rfm_agg_orders, (agg.rfm).monetary AS rfm_agg_revenue,
       (agg.rfm).recency_days AS recency_days,
       (b.rfm).frequency AS by_customer_orders, (b.rfm).monetary AS by_customer_revenue,
       (agg.ps).t AS summary_t_days
  FROM agg JOIN by_customer AS b USING (cust);
SELECT * FROM per_function ORDER BY cust;
-- purchase_summary counts purchase days: the order at as_of makes customer
-- 4 a customer at all (T = 0 days), and customer 1's third purchase day
SELECT cust, (clm.purchase_summary(at, amt, :'a', '1 day')).x AS repeat_days
  FROM orders GROUP BY cust ORDER BY cust;

-- the customer view: the same orders, revenue and last order per customer
SELECT clm.create_customer_view('cv', 'orders', 'cust', 'at', 'amt', as_of => :'a');
SELECT v.customer_key AS cust, v.orders, v.revenue, v.last_order_at = :'a' AS last_is_as_of,
       v.recency_days, v.stage
  FROM cv AS v ORDER BY 1;
SELECT count(*) AS customers_checked,
       bool_and(v.orders = c.orders AND v.revenue = c.revenue AND v.last_order_at = c.last_at
                AND v.orders = p.rfm_agg_orders AND v.orders = p.by_customer_orders
                AND v.revenue = p.rfm_agg_revenue AND v.revenue = p.by_customer_revenue) AS all_agree,
       (SELECT count(*) FROM cv) = (SELECT count(*) FROM counted) AS same_customers
  FROM cv AS v JOIN counted AS c ON c.cust = v.customer_key
  JOIN per_function AS p ON p.cust = v.customer_key;

-- clm.classify_stage takes a last order at as_of; one a microsecond later
-- is refused.  On the counted orders it gives the view's stages.
SELECT clm.classify_stage(1, :'a', :'a', :'a') AS one_order_at_as_of;
SELECT clm.classify_stage(1, timestamptz :'a' + interval '1 microsecond',
                          timestamptz :'a' + interval '1 microsecond', :'a');
SELECT bool_and(v.stage = clm.classify_stage(c.orders, c.first_at, c.last_at, :'a')) AS view_stage_is_classify
  FROM cv AS v JOIN counted AS c ON c.cust = v.customer_key;

-- clm.cohort_retention, monthly, with the running month (June): it holds
-- the orders up to and including as_of, so revenue adds up to 191 and
-- customer 4 is June's cohort
SELECT cohort, period_number, cohort_size, active_customers, revenue
  FROM clm.cohort_retention('orders', 'cust', 'at', 'amt', 'month', :'a', include_partial => true)
 WHERE period_number = 0 OR cohort = '2024-01-01';
SELECT sum(revenue) AS revenue,
       sum(revenue) = (SELECT sum(revenue) FROM counted) AS same_as_counted
  FROM clm.cohort_retention('orders', 'cust', 'at', 'amt', 'month', :'a', include_partial => true);
-- as_of exactly at the start of a month: that month has begun (its first
-- instant is observed) and include_partial reports it with the orders
-- placed at that instant
CREATE TABLE month_start (cust int, at timestamptz, amt numeric);
INSERT INTO month_start VALUES (1, '2024-05-20', 1), (1, '2024-06-01 00:00', 2),
                               (2, '2024-06-01 00:00', 4), (3, '2024-06-01 00:00:00.000001', 8);
SELECT cohort, period_number, cohort_size, active_customers, revenue
  FROM clm.cohort_retention('month_start', 'cust', 'at', 'amt', 'month', '2024-06-01 00:00', true);
-- without include_partial only complete months are reported: May
SELECT cohort, period_number, cohort_size, active_customers, revenue
  FROM clm.cohort_retention('month_start', 'cust', 'at', 'amt', 'month', '2024-06-01 00:00');

-- clm.churn_survival: the subjects are the customers with an order up to
-- as_of, so customer 4 (first order at as_of) is one, censored at day 0,
-- and customer 5 is not; nobody churns within a year
SELECT time, at_risk, events, censored
  FROM clm.churn_survival('orders', 'cust', 'at', '365 days', :'a');
-- a churn falling exactly at as_of has happened as of as_of (the orders at
-- as_of have been seen, and so has their absence): with a 30-day rule and
-- an order at A - 30 days, customer 1 churns at A (day 30); customer 2's
-- order at A keeps him alive (censored at day 30); customer 3's next order,
-- a microsecond after A, is not seen: churned at A
CREATE TABLE visits (cust int, at timestamptz);
INSERT INTO visits SELECT c, timestamptz :'a' - interval '30 days' FROM generate_series(1, 3) AS c;
INSERT INTO visits VALUES (2, :'a'), (3, timestamptz :'a' + interval '1 microsecond');
SELECT time, at_risk, events, censored, round(survival::numeric, 6) AS survival
  FROM clm.churn_survival('visits', 'cust', 'at', '30 days', :'a');

-- clm.refresh_stages: a lapsed-looking customer whose last order is exactly
-- at as_of is active (idle 0) and stays; one whose last order is a
-- microsecond after as_of is left alone (it was not lapsed as of then);
-- without an order near as_of the customer churns
CREATE TABLE crm (id bigint PRIMARY KEY, stage clm.lifecycle_stage, since timestamptz);
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON crm
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('stage', 'id', 'since');
CREATE TABLE crm_orders (cid bigint, at timestamptz);
INSERT INTO crm VALUES (1, 'repeat', '2023-02-01'), (2, 'repeat', '2023-02-01'),
                       (3, 'repeat', '2023-02-01'), (4, 'repeat', '2023-02-01');
INSERT INTO crm_orders SELECT id, t FROM crm, (VALUES (timestamptz '2023-01-01'), ('2023-02-01')) AS v(t);
INSERT INTO crm_orders VALUES (1, :'a'),                                           -- at as_of
                              (2, timestamptz :'a' - interval '1 microsecond'),     -- just before
                              (3, timestamptz :'a' + interval '1 microsecond');     -- just after
SELECT clm.refresh_stages('crm', 'crm_orders', 'id', 'stage', 'cid', 'at', :'a') AS moved;
SELECT id, stage, since = :'a' AS moved_at_as_of FROM crm ORDER BY id;

-- clm.lifecycle_kpis takes a window, not an as_of: [since, until) takes in
-- an order at since and leaves out one at until.  A day ending at as_of
-- holds only the order a microsecond before it (16); the day starting at
-- as_of holds the orders at as_of (4, 128) and after it (64, 256).
SELECT orders_count, revenue
  FROM clm.lifecycle_kpis('orders', 'cust', 'at', 'amt', timestamptz :'a' - interval '1 day', :'a');
SELECT orders_count, revenue
  FROM clm.lifecycle_kpis('orders', 'cust', 'at', 'amt', :'a', timestamptz :'a' + interval '1 day');

SELECT clm.drop_customer_view('as_of_convention.cv');
RESET search_path;
DROP SCHEMA as_of_convention CASCADE;
