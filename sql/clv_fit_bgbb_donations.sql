--
-- clv_fit_bgbb_donations: BG/BB on the donation data of Fader, Hardie and
-- Shang (2010), "Customer-Base Analysis in a Discrete-Time Noncontractual
-- Setting", Marketing Science 29(6): 11,104 donors, 6 yearly opportunities
-- (1996-2001), compressed to 22 (frequency, recency) patterns with weights.
-- Skipped with a notice when the data folder ($CLM_CDNOW_DIR, the same
-- folder as the CDNOW files) is absent (expected/clv_fit_bgbb_donations_1.out).
--
\getenv cdnow_dir CLM_CDNOW_DIR
\set donations_file :cdnow_dir '/donations.csv'
\set have_donations `test -r "$CLM_CDNOW_DIR/donations.csv" && echo true || echo false`
\if :have_donations
\else
\echo NOTICE: donations.csv not found in $CLM_CDNOW_DIR, skipping the BG/BB donation tests
\quit
\endif

CREATE SCHEMA clv_fit_bgbb_donations;
SET search_path = clv_fit_bgbb_donations, public;
CREATE TABLE donations(x float8, t_x float8, n float8, donors float8);
\set cmd '\\copy donations FROM ' :'donations_file' ' (FORMAT csv, HEADER)'
:cmd
-- the data as documented: 22 patterns, 11,104 donors, 6 opportunities
SELECT count(*), sum(donors), min(n), max(n) FROM donations;

CREATE TABLE fits AS
SELECT (SELECT clm.bgbb_fit(x, t_x, n, donors) FROM donations) AS w,
       (SELECT clm.bgbb_fit(x, t_x, n)
        FROM donations, generate_series(1, donors::int)) AS u;

-- published: alpha 1.204, beta 0.750, gamma 0.657, delta 2.783 (to their
-- rounding, i.e. within 0.0005) and LL -33,225.58 (to its rounding)
SELECT round((w).alpha::numeric, 3) AS alpha, round((w).beta::numeric, 3) AS beta,
       round((w).gamma::numeric, 3) AS gamma, round((w).delta::numeric, 3) AS delta,
       round((w).log_likelihood::numeric, 2) AS ll, (w).n, (w).converged
FROM fits;
-- standard errors: positive and small against the parameters (11,104 donors)
SELECT (w).alpha_se BETWEEN 0.001 AND 0.2 AND (w).beta_se BETWEEN 0.001 AND 0.2
       AND (w).gamma_se BETWEEN 0.001 AND 0.2 AND (w).delta_se BETWEEN 0.001 AND 0.5 AS se_ok
FROM fits;
-- one row per donor gives the weighted fit (to the optimizer's tolerance)
SELECT abs((u).alpha - (w).alpha) < 1e-4 AND abs((u).beta - (w).beta) < 1e-4
       AND abs((u).gamma - (w).gamma) < 1e-4 AND abs((u).delta - (w).delta) < 1e-4
       AND abs((u).log_likelihood - (w).log_likelihood) < 1e-6 AS unweighted_same,
       (u).n
FROM fits;

-- P(alive in 2002), opportunity n + 1 = 7, from FHS 2010 Table 6 (two
-- decimals): (x, t_x) = (0, 0) 0.11, (2, 4) 0.59, (6, 6) 0.93
SELECT x, t_x, round(clm.bgbb_p_alive(w, x, t_x, 6)::numeric, 2) AS p_alive
FROM fits, (VALUES (0, 0), (2, 4), (6, 6)) v(x, t_x) ORDER BY x;

-- Expected transactions in the next n* opportunities and DERT, against
-- their definition: the donor gives at opportunity n + t when alive then
-- (P(alive at n + 1) times prod_{k = n+1}^{n+t-1} (delta+k)/(gamma+delta+k))
-- with probability E[p | x, n] = (alpha + x)/(alpha + beta + n); DERT
-- discounts the gift at n + t by 1.1^t (the sum to t = 400 is within 1e-16
-- of the series); both to a relative 1e-10.
CREATE TABLE defn AS
WITH RECURSIVE steps(t, alive_ratio) AS (
    SELECT 1, 1.0::float8
    UNION ALL
    SELECT t + 1, alive_ratio * ((w).delta + 6 + t) / ((w).gamma + (w).delta + 6 + t)
    FROM steps, fits WHERE t < 400
)
SELECT v.x, v.t_x,
       clm.bgbb_p_alive(f.w, v.x, v.t_x, 6) * ((f.w).alpha + v.x) / ((f.w).alpha + (f.w).beta + 6) AS first,
       (SELECT sum(alive_ratio) FROM steps WHERE t <= 5) AS s5,
       (SELECT sum(alive_ratio / 1.1 ^ t) FROM steps) AS sd
FROM fits f, (VALUES (0, 0), (1, 3), (2, 4), (6, 6)) v(x, t_x);
SELECT d.x, d.t_x,
       abs(clm.bgbb_expected_transactions(f.w, 5, d.x, d.t_x, 6) / (d.first * d.s5) - 1) < 1e-10 AS e5_ok,
       abs(clm.bgbb_dert(f.w, 0.1, d.x, d.t_x, 6) / (d.first * d.sd) - 1) < 1e-10 AS dert_ok,
       clm.bgbb_expected_transactions(f.w, 0, d.x, d.t_x, 6) = 0 AS e0_zero
FROM defn d, fits f ORDER BY d.x;
-- printed for the documentation (4 decimals)
SELECT v.x, v.t_x, round(clm.bgbb_p_alive(w, v.x, v.t_x, 6)::numeric, 4) AS p_alive,
       round(clm.bgbb_expected_transactions(w, 5, v.x, v.t_x, 6)::numeric, 4) AS next_5,
       round(clm.bgbb_dert(w, 0.1, v.x, v.t_x, 6)::numeric, 4) AS dert_10pct
FROM fits, (VALUES (0, 0), (1, 3), (2, 4), (6, 6)) v(x, t_x) ORDER BY v.x;
