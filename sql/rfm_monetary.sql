--
-- rfm_monetary: clm.rfm_agg's monetary is exact, through the aggregate and
-- through stored states.  Numeric amounts of every display scale 0..40, sums
-- around the int64 bounds after scaling (both ways the final function builds
-- the numeric: directly or through text), mixed scales in one group, bigint
-- amounts at their bounds; every state clm produces reads back through text
-- and binary input; states with digits beyond their display scale are
-- rejected.  Every query answers with booleans or counts computed
-- independently in SQL.
--
\set VERBOSITY default
CREATE SCHEMA rfm_monetary_test;
SET search_path = rfm_monetary_test, public;
SET extra_float_digits = 3;

-- ---------------------------------------------------------------------
-- monetary: one amount per group, every display scale 0..40, around the
-- bigint bounds after scaling, both signs; must equal the amount exactly
-- (value and scale, compared as text)
-- ---------------------------------------------------------------------
CREATE TABLE one_amount AS
SELECT row_number() OVER () AS g, a
FROM (SELECT trunc(sgn * base * 10::numeric ^ k + delta, d) AS a
      FROM generate_series(0, 40) d, generate_series(-30, 18, 3) k,
           (VALUES (9.223372036854775807), (9.223372036854775808), (1.0), (9.999999999999999999)) b(base),
           (VALUES (1), (-1)) s(sgn), (VALUES (0), (0.5), (-1)) dd(delta)) x
WHERE abs(a) < 1e35 AND a = trunc(a, 32);
SELECT count(*) > 10000 AS enough,
       count(*) FILTER (WHERE (m).monetary::text IS DISTINCT FROM a::text) AS mismatches
FROM (SELECT g, a, clm.rfm_agg(timestamptz '2024-01-01 00:00+00', a, timestamptz '2026-01-01 00:00+00') AS m
      FROM one_amount GROUP BY g, a) q;

-- zero with a scale, and sums that land on the bigint bounds after scaling
SELECT g, (clm.rfm_agg(timestamptz '2024-01-01 00:00+00', a, timestamptz '2026-01-01 00:00+00')).monetary::text
          = sum(a)::text AS same
FROM (VALUES (1, 0.000::numeric), (1, 0.0000000000000000000000000000000000000000),
             (2, 922337203685477580.6), (2, 0.1), (2, 0.00),
             (3, -922337203685477580.7), (3, -0.1), (3, 0),
             (4, 922337203685477580.7), (4, 0.1),
             (5, -922337203685477580.8), (5, -0.1),
             (6, 9.223372036854775807), (6, -18.446744073709551614),
             (7, 1.5), (7, -1.50), (7, 0.000000000000000000001)) v(g, a)
GROUP BY g ORDER BY g;

-- mixed scales in one group (deterministic pseudo-random amounts, scale
-- 0 to 24 within a group, refunds included), and the same sums through a
-- stored state: rfm_state_agg -> text -> clm.rfm_state -> clm.rfm_final
CREATE TABLE mixed AS
SELECT i % 500 AS g,
       timestamptz '2024-01-01 00:00+00' + (i % 97) * interval '1 day' AS t,
       round(((hashint4(i) % 100000)::numeric / 7) * 10::numeric ^ (i % 13 - 6), (i * 7) % 25) AS a
FROM generate_series(1, 10000) i;
SELECT count(*) AS groups,
       count(*) FILTER (WHERE (m).monetary::text IS DISTINCT FROM s::text) AS agg_mismatches,
       count(*) FILTER (WHERE (f).monetary::text IS DISTINCT FROM s::text) AS state_mismatches,
       count(*) FILTER (WHERE m IS DISTINCT FROM f) AS row_mismatches
FROM (SELECT g, clm.rfm_agg(t, a, timestamptz '2026-01-01 00:00+00') AS m, sum(a) AS s,
             clm.rfm_final(clm.rfm_state_agg(t, a)::text::clm.rfm_state, timestamptz '2026-01-01 00:00+00') AS f
      FROM mixed GROUP BY g) q;

-- bigint amounts, the bounds included, through the aggregate and a state
SELECT g, (clm.rfm_agg(timestamptz '2024-01-01 00:00+00', a, timestamptz '2026-01-01 00:00+00')).monetary::text
          = sum(a)::text AS agg_same,
       (clm.rfm_final(clm.rfm_state_agg(timestamptz '2024-01-01 00:00+00', a)::text::clm.rfm_state,
                      timestamptz '2026-01-01 00:00+00')).monetary::text = sum(a)::text AS state_same
FROM (VALUES (1, 9223372036854775807::bigint), (2, -9223372036854775808), (3, 9223372036854775807), (3, 1),
             (4, -9223372036854775808), (4, -1), (5, 0), (6, 9223372036854775807), (6, 9223372036854775807),
             (6, -42)) v(g, a)
GROUP BY g ORDER BY g;

-- every state clm produces passes text and binary input again (numeric,
-- bigint and double precision amounts, refunds, a rescaled group)
CREATE TABLE produced AS
SELECT clm.rfm_state_agg(t, a) AS s FROM mixed GROUP BY g
UNION ALL SELECT clm.rfm_state_agg(t, a::bigint) FROM mixed GROUP BY g
UNION ALL SELECT clm.rfm_state_agg(t, a::float8) FROM mixed WHERE abs(a) < 1e15 GROUP BY g
UNION ALL SELECT clm.rfm_merge(s) FROM (SELECT clm.rfm_state_agg(t, a::bigint) AS s FROM mixed GROUP BY g
                                        UNION ALL SELECT clm.rfm_state_agg(t, a) FROM mixed GROUP BY g % 7) x;
SELECT current_setting('data_directory') || '/clm_rfm_monetary_states.bin' AS statefile \gset
COPY produced TO :'statefile' (FORMAT binary);
CREATE TABLE produced_back (s clm.rfm_state);
COPY produced_back FROM :'statefile' (FORMAT binary);
SELECT (SELECT count(*) FROM produced) AS produced,
       (SELECT count(*) FROM produced p WHERE p.s::text::clm.rfm_state::text = p.s::text) AS text_round_trip,
       (SELECT count(*) FROM produced_back) AS binary_round_trip,
       (SELECT array_agg(s::text ORDER BY s::text) FROM produced)
       = (SELECT array_agg(s::text ORDER BY s::text) FROM produced_back) AS binary_same;

-- hand-made states with digits beyond the display scale are rejected
SELECT '(1,d,8,0,1,0,5,5,5,,1)'::clm.rfm_state;
SELECT '(1,d,8,31,1,0,5,5,5,,-9223372036854775801)'::clm.rfm_state;
-- and the largest ones that are allowed give the exact value
SELECT (clm.rfm_final('(1,d,8,1000,1,0,5,5,5,,-170141183460469231731687303715884105728)'::clm.rfm_state,
                      timestamptz '2000-01-02 00:00+00')).monetary
       = -1701411.83460469231731687303715884105728 AS int128_min_ok,
       (clm.rfm_final('(1,d,8,31,1,0,5,5,5,,-9223372036854775800)'::clm.rfm_state,
                      timestamptz '2000-01-02 00:00+00')).monetary::text
       = '-0.0000000000000922337203685477580' AS scale_31_ok;

RESET search_path;
DROP SCHEMA rfm_monetary_test CASCADE;
