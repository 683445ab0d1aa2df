--
-- lifecycle_classify: clm.classify_stage and clm.lifecycle_policy.
-- Expected stages are worked out by hand from the default policy
-- (loyal: 4 orders and 180 days; fallback gap 90 days; multiples
-- 2 / 4 / 6; floors 30 / 60 / 120 days; ceilings 180 / 365 / 730 days).
--
\set VERBOSITY default
SET timezone = 'UTC';

SELECT * FROM clm.lifecycle_policy;

-- one-time buyer: gap = fallback 90 -> thresholds 180 / 360 / 540 days
SELECT d AS idle_days,
       clm.classify_stage(1, '2026-01-01', '2026-01-01', timestamptz '2026-01-01' + d * interval '1 day') AS stage
FROM unnest(ARRAY[0, 100, 180, 181, 360, 361, 540, 541]) AS d;

-- 5 orders over 120 days: gap 30 -> thresholds 60 / 120 / 180; repeat, and
-- loyal on 2025-06-30, when the tenure reaches 180 days
SELECT as_of, clm.classify_stage(5, '2025-01-01', '2025-05-01', as_of) AS stage
FROM unnest(ARRAY[timestamptz '2025-05-01', '2025-06-30', '2025-07-01', '2025-08-29',
                  '2025-08-30', '2025-10-28', '2025-10-29']) AS as_of;

-- 6 orders over 180 days (gap 36 -> at_risk after 72 days), tenure 182 days:
-- loyal; 3 orders: repeat
SELECT clm.classify_stage(6, '2024-01-01', '2024-06-29', '2024-07-01') AS six_orders,
       clm.classify_stage(3, '2024-01-01', '2024-06-29', '2024-07-01') AS three_orders,
       clm.classify_stage(6, '2024-01-01', '2024-06-29', '2024-09-09') AS six_idle_72,
       clm.classify_stage(6, '2024-01-01', '2024-06-29', '2024-09-10') AS six_idle_73;

-- floors: 10 orders in 9 days (gap 1) -> thresholds are the floors 30 / 60 / 120
SELECT clm.classify_stage(10, '2025-01-01', '2025-01-10', '2025-02-09') AS idle_30,
       clm.classify_stage(10, '2025-01-01', '2025-01-10', '2025-02-10') AS idle_31,
       clm.classify_stage(10, '2025-01-01', '2025-01-10', '2025-03-12') AS idle_61,
       clm.classify_stage(10, '2025-01-01', '2025-01-10', '2025-05-11') AS idle_121;
-- ceilings: 2 orders 1000 days apart -> thresholds are the ceilings 180 / 365 / 730
SELECT clm.classify_stage(2, '2020-01-01', timestamptz '2020-01-01' + interval '1000 days',
                          timestamptz '2020-01-01' + interval '1180 days') AS idle_180,
       clm.classify_stage(2, '2020-01-01', timestamptz '2020-01-01' + interval '1000 days',
                          timestamptz '2020-01-01' + interval '1181 days') AS idle_181,
       clm.classify_stage(2, '2020-01-01', timestamptz '2020-01-01' + interval '1000 days',
                          timestamptz '2020-01-01' + interval '1366 days') AS idle_366,
       clm.classify_stage(2, '2020-01-01', timestamptz '2020-01-01' + interval '1000 days',
                          timestamptz '2020-01-01' + interval '1731 days') AS idle_731;

-- current_stage: lapsed customers who are active again are reactivated;
-- advocates stay advocates; without orders prospect (or lead)
SELECT c AS current_stage,
       clm.classify_stage(5, '2025-01-01', '2025-05-01', '2025-05-10', 'default', c) AS active,
       clm.classify_stage(5, '2025-01-01', '2025-05-01', '2025-12-01', 'default', c) AS idle_214,
       clm.classify_stage(0, NULL, NULL, '2025-12-01', 'default', c) AS no_orders
FROM unnest(pg_catalog.enum_range(NULL::clm.lifecycle_stage) || NULL::clm.lifecycle_stage) AS c;

-- policies: a coffee chain and an estate agency judge the same facts differently
INSERT INTO clm.lifecycle_policy (name, loyal_min_orders, loyal_min_tenure_days, fallback_gap_days,
    at_risk_min_days, at_risk_max_days, dormant_min_days, dormant_max_days, churned_min_days, churned_max_days)
VALUES ('coffee', 20, 60, 7, 7, 30, 14, 60, 30, 120),
       ('estate', 2, 365, 1800, 365, 3650, 730, 7300, 1460, 10950);
SELECT p AS policy,
       clm.classify_stage(1, '2025-01-01', '2025-01-01', '2025-03-01', p) AS one_order_59_days,
       clm.classify_stage(2, '2020-01-01', '2025-01-01', '2025-03-01', p) AS two_orders_5_years
FROM unnest(ARRAY['default', 'coffee', 'estate']) AS p;
-- policy changes reach the cache at once
UPDATE clm.lifecycle_policy SET fallback_gap_days = 60 WHERE name = 'coffee';
SELECT clm.classify_stage(1, '2025-01-01', '2025-01-01', '2025-03-01', 'coffee') AS coffee_after_update;
DELETE FROM clm.lifecycle_policy WHERE name = 'coffee';
SELECT clm.classify_stage(1, '2025-01-01', '2025-01-01', '2025-03-01', 'coffee');

-- PARALLEL SAFE: in parallel workers (each reads the policy itself) the
-- result equals the serial one (and the hand-worked one: no orders ->
-- prospect, one -> first_purchase, 2-6 within 120 days -> repeat, since the
-- estate policy's floors are a year and its loyal tenure 365 days)
CREATE TABLE lc_facts AS
SELECT g AS k, (g % 7)::bigint AS n, timestamptz '2025-01-01' AS first_at,
       timestamptz '2025-01-01' + (g % 7) * interval '20 days' AS last_at
FROM generate_series(1, 20000) g;
UPDATE lc_facts SET first_at = NULL, last_at = NULL WHERE n = 0;
UPDATE lc_facts SET last_at = first_at WHERE n = 1;
ANALYZE lc_facts;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2; SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT n, clm.classify_stage(n, first_at, last_at, '2025-08-01', 'estate') AS s, count(*)
FROM lc_facts GROUP BY 1, 2;
SELECT n, clm.classify_stage(n, first_at, last_at, '2025-08-01', 'estate') AS s, count(*)
FROM lc_facts GROUP BY 1, 2 ORDER BY 1, 2;
SET max_parallel_workers_per_gather = 0;
SELECT n, clm.classify_stage(n, first_at, last_at, '2025-08-01', 'estate') AS s, count(*)
FROM lc_facts GROUP BY 1, 2 ORDER BY 1, 2;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather; RESET parallel_leader_participation;
DROP TABLE lc_facts;

-- extreme but finite timestamps and counts
SELECT clm.classify_stage(2, '4713-01-01 BC', '294276-12-31', '294276-12-31') AS extreme_span,
       clm.classify_stage(9223372036854775807, '2025-01-01', '2025-06-01', '2025-06-02') AS huge_count;

-- bad input
SELECT clm.classify_stage(NULL, NULL, NULL, '2025-01-01') IS NULL AS null_orders,
       clm.classify_stage(1, '2025-01-01', '2025-01-01', NULL) IS NULL AS null_as_of,
       clm.classify_stage(1, '2025-01-01', '2025-01-01', '2025-01-02', NULL) IS NULL AS null_policy;
SELECT clm.classify_stage(-1, NULL, NULL, '2025-01-01');
SELECT clm.classify_stage(2, NULL, '2025-01-01', '2025-01-02');
SELECT clm.classify_stage(2, '2025-02-01', '2025-01-01', '2025-03-01');
SELECT clm.classify_stage(1, '2025-01-01', '2025-01-05', '2025-03-01');
SELECT clm.classify_stage(2, '2025-01-01', '2025-06-01', '2025-03-01');
SELECT clm.classify_stage(2, '-infinity', '2025-01-01', '2025-03-01');
SELECT clm.classify_stage(2, '2025-01-01', 'infinity', 'infinity');
SELECT clm.classify_stage(2, '2025-01-01', '2025-01-02', 'infinity');
SELECT clm.classify_stage(2, '2025-01-01', '2025-01-02', '2025-03-01', 'nope');
-- policies that make no sense are refused; the default one is read-only
INSERT INTO clm.lifecycle_policy (name, at_risk_gap_multiple, dormant_gap_multiple) VALUES ('x', 4, 3);
INSERT INTO clm.lifecycle_policy (name, at_risk_min_days, at_risk_max_days) VALUES ('x', 100, 50);
INSERT INTO clm.lifecycle_policy (name, fallback_gap_days) VALUES ('x', 'NaN');
INSERT INTO clm.lifecycle_policy (name, fallback_gap_days) VALUES ('x', 'Infinity');
INSERT INTO clm.lifecycle_policy (name, loyal_min_orders) VALUES ('x', 1);
INSERT INTO clm.lifecycle_policy (name) VALUES ('');
UPDATE clm.lifecycle_policy SET fallback_gap_days = 30 WHERE name = 'default';
DELETE FROM clm.lifecycle_policy WHERE name = 'default';
DELETE FROM clm.lifecycle_policy WHERE name = 'estate';
SELECT name FROM clm.lifecycle_policy;
RESET timezone;
