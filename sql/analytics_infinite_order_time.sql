--
-- analytics_infinite_order_time: an order at -infinity is refused (22008,
-- with detail and hint) by every analysis that reads orders, whatever the
-- type of the time column.  cohort_retention used to run generate_series
-- from -infinity, which never ends: the statement_timeout makes such a
-- regression fail here instead of hanging the suite.  An order at infinity
-- is later than any as_of or until and is ignored like any later order.
--
\set VERBOSITY default
SET timezone = 'UTC';
SET statement_timeout = '20s';
CREATE SCHEMA analytics_infinite;
SET search_path = analytics_infinite, public;

CREATE TABLE orders (cust int, at timestamptz, amt numeric);
INSERT INTO orders VALUES (1, '2024-01-10', 10), (1, '2024-03-05', 20), (2, '2024-02-01', 5);
CREATE TABLE orders_date AS SELECT cust, at::date AS at, amt FROM orders;
CREATE TABLE orders_local AS SELECT cust, at::timestamp AS at, amt FROM orders;

-- the figures without infinite orders, to compare with below
CREATE TABLE finite_cohorts AS
SELECT * FROM clm.cohort_retention('orders', 'cust', 'at', 'amt', 'month', '2024-07-01', true);
SELECT count(*) AS n_rows, sum(revenue) AS revenue FROM finite_cohorts;

-- infinity: after as_of, ignored
INSERT INTO orders VALUES (1, 'infinity', 1000), (3, 'infinity', 1000);
INSERT INTO orders_date VALUES (1, 'infinity', 1000), (3, 'infinity', 1000);
SELECT (SELECT array_agg(c::text ORDER BY c::text) FROM finite_cohorts AS c)
     = (SELECT array_agg(c::text ORDER BY c::text)
          FROM clm.cohort_retention('orders', 'cust', 'at', 'amt', 'month', '2024-07-01', true) AS c) AS timestamptz_same,
       (SELECT array_agg(c::text ORDER BY c::text) FROM finite_cohorts AS c)
     = (SELECT array_agg(c::text ORDER BY c::text)
          FROM clm.cohort_retention('orders_date', 'cust', 'at', 'amt', 'month', '2024-07-01', true) AS c) AS date_same;
-- customers 1 and 2 are the subjects; 3 has no order up to as_of
SELECT max(at_risk) AS subjects
  FROM clm.churn_survival('orders', 'cust', 'at', '30 days', '2024-07-01');
SELECT active_customers, orders_count, revenue
  FROM clm.lifecycle_kpis('orders', 'cust', 'at', 'amt', '2024-01-01', '2024-07-01');

-- -infinity: an error (22008, echoed after each call), not an endless
-- query; the CONTEXT lines (the generated SQL) are not shown
\set SHOW_CONTEXT never
INSERT INTO orders VALUES (4, '-infinity', 1);
INSERT INTO orders_date VALUES (4, '-infinity', 1);
INSERT INTO orders_local VALUES (4, '-infinity', 1);
SELECT * FROM clm.cohort_retention('orders', 'cust', 'at', 'amt');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM clm.cohort_retention('orders', 'cust', 'at', 'amt', 'week', '2024-07-01', true);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM clm.cohort_retention('orders_date', 'cust', 'at', 'amt', 'quarter', '2024-07-01');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM clm.cohort_retention('orders_local', 'cust', 'at', 'amt', 'month', '2024-07-01');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM clm.churn_survival('orders', 'cust', 'at', '30 days', '2024-07-01');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM clm.churn_survival('orders_date', 'cust', 'at', '30 days', '2024-07-01', cohort => 'month');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM clm.lifecycle_kpis('orders', 'cust', 'at', 'amt', '2024-01-01', '2024-07-01');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM clm.lifecycle_kpis('orders_date', 'cust', 'at', 'amt', '2024-01-01', '2024-07-01');
\echo :LAST_ERROR_SQLSTATE
-- the customer view refuses it the same way (its aggregates check each row)
SELECT clm.create_customer_view('cv', 'orders_date', 'cust', 'at', 'amt', as_of => '2024-07-01');
\echo :LAST_ERROR_SQLSTATE
-- an order without a customer is not read at all
UPDATE orders SET cust = NULL WHERE at = '-infinity';
SELECT count(*) AS n_rows FROM clm.cohort_retention('orders', 'cust', 'at', 'amt', 'month', '2024-07-01', true);

\set SHOW_CONTEXT errors
RESET statement_timeout;
RESET search_path;
DROP SCHEMA analytics_infinite CASCADE;
