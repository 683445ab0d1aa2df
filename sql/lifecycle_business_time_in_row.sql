--
-- lifecycle_business_time_in_row: where the business time goes.
-- clm.stage_on_order and clm.refresh_stages hand the order time / as_of to
-- the guard in backend memory.  On Citus, where the guard fires on a shard
-- in another backend, their UPDATE also writes it into the guard's
-- stage-entered-at column, never earlier than the value there, so that the
-- time travels with the row.  Anywhere else the UPDATE sets the stage
-- alone: a role allowed to update only the stage column can still order
-- and refresh, and UPDATE OF triggers on the since column stay quiet.
-- A BEFORE UPDATE trigger that fires before the guard shows what the
-- statement wrote into the row.
--
SET timezone = 'UTC';
CREATE ROLE clerk_br;
CREATE SCHEMA br;
GRANT USAGE ON SCHEMA br TO clerk_br;
CREATE TABLE br.customers (id int PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TABLE br.orders (customer_id int NOT NULL, ordered_at timestamptz NOT NULL);
CREATE TABLE br.seen (id int, old_since timestamptz, new_since timestamptz, new_status clm.lifecycle_stage);
CREATE FUNCTION br.probe() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    INSERT INTO br.seen VALUES (NEW.id, OLD.since, NEW.since, NEW.status);
    RETURN NEW;
END $$;
-- triggers fire in name order: the probe sees the row as the statement wrote it
CREATE TRIGGER a_probe BEFORE UPDATE ON br.customers FOR EACH ROW EXECUTE FUNCTION br.probe();
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON br.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
CREATE TRIGGER stage_on_order AFTER INSERT ON br.orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('br.customers', 'customer_id', 'status', 'ordered_at');
GRANT SELECT, INSERT ON br.orders TO clerk_br;
GRANT SELECT, UPDATE (status) ON br.customers TO clerk_br;

-- ---------------------------------------------------------------------
-- without Citus: the statement sets the stage alone; the guard dates the
-- change by the time handed over; a role that may update only the stage
-- column orders and refreshes
-- ---------------------------------------------------------------------
INSERT INTO br.customers VALUES (1, 'lead', '2025-01-01'), (2, 'lead', '2025-01-01'),
                                (3, 'repeat', '2025-06-15'), (4, 'repeat', '2025-02-01');
INSERT INTO br.orders VALUES (3, '2025-01-01'), (3, '2025-02-01'), (4, '2025-01-01'), (4, '2025-02-01');
SET ROLE clerk_br;
INSERT INTO br.orders VALUES (1, '2025-02-01 08:00');
SELECT clm.refresh_stages('br.customers', 'br.orders', 'id', 'status', 'customer_id',
                          'ordered_at', as_of => '2025-06-10') AS moved;
RESET ROLE;
SELECT id, old_since = new_since AS since_untouched_by_statement, new_status FROM br.seen ORDER BY id, new_status;
SELECT id, status, since FROM br.customers ORDER BY id;
SELECT customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
WHERE relation = 'br.customers'::regclass AND from_stage IS NOT NULL ORDER BY customer_key, id;

-- ---------------------------------------------------------------------
-- with Citus's metadata catalog in the database (pg_dist_shard; a table of
-- that name and shape stands in for it here, since the suite has no
-- Citus): the statement writes the time into the row itself
-- ---------------------------------------------------------------------
SET allow_system_table_mods = on;
CREATE TABLE pg_catalog.pg_dist_shard (logicalrelid regclass NOT NULL, shardid bigint NOT NULL);
RESET allow_system_table_mods;
-- a new session: the triggers prepare their statements afresh
\c
SET timezone = 'UTC';
TRUNCATE br.seen;
DELETE FROM clm.stage_history WHERE relation = 'br.customers'::regclass;
ALTER TABLE br.customers DISABLE TRIGGER stage_guard;
DELETE FROM br.customers;
DELETE FROM br.orders;
INSERT INTO br.customers VALUES (1, 'lead', '2025-01-01'), (2, 'lead', '2025-01-01'),
                                (3, 'repeat', '2025-06-15'), (4, 'repeat', '2025-02-01');
ALTER TABLE br.customers ENABLE TRIGGER stage_guard;
-- an order moves customer 1: the statement writes the order time
INSERT INTO br.orders VALUES (1, '2025-02-01 08:00');
-- an order dated before customer 2's stage began (late): the stage-entered-at
-- value stays, and the guard dates the move when the stage began
UPDATE br.customers SET since = '2025-03-01' WHERE id = 2;
INSERT INTO br.orders VALUES (2, '2025-02-10 09:00');
SELECT id, old_since, new_since, new_status FROM br.seen WHERE new_status IS DISTINCT FROM 'lead' ORDER BY id;
TRUNCATE br.seen;
-- refresh_stages writes as_of (customer 4); customer 3's stage began after
-- as_of, so the value there stays (and the guard dates the lapse when it
-- began).  Both: gap 31 days, 129 days idle: dormant
INSERT INTO br.orders VALUES (3, '2025-01-01'), (3, '2025-02-01'), (4, '2025-01-01'), (4, '2025-02-01');
SELECT clm.refresh_stages('br.customers', 'br.orders', 'id', 'status', 'customer_id',
                          'ordered_at', as_of => '2025-06-10', lock_first => false) AS moved;
SELECT id, old_since, new_since, new_status FROM br.seen ORDER BY id;
SELECT id, status, since FROM br.customers ORDER BY id;
SELECT customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
WHERE relation = 'br.customers'::regclass AND from_stage IS NOT NULL ORDER BY customer_key, id;

SET allow_system_table_mods = on;
DROP TABLE pg_catalog.pg_dist_shard;
RESET allow_system_table_mods;
DELETE FROM clm.stage_history WHERE relation = 'br.customers'::regclass;
DROP SCHEMA br CASCADE;
DROP ROLE clerk_br;
