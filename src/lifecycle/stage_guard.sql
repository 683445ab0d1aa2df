-- ---------------------------------------------------------------------------
-- The guard trigger
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.stage_guard()
RETURNS trigger
AS 'MODULE_PATHNAME', 'clm_stage_guard'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.stage_guard() IS
    'BEFORE INSERT OR UPDATE FOR EACH ROW trigger, arguments (stage column, key column [, stage-entered-at column]): rejects transitions no rule allows (23514) and records allowed ones in clm.stage_history';
