--
-- rfm_asof: one RFM state has one as_of.  Stored states that carry different
-- as_of values do not merge, a state is not finished at another as_of, and
-- partial states with different as_of do not combine in a parallel plan.
-- Each error's SQLSTATE is shown (:SQLSTATE), as doc/rfm.md states them.
--
\set VERBOSITY default
CREATE SCHEMA rfm_asof_test;
SET search_path = rfm_asof_test, public;
SET timezone = 'UTC';

-- hand-made states (text form, doc/rfm.md): one purchase of 1000 on
-- 2024-01-01 (757382400000000 us after 2000-01-01 UTC), with as_of
-- 2026-01-01 (820540800000000), with as_of 2026-07-01 (836179200000000),
-- and without as_of (as from clm.rfm_state_agg)
CREATE TABLE states (name text PRIMARY KEY, st clm.rfm_state);
INSERT INTO states VALUES
    ('jan', '(1,d,0,0,1,0,757382400000000,757382400000000,757382400000000,820540800000000,1000)'),
    ('jul', '(1,d,0,0,1,0,757382400000000,757382400000000,757382400000000,836179200000000,1000)'),
    ('none', '(1,d,0,0,1,0,757382400000000,757382400000000,757382400000000,,1000)');
-- the microsecond fields are the dates above: finishing 'jan' at its own
-- as_of gives the purchase on 2024-01-01 and 731 days of recency
SELECT (clm.rfm_final(st, timestamptz '2026-01-01 00:00+00')).* FROM states WHERE name = 'jan';

-- ---------------------------------------------------------------------
-- clm.rfm_merge (combine function): the same as_of merges and is kept; a
-- state without as_of takes the other's, in either order
-- ---------------------------------------------------------------------
SELECT clm.rfm_merge(st) AS jan_jan FROM (SELECT st FROM states WHERE name = 'jan'
                                         UNION ALL SELECT st FROM states WHERE name = 'jan') x;
SELECT clm.rfm_merge(st ORDER BY name) AS jan_none, clm.rfm_merge(st ORDER BY name DESC) AS none_jan
FROM states WHERE name IN ('jan', 'none');
-- different as_of: 22023 (invalid_parameter_value), naming both
SELECT clm.rfm_merge(st ORDER BY name) FROM states WHERE name IN ('jan', 'jul');
\echo sqlstate :SQLSTATE
-- also when the first state has no as_of (it takes the next one's) ...
SELECT clm.rfm_merge(st ORDER BY name DESC) FROM states;
\echo sqlstate :SQLSTATE
-- ... and when one without as_of comes between them
SELECT clm.rfm_merge(st ORDER BY array_position(ARRAY['jan', 'none', 'jul'], name)) FROM states;
\echo sqlstate :SQLSTATE
-- per group: a group with one as_of and states without merges, keeping it
SELECT g, clm.rfm_merge(st ORDER BY name)
FROM (VALUES (1, 'jan'), (1, 'none'), (2, 'jul'), (2, 'none')) v(g, name) JOIN states USING (name)
GROUP BY g ORDER BY g;

-- ---------------------------------------------------------------------
-- clm.rfm_final: a state with as_of is finished only at that as_of; a
-- state without as_of at any as_of after its rows
-- ---------------------------------------------------------------------
SELECT (clm.rfm_final(st, timestamptz '2026-07-01 00:00+00')).recency_days AS jul_at_jul FROM states WHERE name = 'jul';
SELECT (clm.rfm_final(clm.rfm_merge(st), timestamptz '2026-07-01 00:00+00')).recency_days AS jul_none_at_jul
FROM states WHERE name IN ('jul', 'none');
SELECT (clm.rfm_final(st, timestamptz '2026-07-01 00:00+00')).recency_days AS none_at_jul,
       (clm.rfm_final(st, timestamptz '2026-01-01 00:00+00')).recency_days AS none_at_jan
FROM states WHERE name = 'none';
-- different as_of: 22023, naming the state's as_of
SELECT clm.rfm_final(st, timestamptz '2026-07-01 00:00+00') FROM states WHERE name = 'jan';
\echo sqlstate :SQLSTATE
-- one microsecond off is different
SELECT clm.rfm_final(st, timestamptz '2026-01-01 00:00:00.000001+00') FROM states WHERE name = 'jan';
\echo sqlstate :SQLSTATE
-- a merge that took 'jan''s as_of keeps it
SELECT clm.rfm_final(clm.rfm_merge(st), timestamptz '2026-07-01 00:00+00') FROM states WHERE name IN ('jan', 'none');
\echo sqlstate :SQLSTATE
-- an infinite as_of is checked first: 22008 (datetime_value_out_of_range)
SELECT clm.rfm_final(st, 'infinity') FROM states WHERE name = 'jan';
\echo sqlstate :SQLSTATE

-- ---------------------------------------------------------------------
-- the as_of errors of clm.rfm_agg and of the text input, with their
-- SQLSTATEs as doc/rfm.md gives them
-- ---------------------------------------------------------------------
-- NULL as_of: 22004 (null_value_not_allowed)
SELECT clm.rfm_agg(timestamptz '2024-01-01 00:00+00', 1::numeric, NULL);
\echo sqlstate :SQLSTATE
-- infinite as_of: 22008 (datetime_value_out_of_range)
SELECT clm.rfm_agg(timestamptz '2024-01-01 00:00+00', 1::numeric, timestamptz '-infinity');
\echo sqlstate :SQLSTATE
-- as_of differing between rows of a group: 22023 (invalid_parameter_value)
SELECT clm.rfm_agg(t, 1::numeric, a)
FROM (VALUES (timestamptz '2024-01-01 00:00+00', timestamptz '2026-01-01 00:00+00'),
             (timestamptz '2024-01-02 00:00+00', timestamptz '2026-07-01 00:00+00')) v(t, a);
\echo sqlstate :SQLSTATE
-- ... also when the later one is infinite: it differs from the first
SELECT clm.rfm_agg(t, 1::numeric, a)
FROM (VALUES (timestamptz '2024-01-01 00:00+00', timestamptz '2026-01-01 00:00+00'),
             (timestamptz '2024-01-02 00:00+00', timestamptz 'infinity')) v(t, a);
\echo sqlstate :SQLSTATE
-- text that parses but holds an infinite as_of: 22008
-- (datetime_field_overflow), as for any timestamp of a state out of range
SELECT '(1,d,0,0,1,0,5,5,5,9223372036854775807,3)'::clm.rfm_state;
\echo sqlstate :SQLSTATE
-- text that does not parse: 22P02 (invalid_text_representation)
SELECT '(1,d,0,0,1,0,5,5,5,x,3)'::clm.rfm_state;
\echo sqlstate :SQLSTATE

-- ---------------------------------------------------------------------
-- parallel: the rows of every customer come with two as_of values, one
-- per partition (say two loads for different analysis dates).  Each
-- partition is aggregated partially on its own (one as_of per partial
-- state, so no transition function sees two), in whichever worker, and
-- the Finalize step's combine function meets both: the combine error,
-- whatever the number of workers launched
-- ---------------------------------------------------------------------
CREATE TABLE orders (customer int, ordered_at timestamptz, amount numeric, as_of timestamptz)
    PARTITION BY LIST (as_of);
CREATE TABLE orders_jan PARTITION OF orders FOR VALUES IN ('2026-01-01 00:00+00') WITH (parallel_workers = 2);
CREATE TABLE orders_jul PARTITION OF orders FOR VALUES IN ('2026-07-01 00:00+00') WITH (parallel_workers = 2);
INSERT INTO orders
SELECT i % 100, timestamptz '2024-01-01 00:00+00' + i * interval '1 hour', (i % 50) + 0.5, a
FROM generate_series(1, 5000) i,
     (VALUES (timestamptz '2026-01-01 00:00+00'), (timestamptz '2026-07-01 00:00+00')) v(a);
ANALYZE orders;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SET enable_partitionwise_aggregate = on;
-- each partition alone is fine (one as_of each)
SELECT count(*) AS customers, count(r) AS with_rfm
FROM (SELECT customer, clm.rfm_agg(ordered_at, amount, as_of) AS r FROM orders_jan GROUP BY customer) x;
EXPLAIN (COSTS OFF)
SELECT customer, clm.rfm_agg(ordered_at, amount, as_of) FROM orders GROUP BY customer;
-- (terse: which partial state reaches the leader first, and so the order of
-- the two as_of values in the detail, depends on the workers)
\set VERBOSITY terse
SELECT customer, clm.rfm_agg(ordered_at, amount, as_of) FROM orders GROUP BY customer;
\echo sqlstate :SQLSTATE
-- not grouped: the same through Finalize Aggregate
EXPLAIN (COSTS OFF)
SELECT clm.rfm_agg(ordered_at, amount, as_of) FROM orders;
SELECT clm.rfm_agg(ordered_at, amount, as_of) FROM orders;
\echo sqlstate :SQLSTATE
-- clm.rfm_agg_by_customer: the same error (one as_of rule for both)
SELECT clm.rfm_agg_by_customer(customer, ordered_at, amount, as_of) FROM orders;
\echo sqlstate :SQLSTATE
\set VERBOSITY default

RESET ALL;
RESET search_path;
DROP SCHEMA rfm_asof_test CASCADE;
