--
-- lifecycle_guard_definition: clm.stage_guard must be able to see every
-- stage change.  A stage, key or stage-entered-at column that is generated
-- is refused when the guard fires (BEFORE triggers run before generated
-- columns are computed); stage_on_order and refresh_stages refuse a guard
-- that would not fire for every change of the stage column.
--
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA gdef;
SET search_path = pg_catalog;

-- a generated stage column: the guard would see NULL on INSERT and the old
-- value on UPDATE, so the first insert is refused (42P17), naming the
-- table and the column
CREATE TABLE gdef.gen (id int PRIMARY KEY, orders int NOT NULL,
    status clm.lifecycle_stage GENERATED ALWAYS AS
        (CASE WHEN orders >= 2 THEN 'repeat'::clm.lifecycle_stage
              WHEN orders = 1 THEN 'first_purchase'::clm.lifecycle_stage
              ELSE 'prospect'::clm.lifecycle_stage END) STORED);
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON gdef.gen
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
INSERT INTO gdef.gen (id, orders) VALUES (1, 0);
\echo :LAST_ERROR_SQLSTATE
-- a generated key or stage-entered-at column likewise
CREATE TABLE gdef.genkey (n int, id int GENERATED ALWAYS AS (n * 10) STORED,
                          status clm.lifecycle_stage);
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON gdef.genkey
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
INSERT INTO gdef.genkey (n, status) VALUES (1, 'prospect');
CREATE TABLE gdef.gensince (id int PRIMARY KEY, status clm.lifecycle_stage,
                            since timestamptz GENERATED ALWAYS AS ('2025-01-01 00:00+00'::timestamptz) STORED);
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON gdef.gensince
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
INSERT INTO gdef.gensince (id, status) VALUES (1, 'prospect');
SELECT count(*) AS history_rows FROM clm.stage_history WHERE relation::text LIKE 'gdef.%';

-- stage_on_order insists on a guard that fires for every stage change
CREATE TABLE gdef.customers (id int PRIMARY KEY, name text, status clm.lifecycle_stage);
CREATE TABLE gdef.orders (customer_id int NOT NULL REFERENCES gdef.customers,
                          ordered_at timestamptz NOT NULL);
CREATE TRIGGER stage_on_order AFTER INSERT ON gdef.orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('gdef.customers', 'customer_id', 'status', 'ordered_at');
INSERT INTO gdef.customers VALUES (1, 'ann', 'prospect');

-- UPDATE OF another column: an update of the stage alone never fires it,
-- so the moves would go unchecked and unrecorded
CREATE TRIGGER guard BEFORE INSERT OR UPDATE OF name ON gdef.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
INSERT INTO gdef.orders VALUES (1, '2025-01-01');
\echo :LAST_ERROR_SQLSTATE
-- not on INSERT: first stages would go unrecorded
DROP TRIGGER guard ON gdef.customers;
CREATE TRIGGER guard BEFORE UPDATE ON gdef.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
INSERT INTO gdef.orders VALUES (1, '2025-01-01');
-- a WHEN condition may skip a change
DROP TRIGGER guard ON gdef.customers;
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON gdef.customers
    FOR EACH ROW WHEN (NEW.name <> 'vip') EXECUTE FUNCTION clm.stage_guard('status', 'id');
INSERT INTO gdef.orders VALUES (1, '2025-01-01');
-- disabled, or enabled for replicas only
DROP TRIGGER guard ON gdef.customers;
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON gdef.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
ALTER TABLE gdef.customers DISABLE TRIGGER guard;
INSERT INTO gdef.orders VALUES (1, '2025-01-01');
ALTER TABLE gdef.customers ENABLE REPLICA TRIGGER guard;
INSERT INTO gdef.orders VALUES (1, '2025-01-01');
-- refresh_stages makes the same check
SELECT clm.refresh_stages('gdef.customers', 'gdef.orders', 'id', 'status',
                          'customer_id', 'ordered_at', '2025-06-01');
-- an unfit guard next to a fit one does not matter
ALTER TABLE gdef.customers ENABLE ALWAYS TRIGGER guard;
CREATE TRIGGER guard_name_only BEFORE INSERT OR UPDATE OF name ON gdef.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
INSERT INTO gdef.orders VALUES (1, '2025-01-01');
SELECT status FROM gdef.customers;
-- UPDATE OF a column list that includes the stage column is enough
DROP TRIGGER guard ON gdef.customers;
DROP TRIGGER guard_name_only ON gdef.customers;
CREATE TRIGGER guard BEFORE INSERT OR UPDATE OF name, status ON gdef.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
INSERT INTO gdef.orders VALUES (1, '2025-02-01');
SELECT status FROM gdef.customers;
SELECT customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
WHERE relation = 'gdef.customers'::regclass ORDER BY id;

RESET search_path;
DELETE FROM clm.stage_history WHERE relation::text LIKE 'gdef.%';
DROP SCHEMA gdef CASCADE;
