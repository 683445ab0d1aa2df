--
-- lifecycle_key_equality: customer keys are compared with their type's own
-- equality operator.  citext keys are equal regardless of case (so is the
-- foreign key from the orders); pg_catalog's text equality is not.
--
SET timezone = 'UTC';
CREATE EXTENSION citext;
CREATE SCHEMA ke;
CREATE DOMAIN ke.code AS citext CHECK (VALUE <> '');
CREATE DOMAIN ke.label AS text CHECK (VALUE <> '');

-- citext keys: the order for 'ANN' is the customer 'ann's, as for the
-- foreign key that accepted it
CREATE TABLE ke.customers (id citext PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TABLE ke.orders (customer_id citext NOT NULL REFERENCES ke.customers,
                        ordered_at timestamptz NOT NULL);
CREATE INDEX ON ke.orders (customer_id, ordered_at);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON ke.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
CREATE TRIGGER stage_on_order AFTER INSERT ON ke.orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('ke.customers', 'customer_id', 'status', 'ordered_at');
INSERT INTO ke.customers VALUES ('ann', 'prospect', '2025-01-01'), ('Bob', 'prospect', '2025-01-01');
INSERT INTO ke.orders VALUES ('ANN', '2025-02-01'), ('ann', '2025-03-01'), ('bob', '2025-02-01');
SELECT id, status, since FROM ke.customers ORDER BY id;
-- refresh_stages finds them by key too (as of 2026-01-01 both have lapsed)
SELECT clm.refresh_stages('ke.customers', 'ke.orders', 'id', 'status', 'customer_id',
                          'ordered_at', as_of => '2026-01-01') AS moved;
SELECT id, status, since FROM ke.customers ORDER BY id;
-- an upsert of an existing key in another case conflicts: no history
INSERT INTO ke.customers VALUES ('ANN', 'lead', '2025-01-01') ON CONFLICT DO NOTHING;
-- the history names the customer as the customers table spells the key
SELECT customer_key, from_stage, to_stage, changed_at
FROM clm.stage_history WHERE relation = 'ke.customers'::regclass ORDER BY customer_key, changed_at;

-- domains: over citext (its equality), over text (text's), and the orders
-- without an index on (customer, time) (the other way of reading them)
CREATE TABLE ke.code_customers (id ke.code PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TABLE ke.code_orders (customer_id ke.code NOT NULL REFERENCES ke.code_customers, ordered_at timestamptz NOT NULL);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON ke.code_customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
CREATE TRIGGER stage_on_order AFTER INSERT ON ke.code_orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('ke.code_customers', 'customer_id', 'status', 'ordered_at');
CREATE TABLE ke.label_customers (id ke.label PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TABLE ke.label_orders (customer_id ke.label NOT NULL REFERENCES ke.label_customers, ordered_at timestamptz NOT NULL);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON ke.label_customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
CREATE TRIGGER stage_on_order AFTER INSERT ON ke.label_orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('ke.label_customers', 'customer_id', 'status', 'ordered_at');
INSERT INTO ke.code_customers VALUES ('cy', 'prospect', '2025-01-01');
INSERT INTO ke.label_customers VALUES ('dee', 'prospect', '2025-01-01'), ('DEE', 'prospect', '2025-01-01');
INSERT INTO ke.code_orders VALUES ('CY', '2025-02-01'), ('Cy', '2025-03-01');
INSERT INTO ke.label_orders VALUES ('DEE', '2025-02-01');
SELECT id, status, since FROM ke.code_customers;
SELECT id, status, since FROM ke.label_customers ORDER BY id COLLATE "C";
SELECT clm.refresh_stages('ke.code_customers', 'ke.code_orders', 'id', 'status', 'customer_id',
                          'ordered_at', as_of => '2026-01-01') AS moved;
SELECT clm.refresh_stages('ke.label_customers', 'ke.label_orders', 'id', 'status', 'customer_id',
                          'ordered_at', as_of => '2026-01-01') AS moved;
INSERT INTO ke.code_customers VALUES ('CY', 'lead', '2025-01-01') ON CONFLICT DO NOTHING;
SELECT relation, customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
WHERE relation IN ('ke.code_customers', 'ke.label_customers') ORDER BY relation, customer_key COLLATE "C", changed_at;

-- a key type without an equality operator is an error, not a guess
CREATE TABLE ke.pc (id int PRIMARY KEY, spot point, status clm.lifecycle_stage);
CREATE TABLE ke.po (spot point, ordered_at timestamptz);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON ke.pc
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
CREATE TRIGGER stage_on_order AFTER INSERT ON ke.po
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('ke.pc', 'spot', 'status', 'ordered_at', 'default', 'spot');
INSERT INTO ke.pc VALUES (1, '(1,1)', 'prospect');
INSERT INTO ke.po VALUES ('(1,1)', '2025-02-01');
SELECT clm.refresh_stages('ke.pc', 'ke.po', 'spot', 'status', 'spot',
                          'ordered_at', as_of => '2026-01-01') AS moved;

DELETE FROM clm.stage_history WHERE relation::text LIKE 'ke.%';
DROP SCHEMA ke CASCADE;
DROP EXTENSION citext;
