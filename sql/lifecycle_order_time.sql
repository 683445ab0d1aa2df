--
-- lifecycle_order_time: clm.stage_on_order applies orders in business-time
-- order.  The rows of one INSERT or COPY give the same history whatever
-- their order, and an order stored after a lapse it predates (a late
-- order) withdraws the lapse when the orders with it do not support it.
--
SET timezone = 'UTC';
CREATE SCHEMA ot;
CREATE TABLE ot.customers (id int PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TABLE ot.orders (customer_id int NOT NULL REFERENCES ot.customers,
                        ordered_at timestamptz NOT NULL);
CREATE INDEX ON ot.orders (customer_id, ordered_at);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON ot.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
CREATE TRIGGER stage_on_order AFTER INSERT ON ot.orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('ot.customers', 'customer_id', 'status', 'ordered_at');
-- the same customers without an index on (customer, time): the other way
-- of reading the orders
CREATE TABLE ot.customers2 (LIKE ot.customers INCLUDING ALL);
CREATE TABLE ot.orders2 (customer_id int NOT NULL REFERENCES ot.customers2,
                         ordered_at timestamptz NOT NULL);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON ot.customers2
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
CREATE TRIGGER stage_on_order AFTER INSERT ON ot.orders2
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('ot.customers2', 'customer_id', 'status', 'ordered_at');
-- a customer's history, one line per change
CREATE FUNCTION ot.history(rel regclass, cid int) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(coalesce(from_stage::text, '-') || '>' || to_stage || ' ' ||
                      to_char(changed_at, 'YYYY-MM-DD'), ', ' ORDER BY changed_at, id)
    FROM clm.stage_history WHERE relation = rel AND customer_key = cid::text
$$;

-- pairs of customers (odd: rows in time order, even: reversed):
-- 1/2 prospects with two orders: first_purchase, then repeat;
-- 3/4 repeat customers since December 2025 with three orders, then two in
--     one statement, each of which makes them loyal (4 orders, 180 days):
--     loyal at the earlier one's time;
-- 5/6 dormant, then two orders: reactivated, then repeat;
-- with more orders than loyal_min_orders already (beyond the first k the
-- bounded reads only fetch the orders that can move the customer):
-- 7/8 four orders in December 2025, then two in one statement, the first
--     past 180 days of tenure: loyal at that one;
-- 9/10 four orders in early 2025, churned as of 2026-01-01, then two in one
--     statement: reactivated, then loyal
INSERT INTO ot.customers VALUES (1, 'prospect', '2025-01-01'), (2, 'prospect', '2025-01-01'),
    (3, 'prospect', '2025-01-01'), (4, 'prospect', '2025-01-01'),
    (5, 'prospect', '2025-01-01'), (6, 'prospect', '2025-01-01'),
    (7, 'prospect', '2025-01-01'), (8, 'prospect', '2025-01-01'),
    (9, 'prospect', '2025-01-01'), (10, 'prospect', '2025-01-01');
INSERT INTO ot.customers2 SELECT id, status, since FROM ot.customers;
INSERT INTO ot.orders VALUES (3, '2025-12-01'), (3, '2025-12-10'), (3, '2025-12-20'),
    (4, '2025-12-01'), (4, '2025-12-10'), (4, '2025-12-20'),
    (5, '2025-01-01'), (6, '2025-01-01'),
    (7, '2025-12-01'), (7, '2025-12-05'), (7, '2025-12-10'), (7, '2025-12-15'),
    (8, '2025-12-01'), (8, '2025-12-05'), (8, '2025-12-10'), (8, '2025-12-15'),
    (9, '2025-01-01'), (9, '2025-01-05'), (9, '2025-01-10'), (9, '2025-01-15'),
    (10, '2025-01-01'), (10, '2025-01-05'), (10, '2025-01-10'), (10, '2025-01-15');
INSERT INTO ot.orders2 SELECT * FROM ot.orders;
SELECT clm.refresh_stages('ot.customers', 'ot.orders', 'id', 'status', 'customer_id',
                          'ordered_at', as_of => '2026-01-01') AS moved;
SELECT clm.refresh_stages('ot.customers2', 'ot.orders2', 'id', 'status', 'customer_id',
                          'ordered_at', as_of => '2026-01-01') AS moved;
INSERT INTO ot.orders VALUES
    (1, '2026-02-01'), (1, '2026-03-01'), (2, '2026-03-01'), (2, '2026-02-01'),
    (3, '2026-06-15'), (3, '2026-07-01'), (4, '2026-07-01'), (4, '2026-06-15'),
    (5, '2026-02-01'), (5, '2026-03-01'), (6, '2026-03-01'), (6, '2026-02-01'),
    (7, '2026-06-01'), (7, '2026-06-10'), (8, '2026-06-10'), (8, '2026-06-01'),
    (9, '2026-02-01'), (9, '2026-03-01'), (10, '2026-03-01'), (10, '2026-02-01');
COPY ot.orders2 FROM STDIN;
1	2026-02-01 00:00+00
1	2026-03-01 00:00+00
2	2026-03-01 00:00+00
2	2026-02-01 00:00+00
3	2026-06-15 00:00+00
3	2026-07-01 00:00+00
4	2026-07-01 00:00+00
4	2026-06-15 00:00+00
5	2026-02-01 00:00+00
5	2026-03-01 00:00+00
6	2026-03-01 00:00+00
6	2026-02-01 00:00+00
7	2026-06-01 00:00+00
7	2026-06-10 00:00+00
8	2026-06-10 00:00+00
8	2026-06-01 00:00+00
9	2026-02-01 00:00+00
9	2026-03-01 00:00+00
10	2026-03-01 00:00+00
10	2026-02-01 00:00+00
\.
SELECT c.id, c.status, c.since, ot.history('ot.customers', c.id) AS history
FROM ot.customers c ORDER BY c.id;
-- the reversed rows give the same as the rows in time order, and reading
-- all orders gives the same as the bounded reads
SELECT a.id, ot.history('ot.customers', a.id) = ot.history('ot.customers', a.id + 1) AS insert_same,
       ot.history('ot.customers2', a.id) = ot.history('ot.customers2', a.id + 1) AS copy_same,
       ot.history('ot.customers', a.id) = ot.history('ot.customers2', a.id) AS reads_same
FROM ot.customers a WHERE a.id % 2 = 1 ORDER BY a.id;

-- late orders.  20, 21 and 22 have two orders a month apart in early 2025
-- and are churned as of 2026-01-01 (gap 31 days: thresholds 62 / 124 /
-- 186, idle 334).  Then, after that refresh has committed, orders dated
-- before 2026-01-01 arrive (20: an hour before, 21: 2025-03-01, 22:
-- 2025-07-01).  The lapse was decided before these orders came, so it
-- stands, even where classify_stage would now say otherwise (20: repeat,
-- 22: at_risk); only an order racing the refresh withdraws a lapse (the
-- isolation spec lifecycle_refresh_vs_order).
INSERT INTO ot.customers VALUES (20, 'prospect', '2024-12-01'), (21, 'prospect', '2024-12-01'),
    (22, 'prospect', '2024-12-01');
INSERT INTO ot.orders VALUES (20, '2025-01-01'), (20, '2025-02-01'),
    (21, '2025-01-01'), (21, '2025-02-01'), (22, '2025-01-01'), (22, '2025-02-01');
SELECT clm.refresh_stages('ot.customers', 'ot.orders', 'id', 'status', 'customer_id',
                          'ordered_at', as_of => '2026-01-01') AS moved;
INSERT INTO ot.orders VALUES (20, '2025-12-31 23:00'), (21, '2025-03-01'), (22, '2025-07-01');
SELECT c.id, c.status, c.since, ot.history('ot.customers', c.id) AS history,
       clm.classify_stage(count(*), min(o.ordered_at), max(o.ordered_at), '2026-01-01') AS classified
FROM ot.customers c JOIN ot.orders o ON o.customer_id = c.id
WHERE c.id IN (20, 21, 22) GROUP BY c.id ORDER BY c.id;
-- 23 (all orders read): at_risk as of 2025-06-01, dormant as of 2025-07-01;
-- an order dated 2025-05-01 that arrives after both refreshes committed is
-- late: both lapses stand
INSERT INTO ot.customers2 VALUES (23, 'prospect', '2024-12-01');
INSERT INTO ot.orders2 VALUES (23, '2025-01-01'), (23, '2025-02-01');
SELECT clm.refresh_stages('ot.customers2', 'ot.orders2', 'id', 'status', 'customer_id',
                          'ordered_at', as_of => '2025-06-01') AS moved;
SELECT clm.refresh_stages('ot.customers2', 'ot.orders2', 'id', 'status', 'customer_id',
                          'ordered_at', as_of => '2025-07-01') AS moved;
SELECT ot.history('ot.customers2', 23) AS lapsed_twice;
INSERT INTO ot.orders2 VALUES (23, '2025-05-01');
SELECT c.id, c.status, c.since, ot.history('ot.customers2', c.id) AS history
FROM ot.customers2 c WHERE c.id = 23;
-- 24: a lapse set by hand (a supervisor marks him churned as of
-- 2025-06-01); an order dated 2025-05-30, entered afterwards, is late and
-- takes nothing back: the supervisor's decision stays in the history
INSERT INTO ot.customers VALUES (24, 'prospect', '2024-12-01');
INSERT INTO ot.orders VALUES (24, '2025-02-01'), (24, '2025-03-01');
UPDATE ot.customers SET status = 'churned', since = '2025-06-01' WHERE id = 24;
INSERT INTO ot.orders VALUES (24, '2025-05-30');
SELECT c.id, c.status, c.since, ot.history('ot.customers', c.id) AS history
FROM ot.customers c WHERE c.id = 24;

-- 25 to 28 have two orders in early 2025 and are churned as of 2026-01-01
-- (as 20 to 22).  An order on 2026-03-01 reactivates them; an older order
-- that arrives late is no further order, so it does not move them on:
-- 25: the old order (2025-03-01) in a statement of its own, afterwards;
-- 26 and 27: both in one statement, the new row first (26) or the old one
-- first (27), as a row trigger fires them; 28: a further order
-- (2026-04-01) moves him on.
INSERT INTO ot.customers SELECT i, 'prospect', '2024-12-01' FROM generate_series(25, 28) i;
INSERT INTO ot.orders SELECT i, d FROM generate_series(25, 28) i,
    unnest(ARRAY[timestamptz '2025-01-01', '2025-02-01']) d;
SELECT clm.refresh_stages('ot.customers', 'ot.orders', 'id', 'status', 'customer_id',
                          'ordered_at', as_of => '2026-01-01') AS moved;
INSERT INTO ot.orders VALUES (25, '2026-03-01'), (28, '2026-03-01');
INSERT INTO ot.orders VALUES (25, '2025-03-01'), (28, '2025-03-01');
INSERT INTO ot.orders VALUES (26, '2026-03-01'), (26, '2025-03-01');
INSERT INTO ot.orders VALUES (27, '2025-03-01'), (27, '2026-03-01');
INSERT INTO ot.orders VALUES (28, '2026-04-01');
SELECT c.id, c.status, c.since, ot.history('ot.customers', c.id) AS history
FROM ot.customers c WHERE c.id BETWEEN 25 AND 28 ORDER BY c.id;

-- 30 to 32 are repeat since 2025-05-01 (orders on the first of April, May
-- and June 2025).  One statement brings an order from November 2024, older
-- than the stage (late), and two from September and October 2025.  Counted
-- with the late one, June's order is the fourth, 212 days after the first:
-- loyal (without it only October's would be).  Whichever row fires first,
-- the late one too (30: late first, 31: newest first, 32: late, newest,
-- then September), each ends loyal since June 1st, as the statement
-- trigger leaves him; so does reading all orders (customers2).
INSERT INTO ot.customers SELECT i, 'prospect', '2024-12-01' FROM generate_series(30, 32) i;
INSERT INTO ot.customers2 SELECT * FROM ot.customers WHERE id BETWEEN 30 AND 32;
INSERT INTO ot.orders SELECT i, d FROM generate_series(30, 32) i,
    unnest(ARRAY[timestamptz '2025-04-01', '2025-05-01', '2025-06-01']) d;
INSERT INTO ot.orders2 SELECT * FROM ot.orders WHERE customer_id BETWEEN 30 AND 32;
INSERT INTO ot.orders VALUES (30, '2024-11-01'), (30, '2025-09-01'), (30, '2025-10-01'),
    (31, '2025-10-01'), (31, '2025-09-01'), (31, '2024-11-01'),
    (32, '2024-11-01'), (32, '2025-10-01'), (32, '2025-09-01');
INSERT INTO ot.orders2 VALUES (30, '2024-11-01'), (30, '2025-09-01'), (30, '2025-10-01'),
    (31, '2025-10-01'), (31, '2025-09-01'), (31, '2024-11-01'),
    (32, '2024-11-01'), (32, '2025-10-01'), (32, '2025-09-01');
SELECT c.id, c.status, c.since, ot.history('ot.customers', c.id) AS history,
       ot.history('ot.customers', c.id) = ot.history('ot.customers2', c.id) AS reads_same
FROM ot.customers c WHERE c.id BETWEEN 30 AND 32 ORDER BY c.id;

-- 40: orders partitioned by year, where an order of one partition may sit
-- at the same place (ctid) as one of another.  Four orders in 2025 (the
-- first rows of their partition), churned as of 2026-01-01, then three in
-- 2026 in one statement, newest first (the first rows of theirs): the
-- first to fire is judged through the other two, reactivated on January
-- 10th, loyal on the 20th.
CREATE TABLE ot.pc (id int PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TABLE ot.po (customer_id int NOT NULL, ordered_at timestamptz NOT NULL)
    PARTITION BY RANGE (ordered_at);
CREATE TABLE ot.po_2025 PARTITION OF ot.po FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE ot.po_2026 PARTITION OF ot.po FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX ON ot.po (customer_id, ordered_at);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON ot.pc
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
CREATE TRIGGER stage_on_order AFTER INSERT ON ot.po
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('ot.pc', 'customer_id', 'status', 'ordered_at');
INSERT INTO ot.pc VALUES (40, 'prospect', '2024-12-01');
INSERT INTO ot.po VALUES (40, '2025-01-01'), (40, '2025-02-01'), (40, '2025-03-01'), (40, '2025-04-01');
SELECT clm.refresh_stages('ot.pc', 'ot.po', 'id', 'status', 'customer_id',
                          'ordered_at', as_of => '2026-01-01') AS moved;
INSERT INTO ot.po VALUES (40, '2026-02-01'), (40, '2026-01-20'), (40, '2026-01-10');
SELECT tableoid::regclass, ctid, ordered_at FROM ot.po ORDER BY ordered_at;
SELECT c.id, c.status, c.since, ot.history('ot.pc', c.id) AS history FROM ot.pc c;
DELETE FROM clm.stage_history WHERE relation = 'ot.pc'::regclass;

DELETE FROM clm.stage_history WHERE relation IN ('ot.customers'::regclass, 'ot.customers2'::regclass);
DROP SCHEMA ot CASCADE;
