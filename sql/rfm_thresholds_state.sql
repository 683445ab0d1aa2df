--
-- rfm_thresholds_state: clm.rfm_thresholds_state, the mergeable state of
-- clm.rfm_thresholds (clm.rfm_thresholds_state_agg, _merge, _final): exact,
-- so states per shard merged give the breakpoints of all customers; stored
-- states round-trip; malformed states are clear errors.
--
\set VERBOSITY default
CREATE SCHEMA rfm_thr_state_test;
SET search_path = rfm_thr_state_test, public;

CREATE TABLE rfm AS
SELECT c AS customer, clm.rfm_agg(ordered_at, amount, '2025-01-01 00:00+00') AS r
FROM (SELECT i % 3000 AS c,
             timestamptz '2023-01-01 00:00+00' + ((i * 37) % 700) * interval '1 day' AS ordered_at,
             ((i * 7919) % 100000) / 100.0 - CASE WHEN i % 97 = 0 THEN 2000 ELSE 0 END AS amount
      FROM generate_series(1, 30000) i
      UNION ALL SELECT 99999, '2024-06-01 00:00+00', -5) o
GROUP BY c;
-- a customer with refunds only has no recency: NULL fields are skipped
SELECT count(*) FILTER (WHERE (r).recency_days IS NULL) > 0 AS some_without_recency FROM rfm;

-- two levels: a state per part (shard), merged: the breakpoints of all
-- customers, for any split and merge order, 5 and 7 bins
SELECT parts,
       clm.rfm_thresholds_final(clm.rfm_thresholds_merge(st ORDER BY part DESC))
           IS NOT DISTINCT FROM (SELECT clm.rfm_thresholds(r) FROM rfm) AS same_5,
       clm.rfm_thresholds_final(clm.rfm_thresholds_merge(st7 ORDER BY part))
           IS NOT DISTINCT FROM (SELECT clm.rfm_thresholds(r, 7) FROM rfm) AS same_7
FROM generate_series(1, 4) parts,
     LATERAL (SELECT customer % parts AS part, clm.rfm_thresholds_state_agg(r) AS st,
                     clm.rfm_thresholds_state_agg(r, 7) AS st7
              FROM rfm GROUP BY 1) p
GROUP BY parts ORDER BY parts;
SELECT clm.rfm_thresholds(r) FROM rfm;

-- stored states: text and binary round trips; finishing one leaves it as it was
CREATE TABLE stored AS
SELECT customer % 3 AS part, clm.rfm_thresholds_state_agg(r) AS st FROM rfm GROUP BY 1;
SELECT count(*) FILTER (WHERE st::text::clm.rfm_thresholds_state::text <> st::text) AS text_round_trip_differs
FROM stored;
COPY stored TO '/tmp/rfm_thresholds_state.bin' WITH (FORMAT binary);
CREATE TABLE reloaded (LIKE stored);
COPY reloaded FROM '/tmp/rfm_thresholds_state.bin' WITH (FORMAT binary);
SELECT count(*) AS reloaded, count(*) FILTER (WHERE r.st::text <> s.st::text) AS binary_round_trip_differs
FROM reloaded r JOIN stored s USING (part);
SELECT md5(st::text) AS before FROM stored WHERE part = 0 \gset
SELECT clm.rfm_thresholds_final(st) IS NOT NULL AS finished FROM stored WHERE part = 0;
SELECT md5(st::text) = :'before' AS unchanged FROM stored WHERE part = 0;
SELECT clm.rfm_thresholds_final(clm.rfm_thresholds_merge(st)) = (SELECT clm.rfm_thresholds(r) FROM rfm) AS stored_merge_same
FROM stored;

-- a small state in text form: format 1, 5 bins, the counts, the values
SELECT clm.rfm_thresholds_state_agg(r)
FROM (VALUES (ROW(3, 1, 10, NULL, NULL, NULL, NULL)::clm.rfm), (NULL::clm.rfm)) v(r);
-- no values: NULL breakpoints
SELECT clm.rfm_thresholds_final(clm.rfm_thresholds_state_agg(r)) IS NULL AS empty_is_null FROM rfm WHERE false;
SELECT clm.rfm_thresholds_final(NULL) IS NULL AS null_is_null;
SELECT clm.rfm_thresholds_combine(NULL, NULL) IS NULL AS both_null,
       clm.rfm_thresholds_combine(st, NULL)::text = st::text AS right_null,
       clm.rfm_thresholds_combine(NULL, st)::text = st::text AS left_null,
       md5(clm.rfm_thresholds_combine(st, st)::text) <> md5(st::text) AS doubled
FROM stored WHERE part = 0;
SELECT md5(st::text) = :'before' AS combine_leaves_its_arguments FROM stored WHERE part = 0;
-- states of different bins do not merge
SELECT clm.rfm_thresholds_merge(st ORDER BY b)
FROM (SELECT b, clm.rfm_thresholds_state_agg(r, b) AS st FROM rfm, (VALUES (5), (7)) v(b) GROUP BY b) q;

-- malformed states: a clear error for each defect (SQLSTATE 22P03 or 22P02)
-- state(version, bins, counts, values)
CREATE FUNCTION state(version int, bins int, n bigint[], vals float8[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(decode(lpad(to_hex(version), 2, '0') || lpad(to_hex(bins), 2, '0'), 'hex')
        || coalesce((SELECT string_agg(int8send(x), ''::bytea ORDER BY k)
                     FROM unnest(n) WITH ORDINALITY u(x, k)), ''::bytea)
        || coalesce((SELECT string_agg(float8send(x), ''::bytea ORDER BY k)
                     FROM unnest(vals) WITH ORDINALITY u(x, k)), ''::bytea), 'hex')
$$;
SELECT clm.rfm_thresholds_final(state(1, 2, '{2,2,2}', '{3,5,1,2,10,20}')::clm.rfm_thresholds_state) AS decoded;
\set ON_ERROR_STOP 0
SELECT 'abc'::clm.rfm_thresholds_state;
\echo sqlstate :SQLSTATE
SELECT 'zz'::clm.rfm_thresholds_state;
\echo sqlstate :SQLSTATE
SELECT '01'::clm.rfm_thresholds_state;
\echo sqlstate :SQLSTATE
SELECT state(2, 5, '{0,0,0}', '{}')::clm.rfm_thresholds_state;
SELECT state(1, 1, '{0,0,0}', '{}')::clm.rfm_thresholds_state;
SELECT state(1, 10, '{0,0,0}', '{}')::clm.rfm_thresholds_state;
SELECT state(1, 5, '{-1,0,0}', '{}')::clm.rfm_thresholds_state;
SELECT state(1, 5, '{40000000,0,0}', '{}')::clm.rfm_thresholds_state;
SELECT state(1, 5, '{1,0,0}', '{}')::clm.rfm_thresholds_state;
SELECT state(1, 5, '{0,0,0}', '{1}')::clm.rfm_thresholds_state;
SELECT state(1, 5, '{1,0,0}', '{NaN}')::clm.rfm_thresholds_state;
SELECT state(1, 5, '{0,1,0}', '{Infinity}')::clm.rfm_thresholds_state;
\echo sqlstate :SQLSTATE
\set ON_ERROR_STOP 1
-- -0 is read as 0
SELECT (clm.rfm_thresholds_final(state(1, 2, '{2,0,0}', '{-0,-1}')::clm.rfm_thresholds_state)).recency_breaks AS no_negative_zero;
-- binary input runs the same checks: a bad state through COPY binary
CREATE TABLE raw (part int, st bytea);
INSERT INTO raw VALUES (1, decode(state(1, 5, '{1,0,0}', '{NaN}'), 'hex'));
COPY raw TO '/tmp/rfm_thresholds_state_bad.bin' WITH (FORMAT binary);
\set ON_ERROR_STOP 0
COPY reloaded FROM '/tmp/rfm_thresholds_state_bad.bin' WITH (FORMAT binary);
\set ON_ERROR_STOP 1

-- the state and merge aggregates in parallel plans (workers only): the
-- serial states and breakpoints
ALTER TABLE rfm SET (parallel_workers = 2);
CREATE TABLE serial_states AS SELECT customer % 5 AS part, clm.rfm_thresholds_state_agg(r) AS st FROM rfm GROUP BY 1;
-- many states to merge (each one 2,000 times), and their merge in a serial plan
CREATE TABLE many_states AS SELECT s.* FROM serial_states s, generate_series(1, 2000);
ALTER TABLE many_states SET (parallel_workers = 2);
CREATE TABLE serial_merge AS SELECT clm.rfm_thresholds_final(clm.rfm_thresholds_merge(st)) AS m FROM many_states;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2; SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT clm.rfm_thresholds_state_agg(r) FROM rfm;
SELECT clm.rfm_thresholds_final((SELECT clm.rfm_thresholds_state_agg(r) FROM rfm))
           IS NOT DISTINCT FROM (SELECT clm.rfm_thresholds(r) FROM rfm) AS state_parallel_same;
EXPLAIN (COSTS OFF) SELECT clm.rfm_thresholds_merge(st) FROM many_states;
SELECT clm.rfm_thresholds_final(clm.rfm_thresholds_merge(st))
           IS NOT DISTINCT FROM (SELECT m FROM serial_merge) AS merge_parallel_same
FROM many_states;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather; RESET parallel_leader_participation;

RESET search_path;
DROP SCHEMA rfm_thr_state_test CASCADE;
