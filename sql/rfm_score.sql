--
-- rfm_score: tie-safe quantile thresholds and scores
--
\set VERBOSITY default
CREATE SCHEMA rfm_score_test;
SET search_path = rfm_score_test, public;

-- 1000 customers with a skewed frequency: 55% one order, 20% two,
-- 10% three, 8% four, 7% five; distinct recency and monetary values.
CREATE TABLE rfm AS
SELECT c AS customer,
       ROW(c * 0.5, CASE WHEN c <= 550 THEN 1 WHEN c <= 750 THEN 2 WHEN c <= 850 THEN 3
                         WHEN c <= 930 THEN 4 ELSE 5 END,
           ((c * 7919) % 1000 + 1)::numeric, NULL, NULL, NULL, NULL)::clm.rfm AS r
FROM generate_series(1, 1000) c;

SELECT clm.rfm_thresholds(r) FROM rfm;

-- every frequency score is used, ties never split, and the heavy tie of
-- one-order customers takes exactly one score (ntile would split it over
-- scores 1, 2 and 3)
WITH t AS (SELECT clm.rfm_thresholds(r) AS th FROM rfm),
s AS (SELECT r, clm.rfm_score(r, th) AS s FROM rfm, t)
SELECT (s).f, count(*) AS customers, min((r).frequency) AS min_orders, max((r).frequency) AS max_orders
FROM s GROUP BY 1 ORDER BY 1;

-- recency: the most recent customers (smallest recency_days) get r = 5;
-- distinct values give equal quintiles
WITH t AS (SELECT clm.rfm_thresholds(r) AS th FROM rfm),
s AS (SELECT r, clm.rfm_score(r, th) AS s FROM rfm, t)
SELECT (s).r, count(*), min((r).recency_days), max((r).recency_days), min((s).score) >= 111 AS score_ok
FROM s GROUP BY 1 ORDER BY 1;

-- From 1024 values on, the values are sorted by a radix sort on their bit
-- patterns instead of a comparison sort.  Distinct values, negatives and
-- zero included: with 2000 values and 5 bins the j-th breakpoint is the
-- (400j + 1)-th smallest value.
CREATE TABLE big AS
SELECT ROW((i - 1000) * 0.5, i % 7, ((i * 37) % 2000 - 1000)::numeric / 100,
           NULL, NULL, NULL, NULL)::clm.rfm AS r
FROM generate_series(1, 2000) i;
WITH t AS (SELECT clm.rfm_thresholds(r) AS th FROM big),
s AS (SELECT array_agg((r).recency_days ORDER BY (r).recency_days) AS rec,
             array_agg((r).monetary::float8 ORDER BY (r).monetary) AS mon FROM big)
SELECT (th).recency_breaks = ARRAY[rec[401], rec[801], rec[1201], rec[1601]] AS recency_ok,
       (th).monetary_breaks = ARRAY[mon[401], mon[801], mon[1201], mon[1601]] AS monetary_ok,
       (th).recency_breaks, (th).monetary_breaks
FROM t, s;
-- frequency i % 7 ties: counts 285 (0), 286 (1 to 5), 285 (6), cumulative
-- 285, 571, 857, 1143, 1429, 1715, 2000 against targets 400, 800, 1200,
-- 1600: the nearest cuts are after 0, 2, 3 and 5, so breaks 1, 3, 4, 6
SELECT (clm.rfm_thresholds(r)).frequency_breaks FROM big;
-- the heavy-tie customers above, three times over (3000 values): the same
-- proportions give the same breakpoints as the 1000 values did
SELECT (clm.rfm_thresholds(r)).frequency_breaks = (SELECT (clm.rfm_thresholds(r)).frequency_breaks FROM rfm)
       AS same_breaks
FROM rfm, generate_series(1, 3);

-- -0 and 0 are one value: with both among 2000 values (radix path) and
-- among 1000 (comparison path) the zero breakpoint prints as 0, never -0
-- (five equal groups -2, -1, 0, 1, 2; half of the zeros are -0)
SELECT n, (clm.rfm_thresholds(ROW(CASE WHEN i / (n / 5) = 2 AND i % 2 = 0 THEN '-0'::float8
                                       ELSE (i / (n / 5) - 2)::float8 END,
                                  1, 1::numeric, NULL, NULL, NULL, NULL)::clm.rfm)).recency_breaks
FROM (VALUES (1000), (2000)) v(n), LATERAL generate_series(0, n - 1) i
GROUP BY n ORDER BY n;

-- identical values always share a score (a group of 100 identical customers)
WITH x AS (SELECT ROW(10, 3, 100::numeric, NULL, NULL, NULL, NULL)::clm.rfm AS r FROM generate_series(1, 100)
           UNION ALL SELECT r FROM rfm),
t AS (SELECT clm.rfm_thresholds(r) AS th FROM x)
SELECT count(DISTINCT clm.rfm_score(x.r, th)) AS distinct_scores_of_identical
FROM x, t WHERE (x.r).recency_days = 10 AND (x.r).frequency = 3 AND (x.r).monetary = 100;

-- fewer distinct values than bins: spread over the whole range
SELECT clm.rfm_thresholds(r) FROM (VALUES
    (ROW(1, 1, 10::numeric, NULL, NULL, NULL, NULL)::clm.rfm),
    (ROW(2, 1, 20::numeric, NULL, NULL, NULL, NULL)::clm.rfm),
    (ROW(3, 2, 20::numeric, NULL, NULL, NULL, NULL)::clm.rfm),
    (ROW(3, 2, 20::numeric, NULL, NULL, NULL, NULL)::clm.rfm)) v(r);
WITH v(r) AS (VALUES
    (ROW(1, 1, 10::numeric, NULL, NULL, NULL, NULL)::clm.rfm),
    (ROW(2, 1, 20::numeric, NULL, NULL, NULL, NULL)::clm.rfm),
    (ROW(3, 2, 20::numeric, NULL, NULL, NULL, NULL)::clm.rfm),
    (ROW(3, 2, 20::numeric, NULL, NULL, NULL, NULL)::clm.rfm)),
t AS (SELECT clm.rfm_thresholds(r) AS th FROM v)
SELECT (r).recency_days, (r).frequency, (r).monetary, (clm.rfm_score(r, th)).* FROM v, t;
-- a single distinct value scores in the middle
WITH v(r) AS (VALUES (ROW(7, 2, 5::numeric, NULL, NULL, NULL, NULL)::clm.rfm),
                     (ROW(7, 2, 5::numeric, NULL, NULL, NULL, NULL)::clm.rfm))
SELECT th, (clm.rfm_score(r, th)).* FROM v, (SELECT clm.rfm_thresholds(r) AS th FROM v) t;

-- other bin counts; NULL recency (refunds only) is skipped and scores NULL
SELECT clm.rfm_thresholds(r, 3) FROM rfm;
SELECT clm.rfm_thresholds(r, 9) FROM rfm;
SELECT clm.rfm_score(ROW(NULL, 0, -5::numeric, NULL, NULL, NULL, NULL)::clm.rfm,
                     clm.rfm_thresholds('{10,20}', '{1}', '{0,100}'));
-- no rows: NULL
SELECT clm.rfm_thresholds(r) IS NULL AS empty FROM rfm WHERE false;

-- business-defined thresholds
SELECT clm.rfm_thresholds(ARRAY[30, 90, 180, 365], ARRAY[2, 3, 5, 10], ARRAY[100, 500, 1000, 5000]);
SELECT (clm.rfm_score(ROW(45, 3, 750::numeric, NULL, NULL, NULL, NULL)::clm.rfm,
        clm.rfm_thresholds(ARRAY[30, 90, 180, 365], ARRAY[2, 3, 5, 10], ARRAY[100, 500, 1000, 5000]))).*;
-- a value equal to a breakpoint belongs to the upper score
SELECT (clm.rfm_score(ROW(30, 2, 100::numeric, NULL, NULL, NULL, NULL)::clm.rfm,
        clm.rfm_thresholds(ARRAY[30, 90, 180, 365], ARRAY[2, 3, 5, 10], ARRAY[100, 500, 1000, 5000]))).*;

-- with rfm_agg on real orders: scores equal a tie-safe rank formula
CREATE TABLE orders AS
SELECT floor(500 * power((i * 7919) % 3001 / 3001.0, 2))::int AS customer,
       timestamptz '2024-01-01 00:00+00' + ((i * 7919) % 700) * interval '1 day' AS ordered_at,
       round((i * 37 % 20000) / 100.0, 2) AS amount
FROM generate_series(1, 3000) i;
CREATE TABLE c AS
SELECT customer, clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00') AS r FROM orders GROUP BY 1;
WITH t AS (SELECT clm.rfm_thresholds(r) AS th FROM c),
s AS (SELECT r, clm.rfm_score(r, th) AS s FROM c, t)
SELECT (s).f, count(*), min((r).frequency), max((r).frequency) FROM s GROUP BY 1 ORDER BY 1;
-- every pair of customers with the same frequency has the same f, and
-- a higher frequency never gets a lower f (monotone), likewise for m and r
WITH t AS (SELECT clm.rfm_thresholds(r) AS th FROM c),
s AS (SELECT r, clm.rfm_score(r, th) AS s FROM c, t)
SELECT count(*) FILTER (WHERE (a.r).frequency = (b.r).frequency AND (a.s).f <> (b.s).f
                           OR (a.r).frequency < (b.r).frequency AND (a.s).f > (b.s).f) AS f_violations,
       count(*) FILTER (WHERE (a.r).monetary <= (b.r).monetary AND (a.s).m > (b.s).m) AS m_violations,
       count(*) FILTER (WHERE (a.r).recency_days <= (b.r).recency_days AND (a.s).r < (b.s).r) AS r_violations
FROM s a, s b;

-- bad input
SELECT clm.rfm_thresholds(r, 1) FROM rfm;
SELECT clm.rfm_thresholds(r, 10) FROM rfm;
SELECT clm.rfm_thresholds(r, NULL) FROM rfm;
SELECT clm.rfm_thresholds(r, (customer % 2) + 3) FROM rfm;
SELECT clm.rfm_thresholds(ROW('NaN', 1, 1::numeric, NULL, NULL, NULL, NULL)::clm.rfm);
SELECT clm.rfm_thresholds(ROW(1, 1, 'NaN'::numeric, NULL, NULL, NULL, NULL)::clm.rfm);
-- beyond the double range: the same error, not one quoting the 401-digit number
SELECT clm.rfm_thresholds(ROW(1, 1, 1e400, NULL, NULL, NULL, NULL)::clm.rfm);
SELECT clm.rfm_thresholds(ARRAY[90, 30], ARRAY[2], ARRAY[100]);
SELECT clm.rfm_thresholds(ARRAY[]::float8[], ARRAY[2], ARRAY[100]);
SELECT clm.rfm_thresholds(ARRAY[1,2,3,4,5,6,7,8,9], ARRAY[2], ARRAY[100]);
SELECT clm.rfm_thresholds(ARRAY[1, NULL], ARRAY[2], ARRAY[100]);
SELECT clm.rfm_thresholds(ARRAY[1, 'NaN']::float8[], ARRAY[2], ARRAY[100]);
SELECT clm.rfm_thresholds(ARRAY[[1, 2], [3, 4]], ARRAY[2], ARRAY[100]);
-- hand-built thresholds are checked when used
SELECT clm.rfm_score(ROW(1, 1, 1::numeric, NULL, NULL, NULL, NULL)::clm.rfm,
                     ROW('{5,1}', '{1}', '{1}')::clm.rfm_thresholds);
SELECT clm.rfm_score(ROW(1, 1, 1::numeric, NULL, NULL, NULL, NULL)::clm.rfm,
                     ROW(NULL, '{1}', '{1}')::clm.rfm_thresholds);
SELECT clm.rfm_score(ROW('Infinity', 1, 1::numeric, NULL, NULL, NULL, NULL)::clm.rfm,
                     clm.rfm_thresholds('{1}', '{1}', '{1}'));

RESET search_path;
DROP SCHEMA rfm_score_test CASCADE;
