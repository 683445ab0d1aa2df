--
-- rfm_asof_rule: clm.rfm_agg and clm.rfm_agg_by_customer apply one as_of
-- rule, with the same errors: as_of is required, finite, and the same on
-- every row; an order after as_of is not counted, one exactly at as_of is
--
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA rfm_asof_rule_test;
SET search_path = rfm_asof_rule_test, public;

-- run a query and return its error
CREATE TYPE error AS (code text, message text, detail text, hint text);
CREATE FUNCTION error_of(query text) RETURNS error
LANGUAGE plpgsql AS $$
DECLARE
    e error;
BEGIN
    EXECUTE query;
    e.code := 'no error';
    RETURN e;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS e.code = RETURNED_SQLSTATE, e.message = MESSAGE_TEXT,
                            e.detail = PG_EXCEPTION_DETAIL, e.hint = PG_EXCEPTION_HINT;
    RETURN e;
END
$$;

-- one customer's orders (ordered_at, as_of) per case, in this order
CREATE TABLE cases (name text, rows text);
INSERT INTO cases VALUES
    ('null as_of', $$('2024-01-01 00:00+00', NULL)$$),
    ('infinite as_of', $$('2024-01-01 00:00+00', 'infinity')$$),
    ('-infinity as_of', $$('2024-01-01 00:00+00', '-infinity')$$),
    ('as_of differs between rows', $$('2024-01-01 00:00+00', '2026-01-01 00:00+00'), ('2024-02-01 00:00+00', '2026-07-01 00:00+00')$$),
    ('as_of becomes null', $$('2024-01-01 00:00+00', '2026-01-01 00:00+00'), ('2024-02-01 00:00+00', NULL)$$),
    ('as_of becomes infinite', $$('2024-01-01 00:00+00', '2026-01-01 00:00+00'), ('2024-02-01 00:00+00', 'infinity')$$);

CREATE VIEW both_errors AS
SELECT name,
       error_of(format($$SELECT clm.rfm_agg(t::timestamptz, 1.0, a::timestamptz) FROM (VALUES %s) v(t, a)$$, rows)) AS rfm_agg,
       error_of(format($$SELECT clm.rfm_agg_by_customer(1, t::timestamptz, 1.0, a::timestamptz) FROM (VALUES %s) v(t, a)$$, rows)) AS by_customer
FROM cases;

-- the errors of clm.rfm_agg
SELECT name, (rfm_agg).* FROM both_errors;
-- clm.rfm_agg_by_customer gives the same ones
SELECT name, rfm_agg = by_customer AS same_error, (rfm_agg).code <> 'no error' AS is_error
FROM both_errors;

-- an order after as_of is not counted, one exactly at as_of is, by both
SELECT (r).frequency, (r).last_at, (r).recency_days,
       r::text = (SELECT (clm.rfm_agg_by_customer(1, t, a, timestamptz '2026-01-01 00:00+00'))[1].rfm::text
                  FROM (VALUES (timestamptz '2025-06-01 00:00+00', 5.0), ('2026-01-01 00:00+00', 7.0),
                               ('2026-01-01 00:00:00.000001+00', 9.0)) v(t, a)) AS same_rfm
FROM (SELECT clm.rfm_agg(t, a, timestamptz '2026-01-01 00:00+00') AS r
      FROM (VALUES (timestamptz '2025-06-01 00:00+00', 5.0), ('2026-01-01 00:00+00', 7.0),
                   ('2026-01-01 00:00:00.000001+00', 9.0)) v(t, a)) x;
-- a customer whose orders all come after as_of: no clm.rfm from either
SELECT clm.rfm_agg(t, a, timestamptz '2026-01-01 00:00+00') IS NULL AS rfm_agg_null,
       (clm.rfm_agg_by_customer(1, t, a, timestamptz '2026-01-01 00:00+00'))[1].rfm IS NULL AS by_customer_null
FROM (VALUES (timestamptz '2026-02-01 00:00+00', 5.0)) v(t, a);

RESET search_path;
DROP SCHEMA rfm_asof_rule_test CASCADE;
