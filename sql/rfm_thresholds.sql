--
-- rfm_thresholds: the breakpoints of the clm.rfm_thresholds aggregate against an
-- independent computation in SQL, on both sides of the switch from a
-- comparison sort to the radix sort (1,024 values): distinct doubles of every
-- exponent, ties, equal values, values one unit in the last place apart,
-- extremes, NULL fields, and -0.0 = +0.0.  Serial plans, so that each
-- aggregate sorts all of its values in one process.
--
\set VERBOSITY default
CREATE SCHEMA rfm_thresholds_test;
SET search_path = rfm_thresholds_test, public;
SET extra_float_digits = 3;
SET max_parallel_workers_per_gather = 0;

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
DROP SCHEMA rfm_thresholds_test CASCADE;
