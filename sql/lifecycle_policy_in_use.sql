--
-- lifecycle_policy_in_use: clm.stage_on_order looks its policy up by name
-- for every order, so a policy that such a trigger names cannot be deleted,
-- renamed or truncated away (2BP01, naming the triggers): orders keep being
-- stored.  Its other columns can be changed; unused policies can go.
--
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA lpu;
INSERT INTO clm.lifecycle_policy (name) VALUES ('lpu_coffee'), ('lpu_spare'), ('lpu "odd"');
CREATE TABLE lpu.customers (id int PRIMARY KEY, status clm.lifecycle_stage);
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON lpu.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
CREATE TABLE lpu.orders (customer_id int NOT NULL, ordered_at timestamptz NOT NULL);
CREATE TRIGGER stage_on_order AFTER INSERT ON lpu.orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('lpu.customers', 'customer_id', 'status', 'ordered_at', 'lpu_coffee');
-- a partitioned orders table: its partitions carry clones of the trigger,
-- only the partitioned table's trigger is listed
CREATE TABLE lpu.web_orders (customer_id int NOT NULL, ordered_at timestamptz NOT NULL)
    PARTITION BY RANGE (ordered_at);
CREATE TABLE lpu.web_orders_2025 PARTITION OF lpu.web_orders
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TRIGGER "Stage on order" AFTER INSERT ON lpu.web_orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('lpu.customers', 'customer_id', 'status', 'ordered_at', 'lpu_coffee');
CREATE TRIGGER odd AFTER INSERT ON lpu.web_orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('lpu.customers', 'customer_id', 'status', 'ordered_at', 'lpu "odd"');
INSERT INTO lpu.customers VALUES (1, 'prospect');

-- deleting or renaming a policy in use: refused, the triggers are named
DELETE FROM clm.lifecycle_policy WHERE name = 'lpu_coffee';
\echo :LAST_ERROR_SQLSTATE
UPDATE clm.lifecycle_policy SET name = 'lpu_tea' WHERE name = 'lpu_coffee';
DELETE FROM clm.lifecycle_policy WHERE name = 'lpu "odd"';
-- so orders keep being stored and classified under it
INSERT INTO lpu.orders VALUES (1, '2025-01-01');
SELECT status FROM lpu.customers;
-- its other columns may change; an unused policy may be deleted
UPDATE clm.lifecycle_policy SET fallback_gap_days = 30 WHERE name = 'lpu_coffee';
UPDATE clm.lifecycle_policy SET name = 'lpu_spare2' WHERE name = 'lpu_spare';
DELETE FROM clm.lifecycle_policy WHERE name = 'lpu_spare2';
-- the default policy: still refused by its own protection first
DELETE FROM clm.lifecycle_policy WHERE name = 'default';
-- TRUNCATE would remove every policy
BEGIN;
TRUNCATE clm.lifecycle_policy;
ROLLBACK;
SELECT count(*) AS policies FROM clm.lifecycle_policy WHERE name LIKE 'lpu%' OR name = 'default';

-- once no trigger names it, the policy can go
DROP TRIGGER stage_on_order ON lpu.orders;
DROP TRIGGER "Stage on order" ON lpu.web_orders;
DELETE FROM clm.lifecycle_policy WHERE name = 'lpu_coffee' RETURNING name;
DROP TABLE lpu.web_orders;
DELETE FROM clm.lifecycle_policy WHERE name = 'lpu "odd"' RETURNING name;

-- a trigger naming a policy that does not exist is warned about when
-- created (every order would fail); the table is found through search_path
-- as CREATE TRIGGER found it
CREATE TRIGGER stage_on_order_typo AFTER INSERT ON lpu.orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('lpu.customers', 'customer_id', 'status', 'ordered_at', 'lpu_cofee');
DROP TRIGGER stage_on_order_typo ON lpu.orders;
SET search_path = lpu, public;
CREATE TRIGGER stage_on_order_default AFTER INSERT ON orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('lpu.customers', 'customer_id', 'status', 'ordered_at');
RESET search_path;
DROP TRIGGER stage_on_order_default ON lpu.orders;
-- other triggers pass
CREATE TRIGGER other AFTER INSERT ON lpu.orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('nope', 'nope', 'nope', 'nope', 'nope');
DROP TRIGGER other ON lpu.orders;

-- not for direct use
SELECT clm.lifecycle_policy_protect_in_use();
SELECT clm.lifecycle_policy_claim();

DELETE FROM clm.stage_history WHERE relation = 'lpu.customers'::regclass;
DROP SCHEMA lpu CASCADE;
