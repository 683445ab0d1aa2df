-- ---------------------------------------------------------------------------
-- The stage-change feed: every recorded stage change, for outside systems
-- ---------------------------------------------------------------------------

-- feed_consumer: one row per consumer of the feed, with its position: the
-- (position, event id) of the last event it acknowledged.  While at least
-- one consumer exists, clm.stage_guard records every stage change in
-- clm.stage_event as well as in the history.
CREATE TABLE @extschema@.feed_consumer (
    name            text PRIMARY KEY CHECK (name <> ''),
    position        xid8 NOT NULL,
    event_id        bigint NOT NULL DEFAULT 0,
    created_by      name NOT NULL DEFAULT CURRENT_USER,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.statement_timestamp(),
    acknowledged_at timestamptz
);
COMMENT ON TABLE @extschema@.feed_consumer IS
    'consumers of the stage-change feed (clm.feed_subscribe) and their positions: the (position, event id) of the last event each acknowledged; while one exists, stage changes are recorded in clm.stage_event';
COMMENT ON COLUMN @extschema@.feed_consumer.position IS
    'the position of the last acknowledged event; the consumer reads the events after (position, event_id)';

-- stage_event: the feed.  One row per stage change recorded while the feed
-- has a consumer, written by clm.stage_guard in the changing transaction.
-- The feed is read in (position, id) order.  position is the writing
-- transaction's id, raised to the position of the customer's previous
-- event when that is larger, so that a customer's events are in the order
-- they happened (a customer's changes are serialized by its row lock, but
-- an older transaction may take the lock after a younger one).  An event
-- is delivered only once its position is below every running transaction
-- (pg_snapshot_xmin): then no event can still appear before it.
CREATE TABLE @extschema@.stage_event (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    position        xid8 NOT NULL,
    relation        regclass NOT NULL,
    customer_key    text NOT NULL,
    from_stage      @extschema@.lifecycle_stage,
    to_stage        @extschema@.lifecycle_stage NOT NULL,
    changed_at      timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT pg_catalog.transaction_timestamp(),
    history_id      bigint,
    withdrawal      boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE @extschema@.stage_event IS
    'the stage-change feed: one event per stage change recorded while a consumer exists, delivered in (position, id) order by clm.feed_read';
COMMENT ON COLUMN @extschema@.stage_event.position IS
    'the delivery order: the writing transaction''s id, or the position of the customer''s previous event when larger';
COMMENT ON COLUMN @extschema@.stage_event.history_id IS
    'the clm.stage_history row of the change (of the change withdrawn, for a withdrawal)';
COMMENT ON COLUMN @extschema@.stage_event.withdrawal IS
    'true when a late order withdrew a lapse (at_risk, dormant, churned) recorded earlier: the customer moves back from from_stage to to_stage, and the lapse''s history row is gone';
CREATE INDEX stage_event_position_idx ON @extschema@.stage_event (position, id);
-- a customer's events, and the latest position among them, which every new
-- event of the customer reads (an index-only max, however many it has)
CREATE INDEX stage_event_customer_idx ON @extschema@.stage_event (relation, customer_key, position);
COMMENT ON SEQUENCE @extschema@.stage_event_id_seq IS
    'ids of clm.stage_event';

-- Neither table is dumped (no pg_extension_config_dump): positions are
-- transaction ids of this cluster, which mean nothing in another one.  A
-- restored database starts without consumers, and consumers subscribe
-- again.  pg_upgrade keeps the transaction ids, and the tables with them.

-- Consumers see their own rows; events are seen by the roles that may see
-- the customer's history (the same rule).  Nobody but clm's triggers, as
-- the tables' owner, writes the events.
ALTER TABLE @extschema@.feed_consumer ENABLE ROW LEVEL SECURITY;
CREATE POLICY feed_consumer_read ON @extschema@.feed_consumer FOR SELECT
    USING (@extschema@._role_member(created_by));
CREATE POLICY feed_consumer_insert ON @extschema@.feed_consumer FOR INSERT
    WITH CHECK (created_by = CURRENT_USER);
CREATE POLICY feed_consumer_update ON @extschema@.feed_consumer FOR UPDATE
    USING (@extschema@._role_member(created_by));
CREATE POLICY feed_consumer_delete ON @extschema@.feed_consumer FOR DELETE
    USING (@extschema@._role_member(created_by));
COMMENT ON POLICY feed_consumer_read ON @extschema@.feed_consumer IS
    'a consumer is seen only by (members of) the role that subscribed it';
COMMENT ON POLICY feed_consumer_insert ON @extschema@.feed_consumer IS
    'a role subscribes consumers in its own name';
COMMENT ON POLICY feed_consumer_update ON @extschema@.feed_consumer IS
    'only (members of) the role that subscribed a consumer move its position';
COMMENT ON POLICY feed_consumer_delete ON @extschema@.feed_consumer IS
    'only (members of) the role that subscribed a consumer remove it';
GRANT SELECT, INSERT, DELETE ON @extschema@.feed_consumer TO PUBLIC;
GRANT UPDATE (position, event_id, acknowledged_at) ON @extschema@.feed_consumer TO PUBLIC;
ALTER TABLE @extschema@.stage_event ENABLE ROW LEVEL SECURITY;
CREATE POLICY stage_event_read ON @extschema@.stage_event FOR SELECT
    USING (@extschema@.stage_history_visible(relation, customer_key));
COMMENT ON POLICY stage_event_read ON @extschema@.stage_event IS
    'a role sees the events of the customers it may read (clm.stage_history_visible)';
GRANT SELECT ON @extschema@.stage_event TO PUBLIC;

-- _feed_consumer: the calling role's consumer of that name, locked.
CREATE FUNCTION @extschema@._feed_consumer(consumer text)
RETURNS @extschema@.feed_consumer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c @extschema@.feed_consumer;
BEGIN
    IF consumer IS NULL THEN
        RAISE EXCEPTION 'consumer must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass the name given to clm.feed_subscribe.';
    END IF;
    SELECT * INTO c FROM @extschema@.feed_consumer AS x WHERE x.name = consumer FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feed consumer "%" does not exist', consumer
            USING ERRCODE = 'undefined_object',
                  HINT = 'Subscribe it with clm.feed_subscribe; a consumer is visible only to the role that subscribed it.';
    END IF;
    RETURN c;
END
$fn$;
COMMENT ON FUNCTION @extschema@._feed_consumer(text) IS
    'internal: the calling role''s feed consumer of that name, locked, or an error';

-- feed_subscribe: a new consumer.  It receives every stage change of the
-- transactions that take their snapshot after the subscription commits,
-- and possibly some earlier ones.
CREATE FUNCTION @extschema@.feed_subscribe(consumer text)
RETURNS @extschema@.feed_consumer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c @extschema@.feed_consumer;
BEGIN
    IF consumer IS NULL OR consumer = '' THEN
        RAISE EXCEPTION 'a feed consumer needs a name'
            USING ERRCODE = CASE WHEN consumer IS NULL THEN 'null_value_not_allowed' ELSE 'invalid_parameter_value' END,
                  HINT = 'Name it after the system that reads the feed, such as ''crm_email''.';
    END IF;
    INSERT INTO @extschema@.feed_consumer AS x (name, position)
    VALUES (consumer, pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot()))
    ON CONFLICT (name) DO NOTHING
    RETURNING x.* INTO c;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feed consumer "%" already exists', consumer
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Consumer names are shared by all roles; pick another one.';
    END IF;
    RETURN c;
END
$fn$;
-- Every subscribed consumer makes every stage change write an event, and
-- holds back the purge of what it has not read: a role subscribes only if
-- granted to.
REVOKE EXECUTE ON FUNCTION @extschema@.feed_subscribe(text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.feed_subscribe(text) IS
    'subscribes a consumer to the stage-change feed, from now on: it receives every stage change of transactions that take their snapshot after the subscription commits';

-- feed_read: the next events after the consumer's position, in delivery
-- order, without moving it (acknowledge with feed_ack once they are
-- handled: at-least-once delivery).  Only events below every running
-- transaction are delivered, so none can appear later before them.
CREATE FUNCTION @extschema@.feed_read(consumer text, max_events integer DEFAULT 1000)
RETURNS SETOF @extschema@.stage_event
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c @extschema@.feed_consumer := @extschema@._feed_consumer(consumer);
BEGIN
    IF max_events IS NULL OR max_events < 1 THEN
        RAISE EXCEPTION 'max_events must be at least 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('It was given as %s.', COALESCE(max_events::text, 'NULL'));
    END IF;
    RETURN QUERY
        SELECT e.* FROM @extschema@.stage_event AS e
         WHERE (e.position, e.id) > (c.position, c.event_id)
           AND e.position < pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())
         ORDER BY e.position, e.id
         LIMIT max_events;
END
$fn$;
COMMENT ON FUNCTION @extschema@.feed_read(text, integer) IS
    'the next events of the stage-change feed after the consumer''s position, in delivery order (per customer, the order of its changes); does not move the position (clm.feed_ack)';

-- feed_ack: the consumer has handled every event up to and including this
-- one; its position moves there (never back: see feed_seek).
CREATE FUNCTION @extschema@.feed_ack(consumer text, event_position xid8, event_id bigint)
RETURNS @extschema@.feed_consumer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    c @extschema@.feed_consumer := @extschema@._feed_consumer(consumer);
BEGIN
    IF event_position IS NULL OR event_id IS NULL THEN
        RAISE EXCEPTION 'event position and id must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass the position and id of the last event handled, as clm.feed_read returned them.';
    END IF;
    IF event_position >= pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot()) THEN
        RAISE EXCEPTION 'the event position has not been delivered yet'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Position %s is not below every running transaction.', event_position),
                  HINT = 'Acknowledge only events clm.feed_read returned.';
    END IF;
    UPDATE @extschema@.feed_consumer AS x
       SET position = event_position, event_id = event_id, acknowledged_at = pg_catalog.statement_timestamp()
     WHERE x.name = c.name AND (x.position, x.event_id) < (event_position, event_id)
    RETURNING x.* INTO c;
    IF NOT FOUND THEN
        SELECT * INTO c FROM @extschema@.feed_consumer AS x WHERE x.name = consumer;
    END IF;
    RETURN c;
END
$fn$;
COMMENT ON FUNCTION @extschema@.feed_ack(text, xid8, bigint) IS
    'acknowledges the events of the feed up to and including this one: the consumer''s position moves there, never back';

-- feed_seek: move a consumer to any position, back for a replay: its next
-- read starts after (event_position, event_id).
CREATE FUNCTION @extschema@.feed_seek(consumer text, event_position xid8, event_id bigint DEFAULT 0)
RETURNS @extschema@.feed_consumer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    c @extschema@.feed_consumer := @extschema@._feed_consumer(consumer);
BEGIN
    IF event_position IS NULL OR event_id IS NULL THEN
        RAISE EXCEPTION 'event position and id must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'To replay from the start of the feed: clm.feed_seek(consumer, ''0''::xid8).';
    END IF;
    UPDATE @extschema@.feed_consumer AS x SET position = event_position, event_id = event_id
     WHERE x.name = c.name
    RETURNING x.* INTO c;
    RETURN c;
END
$fn$;
COMMENT ON FUNCTION @extschema@.feed_seek(text, xid8, bigint) IS
    'moves a consumer to a position, back for a replay: its next read starts after (event_position, event_id); ''0''::xid8 replays every event kept';

-- feed_unsubscribe: remove a consumer.  With the last one gone, stage
-- changes are no longer recorded in the feed.
CREATE FUNCTION @extschema@.feed_unsubscribe(consumer text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c @extschema@.feed_consumer := @extschema@._feed_consumer(consumer);
BEGIN
    DELETE FROM @extschema@.feed_consumer AS x WHERE x.name = c.name;
END
$fn$;
COMMENT ON FUNCTION @extschema@.feed_unsubscribe(text) IS
    'removes a consumer of the feed; with none left, stage changes are no longer recorded in clm.stage_event';

-- feed_purge: retention of consumed events: removes the events every
-- consumer has acknowledged that were recorded more than keep ago.  Runs
-- as the owner of clm's tables (only clm writes the events), and removes
-- nothing a consumer still has to read.
CREATE FUNCTION @extschema@.feed_purge(keep interval DEFAULT '0')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n bigint;
BEGIN
    IF keep IS NULL OR keep < interval '0' THEN
        RAISE EXCEPTION 'keep must be an interval of at least 0'
            USING ERRCODE = CASE WHEN keep IS NULL THEN 'null_value_not_allowed' ELSE 'invalid_parameter_value' END,
                  HINT = 'Pass how long to keep events every consumer has acknowledged, such as interval ''7 days''.';
    END IF;
    DELETE FROM @extschema@.stage_event AS e
     WHERE e.recorded_at < pg_catalog.statement_timestamp() - keep
       AND NOT EXISTS (SELECT FROM @extschema@.feed_consumer AS c
                        WHERE (c.position, c.event_id) < (e.position, e.id));
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;
REVOKE EXECUTE ON FUNCTION @extschema@.feed_purge(interval) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.feed_purge(interval) IS
    'retention of the feed: removes the events every consumer has acknowledged that were recorded more than keep ago (default: all of them); returns how many';

-- action_detach_dropped: for the tables just dropped, the campaigns' table
-- and the feed events' relation := 0, as the owner of clm's tables,
-- whoever dropped the table; as clm.stage_history_detach_dropped does for
-- the history, so that no later table reusing an OID inherits them.
CREATE FUNCTION @extschema@.action_detach_dropped()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    dropped oid[] := @extschema@._dropped_relations();
BEGIN
    IF dropped IS NULL THEN
        RETURN;
    END IF;
    UPDATE @extschema@.campaign AS c SET customers = 0
     WHERE c.customers OPERATOR(pg_catalog.=) ANY (dropped);
    UPDATE @extschema@.campaign AS c SET orders = 0
     WHERE c.orders OPERATOR(pg_catalog.=) ANY (dropped);
    UPDATE @extschema@.stage_event AS e SET relation = 0
     WHERE e.relation OPERATOR(pg_catalog.=) ANY (dropped);
    DELETE FROM @extschema@.referral_source AS s
     WHERE s.customers OPERATOR(pg_catalog.=) ANY (dropped)
        OR s.referrals OPERATOR(pg_catalog.=) ANY (dropped);
END
$fn$;
REVOKE EXECUTE ON FUNCTION @extschema@.action_detach_dropped() FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.action_detach_dropped() IS
    'sql_drop event trigger function: sets the customers or orders table of campaigns, and the relation of feed events, to 0 when that table is dropped, so that no later table reusing its OID inherits them; forgets the adopted referrals of a dropped customers or referrals table';
CREATE EVENT TRIGGER clm_action_detach_dropped ON sql_drop
    EXECUTE FUNCTION @extschema@.action_detach_dropped();
COMMENT ON EVENT TRIGGER clm_action_detach_dropped IS
    'detaches the campaigns, feed events and adopted referrals of dropped tables (clm.action_detach_dropped)';
