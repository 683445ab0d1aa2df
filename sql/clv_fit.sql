--
-- clv_fit: the CLV fitting aggregates without external data: the state type
-- (text and binary I/O and their validation), parallel plans, weights,
-- penalizer, log-likelihood point checks and bad input for every function.
-- The CDNOW figures are in clv_fit_cdnow.
--
CREATE SCHEMA clv_fit_test;
SET search_path = clv_fit_test, public;
\getenv abs_builddir PG_ABS_BUILDDIR

-- ---------------------------------------------------------------------------
-- log-likelihood point checks (PyMC-Marketing test_numerically_stable_logp:
-- r .25, alpha 4, a .8, b 2.5, T 40: x=200, t_x=38 gives 100.7957 (an
-- overflow case for the naive formula), x=0 gives -0.59947382)
-- ---------------------------------------------------------------------------
SELECT abs(clm.bgnbd_log_likelihood(0.25, 4, 0.8, 2.5, 200, 38, 40) - 100.7957) < 0.0001 AS x200_ok,
       abs(clm.bgnbd_log_likelihood(0.25, 4, 0.8, 2.5, 0, 0, 40) - (-0.59947382)) < 1e-8 AS x0_ok;
-- Pareto/NBD: t_x = T makes A0 = 0; alpha = beta makes the 2F1 trivial;
-- the two branches of A0 (alpha >= beta and alpha < beta) agree as alpha
-- crosses beta, and a very large x does not overflow
SELECT clm.paretonbd_log_likelihood(0.55, 10.5, 0.6, 11.7, 3, 20, 20) < 0 AS tx_eq_t_finite,
       abs(clm.paretonbd_log_likelihood(0.55, 11.7 - 1e-9, 0.6, 11.7, 3, 10, 20)
         - clm.paretonbd_log_likelihood(0.55, 11.7 + 1e-9, 0.6, 11.7, 3, 10, 20)) < 1e-7 AS branches_agree,
       clm.paretonbd_log_likelihood(0.55, 10.5, 0.6, 11.7, 5000, 38, 40) > -1e6 AS big_x_finite;
-- Gamma-Gamma: density of the mean spend integrates to 1 over m (x = 2,
-- p = 6, q = 4, gamma = 15), checked by a midpoint rule
SELECT abs(sum(exp(clm.gamma_gamma_log_likelihood(6, 4, 15, 2, (i - 0.5) / 100.0))) / 100.0 - 1) < 1e-4
       AS gg_density_integrates_to_1
FROM generate_series(1, 100000) i;

-- ---------------------------------------------------------------------------
-- 5000 customers simulated from BG/NBD (r .25, alpha 4, a .8, b 2.5, weeks)
-- and Gamma-Gamma (6.25, 3.74, 15.44) by test/data/btyd_gen.c:
--   btyd_gen bgnbd 5000 2024 0.25 4 0.8 2.5 182 364 6.25 3.74 15.44
-- ---------------------------------------------------------------------------
\getenv abs_srcdir PG_ABS_SRCDIR
CREATE TABLE sim(id int, x int, t_x_days int, t_days int, mean_spend float8);
\set sample_file :abs_srcdir '/test/data/btyd_sample.csv'
\set cmd '\\copy sim FROM ' :'sample_file' ' (FORMAT csv)'
:cmd
CREATE TABLE cust AS
SELECT id, id % 3 AS g, x::float8 AS x, t_x_days / 7.0::float8 AS t_x, t_days / 7.0::float8 AS t, mean_spend FROM sim;
ANALYZE cust;

-- empty input, all-NULL input and skipped NULL rows
SELECT clm.bgnbd_fit(x, t_x, t) IS NULL AS empty_bgnbd,
       clm.paretonbd_fit(x, t_x, t) IS NULL AS empty_pnbd,
       clm.gamma_gamma_fit(x, mean_spend) IS NULL AS empty_gg
FROM cust WHERE false;
SELECT clm.bgnbd_fit(NULL::float8, 1, 2) IS NULL AS all_null_bgnbd,
       clm.gamma_gamma_fit(1, NULL::float8) IS NULL AS all_null_gg
FROM generate_series(1, 3);
-- only customers without repeat purchases: Gamma-Gamma has nothing to fit
SELECT clm.gamma_gamma_fit(0, 0) IS NULL AS gg_no_repeat_buyers FROM generate_series(1, 3);
SELECT (SELECT clm.bgnbd_fit(x, t_x, t) FROM cust)
     = (SELECT clm.bgnbd_fit(x, t_x, t) FROM (SELECT x, t_x, t FROM cust
                                            UNION ALL SELECT NULL, 1, 2
                                            UNION ALL SELECT 1, NULL, 2) s) AS null_rows_skipped;

-- the fits converge and report finite values and standard errors
SELECT (f).converged, (f).n, (f).iterations > 0 AS iterated,
       (f).r > 0 AND (f).alpha > 0 AND (f).a > 0 AND (f).b > 0 AS positive,
       (f).r_se > 0 AND (f).alpha_se > 0 AND (f).a_se > 0 AND (f).b_se > 0 AS se_positive,
       abs((f).log_likelihood - (SELECT sum(clm.bgnbd_log_likelihood((f).r, (f).alpha, (f).a, (f).b, x, t_x, t)) FROM cust)) < 1e-6
         AS ll_is_sum_of_rows
FROM (SELECT clm.bgnbd_fit(x, t_x, t) f FROM cust) s;
SELECT (f).converged, (f).n,
       abs((f).log_likelihood - (SELECT sum(clm.paretonbd_log_likelihood((f).r, (f).alpha, (f).s, (f).beta, x, t_x, t)) FROM cust)) < 1e-6
         AS ll_is_sum_of_rows
FROM (SELECT clm.paretonbd_fit(x, t_x, t) f FROM cust) s;
SELECT (f).converged, (f).n,
       abs((f).log_likelihood - (SELECT sum(clm.gamma_gamma_log_likelihood((f).p, (f).q, (f).gamma, x, mean_spend)) FROM cust WHERE x > 0)) < 1e-6
         AS ll_is_sum_of_rows
FROM (SELECT clm.gamma_gamma_fit(x, mean_spend) f FROM cust) s;

-- degenerate data (nobody ever repurchases): the MLE is at the boundary;
-- the fit stops with finite numbers, never NaN or Infinity
SELECT (f).r::text NOT IN ('NaN', 'Infinity') AND (f).alpha::text NOT IN ('NaN', 'Infinity')
       AND (f).a::text NOT IN ('NaN', 'Infinity') AND (f).b::text NOT IN ('NaN', 'Infinity')
       AND (f).log_likelihood::text NOT IN ('NaN', '-Infinity') AS finite,
       (f).log_likelihood <= 0 AS ll_nonpositive
FROM (SELECT clm.bgnbd_fit(0, 0, 10 + i % 5) f FROM generate_series(1, 100) i) s;
-- a single customer
SELECT (f).n, (f).log_likelihood::text NOT IN ('NaN', '-Infinity', 'Infinity') AS finite
FROM (SELECT clm.bgnbd_fit(3, 5, 10) f) s;

-- extreme time units: the fit works on t / max(t), so times near either end
-- of double precision give the same r, a, b and alpha scaled accordingly
WITH f0 AS (SELECT clm.bgnbd_fit(x, t_x, t) f FROM cust),
     big AS (SELECT clm.bgnbd_fit(x, t_x * 1e300, t * 1e300) f FROM cust),
     small AS (SELECT clm.bgnbd_fit(x, t_x * 1e-300, t * 1e-300) f FROM cust)
SELECT (big.f).converged AND (small.f).converged AS converged,
       abs((big.f).r / (f0.f).r - 1) < 1e-6 AND abs((small.f).r / (f0.f).r - 1) < 1e-6
       AND abs((big.f).b / (f0.f).b - 1) < 1e-5 AND abs((small.f).b / (f0.f).b - 1) < 1e-5 AS same_shape,
       abs((big.f).alpha / 1e300 / (f0.f).alpha - 1) < 1e-5
       AND abs((small.f).alpha / 1e-300 / (f0.f).alpha - 1) < 1e-5 AS alpha_scaled
FROM f0, big, small;

-- ---------------------------------------------------------------------------
-- weights: a weighted fit of the collapsed rows equals the fit of the rows
-- ---------------------------------------------------------------------------
SELECT (SELECT clm.bgnbd_fit(x, t_x, t) FROM cust)
     = (SELECT clm.bgnbd_fit(x, t_x, t, n) FROM (SELECT x, t_x, t, count(*)::float8 n FROM cust GROUP BY 1, 2, 3) g)
       AS bgnbd_weighted_eq_rows,
       (SELECT clm.gamma_gamma_fit(x, mean_spend) FROM cust)
     = (SELECT clm.gamma_gamma_fit(x, mean_spend, n) FROM (SELECT x, mean_spend, count(*)::float8 n FROM cust GROUP BY 1, 2) g)
       AS gg_weighted_eq_rows;
-- duplicating every customer (weight 2, or the rows twice) doubles n and
-- the log-likelihood and leaves the parameters alone; so does weight 0.5
WITH once AS (SELECT clm.bgnbd_fit(x, t_x, t) f FROM cust),
     twice AS (SELECT clm.bgnbd_fit(x, t_x, t) f FROM (SELECT * FROM cust UNION ALL SELECT * FROM cust) d),
     w2 AS (SELECT clm.bgnbd_fit(x, t_x, t, 2) f FROM cust),
     half AS (SELECT clm.bgnbd_fit(x, t_x, t, 0.5) f FROM cust)
SELECT (twice.f).n = 2 * (once.f).n AS n_doubled,
       abs((twice.f).log_likelihood - 2 * (once.f).log_likelihood) < 1e-6 AS ll_doubled,
       abs((twice.f).r - (once.f).r) < 1e-7 AND abs((twice.f).alpha - (once.f).alpha) < 1e-6
         AND abs((twice.f).a - (once.f).a) < 1e-7 AND abs((twice.f).b - (once.f).b) < 1e-6 AS same_params,
       twice.f = w2.f AS weight2_eq_duplicated,
       abs((half.f).r - (once.f).r) < 1e-7 AND abs((half.f).b - (once.f).b) < 1e-6 AS half_weight_same_params,
       (twice.f).r_se < (once.f).r_se AS se_shrinks_with_n
FROM once, twice, w2, half;

-- ---------------------------------------------------------------------------
-- penalizer (lifetimes: mean NLL + penalizer * sum of squared parameters,
-- alpha in units of max(T)): it shrinks the parameters and costs likelihood
-- ---------------------------------------------------------------------------
WITH f0 AS (SELECT clm.bgnbd_fit(x, t_x, t) f FROM cust),
     fz AS (SELECT clm.bgnbd_fit(x, t_x, t, 1, 0) f FROM cust),
     fp AS (SELECT clm.bgnbd_fit(x, t_x, t, 1, 0.1) f FROM cust),
     tmax AS (SELECT max(t) m FROM cust)
SELECT (fz.f).r = (f0.f).r AND (fz.f).b = (f0.f).b AS zero_penalty_is_none,
       (fp.f).r ^ 2 + ((fp.f).alpha / m) ^ 2 + (fp.f).a ^ 2 + (fp.f).b ^ 2
         < (f0.f).r ^ 2 + ((f0.f).alpha / m) ^ 2 + (f0.f).a ^ 2 + (f0.f).b ^ 2 AS shrinks,
       (fp.f).log_likelihood < (f0.f).log_likelihood AS costs_likelihood,
       (fp.f).converged
FROM f0, fz, fp, tmax;
WITH f0 AS (SELECT clm.gamma_gamma_fit(x, mean_spend) f FROM cust),
     fp AS (SELECT clm.gamma_gamma_fit(x, mean_spend, 1, 0.01) f FROM cust)
SELECT (fp.f).p ^ 2 + (fp.f).q ^ 2 + (fp.f).gamma ^ 2 < (f0.f).p ^ 2 + (f0.f).q ^ 2 + (f0.f).gamma ^ 2 AS gg_shrinks,
       (fp.f).log_likelihood < (f0.f).log_likelihood AS gg_costs_likelihood
FROM f0, fp;
WITH f0 AS (SELECT clm.paretonbd_fit(x, t_x, t) f FROM cust),
     fp AS (SELECT clm.paretonbd_fit(x, t_x, t, 1, 0.1) f FROM cust),
     tmax AS (SELECT max(t) m FROM cust)
SELECT (fp.f).r ^ 2 + ((fp.f).alpha / m) ^ 2 + (fp.f).s ^ 2 + ((fp.f).beta / m) ^ 2
         < (f0.f).r ^ 2 + ((f0.f).alpha / m) ^ 2 + (f0.f).s ^ 2 + ((f0.f).beta / m) ^ 2 AS pnbd_shrinks,
       (fp.f).log_likelihood < (f0.f).log_likelihood AS pnbd_costs_likelihood
FROM f0, fp, tmax;

-- ---------------------------------------------------------------------------
-- parallel plans: partial states go through the combine function and the
-- result equals the serial one exactly (rows are sorted before fitting)
-- ---------------------------------------------------------------------------
CREATE TABLE serial_fit AS
SELECT clm.bgnbd_fit(x, t_x, t) bg, clm.paretonbd_fit(x, t_x, t) pn,
       clm.gamma_gamma_fit(x, mean_spend) gg
FROM cust;
CREATE TABLE serial_grouped AS
SELECT g, clm.bgnbd_fit(x, t_x, t) bg FROM cust GROUP BY 1;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT clm.bgnbd_fit(x, t_x, t), clm.paretonbd_fit(x, t_x, t), clm.gamma_gamma_fit(x, mean_spend) FROM cust;
SELECT s.bg = p.bg AS bgnbd_parallel_eq_serial,
       s.pn = p.pn AS paretonbd_parallel_eq_serial,
       s.gg = p.gg AS gamma_gamma_parallel_eq_serial
FROM serial_fit s,
     (SELECT clm.bgnbd_fit(x, t_x, t) bg, clm.paretonbd_fit(x, t_x, t) pn,
             clm.gamma_gamma_fit(x, mean_spend) gg FROM cust) p;
-- per-group fits (Partial HashAggregate); a positive tuple cost makes the
-- planner prefer shipping partial states over rows
SET parallel_tuple_cost = 0.1;
EXPLAIN (COSTS OFF)
SELECT g, clm.bgnbd_fit(x, t_x, t) FROM cust GROUP BY 1;
SELECT count(*) AS grouped_rows_differing FROM (
    (SELECT g, clm.bgnbd_fit(x, t_x, t) bg FROM cust GROUP BY 1)
    EXCEPT SELECT g, bg FROM serial_grouped) d;
-- a worker without rows hands a NULL partial state to the combine function
-- (the filter's selectivity is unknown to the planner, so it goes partial;
-- ids 1 to 3 are on the first page, which one worker reads)
EXPLAIN (COSTS OFF) SELECT clm.bgnbd_fit(x, t_x, t) FROM cust WHERE abs(id - 2) < 2;
SELECT (f).n, (f).log_likelihood = (SELECT (clm.bgnbd_fit(x, t_x, t)).log_likelihood FROM cust WHERE id <= 3) AS eq_serial
FROM (SELECT clm.bgnbd_fit(x, t_x, t) f FROM cust WHERE abs(id - 2) < 2) s;
SELECT clm.bgnbd_fit(x, t_x, t) IS NULL AS empty_parallel FROM cust WHERE abs(id) < 0;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;

-- ---------------------------------------------------------------------------
-- bad input to the aggregates
-- ---------------------------------------------------------------------------
SELECT clm.bgnbd_fit(-1, 0, 10);
SELECT clm.bgnbd_fit(1.5, 1, 10);
SELECT clm.bgnbd_fit(1, 11, 10);
SELECT clm.bgnbd_fit(1, -1, 10);
SELECT clm.bgnbd_fit(0, 0, -1);
SELECT clm.bgnbd_fit('NaN', 0, 10);
SELECT clm.bgnbd_fit(1, 'NaN', 10);
SELECT clm.bgnbd_fit(1, 1, 'Infinity');
SELECT clm.bgnbd_fit(1, 1, 10, 0);
SELECT clm.bgnbd_fit(1, 1, 10, -2);
SELECT clm.bgnbd_fit(1, 1, 10, 'Infinity');
SELECT clm.bgnbd_fit(1, 1, 10, 1, -0.1);
SELECT clm.bgnbd_fit(1, 1, 10, 1, 'NaN');
SELECT clm.bgnbd_fit(x, t_x, t, 1, i) FROM (VALUES (1, 1.0, 2.0, 0.1), (2, 1.0, 3.0, 0.2)) v(x, t_x, t, i);
SELECT clm.paretonbd_fit(-1, 0, 10);
SELECT clm.paretonbd_fit(2, 5, 4);
SELECT clm.paretonbd_fit(2, 1, 4, 0);
SELECT clm.paretonbd_fit(2, 1, 4, 1, -1);
SELECT clm.gamma_gamma_fit(2, 0);
SELECT clm.gamma_gamma_fit(2, -5);
SELECT clm.gamma_gamma_fit(0, -5);
SELECT clm.gamma_gamma_fit(-1, 5);
SELECT clm.gamma_gamma_fit(2.5, 5);
SELECT clm.gamma_gamma_fit(2, 'NaN');
SELECT clm.gamma_gamma_fit(2, 5, 0);
SELECT clm.gamma_gamma_fit(2, 5, 1, -1);
-- bad input to the log-likelihood functions
SELECT clm.bgnbd_log_likelihood(0, 4, 0.8, 2.5, 1, 1, 2);
SELECT clm.bgnbd_log_likelihood(0.25, -4, 0.8, 2.5, 1, 1, 2);
SELECT clm.bgnbd_log_likelihood(0.25, 4, 'NaN', 2.5, 1, 1, 2);
SELECT clm.bgnbd_log_likelihood(0.25, 4, 0.8, 'Infinity', 1, 1, 2);
SELECT clm.bgnbd_log_likelihood(0.25, 4, 0.8, 2.5, -1, 1, 2);
SELECT clm.bgnbd_log_likelihood(0.25, 4, 0.8, 2.5, 1, 3, 2);
SELECT clm.paretonbd_log_likelihood(0.5, 10, 0, 11, 1, 1, 2);
SELECT clm.paretonbd_log_likelihood(0.5, 10, 0.6, 11, 1.5, 1, 2);
SELECT clm.paretonbd_log_likelihood(0.5, 10, 0.6, 11, 1, -1, 2);
SELECT clm.gamma_gamma_log_likelihood(6, 4, 0, 2, 10);
SELECT clm.gamma_gamma_log_likelihood(6, 4, 15, 0, 10);
SELECT clm.gamma_gamma_log_likelihood(6, 4, 15, 2, 0);
SELECT clm.gamma_gamma_log_likelihood(6, 4, 15, 2, 'NaN');
-- the support functions are for the aggregates only
SELECT clm.btyd_fit_trans(NULL, 1, 2, 3);
SELECT clm.spend_fit_trans(NULL, 1, 2);
SELECT clm.btyd_fit_combine(NULL, NULL);
-- NULL arguments: STRICT
SELECT clm.bgnbd_log_likelihood(NULL, 4, 0.8, 2.5, 1, 1, 2) IS NULL AS strict_null;

-- ---------------------------------------------------------------------------
-- the state type: text form, round trips, validation
-- ---------------------------------------------------------------------------
SELECT 'kind=btyd version=1 penalizer=none rows=2: (1,1.5,10,2) (0,0,10,3)'::clm.btyd_fit_state;
SELECT 'kind=spend version=1 penalizer=0.01 rows=1: (2,12.5,0,1)'::clm.btyd_fit_state;
SELECT 'kind=btyd version=1 penalizer=none rows=0:'::clm.btyd_fit_state;
-- exact round trip of awkward doubles
SELECT s::text::clm.btyd_fit_state::text = s::text AS text_round_trip
FROM (SELECT 'kind=btyd version=1 penalizer=none rows=2: (3,0.1,0.30000000000000004,1e-300) (5,1.7976931348623157e+308,1.7976931348623157e+308,0.5)'::clm.btyd_fit_state s) v;
-- malformed text
SELECT 'kind=btyd version=2 penalizer=none rows=0:'::clm.btyd_fit_state;
SELECT 'kind=rfm version=1 penalizer=none rows=0:'::clm.btyd_fit_state;
SELECT 'kind=btyd version=1 penalizer=-1 rows=0:'::clm.btyd_fit_state;
SELECT 'kind=btyd version=1 penalizer=none rows=2: (1,1,2,1)'::clm.btyd_fit_state;
SELECT 'kind=btyd version=1 penalizer=none rows=1: (1,1,2,1) (2,1,2,1)'::clm.btyd_fit_state;
SELECT 'kind=btyd version=1 penalizer=none rows=2: (1,1,2,1) (1,1,2,1)'::clm.btyd_fit_state;
SELECT 'kind=btyd version=1 penalizer=none rows=1: (1,3,2,1)'::clm.btyd_fit_state;
SELECT 'kind=btyd version=1 penalizer=none rows=1: (1.5,1,2,1)'::clm.btyd_fit_state;
SELECT 'kind=btyd version=1 penalizer=none rows=1: (1,1,2,0)'::clm.btyd_fit_state;
SELECT 'kind=btyd version=1 penalizer=none rows=1: (1,NaN,2,1)'::clm.btyd_fit_state;
SELECT 'kind=btyd version=1 penalizer=none rows=1: (0,1,2,1)'::clm.btyd_fit_state;
SELECT 'kind=spend version=1 penalizer=none rows=1: (0,5,0,1)'::clm.btyd_fit_state;
SELECT 'kind=spend version=1 penalizer=none rows=1: (1,-5,0,1)'::clm.btyd_fit_state;
SELECT 'kind=btyd version=1 penalizer=none rows=1: (1,1,2,1'::clm.btyd_fit_state;
SELECT 'kind=btyd version=1 penalizer=none rows=-1:'::clm.btyd_fit_state;
SELECT 'kind=btyd version=1 penalizer=none rows=99999999999:'::clm.btyd_fit_state;
SELECT 'kind=btyd version=1 penalizer=none rows=1: (1,1,2,1) junk'::clm.btyd_fit_state;
SELECT ''::clm.btyd_fit_state;
-- a stored state can be finalised directly (the final functions check kind)
SELECT (clm.bgnbd_fit_final('kind=btyd version=1 penalizer=none rows=0:')) IS NULL AS empty_state_null;
SELECT clm.gamma_gamma_fit_final('kind=btyd version=1 penalizer=none rows=1: (1,1,2,1)');
SELECT clm.bgnbd_fit_final('kind=spend version=1 penalizer=none rows=1: (2,12.5,0,1)');

-- binary round trip through COPY (send, then recv)
CREATE TABLE states(s clm.btyd_fit_state);
INSERT INTO states VALUES
  ('kind=btyd version=1 penalizer=none rows=3: (0,0,30,10) (1,2.5,30,4) (4,20.25,31,1)'),
  ('kind=spend version=1 penalizer=0.5 rows=2: (1,10,0,1) (3,22.5,0,2.5)');
\set bin_file :abs_builddir '/clv_fit_states.bin'
\set cmd '\\copy states TO ' :'bin_file' ' (FORMAT binary)'
:cmd
CREATE TABLE states2(s clm.btyd_fit_state);
\set cmd '\\copy states2 FROM ' :'bin_file' ' (FORMAT binary)'
:cmd
SELECT count(*) AS binary_round_trip_differences
FROM (SELECT s::text FROM states EXCEPT SELECT s::text FROM states2) d;
-- malformed binary: bytea payloads written in COPY binary format and read
-- back into the type, one file each so that every error is shown
CREATE TABLE raw(id int, b bytea);
INSERT INTO raw VALUES
  (1, decode('02010000000000000000000000000000', 'hex')),                  -- version 2
  (2, decode('01070000000000000000000000000000', 'hex')),                  -- kind 7
  (3, decode('010100000000000100000000000000000000', 'hex')),              -- 1 row announced, none present
  (4, decode('0101', 'hex')),                                              -- too short
  (5, decode('01010000000000013ff0000000000000'                    -- penalizer 1 without the flag
      || '3ff0000000000000' || '3ff0000000000000' || '4000000000000000' || '3ff0000000000000', 'hex')),
  (6, decode('01010001000000010000000000000000'                    -- t_x = 2 > t = 1
      || '3ff0000000000000' || '4000000000000000' || '3ff0000000000000' || '3ff0000000000000', 'hex')),
  (7, decode('01010001000000010000000000000000'                    -- NaN weight
      || '3ff0000000000000' || '3ff0000000000000' || '4000000000000000' || '7ff8000000000000', 'hex')),
  (8, decode('01010001000000020000000000000000'                    -- the same row twice
      || '3ff0000000000000' || '3ff0000000000000' || '4000000000000000' || '3ff0000000000000'
      || '3ff0000000000000' || '3ff0000000000000' || '4000000000000000' || '3ff0000000000000', 'hex')),
  (9, decode('01010001000000020000000000000000'                    -- valid, rows out of order: sorted
      || '4000000000000000' || '3ff0000000000000' || '4000000000000000' || '3ff0000000000000'
      || '3ff0000000000000' || '3ff0000000000000' || '4000000000000000' || '3ff0000000000000', 'hex'));
CREATE TABLE states3(s clm.btyd_fit_state);
\set raw_file :abs_builddir '/clv_fit_raw.bin'
\set copy_in '\\copy states3 FROM ' :'raw_file' ' (FORMAT binary)'
\set copy_out '\\copy (SELECT b FROM raw WHERE id = 1) TO ' :'raw_file' ' (FORMAT binary)'
:copy_out
:copy_in
\set copy_out '\\copy (SELECT b FROM raw WHERE id = 2) TO ' :'raw_file' ' (FORMAT binary)'
:copy_out
:copy_in
\set copy_out '\\copy (SELECT b FROM raw WHERE id = 3) TO ' :'raw_file' ' (FORMAT binary)'
:copy_out
:copy_in
\set copy_out '\\copy (SELECT b FROM raw WHERE id = 4) TO ' :'raw_file' ' (FORMAT binary)'
:copy_out
:copy_in
\set copy_out '\\copy (SELECT b FROM raw WHERE id = 5) TO ' :'raw_file' ' (FORMAT binary)'
:copy_out
:copy_in
\set copy_out '\\copy (SELECT b FROM raw WHERE id = 6) TO ' :'raw_file' ' (FORMAT binary)'
:copy_out
:copy_in
\set copy_out '\\copy (SELECT b FROM raw WHERE id = 7) TO ' :'raw_file' ' (FORMAT binary)'
:copy_out
:copy_in
\set copy_out '\\copy (SELECT b FROM raw WHERE id = 8) TO ' :'raw_file' ' (FORMAT binary)'
:copy_out
:copy_in
\set copy_out '\\copy (SELECT b FROM raw WHERE id = 9) TO ' :'raw_file' ' (FORMAT binary)'
:copy_out
:copy_in
SELECT s AS accepted FROM states3;

RESET search_path;
DROP SCHEMA clv_fit_test CASCADE;
