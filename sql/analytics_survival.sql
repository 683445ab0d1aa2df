--
-- analytics_survival: clm.churn_survival against a Kaplan-Meier table
-- worked out by hand.
--
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA analytics_survival;
SET search_path = analytics_survival, public;

-- Churn rule: 30 days without an order; as of 2024-07-01 (2024 is a leap year).
--   c1  Jan 1                    churns Jan 31          -> event at day 30
--   c2  Jan 1, Jan 21            churns Feb 20          -> event at day 50
--   c3  Jan 1, Mar 1             churns Jan 31 (first)  -> event at day 30
--   c4  Jun 15                   Jul 15 > as_of         -> censored at day 16
--   c5  Jan 1, Jan 31            Jan 31 is not after Jan 1 + 30 d, so no
--                                churn there; churns Mar 1 -> event at day 60
--   c6  May 1, Jun 10            churns May 31          -> event at day 30
--   c7  Jun 1, Jun 25            Jul 25 > as_of         -> censored at day 30
--   c8  Mar 1                    churns Mar 31          -> event at day 30
--   c9  Aug 1                    after as_of: not a subject
-- Kaplan-Meier (events before censorings at tied times):
--   t=16: n=8 d=0 c=1  S=1
--   t=30: n=7 d=4 c=1  S=3/7          Greenwood sum 4/(7*3)         SE = S*sqrt(4/21)
--   t=50: n=2 d=1 c=0  S=3/14         sum 4/21 + 1/(2*1)            SE = S*sqrt(4/21 + 1/2)
--   t=60: n=1 d=1 c=0  S=0            SE undefined (NULL)
CREATE TABLE visits (cust int, at timestamptz);
INSERT INTO visits VALUES
    (1, '2024-01-01'), (2, '2024-01-01'), (2, '2024-01-21'), (3, '2024-01-01'), (3, '2024-03-01'),
    (4, '2024-06-15'), (5, '2024-01-01'), (5, '2024-01-31'), (6, '2024-05-01'), (6, '2024-06-10'),
    (7, '2024-06-01'), (7, '2024-06-25'), (8, '2024-03-01'), (9, '2024-08-01'), (NULL, '2024-01-01');

SELECT stratum, time, at_risk, events, censored,
       round(survival::numeric, 6) AS survival, round(std_error::numeric, 6) AS std_error
FROM clm.churn_survival('visits', 'cust', 'at', '30 days', '2024-07-01');

SELECT bool_and(CASE time
                  WHEN 16 THEN survival = 1 AND std_error = 0
                  WHEN 30 THEN abs(survival - 3.0/7) < 1e-12
                               AND abs(std_error - 3.0/7 * sqrt(4.0/21)) < 1e-12
                  WHEN 50 THEN abs(survival - 3.0/14) < 1e-12
                               AND abs(std_error - 3.0/14 * sqrt(4.0/21 + 0.5)) < 1e-12
                  WHEN 60 THEN survival = 0 AND std_error IS NULL
                END) AS matches_hand_computation,
       count(*) = 4 AS four_rows,
       sum(events) + sum(censored) = 8 AS eight_subjects
FROM clm.churn_survival('visits', 'cust', 'at', '30 days', '2024-07-01');

-- a longer rule: 45 days.  c2 churns Mar 6 (day 65), c3 has a 60-day gap
-- (day 45), c5 churns Mar 16 (day 75), c6 Jun 10 + 45 d = Jul 25 > as_of
-- (censored at day 61), c7 censored at day 30.
SELECT time, at_risk, events, censored, round(survival::numeric, 6) AS survival
FROM clm.churn_survival('visits', 'cust', 'at', '45 days', '2024-07-01');

-- by acquisition quarter: Q1 = {1, 2, 3, 5, 8}, Q2 = {4, 6, 7}
SELECT stratum, time, at_risk, events, censored, round(survival::numeric, 6) AS survival,
       round(std_error::numeric, 6) AS std_error
FROM clm.churn_survival('visits', 'cust', 'at', '30 days', '2024-07-01', cohort => 'quarter');

-- by a column of another relation (a segment); customers missing from it
-- form the NULL stratum
CREATE TABLE seg (customer int, segment text);
INSERT INTO seg VALUES (1, 'gold'), (2, 'gold'), (3, 'gold'), (4, 'silver'), (6, 'silver'), (7, 'silver');
SELECT stratum, time, at_risk, events, censored, round(survival::numeric, 6) AS survival
FROM clm.churn_survival('visits', 'cust', 'at', '30 days', '2024-07-01',
                        groups => 'seg', group_key_column => 'customer', group_column => 'segment');

-- timestamp without time zone and date columns work too
CREATE TABLE visits_date AS SELECT 'c' || cust AS cust, at::date AS day FROM visits;
SELECT (SELECT array_agg(row(time, at_risk, events, censored) ORDER BY time)
          FROM clm.churn_survival('visits_date', 'cust', 'day', '30 days', '2024-07-01'))::text
     = (SELECT array_agg(row(time, at_risk, events, censored) ORDER BY time)
          FROM clm.churn_survival('visits', 'cust', 'at', '30 days', '2024-07-01'))::text AS date_column_same;

-- nothing to analyse: no rows
SELECT count(*) AS n FROM clm.churn_survival('visits', 'cust', 'at', '30 days', '2023-01-01');

-- bad arguments
SELECT * FROM clm.churn_survival('visits', 'cust', 'at', '0 days', '2024-07-01');
SELECT * FROM clm.churn_survival('visits', 'cust', 'at', NULL, '2024-07-01');
SELECT * FROM clm.churn_survival('visits', 'cust', 'at', '30 days', NULL);
SELECT * FROM clm.churn_survival('visits', 'cust', 'at', '30 days', 'infinity');
SELECT * FROM clm.churn_survival('visits', 'cust', 'at', '30 days', '2024-07-01', cohort => 'day');
SELECT * FROM clm.churn_survival('visits', 'cust', 'at', '30 days', '2024-07-01', cohort => 'month', groups => 'seg');
SELECT * FROM clm.churn_survival('visits', 'cust', 'at', '30 days', '2024-07-01', group_column => 'segment');
SELECT * FROM clm.churn_survival('visits', 'cust', 'at', '30 days', '2024-07-01', groups => 'seg', group_key_column => 'customer');
SELECT * FROM clm.churn_survival('visits', 'cust', 'at', '30 days', '2024-07-01', groups => 'seg', group_key_column => 'cust', group_column => 'segment');
SELECT * FROM clm.churn_survival('visits', 'at', 'cust');

RESET search_path;
DROP SCHEMA analytics_survival CASCADE;
