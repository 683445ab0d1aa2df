-- clm--1.0--1.1.sql: update clm from 1.0 to 1.1 (ALTER EXTENSION clm UPDATE).
--
-- Every SQL change made for 1.1 goes both into its source under src/ (which
-- builds the install script clm--1.1.sql) and here, so that a database on
-- 1.0 ends with the same catalog as a fresh install of 1.1 (test/t/070
-- compares the two).

\echo Use "ALTER EXTENSION clm UPDATE TO '1.1'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- clm.purchase_summary: a real, mergeable state with exact sums
-- (clm.purchase_summary_state) instead of an internal one, so that partial
-- states can cross nodes and be stored.  The aggregate is replaced in place
-- (same argument and result types), so views over it keep working; the
-- support functions of the internal state then serve nothing and go.
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.purchase_summary_state;

CREATE FUNCTION @extschema@.purchase_summary_state_in(cstring) RETURNS @extschema@.purchase_summary_state
    AS 'MODULE_PATHNAME', 'clm_purchase_summary_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_state_in(cstring) IS
    'text input of clm.purchase_summary_state (hexadecimal binary form, validated)';
CREATE FUNCTION @extschema@.purchase_summary_state_out(@extschema@.purchase_summary_state) RETURNS cstring
    AS 'MODULE_PATHNAME', 'clm_purchase_summary_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_state_out(@extschema@.purchase_summary_state) IS
    'text output of clm.purchase_summary_state';
CREATE FUNCTION @extschema@.purchase_summary_state_recv(internal) RETURNS @extschema@.purchase_summary_state
    AS 'MODULE_PATHNAME', 'clm_purchase_summary_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_state_recv(internal) IS
    'binary input of clm.purchase_summary_state (validated)';
CREATE FUNCTION @extschema@.purchase_summary_state_send(@extschema@.purchase_summary_state) RETURNS bytea
    AS 'MODULE_PATHNAME', 'clm_purchase_summary_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_state_send(@extschema@.purchase_summary_state) IS
    'binary output of clm.purchase_summary_state';

CREATE TYPE @extschema@.purchase_summary_state (
    INPUT = @extschema@.purchase_summary_state_in,
    OUTPUT = @extschema@.purchase_summary_state_out,
    RECEIVE = @extschema@.purchase_summary_state_recv,
    SEND = @extschema@.purchase_summary_state_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE @extschema@.purchase_summary_state IS
    'mergeable partial purchase summary (cutoff, unit, distinct purchase days, exact sums); build with clm.purchase_summary_state_agg, merge with clm.purchase_summary_merge, finish with clm.purchase_summary_final';

CREATE FUNCTION @extschema@.purchase_summary_trans(@extschema@.purchase_summary_state,
        timestamptz, numeric, timestamptz, interval)
    RETURNS @extschema@.purchase_summary_state
    AS 'MODULE_PATHNAME', 'clm_purchase_summary_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_trans(@extschema@.purchase_summary_state, timestamptz, numeric, timestamptz, interval) IS
    'transition function of clm.purchase_summary and clm.purchase_summary_state_agg: counts the UTC day and the exact amount of an order up to the cutoff';

CREATE FUNCTION @extschema@.purchase_summary_combine(@extschema@.purchase_summary_state,
        @extschema@.purchase_summary_state)
    RETURNS @extschema@.purchase_summary_state
    AS 'MODULE_PATHNAME', 'clm_purchase_summary_state_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_combine(@extschema@.purchase_summary_state, @extschema@.purchase_summary_state) IS
    'combine function of the purchase summary aggregates and transition function of clm.purchase_summary_merge';

CREATE FUNCTION @extschema@.purchase_summary_final(state @extschema@.purchase_summary_state)
    RETURNS @extschema@.btyd_summary
    AS 'MODULE_PATHNAME', 'clm_purchase_summary_state_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_final(@extschema@.purchase_summary_state) IS
    'the clm.btyd_summary of a purchase summary state (NULL without orders up to the cutoff); final function of clm.purchase_summary';

CREATE OR REPLACE AGGREGATE @extschema@.purchase_summary(ordered_at timestamptz, amount numeric,
                                             cutoff timestamptz, unit interval) (
    SFUNC = @extschema@.purchase_summary_trans,
    STYPE = @extschema@.purchase_summary_state,
    SSPACE = 104,
    FINALFUNC = @extschema@.purchase_summary_final,
    COMBINEFUNC = @extschema@.purchase_summary_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.purchase_summary(timestamptz, numeric, timestamptz, interval) IS
    'BTYD purchase summary per customer: x = repeat purchase days, t_x and T in unit, mean spend over repeat days (UTC days; same-day orders merged; orders after cutoff ignored; exact sums)';

CREATE AGGREGATE @extschema@.purchase_summary_state_agg(ordered_at timestamptz, amount numeric,
                                                       cutoff timestamptz, unit interval) (
    SFUNC = @extschema@.purchase_summary_trans,
    STYPE = @extschema@.purchase_summary_state,
    SSPACE = 104,
    COMBINEFUNC = @extschema@.purchase_summary_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.purchase_summary_state_agg(timestamptz, numeric, timestamptz, interval) IS
    'partial purchase summary state of the orders, to store or ship and merge later with clm.purchase_summary_merge';

CREATE AGGREGATE @extschema@.purchase_summary_merge(@extschema@.purchase_summary_state) (
    SFUNC = @extschema@.purchase_summary_combine,
    STYPE = @extschema@.purchase_summary_state,
    COMBINEFUNC = @extschema@.purchase_summary_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.purchase_summary_merge(@extschema@.purchase_summary_state) IS
    'merge purchase summary states (e.g. one per shard) into one; the same orders give the same state in any split and order';

DROP FUNCTION @extschema@.purchase_summary_decode(bytea);
DROP FUNCTION @extschema@.purchase_summary_transfn(internal, timestamptz, numeric, timestamptz, interval);
DROP FUNCTION @extschema@.purchase_summary_combine(internal, internal);
DROP FUNCTION @extschema@.purchase_summary_serial(internal);
DROP FUNCTION @extschema@.purchase_summary_deserial(bytea, internal);
DROP FUNCTION @extschema@.purchase_summary_final(internal);

-- ---------------------------------------------------------------------------
-- clm.rfm_thresholds: a real, mergeable state (clm.rfm_thresholds_state)
-- instead of an internal one; the aggregates are replaced in place, the
-- support functions of the internal state go.
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.rfm_thresholds_state;

CREATE FUNCTION @extschema@.rfm_thresholds_state_in(cstring) RETURNS @extschema@.rfm_thresholds_state
    AS 'MODULE_PATHNAME', 'rfm_thresholds_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_state_in(cstring) IS
    'text input of clm.rfm_thresholds_state (hexadecimal binary form, validated)';
CREATE FUNCTION @extschema@.rfm_thresholds_state_out(@extschema@.rfm_thresholds_state) RETURNS cstring
    AS 'MODULE_PATHNAME', 'rfm_thresholds_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_state_out(@extschema@.rfm_thresholds_state) IS
    'text output of clm.rfm_thresholds_state';
CREATE FUNCTION @extschema@.rfm_thresholds_state_recv(internal) RETURNS @extschema@.rfm_thresholds_state
    AS 'MODULE_PATHNAME', 'rfm_thresholds_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_state_recv(internal) IS
    'binary input of clm.rfm_thresholds_state (validated)';
CREATE FUNCTION @extschema@.rfm_thresholds_state_send(@extschema@.rfm_thresholds_state) RETURNS bytea
    AS 'MODULE_PATHNAME', 'rfm_thresholds_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_state_send(@extschema@.rfm_thresholds_state) IS
    'binary output of clm.rfm_thresholds_state';

CREATE TYPE @extschema@.rfm_thresholds_state (
    INPUT = @extschema@.rfm_thresholds_state_in,
    OUTPUT = @extschema@.rfm_thresholds_state_out,
    RECEIVE = @extschema@.rfm_thresholds_state_recv,
    SEND = @extschema@.rfm_thresholds_state_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = extended
);
COMMENT ON TYPE @extschema@.rfm_thresholds_state IS
    'mergeable partial state of clm.rfm_thresholds (bins and every recency, frequency and monetary value); build with clm.rfm_thresholds_state_agg, merge with clm.rfm_thresholds_merge, finish with clm.rfm_thresholds_final';

CREATE FUNCTION @extschema@.rfm_thresholds_trans(@extschema@.rfm_thresholds_state, @extschema@.rfm)
    RETURNS @extschema@.rfm_thresholds_state
    AS 'MODULE_PATHNAME', 'rfm_thresholds_state_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_trans(@extschema@.rfm_thresholds_state, @extschema@.rfm) IS
    'transition function of clm.rfm_thresholds(clm.rfm) and clm.rfm_thresholds_state_agg(clm.rfm)';
CREATE FUNCTION @extschema@.rfm_thresholds_trans(@extschema@.rfm_thresholds_state, @extschema@.rfm, integer)
    RETURNS @extschema@.rfm_thresholds_state
    AS 'MODULE_PATHNAME', 'rfm_thresholds_state_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_trans(@extschema@.rfm_thresholds_state, @extschema@.rfm, integer) IS
    'transition function of clm.rfm_thresholds(clm.rfm, integer) and clm.rfm_thresholds_state_agg(clm.rfm, integer)';
CREATE FUNCTION @extschema@.rfm_thresholds_combine(@extschema@.rfm_thresholds_state, @extschema@.rfm_thresholds_state)
    RETURNS @extschema@.rfm_thresholds_state
    AS 'MODULE_PATHNAME', 'rfm_thresholds_state_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_combine(@extschema@.rfm_thresholds_state, @extschema@.rfm_thresholds_state) IS
    'combine function of the RFM threshold aggregates and transition function of clm.rfm_thresholds_merge';
CREATE FUNCTION @extschema@.rfm_thresholds_final(state @extschema@.rfm_thresholds_state)
    RETURNS @extschema@.rfm_thresholds
    AS 'MODULE_PATHNAME', 'rfm_thresholds_state_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_final(@extschema@.rfm_thresholds_state) IS
    'exact tie-safe breakpoints of a threshold state (NULL without values); final function of clm.rfm_thresholds';

CREATE OR REPLACE AGGREGATE @extschema@.rfm_thresholds(rfm @extschema@.rfm) (
    SFUNC = @extschema@.rfm_thresholds_trans, STYPE = @extschema@.rfm_thresholds_state,
    FINALFUNC = @extschema@.rfm_thresholds_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = @extschema@.rfm_thresholds_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_thresholds(@extschema@.rfm) IS
    'quintile breakpoints (5 bins) per RFM dimension over a set of customers; ties never split';
CREATE OR REPLACE AGGREGATE @extschema@.rfm_thresholds(rfm @extschema@.rfm, bins integer) (
    SFUNC = @extschema@.rfm_thresholds_trans, STYPE = @extschema@.rfm_thresholds_state,
    FINALFUNC = @extschema@.rfm_thresholds_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = @extschema@.rfm_thresholds_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_thresholds(@extschema@.rfm, integer) IS
    'quantile breakpoints (bins 2..9) per RFM dimension over a set of customers; ties never split';

CREATE AGGREGATE @extschema@.rfm_thresholds_state_agg(rfm @extschema@.rfm) (
    SFUNC = @extschema@.rfm_thresholds_trans, STYPE = @extschema@.rfm_thresholds_state,
    COMBINEFUNC = @extschema@.rfm_thresholds_combine, PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_thresholds_state_agg(@extschema@.rfm) IS
    'partial state of clm.rfm_thresholds (5 bins), to store or ship and merge later with clm.rfm_thresholds_merge';
CREATE AGGREGATE @extschema@.rfm_thresholds_state_agg(rfm @extschema@.rfm, bins integer) (
    SFUNC = @extschema@.rfm_thresholds_trans, STYPE = @extschema@.rfm_thresholds_state,
    COMBINEFUNC = @extschema@.rfm_thresholds_combine, PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_thresholds_state_agg(@extschema@.rfm, integer) IS
    'partial state of clm.rfm_thresholds(rfm, bins), to store or ship and merge later';
CREATE AGGREGATE @extschema@.rfm_thresholds_merge(@extschema@.rfm_thresholds_state) (
    SFUNC = @extschema@.rfm_thresholds_combine, STYPE = @extschema@.rfm_thresholds_state,
    COMBINEFUNC = @extschema@.rfm_thresholds_combine, PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_thresholds_merge(@extschema@.rfm_thresholds_state) IS
    'merge threshold states (e.g. one per shard) into one; the breakpoints do not depend on the split or order';

DROP FUNCTION @extschema@.rfm_thresholds_trans(internal, @extschema@.rfm);
DROP FUNCTION @extschema@.rfm_thresholds_trans(internal, @extschema@.rfm, integer);
DROP FUNCTION @extschema@.rfm_thresholds_combine(internal, internal);
DROP FUNCTION @extschema@.rfm_thresholds_serialize(internal);
DROP FUNCTION @extschema@.rfm_thresholds_deserialize(bytea, internal);
DROP FUNCTION @extschema@.rfm_thresholds_final(internal);
