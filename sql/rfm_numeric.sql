--
-- rfm_numeric: the numeric amounts clm.rfm_agg reads (from numeric's stored
-- form, or through numeric_out for forms that path leaves alone) are the
-- numbers numeric_out prints: one amount comes back as its monetary
-- unchanged, digit for digit and scale for scale, and sums are numeric's
-- sum; what cannot be an amount is an error
--
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA rfm_numeric_test;
SET search_path = rfm_numeric_test, public;

-- one amount through clm.rfm_agg: its monetary as text
CREATE FUNCTION through_rfm(v numeric) RETURNS text LANGUAGE sql
RETURN (SELECT (clm.rfm_agg(timestamptz '2024-01-01 00:00+00', v, timestamptz '2024-06-01 00:00+00')).monetary::text);
-- and the error it raises, if any
CREATE FUNCTION error_of(v numeric) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM through_rfm(v);
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- edge values: zero in several scales, one digit group and its limits,
-- the most integer and fractional digits, the int64 and uint64 limits,
-- a display scale beyond the digits
SELECT v::text AS numeric_out, through_rfm(v) = v::text AS same
FROM (VALUES (0::numeric), (0.000), (-0.0), (1), (-1), (0.0001), (-0.0001), (9999), (10000), (9999.9999),
             (0.00000000000000000000000000000001),                    -- 32 decimals, the most
             (-0.12345678901234567890123456789012),
             (999999999999999999999999999999999999),                  -- 36 digits, the most
             (-999999999999999999999999999999999999),
             (100000000000000000000000000000000000),
             (1234.00000000000000000000000000000001),                 -- 36 digits across the point
             (9223372036854775807), (-9223372036854775808),           -- int64 limits
             (9223372036854775808), (-9223372036854775809),
             (18446744073709551615), (18446744073709551616),          -- uint64 limit
             (922337203685477.5807), (-922337203685477.5808),
             (1.5000000000), (2.0000000000000000000000000000000000000000)) x(v);

-- what cannot be an amount: NaN, infinities, more than 9 groups of four
-- digits or more than 8 after the point, values at the int128 limits, a
-- 1000-digit value
SELECT left(v::text, 40) AS numeric_out, error_of(v)
FROM (VALUES ('NaN'::numeric), ('Infinity'), ('-Infinity'),
             (1000000000000000000000000000000000000),                 -- 10^36
             (0.000000000000000000000000000000001),                   -- 10^-33
             (1234.000000000000000000000000000000001),                -- 37 digits
             (1234567890123456789012345678901234.56),                 -- 36 digits, 10 groups
             (170141183460469231731687303715884105727),               -- int128 max
             (-170141183460469231731687303715884105728),              -- int128 min
             (repeat('9', 1000)::numeric),
             (('0.' || repeat('0', 990) || '123456789')::numeric)) x(v);

-- sums up to the int128 limit: 170 times the largest amount fits, 171
-- times is an error; a refund brings it back
SELECT (clm.rfm_agg(timestamptz '2024-01-01 00:00+00', 999999999999999999999999999999999999::numeric,
                    timestamptz '2024-06-01 00:00+00')).monetary
       = 170 * 999999999999999999999999999999999999::numeric AS sum_170
FROM generate_series(1, 170);
SELECT clm.rfm_agg(timestamptz '2024-01-01 00:00+00', 999999999999999999999999999999999999::numeric,
                   timestamptz '2024-06-01 00:00+00')
FROM generate_series(1, 171);
SELECT (clm.rfm_agg(timestamptz '2024-01-01 00:00+00',
                    CASE WHEN i = 171 THEN -999999999999999999999999999999999999::numeric
                         ELSE 999999999999999999999999999999999999::numeric END,
                    timestamptz '2024-06-01 00:00+00')).monetary
       = 169 * 999999999999999999999999999999999999::numeric AS refund_last
FROM generate_series(1, 171) i;

-- random amounts from a fixed seed: the digits are counted in groups of
-- four from the decimal point, up to 9 groups of which up to 8 after the
-- point; either sign, some with more display scale than digits
CREATE FUNCTION random_digits(n int) RETURNS text LANGUAGE sql
RETURN (SELECT coalesce(string_agg(floor(random() * 10)::int::text, ''), '') FROM generate_series(1, n));
CREATE FUNCTION random_amount() RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    int_groups int := floor(random() * 10)::int;
    frac_groups int := floor(random() * (least(8, 9 - int_groups) + 1))::int;
    int_digits int := CASE WHEN int_groups = 0 THEN 1 ELSE 4 * (int_groups - 1) + 1 + floor(random() * 4)::int END;
    frac_digits int := CASE WHEN frac_groups = 0 THEN 0 ELSE 4 * (frac_groups - 1) + 1 + floor(random() * 4)::int END;
    amount text := random_digits(int_digits);
BEGIN
    IF frac_digits > 0 THEN
        amount := amount || '.' || random_digits(frac_digits) || repeat('0', floor(random() * 3)::int);
    END IF;
    RETURN ((CASE WHEN random() < 0.3 THEN '-' ELSE '' END) || amount)::numeric;
END
$$;
SELECT setseed(0.25);
CREATE TABLE amounts AS SELECT i, random_amount() AS v FROM generate_series(1, 5000) i;
SELECT count(*) AS amounts,
       count(DISTINCT scale(v)) AS scales,
       max(length(replace(replace(v::text, '-', ''), '.', ''))) AS most_digits,
       count(*) FILTER (WHERE v < 0) AS negative,
       count(*) FILTER (WHERE through_rfm(v) = v::text) AS same
FROM amounts;
-- sums of 50 amounts that fit 38 digits together (at most 18 integer and
-- 16 fractional digits), with refunds among them: numeric's sum
SELECT count(*) AS groups,
       count(*) FILTER (WHERE (r).monetary = s AND (r).monetary::text = s::text) AS same_sum
FROM (SELECT i % 60 AS g,
             clm.rfm_agg(timestamptz '2024-01-01 00:00+00' + i * interval '1 hour', v,
                         timestamptz '2025-01-01 00:00+00') AS r,
             sum(v) AS s
      FROM amounts WHERE abs(v) < 1e18 AND scale(v) <= 16
      GROUP BY 1) x;

-- numbers in stored forms numeric itself does not make (a leading or
-- trailing zero digit group, written through a stand-in type with bytea's
-- input) are read through numeric_out: the same values
-- (PostgreSQL 18 adds a cursor position to the shell-type notices: silenced)
SET client_min_messages = warning;
CREATE TYPE raw_numeric;
CREATE FUNCTION raw_numeric_in(cstring) RETURNS raw_numeric AS 'byteain' LANGUAGE internal IMMUTABLE STRICT;
CREATE FUNCTION raw_numeric_out(raw_numeric) RETURNS cstring AS 'byteaout' LANGUAGE internal IMMUTABLE STRICT;
CREATE TYPE raw_numeric (INPUT = raw_numeric_in, OUTPUT = raw_numeric_out,
                         INTERNALLENGTH = VARIABLE, ALIGNMENT = int4, STORAGE = plain);
RESET client_min_messages;
CREATE CAST (raw_numeric AS numeric) WITHOUT FUNCTION;
-- the long form, little-endian: sign and display scale, weight, digits
SELECT bytes, v::text AS numeric_out, through_rfm(v) AS monetary, through_rfm(v)::numeric = v AS same_value
FROM (VALUES ('\x000001000000e803'),            -- weight 1, digits 0, 1000: 1000
             ('\x044001000000e8030000'),        -- negative, dscale 4, weight 1, digits 0, 1000, 0: -1000.0000
             ('\x0400000005000000'),            -- dscale 4, weight 0, digits 5, 0: 5.0000
             ('\x0800ffff0000d2040000')) x(bytes),  -- dscale 8, weight -1, digits 0, 1234, 0: 0.00001234
     LATERAL (SELECT bytes::raw_numeric::numeric AS v) y;

RESET search_path;
DROP SCHEMA rfm_numeric_test CASCADE;
