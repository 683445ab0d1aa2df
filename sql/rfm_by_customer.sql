--
-- rfm_by_customer: clm.rfm_agg_by_customer gives, for every customer, what
-- clm.rfm_agg gives with GROUP BY customer_id: serial, parallel and
-- partitionwise, for the three amount types, with NULLs, refunds and rows
-- after as_of; and it rejects bad input as clm.rfm_agg does.
--
\set VERBOSITY default
CREATE SCHEMA rfm_by_customer_test;
SET search_path = rfm_by_customer_test, public;

-- 60,000 orders over about 2,000 customers (skewed: some have hundreds of
-- orders, so partition buffers fill and are applied many times), refunds
-- every 23rd row, some rows with NULLs, some after as_of, and ids spread
-- over the whole bigint range
CREATE TABLE orders (customer bigint, ordered_at timestamptz, amount numeric)
    WITH (parallel_workers = 2);
INSERT INTO orders
SELECT CASE WHEN i % 997 = 0 THEN NULL
            WHEN i % 5 = 0 THEN -floor(2000 * power((i::bigint * 7919) % 100003 / 100003.0, 2))::bigint * 4611686018427387
            ELSE floor(2000 * power((i::bigint * 7919) % 100003 / 100003.0, 2))::bigint END,
       CASE WHEN i % 1009 = 0 THEN NULL
            ELSE timestamptz '2024-01-01 00:00+00' + ((i::bigint * 104729) % 800) * interval '1 day'
                 + (i % 86400) * interval '1 second' END,
       CASE WHEN i % 1013 = 0 THEN NULL
            WHEN i % 23 = 0 THEN -round((i % 40) / 7.0, 4)
            ELSE round((i * 37 % 90000) / 100.0, 2) END
FROM generate_series(1, 60000) i;
-- the extremes of the key range, and a customer whose only row is after as_of
INSERT INTO orders VALUES
    (9223372036854775807, '2025-01-01 00:00+00', 1.5),
    (-9223372036854775808, '2025-01-02 00:00+00', 2.25),
    (0, '2025-01-03 00:00+00', 0),
    (123456789, '2027-01-01 00:00+00', 10);
ANALYZE orders;

-- the reference: clm.rfm_agg with GROUP BY, serial
SET max_parallel_workers_per_gather = 0;
CREATE TABLE expected AS
SELECT customer AS customer_id,
       clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00')::text AS n,
       clm.rfm_agg(ordered_at, amount::float8, timestamptz '2026-01-01 00:00+00')::text AS f,
       clm.rfm_agg(ordered_at, (amount * 100)::bigint, timestamptz '2026-01-01 00:00+00')::text AS i
FROM orders WHERE customer IS NOT NULL GROUP BY customer;
SELECT count(*) AS customers, count(*) FILTER (WHERE n IS NULL) AS without_counted_rows FROM expected;

-- got(): the three overloads side by side
CREATE FUNCTION got() RETURNS TABLE (customer_id bigint, n text, f text, i text)
LANGUAGE sql STABLE SET search_path = rfm_by_customer_test, pg_catalog AS $$
    SELECT n.customer_id, n.rfm::text, f.rfm::text, i.rfm::text
    FROM unnest((SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, timestamptz '2026-01-01 00:00+00') FROM orders)) n
    FULL JOIN unnest((SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount::float8, timestamptz '2026-01-01 00:00+00') FROM orders)) f
        USING (customer_id)
    FULL JOIN unnest((SELECT clm.rfm_agg_by_customer(customer, ordered_at, (amount * 100)::bigint, timestamptz '2026-01-01 00:00+00') FROM orders)) i
        USING (customer_id)
$$;

-- serial: every customer once, each value equal as text to clm.rfm_agg's
SELECT count(*) AS customers, count(DISTINCT customer_id) AS distinct_ids FROM got();
SELECT count(*) AS rows_differing FROM (
    (SELECT * FROM got() EXCEPT SELECT * FROM expected)
    UNION ALL
    (SELECT * FROM expected EXCEPT SELECT * FROM got())) d;
-- the customer with only a row after as_of has an entry with a NULL rfm
SELECT customer_id, n IS NULL AS rfm_is_null FROM got() WHERE customer_id = 123456789;
-- spot values worked out by hand
SELECT customer_id, n FROM got()
WHERE customer_id IN (9223372036854775807, -9223372036854775808, 0) ORDER BY customer_id;

-- the order of the result depends only on the set of customers
SELECT (SELECT array_agg(customer_id) FROM unnest((SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, timestamptz '2026-01-01 00:00+00') FROM orders)))
     = (SELECT array_agg(customer_id) FROM unnest((SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, timestamptz '2026-01-01 00:00+00')
                                                   FROM (SELECT * FROM orders ORDER BY ordered_at DESC, amount) o)))
       AS same_order;

-- parallel: Partial Aggregate with the leader out, same answer
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, timestamptz '2026-01-01 00:00+00') FROM orders;
SELECT count(*) AS rows_differing FROM (
    (SELECT * FROM got() EXCEPT SELECT * FROM expected)
    UNION ALL
    (SELECT * FROM expected EXCEPT SELECT * FROM got())) d;
-- a parallel plan where a worker finds no rows
SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, timestamptz '2026-01-01 00:00+00') AS one
FROM orders WHERE customer = 9223372036854775807;
SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, timestamptz '2026-01-01 00:00+00') IS NULL AS empty
FROM orders WHERE customer = 12345;
RESET parallel_leader_participation;

-- partitionwise: a partial aggregate per partition, combined above
CREATE TABLE porders (customer bigint, ordered_at timestamptz, amount numeric) PARTITION BY HASH (customer);
CREATE TABLE porders_0 PARTITION OF porders FOR VALUES WITH (MODULUS 3, REMAINDER 0);
CREATE TABLE porders_1 PARTITION OF porders FOR VALUES WITH (MODULUS 3, REMAINDER 1);
CREATE TABLE porders_2 PARTITION OF porders FOR VALUES WITH (MODULUS 3, REMAINDER 2);
INSERT INTO porders SELECT * FROM orders;
ANALYZE porders;
SET max_parallel_workers_per_gather = 0;
SET enable_partitionwise_aggregate = on;
EXPLAIN (COSTS OFF)
SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, timestamptz '2026-01-01 00:00+00') FROM porders;
CREATE TABLE got_partitionwise AS
SELECT customer_id, rfm::text AS n
FROM unnest((SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, timestamptz '2026-01-01 00:00+00') FROM porders));
SELECT count(*) AS rows_differing FROM (
    (SELECT * FROM got_partitionwise EXCEPT SELECT customer_id, n FROM expected)
    UNION ALL
    (SELECT customer_id, n FROM expected EXCEPT SELECT * FROM got_partitionwise)) d;
RESET enable_partitionwise_aggregate;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;

-- split by GROUP BY (how results beyond one array's limit are made): the
-- same customers
CREATE TABLE got_split AS
SELECT r.customer_id, r.rfm::text AS n
FROM (SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, timestamptz '2026-01-01 00:00+00') AS a
      FROM orders GROUP BY abs(customer % 4)) s, unnest(s.a) r;
SELECT count(*) AS rows_differing FROM (
    (SELECT * FROM got_split EXCEPT SELECT customer_id, n FROM expected)
    UNION ALL
    (SELECT customer_id, n FROM expected EXCEPT SELECT * FROM got_split)) d;

-- a customer id of type integer is cast to bigint
SELECT * FROM unnest((SELECT clm.rfm_agg_by_customer(c, t, a, timestamptz '2024-02-01 00:00+00')
                      FROM (VALUES (1::int, timestamptz '2024-01-01 00:00+00', 10.50),
                                   (1::int, timestamptz '2024-01-11 00:00+00', 4.5)) v(c, t, a)));

-- no rows, and rows without a customer: NULL
SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, timestamptz '2026-01-01 00:00+00') IS NULL AS no_rows
FROM orders WHERE false;
SELECT clm.rfm_agg_by_customer(NULL::bigint, ordered_at, amount, timestamptz '2026-01-01 00:00+00') IS NULL AS no_customers
FROM orders;

-- uuid customer ids: the same orders keyed by a uuid per customer (md5 of
-- the bigint id), plus the smallest and largest uuid; compared with
-- clm.rfm_agg GROUP BY on the uuid, serial and parallel
CREATE TABLE uorders AS
SELECT CASE WHEN customer IS NULL THEN NULL ELSE md5(customer::text)::uuid END AS customer,
       ordered_at, amount
FROM orders;
INSERT INTO uorders VALUES
    ('00000000-0000-0000-0000-000000000000', '2025-01-01 00:00+00', 1.5),
    ('ffffffff-ffff-ffff-ffff-ffffffffffff', '2025-01-02 00:00+00', 2.25),
    ('80000000-0000-0000-0000-000000000000', '2025-01-03 00:00+00', 3);
ALTER TABLE uorders SET (parallel_workers = 2);
ANALYZE uorders;
SET max_parallel_workers_per_gather = 0;
CREATE TABLE uexpected AS
SELECT customer AS customer_id,
       clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00')::text AS n,
       clm.rfm_agg(ordered_at, amount::float8, timestamptz '2026-01-01 00:00+00')::text AS f,
       clm.rfm_agg(ordered_at, (amount * 100)::bigint, timestamptz '2026-01-01 00:00+00')::text AS i
FROM uorders WHERE customer IS NOT NULL GROUP BY customer;
CREATE FUNCTION ugot() RETURNS TABLE (customer_id uuid, n text, f text, i text)
LANGUAGE sql STABLE SET search_path = rfm_by_customer_test, pg_catalog AS $$
    SELECT n.customer_id, n.rfm::text, f.rfm::text, i.rfm::text
    FROM unnest((SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, timestamptz '2026-01-01 00:00+00') FROM uorders)) n
    FULL JOIN unnest((SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount::float8, timestamptz '2026-01-01 00:00+00') FROM uorders)) f
        USING (customer_id)
    FULL JOIN unnest((SELECT clm.rfm_agg_by_customer(customer, ordered_at, (amount * 100)::bigint, timestamptz '2026-01-01 00:00+00') FROM uorders)) i
        USING (customer_id)
$$;
SELECT pg_typeof((SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, timestamptz '2026-01-01 00:00+00') FROM uorders)) AS result_type;
SELECT (SELECT count(*) FROM uexpected) AS customers, count(*) AS got, count(DISTINCT customer_id) AS distinct_ids FROM ugot();
SELECT count(*) AS rows_differing FROM (
    (SELECT * FROM ugot() EXCEPT SELECT * FROM uexpected)
    UNION ALL
    (SELECT * FROM uexpected EXCEPT SELECT * FROM ugot())) d;
-- the extreme ids come back unchanged
SELECT customer_id, n FROM ugot()
WHERE customer_id IN ('00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
                      '80000000-0000-0000-0000-000000000000')
ORDER BY customer_id;
-- within a partition the ids come in id order, so the array can only step
-- down where a partition ends: fewer than 1,024 times (were the keys not
-- ordered like the ids, about half of the 20,000 steps would go down); the
-- same for bigint ids of both signs
SELECT count(*) FILTER (WHERE id > next_id) < 1024 AS uuid_ordered_within_partitions, count(*) AS steps
FROM (SELECT customer_id AS id, lead(customer_id) OVER (ORDER BY n) AS next_id
      FROM unnest((SELECT clm.rfm_agg_by_customer(md5(i::text)::uuid, timestamptz '2025-01-01 00:00+00', 1, timestamptz '2026-01-01 00:00+00')
                   FROM generate_series(1, 20001) i)) WITH ORDINALITY AS r(customer_id, rfm, n)) s
WHERE next_id IS NOT NULL;
SELECT count(*) FILTER (WHERE id > next_id) < 1024 AS bigint_ordered_within_partitions, count(*) AS steps
FROM (SELECT customer_id AS id, lead(customer_id) OVER (ORDER BY n) AS next_id
      FROM unnest((SELECT clm.rfm_agg_by_customer((i - 10000) * 461168601842738, timestamptz '2025-01-01 00:00+00', 1, timestamptz '2026-01-01 00:00+00')
                   FROM generate_series(0, 20000) i)) WITH ORDINALITY AS r(customer_id, rfm, n)) s
WHERE next_id IS NOT NULL;
-- the order of the result depends only on the set of ids
SELECT (SELECT array_agg(customer_id) FROM unnest((SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, timestamptz '2026-01-01 00:00+00') FROM uorders)))
     = (SELECT array_agg(customer_id) FROM unnest((SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, timestamptz '2026-01-01 00:00+00')
                                                   FROM (SELECT * FROM uorders ORDER BY ordered_at DESC, amount) o)))
       AS same_order;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, timestamptz '2026-01-01 00:00+00') FROM uorders;
SELECT count(*) AS rows_differing FROM (
    (SELECT * FROM ugot() EXCEPT SELECT * FROM uexpected)
    UNION ALL
    (SELECT * FROM uexpected EXCEPT SELECT * FROM ugot())) d;
-- a parallel plan where a worker finds no rows
SELECT (SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, timestamptz '2026-01-01 00:00+00')
        FROM uorders WHERE customer = 'ffffffff-ffff-ffff-ffff-ffffffffffff') AS one;
RESET parallel_leader_participation;
-- partitionwise on uuid ids: partial states merged in memory, no
-- serialization
CREATE TABLE puorders (customer uuid, ordered_at timestamptz, amount numeric) PARTITION BY HASH (customer);
CREATE TABLE puorders_0 PARTITION OF puorders FOR VALUES WITH (MODULUS 3, REMAINDER 0);
CREATE TABLE puorders_1 PARTITION OF puorders FOR VALUES WITH (MODULUS 3, REMAINDER 1);
CREATE TABLE puorders_2 PARTITION OF puorders FOR VALUES WITH (MODULUS 3, REMAINDER 2);
INSERT INTO puorders SELECT * FROM uorders;
ANALYZE puorders;
SET max_parallel_workers_per_gather = 0;
SET enable_partitionwise_aggregate = on;
EXPLAIN (COSTS OFF)
SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, timestamptz '2026-01-01 00:00+00') FROM puorders;
SELECT count(*) AS rows_differing FROM (
    (SELECT r.customer_id, r.rfm::text
     FROM unnest((SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, timestamptz '2026-01-01 00:00+00') FROM puorders)) r
     EXCEPT SELECT customer_id, n FROM uexpected)
    UNION ALL
    (SELECT customer_id, n FROM uexpected
     EXCEPT SELECT r.customer_id, r.rfm::text
     FROM unnest((SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, timestamptz '2026-01-01 00:00+00') FROM puorders)) r)) d;
RESET enable_partitionwise_aggregate;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
-- split by the first hex digit (the documented way past the size limit)
SELECT count(*) AS rows_differing FROM (
    (SELECT r.customer_id, r.rfm::text FROM
        (SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, timestamptz '2026-01-01 00:00+00') AS a
         FROM uorders GROUP BY left(customer::text, 1)) s, unnest(s.a) r
     EXCEPT SELECT customer_id, n FROM uexpected)
    UNION ALL
    (SELECT customer_id, n FROM uexpected
     EXCEPT SELECT r.customer_id, r.rfm::text FROM
        (SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, timestamptz '2026-01-01 00:00+00') AS a
         FROM uorders GROUP BY left(customer::text, 1)) s, unnest(s.a) r)) d;
-- bad input with uuid ids: the same checks
SELECT clm.rfm_agg_by_customer(gen_random_uuid(), timestamptz '2024-01-01 00:00+00', 1.0, NULL);
SELECT clm.rfm_agg_by_customer(gen_random_uuid(), timestamptz '2024-01-01 00:00+00', 'NaN'::numeric, timestamptz '2026-01-01 00:00+00');
SELECT clm.rfm_agg_by_customer(gen_random_uuid(), 'infinity', 1.0::float8, timestamptz '2026-01-01 00:00+00');
SELECT clm.rfm_agg_by_customer(NULL::uuid, timestamptz '2024-01-01 00:00+00', 1::bigint, timestamptz '2026-01-01 00:00+00') IS NULL AS no_customers;
-- a hand-made aggregate that puts the uuid transition together with the
-- bigint final function: an error, not a misread id
CREATE AGGREGATE mixed_ids(uuid, timestamptz, numeric, timestamptz) (
    SFUNC = clm.rfm_customers_trans, STYPE = internal, FINALFUNC = clm.rfm_customers_final);
SELECT mixed_ids(gen_random_uuid(), timestamptz '2024-01-01 00:00+00', 1.0, timestamptz '2026-01-01 00:00+00');

-- bad input: the same errors as clm.rfm_agg
SELECT clm.rfm_agg_by_customer(1, timestamptz '2024-01-01 00:00+00', 1.0, NULL);
SELECT clm.rfm_agg_by_customer(1, timestamptz '2024-01-01 00:00+00', 1.0, 'infinity');
SELECT clm.rfm_agg_by_customer(c, timestamptz '2024-01-01 00:00+00', 1.0, a)
FROM (VALUES (1, timestamptz '2025-01-01 00:00+00'), (2, timestamptz '2025-06-01 00:00+00')) v(c, a);
SELECT clm.rfm_agg_by_customer(1, 'infinity', 1.0, timestamptz '2026-01-01 00:00+00');
SELECT clm.rfm_agg_by_customer(1, '-infinity', 1.0, timestamptz '2026-01-01 00:00+00');
SELECT clm.rfm_agg_by_customer(1, timestamptz '2024-01-01 00:00+00', 'NaN'::numeric, timestamptz '2026-01-01 00:00+00');
SELECT clm.rfm_agg_by_customer(1, timestamptz '2024-01-01 00:00+00', 'Infinity'::numeric, timestamptz '2026-01-01 00:00+00');
SELECT clm.rfm_agg_by_customer(1, timestamptz '2024-01-01 00:00+00', 'NaN'::float8, timestamptz '2026-01-01 00:00+00');
SELECT clm.rfm_agg_by_customer(1, timestamptz '2024-01-01 00:00+00', 1e300::float8, timestamptz '2026-01-01 00:00+00');
SELECT clm.rfm_agg_by_customer(1, timestamptz '2024-01-01 00:00+00', 1e40::numeric, timestamptz '2026-01-01 00:00+00');
-- a sum beyond 38 digits, reached over many rows of one customer
SELECT clm.rfm_agg_by_customer(1, timestamptz '2024-01-01 00:00+00', 9e35::numeric, timestamptz '2026-01-01 00:00+00')
FROM generate_series(1, 200);
-- bad rows after good ones, in a buffer not yet applied: still an error
SELECT clm.rfm_agg_by_customer(c, timestamptz '2024-01-01 00:00+00', a, timestamptz '2026-01-01 00:00+00')
FROM (SELECT 1 AS c, CASE WHEN i = 50 THEN 'NaN'::float8 ELSE 1.0::float8 END AS a FROM generate_series(1, 100) i) v;

RESET search_path;
DROP SCHEMA rfm_by_customer_test CASCADE;
