--
-- rfm_merge: clm.rfm_merge of stored clm.rfm_state values (NULL states among
-- them) gives what clm.rfm_agg gives over the raw rows, in sorted, ordered,
-- hash-spilling, parallel and window plans (the combine function returns its
-- input state; every plan shape must still copy it correctly).  Every query
-- answers with counts of mismatches against the raw-row result.
--
\set VERBOSITY default
CREATE SCHEMA rfm_merge_test;
SET search_path = rfm_merge_test, public;
SET extra_float_digits = 3;

-- ---------------------------------------------------------------------
-- combine: clm.rfm_merge of stored states (NULLs among them) in plain,
-- ordered, hash-spilling, parallel and window plans equals clm.rfm_agg
-- over the raw rows
-- ---------------------------------------------------------------------
CREATE TABLE orders (customer int, ordered_at timestamptz, amount numeric) WITH (parallel_workers = 2);
INSERT INTO orders
SELECT (hashint4(i) & 16383), timestamptz '2024-01-01 00:00+00' + ((i::bigint * 104729) % 360) * interval '1 day',
       round((hashint4(i + 1) % 100000)::numeric / 100, (i % 5))
FROM generate_series(1, 60000) i;
CREATE TABLE states WITH (parallel_workers = 2) AS
SELECT customer, date_trunc('month', ordered_at) AS mon, clm.rfm_state_agg(ordered_at, amount) AS s
FROM orders GROUP BY 1, 2;
INSERT INTO states SELECT customer, NULL, NULL FROM states WHERE customer % 10 = 0;
ANALYZE orders;
ANALYZE states;
CREATE TABLE ref AS
SELECT customer, clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00')::text AS r
FROM orders GROUP BY customer;

SET max_parallel_workers_per_gather = 0;
SET enable_hashagg = off;
CREATE TABLE m_sorted AS
SELECT customer, clm.rfm_final(clm.rfm_merge(s), timestamptz '2026-01-01 00:00+00')::text AS r
FROM states GROUP BY customer;
CREATE TABLE m_ordered AS
SELECT customer, clm.rfm_final(clm.rfm_merge(s ORDER BY mon DESC NULLS FIRST), timestamptz '2026-01-01 00:00+00')::text AS r
FROM states GROUP BY customer;
RESET enable_hashagg;
SET enable_sort = off;
SET work_mem = '64kB';
CREATE TABLE m_spilled AS
SELECT customer, clm.rfm_final(clm.rfm_merge(s), timestamptz '2026-01-01 00:00+00')::text AS r
FROM states GROUP BY customer;
CREATE TABLE a_spilled AS
SELECT customer, clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00')::text AS r
FROM orders GROUP BY customer;
RESET work_mem;
RESET enable_sort;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
CREATE TABLE m_parallel AS
SELECT customer % 100 AS k, clm.rfm_final(clm.rfm_merge(s), timestamptz '2026-01-01 00:00+00')::text AS r
FROM states GROUP BY 1;
CREATE TABLE a_parallel AS
SELECT customer % 100 AS k, clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00')::text AS r
FROM orders GROUP BY 1;
CREATE TABLE whole_parallel AS
SELECT clm.rfm_final(clm.rfm_merge(s), timestamptz '2026-01-01 00:00+00')::text AS m,
       (SELECT clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00')::text FROM orders) AS a
FROM states;
SET work_mem = '64kB';
CREATE TABLE m_parallel_spilled AS
SELECT customer, clm.rfm_final(clm.rfm_merge(s), timestamptz '2026-01-01 00:00+00')::text AS r
FROM states GROUP BY customer;
RESET work_mem;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;
SET max_parallel_workers_per_gather = 0;
CREATE TABLE ref100 AS
SELECT customer % 100 AS k, clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00')::text AS r
FROM orders GROUP BY 1;

SELECT 'sorted' AS plan, count(*) FILTER (WHERE x.r IS DISTINCT FROM ref.r) AS mismatches FROM m_sorted x FULL JOIN ref USING (customer)
UNION ALL SELECT 'ordered', count(*) FILTER (WHERE x.r IS DISTINCT FROM ref.r) FROM m_ordered x FULL JOIN ref USING (customer)
UNION ALL SELECT 'spilled merge', count(*) FILTER (WHERE x.r IS DISTINCT FROM ref.r) FROM m_spilled x FULL JOIN ref USING (customer)
UNION ALL SELECT 'spilled agg', count(*) FILTER (WHERE x.r IS DISTINCT FROM ref.r) FROM a_spilled x FULL JOIN ref USING (customer)
UNION ALL SELECT 'parallel merge', count(*) FILTER (WHERE x.r IS DISTINCT FROM ref100.r) FROM m_parallel x FULL JOIN ref100 USING (k)
UNION ALL SELECT 'parallel agg', count(*) FILTER (WHERE x.r IS DISTINCT FROM ref100.r) FROM a_parallel x FULL JOIN ref100 USING (k)
UNION ALL SELECT 'parallel whole', count(*) FILTER (WHERE m IS DISTINCT FROM a) FROM whole_parallel
UNION ALL SELECT 'parallel spilled', count(*) FILTER (WHERE x.r IS DISTINCT FROM ref.r) FROM m_parallel_spilled x FULL JOIN ref USING (customer);

-- as a window aggregate: running, sliding (restarted on every row) and
-- whole-partition frames; the NULL-state rows sort last in each partition
CREATE INDEX ON orders (customer);
CREATE TABLE w AS
SELECT customer, mon, row_number() OVER (PARTITION BY customer ORDER BY mon) AS rn,
       clm.rfm_merge(s) OVER (PARTITION BY customer ORDER BY mon ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)::text AS running,
       clm.rfm_merge(s) OVER (PARTITION BY customer ORDER BY mon ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING)::text AS sliding,
       clm.rfm_merge(s) OVER (PARTITION BY customer)::text AS whole
FROM states WHERE customer < 1000;
SELECT count(*) > 1000 AS enough,
       count(*) FILTER (WHERE mon IS NOT NULL AND running IS DISTINCT FROM
           (SELECT clm.rfm_state_agg(ordered_at, amount)::text FROM orders o
            WHERE o.customer = w.customer AND date_trunc('month', ordered_at) <= w.mon)) AS running_mismatches,
       count(*) FILTER (WHERE sliding IS DISTINCT FROM
           (SELECT clm.rfm_state_agg(ordered_at, amount)::text FROM orders o
            WHERE o.customer = w.customer AND date_trunc('month', ordered_at) IN
                  (SELECT w2.mon FROM w w2 WHERE w2.customer = w.customer AND w2.rn BETWEEN w.rn - 1 AND w.rn + 1))) AS sliding_mismatches,
       count(*) FILTER (WHERE whole IS DISTINCT FROM
           (SELECT clm.rfm_state_agg(ordered_at, amount)::text FROM orders o WHERE o.customer = w.customer)) AS whole_mismatches
FROM w;
RESET max_parallel_workers_per_gather;
RESET search_path;
DROP SCHEMA rfm_merge_test CASCADE;
