--
-- clv_holdout: clm.holdout_purchases (the holdout purchases of a
-- calibration/holdout split, next to clm.purchase_summary in one pass) and
-- clm.holdout_accuracy (predicted against actual holdout purchases).
--
CREATE SCHEMA clv_holdout;
SET search_path = clv_holdout, public;
SET TimeZone = 'America/New_York';   -- days are UTC days whatever the session zone

CREATE TABLE orders (customer_id int, ordered_at timestamptz, amount numeric);
INSERT INTO orders VALUES
  -- 1: calibration days 01-01 (two orders), 01-08, 01-31 (cutoff day, late);
  --    holdout days 02-01 (two orders, UTC), 02-10, 03-01 (last holdout day);
  --    03-02 is after the holdout
  (1, '2024-01-01 10:00+00', 10), (1, '2024-01-01 23:00+00', 5),
  (1, '2024-01-08 09:00+00', 20), (1, '2024-01-31 23:59:59+00', 30),
  (1, '2024-02-01 00:00+00', 1), (1, '2024-02-01 22:00+00', 1),
  (1, '2024-02-10 12:00+00', 1), (1, '2024-03-01 23:59:59.999999+00', 1),
  (1, '2024-03-02 00:00+00', 1),
  -- 2: one calibration day, no holdout purchase
  (2, '2024-01-20 12:00+00', 42.50),
  -- 3: first purchase in the holdout: no calibration summary
  (3, '2024-02-05 00:00+00', 7),
  -- 4: a NULL order time is skipped
  (4, '2024-01-02 00:00+00', 3), (4, NULL, 3), (4, '2024-02-02 05:00+00', 3);

-- the split: cutoff end of 2024-01-31 UTC, holdout 30 days (02-01 .. 03-01)
CREATE TABLE split AS
SELECT customer_id,
       (clm.purchase_summary(ordered_at, amount, '2024-01-31 23:59:59+00', '7 days')).*,
       clm.holdout_purchases(ordered_at, '2024-01-31 23:59:59+00', '30 days') AS holdout
FROM orders GROUP BY customer_id;
SELECT * FROM split ORDER BY customer_id;

-- independent SQL computation of the same split
CREATE TABLE split_sql AS
WITH d AS (
  SELECT customer_id, (ordered_at AT TIME ZONE 'UTC')::date AS day, sum(amount) AS amount
  FROM orders WHERE ordered_at IS NOT NULL GROUP BY 1, 2
), c AS (
  SELECT customer_id, day, amount, min(day) OVER (PARTITION BY customer_id) AS first_day
  FROM d WHERE day <= date '2024-01-31'
)
SELECT o.customer_id,
       (SELECT nullif(count(*), 0) - 1 FROM c WHERE c.customer_id = o.customer_id)::int AS x,
       (SELECT (max(day) - min(day)) / 7.0 FROM c WHERE c.customer_id = o.customer_id) AS t_x,
       (SELECT (date '2024-01-31' - min(day)) / 7.0 FROM c WHERE c.customer_id = o.customer_id) AS t,
       (SELECT CASE WHEN count(*) > 0
                    THEN coalesce(sum(amount) FILTER (WHERE day > first_day) / nullif(count(*) - 1, 0), 0) END
        FROM c WHERE c.customer_id = o.customer_id) AS mean_spend,
       (SELECT count(*) FROM d WHERE d.customer_id = o.customer_id
          AND day > date '2024-01-31' AND day <= date '2024-01-31' + 30)::int AS holdout
FROM (SELECT DISTINCT customer_id FROM orders) o;
SELECT count(*) AS mismatches
FROM split s FULL JOIN split_sql q USING (customer_id)
WHERE s.x IS DISTINCT FROM q.x
   OR abs(s.t_x - q.t_x) > 1e-12 OR (s.t_x IS NULL) <> (q.t_x IS NULL)
   OR abs(s.t - q.t) > 1e-12 OR (s.t IS NULL) <> (q.t IS NULL)
   OR abs(s.mean_spend - q.mean_spend) > 1e-12 OR (s.mean_spend IS NULL) <> (q.mean_spend IS NULL)
   OR s.holdout IS DISTINCT FROM q.holdout;

-- a larger random log: serial and parallel plans against the SQL computation
CREATE TABLE big AS
SELECT (i % 500) AS customer_id,
       timestamptz '2023-01-01 00:00+00' + (((i * 7919) % 73000) * interval '3 hours') AS ordered_at,
       1::numeric AS amount
FROM generate_series(1, 20000) i;
CREATE TABLE big_sql AS
SELECT customer_id, count(DISTINCT (ordered_at AT TIME ZONE 'UTC')::date)
         FILTER (WHERE (ordered_at AT TIME ZONE 'UTC')::date > date '2024-06-30'
                   AND (ordered_at AT TIME ZONE 'UTC')::date <= date '2024-06-30' + 91)::int AS holdout
FROM big GROUP BY customer_id;
SELECT count(*) AS customers, sum(holdout) AS holdout_days FROM big_sql;
SELECT count(*) AS serial_mismatches
FROM (SELECT customer_id, clm.holdout_purchases(ordered_at, '2024-06-30 12:00+00', '13 weeks') AS holdout
      FROM big GROUP BY customer_id) s FULL JOIN big_sql q USING (customer_id)
WHERE s.holdout IS DISTINCT FROM q.holdout;
BEGIN;
SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0; SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_leader_participation = off; SET LOCAL enable_hashagg = off;
EXPLAIN (COSTS OFF)
SELECT customer_id, clm.holdout_purchases(ordered_at, '2024-06-30 12:00+00', '13 weeks')
FROM big GROUP BY customer_id;
SELECT count(*) AS parallel_mismatches
FROM (SELECT customer_id, clm.holdout_purchases(ordered_at, '2024-06-30 12:00+00', '13 weeks') AS holdout
      FROM big GROUP BY customer_id) s FULL JOIN big_sql q USING (customer_id)
WHERE s.holdout IS DISTINCT FROM q.holdout;
-- one group over all rows: partial states of the workers are combined
EXPLAIN (COSTS OFF)
SELECT clm.holdout_purchases(ordered_at, '2024-06-30 12:00+00', '13 weeks') FROM big;
SELECT clm.holdout_purchases(ordered_at, '2024-06-30 12:00+00', '13 weeks') AS all_days,
       (SELECT count(DISTINCT (ordered_at AT TIME ZONE 'UTC')::date) FROM big
        WHERE (ordered_at AT TIME ZONE 'UTC')::date BETWEEN date '2024-07-01' AND date '2024-09-29') AS sql_days
FROM big;
-- clm.holdout_accuracy in a parallel plan (workers only): the serial report
-- (whole-number predictions and counts, so every sum is exact in any order)
CREATE TABLE acc_rows AS
SELECT (customer_id % 7)::float8 AS predicted, (customer_id % 5)::float8 AS actual FROM big;
ALTER TABLE acc_rows SET (parallel_workers = 2);
SET LOCAL max_parallel_workers_per_gather = 0;
CREATE TABLE acc_serial AS SELECT clm.holdout_accuracy(predicted, actual) AS a FROM acc_rows;
SET LOCAL max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT clm.holdout_accuracy(predicted, actual) FROM acc_rows;
SELECT clm.holdout_accuracy(predicted, actual) = (SELECT a FROM acc_serial) AS accuracy_parallel_same
FROM acc_rows;
COMMIT;

-- days before 2000 (negative timestamps) are floored, not truncated: the
-- holdout after the cutoff's day 1999-12-30 holds 1999-12-31 (two orders)
-- and 2000-01-01, 2 days; an order late on the cutoff's day is calibration
SELECT clm.holdout_purchases(o, '1999-12-30 12:00+00', '2 days') AS holdout
FROM (VALUES (timestamptz '1999-12-30 23:59:59+00'), ('1999-12-31 00:00:00.000001+00'),
             ('1999-12-31 23:00+00'), ('2000-01-01 00:00+00'), ('2000-01-02 00:00+00')) v(o);

-- empty input: 0 purchases (a count)
SELECT clm.holdout_purchases(ordered_at, '2024-01-31 00:00+00', '1 day') FROM orders WHERE false;

-- clm.holdout_accuracy against hand computation: predicted (1, 2, 0.5, 4),
-- actual (0, 3, 0.5, 2): errors 1, -1, 0, 2; totals 7.5 and 5.5; MAE 1,
-- RMSE sqrt(6/4) = 1.2247448713915890, bias 0.5
SELECT (clm.holdout_accuracy(p, a)).*
FROM (VALUES (1, 0), (2, 3), (0.5, 0.5), (4, 2)) v(p, a);
SELECT (clm.holdout_accuracy(p, a)).rmse = sqrt(1.5) AS rmse_exact
FROM (VALUES (1, 0), (2, 3), (0.5, 0.5), (4, 2)) v(p, a);
-- no rows: NULL
SELECT clm.holdout_accuracy(p, a) IS NULL AS empty_is_null
FROM (VALUES (1.0, 0.0)) v(p, a) WHERE false;

-- the table by calibration frequency with its total, from one ROLLUP; a
-- hand-written BG/NBD model predicts the 30-day (30/7-week) holdout
SELECT CASE WHEN g = 1 THEN 'all' ELSE f::text END AS freq,
       (a).customers, round((a).predicted::numeric, 4) AS predicted, (a).actual,
       round((a).mean_predicted::numeric, 4) AS mean_predicted, (a).mean_actual,
       round((a).mae::numeric, 4) AS mae, round((a).rmse::numeric, 4) AS rmse,
       round((a).bias::numeric, 4) AS bias
FROM (SELECT f, grouping(f) AS g, clm.holdout_accuracy(p, holdout) AS a
      FROM (SELECT least(x, 7) AS f, holdout,
                   clm.bgnbd_expected_purchases(ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL,
                                                    NULL, NULL, NULL, NULL)::clm.bgnbd,
                                                30 / 7.0, x, t_x, t) AS p
            FROM split WHERE x IS NOT NULL) s
      GROUP BY ROLLUP(f)) r
ORDER BY g, f;
-- the same figures by hand: the predictions of customers 1, 2, 4 and their errors
SELECT customer_id, x, holdout,
       round(clm.bgnbd_expected_purchases(ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL,
                                              NULL, NULL, NULL, NULL)::clm.bgnbd,
                                          30 / 7.0, x, t_x, t)::numeric, 4) AS predicted
FROM split WHERE x IS NOT NULL ORDER BY customer_id;
-- and the aggregate against the same figures computed in SQL
SELECT abs((a).predicted - sum(p)) < 1e-12 AND (a).actual = sum(y)
       AND abs((a).mae - avg(abs(p - y))) < 1e-12
       AND abs((a).rmse - sqrt(avg((p - y) ^ 2))) < 1e-12
       AND abs((a).bias - avg(p - y)) < 1e-12 AS matches_sql
FROM (SELECT clm.bgnbd_expected_purchases(ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL,
                                              NULL, NULL, NULL, NULL)::clm.bgnbd,
                                          30 / 7.0, x, t_x, t) AS p, holdout::float8 AS y
      FROM split WHERE x IS NOT NULL) s,
     LATERAL (SELECT clm.holdout_accuracy(
                clm.bgnbd_expected_purchases(ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL,
                                                 NULL, NULL, NULL, NULL)::clm.bgnbd,
                                             30 / 7.0, x, t_x, t), holdout) AS a
              FROM split WHERE x IS NOT NULL) l
GROUP BY l.a;

-- bad input
SELECT clm.holdout_purchases(ordered_at, NULL, '30 days') FROM orders;
SELECT clm.holdout_purchases(ordered_at, '2024-01-31 00:00+00', NULL) FROM orders;
SELECT clm.holdout_purchases(ordered_at, '2024-01-31 00:00+00', '-30 days') FROM orders;
SELECT clm.holdout_purchases(ordered_at, '2024-01-31 00:00+00', '0 days') FROM orders;
SELECT clm.holdout_purchases(ordered_at, '2024-01-31 00:00+00', '1 month') FROM orders;
SELECT clm.holdout_purchases(ordered_at, '2024-01-31 00:00+00', '36 hours') FROM orders;
SELECT clm.holdout_purchases(ordered_at, 'infinity', '30 days') FROM orders;
SELECT clm.holdout_purchases(o, '2024-01-31 00:00+00', '30 days') FROM (VALUES ('-infinity'::timestamptz)) v(o);
SELECT clm.holdout_purchases(ordered_at, c, '30 days')
FROM (VALUES ('2024-01-01'::timestamptz, '2024-01-31 00:00+00'::timestamptz),
             ('2024-01-02', '2024-02-01 00:00+00')) v(ordered_at, c);
SELECT clm.holdout_purchases(ordered_at, '2024-01-31 00:00+00', h)
FROM (VALUES ('2024-01-01'::timestamptz, '30 days'::interval), ('2024-01-02', '31 days')) v(ordered_at, h);
SELECT clm.holdout_accuracy(p, a) FROM (VALUES (NULL::float8, 1::float8)) v(p, a);
SELECT clm.holdout_accuracy(p, a) FROM (VALUES (1::float8, NULL::float8)) v(p, a);
SELECT clm.holdout_accuracy(p, a) FROM (VALUES ('NaN'::float8, 1::float8)) v(p, a);
SELECT clm.holdout_accuracy(p, a) FROM (VALUES (1::float8, 'Infinity'::float8)) v(p, a);
SELECT clm.holdout_accuracy(p, a) FROM (VALUES (-0.5::float8, 1::float8)) v(p, a);
SELECT clm.holdout_accuracy(p, a) FROM (VALUES (1::float8, -1::float8)) v(p, a);
-- support functions outside an aggregate: the one error of every clm
-- aggregate support function (those taking internal through aliases with
-- bigint in its place, which fail before reading the NULL)
SELECT clm.holdout_accuracy_transfn('{0,0,0,0,0}', 1, 1);
SELECT clm.holdout_accuracy_combine('{0,0,0,0,0}', '{0,0,0,0,0}');
CREATE FUNCTION ho_transfn(bigint, timestamptz, timestamptz, interval) RETURNS bigint
    AS '$libdir/clm', 'clm_holdout_purchases_transfn' LANGUAGE C;
CREATE FUNCTION ho_combine(bigint, bigint) RETURNS bigint
    AS '$libdir/clm', 'clm_holdout_purchases_combine' LANGUAGE C;
CREATE FUNCTION ho_serial(bigint) RETURNS bytea
    AS '$libdir/clm', 'clm_holdout_purchases_serial' LANGUAGE C;
CREATE FUNCTION ho_deserial(bytea, bigint) RETURNS bigint
    AS '$libdir/clm', 'clm_holdout_purchases_deserial' LANGUAGE C;
CREATE FUNCTION ho_final(bigint) RETURNS integer
    AS '$libdir/clm', 'clm_holdout_purchases_final' LANGUAGE C;
SELECT ho_transfn(NULL, now(), now(), '1 day');
SELECT ho_combine(NULL, NULL);
SELECT ho_serial(NULL);
SELECT ho_deserial(NULL, NULL);
SELECT ho_final(NULL);
SELECT clm.holdout_accuracy_final('{1,2}');

RESET TimeZone;
DROP SCHEMA clv_holdout CASCADE;

-- the transition function in an aggregate without clm.holdout_accuracy's
-- initial state (any role may make one): an error, not a NULL dereference
CREATE AGGREGATE pg_temp.accuracy_without_initcond(float8, float8) (
    SFUNC = clm.holdout_accuracy_transfn, STYPE = float8[]);
SELECT pg_temp.accuracy_without_initcond(1, 2);
