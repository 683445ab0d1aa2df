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
