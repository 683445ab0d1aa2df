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
