-- bin/report/20_segments.sql: RFM segments of the demo customers (clm_demo),
-- as of 2026-07-01 00:00+00: quintile thresholds, then customers and revenue
-- share per segment of the default rule set.
\set ON_ERROR_STOP 1
SET timezone = 'UTC';

-- every customer's clm.rfm in one pass (the same values as
-- clm.rfm_agg(...) GROUP BY customer_id, faster on a whole customer base)
CREATE TEMP TABLE rfm_report ON COMMIT PRESERVE ROWS AS
SELECT r.customer_id, r.rfm
FROM unnest((SELECT clm.rfm_agg_by_customer(o.customer_id, o.ordered_at, o.amount, timestamptz '2026-07-01 00:00+00')
             FROM clm_demo.orders o)) AS r;
CREATE TEMP TABLE rfm_report_thresholds AS
SELECT clm.rfm_thresholds(rfm) AS th FROM rfm_report;
CREATE TEMP TABLE rfm_report_scored AS
SELECT r.customer_id, r.rfm, clm.rfm_score(r.rfm, t.th) AS score
FROM rfm_report r CROSS JOIN rfm_report_thresholds t;

\echo
\echo '== RFM thresholds (quintile breakpoints; a value scores 1 + the number of breakpoints <= it, recency reversed)'
\echo
SELECT 'recency_days' AS dimension,
       ARRAY(SELECT round(b::numeric, 1) FROM unnest((th).recency_breaks) b) AS breakpoints
FROM rfm_report_thresholds
UNION ALL SELECT 'frequency', (th).frequency_breaks::numeric[] FROM rfm_report_thresholds
UNION ALL SELECT 'monetary', (th).monetary_breaks::numeric[] FROM rfm_report_thresholds;

\echo
\echo '== RFM segments (default rules; customers with orders; revenue = net amount incl. refunds)'
\echo
WITH seg AS (
    SELECT clm.rfm_segment(s.score) AS segment,
           clm.rfm_segment_label(s.score) AS label,
           clm.rfm_segment_label(s.score, 'zh') AS label_zh,
           s.rfm
    FROM rfm_report_scored s)
SELECT coalesce(segment, '(no purchases)') AS segment,
       min(label) AS label, min(label_zh) AS "标签",
       count(*) AS customers,
       round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS customers_pct,
       sum((rfm).monetary) AS revenue,
       round(100.0 * sum((rfm).monetary) / sum(sum((rfm).monetary)) OVER (), 1) AS revenue_pct,
       round(avg((rfm).recency_days)) AS avg_recency_days,
       round(avg((rfm).frequency), 1) AS avg_orders
FROM seg
GROUP BY segment
ORDER BY sum((rfm).monetary) DESC;

\echo
\echo '== RFM scores: customers per R x F cell (rows r = 5 .. 1, most recent first)'
\echo
SELECT (score).r AS r,
       count(*) FILTER (WHERE (score).f = 1) AS f1,
       count(*) FILTER (WHERE (score).f = 2) AS f2,
       count(*) FILTER (WHERE (score).f = 3) AS f3,
       count(*) FILTER (WHERE (score).f = 4) AS f4,
       count(*) FILTER (WHERE (score).f = 5) AS f5
FROM rfm_report_scored
WHERE (score).r IS NOT NULL
GROUP BY 1 ORDER BY 1 DESC;

DROP TABLE rfm_report_scored, rfm_report_thresholds, rfm_report;
RESET timezone;
