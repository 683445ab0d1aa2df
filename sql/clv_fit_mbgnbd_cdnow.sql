--
-- clv_fit_mbgnbd_cdnow: MBG/NBD (Batislam, Denizel and Filiztekin 2007) on
-- the CDNOW sample summary, against the values that lifetimes' own test
-- suite asserts for its ModifiedBetaGeoFitter on the same file (repository
-- CamDavidsonPilon/lifetimes, tests/test_estimation.py, class
-- TestModifiedBetaGammaFitter), with the tolerances stated there.  Skipped
-- with a notice when the data folder ($CLM_CDNOW_DIR) is absent
-- (expected/clv_fit_mbgnbd_cdnow_1.out).
--
\getenv cdnow_dir CLM_CDNOW_DIR
\set summary_file :cdnow_dir '/cdnow_customers_summary.csv'
\set have_cdnow `test -r "$CLM_CDNOW_DIR/cdnow_customers_summary.csv" && echo true || echo false`
\if :have_cdnow
\else
\echo NOTICE: CDNOW data not found in $CLM_CDNOW_DIR, skipping the MBG/NBD CDNOW tests
\quit
\endif

CREATE SCHEMA clv_fit_mbgnbd_cdnow;
SET search_path = clv_fit_mbgnbd_cdnow, public;
CREATE TABLE summary(id int, x float8, t_x float8, t float8);
\set cmd '\\copy summary FROM ' :'summary_file' ' (FORMAT csv, HEADER)'
:cmd
SELECT count(*), sum(x) FROM summary;

CREATE TABLE fits AS
SELECT (SELECT clm.mbgnbd_fit(x, t_x, t) FROM summary) AS m,
       (SELECT clm.mbgnbd_fit(x, t_x, t, w)
        FROM (SELECT x, t_x, t, count(*)::float8 w FROM summary GROUP BY 1, 2, 3) g) AS w;

-- test_params_out_is_close_to_BTYDplus: r, alpha, a, b = 0.525, 6.183,
-- 0.891, 1.614 to decimal=3 (numpy: |difference| < 1.5e-3)
SELECT abs((m).r - 0.525) < 1.5e-3 AS r_ok, abs((m).alpha - 6.183) < 1.5e-3 AS alpha_ok,
       abs((m).a - 0.891) < 1.5e-3 AS a_ok, abs((m).b - 1.614) < 1.5e-3 AS b_ok,
       (m).converged, (m).n,
       (m).r_se > 0 AND (m).alpha_se > 0 AND (m).a_se > 0 AND (m).b_se > 0 AS have_se
FROM fits;
-- the weighted fit of the distinct rows is the same fit; the fit's
-- log-likelihood is the sum of the per-customer ones
SELECT abs((w).r - (m).r) < 1e-6 AND abs((w).alpha - (m).alpha) < 1e-5
       AND abs((w).a - (m).a) < 1e-6 AND abs((w).b - (m).b) < 1e-6 AS weighted_same,
       abs((SELECT sum(clm.mbgnbd_log_likelihood((m).r, (m).alpha, (m).a, (m).b, x, t_x, t)) FROM summary)
           - (m).log_likelihood) < 1e-6 AS ll_is_sum
FROM fits;
-- printed for the documentation
SELECT round((m).r::numeric, 4) AS r, round((m).alpha::numeric, 4) AS alpha,
       round((m).a::numeric, 4) AS a, round((m).b::numeric, 4) AS b,
       round((m).log_likelihood::numeric, 2) AS ll
FROM fits;

-- test_conditional_expectation_returns_same_value_as_Hardie_excel_sheet:
-- x = 2, t_x = 30.43, T = 38.86, t = 39: 1.226 within 0.05
SELECT abs(clm.mbgnbd_expected_purchases(m, 39, 2, 30.43, 38.86) - 1.226) < 0.05 AS conditional_ok,
       round(clm.mbgnbd_expected_purchases(m, 39, 2, 30.43, 38.86)::numeric, 4) AS value
FROM fits;
-- test_expectation_returns_same_value_Hardie_excel_sheet: E[X(t)] at
-- t = 0.1429, 1, 3, 31.8571, 32, 78 against 0.0078, 0.0532, 0.1506, 1.0405,
-- 1.0437, 1.8576 with rtol 0.05
SELECT v.t, abs(clm.mbgnbd_expected_purchases_new(m, v.t) - v.expected) <= 0.05 * v.expected AS ok
FROM fits, (VALUES (0.1429, 0.0078), (1, 0.0532), (3, 0.1506), (31.8571, 1.0405), (32, 1.0437), (78, 1.8576))
     v(t, expected) ORDER BY v.t;
-- test_conditional_probability_alive_returns_lessthan_1_if_no_repeat_purchases
-- and test_conditional_probability_alive_is_between_0_and_1 (x, t_x, T on
-- the grid 0, 10, ..., 90 with t_x <= T, t_x = 0 when x = 0 as clm requires)
SELECT clm.mbgnbd_p_alive(m, 0, 0, 1) < 1 AS below_1_without_repeat FROM fits;
SELECT bool_and(p BETWEEN 0 AND 1) AS between_0_and_1, count(*)
FROM (SELECT clm.mbgnbd_p_alive(m, i, CASE WHEN i = 0 THEN 0 ELSE j END, k) AS p
      FROM fits, generate_series(0, 90, 10) i, generate_series(0, 90, 10) j, generate_series(0, 90, 10) k
      WHERE j <= k) s;

-- Independent of the 2F1 machinery: E[X(t)] is the sum over purchase
-- opportunities of the chance to be alive and buy; with the MBG/NBD
-- assumptions (dropout with probability p at time 0 and after each
-- purchase) it equals E_p[ sum_{k>=1} (1-p)^k P(NBD(t) >= k) ]
-- = sum_{k>=1} B(a, b+k)/B(a, b) P(NBD(t) >= k); the NBD tail and the beta
-- ratio are summed here by recursion to k = 3000.
CREATE TABLE ex_defn AS
WITH RECURSIVE k(k, pmf, cdf, beta_ratio) AS (
    -- k = 0: P(NBD = 0) = (alpha/(alpha+t))^r
    SELECT 0, ((m).alpha / ((m).alpha + 32)) ^ (m).r, ((m).alpha / ((m).alpha + 32)) ^ (m).r, 1.0::float8 FROM fits
    UNION ALL
    SELECT k.k + 1,
           k.pmf * ((m).r + k.k) / (k.k + 1) * 32 / ((m).alpha + 32),
           k.cdf + k.pmf * ((m).r + k.k) / (k.k + 1) * 32 / ((m).alpha + 32),
           k.beta_ratio * ((m).b + k.k) / ((m).a + (m).b + k.k)
    FROM k, fits WHERE k.k < 3000
)
-- P(NBD >= k) = 1 - cdf(k - 1); term k uses beta_ratio at k
SELECT sum((1 - prev.cdf) * cur.beta_ratio) AS ex32
FROM k cur JOIN k prev ON prev.k = cur.k - 1;
SELECT abs(clm.mbgnbd_expected_purchases_new(m, 32) / ex32 - 1) < 1e-9 AS ex_matches_definition
FROM fits, ex_defn;

-- test_probability_of_n_purchases_up_to_time_same_as_R_BTYD: at r, alpha,
-- a, b = 0.243, 4.414, 0.793, 2.426, P(N(2) = 10) = 1.07869e-07 within
-- 1e-4, and P(N(30) = n), n = 11 .. 20, against R BTYD's BG/NBD values with
-- rtol 0.5 (the suite's tolerances: these are BG/NBD figures)
\set MB1 'ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.mbgnbd'
SELECT abs(clm.mbgnbd_purchase_probability(:MB1, 2, 10) - 1.07869e-07) < 1e-4 AS n10_ok;
SELECT bool_and(abs(clm.mbgnbd_purchase_probability(:MB1, 30, v.n) - v.expected) <= 0.5 * v.expected) AS pmf_ok
FROM (VALUES (11, 0.0019995214), (12, 0.0015170236), (13, 0.0011633150), (14, 0.0009003148),
             (15, 0.0007023638), (16, 0.0005517902), (17, 0.0004361913), (18, 0.0003467171),
             (19, 0.0002769613), (20, 0.0002222260)) v(n, expected);
-- and against the model itself: the probabilities over n sum to 1 and their
-- mean is E[X(t)] (to n = 2000, where the tail is below 1e-30), at the
-- fitted parameters and t = 32
SELECT abs(sum(p) - 1) < 1e-10 AS sums_to_1,
       abs(sum(n * p) / clm.mbgnbd_expected_purchases_new((SELECT m FROM fits), 32) - 1) < 1e-9 AS mean_is_ex
FROM (SELECT n, clm.mbgnbd_purchase_probability((SELECT m FROM fits), 32, n) AS p
      FROM generate_series(0, 2000) n) s;
SELECT clm.mbgnbd_purchase_probability(:MB1, 30, -1);

-- parallel plans give the serial fit
CREATE TABLE many AS SELECT s.* FROM summary s, generate_series(1, 20);
ANALYZE many;
CREATE TABLE serial AS SELECT clm.mbgnbd_fit(x, t_x, t) AS m FROM many;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2; SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT clm.mbgnbd_fit(x, t_x, t) FROM many;
CREATE TABLE par AS SELECT clm.mbgnbd_fit(x, t_x, t) AS m FROM many;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather; RESET parallel_leader_participation;
SELECT par.m = serial.m AS parallel_same FROM par, serial;

-- bad input: the BTYD input contract, and the model's parameters
SELECT clm.mbgnbd_fit(x, t_x, t) FROM (VALUES (0::float8, 2::float8, 6::float8)) v(x, t_x, t);
SELECT clm.mbgnbd_p_alive(ROW(0.5, 6, -1, 1.6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.mbgnbd, 0, 0, 1);
SELECT clm.mbgnbd_expected_purchases(m, -1, 0, 0, 1) FROM fits;
SELECT clm.mbgnbd_log_likelihood(0.5, 6, 0.9, 1.6, 2, 3, 1);
-- printed for the documentation
SELECT clm.mbgnbd_log_likelihood(0.525, 6.183, 0.891, 1.614, 2, 30.43, 38.86);
\set MB 'ROW(0.525, 6.183, 0.891, 1.614, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.mbgnbd'
SELECT clm.mbgnbd_p_alive(:MB, 0, 0, 38.86), clm.mbgnbd_p_alive(:MB, 2, 30.43, 38.86);
SELECT clm.mbgnbd_expected_purchases(:MB, 39, 2, 30.43, 38.86);
SELECT clm.mbgnbd_expected_purchases_new(:MB, 78);
SELECT round(clm.mbgnbd_purchase_probability(:MB, 39, 0)::numeric, 12) AS p0;
