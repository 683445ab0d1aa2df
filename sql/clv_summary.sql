--
-- clv_summary: clm.purchase_summary, the BTYD summary aggregate.
-- Expected values are worked out by hand in the comments.
--
\set VERBOSITY default
CREATE SCHEMA clv_summary_test;
SET search_path = clv_summary_test, public;

CREATE TABLE orders (customer int, ordered_at timestamptz, amount numeric);
INSERT INTO orders VALUES
    -- customer 1: two orders on UTC day 2024-01-01 (10 + 5), then 20 and 30 a week
    -- apart; one order after the cutoff (ignored)
    (1, '2024-01-01 10:00+00', 10), (1, '2024-01-01 23:00+00', 5),
    (1, '2024-01-08 09:00+00', 20), (1, '2024-01-15 18:00+00', 30),
    (1, '2024-03-01 00:00+00', 100),
    -- customer 2: one purchase day only
    (2, '2024-01-20 12:00+00', 42.50),
    -- customer 3: only after the cutoff -> NULL summary
    (3, '2024-02-01 00:00+00', 7),
    -- customer 4: 23:30 at UTC-5 is 04:30 UTC on the 2nd: the same UTC day
    -- as 01:00 UTC on the 2nd, so x = 0 and both amounts are the first day's
    (4, '2024-01-01 23:30-05', 10), (4, '2024-01-02 01:00+00', 12),
    -- customer 5: NULL amount and NULL time are skipped like NULLs elsewhere
    (5, '2024-01-03 00:00+00', 8), (5, NULL, 9), (5, '2024-01-10 00:00+00', NULL),
    (5, '2024-01-31 12:00+00', 4);  -- exactly at the cutoff: included

-- cutoff 2024-01-31 12:00 UTC; weeks.
-- 1: x = 2, t_x = 14 days = 2 weeks, T = 30 days = 4.2857 weeks, mean spend (20+30)/2 = 25
-- 2: x = 0, t_x = 0, T = 11 days = 1.5714 weeks, mean spend 0
-- 3: NULL;  4: x = 0, T = 29 days = 4.1429;  5: x = 1, t_x = T = 28 days = 4, mean spend 4
SELECT customer, (s).x, round((s).t_x::numeric, 4) AS t_x, round((s).t::numeric, 4) AS t,
       (s).mean_spend, s IS NULL AS is_null
FROM (SELECT customer, clm.purchase_summary(ordered_at, amount, '2024-01-31 12:00+00', '7 days') AS s
      FROM orders GROUP BY customer) q
ORDER BY customer;

-- days are UTC calendar days: the session time zone does not change the result
SET TimeZone = 'Asia/Tokyo';
SELECT customer, s
FROM (SELECT customer, clm.purchase_summary(ordered_at, amount, '2024-01-31 12:00+00', '7 days') AS s
      FROM orders WHERE customer IN (1, 4) GROUP BY customer) q
ORDER BY customer;
RESET TimeZone;

-- the unit: days, hours; '168 hours' is the same as '7 days'
SELECT (clm.purchase_summary(ordered_at, amount, '2024-01-31 12:00+00', '1 day')).*
FROM orders WHERE customer = 1;
SELECT (clm.purchase_summary(ordered_at, amount, '2024-01-31 12:00+00', '12 hours')).*
FROM orders WHERE customer = 1;
SELECT clm.purchase_summary(ordered_at, amount, '2024-01-31 12:00+00', '168 hours')
     = clm.purchase_summary(ordered_at, amount, '2024-01-31 12:00+00', '7 days') AS same
FROM orders WHERE customer = 1;

-- no rows, or no rows up to the cutoff: NULL
SELECT clm.purchase_summary(ordered_at, amount, '2024-01-31 12:00+00', '7 days') IS NULL AS empty_is_null
FROM orders WHERE false;
SELECT clm.purchase_summary(ordered_at, amount, '2023-12-31 00:00+00', '7 days') IS NULL AS all_after_is_null
FROM orders;

-- bad input
SELECT clm.purchase_summary(t, 'NaN'::numeric, '2024-01-31', '7 days') FROM (VALUES (timestamptz '2024-01-01')) v(t);
-- beyond the double range: a short error, not one quoting the 401-digit number
SELECT clm.purchase_summary(t, 1e400, '2024-01-31', '7 days') FROM (VALUES (timestamptz '2024-01-01')) v(t);
-- amounts are summed exactly: at most 36 digits each, 38 digits in a sum
SELECT clm.purchase_summary(t, 1e308, '2024-01-31', '1 day') FROM (VALUES (timestamptz '2024-01-01')) v(t);
SELECT (s).x, abs((s).mean_spend / 9e35 - 1) < 1e-15 AS mean_ok
FROM (SELECT clm.purchase_summary(t, 9e35, '2024-01-31', '1 day') AS s
      FROM generate_series(timestamptz '2024-01-01 12:00+00', '2024-01-10 12:00+00', '1 day') t) q;
-- 732 orders of 9e35 add up to more than 38 digits: an error, not a rounded sum
SELECT clm.purchase_summary(t, 9e35, '2024-12-31', '1 day')
FROM generate_series(timestamptz '2024-01-01 00:00+00', '2024-12-31 00:00+00', '12 hours') t;
SELECT clm.purchase_summary(t, 'Infinity'::numeric, '2024-01-31', '7 days') FROM (VALUES (timestamptz '2024-01-01')) v(t);
SELECT clm.purchase_summary(t, -1, '2024-01-31', '7 days') FROM (VALUES (timestamptz '2024-01-01')) v(t);
-- a negative amount after the cutoff is still an error (the data is wrong either way)
SELECT clm.purchase_summary(t, -1, '2023-01-31', '7 days') FROM (VALUES (timestamptz '2024-01-01')) v(t);
SELECT clm.purchase_summary(t, 1, '2024-01-31', '7 days') FROM (VALUES (timestamptz 'infinity')) v(t);
SELECT clm.purchase_summary(t, 1, '-infinity', '7 days') FROM (VALUES (timestamptz '2024-01-01')) v(t);
SELECT clm.purchase_summary(t, 1, NULL, '7 days') FROM (VALUES (timestamptz '2024-01-01')) v(t);
SELECT clm.purchase_summary(t, 1, '2024-01-31', NULL) FROM (VALUES (timestamptz '2024-01-01')) v(t);
SELECT clm.purchase_summary(t, 1, '2024-01-31', '1 month') FROM (VALUES (timestamptz '2024-01-01')) v(t);
SELECT clm.purchase_summary(t, 1, '2024-01-31', '1 year 2 days') FROM (VALUES (timestamptz '2024-01-01')) v(t);
SELECT clm.purchase_summary(t, 1, '2024-01-31', '0 days') FROM (VALUES (timestamptz '2024-01-01')) v(t);
SELECT clm.purchase_summary(t, 1, '2024-01-31', '-7 days') FROM (VALUES (timestamptz '2024-01-01')) v(t);
SELECT clm.purchase_summary(t, 1, c, '7 days')
FROM (VALUES (timestamptz '2024-01-01', timestamptz '2024-01-31'), ('2024-01-02', '2024-02-01')) v(t, c);
SELECT clm.purchase_summary(t, 1, '2024-01-31', u)
FROM (VALUES (timestamptz '2024-01-01', interval '7 days'), ('2024-01-02', '1 day')) v(t, u);

-- the transition function changes its state in place: only an aggregate may call it
SELECT clm.purchase_summary_trans(NULL, now(), 1, now(), '1 day');

-- parallel aggregation: each customer's orders are spread over the whole
-- table, so both workers hold partial states of every customer and the
-- combine function merges them (and same days across states)
CREATE TABLE many AS
SELECT i % 3000 AS customer,
       timestamptz '2023-01-01 00:00+00' + (i % 400) * interval '1 day' + (i % 7) * interval '3 hours' AS ordered_at,
       ((i * 7919) % 10000) / 100.0 AS amount
FROM generate_series(1, 60000) i;
ANALYZE many;
CREATE TABLE serial_result AS
SELECT customer, clm.purchase_summary(ordered_at, amount, '2023-12-31 23:59:59+00', '7 days') AS s
FROM many GROUP BY customer;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT customer, clm.purchase_summary(ordered_at, amount, '2023-12-31 23:59:59+00', '7 days') AS s
FROM many GROUP BY customer;
CREATE TABLE parallel_result AS
SELECT customer, clm.purchase_summary(ordered_at, amount, '2023-12-31 23:59:59+00', '7 days') AS s
FROM many GROUP BY customer;
-- identical, bit for bit: the sums are exact, so the order of rows and
-- partial states does not matter
SELECT count(*) AS customers,
       count(*) FILTER (WHERE (p.s).x IS DISTINCT FROM (s.s).x OR (p.s).t_x IS DISTINCT FROM (s.s).t_x
                        OR (p.s).t IS DISTINCT FROM (s.s).t
                        OR (p.s).mean_spend IS DISTINCT FROM (s.s).mean_spend) AS differing
FROM serial_result s FULL JOIN parallel_result p USING (customer);
-- the same with hashing instead of sorting
SET enable_sort = off;
EXPLAIN (COSTS OFF)
SELECT customer, clm.purchase_summary(ordered_at, amount, '2023-12-31 23:59:59+00', '7 days') AS s
FROM many GROUP BY customer;
CREATE TABLE parallel_hash_result AS
SELECT customer, clm.purchase_summary(ordered_at, amount, '2023-12-31 23:59:59+00', '7 days') AS s
FROM many GROUP BY customer;
RESET enable_sort;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE (p.s).x IS DISTINCT FROM (s.s).x OR (p.s).t_x IS DISTINCT FROM (s.s).t_x
                        OR (p.s).t IS DISTINCT FROM (s.s).t
                        OR (p.s).mean_spend IS DISTINCT FROM (s.s).mean_spend) AS differing
FROM serial_result s FULL JOIN parallel_hash_result p USING (customer);
-- and the serial result is right: customer 7 by plain SQL
SELECT (s).x = (SELECT count(DISTINCT (ordered_at AT TIME ZONE 'UTC')::date) - 1
                FROM many WHERE customer = 7 AND ordered_at <= '2023-12-31 23:59:59+00') AS x_ok
FROM serial_result WHERE customer = 7;
-- the whole table as one group
EXPLAIN (COSTS OFF)
SELECT clm.purchase_summary(ordered_at, amount, '2023-12-31 23:59:59+00', '7 days') FROM many;
SELECT (clm.purchase_summary(ordered_at, amount, '2023-12-31 23:59:59+00', '7 days')).x AS x_parallel
FROM many;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
-- 365 distinct days in 2023 -> x = 364, serially too
SELECT (clm.purchase_summary(ordered_at, amount, '2023-12-31 23:59:59+00', '7 days')).x AS x_serial
FROM many;

RESET search_path;
DROP SCHEMA clv_summary_test CASCADE;
