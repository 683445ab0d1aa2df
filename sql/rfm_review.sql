--
-- rfm_review: adversarial checks of the RFM speed changes (monetary built
-- without text, combine returning its input state, the "digits beyond
-- dscale" state rule, the radix sort of rfm_thresholds).  Every query
-- answers with booleans or counts computed independently in SQL.
--
\set VERBOSITY default
CREATE SCHEMA rfm_review_test;
SET search_path = rfm_review_test, public;
SET extra_float_digits = 3;

-- ---------------------------------------------------------------------
-- monetary: one amount per group, every display scale 0..40, around the
-- bigint bounds after scaling, both signs; must equal the amount exactly
-- (value and scale, compared as text)
-- ---------------------------------------------------------------------
CREATE TABLE one_amount AS
SELECT row_number() OVER () AS g, a
FROM (SELECT trunc(sgn * base * 10::numeric ^ k + delta, d) AS a
      FROM generate_series(0, 40) d, generate_series(-30, 18, 3) k,
           (VALUES (9.223372036854775807), (9.223372036854775808), (1.0), (9.999999999999999999)) b(base),
           (VALUES (1), (-1)) s(sgn), (VALUES (0), (0.5), (-1)) dd(delta)) x
WHERE abs(a) < 1e35 AND a = trunc(a, 32);
SELECT count(*) > 10000 AS enough,
       count(*) FILTER (WHERE (m).monetary::text IS DISTINCT FROM a::text) AS mismatches
FROM (SELECT g, a, clm.rfm_agg(timestamptz '2024-01-01 00:00+00', a, timestamptz '2026-01-01 00:00+00') AS m
      FROM one_amount GROUP BY g, a) q;

-- zero with a scale, and sums that land on the bigint bounds after scaling
SELECT g, (clm.rfm_agg(timestamptz '2024-01-01 00:00+00', a, timestamptz '2026-01-01 00:00+00')).monetary::text
          = sum(a)::text AS same
FROM (VALUES (1, 0.000::numeric), (1, 0.0000000000000000000000000000000000000000),
             (2, 922337203685477580.6), (2, 0.1), (2, 0.00),
             (3, -922337203685477580.7), (3, -0.1), (3, 0),
             (4, 922337203685477580.7), (4, 0.1),
             (5, -922337203685477580.8), (5, -0.1),
             (6, 9.223372036854775807), (6, -18.446744073709551614),
             (7, 1.5), (7, -1.50), (7, 0.000000000000000000001)) v(g, a)
GROUP BY g ORDER BY g;

-- mixed scales in one group (deterministic pseudo-random amounts, scale
-- 0 to 24 within a group, refunds included), and the same sums through a
-- stored state: rfm_state_agg -> text -> clm.rfm_state -> clm.rfm_final
CREATE TABLE mixed AS
SELECT i % 500 AS g,
       timestamptz '2024-01-01 00:00+00' + (i % 97) * interval '1 day' AS t,
       round(((hashint4(i) % 100000)::numeric / 7) * 10::numeric ^ (i % 13 - 6), (i * 7) % 25) AS a
FROM generate_series(1, 10000) i;
SELECT count(*) AS groups,
       count(*) FILTER (WHERE (m).monetary::text IS DISTINCT FROM s::text) AS agg_mismatches,
       count(*) FILTER (WHERE (f).monetary::text IS DISTINCT FROM s::text) AS state_mismatches,
       count(*) FILTER (WHERE m IS DISTINCT FROM f) AS row_mismatches
FROM (SELECT g, clm.rfm_agg(t, a, timestamptz '2026-01-01 00:00+00') AS m, sum(a) AS s,
             clm.rfm_final(clm.rfm_state_agg(t, a)::text::clm.rfm_state, timestamptz '2026-01-01 00:00+00') AS f
      FROM mixed GROUP BY g) q;

-- bigint amounts, the bounds included, through the aggregate and a state
SELECT g, (clm.rfm_agg(timestamptz '2024-01-01 00:00+00', a, timestamptz '2026-01-01 00:00+00')).monetary::text
          = sum(a)::text AS agg_same,
       (clm.rfm_final(clm.rfm_state_agg(timestamptz '2024-01-01 00:00+00', a)::text::clm.rfm_state,
                      timestamptz '2026-01-01 00:00+00')).monetary::text = sum(a)::text AS state_same
FROM (VALUES (1, 9223372036854775807::bigint), (2, -9223372036854775808), (3, 9223372036854775807), (3, 1),
             (4, -9223372036854775808), (4, -1), (5, 0), (6, 9223372036854775807), (6, 9223372036854775807),
             (6, -42)) v(g, a)
GROUP BY g ORDER BY g;

-- every state clm produces passes text and binary input again (numeric,
-- bigint and double precision amounts, refunds, a rescaled group)
CREATE TABLE produced AS
SELECT clm.rfm_state_agg(t, a) AS s FROM mixed GROUP BY g
UNION ALL SELECT clm.rfm_state_agg(t, a::bigint) FROM mixed GROUP BY g
UNION ALL SELECT clm.rfm_state_agg(t, a::float8) FROM mixed WHERE abs(a) < 1e15 GROUP BY g
UNION ALL SELECT clm.rfm_merge(s) FROM (SELECT clm.rfm_state_agg(t, a::bigint) AS s FROM mixed GROUP BY g
                                        UNION ALL SELECT clm.rfm_state_agg(t, a) FROM mixed GROUP BY g % 7) x;
SELECT current_setting('data_directory') || '/clm_rfm_review_states.bin' AS statefile \gset
COPY produced TO :'statefile' (FORMAT binary);
CREATE TABLE produced_back (s clm.rfm_state);
COPY produced_back FROM :'statefile' (FORMAT binary);
SELECT (SELECT count(*) FROM produced) AS produced,
       (SELECT count(*) FROM produced p WHERE p.s::text::clm.rfm_state::text = p.s::text) AS text_round_trip,
       (SELECT count(*) FROM produced_back) AS binary_round_trip,
       (SELECT array_agg(s::text ORDER BY s::text) FROM produced)
       = (SELECT array_agg(s::text ORDER BY s::text) FROM produced_back) AS binary_same;

-- hand-made states with digits beyond the display scale are rejected
SELECT '(1,d,8,0,1,0,5,5,5,,1)'::clm.rfm_state;
SELECT '(1,d,8,31,1,0,5,5,5,,-9223372036854775801)'::clm.rfm_state;
-- and the largest ones that are allowed give the exact value
SELECT (clm.rfm_final('(1,d,8,1000,1,0,5,5,5,,-170141183460469231731687303715884105728)'::clm.rfm_state,
                      timestamptz '2000-01-02 00:00+00')).monetary
       = -1701411.83460469231731687303715884105728 AS int128_min_ok,
       (clm.rfm_final('(1,d,8,31,1,0,5,5,5,,-9223372036854775800)'::clm.rfm_state,
                      timestamptz '2000-01-02 00:00+00')).monetary::text
       = '-0.0000000000000922337203685477580' AS scale_31_ok;

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

-- ---------------------------------------------------------------------
-- rfm_thresholds: the radix sort (from 1024 values) against an
-- independent computation.  With distinct values the j-th breakpoint is
-- the (k + 1)-th smallest value, k = j*n/bins rounded half down.
-- ---------------------------------------------------------------------
CREATE TABLE pool AS
SELECT DISTINCT v FROM (
    SELECT (CASE WHEN hashint4(i) % 2 = 0 THEN -1 ELSE 1 END)
           * (1 + (hashint4(i + 7) & 1048575) / 1048576.0::float8 + (hashint4(i + 13) & 1048575) / 1099511627776.0::float8)
           * 2::float8 ^ ((hashint4(i + 3) & 2047) - 1023 + CASE WHEN (hashint4(i + 3) & 2047) > 2045 THEN -2 ELSE 0 END) AS v
    FROM generate_series(1, 6000) i
    UNION ALL
    SELECT x FROM (VALUES (1.7976931348623157e308::float8), (-1.7976931348623157e308), (4.9e-324), (-4.9e-324),
                          (2.2250738585072014e-308), (2.225073858507201e-308), (-2.225073858507201e-308),
                          (1.0), (1.0000000000000002), (0.9999999999999999),
                          (-1.0), (-1.0000000000000002), (-0.9999999999999999)) x(x)) s
WHERE v <> 0 AND v::text NOT IN ('Infinity', '-Infinity', 'NaN');
CREATE TABLE cases AS
SELECT n, bins FROM (VALUES (1023), (1024), (1025), (2000), (3001)) a(n), generate_series(2, 9) bins;
CREATE TABLE sample AS
SELECT c.n, c.bins, p.v, row_number() OVER (PARTITION BY c.n, c.bins ORDER BY p.v) AS rk
FROM cases c CROSS JOIN LATERAL (SELECT v FROM pool ORDER BY hashfloat8(v) # c.n LIMIT c.n) p;
WITH expect AS (
    SELECT n, bins, array_agg(v ORDER BY j) AS e
    FROM (SELECT c.n, c.bins, j,
                 (SELECT v FROM sample s WHERE s.n = c.n AND s.bins = c.bins
                  AND s.rk = ceil(c.n::numeric * j / c.bins - 0.5) + 1) AS v
          FROM cases c, generate_series(1, c.bins - 1) j) x
    GROUP BY n, bins),
got AS (
    SELECT n, bins, (clm.rfm_thresholds(ROW(v, NULL, NULL, NULL, NULL, NULL, NULL)::clm.rfm, bins)).recency_breaks AS g
    FROM sample GROUP BY n, bins)
SELECT count(*) AS cases, count(*) FILTER (WHERE e::text = g::text) AS matching
FROM expect JOIN got USING (n, bins);

-- ties, all-equal values, values differing only in the lowest byte,
-- extremes, NULL fields: 1000 values (comparison sort) give the same
-- breakpoints as the same multiset two and three times over (radix sort)
CREATE TABLE base AS
SELECT 'equal' AS dist, i, 5.0::float8 AS r, 3::bigint AS f, 7.5::numeric AS m FROM generate_series(1, 1000) i
UNION ALL
SELECT 'ulp', i, 1.0::float8 + (i % 37) * 2.220446049250313e-16, (i % 3)::bigint, (1 + (i % 37) * 1e-15)::numeric
FROM generate_series(1, 1000) i
UNION ALL
SELECT 'ties', i, CASE WHEN i % 10 < 6 THEN 30 ELSE i % 13 END, CASE WHEN i < 550 THEN 1 ELSE 1 + i % 5 END,
       round((i % 7)::numeric * 10.25, 2)
FROM generate_series(1, 1000) i
UNION ALL
SELECT 'negative', i, (hashint4(i) % 100000) * 10::float8 ^ (i % 20 - 10), (hashint4(i + 1) & 1073741823)::bigint * 1000,
       round((hashint4(i + 2) % 1000000)::numeric / 1000, 3)
FROM generate_series(1, 1000) i
UNION ALL
SELECT 'extremes', i,
       (ARRAY[1.7976931348623157e308, -1.7976931348623157e308, 4.9e-324, -4.9e-324, 1, -1, 2.2250738585072014e-308])[1 + i % 7]::float8,
       (ARRAY[9223372036854775807, 0, 1, 9007199254740993])[1 + i % 4]::bigint,
       (ARRAY[1e300, -1e300, 0, 1e-30])[1 + i % 4]::numeric
FROM generate_series(1, 1000) i
UNION ALL
SELECT 'nulls', i, CASE WHEN i % 3 = 0 THEN NULL ELSE i % 17 END, CASE WHEN i % 5 = 0 THEN NULL ELSE i % 4 END,
       CASE WHEN i % 2 = 0 THEN NULL ELSE i END
FROM generate_series(1, 1000) i;
WITH once AS (
    SELECT dist, bins, clm.rfm_thresholds(ROW(r, f, m, NULL, NULL, NULL, NULL)::clm.rfm, bins)::text AS t1
    FROM base, generate_series(2, 9) bins GROUP BY dist, bins),
repeated AS (
    SELECT dist, bins, k, clm.rfm_thresholds(ROW(r, f, m, NULL, NULL, NULL, NULL)::clm.rfm, bins)::text AS t2
    FROM base, generate_series(2, 9) bins, generate_series(2, 3) k, generate_series(1, k) rep
    GROUP BY dist, bins, k)
SELECT dist, count(*) AS comparisons, count(*) FILTER (WHERE t1 = t2) AS same
FROM once JOIN repeated USING (dist, bins) GROUP BY dist ORDER BY dist;

-- -0.0 and +0.0 are one value: half the rows at -1, the rest zeros of
-- both signs, 2 bins: the only breakpoint is a zero
SELECT n, (th).recency_breaks[1] = 0 AS zero_break, array_length((th).recency_breaks, 1) AS breaks
FROM (SELECT n, clm.rfm_thresholds(ROW(v, NULL, NULL, NULL, NULL, NULL, NULL)::clm.rfm, 2) AS th
      FROM (VALUES (1000), (1024), (2000)) nn(n),
           LATERAL (SELECT CASE WHEN i <= n / 2 THEN -1.0 WHEN i % 2 = 0 THEN '-0'::float8 ELSE '0'::float8 END AS v
                    FROM generate_series(1, n) i) s
      GROUP BY n) q ORDER BY n;

RESET max_parallel_workers_per_gather;
RESET search_path;
DROP SCHEMA rfm_review_test CASCADE;
