--
-- action_feed: the stage-change feed.  Changes are recorded as events
-- while a consumer exists; a consumer reads them in order after its
-- position, acknowledges them, replays them, and never sees the events of
-- a transaction that has not committed, nor those of customers it may not
-- read; purging keeps what a consumer still has to read.
-- Each error is followed by its SQLSTATE (\echo sqlstate :SQLSTATE).
--
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA fd;
CREATE TABLE fd.customers (id int PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON fd.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
CREATE TABLE fd.orders (customer_id int REFERENCES fd.customers, ordered_at timestamptz, amount numeric);
CREATE TRIGGER stage_on_order AFTER INSERT ON fd.orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('fd.customers', 'customer_id', 'status', 'ordered_at');
INSERT INTO fd.customers SELECT i, 'prospect', '2025-01-01' FROM generate_series(1, 10) i;

-- no consumer: the history records the changes, the feed does not
INSERT INTO fd.orders VALUES (1, '2025-02-01', 10);
SELECT (SELECT count(*) FROM clm.stage_history WHERE relation = 'fd.customers'::regclass) AS history,
       (SELECT count(*) FROM clm.stage_event) AS events;

-- a consumer; from now on every change is an event
SELECT name, event_id, position <= pg_current_xact_id() AS position_before_now
FROM clm.feed_subscribe('crm_email');
INSERT INTO fd.orders SELECT 1 + i % 5, timestamptz '2025-03-01' + i * interval '1 day', 10
FROM generate_series(1, 12) i;
-- each event is its history row
SELECT count(*) AS events,
       count(*) FILTER (WHERE h.id IS NOT NULL AND h.from_stage IS NOT DISTINCT FROM e.from_stage
                        AND h.to_stage = e.to_stage AND h.changed_at = e.changed_at) AS matching_history
FROM clm.stage_event AS e LEFT JOIN clm.stage_history AS h ON h.id = e.history_id;
-- read in order, per customer the chain of its changes; reading does not
-- move the position
SELECT customer_key, string_agg(coalesce(from_stage::text, '-') || '>' || to_stage, ' ' ORDER BY position, id) AS chain
FROM clm.feed_read('crm_email') GROUP BY customer_key ORDER BY customer_key;
SELECT count(*) AS read_again FROM clm.feed_read('crm_email');
SELECT count(*) AS first_three FROM clm.feed_read('crm_email', 3);
-- acknowledge the first three: the next read starts after them
SELECT event_id > 0 AS moved FROM clm.feed_ack('crm_email',
    (SELECT position FROM clm.feed_read('crm_email', 3) ORDER BY position DESC, id DESC LIMIT 1),
    (SELECT id FROM clm.feed_read('crm_email', 3) ORDER BY position DESC, id DESC LIMIT 1));
SELECT count(*) AS after_ack FROM clm.feed_read('crm_email');
-- acknowledging an earlier event does not move it back
SELECT count(*) AS still_after_ack FROM (
    SELECT clm.feed_ack('crm_email', '1'::xid8, 1)) a, clm.feed_read('crm_email') r;
-- acknowledge everything, then replay from the start
SELECT count(*) AS acked FROM (
    SELECT clm.feed_ack('crm_email', position, id)
    FROM clm.feed_read('crm_email') ORDER BY position DESC, id DESC LIMIT 1) a;
SELECT count(*) AS nothing_left FROM clm.feed_read('crm_email');
SELECT name FROM clm.feed_seek('crm_email', '0');
SELECT count(*) AS replayed FROM clm.feed_read('crm_email');

-- the events of a transaction that has not committed are not delivered,
-- not even to itself
BEGIN;
INSERT INTO fd.orders VALUES (9, '2025-06-01', 10);
SELECT count(*) AS recorded FROM clm.stage_event WHERE customer_key = '9';
SELECT count(*) AS delivered FROM clm.feed_read('crm_email') WHERE customer_key = '9';
COMMIT;
SELECT count(*) AS delivered_after_commit FROM clm.feed_read('crm_email') WHERE customer_key = '9';

-- another role: its own consumer, and only the customers it may read
CREATE ROLE regress_feed_reader;
CREATE ROLE regress_feed_blind;
CREATE ROLE regress_feed_nobody;
GRANT USAGE ON SCHEMA fd TO regress_feed_reader, regress_feed_blind;
GRANT SELECT ON fd.customers TO regress_feed_reader;
-- subscribing is granted, not public: every consumer costs every writer
SET ROLE regress_feed_nobody;
SELECT clm.feed_subscribe('nobody');
\echo sqlstate :SQLSTATE
RESET ROLE;
GRANT EXECUTE ON FUNCTION clm.feed_subscribe(text) TO regress_feed_reader, regress_feed_blind;
CREATE TABLE fd.all_events AS SELECT count(*) AS n FROM clm.stage_event;
GRANT SELECT ON fd.all_events TO regress_feed_reader;
SET ROLE regress_feed_blind;
SELECT name FROM clm.feed_subscribe('blind');
-- a name another role took
SELECT clm.feed_subscribe('crm_email');
\echo sqlstate :SQLSTATE
SELECT count(*) AS blind_sees FROM clm.feed_seek('blind', '0') s, clm.feed_read('blind') r;
SELECT count(*) FROM clm.feed_read('crm_email');
\echo sqlstate :SQLSTATE
SELECT count(*) AS consumers_seen FROM clm.feed_consumer;
SELECT clm.feed_purge();
\echo sqlstate :SQLSTATE
RESET ROLE;
SET ROLE regress_feed_reader;
SELECT name FROM clm.feed_subscribe('reader');
SELECT count(*) = (SELECT n FROM fd.all_events) AS reader_sees_all
FROM clm.feed_seek('reader', '0') s, clm.feed_read('reader', 100000) r;
SELECT clm.feed_unsubscribe('reader');
RESET ROLE;

-- retention: only what every consumer has acknowledged goes
SELECT clm.feed_unsubscribe('blind');
SELECT clm.feed_purge() AS purged_none_acked;
SELECT count(*) AS acked FROM (
    SELECT clm.feed_ack('crm_email', position, id)
    FROM clm.feed_read('crm_email', 100000) ORDER BY position DESC, id DESC LIMIT 1) a;
SELECT clm.feed_purge('1 day') AS purged_too_young;
SELECT count(*) AS events_before FROM clm.stage_event;
SELECT clm.feed_purge() AS purged_all_acked;
SELECT count(*) AS left_over FROM clm.stage_event;

-- bad input
SELECT clm.feed_subscribe('crm_email');
\echo sqlstate :SQLSTATE
SELECT clm.feed_subscribe('');
\echo sqlstate :SQLSTATE
SELECT clm.feed_subscribe(NULL);
\echo sqlstate :SQLSTATE
SELECT * FROM clm.feed_read('no_such_consumer');
\echo sqlstate :SQLSTATE
SELECT * FROM clm.feed_read(NULL);
\echo sqlstate :SQLSTATE
SELECT * FROM clm.feed_read('crm_email', 0);
\echo sqlstate :SQLSTATE
SELECT clm.feed_ack('crm_email', NULL, 1);
\echo sqlstate :SQLSTATE
\set VERBOSITY terse
SELECT clm.feed_ack('crm_email', pg_current_xact_id(), 1);
\echo sqlstate :SQLSTATE
\set VERBOSITY default
SELECT clm.feed_seek('crm_email', NULL);
\echo sqlstate :SQLSTATE
SELECT clm.feed_purge('-1 day');
\echo sqlstate :SQLSTATE
SELECT clm.feed_purge(NULL);
\echo sqlstate :SQLSTATE
SELECT clm.feed_unsubscribe('no_such_consumer');
\echo sqlstate :SQLSTATE

-- a new event reads its customer's latest position as the first entry of
-- a backward index scan, however many events the customer has: the plan of
-- the event insert's subquery (with the table too small for the planner to
-- prefer an index by itself)
CREATE FUNCTION fd.latest_position_plan() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
BEGIN
    FOR line IN EXPLAIN (COSTS OFF)
        SELECT e.position FROM clm.stage_event e
        WHERE e.relation = 'fd.customers'::regclass AND e.customer_key = '1'
        ORDER BY e.position DESC LIMIT 1
    LOOP
        IF line ~ 'Index Only Scan Backward using stage_event_customer_idx' THEN
            RETURN 'index only, backward, on stage_event_customer_idx';
        END IF;
    END LOOP;
    RETURN 'another plan';
END $$;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT fd.latest_position_plan();
RESET enable_seqscan;
RESET enable_bitmapscan;

-- with the last consumer gone, changes are no longer recorded
SELECT clm.feed_unsubscribe('crm_email');
INSERT INTO fd.orders VALUES (10, '2025-07-01', 10);
SELECT count(*) AS new_events FROM clm.stage_event WHERE customer_key = '10';

-- a dropped customers table: its events are detached (relation 0), as
-- its history is
SELECT name FROM clm.feed_subscribe('crm_email');
CREATE TABLE fd.gone (id int PRIMARY KEY, status clm.lifecycle_stage);
CREATE TRIGGER g BEFORE INSERT OR UPDATE ON fd.gone FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
INSERT INTO fd.gone VALUES (1, 'prospect');
DROP TABLE fd.gone;
SELECT relation::oid AS relation, customer_key, to_stage FROM clm.stage_event
WHERE relation::oid NOT IN (SELECT oid FROM pg_class);
SELECT clm.feed_unsubscribe('crm_email');
SELECT clm.feed_purge('0') AS purged;

REVOKE EXECUTE ON FUNCTION clm.feed_subscribe(text) FROM regress_feed_reader, regress_feed_blind;
REVOKE ALL ON SCHEMA fd FROM regress_feed_reader, regress_feed_blind;
REVOKE ALL ON fd.customers FROM regress_feed_reader;
DROP ROLE regress_feed_reader, regress_feed_blind, regress_feed_nobody;
\echo sqlstate :SQLSTATE
DROP SCHEMA fd CASCADE;
