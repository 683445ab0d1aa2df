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
-- Time conventions shared by every function below, and by the rest of clm:
-- as_of is inclusive (an order placed exactly at as_of counts, later ones
-- are ignored), windows [since, until) are half-open, an order at
-- -infinity is an error (clm._finite_order_time; one at infinity is later
-- than any as_of or until, so ignored), calendar periods (date_trunc) are
-- taken in the session's TimeZone, and durations in days are elapsed time /
-- 86400 s.
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
                                                 ordered_at_column name)
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
END
$fn$;
COMMENT ON FUNCTION @extschema@._check_order_columns(regclass, name, name) IS
    'internal: checks that the orders relation has the named customer and timestamp columns of usable types';

-- _check_amount_column: the amount column of the analyses that need one
-- (cohort revenue, KPIs, the customer view): given, and of a numeric type.
CREATE FUNCTION @extschema@._check_amount_column(orders regclass, amount_column name)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    typ regtype;
BEGIN
    IF amount_column IS NULL THEN
        RAISE EXCEPTION 'amount_column must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    typ := @extschema@._column_type(orders, amount_column, 'amount_column');
    IF typ NOT IN ('numeric'::regtype, 'smallint'::regtype, 'integer'::regtype, 'bigint'::regtype,
                   'real'::regtype, 'double precision'::regtype, 'money'::regtype) THEN
        RAISE EXCEPTION 'column "%" of relation % has type %, not a number', amount_column, orders::text, typ
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'amount_column must be of a numeric type (numeric, integer, bigint, double precision, money, ...).';
    END IF;
END
$fn$;
COMMENT ON FUNCTION @extschema@._check_amount_column(regclass, name) IS
    'internal: checks that amount_column is given and names a numeric column of the orders relation';

-- _check_inactivity: the gap without orders after which a customer counts
-- as churned (survival, KPIs) must be a positive interval.
CREATE FUNCTION @extschema@._check_inactivity(inactivity interval)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF inactivity IS NULL OR inactivity <= interval '0' THEN
        RAISE EXCEPTION 'inactivity must be a positive interval'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The value given was ' || COALESCE(inactivity::text, 'NULL') || '.',
                  HINT = 'A customer churns after this long without an order, for example interval ''90 days''.';
    END IF;
END
$fn$;
COMMENT ON FUNCTION @extschema@._check_inactivity(interval) IS
    'internal: error unless inactivity is a positive interval';

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

-- _finite_order_time: every order time an analysis takes in goes through
-- this check (C, see analytics.c): an infinite one would make the period
-- grids endless and the durations undefined.
CREATE FUNCTION @extschema@._finite_order_time(ordered_at timestamptz)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'clm_finite_order_time'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._finite_order_time(timestamptz) IS
    'internal: its argument, or an error (22008) when an order time is -infinity or infinity';
