-- ---------------------------------------------------------------------------
-- Campaigns: who was targeted, who was held out, and what it did
-- ---------------------------------------------------------------------------

-- campaign: one row per campaign made by create_campaign: the customers
-- table it targets (and its key), the orders table its results are read
-- from, the share of customers held out as the control group, and when it
-- starts.  The tables are kept by OID (regclass): the campaign follows a
-- rename, and clm.action_detach_dropped (feed.sql) sets them to 0 when
-- they are dropped, so that no later table reusing the OID inherits the
-- campaign.
-- A campaign belongs to the role that made it (created_by).
CREATE TABLE @extschema@.campaign (
    name                text PRIMARY KEY CHECK (name <> ''),
    customers           regclass NOT NULL,
    customer_key_column name NOT NULL,
    orders              regclass NOT NULL,
    customer_column     name NOT NULL,
    ordered_at_column   name NOT NULL,
    amount_column       name NOT NULL,
    control_share       double precision NOT NULL
                        CHECK (control_share > 0 AND control_share < 1),
    starts_at           timestamptz NOT NULL CHECK (pg_catalog.isfinite(starts_at)),
    description         text,
    created_by          name NOT NULL DEFAULT CURRENT_USER,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.statement_timestamp()
);
COMMENT ON TABLE @extschema@.campaign IS
    'campaigns made by clm.create_campaign: the customers table targeted and its key, the orders table the results are read from, the control share, the start, and the role that made it';
COMMENT ON COLUMN @extschema@.campaign.customers IS
    'the customers table (by OID: the campaign follows a rename); 0 once the table is dropped';
COMMENT ON COLUMN @extschema@.campaign.orders IS
    'the orders table whose orders count as responses (by OID); 0 once the table is dropped';
COMMENT ON COLUMN @extschema@.campaign.control_share IS
    'the share of enrolled customers held out as the control group, strictly between 0 and 1 (clm.campaign_arm)';
COMMENT ON COLUMN @extschema@.campaign.starts_at IS
    'when the campaign starts: the response window of clm.campaign_report begins here';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.campaign', '');

-- campaign_member: the customers enrolled in a campaign, and their arm.
-- The arm is always clm.campaign_arm's (the insert policy checks it), so
-- that enrolling a customer again, or in a restored database, gives the
-- same arm.
CREATE TABLE @extschema@.campaign_member (
    campaign        text NOT NULL REFERENCES @extschema@.campaign ON DELETE CASCADE,
    customer_key    text NOT NULL,
    arm             text NOT NULL CHECK (arm IN ('target', 'control')),
    enrolled_at     timestamptz NOT NULL DEFAULT pg_catalog.statement_timestamp(),
    PRIMARY KEY (campaign, customer_key)
);
COMMENT ON TABLE @extschema@.campaign_member IS
    'the customers enrolled in each campaign (key as text, as in clm.stage_history), with their arm: target (contacted) or control (held out)';
COMMENT ON COLUMN @extschema@.campaign_member.arm IS
    'target: the customer is to be contacted; control: held out, to measure what the campaign changed (clm.campaign_arm)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.campaign_member', '');

-- campaign_arm: the arm of a customer in a campaign, from a hash of the
-- campaign name and the customer key: the same every time, on every
-- server, and independent of the order customers are enrolled in.  A
-- customer goes to the control group when the hash, read as a number in
-- [0, 1), is below the control share.
CREATE FUNCTION @extschema@.campaign_arm(campaign text, customer_key text,
                                         control_share double precision)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF campaign IS NULL OR customer_key IS NULL OR control_share IS NULL THEN
        RAISE EXCEPTION 'campaign, customer key and control share must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass the campaign name, the customer key as text, and a share between 0 and 1.';
    END IF;
    IF NOT (control_share > 0 AND control_share < 1) THEN
        RAISE EXCEPTION 'control share must be between 0 and 1, exclusive'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('It was given as %s.', control_share),
                  HINT = 'A campaign holds out a share of its customers, such as 0.1; none or all leaves nothing to compare.';
    END IF;
    RETURN CASE WHEN ('x' || substr(encode(sha256(convert_to(campaign || E'\n' || customer_key, 'UTF8')),
                                           'hex'), 1, 13))::bit(52)::bigint / 4503599627370496.0
                     < control_share
                THEN 'control' ELSE 'target' END;
END
$fn$;
COMMENT ON FUNCTION @extschema@.campaign_arm(text, text, double precision) IS
    'the arm (target or control) of a customer in a campaign: control when the SHA-256 of the campaign name and the customer key, read as a number in [0, 1), is below the control share; the same on every call and every server';

-- _campaign_readable: whether the current role may read a table (USAGE on
-- its schema, SELECT on it); false for a dropped one.
CREATE FUNCTION @extschema@._campaign_readable(rel regclass)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN EXISTS (SELECT FROM pg_catalog.pg_class AS c
                WHERE c.oid = rel
                  AND pg_catalog.has_schema_privilege(c.relnamespace, 'USAGE')
                  AND pg_catalog.has_table_privilege(c.oid, 'SELECT'));
COMMENT ON FUNCTION @extschema@._campaign_readable(regclass) IS
    'internal: whether the current role may read the table (USAGE on its schema and SELECT on it); false for a dropped table';

-- _role_member: whether the current role is a member of the named role,
-- which made a campaign or subscribed a feed consumer (false once that
-- role is dropped: pg_has_role would raise an error for a missing name).
CREATE FUNCTION @extschema@._role_member(role_name name)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN EXISTS (SELECT FROM pg_catalog.pg_roles AS r
                WHERE r.rolname = role_name AND pg_catalog.pg_has_role(r.oid, 'MEMBER'));
COMMENT ON FUNCTION @extschema@._role_member(name) IS
    'internal: whether the current role is a member of the named role (false for a role that does not exist)';

-- _primary_key_column: the column of a table's one-column primary key, by
-- which clm finds customers where no key column is named; NULL when the
-- table has no primary key or one of several columns.
CREATE FUNCTION @extschema@._primary_key_column(rel regclass)
RETURNS name
AS 'MODULE_PATHNAME', 'clm_primary_key_column'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._primary_key_column(regclass) IS
    'internal: the column of the table''s one-column primary key, or NULL';

-- _customer_key_column: the column customers are found by, given or the
-- one-column primary key, for the functions that take an optional
-- customer_key_column; an error when there is neither.
CREATE FUNCTION @extschema@._customer_key_column(customers regclass, given name)
RETURNS name
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    key_column name := coalesce(given, @extschema@._primary_key_column(customers));
BEGIN
    IF key_column IS NULL THEN
        RAISE EXCEPTION 'table % has no one-column primary key to find customers by', customers
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass customer_key_column.';
    END IF;
    RETURN key_column;
END
$fn$;
COMMENT ON FUNCTION @extschema@._customer_key_column(regclass, name) IS
    'internal: the given customer key column, else the customers table''s one-column primary key; an error without either';

-- Who sees and changes what: a campaign is seen by the roles that may read
-- its customers table and by its maker, and changed or deleted by its
-- maker only.  A membership is seen by the roles that may see the
-- customer's history (clm.stage_history_visible: the same rule), and
-- added or removed by the campaign's maker, for customers the maker may
-- see (campaign_member_check_arm, below, keeps the arm).
ALTER TABLE @extschema@.campaign ENABLE ROW LEVEL SECURITY;
CREATE POLICY campaign_read ON @extschema@.campaign FOR SELECT
    USING (@extschema@._role_member(created_by) OR @extschema@._campaign_readable(customers));
CREATE POLICY campaign_insert ON @extschema@.campaign FOR INSERT
    WITH CHECK (created_by = CURRENT_USER AND @extschema@._campaign_readable(customers)
                AND @extschema@._campaign_readable(orders));
CREATE POLICY campaign_update ON @extschema@.campaign FOR UPDATE
    USING (@extschema@._role_member(created_by))
    WITH CHECK (@extschema@._role_member(created_by));
CREATE POLICY campaign_delete ON @extschema@.campaign FOR DELETE
    USING (@extschema@._role_member(created_by));
COMMENT ON POLICY campaign_read ON @extschema@.campaign IS
    'a campaign is visible to its maker and to the roles that may read its customers table';
COMMENT ON POLICY campaign_insert ON @extschema@.campaign IS
    'a role makes campaigns in its own name, on customers and orders tables it may read';
COMMENT ON POLICY campaign_update ON @extschema@.campaign IS
    'only (members of) the maker may change a campaign''s description';
COMMENT ON POLICY campaign_delete ON @extschema@.campaign IS
    'only (members of) the maker may delete a campaign, and with it its memberships';
GRANT SELECT, INSERT, DELETE ON @extschema@.campaign TO PUBLIC;
GRANT UPDATE (description) ON @extschema@.campaign TO PUBLIC;

ALTER TABLE @extschema@.campaign_member ENABLE ROW LEVEL SECURITY;
CREATE POLICY campaign_member_read ON @extschema@.campaign_member FOR SELECT
    USING (EXISTS (SELECT FROM @extschema@.campaign AS c
                    WHERE c.name OPERATOR(pg_catalog.=) campaign
                      AND @extschema@.stage_history_visible(c.customers, customer_key)));
CREATE POLICY campaign_member_insert ON @extschema@.campaign_member FOR INSERT
    WITH CHECK (EXISTS (SELECT FROM @extschema@.campaign AS c
                         WHERE c.name OPERATOR(pg_catalog.=) campaign
                           AND @extschema@._role_member(c.created_by)
                           AND @extschema@.stage_history_visible(c.customers, customer_key)));
CREATE POLICY campaign_member_delete ON @extschema@.campaign_member FOR DELETE
    USING (EXISTS (SELECT FROM @extschema@.campaign AS c
                    WHERE c.name OPERATOR(pg_catalog.=) campaign
                      AND @extschema@._role_member(c.created_by)));
COMMENT ON POLICY campaign_member_read ON @extschema@.campaign_member IS
    'a membership is visible to the roles that may see the customer (clm.stage_history_visible)';
COMMENT ON POLICY campaign_member_insert ON @extschema@.campaign_member IS
    'the campaign''s maker enrolls customers it may see';
COMMENT ON POLICY campaign_member_delete ON @extschema@.campaign_member IS
    'the campaign''s maker may remove memberships';
GRANT SELECT, INSERT, DELETE ON @extschema@.campaign_member TO PUBLIC;

-- campaign_member_check_arm: every membership is in the arm
-- clm.campaign_arm gives, however it was written (a trigger rather than a
-- policy: it holds for the table's owner and superusers too).
CREATE FUNCTION @extschema@.campaign_member_check_arm()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    share double precision;
    want text;
BEGIN
    SELECT c.control_share INTO share FROM @extschema@.campaign AS c WHERE c.name = NEW.campaign;
    IF NOT FOUND THEN
        RETURN NEW;             -- the foreign key reports it
    END IF;
    want := @extschema@.campaign_arm(NEW.campaign, NEW.customer_key, share);
    IF NEW.arm IS DISTINCT FROM want THEN
        RAISE EXCEPTION 'customer % of campaign "%" belongs in the % arm, not %',
                        NEW.customer_key, NEW.campaign, want, NEW.arm
            USING ERRCODE = 'check_violation',
                  DETAIL = 'The arm is a function of the campaign, the customer and the control share (clm.campaign_arm).',
                  HINT = 'Enroll customers with clm.campaign_enroll, which assigns the arm.';
    END IF;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION @extschema@.campaign_member_check_arm() IS
    'trigger function on clm.campaign_member: refuses a membership whose arm is not the one clm.campaign_arm gives';
CREATE TRIGGER campaign_member_check_arm BEFORE INSERT OR UPDATE ON @extschema@.campaign_member
    FOR EACH ROW EXECUTE FUNCTION @extschema@.campaign_member_check_arm();
COMMENT ON TRIGGER campaign_member_check_arm ON @extschema@.campaign_member IS
    'keeps every membership in the arm clm.campaign_arm gives (clm.campaign_member_check_arm)';

-- _campaign_get: the campaign of that name the current role may see, with
-- its tables still there; clear errors otherwise.
CREATE FUNCTION @extschema@._campaign_get(campaign text)
RETURNS @extschema@.campaign
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c @extschema@.campaign;
BEGIN
    IF campaign IS NULL THEN
        RAISE EXCEPTION 'campaign must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass the name given to clm.create_campaign.';
    END IF;
    SELECT * INTO c FROM @extschema@.campaign AS x WHERE x.name = campaign;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'campaign "%" does not exist', campaign
            USING ERRCODE = 'undefined_object',
                  HINT = 'See SELECT name FROM clm.campaign; a campaign is visible to its maker and to roles that may read its customers table.';
    END IF;
    IF c.customers = 0 OR c.orders = 0 THEN
        RAISE EXCEPTION 'the % table of campaign "%" was dropped', CASE WHEN c.customers = 0 THEN 'customers' ELSE 'orders' END, campaign
            USING ERRCODE = 'undefined_table',
                  HINT = 'Delete the campaign (DELETE FROM clm.campaign WHERE name = ...), or make it again on the current tables.';
    END IF;
    RETURN c;
END
$fn$;
COMMENT ON FUNCTION @extschema@._campaign_get(text) IS
    'internal: the visible campaign of that name, or an error when it is unknown or its tables were dropped';

-- create_campaign: make a campaign.  The customer key column defaults to
-- the customers table's one-column primary key; the customer, time and
-- amount columns of the orders table are checked now, so that the report
-- cannot fail on them later.
CREATE FUNCTION @extschema@.create_campaign(
    name text,
    customers regclass,
    orders regclass,
    control_share double precision DEFAULT 0.1,
    starts_at timestamptz DEFAULT pg_catalog.statement_timestamp(),
    customer_column name DEFAULT 'customer_id',
    ordered_at_column name DEFAULT 'ordered_at',
    amount_column name DEFAULT 'amount',
    customer_key_column name DEFAULT NULL,
    description text DEFAULT NULL)
RETURNS @extschema@.campaign
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c @extschema@.campaign;
    key_column name := customer_key_column;
    r regclass;
BEGIN
    IF name IS NULL OR customers IS NULL OR orders IS NULL OR control_share IS NULL
       OR customer_column IS NULL OR ordered_at_column IS NULL OR amount_column IS NULL THEN
        RAISE EXCEPTION 'the arguments of clm.create_campaign must not be null, except customer_key_column and description'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Leave out the arguments whose default you want.';
    END IF;
    IF name = '' THEN
        RAISE EXCEPTION 'a campaign name must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM @extschema@.campaign_arm(name, '', control_share);   -- checks the share
    PERFORM @extschema@._check_as_of(starts_at, 'starts_at');
    FOREACH r IN ARRAY ARRAY[customers, orders] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_class AS k WHERE k.oid = r
                          AND k.relkind IN ('r', 'p', 'v', 'm', 'f')) THEN
            RAISE EXCEPTION '% is not a table or view', r
                USING ERRCODE = 'wrong_object_type';
        END IF;
        IF NOT @extschema@._campaign_readable(r) THEN
            RAISE EXCEPTION 'permission denied for table %', r
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'A campaign is made by a role that may read its customers and orders tables.';
        END IF;
    END LOOP;
    key_column := @extschema@._customer_key_column(customers, key_column);
    PERFORM @extschema@._column_type(customers, key_column, 'customer_key_column');
    PERFORM @extschema@._check_order_columns(orders, customer_column, ordered_at_column);
    PERFORM @extschema@._check_amount_column(orders, amount_column);
    IF EXISTS (SELECT FROM @extschema@.campaign AS x WHERE x.name = create_campaign.name) THEN
        RAISE EXCEPTION 'campaign "%" already exists', name
            USING ERRCODE = 'duplicate_object';
    END IF;
    INSERT INTO @extschema@.campaign AS x (name, customers, customer_key_column, orders, customer_column,
                                          ordered_at_column, amount_column, control_share, starts_at, description)
    VALUES (name, customers, key_column, orders, customer_column, ordered_at_column, amount_column,
            control_share, starts_at, description)
    RETURNING x.* INTO c;
    RETURN c;
END
$fn$;
COMMENT ON FUNCTION @extschema@.create_campaign(text, regclass, regclass, double precision, timestamptz, name, name, name, name, text) IS
    'makes a campaign on a customers table, with the orders table its results are read from, a control share (default 0.1) and a start (default now); the customer key defaults to the one-column primary key';

-- campaign_enroll: enroll a customer (who must exist in the campaign's
-- customers table, as the calling role sees it) and return the arm.
-- Enrolling again changes nothing and returns the same arm.
CREATE FUNCTION @extschema@.campaign_enroll(campaign text, customer_key text)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c @extschema@.campaign := @extschema@._campaign_get(campaign);
    found_key text;
    result text;
BEGIN
    IF customer_key IS NULL THEN
        RAISE EXCEPTION 'customer key must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT @extschema@._role_member(c.created_by) THEN
        RAISE EXCEPTION 'only the maker of campaign "%" may enroll customers in it', campaign
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The campaign was made by %s.', c.created_by);
    END IF;
    EXECUTE format('SELECT k.%1$I::pg_catalog.text FROM %2$s AS k WHERE k.%1$I OPERATOR(pg_catalog.=) $1::%3$s',
                   c.customer_key_column, c.customers,
                   @extschema@._column_type(c.customers, c.customer_key_column, 'customer_key_column'))
        INTO found_key USING customer_key;
    IF found_key IS NULL THEN
        RAISE EXCEPTION 'customer % is not in table %', customer_key, c.customers
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'Enroll customers of the campaign''s customers table, by their key as text.';
    END IF;
    INSERT INTO @extschema@.campaign_member AS m (campaign, customer_key, arm)
    VALUES (c.name, found_key, @extschema@.campaign_arm(c.name, found_key, c.control_share))
    ON CONFLICT ON CONSTRAINT campaign_member_pkey DO NOTHING
    RETURNING m.arm INTO result;
    IF result IS NULL THEN
        SELECT m.arm INTO result FROM @extschema@.campaign_member AS m
         WHERE m.campaign = c.name AND m.customer_key = found_key;
    END IF;
    RETURN result;
END
$fn$;
COMMENT ON FUNCTION @extschema@.campaign_enroll(text, text) IS
    'enrolls a customer of the campaign''s customers table (key as text) and returns the arm, target or control (clm.campaign_arm); enrolling again returns the same arm; only the campaign''s maker may enroll';

-- campaign_report: what the campaign did, per arm, within a window from
-- its start.  A customer responded when the stage history shows it
-- reactivated in the window, or it ordered in the window.  The uplift is
-- the target arm's response rate minus the control arm's, with the normal
-- approximation's 95 % interval for a difference of two proportions.
-- Runs as the calling role: it counts the members, history rows and
-- orders that role may read.
CREATE FUNCTION @extschema@.campaign_report(campaign text, response_window interval)
RETURNS TABLE (name text, starts_at timestamptz, ends_at timestamptz,
               target_customers bigint, control_customers bigint,
               target_responded bigint, control_responded bigint,
               target_rate double precision, control_rate double precision,
               uplift double precision, uplift_low double precision, uplift_high double precision,
               target_revenue_per_customer numeric, control_revenue_per_customer numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    c @extschema@.campaign := @extschema@._campaign_get(campaign);
    win_end timestamptz;
    z constant double precision := 1.959963984540054;  -- the normal's 97.5 % quantile
    se double precision;
    n_t bigint;
    n_c bigint;
    r_t bigint;
    r_c bigint;
    rev_t numeric;
    rev_c numeric;
BEGIN
    IF response_window IS NULL THEN
        RAISE EXCEPTION 'response window must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass how long after the start a response counts, such as interval ''30 days''.';
    END IF;
    win_end := c.starts_at + response_window;
    IF NOT (win_end > c.starts_at) THEN
        RAISE EXCEPTION 'response window must be positive'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('It was given as %s.', response_window),
                  HINT = 'Pass how long after the start a response counts, such as interval ''30 days''.';
    END IF;
    EXECUTE format($q$
        WITH m AS (
            SELECT m.customer_key, m.arm FROM @extschema@.campaign_member AS m
             WHERE m.campaign OPERATOR(pg_catalog.=) $1),
        o AS (
            SELECT o.%2$I::pg_catalog.text AS customer_key,
                   pg_catalog.sum(o.%4$I::pg_catalog.numeric) AS revenue
              FROM %1$s AS o
             WHERE o.%2$I OPERATOR(pg_catalog.=) ANY (SELECT m.customer_key::%5$s FROM m)
               AND o.%3$I::pg_catalog.timestamptz OPERATOR(pg_catalog.>=) $2
               AND o.%3$I::pg_catalog.timestamptz OPERATOR(pg_catalog.<) $3
             GROUP BY 1),
        r AS (
            SELECT DISTINCT h.customer_key FROM @extschema@.stage_history AS h
             WHERE h.relation OPERATOR(pg_catalog.=) $4
               AND h.to_stage OPERATOR(pg_catalog.=) 'reactivated'
               AND h.changed_at OPERATOR(pg_catalog.>=) $2
               AND h.changed_at OPERATOR(pg_catalog.<) $3),
        per AS (
            SELECT m.arm, o.customer_key IS NOT NULL OR r.customer_key IS NOT NULL AS responded,
                   o.revenue
              FROM m
              LEFT JOIN o ON o.customer_key OPERATOR(pg_catalog.=) m.customer_key
              LEFT JOIN r ON r.customer_key OPERATOR(pg_catalog.=) m.customer_key)
        SELECT pg_catalog.count(*) FILTER (WHERE arm OPERATOR(pg_catalog.=) 'target'),
               pg_catalog.count(*) FILTER (WHERE arm OPERATOR(pg_catalog.=) 'control'),
               pg_catalog.count(*) FILTER (WHERE arm OPERATOR(pg_catalog.=) 'target' AND responded),
               pg_catalog.count(*) FILTER (WHERE arm OPERATOR(pg_catalog.=) 'control' AND responded),
               COALESCE(pg_catalog.sum(revenue) FILTER (WHERE arm OPERATOR(pg_catalog.=) 'target'), 0),
               COALESCE(pg_catalog.sum(revenue) FILTER (WHERE arm OPERATOR(pg_catalog.=) 'control'), 0)
          FROM per$q$,
        c.orders, c.customer_column, c.ordered_at_column, c.amount_column,
        @extschema@._column_type(c.orders, c.customer_column, 'customer_column'))
    INTO n_t, n_c, r_t, r_c, rev_t, rev_c
    USING c.name, c.starts_at, win_end, c.customers;
    IF n_t = 0 OR n_c = 0 THEN
        RAISE EXCEPTION 'the % arm of campaign "%" has no customers', CASE WHEN n_t = 0 THEN 'target' ELSE 'control' END, c.name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The calling role sees %s target and %s control customers.', n_t, n_c),
                  HINT = 'Enroll customers with clm.campaign_enroll; an uplift needs both arms.';
    END IF;
    se := sqrt((r_t::double precision / n_t) * (1 - r_t::double precision / n_t) / n_t
               + (r_c::double precision / n_c) * (1 - r_c::double precision / n_c) / n_c);
    RETURN QUERY SELECT c.name, c.starts_at, win_end, n_t, n_c, r_t, r_c,
                        r_t::double precision / n_t, r_c::double precision / n_c,
                        r_t::double precision / n_t - r_c::double precision / n_c,
                        r_t::double precision / n_t - r_c::double precision / n_c - z * se,
                        r_t::double precision / n_t - r_c::double precision / n_c + z * se,
                        rev_t / n_t, rev_c / n_c;
END
$fn$;
COMMENT ON FUNCTION @extschema@.campaign_report(text, interval) IS
    'what a campaign did within a window from its start: customers, responders (reactivated in the stage history, or ordered) and response rate per arm, the uplift (target rate minus control rate) with its 95 % interval (normal approximation), and revenue per customer per arm; counts what the calling role may read';
