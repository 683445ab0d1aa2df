--
-- rfm_parallel: the RFM aggregates in parallel and partitionwise plans give
-- the serial answer (every partial state goes through combine)
--
\set VERBOSITY default
CREATE SCHEMA rfm_parallel_test;
SET search_path = rfm_parallel_test, public;

CREATE TABLE orders (customer int, ordered_at timestamptz, amount numeric)
    WITH (parallel_workers = 2);
INSERT INTO orders
SELECT floor(2000 * power((i::bigint * 7919) % 100003 / 100003.0, 2))::int,
       timestamptz '2024-01-01 00:00+00' + ((i::bigint * 104729) % 800) * interval '1 day' + (i % 86400) * interval '1 second',
       CASE WHEN i % 23 = 0 THEN -round((i % 40) / 7.0, 4) ELSE round((i * 37 % 90000) / 100.0, 2) END
FROM generate_series(1, 60000) i;
ANALYZE orders;

-- serial results first
SET max_parallel_workers_per_gather = 0;
CREATE TABLE serial_rfm AS
SELECT customer, clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00') AS r
FROM orders GROUP BY customer;
CREATE TABLE serial_total AS
SELECT clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00') AS r,
       clm.rfm_agg(ordered_at, amount::float8, timestamptz '2026-01-01 00:00+00') AS rf,
       clm.rfm_state_agg(ordered_at, amount) AS st
FROM orders;
CREATE TABLE serial_thr AS SELECT clm.rfm_thresholds(r) AS th, clm.rfm_thresholds(r, 7) AS th7 FROM serial_rfm;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SET enable_indexscan = off;
SET enable_bitmapscan = off;

-- plain aggregate
EXPLAIN (COSTS OFF)
SELECT clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00') FROM orders;
SELECT p.r::text = s.r::text AS numeric_equal, p.rf::text = s.rf::text AS float8_equal,
       p.st::text = s.st::text AS state_equal
FROM (SELECT clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00') AS r,
             clm.rfm_agg(ordered_at, amount::float8, timestamptz '2026-01-01 00:00+00') AS rf,
             clm.rfm_state_agg(ordered_at, amount) AS st
      FROM orders) p, serial_total s;

-- grouped: the plan shown is the one that fills parallel_rfm (EXPLAIN of
-- the same CREATE TABLE AS), which is then compared both ways
SET enable_sort = off;
EXPLAIN (COSTS OFF)
CREATE TABLE parallel_rfm AS
SELECT customer, clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00') AS r FROM orders GROUP BY customer;
CREATE TABLE parallel_rfm AS
SELECT customer, clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00') AS r FROM orders GROUP BY customer;
RESET enable_sort;
SELECT (SELECT count(*) FROM parallel_rfm) AS parallel_rows, (SELECT count(*) FROM serial_rfm) AS serial_rows,
       (SELECT count(*) FROM (
            (SELECT customer, r::text FROM parallel_rfm EXCEPT SELECT customer, r::text FROM serial_rfm)
            UNION ALL
            (SELECT customer, r::text FROM serial_rfm EXCEPT SELECT customer, r::text FROM parallel_rfm)) d) AS rows_differing;

-- empty partial states: no rows at all, and a table smaller than the workers
SELECT clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00') IS NULL AS empty FROM orders WHERE customer < 0;
CREATE TABLE tiny (LIKE orders) WITH (parallel_workers = 2);
INSERT INTO tiny VALUES (1, timestamptz '2024-01-01 00:00+00', 5);
ANALYZE tiny;
SELECT (clm.rfm_agg(ordered_at, amount, timestamptz '2024-01-02 00:00+00')).* FROM tiny;
SELECT clm.rfm_thresholds(r) FROM (SELECT clm.rfm_agg(ordered_at, amount, timestamptz '2024-01-02 00:00+00') AS r FROM tiny) x;

-- thresholds over a (parallel-scanned) table of customers
EXPLAIN (COSTS OFF) SELECT clm.rfm_thresholds(r) FROM serial_rfm;
SELECT p.th = s.th AS thresholds_equal, p.th7 = s.th7 AS thresholds7_equal
FROM (SELECT clm.rfm_thresholds(r) AS th, clm.rfm_thresholds(r, 7) AS th7 FROM serial_rfm) p, serial_thr s;
SELECT clm.rfm_thresholds(r) IS NULL AS empty FROM serial_rfm WHERE customer < 0;

-- a partitioned orders table: partitionwise aggregation gives the same answer
CREATE TABLE porders (customer int, ordered_at timestamptz, amount numeric) PARTITION BY HASH (customer);
CREATE TABLE porders_0 PARTITION OF porders FOR VALUES WITH (MODULUS 3, REMAINDER 0);
CREATE TABLE porders_1 PARTITION OF porders FOR VALUES WITH (MODULUS 3, REMAINDER 1);
CREATE TABLE porders_2 PARTITION OF porders FOR VALUES WITH (MODULUS 3, REMAINDER 2);
INSERT INTO porders SELECT * FROM orders;
ANALYZE porders;
SET enable_partitionwise_aggregate = on;
-- grouped by the partition key: whole aggregates per partition (the plan
-- that fills partitionwise_rfm)
EXPLAIN (COSTS OFF)
CREATE TABLE partitionwise_rfm AS
SELECT customer, clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00') AS r FROM porders GROUP BY customer;
CREATE TABLE partitionwise_rfm AS
SELECT customer, clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00') AS r FROM porders GROUP BY customer;
-- compared symmetrically: a customer missing on either side, one that comes
-- out twice, or a different value all show
SELECT (SELECT count(*) FROM partitionwise_rfm) AS partitionwise_rows,
       (SELECT count(DISTINCT customer) FROM partitionwise_rfm) AS partitionwise_customers,
       (SELECT count(*) FROM serial_rfm) AS serial_rows,
       (SELECT count(*) FROM partitionwise_rfm p FULL JOIN serial_rfm s ON p.customer = s.customer
        WHERE p.customer IS NULL OR s.customer IS NULL OR p.r::text IS DISTINCT FROM s.r::text) AS rows_differing;
-- not grouped by it: partial aggregates per partition, combined
EXPLAIN (COSTS OFF)
SELECT clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00') FROM porders;
SELECT p.r::text = s.r::text AS partitionwise_equal
FROM (SELECT clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00') AS r FROM porders) p, serial_total s;
-- daily states merged in parallel
CREATE TABLE daily WITH (parallel_workers = 2) AS
SELECT customer, date_trunc('day', ordered_at, 'UTC') AS day, clm.rfm_state_agg(ordered_at, amount) AS st
FROM orders WHERE ordered_at <= timestamptz '2026-01-01 00:00+00' GROUP BY 1, 2;
ANALYZE daily;
EXPLAIN (COSTS OFF) SELECT clm.rfm_merge(st) FROM daily;
SELECT clm.rfm_final(m, timestamptz '2026-01-01 00:00+00')::text = s.r::text AS merged_equal
FROM (SELECT clm.rfm_merge(st) AS m FROM daily) x, serial_total s;

RESET ALL;
RESET search_path;
DROP SCHEMA rfm_parallel_test CASCADE;
