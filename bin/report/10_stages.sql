-- bin/report/10_stages.sql: lifecycle stages of the demo customers
-- (clm_demo), as of 2026-07-01 00:00+00.
\set ON_ERROR_STOP 1
SET timezone = 'UTC';

\echo
\echo '== Lifecycle stages (as of 2026-07-01)'
\echo
SELECT s.stage,
       clm.stage_label(s.stage) AS label,
       clm.stage_label(s.stage, 'zh') AS "标签",
       count(c.id) AS customers,
       round(100.0 * count(c.id) / nullif(sum(count(c.id)) OVER (), 0), 1) AS pct,
       round(avg(extract(epoch FROM timestamptz '2026-07-01 00:00+00' - c.status_since) / 86400)) AS avg_days_in_stage
FROM unnest(enum_range(NULL::clm.lifecycle_stage)) AS s(stage)
LEFT JOIN clm_demo.customers c ON c.status = s.stage
GROUP BY s.stage ORDER BY s.stage;

\echo
\echo '== Stage changes recorded by the triggers (clm.stage_history)'
\echo
SELECT coalesce(h.from_stage::text, '(new)') AS from_stage, h.to_stage,
       count(*) AS changes,
       min(h.changed_at)::date AS first_seen, max(h.changed_at)::date AS last_seen
FROM clm.stage_history h
WHERE h.relation = 'clm_demo.customers'::regclass
GROUP BY h.from_stage, h.to_stage
ORDER BY h.from_stage NULLS FIRST, h.to_stage;

\echo
\echo '== Stage changes per half-year (business time, before 2026-07-01)'
\echo
SELECT to_char(date_trunc('year', h.changed_at), 'YYYY')
           || CASE WHEN extract(month FROM h.changed_at) <= 6 THEN '-H1' ELSE '-H2' END AS period,
       count(*) FILTER (WHERE h.to_stage = 'first_purchase') AS first_purchase,
       count(*) FILTER (WHERE h.to_stage = 'repeat') AS repeat,
       count(*) FILTER (WHERE h.to_stage = 'loyal') AS loyal,
       count(*) FILTER (WHERE h.to_stage = 'at_risk') AS at_risk,
       count(*) FILTER (WHERE h.to_stage = 'dormant') AS dormant,
       count(*) FILTER (WHERE h.to_stage = 'churned') AS churned,
       count(*) FILTER (WHERE h.to_stage = 'reactivated') AS reactivated
FROM clm.stage_history h
WHERE h.relation = 'clm_demo.customers'::regclass AND h.from_stage IS NOT NULL
  AND h.changed_at < timestamptz '2026-07-01 00:00+00'
GROUP BY 1 ORDER BY 1;
RESET timezone;
