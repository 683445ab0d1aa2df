--
-- lifecycle_trigger_names: how clm.stage_on_order finds its customers table.
--
-- The table is a trigger argument, a string.  It must mean the same table in
-- every session, whatever that session's search_path: a qualified name is
-- taken as written, an unqualified one is looked up in the orders table's
-- own schema.
--
\set VERBOSITY default
CREATE SCHEMA tn_shop;
CREATE SCHEMA tn_other;
CREATE TABLE tn_shop.customers (id integer PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TABLE tn_other.customers (id integer PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TRIGGER g BEFORE INSERT OR UPDATE ON tn_shop.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
CREATE TRIGGER g BEFORE INSERT OR UPDATE ON tn_other.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
CREATE TABLE tn_shop.orders (customer_id integer, ordered_at timestamptz, amount numeric);
CREATE TRIGGER o AFTER INSERT ON tn_shop.orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('customers', 'customer_id', 'status', 'ordered_at');
INSERT INTO tn_shop.customers VALUES (1, 'prospect', '2025-12-01');
INSERT INTO tn_other.customers VALUES (1, 'prospect', '2025-12-01');

-- a session whose search_path finds another "customers" first still moves
-- the customer of tn_shop.customers, the orders table's schema
SET search_path = tn_other, public;
INSERT INTO tn_shop.orders VALUES (1, '2026-01-05 10:00+00', 25);
RESET search_path;
SELECT 'tn_shop' AS customers_table, status FROM tn_shop.customers
UNION ALL
SELECT 'tn_other', status FROM tn_other.customers
ORDER BY 1;

-- an unqualified name that exists only on the search_path, not in the
-- orders table's schema, is not found
CREATE TABLE tn_other.buyers (id integer PRIMARY KEY, status clm.lifecycle_stage);
CREATE TABLE tn_shop.orders2 (customer_id integer, ordered_at timestamptz);
CREATE TRIGGER o AFTER INSERT ON tn_shop.orders2
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('buyers', 'customer_id', 'status', 'ordered_at');
SET search_path = tn_other, public;
INSERT INTO tn_shop.orders2 VALUES (1, '2026-01-05 10:00+00');
RESET search_path;

-- a qualified name is taken as written
DROP TRIGGER o ON tn_shop.orders2;
CREATE TRIGGER o AFTER INSERT ON tn_shop.orders2
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('tn_other.customers', 'customer_id', 'status', 'ordered_at');
INSERT INTO tn_shop.orders2 VALUES (1, '2026-01-06 10:00+00');
SELECT status FROM tn_other.customers WHERE id = 1;

DELETE FROM clm.stage_history WHERE relation::text LIKE 'tn\_%';
DROP SCHEMA tn_shop CASCADE;
DROP SCHEMA tn_other CASCADE;
