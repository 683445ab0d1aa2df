--
-- rfm_agg: the RFM aggregate, its state type and its rules
--
\set VERBOSITY default
CREATE SCHEMA rfm_agg_test;
SET search_path = rfm_agg_test, public;

CREATE TABLE orders (customer int, ordered_at timestamptz, amount numeric);
-- 300 customers, deterministic, with ties, many one-order customers,
-- refunds, several scales, orders after as_of and NULL rows
INSERT INTO orders
SELECT i % 300,
       timestamptz '2024-01-01 00:00+00' + ((i * 7919) % 900) * interval '1 day' + (i % 24) * interval '1 hour',
       CASE WHEN i % 17 = 0 THEN -round((i % 50) / 3.0, 3)       -- refunds, 3 decimals
            WHEN i % 5 = 0 THEN (i % 1000)::numeric               -- integers
            ELSE round((i * 37 % 50000) / 100.0, 2) END           -- cents
FROM generate_series(1, 3000) i
WHERE i % 300 < 150 OR i % 7 = 0;
INSERT INTO orders VALUES (1000, NULL, 5), (1000, '2024-05-01+00', NULL), (1001, '2024-05-01+00', 12.5);

-- every value equals the plain-SQL computation (purchases: amount >= 0;
-- monetary: all amounts; only orders up to as_of)
-- (customers whose rows are all NULL or after as_of get NULL and are absent from p)
WITH a AS (
    SELECT * FROM (
        SELECT customer, clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00') AS r
        FROM orders GROUP BY customer) a0
    WHERE NOT (r IS NULL)),  -- (a row with some NULL fields is neither NULL nor NOT NULL)
p AS (
    SELECT customer,
           max(ordered_at) FILTER (WHERE amount >= 0) AS last_at,
           min(ordered_at) FILTER (WHERE amount >= 0) AS first_at,
           count(*) FILTER (WHERE amount >= 0) AS frequency,
           sum(amount) AS monetary
    FROM orders
    WHERE ordered_at <= timestamptz '2026-01-01 00:00+00' AND amount IS NOT NULL
    GROUP BY customer)
SELECT count(*) AS customers,
       count(*) FILTER (WHERE (a.r).frequency = p.frequency) AS frequency_equal,
       count(*) FILTER (WHERE (a.r).monetary = p.monetary
                        AND (a.r).monetary::text = p.monetary::text) AS monetary_equal_and_same_scale,
       count(*) FILTER (WHERE (a.r).last_at IS NOT DISTINCT FROM p.last_at
                        AND (a.r).first_at IS NOT DISTINCT FROM p.first_at) AS first_last_equal,
       count(*) FILTER (WHERE (a.r).recency_days IS NULL AND p.last_at IS NULL
                        OR abs((a.r).recency_days - extract(epoch FROM timestamptz '2026-01-01 00:00+00' - p.last_at)::float8 / 86400) < 1e-9
                        AND abs((a.r).tenure_days - extract(epoch FROM timestamptz '2026-01-01 00:00+00' - p.first_at)::float8 / 86400) < 1e-9
                        OR (a.r).frequency = 0 AND (a.r).tenure_days IS NULL)
           AS recency_tenure_equal,
       count(*) FILTER (WHERE (a.r).frequency < 2 AND (a.r).mean_gap_days IS NULL
                        OR abs((a.r).mean_gap_days - extract(epoch FROM p.last_at - p.first_at)::float8 / 86400 / NULLIF(p.frequency - 1, 0)) < 1e-9)
           AS mean_gap_equal
FROM a FULL JOIN p USING (customer);

-- the mean gap is the mean of the gaps between consecutive purchases
WITH g AS (
    SELECT customer, ordered_at - lag(ordered_at) OVER (PARTITION BY customer ORDER BY ordered_at) AS gap
    FROM orders WHERE amount >= 0 AND ordered_at <= timestamptz '2026-01-01 00:00+00'),
m AS (SELECT customer, avg(extract(epoch FROM gap)::float8 / 86400) AS mean_gap FROM g GROUP BY customer)
SELECT count(*) FILTER (WHERE abs((a.r).mean_gap_days - m.mean_gap) < 1e-9) AS equal,
       count(*) FILTER (WHERE m.mean_gap IS NOT NULL) AS with_gaps
FROM m JOIN (SELECT customer, clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00') AS r
             FROM orders GROUP BY customer) a USING (customer);

-- a small worked example: two purchases, a refund, a late order, NULL rows
SELECT (r).* FROM (
    SELECT clm.rfm_agg(t, a, timestamptz '2024-03-01 00:00+00') AS r
    FROM (VALUES (timestamptz '2024-01-01 00:00+00', 10.50),
                 (timestamptz '2024-01-31 00:00+00', 20.255),
                 (timestamptz '2024-02-10 00:00+00', -5),
                 (timestamptz '2024-04-01 00:00+00', 99),      -- after as_of: ignored
                 (NULL, 1), (timestamptz '2024-01-15 00:00+00', NULL)) v(t, a)) s;

-- one-row groups: no mean gap; a zero amount is a purchase
SELECT (r).frequency, (r).monetary, (r).recency_days, (r).mean_gap_days IS NULL AS no_gap
FROM (SELECT clm.rfm_agg(timestamptz '2024-01-01 00:00+00', 0::numeric, timestamptz '2024-01-11 00:00+00') AS r) s;

-- refunds only: not a customer with purchases; monetary negative, recency NULL
SELECT (r).* FROM (SELECT clm.rfm_agg(timestamptz '2024-01-01 00:00+00', -3.5, timestamptz '2024-02-01 00:00+00') AS r) s;

-- no rows, only NULL rows, only rows after as_of: NULL
SELECT clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00') IS NULL AS empty FROM orders WHERE false;
SELECT clm.rfm_agg(NULL::timestamptz, 1::numeric, timestamptz '2026-01-01 00:00+00') IS NULL AS all_null;
SELECT clm.rfm_agg(timestamptz '2027-01-01 00:00+00', 1::numeric, timestamptz '2026-01-01 00:00+00') IS NULL AS all_late;

-- double precision and bigint amounts
SELECT (clm.rfm_agg(t, a::float8, timestamptz '2024-03-01 00:00+00')).monetary AS float8_sum,
       (clm.rfm_agg(t, (a * 100)::bigint, timestamptz '2024-03-01 00:00+00')).monetary AS cents_sum
FROM (VALUES (timestamptz '2024-01-01 00:00+00', 0.1), (timestamptz '2024-01-02 00:00+00', 0.2),
             (timestamptz '2024-01-03 00:00+00', 0.3), (timestamptz '2024-01-04 00:00+00', -0.05)) v(t, a);
-- float8 sums do not depend on row order (fixed point inside)
SELECT count(DISTINCT m) AS distinct_sums, count(*) AS orders_tried FROM (
    SELECT k, (clm.rfm_agg(timestamptz '2024-01-01 00:00+00', x::float8 / 7, timestamptz '2026-01-01 00:00+00'
                           ORDER BY (x * (k * 37 + 11)) % 1009)).monetary AS m
    FROM generate_series(1, 1000) x, generate_series(1, 3) k GROUP BY k) s;
-- large scales and magnitudes stay exact (up to 36 significant digits)
SELECT (clm.rfm_agg(t, a, timestamptz '2026-01-01 00:00+00')).monetary,
       sum(a) AS plain_sum
FROM (VALUES (timestamptz '2024-01-01 00:00+00', 12345678901234567890.5::numeric),
             (timestamptz '2024-01-02 00:00+00', 0.000000000001),
             (timestamptz '2024-01-03 00:00+00', -98765432109876543210.25)) v(t, a);
-- monetary is built without text when the sum scaled to its display scale
-- is below 2^63 / 1000 in absolute value, and through text otherwise: both
-- give exactly sum() (value and scale)
SELECT g, (clm.rfm_agg(t, a, timestamptz '2026-01-01 00:00+00')).monetary::text AS monetary,
       sum(a)::text AS plain_sum,
       (clm.rfm_agg(t, a, timestamptz '2026-01-01 00:00+00')).monetary::text = sum(a)::text AS same_text
FROM (VALUES ('whole amounts, scale 2', timestamptz '2024-01-01 00:00+00', 5.00),
             ('whole amounts, scale 2', timestamptz '2024-01-02 00:00+00', 3.00),
             ('fewer decimals than a digit group', timestamptz '2024-01-01 00:00+00', 0.5),
             ('fewer decimals than a digit group', timestamptz '2024-01-02 00:00+00', 0.25),
             ('refund larger than purchases', timestamptz '2024-01-01 00:00+00', -12.345),
             ('refund larger than purchases', timestamptz '2024-01-02 00:00+00', 2.1),
             ('zero with scale', timestamptz '2024-01-01 00:00+00', 0.00),
             ('large whole amount', timestamptz '2024-01-01 00:00+00', 100000000),
             ('display scale 22 (text path)', timestamptz '2024-01-01 00:00+00', 1.0000000000000000000000),
             ('display scale 22 (text path)', timestamptz '2024-01-02 00:00+00', 2),
             ('beyond bigint (text path)', timestamptz '2024-01-01 00:00+00', 92233720368547758.07),
             ('beyond bigint (text path)', timestamptz '2024-01-02 00:00+00', 1.00),
             ('bigint maximum (text path)', timestamptz '2024-01-01 00:00+00', 92233720368547758.07),
             ('negative beyond bigint', timestamptz '2024-01-01 00:00+00', -92233720368547758.08),
             ('negative beyond bigint', timestamptz '2024-01-01 00:00+00', -0.01),
             ('bigint minimum (text path)', timestamptz '2024-01-01 00:00+00', -92233720368547758.08),
             ('direct path limit', timestamptz '2024-01-01 00:00+00', 92233720368547.75),
             ('past the direct path limit', timestamptz '2024-01-01 00:00+00', 92233720368547.76),
             ('direct path limit, negative, scale 13', timestamptz '2024-01-01 00:00+00', -922.3372036854775),
             ('past it, negative, scale 13', timestamptz '2024-01-01 00:00+00', -922.3372036854776)) v(g, t, a)
GROUP BY g ORDER BY g;
-- beyond that: a clear error rather than a rounded sum
SELECT (clm.rfm_agg(t, a, timestamptz '2026-01-01 00:00+00')).monetary
FROM (VALUES (timestamptz '2024-01-01 00:00+00', 123456789012345678901234.5::numeric),
             (timestamptz '2024-01-02 00:00+00', 0.000000000000000000000001)) v(t, a);

-- bad input
SELECT clm.rfm_agg(ordered_at, 'NaN'::numeric, timestamptz '2026-01-01 00:00+00') FROM orders;
SELECT clm.rfm_agg(ordered_at, 'Infinity'::numeric, timestamptz '2026-01-01 00:00+00') FROM orders;
SELECT clm.rfm_agg(ordered_at, 'NaN'::float8, timestamptz '2026-01-01 00:00+00') FROM orders;
SELECT clm.rfm_agg(ordered_at, '-Infinity'::float8, timestamptz '2026-01-01 00:00+00') FROM orders;
SELECT clm.rfm_agg(ordered_at, 1e300::float8, timestamptz '2026-01-01 00:00+00') FROM orders;
SELECT clm.rfm_agg(timestamptz 'infinity', 1::numeric, timestamptz '2026-01-01 00:00+00');
SELECT clm.rfm_agg(timestamptz '-infinity', 1::bigint, timestamptz '2026-01-01 00:00+00');
SELECT clm.rfm_agg(timestamptz '2024-01-01 00:00+00', 1::numeric, timestamptz 'infinity');
SELECT clm.rfm_agg(timestamptz '2024-01-01 00:00+00', 1::numeric, NULL);
SELECT clm.rfm_agg(ordered_at, amount, ordered_at) FROM orders WHERE ordered_at IS NOT NULL;
SELECT clm.rfm_agg(timestamptz '2024-01-01 00:00+00', 1e40::numeric, timestamptz '2026-01-01 00:00+00');
SELECT clm.rfm_agg(timestamptz '2024-01-01 00:00+00', 1e-40::numeric, timestamptz '2026-01-01 00:00+00');
SELECT clm.rfm_agg(timestamptz '2024-01-01 00:00+00', 9223372036854775807::bigint, timestamptz '2026-01-01 00:00+00')
FROM generate_series(1, 3);
SELECT clm.rfm_agg(timestamptz '2024-01-01 00:00+00', v, timestamptz '2026-01-01 00:00+00')
FROM (VALUES (1e30::numeric), (1e-8)) x(v);

-- ---------------------------------------------------------------------
-- clm.rfm_state: store per-day states, merge them, finish at as_of
-- ---------------------------------------------------------------------
CREATE TABLE daily AS
SELECT customer, date_trunc('day', ordered_at, 'UTC') AS day, clm.rfm_state_agg(ordered_at, amount) AS st
FROM orders WHERE ordered_at <= timestamptz '2026-01-01 00:00+00'
GROUP BY customer, date_trunc('day', ordered_at, 'UTC');
-- merged daily states give exactly the aggregate over the raw rows
SELECT count(*) AS customers,
       count(*) FILTER (WHERE m.r::text IS NOT DISTINCT FROM d.r::text) AS identical
FROM (SELECT customer, clm.rfm_final(clm.rfm_merge(st), timestamptz '2026-01-01 00:00+00') AS r
      FROM daily GROUP BY customer) m
JOIN (SELECT customer, clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00') AS r
      FROM orders GROUP BY customer) d USING (customer);
-- text round trip
SELECT count(*) FILTER (WHERE st::text::clm.rfm_state::text = st::text) AS round_trips, count(*) FROM daily;
SELECT clm.rfm_state_agg(t, a) AS st
FROM (VALUES (timestamptz '2000-01-01 00:00+00', 1.25), (timestamptz '2000-01-02 00:00+00', -0.5)) v(t, a);
-- binary round trip (COPY BINARY uses send/recv)
CREATE TABLE daily_copy (LIKE daily);
SELECT current_setting('data_directory') || '/clm_rfm_test.bin' AS binfile \gset
COPY daily TO :'binfile' (FORMAT binary);
COPY daily_copy FROM :'binfile' (FORMAT binary);
SELECT count(*) AS copied, count(*) FILTER (WHERE d.st::text = c.st::text) AS identical
FROM daily d JOIN daily_copy c USING (customer, day);
-- states with orders after as_of cannot be finished at that as_of
SELECT clm.rfm_final(clm.rfm_state_agg(ordered_at, amount), timestamptz '2024-06-01 00:00+00') FROM orders;
SELECT clm.rfm_final(st, 'infinity') FROM daily LIMIT 1;
-- numeric and double precision states do not mix
SELECT clm.rfm_merge(s) FROM (
    SELECT clm.rfm_state_agg(timestamptz '2024-01-01 00:00+00', 1::numeric) UNION ALL
    SELECT clm.rfm_state_agg(timestamptz '2024-01-01 00:00+00', 1::float8)) x(s);
-- bigint and numeric states do (both exact decimals)
SELECT clm.rfm_final(clm.rfm_merge(s), timestamptz '2024-02-01 00:00+00') FROM (
    SELECT clm.rfm_state_agg(timestamptz '2024-01-01 00:00+00', 1.5::numeric) UNION ALL
    SELECT clm.rfm_state_agg(timestamptz '2024-01-02 00:00+00', 2::bigint)) x(s);
-- merging nothing
SELECT clm.rfm_merge(st) IS NULL AS empty FROM daily WHERE false;

-- malformed text input
SELECT 'garbage'::clm.rfm_state;
SELECT '(2,d,0,0,1,0,5,5,5,,3)'::clm.rfm_state;
SELECT '(1,x,0,0,1,0,5,5,5,,3)'::clm.rfm_state;
SELECT '(1,d,0,0,1,0,5,5,5,,3'::clm.rfm_state;
SELECT '(1,d,0,0,1,0,5,5,5,3)'::clm.rfm_state;
SELECT '(1,d,0,0,1,0,5,5,5,,3) x'::clm.rfm_state;
SELECT '(1,d,0,0,1,0,6,5,6,,3)'::clm.rfm_state;            -- first after last
SELECT '(1,d,0,0,-1,0,0,0,0,,0)'::clm.rfm_state;           -- negative count
SELECT '(1,d,9,0,1,0,5,5,5,,3)'::clm.rfm_state;            -- scale out of range
SELECT '(1,n,0,0,0,0,0,0,0,,3)'::clm.rfm_state;            -- sum without rows
SELECT '(1,d,0,0,1,0,9223372036854775807,9223372036854775807,9223372036854775807,,3)'::clm.rfm_state;  -- infinite timestamps
SELECT '(1,d,0,0,1,0,5,5,5,,99999999999999999999999999999999999999999)'::clm.rfm_state;
SELECT '(1,d,0,0,1,0,5,5,5,,3)'::clm.rfm_state AS ok;
SELECT '(1,d,1,0,1,0,5,5,5,,12345)'::clm.rfm_state;        -- 1.2345 with display scale 0
SELECT (clm.rfm_final('(1,d,1,2,1,0,5,5,5,,12300)'::clm.rfm_state, timestamptz '2000-01-02 00:00+00')).monetary AS scale_2;
-- malformed binary input: a bytea column's COPY BINARY field read back as a state
CREATE TABLE raw (b bytea);
INSERT INTO raw VALUES ('\x01'), ('\x02010000000000000000000000000001'),
    (decode('0101000000000000' || repeat('00', 64), 'hex'));
CREATE TABLE st1 (s clm.rfm_state);
COPY (SELECT b FROM raw WHERE length(b) = 1) TO :'binfile' (FORMAT binary);
COPY st1 FROM :'binfile' (FORMAT binary);
COPY (SELECT b FROM raw WHERE length(b) = 16) TO :'binfile' (FORMAT binary);
COPY st1 FROM :'binfile' (FORMAT binary);
-- right length, version 1, kind 1 (decimal) but no rows: rejected by validation
COPY (SELECT b FROM raw WHERE length(b) = 72) TO :'binfile' (FORMAT binary);
COPY st1 FROM :'binfile' (FORMAT binary);

-- extreme but finite timestamps: tenure and gap span more than int64
-- microseconds and must still come out positive: 4714-11-24 BC (the
-- first valid timestamp) to 294276-12-31 is 109203527 days
SELECT abs((r).tenure_days - 109203527) < 1e-6 AS tenure_ok,
       abs((r).mean_gap_days - 109203526) < 1e-6 AS gap_ok,
       (r).recency_days = 1 AS recency_ok
FROM (SELECT clm.rfm_agg(t, a, '294276-12-31 00:00+00') AS r
      FROM (VALUES ('4714-11-24 00:00+00 BC'::timestamptz, 1::numeric),
                   ('294276-12-30 00:00+00', 2)) v(t, a)) s;
SELECT (f).tenure_days AS tenure, (f).mean_gap_days AS gap
FROM (SELECT clm.rfm_final('(1,d,0,0,2,0,-211813488000000000,9223371244800000000,9223371244800000000,,3)',
                           '294276-12-31 00:00+00') AS f) s;

-- not callable outside an aggregate
SELECT clm.rfm_trans(NULL::clm.rfm_state, now(), 1::numeric, now());
SELECT clm.rfm_combine(NULL::clm.rfm_state, NULL::clm.rfm_state);

RESET search_path;
DROP SCHEMA rfm_agg_test CASCADE;
