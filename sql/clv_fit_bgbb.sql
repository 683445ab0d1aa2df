--
-- clv_fit_bgbb: the BG/BB aggregate's conventions (Fader, Hardie and Shang
-- 2010): weights, parallel plans, NULL and empty input, the documented
-- errors for bad histories, the state's text form, and the predictions'
-- argument checks.  The published figures are in clv_fit_bgbb_donations.
--
CREATE SCHEMA clv_fit_bgbb;
SET search_path = clv_fit_bgbb, public;

-- 2,000 synthetic histories over n = 8 opportunities, simulated the BG/BB
-- way with deterministic draws (hashes of customer and opportunity): each
-- customer has a transaction probability p of 0.2, 0.5 or 0.8 and a dropout
-- probability theta of 0.02 or 0.6; alive at an opportunity, they transact
-- with probability p, then drop out with probability theta.  The mixture
-- spreads p and theta, so the maximum-likelihood fit lies inside the
-- parameter space (a data set without real dropout would send gamma and
-- delta to infinity, and the fit would stop wherever rounding let it).
CREATE TABLE hist AS
WITH cust AS (
    SELECT i, (ARRAY[0.2, 0.5, 0.8])[1 + i % 3] AS p, (ARRAY[0.02, 0.6])[1 + (i / 3) % 2] AS theta
    FROM generate_series(1, 2000) i),
draws AS (
    SELECT c.i, k, c.p, c.theta,
           (hashint8(c.i * 16 + k) & 65535) / 65536.0 AS u_buy,
           (hashint8(c.i * 16 + k + 100000000) & 65535) / 65536.0 AS u_drop
    FROM cust c, generate_series(1, 8) k),
life AS (
    -- alive through opportunity k: no dropout at an earlier one
    SELECT i, k, u_buy < p AS buys,
           bool_and(u_drop >= theta) OVER (PARTITION BY i ORDER BY k ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS alive
    FROM draws)
SELECT i AS id, count(*) FILTER (WHERE buys AND alive IS NOT FALSE) AS x,
       coalesce(max(k) FILTER (WHERE buys AND alive IS NOT FALSE), 0) AS t_x, 8 AS n
FROM life GROUP BY i;
SELECT bool_and(x <= t_x AND t_x <= n AND (x > 0 OR t_x = 0)) AS valid, count(DISTINCT (x, t_x)) AS patterns FROM hist;

-- the fit of the rows and of the grouped rows with weights agree
CREATE TABLE fits AS
SELECT (SELECT clm.bgbb_fit(x, t_x, n) FROM hist) AS u,
       (SELECT clm.bgbb_fit(x, t_x, n, w)
        FROM (SELECT x, t_x, n, count(*)::float8 w FROM hist GROUP BY 1, 2, 3) g) AS w;
SELECT (u).converged, (w).converged, (u).n,
       (u).alpha = (w).alpha AND (u).beta = (w).beta AND (u).gamma = (w).gamma
       AND (u).delta = (w).delta AS weighted_same,
       (u).alpha_se > 0 AND (u).beta_se > 0 AND (u).gamma_se > 0 AND (u).delta_se > 0 AS have_se
FROM fits;

-- parallel plans give exactly the serial fit
CREATE TABLE many AS SELECT h.* FROM hist h, generate_series(1, 50);
ANALYZE many;
CREATE TABLE serial AS SELECT clm.bgbb_fit(x, t_x, n) AS m FROM many;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2; SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT clm.bgbb_fit(x, t_x, n) FROM many;
CREATE TABLE par AS SELECT clm.bgbb_fit(x, t_x, n) AS m FROM many;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather; RESET parallel_leader_participation;
SELECT par.m = serial.m AS parallel_same, (par.m).n FROM par, serial;

-- NULLs are skipped; no rows give NULL
SELECT clm.bgbb_fit(x, t_x, n) IS NULL AS empty_null FROM hist WHERE false;
SELECT clm.bgbb_fit(x, t_x, n) IS NULL AS all_null
FROM (VALUES (NULL::float8, 0::float8, 6::float8), (1, NULL, 6), (1, 1, NULL)) v(x, t_x, n);

-- bad histories, in the order the rules are checked
SELECT clm.bgbb_fit(x, t_x, n) FROM (VALUES ('NaN'::float8, 0::float8, 6::float8)) v(x, t_x, n);
SELECT clm.bgbb_fit(x, t_x, n) FROM (VALUES (-1::float8, 0::float8, 6::float8)) v(x, t_x, n);
SELECT clm.bgbb_fit(x, t_x, n) FROM (VALUES (1.5::float8, 2::float8, 6::float8)) v(x, t_x, n);
SELECT clm.bgbb_fit(x, t_x, n) FROM (VALUES (1::float8, 'Infinity'::float8, 6::float8)) v(x, t_x, n);
SELECT clm.bgbb_fit(x, t_x, n) FROM (VALUES (1::float8, 2::float8, 'NaN'::float8)) v(x, t_x, n);
SELECT clm.bgbb_fit(x, t_x, n) FROM (VALUES (1::float8, 2.5::float8, 6::float8)) v(x, t_x, n);
SELECT clm.bgbb_fit(x, t_x, n) FROM (VALUES (1::float8, 2::float8, -6::float8)) v(x, t_x, n);
SELECT clm.bgbb_fit(x, t_x, n) FROM (VALUES (0::float8, 2::float8, 6::float8)) v(x, t_x, n);
SELECT clm.bgbb_fit(x, t_x, n) FROM (VALUES (3::float8, 2::float8, 6::float8)) v(x, t_x, n);
SELECT clm.bgbb_fit(x, t_x, n) FROM (VALUES (3::float8, 7::float8, 6::float8)) v(x, t_x, n);
SELECT clm.bgbb_fit(x, t_x, n, w) FROM (VALUES (1::float8, 2::float8, 6::float8, 0::float8)) v(x, t_x, n, w);
SELECT clm.bgbb_fit(x, t_x, n, w) FROM (VALUES (1::float8, 2::float8, 6::float8, -1::float8)) v(x, t_x, n, w);
-- the predictions apply the same rules, and check the model and their own
-- arguments
SELECT clm.bgbb_p_alive((SELECT w FROM fits), 3, 2, 6);
SELECT clm.bgbb_expected_transactions((SELECT w FROM fits), -1, 1, 2, 6);
SELECT clm.bgbb_dert((SELECT w FROM fits), 0, 1, 2, 6);
SELECT clm.bgbb_dert((SELECT w FROM fits), 'NaN', 1, 2, 6);
SELECT clm.bgbb_p_alive(ROW(1.2, 0.75, 0, 2.8, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgbb, 1, 2, 6);
SELECT clm.bgbb_p_alive(ROW(1.2, 0.75, 0.66, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgbb, 1, 2, 6);
-- more opportunities than an int32 counts: refused at once (the likelihood
-- sums one term per opportunity after t_x), in the fit, the predictions and
-- a stored state alike; at the limit the sum runs, and can be cancelled
SELECT clm.bgbb_p_alive((SELECT w FROM fits), 0, 0, 3e9);
SELECT clm.bgbb_fit(x, t_x, n) FROM (VALUES (0::float8, 0::float8, 2147483648::float8)) v(x, t_x, n);
SELECT 'kind=bgbb version=1 penalizer=none rows=1: (0,0,1e300,1)'::clm.btyd_fit_state;
SET statement_timeout = '1s';
SELECT clm.bgbb_p_alive((SELECT w FROM fits), 0, 0, 2147483647);
RESET statement_timeout;
-- edge histories: no opportunities yet; a transaction at every opportunity
SELECT round(clm.bgbb_p_alive(m, 0, 0, 0)::numeric, 12) AS p_alive_new,
       abs(clm.bgbb_expected_transactions(m, 1, 0, 0, 0) - 1.2 / (1.2 + 0.75) * 2.8 / (0.66 + 2.8)) < 1e-12 AS first_opportunity_ok,
       clm.bgbb_p_alive(m, 1000, 1000, 1000) > 0.99 AS p_alive_always_active
FROM (SELECT ROW(1.2, 0.75, 0.66, 2.8, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgbb AS m) s;

-- the state: its text form reads back, is validated, and its kind is checked
CREATE AGGREGATE bgbb_state(float8, float8, float8) (
    SFUNC = clm.bgbb_fit_trans, STYPE = clm.btyd_fit_state, COMBINEFUNC = clm.btyd_fit_combine);
SELECT bgbb_state(x, t_x, n) FROM hist WHERE id <= 6;
SELECT clm.bgbb_fit_final(bgbb_state(x, t_x, n)::text::clm.btyd_fit_state) = (SELECT u FROM fits) AS text_round_trip
FROM hist;
SELECT 'kind=bgbb version=1 penalizer=none rows=1: (3,2,6,1)'::clm.btyd_fit_state;
SELECT 'kind=bgbb version=1 penalizer=none rows=1: (1,2,1,1)'::clm.btyd_fit_state;
SELECT 'kind=bgbbx version=1 penalizer=none rows=0:'::clm.btyd_fit_state;
SELECT clm.bgbb_fit_final('kind=btyd version=1 penalizer=none rows=1: (0,0,1,1)');
SELECT clm.bgbb_fit_final('kind=bgbb version=1 penalizer=none rows=0:') IS NULL AS empty_state;
