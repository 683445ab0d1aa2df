--
-- rfm_stage: clm.classify_stage(clm.rfm, ...) agrees with the scalar form
--
\set VERBOSITY default
CREATE SCHEMA rfm_stage_test;
SET search_path = rfm_stage_test, public;

CREATE TABLE orders (customer int, ordered_at timestamptz, amount numeric);
INSERT INTO orders
SELECT floor(400 * power((i * 7919) % 4001 / 4001.0, 2))::int,
       timestamptz '2023-07-01 00:00+00' + ((i::bigint * 104729) % 1000) * interval '1 day' + (i % 1440) * interval '1 minute',
       round((i * 37 % 20000) / 100.0, 2)
FROM generate_series(1, 4000) i;

-- the same stage as from count/min/max at the same as_of, for every customer
WITH c AS (
    SELECT customer, clm.rfm_agg(ordered_at, amount, timestamptz '2026-07-01 00:00+00') AS r,
           count(*) AS n, min(ordered_at) AS first_at, max(ordered_at) AS last_at
    FROM orders GROUP BY customer)
SELECT count(*) AS customers,
       count(*) FILTER (WHERE clm.classify_stage(r)
                        = clm.classify_stage(n, first_at, last_at, timestamptz '2026-07-01 00:00+00')) AS same_stage
FROM c;
SELECT clm.classify_stage(r) AS stage, count(*)
FROM (SELECT clm.rfm_agg(ordered_at, amount, timestamptz '2026-07-01 00:00+00') AS r FROM orders GROUP BY customer) c
GROUP BY 1 ORDER BY 1;

-- with current_stage: the same stage as the scalar form given the same
-- current_stage, for every customer and every current_stage (and NULL).
-- current_stage matters only for active customers (the 200 loyal above):
-- after at_risk, dormant, churned or reactivated they are reactivated, an
-- advocate stays advocate; idle customers keep the stage of their facts
WITH c AS (
    SELECT customer, clm.rfm_agg(ordered_at, amount, timestamptz '2026-07-01 00:00+00') AS r,
           count(*) AS n, min(ordered_at) AS first_at, max(ordered_at) AS last_at
    FROM orders GROUP BY customer),
s AS (SELECT cs FROM unnest(enum_range(NULL::clm.lifecycle_stage)) cs UNION ALL SELECT NULL),
k AS (
    SELECT s.cs, c.customer,
           clm.classify_stage(c.r, 'default', s.cs) AS stage,
           clm.classify_stage(c.n, c.first_at, c.last_at, timestamptz '2026-07-01 00:00+00', 'default', s.cs) AS scalar_stage
    FROM c CROSS JOIN s)
SELECT cs AS current_stage, count(*) AS customers,
       count(*) FILTER (WHERE stage = scalar_stage) AS same_stage,
       (SELECT string_agg(stage || ' ' || n, ', ' ORDER BY stage)
        FROM (SELECT k2.stage, count(*) AS n FROM k k2 WHERE k2.cs IS NOT DISTINCT FROM k.cs GROUP BY 1) d) AS stages
FROM k GROUP BY cs ORDER BY cs NULLS FIRST;

-- one recent order; one old order; refunds only
SELECT clm.classify_stage(clm.rfm_agg(t, 10::numeric, timestamptz '2026-07-01 00:00+00')) AS one_recent
FROM (VALUES (timestamptz '2026-06-20 00:00+00')) v(t);
SELECT clm.classify_stage(clm.rfm_agg(t, 10::numeric, timestamptz '2026-07-01 00:00+00')) AS one_old
FROM (VALUES (timestamptz '2023-07-20 00:00+00')) v(t);
SELECT clm.classify_stage(clm.rfm_agg(timestamptz '2026-06-20 00:00+00', -10::numeric, timestamptz '2026-07-01 00:00+00'))
    AS refunds_only;
SELECT clm.classify_stage(NULL::clm.rfm) IS NULL AS null_rfm;
-- the same with current_stage (named, as documented): a recent buyer who
-- was dormant is reactivated, and so is the scalar form; a churned one-time
-- buyer stays churned; without purchases a lead stays a lead
SELECT clm.classify_stage(clm.rfm_agg(t, 10::numeric, timestamptz '2026-07-01 00:00+00'), current_stage => 'dormant')
           AS one_recent_was_dormant,
       clm.classify_stage(1, max(t), max(t), timestamptz '2026-07-01 00:00+00', current_stage => 'dormant') AS scalar
FROM (VALUES (timestamptz '2026-06-20 00:00+00')) v(t);
SELECT clm.classify_stage(clm.rfm_agg(t, 10::numeric, timestamptz '2026-07-01 00:00+00'), 'default', 'churned')
           AS one_old_was_churned
FROM (VALUES (timestamptz '2023-07-20 00:00+00')) v(t);
SELECT clm.classify_stage(clm.rfm_agg(timestamptz '2026-06-20 00:00+00', -10::numeric, timestamptz '2026-07-01 00:00+00'),
                          current_stage => 'lead') AS refunds_only_lead,
       clm.classify_stage(0, NULL, NULL, timestamptz '2026-07-01 00:00+00', current_stage => 'lead') AS scalar;

-- bad input
SELECT clm.classify_stage(clm.rfm_agg(timestamptz '2026-06-20 00:00+00', 10::numeric, timestamptz '2026-07-01 00:00+00'),
                          'no_such_policy');

RESET search_path;
DROP SCHEMA rfm_stage_test CASCADE;
