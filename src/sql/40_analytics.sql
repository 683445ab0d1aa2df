
-- ---------------------------------------------------------------------------
-- Analytics: cohorts, survival, stage funnels and transitions, KPIs and the
-- materialized customer view that BI tools read.
--
-- Everything here is set-based SQL run from PL/pgSQL, because the work is
-- one or two large GROUP BY / window queries over the user's own tables: the
-- planner does it better than a C loop would.  The user's tables and columns
-- arrive as regclass and name and are only ever spliced into SQL text through
-- format('%s') of a regclass (which quotes) or format('%I'); values go in as
-- parameters ($1, ...).  The functions pin search_path, so unqualified
-- operators in the generated SQL resolve in pg_catalog only.
--
-- Functions that read user tables are PARALLEL RESTRICTED, not SAFE: the
-- table passed in may be a temporary table, which a parallel worker cannot
-- read.
--
-- Time conventions shared by every function below: an as_of time is
-- exclusive (orders at or after it are ignored), windows are half-open
-- [since, until), calendar periods (date_trunc) are taken in the session's
-- TimeZone, and durations in days are elapsed time / 86400 s.
-- ---------------------------------------------------------------------------

-- _column_type: the type of a user column, after checking that it exists.
-- Every analysis function takes the user's column names; checking them here
-- turns a typo into a clear error instead of a syntax error from generated
-- SQL, and the returned type lets callers refuse columns of the wrong kind.
CREATE FUNCTION @extschema@._column_type(rel regclass, col name, argname text)
RETURNS regtype
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    typ regtype;
BEGIN
    IF rel IS NULL THEN
        RAISE EXCEPTION 'relation must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF col IS NULL THEN
        RAISE EXCEPTION '% must not be null', argname
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass the name of a column of ' || rel::text || '.';
    END IF;
    SELECT a.atttypid::regtype INTO typ
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF typ IS NULL THEN
        RAISE EXCEPTION 'column "%" of relation % does not exist', col, rel::text
            USING ERRCODE = 'undefined_column',
                  DETAIL = 'The argument ' || argname || ' names a column that ' || rel::text || ' does not have.',
                  HINT = 'Column names are case-sensitive and are not quoted by the caller.';
    END IF;
    RETURN typ;
END
$fn$;
COMMENT ON FUNCTION @extschema@._column_type(regclass, name, text) IS
    'internal: the type of column col of rel, or an undefined_column error naming argument argname';

-- _check_order_columns: the checks every orders-based analysis needs, so
-- that a text or boolean column is refused up front with a message naming
-- the argument rather than failing in a cast deep inside a query.
CREATE FUNCTION @extschema@._check_order_columns(orders regclass, customer_column name,
                                                 ordered_at_column name, amount_column name)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    typ regtype;
BEGIN
    PERFORM @extschema@._column_type(orders, customer_column, 'customer_column');
    typ := @extschema@._column_type(orders, ordered_at_column, 'ordered_at_column');
    IF typ NOT IN ('timestamp with time zone'::regtype, 'timestamp without time zone'::regtype,
                   'date'::regtype) THEN
        RAISE EXCEPTION 'column "%" of relation % has type %, not a timestamp', ordered_at_column, orders::text, typ
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'ordered_at_column must be of type timestamptz, timestamp or date.';
    END IF;
    IF amount_column IS NOT NULL THEN
        typ := @extschema@._column_type(orders, amount_column, 'amount_column');
        IF typ NOT IN ('numeric'::regtype, 'smallint'::regtype, 'integer'::regtype, 'bigint'::regtype,
                       'real'::regtype, 'double precision'::regtype, 'money'::regtype) THEN
            RAISE EXCEPTION 'column "%" of relation % has type %, not a number', amount_column, orders::text, typ
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'amount_column must be of a numeric type (numeric, integer, bigint, double precision, money, ...).';
        END IF;
    END IF;
END
$fn$;
COMMENT ON FUNCTION @extschema@._check_order_columns(regclass, name, name, name) IS
    'internal: checks that the orders relation has the named customer, timestamp and (if not null) amount columns of usable types';

-- _check_as_of: an as_of time must be given and finite; an infinite one
-- would make the period grids below infinite.
CREATE FUNCTION @extschema@._check_as_of(as_of timestamptz, argname text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF as_of IS NULL THEN
        RAISE EXCEPTION '% must not be null', argname
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass a fixed point in time, for example timestamptz ''2026-07-01 00:00+00''.';
    END IF;
    IF NOT pg_catalog.isfinite(as_of) THEN
        RAISE EXCEPTION '% must be finite', argname
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The value given was ' || as_of::text || '.';
    END IF;
END
$fn$;
COMMENT ON FUNCTION @extschema@._check_as_of(timestamptz, text) IS
    'internal: raises an error when a point in time is null or infinite';

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
    PERFORM @extschema@._check_order_columns(orders, customer_column, ordered_at_column, amount_column);
    IF amount_column IS NULL THEN
        RAISE EXCEPTION 'amount_column must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
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
    -- the period containing as_of starts at boundary; it is partial unless
    -- as_of is exactly its start (then nothing of it has been observed)
    boundary := pg_catalog.date_trunc(period, as_of);
    IF include_partial AND boundary < as_of THEN
        last_start := boundary;
    ELSE
        last_start := boundary - step;
    END IF;

    RETURN QUERY EXECUTE pg_catalog.format($q$
        WITH o AS (
            SELECT t.%1$I AS c,
                   pg_catalog.date_trunc($1, t.%2$I::timestamptz) AS p,
                   t.%3$I::numeric AS amount
              FROM %4$s AS t
             WHERE t.%1$I IS NOT NULL
               AND t.%2$I::timestamptz < $2
               AND t.%2$I::timestamptz < $3 + $4
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

-- ---------------------------------------------------------------------------
-- Kaplan-Meier time to churn
-- ---------------------------------------------------------------------------

-- churn_survival: how long customers stay before they churn, with the
-- customers who have not churned yet counted correctly (right-censored)
-- instead of being dropped or treated as churned.  Churn is the inactivity
-- rule used throughout clm: a customer churns at t + inactivity when an
-- order at t is followed by no order in (t, t + inactivity].  Subject =
-- customer, origin = first order, time in whole days.
CREATE FUNCTION @extschema@.churn_survival(
    orders regclass,
    customer_column name,
    ordered_at_column name,
    inactivity interval DEFAULT '90 days',
    as_of timestamptz DEFAULT pg_catalog.now(),
    cohort text DEFAULT NULL,
    groups regclass DEFAULT NULL,
    group_key_column name DEFAULT NULL,
    group_column name DEFAULT NULL)
RETURNS TABLE(stratum text, "time" integer, at_risk bigint, events bigint, censored bigint,
              survival double precision, std_error double precision)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    stratum_expr text;
    join_clause text := '';
BEGIN
    PERFORM @extschema@._check_order_columns(orders, customer_column, ordered_at_column, NULL);
    PERFORM @extschema@._check_as_of(as_of, 'as_of');
    IF inactivity IS NULL OR inactivity <= interval '0' THEN
        RAISE EXCEPTION 'inactivity must be a positive interval'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The value given was ' || COALESCE(inactivity::text, 'NULL') || '.',
                  HINT = 'A customer churns after this long without an order, for example interval ''90 days''.';
    END IF;
    IF cohort IS NOT NULL AND groups IS NOT NULL THEN
        RAISE EXCEPTION 'cohort and groups cannot both be given'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Stratify either by acquisition cohort or by a column of another relation.';
    END IF;

    IF cohort IS NOT NULL THEN
        IF cohort NOT IN ('week', 'month', 'quarter', 'year') THEN
            RAISE EXCEPTION 'unsupported cohort period "%"', cohort
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Use ''week'', ''month'', ''quarter'' or ''year'', or NULL for one curve.';
        END IF;
        stratum_expr := pg_catalog.format('pg_catalog.date_trunc(%L, s.first_at)::date::text', cohort);
    ELSIF groups IS NOT NULL THEN
        PERFORM @extschema@._column_type(groups, group_key_column, 'group_key_column');
        PERFORM @extschema@._column_type(groups, group_column, 'group_column');
        stratum_expr := pg_catalog.format('g.%I::text', group_column);
        join_clause := pg_catalog.format('LEFT JOIN %s AS g ON g.%I = s.c', groups, group_key_column);
    ELSIF group_key_column IS NOT NULL OR group_column IS NOT NULL THEN
        RAISE EXCEPTION 'group_key_column and group_column need groups'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the relation that holds the groups as groups.';
    ELSE
        stratum_expr := 'NULL::text';
    END IF;

    RETURN QUERY EXECUTE pg_catalog.format($q$
        WITH o AS (
            SELECT t.%1$I AS c, t.%2$I::timestamptz AS at
              FROM %3$s AS t
             WHERE t.%1$I IS NOT NULL AND t.%2$I::timestamptz < $1
        ), gaps AS (
            SELECT o.c, o.at,
                   pg_catalog.lead(o.at) OVER (PARTITION BY o.c ORDER BY o.at) AS next_at
              FROM o
        ), s AS (              -- one row per customer: first order, first churn
            SELECT gaps.c, pg_catalog.min(gaps.at) AS first_at,
                   pg_catalog.min(gaps.at + $2)
                       FILTER (WHERE gaps.at + $2 < COALESCE(gaps.next_at, $1)) AS churn_at
              FROM gaps
             GROUP BY gaps.c
        ), subj AS (
            SELECT %4$s AS stratum,
                   pg_catalog.floor(pg_catalog.date_part('epoch',
                       COALESCE(s.churn_at, $1) - s.first_at) / 86400)::integer AS t,
                   s.churn_at IS NOT NULL AS event
              FROM s %5$s
        ), tab AS (
            SELECT subj.stratum, subj.t,
                   pg_catalog.count(*) FILTER (WHERE subj.event) AS d,
                   pg_catalog.count(*) FILTER (WHERE NOT subj.event) AS z
              FROM subj
             GROUP BY subj.stratum, subj.t
        ), risk AS (           -- at risk at t: everyone whose time is >= t
            SELECT tab.stratum, tab.t, tab.d, tab.z,
                   pg_catalog.sum(tab.d + tab.z) OVER (PARTITION BY tab.stratum ORDER BY tab.t DESC)::bigint AS n
              FROM tab
        ), km AS (
            SELECT risk.stratum, risk.t, risk.n, risk.d, risk.z,
                   pg_catalog.bool_or(risk.d = risk.n) OVER w AS extinct,
                   pg_catalog.sum(CASE WHEN risk.d < risk.n
                                       THEN pg_catalog.ln(1 - risk.d::double precision / risk.n) END) OVER w AS log_s,
                   pg_catalog.sum(CASE WHEN risk.d < risk.n
                                       THEN risk.d::double precision / (risk.n::double precision * (risk.n - risk.d)) END) OVER w AS gw
              FROM risk
            WINDOW w AS (PARTITION BY risk.stratum ORDER BY risk.t)
        )
        SELECT km.stratum, km.t, km.n, km.d, km.z,
               CASE WHEN km.extinct THEN 0 ELSE pg_catalog.exp(km.log_s) END,
               CASE WHEN km.extinct THEN NULL
                    ELSE pg_catalog.exp(km.log_s) * pg_catalog.sqrt(km.gw) END
          FROM km
         ORDER BY km.stratum NULLS FIRST, km.t
        $q$, customer_column, ordered_at_column, orders, stratum_expr, join_clause)
    USING as_of, inactivity;
END
$fn$;
COMMENT ON FUNCTION @extschema@.churn_survival(regclass, name, name, interval, timestamptz, text, regclass, name, name) IS
    'Kaplan-Meier time-to-churn table (days since first order; churn = no order for inactivity; right-censored at as_of) with Greenwood standard errors, optionally per acquisition cohort or per group';
