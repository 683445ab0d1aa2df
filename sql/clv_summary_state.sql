--
-- clv_summary_state: clm.purchase_summary_state, the mergeable state of
-- clm.purchase_summary (clm.purchase_summary_state_agg, _merge, _final):
-- exact sums, any split and order of the orders gives the same bits, and
-- malformed states are clear errors.
--
\set VERBOSITY default
CREATE SCHEMA clv_summary_state_test;
SET search_path = clv_summary_state_test, public;

-- exact sums: 0.1 + 0.2 on one repeat day is 0.3, not 0.30000000000000004
-- as a sum in double precision gives
SELECT (s).x, (s).mean_spend, (s).mean_spend = 0.3::float8 AS exact
FROM (SELECT clm.purchase_summary(t, a, '2024-02-01', '1 day') AS s
      FROM (VALUES (timestamptz '2024-01-01 10:00+00', 1::numeric),
                   ('2024-01-05 10:00+00', 0.1), ('2024-01-05 11:00+00', 0.2)) v(t, a)) q;
-- scales mix exactly: 0.00001 + 1e20 + 1.5 over two repeat days
SELECT (s).mean_spend = ((0.00001 + 1e20 + 1.5) / 2)::float8 AS mixed_scales_exact
FROM (SELECT clm.purchase_summary(t, a, '2024-02-01', '1 day') AS s
      FROM (VALUES (timestamptz '2024-01-01', 7::numeric), ('2024-01-02', 0.00001),
                   ('2024-01-02', 1e20), ('2024-01-03', 1.5)) v(t, a)) q;

-- orders of 400 customers with amounts of two decimals
CREATE TABLE orders AS
SELECT i % 400 AS customer,
       timestamptz '2023-01-01 00:00+00' + ((i * 37) % 500) * interval '1 day' + (i % 5) * interval '5 hours' AS ordered_at,
       ((i * 7919) % 100000) / 100.0 AS amount, i
FROM generate_series(1, 20000) i;

CREATE TABLE whole AS
SELECT customer, clm.purchase_summary(ordered_at, amount, '2024-03-31 00:00+00', '7 days') AS s
FROM orders GROUP BY customer;

-- two levels: a state per customer and part (shard), merged per customer
CREATE FUNCTION merged(parts int) RETURNS TABLE (customer int, s clm.btyd_summary)
LANGUAGE sql AS $$
    SELECT customer, clm.purchase_summary_final(clm.purchase_summary_merge(st ORDER BY part DESC))
    FROM (SELECT customer, i % parts AS part,
                 clm.purchase_summary_state_agg(ordered_at, amount, '2024-03-31 00:00+00', '7 days') AS st
          FROM orders GROUP BY 1, 2) p
    GROUP BY customer
$$;
SELECT parts, count(*) AS customers,
       count(*) FILTER (WHERE m.s IS DISTINCT FROM w.s
                        OR (m.s).mean_spend::text IS DISTINCT FROM (w.s).mean_spend::text) AS differing
FROM generate_series(1, 4) parts, merged(parts) m JOIN whole w USING (customer)
GROUP BY parts ORDER BY parts;

-- the state itself does not depend on the order of the rows or the split
SELECT count(*) AS customers,
       count(*) FILTER (WHERE a::text IS DISTINCT FROM b::text) AS differing_states
FROM (SELECT customer,
             clm.purchase_summary_state_agg(ordered_at, amount, '2024-03-31 00:00+00', '7 days' ORDER BY i) AS a,
             clm.purchase_summary_state_agg(ordered_at, amount, '2024-03-31 00:00+00', '7 days' ORDER BY amount DESC, i) AS b
      FROM orders GROUP BY customer) q;
SELECT count(*) FILTER (WHERE m::text IS DISTINCT FROM w::text) AS differing_merged_states
FROM (SELECT customer, clm.purchase_summary_merge(st) AS m
      FROM (SELECT customer, (ordered_at::date) AS day,
                   clm.purchase_summary_state_agg(ordered_at, amount, '2024-03-31 00:00+00', '7 days') AS st
            FROM orders GROUP BY 1, 2) d GROUP BY customer) x
JOIN (SELECT customer, clm.purchase_summary_state_agg(ordered_at, amount, '2024-03-31 00:00+00', '7 days') AS w
      FROM orders GROUP BY customer) y USING (customer);

-- stored states survive text and binary round trips
CREATE TABLE stored AS
SELECT customer, clm.purchase_summary_state_agg(ordered_at, amount, '2024-03-31 00:00+00', '7 days') AS st
FROM orders GROUP BY customer;
SELECT count(*) FILTER (WHERE st::text::clm.purchase_summary_state::text <> st::text) AS text_round_trip_differs,
       count(*) FILTER (WHERE clm.purchase_summary_final(st) IS DISTINCT FROM w.s) AS final_differs
FROM stored JOIN whole w USING (customer);
COPY stored TO '/tmp/clv_summary_state.bin' WITH (FORMAT binary);
CREATE TABLE reloaded (LIKE stored);
COPY reloaded FROM '/tmp/clv_summary_state.bin' WITH (FORMAT binary);
SELECT count(*) AS reloaded, count(*) FILTER (WHERE r.st::text <> s.st::text) AS binary_round_trip_differs
FROM reloaded r JOIN stored s USING (customer);

-- one customer's state in text form: format 1, scale, cutoff, unit,
-- sums, days (hexadecimal)
SELECT clm.purchase_summary_state_agg(t, a, '2024-01-31 12:00+00', '7 days')
FROM (VALUES (timestamptz '2024-01-01 10:00+00', 10::numeric), ('2024-01-08', 20.5)) v(t, a);
-- no orders up to the cutoff: a state with no days, and a NULL summary
SELECT clm.purchase_summary_final(clm.purchase_summary_state_agg(t, 1, '2023-01-31', '7 days')) IS NULL AS empty_is_null
FROM (VALUES (timestamptz '2024-01-01')) v(t);
SELECT clm.purchase_summary_final(NULL) IS NULL AS null_is_null;
-- merging with nothing, and NULL states, changes nothing
SELECT clm.purchase_summary_combine(NULL, NULL) IS NULL AS both_null,
       clm.purchase_summary_combine(st, NULL)::text = st::text AS right_null,
       clm.purchase_summary_combine(NULL, st)::text = st::text AS left_null
FROM stored WHERE customer = 1;

-- states of different cutoffs or units do not merge
SELECT clm.purchase_summary_merge(st ORDER BY c)
FROM (SELECT c, clm.purchase_summary_state_agg(now(), 1, c, '7 days') AS st
      FROM (VALUES (timestamptz '2030-01-01'), ('2030-01-02')) v(c) GROUP BY c) q;
SELECT clm.purchase_summary_merge(st ORDER BY u)
FROM (SELECT u, clm.purchase_summary_state_agg(now(), 1, '2030-01-01', u) AS st
      FROM (VALUES (interval '7 days'), ('1 day')) v(u) GROUP BY u) q;

-- malformed states: a clear error for each defect (SQLSTATE 22P03 or 22P02)
-- state(version, scale, cutoff, unit days, unit months, total, first, count, days)
CREATE FUNCTION state(version int, frac int, cutoff timestamptz, unit_days int, unit_months int,
                      total bigint, first bigint, n int, days int[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(decode(lpad(to_hex(version), 2, '0') || lpad(to_hex(frac), 2, '0'), 'hex')
        || int8send(CASE WHEN isfinite(cutoff)
                         THEN ((extract(epoch FROM cutoff) - 946684800) * 1000000)::int8
                         ELSE 9223372036854775807 END)
        || int8send(0::int8) || int4send(unit_days) || int4send(unit_months)
        || int8send(CASE WHEN total < 0 THEN -1 ELSE 0 END) || int8send(total)
        || int8send(CASE WHEN first < 0 THEN -1 ELSE 0 END) || int8send(first)
        || int4send(n)
        || coalesce((SELECT string_agg(int4send(d), ''::bytea ORDER BY k)
                     FROM unnest(days) WITH ORDINALITY u(d, k)), ''::bytea), 'hex')
$$;
-- days 8766, 8773, 8780 are 2024-01-01, -08, -15; amounts 15, 20, 30 (scale 0)
SELECT clm.purchase_summary_final(state(1, 0, '2024-01-31 12:00+00', 7, 0, 65, 15, 3, '{8766,8773,8780}')::clm.purchase_summary_state) AS decoded;
\set ON_ERROR_STOP 0
SELECT 'abc'::clm.purchase_summary_state;
\echo sqlstate :SQLSTATE
SELECT 'zz'::clm.purchase_summary_state;
\echo sqlstate :SQLSTATE
SELECT '01'::clm.purchase_summary_state;
\echo sqlstate :SQLSTATE
SELECT state(2, 0, '2024-01-31', 7, 0, 1, 1, 1, '{8766}')::clm.purchase_summary_state;
\echo sqlstate :SQLSTATE
SELECT state(1, 0, '2024-01-31', 7, 0, 1, 1, 2, '{8766}')::clm.purchase_summary_state;
SELECT state(1, 0, '2024-01-31', 7, 0, 1, 1, -1, '{}')::clm.purchase_summary_state;
SELECT state(1, 9, '2024-01-31', 7, 0, 1, 1, 1, '{8766}')::clm.purchase_summary_state;
SELECT state(1, 0, 'infinity', 7, 0, 1, 1, 1, '{8766}')::clm.purchase_summary_state;
SELECT state(1, 0, '2024-01-31', 7, 1, 1, 1, 1, '{8766}')::clm.purchase_summary_state;
SELECT state(1, 0, '2024-01-31', 0, 0, 1, 1, 1, '{8766}')::clm.purchase_summary_state;
SELECT state(1, 0, '2024-01-31', 7, 0, -1, -1, 1, '{8766}')::clm.purchase_summary_state;
SELECT state(1, 0, '2024-01-31', 7, 0, 1, 2, 2, '{8766,8767}')::clm.purchase_summary_state;
SELECT state(1, 0, '2024-01-31', 7, 0, 2, 1, 1, '{8766}')::clm.purchase_summary_state;
SELECT state(1, 0, '2024-01-31', 7, 0, 1, 0, 0, '{}')::clm.purchase_summary_state;
SELECT state(1, 0, '2024-01-31', 7, 0, 1, 1, 1, '{9000}')::clm.purchase_summary_state;
SELECT state(1, 0, '2024-01-31', 7, 0, 2, 1, 2, '{8773,8766}')::clm.purchase_summary_state;
SELECT state(1, 0, '2024-01-31', 7, 0, 2, 1, 2, '{8766,8766}')::clm.purchase_summary_state;
-- a day before any timestamp (it would wrap t_x and T); the earliest one is fine
SELECT state(1, 0, '2024-01-31', 7, 0, 2, 1, 2, '{-2451546,8766}')::clm.purchase_summary_state;
\echo sqlstate :SQLSTATE
\set ON_ERROR_STOP 1
SELECT (clm.purchase_summary_final(state(1, 0, '2024-01-31', 7, 0, 2, 1, 2, '{-2451545,8766}')::clm.purchase_summary_state)).t_x
    AS earliest_day_t_x;
-- binary input runs the same checks: a bad state through COPY binary
CREATE TABLE raw (customer int, st bytea);
INSERT INTO raw VALUES (1, decode(state(1, 0, '2024-01-31', 7, 0, 2, 1, 2, '{8773,8766}'), 'hex'));
COPY raw TO '/tmp/clv_summary_state_bad.bin' WITH (FORMAT binary);
\set ON_ERROR_STOP 0
COPY reloaded FROM '/tmp/clv_summary_state_bad.bin' WITH (FORMAT binary);
\set ON_ERROR_STOP 1

-- the state and merge aggregates in parallel plans (workers only): the
-- serial states and summaries, bit for bit
ALTER TABLE orders SET (parallel_workers = 2);
CREATE TABLE serial_states AS
SELECT customer % 7 AS part, clm.purchase_summary_state_agg(ordered_at, amount, '2024-03-31 00:00+00', '7 days') AS st
FROM orders GROUP BY 1;
-- many states to merge (each one 2,000 times: its sums 2,000 times over),
-- and their merge in a serial plan
CREATE TABLE many_states AS SELECT s.* FROM serial_states s, generate_series(1, 2000);
ALTER TABLE many_states SET (parallel_workers = 2);
CREATE TABLE serial_merge AS SELECT clm.purchase_summary_merge(st) AS m FROM many_states;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2; SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT clm.purchase_summary_state_agg(ordered_at, amount, '2024-03-31 00:00+00', '7 days') FROM orders;
SELECT (SELECT clm.purchase_summary_state_agg(ordered_at, amount, '2024-03-31 00:00+00', '7 days') FROM orders)::text
     = (SELECT clm.purchase_summary_merge(st) FROM serial_states)::text AS state_parallel_same;
EXPLAIN (COSTS OFF) SELECT clm.purchase_summary_merge(st) FROM many_states;
SELECT clm.purchase_summary_merge(st)::text = (SELECT m::text FROM serial_merge m) AS merge_parallel_same
FROM many_states;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather; RESET parallel_leader_participation;

RESET search_path;
DROP SCHEMA clv_summary_state_test CASCADE;
