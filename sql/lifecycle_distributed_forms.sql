--
-- lifecycle_distributed_forms: the forms of the lifecycle functions that a
-- distributed database (Citus) can run on every node.  clm.classify_stage
-- with the policy as a row value is IMMUTABLE and reads no table: it gives
-- the stage the named form gives, whatever the node's own policy table
-- holds.  clm.refresh_stages(lock_first => false) leaves out the locking
-- pass (Citus refuses FOR UPDATE on distributed tables) and moves the same
-- customers; its UPDATE reads neither the policy nor the rules tables.
--
\set VERBOSITY default
SET timezone = 'UTC';

-- the variant's volatility, next to the named form's
SELECT p.oid::regprocedure AS function, p.provolatile, p.proparallel
FROM pg_proc p WHERE p.proname = 'classify_stage'
  AND p.pronamespace = 'clm'::regnamespace ORDER BY 1::text;

INSERT INTO clm.lifecycle_policy (name, fallback_gap_days, loyal_min_orders)
VALUES ('dist_coffee', 14, 2);

-- the same stage as the named form, for each policy and a range of facts
WITH facts(orders, first_at, last_at, as_of, cur) AS (
    VALUES (0::bigint, NULL::timestamptz, NULL::timestamptz, timestamptz '2025-07-01', NULL::clm.lifecycle_stage),
           (0, NULL, NULL, '2025-07-01', 'lead'),
           (1, '2025-01-01', '2025-01-01', '2025-02-01', NULL),
           (1, '2025-01-01', '2025-01-01', '2025-09-01', NULL),
           (5, '2025-01-01', '2025-05-01', '2025-07-01', NULL),
           (5, '2025-01-01', '2025-05-01', '2025-05-10', 'dormant'),
           (6, '2024-01-01', '2024-06-29', '2024-07-01', NULL),
           (2, '2025-01-01', '2025-01-20', '2025-02-01', 'advocate'),
           (3, '2025-01-01', '2025-01-20', '2026-06-01', NULL))
SELECT pol.name, count(*) AS cases,
       count(*) FILTER (WHERE clm.classify_stage(f.orders, f.first_at, f.last_at, f.as_of, pol, f.cur)
                            IS NOT DISTINCT FROM
                        clm.classify_stage(f.orders, f.first_at, f.last_at, f.as_of, pol.name, f.cur)) AS same,
       string_agg(clm.classify_stage(f.orders, f.first_at, f.last_at, f.as_of, pol, f.cur)::text, ', ') AS stages
FROM facts f, clm.lifecycle_policy pol
WHERE pol.name IN ('default', 'dist_coffee')
GROUP BY pol.name ORDER BY pol.name;

-- the policy is the value passed, not a row read by name: a copy of the
-- default with another fallback gap classifies by that gap (one order 100
-- days ago: active under the default's 90-day gap, at_risk under 40 days)
SELECT clm.classify_stage(1, '2025-01-01', '2025-01-01', '2025-04-11', p) AS default_policy,
       clm.classify_stage(1, '2025-01-01', '2025-01-01', '2025-04-11',
                          jsonb_populate_record(p, '{"fallback_gap_days": 40}')) AS edited_copy
FROM clm.lifecycle_policy p WHERE p.name = 'default';

-- a quoted name still means the named form; a NULL policy row gives NULL
SELECT clm.classify_stage(1, '2025-01-01', '2025-01-01', '2025-09-01', 'dist_coffee') AS by_name,
       clm.classify_stage(1, '2025-01-01', '2025-01-01', '2025-09-01',
                          NULL::clm.lifecycle_policy) AS null_row;

-- a row built by hand must have every policy column
SELECT clm.classify_stage(1, '2025-01-01', '2025-01-01', '2025-09-01',
                          jsonb_populate_record(p, '{"churned_max_days": null}'))
FROM clm.lifecycle_policy p WHERE p.name = 'default';
SELECT clm.classify_stage(1, '2025-01-01', '2025-01-01', '2025-09-01',
                          ROW('x', 4, 180, 90, 2, 4, 6, 30, 180, 60, 365, 120, NULL, 3, 90)::clm.lifecycle_policy);
-- the facts are checked as by the named form
SELECT clm.classify_stage(2, '2025-01-01', '2025-06-01', '2025-03-01', p)
FROM clm.lifecycle_policy p WHERE p.name = 'default';

-- clm.refresh_stages with and without the locking pass: two copies of the
-- same customers and orders move the same way, and record the same history
CREATE SCHEMA dl;
CREATE FUNCTION dl.make(s text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE %I.customers (id int PRIMARY KEY, status clm.lifecycle_stage, since timestamptz)', s);
    EXECUTE format('CREATE TABLE %I.orders (customer_id int NOT NULL, ordered_at timestamptz NOT NULL)', s);
    EXECUTE format('CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON %I.customers
                    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard(''status'', ''id'', ''since'')', s);
    -- 1: one order long ago; 2: two orders 30 days apart, 100 days idle;
    -- 3: active; 4: loyal, long idle; 5: prospect without orders
    EXECUTE format('INSERT INTO %I.customers VALUES (1, ''first_purchase'', ''2025-01-01''),
                    (2, ''repeat'', ''2025-03-01''), (3, ''repeat'', ''2025-06-01''),
                    (4, ''loyal'', ''2024-06-01''), (5, ''prospect'', ''2025-01-01'')', s);
    EXECUTE format('INSERT INTO %I.orders VALUES (1, ''2025-01-01''), (2, ''2025-02-01''),
                    (2, ''2025-03-03''), (3, ''2025-05-01''), (3, ''2025-06-01''),
                    (4, ''2024-01-01''), (4, ''2024-02-01''), (4, ''2024-03-01''),
                    (4, ''2024-04-01''), (4, ''2024-06-01'')', s);
END $$;
CREATE SCHEMA dl_locked;
CREATE SCHEMA dl_unlocked;
SELECT dl.make('dl_locked'), dl.make('dl_unlocked');

SELECT clm.refresh_stages('dl_locked.customers', 'dl_locked.orders', 'id', 'status',
                          'customer_id', 'ordered_at', as_of => '2025-06-11') AS locked,
       clm.refresh_stages('dl_unlocked.customers', 'dl_unlocked.orders', 'id', 'status',
                          'customer_id', 'ordered_at', as_of => '2025-06-11',
                          lock_first => false) AS unlocked;
SELECT l.id, l.status, l.since, u.status AS unlocked_status, u.since AS unlocked_since
FROM dl_locked.customers l JOIN dl_unlocked.customers u USING (id) ORDER BY l.id;
SELECT relation::text, customer_key, from_stage, to_stage, changed_at
FROM clm.stage_history
WHERE relation IN ('dl_locked.customers'::regclass, 'dl_unlocked.customers'::regclass)
  AND from_stage IS NOT NULL
ORDER BY customer_key, relation::text;

-- the rules still decide, and the policy named is the one used.  As of
-- 2025-08-10 under dist_coffee (fallback gap 14 days): 1 (one order, 221
-- days idle) churned, where the default policy would say at_risk; 2 (gap
-- 30, 160 days idle) dormant; 3 (gap 31, 70 days idle) at_risk, but only
-- while the rule repeat -> at_risk exists
DELETE FROM clm.stage_transition_rule WHERE from_stage = 'repeat' AND to_stage = 'at_risk';
SELECT clm.refresh_stages('dl_unlocked.customers', 'dl_unlocked.orders', 'id', 'status',
                          'customer_id', 'ordered_at', as_of => '2025-08-10',
                          policy => 'dist_coffee', lock_first => false) AS moved_without_rule;
SELECT id, status FROM dl_unlocked.customers ORDER BY id;
INSERT INTO clm.stage_transition_rule (from_stage, to_stage) VALUES ('repeat', 'at_risk');
SELECT clm.refresh_stages('dl_unlocked.customers', 'dl_unlocked.orders', 'id', 'status',
                          'customer_id', 'ordered_at', as_of => '2025-08-10',
                          policy => 'dist_coffee', lock_first => false) AS moved_with_rule;
SELECT id, status FROM dl_unlocked.customers WHERE id = 3;

-- lock_first must not be NULL
SELECT clm.refresh_stages('dl_unlocked.customers', 'dl_unlocked.orders', 'id', 'status',
                          'customer_id', 'ordered_at', as_of => '2025-08-10', lock_first => NULL);

DELETE FROM clm.stage_history WHERE relation::text LIKE 'dl\_%';
DROP SCHEMA dl, dl_locked, dl_unlocked CASCADE;
DELETE FROM clm.lifecycle_policy WHERE name = 'dist_coffee';
