--
-- lifecycle_bulk_orders: clm.stage_on_order as a statement-level trigger
-- with a transition table (for bulk loads) leaves every customer where the
-- row trigger leaves it, with the same history, for the same orders loaded
-- by the same statements: several orders per customer per statement, in
-- any row order, late orders, lapses made by refresh_stages in between,
-- customers without a row, NULLs.  Then its bad input.
-- Each error is followed by its SQLSTATE (\echo sqlstate :SQLSTATE).
--
\set VERBOSITY default
SET timezone = 'UTC';
CREATE EXTENSION citext;
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

-- The statement trigger judges its customers in batches of up to 10,000:
-- their orders read together and their moves made in rounds, one UPDATE
-- each, the guard dating each customer's move by its key.  Lapsed
-- customers, and those whose stage start is not in the row, go one by
-- one.  The same comparison for each way: without the index on (customer,
-- time) (all orders are read), without the guard's since column (all one
-- by one), with keys of a domain over citext (an order for 'C7' is
-- customer 'c7''s), with keys of a type without hashing (bit: the new
-- orders are grouped in SQL, not in C), and with 10,050 customers in one
-- statement (two batches).
CREATE FUNCTION bulk.pair(s text, key_type text, with_index bool, since text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['row', 'stmt'] LOOP
        EXECUTE format('CREATE TABLE bulk.%I (id %s PRIMARY KEY, status clm.lifecycle_stage%s)',
                       s || '_' || t || '_customers', key_type,
                       CASE WHEN since IS NULL THEN '' ELSE ', since timestamptz' END);
        EXECUTE format('CREATE TRIGGER g BEFORE INSERT OR UPDATE ON bulk.%I FOR EACH ROW
                        EXECUTE FUNCTION clm.stage_guard(''status'', ''id''%s)',
                       s || '_' || t || '_customers',
                       CASE WHEN since IS NULL THEN '' ELSE ', ''since''' END);
        EXECUTE format('CREATE TABLE bulk.%I (customer_id %s, ordered_at timestamptz)',
                       s || '_' || t || '_orders', key_type);
        IF with_index THEN
            EXECUTE format('CREATE INDEX ON bulk.%I (customer_id, ordered_at)', s || '_' || t || '_orders');
        END IF;
        EXECUTE format('CREATE TRIGGER o AFTER INSERT ON bulk.%I %s
                        EXECUTE FUNCTION clm.stage_on_order(%L, ''customer_id'', ''status'', ''ordered_at'')',
                       s || '_' || t || '_orders',
                       CASE t WHEN 'row' THEN 'FOR EACH ROW'
                              ELSE 'REFERENCING NEW TABLE AS new_orders FOR EACH STATEMENT' END,
                       format('bulk.%I', s || '_' || t || '_customers'));
    END LOOP;
END $$;
-- the same statements for both: the customers (keys 'c' || i for citext),
-- prospects since 2023-06-01, then each batch of orders (keys 'C' || i)
-- and a refresh as of after it
CREATE FUNCTION bulk.load_pair(s text, customers int, batches int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t text;
    b int;
    k text := CASE s WHEN 'ci' THEN '''c'' || i' WHEN 'bits' THEN 'i::bit(16)' ELSE 'i' END;
    ko text := CASE s WHEN 'ci' THEN '''C'' || customer_id' WHEN 'bits' THEN 'customer_id::bit(16)'
                      ELSE 'customer_id' END;
BEGIN
    FOREACH t IN ARRAY ARRAY['row', 'stmt'] LOOP
        -- without the since column they have no stage yet
        EXECUTE format('INSERT INTO bulk.%I SELECT %s%s FROM generate_series(1, $1) i',
                       s || '_' || t || '_customers', k,
                       CASE WHEN s = 'nosince' THEN '' ELSE ', ''prospect'', ''2023-06-01''' END)
            USING customers;
        FOR b IN 1 .. batches LOOP
            EXECUTE format('INSERT INTO bulk.%I SELECT %s, ordered_at FROM bulk.source
                            WHERE batch = $1 AND customer_id <= $2 ORDER BY (n * 31) %% 600',
                           s || '_' || t || '_orders', ko) USING b, customers;
            PERFORM clm.refresh_stages(format('bulk.%I', s || '_' || t || '_customers')::regclass,
                                       format('bulk.%I', s || '_' || t || '_orders')::regclass,
                                       'id', 'status', 'customer_id', 'ordered_at',
                                       as_of => timestamptz '2024-01-01 00:00+00' + b * interval '60 days' + interval '55 days');
        END LOOP;
    END LOOP;
END $$;
-- the stages and history rows that differ between the two
CREATE FUNCTION bulk.differ(s text, OUT customers bigint, OUT stage_differs bigint,
                            OUT history_rows bigint, OUT history_differs bigint)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SELECT count(*), count(*) FILTER (WHERE r.status IS DISTINCT FROM s.status)
                    FROM bulk.%I r JOIN bulk.%I s USING (id)',
                   s || '_row_customers', s || '_stmt_customers') INTO customers, stage_differs;
    EXECUTE format($q$
        WITH r AS (SELECT customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
                   WHERE relation = 'bulk.%I'::regclass),
             s AS (SELECT customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
                   WHERE relation = 'bulk.%I'::regclass)
        SELECT (SELECT count(*) FROM r),
               (SELECT count(*) FROM ((SELECT * FROM r EXCEPT ALL SELECT * FROM s)
                                      UNION ALL (SELECT * FROM s EXCEPT ALL SELECT * FROM r)) d)$q$,
                   s || '_row_customers', s || '_stmt_customers') INTO history_rows, history_differs;
END $$;
CREATE DOMAIN bulk.code AS citext CHECK (VALUE <> '');
SELECT bulk.pair('noidx', 'int', false, 'since'), bulk.pair('nosince', 'int', true, NULL),
       bulk.pair('ci', 'bulk.code', true, 'since'), bulk.pair('bits', 'bit(16)', true, 'since');
SELECT bulk.load_pair('noidx', 400, 6), bulk.load_pair('nosince', 400, 6), bulk.load_pair('ci', 400, 6),
       bulk.load_pair('bits', 400, 6);
SELECT 'noidx' AS way, * FROM bulk.differ('noidx')
UNION ALL SELECT 'nosince', * FROM bulk.differ('nosince')
UNION ALL SELECT 'ci', * FROM bulk.differ('ci')
UNION ALL SELECT 'bits', * FROM bulk.differ('bits');
-- with the index on (customer, time) the trigger reads a few orders of a
-- customer; without it, all of them: the same history either way
WITH i AS (SELECT customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
           WHERE relation = 'bulk.row_trg_customers'::regclass),
     a AS (SELECT customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
           WHERE relation = 'bulk.noidx_row_customers'::regclass)
SELECT (SELECT count(*) FROM ((SELECT * FROM i EXCEPT ALL SELECT * FROM a)
                              UNION ALL (SELECT * FROM a EXCEPT ALL SELECT * FROM i)) d) AS rows_differing;
-- The bounded reads hold what reading all orders would: customers in
-- every stage (lapsed ones too), stages begun at different times, none to
-- eight orders before the load, some before the stage began and some
-- after, then one to six new orders each in one statement, some before
-- the stage began (late).  Three kinds: order times all distinct (plain);
-- on whole multiples of ten days, so that many orders of a customer share
-- a time (ties); and plain times in an orders table partitioned by year
-- (parts), where orders of two partitions may sit at the same ctid.  In
-- each, the same stages and the same history with the index and without
-- it (ra: by row, all orders read), by row and by statement, the late
-- rows firing before or after the others.
CREATE FUNCTION bulk.reads(s text, kind text, with_index bool) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    o text := s || '_' || kind || '_o';
    c text := s || '_' || kind || '_c';
BEGIN
    EXECUTE format('CREATE TABLE bulk.%I (id int PRIMARY KEY, status clm.lifecycle_stage, since timestamptz)', c);
    EXECUTE format('CREATE TRIGGER g BEFORE INSERT OR UPDATE ON bulk.%I FOR EACH ROW
                    EXECUTE FUNCTION clm.stage_guard(''status'', ''id'', ''since'')', c);
    EXECUTE format('INSERT INTO bulk.%I
                    SELECT i, (ARRAY[''prospect'', ''first_purchase'', ''repeat'', ''loyal'', ''at_risk'',
                                     ''dormant'', ''churned'', ''reactivated'', NULL])[1 + i %% 9]::clm.lifecycle_stage,
                           timestamptz ''2024-01-01 00:00+00'' + (i %% 7) * interval ''20 days''
                    FROM generate_series(1, 900) i', c);
    IF kind = 'parts' THEN
        EXECUTE format('CREATE TABLE bulk.%I (customer_id int, ordered_at timestamptz) PARTITION BY RANGE (ordered_at)', o);
        FOR y IN 2022 .. 2026 LOOP
            EXECUTE format('CREATE TABLE bulk.%I PARTITION OF bulk.%I FOR VALUES FROM (%L) TO (%L)',
                           o || y, o, make_date(y, 1, 1), make_date(y + 1, 1, 1));
        END LOOP;
    ELSE
        EXECUTE format('CREATE TABLE bulk.%I (customer_id int, ordered_at timestamptz)', o);
    END IF;
    IF with_index THEN
        EXECUTE format('CREATE INDEX ON bulk.%I (customer_id, ordered_at)', o);
    END IF;
    EXECUTE format('INSERT INTO bulk.%I
                    SELECT i, timestamptz ''2024-01-01 00:00+00'' + (i %% 7) * interval ''20 days''
                              + %s * interval ''1 day''
                    FROM generate_series(1, 900) i, generate_series(1, 8) j WHERE j <= (i * 7) %% 9', o,
                   CASE kind WHEN 'ties' THEN '((j * 37 + i * 11) % 40 - 25) * 10'
                             ELSE '((j * 37 + i * 11) % 400 - 250)' END);
END $$;
-- then, in a transaction of its own, the load
CREATE FUNCTION bulk.reads_load(s text, kind text, per_row bool) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    o text := s || '_' || kind || '_o';
BEGIN
    EXECUTE format('CREATE TRIGGER o AFTER INSERT ON bulk.%I %s
                    EXECUTE FUNCTION clm.stage_on_order(%L, ''customer_id'', ''status'', ''ordered_at'')',
                   o,
                   CASE WHEN per_row THEN 'FOR EACH ROW'
                        ELSE 'REFERENCING NEW TABLE AS new_orders FOR EACH STATEMENT' END,
                   format('bulk.%I', s || '_' || kind || '_c'));
    EXECUTE format('INSERT INTO bulk.%I
                    SELECT i, timestamptz ''2024-01-01 00:00+00'' + (i %% 7) * interval ''20 days'' + %s
                    FROM generate_series(1, 900) i, generate_series(1, 6) j WHERE j <= 1 + (i * 5) %% 6
                    ORDER BY (i * 31 + j) %% 97', o,
                   CASE kind WHEN 'ties' THEN '((j * 53 + i * 17) % 50 - 15) * interval ''10 days'''
                             ELSE '((j * 53 + i * 17) % 500 - 150) * interval ''1 day'' + j * interval ''1 minute''' END);
END $$;
SELECT count(bulk.reads(s, kind, s LIKE '_i')) AS made
FROM unnest(ARRAY['ri', 'si', 'ra', 'sa']) s, unnest(ARRAY['plain', 'ties', 'parts']) kind;
SELECT count(bulk.reads_load(s, kind, s LIKE 'r_')) AS loaded
FROM unnest(ARRAY['ri', 'si', 'ra', 'sa']) s, unnest(ARRAY['plain', 'ties', 'parts']) kind;
CREATE FUNCTION bulk.customers_differ(a regclass, b regclass) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s x FULL JOIN %s y USING (id)
                    WHERE (x.status, x.since) IS DISTINCT FROM (y.status, y.since)', a, b) INTO n;
    RETURN n;
END $$;
CREATE FUNCTION bulk.history_differ(a regclass, b regclass) RETURNS bigint LANGUAGE sql AS $$
    WITH x AS (SELECT customer_key, from_stage, to_stage, changed_at FROM clm.stage_history WHERE relation = a),
         y AS (SELECT customer_key, from_stage, to_stage, changed_at FROM clm.stage_history WHERE relation = b)
    SELECT count(*) FROM ((SELECT * FROM x EXCEPT ALL SELECT * FROM y)
                          UNION ALL (SELECT * FROM y EXCEPT ALL SELECT * FROM x)) d
$$;
SELECT kind, s AS way, (SELECT count(*) FROM clm.stage_history WHERE relation = w) AS history_rows,
       bulk.customers_differ(w, a) AS stages_differ_from_ra, bulk.history_differ(w, a) AS history_differs_from_ra
FROM unnest(ARRAY['plain', 'ties', 'parts']) kind, unnest(ARRAY['ri', 'si', 'sa']) s,
     LATERAL (SELECT format('bulk.%I', s || '_' || kind || '_c')::regclass,
                     format('bulk.%I', 'ra_' || kind || '_c')::regclass) v(w, a)
ORDER BY kind, s;
-- what the load did: every kind of move
SELECT from_stage, to_stage, count(*) FROM clm.stage_history
WHERE relation = 'bulk.si_plain_c'::regclass GROUP BY 1, 2 ORDER BY 1, 2;

-- the history spells the key as the customers table does
SELECT customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
WHERE relation = 'bulk.ci_stmt_customers'::regclass AND customer_key = 'c7' ORDER BY id;
-- two batches in one statement: 10,050 customers, two orders each, with
-- a transition table too large for work_mem (kept in a temporary file)
SET work_mem = '64kB';
SELECT bulk.pair('big', 'int', true, 'since');
INSERT INTO bulk.big_row_customers SELECT i, 'prospect', '2023-06-01' FROM generate_series(1, 10050) i;
INSERT INTO bulk.big_stmt_customers SELECT i, 'prospect', '2023-06-01' FROM generate_series(1, 10050) i;
INSERT INTO bulk.big_row_orders
SELECT i, timestamptz '2024-01-01 00:00+00' + k * interval '9 days' + i * interval '1 minute'
FROM generate_series(1, 10050) i, generate_series(1, 2) k;
INSERT INTO bulk.big_stmt_orders SELECT * FROM bulk.big_row_orders;
SELECT * FROM bulk.differ('big');
RESET work_mem;
SELECT status, count(*) FROM bulk.big_stmt_customers GROUP BY status ORDER BY status;

-- the history rows and the feed events of a batch's moves are written in
-- one statement each: with a consumer of the feed, every change recorded
-- is an event, in the order of each customer's changes
CREATE TABLE bulk.pc (id int PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TRIGGER g BEFORE INSERT OR UPDATE ON bulk.pc FOR EACH ROW
    EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
CREATE TABLE bulk.po (customer_id int, ordered_at timestamptz);
CREATE TRIGGER o AFTER INSERT ON bulk.po REFERENCING NEW TABLE AS new_orders FOR EACH STATEMENT
    EXECUTE FUNCTION clm.stage_on_order('bulk.pc', 'customer_id', 'status', 'ordered_at');
SELECT name FROM clm.feed_subscribe('bulk_load');
INSERT INTO bulk.pc VALUES (1, 'prospect', '2024-01-01'), (2, 'prospect', '2024-01-01');
INSERT INTO bulk.po VALUES (1, '2024-02-01'), (1, '2024-03-01'), (2, '2024-02-15');
SELECT * FROM bulk.pc ORDER BY id;
SELECT h.customer_key, h.from_stage, h.to_stage, h.changed_at,
       e.from_stage IS NOT DISTINCT FROM h.from_stage AND e.to_stage = h.to_stage
       AND e.changed_at = h.changed_at AND e.relation = h.relation
       AND e.customer_key = h.customer_key AND NOT e.withdrawal AS event_matches
FROM clm.stage_history h LEFT JOIN clm.stage_event e ON e.history_id = h.id
WHERE h.relation = 'bulk.pc'::regclass ORDER BY h.customer_key, h.id;
-- in delivery order, each customer's events come in the order of its changes
SELECT customer_key, array_agg(to_stage ORDER BY position, id) AS events
FROM clm.stage_event WHERE relation = 'bulk.pc'::regclass GROUP BY customer_key ORDER BY 1;
SELECT clm.feed_unsubscribe('bulk_load');
DELETE FROM clm.stage_event WHERE relation = 'bulk.pc'::regclass;

-- a guard that records the customers by another key (email) than the one
-- the trigger finds them by (id): they move one by one, each dated at its
-- orders as ever
CREATE TABLE bulk.ec (id int PRIMARY KEY, email text NOT NULL UNIQUE, status clm.lifecycle_stage,
                      since timestamptz);
CREATE TRIGGER g BEFORE INSERT OR UPDATE ON bulk.ec FOR EACH ROW
    EXECUTE FUNCTION clm.stage_guard('status', 'email', 'since');
CREATE TABLE bulk.eo (customer_id int, ordered_at timestamptz);
CREATE TRIGGER o AFTER INSERT ON bulk.eo REFERENCING NEW TABLE AS new_orders FOR EACH STATEMENT
    EXECUTE FUNCTION clm.stage_on_order('bulk.ec', 'customer_id', 'status', 'ordered_at');
INSERT INTO bulk.ec VALUES (1, 'ann@example.com', 'prospect', '2024-01-01'),
                           (2, 'bob@example.com', 'prospect', '2024-01-01');
INSERT INTO bulk.eo VALUES (1, '2024-02-01'), (1, '2024-03-01'), (2, '2024-02-15');
SELECT customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
WHERE relation = 'bulk.ec'::regclass ORDER BY customer_key, id;

-- a lapse recorded earlier in the same transaction is not a race: the
-- order's statement comes after it and sees it, so an order dated before
-- the lapse does not withdraw it, with either trigger (the lapse stands,
-- whatever other transactions did meanwhile)
CREATE TABLE bulk.sc (id int PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TRIGGER g BEFORE INSERT OR UPDATE ON bulk.sc FOR EACH ROW
    EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
CREATE TABLE bulk.so (customer_id int, ordered_at timestamptz);
CREATE TRIGGER o AFTER INSERT ON bulk.so FOR EACH ROW
    EXECUTE FUNCTION clm.stage_on_order('bulk.sc', 'customer_id', 'status', 'ordered_at');
INSERT INTO bulk.sc VALUES (1, 'prospect', '2024-12-01'), (2, 'prospect', '2024-12-01');
INSERT INTO bulk.so VALUES (1, '2025-01-01'), (1, '2025-02-01'), (2, '2025-01-01'), (2, '2025-02-01');
BEGIN;
SELECT clm.refresh_stages('bulk.sc', 'bulk.so', 'id', 'status', 'customer_id', 'ordered_at',
                          '2026-01-01') AS moved;
INSERT INTO bulk.so VALUES (1, '2025-12-31 23:00');
DROP TRIGGER o ON bulk.so;
CREATE TRIGGER o AFTER INSERT ON bulk.so REFERENCING NEW TABLE AS new_orders FOR EACH STATEMENT
    EXECUTE FUNCTION clm.stage_on_order('bulk.sc', 'customer_id', 'status', 'ordered_at');
INSERT INTO bulk.so VALUES (2, '2025-12-31 23:00');
COMMIT;
SELECT id, status, since FROM bulk.sc ORDER BY id;

-- a trigger of yours on the customers that moves a customer inside a
-- savepoint: rolled back (customer 1), that move is not recorded; released
-- (customer 2), it is; with either trigger (a batch's changes are
-- collected during its UPDATE and written after it)
CREATE FUNCTION bulk.try_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'first_purchase' THEN
        BEGIN
            EXECUTE format('UPDATE %s SET status = ''repeat'' WHERE id = $1', TG_RELID::regclass)
                USING NEW.id;
            IF NEW.id = 1 THEN
                RAISE EXCEPTION 'changed my mind';
            END IF;
        EXCEPTION WHEN raise_exception THEN
            NULL;
        END;
    END IF;
    RETURN NULL;
END
$$;
DO $$
DECLARE
    s text;
BEGIN
    FOREACH s IN ARRAY ARRAY['row', 'stmt'] LOOP
        EXECUTE format('CREATE TABLE bulk.%I (id int PRIMARY KEY, status clm.lifecycle_stage, since timestamptz)',
                       'sp_' || s);
        EXECUTE format('CREATE TRIGGER g BEFORE INSERT OR UPDATE ON bulk.%I FOR EACH ROW
                        EXECUTE FUNCTION clm.stage_guard(''status'', ''id'', ''since'')', 'sp_' || s);
        EXECUTE format('CREATE TRIGGER u AFTER UPDATE ON bulk.%I FOR EACH ROW
                        EXECUTE FUNCTION bulk.try_move()', 'sp_' || s);
        EXECUTE format('CREATE TABLE bulk.%I (customer_id int, ordered_at timestamptz)', 'spo_' || s);
        EXECUTE format('CREATE TRIGGER o AFTER INSERT ON bulk.%I %s
                        EXECUTE FUNCTION clm.stage_on_order(%L, ''customer_id'', ''status'', ''ordered_at'')',
                       'spo_' || s,
                       CASE s WHEN 'row' THEN 'FOR EACH ROW'
                              ELSE 'REFERENCING NEW TABLE AS new_orders FOR EACH STATEMENT' END,
                       'bulk.sp_' || s);
        EXECUTE format('INSERT INTO bulk.%I VALUES (1, ''prospect'', ''2024-01-01''), (2, ''prospect'', ''2024-01-01'')',
                       'sp_' || s);
        EXECUTE format('INSERT INTO bulk.%I VALUES (1, ''2024-02-01''), (2, ''2024-02-15'')', 'spo_' || s);
    END LOOP;
END
$$;
SELECT relation, customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
WHERE relation IN ('bulk.sp_row'::regclass, 'bulk.sp_stmt'::regclass)
ORDER BY relation::text, customer_key, id;
SELECT 'row' AS trigger, * FROM bulk.sp_row UNION ALL SELECT 'stmt', * FROM bulk.sp_stmt ORDER BY 1, 2;
-- a load inside a savepoint that rolls back as a whole leaves nothing,
-- and the next load of the same transaction records its own moves only
BEGIN;
DO $$
BEGIN
    INSERT INTO bulk.sp_stmt VALUES (3, 'prospect', '2024-01-01');
    INSERT INTO bulk.spo_stmt VALUES (3, '2024-03-01'), (3, '2024-03-02');
    RAISE EXCEPTION 'undo the load';
EXCEPTION WHEN raise_exception THEN
    NULL;
END
$$;
INSERT INTO bulk.sp_stmt VALUES (4, 'prospect', '2024-01-01');
INSERT INTO bulk.spo_stmt VALUES (4, '2024-03-01');
COMMIT;
SELECT customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
WHERE relation = 'bulk.sp_stmt'::regclass AND customer_key IN ('3', '4') ORDER BY customer_key, id;

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
\echo sqlstate :SQLSTATE
CREATE TRIGGER bad AFTER INSERT ON bulk.o1 FOR EACH STATEMENT
    EXECUTE FUNCTION clm.stage_on_order('bulk.c1', 'customer_id', 'status', 'ordered_at');
INSERT INTO bulk.o1 VALUES (1, '2026-03-01');
\echo sqlstate :SQLSTATE
DROP TRIGGER bad ON bulk.o1;
SELECT count(*) AS orders_kept FROM bulk.o1;
-- customer keys of an array type cannot be grouped into an array
CREATE TABLE bulk.ac (id int[] PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TRIGGER g BEFORE INSERT OR UPDATE ON bulk.ac FOR EACH ROW
    EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
CREATE TABLE bulk.ao (customer_id int[], ordered_at timestamptz);
CREATE TRIGGER o AFTER INSERT ON bulk.ao REFERENCING NEW TABLE AS new_orders FOR EACH STATEMENT
    EXECUTE FUNCTION clm.stage_on_order('bulk.ac', 'customer_id', 'status', 'ordered_at');
INSERT INTO bulk.ac VALUES ('{1,2}', 'prospect', '2024-01-01');
INSERT INTO bulk.ao VALUES ('{1,2}', '2024-02-01');
\echo sqlstate :SQLSTATE
SELECT count(*) AS orders_kept FROM bulk.ao;

DELETE FROM clm.stage_history
WHERE relation IN (SELECT c.oid FROM pg_class c WHERE c.relnamespace = 'bulk'::regnamespace);
DROP SCHEMA bulk CASCADE;
DROP EXTENSION citext;
