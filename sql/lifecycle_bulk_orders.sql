--
-- lifecycle_bulk_orders: clm.stage_on_order as a statement-level trigger
-- with a transition table (for bulk loads) leaves every customer where the
-- row trigger leaves it, with the same history, for the same orders loaded
-- by the same statements: several orders per customer per statement, in
-- any row order, late orders, lapses made by refresh_stages in between,
-- customers without a row, NULLs.  Then its bad input.
--
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA bulk;
-- the same orders for both: 400 customers, batches of about 600 orders
CREATE TABLE bulk.source AS
SELECT b AS batch,
       CASE WHEN i % 101 = 0 THEN NULL ELSE 1 + (i * 7919) % 410 END AS customer_id,
       CASE WHEN i % 211 = 0 THEN NULL
            ELSE timestamptz '2024-01-01 00:00+00' + b * interval '60 days'
                 + ((i * 104729) % (50 * 86400)) * interval '1 second'
                 - CASE WHEN i % 37 = 0 THEN interval '200 days' ELSE interval '0' END END AS ordered_at,
       i AS n
FROM generate_series(1, 6) b, generate_series(1, 600) i;
DO $$
DECLARE
    s text;
BEGIN
    FOREACH s IN ARRAY ARRAY['row_trg', 'stmt_trg'] LOOP
        EXECUTE format('CREATE TABLE bulk.%I (id int PRIMARY KEY, status clm.lifecycle_stage, since timestamptz)', s || '_customers');
        EXECUTE format('CREATE TRIGGER g BEFORE INSERT OR UPDATE ON bulk.%I FOR EACH ROW
                        EXECUTE FUNCTION clm.stage_guard(''status'', ''id'', ''since'')', s || '_customers');
        EXECUTE format('CREATE TABLE bulk.%I (customer_id int, ordered_at timestamptz)', s || '_orders');
        EXECUTE format('CREATE INDEX ON bulk.%I (customer_id, ordered_at)', s || '_orders');
        -- customers 401-410 have no row
        EXECUTE format('INSERT INTO bulk.%I SELECT i, ''prospect'', ''2023-06-01'' FROM generate_series(1, 400) i',
                       s || '_customers');
    END LOOP;
END $$;
CREATE TRIGGER o AFTER INSERT ON bulk.row_trg_orders FOR EACH ROW
    EXECUTE FUNCTION clm.stage_on_order('bulk.row_trg_customers', 'customer_id', 'status', 'ordered_at');
CREATE TRIGGER o AFTER INSERT ON bulk.stmt_trg_orders REFERENCING NEW TABLE AS new_orders
    FOR EACH STATEMENT
    EXECUTE FUNCTION clm.stage_on_order('bulk.stmt_trg_customers', 'customer_id', 'status', 'ordered_at');

-- each batch in one statement per table, rows in a scrambled order; after
-- each batch, refresh_stages lapses the idle customers of both
CREATE FUNCTION bulk.load(s text, b int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO bulk.%I SELECT customer_id, ordered_at FROM bulk.source
                    WHERE batch = $1 ORDER BY (n * 31) %% 600', s || '_orders') USING b;
    PERFORM clm.refresh_stages(format('bulk.%I', s || '_customers')::regclass,
                               format('bulk.%I', s || '_orders')::regclass,
                               'id', 'status', 'customer_id', 'ordered_at',
                               as_of => timestamptz '2024-01-01 00:00+00' + b * interval '60 days' + interval '55 days');
END $$;
DO $$
BEGIN
    FOR b IN 1 .. 6 LOOP
        PERFORM bulk.load('row_trg', b);
        PERFORM bulk.load('stmt_trg', b);
    END LOOP;
END $$;

-- the same stages, and the same history
SELECT count(*) AS customers, count(*) FILTER (WHERE r.status IS DISTINCT FROM s.status) AS stage_differs,
       count(*) FILTER (WHERE r.since IS DISTINCT FROM s.since) AS since_differs
FROM bulk.row_trg_customers r JOIN bulk.stmt_trg_customers s USING (id);
SELECT status, count(*) FROM bulk.stmt_trg_customers GROUP BY status ORDER BY status;
WITH r AS (SELECT customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
           WHERE relation = 'bulk.row_trg_customers'::regclass),
     s AS (SELECT customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
           WHERE relation = 'bulk.stmt_trg_customers'::regclass)
SELECT (SELECT count(*) FROM r) AS history_rows,
       (SELECT count(*) FROM ((SELECT * FROM r EXCEPT ALL SELECT * FROM s)
                              UNION ALL (SELECT * FROM s EXCEPT ALL SELECT * FROM r)) d) AS rows_differing,
       (SELECT count(*) FROM r WHERE to_stage = 'reactivated') AS reactivations;

-- one statement with many orders of one customer: one run, every step
CREATE TABLE bulk.c1 (id int PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TRIGGER g BEFORE INSERT OR UPDATE ON bulk.c1 FOR EACH ROW
    EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
CREATE TABLE bulk.o1 (customer_id int, ordered_at timestamptz);
CREATE TRIGGER o AFTER INSERT ON bulk.o1 REFERENCING NEW TABLE AS new_orders FOR EACH STATEMENT
    EXECUTE FUNCTION clm.stage_on_order('bulk.c1', 'customer_id', 'status', 'ordered_at');
INSERT INTO bulk.c1 VALUES (1, 'prospect', '2024-01-01');
INSERT INTO bulk.o1 SELECT 1, timestamptz '2025-01-01 00:00+00' + k * interval '40 days' FROM generate_series(6, 0, -1) k;
SELECT from_stage, to_stage, changed_at FROM clm.stage_history WHERE relation = 'bulk.c1'::regclass ORDER BY id;
-- an empty statement, and one whose rows have no customer or no time
INSERT INTO bulk.o1 SELECT 1, now() WHERE false;
INSERT INTO bulk.o1 VALUES (NULL, '2026-01-01'), (1, NULL), (99, '2026-01-01');
SELECT status FROM bulk.c1;

-- bad input: an infinite order time, and a statement trigger without the new rows
INSERT INTO bulk.o1 VALUES (1, '2026-02-01'), (1, 'infinity');
CREATE TRIGGER bad AFTER INSERT ON bulk.o1 FOR EACH STATEMENT
    EXECUTE FUNCTION clm.stage_on_order('bulk.c1', 'customer_id', 'status', 'ordered_at');
INSERT INTO bulk.o1 VALUES (1, '2026-03-01');
DROP TRIGGER bad ON bulk.o1;
SELECT count(*) AS orders_kept FROM bulk.o1;

DELETE FROM clm.stage_history WHERE relation IN ('bulk.row_trg_customers'::regclass,
    'bulk.stmt_trg_customers'::regclass, 'bulk.c1'::regclass);
DROP SCHEMA bulk CASCADE;
