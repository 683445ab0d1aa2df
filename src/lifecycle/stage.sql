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
-- The type stays as defined: clm's C code knows it by name and its values
-- by label.  (An upgrade script of clm that changes the type disables this
-- event trigger around the change.)
-- ---------------------------------------------------------------------------

-- No SET search_path: the function resolves the type name of the ALTER TYPE
-- statement, and must resolve it as that statement will, in the session's
-- search_path (pinned, "ALTER TYPE lifecycle_stage ..." with clm in the
-- session's path would not be recognized and would pass).  It looks up
-- nothing else by name.
CREATE FUNCTION @extschema@.lifecycle_stage_protect()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'clm_lifecycle_stage_protect'
LANGUAGE C;
COMMENT ON FUNCTION @extschema@.lifecycle_stage_protect() IS
    'event trigger function: refuses ALTER TYPE that renames or adds a value of clm.lifecycle_stage, renames the type or moves it to another schema';
CREATE EVENT TRIGGER clm_lifecycle_stage_protect ON ddl_command_start
    WHEN TAG IN ('ALTER TYPE')
    EXECUTE FUNCTION @extschema@.lifecycle_stage_protect();
COMMENT ON EVENT TRIGGER clm_lifecycle_stage_protect IS
    'keeps clm.lifecycle_stage as clm defines it (no renamed or added values, no rename or schema move)';
