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
    PERFORM @extschema@._check_order_columns(orders, customer_column, ordered_at_column);
    PERFORM @extschema@._check_amount_column(orders, amount_column);
    PERFORM @extschema@._check_as_of(since, 'since');
    PERFORM @extschema@._check_as_of(until, 'until');
    IF since >= until THEN
        RAISE EXCEPTION 'since must be earlier than until'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The window given was [' || since::text || ', ' || until::text || ').',
                  HINT = 'The window is half-open: since is included, until is not.';
    END IF;
    PERFORM @extschema@._check_inactivity(inactivity);
    IF customer_view IS NOT NULL THEN
        PERFORM @extschema@._column_type(customer_view, 'predicted_clv', 'customer_view');
        PERFORM @extschema@._column_type(customer_view, 'stage', 'customer_view');
    END IF;

    EXECUTE pg_catalog.format($q$
        WITH pc AS (           -- one row per customer who ordered before until
            SELECT t.%1$I AS c,
                   pg_catalog.min(@extschema@._finite_order_time(t.%2$I::timestamptz)) AS first_at,
                   pg_catalog.max(t.%2$I::timestamptz) FILTER (WHERE t.%2$I::timestamptz < $1) AS last_before,
                   pg_catalog.min(t.%2$I::timestamptz) FILTER (WHERE t.%2$I::timestamptz >= $1) AS first_in,
                   pg_catalog.count(*) FILTER (WHERE t.%2$I::timestamptz >= $1) AS n_in,
                   pg_catalog.count(t.%3$I) FILTER (WHERE t.%2$I::timestamptz >= $1) AS priced_in,
                   pg_catalog.sum(t.%3$I::numeric) FILTER (WHERE t.%2$I::timestamptz >= $1) AS rev_in
              FROM %4$s AS t
             WHERE t.%1$I IS NOT NULL AND t.%2$I::timestamptz < $2
             GROUP BY t.%1$I
        )
        SELECT pg_catalog.count(*) FILTER (WHERE pc.n_in > 0) AS active,
               pg_catalog.count(*) FILTER (WHERE pc.first_at >= $1) AS new,
               pg_catalog.count(*) FILTER (WHERE pc.n_in > 1) AS repeaters,
               COALESCE(pg_catalog.sum(pc.n_in), 0)::bigint AS n_orders,
               COALESCE(pg_catalog.sum(pc.priced_in), 0)::bigint AS n_priced,
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
    -- an order with a NULL amount counts as an order but has no value
    average_order_value := CASE WHEN r.n_priced > 0 THEN r.revenue / r.n_priced END;
    purchase_frequency := CASE WHEN r.active > 0 THEN r.n_orders::double precision / r.active END;
    average_predicted_clv := clv;
    customers_per_stage := per_stage;
    RETURN NEXT;
END
$fn$;
COMMENT ON FUNCTION @extschema@.lifecycle_kpis(regclass, name, name, name, timestamptz, timestamptz, interval, regclass) IS
    'one row of lifecycle KPIs for [since, until): active, new and returning customers, orders, revenue, repeat purchase rate, churn rate (inactivity rule), average order value, purchase frequency, and from a customer view the average predicted CLV and customers per stage';
