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
