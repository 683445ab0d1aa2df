--
-- action_campaign: win-back campaigns with a held-out control group.  The
-- arm is a deterministic function of the campaign and the customer; the
-- report counts responders (reactivated in the stage history, or ordered)
-- per arm within the window, and the uplift with its 95 % interval, which
-- are compared with figures computed by hand; bad input and roles without
-- the needed rights get clear errors.
-- Each error is followed by its SQLSTATE (\echo sqlstate :SQLSTATE).
--
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA camp;
CREATE TABLE camp.customers (id int PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON camp.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
CREATE TABLE camp.orders (customer_id int, ordered_at timestamptz, amount numeric);
INSERT INTO camp.customers SELECT i, 'dormant', '2025-06-01' FROM generate_series(1, 45) i;

-- the arm: the same for the same campaign and customer, whatever the order
-- of the calls; about the control share of many customers are held out
SELECT count(*) FILTER (WHERE clm.campaign_arm('winback', i::text, 0.25) = 'control') AS control,
       count(*) FILTER (WHERE clm.campaign_arm('winback', i::text, 0.25) = 'target') AS target,
       string_agg(i::text, ',' ORDER BY i) FILTER (WHERE clm.campaign_arm('winback', i::text, 0.25) = 'control') AS control_ids
FROM generate_series(1, 40) i;
-- 10,000 customers at a share of 0.1: within three standard deviations
-- (0.003) of 0.1
SELECT abs(avg((clm.campaign_arm('spring', 'customer-' || i, 0.1) = 'control')::int) - 0.1) < 0.009 AS share_holds
FROM generate_series(1, 10000) i;
-- another campaign draws other customers
SELECT count(*) AS same_arm_in_both
FROM generate_series(1, 1000) i
WHERE clm.campaign_arm('a', i::text, 0.5) = clm.campaign_arm('b', i::text, 0.5);

SELECT name, customers, customer_key_column, orders, control_share, starts_at
FROM clm.create_campaign('winback', 'camp.customers', 'camp.orders', 0.25, '2026-01-01 00:00+00',
                         description => 'dormant customers, January');
-- enroll customers 1-40 (41-45 stay out); enrolling again gives the same arm
SELECT count(*) FILTER (WHERE clm.campaign_enroll('winback', i::text) = 'control') AS control,
       count(*) FILTER (WHERE clm.campaign_enroll('winback', i::text) = 'target') AS target
FROM generate_series(1, 40) i;
SELECT count(*) AS members, count(*) FILTER (WHERE arm = clm.campaign_arm(campaign, customer_key, 0.25)) AS in_their_arm
FROM clm.campaign_member WHERE campaign = 'winback';

-- Responses.  Control ids: 8 10 13 14 18 21 23 24 27 32 37 (11); the
-- other 29 are targeted.
-- target: orders in the window [2026-01-01, 2026-01-31) from 1-6 (100
-- each, and 20 more from 1), 11 (40) and 19 (60, at the very start); 7, 9
-- and 11 reactivated in the window: 10 responders, revenue 720.
-- Not responses: 12 ordered before the start, 15 after the window, 17 at
-- its end (the window is half-open), 16 reactivated after it.
-- control: 8 ordered in the window (50), 10 reactivated in it: 2
-- responders, revenue 50; 13 ordered before the start.
-- 41 is not enrolled: its order counts nowhere.
INSERT INTO camp.orders VALUES
    (1, '2026-01-05', 100), (1, '2026-01-20', 20), (2, '2026-01-05', 100), (3, '2026-01-06', 100),
    (4, '2026-01-07', 100), (5, '2026-01-08', 100), (6, '2026-01-30 23:59:59', 100),
    (11, '2026-01-12', 40), (19, '2026-01-01 00:00', 60),
    (12, '2025-12-20', 500), (15, '2026-02-15', 500), (17, '2026-01-31 00:00', 500),
    (8, '2026-01-09', 50), (13, '2025-12-31 23:59:59', 500), (41, '2026-01-10', 500);
UPDATE camp.customers SET status = 'reactivated', since = '2026-01-10' WHERE id IN (7, 9, 10, 11);
UPDATE camp.customers SET status = 'reactivated', since = '2026-02-10' WHERE id = 16;

-- by hand: target rate 10/29 = 0.344828, control rate 2/11 = 0.181818,
-- uplift 0.163009; standard error sqrt(p1(1-p1)/29 + p2(1-p2)/11) =
-- 0.145993, so the 95 % interval is 0.163009 -+ 1.959964 * 0.145993 =
-- [-0.123132, 0.449151]; revenue per customer 720/29 = 24.827586 and
-- 50/11 = 4.545455
SELECT name, starts_at, ends_at, target_customers, control_customers, target_responded, control_responded,
       abs(target_rate - 10.0 / 29) < 1e-12 AS target_rate_ok,
       abs(control_rate - 2.0 / 11) < 1e-12 AS control_rate_ok,
       abs(uplift - 0.163009404) < 1e-9 AS uplift_ok,
       abs(uplift_low - (-0.123132340)) < 1e-9 AS low_ok,
       abs(uplift_high - 0.449151149) < 1e-9 AS high_ok,
       round(target_revenue_per_customer, 6) AS target_revenue, round(control_revenue_per_customer, 6) AS control_revenue
FROM clm.campaign_report('winback', '30 days');
-- a longer window takes in 15's and 17's orders and 16's reactivation
SELECT target_responded, control_responded, round(target_revenue_per_customer * target_customers) AS target_revenue
FROM clm.campaign_report('winback', '60 days');

-- bad input
SELECT * FROM clm.campaign_report('no_such_campaign', '30 days');
\echo sqlstate :SQLSTATE
SELECT * FROM clm.campaign_report(NULL, '30 days');
\echo sqlstate :SQLSTATE
SELECT * FROM clm.campaign_report('winback', '0 days');
\echo sqlstate :SQLSTATE
SELECT * FROM clm.campaign_report('winback', '-1 day');
\echo sqlstate :SQLSTATE
SELECT * FROM clm.campaign_report('winback', NULL);
\echo sqlstate :SQLSTATE
SELECT clm.campaign_arm('x', '1', 0);
\echo sqlstate :SQLSTATE
SELECT clm.campaign_arm('x', '1', 1);
\echo sqlstate :SQLSTATE
SELECT clm.campaign_arm('x', '1', 'NaN');
\echo sqlstate :SQLSTATE
SELECT clm.campaign_arm('x', NULL, 0.1);
\echo sqlstate :SQLSTATE
SELECT clm.campaign_enroll('winback', '999');
\echo sqlstate :SQLSTATE
SELECT clm.campaign_enroll('winback', NULL);
\echo sqlstate :SQLSTATE
SELECT clm.campaign_enroll('no_such_campaign', '1');
\echo sqlstate :SQLSTATE
SELECT clm.create_campaign('winback', 'camp.customers', 'camp.orders');
\echo sqlstate :SQLSTATE
SELECT clm.create_campaign('', 'camp.customers', 'camp.orders');
\echo sqlstate :SQLSTATE
SELECT clm.create_campaign('c1', 'camp.customers', 'camp.orders', control_share => 1.5);
\echo sqlstate :SQLSTATE
SELECT clm.create_campaign('c1', 'camp.customers', 'camp.orders', starts_at => 'infinity');
\echo sqlstate :SQLSTATE
SELECT clm.create_campaign('c1', 'camp.customers', 'camp.orders', customer_column => 'customer');
\echo sqlstate :SQLSTATE
SELECT clm.create_campaign('c1', 'camp.customers', 'camp.orders', ordered_at_column => 'amount');
\echo sqlstate :SQLSTATE
SELECT clm.create_campaign('c1', 'camp.customers', 'camp.orders', amount_column => 'ordered_at');
\echo sqlstate :SQLSTATE
SELECT clm.create_campaign('c1', 'camp.orders', 'camp.orders');
\echo sqlstate :SQLSTATE
SELECT clm.create_campaign('c1', 'camp.customers', NULL);
\echo sqlstate :SQLSTATE
SELECT clm.create_campaign('c1', 'camp.customers', 'camp.orders', starts_at => NULL);
\echo sqlstate :SQLSTATE
CREATE SEQUENCE camp.seq;
SELECT clm.create_campaign('c1', 'camp.seq', 'camp.orders');
\echo sqlstate :SQLSTATE
-- an arm without customers: no uplift
SELECT name FROM clm.create_campaign('all_target', 'camp.customers', 'camp.orders', 0.01, '2026-01-01');
SELECT clm.campaign_enroll('all_target', '1');
SELECT * FROM clm.campaign_report('all_target', '30 days');
\echo sqlstate :SQLSTATE
-- direct writes must keep the arm, even a superuser's
INSERT INTO clm.campaign_member (campaign, customer_key, arm) VALUES ('all_target', '2', 'control');
\echo sqlstate :SQLSTATE
UPDATE clm.campaign_member SET arm = 'control' WHERE campaign = 'all_target';
\echo sqlstate :SQLSTATE
INSERT INTO clm.campaign_member (campaign, customer_key, arm) VALUES ('all_target', '2', 'target');
SELECT count(*) AS members FROM clm.campaign_member WHERE campaign = 'all_target';

-- other roles: one that may read the customers and orders, one that may not
CREATE ROLE regress_campaign_reader;
CREATE ROLE regress_campaign_nobody;
GRANT USAGE ON SCHEMA camp TO regress_campaign_reader, regress_campaign_nobody;
GRANT SELECT ON camp.customers, camp.orders TO regress_campaign_reader;
SET ROLE regress_campaign_reader;
-- it sees the campaign and its report, but may not enroll, change or delete
SELECT target_customers, control_customers, target_responded, control_responded
FROM clm.campaign_report('winback', '30 days');
SELECT clm.campaign_enroll('winback', '42');
\echo sqlstate :SQLSTATE
DELETE FROM clm.campaign WHERE name = 'winback';
DELETE FROM clm.campaign_member WHERE campaign = 'winback';
UPDATE clm.campaign SET control_share = 0.5 WHERE name = 'winback';
\echo sqlstate :SQLSTATE
INSERT INTO clm.campaign_member (campaign, customer_key, arm) VALUES ('winback', '42', 'target');
\echo sqlstate :SQLSTATE
-- its own campaign, in its own name only
SELECT name, created_by FROM clm.create_campaign('reader_campaign', 'camp.customers', 'camp.orders');
INSERT INTO clm.campaign (name, customers, customer_key_column, orders, customer_column, ordered_at_column,
                          amount_column, control_share, starts_at, created_by)
VALUES ('forged', 'camp.customers', 'id', 'camp.orders', 'customer_id', 'ordered_at', 'amount', 0.1, now(), 'postgres');
\echo sqlstate :SQLSTATE
SET ROLE regress_campaign_nobody;
SELECT count(*) AS campaigns_seen FROM clm.campaign;
SELECT count(*) AS members_seen FROM clm.campaign_member;
SELECT * FROM clm.campaign_report('winback', '30 days');
\echo sqlstate :SQLSTATE
SELECT clm.create_campaign('nobody_campaign', 'camp.customers', 'camp.orders');
\echo sqlstate :SQLSTATE
RESET ROLE;
-- a role that may read the customers but not the orders: no report
GRANT SELECT ON camp.customers TO regress_campaign_nobody;
SET ROLE regress_campaign_nobody;
SELECT * FROM clm.campaign_report('winback', '30 days');
\echo sqlstate :SQLSTATE
RESET ROLE;
REVOKE SELECT ON camp.customers FROM regress_campaign_nobody;
-- row-level security on the customers table hides members from the report
ALTER TABLE camp.customers ENABLE ROW LEVEL SECURITY;
CREATE POLICY low_ids ON camp.customers FOR SELECT TO regress_campaign_reader USING (id <= 20);
SET ROLE regress_campaign_reader;
SELECT target_customers, control_customers, target_responded, control_responded
FROM clm.campaign_report('winback', '30 days');
RESET ROLE;
DROP POLICY low_ids ON camp.customers;
ALTER TABLE camp.customers DISABLE ROW LEVEL SECURITY;

-- a dropped orders table detaches the campaign
CREATE TABLE camp.old_orders (LIKE camp.orders);
SELECT name FROM clm.create_campaign('detached', 'camp.customers', 'camp.old_orders');
DROP TABLE camp.old_orders;
SELECT name, customers::oid <> 0 AS has_customers, orders::oid AS orders FROM clm.campaign WHERE name = 'detached';
SELECT * FROM clm.campaign_report('detached', '30 days');
\echo sqlstate :SQLSTATE

-- deleting a campaign deletes its memberships
DELETE FROM clm.campaign WHERE name IN ('all_target', 'detached', 'reader_campaign');
SELECT campaign, count(*) FROM clm.campaign_member GROUP BY campaign ORDER BY campaign;
DELETE FROM clm.campaign;
REVOKE ALL ON SCHEMA camp FROM regress_campaign_reader, regress_campaign_nobody;
REVOKE ALL ON camp.customers, camp.orders FROM regress_campaign_reader;
REVOKE ALL ON camp.customers FROM regress_campaign_nobody;
DROP ROLE regress_campaign_reader, regress_campaign_nobody;
DROP SCHEMA camp CASCADE;
