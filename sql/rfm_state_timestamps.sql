--
-- rfm_state_timestamps: a clm.rfm_state holds only timestamps that
-- timestamptz can hold, whichever way it is made (text input, binary input,
-- the aggregates), so every state that exists can be printed, and its as_of
-- is either unset or a finite timestamp
--
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA rfm_state_ts_test;
SET search_path = rfm_state_ts_test, public;

-- microseconds since 2000-01-01 of the largest and smallest timestamptz
SELECT (extract(epoch FROM timestamptz '294276-12-31 23:59:59.999999+00' - timestamptz '2000-01-01 00:00+00') * 1000000)::bigint AS max_us,
       (extract(epoch FROM timestamptz '4714-11-24 00:00:00+00 BC' - timestamptz '2000-01-01 00:00+00') * 1000000)::bigint AS min_us;

-- run a query and return its error (or its result)
CREATE FUNCTION outcome(query text, OUT code text, OUT message text, OUT detail text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE query INTO message;
    code := 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
END
$$;

-- text input: the limits themselves are fine, one microsecond beyond is
-- not (22008), in every timestamp field; an as_of of -infinity or infinity
-- is an error, not "no as_of", which is an empty as_of field
SELECT '(1,d,1,2,1,0,9223371331199999999,9223371331199999999,9223371331199999999,9223371331199999999,250000)'::clm.rfm_state IS NOT NULL AS max_ok;
SELECT clm.rfm_final('(1,d,1,2,1,0,-211813488000000000,-211813488000000000,-211813488000000000,,250000)', timestamptz '2026-01-01 00:00+00');
SELECT input, o.*
FROM (VALUES ('(1,d,1,2,1,0,9223371331200000000,9223371331200000000,9223371331200000000,,250000)'),
             ('(1,d,1,2,1,0,-211813488000000001,0,0,,250000)'),
             ('(1,d,1,2,1,1,0,0,9223371331200000000,,250000)'),
             ('(1,d,1,2,1,0,0,0,0,9223371331200000000,250000)'),
             ('(1,d,1,2,1,0,0,0,0,-9223372036854775808,250000)'),
             ('(1,d,1,2,1,0,0,0,0,9223372036854775807,250000)'),
             ('(1,d,1,2,1,0,0,0,0,,250000)')) v(input),
     outcome(format('SELECT %L::clm.rfm_state::text', input)) o;
-- the error as psql shows it
SELECT '(1,d,1,2,1,0,0,0,0,-9223372036854775808,250000)'::clm.rfm_state;

-- binary input (COPY BINARY): the bytes of a state's send function, with
-- one 8-byte timestamp field replaced (first_at at byte 25, last_at 33,
-- latest_at 41, as_of 49), are read back through its receive function
CREATE TABLE raw (id int, bytes bytea);
CREATE TABLE states (id int, st clm.rfm_state);
CREATE FUNCTION with_field(st clm.rfm_state, pos int, v bigint) RETURNS bytea LANGUAGE sql
RETURN overlay(clm.rfm_state_send(st) PLACING int8send(v) FROM pos FOR 8);
-- a state without as_of: one purchase of 2.50 at 2000-01-01
CREATE TABLE base AS SELECT clm.rfm_state_agg(timestamptz '2000-01-01 00:00+00', 2.50) AS st;
SELECT st FROM base;
-- a helper to send the bytes through COPY BINARY into a clm.rfm_state column
CREATE FUNCTION copy_in(bytes bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    file text := current_setting('data_directory') || '/rfm_state_timestamps.bin';
    result text;
BEGIN
    TRUNCATE raw, states;
    INSERT INTO raw VALUES (1, bytes);
    EXECUTE format('COPY raw TO %L (FORMAT binary)', file);
    EXECUTE format('COPY states FROM %L (FORMAT binary)', file);
    SELECT st::text INTO result FROM states;
    RETURN result;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
-- unchanged bytes come back as they were
SELECT copy_in(clm.rfm_state_send(st)) FROM base;
SELECT copy_in(with_field(st, 25, -211813488000000001)) AS first_at_before FROM base;
SELECT copy_in(with_field(st, 33, 9223371331200000000)) AS last_at_beyond FROM base;
SELECT copy_in(with_field(st, 41, 9223371331200000000)) AS latest_at_beyond FROM base;
-- all three at the same instant beyond the range: the structure is
-- consistent, the timestamps are not
SELECT copy_in(overlay(overlay(with_field(st, 25, 9223371331200000000)
                               PLACING int8send(9223371331200000000) FROM 33 FOR 8)
                       PLACING int8send(9223371331200000000) FROM 41 FOR 8)) AS all_beyond FROM base;
-- a state with as_of (flag byte 3 set) whose as_of is out of range, or infinite
SELECT copy_in(overlay(with_field(st, 49, 9223371331200000000) PLACING '\x01'::bytea FROM 3 FOR 1)) AS as_of_beyond FROM base;
SELECT copy_in(overlay(with_field(st, 49, -9223372036854775808) PLACING '\x01'::bytea FROM 3 FOR 1)) AS as_of_minus_infinity FROM base;
SELECT copy_in(overlay(with_field(st, 49, 86400000000) PLACING '\x01'::bytea FROM 3 FOR 1)) AS as_of_valid FROM base;

-- the aggregates: a timestamptz beyond the range can only come from a
-- binary-coercible conversion, here int8up (which returns its argument)
-- declared as bigint -> timestamptz
CREATE FUNCTION raw_ts(bigint) RETURNS timestamptz AS 'int8up' LANGUAGE internal IMMUTABLE STRICT;
SELECT query, o.*
FROM (VALUES ($$SELECT clm.rfm_state_agg(raw_ts(9223371331200000000), 1.0)$$),
             ($$SELECT clm.rfm_agg(raw_ts(-211813488000000001), 1.0, timestamptz '2026-01-01 00:00+00')$$),
             ($$SELECT clm.rfm_agg(timestamptz '2024-01-01 00:00+00', 1.0, raw_ts(9223371331200000000))$$),
             ($$SELECT clm.rfm_agg_by_customer(1, raw_ts(9223371331200000000), 1.0, timestamptz '2026-01-01 00:00+00')$$),
             ($$SELECT clm.rfm_agg_by_customer(1, timestamptz '2024-01-01 00:00+00', 1.0, raw_ts(9223371331200000000))$$),
             ($$SELECT clm.rfm_final(clm.rfm_state_agg(timestamptz '2024-01-01 00:00+00', 1.0), raw_ts(9223371331200000000))$$),
             -- the moving (window) mode
             ($$SELECT clm.rfm_agg(t, 1.0, timestamptz '2026-01-01 00:00+00') OVER (ORDER BY n ROWS 1 PRECEDING)
                FROM (VALUES (1, timestamptz '2024-01-01 00:00+00'), (2, raw_ts(9223371331200000000))) v(n, t)
                ORDER BY n DESC LIMIT 1$$)) v(query),
     outcome(query) o;
-- the error as psql shows it
SELECT clm.rfm_agg(raw_ts(-211813488000000001), 1.0, timestamptz '2026-01-01 00:00+00');

RESET search_path;
DROP SCHEMA rfm_state_ts_test CASCADE;
