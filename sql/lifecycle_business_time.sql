--
-- lifecycle_business_time: the business time clm.stage_on_order (the order
-- time) and clm.refresh_stages (as_of) hand to clm.stage_guard for the
-- history's changed_at, through one hand-off: both are dated the same way,
-- never before the customer's current stage began, and an error inside
-- either leaves nothing behind for a later plain UPDATE.
--
SET timezone = 'UTC';
CREATE SCHEMA bt;
-- ok = false makes a stage change fail inside the statement that makes it
CREATE TABLE bt.customers (id int PRIMARY KEY, status clm.lifecycle_stage,
                           since timestamptz, ok boolean NOT NULL DEFAULT true);
CREATE TABLE bt.orders (customer_id int NOT NULL REFERENCES bt.customers,
                        ordered_at timestamptz NOT NULL);
CREATE INDEX ON bt.orders (customer_id, ordered_at);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON bt.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
CREATE TRIGGER stage_on_order AFTER INSERT ON bt.orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('bt.customers', 'customer_id', 'status', 'ordered_at');
CREATE FUNCTION bt.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT NEW.ok AND NEW.status IS DISTINCT FROM OLD.status THEN
        RAISE EXCEPTION 'customer % refuses to move to %', NEW.id, NEW.status;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse BEFORE UPDATE ON bt.customers FOR EACH ROW EXECUTE FUNCTION bt.refuse();
CREATE VIEW bt.history AS
    SELECT customer_key::int AS id, from_stage, to_stage, changed_at,
           changed_at = transaction_timestamp() AS at_now
    FROM clm.stage_history WHERE relation = 'bt.customers'::regclass;

INSERT INTO bt.customers (id, status, since) VALUES
    (1, 'prospect', '2025-01-01'), (2, 'prospect', '2025-01-01'), (3, 'prospect', '2025-01-01');

-- both paths: stage_on_order dates at the order's time, refresh_stages at
-- as_of (one order each, 212 days idle > 180: at_risk)
INSERT INTO bt.orders VALUES (1, '2025-02-01 08:00'), (2, '2025-02-01 09:00');
SELECT clm.refresh_stages('bt.customers', 'bt.orders', 'id', 'status', 'customer_id',
                          'ordered_at', as_of => '2025-09-01') AS moved;
SELECT id, from_stage, to_stage, changed_at FROM bt.history WHERE from_stage IS NOT NULL ORDER BY id, changed_at;
SELECT id, status, since FROM bt.customers ORDER BY id;

-- an error inside either statement, caught by a savepoint: a plain UPDATE
-- after it in the same transaction is dated by the transaction time
BEGIN;
UPDATE bt.customers SET ok = false WHERE id = 3;
DO $$
BEGIN
    INSERT INTO bt.orders VALUES (3, '2025-03-01');
EXCEPTION WHEN raise_exception THEN
    RAISE NOTICE 'stage_on_order failed: %', SQLERRM;
END $$;
UPDATE bt.customers SET status = 'dormant' WHERE id = 2;
SELECT id, from_stage, to_stage, at_now FROM bt.history WHERE id IN (2, 3) AND from_stage IS NOT NULL ORDER BY id, changed_at;
ROLLBACK;
BEGIN;
UPDATE bt.customers SET ok = false WHERE id = 1;
DO $$
BEGIN
    PERFORM clm.refresh_stages('bt.customers', 'bt.orders', 'id', 'status', 'customer_id',
                               'ordered_at', as_of => '2026-12-01');
EXCEPTION WHEN raise_exception THEN
    RAISE NOTICE 'refresh_stages failed: %', SQLERRM;
END $$;
UPDATE bt.customers SET status = 'lead' WHERE id = 3;
SELECT id, from_stage, to_stage, at_now FROM bt.history WHERE id = 3 AND from_stage IS NOT NULL;
ROLLBACK;

-- a move is dated no earlier than the current stage began, by either path.
-- 4 buys once and is made loyal by hand at 10:00 on 2026-03-01; a refresh
-- as of midnight that day finds him lapsed: the lapse is dated 10:00, when
-- the stage it ends began (1 and 2, at_risk since 2025-09-01, go deeper at
-- as_of itself)
INSERT INTO bt.customers (id, status, since) VALUES (4, 'prospect', '2025-01-01');
INSERT INTO bt.orders VALUES (4, '2025-02-01');
UPDATE bt.customers SET status = 'loyal', since = '2026-03-01 10:00' WHERE id = 4;
SELECT clm.refresh_stages('bt.customers', 'bt.orders', 'id', 'status', 'customer_id',
                          'ordered_at', as_of => '2026-03-01') AS moved;
-- 3 is made a lead by hand on 2025-06-01; an order dated 2025-03-01
-- arrives later and makes him a first_purchase customer, dated 2025-06-01
UPDATE bt.customers SET status = 'lead', since = '2025-06-01' WHERE id = 3;
INSERT INTO bt.orders VALUES (3, '2025-03-01');
SELECT id, from_stage, to_stage, changed_at FROM bt.history ORDER BY id, changed_at, to_stage;
SELECT id, status, since FROM bt.customers ORDER BY id;

-- without a stage-entered-at column the guard finds when the stage began in
-- the history: the same rule
CREATE TABLE bt.plain (id int PRIMARY KEY, status clm.lifecycle_stage);
CREATE TABLE bt.plain_orders (customer_id int NOT NULL REFERENCES bt.plain,
                              ordered_at timestamptz NOT NULL);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON bt.plain
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
CREATE TRIGGER stage_on_order AFTER INSERT ON bt.plain_orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('bt.plain', 'customer_id', 'status', 'ordered_at');
-- (no stage-entered-at column: the first stage and the orders, older than
-- it, are dated at the transaction time; so is the move to loyal by hand)
INSERT INTO bt.plain VALUES (1, 'prospect');
INSERT INTO bt.plain_orders VALUES (1, '2025-01-01'), (1, '2025-02-01');
UPDATE bt.plain SET status = 'loyal';
SELECT clm.refresh_stages('bt.plain', 'bt.plain_orders', 'id', 'status', 'customer_id',
                          'ordered_at', as_of => '2025-12-01') AS moved;
SELECT from_stage, to_stage, changed_at > '2025-12-01' AS after_as_of,
       changed_at >= lag(changed_at) OVER (ORDER BY id) AS in_time_order
FROM clm.stage_history WHERE relation = 'bt.plain'::regclass ORDER BY id;

DELETE FROM clm.stage_history WHERE relation IN ('bt.customers'::regclass, 'bt.plain'::regclass);
DROP SCHEMA bt CASCADE;
