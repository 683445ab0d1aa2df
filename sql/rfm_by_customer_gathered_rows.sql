--
-- rfm_by_customer_gathered_rows: clm.rfm_agg_by_customer refuses rows that
-- a Citus coordinator gathered from its workers (its internal state cannot
-- be distributed, so Citus would pull every order row), naming the
-- alternative.  Citus is not installed here: rows Citus gathered first (a
-- CTE, a subquery with LIMIT) are read on the coordinator through
-- pg_catalog.read_intermediate_result, stood in for by a function of that
-- name.  (The other form, an aggregate over Citus's own custom scan, needs
-- Citus; doc/scale.md.)
--
\set VERBOSITY default
SET timezone = 'UTC';

CREATE FUNCTION pg_catalog.read_intermediate_result(result_id text, format text)
RETURNS TABLE (customer_id bigint, ordered_at timestamptz, amount numeric)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY VALUES (1::bigint, timestamptz '2026-01-01', 10::numeric), (2, '2026-02-01', 20), (1, '2026-03-01', 5);
END $$;
CREATE FUNCTION public.read_intermediate_result(result_id text, format text)
RETURNS TABLE (customer_id bigint, ordered_at timestamptz, amount numeric)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY SELECT * FROM pg_catalog.read_intermediate_result($1, $2);
END $$;

-- rows Citus gathered: refused, directly, through a subquery, per group
SELECT clm.rfm_agg_by_customer(customer_id, ordered_at, amount, '2026-07-01')
FROM pg_catalog.read_intermediate_result('1_1', 'binary');
SELECT clm.rfm_agg_by_customer(customer_id, ordered_at, amount, '2026-07-01')
FROM (SELECT * FROM pg_catalog.read_intermediate_result('1_1', 'binary') OFFSET 0) r;
SELECT customer_id, clm.rfm_agg_by_customer(customer_id, ordered_at, amount, '2026-07-01')
FROM pg_catalog.read_intermediate_result('1_1', 'binary') GROUP BY customer_id;

-- the same rows from anything else are aggregated as ever: a function of
-- that name outside pg_catalog, a table
SELECT (a).customer_id, ((a).rfm).frequency, ((a).rfm).monetary
FROM unnest((SELECT clm.rfm_agg_by_customer(customer_id, ordered_at, amount, '2026-07-01')
             FROM public.read_intermediate_result('1_1', 'binary'))) a ORDER BY 1;
CREATE TABLE gathered_orders AS SELECT * FROM public.read_intermediate_result('1_1', 'binary');
SELECT (a).customer_id, ((a).rfm).frequency, ((a).rfm).monetary
FROM unnest((SELECT clm.rfm_agg_by_customer(customer_id, ordered_at, amount, '2026-07-01')
             FROM gathered_orders)) a ORDER BY 1;

DROP TABLE gathered_orders;
DROP FUNCTION public.read_intermediate_result(text, text);
DROP FUNCTION pg_catalog.read_intermediate_result(text, text);
