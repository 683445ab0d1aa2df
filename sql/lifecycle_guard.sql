--
-- lifecycle_guard: clm.stage_guard on tables not written for clm, with
-- bigint, uuid and text keys; rule enforcement, history, NULL stages,
-- business time, misuse.
--
\set VERBOSITY default
CREATE SCHEMA lg;
SET search_path = pg_catalog;

CREATE TABLE lg.cust (id bigint PRIMARY KEY, name text,
                      stage clm.lifecycle_stage, since timestamptz);
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON lg.cust
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('stage', 'id', 'since');

-- first stage: always allowed, recorded with from_stage NULL; since set to
-- the transaction time when the statement does not set it
BEGIN;
INSERT INTO lg.cust (id, name, stage) VALUES (1, 'ann', 'prospect'), (2, 'bob', NULL);
SELECT id, stage, since = transaction_timestamp() AS since_is_xact_time FROM lg.cust ORDER BY id;
SELECT relation, customer_key, from_stage, to_stage, changed_at = transaction_timestamp() AS at_xact,
       recorded_at = transaction_timestamp() AS rec_xact, changed_by = current_user AS by_me,
       txid = pg_current_xact_id() AS my_txid
FROM clm.stage_history WHERE relation = 'lg.cust'::regclass ORDER BY id;
COMMIT;

-- allowed moves are recorded, with the business time the statement gives
UPDATE lg.cust SET stage = 'first_purchase', since = '2025-01-10 12:00+00' WHERE id = 1;
UPDATE lg.cust SET stage = 'repeat', since = '2025-03-01 00:00+00' WHERE id = 1;
-- an update that leaves the stage alone records nothing and keeps since
UPDATE lg.cust SET name = 'ann b.' WHERE id = 1;
UPDATE lg.cust SET stage = 'repeat' WHERE id = 1;
SELECT id, name, stage, since FROM lg.cust WHERE id = 1;
SELECT customer_key, from_stage, to_stage,
       CASE WHEN from_stage IS NULL THEN NULL ELSE changed_at END AS changed_at
FROM clm.stage_history
WHERE relation = 'lg.cust'::regclass AND customer_key = '1' ORDER BY id;

-- a forbidden move: 23514, names both stages, the key, and how to allow it;
-- nothing is written
UPDATE lg.cust SET stage = 'prospect' WHERE id = 1;
DO $$
DECLARE st text; sch text; tab text; col text;
BEGIN
    UPDATE lg.cust SET stage = 'lead' WHERE id = 1;
EXCEPTION WHEN others THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, sch = SCHEMA_NAME,
                            tab = TABLE_NAME, col = COLUMN_NAME;
    RAISE NOTICE 'sqlstate %, schema %, table %, column %', st, sch, tab, col;
END $$;
SELECT stage FROM lg.cust WHERE id = 1;
SELECT count(*) AS rows_for_1 FROM clm.stage_history WHERE relation = 'lg.cust'::regclass AND customer_key = '1';

-- a NULL stage: setting it is the first stage; clearing is rejected
UPDATE lg.cust SET stage = 'lead' WHERE id = 2;
UPDATE lg.cust SET stage = NULL WHERE id = 2;
INSERT INTO lg.cust (id, name) VALUES (3, 'cy');
UPDATE lg.cust SET name = 'cyd' WHERE id = 3;
SELECT count(*) AS rows_for_3 FROM clm.stage_history WHERE relation = 'lg.cust'::regclass AND customer_key = '3';
SELECT from_stage, to_stage FROM clm.stage_history WHERE relation = 'lg.cust'::regclass AND customer_key = '2';

-- infinite business time is rejected
UPDATE lg.cust SET stage = 'first_purchase', since = 'infinity' WHERE id = 2;

-- rules added by the user take effect at once (the cache is invalidated),
-- and removing them takes effect too
INSERT INTO clm.stage_transition_rule VALUES ('repeat', 'lead');
UPDATE lg.cust SET stage = 'lead' WHERE id = 1;
DELETE FROM clm.stage_transition_rule WHERE from_stage = 'repeat' AND to_stage = 'lead';
UPDATE lg.cust SET stage = 'repeat' WHERE id = 1;
DELETE FROM clm.stage_transition_rule WHERE from_stage = 'lead' AND to_stage = 'repeat';
UPDATE lg.cust SET stage = 'repeat' WHERE id = 1;
INSERT INTO clm.stage_transition_rule VALUES ('lead', 'repeat');
-- a rolled-back rule change is undone for this backend too
BEGIN;
INSERT INTO clm.stage_transition_rule VALUES ('repeat', 'prospect');
UPDATE lg.cust SET stage = 'prospect' WHERE id = 1;
SELECT stage FROM lg.cust WHERE id = 1;
ROLLBACK;
UPDATE lg.cust SET stage = 'prospect' WHERE id = 1;
SELECT stage FROM lg.cust WHERE id = 1;

-- multi-row statements: all or nothing
INSERT INTO lg.cust (id, stage) SELECT g, 'first_purchase' FROM generate_series(10, 14) g;
UPDATE lg.cust SET stage = CASE WHEN id = 14 THEN 'lead'::clm.lifecycle_stage ELSE 'repeat' END
WHERE id BETWEEN 10 AND 14;
SELECT count(*) FILTER (WHERE stage = 'repeat') AS moved FROM lg.cust WHERE id BETWEEN 10 AND 14;
UPDATE lg.cust SET stage = 'repeat' WHERE id BETWEEN 10 AND 14;
SELECT count(*) AS recorded FROM clm.stage_history
WHERE relation = 'lg.cust'::regclass AND customer_key::int BETWEEN 10 AND 14 AND to_stage = 'repeat';

-- uuid and text keys, a table without a since column, a quoted name
CREATE TABLE lg."Kunden" (kid uuid PRIMARY KEY, "Stufe" clm.lifecycle_stage);
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON lg."Kunden"
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('Stufe', 'kid');
INSERT INTO lg."Kunden" VALUES ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'lead');
UPDATE lg."Kunden" SET "Stufe" = 'first_purchase';
CREATE TABLE lg.tcust (email text PRIMARY KEY, st clm.lifecycle_stage);
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON lg.tcust
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('st', 'email');
INSERT INTO lg.tcust VALUES ('o''brien@example.com', 'prospect');
UPDATE lg.tcust SET st = 'first_purchase';
SELECT relation, customer_key, from_stage, to_stage FROM clm.stage_history
WHERE relation IN ('lg."Kunden"'::regclass, 'lg.tcust'::regclass) ORDER BY id;
-- a NULL key cannot be recorded
CREATE TABLE lg.nokey (k int, st clm.lifecycle_stage);
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON lg.nokey
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('st', 'k');
INSERT INTO lg.nokey VALUES (NULL, 'lead');
INSERT INTO lg.nokey VALUES (NULL, NULL);

-- upserts: the BEFORE INSERT trigger fires for the proposed row before the
-- conflict is found; with a key that is unique by itself the existing row
-- is noticed, so only the real change is recorded
INSERT INTO lg.cust (id, stage) VALUES (20, 'prospect');
INSERT INTO lg.cust (id, stage) VALUES (20, 'lead')
    ON CONFLICT (id) DO UPDATE SET stage = EXCLUDED.stage;
INSERT INTO lg.cust (id, stage) VALUES (20, 'loyal') ON CONFLICT DO NOTHING;
INSERT INTO lg.cust (id, stage) VALUES (20, 'prospect')
    ON CONFLICT (id) DO UPDATE SET stage = EXCLUDED.stage;
INSERT INTO lg.cust (id, stage) VALUES (21, 'lead') ON CONFLICT DO NOTHING;
SELECT customer_key, from_stage, to_stage FROM clm.stage_history
WHERE relation = 'lg.cust'::regclass AND customer_key IN ('20', '21') ORDER BY id;

-- misuse: unknown columns, wrong types, wrong kind of trigger, wrong arguments
CREATE TABLE lg.bad (id int, st clm.lifecycle_stage, txt text, ts timestamp);
CREATE TRIGGER g BEFORE INSERT ON lg.bad FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('nope', 'id');
INSERT INTO lg.bad (id) VALUES (1);
DROP TRIGGER g ON lg.bad;
CREATE TRIGGER g BEFORE INSERT ON lg.bad FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('st', 'nope');
INSERT INTO lg.bad (id) VALUES (1);
DROP TRIGGER g ON lg.bad;
CREATE TRIGGER g BEFORE INSERT ON lg.bad FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('st', 'id', 'nope');
INSERT INTO lg.bad (id) VALUES (1);
DROP TRIGGER g ON lg.bad;
CREATE TRIGGER g BEFORE INSERT ON lg.bad FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('txt', 'id');
INSERT INTO lg.bad (id, txt) VALUES (1, 'loyal');
DROP TRIGGER g ON lg.bad;
CREATE TRIGGER g BEFORE INSERT ON lg.bad FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('st', 'id', 'ts');
INSERT INTO lg.bad (id) VALUES (1);
DROP TRIGGER g ON lg.bad;
CREATE TRIGGER g BEFORE INSERT ON lg.bad FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('st', 'id', 'xmin');
INSERT INTO lg.bad (id) VALUES (1);
DROP TRIGGER g ON lg.bad;
CREATE TRIGGER g BEFORE INSERT ON lg.bad FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('st');
INSERT INTO lg.bad (id) VALUES (1);
DROP TRIGGER g ON lg.bad;
CREATE TRIGGER g BEFORE INSERT ON lg.bad FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('st', 'id', 'ts', 'x');
INSERT INTO lg.bad (id) VALUES (1);
DROP TRIGGER g ON lg.bad;
CREATE TRIGGER g BEFORE INSERT ON lg.bad FOR EACH ROW EXECUTE FUNCTION clm.stage_guard();
INSERT INTO lg.bad (id) VALUES (1);
DROP TRIGGER g ON lg.bad;
CREATE TRIGGER g AFTER INSERT ON lg.bad FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('st', 'id');
INSERT INTO lg.bad (id) VALUES (1);
DROP TRIGGER g ON lg.bad;
CREATE TRIGGER g BEFORE INSERT ON lg.bad FOR EACH STATEMENT EXECUTE FUNCTION clm.stage_guard('st', 'id');
INSERT INTO lg.bad (id) VALUES (1);
DROP TRIGGER g ON lg.bad;
CREATE TRIGGER g BEFORE DELETE ON lg.bad FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('st', 'id');
DELETE FROM lg.bad;
INSERT INTO lg.bad (id) VALUES (1);
DELETE FROM lg.bad;
DROP TRIGGER g ON lg.bad;
CREATE VIEW lg.badv AS SELECT * FROM lg.bad;
CREATE TRIGGER g INSTEAD OF INSERT ON lg.badv FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('st', 'id');
INSERT INTO lg.badv (id) VALUES (1);
SELECT clm.stage_guard();

-- a role with INSERT but no SELECT privilege (a sign-up service) can add
-- customers: the upsert probe runs as the table's owner, not as the caller
CREATE TABLE lg.signup (id int PRIMARY KEY, st clm.lifecycle_stage);
CREATE TRIGGER g BEFORE INSERT OR UPDATE ON lg.signup
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('st', 'id');
CREATE ROLE lg_signup NOSUPERUSER NOCREATEDB NOCREATEROLE;
GRANT USAGE ON SCHEMA lg TO lg_signup;
GRANT INSERT ON lg.signup TO lg_signup;
SET ROLE lg_signup;
INSERT INTO lg.signup VALUES (1, 'prospect');
INSERT INTO lg.signup VALUES (1, 'prospect');    -- duplicate: the unique violation, not a privilege error
INSERT INTO lg.signup VALUES (1, 'prospect') ON CONFLICT DO NOTHING;
RESET ROLE;
SELECT relation, customer_key, from_stage, to_stage, changed_by
FROM clm.stage_history WHERE relation = 'lg.signup'::regclass ORDER BY id;
DROP TABLE lg.signup;
REVOKE ALL ON SCHEMA lg FROM lg_signup;
DROP ROLE lg_signup;

-- a partitioned customer table: an UPDATE that moves a customer to another
-- partition is not a new customer (no "NULL -> stage" row); a stage change
-- in the same UPDATE is checked and recorded once
CREATE TABLE lg.part (id int, region int, st clm.lifecycle_stage) PARTITION BY LIST (region);
CREATE TABLE lg.part1 PARTITION OF lg.part FOR VALUES IN (1);
CREATE TABLE lg.part2 PARTITION OF lg.part FOR VALUES IN (2);
CREATE TRIGGER g BEFORE INSERT OR UPDATE ON lg.part
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('st', 'id');
INSERT INTO lg.part VALUES (7, 1, 'prospect');
UPDATE lg.part SET region = 2 WHERE id = 7;
UPDATE lg.part SET region = 1, st = 'first_purchase' WHERE id = 7;
UPDATE lg.part SET region = 2, st = 'prospect' WHERE id = 7;   -- not allowed, moved or not
SELECT relation, customer_key, from_stage, to_stage
FROM clm.stage_history WHERE relation = 'lg.part'::regclass ORDER BY id;
DROP TABLE lg.part;

RESET search_path;
-- lg's history, with that of the tables dropped above (detached: relation 0)
DELETE FROM clm.stage_history WHERE relation::text LIKE 'lg.%' OR relation::oid = 0;
DROP SCHEMA lg CASCADE;
