--
-- lifecycle_citus_shard_history: on Citus the guard fires on the shards
-- (tables <table>_<shard id> on the workers); the history and the guard's
-- errors name the distributed table, found through Citus's catalog
-- pg_dist_shard, and clm.distributed_stage_history reads every node's
-- history on the coordinator.  Citus is not installed here: its catalogs
-- and run_command_on_all_nodes are stood in for by tables and a function
-- of the same names and columns (the one node runs the command locally).
--
\set VERBOSITY default
SET timezone = 'UTC';

-- without Citus there is nothing to gather
SELECT * FROM clm.distributed_stage_history();

CREATE SCHEMA cs;
CREATE TABLE cs.customers (id int PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TABLE cs.customers_102008 (LIKE cs.customers INCLUDING ALL);
-- a table whose name looks like a shard's: no such shard id, or another table's
CREATE TABLE cs.customers_102009 (LIKE cs.customers INCLUDING ALL);
CREATE TABLE cs.other_102008 (LIKE cs.customers INCLUDING ALL);
-- a name too long for "_<shard id>" (62 bytes): Citus clips it and adds a hash of it
CREATE TABLE cs.customers_of_the_northern_region_with_a_much_longer_table_name (LIKE cs.customers INCLUDING ALL);
SELECT 'customers_of_the_northern_region_with_a_much_longer_table_name' AS long_name \gset
SELECT left(:'long_name', 47) || '_' || lpad(to_hex(hashtext(:'long_name')), 8, '0') || '_102010'
       AS long_shard \gset
CREATE TABLE cs.:"long_shard" (LIKE cs.customers INCLUDING ALL);
SELECT length(:'long_name') AS name_length, length(:'long_shard') AS shard_name_length;

SET allow_system_table_mods = on;
CREATE TABLE pg_catalog.pg_dist_partition (logicalrelid regclass NOT NULL);
CREATE TABLE pg_catalog.pg_dist_shard (logicalrelid regclass NOT NULL, shardid bigint NOT NULL);
RESET allow_system_table_mods;
INSERT INTO pg_catalog.pg_dist_partition VALUES ('cs.customers'), (('cs.' || :'long_name')::regclass);
INSERT INTO pg_catalog.pg_dist_shard VALUES ('cs.customers', 102008), (('cs.' || :'long_name')::regclass, 102010);
GRANT SELECT ON pg_catalog.pg_dist_partition, pg_catalog.pg_dist_shard TO PUBLIC;
CREATE FUNCTION pg_catalog.run_command_on_all_nodes(command text, OUT nodeid int, OUT success bool, OUT result text)
RETURNS SETOF record LANGUAGE plpgsql AS $$
BEGIN
    nodeid := 1;
    IF current_setting('cs.fail_node', true) = 'on' THEN
        success := false; result := 'ERROR:  connection to the remote node refused';
    ELSE
        success := true;
        EXECUTE command INTO result;
    END IF;
    RETURN NEXT;
END $$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['customers_102008', 'customers_102009', 'other_102008',
                             (SELECT c.relname FROM pg_class c WHERE c.relname LIKE 'customers_of_the_northern_region_%102010')]
    LOOP
        EXECUTE format('CREATE TRIGGER g BEFORE INSERT OR UPDATE ON cs.%I FOR EACH ROW '
                       'EXECUTE FUNCTION clm.stage_guard(''status'', ''id'', ''since'')', t);
        EXECUTE format('INSERT INTO cs.%I VALUES (1, ''prospect'', ''2026-01-01''), (2, ''lead'', ''2026-01-02'')', t);
        EXECUTE format('UPDATE cs.%I SET status = ''first_purchase'', since = ''2026-02-01'' WHERE id = 1', t);
    END LOOP;
END $$;

-- each shard's history under its distributed table; the look-alikes under their own names
SELECT relation, customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
WHERE relation::text LIKE 'cs.%' ORDER BY relation::text, id;

-- the guard's errors name the distributed table, not the shard
UPDATE cs.customers_102008 SET status = 'churned' WHERE id = 2;
UPDATE cs.customers_102008 SET status = NULL WHERE id = 1;
UPDATE cs.customers_102009 SET status = 'churned' WHERE id = 2;

-- on the coordinator: every node's history of a distributed table, with
-- the table resolved there; filtered by table and by customer on the node
SELECT nodeid, relation, customer_key, from_stage, to_stage, changed_at
FROM clm.distributed_stage_history('cs.customers') ORDER BY id;
SELECT nodeid, relation, customer_key, to_stage
FROM clm.distributed_stage_history('cs.customers', '1') ORDER BY id;
-- without a table: the history of every Citus table (not the look-alikes)
SELECT relation, count(*) FROM clm.distributed_stage_history()
WHERE relation = 'cs.customers'::regclass OR relation::text LIKE 'cs.customers_of_%'
GROUP BY relation ORDER BY relation::text;
SELECT count(*) AS rows_of_other_tables FROM clm.distributed_stage_history()
WHERE relation IS DISTINCT FROM 'cs.customers'::regclass AND relation::text NOT LIKE 'cs.customers_of_%';

-- a table that is not distributed, and a node that fails
SELECT * FROM clm.distributed_stage_history('cs.customers_102009');
SET cs.fail_node = on;
SELECT * FROM clm.distributed_stage_history('cs.customers');
RESET cs.fail_node;

-- each node's query runs as the calling role, under the history's read
-- policy: a role that may not read the customers sees none of their history
CREATE ROLE cs_reader;
GRANT USAGE ON SCHEMA cs TO cs_reader;
SET ROLE cs_reader;
SELECT count(*) AS seen_without_select FROM clm.distributed_stage_history('cs.customers');
RESET ROLE;
GRANT SELECT ON cs.customers TO cs_reader;
SET ROLE cs_reader;
SELECT count(*) AS seen_with_select FROM clm.distributed_stage_history('cs.customers');
RESET ROLE;

-- a look-alike of a registered shard made by another role (here, where the
-- real shard does not live): its history stays under its own name
CREATE ROLE cs_mallory;
GRANT CREATE, USAGE ON SCHEMA cs TO cs_mallory;
CREATE TABLE cs.accounts (id int PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
INSERT INTO pg_catalog.pg_dist_shard VALUES ('cs.accounts', 102020);
SET ROLE cs_mallory;
CREATE TABLE cs.accounts_102020 (id int PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TRIGGER g BEFORE INSERT OR UPDATE ON cs.accounts_102020 FOR EACH ROW
    EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
INSERT INTO cs.accounts_102020 VALUES (1, 'prospect', '2025-01-01');
RESET ROLE;
SELECT relation, customer_key, to_stage, changed_by FROM clm.stage_history
WHERE relation IN ('cs.accounts'::regclass, 'cs.accounts_102020'::regclass) ORDER BY id;
DROP TABLE cs.accounts_102020;

-- a shard registered after the guard first fired on it: the next change
-- goes under the table (a "not a shard" answer is not kept)
CREATE TABLE cs.late (id int PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TABLE cs.late_555 (LIKE cs.late INCLUDING ALL);
CREATE TRIGGER g BEFORE INSERT OR UPDATE ON cs.late_555 FOR EACH ROW
    EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
INSERT INTO cs.late_555 VALUES (1, 'prospect', '2025-01-01');
INSERT INTO pg_catalog.pg_dist_shard VALUES ('cs.late', 555);
INSERT INTO cs.late_555 VALUES (2, 'prospect', '2025-01-01');
SELECT relation, customer_key FROM clm.stage_history
WHERE relation IN ('cs.late'::regclass, 'cs.late_555'::regclass) ORDER BY id;

DROP FUNCTION pg_catalog.run_command_on_all_nodes(text);
SET allow_system_table_mods = on;
DROP TABLE pg_catalog.pg_dist_shard, pg_catalog.pg_dist_partition;
RESET allow_system_table_mods;
DELETE FROM clm.stage_history WHERE relation IN ('cs.accounts'::regclass, 'cs.late'::regclass, 'cs.late_555'::regclass);
DROP SCHEMA cs CASCADE;
DROP ROLE cs_reader;
DROP ROLE cs_mallory;
