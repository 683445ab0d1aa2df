
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
