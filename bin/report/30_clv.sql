-- bin/report/30_clv.sql: customer lifetime value on the demo data (schema
-- clm_demo), as of the report's fixed time 2026-07-01 00:00+00.
--
-- The whole chain in SQL: clm.purchase_summary turns the orders into one
-- BTYD summary per customer (UTC days, weeks), clm.bgnbd_fit and
-- clm.gamma_gamma_fit fit the purchase and spend models on them, and the
-- predictions score every customer: P(alive), expected purchases and the
-- discounted CLV over the next 12 months (monthly rate 1 %; weeks, so
-- unit_days = 7).  Prints the models and the top customers.

\set ON_ERROR_STOP 1
\pset footer off

CREATE TEMP TABLE clv_report_summary AS
SELECT customer_id,
       clm.purchase_summary(ordered_at, amount, timestamptz '2026-07-01 00:00+00', interval '7 days') AS s
FROM clm_demo.orders
GROUP BY customer_id;

CREATE TEMP TABLE clv_report_model AS
SELECT clm.bgnbd_fit((s).x, (s).t_x, (s).t) AS bg,
       clm.gamma_gamma_fit((s).x, (s).mean_spend) FILTER (WHERE (s).x > 0 AND (s).mean_spend > 0) AS gg
FROM clv_report_summary
WHERE s IS NOT NULL;

\echo
\echo '== Customer lifetime value (BG/NBD + Gamma-Gamma, fitted on all buyers, as of 2026-07-01)'
\echo
\echo '-- purchase model (BG/NBD, time unit: week) and spend model (Gamma-Gamma)'
SELECT round((bg).r::numeric, 4) AS r, round((bg).alpha::numeric, 4) AS alpha,
       round((bg).a::numeric, 4) AS a, round((bg).b::numeric, 4) AS b,
       round((bg).log_likelihood::numeric, 2) AS log_likelihood, (bg).n::bigint AS customers,
       (bg).converged
FROM clv_report_model;
SELECT round((gg).p::numeric, 4) AS p, round((gg).q::numeric, 4) AS q, round((gg).gamma::numeric, 4) AS gamma,
       round((gg).log_likelihood::numeric, 2) AS log_likelihood, (gg).n::bigint AS repeat_buyers,
       (gg).converged,
       CASE WHEN (gg).q > 1 THEN round(((gg).p * (gg).gamma / ((gg).q - 1))::numeric, 2) END AS mean_spend_per_order
FROM clv_report_model;

CREATE TEMP TABLE clv_report_scores AS
SELECT c.customer_id, (c.s).x AS repeat_purchases,
       round((c.s).t::numeric, 1) AS weeks_known,
       clm.bgnbd_p_alive(m.bg, (c.s).x, (c.s).t_x, (c.s).t) AS p_alive,
       clm.bgnbd_expected_purchases(m.bg, 365.25 / 7, (c.s).x, (c.s).t_x, (c.s).t) AS purchases_12m,
       CASE WHEN (m.gg).q > 1 OR (c.s).x > 0
            THEN clm.clv(m.bg, m.gg, (c.s).x, (c.s).t_x, (c.s).t, (c.s).mean_spend, 12, 0.01, 7)
       END AS clv_12m
FROM clv_report_summary c, clv_report_model m
WHERE c.s IS NOT NULL;

\echo '-- the customer base over the next 12 months'
SELECT count(*) AS buyers,
       count(*) FILTER (WHERE p_alive >= 0.5) AS likely_active,
       round(sum(purchases_12m)::numeric, 0) AS expected_purchases,
       round(sum(clv_12m)::numeric, 0) AS expected_value_discounted
FROM clv_report_scores;

\echo '-- top 15 customers by predicted 12-month CLV'
SELECT cu.email, s.repeat_purchases, s.weeks_known,
       round(s.p_alive::numeric, 3) AS p_alive,
       round(s.purchases_12m::numeric, 2) AS purchases_12m,
       round(s.clv_12m::numeric, 2) AS clv_12m
FROM clv_report_scores s
JOIN clm_demo.customers cu ON cu.id = s.customer_id
ORDER BY s.clv_12m DESC NULLS LAST, cu.email
LIMIT 15;

\echo '-- valuable customers slipping away: P(alive) < 0.5, ranked by what they spent per order'
SELECT cu.email, s.repeat_purchases, s.weeks_known,
       round(s.p_alive::numeric, 3) AS p_alive,
       round((c.s).mean_spend::numeric, 2) AS mean_spend,
       round(s.clv_12m::numeric, 2) AS clv_12m
FROM clv_report_scores s
JOIN clv_report_summary c USING (customer_id)
JOIN clm_demo.customers cu ON cu.id = s.customer_id
WHERE s.p_alive < 0.5 AND s.repeat_purchases >= 3
ORDER BY (c.s).mean_spend DESC, cu.email
LIMIT 10;

DROP TABLE clv_report_scores, clv_report_model, clv_report_summary;
