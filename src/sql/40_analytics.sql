
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

-- ---------------------------------------------------------------------------
-- KPIs for one period
-- ---------------------------------------------------------------------------

-- lifecycle_kpis: the one row a CRM dashboard shows on top, computed in a
-- single pass over the orders.  The definitions are the ones doc/analytics.md
-- names (repeat purchase rate is within-period, not Shopify's returning
-- customer rate), and churn uses the same inactivity rule as churn_survival:
-- a customer churns at t + inactivity when the order at t is followed by no
-- order in (t, t + inactivity].  The predicted CLV and stage mix come from a
-- customer view (clm.create_customer_view) when one is passed.
CREATE FUNCTION @extschema@.lifecycle_kpis(
    orders regclass,
    customer_column name,
    ordered_at_column name,
    amount_column name,
    since timestamptz,
    until timestamptz,
    inactivity interval DEFAULT '90 days',
    customer_view regclass DEFAULT NULL)
RETURNS TABLE(period_start timestamptz, period_end timestamptz,
              active_customers bigint, new_customers bigint, returning_customers bigint,
              orders_count bigint, revenue numeric,
              repeat_purchase_rate double precision,
              customers_at_start bigint, churned_customers bigint, churn_rate double precision,
              average_order_value numeric, purchase_frequency double precision,
              average_predicted_clv double precision, customers_per_stage jsonb)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
    clv double precision;
    per_stage jsonb;
BEGIN
    PERFORM @extschema@._check_order_columns(orders, customer_column, ordered_at_column, amount_column);
    IF amount_column IS NULL THEN
        RAISE EXCEPTION 'amount_column must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM @extschema@._check_as_of(since, 'since');
    PERFORM @extschema@._check_as_of(until, 'until');
    IF since >= until THEN
        RAISE EXCEPTION 'since must be earlier than until'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The window given was [' || since::text || ', ' || until::text || ').',
                  HINT = 'The window is half-open: since is included, until is not.';
    END IF;
    IF inactivity IS NULL OR inactivity <= interval '0' THEN
        RAISE EXCEPTION 'inactivity must be a positive interval'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The value given was ' || COALESCE(inactivity::text, 'NULL') || '.',
                  HINT = 'A customer churns after this long without an order, for example interval ''90 days''.';
    END IF;
    IF customer_view IS NOT NULL THEN
        PERFORM @extschema@._column_type(customer_view, 'predicted_clv', 'customer_view');
        PERFORM @extschema@._column_type(customer_view, 'stage', 'customer_view');
    END IF;

    EXECUTE pg_catalog.format($q$
        WITH pc AS (           -- one row per customer who ordered before until
            SELECT t.%1$I AS c,
                   pg_catalog.min(t.%2$I::timestamptz) AS first_at,
                   pg_catalog.max(t.%2$I::timestamptz) FILTER (WHERE t.%2$I::timestamptz < $1) AS last_before,
                   pg_catalog.min(t.%2$I::timestamptz) FILTER (WHERE t.%2$I::timestamptz >= $1) AS first_in,
                   pg_catalog.count(*) FILTER (WHERE t.%2$I::timestamptz >= $1) AS n_in,
                   pg_catalog.sum(t.%3$I::numeric) FILTER (WHERE t.%2$I::timestamptz >= $1) AS rev_in
              FROM %4$s AS t
             WHERE t.%1$I IS NOT NULL AND t.%2$I::timestamptz < $2
             GROUP BY t.%1$I
        )
        SELECT pg_catalog.count(*) FILTER (WHERE pc.n_in > 0) AS active,
               pg_catalog.count(*) FILTER (WHERE pc.first_at >= $1) AS new,
               pg_catalog.count(*) FILTER (WHERE pc.n_in > 1) AS repeaters,
               COALESCE(pg_catalog.sum(pc.n_in), 0)::bigint AS n_orders,
               COALESCE(pg_catalog.sum(pc.rev_in), 0) AS revenue,
               pg_catalog.count(*) FILTER (WHERE pc.last_before + $3 >= $1) AS at_start,
               pg_catalog.count(*) FILTER (WHERE pc.last_before + $3 >= $1
                                             AND pc.last_before + $3 < $2
                                             AND (pc.first_in IS NULL OR pc.first_in > pc.last_before + $3)) AS churned
          FROM pc
        $q$, customer_column, ordered_at_column, amount_column, orders)
    INTO r
    USING since, until, inactivity;

    IF customer_view IS NOT NULL THEN
        EXECUTE pg_catalog.format($q$
            SELECT (SELECT pg_catalog.avg(v.predicted_clv) FROM %1$s AS v),
                   (SELECT pg_catalog.jsonb_object_agg(s.stage, s.n ORDER BY s.stage)
                      FROM (SELECT v.stage, pg_catalog.count(*) AS n
                              FROM %1$s AS v WHERE v.stage IS NOT NULL GROUP BY v.stage) AS s)
            $q$, customer_view)
        INTO clv, per_stage;
    END IF;

    period_start := since;
    period_end := until;
    active_customers := r.active;
    new_customers := r.new;
    returning_customers := r.active - r.new;
    orders_count := r.n_orders;
    revenue := r.revenue;
    repeat_purchase_rate := CASE WHEN r.active > 0 THEN r.repeaters::double precision / r.active END;
    customers_at_start := r.at_start;
    churned_customers := r.churned;
    churn_rate := CASE WHEN r.at_start > 0 THEN r.churned::double precision / r.at_start END;
    average_order_value := CASE WHEN r.n_orders > 0 THEN r.revenue / r.n_orders END;
    purchase_frequency := CASE WHEN r.active > 0 THEN r.n_orders::double precision / r.active END;
    average_predicted_clv := clv;
    customers_per_stage := per_stage;
    RETURN NEXT;
END
$fn$;
COMMENT ON FUNCTION @extschema@.lifecycle_kpis(regclass, name, name, name, timestamptz, timestamptz, interval, regclass) IS
    'one row of lifecycle KPIs for [since, until): active, new and returning customers, orders, revenue, repeat purchase rate, churn rate (inactivity rule), average order value, purchase frequency, and from a customer view the average predicted CLV and customers per stage';

-- ---------------------------------------------------------------------------
-- Stage history: transition matrix and funnel
-- ---------------------------------------------------------------------------

-- _relation_label: stage_history identifies the customers table by its
-- quoted, schema-qualified name (text, so that history survives dump and
-- restore); this builds the same label from a regclass for filtering.
CREATE FUNCTION @extschema@._relation_label(rel regclass)
RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.oid = rel);
COMMENT ON FUNCTION @extschema@._relation_label(regclass) IS
    'internal: the quoted, schema-qualified name of a relation, as clm.stage_history.relation stores it';

-- _check_window: since/until bound a half-open window; NULL means open on
-- that side, but an empty or inverted window is almost surely a mistake.
CREATE FUNCTION @extschema@._check_window(since timestamptz, until timestamptz)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF since IS NOT NULL AND until IS NOT NULL AND since >= until THEN
        RAISE EXCEPTION 'since must be earlier than until'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The window given was [' || since::text || ', ' || until::text || ').',
                  HINT = 'The window is half-open: since is included, until is not.';
    END IF;
END
$fn$;
COMMENT ON FUNCTION @extschema@._check_window(timestamptz, timestamptz) IS
    'internal: raises an error when since is not earlier than until';

-- stage_transition_matrix: how customers move between stages, estimated
-- from the recorded changes (the jump chain of the lifecycle: each change
-- is one transition, p(i, j) = n(i, j) / n(i)).  Rows for every from-stage
-- that has transitions cover all ten to-stages, zero cells included, so a
-- BI pivot shows a complete matrix whose rows sum to 1.  from_stage NULL is
-- the entry row: the first stage customers were given.
CREATE FUNCTION @extschema@.stage_transition_matrix(
    since timestamptz,
    until timestamptz,
    relation regclass DEFAULT NULL)
RETURNS TABLE(from_stage @extschema@.lifecycle_stage, to_stage @extschema@.lifecycle_stage,
              transitions bigint, probability double precision)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rel_label text := @extschema@._relation_label(relation);
BEGIN
    PERFORM @extschema@._check_window(since, until);
    RETURN QUERY
    WITH h AS (
        SELECT sh.from_stage AS f, sh.to_stage AS t
          FROM @extschema@.stage_history AS sh
         WHERE (since IS NULL OR sh.changed_at >= since)
           AND (until IS NULL OR sh.changed_at < until)
           AND (rel_label IS NULL OR sh.relation = rel_label)
    ), cnt AS (
        SELECT h.f, h.t, pg_catalog.count(*) AS n FROM h GROUP BY h.f, h.t
    ), tot AS (
        SELECT cnt.f, pg_catalog.sum(cnt.n)::bigint AS n FROM cnt GROUP BY cnt.f
    )
    SELECT tot.f, s.s, COALESCE(cnt.n, 0), COALESCE(cnt.n, 0)::double precision / tot.n
      FROM tot
     CROSS JOIN pg_catalog.unnest(pg_catalog.enum_range(NULL::@extschema@.lifecycle_stage)) AS s(s)
      LEFT JOIN cnt ON cnt.f IS NOT DISTINCT FROM tot.f AND cnt.t = s.s
     ORDER BY tot.f NULLS FIRST, s.s;
END
$fn$;
COMMENT ON FUNCTION @extschema@.stage_transition_matrix(timestamptz, timestamptz, regclass) IS
    'stage transition counts and row-normalised probabilities from clm.stage_history changes in [since, until) (NULL = unbounded), optionally for one customers table; from_stage NULL = first stage assigned';

-- stage_funnel: the question "of the customers who got this far, how many
-- got further, and how long did they stay" over an ordered list of stages.
-- A customer reaches step i when, within the window, they entered stage i
-- or any later stage of the list (skipping a stage does not drop them out
-- of the funnel), so counts never grow from step to step.  Time in stage is
-- measured on completed stays only: entered in the window and left (any
-- later change of the same customer) before until.
CREATE FUNCTION @extschema@.stage_funnel(
    since timestamptz,
    until timestamptz,
    stages @extschema@.lifecycle_stage[] DEFAULT ARRAY['prospect', 'lead', 'first_purchase', 'repeat', 'loyal', 'advocate']::@extschema@.lifecycle_stage[],
    relation regclass DEFAULT NULL)
RETURNS TABLE(step integer, stage @extschema@.lifecycle_stage, customers bigint,
              conversion_rate double precision, overall_rate double precision,
              median_days_in_stage double precision, completed_stays bigint)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rel_label text := @extschema@._relation_label(relation);
BEGIN
    PERFORM @extschema@._check_window(since, until);
    IF stages IS NULL OR pg_catalog.cardinality(stages) = 0 THEN
        RAISE EXCEPTION 'stages must list at least one stage'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.array_position(stages, NULL) IS NOT NULL
       OR (SELECT pg_catalog.count(DISTINCT u) FROM pg_catalog.unnest(stages) AS u) <> pg_catalog.cardinality(stages) THEN
        RAISE EXCEPTION 'stages must not contain nulls or repeated stages'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The list given was ' || stages::text || '.';
    END IF;

    RETURN QUERY
    WITH pos AS (
        SELECT u.s, u.i::integer AS i
          FROM pg_catalog.unnest(stages) WITH ORDINALITY AS u(s, i)
    ), h AS (
        SELECT sh.relation AS r, sh.customer_key AS k, sh.to_stage AS t, sh.changed_at AS at,
               pg_catalog.lead(sh.changed_at) OVER (PARTITION BY sh.relation, sh.customer_key
                                                    ORDER BY sh.changed_at, sh.id) AS left_at
          FROM @extschema@.stage_history AS sh
         WHERE (rel_label IS NULL OR sh.relation = rel_label)
           AND (until IS NULL OR sh.changed_at < until)
    ), w AS (
        SELECT h.* FROM h WHERE since IS NULL OR h.at >= since
    ), reach AS (      -- the furthest step each customer reached in the window
        SELECT w.r, w.k, pg_catalog.max(pos.i) AS i
          FROM w JOIN pos ON pos.s = w.t
         GROUP BY w.r, w.k
    ), cnt AS (
        SELECT pos.i, pos.s,
               (SELECT pg_catalog.count(*) FROM reach WHERE reach.i >= pos.i) AS n
          FROM pos
    ), stay AS (
        SELECT pos.i,
               pg_catalog.percentile_cont(0.5) WITHIN GROUP (
                   ORDER BY pg_catalog.date_part('epoch', w.left_at - w.at) / 86400) AS med,
               pg_catalog.count(*) AS n
          FROM w JOIN pos ON pos.s = w.t
         WHERE w.left_at IS NOT NULL
         GROUP BY pos.i
    )
    SELECT cnt.i, cnt.s, cnt.n,
           CASE WHEN cnt.i > 1 AND prev.n > 0 THEN cnt.n::double precision / prev.n END,
           CASE WHEN first.n > 0 THEN cnt.n::double precision / first.n END,
           stay.med,
           COALESCE(stay.n, 0)
      FROM cnt
      LEFT JOIN cnt AS prev ON prev.i = cnt.i - 1
      JOIN cnt AS first ON first.i = 1
      LEFT JOIN stay ON stay.i = cnt.i
     ORDER BY cnt.i;
END
$fn$;
COMMENT ON FUNCTION @extschema@.stage_funnel(timestamptz, timestamptz, @extschema@.lifecycle_stage[], regclass) IS
    'stage funnel from clm.stage_history in [since, until): customers reaching each listed stage (or a later one), conversion from the previous step and from the first, median days in stage over completed stays';

-- ---------------------------------------------------------------------------
-- The materialized customer view
-- ---------------------------------------------------------------------------

-- customer_view: one row per view made by create_customer_view.  It holds
-- what the view needs to be rebuilt identically (the orders relation and
-- columns, the parameters), the as-of time fixed at the last refresh and the
-- models fitted then.  The view's query reads its row, so a plain REFRESH
-- MATERIALIZED VIEW reproduces the last refresh exactly, and
-- refresh_customer_view moves as_of and refits.  Keyed by schema and view
-- name (never an OID) and registered for pg_dump, so a dump restores the
-- registry before the view's data is refreshed.
CREATE TABLE @extschema@.customer_view (
    view_schema             name NOT NULL,
    view_name               name NOT NULL,
    owner                   name NOT NULL DEFAULT CURRENT_USER,
    orders_relation         text NOT NULL,
    customer_column         name NOT NULL,
    ordered_at_column       name NOT NULL,
    amount_column           name NOT NULL,
    policy                  text NOT NULL,
    time_unit               interval NOT NULL,
    horizon_days            integer NOT NULL,
    clv_months              integer NOT NULL,
    monthly_discount_rate   double precision NOT NULL,
    as_of                   timestamptz NOT NULL,
    bgnbd                   @extschema@.bgnbd,
    gamma_gamma             @extschema@.gamma_gamma,
    thresholds              @extschema@.rfm_thresholds,
    customers               bigint,
    definition              text NOT NULL,
    created_at              timestamptz NOT NULL DEFAULT pg_catalog.statement_timestamp(),
    refreshed_at            timestamptz NOT NULL DEFAULT pg_catalog.statement_timestamp(),
    PRIMARY KEY (view_schema, view_name),
    CHECK (time_unit > interval '0'),
    CHECK (horizon_days > 0),
    CHECK (clv_months > 0),
    CHECK (monthly_discount_rate >= 0)
);
COMMENT ON TABLE @extschema@.customer_view IS
    'registry of the materialized customer views made by clm.create_customer_view: source, parameters, the as-of time and the models of the last refresh, and the view''s definition';
COMMENT ON COLUMN @extschema@.customer_view.as_of IS
    'the as-of time of the last refresh: orders at or after it are ignored, recency and model clocks stop there';
COMMENT ON COLUMN @extschema@.customer_view.definition IS
    'the SELECT the materialized view was created with';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.customer_view', '');

-- Anyone may make a customer view of tables they can read, so the registry
-- is writable by all, but each row only by (members of) the role that made
-- it; a row is visible to its owner and to whoever may read the view.
ALTER TABLE @extschema@.customer_view ENABLE ROW LEVEL SECURITY;
CREATE POLICY customer_view_read ON @extschema@.customer_view FOR SELECT
    USING (pg_catalog.pg_has_role(owner, 'MEMBER')
           OR pg_catalog.has_table_privilege(
                  pg_catalog.to_regclass(pg_catalog.format('%I.%I', view_schema, view_name)), 'SELECT'));
CREATE POLICY customer_view_insert ON @extschema@.customer_view FOR INSERT
    WITH CHECK (owner = CURRENT_USER);
CREATE POLICY customer_view_update ON @extschema@.customer_view FOR UPDATE
    USING (pg_catalog.pg_has_role(owner, 'MEMBER'))
    WITH CHECK (pg_catalog.pg_has_role(owner, 'MEMBER'));
CREATE POLICY customer_view_delete ON @extschema@.customer_view FOR DELETE
    USING (pg_catalog.pg_has_role(owner, 'MEMBER'));
COMMENT ON POLICY customer_view_read ON @extschema@.customer_view IS
    'a registry row is visible to (members of) its owner and to roles that may read the view';
COMMENT ON POLICY customer_view_insert ON @extschema@.customer_view IS
    'anyone may register a view, as its owner';
COMMENT ON POLICY customer_view_update ON @extschema@.customer_view IS
    'only (members of) the owner may change a registry row';
COMMENT ON POLICY customer_view_delete ON @extschema@.customer_view IS
    'only (members of) the owner may delete a registry row';
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.customer_view TO PUBLIC;

-- _customer_view_source: the per-customer aggregation both the view and
-- the model fit run, written once so that they cannot drift apart.  as_of
-- and time_unit are SQL expressions ($1/$2 for the fit, the registry row's
-- columns for the view).
CREATE FUNCTION @extschema@._customer_view_source(reg @extschema@.customer_view,
                                                  as_of_expr text, unit_expr text, extra_from text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.format($q$
    SELECT o.%1$I AS customer_key,
           @extschema@.rfm_agg(o.%2$I::timestamptz, o.%3$I::numeric, %5$s) AS rfm,
           @extschema@.purchase_summary(o.%2$I::timestamptz, o.%3$I::numeric, %5$s, %6$s) AS s
      FROM %4$s AS o%7$s
     WHERE o.%1$I IS NOT NULL AND o.%2$I::timestamptz < %5$s
     GROUP BY o.%1$I$q$,
    reg.customer_column, reg.ordered_at_column, reg.amount_column, reg.orders_relation,
    as_of_expr, unit_expr, extra_from);
COMMENT ON FUNCTION @extschema@._customer_view_source(@extschema@.customer_view, text, text, text) IS
    'internal: the per-customer RFM and BTYD summary query of a customer view';

-- _customer_view_fit: fits the models of one registry row at its as_of and
-- stores them; the view's query then only applies them.  BG/NBD on every
-- customer, Gamma-Gamma on repeat customers (it models spend per repeat
-- purchase), RFM thresholds from the same customers.  A model that cannot
-- be fitted, or that fails on the extreme customers of the data (a
-- degenerate fit), is stored as NULL with a WARNING: the view then has
-- empty prediction columns instead of failing as a whole.
CREATE FUNCTION @extschema@._customer_view_fit(schema_name name, view_name name)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    reg @extschema@.customer_view;
    fit record;
    bg @extschema@.bgnbd;
    gg @extschema@.gamma_gamma;
    th @extschema@.rfm_thresholds;
    n bigint;
    unit_days double precision;
    src text;
BEGIN
    SELECT * INTO reg FROM @extschema@.customer_view AS r
     WHERE r.view_schema = schema_name AND r.view_name = _customer_view_fit.view_name;
    src := @extschema@._customer_view_source(reg, '$1', '$2', '');
    unit_days := pg_catalog.date_part('epoch', reg.time_unit) / 86400;
    BEGIN
        EXECUTE pg_catalog.format($q$
            SELECT @extschema@.bgnbd_fit((c.s).x::double precision, (c.s).t_x, (c.s).t) AS bg,
                   @extschema@.gamma_gamma_fit((c.s).x::double precision, (c.s).mean_spend)
                       FILTER (WHERE (c.s).x > 0 AND (c.s).mean_spend > 0) AS gg,
                   @extschema@.rfm_thresholds(c.rfm) AS th,
                   pg_catalog.count(*) AS n,
                   pg_catalog.max((c.s).t) AS t_max,
                   pg_catalog.max((c.s).x) AS x_max
              FROM (%s) AS c$q$, src)
        INTO fit
        USING reg.as_of, reg.time_unit;
        bg := fit.bg;
        gg := fit.gg;
        th := fit.th;
        n := fit.n;
    EXCEPTION WHEN data_exception THEN
        RAISE WARNING 'the models of customer view %.% could not be fitted: %',
                      pg_catalog.quote_ident(schema_name), pg_catalog.quote_ident(view_name), SQLERRM
            USING DETAIL = 'P(alive), expected purchases and predicted CLV are left empty.';
        EXECUTE pg_catalog.format($q$
            SELECT @extschema@.rfm_thresholds(c.rfm) AS th, pg_catalog.count(*) AS n,
                   NULL::double precision AS t_max, NULL::double precision AS x_max
              FROM (%s) AS c$q$, src)
        INTO fit
        USING reg.as_of, reg.time_unit;
        th := fit.th;
        n := fit.n;
    END;
    -- probe the fitted models on the extreme customers
    IF (bg).r IS NOT NULL AND fit.t_max IS NOT NULL THEN
        BEGIN
            PERFORM @extschema@.bgnbd_p_alive(bg, p.x, p.t_x, fit.t_max),
                    @extschema@.bgnbd_expected_purchases(bg, reg.horizon_days / unit_days, p.x, p.t_x, fit.t_max),
                    @extschema@.clv(bg, gg, p.x, p.t_x, fit.t_max, 1.0, reg.clv_months,
                                    reg.monthly_discount_rate, unit_days)
               FROM (VALUES (0::double precision, 0::double precision),
                            (fit.x_max, fit.t_max / 2), (fit.x_max, fit.t_max)) AS p(x, t_x);
        EXCEPTION WHEN data_exception THEN
            RAISE WARNING 'the BG/NBD model fitted for customer view %.% cannot predict: %',
                          pg_catalog.quote_ident(schema_name), pg_catalog.quote_ident(view_name), SQLERRM
                USING DETAIL = 'Fitted model: ' || bg::text || '.',
                      HINT = 'P(alive), expected purchases and predicted CLV are left empty; check the time unit and the order data.';
            bg := NULL;
        END;
    END IF;
    UPDATE @extschema@.customer_view AS r
       SET bgnbd = bg, gamma_gamma = gg, thresholds = th, customers = n,
           refreshed_at = pg_catalog.statement_timestamp()
     WHERE r.view_schema = schema_name AND r.view_name = _customer_view_fit.view_name;
END
$fn$;
COMMENT ON FUNCTION @extschema@._customer_view_fit(name, name) IS
    'internal: fits the BG/NBD and Gamma-Gamma models and the RFM thresholds of a customer view at its as_of and stores them in clm.customer_view';

-- _customer_view_lookup: resolves the name a user gives to a registry row.
-- An unqualified name is looked up in the registry (it is unique there or
-- the caller must qualify it), because the caller's search_path is not
-- visible inside a function that pins its own.
CREATE FUNCTION @extschema@._customer_view_lookup(view_name text)
RETURNS @extschema@.customer_view
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    parts text[];
    reg @extschema@.customer_view;
    n integer;
BEGIN
    IF view_name IS NULL THEN
        RAISE EXCEPTION 'view_name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    parts := pg_catalog.parse_ident(view_name);
    IF pg_catalog.cardinality(parts) = 2 THEN
        SELECT * INTO reg FROM @extschema@.customer_view AS r
         WHERE r.view_schema = parts[1] AND r.view_name = parts[2];
        n := CASE WHEN reg.view_name IS NULL THEN 0 ELSE 1 END;
    ELSIF pg_catalog.cardinality(parts) = 1 THEN
        SELECT pg_catalog.count(*) INTO n FROM @extschema@.customer_view AS r WHERE r.view_name = parts[1];
        IF n = 1 THEN
            SELECT * INTO reg FROM @extschema@.customer_view AS r WHERE r.view_name = parts[1];
        END IF;
    ELSE
        RAISE EXCEPTION 'invalid customer view name "%"', view_name
            USING ERRCODE = 'invalid_name',
                  HINT = 'Give the view''s name, optionally qualified with its schema.';
    END IF;
    IF n = 0 THEN
        RAISE EXCEPTION 'customer view "%" does not exist', view_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it with clm.create_customer_view; clm.customer_view lists the existing ones.';
    ELSIF n > 1 THEN
        RAISE EXCEPTION 'customer view name "%" is ambiguous', view_name
            USING ERRCODE = 'ambiguous_alias',
                  DETAIL = n || ' customer views of that name exist in different schemas.',
                  HINT = 'Qualify the name with its schema.';
    END IF;
    RETURN reg;
END
$fn$;
COMMENT ON FUNCTION @extschema@._customer_view_lookup(text) IS
    'internal: the clm.customer_view row of a customer view given by (optionally schema-qualified) name';

-- create_customer_view: the materialized view BI tools read, one row per
-- customer, built on the user's own orders table whatever its column names
-- and key type.  The as-of time is fixed here and stored with the view, so
-- every figure in it (recency, stage, P(alive), CLV) refers to the same
-- instant however late the view is read.
CREATE FUNCTION @extschema@.create_customer_view(
    view_name text,
    orders regclass,
    customer_column name,
    ordered_at_column name,
    amount_column name,
    as_of timestamptz DEFAULT pg_catalog.now(),
    policy text DEFAULT 'default',
    time_unit interval DEFAULT '7 days',
    horizon_days integer DEFAULT 90,
    clv_months integer DEFAULT 12,
    monthly_discount_rate double precision DEFAULT 0.01)
RETURNS regclass
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    parts text[];
    vschema name;
    vname name;
    reg @extschema@.customer_view;
    def text;
    rel regclass;
BEGIN
    PERFORM @extschema@._check_order_columns(orders, customer_column, ordered_at_column, amount_column);
    IF amount_column IS NULL THEN
        RAISE EXCEPTION 'amount_column must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM @extschema@._check_as_of(as_of, 'as_of');
    IF policy IS NULL THEN
        RAISE EXCEPTION 'policy must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Use ''default'' or the name of a lifecycle policy.';
    END IF;
    IF time_unit IS NULL OR time_unit <= interval '0' THEN
        RAISE EXCEPTION 'time_unit must be a positive interval'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The models'' clock ticks in this unit, for example interval ''7 days''.';
    END IF;
    IF horizon_days IS NULL OR horizon_days <= 0 OR clv_months IS NULL OR clv_months <= 0
       OR clv_months > 1200 THEN
        RAISE EXCEPTION 'horizon_days and clv_months must be positive'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'horizon_days was ' || COALESCE(horizon_days::text, 'NULL')
                           || ', clv_months was ' || COALESCE(clv_months::text, 'NULL') || '.',
                  HINT = 'clv_months can be at most 1200.';
    END IF;
    IF monthly_discount_rate IS NULL OR monthly_discount_rate < 0
       OR monthly_discount_rate = 'NaN' OR monthly_discount_rate = 'Infinity' THEN
        RAISE EXCEPTION 'monthly_discount_rate must be a finite number >= 0'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The value given was ' || COALESCE(monthly_discount_rate::text, 'NULL') || '.';
    END IF;
    IF view_name IS NULL THEN
        RAISE EXCEPTION 'view_name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    -- the name is parsed as SQL would: unquoted parts fold to lower case;
    -- an unqualified view goes into the schema of the orders table
    parts := pg_catalog.parse_ident(view_name);
    IF pg_catalog.cardinality(parts) = 1 THEN
        SELECT n.nspname INTO vschema
          FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.oid = orders;
        vname := parts[1];
    ELSIF pg_catalog.cardinality(parts) = 2 THEN
        vschema := parts[1];
        vname := parts[2];
    ELSE
        RAISE EXCEPTION 'invalid customer view name "%"', view_name
            USING ERRCODE = 'invalid_name',
                  HINT = 'Give the view''s name, optionally qualified with its schema.';
    END IF;
    IF pg_catalog.length(vname) > 50 THEN
        RAISE EXCEPTION 'customer view name "%" is too long', vname
            USING ERRCODE = 'name_too_long',
                  HINT = 'Use at most 50 characters, so that the name of its unique index fits.';
    END IF;
    IF pg_catalog.to_regclass(pg_catalog.format('%I.%I', vschema, vname)) IS NOT NULL THEN
        RAISE EXCEPTION 'relation "%" already exists', pg_catalog.format('%I.%I', vschema, vname)
            USING ERRCODE = 'duplicate_table',
                  HINT = 'Refresh it with clm.refresh_customer_view, or drop it with clm.drop_customer_view.';
    END IF;
    -- a registry row whose view was dropped by hand is stale: replace it
    DELETE FROM @extschema@.customer_view AS r WHERE r.view_schema = vschema AND r.view_name = vname;

    INSERT INTO @extschema@.customer_view
        (view_schema, view_name, orders_relation, customer_column, ordered_at_column, amount_column,
         policy, time_unit, horizon_days, clv_months, monthly_discount_rate, as_of, definition)
    VALUES (vschema, vname, orders::text, customer_column, ordered_at_column, amount_column,
            policy, time_unit, horizon_days, clv_months, monthly_discount_rate, as_of, '')
    RETURNING * INTO reg;
    -- orders::text above is schema-qualified here because search_path is
    -- pinned to pg_catalog; store the canonical quoted form
    reg.orders_relation := @extschema@._relation_label(orders);

    def := pg_catalog.format($q$
WITH m AS (
    SELECT r.as_of, r.policy, r.time_unit, r.horizon_days, r.clv_months, r.monthly_discount_rate,
           r.bgnbd, r.gamma_gamma, r.thresholds,
           pg_catalog.date_part('epoch', r.time_unit) / 86400 AS unit_days
      FROM @extschema@.customer_view AS r
     WHERE r.view_schema = %1$L AND r.view_name = %2$L
), c AS (%3$s
), sc AS (
    SELECT c.customer_key, c.rfm, c.s, @extschema@.rfm_score(c.rfm, m.thresholds) AS score
      FROM c, m
)
SELECT sc.customer_key,
       (sc.rfm).first_at AS first_order_at,
       (sc.rfm).last_at AS last_order_at,
       (sc.rfm).frequency AS orders,
       (sc.rfm).monetary AS revenue,
       (sc.rfm).recency_days AS recency_days,
       (sc.rfm).tenure_days AS tenure_days,
       (sc.rfm).mean_gap_days AS mean_gap_days,
       (sc.score).r AS r_score,
       (sc.score).f AS f_score,
       (sc.score).m AS m_score,
       (sc.score).score AS rfm_score,
       @extschema@.rfm_segment(sc.score) AS segment,
       @extschema@.classify_stage((sc.rfm).frequency, (sc.rfm).first_at, (sc.rfm).last_at, m.as_of, m.policy) AS stage,
       @extschema@.bgnbd_p_alive(m.bgnbd, (sc.s).x, (sc.s).t_x, (sc.s).t) AS p_alive,
       @extschema@.bgnbd_expected_purchases(m.bgnbd, m.horizon_days / m.unit_days,
                                            (sc.s).x, (sc.s).t_x, (sc.s).t) AS expected_purchases,
       @extschema@.clv(m.bgnbd, m.gamma_gamma, (sc.s).x, (sc.s).t_x, (sc.s).t, (sc.s).mean_spend,
                       m.clv_months, m.monthly_discount_rate, m.unit_days) AS predicted_clv,
       m.as_of
  FROM sc, m
$q$, vschema, vname,
        @extschema@._customer_view_source(reg, 'm.as_of', 'm.time_unit', ', m'));

    UPDATE @extschema@.customer_view AS r
       SET definition = def, orders_relation = reg.orders_relation
     WHERE r.view_schema = vschema AND r.view_name = vname;
    PERFORM @extschema@._customer_view_fit(vschema, vname);

    EXECUTE pg_catalog.format('CREATE MATERIALIZED VIEW %I.%I AS %s', vschema, vname, def);
    EXECUTE pg_catalog.format('CREATE UNIQUE INDEX %I ON %I.%I (customer_key)',
                              vname || '_customer_key', vschema, vname);
    EXECUTE pg_catalog.format('COMMENT ON MATERIALIZED VIEW %I.%I IS %L', vschema, vname,
                              'clm customer view of ' || reg.orders_relation
                              || ': one row per customer; refresh with clm.refresh_customer_view');
    rel := pg_catalog.format('%I.%I', vschema, vname)::regclass;
    RETURN rel;
END
$fn$;
COMMENT ON FUNCTION @extschema@.create_customer_view(text, regclass, name, name, name, timestamptz, text, interval, integer, integer, double precision) IS
    'creates a materialized view with one row per customer of an orders table (RFM values, scores and segment, lifecycle stage, P(alive), expected purchases, predicted CLV), fitted and fixed at as_of, with a unique index for REFRESH CONCURRENTLY';

-- refresh_customer_view: moves the view to a new as-of time, refits its
-- models on the orders before it and refreshes the data, concurrently by
-- default so that BI readers are never blocked.
CREATE FUNCTION @extschema@.refresh_customer_view(
    view_name text,
    as_of timestamptz DEFAULT pg_catalog.now(),
    concurrent boolean DEFAULT true)
RETURNS timestamptz
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    reg @extschema@.customer_view;
BEGIN
    PERFORM @extschema@._check_as_of(as_of, 'as_of');
    IF concurrent IS NULL THEN
        RAISE EXCEPTION 'concurrent must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    reg := @extschema@._customer_view_lookup(view_name);
    IF NOT pg_catalog.pg_has_role(reg.owner, 'MEMBER') THEN
        RAISE EXCEPTION 'must be owner of customer view "%"', view_name
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The view belongs to role ' || pg_catalog.quote_ident(reg.owner) || '.',
                  HINT = 'Readers of the view need only SELECT on it; its owner refreshes it.';
    END IF;
    IF pg_catalog.to_regclass(pg_catalog.format('%I.%I', reg.view_schema, reg.view_name)) IS NULL THEN
        RAISE EXCEPTION 'materialized view "%" of customer view "%" does not exist',
                        pg_catalog.format('%I.%I', reg.view_schema, reg.view_name), view_name
            USING ERRCODE = 'undefined_table',
                  HINT = 'Drop the registry entry with clm.drop_customer_view and create the view again.';
    END IF;
    IF pg_catalog.to_regclass(reg.orders_relation) IS NULL THEN
        RAISE EXCEPTION 'orders relation % of customer view "%" does not exist', reg.orders_relation, view_name
            USING ERRCODE = 'undefined_table';
    END IF;
    -- one refresh at a time per view: lock its registry row
    PERFORM 1 FROM @extschema@.customer_view AS r
      WHERE r.view_schema = reg.view_schema AND r.view_name = reg.view_name FOR UPDATE;
    UPDATE @extschema@.customer_view AS r SET as_of = refresh_customer_view.as_of
     WHERE r.view_schema = reg.view_schema AND r.view_name = reg.view_name;
    PERFORM @extschema@._customer_view_fit(reg.view_schema, reg.view_name);
    EXECUTE pg_catalog.format('REFRESH MATERIALIZED VIEW %s %I.%I',
                              CASE WHEN concurrent THEN 'CONCURRENTLY' ELSE '' END,
                              reg.view_schema, reg.view_name);
    RETURN as_of;
END
$fn$;
COMMENT ON FUNCTION @extschema@.refresh_customer_view(text, timestamptz, boolean) IS
    'moves a customer view to a new as-of time: refits its models on the orders before it and refreshes the materialized view (concurrently by default)';

-- drop_customer_view: removes the view and its registry row together, so
-- that no stale definition is left behind for pg_dump.
CREATE FUNCTION @extschema@.drop_customer_view(view_name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    reg @extschema@.customer_view;
BEGIN
    reg := @extschema@._customer_view_lookup(view_name);
    IF NOT pg_catalog.pg_has_role(reg.owner, 'MEMBER') THEN
        RAISE EXCEPTION 'must be owner of customer view "%"', view_name
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The view belongs to role ' || pg_catalog.quote_ident(reg.owner) || '.';
    END IF;
    EXECUTE pg_catalog.format('DROP MATERIALIZED VIEW IF EXISTS %I.%I', reg.view_schema, reg.view_name);
    DELETE FROM @extschema@.customer_view AS r
     WHERE r.view_schema = reg.view_schema AND r.view_name = reg.view_name;
END
$fn$;
COMMENT ON FUNCTION @extschema@.drop_customer_view(text) IS
    'drops a customer view made by clm.create_customer_view and its registry entry';
