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
-- registry before the view's data is refreshed.  The row has no owner of
-- its own: it belongs to whoever owns the materialized view of that name,
-- looked up each time, so ALTER ... OWNER, REASSIGN OWNED and DROP ROLE
-- carry it along.
CREATE TABLE @extschema@.customer_view (
    view_schema             name NOT NULL,
    view_name               name NOT NULL,
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
    purchase_model          text NOT NULL DEFAULT 'bgnbd'
                            CHECK (purchase_model IN ('bgnbd', 'paretonbd', 'mbgnbd')),
    paretonbd               @extschema@.paretonbd,
    mbgnbd                  @extschema@.mbgnbd,
    referrals_relation      text,
    PRIMARY KEY (view_schema, view_name),
    CHECK (time_unit > interval '0'),
    CHECK (horizon_days > 0),
    CHECK (clv_months > 0),
    CHECK (monthly_discount_rate >= 0)
);
COMMENT ON TABLE @extschema@.customer_view IS
    'registry of the materialized customer views made by clm.create_customer_view: source, parameters, the as-of time and the models of the last refresh, and the view''s definition; a row belongs to the owner of its materialized view';
COMMENT ON COLUMN @extschema@.customer_view.as_of IS
    'the as-of time of the last refresh: orders up to and including it count, later ones are ignored; recency and model clocks stop there';
COMMENT ON COLUMN @extschema@.customer_view.definition IS
    'the SELECT the materialized view was created with';
COMMENT ON COLUMN @extschema@.customer_view.referrals_relation IS
    'the adopted referrals table (clm.adopt_referrals) whose referred customers the view counts, or NULL';
COMMENT ON COLUMN @extschema@.customer_view.purchase_model IS
    'the model of purchases and dropout behind P(alive), expected purchases and CLV: bgnbd, paretonbd or mbgnbd; its fit is stored in the column of that name at each refresh, the other two stay NULL';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.customer_view', '');

-- Anyone may make a customer view of tables they can read, so the registry
-- is writable by all, but each row only by (members of) the owner of its
-- materialized view.  A row whose view does not exist (not made yet, or
-- dropped by hand) may be taken by whoever may create the view: a role
-- that has CREATE on its schema.  Else any role could take a name in
-- someone else's schema (by INSERT, or by moving its own row with UPDATE),
-- and that schema's owner could neither see nor remove the row, nor
-- create the view.
CREATE FUNCTION @extschema@._customer_view_owned(schema_name name, view_name name)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN EXISTS (SELECT FROM pg_catalog.pg_class AS c
                 JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
                WHERE n.nspname = schema_name AND c.relname = view_name
                  AND pg_catalog.pg_has_role(c.relowner, 'MEMBER'));
COMMENT ON FUNCTION @extschema@._customer_view_owned(name, name) IS
    'internal: whether the current user is a member of the owner of the relation schema_name.view_name';

CREATE FUNCTION @extschema@._customer_view_claimable(schema_name name, view_name name)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN EXISTS (SELECT FROM pg_catalog.pg_namespace AS n
                WHERE n.nspname = schema_name
                  AND pg_catalog.has_schema_privilege(n.oid, 'CREATE')
                  AND NOT EXISTS (SELECT FROM pg_catalog.pg_class AS c
                                   WHERE c.relnamespace = n.oid AND c.relname = view_name));
COMMENT ON FUNCTION @extschema@._customer_view_claimable(name, name) IS
    'internal: whether no relation schema_name.view_name exists and the current user may create one';

ALTER TABLE @extschema@.customer_view ENABLE ROW LEVEL SECURITY;
CREATE POLICY customer_view_read ON @extschema@.customer_view FOR SELECT
    USING (@extschema@._customer_view_owned(view_schema, view_name)
           OR @extschema@._customer_view_claimable(view_schema, view_name)
           -- not to_regclass: it raises an error for a schema without USAGE
           OR EXISTS (SELECT FROM pg_catalog.pg_class AS c
                        JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
                       WHERE n.nspname = view_schema AND c.relname = view_name
                         AND pg_catalog.has_schema_privilege(n.oid, 'USAGE')
                         AND pg_catalog.has_table_privilege(c.oid, 'SELECT')));
CREATE POLICY customer_view_insert ON @extschema@.customer_view FOR INSERT
    WITH CHECK (@extschema@._customer_view_claimable(view_schema, view_name));
CREATE POLICY customer_view_update ON @extschema@.customer_view FOR UPDATE
    USING (@extschema@._customer_view_owned(view_schema, view_name))
    WITH CHECK (@extschema@._customer_view_owned(view_schema, view_name));
CREATE POLICY customer_view_delete ON @extschema@.customer_view FOR DELETE
    USING (@extschema@._customer_view_owned(view_schema, view_name)
           OR @extschema@._customer_view_claimable(view_schema, view_name));
COMMENT ON POLICY customer_view_read ON @extschema@.customer_view IS
    'a registry row is visible to (members of) the owner of its view, to roles that may read the view, and, while no such view exists, to roles that may create it';
COMMENT ON POLICY customer_view_insert ON @extschema@.customer_view IS
    'anyone may register a view that does not exist yet in a schema where they may create it';
COMMENT ON POLICY customer_view_update ON @extschema@.customer_view IS
    'only (members of) the owner of the view may change its registry row, and not move it to a view they do not own';
COMMENT ON POLICY customer_view_delete ON @extschema@.customer_view IS
    'only (members of) the owner of the view may delete its registry row; a row without a view, whoever may create the view';
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.customer_view TO PUBLIC;

-- _customer_view_row: the registry row a customer view's query reads.  A
-- function rather than the table in the view's FROM, for the row_security
-- setting: pg_dump's scripts run with row_security = off, and there the
-- REFRESH of a restored view, run as its owner, would fail on the
-- registry's row-level security ("query would be affected by row-level
-- security policy") unless the owner is a superuser.  The owner's own row
-- passes the policies, so reading with them on is what the view means.
-- The row is read only while a materialized view of that name exists and
-- belongs to the role refreshing (REFRESH runs the query as the view's
-- owner): once the view is renamed or moved away, the row under its old
-- name is up for grabs by whoever may create that name (the registry's
-- policies), and must not fill the renamed view with that role's models
-- and as_of; such a view refreshes empty.
CREATE FUNCTION @extschema@._customer_view_row(schema_name name, view_name name)
RETURNS SETOF @extschema@.customer_view
LANGUAGE sql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
SET row_security = on
AS $fn$
    SELECT * FROM @extschema@.customer_view AS r
     WHERE r.view_schema = _customer_view_row.schema_name AND r.view_name = _customer_view_row.view_name
       AND EXISTS (SELECT FROM pg_catalog.pg_class AS c
                     JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
                    WHERE n.nspname = _customer_view_row.schema_name
                      AND c.relname = _customer_view_row.view_name
                      AND c.relkind = 'm' AND pg_catalog.pg_get_userbyid(c.relowner) = CURRENT_USER)
$fn$;
COMMENT ON FUNCTION @extschema@._customer_view_row(name, name) IS
    'internal: the clm.customer_view row a customer view''s query reads, with row-level security on also where the session has it off (restores), while a materialized view of that name owned by the current role exists';

-- _customer_view_source: the per-customer aggregation both the view and
-- the model fit run, written once so that they cannot drift apart.  as_of
-- and time_unit are SQL expressions ($1/$2 for the fit, scalar subqueries
-- on the registry row for the view) that reference no other relation, so
-- that the aggregation is over the orders relation alone: with orders
-- partitioned into postgres_fdw foreign tables and partitionwise
-- aggregation it runs on the shards (doc/scale.md).  Refunds (negative
-- amounts) count in the RFM figures as clm.rfm_agg counts them; the BTYD
-- summary the models are fitted on and applied to is that of the purchases
-- only.
CREATE FUNCTION @extschema@._customer_view_source(reg @extschema@.customer_view,
                                                  as_of_expr text, unit_expr text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.format($q$
    SELECT o.%1$I AS customer_key,
           @extschema@.rfm_agg(o.%2$I::timestamptz, o.%3$I::numeric, %5$s) AS rfm,
           @extschema@.purchase_summary(o.%2$I::timestamptz, o.%3$I::numeric, %5$s, %6$s)
               FILTER (WHERE o.%3$I::numeric >= 0) AS s
      FROM %4$s AS o
     WHERE o.%1$I IS NOT NULL AND o.%2$I::timestamptz <= %5$s
     GROUP BY o.%1$I$q$,
    reg.customer_column, reg.ordered_at_column, reg.amount_column, reg.orders_relation,
    as_of_expr, unit_expr);
COMMENT ON FUNCTION @extschema@._customer_view_source(@extschema@.customer_view, text, text) IS
    'internal: the per-customer RFM and BTYD summary query of a customer view';

-- _customer_view_fit: fits the models of a customer view at as_of and
-- stores them with as_of; the view's query then only applies them.  The
-- purchase model (BG/NBD, Pareto/NBD or MBG/NBD, as the registry says) on
-- every customer with a purchase, Gamma-Gamma on repeat customers (it
-- models spend per repeat purchase), RFM thresholds from all customers.  A
-- model that cannot be fitted, or that fails on the extreme customers of
-- the data (a degenerate fit), is stored as NULL with a WARNING: the view
-- then has empty prediction columns instead of failing as a whole.
-- It runs only as the view's owner, called by _customer_view_refit, and
-- is not executable by PUBLIC.
CREATE FUNCTION @extschema@._customer_view_fit(view regclass, as_of timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
-- the fitted model crosses into SQL as text: every digit of its doubles
SET extra_float_digits = 3
AS $fn$
DECLARE
    vschema name;
    vname name;
    owner_name name;
    reg @extschema@.customer_view;
    fit record;
    model text;
    usable boolean := false;
    gg @extschema@.gamma_gamma;
    th @extschema@.rfm_thresholds;
    n bigint;
    unit_days double precision;
    src text;
    rel regclass;
BEGIN
    SELECT ns.nspname, c.relname, pg_catalog.pg_get_userbyid(c.relowner) INTO vschema, vname, owner_name
      FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS ns ON ns.oid = c.relnamespace
     WHERE c.oid = view;
    IF owner_name IS DISTINCT FROM CURRENT_USER THEN
        RAISE EXCEPTION 'the models of customer view % are fitted only by its owner', view
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Use clm.refresh_customer_view.';
    END IF;
    SELECT * INTO reg FROM @extschema@.customer_view AS r
     WHERE r.view_schema = vschema AND r.view_name = vname;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'materialized view % is not a customer view', view
            USING ERRCODE = 'undefined_object';
    END IF;
    -- orders_relation is text that the row's owner may UPDATE: it becomes
    -- SQL only after it has been resolved to a relation and quoted again.
    -- The fit reads the relation as the owner: the owner must be able to
    -- read every column it reads.
    rel := pg_catalog.to_regclass(reg.orders_relation);
    IF rel IS NULL THEN
        RAISE EXCEPTION 'orders relation % of customer view % does not exist', reg.orders_relation, view
            USING ERRCODE = 'undefined_table';
    END IF;
    IF NOT (pg_catalog.has_column_privilege(rel, reg.customer_column, 'SELECT')
            AND pg_catalog.has_column_privilege(rel, reg.ordered_at_column, 'SELECT')
            AND pg_catalog.has_column_privilege(rel, reg.amount_column, 'SELECT')) THEN
        RAISE EXCEPTION 'owner % of customer view % may not read its orders relation %',
                        pg_catalog.quote_ident(owner_name), view, rel::text
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = pg_catalog.format('The view reads the columns %I, %I and %I.', reg.customer_column,
                                             reg.ordered_at_column, reg.amount_column),
                  HINT = 'The models of a customer view are fitted on its owner''s behalf.';
    END IF;
    reg.orders_relation := @extschema@._relation_label(rel);
    src := @extschema@._customer_view_source(reg, '$1', '$2');
    unit_days := pg_catalog.date_part('epoch', reg.time_unit) / 86400;
    -- one of three names (the registry's CHECK), each the name of the
    -- model's type, of its registry column and the prefix of its functions
    model := reg.purchase_model;
    -- the view applies the model it was made with, whatever the row says now
    IF pg_catalog.strpos(pg_catalog.pg_get_viewdef(view), '.' || model || '_p_alive(') = 0 THEN
        RAISE EXCEPTION 'customer view % was not made for purchase model "%"', view, model
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'purchase_model was changed in clm.customer_view after the view was created.',
                  HINT = 'Set purchase_model back, or drop the view with clm.drop_customer_view and create it with the model.';
    END IF;
    BEGIN
        -- the model leaves this query as text, and goes back into SQL as
        -- text cast to its type: its type changes with the model, which the
        -- cached plans of PL/pgSQL expressions on fit.pm would not follow
        EXECUTE pg_catalog.format($q$
            SELECT f.*, (f.pm).r IS NOT NULL AS has_model, f.pm::text AS pm_text
              FROM (SELECT @extschema@.%2$I((c.s).x::double precision, (c.s).t_x, (c.s).t)
                               FILTER (WHERE (c.s).x IS NOT NULL) AS pm,
                           @extschema@.gamma_gamma_fit((c.s).x::double precision, (c.s).mean_spend)
                               FILTER (WHERE (c.s).x > 0 AND (c.s).mean_spend > 0) AS gg,
                           @extschema@.rfm_thresholds(c.rfm) AS th,
                           pg_catalog.count(*) AS n,
                           pg_catalog.max((c.s).t) AS t_max,
                           pg_catalog.max((c.s).x) AS x_max
                      FROM (%1$s) AS c) AS f$q$, src, model || '_fit')
        INTO fit
        USING as_of, reg.time_unit;
        gg := fit.gg;
        th := fit.th;
        n := fit.n;
        usable := fit.has_model;
    EXCEPTION WHEN data_exception THEN
        RAISE WARNING 'the models of customer view % could not be fitted: %', view, SQLERRM
            USING DETAIL = 'P(alive), expected purchases and predicted CLV are left empty.';
        EXECUTE pg_catalog.format($q$
            SELECT @extschema@.rfm_thresholds(c.rfm) AS th, pg_catalog.count(*) AS n,
                   NULL::double precision AS t_max
              FROM (%s) AS c$q$, src)
        INTO fit
        USING as_of, reg.time_unit;
        th := fit.th;
        n := fit.n;
    END;
    -- probe the fitted model on the extreme customers
    IF usable AND fit.t_max IS NOT NULL THEN
        BEGIN
            EXECUTE pg_catalog.format($q$
                SELECT @extschema@.%1$I(m.pm, p.x, p.t_x, $2),
                       @extschema@.%2$I(m.pm, $3, p.x, p.t_x, $2),
                       @extschema@.clv(m.pm, $4, p.x, p.t_x, $2, 1.0, $5, $6, $7)
                  FROM (SELECT $1::@extschema@.%3$I AS pm) AS m,
                       (VALUES (0::double precision, 0::double precision),
                               ($8, $2 / 2), ($8, $2)) AS v(x, t_x),
                       -- t_x is 0 for x = 0: data without a repeat buyer
                       LATERAL (SELECT v.x, CASE WHEN v.x > 0 THEN v.t_x ELSE 0 END) AS p(x, t_x)$q$,
                model || '_p_alive', model || '_expected_purchases', model)
            USING fit.pm_text, fit.t_max, reg.horizon_days / unit_days, gg, reg.clv_months,
                  reg.monthly_discount_rate, unit_days, fit.x_max;
        EXCEPTION WHEN data_exception THEN
            RAISE WARNING 'the % model fitted for customer view % cannot predict: %',
                          CASE model WHEN 'bgnbd' THEN 'BG/NBD' WHEN 'paretonbd' THEN 'Pareto/NBD'
                                     ELSE 'MBG/NBD' END, view, SQLERRM
                USING DETAIL = 'Fitted model: ' || fit.pm_text || '.',
                      HINT = 'P(alive), expected purchases and predicted CLV are left empty; check the time unit and the order data.';
            usable := false;
        END;
    END IF;
    UPDATE @extschema@.customer_view AS r
       SET as_of = _customer_view_fit.as_of, bgnbd = NULL, paretonbd = NULL, mbgnbd = NULL,
           gamma_gamma = gg, thresholds = th, customers = n,
           orders_relation = reg.orders_relation, refreshed_at = pg_catalog.statement_timestamp()
     WHERE r.view_schema = vschema AND r.view_name = vname;
    IF usable THEN
        EXECUTE pg_catalog.format('UPDATE @extschema@.customer_view AS r SET %1$I = $1::@extschema@.%1$I
                                    WHERE r.view_schema = $2 AND r.view_name = $3', model)
        USING fit.pm_text, vschema, vname;
    END IF;
END
$fn$;
COMMENT ON FUNCTION @extschema@._customer_view_fit(regclass, timestamptz) IS
    'internal: fits the purchase model (BG/NBD, Pareto/NBD or MBG/NBD), the Gamma-Gamma model and the RFM thresholds of a customer view at as_of and stores them in clm.customer_view; runs only as the view''s owner, through clm._customer_view_refit';
REVOKE ALL ON FUNCTION @extschema@._customer_view_fit(regclass, timestamptz) FROM PUBLIC;

-- _customer_view_refit: the fit with the view owner's rights, as REFRESH
-- MATERIALIZED VIEW runs the view's query (see customer_view.c).
CREATE FUNCTION @extschema@._customer_view_refit(view regclass, as_of timestamptz)
RETURNS void
AS 'MODULE_PATHNAME', 'clm_customer_view_refit'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION @extschema@._customer_view_refit(regclass, timestamptz) IS
    'internal: for a member of the owner of a customer view, runs clm._customer_view_fit as that owner in a security-restricted operation';

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

-- _eq_operator: a type's own equality operator, for the SQL the customer
-- views are built from (keys compare as in the triggers)
CREATE FUNCTION @extschema@._eq_operator(typ regtype)
RETURNS text
AS 'MODULE_PATHNAME', 'clm_eq_operator'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._eq_operator(regtype) IS
    'internal: the type''s default equality operator as OPERATOR(schema.op), or NULL';

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
    monthly_discount_rate double precision DEFAULT 0.01,
    purchase_model text DEFAULT 'bgnbd',
    referrals regclass DEFAULT NULL)
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
    ref @extschema@.referral_source;
    ref_cte text := '';
    ref_cols text := 'NULL::pg_catalog.int8 AS referred_customers, NULL::pg_catalog.numeric AS referred_revenue';
    ref_join text := '';
    key_eq text;
    order_eq text;
BEGIN
    PERFORM @extschema@._check_order_columns(orders, customer_column, ordered_at_column);
    PERFORM @extschema@._check_amount_column(orders, amount_column);
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
    IF purchase_model IS NULL THEN
        RAISE EXCEPTION 'purchase_model must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Leave it out for BG/NBD, or use ''bgnbd'', ''paretonbd'' or ''mbgnbd''.';
    END IF;
    IF purchase_model NOT IN ('bgnbd', 'paretonbd', 'mbgnbd') THEN
        RAISE EXCEPTION 'unknown purchase model "%"', purchase_model
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A customer view predicts purchases with BG/NBD, Pareto/NBD or MBG/NBD.',
                  HINT = 'Use ''bgnbd'' (the default), ''paretonbd'' or ''mbgnbd''.';
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
    -- said here rather than as a row security violation on the registry
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace AS n WHERE n.nspname = vschema) THEN
        RAISE EXCEPTION 'schema "%" does not exist', vschema
            USING ERRCODE = 'invalid_schema_name';
    END IF;
    IF NOT pg_catalog.has_schema_privilege(vschema, 'CREATE') THEN
        RAISE EXCEPTION 'permission denied for schema %', pg_catalog.quote_ident(vschema)
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A customer view is created in the schema of the orders table unless its name is qualified.';
    END IF;
    IF pg_catalog.to_regclass(pg_catalog.format('%I.%I', vschema, vname)) IS NOT NULL THEN
        RAISE EXCEPTION 'relation "%" already exists', pg_catalog.format('%I.%I', vschema, vname)
            USING ERRCODE = 'duplicate_table',
                  HINT = 'Refresh it with clm.refresh_customer_view, or drop it with clm.drop_customer_view.';
    END IF;
    -- with referrals: per customer, the customers they referred (not
    -- themselves) up to as_of, and those customers' revenue up to as_of
    IF referrals IS NOT NULL THEN
        SELECT * INTO ref FROM @extschema@.referral_source AS s WHERE s.referrals = create_customer_view.referrals;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'table % is not an adopted referrals table', referrals
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Adopt it for its customers table with clm.adopt_referrals first.';
        END IF;
        -- keys compare with their types' own equality, as in the triggers
        -- (citext case-insensitively), whatever the search_path
        key_eq := @extschema@._eq_operator(@extschema@._column_type(referrals, ref.referrer_column, 'referrer_column'));
        order_eq := @extschema@._eq_operator(@extschema@._column_type(orders, customer_column, 'customer_column'));
        ref_cte := pg_catalog.format($q$, rf AS (
    SELECT d.referrer, pg_catalog.count(*) AS referred_customers,
           pg_catalog.sum(rv.revenue) AS referred_revenue
      FROM (SELECT DISTINCT r.%1$I AS referrer, r.%2$I AS referred
              FROM %3$s AS r, m
             WHERE NOT (r.%1$I %9$s r.%2$I) AND r.%4$I OPERATOR(pg_catalog.<=) m.as_of) AS d
      LEFT JOIN (SELECT o.%5$I AS customer, pg_catalog.sum(o.%7$I)::pg_catalog.numeric AS revenue
                   FROM %8$s AS o, m
                  WHERE o.%6$I OPERATOR(pg_catalog.<=) m.as_of
                  GROUP BY o.%5$I) AS rv ON rv.customer %10$s d.referred
     GROUP BY d.referrer
)$q$, ref.referrer_column, ref.referred_column, @extschema@._relation_label(referrals),
              ref.referred_at_column, customer_column, ordered_at_column, amount_column,
              @extschema@._relation_label(orders), key_eq, order_eq);
        ref_cols := 'COALESCE(rf.referred_customers, 0) AS referred_customers, '
                    'COALESCE(rf.referred_revenue, 0) AS referred_revenue';
        ref_join := pg_catalog.format(' LEFT JOIN rf ON sc.customer_key %s rf.referrer', order_eq);
        reg.referrals_relation := @extschema@._relation_label(referrals);
    END IF;

    -- a registry row whose view was dropped by hand is stale: replace it
    DELETE FROM @extschema@.customer_view AS r WHERE r.view_schema = vschema AND r.view_name = vname;

    reg.view_schema := vschema;
    reg.view_name := vname;
    -- the canonical quoted form (orders::text would be schema-qualified
    -- here only because search_path is pinned to pg_catalog)
    reg.orders_relation := @extschema@._relation_label(orders);
    reg.customer_column := customer_column;
    reg.ordered_at_column := ordered_at_column;
    reg.amount_column := amount_column;
    def := pg_catalog.format($q$
WITH m AS (
    SELECT r.as_of, r.policy, r.time_unit, r.horizon_days, r.clv_months, r.monthly_discount_rate,
           r.bgnbd, r.paretonbd, r.mbgnbd, r.gamma_gamma, r.thresholds,
           pg_catalog.date_part('epoch', r.time_unit) / 86400 AS unit_days
      FROM @extschema@._customer_view_row(%1$L, %2$L) AS r
), c AS (%3$s
), sc AS (
    SELECT c.customer_key, c.rfm, c.s, @extschema@.rfm_score(c.rfm, m.thresholds) AS score
      FROM c, m
)%7$s
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
       @extschema@.%5$I(m.%4$I, (sc.s).x, (sc.s).t_x, (sc.s).t) AS p_alive,
       @extschema@.%6$I(m.%4$I, m.horizon_days / m.unit_days,
                        (sc.s).x, (sc.s).t_x, (sc.s).t) AS expected_purchases,
       @extschema@.clv(m.%4$I, m.gamma_gamma, (sc.s).x, (sc.s).t_x, (sc.s).t, (sc.s).mean_spend,
                       m.clv_months, m.monthly_discount_rate, m.unit_days) AS predicted_clv,
       %8$s,
       m.as_of
  FROM sc CROSS JOIN m%9$s
$q$, vschema, vname,
        @extschema@._customer_view_source(reg, '(SELECT m.as_of FROM m)', '(SELECT m.time_unit FROM m)'),
        purchase_model, purchase_model || '_p_alive', purchase_model || '_expected_purchases',
        ref_cte, ref_cols, ref_join);

    INSERT INTO @extschema@.customer_view
        (view_schema, view_name, orders_relation, customer_column, ordered_at_column, amount_column,
         policy, time_unit, horizon_days, clv_months, monthly_discount_rate, as_of, definition,
         purchase_model, referrals_relation)
    VALUES (vschema, vname, reg.orders_relation, customer_column, ordered_at_column, amount_column,
            policy, time_unit, horizon_days, clv_months, monthly_discount_rate, as_of, def,
            purchase_model, reg.referrals_relation);
    -- the view first (empty), so that the models are fitted as its owner
    EXECUTE pg_catalog.format('CREATE MATERIALIZED VIEW %I.%I AS %s WITH NO DATA', vschema, vname, def);
    rel := pg_catalog.format('%I.%I', vschema, vname)::regclass;
    EXECUTE pg_catalog.format('CREATE UNIQUE INDEX %I ON %I.%I (customer_key)',
                              vname || '_customer_key', vschema, vname);
    EXECUTE pg_catalog.format('COMMENT ON MATERIALIZED VIEW %I.%I IS %L', vschema, vname,
                              'clm customer view of ' || reg.orders_relation
                              || ': one row per customer; refresh with clm.refresh_customer_view');
    PERFORM @extschema@._customer_view_refit(rel, as_of);
    EXECUTE pg_catalog.format('REFRESH MATERIALIZED VIEW %I.%I', vschema, vname);
    RETURN rel;
END
$fn$;
COMMENT ON FUNCTION @extschema@.create_customer_view(text, regclass, name, name, name, timestamptz, text, interval, integer, integer, double precision, text, regclass) IS
    'creates a materialized view with one row per customer of an orders table (RFM values, scores and segment, lifecycle stage, P(alive), expected purchases and predicted CLV from a BG/NBD, Pareto/NBD or MBG/NBD model; with an adopted referrals table, the customers each referred and their revenue), fitted and fixed at as_of, with a unique index for REFRESH CONCURRENTLY';

-- refresh_customer_view: moves the view to a new as-of time, refits its
-- models on the orders up to it and refreshes the data, concurrently by
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
    IF pg_catalog.to_regclass(pg_catalog.format('%I.%I', reg.view_schema, reg.view_name)) IS NULL THEN
        RAISE EXCEPTION 'materialized view "%" of customer view "%" does not exist',
                        pg_catalog.format('%I.%I', reg.view_schema, reg.view_name), view_name
            USING ERRCODE = 'undefined_table',
                  HINT = 'Drop the registry entry with clm.drop_customer_view and create the view again.';
    END IF;
    -- checks that the caller may refresh the view (a member of its owner)
    -- and fits as the owner, one refresh at a time per view
    PERFORM @extschema@._customer_view_refit(pg_catalog.format('%I.%I', reg.view_schema, reg.view_name)::regclass,
                                             as_of);
    EXECUTE pg_catalog.format('REFRESH MATERIALIZED VIEW %s %I.%I',
                              CASE WHEN concurrent THEN 'CONCURRENTLY' ELSE '' END,
                              reg.view_schema, reg.view_name);
    RETURN as_of;
END
$fn$;
COMMENT ON FUNCTION @extschema@.refresh_customer_view(text, timestamptz, boolean) IS
    'moves a customer view to a new as-of time: refits its models on the orders up to it and refreshes the materialized view (concurrently by default)';

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
    -- the row first, while its view still says whose it is: the registry's
    -- row-level security lets only (members of) the view's owner delete it
    -- (or, for a row without a view, whoever may create the view)
    DELETE FROM @extschema@.customer_view AS r
     WHERE r.view_schema = reg.view_schema AND r.view_name = reg.view_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'must be owner of customer view "%"', view_name
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Readers of the view need only SELECT on it; its owner drops it.';
    END IF;
    EXECUTE pg_catalog.format('DROP MATERIALIZED VIEW IF EXISTS %I.%I', reg.view_schema, reg.view_name);
END
$fn$;
COMMENT ON FUNCTION @extschema@.drop_customer_view(text) IS
    'drops a customer view made by clm.create_customer_view and its registry entry';
