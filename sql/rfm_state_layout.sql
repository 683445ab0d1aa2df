--
-- rfm_state_layout: the two lengths of clm.rfm_state (64 bytes until a
-- refund, then 80), the widening of a short state by the transition and
-- combine functions, and stored bytes that break the layout's rules
--
\set VERBOSITY default
CREATE SCHEMA rfm_layout_test;
SET search_path = rfm_layout_test, public;

-- a state without refunds is short, one with a refund is full, whatever
-- the amount type and wherever the refund comes
SELECT pg_column_size(clm.rfm_state_agg(t, a)) AS no_refund,
       pg_column_size(clm.rfm_state_agg(t, a - 3)) AS refund_last,
       pg_column_size(clm.rfm_state_agg(t, CASE WHEN t = '2024-01-01+00' THEN -a ELSE a END)) AS refund_first,
       pg_column_size(clm.rfm_state_agg(t, a::float8)) AS no_refund_float8,
       pg_column_size(clm.rfm_state_agg(t, (a - 3)::float8)) AS refund_float8,
       pg_column_size(clm.rfm_state_agg(t, a::bigint)) AS no_refund_bigint,
       pg_column_size(clm.rfm_state_agg(t, (a - 3)::bigint)) AS refund_bigint,
       pg_column_size(clm.rfm_state_agg(t, 0::numeric)) AS zero_is_a_purchase
FROM (VALUES (timestamptz '2024-01-01 00:00+00', 5.0), ('2024-02-01 00:00+00', 2.0)) v(t, a);

-- widening keeps everything counted before it: a refund after purchases,
-- before them and alone, against plain SQL
CREATE TABLE orders (customer int, ordered_at timestamptz, amount numeric);
INSERT INTO orders VALUES
    (1, '2024-01-01 00:00+00', 10.00), (1, '2024-02-01 00:00+00', 20.50), (1, '2024-03-01 00:00+00', -4.25),
    (2, '2024-03-01 00:00+00', -1.5), (2, '2024-01-15 00:00+00', 7), (2, '2024-01-20 00:00+00', 8.125),
    (3, '2024-04-01 00:00+00', -2.00),
    (4, '2024-01-01 00:00+00', 3), (4, '2024-05-01 00:00+00', 4);
SELECT customer, (r).frequency, (r).monetary, (r).last_at, (r).first_at,
       (r).frequency = count(*) FILTER (WHERE amount >= 0)
         AND (r).monetary = sum(amount) AS matches_sql
FROM (SELECT customer, clm.rfm_agg(ordered_at, amount, timestamptz '2024-06-01 00:00+00') AS r
      FROM orders GROUP BY customer) x
JOIN orders USING (customer)
GROUP BY customer, r ORDER BY customer;
-- the latest row (a refund) of a widened state still guards clm.rfm_final
SELECT clm.rfm_final(clm.rfm_state_agg(ordered_at, amount), timestamptz '2024-03-15 00:00+00')
FROM orders WHERE customer = 2;
SELECT clm.rfm_final(clm.rfm_state_agg(ordered_at, amount), timestamptz '2024-02-15 00:00+00')
FROM orders WHERE customer = 2;

-- a running window (frame from the partition start) uses the plain
-- transition function: the state is widened in the middle of a partition
-- and every row's value equals a GROUP BY over the rows up to it
SELECT count(*) AS rows,
       count(*) FILTER (WHERE w::text = (SELECT clm.rfm_agg(o2.ordered_at, o2.amount, timestamptz '2024-06-01 00:00+00')::text
                                        FROM orders o2
                                        WHERE o2.customer = o.customer AND o2.ordered_at <= o.ordered_at)) AS equal
FROM (SELECT customer, ordered_at,
             clm.rfm_agg(ordered_at, amount, timestamptz '2024-06-01 00:00+00')
                 OVER (PARTITION BY customer ORDER BY ordered_at) AS w
      FROM orders) o;

-- merging: short into full, full into short, short into short, in every
-- order, gives what one aggregate over all the rows gives
CREATE TABLE parts AS
SELECT customer, date_trunc('month', ordered_at) AS month, clm.rfm_state_agg(ordered_at, amount) AS st
FROM orders GROUP BY 1, 2;
SELECT customer, array_agg(pg_column_size(st) ORDER BY month) AS sizes FROM parts GROUP BY 1 ORDER BY 1;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE fwd::text = whole::text AND bwd::text = whole::text) AS identical
FROM (SELECT customer, clm.rfm_merge(st ORDER BY month) AS fwd, clm.rfm_merge(st ORDER BY month DESC) AS bwd
      FROM parts GROUP BY customer) m
JOIN (SELECT customer, clm.rfm_state_agg(ordered_at, amount) AS whole FROM orders GROUP BY customer) w
USING (customer);

-- text and binary input give the short form when there is no refund
SELECT pg_column_size('(1,d,1,2,2,0,757382400000000,760060800000000,760060800000000,,250000)'::clm.rfm_state) AS short,
       pg_column_size('(1,d,1,2,2,1,757382400000000,760060800000000,762566400000000,,250000)'::clm.rfm_state) AS full;
-- a state without refunds whose latest row is not its last purchase
-- cannot be made by clm
SELECT '(1,d,1,2,2,0,757382400000000,760060800000000,762566400000000,,250000)'::clm.rfm_state;

-- parallel plans: workers' short and full partial states combine into the
-- same results as a serial plan
CREATE TABLE big (customer int, ordered_at timestamptz, amount numeric);
INSERT INTO big
SELECT i % 2000, timestamptz '2024-01-01 00:00+00' + (i % 700) * interval '1 day',
       CASE WHEN i % 97 = 0 THEN -1.25 ELSE (i % 300) / 4.0 END
FROM generate_series(1, 60000) i;
ANALYZE big;
CREATE TABLE serial_result AS
SELECT customer, clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00')::text AS r
FROM big GROUP BY customer;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SET enable_sort = off;
EXPLAIN (COSTS OFF)
SELECT customer, clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00') FROM big GROUP BY customer;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE p.r = s.r) AS identical,
       count(*) FILTER (WHERE (p.r::clm.rfm).frequency < p.n) AS with_refunds
FROM (SELECT customer, clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00')::text AS r, count(*) AS n
      FROM big GROUP BY customer) p
FULL JOIN serial_result s USING (customer);
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
RESET enable_sort;

-- clm.rfm_agg_final called by hand on a state checks it first
SELECT clm.rfm_agg_final('(1,d,1,2,2,0,757382400000000,760060800000000,760060800000000,762566400000000,250000)');
SELECT clm.rfm_agg_final(clm.rfm_state_agg(ordered_at, amount)) IS NULL AS no_as_of FROM orders;

-- Stored bytes are checked when read.  A stand-in type with bytea's input
-- lets the test write bytes into a clm.rfm_state; the bytes are
-- little-endian, as on x86-64 and arm64.
-- (PostgreSQL 18 adds a cursor position to the shell-type notices: silenced)
SET client_min_messages = warning;
CREATE TYPE raw_state;
CREATE FUNCTION raw_state_in(cstring) RETURNS raw_state AS 'byteain' LANGUAGE internal IMMUTABLE STRICT;
CREATE FUNCTION raw_state_out(raw_state) RETURNS cstring AS 'byteaout' LANGUAGE internal IMMUTABLE STRICT;
CREATE TYPE raw_state (INPUT = raw_state_in, OUTPUT = raw_state_out,
                       INTERNALLENGTH = VARIABLE, ALIGNMENT = double, STORAGE = plain);
RESET client_min_messages;
CREATE CAST (raw_state AS clm.rfm_state) WITHOUT FUNCTION;
-- little-endian bytes of an integer, as hex
CREATE FUNCTION le(v bigint, nbytes int) RETURNS text LANGUAGE sql IMMUTABLE
RETURN (SELECT string_agg(lpad(to_hex(get_byte(int8send(v), 7 - i)), 2, '0'), '' ORDER BY i)
        FROM generate_series(0, nbytes - 1) i);
-- a full state in the current layout (version byte 2): 2 purchases
-- (2024-01-01, 2024-02-01), 1 refund (2024-03-01), sum 23.00 - 1.50 = 21.50
-- at one fractional digit group, display scale 2, no as_of; with the given
-- version byte and purchase count
CREATE FUNCTION full_state(version int, purchases bigint)
RETURNS clm.rfm_state LANGUAGE sql IMMUTABLE
RETURN ('\x' || le(version, 1) || '01' || '00' || '01' || le(2, 4) || le(0, 4)
        || le(purchases, 8)
        || le(757382400000000, 8) || le(760060800000000, 8)      -- first_at, last_at
        || le(0, 8) || le(215000, 8) || le(0, 8)                  -- as_of, sum
        || le(1, 8) || le(762566400000000, 8))::raw_state::clm.rfm_state;  -- refunds, latest_at
-- the bytes as they are: 80 of them, read as written
CREATE TABLE stored (id int, st clm.rfm_state);
INSERT INTO stored VALUES (1, full_state(2, 2));
SELECT pg_column_size(st) AS stored_bytes, st::text,
       st::text = (SELECT clm.rfm_state_agg(t, a)::text
                   FROM (VALUES (timestamptz '2024-01-01 00:00+00', 10.00), ('2024-02-01 00:00+00', 13.00),
                                ('2024-03-01 00:00+00', -1.50)) v(t, a)) AS same_as_built
FROM stored;
SELECT (clm.rfm_final(st, timestamptz '2024-06-01 00:00+00')).* FROM stored;
-- a user's aggregate over stored states can finish with clm.rfm_agg_final,
-- which gives what a call by hand gives
CREATE TABLE stored_asof (id int, st clm.rfm_state);
INSERT INTO stored_asof
VALUES (1, '(1,d,1,2,2,0,757382400000000,760060800000000,760060800000000,775267200000000,230000)');
CREATE FUNCTION pick(s clm.rfm_state, x clm.rfm_state) RETURNS clm.rfm_state
LANGUAGE sql IMMUTABLE RETURN coalesce(x, s);
CREATE AGGREGATE last_state(clm.rfm_state) (SFUNC = pick, STYPE = clm.rfm_state,
                                            FINALFUNC = clm.rfm_agg_final);
SELECT (SELECT last_state(st) FROM stored_asof) AS via_aggregate,
       (SELECT clm.rfm_agg_final(st) FROM stored_asof) AS by_hand;
-- clm.rfm_agg_final refuses a state holding orders after its as_of, as
-- clm.rfm_final does: here a state without as_of (an order on 2024-03-01)
-- merged into one built with as_of 2024-01-15
CREATE AGGREGATE state_asof(timestamptz, numeric, timestamptz) (SFUNC = clm.rfm_trans, STYPE = clm.rfm_state);
SELECT clm.rfm_agg_final(clm.rfm_merge(s))
FROM (SELECT state_asof(t, a, '2024-01-15 00:00+00') FROM (VALUES (timestamptz '2024-01-01 00:00+00', 5.0)) v(t, a)
      UNION ALL
      SELECT clm.rfm_state_agg(t, a) FROM (VALUES (timestamptz '2024-03-01 00:00+00', 7.0)) v(t, a)) x(s);
SELECT clm.rfm_agg_final('(1,d,1,2,2,0,757382400000000,760060800000000,760060800000000,700000000000000,250000)');
-- bytes that break the layout's rules
SELECT full_state(2, -2)::text;                              -- negative count
SELECT full_state(1, 2)::text;                               -- version 1: unknown too
SELECT full_state(7, 2)::text;                               -- unknown version
SELECT ('\x02' || repeat('00', 69))::raw_state::clm.rfm_state::text;   -- wrong length
SELECT clm.rfm_merge(st)                                              -- reserved field set
FROM (SELECT ('\x02000000' || '00000000' || '01000000' || repeat('00', 48))::raw_state::clm.rfm_state) x(st);

RESET search_path;
DROP SCHEMA rfm_layout_test CASCADE;
