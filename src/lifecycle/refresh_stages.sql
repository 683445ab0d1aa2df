-- ---------------------------------------------------------------------------
-- Lapsing stages as of a time, set-based
-- ---------------------------------------------------------------------------

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
