-- clm: customer lifecycle management for PostgreSQL
--
-- The install script is built by the Makefile from the SQL sources of each
-- area (src/<area>/*.sql), in the order given there: lifecycle, RFM, CLV,
-- analytics.  Every object lives in the schema clm (the control file fixes
-- it; relocatable = false), and every reference is qualified with
-- @extschema@ or pg_catalog, because the search_path in effect during
-- CREATE EXTENSION is not to be trusted.

\echo Use "CREATE EXTENSION clm" to load this file. \quit

-- CREATE EXTENSION creates the schema clm owned by the installing role, or
-- adopts a schema of that name that already exists.  Whoever owns that
-- schema controls its contents and its name: the owner of a schema created
-- beforehand by someone else could later rename it away and put look-alike
-- functions into a new clm, which jobs of the DBA (clm.refresh_stages under
-- pg_cron) would then run with the DBA's rights.  So clm installs only into
-- a schema owned by the installing role, in which no other role may create
-- objects, that holds no object of another role (created while someone
-- could: a function overloading one of clm's with text arguments would be
-- chosen over clm's for a call with string literals, and its owner could
-- replace its body at any time), and whose default privileges grant the
-- installing role's new objects to no one (they would grant clm's tables
-- and functions).
DO $install_check$
DECLARE
    nsp pg_catalog.pg_namespace;
    creators text;
    foreign_objects text;
BEGIN
    SELECT * INTO nsp FROM pg_catalog.pg_namespace WHERE oid = '@extschema@'::pg_catalog.regnamespace;
    IF nsp.nspowner OPERATOR(pg_catalog.<>) (SELECT oid FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) CURRENT_USER) THEN
        RAISE EXCEPTION 'schema "%" is owned by role "%", not by the role installing clm', nsp.nspname,
                        pg_catalog.pg_get_userbyid(nsp.nspowner)
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The owner of the schema could rename it and put look-alike objects in its place.',
                  HINT = 'Find out why that role created it; then drop or rename it, or have it transferred to you (ALTER SCHEMA ... OWNER TO), and install again.';
    END IF;
    SELECT pg_catalog.string_agg(DISTINCT CASE a.grantee WHEN 0 THEN 'PUBLIC'
                                      ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END, ', ') INTO creators
      FROM pg_catalog.aclexplode(nsp.nspacl) AS a
     WHERE a.privilege_type OPERATOR(pg_catalog.=) 'CREATE' AND a.grantee OPERATOR(pg_catalog.<>) nsp.nspowner;
    IF creators IS NOT NULL THEN
        RAISE EXCEPTION 'other roles may create objects in schema "%"', nsp.nspname
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'CREATE on the schema is granted to: ' || creators || '.',
                  HINT = 'REVOKE CREATE ON SCHEMA ' || pg_catalog.quote_ident(nsp.nspname) || ' FROM those roles, and install again.';
    END IF;
    SELECT pg_catalog.string_agg(pg_catalog.format('%s %s (owner %s)', i.type, i.identity,
                                                   pg_catalog.pg_get_userbyid(o.owner)),
                                 ', ' ORDER BY o.classid, o.objid) INTO foreign_objects
      FROM (SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, c.oid, c.relowner FROM pg_catalog.pg_class AS c
             WHERE c.relnamespace OPERATOR(pg_catalog.=) nsp.oid
            UNION ALL
            SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass, p.oid, p.proowner FROM pg_catalog.pg_proc AS p
             WHERE p.pronamespace OPERATOR(pg_catalog.=) nsp.oid
            UNION ALL
            SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, t.oid, t.typowner FROM pg_catalog.pg_type AS t
             WHERE t.typnamespace OPERATOR(pg_catalog.=) nsp.oid
            UNION ALL
            SELECT 'pg_catalog.pg_operator'::pg_catalog.regclass, o.oid, o.oprowner FROM pg_catalog.pg_operator AS o
             WHERE o.oprnamespace OPERATOR(pg_catalog.=) nsp.oid
            UNION ALL
            SELECT 'pg_catalog.pg_collation'::pg_catalog.regclass, c.oid, c.collowner FROM pg_catalog.pg_collation AS c
             WHERE c.collnamespace OPERATOR(pg_catalog.=) nsp.oid
            UNION ALL
            SELECT 'pg_catalog.pg_conversion'::pg_catalog.regclass, c.oid, c.conowner FROM pg_catalog.pg_conversion AS c
             WHERE c.connamespace OPERATOR(pg_catalog.=) nsp.oid
            UNION ALL
            SELECT 'pg_catalog.pg_opclass'::pg_catalog.regclass, c.oid, c.opcowner FROM pg_catalog.pg_opclass AS c
             WHERE c.opcnamespace OPERATOR(pg_catalog.=) nsp.oid
            UNION ALL
            SELECT 'pg_catalog.pg_opfamily'::pg_catalog.regclass, f.oid, f.opfowner FROM pg_catalog.pg_opfamily AS f
             WHERE f.opfnamespace OPERATOR(pg_catalog.=) nsp.oid
            UNION ALL
            SELECT 'pg_catalog.pg_ts_config'::pg_catalog.regclass, c.oid, c.cfgowner FROM pg_catalog.pg_ts_config AS c
             WHERE c.cfgnamespace OPERATOR(pg_catalog.=) nsp.oid
            UNION ALL
            SELECT 'pg_catalog.pg_ts_dict'::pg_catalog.regclass, d.oid, d.dictowner FROM pg_catalog.pg_ts_dict AS d
             WHERE d.dictnamespace OPERATOR(pg_catalog.=) nsp.oid
            UNION ALL
            SELECT 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass, x.oid, x.stxowner FROM pg_catalog.pg_statistic_ext AS x
             WHERE x.stxnamespace OPERATOR(pg_catalog.=) nsp.oid) AS o(classid, objid, owner),
           LATERAL pg_catalog.pg_identify_object(o.classid, o.objid, 0) AS i
     WHERE o.owner OPERATOR(pg_catalog.<>) nsp.nspowner;
    IF foreign_objects IS NOT NULL THEN
        RAISE EXCEPTION 'schema "%" holds objects of other roles', nsp.nspname
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = pg_catalog.format('%s.', foreign_objects),
                  HINT = 'Their owners can change them, and calls meant for clm could reach them; drop them, and install again.';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_default_acl AS d
                WHERE d.defaclnamespace OPERATOR(pg_catalog.=) nsp.oid
                  AND d.defaclrole OPERATOR(pg_catalog.=) nsp.nspowner) THEN
        RAISE EXCEPTION 'schema "%" has default privileges for the objects the installing role creates in it', nsp.nspname
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'They would grant clm''s tables and functions, such as the stage history, to other roles.',
                  HINT = 'Remove them with ALTER DEFAULT PRIVILEGES IN SCHEMA ' || pg_catalog.quote_ident(nsp.nspname)
                         || ' REVOKE ..., and install again.';
    END IF;
END
$install_check$;

-- Everything in the schema is meant for every role of the database.
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;

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
-- Stage history
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.stage_history (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    relation      regclass NOT NULL,
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
    'every stage change made through clm.stage_guard: customers table, customer key (as text), from/to stage, business time (changed_at), audit time, role, transaction';
COMMENT ON COLUMN @extschema@.stage_history.relation IS
    'the customers table (by OID: the history follows a rename, and a table created later under the same name has a history of its own); 0 once the table is dropped';
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

-- The table is identified by its OID (regclass), not by its name: a table
-- dropped and created again under the same name, or a temporary table of
-- another session, must not take over a history.  A dump carries regclass
-- values as names, so a restore binds the history to the restored tables.
-- OIDs are reused only after the OID counter wraps around, and only OIDs
-- no longer in use: so when a table is dropped, its history rows are
-- detached (relation 0) by the event trigger below.  Temporary tables are
-- dropped at session end without any event trigger firing; clm.stage_guard
-- refuses them.

-- stage_history_detach_dropped: relation := 0 for the history of tables
-- just dropped (DROP TABLE, DROP SCHEMA ... CASCADE, DROP OWNED, ...), as
-- the owner of the history, whoever dropped the table.
CREATE FUNCTION @extschema@.stage_history_detach_dropped()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    UPDATE @extschema@.stage_history AS h SET relation = 0
     WHERE h.relation OPERATOR(pg_catalog.=) ANY (
           SELECT d.objid FROM pg_catalog.pg_event_trigger_dropped_objects() AS d
            WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
              AND d.objsubid OPERATOR(pg_catalog.=) 0
              AND d.object_type OPERATOR(pg_catalog.=) ANY ('{table,foreign table}'));
END
$fn$;
REVOKE EXECUTE ON FUNCTION @extschema@.stage_history_detach_dropped() FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.stage_history_detach_dropped() IS
    'sql_drop event trigger function: detaches the history of dropped tables (relation 0), so that no later table reusing an OID inherits it';
CREATE EVENT TRIGGER clm_stage_history_detach_dropped ON sql_drop
    EXECUTE FUNCTION @extschema@.stage_history_detach_dropped();
COMMENT ON EVENT TRIGGER clm_stage_history_detach_dropped IS
    'detaches the clm.stage_history rows of dropped tables (clm.stage_history_detach_dropped)';

-- Users read the history of the customers they may read themselves; nobody
-- but the owner (and clm's triggers, which write as the owner) writes it.
-- PARALLEL UNSAFE: a customer is looked up in a subtransaction, which a
-- parallel query cannot start (so a reader's queries of the history, and
-- the functions that read it, run without parallel workers).
CREATE FUNCTION @extschema@.stage_history_visible(relation regclass, customer_key text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'clm_stage_history_visible'
LANGUAGE C STABLE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.stage_history_visible(regclass, text) IS
    'whether the current role may see the history of this customer: SELECT on the table, USAGE on its schema, and the customer row under the table''s row-level security where that applies to the role';
ALTER TABLE @extschema@.stage_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY stage_history_read ON @extschema@.stage_history FOR SELECT
    USING (@extschema@.stage_history_visible(relation, customer_key));
COMMENT ON POLICY stage_history_read ON @extschema@.stage_history IS
    'a role sees the history of the customers it may read (clm.stage_history_visible)';
GRANT SELECT ON @extschema@.stage_history TO PUBLIC;

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

-- ---------------------------------------------------------------------------
-- Stages derived from orders
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.stage_on_order()
RETURNS trigger
AS 'MODULE_PATHNAME', 'clm_stage_on_order'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.stage_on_order() IS
    'AFTER INSERT FOR EACH ROW trigger on an orders table, arguments (customers table, order customer column, stage column, order time column [, policy [, customer key column]]): moves the customer to first_purchase / repeat / loyal / reactivated through clm.stage_guard';

-- A stage_on_order trigger names a policy that must exist as long as the
-- trigger does (clm.lifecycle_policy_protect_in_use refuses deleting it).
-- When such a trigger is created, its policy's row is locked until the
-- trigger commits, so that a concurrent deletion, which cannot see the
-- uncommitted trigger, waits and then sees it; a trigger naming no policy
-- gets a warning.  No SET search_path: the function resolves the statement's
-- table name as CREATE TRIGGER did.
CREATE FUNCTION @extschema@.lifecycle_policy_claim()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'clm_lifecycle_policy_claim'
LANGUAGE C;
COMMENT ON FUNCTION @extschema@.lifecycle_policy_claim() IS
    'event trigger function: a clm.stage_on_order trigger being created locks the row of the lifecycle policy it names until it commits, and warns if that policy does not exist';
CREATE EVENT TRIGGER clm_lifecycle_policy_claim ON ddl_command_end
    WHEN TAG IN ('CREATE TRIGGER')
    EXECUTE FUNCTION @extschema@.lifecycle_policy_claim();
COMMENT ON EVENT TRIGGER clm_lifecycle_policy_claim IS
    'a clm.stage_on_order trigger being created keeps the lifecycle policy it names from being deleted until it commits (clm.lifecycle_policy_claim)';

-- ---------------------------------------------------------------------------
-- Lapsing stages as of a time, set-based
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.refresh_stages(
    customers regclass, orders regclass, customer_key name, stage_column name,
    order_customer_column name, ordered_at_column name, as_of timestamptz,
    policy text DEFAULT 'default', since_column name DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'clm_refresh_stages'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.refresh_stages(regclass, regclass, name, name, name, name, timestamptz, text, name) IS
    'moves lapsing customers to at_risk / dormant / churned as of a time, in one set-based pass through clm.stage_guard; returns the number moved';

-- ---------------------------------------------------------------------------
-- RFM: the per-customer recency / frequency / monetary aggregate and its
-- storable state (doc/rfm.md)
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.rfm AS (
    recency_days    double precision,   -- as_of - last purchase, in days; NULL without purchases
    frequency       bigint,             -- purchases (rows with amount >= 0)
    monetary        numeric,            -- exact sum of all amounts, refunds included
    first_at        timestamptz,        -- first purchase
    last_at         timestamptz,        -- last purchase
    tenure_days     double precision,   -- as_of - first purchase, in days
    mean_gap_days   double precision    -- mean days between consecutive purchases; NULL below 2
);
COMMENT ON TYPE @extschema@.rfm IS
    'per-customer RFM metrics as returned by clm.rfm_agg and clm.rfm_final';

-- The aggregate state as a real SQL type, so that states can be stored,
-- merged later (incremental refresh) and shipped between nodes (Citus).
CREATE TYPE @extschema@.rfm_state;

CREATE FUNCTION @extschema@.rfm_state_in(cstring) RETURNS @extschema@.rfm_state
    AS 'MODULE_PATHNAME', 'rfm_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_in(cstring) IS 'text input of clm.rfm_state (validated)';
CREATE FUNCTION @extschema@.rfm_state_out(@extschema@.rfm_state) RETURNS cstring
    AS 'MODULE_PATHNAME', 'rfm_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_out(@extschema@.rfm_state) IS 'text output of clm.rfm_state';
CREATE FUNCTION @extschema@.rfm_state_recv(internal) RETURNS @extschema@.rfm_state
    AS 'MODULE_PATHNAME', 'rfm_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_recv(internal) IS 'binary input of clm.rfm_state (validated)';
CREATE FUNCTION @extschema@.rfm_state_send(@extschema@.rfm_state) RETURNS bytea
    AS 'MODULE_PATHNAME', 'rfm_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_send(@extschema@.rfm_state) IS 'binary output of clm.rfm_state';

CREATE TYPE @extschema@.rfm_state (
    INPUT = @extschema@.rfm_state_in,
    OUTPUT = @extschema@.rfm_state_out,
    RECEIVE = @extschema@.rfm_state_recv,
    SEND = @extschema@.rfm_state_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE @extschema@.rfm_state IS
    'mergeable partial RFM state (counts, first/last purchase, exact sum); build with clm.rfm_state_agg, merge with clm.rfm_merge, finish with clm.rfm_final';

-- transition, combine and final functions
CREATE FUNCTION @extschema@.rfm_trans(@extschema@.rfm_state, timestamptz, numeric, timestamptz)
    RETURNS @extschema@.rfm_state AS 'MODULE_PATHNAME', 'rfm_trans_numeric'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_trans(@extschema@.rfm_state, timestamptz, numeric, timestamptz) IS
    'transition function of clm.rfm_agg(timestamptz, numeric, timestamptz)';
CREATE FUNCTION @extschema@.rfm_trans(@extschema@.rfm_state, timestamptz, double precision, timestamptz)
    RETURNS @extschema@.rfm_state AS 'MODULE_PATHNAME', 'rfm_trans_float8'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_trans(@extschema@.rfm_state, timestamptz, double precision, timestamptz) IS
    'transition function of clm.rfm_agg(timestamptz, double precision, timestamptz)';
CREATE FUNCTION @extschema@.rfm_trans(@extschema@.rfm_state, timestamptz, bigint, timestamptz)
    RETURNS @extschema@.rfm_state AS 'MODULE_PATHNAME', 'rfm_trans_int8'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_trans(@extschema@.rfm_state, timestamptz, bigint, timestamptz) IS
    'transition function of clm.rfm_agg(timestamptz, bigint, timestamptz)';

CREATE FUNCTION @extschema@.rfm_state_trans(@extschema@.rfm_state, timestamptz, numeric)
    RETURNS @extschema@.rfm_state AS 'MODULE_PATHNAME', 'rfm_state_trans_numeric'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_trans(@extschema@.rfm_state, timestamptz, numeric) IS
    'transition function of clm.rfm_state_agg(timestamptz, numeric)';
CREATE FUNCTION @extschema@.rfm_state_trans(@extschema@.rfm_state, timestamptz, double precision)
    RETURNS @extschema@.rfm_state AS 'MODULE_PATHNAME', 'rfm_state_trans_float8'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_trans(@extschema@.rfm_state, timestamptz, double precision) IS
    'transition function of clm.rfm_state_agg(timestamptz, double precision)';
CREATE FUNCTION @extschema@.rfm_state_trans(@extschema@.rfm_state, timestamptz, bigint)
    RETURNS @extschema@.rfm_state AS 'MODULE_PATHNAME', 'rfm_state_trans_int8'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_trans(@extschema@.rfm_state, timestamptz, bigint) IS
    'transition function of clm.rfm_state_agg(timestamptz, bigint)';

CREATE FUNCTION @extschema@.rfm_combine(@extschema@.rfm_state, @extschema@.rfm_state)
    RETURNS @extschema@.rfm_state AS 'MODULE_PATHNAME', 'rfm_combine'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_combine(@extschema@.rfm_state, @extschema@.rfm_state) IS
    'combine function of the RFM aggregates and transition function of clm.rfm_merge';

CREATE FUNCTION @extschema@.rfm_agg_final(@extschema@.rfm_state) RETURNS @extschema@.rfm
    AS 'MODULE_PATHNAME', 'rfm_agg_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_agg_final(@extschema@.rfm_state) IS
    'final function of clm.rfm_agg (the state carries as_of)';

CREATE FUNCTION @extschema@.rfm_final(state @extschema@.rfm_state, as_of timestamptz)
    RETURNS @extschema@.rfm AS 'MODULE_PATHNAME', 'rfm_final'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_final(@extschema@.rfm_state, timestamptz) IS
    'RFM metrics of a stored or merged state at as_of; error if the state holds orders after as_of';

-- moving-aggregate (window frame) support
CREATE FUNCTION @extschema@.rfm_mtrans(internal, timestamptz, numeric, timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_mtrans_numeric' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_mtrans(internal, timestamptz, numeric, timestamptz) IS
    'moving-mode forward transition of clm.rfm_agg(timestamptz, numeric, timestamptz)';
CREATE FUNCTION @extschema@.rfm_mtrans(internal, timestamptz, double precision, timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_mtrans_float8' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_mtrans(internal, timestamptz, double precision, timestamptz) IS
    'moving-mode forward transition of clm.rfm_agg(timestamptz, double precision, timestamptz)';
CREATE FUNCTION @extschema@.rfm_mtrans(internal, timestamptz, bigint, timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_mtrans_int8' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_mtrans(internal, timestamptz, bigint, timestamptz) IS
    'moving-mode forward transition of clm.rfm_agg(timestamptz, bigint, timestamptz)';
CREATE FUNCTION @extschema@.rfm_minv(internal, timestamptz, numeric, timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_minv_numeric' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_minv(internal, timestamptz, numeric, timestamptz) IS
    'moving-mode inverse transition of clm.rfm_agg(timestamptz, numeric, timestamptz)';
CREATE FUNCTION @extschema@.rfm_minv(internal, timestamptz, double precision, timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_minv_float8' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_minv(internal, timestamptz, double precision, timestamptz) IS
    'moving-mode inverse transition of clm.rfm_agg(timestamptz, double precision, timestamptz)';
CREATE FUNCTION @extschema@.rfm_minv(internal, timestamptz, bigint, timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_minv_int8' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_minv(internal, timestamptz, bigint, timestamptz) IS
    'moving-mode inverse transition of clm.rfm_agg(timestamptz, bigint, timestamptz)';
CREATE FUNCTION @extschema@.rfm_mfinal(internal) RETURNS @extschema@.rfm
    AS 'MODULE_PATHNAME', 'rfm_mfinal' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_mfinal(internal) IS 'moving-mode final function of clm.rfm_agg';

CREATE AGGREGATE @extschema@.rfm_agg(ordered_at timestamptz, amount numeric, as_of timestamptz) (
    SFUNC = @extschema@.rfm_trans, STYPE = @extschema@.rfm_state,
    FINALFUNC = @extschema@.rfm_agg_final, COMBINEFUNC = @extschema@.rfm_combine,
    MSFUNC = @extschema@.rfm_mtrans, MINVFUNC = @extschema@.rfm_minv, MSTYPE = internal,
    MFINALFUNC = @extschema@.rfm_mfinal, MSSPACE = 256,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_agg(timestamptz, numeric, timestamptz) IS
    'RFM metrics of one customer at as_of: NULL rows skipped, refunds lower monetary only, orders after as_of ignored';
CREATE AGGREGATE @extschema@.rfm_agg(ordered_at timestamptz, amount double precision, as_of timestamptz) (
    SFUNC = @extschema@.rfm_trans, STYPE = @extschema@.rfm_state,
    FINALFUNC = @extschema@.rfm_agg_final, COMBINEFUNC = @extschema@.rfm_combine,
    MSFUNC = @extschema@.rfm_mtrans, MINVFUNC = @extschema@.rfm_minv, MSTYPE = internal,
    MFINALFUNC = @extschema@.rfm_mfinal, MSSPACE = 256,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_agg(timestamptz, double precision, timestamptz) IS
    'RFM metrics of one customer at as_of, double precision amounts (summed in 2^-64 fixed point)';
CREATE AGGREGATE @extschema@.rfm_agg(ordered_at timestamptz, amount bigint, as_of timestamptz) (
    SFUNC = @extschema@.rfm_trans, STYPE = @extschema@.rfm_state,
    FINALFUNC = @extschema@.rfm_agg_final, COMBINEFUNC = @extschema@.rfm_combine,
    MSFUNC = @extschema@.rfm_mtrans, MINVFUNC = @extschema@.rfm_minv, MSTYPE = internal,
    MFINALFUNC = @extschema@.rfm_mfinal, MSSPACE = 256,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_agg(timestamptz, bigint, timestamptz) IS
    'RFM metrics of one customer at as_of, bigint amounts (e.g. cents)';

CREATE AGGREGATE @extschema@.rfm_state_agg(ordered_at timestamptz, amount numeric) (
    SFUNC = @extschema@.rfm_state_trans, STYPE = @extschema@.rfm_state,
    COMBINEFUNC = @extschema@.rfm_combine, PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_state_agg(timestamptz, numeric) IS
    'partial RFM state of the rows (no as_of yet), to store and merge later';
CREATE AGGREGATE @extschema@.rfm_state_agg(ordered_at timestamptz, amount double precision) (
    SFUNC = @extschema@.rfm_state_trans, STYPE = @extschema@.rfm_state,
    COMBINEFUNC = @extschema@.rfm_combine, PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_state_agg(timestamptz, double precision) IS
    'partial RFM state of the rows, double precision amounts';
CREATE AGGREGATE @extschema@.rfm_state_agg(ordered_at timestamptz, amount bigint) (
    SFUNC = @extschema@.rfm_state_trans, STYPE = @extschema@.rfm_state,
    COMBINEFUNC = @extschema@.rfm_combine, PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_state_agg(timestamptz, bigint) IS
    'partial RFM state of the rows, bigint amounts';

CREATE AGGREGATE @extschema@.rfm_merge(@extschema@.rfm_state) (
    SFUNC = @extschema@.rfm_combine, STYPE = @extschema@.rfm_state,
    COMBINEFUNC = @extschema@.rfm_combine, PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_merge(@extschema@.rfm_state) IS
    'merge stored RFM states (e.g. daily states per customer) into one';

-- every customer of a query in one aggregate (states inline in one hash table)

-- ---------------------------------------------------------------------------
-- RFM of every customer in one aggregate, keyed by bigint or uuid
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.customer_rfm AS (
    customer_id bigint,
    rfm         @extschema@.rfm      -- NULL when none of the customer's rows was counted
);
COMMENT ON TYPE @extschema@.customer_rfm IS
    'one customer and its RFM metrics, as returned by clm.rfm_agg_by_customer';

CREATE FUNCTION @extschema@.rfm_customers_trans(internal, bigint, timestamptz, numeric, timestamptz)
    RETURNS internal AS 'MODULE_PATHNAME', 'rfm_customers_trans_numeric'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_trans(internal, bigint, timestamptz, numeric, timestamptz) IS
    'transition function of clm.rfm_agg_by_customer(bigint, timestamptz, numeric, timestamptz)';
CREATE FUNCTION @extschema@.rfm_customers_trans(internal, bigint, timestamptz, double precision, timestamptz)
    RETURNS internal AS 'MODULE_PATHNAME', 'rfm_customers_trans_float8'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_trans(internal, bigint, timestamptz, double precision, timestamptz) IS
    'transition function of clm.rfm_agg_by_customer(bigint, timestamptz, double precision, timestamptz)';
CREATE FUNCTION @extschema@.rfm_customers_trans(internal, bigint, timestamptz, bigint, timestamptz)
    RETURNS internal AS 'MODULE_PATHNAME', 'rfm_customers_trans_int8'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_trans(internal, bigint, timestamptz, bigint, timestamptz) IS
    'transition function of clm.rfm_agg_by_customer(bigint, timestamptz, bigint, timestamptz)';
CREATE FUNCTION @extschema@.rfm_customers_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_customers_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_combine(internal, internal) IS
    'combine function of clm.rfm_agg_by_customer';
CREATE FUNCTION @extschema@.rfm_customers_serialize(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'rfm_customers_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_serialize(internal) IS
    'serialize function of clm.rfm_agg_by_customer (parallel workers)';
CREATE FUNCTION @extschema@.rfm_customers_deserialize(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_customers_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_deserialize(bytea, internal) IS
    'deserialize function of clm.rfm_agg_by_customer (validated)';
CREATE FUNCTION @extschema@.rfm_customers_final(internal) RETURNS @extschema@.customer_rfm[]
    AS 'MODULE_PATHNAME', 'rfm_customers_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_final(internal) IS
    'final function of clm.rfm_agg_by_customer';

CREATE AGGREGATE @extschema@.rfm_agg_by_customer(customer_id bigint, ordered_at timestamptz,
                                                 amount numeric, as_of timestamptz) (
    SFUNC = @extschema@.rfm_customers_trans, STYPE = internal,
    FINALFUNC = @extschema@.rfm_customers_final, COMBINEFUNC = @extschema@.rfm_customers_combine,
    SERIALFUNC = @extschema@.rfm_customers_serialize, DESERIALFUNC = @extschema@.rfm_customers_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_agg_by_customer(bigint, timestamptz, numeric, timestamptz) IS
    'clm.rfm_agg of every customer in one pass: a clm.customer_rfm[] to unnest (no NULL ids; order fixed by the ids, not sorted)';
CREATE AGGREGATE @extschema@.rfm_agg_by_customer(customer_id bigint, ordered_at timestamptz,
                                                 amount double precision, as_of timestamptz) (
    SFUNC = @extschema@.rfm_customers_trans, STYPE = internal,
    FINALFUNC = @extschema@.rfm_customers_final, COMBINEFUNC = @extschema@.rfm_customers_combine,
    SERIALFUNC = @extschema@.rfm_customers_serialize, DESERIALFUNC = @extschema@.rfm_customers_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_agg_by_customer(bigint, timestamptz, double precision, timestamptz) IS
    'clm.rfm_agg of every customer in one pass, double precision amounts';
CREATE AGGREGATE @extschema@.rfm_agg_by_customer(customer_id bigint, ordered_at timestamptz,
                                                 amount bigint, as_of timestamptz) (
    SFUNC = @extschema@.rfm_customers_trans, STYPE = internal,
    FINALFUNC = @extschema@.rfm_customers_final, COMBINEFUNC = @extschema@.rfm_customers_combine,
    SERIALFUNC = @extschema@.rfm_customers_serialize, DESERIALFUNC = @extschema@.rfm_customers_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_agg_by_customer(bigint, timestamptz, bigint, timestamptz) IS
    'clm.rfm_agg of every customer in one pass, bigint amounts (e.g. cents)';

-- the same for uuid customer ids
CREATE TYPE @extschema@.customer_rfm_uuid AS (
    customer_id uuid,
    rfm         @extschema@.rfm      -- NULL when none of the customer's rows was counted
);
COMMENT ON TYPE @extschema@.customer_rfm_uuid IS
    'one customer (uuid id) and its RFM metrics, as returned by clm.rfm_agg_by_customer';
CREATE FUNCTION @extschema@.rfm_customers_trans(internal, uuid, timestamptz, numeric, timestamptz)
    RETURNS internal AS 'MODULE_PATHNAME', 'rfm_customers_trans_uuid_numeric'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_trans(internal, uuid, timestamptz, numeric, timestamptz) IS
    'transition function of clm.rfm_agg_by_customer(uuid, timestamptz, numeric, timestamptz)';
CREATE FUNCTION @extschema@.rfm_customers_trans(internal, uuid, timestamptz, double precision, timestamptz)
    RETURNS internal AS 'MODULE_PATHNAME', 'rfm_customers_trans_uuid_float8'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_trans(internal, uuid, timestamptz, double precision, timestamptz) IS
    'transition function of clm.rfm_agg_by_customer(uuid, timestamptz, double precision, timestamptz)';
CREATE FUNCTION @extschema@.rfm_customers_trans(internal, uuid, timestamptz, bigint, timestamptz)
    RETURNS internal AS 'MODULE_PATHNAME', 'rfm_customers_trans_uuid_int8'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_trans(internal, uuid, timestamptz, bigint, timestamptz) IS
    'transition function of clm.rfm_agg_by_customer(uuid, timestamptz, bigint, timestamptz)';
CREATE FUNCTION @extschema@.rfm_customers_final_uuid(internal) RETURNS @extschema@.customer_rfm_uuid[]
    AS 'MODULE_PATHNAME', 'rfm_customers_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_final_uuid(internal) IS
    'final function of clm.rfm_agg_by_customer for uuid customer ids';
CREATE AGGREGATE @extschema@.rfm_agg_by_customer(customer_id uuid, ordered_at timestamptz,
                                                 amount numeric, as_of timestamptz) (
    SFUNC = @extschema@.rfm_customers_trans, STYPE = internal,
    FINALFUNC = @extschema@.rfm_customers_final_uuid, COMBINEFUNC = @extschema@.rfm_customers_combine,
    SERIALFUNC = @extschema@.rfm_customers_serialize, DESERIALFUNC = @extschema@.rfm_customers_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_agg_by_customer(uuid, timestamptz, numeric, timestamptz) IS
    'clm.rfm_agg of every customer in one pass: a clm.customer_rfm_uuid[] to unnest (no NULL ids; order fixed by the ids, not sorted)';
CREATE AGGREGATE @extschema@.rfm_agg_by_customer(customer_id uuid, ordered_at timestamptz,
                                                 amount double precision, as_of timestamptz) (
    SFUNC = @extschema@.rfm_customers_trans, STYPE = internal,
    FINALFUNC = @extschema@.rfm_customers_final_uuid, COMBINEFUNC = @extschema@.rfm_customers_combine,
    SERIALFUNC = @extschema@.rfm_customers_serialize, DESERIALFUNC = @extschema@.rfm_customers_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_agg_by_customer(uuid, timestamptz, double precision, timestamptz) IS
    'clm.rfm_agg of every customer in one pass, uuid ids, double precision amounts';
CREATE AGGREGATE @extschema@.rfm_agg_by_customer(customer_id uuid, ordered_at timestamptz,
                                                 amount bigint, as_of timestamptz) (
    SFUNC = @extschema@.rfm_customers_trans, STYPE = internal,
    FINALFUNC = @extschema@.rfm_customers_final_uuid, COMBINEFUNC = @extschema@.rfm_customers_combine,
    SERIALFUNC = @extschema@.rfm_customers_serialize, DESERIALFUNC = @extschema@.rfm_customers_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_agg_by_customer(uuid, timestamptz, bigint, timestamptz) IS
    'clm.rfm_agg of every customer in one pass, uuid ids, bigint amounts (e.g. cents)';

-- ---------------------------------------------------------------------------
-- RFM: tie-safe quantile thresholds and scores (doc/rfm.md)
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.rfm_thresholds AS (
    recency_breaks   double precision[],  -- ascending days; recency is scored in reverse
    frequency_breaks double precision[],  -- ascending purchase counts
    monetary_breaks  double precision[]   -- ascending money
);
COMMENT ON TYPE @extschema@.rfm_thresholds IS
    'RFM breakpoints per dimension: a value scores 1 + the number of breakpoints <= it (recency reversed)';

CREATE TYPE @extschema@.rfm_score AS (
    r     integer,   -- recency score: highest for the most recent customers
    f     integer,   -- frequency score
    m     integer,   -- monetary score
    score integer    -- r*100 + f*10 + m
);
COMMENT ON TYPE @extschema@.rfm_score IS 'RFM scores of one customer, as returned by clm.rfm_score';

CREATE FUNCTION @extschema@.rfm_thresholds_trans(internal, @extschema@.rfm) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_thresholds_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_trans(internal, @extschema@.rfm) IS
    'transition function of clm.rfm_thresholds(clm.rfm)';
CREATE FUNCTION @extschema@.rfm_thresholds_trans(internal, @extschema@.rfm, integer) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_thresholds_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_trans(internal, @extschema@.rfm, integer) IS
    'transition function of clm.rfm_thresholds(clm.rfm, integer)';
CREATE FUNCTION @extschema@.rfm_thresholds_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_thresholds_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_combine(internal, internal) IS
    'combine function of clm.rfm_thresholds';
CREATE FUNCTION @extschema@.rfm_thresholds_serialize(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'rfm_thresholds_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_serialize(internal) IS
    'serialize function of clm.rfm_thresholds';
CREATE FUNCTION @extschema@.rfm_thresholds_deserialize(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_thresholds_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_deserialize(bytea, internal) IS
    'deserialize function of clm.rfm_thresholds (validated)';
CREATE FUNCTION @extschema@.rfm_thresholds_final(internal) RETURNS @extschema@.rfm_thresholds
    AS 'MODULE_PATHNAME', 'rfm_thresholds_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_final(internal) IS
    'final function of clm.rfm_thresholds: exact tie-safe breakpoints';

CREATE AGGREGATE @extschema@.rfm_thresholds(rfm @extschema@.rfm) (
    SFUNC = @extschema@.rfm_thresholds_trans, STYPE = internal,
    FINALFUNC = @extschema@.rfm_thresholds_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = @extschema@.rfm_thresholds_combine,
    SERIALFUNC = @extschema@.rfm_thresholds_serialize,
    DESERIALFUNC = @extschema@.rfm_thresholds_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_thresholds(@extschema@.rfm) IS
    'quintile breakpoints (5 bins) per RFM dimension over a set of customers; ties never split';
CREATE AGGREGATE @extschema@.rfm_thresholds(rfm @extschema@.rfm, bins integer) (
    SFUNC = @extschema@.rfm_thresholds_trans, STYPE = internal,
    FINALFUNC = @extschema@.rfm_thresholds_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = @extschema@.rfm_thresholds_combine,
    SERIALFUNC = @extschema@.rfm_thresholds_serialize,
    DESERIALFUNC = @extschema@.rfm_thresholds_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_thresholds(@extschema@.rfm, integer) IS
    'quantile breakpoints (bins 2..9) per RFM dimension over a set of customers; ties never split';

CREATE FUNCTION @extschema@.rfm_thresholds(recency_breaks double precision[],
        frequency_breaks double precision[], monetary_breaks double precision[])
    RETURNS @extschema@.rfm_thresholds AS 'MODULE_PATHNAME', 'rfm_thresholds_make'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds(double precision[], double precision[], double precision[]) IS
    'business-defined RFM breakpoints (1..8 ascending values per dimension)';

CREATE FUNCTION @extschema@.rfm_score(rfm @extschema@.rfm, thresholds @extschema@.rfm_thresholds)
    RETURNS @extschema@.rfm_score AS 'MODULE_PATHNAME', 'rfm_score'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_score(@extschema@.rfm, @extschema@.rfm_thresholds) IS
    'RFM scores of a customer against breakpoints: identical values always share a score';

-- ---------------------------------------------------------------------------
-- RFM: named segments, full-coverage rule sets of score boxes (doc/rfm.md)
-- ---------------------------------------------------------------------------

-- Rules are non-overlapping boxes of score ranges, grouped into rule sets.
-- The rule set 'default' is seeded below and read-only (copy it to edit);
-- user rule sets are dumped by pg_dump (the filter keeps the seeded rows,
-- which CREATE EXTENSION recreates, out of the dump).
CREATE TABLE @extschema@.rfm_segment_rule (
    ruleset  text    NOT NULL,
    segment  text    NOT NULL CHECK (segment OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]*$'),
    r_min    integer NOT NULL CHECK (r_min BETWEEN 1 AND 9),
    r_max    integer NOT NULL CHECK (r_max BETWEEN 1 AND 9),
    f_min    integer NOT NULL CHECK (f_min BETWEEN 1 AND 9),
    f_max    integer NOT NULL CHECK (f_max BETWEEN 1 AND 9),
    m_min    integer NOT NULL CHECK (m_min BETWEEN 1 AND 9),
    m_max    integer NOT NULL CHECK (m_max BETWEEN 1 AND 9),
    label_en text    NOT NULL,
    label_zh text,
    PRIMARY KEY (ruleset, segment, r_min, f_min, m_min),
    CHECK (r_min <= r_max AND f_min <= f_max AND m_min <= m_max)
);
COMMENT ON TABLE @extschema@.rfm_segment_rule IS
    'RFM segment rules: each row maps the box r_min..r_max x f_min..f_max x m_min..m_max of a rule set to a segment; boxes of a rule set must not overlap';

INSERT INTO @extschema@.rfm_segment_rule
    (ruleset, segment, r_min, r_max, f_min, f_max, m_min, m_max, label_en, label_zh) VALUES
    ('default', 'champions',          5, 5, 4, 5, 1, 5, 'Champions',           '冠军客户'),
    ('default', 'loyal',              3, 4, 4, 5, 1, 5, 'Loyal',               '忠诚客户'),
    ('default', 'potential_loyalist', 4, 5, 2, 3, 1, 5, 'Potential loyalist',  '潜在忠诚客户'),
    ('default', 'new',                5, 5, 1, 1, 1, 5, 'New',                 '新客户'),
    ('default', 'promising',          4, 4, 1, 1, 1, 5, 'Promising',           '有潜力客户'),
    ('default', 'need_attention',     3, 3, 3, 3, 1, 5, 'Need attention',      '需要关注'),
    ('default', 'about_to_sleep',     3, 3, 1, 2, 1, 5, 'About to sleep',      '即将沉睡'),
    ('default', 'at_risk',            1, 2, 3, 3, 1, 5, 'At risk',             '流失风险'),
    ('default', 'at_risk',            1, 2, 4, 5, 1, 3, 'At risk',             '流失风险'),
    ('default', 'cannot_lose',        1, 2, 4, 5, 4, 5, 'Cannot lose them',    '不能失去'),
    ('default', 'hibernating',        2, 2, 1, 2, 1, 5, 'Hibernating',         '休眠客户'),
    ('default', 'lost',               1, 1, 1, 2, 1, 5, 'Lost',                '已流失');

SELECT pg_catalog.pg_extension_config_dump('@extschema@.rfm_segment_rule',
                                           $$WHERE ruleset <> 'default'$$);
GRANT SELECT ON @extschema@.rfm_segment_rule TO PUBLIC;

CREATE FUNCTION @extschema@.rfm_segment_rule_guard() RETURNS trigger
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF (TG_OP <> 'INSERT' AND OLD.ruleset = 'default')
       OR (TG_OP <> 'DELETE' AND NEW.ruleset = 'default') THEN
        RAISE EXCEPTION 'the RFM segment rule set "default" is read-only'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'It is recreated by CREATE EXTENSION and is not dumped, so edits would be lost.',
                  HINT = 'Copy it into a rule set of your own (INSERT INTO clm.rfm_segment_rule SELECT ''mine'', segment, r_min, r_max, f_min, f_max, m_min, m_max, label_en, label_zh FROM clm.rfm_segment_rule WHERE ruleset = ''default''), edit that and pass its name to clm.rfm_segment.';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_segment_rule_guard() IS
    'keeps the seeded RFM rule set "default" read-only (it is not dumped; edits would be lost)';

CREATE TRIGGER rfm_segment_rule_guard
    BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.rfm_segment_rule
    FOR EACH ROW EXECUTE FUNCTION @extschema@.rfm_segment_rule_guard();

CREATE FUNCTION @extschema@.rfm_segment(score @extschema@.rfm_score, ruleset text DEFAULT 'default')
    RETURNS text AS 'MODULE_PATHNAME', 'rfm_segment'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_segment(@extschema@.rfm_score, text) IS
    'RFM segment of a score from clm.rfm_segment_rule (NULL if no rule covers it; error if two do)';

CREATE FUNCTION @extschema@.rfm_segment_label(score @extschema@.rfm_score, lang text DEFAULT 'en',
                                              ruleset text DEFAULT 'default')
    RETURNS text AS 'MODULE_PATHNAME', 'rfm_segment_label'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_segment_label(@extschema@.rfm_score, text, text) IS
    'label of the RFM segment of a score, in English (en) or Chinese (zh)';

CREATE FUNCTION @extschema@.rfm_segment_rules_check(ruleset text DEFAULT 'default', bins integer DEFAULT 5)
    RETURNS TABLE (r integer, f integer, m integer, problem text, segments text[])
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF bins IS NULL OR bins < 2 OR bins > 9 THEN
        RAISE EXCEPTION 'bins must be between 2 and 9'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('bins is %s.', COALESCE(bins::text, 'NULL'));
    END IF;
    -- as clm.rfm_segment does: an unknown rule set is an error, not 125 uncovered cells
    IF NOT EXISTS (SELECT 1 FROM @extschema@.rfm_segment_rule AS s
                   WHERE s.ruleset OPERATOR(pg_catalog.=) rfm_segment_rules_check.ruleset) THEN
        RAISE EXCEPTION 'RFM segment rule set "%" does not exist', ruleset
            USING ERRCODE = 'undefined_object',
                  HINT = 'The built-in rule set is "default"; add rules to clm.rfm_segment_rule.';
    END IF;
    RETURN QUERY
    SELECT gr.r, gf.f, gm.m,
           CASE WHEN pg_catalog.count(s.segment) OPERATOR(pg_catalog.=) 0 THEN 'uncovered'
                ELSE 'covered ' OPERATOR(pg_catalog.||) pg_catalog.count(s.segment)::text
                     OPERATOR(pg_catalog.||) ' times' END,
           pg_catalog.array_agg(s.segment ORDER BY s.segment) FILTER (WHERE s.segment IS NOT NULL)
    FROM pg_catalog.generate_series(1, bins) AS gr(r)
         CROSS JOIN pg_catalog.generate_series(1, bins) AS gf(f)
         CROSS JOIN pg_catalog.generate_series(1, bins) AS gm(m)
         LEFT JOIN @extschema@.rfm_segment_rule AS s
           ON s.ruleset OPERATOR(pg_catalog.=) rfm_segment_rules_check.ruleset
          AND gr.r OPERATOR(pg_catalog.>=) s.r_min AND gr.r OPERATOR(pg_catalog.<=) s.r_max
          AND gf.f OPERATOR(pg_catalog.>=) s.f_min AND gf.f OPERATOR(pg_catalog.<=) s.f_max
          AND gm.m OPERATOR(pg_catalog.>=) s.m_min AND gm.m OPERATOR(pg_catalog.<=) s.m_max
    GROUP BY gr.r, gf.f, gm.m
    HAVING pg_catalog.count(s.segment) OPERATOR(pg_catalog.<>) 1
    ORDER BY gr.r, gf.f, gm.m;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_segment_rules_check(text, integer) IS
    'cells of the bins x bins x bins score grid that a rule set leaves uncovered or covers more than once (no rows: the rule set is a partition)';

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

-- ---------------------------------------------------------------------------
-- CLV: result types shared by the fitting aggregates and the predictions
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.btyd_summary AS (
    x           integer,            -- repeat purchase periods (first purchase not counted)
    t_x         double precision,   -- first to last purchase, in the unit asked for
    t           double precision,   -- first purchase to the cutoff, same unit
    mean_spend  double precision    -- mean spend per repeat period; 0 when x = 0
);
COMMENT ON TYPE @extschema@.btyd_summary IS
    'per-customer BTYD summary (x, t_x, T, mean spend over repeat purchases), as returned by clm.purchase_summary';

CREATE TYPE @extschema@.bgnbd AS (
    r               double precision,
    alpha           double precision,
    a               double precision,
    b               double precision,
    log_likelihood  double precision,
    n               double precision,   -- customers (sum of weights) in the fit
    iterations      integer,
    converged       boolean,
    r_se            double precision,   -- standard errors from the Hessian
    alpha_se        double precision,
    a_se            double precision,
    b_se            double precision
);
COMMENT ON TYPE @extschema@.bgnbd IS
    'a fitted BG/NBD model (Fader, Hardie and Lee 2005): parameters, log-likelihood, fit diagnostics and standard errors';

CREATE TYPE @extschema@.paretonbd AS (
    r               double precision,
    alpha           double precision,
    s               double precision,
    beta            double precision,
    log_likelihood  double precision,
    n               double precision,
    iterations      integer,
    converged       boolean,
    r_se            double precision,
    alpha_se        double precision,
    s_se            double precision,
    beta_se         double precision
);
COMMENT ON TYPE @extschema@.paretonbd IS
    'a fitted Pareto/NBD model (Schmittlein, Morrison and Colombo 1987): parameters, log-likelihood, fit diagnostics and standard errors';

CREATE TYPE @extschema@.gamma_gamma AS (
    p               double precision,
    q               double precision,
    gamma           double precision,
    log_likelihood  double precision,
    n               double precision,
    iterations      integer,
    converged       boolean,
    p_se            double precision,
    q_se            double precision,
    gamma_se        double precision
);
COMMENT ON TYPE @extschema@.gamma_gamma IS
    'a fitted Gamma-Gamma spend model (Fader, Hardie and Lee 2005): parameters, log-likelihood, fit diagnostics and standard errors';

-- ---------------------------------------------------------------------------
-- CLV fitting: the aggregate state type of the BG/NBD, Pareto/NBD and
-- Gamma-Gamma maximum-likelihood aggregates (doc/clv.md, "Fitting")
-- ---------------------------------------------------------------------------

-- The state is a real type (not internal) so that Citus and users can ship,
-- store and merge partial states.  It holds distinct rows with summed weights.
CREATE TYPE @extschema@.btyd_fit_state;

CREATE FUNCTION @extschema@.btyd_fit_state_in(cstring)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_btyd_fit_state_in'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.btyd_fit_state_in(cstring) IS
    'text input of clm.btyd_fit_state (validates version, kind, counts and every row)';

CREATE FUNCTION @extschema@.btyd_fit_state_out(@extschema@.btyd_fit_state)
    RETURNS cstring
    AS 'MODULE_PATHNAME', 'clm_btyd_fit_state_out'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.btyd_fit_state_out(@extschema@.btyd_fit_state) IS
    'text output of clm.btyd_fit_state';

CREATE FUNCTION @extschema@.btyd_fit_state_recv(internal)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_btyd_fit_state_recv'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.btyd_fit_state_recv(internal) IS
    'binary input of clm.btyd_fit_state (validates version, kind, counts and every row)';

CREATE FUNCTION @extschema@.btyd_fit_state_send(@extschema@.btyd_fit_state)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'clm_btyd_fit_state_send'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.btyd_fit_state_send(@extschema@.btyd_fit_state) IS
    'binary output of clm.btyd_fit_state';

CREATE TYPE @extschema@.btyd_fit_state (
    INPUT = @extschema@.btyd_fit_state_in,
    OUTPUT = @extschema@.btyd_fit_state_out,
    RECEIVE = @extschema@.btyd_fit_state_recv,
    SEND = @extschema@.btyd_fit_state_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = extended
);
COMMENT ON TYPE @extschema@.btyd_fit_state IS
    'aggregate state of the CLV fits: distinct (x, t_x, t) or (x, mean spend) rows with summed weights and the penalizer';

-- ---------------------------------------------------------------------------
-- CLV fitting: the BG/NBD, Pareto/NBD and Gamma-Gamma maximum-likelihood
-- aggregates over clm.btyd_fit_state, and the log-likelihoods
-- ---------------------------------------------------------------------------

-- transition functions: one C function per kind, whatever the arity
CREATE FUNCTION @extschema@.btyd_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_btyd_fit_trans'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.btyd_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8) IS
    'transition function of clm.bgnbd_fit and clm.paretonbd_fit';

CREATE FUNCTION @extschema@.btyd_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8, float8)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_btyd_fit_trans'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.btyd_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8, float8) IS
    'transition function of the weighted clm.bgnbd_fit and clm.paretonbd_fit';

CREATE FUNCTION @extschema@.btyd_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8, float8, float8)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_btyd_fit_trans'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.btyd_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8, float8, float8) IS
    'transition function of the weighted, penalized clm.bgnbd_fit and clm.paretonbd_fit';

CREATE FUNCTION @extschema@.spend_fit_trans(@extschema@.btyd_fit_state, float8, float8)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_spend_fit_trans'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.spend_fit_trans(@extschema@.btyd_fit_state, float8, float8) IS
    'transition function of clm.gamma_gamma_fit';

CREATE FUNCTION @extschema@.spend_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_spend_fit_trans'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.spend_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8) IS
    'transition function of the weighted clm.gamma_gamma_fit';

CREATE FUNCTION @extschema@.spend_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8, float8)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_spend_fit_trans'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.spend_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8, float8) IS
    'transition function of the weighted, penalized clm.gamma_gamma_fit';

CREATE FUNCTION @extschema@.btyd_fit_combine(@extschema@.btyd_fit_state, @extschema@.btyd_fit_state)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_btyd_fit_combine'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.btyd_fit_combine(@extschema@.btyd_fit_state, @extschema@.btyd_fit_state) IS
    'combine function of the CLV fits: merges distinct rows, summing weights';

CREATE FUNCTION @extschema@.bgnbd_fit_final(@extschema@.btyd_fit_state)
    RETURNS @extschema@.bgnbd
    AS 'MODULE_PATHNAME', 'clm_bgnbd_fit_final'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_fit_final(@extschema@.btyd_fit_state) IS
    'final function of clm.bgnbd_fit: maximum-likelihood BG/NBD fit of the collected rows';

CREATE FUNCTION @extschema@.paretonbd_fit_final(@extschema@.btyd_fit_state)
    RETURNS @extschema@.paretonbd
    AS 'MODULE_PATHNAME', 'clm_paretonbd_fit_final'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_fit_final(@extschema@.btyd_fit_state) IS
    'final function of clm.paretonbd_fit: maximum-likelihood Pareto/NBD fit of the collected rows';

CREATE FUNCTION @extschema@.gamma_gamma_fit_final(@extschema@.btyd_fit_state)
    RETURNS @extschema@.gamma_gamma
    AS 'MODULE_PATHNAME', 'clm_gamma_gamma_fit_final'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.gamma_gamma_fit_final(@extschema@.btyd_fit_state) IS
    'final function of clm.gamma_gamma_fit: maximum-likelihood Gamma-Gamma fit of the collected rows';

-- the aggregates
CREATE AGGREGATE @extschema@.bgnbd_fit(x float8, t_x float8, t float8) (
    SFUNC = @extschema@.btyd_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.bgnbd_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.bgnbd_fit(float8, float8, float8) IS
    'fit a BG/NBD model by maximum likelihood to per-customer (x, t_x, t)';

CREATE AGGREGATE @extschema@.bgnbd_fit(x float8, t_x float8, t float8, weight float8) (
    SFUNC = @extschema@.btyd_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.bgnbd_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.bgnbd_fit(float8, float8, float8, float8) IS
    'fit a BG/NBD model to pre-aggregated rows, each standing for weight customers';

CREATE AGGREGATE @extschema@.bgnbd_fit(x float8, t_x float8, t float8, weight float8, penalizer float8) (
    SFUNC = @extschema@.btyd_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.bgnbd_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.bgnbd_fit(float8, float8, float8, float8, float8) IS
    'fit a BG/NBD model with weights and an L2 penalty on the parameters (lifetimes convention)';

CREATE AGGREGATE @extschema@.paretonbd_fit(x float8, t_x float8, t float8) (
    SFUNC = @extschema@.btyd_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.paretonbd_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.paretonbd_fit(float8, float8, float8) IS
    'fit a Pareto/NBD model by maximum likelihood to per-customer (x, t_x, t)';

CREATE AGGREGATE @extschema@.paretonbd_fit(x float8, t_x float8, t float8, weight float8) (
    SFUNC = @extschema@.btyd_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.paretonbd_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.paretonbd_fit(float8, float8, float8, float8) IS
    'fit a Pareto/NBD model to pre-aggregated rows, each standing for weight customers';

CREATE AGGREGATE @extschema@.paretonbd_fit(x float8, t_x float8, t float8, weight float8, penalizer float8) (
    SFUNC = @extschema@.btyd_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.paretonbd_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.paretonbd_fit(float8, float8, float8, float8, float8) IS
    'fit a Pareto/NBD model with weights and an L2 penalty on the parameters (lifetimes convention)';

CREATE AGGREGATE @extschema@.gamma_gamma_fit(x float8, mean_spend float8) (
    SFUNC = @extschema@.spend_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.gamma_gamma_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.gamma_gamma_fit(float8, float8) IS
    'fit the Gamma-Gamma spend model by maximum likelihood to (x, mean spend) of repeat buyers; rows with x = 0 are ignored';

CREATE AGGREGATE @extschema@.gamma_gamma_fit(x float8, mean_spend float8, weight float8) (
    SFUNC = @extschema@.spend_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.gamma_gamma_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.gamma_gamma_fit(float8, float8, float8) IS
    'fit the Gamma-Gamma spend model to pre-aggregated rows, each standing for weight customers';

CREATE AGGREGATE @extschema@.gamma_gamma_fit(x float8, mean_spend float8, weight float8, penalizer float8) (
    SFUNC = @extschema@.spend_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.gamma_gamma_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.gamma_gamma_fit(float8, float8, float8, float8) IS
    'fit the Gamma-Gamma spend model with weights and an L2 penalty on the parameters (lifetimes convention)';

-- log-likelihoods of one customer at given parameters
CREATE FUNCTION @extschema@.bgnbd_log_likelihood(r float8, alpha float8, a float8, b float8,
                                                 x float8, t_x float8, t float8)
    RETURNS float8
    AS 'MODULE_PATHNAME', 'clm_bgnbd_log_likelihood'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_log_likelihood(float8, float8, float8, float8, float8, float8, float8) IS
    'BG/NBD log-likelihood of one customer (x, t_x, t) at parameters (r, alpha, a, b)';

CREATE FUNCTION @extschema@.paretonbd_log_likelihood(r float8, alpha float8, s float8, beta float8,
                                                     x float8, t_x float8, t float8)
    RETURNS float8
    AS 'MODULE_PATHNAME', 'clm_paretonbd_log_likelihood'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_log_likelihood(float8, float8, float8, float8, float8, float8, float8) IS
    'Pareto/NBD log-likelihood of one customer (x, t_x, t) at parameters (r, alpha, s, beta)';

CREATE FUNCTION @extschema@.gamma_gamma_log_likelihood(p float8, q float8, gamma float8,
                                                       x float8, mean_spend float8)
    RETURNS float8
    AS 'MODULE_PATHNAME', 'clm_gamma_gamma_log_likelihood'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.gamma_gamma_log_likelihood(float8, float8, float8, float8, float8) IS
    'Gamma-Gamma log-likelihood (density of the mean spend) of one customer (x, mean_spend) at parameters (p, q, gamma); 0 for x = 0, which carries no spend information';

-- ---------------------------------------------------------------------------
-- CLV: purchase summary (x, t_x, T, mean spend) of each customer
-- ---------------------------------------------------------------------------

-- clm.purchase_summary: orders -> (x, t_x, T, mean_spend) per customer

CREATE FUNCTION @extschema@.purchase_summary_transfn(internal, timestamptz, numeric, timestamptz, interval)
RETURNS internal
AS 'MODULE_PATHNAME', 'clm_purchase_summary_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_transfn(internal, timestamptz, numeric, timestamptz, interval) IS
    'transition function of clm.purchase_summary: collects (UTC day, amount) of the orders up to the cutoff';

CREATE FUNCTION @extschema@.purchase_summary_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'clm_purchase_summary_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_combine(internal, internal) IS
    'combine function of clm.purchase_summary (parallel aggregation)';

CREATE FUNCTION @extschema@.purchase_summary_serial(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'clm_purchase_summary_serial'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_serial(internal) IS
    'serialization function of clm.purchase_summary (parallel aggregation)';

CREATE FUNCTION @extschema@.purchase_summary_deserial(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'clm_purchase_summary_deserial'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_deserial(bytea, internal) IS
    'deserialization function of clm.purchase_summary; validates version, lengths and entries';

CREATE FUNCTION @extschema@.purchase_summary_final(internal)
RETURNS @extschema@.btyd_summary
AS 'MODULE_PATHNAME', 'clm_purchase_summary_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_final(internal) IS
    'final function of clm.purchase_summary: builds the clm.btyd_summary';

CREATE AGGREGATE @extschema@.purchase_summary(ordered_at timestamptz, amount numeric,
                                             cutoff timestamptz, unit interval) (
    SFUNC = @extschema@.purchase_summary_transfn,
    STYPE = internal,
    SSPACE = 256,
    FINALFUNC = @extschema@.purchase_summary_final,
    FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = @extschema@.purchase_summary_combine,
    SERIALFUNC = @extschema@.purchase_summary_serial,
    DESERIALFUNC = @extschema@.purchase_summary_deserial,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.purchase_summary(timestamptz, numeric, timestamptz, interval) IS
    'BTYD purchase summary per customer: x = repeat purchase days, t_x and T in unit, mean spend over repeat days (UTC days; same-day orders merged; orders after cutoff ignored)';

CREATE FUNCTION @extschema@.purchase_summary_decode(state bytea)
RETURNS @extschema@.btyd_summary
AS 'MODULE_PATHNAME', 'clm_purchase_summary_decode'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_decode(bytea) IS
    'the summary a serialized partial state of clm.purchase_summary stands for, with the deserializer''s validation (diagnostics and tests)';

-- ---------------------------------------------------------------------------
-- CLV: predictions of the fitted models
-- ---------------------------------------------------------------------------

-- Gauss hypergeometric function

CREATE FUNCTION @extschema@.hyp2f1(a double precision, b double precision,
                                   c double precision, z double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_hyp2f1_sql'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.hyp2f1(double precision, double precision, double precision, double precision) IS
    'Gauss hypergeometric function 2F1(a, b; c; z) for real arguments and z <= 1';

-- BG/NBD

CREATE FUNCTION @extschema@.bgnbd_expected_purchases(model @extschema@.bgnbd, horizon double precision,
    x double precision, t_x double precision, t double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_bgnbd_expected_purchases'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_expected_purchases(@extschema@.bgnbd, double precision, double precision, double precision, double precision) IS
    'BG/NBD expected purchases in the next horizon for a customer with history (x, t_x, t), in the model''s time unit';

CREATE FUNCTION @extschema@.bgnbd_p_alive(model @extschema@.bgnbd,
    x double precision, t_x double precision, t double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_bgnbd_p_alive'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_p_alive(@extschema@.bgnbd, double precision, double precision, double precision) IS
    'BG/NBD probability that a customer with history (x, t_x, t) is still alive at t';

CREATE FUNCTION @extschema@.bgnbd_expected_purchases_new(model @extschema@.bgnbd, horizon double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_bgnbd_expected_purchases_new'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_expected_purchases_new(@extschema@.bgnbd, double precision) IS
    'BG/NBD expected repeat purchases E[X(horizon)] of a new customer';

CREATE FUNCTION @extschema@.bgnbd_purchase_probability(model @extschema@.bgnbd, horizon double precision, n integer)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_bgnbd_purchase_probability'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_purchase_probability(@extschema@.bgnbd, double precision, integer) IS
    'BG/NBD probability P(N(horizon) = n) that a new customer makes exactly n repeat purchases in horizon';

-- Pareto/NBD

CREATE FUNCTION @extschema@.paretonbd_expected_purchases(model @extschema@.paretonbd, horizon double precision,
    x double precision, t_x double precision, t double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_paretonbd_expected_purchases'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_expected_purchases(@extschema@.paretonbd, double precision, double precision, double precision, double precision) IS
    'Pareto/NBD expected purchases in the next horizon for a customer with history (x, t_x, t)';

CREATE FUNCTION @extschema@.paretonbd_p_alive(model @extschema@.paretonbd,
    x double precision, t_x double precision, t double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_paretonbd_p_alive'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_p_alive(@extschema@.paretonbd, double precision, double precision, double precision) IS
    'Pareto/NBD probability that a customer with history (x, t_x, t) is still alive at t';

CREATE FUNCTION @extschema@.paretonbd_expected_purchases_new(model @extschema@.paretonbd, horizon double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_paretonbd_expected_purchases_new'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_expected_purchases_new(@extschema@.paretonbd, double precision) IS
    'Pareto/NBD expected purchases E[X(horizon)] of a new customer';

CREATE FUNCTION @extschema@.paretonbd_purchase_probability(model @extschema@.paretonbd, horizon double precision, n integer)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_paretonbd_purchase_probability'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_purchase_probability(@extschema@.paretonbd, double precision, integer) IS
    'Pareto/NBD probability P(X(horizon) = n) that a new customer makes exactly n purchases in horizon';

-- Gamma-Gamma and CLV

CREATE FUNCTION @extschema@.gamma_gamma_expected_spend(model @extschema@.gamma_gamma,
    x double precision, mean_spend double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_gamma_gamma_expected_spend'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.gamma_gamma_expected_spend(@extschema@.gamma_gamma, double precision, double precision) IS
    'Gamma-Gamma expected spend per purchase of a customer with x repeat purchases of mean spend mean_spend';

CREATE FUNCTION @extschema@.clv(bgnbd @extschema@.bgnbd, gamma_gamma @extschema@.gamma_gamma,
    x double precision, t_x double precision, t double precision, mean_spend double precision,
    horizon_months integer, monthly_discount_rate double precision, unit_days double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_clv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.clv(@extschema@.bgnbd, @extschema@.gamma_gamma, double precision, double precision, double precision, double precision, integer, double precision, double precision) IS
    'discounted CLV over horizon_months: sum of monthly expected purchases (BG/NBD) times expected spend (Gamma-Gamma); unit_days = days per model time unit, a month = 365.25/12 days';

CREATE FUNCTION @extschema@.clv_simple(avg_order_value double precision, purchases_per_period double precision,
    expected_lifetime_periods double precision, margin double precision DEFAULT 1,
    discount_rate double precision DEFAULT 0)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_clv_simple'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.clv_simple(double precision, double precision, double precision, double precision, double precision) IS
    'simple CLV: avg_order_value * purchases_per_period * margin per period, discounted at discount_rate per period over expected_lifetime_periods';

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

-- ---------------------------------------------------------------------------
-- Cohort retention
-- ---------------------------------------------------------------------------

-- cohort_retention: the long-format cohort table BI tools pivot into the
-- retention triangle.  The cohort is the calendar period of a customer's
-- first order (fixed for life); period 0 is that acquisition period, so its
-- retention is 1 by construction.  Every (cohort, period) pair up to the
-- last reported period is returned, zero rows included, so that a pivot has
-- no holes.  Only complete periods are reported unless include_partial: a
-- period that is still running at as_of would show retention that is low
-- only because it has not ended yet, and its cohort would still be growing.
CREATE FUNCTION @extschema@.cohort_retention(
    orders regclass,
    customer_column name,
    ordered_at_column name,
    amount_column name,
    period text DEFAULT 'month',
    as_of timestamptz DEFAULT pg_catalog.now(),
    include_partial boolean DEFAULT false)
RETURNS TABLE(cohort date, period_number integer, cohort_size bigint, active_customers bigint,
              retention_rate double precision, revenue numeric, revenue_per_customer numeric)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    step interval;
    boundary timestamptz;
    last_start timestamptz;
BEGIN
    PERFORM @extschema@._check_order_columns(orders, customer_column, ordered_at_column);
    PERFORM @extschema@._check_amount_column(orders, amount_column);
    PERFORM @extschema@._check_as_of(as_of, 'as_of');
    IF period IS NULL OR period NOT IN ('week', 'month', 'quarter') THEN
        RAISE EXCEPTION 'unsupported cohort period "%"', period
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''week'', ''month'' or ''quarter''.';
    END IF;
    IF include_partial IS NULL THEN
        RAISE EXCEPTION 'include_partial must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    step := CASE period WHEN 'week' THEN interval '7 days'
                        WHEN 'month' THEN interval '1 month'
                        ELSE interval '3 months' END;
    -- the period containing as_of starts at boundary and is partial: as_of
    -- is inclusive, so even when as_of is exactly its start that instant
    -- has been observed (an order placed then counts, in that period)
    boundary := pg_catalog.date_trunc(period, as_of);
    IF include_partial THEN
        last_start := boundary;
    ELSE
        last_start := boundary - step;
    END IF;

    RETURN QUERY EXECUTE pg_catalog.format($q$
        WITH o AS (
            SELECT t.%1$I AS c,
                   pg_catalog.date_trunc($1, @extschema@._finite_order_time(t.%2$I::timestamptz)) AS p,
                   t.%3$I::numeric AS amount
              FROM %4$s AS t
             WHERE t.%1$I IS NOT NULL
               AND t.%2$I::timestamptz <= $2        -- as_of is inclusive
               AND t.%2$I::timestamptz < $3 + $4    -- the end of the last reported period
        ), cp AS (             -- one row per customer and active period
            SELECT o.c, o.p, pg_catalog.sum(o.amount) AS revenue
              FROM o
             GROUP BY o.c, o.p
        ), ck AS (             -- ... with the customer's cohort
            SELECT cp.p, cp.revenue,
                   pg_catalog.min(cp.p) OVER (PARTITION BY cp.c) AS k
              FROM cp
        ), act AS (
            SELECT ck.k, ck.p, pg_catalog.count(*) AS n,
                   pg_catalog.sum(ck.revenue) AS revenue
              FROM ck
             GROUP BY ck.k, ck.p
        )
        SELECT s.k::date,
               (g.i - 1)::integer,
               s.n,
               COALESCE(a.n, 0),
               COALESCE(a.n, 0)::double precision / s.n,
               COALESCE(a.revenue, 0),
               COALESCE(a.revenue, 0) / s.n
          FROM act AS s
         CROSS JOIN LATERAL pg_catalog.generate_series(s.k, $3, $4) WITH ORDINALITY AS g(p, i)
          LEFT JOIN act AS a ON a.k = s.k AND a.p = g.p
         WHERE s.p = s.k
         ORDER BY 1, 2
        $q$, customer_column, ordered_at_column, amount_column, orders)
    USING period, as_of, last_start, step;
END
$fn$;
COMMENT ON FUNCTION @extschema@.cohort_retention(regclass, name, name, name, text, timestamptz, boolean) IS
    'cohort retention in long format: one row per acquisition cohort and period (0 = acquisition period), zero rows included, complete periods only unless include_partial';

-- ---------------------------------------------------------------------------
-- Kaplan-Meier time to churn
-- ---------------------------------------------------------------------------

-- churn_survival: how long customers stay before they churn, with the
-- customers who have not churned yet counted correctly (right-censored)
-- instead of being dropped or treated as churned.  Churn is the inactivity
-- rule used throughout clm: a customer churns at t + inactivity when an
-- order at t is followed by no order in (t, t + inactivity].  Subject =
-- customer, origin = first order, time in whole days.
CREATE FUNCTION @extschema@.churn_survival(
    orders regclass,
    customer_column name,
    ordered_at_column name,
    inactivity interval DEFAULT '90 days',
    as_of timestamptz DEFAULT pg_catalog.now(),
    cohort text DEFAULT NULL,
    groups regclass DEFAULT NULL,
    group_key_column name DEFAULT NULL,
    group_column name DEFAULT NULL)
RETURNS TABLE(stratum text, "time" integer, at_risk bigint, events bigint, censored bigint,
              survival double precision, std_error double precision)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    stratum_expr text;
    join_clause text := '';
BEGIN
    PERFORM @extschema@._check_order_columns(orders, customer_column, ordered_at_column);
    PERFORM @extschema@._check_as_of(as_of, 'as_of');
    PERFORM @extschema@._check_inactivity(inactivity);
    IF cohort IS NOT NULL AND groups IS NOT NULL THEN
        RAISE EXCEPTION 'cohort and groups cannot both be given'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Stratify either by acquisition cohort or by a column of another relation.';
    END IF;

    IF cohort IS NOT NULL THEN
        IF cohort NOT IN ('week', 'month', 'quarter', 'year') THEN
            RAISE EXCEPTION 'unsupported cohort period "%"', cohort
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Use ''week'', ''month'', ''quarter'' or ''year'', or NULL for one curve.';
        END IF;
        stratum_expr := pg_catalog.format('pg_catalog.date_trunc(%L, s.first_at)::date::text', cohort);
    ELSIF groups IS NOT NULL THEN
        PERFORM @extschema@._column_type(groups, group_key_column, 'group_key_column');
        PERFORM @extschema@._column_type(groups, group_column, 'group_column');
        stratum_expr := pg_catalog.format('g.%I::text', group_column);
        join_clause := pg_catalog.format('LEFT JOIN %s AS g ON g.%I = s.c', groups, group_key_column);
    ELSIF group_key_column IS NOT NULL OR group_column IS NOT NULL THEN
        RAISE EXCEPTION 'group_key_column and group_column need groups'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the relation that holds the groups as groups.';
    ELSE
        stratum_expr := 'NULL::text';
    END IF;

    RETURN QUERY EXECUTE pg_catalog.format($q$
        WITH o AS (
            SELECT t.%1$I AS c, @extschema@._finite_order_time(t.%2$I::timestamptz) AS at
              FROM %3$s AS t
             WHERE t.%1$I IS NOT NULL AND t.%2$I::timestamptz <= $1    -- as_of is inclusive
        ), gaps AS (
            SELECT o.c, o.at,
                   pg_catalog.lead(o.at) OVER (PARTITION BY o.c ORDER BY o.at) AS next_at
              FROM o
        ), s AS (              -- one row per customer: first order, first churn
            -- (a churn before the next order, or at or before as_of: the
            -- orders at as_of have been seen, so has their absence)
            SELECT gaps.c, pg_catalog.min(gaps.at) AS first_at,
                   pg_catalog.min(gaps.at + $2)
                       FILTER (WHERE CASE WHEN gaps.next_at IS NULL THEN gaps.at + $2 <= $1
                                          ELSE gaps.at + $2 < gaps.next_at END) AS churn_at
              FROM gaps
             GROUP BY gaps.c
        ), subj AS (
            SELECT %4$s AS stratum,
                   pg_catalog.floor(pg_catalog.date_part('epoch',
                       COALESCE(s.churn_at, $1) - s.first_at) / 86400)::integer AS t,
                   s.churn_at IS NOT NULL AS event
              FROM s %5$s
        ), tab AS (
            SELECT subj.stratum, subj.t,
                   pg_catalog.count(*) FILTER (WHERE subj.event) AS d,
                   pg_catalog.count(*) FILTER (WHERE NOT subj.event) AS z
              FROM subj
             GROUP BY subj.stratum, subj.t
        ), risk AS (           -- at risk at t: everyone whose time is >= t
            SELECT tab.stratum, tab.t, tab.d, tab.z,
                   pg_catalog.sum(tab.d + tab.z) OVER (PARTITION BY tab.stratum ORDER BY tab.t DESC)::bigint AS n
              FROM tab
        ), km AS (
            SELECT risk.stratum, risk.t, risk.n, risk.d, risk.z,
                   pg_catalog.bool_or(risk.d = risk.n) OVER w AS extinct,
                   pg_catalog.sum(CASE WHEN risk.d < risk.n
                                       THEN pg_catalog.ln(1 - risk.d::double precision / risk.n) END) OVER w AS log_s,
                   pg_catalog.sum(CASE WHEN risk.d < risk.n
                                       THEN risk.d::double precision / (risk.n::double precision * (risk.n - risk.d)) END) OVER w AS gw
              FROM risk
            WINDOW w AS (PARTITION BY risk.stratum ORDER BY risk.t)
        )
        SELECT km.stratum, km.t, km.n, km.d, km.z,
               CASE WHEN km.extinct THEN 0 ELSE pg_catalog.exp(km.log_s) END,
               CASE WHEN km.extinct THEN NULL
                    ELSE pg_catalog.exp(km.log_s) * pg_catalog.sqrt(km.gw) END
          FROM km
         ORDER BY km.stratum NULLS FIRST, km.t
        $q$, customer_column, ordered_at_column, orders, stratum_expr, join_clause)
    USING as_of, inactivity;
END
$fn$;
COMMENT ON FUNCTION @extschema@.churn_survival(regclass, name, name, interval, timestamptz, text, regclass, name, name) IS
    'Kaplan-Meier time-to-churn table (days since first order; churn = no order for inactivity; right-censored at as_of) with Greenwood standard errors, optionally per acquisition cohort or per group';

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

-- ---------------------------------------------------------------------------
-- Stage history: transition matrix and funnel
-- ---------------------------------------------------------------------------

-- _relation_label: the quoted, schema-qualified name of a relation, the
-- form in which clm keeps a table's name as text (customer view registry).
CREATE FUNCTION @extschema@._relation_label(rel regclass)
RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.oid = rel);
COMMENT ON FUNCTION @extschema@._relation_label(regclass) IS
    'internal: the quoted, schema-qualified name of a relation';

-- _check_window: since/until bound a half-open window; NULL means open on
-- that side, but an empty or inverted window is almost surely a mistake.
CREATE FUNCTION @extschema@._check_window(since timestamptz, until timestamptz)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF since IS NOT NULL AND until IS NOT NULL AND since >= until THEN
        RAISE EXCEPTION 'since must be earlier than until'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The window given was [' || since::text || ', ' || until::text || ').',
                  HINT = 'The window is half-open: since is included, until is not.';
    END IF;
END
$fn$;
COMMENT ON FUNCTION @extschema@._check_window(timestamptz, timestamptz) IS
    'internal: raises an error when since is not earlier than until';

-- The two functions reading clm.stage_history are PARALLEL UNSAFE like its
-- read policy (clm.stage_history_visible), which they run for a reader.

-- stage_transition_matrix: how customers move between stages, estimated
-- from the recorded changes (the jump chain of the lifecycle: each change
-- is one transition, p(i, j) = n(i, j) / n(i)).  Rows for every from-stage
-- that has transitions cover all ten to-stages, zero cells included, so a
-- BI pivot shows a complete matrix whose rows sum to 1.  from_stage NULL is
-- the entry row: the first stage customers were given.
CREATE FUNCTION @extschema@.stage_transition_matrix(
    since timestamptz,
    until timestamptz,
    relation regclass DEFAULT NULL)
RETURNS TABLE(from_stage @extschema@.lifecycle_stage, to_stage @extschema@.lifecycle_stage,
              transitions bigint, probability double precision)
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rel oid := relation;
BEGIN
    PERFORM @extschema@._check_window(since, until);
    RETURN QUERY
    WITH h AS (
        SELECT sh.from_stage AS f, sh.to_stage AS t
          FROM @extschema@.stage_history AS sh
         WHERE (since IS NULL OR sh.changed_at >= since)
           AND (until IS NULL OR sh.changed_at < until)
           AND (rel IS NULL OR sh.relation = rel)
    ), cnt AS (
        SELECT h.f, h.t, pg_catalog.count(*) AS n FROM h GROUP BY h.f, h.t
    ), tot AS (
        SELECT cnt.f, pg_catalog.sum(cnt.n)::bigint AS n FROM cnt GROUP BY cnt.f
    )
    SELECT tot.f, s.s, COALESCE(cnt.n, 0), COALESCE(cnt.n, 0)::double precision / tot.n
      FROM tot
     CROSS JOIN pg_catalog.unnest(pg_catalog.enum_range(NULL::@extschema@.lifecycle_stage)) AS s(s)
      LEFT JOIN cnt ON cnt.f IS NOT DISTINCT FROM tot.f AND cnt.t = s.s
     ORDER BY tot.f NULLS FIRST, s.s;
END
$fn$;
COMMENT ON FUNCTION @extschema@.stage_transition_matrix(timestamptz, timestamptz, regclass) IS
    'stage transition counts and row-normalised probabilities from clm.stage_history changes in [since, until) (NULL = unbounded), optionally for one customers table; from_stage NULL = first stage assigned';

-- stage_funnel: the question "of the customers who got this far, how many
-- got further, and how long did they stay" over an ordered list of stages.
-- A customer reaches step i when, within the window, they entered stage i
-- or any later stage of the list (skipping a stage does not drop them out
-- of the funnel), so counts never grow from step to step.  Time in stage is
-- measured on completed stays only: entered in the window and left (any
-- later change of the same customer) before until.
CREATE FUNCTION @extschema@.stage_funnel(
    since timestamptz,
    until timestamptz,
    stages @extschema@.lifecycle_stage[] DEFAULT ARRAY['prospect', 'lead', 'first_purchase', 'repeat', 'loyal', 'advocate']::@extschema@.lifecycle_stage[],
    relation regclass DEFAULT NULL)
RETURNS TABLE(step integer, stage @extschema@.lifecycle_stage, customers bigint,
              conversion_rate double precision, overall_rate double precision,
              median_days_in_stage double precision, completed_stays bigint)
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rel oid := relation;
BEGIN
    PERFORM @extschema@._check_window(since, until);
    IF stages IS NULL OR pg_catalog.cardinality(stages) = 0 THEN
        RAISE EXCEPTION 'stages must list at least one stage'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.array_position(stages, NULL) IS NOT NULL
       OR (SELECT pg_catalog.count(DISTINCT u) FROM pg_catalog.unnest(stages) AS u) <> pg_catalog.cardinality(stages) THEN
        RAISE EXCEPTION 'stages must not contain nulls or repeated stages'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The list given was ' || stages::text || '.';
    END IF;

    RETURN QUERY
    WITH pos AS (
        SELECT u.s, u.i::integer AS i
          FROM pg_catalog.unnest(stages) WITH ORDINALITY AS u(s, i)
    ), h AS (
        SELECT sh.relation AS r, sh.customer_key AS k, sh.to_stage AS t, sh.changed_at AS at,
               pg_catalog.lead(sh.changed_at) OVER (PARTITION BY sh.relation, sh.customer_key
                                                    ORDER BY sh.changed_at, sh.id) AS left_at
          FROM @extschema@.stage_history AS sh
         WHERE (rel IS NULL OR sh.relation = rel)
           AND (until IS NULL OR sh.changed_at < until)
    ), w AS (
        SELECT h.* FROM h WHERE since IS NULL OR h.at >= since
    ), reach AS (      -- the furthest step each customer reached in the window
        SELECT w.r, w.k, pg_catalog.max(pos.i) AS i
          FROM w JOIN pos ON pos.s = w.t
         GROUP BY w.r, w.k
    ), cnt AS (
        SELECT pos.i, pos.s,
               (SELECT pg_catalog.count(*) FROM reach WHERE reach.i >= pos.i) AS n
          FROM pos
    ), stay AS (
        SELECT pos.i,
               pg_catalog.percentile_cont(0.5) WITHIN GROUP (
                   ORDER BY pg_catalog.date_part('epoch', w.left_at - w.at) / 86400) AS med,
               pg_catalog.count(*) AS n
          FROM w JOIN pos ON pos.s = w.t
         WHERE w.left_at IS NOT NULL
         GROUP BY pos.i
    )
    SELECT cnt.i, cnt.s, cnt.n,
           CASE WHEN cnt.i > 1 AND prev.n > 0 THEN cnt.n::double precision / prev.n END,
           CASE WHEN first.n > 0 THEN cnt.n::double precision / first.n END,
           stay.med,
           COALESCE(stay.n, 0)
      FROM cnt
      LEFT JOIN cnt AS prev ON prev.i = cnt.i - 1
      JOIN cnt AS first ON first.i = 1
      LEFT JOIN stay ON stay.i = cnt.i
     ORDER BY cnt.i;
END
$fn$;
COMMENT ON FUNCTION @extschema@.stage_funnel(timestamptz, timestamptz, @extschema@.lifecycle_stage[], regclass) IS
    'stage funnel from clm.stage_history in [since, until): customers reaching each listed stage (or a later one), conversion from the previous step and from the first, median days in stage over completed stays';

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
-- and time_unit are SQL expressions ($1/$2 for the fit, the registry row's
-- columns for the view).  Refunds (negative amounts) count in the RFM
-- figures as clm.rfm_agg counts them; the BTYD summary the models are
-- fitted on and applied to is that of the purchases only.
CREATE FUNCTION @extschema@._customer_view_source(reg @extschema@.customer_view,
                                                  as_of_expr text, unit_expr text, extra_from text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.format($q$
    SELECT o.%1$I AS customer_key,
           @extschema@.rfm_agg(o.%2$I::timestamptz, o.%3$I::numeric, %5$s) AS rfm,
           @extschema@.purchase_summary(o.%2$I::timestamptz, o.%3$I::numeric, %5$s, %6$s)
               FILTER (WHERE o.%3$I::numeric >= 0) AS s
      FROM %4$s AS o%7$s
     WHERE o.%1$I IS NOT NULL AND o.%2$I::timestamptz <= %5$s
     GROUP BY o.%1$I$q$,
    reg.customer_column, reg.ordered_at_column, reg.amount_column, reg.orders_relation,
    as_of_expr, unit_expr, extra_from);
COMMENT ON FUNCTION @extschema@._customer_view_source(@extschema@.customer_view, text, text, text) IS
    'internal: the per-customer RFM and BTYD summary query of a customer view';

-- _customer_view_fit: fits the models of a customer view at as_of and
-- stores them with as_of; the view's query then only applies them.  BG/NBD
-- on every customer with a purchase, Gamma-Gamma on repeat customers (it
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
AS $fn$
DECLARE
    vschema name;
    vname name;
    owner_name name;
    reg @extschema@.customer_view;
    fit record;
    bg @extschema@.bgnbd;
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
    src := @extschema@._customer_view_source(reg, '$1', '$2', '');
    unit_days := pg_catalog.date_part('epoch', reg.time_unit) / 86400;
    BEGIN
        EXECUTE pg_catalog.format($q$
            SELECT @extschema@.bgnbd_fit((c.s).x::double precision, (c.s).t_x, (c.s).t)
                       FILTER (WHERE (c.s).x IS NOT NULL) AS bg,
                   @extschema@.gamma_gamma_fit((c.s).x::double precision, (c.s).mean_spend)
                       FILTER (WHERE (c.s).x > 0 AND (c.s).mean_spend > 0) AS gg,
                   @extschema@.rfm_thresholds(c.rfm) AS th,
                   pg_catalog.count(*) AS n,
                   pg_catalog.max((c.s).t) AS t_max,
                   pg_catalog.max((c.s).x) AS x_max
              FROM (%s) AS c$q$, src)
        INTO fit
        USING as_of, reg.time_unit;
        bg := fit.bg;
        gg := fit.gg;
        th := fit.th;
        n := fit.n;
    EXCEPTION WHEN data_exception THEN
        RAISE WARNING 'the models of customer view % could not be fitted: %', view, SQLERRM
            USING DETAIL = 'P(alive), expected purchases and predicted CLV are left empty.';
        EXECUTE pg_catalog.format($q$
            SELECT @extschema@.rfm_thresholds(c.rfm) AS th, pg_catalog.count(*) AS n,
                   NULL::double precision AS t_max, NULL::double precision AS x_max
              FROM (%s) AS c$q$, src)
        INTO fit
        USING as_of, reg.time_unit;
        th := fit.th;
        n := fit.n;
    END;
    -- probe the fitted models on the extreme customers
    IF (bg).r IS NOT NULL AND fit.t_max IS NOT NULL THEN
        BEGIN
            PERFORM @extschema@.bgnbd_p_alive(bg, p.x, p.t_x, fit.t_max),
                    @extschema@.bgnbd_expected_purchases(bg, reg.horizon_days / unit_days, p.x, p.t_x, fit.t_max),
                    @extschema@.clv(bg, gg, p.x, p.t_x, fit.t_max, 1.0, reg.clv_months,
                                    reg.monthly_discount_rate, unit_days)
               FROM (VALUES (0::double precision, 0::double precision),
                            (fit.x_max, fit.t_max / 2), (fit.x_max, fit.t_max)) AS v(x, t_x),
                    -- t_x is 0 for x = 0: data without a repeat buyer
                    LATERAL (SELECT v.x, CASE WHEN v.x > 0 THEN v.t_x ELSE 0 END) AS p(x, t_x);
        EXCEPTION WHEN data_exception THEN
            RAISE WARNING 'the BG/NBD model fitted for customer view % cannot predict: %', view, SQLERRM
                USING DETAIL = 'Fitted model: ' || bg::text || '.',
                      HINT = 'P(alive), expected purchases and predicted CLV are left empty; check the time unit and the order data.';
            bg := NULL;
        END;
    END IF;
    UPDATE @extschema@.customer_view AS r
       SET as_of = _customer_view_fit.as_of, bgnbd = bg, gamma_gamma = gg, thresholds = th, customers = n,
           orders_relation = reg.orders_relation, refreshed_at = pg_catalog.statement_timestamp()
     WHERE r.view_schema = vschema AND r.view_name = vname;
END
$fn$;
COMMENT ON FUNCTION @extschema@._customer_view_fit(regclass, timestamptz) IS
    'internal: fits the BG/NBD and Gamma-Gamma models and the RFM thresholds of a customer view at as_of and stores them in clm.customer_view; runs only as the view''s owner, through clm._customer_view_refit';
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
    monthly_discount_rate double precision DEFAULT 0.01)
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
           r.bgnbd, r.gamma_gamma, r.thresholds,
           pg_catalog.date_part('epoch', r.time_unit) / 86400 AS unit_days
      FROM @extschema@._customer_view_row(%1$L, %2$L) AS r
), c AS (%3$s
), sc AS (
    SELECT c.customer_key, c.rfm, c.s, @extschema@.rfm_score(c.rfm, m.thresholds) AS score
      FROM c, m
)
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
       @extschema@.bgnbd_p_alive(m.bgnbd, (sc.s).x, (sc.s).t_x, (sc.s).t) AS p_alive,
       @extschema@.bgnbd_expected_purchases(m.bgnbd, m.horizon_days / m.unit_days,
                                            (sc.s).x, (sc.s).t_x, (sc.s).t) AS expected_purchases,
       @extschema@.clv(m.bgnbd, m.gamma_gamma, (sc.s).x, (sc.s).t_x, (sc.s).t, (sc.s).mean_spend,
                       m.clv_months, m.monthly_discount_rate, m.unit_days) AS predicted_clv,
       m.as_of
  FROM sc, m
$q$, vschema, vname,
        @extschema@._customer_view_source(reg, 'm.as_of', 'm.time_unit', ', m'));

    INSERT INTO @extschema@.customer_view
        (view_schema, view_name, orders_relation, customer_column, ordered_at_column, amount_column,
         policy, time_unit, horizon_days, clv_months, monthly_discount_rate, as_of, definition)
    VALUES (vschema, vname, reg.orders_relation, customer_column, ordered_at_column, amount_column,
            policy, time_unit, horizon_days, clv_months, monthly_discount_rate, as_of, def);
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
COMMENT ON FUNCTION @extschema@.create_customer_view(text, regclass, name, name, name, timestamptz, text, interval, integer, integer, double precision) IS
    'creates a materialized view with one row per customer of an orders table (RFM values, scores and segment, lifecycle stage, P(alive), expected purchases, predicted CLV), fitted and fixed at as_of, with a unique index for REFRESH CONCURRENTLY';

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
