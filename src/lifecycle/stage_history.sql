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

-- _dropped_relations: in a sql_drop event trigger, the tables, foreign
-- tables, views and materialized views just dropped (DROP TABLE, DROP
-- SCHEMA ... CASCADE, DROP OWNED, ...); NULL when there are none.  Every
-- record clm keeps of a user's relation is detached from these.
CREATE FUNCTION @extschema@._dropped_relations()
RETURNS oid[]
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT pg_catalog.array_agg(d.objid)
          FROM pg_catalog.pg_event_trigger_dropped_objects() AS d
         WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
           AND d.objsubid OPERATOR(pg_catalog.=) 0
           AND d.object_type OPERATOR(pg_catalog.=) ANY ('{table,foreign table,view,materialized view}'));
COMMENT ON FUNCTION @extschema@._dropped_relations() IS
    'internal: in a sql_drop event trigger, the OIDs of the tables, foreign tables, views and materialized views just dropped';

-- stage_history_detach_dropped: relation := 0 for the history of tables
-- just dropped, as the owner of the history, whoever dropped the table.
CREATE FUNCTION @extschema@.stage_history_detach_dropped()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    UPDATE @extschema@.stage_history AS h SET relation = 0
     WHERE h.relation OPERATOR(pg_catalog.=) ANY (@extschema@._dropped_relations());
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

-- distributed_stage_history: the history of Citus tables, read on the
-- coordinator from every node.  On Citus each node records the changes of
-- the shards it holds in its own clm.stage_history, under the distributed
-- table (clm.stage_guard maps a shard to its table); this gathers them,
-- filtered on each node by table and customer, with the table resolved on
-- this node.  Each node's query runs as the calling role, so each node's
-- read policy (clm.stage_history_visible) applies there.  The Citus catalog
-- and function are named only in the body (resolved when called), so clm
-- installs without Citus.
CREATE FUNCTION @extschema@.distributed_stage_history(
    distributed_table regclass DEFAULT NULL, customer text DEFAULT NULL)
RETURNS TABLE (nodeid integer, id bigint, relation regclass, customer_key text,
               from_stage @extschema@.lifecycle_stage, to_stage @extschema@.lifecycle_stage,
               changed_at timestamptz, recorded_at timestamptz, changed_by name, txid xid8)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    want_relation regclass := $1;
    want_key text := $2;
    nsp name;
    rel name;
    node record;
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RAISE EXCEPTION 'clm.distributed_stage_history needs Citus'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'This database has no Citus extension: every stage change is in its own clm.stage_history.',
                  HINT = 'Read clm.stage_history.';
    END IF;
    IF want_relation IS NOT NULL THEN
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
                        WHERE p.logicalrelid OPERATOR(pg_catalog.=) want_relation) THEN
            RAISE EXCEPTION 'relation % is not a Citus table', want_relation
                USING ERRCODE = 'wrong_object_type',
                      DETAIL = 'The history of a table that is not distributed is in this node''s clm.stage_history.',
                      HINT = pg_catalog.format('SELECT * FROM clm.stage_history WHERE relation = %L::regclass;',
                                               want_relation::text);
        END IF;
        SELECT n.nspname, c.relname INTO nsp, rel
          FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n
            ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
         WHERE c.oid OPERATOR(pg_catalog.=) want_relation;
    END IF;
    FOR node IN
        SELECT r.nodeid, r.success, r.result
          FROM pg_catalog.run_command_on_all_nodes(pg_catalog.format($cmd$
SELECT COALESCE(pg_catalog.json_agg(pg_catalog.json_build_object(
           'id', h.id, 'nsp', n.nspname, 'rel', c.relname, 'customer_key', h.customer_key,
           'from_stage', h.from_stage, 'to_stage', h.to_stage, 'changed_at', h.changed_at,
           'recorded_at', h.recorded_at, 'changed_by', h.changed_by, 'txid', h.txid)
       ORDER BY h.id), '[]')
  FROM @extschema@.stage_history h
  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) h.relation
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
 WHERE h.relation OPERATOR(pg_catalog.=) ANY (SELECT p.logicalrelid FROM pg_catalog.pg_dist_partition p)
   AND (%1$L::pg_catalog.name IS NULL OR (n.nspname OPERATOR(pg_catalog.=) %1$L AND c.relname OPERATOR(pg_catalog.=) %2$L))
   AND (%3$L::pg_catalog.text IS NULL OR h.customer_key OPERATOR(pg_catalog.=) %3$L)
$cmd$, nsp, rel, want_key)) AS r
         ORDER BY r.nodeid
    LOOP
        IF NOT node.success THEN
            RAISE EXCEPTION 'reading clm.stage_history on Citus node % failed', node.nodeid
                USING ERRCODE = 'connection_exception',
                      DETAIL = pg_catalog.format('The node reported: %s', node.result),
                      HINT = 'See pg_dist_node for the node; clm must be installed on every node.';
        END IF;
        RETURN QUERY
            SELECT node.nodeid, h.id,
                   pg_catalog.to_regclass(pg_catalog.format('%I.%I', h.nsp, h.rel)),
                   h.customer_key, h.from_stage, h.to_stage, h.changed_at, h.recorded_at,
                   h.changed_by, h.txid
              FROM pg_catalog.json_to_recordset(node.result::pg_catalog.json)
                   AS h(id bigint, nsp name, rel name, customer_key text,
                        from_stage @extschema@.lifecycle_stage, to_stage @extschema@.lifecycle_stage,
                        changed_at timestamptz, recorded_at timestamptz, changed_by name, txid xid8);
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION @extschema@.distributed_stage_history(regclass, text) IS
    'on a Citus coordinator: the clm.stage_history rows of Citus tables from every node (as the calling role, under each node''s read policy), optionally of one table and one customer key, with the table resolved on this node';
