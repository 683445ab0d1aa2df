-- ---------------------------------------------------------------------------
-- Lifecycle stage from RFM metrics (uses clm.classify_stage of the
-- lifecycle area)
-- ---------------------------------------------------------------------------

-- clm.rfm carries recency and last_at but not as_of itself: as_of is
-- last_at + recency_days (exact to the microsecond for any realistic
-- recency).  Without purchases the stage does not depend on as_of, which is
-- then passed as the epoch.
CREATE FUNCTION @extschema@.classify_stage(rfm @extschema@.rfm, policy text DEFAULT 'default',
                                           current_stage @extschema@.lifecycle_stage DEFAULT NULL)
    RETURNS @extschema@.lifecycle_stage
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.classify_stage(
        (rfm).frequency, (rfm).first_at, (rfm).last_at,
        CASE WHEN (rfm).last_at IS NULL THEN timestamptz '2000-01-01 00:00+00'
             ELSE (rfm).last_at OPERATOR(pg_catalog.+)
                  pg_catalog.make_interval(secs => (rfm).recency_days OPERATOR(pg_catalog.*) 86400::double precision) END,
        policy, current_stage)
$$;
COMMENT ON FUNCTION @extschema@.classify_stage(@extschema@.rfm, text, @extschema@.lifecycle_stage) IS
    'the lifecycle stage implied by a customer''s RFM metrics (frequency, first and last purchase, as_of = last purchase + recency) under a policy';
