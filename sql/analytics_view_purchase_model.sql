--
-- analytics_view_purchase_model: a customer view predicts with the purchase
-- model it was created with (BG/NBD by default, Pareto/NBD or MBG/NBD),
-- stores that model's fit in the registry column of its name, keeps it
-- through refreshes, and fills P(alive), expected purchases and CLV with
-- that model's own functions; clm.clv's three overloads agree with the
-- models' expected purchases.
--
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA analytics_model;
SET search_path = analytics_model;
-- 600 customers: first orders spread over 400 days, 1 to 7 orders each at
-- a customer's own pace (every 5 to 60 days), so that some stop long
-- before as_of and some buy right up to it
CREATE TABLE orders AS
SELECT c AS cust, timestamptz '2024-01-01 00:00+00'
         + ((c * 7919) % 400 + (k - 1) * (5 + (c * 31) % 56)) * interval '1 day'
         + ((c + k * 37) % 24) * interval '1 hour' AS at,
       (5 + ((c * 31 + k * 17) % 200))::numeric AS amount
FROM generate_series(1, 600) AS c, generate_series(1, 1 + c % 7) AS k;

SELECT clm.create_customer_view('cv_bgnbd', 'orders', 'cust', 'at', 'amount', as_of => '2025-09-01');
SELECT clm.create_customer_view('cv_paretonbd', 'orders', 'cust', 'at', 'amount', as_of => '2025-09-01',
                                purchase_model => 'paretonbd');
SELECT clm.create_customer_view('cv_mbgnbd', 'orders', 'cust', 'at', 'amount', as_of => '2025-09-01',
                                purchase_model => 'mbgnbd');

-- each registry row holds its own model's fit and no other (whether a fit
-- reports convergence on these data differs between builds of libm)
SELECT view_name, purchase_model, (bgnbd).r IS NOT NULL AS bgnbd, (paretonbd).r IS NOT NULL AS paretonbd,
       (mbgnbd).r IS NOT NULL AS mbgnbd, (gamma_gamma).p IS NOT NULL AS gamma_gamma
FROM clm.customer_view WHERE view_schema = 'analytics_model' ORDER BY view_name;

-- the stored fits are the fits of the view's customers
CREATE TABLE summary AS
SELECT cust, clm.purchase_summary(at, amount, timestamptz '2025-09-01 00:00+00', '7 days') AS s
FROM orders WHERE at <= '2025-09-01 00:00+00' GROUP BY cust;
WITH f AS (
    SELECT clm.bgnbd_fit((s).x, (s).t_x, (s).t) AS bg, clm.paretonbd_fit((s).x, (s).t_x, (s).t) AS pn,
           clm.mbgnbd_fit((s).x, (s).t_x, (s).t) AS mb
    FROM summary)
SELECT (SELECT (bgnbd).log_likelihood FROM clm.customer_view WHERE view_name = 'cv_bgnbd') = (f.bg).log_likelihood AS bgnbd_same,
       (SELECT (paretonbd).log_likelihood FROM clm.customer_view WHERE view_name = 'cv_paretonbd') = (f.pn).log_likelihood AS paretonbd_same,
       (SELECT (mbgnbd).log_likelihood FROM clm.customer_view WHERE view_name = 'cv_mbgnbd') = (f.mb).log_likelihood AS mbgnbd_same
FROM f;

-- every prediction is the model's own function on the customer's summary
WITH r AS (SELECT * FROM clm.customer_view WHERE view_schema = 'analytics_model'),
     u AS (SELECT 7::double precision AS unit_days)
SELECT 'bgnbd' AS model, count(*) AS customers, count(v.predicted_clv) AS with_clv,
       count(*) FILTER (WHERE v.p_alive IS DISTINCT FROM clm.bgnbd_p_alive(r.bgnbd, (s.s).x, (s.s).t_x, (s.s).t)
                           OR v.expected_purchases IS DISTINCT FROM clm.bgnbd_expected_purchases(r.bgnbd, 90 / u.unit_days, (s.s).x, (s.s).t_x, (s.s).t)
                           OR v.predicted_clv IS DISTINCT FROM clm.clv(r.bgnbd, r.gamma_gamma, (s.s).x, (s.s).t_x, (s.s).t, (s.s).mean_spend, 12, 0.01, u.unit_days)) AS differing
FROM cv_bgnbd v JOIN summary s ON s.cust = v.customer_key, r, u WHERE r.view_name = 'cv_bgnbd'
UNION ALL
SELECT 'paretonbd', count(*), count(v.predicted_clv),
       count(*) FILTER (WHERE v.p_alive IS DISTINCT FROM clm.paretonbd_p_alive(r.paretonbd, (s.s).x, (s.s).t_x, (s.s).t)
                           OR v.expected_purchases IS DISTINCT FROM clm.paretonbd_expected_purchases(r.paretonbd, 90 / u.unit_days, (s.s).x, (s.s).t_x, (s.s).t)
                           OR v.predicted_clv IS DISTINCT FROM clm.clv(r.paretonbd, r.gamma_gamma, (s.s).x, (s.s).t_x, (s.s).t, (s.s).mean_spend, 12, 0.01, u.unit_days))
FROM cv_paretonbd v JOIN summary s ON s.cust = v.customer_key, r, u WHERE r.view_name = 'cv_paretonbd'
UNION ALL
SELECT 'mbgnbd', count(*), count(v.predicted_clv),
       count(*) FILTER (WHERE v.p_alive IS DISTINCT FROM clm.mbgnbd_p_alive(r.mbgnbd, (s.s).x, (s.s).t_x, (s.s).t)
                           OR v.expected_purchases IS DISTINCT FROM clm.mbgnbd_expected_purchases(r.mbgnbd, 90 / u.unit_days, (s.s).x, (s.s).t_x, (s.s).t)
                           OR v.predicted_clv IS DISTINCT FROM clm.clv(r.mbgnbd, r.gamma_gamma, (s.s).x, (s.s).t_x, (s.s).t, (s.s).mean_spend, 12, 0.01, u.unit_days))
FROM cv_mbgnbd v JOIN summary s ON s.cust = v.customer_key, r, u WHERE r.view_name = 'cv_mbgnbd';

-- the models disagree, as they should: P(alive) of one-time buyers
SELECT count(DISTINCT round(p_alive::numeric, 6)) > 3 AS models_differ
FROM (SELECT p_alive FROM cv_bgnbd WHERE orders = 1
      UNION ALL SELECT p_alive FROM cv_paretonbd WHERE orders = 1
      UNION ALL SELECT p_alive FROM cv_mbgnbd WHERE orders = 1) p;

-- clm.clv undiscounted is the spend times the expected purchases over the
-- whole horizon (the monthly sum telescopes), for each model: 12 months of
-- 365.25/12 days in weeks
WITH r AS (SELECT bgnbd, paretonbd, mbgnbd, gamma_gamma FROM clm.customer_view WHERE view_schema = 'analytics_model'),
     m AS (SELECT max(bgnbd::text)::clm.bgnbd AS bg, max(paretonbd::text)::clm.paretonbd AS pn,
                  max(mbgnbd::text)::clm.mbgnbd AS mb, max(gamma_gamma::text)::clm.gamma_gamma AS gg FROM r),
     c AS (SELECT (s).x, (s).t_x, (s).t, (s).mean_spend, clm.gamma_gamma_expected_spend(m.gg, (s).x, (s).mean_spend) AS spend,
                  m.* FROM summary, m WHERE (s).x IS NOT NULL),
     h AS (SELECT 365.25 / 7 AS weeks)
SELECT max(abs(clm.clv(bg, gg, x, t_x, t, mean_spend, 12, 0, 7) / (spend * clm.bgnbd_expected_purchases(bg, weeks, x, t_x, t)) - 1)) < 1e-9 AS bgnbd_ok,
       max(abs(clm.clv(pn, gg, x, t_x, t, mean_spend, 12, 0, 7) / (spend * clm.paretonbd_expected_purchases(pn, weeks, x, t_x, t)) - 1)) < 1e-9 AS paretonbd_ok,
       max(abs(clm.clv(mb, gg, x, t_x, t, mean_spend, 12, 0, 7) / (spend * clm.mbgnbd_expected_purchases(mb, weeks, x, t_x, t)) - 1)) < 1e-9 AS mbgnbd_ok,
       count(*) AS customers
FROM c, h;
-- discounting lowers it, and a longer horizon raises it
WITH m AS (SELECT paretonbd, mbgnbd, gamma_gamma FROM clm.customer_view WHERE view_schema = 'analytics_model'
             AND purchase_model <> 'bgnbd')
SELECT bool_and(clm.clv(paretonbd, gamma_gamma, 3, 20, 60, 50, 12, 0.05, 7) < clm.clv(paretonbd, gamma_gamma, 3, 20, 60, 50, 12, 0, 7)
                AND clm.clv(paretonbd, gamma_gamma, 3, 20, 60, 50, 24, 0.01, 7) > clm.clv(paretonbd, gamma_gamma, 3, 20, 60, 50, 12, 0.01, 7))
           FILTER (WHERE (paretonbd).r IS NOT NULL) AS paretonbd_ok,
       bool_and(clm.clv(mbgnbd, gamma_gamma, 3, 20, 60, 50, 12, 0.05, 7) < clm.clv(mbgnbd, gamma_gamma, 3, 20, 60, 50, 12, 0, 7)
                AND clm.clv(mbgnbd, gamma_gamma, 3, 20, 60, 50, 24, 0.01, 7) > clm.clv(mbgnbd, gamma_gamma, 3, 20, 60, 50, 12, 0.01, 7))
           FILTER (WHERE (mbgnbd).r IS NOT NULL) AS mbgnbd_ok
FROM m;

-- a refresh refits the same model
SELECT clm.refresh_customer_view('analytics_model.cv_paretonbd', '2025-12-01', concurrent => false);
SELECT purchase_model, (paretonbd).r IS NOT NULL AS has_paretonbd, bgnbd IS NULL AND mbgnbd IS NULL AS no_other,
       as_of = '2025-12-01' AS moved
FROM clm.customer_view WHERE view_name = 'cv_paretonbd';
SELECT count(*) = count(p_alive) AS all_predicted, bool_and(as_of = '2025-12-01') AS moved FROM cv_paretonbd;

-- the stored model keeps every digit whatever the session's
-- extra_float_digits (it crosses PL/pgSQL as text)
SET extra_float_digits = -15;
SELECT clm.refresh_customer_view('analytics_model.cv_mbgnbd', '2025-09-01', concurrent => false);
RESET extra_float_digits;
SELECT (SELECT mbgnbd::text FROM clm.customer_view WHERE view_name = 'cv_mbgnbd')
       = (SELECT clm.mbgnbd_fit((s).x, (s).t_x, (s).t)::text FROM summary) AS same_digits;

-- a view's model is fixed when it is made: changing the registry row does
-- not quietly empty its predictions
UPDATE clm.customer_view SET purchase_model = 'mbgnbd' WHERE view_name = 'cv_paretonbd';
SELECT clm.refresh_customer_view('analytics_model.cv_paretonbd', '2025-12-01', concurrent => false);
UPDATE clm.customer_view SET purchase_model = 'paretonbd' WHERE view_name = 'cv_paretonbd';
SELECT clm.refresh_customer_view('analytics_model.cv_paretonbd', '2025-12-01', concurrent => false) IS NOT NULL AS refreshed;

-- bad input
SELECT clm.create_customer_view('cv_bad', 'orders', 'cust', 'at', 'amount', purchase_model => 'gamma');
SELECT clm.create_customer_view('cv_bad', 'orders', 'cust', 'at', 'amount', purchase_model => NULL);
\set VERBOSITY terse
UPDATE clm.customer_view SET purchase_model = 'bgbb' WHERE view_name = 'cv_mbgnbd';
\set VERBOSITY default
SELECT clm.clv(NULL::clm.paretonbd, NULL::clm.gamma_gamma, 1, 1, 2, 10, 12, 0.01, 7) IS NULL AS strict;
SELECT clm.clv((SELECT paretonbd FROM clm.customer_view WHERE view_name = 'cv_paretonbd'),
               (SELECT gamma_gamma FROM clm.customer_view WHERE view_name = 'cv_paretonbd'), 3, 5, 2, 10, 12, 0.01, 7);
SELECT clm.clv((SELECT mbgnbd FROM clm.customer_view WHERE view_name = 'cv_mbgnbd'),
               (SELECT gamma_gamma FROM clm.customer_view WHERE view_name = 'cv_mbgnbd'), 3, 5, 10, 10, 12, -1, 7);
SELECT clm.clv((SELECT mbgnbd FROM clm.customer_view WHERE view_name = 'cv_mbgnbd'),
               (SELECT gamma_gamma FROM clm.customer_view WHERE view_name = 'cv_mbgnbd'), 3, 5, 10, 'NaN', 12, 0.01, 7);

SELECT clm.drop_customer_view('analytics_model.cv_bgnbd');
SELECT clm.drop_customer_view('analytics_model.cv_paretonbd');
SELECT clm.drop_customer_view('analytics_model.cv_mbgnbd');
RESET search_path;
DROP SCHEMA analytics_model CASCADE;
