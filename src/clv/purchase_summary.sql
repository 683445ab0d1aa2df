-- ---------------------------------------------------------------------------
-- CLV: purchase summary (x, t_x, T, mean spend) of each customer
-- ---------------------------------------------------------------------------

-- The aggregate state as a real SQL type (exact sums, distinct purchase
-- days), so that partial states can be stored, merged and shipped between
-- nodes (postgres_fdw, Citus).
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

CREATE AGGREGATE @extschema@.purchase_summary(ordered_at timestamptz, amount numeric,
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
