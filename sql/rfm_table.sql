--
-- rfm_table: clm.rfm_table and clm.rfm_table_uuid give, for every customer,
-- the row of the SQL pipeline (clm.rfm_agg ... GROUP BY, clm.rfm_thresholds,
-- clm.rfm_score, clm.rfm_segment), in memory and when the tables spill
-- beyond work_mem; they read the orders as the calling role, and reject bad
-- input before any work.
--
\set VERBOSITY default
CREATE SCHEMA rfm_table_test;
SET search_path = rfm_table_test, public;

-- 240,000 orders of about 120,000 customers (enough for the tables to
-- outgrow a small work_mem), refunds every 23rd row, rows with NULLs, rows
-- after as_of, ids over the whole bigint range
CREATE TABLE orders (customer bigint, ordered_at timestamptz, amount numeric);
INSERT INTO orders
SELECT CASE WHEN i % 997 = 0 THEN NULL
            WHEN i % 5 = 0 THEN -floor(120000 * power((i::bigint * 7919) % 1000003 / 1000003.0, 2))::bigint * 4611686018427
            ELSE floor(120000 * power((i::bigint * 7919) % 1000003 / 1000003.0, 2))::bigint END,
       CASE WHEN i % 1009 = 0 THEN NULL
            ELSE timestamptz '2024-01-01 00:00+00' + ((i::bigint * 104729) % 800) * interval '1 day'
                 + (i % 86400) * interval '1 second' END,
       CASE WHEN i % 1013 = 0 THEN NULL
            WHEN i % 23 = 0 THEN -round((i % 40) / 7.0, 4)
            ELSE round((i * 37 % 90000) / 100.0, 2) END
FROM generate_series(1, 240000) i;
-- the extremes of the key range, a customer whose only row is after as_of,
-- one with a refund only, one whose only row has no amount
INSERT INTO orders VALUES
    (9223372036854775807, '2025-01-01 00:00+00', 1.5),
    (-9223372036854775808, '2025-01-02 00:00+00', 2.25),
    (123456789, '2027-01-01 00:00+00', 10),
    (123456790, '2025-03-01 00:00+00', -5),
    (123456791, '2025-03-01 00:00+00', NULL);
ANALYZE orders;

-- the SQL pipeline, as doc/rfm.md writes it
CREATE FUNCTION pipeline(bins integer DEFAULT 5, ruleset text DEFAULT 'default')
RETURNS TABLE (customer_id bigint, recency_days double precision, frequency bigint,
               monetary numeric, first_at timestamptz, last_at timestamptz,
               tenure_days double precision, mean_gap_days double precision,
               r integer, f integer, m integer, score integer, segment text)
LANGUAGE sql STABLE SET search_path = rfm_table_test, pg_catalog AS $$
    WITH c AS MATERIALIZED (
        SELECT customer, clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00') AS rfm
        FROM orders WHERE customer IS NOT NULL GROUP BY customer),
    t AS (SELECT clm.rfm_thresholds(rfm, bins) AS th FROM c)
    SELECT customer, (rfm).recency_days, (rfm).frequency, (rfm).monetary, (rfm).first_at,
           (rfm).last_at, (rfm).tenure_days, (rfm).mean_gap_days,
           (s).r, (s).f, (s).m, (s).score, clm.rfm_segment(s, ruleset)
    FROM (SELECT customer, rfm, clm.rfm_score(rfm, th) AS s FROM c CROSS JOIN t OFFSET 0) x
$$;
CREATE TABLE expected AS SELECT * FROM pipeline();
SELECT count(*) AS customers, count(*) FILTER (WHERE frequency IS NULL) AS without_counted_rows,
       count(*) FILTER (WHERE frequency = 0) AS refunds_only, count(DISTINCT segment) AS segments
FROM expected;

-- in memory: the same rows
SELECT count(*) AS rows_differing FROM (
    (SELECT * FROM clm.rfm_table('orders', '2026-01-01 00:00+00', 'customer') EXCEPT ALL SELECT * FROM expected)
    UNION ALL
    (SELECT * FROM expected EXCEPT ALL SELECT * FROM clm.rfm_table('orders', '2026-01-01 00:00+00', 'customer'))) d;

-- spilled: at work_mem 64kB most partitions are written out, their
-- customers and then their rows, and merged back; the same rows
SET work_mem = '64kB';
SET jit = off;
SET client_min_messages = debug1;
SELECT count(*) AS rows_differing FROM (
    (SELECT * FROM clm.rfm_table('orders', '2026-01-01 00:00+00', 'customer') EXCEPT ALL SELECT * FROM expected)
    UNION ALL
    (SELECT * FROM expected EXCEPT ALL SELECT * FROM clm.rfm_table('orders', '2026-01-01 00:00+00', 'customer'))) d;
RESET client_min_messages;
RESET jit;
RESET work_mem;

-- other bins and another rule set
INSERT INTO clm.rfm_segment_rule (ruleset, segment, r_min, r_max, f_min, f_max, m_min, m_max, label_en)
VALUES ('rfm_table_test', 'recent', 3, 3, 1, 3, 1, 3, 'Recent'),
       ('rfm_table_test', 'older', 1, 2, 1, 3, 1, 3, 'Older');
SELECT count(*) AS rows_differing FROM (
    (SELECT * FROM clm.rfm_table('orders', '2026-01-01 00:00+00', 'customer', bins => 3, ruleset => 'rfm_table_test')
     EXCEPT ALL SELECT * FROM pipeline(3, 'rfm_table_test'))
    UNION ALL
    (SELECT * FROM pipeline(3, 'rfm_table_test')
     EXCEPT ALL SELECT * FROM clm.rfm_table('orders', '2026-01-01 00:00+00', 'customer', bins => 3, ruleset => 'rfm_table_test'))) d;
DELETE FROM clm.rfm_segment_rule WHERE ruleset = 'rfm_table_test';

-- the customers without a counted row: present, every metric NULL
SELECT customer_id, recency_days, frequency, monetary, r, f, m, score, segment
FROM clm.rfm_table('orders', '2026-01-01 00:00+00', 'customer')
WHERE customer_id BETWEEN 123456789 AND 123456791 ORDER BY 1;

-- other column names and types: integer ids, date, real and integer amounts,
-- through a view; each as the pipeline over the same rows
CREATE TABLE small (id integer, day date, price real, cents integer);
INSERT INTO small
SELECT i % 97, date '2025-01-01' + (i * 13 % 300), (i % 50) * 1.25, (i % 50) * 125
FROM generate_series(1, 3000) i;
CREATE VIEW small_view AS SELECT id AS customer_id, day AS ordered_at, cents AS amount FROM small;
WITH a AS (SELECT id, clm.rfm_agg(day, price::float8, '2026-01-01') AS rfm FROM small GROUP BY id),
     t AS (SELECT clm.rfm_thresholds(rfm) AS th FROM a),
     p AS (SELECT id, (rfm).frequency, (rfm).monetary, (rfm).recency_days, (s).score, clm.rfm_segment(s) AS segment
           FROM (SELECT id, rfm, clm.rfm_score(rfm, th) AS s FROM a, t) x),
     q AS (SELECT customer_id, frequency, monetary, recency_days, score, segment
           FROM clm.rfm_table('small', '2026-01-01', 'id', 'day', 'price'))
SELECT count(*) AS rows_differing FROM (
    (SELECT * FROM q EXCEPT ALL SELECT * FROM p) UNION ALL (SELECT * FROM p EXCEPT ALL SELECT * FROM q)) d;
-- integer amounts are summed exactly, as clm.rfm_agg sums bigint amounts
WITH a AS (SELECT customer_id, clm.rfm_agg(ordered_at, amount::bigint, '2026-01-01') AS rfm
           FROM small_view GROUP BY customer_id),
     t AS (SELECT clm.rfm_thresholds(rfm) AS th FROM a),
     p AS (SELECT customer_id, (rfm).frequency, (rfm).monetary, (clm.rfm_score(rfm, th)).score FROM a, t),
     q AS (SELECT customer_id, frequency, monetary, score FROM clm.rfm_table('small_view', '2026-01-01'))
SELECT count(*) AS rows_differing FROM (
    (SELECT * FROM q EXCEPT ALL SELECT * FROM p) UNION ALL (SELECT * FROM p EXCEPT ALL SELECT * FROM q)) d;
SELECT pg_typeof(monetary) AS monetary_type, count(*) FROM clm.rfm_table('small_view', '2026-01-01') GROUP BY 1;

-- uuid ids
CREATE TABLE uorders AS
SELECT md5(customer::text)::uuid AS customer_id, ordered_at, amount FROM orders WHERE customer IS NOT NULL;
SELECT count(*) AS rows_differing FROM (
    (SELECT * FROM clm.rfm_table_uuid('uorders', '2026-01-01 00:00+00')
     EXCEPT ALL
     SELECT md5(customer_id::text)::uuid, recency_days, frequency, monetary, first_at, last_at, tenure_days,
            mean_gap_days, r, f, m, score, segment FROM expected)
    UNION ALL
    (SELECT md5(customer_id::text)::uuid, recency_days, frequency, monetary, first_at, last_at, tenure_days,
            mean_gap_days, r, f, m, score, segment FROM expected
     EXCEPT ALL
     SELECT * FROM clm.rfm_table_uuid('uorders', '2026-01-01 00:00+00'))) d;

-- spilled with uuid ids, and with double precision and bigint amounts: the
-- same rows as in memory (spilled rows are written in each type's own form)
CREATE TABLE forders AS
SELECT customer, ordered_at, amount::float8 AS amount, (amount * 100)::bigint AS cents FROM orders;
CREATE TABLE in_memory_uuid AS SELECT * FROM clm.rfm_table_uuid('uorders', '2026-01-01 00:00+00');
CREATE TABLE in_memory_float AS SELECT * FROM clm.rfm_table('forders', '2026-01-01 00:00+00', 'customer');
CREATE TABLE in_memory_cents AS
SELECT * FROM clm.rfm_table('forders', '2026-01-01 00:00+00', 'customer', amount_column => 'cents');
SELECT count(*) AS customers, count(DISTINCT pg_typeof(monetary)) AS types FROM in_memory_float;
CREATE TABLE spilled_uuid (LIKE in_memory_uuid);
CREATE TABLE spilled_float (LIKE in_memory_float);
CREATE TABLE spilled_cents (LIKE in_memory_cents);
SET work_mem = '64kB';
SET client_min_messages = debug1;
INSERT INTO spilled_uuid SELECT * FROM clm.rfm_table_uuid('uorders', '2026-01-01 00:00+00');
INSERT INTO spilled_float SELECT * FROM clm.rfm_table('forders', '2026-01-01 00:00+00', 'customer');
INSERT INTO spilled_cents
SELECT * FROM clm.rfm_table('forders', '2026-01-01 00:00+00', 'customer', amount_column => 'cents');
RESET client_min_messages;
RESET work_mem;
SELECT 'uuid' AS ids, count(*) AS rows_differing FROM (
    (SELECT * FROM in_memory_uuid EXCEPT ALL SELECT * FROM spilled_uuid)
    UNION ALL (SELECT * FROM spilled_uuid EXCEPT ALL SELECT * FROM in_memory_uuid)) d
UNION ALL
SELECT 'float8 amounts', count(*) FROM (
    (SELECT * FROM in_memory_float EXCEPT ALL SELECT * FROM spilled_float)
    UNION ALL (SELECT * FROM spilled_float EXCEPT ALL SELECT * FROM in_memory_float)) d
UNION ALL
SELECT 'bigint amounts', count(*) FROM (
    (SELECT * FROM in_memory_cents EXCEPT ALL SELECT * FROM spilled_cents)
    UNION ALL (SELECT * FROM spilled_cents EXCEPT ALL SELECT * FROM in_memory_cents)) d;
SELECT (SELECT count(*) FROM spilled_uuid) AS uuid_customers, (SELECT count(*) FROM spilled_float) AS float_customers,
       (SELECT count(*) FROM spilled_cents) AS bigint_customers;
DROP TABLE forders, in_memory_uuid, in_memory_float, in_memory_cents, spilled_uuid, spilled_float, spilled_cents;

-- no orders: no rows
CREATE TABLE empty_orders (customer_id bigint, ordered_at timestamptz, amount numeric);
SELECT count(*) FROM clm.rfm_table('empty_orders', '2026-01-01');

-- the calling role's rights: no SELECT, no rows; row-level security applies
CREATE ROLE regress_rfm_table_reader;
CREATE ROLE regress_rfm_table_nobody;
GRANT USAGE ON SCHEMA rfm_table_test TO regress_rfm_table_reader, regress_rfm_table_nobody;
GRANT SELECT ON small TO regress_rfm_table_reader;
ALTER TABLE small ENABLE ROW LEVEL SECURITY;
CREATE POLICY low_ids ON small FOR SELECT TO regress_rfm_table_reader USING (id < 10);
SET ROLE regress_rfm_table_reader;
SELECT count(*) AS customers, max(customer_id) AS max_id FROM clm.rfm_table('small', '2026-01-01', 'id', 'day', 'price');
SET ROLE regress_rfm_table_nobody;
SELECT count(*) FROM clm.rfm_table('small', '2026-01-01', 'id', 'day', 'price');
RESET ROLE;
DROP POLICY low_ids ON small;
ALTER TABLE small DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON small FROM regress_rfm_table_reader;
REVOKE ALL ON SCHEMA rfm_table_test FROM regress_rfm_table_reader, regress_rfm_table_nobody;
DROP ROLE regress_rfm_table_reader, regress_rfm_table_nobody;

-- bad input
SELECT * FROM clm.rfm_table(NULL, '2026-01-01');
SELECT * FROM clm.rfm_table('orders', NULL, 'customer');
SELECT * FROM clm.rfm_table('orders', 'infinity', 'customer');
SELECT * FROM clm.rfm_table('orders', '2026-01-01', NULL);
SELECT * FROM clm.rfm_table('orders', '2026-01-01', 'customer', bins => NULL);
SELECT * FROM clm.rfm_table('orders', '2026-01-01', 'customer', ruleset => NULL);
SELECT * FROM clm.rfm_table('orders', '2026-01-01', 'customer', bins => 1);
SELECT * FROM clm.rfm_table('orders', '2026-01-01', 'customer', bins => 10);
SELECT * FROM clm.rfm_table('orders', '2026-01-01', 'customer', ruleset => 'no_such_rules');
SELECT * FROM clm.rfm_table('orders', '2026-01-01');
SELECT * FROM clm.rfm_table('orders', '2026-01-01', 'customer', 'placed_at');
SELECT * FROM clm.rfm_table('orders', '2026-01-01', 'ctid');
SELECT * FROM clm.rfm_table('uorders', '2026-01-01');
SELECT * FROM clm.rfm_table_uuid('orders', '2026-01-01', 'customer');
SELECT * FROM clm.rfm_table('orders', '2026-01-01', 'customer', 'amount');
SELECT * FROM clm.rfm_table('orders', '2026-01-01', 'customer', amount_column => 'ordered_at');
SELECT * FROM clm.rfm_table(0::regclass, '2026-01-01');
CREATE INDEX orders_customer ON orders (customer);
SELECT * FROM clm.rfm_table('orders_customer', '2026-01-01', 'customer');
-- bad rows: the aggregate's errors
INSERT INTO small VALUES (1, 'infinity', 1, 1);
SELECT count(*) FROM clm.rfm_table('small', '2026-01-01', 'id', 'day', 'price');
DELETE FROM small WHERE day = 'infinity';
INSERT INTO small VALUES (1, '2025-01-01', 'NaN', 1);
SELECT count(*) FROM clm.rfm_table('small', '2026-01-01', 'id', 'day', 'price');

RESET search_path;
DROP SCHEMA rfm_table_test CASCADE;
