-- clm--1.0--1.1.sql: update clm from 1.0 to 1.1 (ALTER EXTENSION clm UPDATE).
--
-- Every SQL change made for 1.1 goes both into its source under src/ (which
-- builds the install script clm--1.1.sql) and here, so that a database on
-- 1.0 ends with the same catalog as a fresh install of 1.1 (test/t/070
-- compares the two).

\echo Use "ALTER EXTENSION clm UPDATE TO '1.1'" to load this file. \quit

-- clm.classify_stage with the policy as a row value: IMMUTABLE, for
-- distributed UPDATEs (src/lifecycle/lifecycle_policy.sql)
CREATE FUNCTION @extschema@.classify_stage(
    orders bigint, first_at timestamptz, last_at timestamptz, as_of timestamptz,
    policy @extschema@.lifecycle_policy, current_stage @extschema@.lifecycle_stage DEFAULT NULL)
RETURNS @extschema@.lifecycle_stage
AS 'MODULE_PATHNAME', 'clm_classify_stage_by_values'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.classify_stage(bigint, timestamptz, timestamptz, timestamptz, @extschema@.lifecycle_policy, @extschema@.lifecycle_stage) IS
    'clm.classify_stage with the policy passed as a row of clm.lifecycle_policy instead of its name: reads no table, so IMMUTABLE (distributed UPDATEs, e.g. on Citus, may call it with column arguments)';

-- clm.refresh_stages gains lock_first (src/lifecycle/refresh_stages.sql); a
-- new trailing parameter with a default would make nine-argument calls
-- ambiguous next to the old function, so the old one goes
DROP FUNCTION @extschema@.refresh_stages(regclass, regclass, name, name, name, name, timestamptz, text, name);
CREATE FUNCTION @extschema@.refresh_stages(
    customers regclass, orders regclass, customer_key name, stage_column name,
    order_customer_column name, ordered_at_column name, as_of timestamptz,
    policy text DEFAULT 'default', since_column name DEFAULT NULL,
    lock_first boolean DEFAULT true)
RETURNS bigint
AS 'MODULE_PATHNAME', 'clm_refresh_stages'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.refresh_stages(regclass, regclass, name, name, name, name, timestamptz, text, name, boolean) IS
    'moves lapsing customers to at_risk / dormant / churned as of a time, in one set-based pass through clm.stage_guard; lock_first => false skips the locking pass (for Citus distributed tables); returns the number moved';
