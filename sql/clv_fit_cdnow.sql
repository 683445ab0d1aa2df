--
-- clv_fit_cdnow: the fits on the CDNOW sample against the published figures
-- (Fader, Hardie and Lee 2005; the CLVTools and lifetimes test suites).
-- Skipped with a notice when
-- the data folder ($CLM_CDNOW_DIR) is absent (expected/clv_fit_cdnow_1.out).
--
\getenv cdnow_dir CLM_CDNOW_DIR
\set summary_file :cdnow_dir '/cdnow_customers_summary.csv'
\set spend_file :cdnow_dir '/cdnow_customers_summary_with_transactions.csv'
\set have_cdnow `test -r "$CLM_CDNOW_DIR/cdnow_customers_summary.csv" && test -r "$CLM_CDNOW_DIR/cdnow_customers_summary_with_transactions.csv" && echo true || echo false`
\if :have_cdnow
\else
\echo NOTICE: CDNOW data not found in $CLM_CDNOW_DIR, skipping the CDNOW fit tests
\quit
\endif

CREATE SCHEMA clv_fit_cdnow;
SET search_path = clv_fit_cdnow, public;
CREATE TABLE summary(id int, x float8, t_x float8, t float8);
\set cmd '\\copy summary FROM ' :'summary_file' ' (FORMAT csv, HEADER)'
:cmd
CREATE TABLE spend(id int, x float8, t_x float8, t float8, zbar float8);
\set cmd '\\copy spend FROM ' :'spend_file' ' (FORMAT csv, HEADER)'
:cmd
-- the data as documented: 2,357 customers, sum x = 2,457, 1,411 with x = 0,
-- 946 repeat buyers
SELECT count(*), sum(x), count(*) FILTER (WHERE x = 0) AS x0 FROM summary;
SELECT count(*) FILTER (WHERE x > 0) AS repeat_buyers FROM spend;

CREATE TABLE fits AS
SELECT (SELECT clm.bgnbd_fit(x, t_x, t) FROM summary) AS bg,
       (SELECT clm.paretonbd_fit(x, t_x, t) FROM summary) AS pn,
       (SELECT clm.gamma_gamma_fit(x, zbar) FROM spend WHERE x > 0) AS gg;

-- BG/NBD: published r, alpha, a, b = 0.243, 4.414, 0.793, 2.426 (to their
-- rounding), LL -9582.43 +/- 0.01
SELECT round((bg).r::numeric, 3) = 0.243 AS r_ok,
       round((bg).alpha::numeric, 3) = 4.414 AS alpha_ok,
       round((bg).a::numeric, 3) = 0.793 AS a_ok,
       round((bg).b::numeric, 3) = 2.426 AS b_ok,
       abs((bg).log_likelihood - (-9582.43)) < 0.01 AS ll_ok,
       (bg).n, (bg).converged
FROM fits;
-- and lifetimes 0.11.3's MLE to 1e-5 (0.242593, 4.413532, 0.792886,
-- 2.425752) with its Hessian standard errors to 0.1% (0.012557, 0.378221,
-- 0.185719, 0.705345)
SELECT abs((bg).r - 0.242593) < 1e-5 AND abs((bg).alpha - 4.413532) < 1e-5
       AND abs((bg).a - 0.792886) < 1e-5 AND abs((bg).b - 2.425752) < 1e-5 AS lifetimes_mle_ok,
       abs((bg).r_se / 0.012557 - 1) < 1e-3 AND abs((bg).alpha_se / 0.378221 - 1) < 1e-3
       AND abs((bg).a_se / 0.185719 - 1) < 1e-3 AND abs((bg).b_se / 0.705345 - 1) < 1e-3 AS lifetimes_se_ok
FROM fits;

-- Pareto/NBD: published 0.553, 10.578, 0.606, 11.669, LL -9594.98 +/- 0.01.
-- beta is checked to 0.002 only: the likelihood is flat in beta (its SE is
-- about 6) and the MLE is 11.6679 (LL -9594.97393, higher than CLVTools'
-- -9594.976 at its reported optimum), which rounds to 11.668.
SELECT round((pn).r::numeric, 3) = 0.553 AS r_ok,
       round((pn).alpha::numeric, 3) = 10.578 AS alpha_ok,
       round((pn).s::numeric, 3) = 0.606 AS s_ok,
       abs((pn).beta - 11.669) < 0.002 AS beta_ok,
       abs((pn).log_likelihood - (-9594.98)) < 0.01 AS ll_ok,
       (pn).log_likelihood > -9594.976 AS ll_at_least_clvtools,
       (pn).n, (pn).converged
FROM fits;

-- Gamma-Gamma on the 946 repeat buyers: published p, q, gamma = 6.25, 3.74,
-- 15.44, LL -4055.92 +/- 0.01.  gamma is checked to 0.01: the MLE on this
-- file is 15.4477 (lifetimes: 15.447748), which rounds to 15.45; the
-- published 15.44 came from spend recomputed from the transactions.
SELECT round((gg).p::numeric, 2) = 6.25 AS p_ok,
       round((gg).q::numeric, 2) = 3.74 AS q_ok,
       abs((gg).gamma - 15.44) < 0.01 AS gamma_ok,
       abs((gg).log_likelihood - (-4055.92)) < 0.01 AS ll_ok,
       abs((gg).p - 6.248802) < 1e-5 AND abs((gg).q - 3.744588) < 1e-5
       AND abs((gg).gamma - 15.447748) < 1e-5 AS lifetimes_mle_ok,
       (gg).n, (gg).converged
FROM fits;
-- rows with x = 0 are ignored, so filtering them is optional
SELECT (SELECT clm.gamma_gamma_fit(x, zbar) FROM spend) = gg AS x0_rows_ignored FROM fits;

-- the log-likelihood at the published (rounded) parameters, independent of
-- the optimizer: BG/NBD -9582.426831, Pareto/NBD -9594.974010,
-- Gamma-Gamma -4055.924713
SELECT abs(sum(clm.bgnbd_log_likelihood(0.243, 4.414, 0.793, 2.426, x, t_x, t)) - (-9582.426831)) < 1e-5 AS bgnbd_ll_ok,
       abs(sum(clm.paretonbd_log_likelihood(0.553, 10.578, 0.606, 11.669, x, t_x, t)) - (-9594.974010)) < 1e-5 AS paretonbd_ll_ok
FROM summary;
SELECT abs(sum(clm.gamma_gamma_log_likelihood(6.25, 3.74, 15.44, x, zbar)) - (-4055.924713)) < 1e-5 AS gamma_gamma_ll_ok
FROM spend WHERE x > 0;

-- time scaling: the same data in days gives alpha and beta x 7, the other
-- parameters unchanged, and LL shifted by -sum(x) ln 7
SELECT abs((d).r - (bg).r) < 1e-6 AND abs((d).alpha / 7 - (bg).alpha) < 1e-5
       AND abs((d).a - (bg).a) < 1e-6 AND abs((d).b - (bg).b) < 1e-5 AS days_params_ok,
       abs((d).log_likelihood - ((bg).log_likelihood - 2457 * ln(7))) < 1e-6 AS days_ll_ok
FROM fits, (SELECT clm.bgnbd_fit(x, t_x * 7, t * 7) d FROM summary) s;

-- weighted rows: the 1,411 customers with x = 0 and the rest collapsed by
-- (x, t_x, t) give exactly the same fit
SELECT (SELECT clm.bgnbd_fit(x, t_x, t, n) FROM (SELECT x, t_x, t, count(*)::float8 n FROM summary GROUP BY 1, 2, 3) g) = bg
       AS weighted_eq_rows,
       (SELECT count(*) FROM (SELECT DISTINCT x, t_x, t FROM summary) d) AS distinct_rows
FROM fits;

-- parallel = serial on CDNOW
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT clm.bgnbd_fit(x, t_x, t), clm.paretonbd_fit(x, t_x, t) FROM summary;
SELECT p.bg = f.bg AS bgnbd_parallel_eq_serial, p.pn = f.pn AS paretonbd_parallel_eq_serial
FROM fits f, (SELECT clm.bgnbd_fit(x, t_x, t) bg, clm.paretonbd_fit(x, t_x, t) pn FROM summary) p;
EXPLAIN (COSTS OFF) SELECT clm.gamma_gamma_fit(x, zbar) FROM spend;
SELECT p.gg = f.gg AS gamma_gamma_parallel_eq_serial
FROM fits f, (SELECT clm.gamma_gamma_fit(x, zbar) gg FROM spend) p;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;

RESET search_path;
DROP SCHEMA clv_fit_cdnow CASCADE;
