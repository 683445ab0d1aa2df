--
-- rfm_refunds: for numeric, double precision and bigint amounts alike, a
-- refund (negative amount) lowers monetary but is not a purchase.  Each
-- clm.rfm_agg result is compared with plain SQL over the counted rows
-- (ordered_at and amount not NULL, ordered_at <= as_of): monetary = sum of
-- all amounts, frequency = count of amounts >= 0, first_at/last_at = min/max
-- ordered_at of those, recency NULL exactly when there is no purchase
--
\set VERBOSITY default
CREATE SCHEMA rfm_refunds_test;
SET search_path = rfm_refunds_test, public;
SET timezone = 'UTC';

-- cents: every 7th row a refund, every 11th a zero amount (a purchase), a
-- few NULL amounts and NULL times, some rows after as_of; customers 300 to
-- 304 have refunds only, 305 only rows after as_of
CREATE TABLE orders (customer int, ordered_at timestamptz, cents bigint);
INSERT INTO orders
SELECT i % 300,
       CASE WHEN i % 97 = 0 THEN NULL
            ELSE timestamptz '2025-01-01 00:00+00' + ((i::bigint * 7919) % 600) * interval '1 day'
                 + (i % 1440) * interval '1 minute' END,
       CASE WHEN i % 89 = 0 THEN NULL
            WHEN i % 11 = 0 THEN 0
            WHEN i % 7 = 0 THEN -((i * 31) % 5000) - 1
            ELSE (i * 37) % 20000 + 1 END
FROM generate_series(1, 6000) i;
INSERT INTO orders
SELECT 300 + i % 5, timestamptz '2025-03-01 00:00+00' + i * interval '1 day', -100 * i
FROM generate_series(1, 20) i;
INSERT INTO orders VALUES (305, timestamptz '2026-09-01 00:00+00', 500), (305, timestamptz '2026-10-01 00:00+00', -500);
-- the same amounts as numeric, double precision (float8 of cents * 0.01,
-- mostly not exact in binary) and bigint (cents)
CREATE VIEW amounts AS
SELECT customer, ordered_at, cents, cents * 0.01 AS num, (cents * 0.01)::float8 AS dbl FROM orders;
-- the data has what the comparison needs
SELECT count(*) FILTER (WHERE cents < 0) AS refunds, count(*) FILTER (WHERE cents = 0) AS zeros,
       count(*) FILTER (WHERE cents IS NULL) AS null_amounts, count(*) FILTER (WHERE ordered_at IS NULL) AS null_times,
       count(*) FILTER (WHERE ordered_at > timestamptz '2026-07-01 00:00+00') AS after_as_of
FROM orders;

CREATE TABLE plain AS
SELECT customer, sum(cents) AS cents, count(*) FILTER (WHERE cents >= 0) AS frequency,
       min(ordered_at) FILTER (WHERE cents >= 0) AS first_at, max(ordered_at) FILTER (WHERE cents >= 0) AS last_at
FROM orders
WHERE ordered_at IS NOT NULL AND cents IS NOT NULL AND ordered_at <= timestamptz '2026-07-01 00:00+00'
GROUP BY customer;
CREATE TABLE rfm AS
SELECT customer,
       clm.rfm_agg(ordered_at, num, timestamptz '2026-07-01 00:00+00') AS rn,
       clm.rfm_agg(ordered_at, dbl, timestamptz '2026-07-01 00:00+00') AS rd,
       clm.rfm_agg(ordered_at, cents, timestamptz '2026-07-01 00:00+00') AS rb
FROM amounts GROUP BY customer;

-- every customer, each amount type: the rfm equals plain SQL (monetary in
-- cents for bigint); a customer with nothing counted (305) has a NULL rfm
-- and no plain row.  A customer on one side only counts as differing.
SELECT t.type, count(*) AS customers,
       count(*) FILTER (WHERE p.frequency = 0) AS refunds_only,
       count(*) FILTER (WHERE p.customer IS NULL AND t.r IS NULL) AS nothing_counted,
       count(*) FILTER (WHERE NOT coalesce(
                            (p.customer IS NULL AND t.r IS NULL)
                            OR ((t.r).monetary = p.cents * t.unit AND (t.r).frequency = p.frequency
                                AND (t.r).first_at IS NOT DISTINCT FROM p.first_at
                                AND (t.r).last_at IS NOT DISTINCT FROM p.last_at
                                AND ((t.r).recency_days IS NULL) = (p.last_at IS NULL)), false)) AS differing
FROM rfm r
CROSS JOIN LATERAL (VALUES ('numeric', r.rn, 0.01), ('double precision', r.rd, 0.01), ('bigint', r.rb, 1)) t(type, r, unit)
FULL JOIN plain p USING (customer)
GROUP BY t.type ORDER BY t.type;
-- refunds-only customers: frequency 0, negative monetary, no purchase dates
SELECT customer, (rd).frequency AS dbl_f, (rd).monetary AS dbl_m, (rb).frequency AS big_f, (rb).monetary AS big_m,
       (rb).last_at IS NULL AND (rd).last_at IS NULL AS no_last_at
FROM rfm WHERE customer >= 300 ORDER BY customer;
-- a zero amount is a purchase, a negative one (also -0.5 and -1 cent) is
-- not; -0.0 is not negative
SELECT (clm.rfm_agg(t, a, timestamptz '2026-07-01 00:00+00')).frequency AS dbl_f,
       (clm.rfm_agg(t, a, timestamptz '2026-07-01 00:00+00')).monetary AS dbl_m,
       (clm.rfm_agg(t, a, timestamptz '2026-07-01 00:00+00')).last_at AS dbl_last_at
FROM (VALUES (timestamptz '2026-01-01 00:00+00', 10::float8), (timestamptz '2026-02-01 00:00+00', -0.5),
             (timestamptz '2026-03-01 00:00+00', 0), (timestamptz '2026-04-01 00:00+00', -0.01),
             (timestamptz '2026-05-01 00:00+00', '-0')) v(t, a);
SELECT (clm.rfm_agg(t, a, timestamptz '2026-07-01 00:00+00')).frequency AS big_f,
       (clm.rfm_agg(t, a, timestamptz '2026-07-01 00:00+00')).monetary AS big_m,
       (clm.rfm_agg(t, a, timestamptz '2026-07-01 00:00+00')).last_at AS big_last_at
FROM (VALUES (timestamptz '2026-01-01 00:00+00', 1000::bigint), (timestamptz '2026-02-01 00:00+00', -1),
             (timestamptz '2026-03-01 00:00+00', 0), (timestamptz '2026-04-01 00:00+00', -999)) v(t, a);

RESET timezone;
RESET search_path;
DROP SCHEMA rfm_refunds_test CASCADE;
