-- ---------------------------------------------------------------------------
-- Cohort retention
-- ---------------------------------------------------------------------------

-- cohort_retention: the long-format cohort table BI tools pivot into the
-- retention triangle.  The cohort is the calendar period of a customer's
-- first order (fixed for life); period 0 is that acquisition period, so its
-- retention is 1 by construction.  Every (cohort, period) pair up to the
-- last reported period is returned, zero rows included, so that a pivot has
-- no holes.  Only complete periods are reported unless include_partial: a
-- period that is still running at as_of would show retention that is low
-- only because it has not ended yet, and its cohort would still be growing.
CREATE FUNCTION @extschema@.cohort_retention(
    orders regclass,
    customer_column name,
    ordered_at_column name,
    amount_column name,
    period text DEFAULT 'month',
    as_of timestamptz DEFAULT pg_catalog.now(),
    include_partial boolean DEFAULT false)
RETURNS TABLE(cohort date, period_number integer, cohort_size bigint, active_customers bigint,
              retention_rate double precision, revenue numeric, revenue_per_customer numeric)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    step interval;
    boundary timestamptz;
    last_start timestamptz;
BEGIN
    PERFORM @extschema@._check_order_columns(orders, customer_column, ordered_at_column);
    PERFORM @extschema@._check_amount_column(orders, amount_column);
    PERFORM @extschema@._check_as_of(as_of, 'as_of');
    IF period IS NULL OR period NOT IN ('week', 'month', 'quarter') THEN
        RAISE EXCEPTION 'unsupported cohort period "%"', period
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''week'', ''month'' or ''quarter''.';
    END IF;
    IF include_partial IS NULL THEN
        RAISE EXCEPTION 'include_partial must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    step := CASE period WHEN 'week' THEN interval '7 days'
                        WHEN 'month' THEN interval '1 month'
                        ELSE interval '3 months' END;
    -- the period containing as_of starts at boundary and is partial: as_of
    -- is inclusive, so even when as_of is exactly its start that instant
    -- has been observed (an order placed then counts, in that period)
    boundary := pg_catalog.date_trunc(period, as_of);
    IF include_partial THEN
        last_start := boundary;
    ELSE
        last_start := boundary - step;
    END IF;

    RETURN QUERY EXECUTE pg_catalog.format($q$
        WITH o AS (
            SELECT t.%1$I AS c,
                   pg_catalog.date_trunc($1, @extschema@._finite_order_time(t.%2$I::timestamptz)) AS p,
                   t.%3$I::numeric AS amount
              FROM %4$s AS t
             WHERE t.%1$I IS NOT NULL
               AND t.%2$I::timestamptz <= $2        -- as_of is inclusive
               AND t.%2$I::timestamptz < $3 + $4    -- the end of the last reported period
        ), cp AS (             -- one row per customer and active period
            SELECT o.c, o.p, pg_catalog.sum(o.amount) AS revenue
              FROM o
             GROUP BY o.c, o.p
        ), ck AS (             -- ... with the customer's cohort
            SELECT cp.p, cp.revenue,
                   pg_catalog.min(cp.p) OVER (PARTITION BY cp.c) AS k
              FROM cp
        ), act AS (
            SELECT ck.k, ck.p, pg_catalog.count(*) AS n,
                   pg_catalog.sum(ck.revenue) AS revenue
              FROM ck
             GROUP BY ck.k, ck.p
        )
        SELECT s.k::date,
               (g.i - 1)::integer,
               s.n,
               COALESCE(a.n, 0),
               COALESCE(a.n, 0)::double precision / s.n,
               COALESCE(a.revenue, 0),
               COALESCE(a.revenue, 0) / s.n
          FROM act AS s
         CROSS JOIN LATERAL pg_catalog.generate_series(s.k, $3, $4) WITH ORDINALITY AS g(p, i)
          LEFT JOIN act AS a ON a.k = s.k AND a.p = g.p
         WHERE s.p = s.k
         ORDER BY 1, 2
        $q$, customer_column, ordered_at_column, amount_column, orders)
    USING period, as_of, last_start, step;
END
$fn$;
COMMENT ON FUNCTION @extschema@.cohort_retention(regclass, name, name, name, text, timestamptz, boolean) IS
    'cohort retention in long format: one row per acquisition cohort and period (0 = acquisition period), zero rows included, complete periods only unless include_partial';
