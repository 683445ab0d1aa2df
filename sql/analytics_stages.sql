--
-- analytics_stages: clm.stage_transition_matrix and clm.stage_funnel over
-- stage_history rows written here (directly, so that this test does not
-- depend on the lifecycle triggers), with figures worked out by hand.
--
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA analytics_stages;
SET search_path = analytics_stages, public;
CREATE TABLE customers (id int PRIMARY KEY);
CREATE TABLE "Customers; DROP TABLE x" (id int PRIMARY KEY);
CREATE TABLE x (keep int);

-- customer 1: prospect Jan 1 -> lead Jan 11 -> first_purchase Jan 21
-- customer 2: prospect Jan 1 -> first_purchase Jan 5 (skips lead) -> repeat Feb 5
-- customer 3: prospect Jan 2 -> lead Jan 4
-- customer 4: prospect Jan 3
-- customer 5: first_purchase Jan 10 -> at_risk Apr 10 -> reactivated May 10
INSERT INTO clm.stage_history (relation, customer_key, from_stage, to_stage, changed_at) VALUES
    ('analytics_stages.customers', '1', NULL, 'prospect', '2024-01-01'),
    ('analytics_stages.customers', '1', 'prospect', 'lead', '2024-01-11'),
    ('analytics_stages.customers', '1', 'lead', 'first_purchase', '2024-01-21'),
    ('analytics_stages.customers', '2', NULL, 'prospect', '2024-01-01'),
    ('analytics_stages.customers', '2', 'prospect', 'first_purchase', '2024-01-05'),
    ('analytics_stages.customers', '2', 'first_purchase', 'repeat', '2024-02-05'),
    ('analytics_stages.customers', '3', NULL, 'prospect', '2024-01-02'),
    ('analytics_stages.customers', '3', 'prospect', 'lead', '2024-01-04'),
    ('analytics_stages.customers', '4', NULL, 'prospect', '2024-01-03'),
    ('analytics_stages.customers', '5', NULL, 'first_purchase', '2024-01-10'),
    ('analytics_stages.customers', '5', 'first_purchase', 'at_risk', '2024-04-10'),
    ('analytics_stages.customers', '5', 'at_risk', 'reactivated', '2024-05-10'),
    ('analytics_stages."Customers; DROP TABLE x"', '7', NULL, 'lead', '1990-01-01'),
    ('analytics_stages."Customers; DROP TABLE x"', '7', 'lead', 'first_purchase', '1990-01-03');

-- Matrix over everything: entries (from NULL) 4 prospect + 1 first_purchase;
-- prospect -> lead 2, -> first_purchase 1; lead -> first_purchase 1;
-- first_purchase -> repeat 1, -> at_risk 1; at_risk -> reactivated 1.
SELECT from_stage, to_stage, transitions, round(probability::numeric, 4) AS probability
FROM clm.stage_transition_matrix(NULL, NULL, 'customers')
WHERE transitions > 0;
-- full rows: 5 from-states (NULL, prospect, lead, first_purchase, at_risk) x 10 stages, each row sums to 1
SELECT count(*) AS cells, count(DISTINCT from_stage) + 1 AS from_states,
       bool_and(row_sum = 1) AS rows_sum_to_1
FROM (SELECT from_stage, sum(probability) OVER (PARTITION BY from_stage) AS row_sum
        FROM clm.stage_transition_matrix(NULL, NULL, 'customers')) AS m;
-- a window: only the changes in [Jan 5, Feb 6)
SELECT from_stage, to_stage, transitions, round(probability::numeric, 4) AS probability
FROM clm.stage_transition_matrix('2024-01-05', '2024-02-06', 'customers')
WHERE transitions > 0;
-- the hostile-named table, through the unfiltered call and a window in 1990
SELECT from_stage, to_stage, transitions, probability
FROM clm.stage_transition_matrix('1990-01-01', '1990-02-01')
WHERE transitions > 0;
SELECT count(*) AS cells
FROM clm.stage_transition_matrix(NULL, NULL, '"Customers; DROP TABLE x"') WHERE transitions > 0;
SELECT to_regclass('analytics_stages.x') IS NOT NULL AS x_still_there;

-- Funnel Jan..Feb: reached prospect or later = {1,2,3,4,5} = 5;
-- lead or later = {1,2,3,5} = 4 (2 and 5 skipped lead); first_purchase or
-- later = {1,2,5} = 3; repeat = {2} = 1.  Completed stays: prospect 10, 4,
-- 2 days -> median 4; lead 10 days (customer 3 still there); first_purchase
-- 31 days (customer 2; customer 1 and 5 still there until Mar 1).
SELECT step, stage, customers, round(conversion_rate::numeric, 4) AS conversion_rate,
       round(overall_rate::numeric, 4) AS overall_rate, median_days_in_stage, completed_stays
FROM clm.stage_funnel('2024-01-01', '2024-03-01', relation => 'customers');
-- with until = Jun 1 customer 5's first_purchase stay (91 days) is complete:
-- median of 31 and 91 = 61
SELECT step, stage, customers, median_days_in_stage, completed_stays
FROM clm.stage_funnel('2024-01-01', '2024-06-01', '{first_purchase,at_risk,reactivated}', 'customers');

-- bad arguments
SELECT * FROM clm.stage_transition_matrix('2024-02-01', '2024-01-01');
SELECT * FROM clm.stage_transition_matrix('2024-01-01', '2024-01-01');
SELECT * FROM clm.stage_funnel(NULL, NULL, '{}');
SELECT * FROM clm.stage_funnel(NULL, NULL, NULL);
SELECT * FROM clm.stage_funnel(NULL, NULL, '{lead,lead}');
SELECT * FROM clm.stage_funnel(NULL, NULL, '{lead,NULL}');
SELECT * FROM clm.stage_funnel(NULL, NULL, '{lead,customer}');
SELECT * FROM clm.stage_funnel('2024-02-01', '2024-01-01');

DELETE FROM clm.stage_history
WHERE relation IN ('analytics_stages.customers'::regclass, 'analytics_stages."Customers; DROP TABLE x"'::regclass);
RESET search_path;
DROP SCHEMA analytics_stages CASCADE;
