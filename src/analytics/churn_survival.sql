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
    PERFORM @extschema@._check_order_columns(orders, customer_column, ordered_at_column);
    PERFORM @extschema@._check_as_of(as_of, 'as_of');
    PERFORM @extschema@._check_inactivity(inactivity);
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
            SELECT t.%1$I AS c, @extschema@._finite_order_time(t.%2$I::timestamptz) AS at
              FROM %3$s AS t
             WHERE t.%1$I IS NOT NULL AND t.%2$I::timestamptz <= $1    -- as_of is inclusive
        ), gaps AS (
            SELECT o.c, o.at,
                   pg_catalog.lead(o.at) OVER (PARTITION BY o.c ORDER BY o.at) AS next_at
              FROM o
        ), s AS (              -- one row per customer: first order, first churn
            -- (a churn before the next order, or at or before as_of: the
            -- orders at as_of have been seen, so has their absence)
            SELECT gaps.c, pg_catalog.min(gaps.at) AS first_at,
                   pg_catalog.min(gaps.at + $2)
                       FILTER (WHERE CASE WHEN gaps.next_at IS NULL THEN gaps.at + $2 <= $1
                                          ELSE gaps.at + $2 < gaps.next_at END) AS churn_at
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
