--
-- rfm_moving: clm.rfm_agg as a window function with a moving frame
-- (forward + inverse transition) gives what recomputing each frame gives
--
\set VERBOSITY default
CREATE SCHEMA rfm_moving_test;
SET search_path = rfm_moving_test, public;

CREATE TABLE orders (customer int, ordered_at timestamptz, amount numeric);
INSERT INTO orders
SELECT i % 40,
       timestamptz '2024-01-01 00:00+00' + ((i * 7919) % 500) * interval '1 day',
       CASE WHEN i % 11 = 0 THEN -round((i % 50) / 3.0, 3)   -- refunds with 3 decimals
            WHEN i % 13 = 0 THEN NULL                         -- skipped rows
            ELSE round((i * 37 % 50000) / 100.0, 2) END
FROM generate_series(1, 2000) i;
-- ties on ordered_at inside a customer, and a customer with one row
INSERT INTO orders SELECT customer, ordered_at, 1 FROM orders WHERE customer = 3 LIMIT 5;
INSERT INTO orders VALUES (99, timestamptz '2024-02-01 00:00+00', 5);

CREATE TABLE n AS
SELECT *, row_number() OVER (PARTITION BY customer ORDER BY ordered_at, amount NULLS FIRST) AS rn,
          row_number() OVER (PARTITION BY customer ORDER BY amount NULLS FIRST, ordered_at) AS rn_amount
FROM orders;

-- frames in time order: the oldest row (the first purchase) leaves at each step
SELECT count(*) AS frames,
       count(*) FILTER (WHERE w::text IS NOT DISTINCT FROM r::text) AS identical
FROM (SELECT n.*, clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00')
                OVER (PARTITION BY customer ORDER BY rn ROWS BETWEEN 9 PRECEDING AND CURRENT ROW) AS w
      FROM n) m,
     LATERAL (SELECT clm.rfm_agg(n2.ordered_at, n2.amount, timestamptz '2026-01-01 00:00+00') AS r
              FROM n n2 WHERE n2.customer = m.customer AND n2.rn BETWEEN m.rn - 9 AND m.rn) x;

-- frames in amount order: the row leaving may hold the last purchase
-- (recency's maximum), which the sliding-window deques replace without a rescan
SELECT count(*) AS frames,
       count(*) FILTER (WHERE w::text IS NOT DISTINCT FROM r::text) AS identical
FROM (SELECT n.*, clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00')
                OVER (PARTITION BY customer ORDER BY rn_amount ROWS BETWEEN 4 PRECEDING AND 2 FOLLOWING) AS w
      FROM n) m,
     LATERAL (SELECT clm.rfm_agg(n2.ordered_at, n2.amount, timestamptz '2026-01-01 00:00+00') AS r
              FROM n n2 WHERE n2.customer = m.customer AND n2.rn_amount BETWEEN m.rn_amount - 4 AND m.rn_amount + 2) x;

-- the same for double precision and bigint amounts
SELECT count(*) AS frames,
       count(*) FILTER (WHERE wf::text IS NOT DISTINCT FROM rf::text) AS identical_float8,
       count(*) FILTER (WHERE wb::text IS NOT DISTINCT FROM rb::text) AS identical_bigint
FROM (SELECT n.*,
             clm.rfm_agg(ordered_at, amount::float8, timestamptz '2026-01-01 00:00+00')
                OVER (PARTITION BY customer ORDER BY rn_amount ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS wf,
             clm.rfm_agg(ordered_at, (amount * 100)::bigint, timestamptz '2026-01-01 00:00+00')
                OVER (PARTITION BY customer ORDER BY rn_amount ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS wb
      FROM n) m,
     LATERAL (SELECT clm.rfm_agg(n2.ordered_at, n2.amount::float8, timestamptz '2026-01-01 00:00+00') AS rf,
                     clm.rfm_agg(n2.ordered_at, (n2.amount * 100)::bigint, timestamptz '2026-01-01 00:00+00') AS rb
              FROM n n2 WHERE n2.customer = m.customer AND n2.rn_amount BETWEEN m.rn_amount - 3 AND m.rn_amount) x;

-- RANGE frames (peer groups enter and leave together) and a worked example
SELECT customer, ordered_at::date AS day, amount,
       (clm.rfm_agg(ordered_at, amount, timestamptz '2024-12-31 00:00+00')
           OVER (PARTITION BY customer ORDER BY ordered_at
                 RANGE BETWEEN interval '30 days' PRECEDING AND CURRENT ROW)).*
FROM (VALUES (1, timestamptz '2024-01-01 00:00+00', 10.00),
             (1, timestamptz '2024-01-20 00:00+00', 20.005),
             (1, timestamptz '2024-01-20 00:00+00', -2),
             (1, timestamptz '2024-02-25 00:00+00', 7),
             (1, timestamptz '2024-03-01 00:00+00', NULL)) v(customer, ordered_at, amount)
ORDER BY ordered_at, amount;

-- bad input in a window is still an error
SELECT clm.rfm_agg(ordered_at, 'NaN'::numeric, timestamptz '2026-01-01 00:00+00')
    OVER (ORDER BY ordered_at ROWS 2 PRECEDING) FROM orders;

RESET search_path;
DROP SCHEMA rfm_moving_test CASCADE;
