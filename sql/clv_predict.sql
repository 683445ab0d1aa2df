--
-- clv_predict: BG/NBD, Pareto/NBD and Gamma-Gamma predictions and CLV,
-- against the figures published with the models and by the lifetimes and
-- CLVTools test suites on the CDNOW sample.
--
-- Tolerances: "4 significant digits" is checked as a relative error below
-- 5e-5 (stricter than half a unit in the 4th digit);
-- values published with more digits are also checked to their rounding
-- (half a unit in the last published digit).  Where no published figure
-- exists, the reference is an independent evaluation with mpmath (40 digits)
-- of the textbook formula, or Pareto/NBD's P(X(t) = n) by numerical
-- integration of its definition; those are marked "mpmath".
--
\set VERBOSITY default
CREATE SCHEMA clv_predict_test;
SET search_path = clv_predict_test, public;

-- models at the published rounded parameters (FHL 2005), and lifetimes'
-- full-precision MLE where a figure was computed with it
CREATE FUNCTION bg(r float8, alpha float8, a float8, b float8) RETURNS clm.bgnbd
LANGUAGE sql IMMUTABLE AS
$$ SELECT ROW(r, alpha, a, b, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd $$;
CREATE FUNCTION pn(r float8, alpha float8, s float8, beta float8) RETURNS clm.paretonbd
LANGUAGE sql IMMUTABLE AS
$$ SELECT ROW(r, alpha, s, beta, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.paretonbd $$;
CREATE FUNCTION gg(p float8, q float8, g float8) RETURNS clm.gamma_gamma
LANGUAGE sql IMMUTABLE AS
$$ SELECT ROW(p, q, g, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma $$;
CREATE FUNCTION ok(v float8, ref float8, rel float8 DEFAULT 5e-5) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT abs(v / ref - 1) < rel $$;

\set bgr 'clv_predict_test.bg(0.243, 4.414, 0.793, 2.426)'
\set bgf 'clv_predict_test.bg(0.242593, 4.413532, 0.792886, 2.425752)'
\set pnr 'clv_predict_test.pn(0.553, 10.578, 0.606, 11.669)'
\set ggr 'clv_predict_test.gg(6.25, 3.74, 15.44)'
\set ggf 'clv_predict_test.gg(6.248802, 3.744588, 15.447748)'

-- BG/NBD at the rounded parameters (section 12, "values at the published rounded parameters")
SELECT abs(clm.bgnbd_expected_purchases_new(:bgr, 39) - 1.196723) < 5e-7 AS ex39,
       abs(clm.bgnbd_expected_purchases(:bgr, 39, 1, 1.71, 38.86) - 0.203187) < 5e-7 AS ey_1,
       abs(clm.bgnbd_expected_purchases(:bgr, 39, 0, 0, 38.86) - 0.195098) < 5e-7 AS ey_0,
       abs(clm.bgnbd_expected_purchases(:bgr, 39, 29, 37.71, 38) - 20.052949) < 5e-7 AS ey_29,
       abs(clm.bgnbd_p_alive(:bgr, 1, 1.71, 38.86) - 0.212101) < 5e-7 AS palive_1,
       abs(clm.bgnbd_purchase_probability(:bgr, 39, 1) - 0.199395) < 5e-7 AS pn39_1;
-- Hardie note 004: E[Y(39)] for (2, 30.43, 38.86) = 1.226 (lifetimes 1.22591), P(alive) 0.7266
SELECT abs(clm.bgnbd_expected_purchases(:bgr, 39, 2, 30.43, 38.86) - 1.226) < 0.0005 AS ey_note004,
       abs(clm.bgnbd_p_alive(:bgr, 2, 30.43, 38.86) - 0.7266) < 0.00005 AS palive_note004;
-- R BTYD manual: P(N(2)=10), P(N(39)=0); P(N(30)=n), n = 11, 15, 20
SELECT ok(clm.bgnbd_purchase_probability(:bgr, 2, 10), 1.07869e-07, 1e-5) AS pn2_10,
       abs(clm.bgnbd_purchase_probability(:bgr, 39, 0) - 0.5737864) < 5e-8 AS pn39_0,
       abs(clm.bgnbd_purchase_probability(:bgr, 30, 11) - 0.0019995214) < 5e-11 AS pn30_11,
       abs(clm.bgnbd_purchase_probability(:bgr, 30, 15) - 0.0007023638) < 5e-11 AS pn30_15,
       abs(clm.bgnbd_purchase_probability(:bgr, 30, 20) - 0.0002222260) < 5e-11 AS pn30_20;
-- the probabilities sum to 1 and their mean is E[X(t)]
SELECT abs(sum(p) - 1) < 1e-12 AS sums_to_1,
       ok(sum(n * p), clm.bgnbd_expected_purchases_new(:bgr, 30), 1e-10) AS mean_is_ex
FROM (SELECT n, clm.bgnbd_purchase_probability(:bgr, 30, n) AS p FROM generate_series(0, 400) n) q;
-- note 004 E[X(t)] with lifetimes' full-precision MLE (published to 4 decimals,
-- checked to half a unit there); t = 78: the note's 1.8576 is 1.858 to 4 significant
-- digits (lifetimes itself gives 1.85797 at these parameters, checked to 5e-6);
-- t = 78 with the rounded parameters gives 1.8605
SELECT t, abs(clm.bgnbd_expected_purchases_new(:bgf, t) - ref) < tol AS ex_ok
FROM (VALUES (0.1429, 0.0078, 0.00005), (1, 0.0532, 0.00005), (3, 0.1506, 0.00005),
             (31.8571, 1.0405, 0.00005), (32, 1.0437, 0.00005), (78, 1.8576, 0.0005)) v(t, ref, tol);
SELECT abs(clm.bgnbd_expected_purchases_new(:bgf, 78) - 1.85797) < 0.000005 AS ex78_lifetimes;
SELECT abs(clm.bgnbd_expected_purchases_new(:bgr, 78) - 1.8605) < 0.00005 AS ex78_rounded;
-- PyMC-Marketing's extreme case x = 200, t_x = 38, T = 40 at (0.25, 4, 0.8, 2.5):
-- finite and sane (mpmath: P(alive) 0.0221677370730859, E[Y(39)] 3.01032168277901)
SELECT ok(clm.bgnbd_p_alive(bg(0.25, 4, 0.8, 2.5), 200, 38, 40), 0.0221677370730859, 1e-10) AS palive_x200,
       ok(clm.bgnbd_expected_purchases(bg(0.25, 4, 0.8, 2.5), 39, 200, 38, 40), 3.01032168277901, 1e-10) AS ey_x200;
-- a = 1 is a removable singularity: continuous across it (a = 1 +- 1e-9 and exactly 1),
-- at a short and at a long horizon (the long one goes through the 1 - z connection formula)
SELECT h, abs(clm.bgnbd_expected_purchases(bg(0.3, 5, 1 - 1e-9, 2), h, 3, 20, 30)
              / clm.bgnbd_expected_purchases(bg(0.3, 5, 1, 2), h, 3, 20, 30) - 1) < 1e-8
      AND abs(clm.bgnbd_expected_purchases(bg(0.3, 5, 1 + 1e-9, 2), h, 3, 20, 30)
              / clm.bgnbd_expected_purchases(bg(0.3, 5, 1, 2), h, 3, 20, 30) - 1) < 1e-8 AS continuous,
       -- mpmath: mean of the formula at a = 1 -+ 1e-6 (the formula itself is 0/0 at a = 1)
       ok(clm.bgnbd_expected_purchases(bg(0.3, 5, 1, 2), h, 3, 20, 30), ref, 1e-9) AS value_ok
FROM (VALUES (10, 0.48796500644205), (100000, 21.283343305292)) v(h, ref);
-- horizon 0 -> 0; very long horizons stay finite and increase
SELECT clm.bgnbd_expected_purchases(:bgr, 0, 2, 30.43, 38.86) AS h0,
       clm.bgnbd_expected_purchases(:bgr, 1e4, 2, 30.43, 38.86) < clm.bgnbd_expected_purchases(:bgr, 1e6, 2, 30.43, 38.86) AS increasing;

-- Pareto/NBD at the rounded parameters
SELECT abs(clm.paretonbd_p_alive(:pnr, 0, 0, 38.86) - 0.295287) < 5e-7 AS palive_0,
       abs(clm.paretonbd_p_alive(:pnr, 2, 30.43, 38.86) - 0.869168) < 5e-7 AS palive_2;
-- BTYD walkthrough (x = 26, t_x = 30.86, T = 31) at (0.5534, 10.5802, 0.6061, 11.6562):
-- P(alive) 0.9979, E[Y(52)] 25.46 (published to 2 decimals; lifetimes 25.4566;
-- mpmath of the formula with this P(alive): 25.4549135115)
SELECT abs(clm.paretonbd_p_alive(pn(0.5534, 10.5802, 0.6061, 11.6562), 26, 30.86, 31) - 0.9979) < 0.00005 AS palive_walk,
       abs(clm.paretonbd_expected_purchases(pn(0.5534, 10.5802, 0.6061, 11.6562), 52, 26, 30.86, 31) - 25.46) < 0.01 AS ey_walk,
       ok(clm.paretonbd_expected_purchases(pn(0.5534, 10.5802, 0.6061, 11.6562), 52, 26, 30.86, 31), 25.4549135115, 1e-9) AS ey_walk_mpmath;
-- R BTYD manual E[X(t)], t = 1, 9: 0.05077821, 0.38909211 (lifetimes asserts atol 0.01;
-- at the walkthrough parameters the formula gives 0.0510045, 0.3912843)
SELECT abs(clm.paretonbd_expected_purchases_new(pn(0.5534, 10.5802, 0.6061, 11.6562), 1) - 0.05077821) < 0.01 AS ex1,
       abs(clm.paretonbd_expected_purchases_new(pn(0.5534, 10.5802, 0.6061, 11.6562), 9) - 0.38909211) < 0.01 AS ex9;
-- P(X(t) = n): mpmath by integrating its definition over the drop-out time
SELECT t, n, ok(clm.paretonbd_purchase_probability(:pnr, t, n), ref, 1e-10) AS pmf_ok
FROM (VALUES (30, 0, 0.6153901344864625), (30, 1, 0.169583567578130065), (30, 5, 0.0184911144976203192),
             (30, 20, 0.0000916220309070494717), (2, 3, 0.00124490809333459542), (39, 2, 0.0824871841163165809),
             -- short horizons and many purchases: tiny probabilities (the tail, not a difference)
             (1, 20, 7.845382909249794895e-23), (1, 5, 1.2969754711706988e-06), (0.1, 3, 2.974300518655853e-07),
             (5, 10, 1.6968736334348478e-06), (100, 50, 5.476917756683998e-05), (1000, 3, 0.042261408995325499)) v(t, n, ref);
SELECT abs(sum(p) - 1) < 1e-12 AS sums_to_1,
       ok(sum(n * p), clm.paretonbd_expected_purchases_new(:pnr, 30), 1e-9) AS mean_is_ex
FROM (SELECT n, clm.paretonbd_purchase_probability(:pnr, 30, n) AS p FROM generate_series(0, 400) n) q;
-- extreme history x = 200, t_x = 38, T = 40: mpmath P(alive) 0.0921118448780194
SELECT ok(clm.paretonbd_p_alive(:pnr, 200, 38, 40), 0.0921118448780194, 1e-10) AS palive_x200,
       clm.paretonbd_expected_purchases(:pnr, 39, 200, 38, 40) BETWEEN 0 AND 200 AS ey_x200_sane;
-- s = 1 is a removable singularity (log limit)
SELECT abs(clm.paretonbd_expected_purchases_new(pn(0.5, 10, 1, 12), 30) / (0.5 * 12 / 10 * ln(1 + 30 / 12.0)) - 1) < 1e-14 AS s1_limit,
       abs(clm.paretonbd_expected_purchases_new(pn(0.5, 10, 1 + 1e-9, 12), 30)
           / clm.paretonbd_expected_purchases_new(pn(0.5, 10, 1, 12), 30) - 1) < 1e-8 AS s1_continuous;
-- the other branch of A0 (alpha > beta), mpmath: P(alive) 0.757895578710037,
-- E[Y(26)] 1.40072740276214, P(X(30) = 2) 0.0702944160673373, P(X(30) = 0) 0.673329228476913
SELECT ok(clm.paretonbd_p_alive(pn(0.5, 12, 0.6, 10), 3, 20, 30), 0.757895578710037, 1e-10) AS palive_a_gt_b,
       ok(clm.paretonbd_expected_purchases(pn(0.5, 12, 0.6, 10), 26, 3, 20, 30), 1.40072740276214, 1e-10) AS ey_a_gt_b,
       ok(clm.paretonbd_purchase_probability(pn(0.5, 12, 0.6, 10), 30, 2), 0.0702944160673373, 1e-10) AS pmf2_a_gt_b,
       ok(clm.paretonbd_purchase_probability(pn(0.5, 12, 0.6, 10), 30, 0), 0.673329228476913, 1e-10) AS pmf0_a_gt_b;
-- alpha = beta (2F1 argument 0) and t_x = T (A0 = 0, P(alive) = 1)
SELECT clm.paretonbd_p_alive(pn(0.5, 10, 0.6, 10), 3, 20, 20) AS palive_tx_eq_t,
       clm.paretonbd_p_alive(pn(0.5, 10, 0.6, 10), 3, 10, 20) BETWEEN 0 AND 1 AS palive_alpha_eq_beta;

-- Gamma-Gamma: note 025 E[M] customers 1-10 (atol 0.1, full-precision MLE) on the CDNOW
-- summary (x, zbar), and at the rounded parameters customer 1 24.6637, customer 6 71.4697,
-- population mean 35.2190
SELECT id, abs(clm.gamma_gamma_expected_spend(:ggf, x, m) - ref) < 0.1 AS em_ok
FROM (VALUES (1, 2, 22.35, 24.65), (2, 1, 11.77, 18.91), (3, 0, 0, 35.17), (4, 0, 0, 35.17), (5, 0, 0, 35.17),
             (6, 7, 73.74, 71.46), (7, 1, 11.77, 18.91), (8, 0, 0, 35.17), (9, 2, 25.55, 27.28), (10, 0, 0, 35.17)) v(id, x, m, ref);
SELECT abs(clm.gamma_gamma_expected_spend(:ggr, 2, 22.35) - 24.6637) < 0.00005 AS em_1,
       abs(clm.gamma_gamma_expected_spend(:ggr, 7, 73.74) - 71.4697) < 0.00005 AS em_6,
       abs(clm.gamma_gamma_expected_spend(:ggr, 0, 0) - 35.2190) < 0.00005 AS em_population;

-- CLV: lifetimes Quickstart (12 months, d = 0.01), customer 1 (2, 30.43, 38.86, 22.35):
-- 140.096 with its wrong freq="D" (30 weeks a month: unit_days = 30.4375/30) and
-- 36.279 with freq="W" (4.345 weeks a month: unit_days = 30.4375/4.345); with
-- clm's month (365.25/12 days) and unit_days = 7: mpmath 36.3005353836605
SELECT ok(clm.clv(:bgf, :ggf, 2, 30.43, 38.86, 22.35, 12, 0.01, 30.4375 / 30), 140.096) AS clv_freq_d,
       ok(clm.clv(:bgf, :ggf, 2, 30.43, 38.86, 22.35, 12, 0.01, 30.4375 / 4.345), 36.279) AS clv_freq_w,
       ok(clm.clv(:bgf, :ggf, 2, 30.43, 38.86, 22.35, 12, 0.01, 7), 36.3005353836605, 1e-10) AS clv_weeks;
-- lifetimes freq="W", customers 2-5: 4.638, 8.344 (x = 0, T = 38.86)
SELECT ok(clm.clv(:bgf, :ggf, 1, 1.71, 38.86, 11.77, 12, 0.01, 30.4375 / 4.345), 4.638, 2e-4) AS clv_2,
       ok(clm.clv(:bgf, :ggf, 0, 0, 38.86, 0, 12, 0.01, 30.4375 / 4.345), 8.344, 1e-4) AS clv_3;
-- no horizon -> 0; undiscounted 12 months = E[M] * E[Y(12 months)]
SELECT clm.clv(:bgr, :ggr, 2, 30.43, 38.86, 22.35, 0, 0.01, 7) AS clv_0,
       ok(clm.clv(:bgr, :ggr, 2, 30.43, 38.86, 22.35, 12, 0, 7),
          clm.gamma_gamma_expected_spend(:ggr, 2, 22.35)
          * clm.bgnbd_expected_purchases(:bgr, 365.25 / 7, 2, 30.43, 38.86), 1e-12) AS undiscounted;

-- clv_simple: 50 * 2 * 0.3 = 30 a period; 3 periods at 10%: 30/1.1 + 30/1.21 + 30/1.331
SELECT clm.clv_simple(50, 2, 3) AS undiscounted_no_margin,
       abs(clm.clv_simple(50, 2, 3, 0.3, 0.1) - (30 / 1.1 + 30 / 1.21 + 30 / 1.331)) < 1e-12 AS discounted,
       abs(clm.clv_simple(50, 2, 3, 0.3, 1e-12) - 90) < 1e-8 AS tiny_rate,
       clm.clv_simple(50, 2, 0, 0.3, 0.1) AS no_lifetime;

-- every prediction is STRICT IMMUTABLE PARALLEL SAFE
SELECT proname, provolatile, proisstrict, proparallel
FROM pg_proc WHERE pronamespace = 'clm'::regnamespace
  AND proname ~ '^(bgnbd_(expected|p_alive|purchase)|paretonbd_(expected|p_alive|purchase)|gamma_gamma_expected|clv|hyp2f1)'
ORDER BY proname;

-- bad input
SELECT clm.bgnbd_p_alive(:bgr, -1, 0, 10);
SELECT clm.bgnbd_p_alive(:bgr, 1.5, 1, 10);
SELECT clm.bgnbd_p_alive(:bgr, 'NaN', 1, 10);
SELECT clm.bgnbd_p_alive(:bgr, 2, 11, 10);
SELECT clm.bgnbd_p_alive(:bgr, 2, -1, 10);
SELECT clm.bgnbd_p_alive(:bgr, 0, 3, 10);
SELECT clm.bgnbd_p_alive(:bgr, 2, 3, 'Infinity');
SELECT clm.bgnbd_expected_purchases(:bgr, -1, 2, 3, 10);
SELECT clm.bgnbd_expected_purchases_new(:bgr, 'NaN');
SELECT clm.bgnbd_purchase_probability(:bgr, 10, -1);
SELECT clm.bgnbd_p_alive(bg(0, 4, 0.8, 2.5), 2, 3, 10);
SELECT clm.bgnbd_p_alive(bg(0.2, -4, 0.8, 2.5), 2, 3, 10);
SELECT clm.bgnbd_p_alive(bg(0.2, 4, 'NaN', 2.5), 2, 3, 10);
SELECT clm.bgnbd_p_alive(bg(0.2, 4, 0.8, NULL), 2, 3, 10);
SELECT clm.paretonbd_p_alive(pn(0.5, 10, 0.6, 'Infinity'), 2, 3, 10);
SELECT clm.paretonbd_expected_purchases(:pnr, 10, 2, 11, 10);
SELECT clm.paretonbd_expected_purchases_new(:pnr, -1);
SELECT clm.paretonbd_purchase_probability(:pnr, 10, -3);
-- the largest n: the partial sum stops once its terms are negligible (it
-- looped forever: i <= INT_MAX is always true); P is 0 to double precision
SET statement_timeout = '20s';
SELECT clm.paretonbd_purchase_probability(:pnr, 39, 2147483647) = 0 AS huge_n_zero,
       clm.bgnbd_purchase_probability(:bgr, 39, 2147483647) = 0 AS bg_huge_n_zero;
RESET statement_timeout;
SELECT clm.gamma_gamma_expected_spend(gg(6, 0, 15), 2, 10);
SELECT clm.gamma_gamma_expected_spend(:ggr, 2.5, 10);
SELECT clm.gamma_gamma_expected_spend(:ggr, 2, -10);
-- q <= 1: no finite population mean for a customer without repeat purchases
SELECT clm.gamma_gamma_expected_spend(gg(6, 0.9, 15), 0, 0);
SELECT clm.clv(:bgr, :ggr, 2, 3, 10, 20, 12, -1, 7);
-- a unit so short that a month is not a finite number of units: named as such
SELECT clm.clv(:bgr, :ggr, 2, 3, 10, 20, 12, 0.01, 5e-324);
SELECT clm.clv(:bgr, :ggr, 2, 3, 10, 20, -1, 0.01, 7);
SELECT clm.clv(:bgr, :ggr, 2, 3, 10, 20, 100000, 0.01, 7);
SELECT clm.clv(:bgr, :ggr, 2, 3, 10, 20, 12, 0.01, 0);
SELECT clm.clv(:bgr, :ggr, 2, 3, 10, 'NaN', 12, 0.01, 7);
SELECT clm.clv(:bgr, :ggr, 2, 13, 10, 20, 12, 0.01, 7);
SELECT clm.clv_simple(-50, 2, 3);
SELECT clm.clv_simple(50, 2, 3, 1, -1);
SELECT clm.clv_simple(50, 'Infinity', 3);
-- NULL in, NULL out (STRICT)
SELECT clm.bgnbd_p_alive(NULL, 1, 1, 2) IS NULL AS null_model, clm.clv_simple(NULL, 1, 1) IS NULL AS null_aov;

RESET search_path;
DROP SCHEMA clv_predict_test CASCADE;
