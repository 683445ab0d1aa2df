--
-- lifecycle_row_security_off: clm's lifecycle functions work for a role
-- subject to the history's row-level security under row_security = off, as
-- pg_dump's restore scripts set it (a customer view's REFRESH there calls
-- clm.classify_stage).  clm reads and writes its history as the history's
-- owner, so the caller's row security never comes into it.
--
CREATE ROLE regress_rso LOGIN;
-- where the server asks for a password (pg_buildext installcheck's
-- pg_virtualenv), the role gets the one libpq sends (PGPASSWORD)
\getenv pgpassword PGPASSWORD
\if :{?pgpassword}
ALTER ROLE regress_rso PASSWORD :'pgpassword';
\endif
CREATE SCHEMA rso AUTHORIZATION regress_rso;
\c - regress_rso
SET row_security = off;
-- a fresh backend: the first call loads clm's lifecycle cache
SELECT clm.classify_stage(2, '2025-01-01', '2025-02-01', '2025-03-01') AS stage;
-- the guard on the role's own table records history under row_security = off
CREATE TABLE rso.customers (id int PRIMARY KEY, status clm.lifecycle_stage);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON rso.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
INSERT INTO rso.customers VALUES (1, 'prospect');
UPDATE rso.customers SET status = 'lead';
RESET row_security;
SELECT customer_key, from_stage, to_stage FROM clm.stage_history
 WHERE relation = 'rso.customers'::regclass ORDER BY id;
\c - postgres
DELETE FROM clm.stage_history WHERE relation = 'rso.customers'::regclass;
DROP SCHEMA rso CASCADE;
DROP ROLE regress_rso;
