-- ---------------------------------------------------------------------------
-- Lifecycle policies
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.lifecycle_policy (
    name                   text PRIMARY KEY CHECK (name OPERATOR(pg_catalog.<>) ''),
    loyal_min_orders       integer NOT NULL DEFAULT 4 CHECK (loyal_min_orders BETWEEN 2 AND 1000000),
    loyal_min_tenure_days  double precision NOT NULL DEFAULT 180
                           CHECK (loyal_min_tenure_days BETWEEN 0 AND 36500),
    fallback_gap_days      double precision NOT NULL DEFAULT 90
                           CHECK (fallback_gap_days > 0 AND fallback_gap_days <= 36500),
    at_risk_gap_multiple   double precision NOT NULL DEFAULT 2
                           CHECK (at_risk_gap_multiple > 0 AND at_risk_gap_multiple <= 1000),
    dormant_gap_multiple   double precision NOT NULL DEFAULT 4
                           CHECK (dormant_gap_multiple > 0 AND dormant_gap_multiple <= 1000),
    churned_gap_multiple   double precision NOT NULL DEFAULT 6
                           CHECK (churned_gap_multiple > 0 AND churned_gap_multiple <= 1000),
    at_risk_min_days       double precision NOT NULL DEFAULT 30
                           CHECK (at_risk_min_days BETWEEN 0 AND 36500),
    at_risk_max_days       double precision NOT NULL DEFAULT 180
                           CHECK (at_risk_max_days BETWEEN 0 AND 36500),
    dormant_min_days       double precision NOT NULL DEFAULT 60
                           CHECK (dormant_min_days BETWEEN 0 AND 36500),
    dormant_max_days       double precision NOT NULL DEFAULT 365
                           CHECK (dormant_max_days BETWEEN 0 AND 36500),
    churned_min_days       double precision NOT NULL DEFAULT 120
                           CHECK (churned_min_days BETWEEN 0 AND 36500),
    churned_max_days       double precision NOT NULL DEFAULT 730
                           CHECK (churned_max_days BETWEEN 0 AND 36500),
    advocate_min_referrals integer NOT NULL DEFAULT 3
                           CHECK (advocate_min_referrals BETWEEN 1 AND 1000000),
    advocate_window_days   double precision NOT NULL DEFAULT 90
                           CHECK (advocate_window_days > 0 AND advocate_window_days <= 36500),
    CONSTRAINT lifecycle_policy_multiples_ascend
        CHECK (at_risk_gap_multiple < dormant_gap_multiple
               AND dormant_gap_multiple < churned_gap_multiple),
    CONSTRAINT lifecycle_policy_floors_ascend
        CHECK (at_risk_min_days <= dormant_min_days AND dormant_min_days <= churned_min_days),
    CONSTRAINT lifecycle_policy_ceilings_ascend
        CHECK (at_risk_max_days <= dormant_max_days AND dormant_max_days <= churned_max_days),
    CONSTRAINT lifecycle_policy_floor_below_ceiling
        CHECK (at_risk_min_days <= at_risk_max_days AND dormant_min_days <= dormant_max_days
               AND churned_min_days <= churned_max_days)
);
COMMENT ON TABLE @extschema@.lifecycle_policy IS
    'when a customer counts as loyal, at_risk, dormant or churned: multiples of the customer''s own mean purchase gap (population fallback for one-time buyers), clamped to floors and ceilings in days; and when a loyal customer who refers others becomes an advocate';
COMMENT ON COLUMN @extschema@.lifecycle_policy.loyal_min_orders IS 'orders needed to be loyal';
COMMENT ON COLUMN @extschema@.lifecycle_policy.loyal_min_tenure_days IS 'days since the first order needed to be loyal';
COMMENT ON COLUMN @extschema@.lifecycle_policy.fallback_gap_days IS 'typical gap assumed for one-time buyers (population typical time to the second purchase)';
COMMENT ON COLUMN @extschema@.lifecycle_policy.at_risk_gap_multiple IS 'at_risk when days since the last order exceed this multiple of the typical gap';
COMMENT ON COLUMN @extschema@.lifecycle_policy.dormant_gap_multiple IS 'dormant when days since the last order exceed this multiple of the typical gap';
COMMENT ON COLUMN @extschema@.lifecycle_policy.churned_gap_multiple IS 'churned when days since the last order exceed this multiple of the typical gap';
COMMENT ON COLUMN @extschema@.lifecycle_policy.at_risk_min_days IS 'the at_risk threshold is never below this many days';
COMMENT ON COLUMN @extschema@.lifecycle_policy.at_risk_max_days IS 'the at_risk threshold is never above this many days';
COMMENT ON COLUMN @extschema@.lifecycle_policy.dormant_min_days IS 'the dormant threshold is never below this many days';
COMMENT ON COLUMN @extschema@.lifecycle_policy.dormant_max_days IS 'the dormant threshold is never above this many days';
COMMENT ON COLUMN @extschema@.lifecycle_policy.churned_min_days IS 'the churned threshold is never below this many days';
COMMENT ON COLUMN @extschema@.lifecycle_policy.churned_max_days IS 'the churned threshold is never above this many days';
COMMENT ON COLUMN @extschema@.lifecycle_policy.advocate_min_referrals IS 'a loyal customer becomes an advocate once this many of the customers they referred have made their first purchase in time (with referrals adopted: clm.adopt_referrals)';
COMMENT ON COLUMN @extschema@.lifecycle_policy.advocate_window_days IS 'a referred customer''s first purchase counts for the referrer if it comes within this many days of the referral';

INSERT INTO @extschema@.lifecycle_policy (name) VALUES ('default');
-- the seeded default is part of the extension; only users' policies are dumped
SELECT pg_catalog.pg_extension_config_dump('@extschema@.lifecycle_policy',
                                           'WHERE name OPERATOR(pg_catalog.<>) ''default''');
GRANT SELECT ON @extschema@.lifecycle_policy TO PUBLIC;

/*
 * The default policy is read-only: an edit to it would not be dumped (the
 * restore re-creates it from the install script), so it would be lost
 * silently.  Users copy it under their own name instead.
 */
CREATE FUNCTION @extschema@.lifecycle_policy_protect_default()
RETURNS trigger
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF OLD.name OPERATOR(pg_catalog.=) 'default' THEN
        RAISE EXCEPTION 'the default lifecycle policy cannot be changed or deleted'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'It belongs to the extension, and changes to it would not survive pg_dump.',
                  HINT = 'Create your own policy, e.g. INSERT INTO clm.lifecycle_policy (name, fallback_gap_days) VALUES (''coffee'', 14), and pass its name.';
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.lifecycle_policy_protect_default() IS
    'keeps the seeded default lifecycle policy unchanged';
CREATE TRIGGER lifecycle_policy_protect_default
    BEFORE UPDATE OR DELETE ON @extschema@.lifecycle_policy
    FOR EACH ROW EXECUTE FUNCTION @extschema@.lifecycle_policy_protect_default();
COMMENT ON TRIGGER lifecycle_policy_protect_default ON @extschema@.lifecycle_policy IS
    'the default policy is read-only';
/*
 * A policy that a clm.stage_on_order trigger names cannot be deleted or
 * renamed (nor truncated away): every order insert would fail.  Fires after
 * lifecycle_policy_protect_default (triggers fire in name order).
 */
CREATE FUNCTION @extschema@.lifecycle_policy_protect_in_use()
RETURNS trigger
AS 'MODULE_PATHNAME', 'clm_lifecycle_policy_protect_in_use'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.lifecycle_policy_protect_in_use() IS
    'refuses to delete, rename or truncate away a lifecycle policy that a clm.stage_on_order trigger names, listing the triggers';
CREATE TRIGGER lifecycle_policy_protect_in_use
    BEFORE UPDATE OF name OR DELETE ON @extschema@.lifecycle_policy
    FOR EACH ROW EXECUTE FUNCTION @extschema@.lifecycle_policy_protect_in_use();
COMMENT ON TRIGGER lifecycle_policy_protect_in_use ON @extschema@.lifecycle_policy IS
    'a policy that a clm.stage_on_order trigger names cannot be deleted or renamed';
CREATE TRIGGER lifecycle_policy_protect_in_use_truncate
    BEFORE TRUNCATE ON @extschema@.lifecycle_policy
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.lifecycle_policy_protect_in_use();
COMMENT ON TRIGGER lifecycle_policy_protect_in_use_truncate ON @extschema@.lifecycle_policy IS
    'the policies cannot be truncated while clm.stage_on_order triggers name them';
CREATE TRIGGER lifecycle_policy_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.lifecycle_policy
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.lifecycle_config_changed();
COMMENT ON TRIGGER lifecycle_policy_changed ON @extschema@.lifecycle_policy IS
    'invalidates the cached policies of every backend';

CREATE FUNCTION @extschema@.classify_stage(
    orders bigint, first_at timestamptz, last_at timestamptz, as_of timestamptz,
    policy text DEFAULT 'default', current_stage @extschema@.lifecycle_stage DEFAULT NULL)
RETURNS @extschema@.lifecycle_stage
AS 'MODULE_PATHNAME', 'clm_classify_stage'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.classify_stage(bigint, timestamptz, timestamptz, timestamptz, text, @extschema@.lifecycle_stage) IS
    'the lifecycle stage implied by a customer''s order count, first and last order time as of a time, under a policy; current_stage is needed for reactivated and advocate';

CREATE FUNCTION @extschema@.classify_stage(
    orders bigint, first_at timestamptz, last_at timestamptz, as_of timestamptz,
    policy @extschema@.lifecycle_policy, current_stage @extschema@.lifecycle_stage DEFAULT NULL)
RETURNS @extschema@.lifecycle_stage
AS 'MODULE_PATHNAME', 'clm_classify_stage_by_values'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.classify_stage(bigint, timestamptz, timestamptz, timestamptz, @extschema@.lifecycle_policy, @extschema@.lifecycle_stage) IS
    'clm.classify_stage with the policy passed as a row of clm.lifecycle_policy instead of its name: reads no table, so IMMUTABLE (distributed UPDATEs, e.g. on Citus, may call it with column arguments)';
