-- A refresh moves a customer view to an as-of time where the data fit a
-- BG/NBD model with a tiny a and a huge b (very regular buyers): its
-- expected purchases were refused there ("could not be evaluated to full
-- precision") and the refresh failed, though the view was created.  The
-- predictions are checked against the closed form summed in 80-digit
-- numeric arithmetic.
\set VERBOSITY terse
SET timezone = 'UTC';
CREATE SCHEMA analytics_refresh;
SET search_path = analytics_refresh;
CREATE TABLE orders AS
SELECT c AS cust, timestamptz '2024-01-01 00:00+00'
         + ((c * 7919 + k * k * 104729) % 600) * interval '1 day'
         + ((c + k * 37) % 24) * interval '1 hour' AS at,
       (5 + ((c * 31 + k * 17) % 200))::numeric AS amount
FROM generate_series(1, 500) AS c, generate_series(1, 1 + c % 6) AS k;
SELECT clm.create_customer_view('cv', 'orders', 'cust', 'at', 'amount', as_of => '2025-07-01');
SELECT clm.refresh_customer_view('cv', '2024-05-01');
-- a stored model, tested on a parameter: a row IS NOT NULL needs every field,
-- and whether this flat fit has standard errors differs between builds
SELECT (bgnbd).a < 1e-3 AS tiny_a, (bgnbd).b > 1e4 AS huge_b, (gamma_gamma).p IS NOT NULL AS has_gamma_gamma
  FROM clm.customer_view WHERE view_schema = 'analytics_refresh';
SELECT count(*) AS rows, count(expected_purchases) AS with_expected, count(predicted_clv) AS with_clv FROM cv;

-- E[Y(h)] = P(alive) C/(a-1) [1 - (1-z)^(r+x) 2F1(r+x, b+x; C; z)],
-- C = a+b+x-1, z = h/(alpha+T+h) (Fader, Hardie and Lee 2005, eq. 10)
CREATE FUNCTION bg_expected_numeric(m clm.bgnbd, h float8, x float8, t_x float8, t float8)
RETURNS numeric LANGUAGE sql AS $$
WITH RECURSIVE p AS (
    SELECT round((m).r::text::numeric, 80) AS r, round((m).alpha::text::numeric, 80) AS alpha,
           round((m).a::text::numeric, 80) AS a, round((m).b::text::numeric, 80) AS b,
           round(h::text::numeric, 80) AS h, round(x::text::numeric, 80) AS x,
           round(t_x::text::numeric, 80) AS t_x, round(t::text::numeric, 80) AS t
), q AS (
    SELECT p.*, p.r + p.x AS n, p.a + p.b + p.x - 1 AS c, p.b + p.x AS bp,
           round(p.h / (p.alpha + p.t + p.h), 80) AS z
      FROM p
), s(k, term, total) AS (
    SELECT 0, 1::numeric, 1::numeric
    UNION ALL
    SELECT s.k + 1, round(s.term * (q.n + s.k) * (q.bp + s.k) / ((q.c + s.k) * (s.k + 1)) * q.z, 80),
           s.total + round(s.term * (q.n + s.k) * (q.bp + s.k) / ((q.c + s.k) * (s.k + 1)) * q.z, 80)
      FROM s, q
     WHERE s.k < 100000 AND abs(s.term) > 1e-70
)
SELECT CASE WHEN q.x = 0 THEN 1
            ELSE 1 / (1 + q.a / (q.b + q.x - 1) * power((q.alpha + q.t) / (q.alpha + q.t_x), q.n)) END
       * q.c / (q.a - 1) * (1 - power(1 - q.z, q.n) * (SELECT total FROM s ORDER BY k DESC LIMIT 1))
  FROM q
$$;

-- every customer's 90-day expectation, and the monthly horizons of its
-- twelve-month CLV (where the refresh failed), at 1e-9 relative
WITH s AS (
    SELECT DISTINCT (ps).x, (ps).t_x, (ps).t
      FROM (SELECT clm.purchase_summary(at, amount, timestamptz '2024-05-01 00:00+00', '7 days') AS ps
              FROM orders WHERE at <= '2024-05-01 00:00+00' GROUP BY cust) AS g
), m AS (
    SELECT bgnbd FROM clm.customer_view WHERE view_schema = 'analytics_refresh'
), cmp AS (
    SELECT clm.bgnbd_expected_purchases(m.bgnbd, h.h, s.x, s.t_x, s.t) AS c_value,
           bg_expected_numeric(m.bgnbd, h.h, s.x, s.t_x, s.t) AS exact
      FROM s, m,
           (SELECT 90 / 7.0 AS h UNION ALL SELECT k * 30.4375 / 7 FROM generate_series(1, 12) AS k) AS h
)
SELECT count(*) AS points, bool_and(abs(c_value::numeric - exact) <= 1e-9 * exact) AS agree
  FROM cmp;

SELECT clm.drop_customer_view('cv');
RESET search_path;
DROP SCHEMA analytics_refresh CASCADE;
