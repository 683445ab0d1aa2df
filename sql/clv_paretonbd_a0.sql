--
-- clv_paretonbd_a0: the Pareto/NBD log-likelihood and P(alive) share one
-- A0 term.  The log-likelihood of a customer is
--   ln[Gamma(r+x)/Gamma(r) alpha^r beta^s] + ln[L1 + s/(r+s+x) A0],
--   L1 = (alpha+t)^-(r+x) (beta+t)^-s,
-- and P(alive) = L1 / (L1 + s/(r+s+x) A0), so
--   ln P(alive) = ln[Gamma(r+x)/Gamma(r) alpha^r beta^s] + ln L1 - LL.
-- Both sides are checked against ln P(alive) computed with 50-digit
-- arithmetic (mpmath's hyp2f1 in the 2F1 form of A0), at alpha < beta,
-- alpha = beta and alpha > beta, with 2F1 arguments D/(M+t_x) from 0 to
-- 0.9998 (the series and the quadrature of A0) and x up to 1,000.
--
CREATE TABLE pnbd_a0_ref (r float8, alpha float8, s float8, beta float8,
                          x float8, t_x float8, t float8, ln_p_alive float8);
INSERT INTO pnbd_a0_ref VALUES
  (0.55, 10.5, 0.6, 11.7, 2, 30.43, 38.86, -0.13876950620590970849),   -- alpha < beta
  (0.55, 11.7, 0.6, 11.7, 2, 30.43, 38.86, -0.13791386421899062736),   -- alpha = beta
  (0.55, 20, 0.6, 11.7, 2, 30.43, 38.86, -0.13313133374198103844),     -- alpha > beta
  (0.2, 5000, 3, 11.7, 300, 60, 200, -10.483597668548386784),          -- z = 0.986, x = 300
  (0.2, 100, 3, 0.6, 300, 0.9, 1, -0.22344399263893788868),            -- z = 0.985
  (0.55, 0.05, 0.6, 300, 50, 20, 39, -26.545971452808821295),          -- alpha << beta
  (0.55, 10.5, 0.6, 11.7, 1000, 38, 40, -33.011302466425836276),       -- x = 1,000
  (2.5, 0.5, 0.3, 8000, 5, 1, 39, -12.875014742860789687);             -- z = 0.9998

-- Gamma(r+x)/Gamma(r) = prod_{i<x} (r+i): no lgamma in SQL
SELECT alpha, beta, x, t_x, t,
       abs(ln(p_alive) - ln_p_alive) < 1e-11 AS p_alive_ok,
       abs(ln_p_alive_from_ll - ln_p_alive) < 1e-11 AS from_ll_ok,
       abs(ln(p_alive) - ln_p_alive_from_ll) < 1e-11 AS agree
FROM (SELECT ref.*,
             clm.paretonbd_p_alive(ROW(r, alpha, s, beta, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.paretonbd,
                                   x, t_x, t) AS p_alive,
             (SELECT sum(ln(r + i)) FROM generate_series(0, x::int - 1) AS i)
             + r * ln(alpha) + s * ln(beta) - (r + x) * ln(alpha + t) - s * ln(beta + t)
             - clm.paretonbd_log_likelihood(r, alpha, s, beta, x, t_x, t) AS ln_p_alive_from_ll
      FROM pnbd_a0_ref AS ref) AS q
ORDER BY r, alpha, beta, x;

-- over a grid of 6,075 parameter sets and customers (both branches of A0,
-- the series and the quadrature; the 5,805 with P(alive) above 1e-300), the two agree
-- to rounding
WITH g AS (
    SELECT r, alpha, s, beta, x::float8 AS x, (t * f)::float8 AS t_x, t::float8 AS t
    FROM unnest(ARRAY[0.2, 0.55, 2.5]) AS r, unnest(ARRAY[0.05, 0.5, 10.5, 100, 5000]) AS alpha,
         unnest(ARRAY[0.3, 0.6, 3]) AS s, unnest(ARRAY[0.04, 0.6, 11.7, 300, 8000]) AS beta,
         unnest(ARRAY[1, 50, 300]) AS x, unnest(ARRAY[0, 0.3, 0.999]) AS f,
         unnest(ARRAY[1, 39, 200]) AS t
), lg AS (   -- ln Gamma(r+x)/Gamma(r) per (r, x)
    SELECT r, x, (SELECT sum(ln(r + i)) FROM generate_series(0, x::int - 1) AS i) AS lg
    FROM (SELECT DISTINCT r, x FROM g) AS d
)
SELECT count(*) AS cases, max(abs(ln(p_alive) - ln_p_alive_from_ll)) < 1e-11 AS agree
FROM (SELECT clm.paretonbd_p_alive(ROW(g.r, alpha, s, beta, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.paretonbd,
                                   g.x, t_x, t) AS p_alive,
             lg.lg + g.r * ln(alpha) + s * ln(beta) - (g.r + g.x) * ln(alpha + t) - s * ln(beta + t)
             - clm.paretonbd_log_likelihood(g.r, alpha, s, beta, g.x, t_x, t) AS ln_p_alive_from_ll
      FROM g JOIN lg ON lg.r = g.r AND lg.x = g.x) AS q
WHERE p_alive > 1e-300;

-- t_x = t: A0 = 0, P(alive) = 1 and the likelihood is L1 alone
SELECT clm.paretonbd_p_alive(ROW(0.55, 10.5, 0.6, 11.7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.paretonbd,
                             3, 20, 20) AS p_alive_tx_eq_t,
       abs(clm.paretonbd_log_likelihood(0.55, 10.5, 0.6, 11.7, 3, 20, 20)
           - (ln(0.55 * 1.55 * 2.55) + 0.55 * ln(10.5) + 0.6 * ln(11.7) - 3.55 * ln(30.5) - 0.6 * ln(31.7))) < 1e-12
         AS ll_tx_eq_t;

DROP TABLE pnbd_a0_ref;
