--
-- lifecycle_stage: the enum, its labels, the model mapping and the
-- transition rules (seeded defaults plus user edits through the view).
--
\set VERBOSITY default

-- the enum, in funnel order
SELECT pg_catalog.enum_range(NULL::clm.lifecycle_stage);
SELECT 'loyal'::clm.lifecycle_stage < 'at_risk'::clm.lifecycle_stage AS ordered;

-- labels
SELECT s AS stage, clm.stage_label(s) AS en, clm.stage_label(s, 'zh') AS zh
FROM unnest(pg_catalog.enum_range(NULL::clm.lifecycle_stage)) AS s;
SELECT clm.stage_label(NULL) IS NULL AS null_stage, clm.stage_label('loyal', NULL) IS NULL AS null_lang;
-- bad input: unknown language, unknown stage
SELECT clm.stage_label('loyal', 'fr');
SELECT clm.stage_label('vip');

-- every model names each clm stage exactly once
SELECT model, count(*) AS stages, count(DISTINCT stage) AS distinct_stages,
       count(model_stage) AS mapped
FROM clm.stage_model GROUP BY model ORDER BY model;
SELECT model, model_stage_order, model_stage, string_agg(stage::text, ', ' ORDER BY stage) AS clm_stages
FROM clm.stage_model WHERE model IN ('hubspot', 'customer_journey')
GROUP BY 1, 2, 3 ORDER BY 1, 2 NULLS LAST;

-- the default rules
SELECT count(*) AS rules, bool_and(is_default) AS all_default FROM clm.stage_transition_rule;
SELECT from_stage, string_agg(to_stage::text, ', ' ORDER BY to_stage) AS allowed_to
FROM clm.stage_transition_rule GROUP BY from_stage ORDER BY from_stage;
-- never back into prospect or lead once bought
SELECT count(*) AS back_to_funnel FROM clm.stage_transition_rule
WHERE to_stage IN ('prospect', 'lead') AND from_stage NOT IN ('prospect');

-- user edits: add a rule, remove a default one, replace one
INSERT INTO clm.stage_transition_rule (from_stage, to_stage) VALUES ('churned', 'lead')
RETURNING from_stage, to_stage, is_default;
DELETE FROM clm.stage_transition_rule WHERE from_stage = 'reactivated' AND to_stage = 'loyal'
RETURNING from_stage, to_stage;
UPDATE clm.stage_transition_rule SET to_stage = 'advocate'
WHERE from_stage = 'churned' AND to_stage = 'lead';
SELECT from_stage, to_stage, allowed FROM clm.stage_transition_rule_user ORDER BY 1, 2;
SELECT count(*) AS rules FROM clm.stage_transition_rule;
-- bad input: duplicate, self loop, NULL, deleting what is not there
INSERT INTO clm.stage_transition_rule (from_stage, to_stage) VALUES ('prospect', 'lead');
INSERT INTO clm.stage_transition_rule (from_stage, to_stage) VALUES ('loyal', 'loyal');
INSERT INTO clm.stage_transition_rule (from_stage, to_stage) VALUES (NULL, 'loyal');
INSERT INTO clm.stage_transition_rule (from_stage, to_stage) VALUES ('loyal', 'gold');
DELETE FROM clm.stage_transition_rule WHERE from_stage = 'prospect' AND to_stage = 'churned';
-- re-adding a removed default restores it (no user row left), removing a user rule deletes it
INSERT INTO clm.stage_transition_rule (from_stage, to_stage) VALUES ('reactivated', 'loyal')
RETURNING is_default;
DELETE FROM clm.stage_transition_rule WHERE from_stage = 'churned' AND to_stage = 'advocate';
SELECT count(*) AS user_rows FROM clm.stage_transition_rule_user;
SELECT count(*) AS rules FROM clm.stage_transition_rule;

-- the trigger functions cannot be called directly
SELECT clm.stage_transition_rule_edit();
SELECT clm.lifecycle_config_changed();
SELECT clm.lifecycle_policy_protect_default();

-- ordinary roles read the rules but cannot change them
CREATE ROLE clm_rule_reader;
SET ROLE clm_rule_reader;
SELECT count(*) > 0 AS can_read FROM clm.stage_transition_rule;
INSERT INTO clm.stage_transition_rule (from_stage, to_stage) VALUES ('churned', 'lead');
INSERT INTO clm.stage_transition_rule_user VALUES ('churned', 'lead', true);
INSERT INTO clm.stage_history (relation, customer_key, to_stage, changed_at)
VALUES ('pg_catalog.pg_class', '1', 'loyal', '2026-01-01');
RESET ROLE;
DROP ROLE clm_rule_reader;
