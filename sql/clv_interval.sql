--
-- clv_interval: the covariance of BG/NBD and Gamma-Gamma fits and the
-- delta-method prediction intervals for one customer (expected purchases,
-- P(alive), CLV) and for the total expected purchases; the same for
-- Pareto/NBD
-- (doc/clv.md, "Prediction intervals").  Coverage over simulated data sets
-- is checked by test/t/038_clv_interval_coverage.pl.
--
-- 5000 customers simulated from BG/NBD by test/data/btyd_gen.c (as in
-- sql/clv_fit.sql)
\getenv abs_srcdir PG_ABS_SRCDIR
CREATE SCHEMA clv_interval;
SET search_path = clv_interval, public;
CREATE TABLE sim(id int, x int, t_x_days int, t_days int, mean_spend float8);
\set sample_file :abs_srcdir '/test/data/btyd_sample.csv'
\set cmd '\\copy sim FROM ' :'sample_file' ' (FORMAT csv)'
:cmd
CREATE TABLE cust AS
SELECT id, x::float8 AS x, t_x_days / 7.0::float8 AS t_x, t_days / 7.0::float8 AS t, mean_spend FROM sim;
ANALYZE cust;
CREATE TABLE fit AS SELECT clm.bgnbd_fit(x, t_x, t) AS m FROM cust;
CREATE TABLE cov AS SELECT clm.bgnbd_covariance(m, x, t_x, t) AS c FROM fit, cust GROUP BY m;

-- a 4 x 4 symmetric matrix whose diagonal gives the fit's standard errors
-- (the same observed information, by other finite differences: 1e-3)
SELECT array_dims(c) AS dims,
       c[1][2] = c[2][1] AND c[1][3] = c[3][1] AND c[2][4] = c[4][2] AND c[3][4] = c[4][3] AS symmetric,
       abs(sqrt(c[1][1]) / (m).r_se - 1) < 1e-3 AS r_se,
       abs(sqrt(c[2][2]) / (m).alpha_se - 1) < 1e-3 AS alpha_se,
       abs(sqrt(c[3][3]) / (m).a_se - 1) < 1e-3 AS a_se,
       abs(sqrt(c[4][4]) / (m).b_se - 1) < 1e-3 AS b_se,
       c[3][4] / sqrt(c[3][3] * c[4][4]) > 0.5 AS a_b_correlated
FROM fit, cov;

-- weights: the grouped rows give the covariance of the customers
SELECT (SELECT max(abs(g.c[i][j] / cov.c[i][j] - 1)) FROM generate_series(1, 4) i, generate_series(1, 4) j) < 1e-9
       AS weighted_same
FROM cov,
     (SELECT clm.bgnbd_covariance(m, x, t_x, t, n) AS c
      FROM fit, (SELECT x, t_x, t, count(*)::float8 AS n FROM cust GROUP BY 1, 2, 3) g GROUP BY m) g;
-- a row of weight 0 adds nothing; no rows, only NULL rows: NULL
SELECT (SELECT clm.bgnbd_covariance(m, x, t_x, t, CASE WHEN id = 1 THEN 0 ELSE 1 END) FROM fit, cust GROUP BY m)
       = (SELECT clm.bgnbd_covariance(m, x, t_x, t) FROM fit, cust WHERE id <> 1 GROUP BY m) AS zero_weight_skipped;
SELECT clm.bgnbd_covariance(m, x, t_x, t) IS NULL AS empty_null FROM fit LEFT JOIN cust ON false;
SELECT clm.bgnbd_covariance(m, NULL, t_x, t) IS NULL AS null_rows_skipped FROM fit, cust;
-- one customer without purchases does not determine four parameters
SELECT clm.bgnbd_covariance(m, 0, 0, 30) IS NULL AS singular_null FROM fit;

-- one customer: the estimate is the prediction; the interval is estimate
-- -/+ 1.6449 std_error at 90%, 1.9600 at 95%, and the standard error is the
-- delta method's sqrt(g' C g), checked here against a gradient by
-- forward differences in SQL
CREATE TABLE one AS
SELECT clm.bgnbd_expected_purchases_interval(m, c, 52, 3, 20, 40) AS e90,
       clm.bgnbd_expected_purchases_interval(m, c, 52, 3, 20, 40, 0.95) AS e95,
       clm.bgnbd_expected_purchases(m, 52, 3, 20, 40) AS point,
       clm.bgnbd_p_alive_interval(m, c, 3, 20, 40) AS p90,
       clm.bgnbd_p_alive(m, 3, 20, 40) AS p_point
FROM fit, cov;
SELECT (e90).estimate = point AS estimate_is_prediction,
       round((((e90).upper - (e90).estimate) / (e90).std_error)::numeric, 4) AS z90,
       round((((e95).estimate - (e95).lower) / (e95).std_error)::numeric, 4) AS z95,
       (p90).estimate = p_point AS p_estimate_is_prediction,
       (p90).lower < (p90).estimate AND (p90).estimate < (p90).upper AND (p90).upper <= 1 AS p_inside
FROM one;
WITH g AS (
  SELECT array[(clm.bgnbd_expected_purchases(ROW((m).r * 1.000001, (m).alpha, (m).a, (m).b, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, 52, 3, 20, 40) - point) / ((m).r * 0.000001),
               (clm.bgnbd_expected_purchases(ROW((m).r, (m).alpha * 1.000001, (m).a, (m).b, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, 52, 3, 20, 40) - point) / ((m).alpha * 0.000001),
               (clm.bgnbd_expected_purchases(ROW((m).r, (m).alpha, (m).a * 1.000001, (m).b, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, 52, 3, 20, 40) - point) / ((m).a * 0.000001),
               (clm.bgnbd_expected_purchases(ROW((m).r, (m).alpha, (m).a, (m).b * 1.000001, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, 52, 3, 20, 40) - point) / ((m).b * 0.000001)] AS g
  FROM fit, one)
SELECT abs(sqrt((SELECT sum(g[i] * c[i][j] * g[j]) FROM generate_series(1, 4) i, generate_series(1, 4) j))
           / (e90).std_error - 1) < 1e-4 AS std_error_is_delta_method
FROM g, cov, one;
-- the bounds stay in the range: expected purchases >= 0, P(alive) <= 1
CREATE FUNCTION scaled(c float8[], k float8) RETURNS float8[] LANGUAGE sql AS $$
  SELECT array_agg(r ORDER BY i)
  FROM (SELECT i, array_agg(c[i][j] * k ORDER BY j) AS r
        FROM generate_series(1, 4) i, generate_series(1, 4) j GROUP BY i) s $$;
SELECT (clm.bgnbd_expected_purchases_interval(m, scaled(c, 1e4), 52, 3, 20, 40)).lower AS lower_floor,
       (clm.bgnbd_p_alive_interval(m, scaled(c, 1e4), 3, 20, 40)).upper AS upper_ceiling,
       clm.bgnbd_p_alive_interval(m, c, 0, 0, 40) AS no_repeat_always_alive,
       (clm.bgnbd_expected_purchases_interval(m, scaled(c, 0), 52, 3, 20, 40)).std_error AS zero_cov_zero_se,
       (clm.bgnbd_expected_purchases_interval(m, c, 0, 3, 20, 40)) AS zero_horizon
FROM fit, cov;

-- the total: the sum of the estimates; its standard error, from the summed
-- gradient, is above any one customer's and at most the sum of theirs (the
-- customers' errors all come from the same four parameters)
CREATE TABLE tot AS
SELECT clm.bgnbd_expected_purchases_total_interval(m, c, 52, x, t_x, t) AS i90,
       clm.bgnbd_expected_purchases_total_interval(m, c, 52, x, t_x, t, 0.5) AS i50,
       sum(clm.bgnbd_expected_purchases(m, 52, x, t_x, t)) AS point_sum,
       sum((e).std_error) AS se_sum,
       max((e).std_error) AS se_max
FROM fit, cov, cust,
     LATERAL (SELECT clm.bgnbd_expected_purchases_interval(m, c, 52, x, t_x, t) AS e) e
GROUP BY m, c;
SELECT abs((i90).estimate / point_sum - 1) < 1e-12 AS estimate_is_sum,
       (i90).std_error > se_max AND (i90).std_error <= se_sum * (1 + 1e-12) AS se_between,
       round((((i90).upper - (i90).estimate) / (i90).std_error)::numeric, 4) AS z90,
       round((((i50).upper - (i50).estimate) / (i50).std_error)::numeric, 4) AS z50,
       (i90).std_error / (i90).estimate < 0.05 AS narrow
FROM tot;
-- the total of one customer is that customer's interval
SELECT (SELECT clm.bgnbd_expected_purchases_total_interval(m, c, 52, 3, 20, 40) FROM fit, cov)
       = (SELECT clm.bgnbd_expected_purchases_interval(m, c, 52, 3, 20, 40) FROM fit, cov) AS one_customer_total;
SELECT clm.bgnbd_expected_purchases_total_interval(m, c, 52, x, t_x, t) IS NULL AS empty_total_null
FROM fit, cov LEFT JOIN cust ON false GROUP BY m, c;

-- parallel plans give the serial results (to the rounding of the sums);
-- the model and covariance as constants, so that the plan is the same on
-- every PostgreSQL version
CREATE TABLE many AS SELECT c.* FROM cust c, generate_series(1, 4) g;
ANALYZE many;
SELECT m AS model, c AS covariance FROM fit, cov \gset
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2; SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT clm.bgnbd_expected_purchases_total_interval(:'model'::clm.bgnbd, :'covariance'::float8[], 52, x, t_x, t) FROM many;
EXPLAIN (COSTS OFF) SELECT clm.bgnbd_covariance(:'model'::clm.bgnbd, x, t_x, t) FROM many;
CREATE TABLE par AS
SELECT (SELECT clm.bgnbd_expected_purchases_total_interval(:'model'::clm.bgnbd, :'covariance'::float8[], 52, x, t_x, t) FROM many) AS i,
       (SELECT clm.bgnbd_covariance(:'model'::clm.bgnbd, x, t_x, t) FROM many) AS c;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather; RESET parallel_leader_participation;
SELECT :'model'::clm.bgnbd = m AND :'covariance'::float8[] = c AS constants_exact FROM fit, cov;
SELECT abs((par.i).estimate / (s.i).estimate - 1) < 1e-12 AND abs((par.i).std_error / (s.i).std_error - 1) < 1e-12
       AS total_parallel_same,
       (SELECT max(abs(par.c[i][j] / s.c[i][j] - 1)) FROM generate_series(1, 4) i, generate_series(1, 4) j) < 1e-9
       AS covariance_parallel_same,
       (SELECT max(abs(par.c[i][j] * 4 / cov.c[i][j] - 1)) FROM generate_series(1, 4) i, generate_series(1, 4) j) < 1e-9
       AS four_copies_quarter_covariance
FROM par, cov,
     (SELECT (SELECT clm.bgnbd_expected_purchases_total_interval(m, c, 52, x, t_x, t) FROM fit, cov, many) AS i,
             (SELECT clm.bgnbd_covariance(m, x, t_x, t) FROM fit, many) AS c) s;

-- Pareto/NBD: the same functions over r, alpha, s, beta
CREATE TABLE pnfit AS SELECT clm.paretonbd_fit(x, t_x, t) AS m FROM cust;
CREATE TABLE pncov AS SELECT clm.paretonbd_covariance(m, x, t_x, t) AS c FROM pnfit, cust GROUP BY m;
SELECT (m).converged, array_dims(c) AS dims,
       c[1][2] = c[2][1] AND c[3][4] = c[4][3] AS symmetric,
       abs(sqrt(c[1][1]) / (m).r_se - 1) < 1e-3 AS r_se,
       abs(sqrt(c[2][2]) / (m).alpha_se - 1) < 1e-3 AS alpha_se,
       abs(sqrt(c[3][3]) / (m).s_se - 1) < 1e-3 AS s_se,
       abs(sqrt(c[4][4]) / (m).beta_se - 1) < 1e-3 AS beta_se
FROM pnfit, pncov;
SELECT (e).estimate = clm.paretonbd_expected_purchases(m, 52, 3, 20, 40) AS estimate_is_prediction,
       round((((e).upper - (e).estimate) / (e).std_error)::numeric, 4) AS z90,
       (p).estimate = clm.paretonbd_p_alive(m, 3, 20, 40) AS p_estimate_is_prediction,
       (p).lower < (p).estimate AND (p).estimate < (p).upper AND (p).upper <= 1 AS p_inside,
       round((((p95).estimate - (p95).lower) / (p95).std_error)::numeric, 4) AS z95
FROM pnfit, pncov,
     LATERAL (SELECT clm.paretonbd_expected_purchases_interval(m, c, 52, 3, 20, 40) AS e,
                     clm.paretonbd_p_alive_interval(m, c, 3, 20, 40) AS p,
                     clm.paretonbd_p_alive_interval(m, c, 3, 20, 40, 0.95) AS p95) s;
SELECT (SELECT clm.paretonbd_expected_purchases_total_interval(m, c, 52, 3, 20, 40) FROM pnfit, pncov)
       = (SELECT clm.paretonbd_expected_purchases_interval(m, c, 52, 3, 20, 40) FROM pnfit, pncov) AS one_customer_total;
SELECT m AS pnmodel, c AS pncovariance FROM pnfit, pncov \gset
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2; SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT clm.paretonbd_expected_purchases_total_interval(:'pnmodel'::clm.paretonbd, :'pncovariance'::float8[], 52, x, t_x, t) FROM cust;
CREATE TABLE pnpar AS
SELECT (SELECT clm.paretonbd_expected_purchases_total_interval(:'pnmodel'::clm.paretonbd, :'pncovariance'::float8[], 52, x, t_x, t) FROM cust) AS i,
       (SELECT clm.paretonbd_covariance(:'pnmodel'::clm.paretonbd, x, t_x, t) FROM cust) AS c;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather; RESET parallel_leader_participation;
SELECT abs((pnpar.i).estimate / (s.i).estimate - 1) < 1e-12 AND abs((pnpar.i).std_error / (s.i).std_error - 1) < 1e-12
       AS total_parallel_same,
       abs((s.i).estimate / s.point_sum - 1) < 1e-12 AS estimate_is_sum,
       (SELECT max(abs(pnpar.c[i][j] / pncov.c[i][j] - 1)) FROM generate_series(1, 4) i, generate_series(1, 4) j) < 1e-9
       AS covariance_parallel_same
FROM pnpar, pncov,
     (SELECT clm.paretonbd_expected_purchases_total_interval(m, c, 52, x, t_x, t) AS i,
             sum(clm.paretonbd_expected_purchases(m, 52, x, t_x, t)) AS point_sum
      FROM pnfit, pncov, cust GROUP BY m, c) s;

-- Gamma-Gamma: the covariance of p, q, gamma; its diagonal gives the fit's
-- standard errors, and customers without repeat purchases add nothing
CREATE TABLE ggfit AS SELECT clm.gamma_gamma_fit(x, mean_spend) AS g FROM cust;
CREATE TABLE ggcov AS SELECT clm.gamma_gamma_covariance(g, x, mean_spend) AS c FROM ggfit, cust GROUP BY g;
SELECT array_dims(ggcov.c) AS dims,
       abs(sqrt(ggcov.c[1][1]) / (g).p_se - 1) < 1e-3 AS p_se,
       abs(sqrt(ggcov.c[2][2]) / (g).q_se - 1) < 1e-3 AS q_se,
       abs(sqrt(ggcov.c[3][3]) / (g).gamma_se - 1) < 1e-3 AS gamma_se,
       ggcov.c = (SELECT clm.gamma_gamma_covariance(g, x, mean_spend) FROM ggfit, cust WHERE x > 0 GROUP BY g)
       AS non_buyers_add_nothing,
       (SELECT max(abs(w.c[i][j] / ggcov.c[i][j] - 1)) FROM generate_series(1, 3) i, generate_series(1, 3) j) < 1e-9
       AS weighted_same
FROM ggfit, ggcov,
     (SELECT clm.gamma_gamma_covariance(g, x, mean_spend, n) AS c
      FROM ggfit, (SELECT x, mean_spend, count(*)::float8 AS n FROM cust GROUP BY 1, 2) s GROUP BY g) w;

-- CLV (12 months, 1% a month, weeks): the estimate is clm.clv; the two
-- models' covariances are independent blocks, so the variance is the sum of
-- the variance from each model alone
CREATE FUNCTION zero(n int) RETURNS float8[] LANGUAGE sql AS $$
  SELECT array_agg(r) FROM (SELECT array_fill(0::float8, ARRAY[n]) AS r FROM generate_series(1, n)) s $$;
SELECT (v).estimate = clm.clv(m, g, 3, 20, 40, 35, 12, 0.01, 7) AS estimate_is_clv,
       abs((v).std_error ^ 2 / ((vb).std_error ^ 2 + (vg).std_error ^ 2) - 1) < 1e-12 AS variances_add,
       (vb).std_error > 0 AND (vg).std_error > 0 AS both_contribute,
       round((((v).upper - (v).estimate) / (v).std_error)::numeric, 4) AS z90,
       (clm.clv_interval(m, g, bc.c, gc.c, 0, 0, 40, 0, 12, 0.01, 7, 0.8)).lower >= 0 AS lower_in_range
FROM fit, ggfit, cov bc, ggcov gc,
     LATERAL (SELECT clm.clv_interval(m, g, bc.c, gc.c, 3, 20, 40, 35, 12, 0.01, 7) AS v,
                     clm.clv_interval(m, g, bc.c, zero(3), 3, 20, 40, 35, 12, 0.01, 7) AS vb,
                     clm.clv_interval(m, g, zero(4), gc.c, 3, 20, 40, 35, 12, 0.01, 7) AS vg) s;

-- bad input: one clear error each
CREATE FUNCTION err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT q, err(format(q, '(SELECT m FROM fit)', '(SELECT c FROM cov)')) AS outcome
FROM (VALUES
  -- the level
  ('SELECT clm.bgnbd_expected_purchases_interval(%s, %s, 52, 3, 20, 40, 1)'),
  ('SELECT clm.bgnbd_expected_purchases_interval(%s, %s, 52, 3, 20, 40, 0)'),
  ('SELECT clm.bgnbd_p_alive_interval(%s, %s, 3, 20, 40, -0.5)'),
  ('SELECT clm.bgnbd_p_alive_interval(%s, %s, 3, 20, 40, ''NaN'')'),
  ('SELECT clm.bgnbd_expected_purchases_total_interval(%s, %s, 52, 3, 20, 40, 1.5)'),
  -- the covariance: size, NULL, NaN, infinite, asymmetric, not positive semi-definite
  ('SELECT clm.bgnbd_expected_purchases_interval(%s, ''{1,2,3}'', 52, 3, 20, 40)'),
  ('SELECT clm.bgnbd_expected_purchases_interval(%s, ''{{1,0,0},{0,1,0},{0,0,1}}'', 52, 3, 20, 40)'),
  ('SELECT clm.bgnbd_p_alive_interval(%s, ''{{1,0,0,0},{0,1,0,0},{0,0,1,0},{0,0,0,NULL}}'', 3, 20, 40)'),
  ('SELECT clm.bgnbd_p_alive_interval(%s, ''{{1,0,0,0},{0,1,0,0},{0,0,1,0},{0,0,0,NaN}}'', 3, 20, 40)'),
  ('SELECT clm.bgnbd_p_alive_interval(%s, ''{{1,0,0,0},{0,1,0,0},{0,0,1,0},{0,0,0,Infinity}}'', 3, 20, 40)'),
  ('SELECT clm.bgnbd_p_alive_interval(%s, ''{{1,0.5,0,0},{0,1,0,0},{0,0,1,0},{0,0,0,1}}'', 3, 20, 40)'),
  ('SELECT clm.bgnbd_p_alive_interval(%s, ''{{1,0,0,0},{0,-1,0,0},{0,0,1,0},{0,0,0,1}}'', 3, 20, 40)'),
  ('SELECT clm.bgnbd_p_alive_interval(%s, ''{{1,2,0,0},{2,1,0,0},{0,0,1,0},{0,0,0,1}}'', 3, 20, 40)'),
  ('SELECT clm.bgnbd_p_alive_interval(%s, ''{{0,1,0,0},{1,1,0,0},{0,0,1,0},{0,0,0,1}}'', 3, 20, 40)'),
  ('SELECT clm.bgnbd_expected_purchases_total_interval(%s, ''{{1,2},{2,1}}'', 52, 3, 20, 40)'),
  -- the model and the customer
  ('SELECT clm.bgnbd_expected_purchases_interval(ROW(0.2, -4, 0.8, 2.4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, %2$s, 52, 3, 20, 40)'),
  ('SELECT clm.bgnbd_p_alive_interval(ROW(NULL, 4, 0.8, 2.4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, %2$s, 3, 20, 40)'),
  ('SELECT clm.bgnbd_covariance(ROW(0.2, ''Infinity'', 0.8, 2.4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, 3, 20, 40)'),
  ('SELECT clm.bgnbd_expected_purchases_interval(%s, %s, -1, 3, 20, 40)'),
  ('SELECT clm.bgnbd_expected_purchases_interval(%s, %s, ''Infinity'', 3, 20, 40)'),
  ('SELECT clm.bgnbd_expected_purchases_interval(%s, %s, 52, 3, 50, 40)'),
  ('SELECT clm.bgnbd_p_alive_interval(%s, %s, ''NaN'', 20, 40)'),
  ('SELECT clm.bgnbd_expected_purchases_total_interval(%s, %s, 52, 1.5, 20, 40)'),
  ('SELECT clm.bgnbd_covariance(%s, 0, 3, 40)'),
  ('SELECT clm.bgnbd_covariance(%s, 3, 20, 40, -1)'),
  ('SELECT clm.bgnbd_covariance(%s, 3, 20, 40, ''NaN'')'),
  -- every row must pass the same model, covariance and level
  ('SELECT clm.bgnbd_covariance(CASE WHEN g = 1 THEN %s ELSE ROW(0.3, 4, 0.8, 2.4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd END, 3, 20, 40) FROM generate_series(1, 2) g'),
  ('SELECT clm.bgnbd_expected_purchases_total_interval(%s, %s, 52, 3, 20, 40, 0.8 + g / 100.0) FROM generate_series(1, 2) g'),
  ('SELECT clm.bgnbd_expected_purchases_total_interval(%s, CASE WHEN g = 1 THEN %2$s ELSE scaled(%2$s, 2) END, 52, 3, 20, 40) FROM generate_series(1, 2) g'),
  ('SELECT clm.bgnbd_expected_purchases_total_interval(%s, CASE WHEN g = 1 THEN %2$s ELSE ''{1}'' END, 52, 3, 20, 40) FROM generate_series(1, 2) g'),
  -- the CLV
  ('SELECT clm.clv_interval(%s, ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma, %s, %2$s, 3, 20, 40, 35, 12, 0.01, 7)'),
  ('SELECT clm.clv_interval(%s, ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma, ''{{1,0,0},{0,1,0},{0,0,1}}'', ''{{1,0,0},{0,1,0},{0,0,1}}'', 3, 20, 40, 35, 12, 0.01, 7)'),
  ('SELECT clm.clv_interval(%s, ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma, %s, ''{{1,0,0},{0,-1,0},{0,0,1}}'', 3, 20, 40, 35, 12, 0.01, 7)'),
  ('SELECT clm.clv_interval(%s, ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma, %s, ''{{1,0,0},{0,1,0},{0,0,1}}'', 3, 20, 40, -35, 12, 0.01, 7)'),
  ('SELECT clm.clv_interval(%s, ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma, %s, ''{{1,0,0},{0,1,0},{0,0,1}}'', 3, 20, 40, 35, -1, 0.01, 7)'),
  ('SELECT clm.clv_interval(%s, ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma, %s, ''{{1,0,0},{0,1,0},{0,0,1}}'', 3, 20, 40, 35, 12, 0.01, 0)'),
  ('SELECT clm.clv_interval(%s, ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma, %s, ''{{1,0,0},{0,1,0},{0,0,1}}'', 3, 20, 40, 35, 12, 0.01, 7, 2)'),
  ('SELECT clm.clv_interval(%s, ROW(6.25, NULL, 15.44, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma, %s, ''{{1,0,0},{0,1,0},{0,0,1}}'', 3, 20, 40, 35, 12, 0.01, 7)'),
  ('SELECT clm.gamma_gamma_covariance(ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma, 2, -5)'),
  ('SELECT clm.gamma_gamma_covariance(CASE WHEN g = 1 THEN ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma ELSE ROW(6, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma END, 2, 5) FROM generate_series(1, 2) g'),
  -- Pareto/NBD
  ('SELECT clm.paretonbd_expected_purchases_interval(ROW(0.55, 10.5, 0.6, 11.7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.paretonbd, ''{{1,0},{0,1}}'', 52, 3, 20, 40)'),
  ('SELECT clm.paretonbd_p_alive_interval(ROW(0.55, 10.5, 0.6, 11.7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.paretonbd, ''{{1,0,0,0},{0,-1,0,0},{0,0,1,0},{0,0,0,1}}'', 3, 20, 40)'),
  ('SELECT clm.paretonbd_p_alive_interval(ROW(0.55, 10.5, 0.6, 11.7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.paretonbd, ''{{1,0,0,0},{0,1,0,0},{0,0,1,0},{0,0,0,1}}'', 3, 20, 40, 1)'),
  ('SELECT clm.paretonbd_expected_purchases_total_interval(ROW(0.55, 10.5, 0.6, 11.7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.paretonbd, ''{{1,0,0,0},{0,1,0,0},{0,0,1,0},{0,0,0,1}}'', -52, 3, 20, 40)'),
  ('SELECT clm.paretonbd_covariance(ROW(0.55, 10.5, 0.6, -11.7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.paretonbd, 3, 20, 40)'),
  ('SELECT clm.paretonbd_covariance(ROW(0.55, 10.5, 0.6, 11.7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.paretonbd, 3, 41, 40)'),
  -- a state from elsewhere
  ('SELECT clm.bgnbd_covariance_combine(''{1,2}'', ''{1,2}'')'),
  ('SELECT clm.bgnbd_total_interval_final(''{{1,2},{3,4}}'')')
  ) v(q);
