--
-- lifecycle_stage_alter: clm.lifecycle_stage cannot be altered.  The
-- triggers, the classifier and the rules refer to its ten values by name,
-- and pg_dump does not dump changes to an extension's type; renaming or
-- adding a value, renaming the type or moving it to another schema is
-- refused with a clear error (an event trigger), never an internal error
-- when the triggers fire later.
--
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA lsa;
CREATE TABLE lsa.cust (id int PRIMARY KEY, status clm.lifecycle_stage);
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON lsa.cust
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
INSERT INTO lsa.cust VALUES (1, 'prospect');

-- renaming a value: refused (0A000); a new session's guard and classifier
-- keep working (the last statement would undo a rename that went through)
ALTER TYPE clm.lifecycle_stage RENAME VALUE 'lead' TO 'engaged';
\echo :LAST_ERROR_SQLSTATE
\c
\set VERBOSITY default
UPDATE lsa.cust SET status = 'first_purchase' WHERE id = 1;
SELECT clm.classify_stage(1, '2025-01-01', '2025-01-01', '2025-01-02');
ALTER TYPE clm.lifecycle_stage RENAME VALUE 'engaged' TO 'lead';
-- adding a value, renaming the type, moving it
BEGIN;
ALTER TYPE clm.lifecycle_stage ADD VALUE 'vip' AFTER 'advocate';
ROLLBACK;
BEGIN;
ALTER TYPE clm.lifecycle_stage RENAME TO stage;
ROLLBACK;
BEGIN;
ALTER TYPE clm.lifecycle_stage SET SCHEMA public;
ROLLBACK;
-- the type named without its schema, found through search_path as the
-- statement finds it: refused too
SET search_path = clm, public;
BEGIN;
ALTER TYPE lifecycle_stage ADD VALUE 'vip';
ROLLBACK;
ALTER TYPE lifecycle_stage RENAME VALUE 'lead' TO 'engaged';
-- while a type of that name earlier in search_path is the user's own
CREATE TYPE lsa.lifecycle_stage AS ENUM ('a');
SET search_path = lsa, clm, public;
ALTER TYPE lifecycle_stage ADD VALUE 'b';
SELECT pg_catalog.enum_range(NULL::lsa.lifecycle_stage);
RESET search_path;
DROP TYPE lsa.lifecycle_stage;
-- other ALTER TYPE commands are not affected, on this type or another
CREATE ROLE lsa_owner;
BEGIN;
ALTER TYPE clm.lifecycle_stage OWNER TO lsa_owner;
SELECT pg_catalog.pg_get_userbyid(typowner) AS owner FROM pg_catalog.pg_type WHERE oid = 'clm.lifecycle_stage'::regtype;
ROLLBACK;
DROP ROLE lsa_owner;
CREATE TYPE lsa.mood AS ENUM ('ok');
ALTER TYPE lsa.mood ADD VALUE 'great';
ALTER TYPE lsa.mood RENAME VALUE 'ok' TO 'fine';
SELECT pg_catalog.enum_range(NULL::lsa.mood);

-- the stages are unchanged and the guard works
SELECT pg_catalog.enum_range(NULL::clm.lifecycle_stage);
UPDATE lsa.cust SET status = 'repeat' WHERE id = 1;
SELECT from_stage, to_stage FROM clm.stage_history WHERE relation = 'lsa.cust'::regclass ORDER BY id;

-- the event trigger function is not for direct use
SELECT clm.lifecycle_stage_protect();

DELETE FROM clm.stage_history WHERE relation = 'lsa.cust'::regclass;
DROP SCHEMA lsa CASCADE;
