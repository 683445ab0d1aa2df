--
-- lifecycle_referrals: with a referrals table adopted (clm.adopt_referrals),
-- a loyal customer becomes an advocate once the policy's
-- advocate_min_referrals of the customers they referred have made their
-- first purchase within advocate_window_days of being referred.  The row
-- trigger, the statement trigger and clm.refresh_stages apply the rule,
-- with history.  Self-referrals, referral cycles, referrers who are not
-- customers (yet) and referred customers who never buy count for nothing.
-- Then the customer view's referral columns, and bad input.
-- Each error is followed by its SQLSTATE (\echo sqlstate :SQLSTATE).
--
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA rf;
-- two orders make a customer loyal; two referred buyers within 30 days make
-- a loyal customer an advocate
INSERT INTO clm.lifecycle_policy (name, loyal_min_orders, loyal_min_tenure_days,
                                  advocate_min_referrals, advocate_window_days)
VALUES ('rf', 2, 0, 2, 30);
CREATE TABLE rf.referrals (referrer int, referred int, referred_at timestamptz);
-- customers:
--   1  Ann: loyal on Jan 5; her referrals 2 (bought Jan 10) and 5 (Jan 20)
--      count; 3 bought too late, 4 never bought, and she referred herself
--   8  referred 2 and 5 in time, but is a prospect until her own two
--      orders in February: advocate at once then
--   2 and 1 refer each other, 5 and 6 too (cycles)
--   99 is no customer and referred 6, and 3 in time (Feb 15, bought
--      Mar 1): it becomes one in June (below)
INSERT INTO rf.referrals VALUES
    (1, 1, '2025-01-01'), (1, 2, '2025-01-01'), (1, 3, '2025-01-01'), (1, 4, '2025-01-01'),
    (1, 5, '2025-01-15'), (1, 5, '2025-01-16'),
    (2, 1, '2025-01-01'), (5, 6, '2025-01-01'), (6, 5, '2025-01-01'),
    (8, 2, '2025-01-01'), (8, 5, '2025-01-15'), (99, 6, '2025-01-01'), (99, 3, '2025-02-15');
CREATE TABLE rf.orders_src (customer_id int, ordered_at timestamptz, amount numeric, batch int);
INSERT INTO rf.orders_src VALUES
    (1, '2025-01-02', 10, 1), (1, '2025-01-05', 10, 1),
    (2, '2025-01-10', 20, 2), (6, '2025-01-11', 5, 2),
    (5, '2025-01-20', 30, 3), (5, '2025-01-25', 30, 3),
    (3, '2025-03-01', 40, 4), (8, '2025-02-01', 7, 4), (8, '2025-02-02', 7, 4);
DO $$
DECLARE
    s text;
BEGIN
    FOREACH s IN ARRAY ARRAY['row_trg', 'stmt_trg'] LOOP
        EXECUTE format('CREATE TABLE rf.%I (id int PRIMARY KEY, status clm.lifecycle_stage, since timestamptz)', s || '_customers');
        EXECUTE format('CREATE TRIGGER g BEFORE INSERT OR UPDATE ON rf.%I FOR EACH ROW
                        EXECUTE FUNCTION clm.stage_guard(''status'', ''id'', ''since'')', s || '_customers');
        EXECUTE format('INSERT INTO rf.%I SELECT i, ''prospect'', ''2024-12-01'' FROM generate_series(1, 12) i',
                       s || '_customers');
        EXECUTE format('CREATE TABLE rf.%I (customer_id int, ordered_at timestamptz, amount numeric)', s || '_orders');
        EXECUTE format('CREATE INDEX ON rf.%I (customer_id, ordered_at)', s || '_orders');
    END LOOP;
END $$;
CREATE TRIGGER o AFTER INSERT ON rf.row_trg_orders FOR EACH ROW
    EXECUTE FUNCTION clm.stage_on_order('rf.row_trg_customers', 'customer_id', 'status', 'ordered_at', 'rf');
CREATE TRIGGER o AFTER INSERT ON rf.stmt_trg_orders REFERENCING NEW TABLE AS new_orders
    FOR EACH STATEMENT
    EXECUTE FUNCTION clm.stage_on_order('rf.stmt_trg_customers', 'customer_id', 'status', 'ordered_at', 'rf');
-- the same referrals table serves one customers table; a copy for the other
CREATE TABLE rf.referrals2 AS SELECT * FROM rf.referrals;
SELECT customers, customer_key_column, referrals, referrer_column, referred_column, referred_at_column
FROM clm.adopt_referrals('rf.row_trg_customers', 'rf.referrals', 'referrer', 'referred', 'referred_at');
SELECT customers, referrals
FROM clm.adopt_referrals('rf.stmt_trg_customers', 'rf.referrals2', 'referrer', 'referred', 'referred_at', 'id');

-- each batch in one statement per table
DO $$
BEGIN
    FOR b IN 1 .. 4 LOOP
        INSERT INTO rf.row_trg_orders SELECT customer_id, ordered_at, amount FROM rf.orders_src WHERE batch = b;
        INSERT INTO rf.stmt_trg_orders SELECT customer_id, ordered_at, amount FROM rf.orders_src WHERE batch = b;
    END LOOP;
END $$;
-- Ann (1) advocate on Jan 20, when 5 bought; 8 advocate on Feb 2, when she
-- became loyal; 2, 5 and 6 referred each other or were referred by 99 and
-- are no advocates; the rest did not buy
SELECT id, status, since FROM rf.row_trg_customers ORDER BY id;
SELECT h.customer_key, h.from_stage, h.to_stage, h.changed_at
FROM clm.stage_history h
WHERE h.relation = 'rf.row_trg_customers'::regclass AND h.to_stage IN ('loyal', 'advocate')
ORDER BY h.customer_key::int, h.changed_at;
-- the statement trigger leaves the same stages and history
SELECT count(*) AS stages_differing
FROM rf.row_trg_customers r JOIN rf.stmt_trg_customers s USING (id)
WHERE (r.status, r.since) IS DISTINCT FROM (s.status, s.since);
SELECT count(*) AS history_differing FROM (
    (SELECT customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
      WHERE relation = 'rf.row_trg_customers'::regclass
     EXCEPT ALL
     SELECT customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
      WHERE relation = 'rf.stmt_trg_customers'::regclass)
    UNION ALL
    (SELECT customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
      WHERE relation = 'rf.stmt_trg_customers'::regclass
     EXCEPT ALL
     SELECT customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
      WHERE relation = 'rf.row_trg_customers'::regclass)) d;

-- a loyal customer's referrals recorded after the referred bought: the
-- trigger does not see them, clm.refresh_stages does, as of its time
INSERT INTO rf.row_trg_orders VALUES (10, '2025-04-01', 1), (10, '2025-04-02', 1),
                                     (11, '2025-04-03', 1), (12, '2025-04-10', 1);
INSERT INTO rf.referrals VALUES (10, 11, '2025-04-01'), (10, 12, '2025-04-01');
SELECT status FROM rf.row_trg_customers WHERE id = 10;
-- as of Apr 5 only 11 had bought: 10 stays loyal (the customers moved are
-- idle ones lapsing)
SELECT clm.refresh_stages('rf.row_trg_customers', 'rf.row_trg_orders', 'id', 'status',
                          'customer_id', 'ordered_at', '2025-04-05', 'rf') AS moved;
SELECT status FROM rf.row_trg_customers WHERE id = 10;
-- as of Apr 12 both had: advocate, dated Apr 12
SELECT clm.refresh_stages('rf.row_trg_customers', 'rf.row_trg_orders', 'id', 'status',
                          'customer_id', 'ordered_at', '2025-04-12', 'rf') AS moved;
SELECT status, since FROM rf.row_trg_customers WHERE id = 10;
SELECT h.from_stage, h.to_stage, h.changed_at FROM clm.stage_history h
WHERE h.relation = 'rf.row_trg_customers'::regclass AND h.customer_key = '10' AND h.to_stage = 'advocate';
-- without the locking pass (Citus) the same
INSERT INTO rf.stmt_trg_orders VALUES (10, '2025-04-01', 1), (10, '2025-04-02', 1),
                                      (11, '2025-04-03', 1), (12, '2025-04-10', 1);
INSERT INTO rf.referrals2 VALUES (10, 11, '2025-04-01'), (10, 12, '2025-04-01');
SELECT clm.refresh_stages('rf.stmt_trg_customers', 'rf.stmt_trg_orders', 'id', 'status',
                          'customer_id', 'ordered_at', '2025-04-12', 'rf', 'since', false) AS moved;
SELECT status, since FROM rf.stmt_trg_customers WHERE id = 10;

-- a rule that forbids loyal -> advocate is obeyed by the trigger and by
-- refresh_stages: 7 becomes loyal on May 2 with 11's purchase counted, and
-- 9's on May 3 would make her an advocate
INSERT INTO clm.stage_transition_rule_user (from_stage, to_stage, allowed) VALUES ('loyal', 'advocate', false);
INSERT INTO rf.referrals VALUES (7, 9, '2025-05-01'), (7, 11, '2025-04-01');
INSERT INTO rf.row_trg_orders VALUES (7, '2025-05-01', 1), (7, '2025-05-02', 1);
INSERT INTO rf.row_trg_orders VALUES (9, '2025-05-03', 1);
SELECT status FROM rf.row_trg_customers WHERE id = 7;
SELECT clm.refresh_stages('rf.row_trg_customers', 'rf.row_trg_orders', 'id', 'status',
                          'customer_id', 'ordered_at', '2025-06-01', 'rf') AS moved;
SELECT status FROM rf.row_trg_customers WHERE id = 7;
DELETE FROM clm.stage_transition_rule_user WHERE from_stage = 'loyal' AND to_stage = 'advocate';
SELECT clm.refresh_stages('rf.row_trg_customers', 'rf.row_trg_orders', 'id', 'status',
                          'customer_id', 'ordered_at', '2025-06-01', 'rf') AS moved;
SELECT status FROM rf.row_trg_customers WHERE id = 7;

-- 99 referred 6 and 3 before it was a customer, and they bought in time:
-- once it is one and loyal, it is an advocate at once (row and statement
-- trigger alike)
INSERT INTO rf.row_trg_customers VALUES (99, 'prospect', '2025-06-01');
INSERT INTO rf.stmt_trg_customers VALUES (99, 'prospect', '2025-06-01');
INSERT INTO rf.row_trg_orders VALUES (99, '2025-06-10', 1), (99, '2025-06-11', 1);
INSERT INTO rf.stmt_trg_orders VALUES (99, '2025-06-10', 1), (99, '2025-06-11', 1);
SELECT 'row' AS trg, status, since FROM rf.row_trg_customers WHERE id = 99
UNION ALL
SELECT 'stmt', status, since FROM rf.stmt_trg_customers WHERE id = 99;

-- a cycle: 20 and 21 referred each other on Jun 1, and 20 referred 22, 21
-- referred 23.  Each counts the other's first purchase: 20, loyal on Jun
-- 13, is an advocate on Jun 16 (22 bought); 21, loyal on Jun 15, at once
-- (20 had bought on Jun 12, 23 on Jun 14).  Without counting the cycle
-- neither would be.
INSERT INTO rf.referrals VALUES (20, 21, '2025-06-01'), (21, 20, '2025-06-01'),
                                (20, 22, '2025-06-01'), (21, 23, '2025-06-01');
INSERT INTO rf.referrals2 SELECT * FROM rf.referrals WHERE referrer IN (20, 21);
INSERT INTO rf.row_trg_customers SELECT i, 'prospect', '2025-06-01' FROM generate_series(20, 23) i;
INSERT INTO rf.stmt_trg_customers SELECT i, 'prospect', '2025-06-01' FROM generate_series(20, 23) i;
CREATE TABLE rf.cycle_orders (customer_id int, ordered_at timestamptz, amount numeric);
INSERT INTO rf.cycle_orders VALUES (20, '2025-06-12', 1), (20, '2025-06-13', 1), (23, '2025-06-14', 1),
                                   (21, '2025-06-14', 1), (21, '2025-06-15', 1), (22, '2025-06-16', 1);
-- the row trigger an order at a time, the statement trigger all at once
DO $$
DECLARE
    o record;
BEGIN
    FOR o IN SELECT * FROM rf.cycle_orders ORDER BY ordered_at, customer_id LOOP
        INSERT INTO rf.row_trg_orders VALUES (o.customer_id, o.ordered_at, o.amount);
    END LOOP;
END $$;
INSERT INTO rf.stmt_trg_orders SELECT * FROM rf.cycle_orders;
SELECT h.customer_key, h.to_stage, h.changed_at FROM clm.stage_history h
WHERE h.relation = 'rf.row_trg_customers'::regclass AND h.customer_key IN ('20', '21')
  AND h.to_stage IN ('loyal', 'advocate')
ORDER BY h.customer_key, h.changed_at;
SELECT count(*) AS cycle_stages_differing
FROM rf.row_trg_customers r JOIN rf.stmt_trg_customers s USING (id)
WHERE r.id BETWEEN 20 AND 23 AND (r.status, r.since) IS DISTINCT FROM (s.status, s.since);

-- the customer view counts the customers each customer referred (not
-- themselves) and their revenue up to as_of
SELECT clm.create_customer_view('rf.cv', 'rf.row_trg_orders', 'customer_id', 'ordered_at', 'amount',
                                as_of => '2025-02-15', referrals => 'rf.referrals');
SELECT customer_key, referred_customers, referred_revenue FROM rf.cv ORDER BY customer_key;
-- without referrals the columns are NULL
SELECT clm.create_customer_view('rf.cv_plain', 'rf.row_trg_orders', 'customer_id', 'ordered_at', 'amount',
                                as_of => '2025-02-15');
SELECT count(*) AS rows, count(referred_customers) AS with_referrals FROM rf.cv_plain;
SELECT clm.create_customer_view('rf.cv_bad', 'rf.row_trg_orders', 'customer_id', 'ordered_at', 'amount',
                                referrals => 'rf.orders_src');
\echo sqlstate :SQLSTATE

-- citext keys: the view compares them as citext does, as the triggers do:
-- 'ANN' referring 'ann' is a self-referral, and 'BOB' is the customer who
-- ordered as 'bob'
CREATE EXTENSION citext;
CREATE TABLE rf.ci_customers (id citext PRIMARY KEY, status clm.lifecycle_stage);
CREATE TABLE rf.ci_orders (customer_id citext, ordered_at timestamptz, amount numeric);
CREATE TABLE rf.ci_referrals (referrer citext, referred citext, referred_at timestamptz);
INSERT INTO rf.ci_customers VALUES ('Ann', NULL), ('Bob', NULL);
INSERT INTO rf.ci_orders VALUES ('Ann', '2025-01-02', 10), ('bob', '2025-01-05', 25);
INSERT INTO rf.ci_referrals VALUES ('ann', 'BOB', '2025-01-01'), ('ANN', 'ann', '2025-01-01');
SELECT referrals FROM clm.adopt_referrals('rf.ci_customers', 'rf.ci_referrals', 'referrer', 'referred', 'referred_at');
SELECT clm.create_customer_view('rf.ci_cv', 'rf.ci_orders', 'customer_id', 'ordered_at', 'amount',
                                as_of => '2025-02-01', referrals => 'rf.ci_referrals');
SELECT customer_key, referred_customers, referred_revenue FROM rf.ci_cv ORDER BY customer_key;
SELECT clm.drop_customer_view('rf.ci_cv');

-- released: new first purchases move nobody
SELECT clm.release_referrals('rf.row_trg_customers');
SELECT clm.release_referrals('rf.row_trg_customers');
INSERT INTO rf.row_trg_orders VALUES (12, '2025-05-20', 1);
INSERT INTO rf.referrals VALUES (12, 4, '2025-06-01');
INSERT INTO rf.row_trg_orders VALUES (4, '2025-06-02', 1);
SELECT status FROM rf.row_trg_customers WHERE id = 12;

-- bad input
SELECT clm.adopt_referrals(NULL, 'rf.referrals', 'referrer', 'referred', 'referred_at');
\echo sqlstate :SQLSTATE
SELECT clm.adopt_referrals('rf.row_trg_customers', 'rf.referrals', 'nope', 'referred', 'referred_at');
\echo sqlstate :SQLSTATE
SELECT clm.adopt_referrals('rf.row_trg_customers', 'rf.referrals', 'referrer', 'referred', 'ordered');
\echo sqlstate :SQLSTATE
CREATE TABLE rf.text_referrals (referrer text, referred text, referred_at timestamptz);
SELECT clm.adopt_referrals('rf.row_trg_customers', 'rf.text_referrals', 'referrer', 'referred', 'referred_at');
\echo sqlstate :SQLSTATE
CREATE TABLE rf.date_referrals (referrer int, referred int, referred_at date);
SELECT clm.adopt_referrals('rf.row_trg_customers', 'rf.date_referrals', 'referrer', 'referred', 'referred_at');
\echo sqlstate :SQLSTATE
CREATE VIEW rf.referral_view AS SELECT * FROM rf.referrals;
SELECT clm.adopt_referrals('rf.row_trg_customers', 'rf.referral_view', 'referrer', 'referred', 'referred_at');
\echo sqlstate :SQLSTATE
-- one referrals table, one customers table
SELECT clm.adopt_referrals('rf.row_trg_customers', 'rf.referrals2', 'referrer', 'referred', 'referred_at');
\echo sqlstate :SQLSTATE
CREATE TABLE rf.no_pk (id int, status clm.lifecycle_stage);
SELECT clm.adopt_referrals('rf.no_pk', 'rf.referrals', 'referrer', 'referred', 'referred_at');
\echo sqlstate :SQLSTATE
UPDATE clm.lifecycle_policy SET advocate_min_referrals = 0 WHERE name = 'rf';
\echo sqlstate :SQLSTATE
UPDATE clm.lifecycle_policy SET advocate_window_days = 'NaN' WHERE name = 'rf';
\echo sqlstate :SQLSTATE
-- the internal helpers refuse what they cannot answer
SELECT clm._eq_operator(NULL) IS NULL AS no_type, clm._eq_operator('point') IS NULL AS no_equality,
       clm._eq_operator('citext'::regtype) AS citext_equality;
SELECT clm._primary_key_column(NULL) IS NULL AS no_table, clm._primary_key_column('rf.no_pk') IS NULL AS no_key,
       clm._primary_key_column('rf.row_trg_customers') AS key_column;
SELECT clm._customer_key_column('rf.no_pk', NULL);
\echo sqlstate :SQLSTATE
SELECT clm._customer_key_column('rf.no_pk', 'id') AS given;
SELECT clm._dropped_relations();
\echo sqlstate :SQLSTATE
SELECT clm.referral_source_check();
\echo sqlstate :SQLSTATE
-- a referrals column dropped after adoption: a clear error, not a syntax error
SELECT referrals FROM clm.adopt_referrals('rf.row_trg_customers', 'rf.referrals', 'referrer', 'referred', 'referred_at');
ALTER TABLE rf.referrals RENAME COLUMN referred_at TO made_at;
INSERT INTO rf.row_trg_orders VALUES (9, '2025-06-03', 1);
\echo sqlstate :SQLSTATE
SELECT clm.refresh_stages('rf.row_trg_customers', 'rf.row_trg_orders', 'id', 'status',
                          'customer_id', 'ordered_at', '2025-06-01', 'rf');
\echo sqlstate :SQLSTATE
ALTER TABLE rf.referrals RENAME COLUMN made_at TO referred_at;

-- roles: only the owner of the customers table adopts or releases; the
-- roles that insert orders read the referrals table with their own rights
CREATE ROLE rf_clerk;
GRANT USAGE ON SCHEMA rf TO rf_clerk;
GRANT SELECT, INSERT ON rf.row_trg_orders TO rf_clerk;
GRANT SELECT, UPDATE ON rf.row_trg_customers TO rf_clerk;
GRANT SELECT ON rf.referrals2 TO rf_clerk;
INSERT INTO rf.row_trg_customers VALUES (13, 'prospect', '2025-05-01');
INSERT INTO rf.referrals VALUES (12, 13, '2025-06-01');
SET ROLE rf_clerk;
SELECT clm.adopt_referrals('rf.row_trg_customers', 'rf.referrals2', 'referrer', 'referred', 'referred_at');
\echo sqlstate :SQLSTATE
SELECT clm.release_referrals('rf.row_trg_customers');
\echo sqlstate :SQLSTATE
DELETE FROM clm.referral_source;
UPDATE clm.referral_source SET referred_column = 'referrer';
SELECT count(*) AS registered FROM clm.referral_source;
-- 13's first purchase: its referrers are looked up with the clerk's rights
INSERT INTO rf.row_trg_orders VALUES (13, '2025-06-05', 1);
\echo sqlstate :SQLSTATE
RESET ROLE;
GRANT SELECT ON rf.referrals TO rf_clerk;
SET ROLE rf_clerk;
INSERT INTO rf.row_trg_orders VALUES (13, '2025-06-05', 1);
RESET ROLE;
-- 12 referred 4 (bought Jun 2) and 13 (Jun 5): advocate on Jun 5
SELECT id, status, since FROM rf.row_trg_customers WHERE id IN (12, 13) ORDER BY id;

-- a rename of the referrals table reaches this session's cached plans: 15
-- is loyal and referred 16, who bought, and 14, whose first purchase after
-- the rename makes 15 an advocate
INSERT INTO rf.row_trg_customers VALUES (14, 'prospect', '2025-05-01'), (15, 'prospect', '2025-05-01'),
                                        (16, 'prospect', '2025-05-01');
INSERT INTO rf.referrals VALUES (15, 16, '2025-06-01'), (15, 14, '2025-06-01');
INSERT INTO rf.row_trg_orders VALUES (15, '2025-06-02', 1), (15, '2025-06-03', 1);
INSERT INTO rf.row_trg_orders VALUES (16, '2025-06-04', 1);
ALTER TABLE rf.referrals RENAME TO referrals_renamed;
INSERT INTO rf.row_trg_orders VALUES (14, '2025-06-06', 1);
SELECT id, status, since FROM rf.row_trg_customers WHERE id IN (14, 15, 16) ORDER BY id;
ALTER TABLE rf.referrals_renamed RENAME TO referrals;

-- every adoption is checked, also one written by hand: the referrals table
-- must be the customers owner's own (every role inserting orders reads it),
-- and not temporary
CREATE ROLE rf_owner;
GRANT USAGE, CREATE ON SCHEMA rf TO rf_owner;
SET ROLE rf_owner;
CREATE TABLE rf.own_customers (id int PRIMARY KEY, status clm.lifecycle_stage);
INSERT INTO clm.referral_source (customers, customer_key_column, referrals, referrer_column, referred_column, referred_at_column)
VALUES ('rf.own_customers', 'id', 'rf.referrals', 'referrer', 'referred', 'referred_at');
\echo sqlstate :SQLSTATE
CREATE TEMP TABLE own_referrals (referrer int, referred int, referred_at timestamptz);
SELECT clm.adopt_referrals('rf.own_customers', 'own_referrals', 'referrer', 'referred', 'referred_at');
\echo sqlstate :SQLSTATE
CREATE TABLE rf.own_referrals (referrer int, referred int, referred_at timestamptz);
SELECT referrals FROM clm.adopt_referrals('rf.own_customers', 'rf.own_referrals', 'referrer', 'referred', 'referred_at');
UPDATE clm.referral_source SET referred_column = 'referred_at' WHERE customers = 'rf.own_customers'::regclass;
\echo sqlstate :SQLSTATE
DROP TABLE rf.own_customers, rf.own_referrals;
RESET ROLE;
DROP OWNED BY rf_owner;
DROP ROLE rf_owner;

-- the owner's rights, not mere membership: a NOINHERIT member of the
-- owning role cannot adopt without SET ROLE
CREATE ROLE rf_admin;
CREATE ROLE rf_noinherit NOINHERIT IN ROLE rf_admin;
GRANT USAGE, CREATE ON SCHEMA rf TO rf_admin;
CREATE TABLE rf.adm_customers (id int PRIMARY KEY);
CREATE TABLE rf.adm_referrals (referrer int, referred int, referred_at timestamptz);
ALTER TABLE rf.adm_customers OWNER TO rf_admin;
ALTER TABLE rf.adm_referrals OWNER TO rf_admin;
GRANT SELECT ON rf.adm_referrals TO rf_noinherit;
GRANT USAGE ON SCHEMA rf TO rf_noinherit;
SET ROLE rf_noinherit;
SELECT clm.adopt_referrals('rf.adm_customers', 'rf.adm_referrals', 'referrer', 'referred', 'referred_at');
\echo sqlstate :SQLSTATE
SET ROLE rf_admin;
SELECT referrals FROM clm.adopt_referrals('rf.adm_customers', 'rf.adm_referrals', 'referrer', 'referred', 'referred_at');
RESET ROLE;
DROP TABLE rf.adm_customers, rf.adm_referrals;
DROP OWNED BY rf_admin, rf_noinherit;
DROP ROLE rf_noinherit, rf_admin;

-- dropping either table forgets the adoption
SELECT count(*) FROM clm.referral_source;
DROP TABLE rf.referrals2;
SELECT customers FROM clm.referral_source;

SELECT clm.drop_customer_view('rf.cv');
SELECT clm.drop_customer_view('rf.cv_plain');
DROP SCHEMA rf CASCADE;
DROP ROLE rf_clerk;
DELETE FROM clm.lifecycle_policy WHERE name = 'rf';
DROP EXTENSION citext;
SELECT count(*) AS left_over FROM clm.referral_source;
