--
-- action_erasure: clm.forget_customer erases one customer from everything
-- clm keeps (stage history, campaign memberships, customer views) and
-- nothing else; it needs DELETE on the customers table and the customer's
-- own rows gone, and is all or nothing.  clm.purge_history removes old
-- stage changes but each customer's latest.
-- Each error is followed by its SQLSTATE (\echo sqlstate :SQLSTATE).
--
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA er;
CREATE TABLE er.customers (id text PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON er.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
CREATE TABLE er.orders (customer_id text REFERENCES er.customers, ordered_at timestamptz, amount numeric);
CREATE TRIGGER stage_on_order AFTER INSERT ON er.orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('er.customers', 'customer_id', 'status', 'ordered_at');
-- the feed records the changes too
SELECT name FROM clm.feed_subscribe('er_feed');
-- 30 customers, among them 'erase-me-7f3a', each with 1 to 6 orders
INSERT INTO er.customers (id, status, since)
SELECT CASE WHEN i = 7 THEN 'erase-me-7f3a' ELSE 'c' || i END, 'prospect', '2025-01-01'
FROM generate_series(1, 30) i;
INSERT INTO er.orders
SELECT CASE WHEN i = 7 THEN 'erase-me-7f3a' ELSE 'c' || i END,
       timestamptz '2025-02-01' + (i * 3 + k * 17) * interval '1 day', 10 * k
FROM generate_series(1, 30) i, generate_series(1, 1 + i % 6) k;
SELECT clm.create_customer_view('er.cv', 'er.orders', 'customer_id', 'ordered_at', 'amount', as_of => '2025-12-01');
SELECT name FROM clm.create_campaign('er_winback', 'er.customers', 'er.orders', 0.5, '2025-06-01');
SELECT count(*) AS enrolled FROM (SELECT clm.campaign_enroll('er_winback', id) FROM er.customers) e;

-- what clm holds about the customer, and about the others
CREATE TABLE er.before AS
SELECT (SELECT count(*) FROM clm.stage_history WHERE relation = 'er.customers'::regclass
         AND customer_key = 'erase-me-7f3a') AS history,
       (SELECT count(*) FROM clm.stage_history WHERE relation = 'er.customers'::regclass
         AND customer_key <> 'erase-me-7f3a') AS others_history,
       (SELECT count(*) FROM clm.campaign_member WHERE customer_key <> 'erase-me-7f3a') AS others_members,
       (SELECT count(*) FROM clm.stage_event WHERE customer_key <> 'erase-me-7f3a') AS others_events,
       (SELECT count(*) FROM er.cv WHERE customer_key <> 'erase-me-7f3a') AS others_in_view,
       (SELECT md5(string_agg(h::text, ',' ORDER BY h.id)) FROM clm.stage_history AS h
         WHERE customer_key <> 'erase-me-7f3a') AS others_digest;
SELECT history > 0 AS has_history, others_history > 0 AS others_have_history,
       (SELECT count(*) FROM clm.stage_event WHERE customer_key = 'erase-me-7f3a') = history AS has_events,
       (SELECT count(*) FROM er.cv WHERE customer_key = 'erase-me-7f3a') AS in_view
FROM er.before;

-- the customer is still in the table: refused, nothing removed, nor by the
-- internal function forget_customer calls
SELECT * FROM clm.forget_customer('er.customers', 'erase-me-7f3a');
\echo sqlstate :SQLSTATE
SELECT * FROM clm._forget_records('er.customers', 'erase-me-7f3a');
\echo sqlstate :SQLSTATE
SELECT count(*) = (SELECT history FROM er.before) AS history_kept
FROM clm.stage_history WHERE customer_key = 'erase-me-7f3a';

-- a role that may read but not delete the customers
CREATE ROLE regress_erasure_reader;
CREATE ROLE regress_erasure_deleter;
GRANT USAGE ON SCHEMA er TO regress_erasure_reader, regress_erasure_deleter;
GRANT SELECT ON er.customers, er.orders, er.cv TO regress_erasure_reader, regress_erasure_deleter;
GRANT DELETE ON er.customers, er.orders TO regress_erasure_deleter;
SET ROLE regress_erasure_reader;
SELECT * FROM clm.forget_customer('er.customers', 'erase-me-7f3a');
\echo sqlstate :SQLSTATE
SELECT clm.purge_history('er.customers', '1 year');
\echo sqlstate :SQLSTATE
-- nor may it write clm's tables itself
DELETE FROM clm.stage_history WHERE customer_key = 'erase-me-7f3a';
\echo sqlstate :SQLSTATE
RESET ROLE;

-- a role that may delete only some customers (row-level security): once
-- the row is gone, which ones cannot be told, so it may erase none
ALTER TABLE er.customers ENABLE ROW LEVEL SECURITY;
CREATE POLICY mine ON er.customers TO regress_erasure_deleter USING (id LIKE 'c1%');
SET ROLE regress_erasure_deleter;
SELECT * FROM clm.forget_customer('er.customers', 'erase-me-7f3a');
\echo sqlstate :SQLSTATE
SELECT clm.purge_history('er.customers', '1 year');
\echo sqlstate :SQLSTATE
RESET ROLE;
DROP POLICY mine ON er.customers;
ALTER TABLE er.customers DISABLE ROW LEVEL SECURITY;
SELECT count(*) = (SELECT history FROM er.before) AS history_kept
FROM clm.stage_history WHERE customer_key = 'erase-me-7f3a';

-- a role that may delete the customer, but does not own the customer view
-- that shows it: the refresh is refused and nothing is removed
SET ROLE regress_erasure_deleter;
BEGIN;
DELETE FROM er.orders WHERE customer_id = 'erase-me-7f3a';
DELETE FROM er.customers WHERE id = 'erase-me-7f3a';
SELECT * FROM clm.forget_customer('er.customers', 'erase-me-7f3a');
\echo sqlstate :SQLSTATE
ROLLBACK;
RESET ROLE;

-- the orders still there (their foreign key checked at commit): the
-- customer view shows it again after its refresh, and nothing is removed
BEGIN;
ALTER TABLE er.orders ALTER CONSTRAINT orders_customer_id_fkey DEFERRABLE INITIALLY DEFERRED;
DELETE FROM er.customers WHERE id = 'erase-me-7f3a';
SELECT * FROM clm.forget_customer('er.customers', 'erase-me-7f3a');
\echo sqlstate :SQLSTATE
ROLLBACK;
SELECT count(*) = (SELECT history FROM er.before) AS history_kept
FROM clm.stage_history WHERE customer_key = 'erase-me-7f3a';

-- without the foreign key, the clm.stage_on_order trigger naming the
-- customers table links the view to it: the orders deleted, the view is
-- refreshed and no longer shows the customer
BEGIN;
ALTER TABLE er.orders DROP CONSTRAINT orders_customer_id_fkey;
DELETE FROM er.orders WHERE customer_id = 'erase-me-7f3a';
DELETE FROM er.customers WHERE id = 'erase-me-7f3a';
SELECT * FROM clm.forget_customer('er.customers', 'erase-me-7f3a');
SELECT count(*) AS still_in_view FROM er.cv WHERE customer_key = 'erase-me-7f3a';
ROLLBACK;
-- linked neither way, the view is not searched (the key could be another
-- table's customer there): it shows the customer until its next refresh
BEGIN;
ALTER TABLE er.orders DROP CONSTRAINT orders_customer_id_fkey;
DROP TRIGGER stage_on_order ON er.orders;
DELETE FROM er.orders WHERE customer_id = 'erase-me-7f3a';
DELETE FROM er.customers WHERE id = 'erase-me-7f3a';
SELECT * FROM clm.forget_customer('er.customers', 'erase-me-7f3a');
SELECT count(*) AS still_in_view FROM er.cv WHERE customer_key = 'erase-me-7f3a';
ROLLBACK;

-- the erasure: the customer's rows first, then what clm keeps
BEGIN;
DELETE FROM er.orders WHERE customer_id = 'erase-me-7f3a';
DELETE FROM er.customers WHERE id = 'erase-me-7f3a';
SELECT what, removed = (SELECT history FROM er.before) AS as_many_as_history, removed > 0 AS removed_some
FROM clm.forget_customer('er.customers', 'erase-me-7f3a');
COMMIT;

-- no table or materialized view of clm, and no customer view, holds the key
CREATE FUNCTION er.holding(key text) RETURNS TABLE (relation text, rows bigint)
LANGUAGE plpgsql AS $$
DECLARE
    r regclass;
BEGIN
    FOR r IN
        SELECT c.oid FROM pg_class c
         WHERE (c.relnamespace = 'clm'::regnamespace AND c.relkind IN ('r', 'm'))
            OR c.oid IN (SELECT format('%I.%I', v.view_schema, v.view_name)::regclass FROM clm.customer_view v)
    LOOP
        relation := r::text;
        EXECUTE format('SELECT count(*) FROM %s AS t WHERE strpos(t::text, $1) > 0', r) INTO rows USING key;
        RETURN NEXT;
    END LOOP;
END $$;
SELECT count(*) AS relations_searched, sum(rows) AS rows_holding_the_key FROM er.holding('erase-me-7f3a');
-- the search finds other customers' keys, so it would find this one
SELECT sum(rows) > 0 AS finds_another_key FROM er.holding('c13');

-- the other customers are untouched
SELECT (SELECT count(*) FROM clm.stage_history WHERE relation = 'er.customers'::regclass) = b.others_history AS others_history,
       (SELECT count(*) FROM clm.campaign_member) = b.others_members AS others_members,
       (SELECT count(*) FROM clm.stage_event) = b.others_events AS others_events,
       (SELECT count(*) FROM er.cv) = b.others_in_view AS others_in_view,
       (SELECT md5(string_agg(h::text, ',' ORDER BY h.id)) FROM clm.stage_history AS h) = b.others_digest AS history_unchanged
FROM er.before AS b;

-- erasing again removes nothing
SELECT * FROM clm.forget_customer('er.customers', 'erase-me-7f3a');

-- bad input
SELECT * FROM clm.forget_customer(NULL, 'x');
\echo sqlstate :SQLSTATE
SELECT * FROM clm.forget_customer('er.customers', NULL);
\echo sqlstate :SQLSTATE
SELECT * FROM clm.forget_customer('er.cv', 'x');
\echo sqlstate :SQLSTATE
SELECT * FROM clm.forget_customer(99999999::oid::regclass, 'x');
\echo sqlstate :SQLSTATE

-- a key of another spelling: read as the key column's type ('007' is
-- customer 7 of an integer key), in the history and in the customer view
CREATE TABLE er.icust (id int PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON er.icust
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
CREATE TABLE er.iorders (customer_id int REFERENCES er.icust, ordered_at timestamptz, amount numeric);
CREATE TRIGGER stage_on_order AFTER INSERT ON er.iorders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('icust', 'customer_id', 'status', 'ordered_at');
INSERT INTO er.icust SELECT i, 'prospect', '2025-01-01' FROM generate_series(1, 9) i;
INSERT INTO er.iorders SELECT i, timestamptz '2025-02-01' + k * interval '20 days', 10
FROM generate_series(1, 9) i, generate_series(1, 2) k;
SELECT clm.create_customer_view('er.icv', 'er.iorders', 'customer_id', 'ordered_at', 'amount', as_of => '2025-12-01');
BEGIN;
DELETE FROM er.iorders WHERE customer_id = 7;
DELETE FROM er.icust WHERE id = 7;
SELECT * FROM clm.forget_customer('er.icust', '007');
COMMIT;
SELECT (SELECT count(*) FROM clm.stage_history WHERE relation = 'er.icust'::regclass AND customer_key = '7') AS history_of_7,
       (SELECT count(*) FROM clm.stage_history WHERE relation = 'er.icust'::regclass) AS history_of_others,
       (SELECT count(*) FROM er.icv WHERE customer_key = 7) AS in_view,
       (SELECT count(*) FROM er.icv) AS others_in_view;
-- not a key of that type: an error, not nothing to erase
SELECT * FROM clm.forget_customer('er.icust', 'seven');
\echo sqlstate :SQLSTATE

-- the customers tables an orders relation's triggers name, resolved as
-- the triggers do (an unqualified name in the orders' schema, whatever the
-- search_path); names of no table, and other triggers, count for nothing
CREATE TABLE er.stray (customer_id int, ordered_at timestamptz, status clm.lifecycle_stage);
CREATE TRIGGER a AFTER INSERT ON er.stray
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('er.nosuch', 'customer_id', 'status', 'ordered_at');
CREATE TRIGGER b AFTER INSERT ON er.stray
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('not"valid', 'customer_id', 'status', 'ordered_at');
CREATE TRIGGER c BEFORE INSERT ON er.stray
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'customer_id');
SELECT clm._orders_customers('er.orders') AS orders, clm._orders_customers('er.iorders') AS iorders,
       clm._orders_customers('er.stray') AS stray, clm._orders_customers('er.customers') AS customers,
       clm._orders_customers(NULL) AS null_relation;
-- nor, without an error, an empty name, another database's table, or a
-- table in a schema the role may not use (then shown only to those who may)
CREATE TRIGGER d AFTER INSERT ON er.stray
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('', 'customer_id', 'status', 'ordered_at');
CREATE TRIGGER e AFTER INSERT ON er.stray
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('otherdb.er.icust', 'customer_id', 'status', 'ordered_at');
CREATE SCHEMA er_hidden;
CREATE TABLE er_hidden.customers (id int PRIMARY KEY);
CREATE TRIGGER f AFTER INSERT ON er.stray
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('er_hidden.customers', 'customer_id', 'status', 'ordered_at');
SELECT clm._orders_customers('er.stray') AS as_owner;
-- a relation that no longer exists has none
SELECT clm._orders_customers(99999999::oid::regclass) AS dropped;
SET ROLE regress_erasure_reader;
SELECT clm._orders_customers('er.stray') AS without_usage;
RESET ROLE;
DROP SCHEMA er_hidden CASCADE;

-- a table whose guard records customers by another column than its
-- primary key: the customer is looked up, and its key spelled, by that
-- column ('0042' is not customer '42', whose id is 42)
CREATE TABLE er.coded (id int PRIMARY KEY, code text UNIQUE NOT NULL, status clm.lifecycle_stage);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON er.coded
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'code');
INSERT INTO er.coded VALUES (7, '42', 'prospect'), (42, '0042', 'prospect');
UPDATE er.coded SET status = 'lead';
DELETE FROM er.coded WHERE code = '0042';
-- '42' is still there (as code; no id 42 any more)
SELECT * FROM clm.forget_customer('er.coded', '42');
\echo sqlstate :SQLSTATE
SELECT * FROM clm.forget_customer('er.coded', '0042');
SELECT customer_key, count(*) AS history FROM clm.stage_history
WHERE relation = 'er.coded'::regclass GROUP BY 1 ORDER BY 1;

-- a case-insensitive key (citext): customer 'Ann' is still there when
-- asked for as 'ANN', as the guard and the triggers compare keys; once
-- gone, the spelling the table had erases it, also from the customer view,
-- which shows her as her orders spell her ('ann')
CREATE EXTENSION citext;
CREATE TABLE er.ci (id citext PRIMARY KEY, status clm.lifecycle_stage);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON er.ci
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
CREATE TABLE er.ci_orders (customer_id citext REFERENCES er.ci, ordered_at timestamptz, amount numeric);
INSERT INTO er.ci VALUES ('Ann', 'prospect'), ('Bob', 'prospect');
INSERT INTO er.ci_orders VALUES ('ann', '2025-03-01', 10), ('Bob', '2025-03-02', 20);
SELECT clm.create_customer_view('er.civ', 'er.ci_orders', 'customer_id', 'ordered_at', 'amount', as_of => '2025-12-01');
SELECT * FROM clm.forget_customer('er.ci', 'ANN');
\echo sqlstate :SQLSTATE
DELETE FROM er.ci_orders WHERE customer_id = 'Ann';
DELETE FROM er.ci WHERE id = 'Ann';
SELECT * FROM clm.forget_customer('er.ci', 'Ann');
SELECT customer_key FROM er.civ ORDER BY 1;
SELECT clm.drop_customer_view('er.civ');
DROP TABLE er.ci_orders, er.ci;
DROP EXTENSION citext;

-- guards that record customers by different columns: the key is taken as
-- given, and not looked up (by which column?)
CREATE TABLE er.two (id int PRIMARY KEY, code text, status clm.lifecycle_stage, status2 clm.lifecycle_stage);
CREATE TRIGGER g1 BEFORE INSERT OR UPDATE ON er.two
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
CREATE TRIGGER g2 BEFORE INSERT OR UPDATE ON er.two
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status2', 'code');
INSERT INTO er.two VALUES (1, 'ABC', 'prospect', 'prospect');
DELETE FROM er.two;
SELECT * FROM clm.forget_customer('er.two', 'ABC');
SELECT customer_key FROM clm.stage_history WHERE relation = 'er.two'::regclass;

-- retention: changes before now() - older_than go, but each customer's
-- latest stays
CREATE TABLE er.old (id int PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON er.old
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
INSERT INTO er.old VALUES (1, 'prospect', '2019-01-01'), (2, 'prospect', '2019-01-01');
UPDATE er.old SET status = 'lead', since = '2020-01-01';
UPDATE er.old SET status = 'first_purchase', since = '2021-01-01' WHERE id = 1;
UPDATE er.old SET status = 'repeat', since = now() - interval '1 day' WHERE id = 1;
SELECT customer_key, to_stage, changed_at < now() - interval '1 year' AS older
FROM clm.stage_history WHERE relation = 'er.old'::regclass ORDER BY customer_key, id;
SELECT clm.purge_history('er.old', '1 year') AS removed;
SELECT customer_key, to_stage FROM clm.stage_history WHERE relation = 'er.old'::regclass ORDER BY customer_key, id;
-- the other table's history is untouched
SELECT count(*) = (SELECT others_history FROM er.before) AS untouched
FROM clm.stage_history WHERE relation = 'er.customers'::regclass;
SELECT clm.purge_history('er.old', '1 year') AS removed_again;
-- the feed's events of the table go by when they were recorded, delivered
-- or not; a partition stands for its partitioned table
CREATE TABLE er.pcust (id int PRIMARY KEY, status clm.lifecycle_stage, since timestamptz) PARTITION BY RANGE (id);
CREATE TABLE er.pcust_1 PARTITION OF er.pcust FOR VALUES FROM (1) TO (100);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON er.pcust
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
INSERT INTO er.pcust VALUES (1, 'prospect', '2019-01-01'), (2, 'prospect', '2019-01-01');
UPDATE er.pcust SET status = 'lead', since = '2020-01-01';
UPDATE clm.stage_event SET recorded_at = now() - interval '2 years'
WHERE relation = 'er.pcust'::regclass AND to_stage = 'prospect';
SELECT to_stage, count(*) AS events, bool_and(recorded_at < now() - interval '1 year') AS older
FROM clm.stage_event WHERE relation = 'er.pcust'::regclass GROUP BY to_stage ORDER BY to_stage;
SELECT clm.purge_history('er.pcust_1', '1 year') AS removed;
SELECT to_stage, count(*) AS events FROM clm.stage_event
WHERE relation = 'er.pcust'::regclass GROUP BY to_stage ORDER BY to_stage;
SELECT to_stage, count(*) AS changes FROM clm.stage_history
WHERE relation = 'er.pcust'::regclass GROUP BY to_stage ORDER BY to_stage;
SELECT clm.purge_history('er.old', '0 days');
\echo sqlstate :SQLSTATE
SELECT clm.purge_history('er.old', '-1 year');
\echo sqlstate :SQLSTATE
SELECT clm.purge_history('er.old', NULL);
\echo sqlstate :SQLSTATE
SELECT clm.purge_history(NULL, '1 year');
\echo sqlstate :SQLSTATE

-- the helper that reaches Citus workers runs nothing without Citus (nor
-- for NULLs), whoever calls it: it runs the command as the caller
SELECT count(*) AS ran FROM clm._run_on_citus_workers('er.customers', 'SELECT 1');
SELECT count(*) AS ran FROM clm._run_on_citus_workers(NULL, 'SELECT 1');
SELECT count(*) AS ran FROM clm._run_on_citus_workers('er.customers', NULL);
SET ROLE regress_erasure_reader;
SELECT count(*) AS ran FROM clm._run_on_citus_workers('er.customers', 'DELETE FROM er.customers');
RESET ROLE;

DROP FUNCTION er.holding(text);
SELECT clm.feed_unsubscribe('er_feed');
SELECT clm.feed_purge() > 0 AS purged;
SELECT clm.drop_customer_view('er.cv');
SELECT clm.drop_customer_view('er.icv');
DELETE FROM clm.campaign WHERE name = 'er_winback';
REVOKE ALL ON SCHEMA er FROM regress_erasure_reader, regress_erasure_deleter;
REVOKE ALL ON er.customers, er.orders FROM regress_erasure_reader, regress_erasure_deleter;
DROP ROLE regress_erasure_reader, regress_erasure_deleter;
DROP SCHEMA er CASCADE;
