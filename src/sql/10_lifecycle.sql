
-- ---------------------------------------------------------------------------
-- Lifecycle: stages, transition rules, stage history, policies, triggers
-- ---------------------------------------------------------------------------


CREATE TYPE @extschema@.lifecycle_stage AS ENUM (
    'prospect',         -- known contact, not yet engaged (awareness)
    'lead',             -- engaged, comparing (consideration)
    'first_purchase',   -- exactly one purchase
    'repeat',           -- two or more purchases
    'loyal',            -- many purchases over a long tenure
    'advocate',         -- loyal and bringing others
    'at_risk',          -- purchase gap longer than usual
    'dormant',          -- purchase gap much longer than usual
    'churned',          -- considered lost
    'reactivated'       -- bought again after at_risk, dormant or churned
);
COMMENT ON TYPE @extschema@.lifecycle_stage IS
    'customer lifecycle stage: prospect, lead, first_purchase, repeat, loyal, advocate, at_risk, dormant, churned, reactivated';

-- ---------------------------------------------------------------------------
-- Labels
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.stage_label(stage @extschema@.lifecycle_stage, lang text DEFAULT 'en')
RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s text := stage::text;
BEGIN
    IF lang = 'en' THEN
        RETURN CASE s
            WHEN 'prospect' THEN 'Prospect'
            WHEN 'lead' THEN 'Lead'
            WHEN 'first_purchase' THEN 'First purchase'
            WHEN 'repeat' THEN 'Repeat customer'
            WHEN 'loyal' THEN 'Loyal customer'
            WHEN 'advocate' THEN 'Advocate'
            WHEN 'at_risk' THEN 'At risk'
            WHEN 'dormant' THEN 'Dormant'
            WHEN 'churned' THEN 'Churned'
            WHEN 'reactivated' THEN 'Reactivated'
        END;
    ELSIF lang = 'zh' THEN
        RETURN CASE s
            WHEN 'prospect' THEN '潜在客户'
            WHEN 'lead' THEN '意向客户'
            WHEN 'first_purchase' THEN '首次购买'
            WHEN 'repeat' THEN '复购客户'
            WHEN 'loyal' THEN '忠诚客户'
            WHEN 'advocate' THEN '推荐者'
            WHEN 'at_risk' THEN '流失风险'
            WHEN 'dormant' THEN '休眠'
            WHEN 'churned' THEN '已流失'
            WHEN 'reactivated' THEN '召回'
        END;
    END IF;
    RAISE EXCEPTION 'unsupported language "%" for lifecycle stage labels', lang
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = 'Supported languages are: en, zh.',
              HINT = 'Pass ''en'' for English or ''zh'' for Chinese.';
END
$$;
COMMENT ON FUNCTION @extschema@.stage_label(@extschema@.lifecycle_stage, text) IS
    'display label of a lifecycle stage in English (en) or Chinese (zh); other languages are an error';

-- ---------------------------------------------------------------------------
-- How common lifecycle models map onto clm's stages
-- ---------------------------------------------------------------------------

CREATE VIEW @extschema@.stage_model AS
SELECT v.model, v.stage, v.model_stage, v.model_stage_order, v.note
FROM (VALUES
    -- customer journey: awareness, consideration, purchase, usage, loyalty, churn
    ('customer_journey', 'prospect'::@extschema@.lifecycle_stage, 'awareness', 1, NULL::text),
    ('customer_journey', 'lead', 'consideration', 2, NULL),
    ('customer_journey', 'first_purchase', 'purchase', 3, NULL),
    ('customer_journey', 'repeat', 'usage', 4, NULL),
    ('customer_journey', 'loyal', 'loyalty', 5, NULL),
    ('customer_journey', 'advocate', 'loyalty', 5, 'advocacy is the top of loyalty in this model'),
    ('customer_journey', 'at_risk', 'churn', 6, 'churn risk: still a customer, but lapsing'),
    ('customer_journey', 'dormant', 'churn', 6, NULL),
    ('customer_journey', 'churned', 'churn', 6, NULL),
    ('customer_journey', 'reactivated', 'purchase', 3, 'a win-back is a new purchase'),
    -- relationship development: contact, evaluation, formation, stable, advocacy
    ('relationship', 'prospect', 'contact', 1, NULL),
    ('relationship', 'lead', 'evaluation', 2, NULL),
    ('relationship', 'first_purchase', 'formation', 3, NULL),
    ('relationship', 'repeat', 'formation', 3, NULL),
    ('relationship', 'loyal', 'stable', 4, NULL),
    ('relationship', 'advocate', 'advocacy', 5, NULL),
    ('relationship', 'at_risk', 'stable', 4, 'the model has no decline stage; a lapsing relationship is still stable'),
    ('relationship', 'dormant', NULL, NULL, 'the model has no dissolution stage'),
    ('relationship', 'churned', NULL, NULL, 'the model has no dissolution stage'),
    ('relationship', 'reactivated', 'formation', 3, 'the relationship is formed again'),
    -- retail purchase cycle: prospect, first purchase, repeat purchase, retention, churn
    ('retail', 'prospect', 'prospect', 1, NULL),
    ('retail', 'lead', 'prospect', 1, 'the model does not separate engaged prospects'),
    ('retail', 'first_purchase', 'first purchase', 2, NULL),
    ('retail', 'repeat', 'repeat purchase', 3, NULL),
    ('retail', 'loyal', 'retention', 4, NULL),
    ('retail', 'advocate', 'retention', 4, NULL),
    ('retail', 'at_risk', 'retention', 4, 'the retention effort targets them'),
    ('retail', 'dormant', 'churn', 5, NULL),
    ('retail', 'churned', 'churn', 5, NULL),
    ('retail', 'reactivated', 'repeat purchase', 3, NULL),
    -- marketing funnel: acquisition, conversion, retention, loyalty
    ('marketing_funnel', 'prospect', 'acquisition', 1, NULL),
    ('marketing_funnel', 'lead', 'acquisition', 1, NULL),
    ('marketing_funnel', 'first_purchase', 'conversion', 2, NULL),
    ('marketing_funnel', 'repeat', 'retention', 3, NULL),
    ('marketing_funnel', 'loyal', 'loyalty', 4, NULL),
    ('marketing_funnel', 'advocate', 'loyalty', 4, NULL),
    ('marketing_funnel', 'at_risk', 'retention', 3, NULL),
    ('marketing_funnel', 'dormant', NULL, NULL, 'lost customers are outside the funnel'),
    ('marketing_funnel', 'churned', NULL, NULL, 'lost customers are outside the funnel'),
    ('marketing_funnel', 'reactivated', 'retention', 3, NULL),
    -- HubSpot lifecycle stages: subscriber, lead, marketing qualified lead,
    -- sales qualified lead, opportunity, customer, evangelist, other
    ('hubspot', 'prospect', 'subscriber', 1, NULL),
    ('hubspot', 'lead', 'lead', 2, 'HubSpot refines it into marketing qualified lead (3), sales qualified lead (4) and opportunity (5)'),
    ('hubspot', 'first_purchase', 'customer', 6, NULL),
    ('hubspot', 'repeat', 'customer', 6, NULL),
    ('hubspot', 'loyal', 'customer', 6, NULL),
    ('hubspot', 'advocate', 'evangelist', 7, NULL),
    ('hubspot', 'at_risk', 'customer', 6, 'HubSpot keeps lapsing customers as customers'),
    ('hubspot', 'dormant', 'customer', 6, 'HubSpot keeps lapsing customers as customers'),
    ('hubspot', 'churned', 'other', 8, 'HubSpot has no churn stage; teams add a custom "former customer" stage or use other'),
    ('hubspot', 'reactivated', 'customer', 6, NULL)
) AS v(model, stage, model_stage, model_stage_order, note);
COMMENT ON VIEW @extschema@.stage_model IS
    'how common lifecycle models (customer_journey, relationship, retail, marketing_funnel, hubspot) name each clm stage; model_stage NULL = no equivalent';
GRANT SELECT ON @extschema@.stage_model TO PUBLIC;

-- ---------------------------------------------------------------------------
-- Transition rules
--
-- The seeded defaults belong to the extension and are never dumped; the
-- user's additions and removals are kept apart in stage_transition_rule_user
-- (dumped), so a dump/restore neither loses them nor duplicates the seeds.
-- Users read and edit the view stage_transition_rule.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.stage_transition_rule_default (
    from_stage  @extschema@.lifecycle_stage NOT NULL,
    to_stage    @extschema@.lifecycle_stage NOT NULL,
    PRIMARY KEY (from_stage, to_stage),
    CHECK (from_stage OPERATOR(pg_catalog.<>) to_stage)
);
COMMENT ON TABLE @extschema@.stage_transition_rule_default IS
    'the transition rules clm ships with (not dumped; edit the view clm.stage_transition_rule instead)';

INSERT INTO @extschema@.stage_transition_rule_default (from_stage, to_stage)
-- forward through the funnel; skipping steps is allowed
SELECT f.s::@extschema@.lifecycle_stage, t.s::@extschema@.lifecycle_stage
FROM (VALUES (1, 'prospect'), (2, 'lead'), (3, 'first_purchase'), (4, 'repeat'),
             (5, 'loyal'), (6, 'advocate')) AS f(i, s),
     (VALUES (1, 'prospect'), (2, 'lead'), (3, 'first_purchase'), (4, 'repeat'),
             (5, 'loyal'), (6, 'advocate')) AS t(i, s)
WHERE f.i OPERATOR(pg_catalog.<) t.i
UNION ALL
-- decay: every purchasing stage may lapse, skipping steps
SELECT f.s::@extschema@.lifecycle_stage, t.s::@extschema@.lifecycle_stage
FROM (VALUES ('first_purchase'), ('repeat'), ('loyal'), ('advocate'), ('reactivated')) AS f(s),
     (VALUES ('at_risk'), ('dormant'), ('churned')) AS t(s)
UNION ALL
SELECT f::@extschema@.lifecycle_stage, t::@extschema@.lifecycle_stage
FROM (VALUES ('at_risk', 'dormant'), ('at_risk', 'churned'), ('dormant', 'churned'),
             -- win-back
             ('at_risk', 'reactivated'), ('dormant', 'reactivated'), ('churned', 'reactivated'),
             ('reactivated', 'repeat'), ('reactivated', 'loyal')) AS v(f, t);

CREATE TABLE @extschema@.stage_transition_rule_user (
    from_stage  @extschema@.lifecycle_stage NOT NULL,
    to_stage    @extschema@.lifecycle_stage NOT NULL,
    allowed     boolean NOT NULL,
    PRIMARY KEY (from_stage, to_stage),
    CHECK (from_stage OPERATOR(pg_catalog.<>) to_stage)
);
COMMENT ON TABLE @extschema@.stage_transition_rule_user IS
    'user changes to the default transition rules: allowed = true adds a rule, false removes a default one (dumped; maintained through clm.stage_transition_rule)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.stage_transition_rule_user', '');

CREATE VIEW @extschema@.stage_transition_rule AS
SELECT d.from_stage, d.to_stage, true AS is_default
FROM @extschema@.stage_transition_rule_default d
WHERE NOT EXISTS (SELECT 1 FROM @extschema@.stage_transition_rule_user u
                  WHERE u.from_stage OPERATOR(pg_catalog.=) d.from_stage
                    AND u.to_stage OPERATOR(pg_catalog.=) d.to_stage
                    AND NOT u.allowed)
UNION ALL
SELECT u.from_stage, u.to_stage, false AS is_default
FROM @extschema@.stage_transition_rule_user u
WHERE u.allowed
  AND NOT EXISTS (SELECT 1 FROM @extschema@.stage_transition_rule_default d
                  WHERE d.from_stage OPERATOR(pg_catalog.=) u.from_stage
                    AND d.to_stage OPERATOR(pg_catalog.=) u.to_stage);
COMMENT ON VIEW @extschema@.stage_transition_rule IS
    'the stage transitions clm.stage_guard allows (from_stage -> to_stage); INSERT adds a rule, DELETE removes one, UPDATE replaces one';
GRANT SELECT ON @extschema@.stage_transition_rule TO PUBLIC;

/*
 * The view's INSTEAD OF trigger.  SECURITY DEFINER so that the privilege to
 * change rules is exactly INSERT/UPDATE/DELETE on the view (granted by the
 * DBA), without also granting the underlying tables.
 */
CREATE FUNCTION @extschema@.stage_transition_rule_edit()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    is_def boolean;
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        IF NOT EXISTS (SELECT 1 FROM @extschema@.stage_transition_rule r
                       WHERE r.from_stage OPERATOR(pg_catalog.=) OLD.from_stage
                         AND r.to_stage OPERATOR(pg_catalog.=) OLD.to_stage) THEN
            RETURN NULL;
        END IF;
        IF EXISTS (SELECT 1 FROM @extschema@.stage_transition_rule_default d
                   WHERE d.from_stage OPERATOR(pg_catalog.=) OLD.from_stage
                     AND d.to_stage OPERATOR(pg_catalog.=) OLD.to_stage) THEN
            INSERT INTO @extschema@.stage_transition_rule_user AS u (from_stage, to_stage, allowed)
            VALUES (OLD.from_stage, OLD.to_stage, false)
            ON CONFLICT (from_stage, to_stage) DO UPDATE SET allowed = false;
        ELSE
            DELETE FROM @extschema@.stage_transition_rule_user u
            WHERE u.from_stage OPERATOR(pg_catalog.=) OLD.from_stage
              AND u.to_stage OPERATOR(pg_catalog.=) OLD.to_stage;
        END IF;
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
    END IF;

    -- INSERT, or the second half of UPDATE
    IF NEW.from_stage IS NULL OR NEW.to_stage IS NULL THEN
        RAISE EXCEPTION 'a transition rule needs both from_stage and to_stage'
            USING ERRCODE = 'not_null_violation',
                  DETAIL = 'The first stage a customer gets is always allowed and needs no rule.';
    END IF;
    IF NEW.from_stage OPERATOR(pg_catalog.=) NEW.to_stage THEN
        RAISE EXCEPTION 'a transition rule cannot lead from "%" to itself', NEW.from_stage
            USING ERRCODE = 'check_violation',
                  DETAIL = 'An update that keeps the stage is not a transition and is always allowed.';
    END IF;
    IF EXISTS (SELECT 1 FROM @extschema@.stage_transition_rule r
               WHERE r.from_stage OPERATOR(pg_catalog.=) NEW.from_stage
                 AND r.to_stage OPERATOR(pg_catalog.=) NEW.to_stage) THEN
        RAISE EXCEPTION 'transition rule from "%" to "%" already exists', NEW.from_stage, NEW.to_stage
            USING ERRCODE = 'unique_violation';
    END IF;
    is_def := EXISTS (SELECT 1 FROM @extschema@.stage_transition_rule_default d
                      WHERE d.from_stage OPERATOR(pg_catalog.=) NEW.from_stage
                        AND d.to_stage OPERATOR(pg_catalog.=) NEW.to_stage);
    IF is_def THEN
        DELETE FROM @extschema@.stage_transition_rule_user u
        WHERE u.from_stage OPERATOR(pg_catalog.=) NEW.from_stage
          AND u.to_stage OPERATOR(pg_catalog.=) NEW.to_stage;
    ELSE
        INSERT INTO @extschema@.stage_transition_rule_user (from_stage, to_stage, allowed)
        VALUES (NEW.from_stage, NEW.to_stage, true);
    END IF;
    NEW.is_default := is_def;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.stage_transition_rule_edit() IS
    'INSTEAD OF trigger of clm.stage_transition_rule: records rule additions and removals in clm.stage_transition_rule_user';
REVOKE ALL ON FUNCTION @extschema@.stage_transition_rule_edit() FROM PUBLIC;

CREATE TRIGGER stage_transition_rule_edit
    INSTEAD OF INSERT OR UPDATE OR DELETE ON @extschema@.stage_transition_rule
    FOR EACH ROW EXECUTE FUNCTION @extschema@.stage_transition_rule_edit();
COMMENT ON TRIGGER stage_transition_rule_edit ON @extschema@.stage_transition_rule IS
    'turns INSERT/UPDATE/DELETE on the rule view into rows of clm.stage_transition_rule_user';

-- ---------------------------------------------------------------------------
-- Stage history
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.stage_history (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    relation      text NOT NULL,
    customer_key  text NOT NULL,
    from_stage    @extschema@.lifecycle_stage,
    to_stage      @extschema@.lifecycle_stage NOT NULL,
    changed_at    timestamptz NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT pg_catalog.transaction_timestamp(),
    changed_by    name NOT NULL DEFAULT CURRENT_USER,
    txid          xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
    CHECK (from_stage IS DISTINCT FROM to_stage)
);
COMMENT ON TABLE @extschema@.stage_history IS
    'every stage change made through clm.stage_guard: relation, customer key (as text), from/to stage, business time (changed_at), audit time, role, transaction';
COMMENT ON COLUMN @extschema@.stage_history.relation IS
    'the quoted, schema-qualified name of the customers table, e.g. clm_demo.customers';
COMMENT ON COLUMN @extschema@.stage_history.customer_key IS
    'the customer key, converted to text with its type''s output function';
COMMENT ON COLUMN @extschema@.stage_history.from_stage IS
    'the stage before the change; NULL when the customer got its first stage';
COMMENT ON COLUMN @extschema@.stage_history.changed_at IS
    'business time the customer entered to_stage: the order time (stage_on_order), as_of (refresh_stages), the stage-entered-at value the statement set, or else the transaction time';
COMMENT ON COLUMN @extschema@.stage_history.recorded_at IS
    'transaction time at which the row was written (audit)';
COMMENT ON COLUMN @extschema@.stage_history.changed_by IS
    'the role whose statement changed the stage';
COMMENT ON COLUMN @extschema@.stage_history.txid IS
    'the transaction that changed the stage';
CREATE INDEX stage_history_customer_idx
    ON @extschema@.stage_history (relation, customer_key, changed_at);
CREATE INDEX stage_history_changed_at_idx
    ON @extschema@.stage_history (changed_at);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.stage_history', '');
-- and its id sequence, or a restored database would hand out ids again from 1
SELECT pg_catalog.pg_extension_config_dump('@extschema@.stage_history_id_seq', '');
COMMENT ON SEQUENCE @extschema@.stage_history_id_seq IS
    'ids of clm.stage_history (dumped with the table, so a restored database continues the numbering)';

-- Users read history only for tables they may read themselves; nobody but
-- the owner (and clm's triggers, which write as the owner) writes it.
ALTER TABLE @extschema@.stage_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY stage_history_read ON @extschema@.stage_history FOR SELECT
    USING (pg_catalog.to_regclass(relation) IS NOT NULL
           AND pg_catalog.has_table_privilege(pg_catalog.to_regclass(relation), 'SELECT'));
COMMENT ON POLICY stage_history_read ON @extschema@.stage_history IS
    'a role sees the history of the tables it may SELECT from';
GRANT SELECT ON @extschema@.stage_history TO PUBLIC;

-- ---------------------------------------------------------------------------
-- Cache invalidation for the C triggers
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.lifecycle_config_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'clm_lifecycle_config_changed'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.lifecycle_config_changed() IS
    'statement trigger on the rule and policy tables: makes every backend reload its cached rules and policies';

CREATE TRIGGER stage_transition_rule_default_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.stage_transition_rule_default
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.lifecycle_config_changed();
COMMENT ON TRIGGER stage_transition_rule_default_changed ON @extschema@.stage_transition_rule_default IS
    'invalidates the cached transition matrix of every backend';
CREATE TRIGGER stage_transition_rule_user_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.stage_transition_rule_user
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.lifecycle_config_changed();
COMMENT ON TRIGGER stage_transition_rule_user_changed ON @extschema@.stage_transition_rule_user IS
    'invalidates the cached transition matrix of every backend';

-- ---------------------------------------------------------------------------
-- The guard trigger
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.stage_guard()
RETURNS trigger
AS 'MODULE_PATHNAME', 'clm_stage_guard'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.stage_guard() IS
    'BEFORE INSERT OR UPDATE FOR EACH ROW trigger, arguments (stage column, key column [, stage-entered-at column]): rejects transitions no rule allows (23514) and records allowed ones in clm.stage_history';

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
    'when a customer counts as loyal, at_risk, dormant or churned: multiples of the customer''s own mean purchase gap (population fallback for one-time buyers), clamped to floors and ceilings in days';
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

-- ---------------------------------------------------------------------------
-- Stages derived from orders
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.stage_on_order()
RETURNS trigger
AS 'MODULE_PATHNAME', 'clm_stage_on_order'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.stage_on_order() IS
    'AFTER INSERT FOR EACH ROW trigger on an orders table, arguments (customers table, order customer column, stage column, order time column [, policy [, customer key column]]): moves the customer to first_purchase / repeat / loyal / reactivated through clm.stage_guard';

CREATE FUNCTION @extschema@.refresh_stages(
    customers regclass, orders regclass, customer_key name, stage_column name,
    order_customer_column name, ordered_at_column name, as_of timestamptz,
    policy text DEFAULT 'default', since_column name DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'clm_refresh_stages'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.refresh_stages(regclass, regclass, name, name, name, name, timestamptz, text, name) IS
    'moves lapsing customers to at_risk / dormant / churned as of a time, in one set-based pass through clm.stage_guard; returns the number moved';
