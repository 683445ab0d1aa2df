-- bin/report/40_analytics.sql: the analytics part of the clm-demo report.
-- Runs against the demo data (schema clm_demo) after the other parts; the
-- as-of time is the report's constant, never now().
\set as_of '2026-07-01 00:00+00'
SET timezone = 'UTC';

-- The customer view (one row per customer: RFM, stage, P(alive), CLV) is
-- made once; another part of the report may already have made it.
SELECT pg_catalog.to_regclass('clm_demo.customer_view') IS NULL AS need_view \gset
\if :need_view
SELECT clm.create_customer_view('clm_demo.customer_view', 'clm_demo.orders', 'customer_id',
                                'ordered_at', 'amount', as_of => :'as_of') \g /dev/null
\endif

\echo
\echo '== Cohort retention: share of each monthly cohort buying again in months 1-5 (month 0 = first order)'
\echo '   last 12 complete cohorts; blank = month not over yet'
SELECT to_char(cohort, 'YYYY-MM') AS cohort,
       max(cohort_size) AS customers,
       to_char(100 * max(retention_rate) FILTER (WHERE period_number = 0), '990.0') AS "m0 %",
       to_char(100 * max(retention_rate) FILTER (WHERE period_number = 1), '990.0') AS "m1 %",
       to_char(100 * max(retention_rate) FILTER (WHERE period_number = 2), '990.0') AS "m2 %",
       to_char(100 * max(retention_rate) FILTER (WHERE period_number = 3), '990.0') AS "m3 %",
       to_char(100 * max(retention_rate) FILTER (WHERE period_number = 4), '990.0') AS "m4 %",
       to_char(100 * max(retention_rate) FILTER (WHERE period_number = 5), '990.0') AS "m5 %",
       to_char(sum(revenue) FILTER (WHERE period_number <= 5) / max(cohort_size), 'FM999990.00') AS "revenue/customer m0-5"
FROM clm.cohort_retention('clm_demo.orders', 'customer_id', 'ordered_at', 'amount', 'month', :'as_of')
WHERE cohort >= date :'as_of' - interval '12 months'
GROUP BY cohort
ORDER BY cohort;

\echo
\echo '== Lifecycle KPIs, June 2026 (churn = 90 days without an order; CLV = 12 months, from clm_demo.customer_view)'
SELECT active_customers AS "active customers",
       new_customers AS "new customers",
       to_char(100 * repeat_purchase_rate, 'FM990.0') || ' %' AS "repeat purchase rate",
       to_char(100 * churn_rate, 'FM990.0') || ' %' AS "churn rate",
       to_char(average_order_value, 'FM999990.00') AS "avg order value",
       to_char(purchase_frequency, 'FM990.00') AS "orders per customer",
       to_char(average_predicted_clv, 'FM999990.00') AS "avg predicted CLV"
FROM clm.lifecycle_kpis('clm_demo.orders', 'customer_id', 'ordered_at', 'amount',
                        timestamptz :'as_of' - interval '1 month', :'as_of',
                        customer_view => 'clm_demo.customer_view');
\echo '   customers per stage (as of the view):'
SELECT s.key AS stage, s.value::bigint AS customers
FROM clm.lifecycle_kpis('clm_demo.orders', 'customer_id', 'ordered_at', 'amount',
                        timestamptz :'as_of' - interval '1 month', :'as_of',
                        customer_view => 'clm_demo.customer_view') AS k,
     jsonb_each_text(k.customers_per_stage) AS s
ORDER BY s.key::clm.lifecycle_stage;
RESET timezone;
