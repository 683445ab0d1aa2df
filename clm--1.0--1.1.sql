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
