--
-- clv_fit_sbg: the shifted-beta-geometric contract model (Fader and Hardie
-- 2007, "How to Project Customer Retention", Journal of Interactive
-- Marketing 21(1)) on the paper's two cohorts, its predictions checked
-- against values derived here from the model's definition, and the way a
-- table of subscriptions with start and end dates feeds the fit.
--
CREATE SCHEMA clv_fit_sbg;
SET search_path = clv_fit_sbg, public;

-- The paper's Table 1: of 1,000 customers acquired at year 0, the survivors
-- at the start of years 0 .. 12.
CREATE TABLE survivors (segment text, year int, active int);
INSERT INTO survivors
SELECT 'regular', y - 1, v
FROM unnest(ARRAY[1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173])
     WITH ORDINALITY AS u(v, y);
INSERT INTO survivors
SELECT 'high end', y - 1, v
FROM unnest(ARRAY[1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394])
     WITH ORDINALITY AS u(v, y);

-- Years 1-7 as fit rows: the customers lost at renewal t (t = 1 .. 7)
-- churned after t opportunities; the survivors of year 7 are active after
-- 7 opportunities.
CREATE VIEW calibration AS
SELECT segment, year AS periods, true AS churned,
       (lag(active) OVER w - active)::float8 AS customers
FROM survivors WHERE year <= 7
WINDOW w AS (PARTITION BY segment ORDER BY year)
UNION ALL
SELECT segment, 7, false, active FROM survivors WHERE year = 7;

CREATE TABLE fits AS
SELECT segment, clm.sbg_fit(periods, churned, customers) AS m
FROM calibration WHERE customers IS NOT NULL
GROUP BY segment;

-- published: regular alpha 0.704, beta 1.182, LL -1680.27; high end 0.668,
-- 3.806, -1611.16 (to their rounding)
SELECT segment, round((m).alpha::numeric, 3) AS alpha, round((m).beta::numeric, 3) AS beta,
       round((m).log_likelihood::numeric, 2) AS ll, (m).n, (m).converged,
       (m).alpha_se > 0 AND (m).beta_se > 0 AS have_se
FROM fits ORDER BY segment;

-- projections for years 8-12 next to the actual survivors
SELECT f.segment, s.year, round(1000 * clm.sbg_survival(f.m, s.year)) AS projected, s.active AS actual
FROM fits f JOIN survivors s USING (segment)
WHERE s.year BETWEEN 8 AND 12 ORDER BY f.segment, s.year;

-- The same projections derived here from the model's definition: the
-- survival after t renewals is prod_{k=0}^{t-1} (beta+k)/(alpha+beta+k)
-- (a renewal at opportunity k+1 with probability (beta+k)/(alpha+beta+k)
-- given the previous ones), compared over t = 0 .. 12 to a relative 1e-12.
CREATE TABLE survival_defn AS
WITH RECURSIVE s(segment, t, surv) AS (
    SELECT segment, 0, 1.0::float8 FROM fits
    UNION ALL
    SELECT s.segment, s.t + 1, s.surv * ((f.m).beta + s.t) / ((f.m).alpha + (f.m).beta + s.t)
    FROM s JOIN fits f USING (segment) WHERE s.t < 2000
)
SELECT * FROM s;
SELECT f.segment, bool_and(abs(clm.sbg_survival(f.m, d.t) / d.surv - 1) < 1e-12) AS survival_ok,
       bool_and(d.t = 0 OR abs(clm.sbg_retention(f.m, d.t) - d.surv / p.surv) < 1e-12) AS retention_ok
FROM fits f JOIN survival_defn d USING (segment)
     LEFT JOIN survival_defn p ON p.segment = d.segment AND p.t = d.t - 1
WHERE d.t <= 12
GROUP BY f.segment ORDER BY f.segment;
-- the fitted log-likelihood from the same survival values:
-- sum over lost customers of ln(S(t-1) - S(t)), plus the survivors' ln S(7)
SELECT c.segment,
       abs(sum(c.customers * ln(CASE WHEN c.churned THEN p.surv - d.surv ELSE d.surv END))
           - (f.m).log_likelihood) < 1e-8 AS ll_ok
FROM calibration c JOIN fits f USING (segment)
     JOIN survival_defn d ON d.segment = c.segment AND d.t = c.periods
     LEFT JOIN survival_defn p ON p.segment = c.segment AND p.t = c.periods - 1
WHERE c.customers IS NOT NULL
GROUP BY c.segment, f.m ORDER BY c.segment;

-- Expected lifetime: the truncated sum of S(t), t < horizon; the untruncated
-- mean is infinite for alpha <= 1 (both cohorts), finite (alpha + beta - 1)
-- / (alpha - 1) = 4 for alpha = 2, beta = 3.
SELECT f.segment, abs(clm.sbg_expected_lifetime(f.m, 12) - sum(d.surv) FILTER (WHERE d.t < 12)) < 1e-12 AS lifetime_12_ok,
       clm.sbg_expected_lifetime(f.m, 0) AS lifetime_0
FROM fits f JOIN survival_defn d USING (segment) GROUP BY f.segment, f.m ORDER BY f.segment;
SELECT clm.sbg_expected_lifetime((SELECT m FROM fits WHERE segment = 'regular'));
SELECT clm.sbg_expected_lifetime(ROW(2, 3, NULL, NULL, NULL, NULL, NULL, NULL)::clm.sbg) AS mean_lifetime,
       abs(clm.sbg_expected_lifetime(ROW(2, 3, NULL, NULL, NULL, NULL, NULL, NULL)::clm.sbg, 1000000) - 4) < 1e-4 AS truncated_near_4;

-- DERL and CLV at a 10 % discount rate against the discounted sums of the
-- survival values (to t = 2000, where 1.1^-t is below 1e-80): DERL of a
-- customer active after p renewals = sum_{k>=0} S(p+1+k)/S(p) / 1.1^k; CLV of
-- a new customer paying 100 per period = 100 * sum_{t>=0} S(t) / 1.1^t.
SELECT f.segment, p.t AS periods,
       abs(clm.sbg_derl(f.m, p.t, 0.1)
           / (sum(d.surv / 1.1 ^ (d.t - p.t - 1)) FILTER (WHERE d.t > p.t) / p.surv) - 1) < 1e-10 AS derl_ok
FROM fits f JOIN survival_defn p USING (segment) JOIN survival_defn d USING (segment)
WHERE p.t IN (0, 1, 7)
GROUP BY f.segment, f.m, p.t, p.surv ORDER BY f.segment, p.t;
SELECT f.segment, abs(clm.sbg_clv(f.m, 100, 0.1) / (100 * sum(d.surv / 1.1 ^ d.t)) - 1) < 1e-10 AS clv_ok,
       abs(clm.sbg_clv(f.m, 100, 0.1) - 100 * (1 + clm.sbg_derl(f.m, 0, 0.1) / 1.1)) < 1e-9 AS clv_is_first_payment_plus_discounted_derl
FROM fits f JOIN survival_defn d USING (segment) GROUP BY f.segment, f.m ORDER BY f.segment;
-- printed for the documentation
SELECT segment, round(clm.sbg_derl(m, 7, 0.1)::numeric, 4) AS derl_after_7,
       round(clm.sbg_clv(m, 100, 0.1)::numeric, 2) AS clv_100
FROM fits ORDER BY segment;

-- From a table of subscriptions (start and end dates, yearly renewals) to
-- the fit: a contract that ended by the as-of date churned at the first
-- renewal date on or after its end; an active one faced one renewal
-- opportunity per completed year.  The 1,000 regular customers, started on
-- 2010-01-01, their ends at the renewal dates (one mid-term cancellation per
-- year, which counts for the next renewal), as of 2017-01-01.
CREATE TABLE subscriptions (customer_id int PRIMARY KEY, started date NOT NULL, ended date);
INSERT INTO subscriptions
SELECT row_number() OVER (), '2010-01-01',
       CASE WHEN c.churned THEN
            CASE WHEN g = 1 THEN date '2010-01-01' + make_interval(years => c.periods) - interval '5 months'
                 ELSE date '2010-01-01' + make_interval(years => c.periods) END END
FROM calibration c, generate_series(1, c.customers::int) g
WHERE c.segment = 'regular' AND c.customers IS NOT NULL;
CREATE VIEW subscription_history AS
SELECT customer_id, periods, churned,
       CASE WHEN churned THEN 'churned'
            WHEN periods = 0 THEN 'first_purchase'
            ELSE 'repeat' END::clm.lifecycle_stage AS stage
FROM (SELECT customer_id, ended IS NOT NULL AND ended <= date '2017-01-01' AS churned,
             CASE WHEN ended IS NOT NULL AND ended <= date '2017-01-01'
                  THEN y_end + (started + make_interval(years => y_end) < ended)::int
                  ELSE extract(year FROM age(date '2017-01-01', started))::int END AS periods
      FROM (SELECT *, extract(year FROM age(ended, started))::int AS y_end FROM subscriptions) s) h;
-- the fit equals the fit of the aggregated cohort
SELECT (SELECT clm.sbg_fit(periods, churned) FROM subscription_history)
       = (SELECT m FROM fits WHERE segment = 'regular') AS same_fit;
SELECT stage, count(*), min(periods), max(periods) FROM subscription_history GROUP BY stage ORDER BY stage;

-- parallel plans: same fit
CREATE TABLE many AS SELECT * FROM subscription_history, generate_series(1, 100) g;
ANALYZE many;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2; SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT clm.sbg_fit(periods, churned) FROM many;
CREATE TABLE par AS SELECT clm.sbg_fit(periods, churned) AS m FROM many;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather; RESET parallel_leader_participation;
SELECT (par.m).alpha = (s.m).alpha AND (par.m).beta = (s.m).beta AS parallel_same, (par.m).n
FROM par, (SELECT clm.sbg_fit(periods, churned) AS m FROM many) s;

-- empty input and NULLs: NULL (rows with a NULL are skipped)
SELECT clm.sbg_fit(periods, churned) IS NULL AS empty_null FROM subscription_history WHERE false;
SELECT clm.sbg_fit(p, c) IS NULL AS all_null FROM (VALUES (NULL::int, true), (3, NULL)) v(p, c);

-- bad input
SELECT clm.sbg_fit(p, c) FROM (VALUES (-1, false)) v(p, c);
SELECT clm.sbg_fit(p, c) FROM (VALUES (0, true)) v(p, c);
SELECT clm.sbg_fit(p, c, w) FROM (VALUES (1, true, 0::float8)) v(p, c, w);
SELECT clm.sbg_fit(p, c, w) FROM (VALUES (1, true, 'NaN'::float8)) v(p, c, w);
SELECT clm.sbg_survival(ROW(0.7, 1.2, NULL, NULL, NULL, NULL, NULL, NULL)::clm.sbg, -1);
SELECT clm.sbg_retention(ROW(0.7, 1.2, NULL, NULL, NULL, NULL, NULL, NULL)::clm.sbg, 0);
-- huge parameters: the retention rate is still (beta+t-1)/(alpha+beta+t-1)
-- (here 1/2), with no overflow to 0
SELECT clm.sbg_retention(ROW(1e308, 1e308, NULL, NULL, NULL, NULL, NULL, NULL)::clm.sbg, 3) AS retention_half;
-- weights whose sum overflows: an error, not the start point reported as a fit
SELECT clm.sbg_fit(p, c, w) FROM (VALUES (1, true, 1e308::float8), (2, false, 1e308)) v(p, c, w);
SELECT clm.sbg_survival(ROW(-0.7, 1.2, NULL, NULL, NULL, NULL, NULL, NULL)::clm.sbg, 1);
SELECT clm.sbg_survival(ROW(NULL, 1.2, NULL, NULL, NULL, NULL, NULL, NULL)::clm.sbg, 1);
SELECT clm.sbg_derl(ROW(0.7, 1.2, NULL, NULL, NULL, NULL, NULL, NULL)::clm.sbg, 1, 0);
SELECT clm.sbg_derl(ROW(0.7, 1.2, NULL, NULL, NULL, NULL, NULL, NULL)::clm.sbg, -1, 0.1);
SELECT clm.sbg_clv(ROW(0.7, 1.2, NULL, NULL, NULL, NULL, NULL, NULL)::clm.sbg, -5, 0.1);
SELECT clm.sbg_clv(ROW(0.7, 1.2, NULL, NULL, NULL, NULL, NULL, NULL)::clm.sbg, 5, 'Infinity');
SELECT clm.sbg_expected_lifetime(ROW(0.7, 1.2, NULL, NULL, NULL, NULL, NULL, NULL)::clm.sbg, -1);

-- the state: text form, round trip, kind checks
SELECT round(alpha::numeric, 4) AS alpha, round(beta::numeric, 4) AS beta, n, converged
FROM clm.sbg_fit_final('kind=sbg version=1 penalizer=none rows=8: (1,1,0,369) (2,1,0,163) (3,1,0,86) (4,1,0,56) (5,1,0,37) (6,1,0,27) (7,1,0,21) (7,0,0,241)');
-- the state the fit builds, through an aggregate without final function:
-- it reads back to the same fit
CREATE AGGREGATE sbg_state(integer, boolean, float8) (
    SFUNC = clm.sbg_fit_trans, STYPE = clm.btyd_fit_state, COMBINEFUNC = clm.btyd_fit_combine);
SELECT sbg_state(periods, churned, customers) FROM calibration WHERE segment = 'regular' AND customers IS NOT NULL;
SELECT clm.sbg_fit_final(sbg_state(periods, churned, customers)::text::clm.btyd_fit_state) = (SELECT m FROM fits WHERE segment = 'regular') AS text_round_trip
FROM calibration WHERE segment = 'regular' AND customers IS NOT NULL;
SELECT 'kind=sbg version=1 penalizer=none rows=1: (0,1,0,5)'::clm.btyd_fit_state;
SELECT 'kind=sbg version=1 penalizer=none rows=1: (2,0.5,0,5)'::clm.btyd_fit_state;
SELECT 'kind=sbg version=1 penalizer=none rows=1: (2,1,3,5)'::clm.btyd_fit_state;
SELECT clm.sbg_fit_final('kind=btyd version=1 penalizer=none rows=1: (0,0,1,1)');
SELECT clm.bgnbd_fit_final('kind=sbg version=1 penalizer=none rows=1: (1,1,0,1)');
