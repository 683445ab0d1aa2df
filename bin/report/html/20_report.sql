-- bin/report/html/20_report.sql: the lifecycle report of the demo customers
-- (schema clm_demo) as one self-contained HTML page: inline SVG charts
-- (10_charts.sql draws them), no scripts, no fonts, nothing fetched.  The
-- numbers come from clm's public functions and views, as of the report's
-- fixed time 2026-07-01 00:00+00, the same as the text report's.
--
--   psql -X -q -At -v lang=en -f bin/report/html/10_charts.sql -f bin/report/html/20_report.sql
--
-- lang: en (the default) or zh, for clm's stage and segment labels and
-- the report's own words.
\set ON_ERROR_STOP 1
\encoding UTF8
\if :{?lang}
\else
\set lang en
\endif
\set as_of '2026-07-01 00:00+00'
SET client_min_messages = warning;
SET timezone = 'UTC';
\pset format unaligned
\pset tuples_only on
\pset footer off

-- the report's words, in English or Chinese
CREATE FUNCTION pg_temp.t(key text) RETURNS text
LANGUAGE sql STABLE
RETURN (SELECT CASE WHEN current_setting('clm_report.lang') = 'zh' THEN zh ELSE en END
          FROM (VALUES
    ('report', 'Customer lifecycle report', '客户生命周期报告'),
    ('as_of', 'as of 2026-07-01', '截至 2026-07-01'),
    ('source', 'Demo CRM data (schema clm_demo), computed in PostgreSQL by the clm extension.',
               '演示 CRM 数据（clm_demo 模式），由 clm 扩展在 PostgreSQL 中计算。'),
    ('no_orders', 'The database has no orders: there is nothing to chart yet.', '数据库中没有订单：暂无可绘制的内容。'),
    ('empty', 'No data: the database has no orders', '无数据：数据库中没有订单'),
    ('no_data', 'No data for this chart', '此图无数据'),
    ('kpis', 'Lifecycle KPIs, June 2026', '生命周期关键指标，2026 年 6 月'),
    ('active', 'active customers', '活跃客户'),
    ('new', 'new customers', '新客户'),
    ('repeat_rate', 'repeat purchase rate', '复购率'),
    ('churn_rate', 'churn rate (90 days)', '流失率（90 天）'),
    ('aov', 'average order value (currency units)', '平均订单金额（货币单位）'),
    ('clv_avg', 'average predicted 12-month CLV', '平均预测 12 个月 CLV'),
    ('stages', 'Customers per lifecycle stage', '各生命周期阶段的客户数'),
    ('customers', 'customers', '客户数'),
    ('stage', 'stage', '阶段'),
    ('funnel', 'Stage funnel with conversion rates, 2023-07 to 2026-07', '阶段漏斗与转化率，2023-07 至 2026-07'),
    ('funnel_x', 'customers reaching the stage (· conversion from the step before, %)', '到达该阶段的客户数（· 相对上一步的转化率，%）'),
    ('transitions', 'Stage transitions: share of each stage''s changes going to each stage', '阶段转移：各阶段变化去向的占比'),
    ('to_stage', 'to stage (share of changes, %)', '转入阶段（变化占比，%）'),
    ('from_stage', 'from stage', '转出阶段'),
    ('rfm_grid', 'RFM grid: customers per recency x frequency score', 'RFM 网格：各最近度 × 频率得分的客户数'),
    ('f_score', 'frequency score F (1 = fewest orders, 5 = most; customers per cell)', '频率得分 F（1 = 最少，5 = 最多；每格客户数）'),
    ('r_score', 'recency score R', '最近度得分 R'),
    ('segments', 'RFM segments: customers and share of revenue', 'RFM 细分：客户数与收入占比'),
    ('segment', 'segment', '细分'),
    ('seg_x', 'customers (· share of revenue, %)', '客户数（· 收入占比，%）'),
    ('cohorts', 'Cohort retention: share of each monthly cohort buying in month n', '同期群留存：各月同期群在第 n 个月购买的比例'),
    ('months', 'months since the first order (share of the cohort buying, %)', '首单后的月数（购买比例，%）'),
    ('cohort', 'cohort (month of first order)', '同期群（首单月份）'),
    ('clv_hist', 'Predicted 12-month CLV per customer (BG/NBD x Gamma-Gamma)', '每位客户的预测 12 个月 CLV（BG/NBD × Gamma-Gamma）'),
    ('clv_x', 'predicted CLV, 12 months, discounted (currency units)', '预测 CLV，12 个月，折现（货币单位）'),
    ('p_alive', 'P(alive) of repeat buyers against weeks since the last purchase', '复购客户的 P(存活) 与距上次购买的周数'),
    ('weeks', 'weeks since the last purchase', '距上次购买的周数'),
    ('p_alive_y', 'mean P(alive) (probability, 0-1)', '平均 P(存活)（概率，0-1）'),
    ('holdout', 'Predicted against actual purchases in the holdout, 2026-01 to 2026-06', '留出期预测与实际购买对比，2026-01 至 2026-06'),
    ('holdout_x', 'repeat purchases before 2026-01-01 (calibration)', '2026-01-01 前的复购次数（校准期）'),
    ('holdout_y', 'mean purchases per customer, 2026-01-01 to 2026-07-01', '每位客户平均购买次数，2026-01-01 至 2026-07-01'),
    ('predicted', 'predicted (BG/NBD)', '预测（BG/NBD）'),
    ('actual', 'actual', '实际'),
    ('at_risk', 'At-risk customers with the highest predicted CLV', '预测 CLV 最高的流失风险客户'),
    ('email', 'customer', '客户'),
    ('orders', 'orders', '订单数'),
    ('revenue', 'revenue', '收入'),
    ('days', 'days since last order', '距上次订单天数'),
    ('clv', 'predicted 12-month CLV', '预测 12 个月 CLV'),
    ('none_at_risk', 'No customer is at risk.', '没有流失风险客户。')
    ) AS w(k, en, zh) WHERE w.k = key);
SELECT set_config('clm_report.lang', :'lang', false) \g /dev/null

SELECT count(*) > 0 AS has_orders FROM clm_demo.orders \gset
-- what an empty chart says: that there are no orders, or only that this
-- chart has nothing to show (no model fitted, no history visible, ...)
SELECT CASE WHEN :'has_orders'::boolean THEN pg_temp.t('no_data') ELSE pg_temp.t('empty') END AS empty_text \gset
\if :has_orders
-- the customer view (one row per customer: RFM, stage, P(alive), CLV), as
-- the text report makes it; another part may have made it already
SELECT pg_catalog.to_regclass('clm_demo.customer_view') IS NULL AS need_view \gset
\if :need_view
SELECT clm.create_customer_view('clm_demo.customer_view', 'clm_demo.orders', 'customer_id',
                                'ordered_at', 'amount', as_of => :'as_of') \g /dev/null
\endif
CREATE TEMP VIEW report_customers AS SELECT * FROM clm_demo.customer_view;
\else
-- no orders, no models: an empty stand-in with the view's columns
CREATE TEMP TABLE report_customers (customer_key uuid, orders bigint, revenue numeric,
    recency_days double precision, r_score integer, f_score integer, m_score integer,
    rfm_score integer, segment text, stage clm.lifecycle_stage, p_alive double precision,
    predicted_clv double precision);
\endif

-- the page
SELECT format($h$<!DOCTYPE html>
<html lang="%s"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s</title>
<style>
body { font-family: sans-serif; margin: 24px auto; max-width: 1520px; color: #1a1a1a; background: #f4f5f7; }
h1 { font-size: 26px; margin: 0 0 4px 0; } p.sub { color: #555; margin: 0 0 18px 0; }
.grid { display: flex; flex-wrap: wrap; gap: 16px; }
.card { background: #fff; border-radius: 6px; box-shadow: 0 1px 3px rgba(0,0,0,.12); padding: 8px; }
.kpis { display: flex; flex-wrap: wrap; gap: 12px; margin: 0 0 16px 0; }
.kpi { background: #fff; border-radius: 6px; box-shadow: 0 1px 3px rgba(0,0,0,.12); padding: 12px 18px; min-width: 160px; }
.kpi .v { font-size: 24px; font-weight: bold; color: #08519c; } .kpi .k { color: #555; font-size: 13px; }
h2 { font-size: 17px; margin: 8px 0; }
table { border-collapse: collapse; font-size: 13px; } th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.notice { background: #fff3cd; border: 1px solid #e0c36c; padding: 10px 14px; border-radius: 6px; margin: 0 0 16px 0; }
svg.chart text { font-family: sans-serif; fill: #1a1a1a; }
svg.chart .title { font-size: 15px; font-weight: bold; } svg.chart .sub { font-size: 12px; fill: #666; }
svg.chart .axis { font-size: 12px; fill: #444; } svg.chart .tick { font-size: 11px; fill: #555; }
svg.chart .label { font-size: 12px; } svg.chart .value { font-size: 11px; fill: #333; }
svg.chart .cell { font-size: 11px; } svg.chart .cell.dark { fill: #ffffff; }
svg.chart .empty { font-size: 14px; fill: #888; font-style: italic; }
svg.chart .grid { stroke: #e3e3e3; stroke-width: 1; } svg.chart .bar { fill: #3182bd; } svg.chart .bar2 { fill: #fd8d3c; }
svg.chart .line { fill: none; stroke: #3182bd; stroke-width: 2; } svg.chart .dot { fill: #08519c; }
</style></head><body>
<h1>%s</h1>
<p class="sub">%s · %s</p>
$h$, CASE WHEN :'lang' = 'zh' THEN 'zh' ELSE 'en' END, pg_temp.esc(pg_temp.t('report')),
     pg_temp.esc(pg_temp.t('report')), pg_temp.esc(pg_temp.t('as_of')), pg_temp.esc(pg_temp.t('source')));

\if :has_orders
\else
SELECT format('<p class="notice" id="no-orders">%s</p>', pg_temp.esc(pg_temp.t('no_orders')));
\endif

-- the KPI row: June 2026
SELECT '<h2>' || pg_temp.esc(pg_temp.t('kpis')) || '</h2><div class="kpis" id="kpis">'
       || string_agg(format('<div class="kpi"><div class="v">%s</div><div class="k">%s</div></div>',
                            pg_temp.esc(v), pg_temp.esc(pg_temp.t(k))), '' ORDER BY n)
       || '</div>'
FROM clm.lifecycle_kpis('clm_demo.orders', 'customer_id', 'ordered_at', 'amount',
                        timestamptz :'as_of' - interval '1 month', :'as_of',
                        customer_view => to_regclass('clm_demo.customer_view')) AS kp,
     LATERAL (VALUES (1, 'active', pg_temp.num(kp.active_customers)),
                     (2, 'new', pg_temp.num(kp.new_customers)),
                     (3, 'repeat_rate', pg_temp.num(100 * kp.repeat_purchase_rate, 1) || ' %'),
                     (4, 'churn_rate', pg_temp.num(100 * kp.churn_rate, 1) || ' %'),
                     (5, 'aov', pg_temp.num(kp.average_order_value, 2)),
                     (6, 'clv_avg', pg_temp.num(kp.average_predicted_clv, 2))) AS x(n, k, v);

SELECT '<div class="grid">';

-- customers per stage (the stage column the triggers keep)
WITH s AS (
    SELECT st, clm.stage_label(st, :'lang') AS label, count(c.id) AS n
    FROM unnest(enum_range(NULL::clm.lifecycle_stage)) AS st
    LEFT JOIN clm_demo.customers c ON c.status = st
    GROUP BY st),
p AS (SELECT s.*, 100.0 * n / nullif(sum(n) OVER (), 0) AS pct FROM s)
SELECT '<div class="card">' || pg_temp.hbars('chart-stages', pg_temp.t('stages'), pg_temp.t('as_of'),
           pg_temp.t('customers'), pg_temp.t('stage'),
           array_agg(label ORDER BY st), array_agg(n::float8 ORDER BY st),
           array_agg(pg_temp.num(n) || ' (' || pg_temp.num(pct, 1) || ' %)' ORDER BY st),
           :'empty_text') || '</div>'
FROM p;

-- the funnel over the buying stages, with each step's conversion rate
SELECT '<div class="card">' || pg_temp.funnel('chart-funnel', pg_temp.t('funnel'), pg_temp.t('as_of'),
           pg_temp.t('funnel_x'), pg_temp.t('stage'),
           array_agg(clm.stage_label(f.stage, :'lang') ORDER BY f.step),
           array_agg(f.customers::float8 ORDER BY f.step),
           array_agg(f.conversion_rate ORDER BY f.step),
           :'empty_text') || '</div>'
FROM clm.stage_funnel('2023-07-01 00:00+00', :'as_of',
                      ARRAY['first_purchase', 'repeat', 'loyal', 'advocate']::clm.lifecycle_stage[],
                      'clm_demo.customers') AS f;

-- the transition matrix, as shares of each from-stage's changes
WITH m AS (
    SELECT * FROM clm.stage_transition_matrix(NULL, :'as_of', 'clm_demo.customers')
    WHERE from_stage IS NOT NULL),
st AS (SELECT DISTINCT s FROM (SELECT from_stage FROM m UNION SELECT to_stage FROM m) u(s)),
cells AS (
    SELECT f.s AS f, t.s AS t, m.probability AS p
    FROM st f CROSS JOIN st t
    LEFT JOIN m ON m.from_stage = f.s AND m.to_stage = t.s)
SELECT '<div class="card">' || pg_temp.heatmap('chart-transitions', pg_temp.t('transitions'), pg_temp.t('as_of'),
           pg_temp.t('to_stage'), pg_temp.t('from_stage'),
           coalesce((SELECT array_agg(clm.stage_label(s, :'lang') ORDER BY s) FROM st), '{}'),
           coalesce((SELECT array_agg(clm.stage_label(s, :'lang') ORDER BY s) FROM st), '{}'),
           coalesce((SELECT array_agg(p ORDER BY f, t) FROM cells), '{}'),
           coalesce((SELECT array_agg(CASE WHEN coalesce(p, 0) = 0 THEN '' WHEN p < 0.005 THEN '<1'
                                           ELSE pg_temp.num(100 * p, 0) END ORDER BY f, t) FROM cells), '{}'),
           :'empty_text', 84) || '</div>';

-- the RFM grid: customers per R x F cell (R 5 at the top)
WITH cells AS (
    SELECT r, f, (SELECT count(*) FROM report_customers c WHERE c.r_score = r AND c.f_score = f) AS n
    FROM generate_series(5, 1, -1) r, generate_series(1, 5) f)
SELECT '<div class="card">' || pg_temp.heatmap('chart-rfm', pg_temp.t('rfm_grid'), pg_temp.t('as_of'),
           pg_temp.t('f_score'), pg_temp.t('r_score'),
           ARRAY['F 1', 'F 2', 'F 3', 'F 4', 'F 5'], ARRAY['R 5', 'R 4', 'R 3', 'R 2', 'R 1'],
           array_agg(n::float8 ORDER BY r DESC, f), array_agg(pg_temp.num(n) ORDER BY r DESC, f),
           :'empty_text', 70) || '</div>'
FROM cells;

-- segments: customers, with the share of revenue
WITH s AS (
    SELECT c.segment,
           min(clm.rfm_segment_label(ROW(c.r_score, c.f_score, c.m_score, c.rfm_score)::clm.rfm_score, :'lang')) AS label,
           count(*) AS n, sum(c.revenue) AS revenue
    FROM report_customers c WHERE c.segment IS NOT NULL
    GROUP BY c.segment),
p AS (SELECT s.*, 100 * revenue / nullif(sum(revenue) OVER (), 0) AS share FROM s)
SELECT '<div class="card">' || pg_temp.hbars('chart-segments', pg_temp.t('segments'), pg_temp.t('as_of'),
           pg_temp.t('seg_x'), pg_temp.t('segment'),
           coalesce(array_agg(label ORDER BY revenue DESC, segment), '{}'),
           coalesce(array_agg(n::float8 ORDER BY revenue DESC, segment), '{}'),
           coalesce(array_agg(pg_temp.num(n) || ' · ' || pg_temp.num(share::float8, 1) || ' %' ORDER BY revenue DESC, segment), '{}'),
           :'empty_text') || '</div>'
FROM p;

-- cohort retention: the last 12 monthly cohorts, months 0 to 11
WITH r AS (
    SELECT * FROM clm.cohort_retention('clm_demo.orders', 'customer_id', 'ordered_at', 'amount', 'month', :'as_of')
    WHERE cohort >= date :'as_of' - interval '12 months'),
co AS (SELECT DISTINCT cohort FROM r),
cells AS (
    SELECT co.cohort, k, r.retention_rate AS p
    FROM co CROSS JOIN generate_series(0, 11) k
    LEFT JOIN r ON r.cohort = co.cohort AND r.period_number = k)
SELECT '<div class="card">' || pg_temp.heatmap('chart-cohorts', pg_temp.t('cohorts'), pg_temp.t('as_of'),
           pg_temp.t('months'), pg_temp.t('cohort'),
           ARRAY(SELECT k::text FROM generate_series(0, 11) k),
           coalesce((SELECT array_agg(to_char(cohort, 'YYYY-MM') ORDER BY cohort) FROM co), '{}'),
           coalesce((SELECT array_agg(CASE WHEN k = 0 THEN NULL ELSE p END ORDER BY cohort, k) FROM cells), '{}'),
           coalesce((SELECT array_agg(CASE WHEN p IS NULL THEN '' ELSE pg_temp.num(100 * p, 0) END ORDER BY cohort, k) FROM cells), '{}'),
           :'empty_text', 52) || '</div>';

-- the predicted 12-month CLV distribution: 12 bins up to the 98th percentile
WITH v AS (SELECT predicted_clv AS x FROM report_customers WHERE predicted_clv IS NOT NULL),
b AS (SELECT pg_temp.tick_step(percentile_cont(0.98) WITHIN GROUP (ORDER BY x), 12) AS w FROM v),
h AS (
    SELECT k, (SELECT count(*) FROM v WHERE CASE WHEN k < 11 THEN v.x >= k * b.w AND v.x < (k + 1) * b.w
                                               ELSE v.x >= k * b.w END) AS n
    FROM b, generate_series(0, 11) k)
SELECT '<div class="card">' || pg_temp.vbars('chart-clv', pg_temp.t('clv_hist'), pg_temp.t('as_of'),
           pg_temp.t('clv_x'), pg_temp.t('customers'),
           array_agg(CASE WHEN k < 11 THEN '' ELSE '≥' END || pg_temp.num(k * b.w, pg_temp.step_digits(b.w)) ORDER BY k),
           array_agg(n::float8 ORDER BY k), NULL, NULL, NULL, :'empty_text') || '</div>'
FROM h, b;

-- P(alive) of the repeat buyers against weeks since the last purchase, in
-- 4-week bins (BG/NBD holds a customer who never bought again alive)
WITH w AS (
    SELECT 4 * floor(recency_days / 28) + 2 AS wk, avg(p_alive) AS p
    FROM report_customers WHERE p_alive IS NOT NULL AND recency_days IS NOT NULL AND orders >= 2
    GROUP BY 1)
SELECT '<div class="card">' || pg_temp.line('chart-palive', pg_temp.t('p_alive'), pg_temp.t('as_of'),
           pg_temp.t('weeks'), pg_temp.t('p_alive_y'),
           coalesce(array_agg(wk::float8 ORDER BY wk), '{}'), coalesce(array_agg(p ORDER BY wk), '{}'), 1,
           :'empty_text') || '</div>'
FROM w;

-- holdout validation: BG/NBD fitted on the orders before 2026-01-01,
-- predicted against actual purchases in the 181 days after, by the
-- customers' calibration repeat purchases (0 .. 7+)
CREATE TEMP TABLE report_holdout AS
SELECT (clm.purchase_summary(ordered_at, amount, '2025-12-31 23:59:59+00', '7 days')).*,
       clm.holdout_purchases(ordered_at, '2025-12-31 23:59:59+00', '181 days') AS holdout
FROM clm_demo.orders GROUP BY customer_id;
-- a fit that fails leaves the chart empty, not the page unwritten
CREATE TEMP TABLE report_holdout_fit (m clm.bgnbd);
DO $$
BEGIN
    INSERT INTO report_holdout_fit
    SELECT clm.bgnbd_fit(x, t_x, t) FROM report_holdout WHERE x IS NOT NULL HAVING count(*) > 0;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'the holdout chart is left empty: the BG/NBD fit failed: %', SQLERRM;
END $$;
WITH a AS (
    SELECT least(h.x, 7) AS k,
           (clm.holdout_accuracy(clm.bgnbd_expected_purchases(f.m, 181 / 7.0, h.x, h.t_x, h.t), h.holdout)).*
    FROM report_holdout h CROSS JOIN report_holdout_fit f
    WHERE h.x IS NOT NULL AND (f.m).r IS NOT NULL
    GROUP BY 1)
SELECT '<div class="card">' || pg_temp.vbars('chart-holdout', pg_temp.t('holdout'), pg_temp.t('as_of'),
           pg_temp.t('holdout_x'), pg_temp.t('holdout_y'),
           coalesce(array_agg(CASE WHEN k = 7 THEN '7+' ELSE k::text END ORDER BY k), '{}'),
           coalesce(array_agg(mean_predicted ORDER BY k), '{}'), coalesce(array_agg(mean_actual ORDER BY k), '{}'),
           pg_temp.t('predicted'), pg_temp.t('actual'), :'empty_text', 2) || '</div>'
FROM a;

SELECT '</div>';

-- the at-risk customers (the stage the triggers keep, as in the stage
-- chart) worth winning back first
SELECT '<h2>' || pg_temp.esc(pg_temp.t('at_risk')) || ' (' || pg_temp.esc(pg_temp.t('as_of')) || ')</h2>'
       || '<div class="card"><table id="at-risk"><tr>'
       || format('<th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>P(alive)</th><th>%s</th>',
                 pg_temp.esc(pg_temp.t('email')), pg_temp.esc(pg_temp.t('orders')), pg_temp.esc(pg_temp.t('revenue')),
                 pg_temp.esc(pg_temp.t('days')), pg_temp.esc(pg_temp.t('clv')))
       || '</tr>'
       || coalesce(string_agg(format('<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>',
                                     pg_temp.esc(c.email), pg_temp.num(c.orders), pg_temp.num(c.revenue, 2),
                                     pg_temp.num(c.recency_days), pg_temp.num(c.p_alive, 3), pg_temp.num(c.predicted_clv, 2)),
                              '' ORDER BY c.predicted_clv DESC, c.email),
                   format('<tr><td colspan="6">%s</td></tr>', pg_temp.esc(pg_temp.t('none_at_risk'))))
       || '</table></div>'
FROM (SELECT c.*, cu.email FROM report_customers c
      JOIN clm_demo.customers cu ON cu.id = c.customer_key
      WHERE cu.status = 'at_risk' AND c.predicted_clv IS NOT NULL
      ORDER BY c.predicted_clv DESC, cu.email LIMIT 10) c;

SELECT '</body></html>';
DROP TABLE report_holdout, report_holdout_fit;
