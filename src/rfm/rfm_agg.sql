-- ---------------------------------------------------------------------------
-- RFM: the per-customer recency / frequency / monetary aggregate and its
-- storable state (doc/rfm.md)
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.rfm AS (
    recency_days    double precision,   -- as_of - last purchase, in days; NULL without purchases
    frequency       bigint,             -- purchases (rows with amount >= 0)
    monetary        numeric,            -- exact sum of all amounts, refunds included
    first_at        timestamptz,        -- first purchase
    last_at         timestamptz,        -- last purchase
    tenure_days     double precision,   -- as_of - first purchase, in days
    mean_gap_days   double precision    -- mean days between consecutive purchases; NULL below 2
);
COMMENT ON TYPE @extschema@.rfm IS
    'per-customer RFM metrics as returned by clm.rfm_agg and clm.rfm_final';

-- The aggregate state as a real SQL type, so that states can be stored,
-- merged later (incremental refresh) and shipped between nodes (Citus).
CREATE TYPE @extschema@.rfm_state;

CREATE FUNCTION @extschema@.rfm_state_in(cstring) RETURNS @extschema@.rfm_state
    AS 'MODULE_PATHNAME', 'rfm_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_in(cstring) IS 'text input of clm.rfm_state (validated)';
CREATE FUNCTION @extschema@.rfm_state_out(@extschema@.rfm_state) RETURNS cstring
    AS 'MODULE_PATHNAME', 'rfm_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_out(@extschema@.rfm_state) IS 'text output of clm.rfm_state';
CREATE FUNCTION @extschema@.rfm_state_recv(internal) RETURNS @extschema@.rfm_state
    AS 'MODULE_PATHNAME', 'rfm_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_recv(internal) IS 'binary input of clm.rfm_state (validated)';
CREATE FUNCTION @extschema@.rfm_state_send(@extschema@.rfm_state) RETURNS bytea
    AS 'MODULE_PATHNAME', 'rfm_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_send(@extschema@.rfm_state) IS 'binary output of clm.rfm_state';

CREATE TYPE @extschema@.rfm_state (
    INPUT = @extschema@.rfm_state_in,
    OUTPUT = @extschema@.rfm_state_out,
    RECEIVE = @extschema@.rfm_state_recv,
    SEND = @extschema@.rfm_state_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE @extschema@.rfm_state IS
    'mergeable partial RFM state (counts, first/last purchase, exact sum); build with clm.rfm_state_agg, merge with clm.rfm_merge, finish with clm.rfm_final';

-- transition, combine and final functions
CREATE FUNCTION @extschema@.rfm_trans(@extschema@.rfm_state, timestamptz, numeric, timestamptz)
    RETURNS @extschema@.rfm_state AS 'MODULE_PATHNAME', 'rfm_trans_numeric'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_trans(@extschema@.rfm_state, timestamptz, numeric, timestamptz) IS
    'transition function of clm.rfm_agg(timestamptz, numeric, timestamptz)';
CREATE FUNCTION @extschema@.rfm_trans(@extschema@.rfm_state, timestamptz, double precision, timestamptz)
    RETURNS @extschema@.rfm_state AS 'MODULE_PATHNAME', 'rfm_trans_float8'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_trans(@extschema@.rfm_state, timestamptz, double precision, timestamptz) IS
    'transition function of clm.rfm_agg(timestamptz, double precision, timestamptz)';
CREATE FUNCTION @extschema@.rfm_trans(@extschema@.rfm_state, timestamptz, bigint, timestamptz)
    RETURNS @extschema@.rfm_state AS 'MODULE_PATHNAME', 'rfm_trans_int8'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_trans(@extschema@.rfm_state, timestamptz, bigint, timestamptz) IS
    'transition function of clm.rfm_agg(timestamptz, bigint, timestamptz)';

CREATE FUNCTION @extschema@.rfm_state_trans(@extschema@.rfm_state, timestamptz, numeric)
    RETURNS @extschema@.rfm_state AS 'MODULE_PATHNAME', 'rfm_state_trans_numeric'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_trans(@extschema@.rfm_state, timestamptz, numeric) IS
    'transition function of clm.rfm_state_agg(timestamptz, numeric)';
CREATE FUNCTION @extschema@.rfm_state_trans(@extschema@.rfm_state, timestamptz, double precision)
    RETURNS @extschema@.rfm_state AS 'MODULE_PATHNAME', 'rfm_state_trans_float8'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_trans(@extschema@.rfm_state, timestamptz, double precision) IS
    'transition function of clm.rfm_state_agg(timestamptz, double precision)';
CREATE FUNCTION @extschema@.rfm_state_trans(@extschema@.rfm_state, timestamptz, bigint)
    RETURNS @extschema@.rfm_state AS 'MODULE_PATHNAME', 'rfm_state_trans_int8'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_trans(@extschema@.rfm_state, timestamptz, bigint) IS
    'transition function of clm.rfm_state_agg(timestamptz, bigint)';

CREATE FUNCTION @extschema@.rfm_combine(@extschema@.rfm_state, @extschema@.rfm_state)
    RETURNS @extschema@.rfm_state AS 'MODULE_PATHNAME', 'rfm_combine'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_combine(@extschema@.rfm_state, @extschema@.rfm_state) IS
    'combine function of the RFM aggregates and transition function of clm.rfm_merge';

CREATE FUNCTION @extschema@.rfm_agg_final(@extschema@.rfm_state) RETURNS @extschema@.rfm
    AS 'MODULE_PATHNAME', 'rfm_agg_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_agg_final(@extschema@.rfm_state) IS
    'final function of clm.rfm_agg (the state carries as_of)';

CREATE FUNCTION @extschema@.rfm_final(state @extschema@.rfm_state, as_of timestamptz)
    RETURNS @extschema@.rfm AS 'MODULE_PATHNAME', 'rfm_final'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_final(@extschema@.rfm_state, timestamptz) IS
    'RFM metrics of a stored or merged state at as_of; error if the state holds orders after as_of';

-- moving-aggregate (window frame) support
CREATE FUNCTION @extschema@.rfm_mtrans(internal, timestamptz, numeric, timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_mtrans_numeric' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_mtrans(internal, timestamptz, numeric, timestamptz) IS
    'moving-mode forward transition of clm.rfm_agg(timestamptz, numeric, timestamptz)';
CREATE FUNCTION @extschema@.rfm_mtrans(internal, timestamptz, double precision, timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_mtrans_float8' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_mtrans(internal, timestamptz, double precision, timestamptz) IS
    'moving-mode forward transition of clm.rfm_agg(timestamptz, double precision, timestamptz)';
CREATE FUNCTION @extschema@.rfm_mtrans(internal, timestamptz, bigint, timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_mtrans_int8' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_mtrans(internal, timestamptz, bigint, timestamptz) IS
    'moving-mode forward transition of clm.rfm_agg(timestamptz, bigint, timestamptz)';
CREATE FUNCTION @extschema@.rfm_minv(internal, timestamptz, numeric, timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_minv_numeric' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_minv(internal, timestamptz, numeric, timestamptz) IS
    'moving-mode inverse transition of clm.rfm_agg(timestamptz, numeric, timestamptz)';
CREATE FUNCTION @extschema@.rfm_minv(internal, timestamptz, double precision, timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_minv_float8' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_minv(internal, timestamptz, double precision, timestamptz) IS
    'moving-mode inverse transition of clm.rfm_agg(timestamptz, double precision, timestamptz)';
CREATE FUNCTION @extschema@.rfm_minv(internal, timestamptz, bigint, timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_minv_int8' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_minv(internal, timestamptz, bigint, timestamptz) IS
    'moving-mode inverse transition of clm.rfm_agg(timestamptz, bigint, timestamptz)';
CREATE FUNCTION @extschema@.rfm_mfinal(internal) RETURNS @extschema@.rfm
    AS 'MODULE_PATHNAME', 'rfm_mfinal' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_mfinal(internal) IS 'moving-mode final function of clm.rfm_agg';

CREATE AGGREGATE @extschema@.rfm_agg(ordered_at timestamptz, amount numeric, as_of timestamptz) (
    SFUNC = @extschema@.rfm_trans, STYPE = @extschema@.rfm_state,
    FINALFUNC = @extschema@.rfm_agg_final, COMBINEFUNC = @extschema@.rfm_combine,
    MSFUNC = @extschema@.rfm_mtrans, MINVFUNC = @extschema@.rfm_minv, MSTYPE = internal,
    MFINALFUNC = @extschema@.rfm_mfinal, MSSPACE = 256,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_agg(timestamptz, numeric, timestamptz) IS
    'RFM metrics of one customer at as_of: NULL rows skipped, refunds lower monetary only, orders after as_of ignored';
CREATE AGGREGATE @extschema@.rfm_agg(ordered_at timestamptz, amount double precision, as_of timestamptz) (
    SFUNC = @extschema@.rfm_trans, STYPE = @extschema@.rfm_state,
    FINALFUNC = @extschema@.rfm_agg_final, COMBINEFUNC = @extschema@.rfm_combine,
    MSFUNC = @extschema@.rfm_mtrans, MINVFUNC = @extschema@.rfm_minv, MSTYPE = internal,
    MFINALFUNC = @extschema@.rfm_mfinal, MSSPACE = 256,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_agg(timestamptz, double precision, timestamptz) IS
    'RFM metrics of one customer at as_of, double precision amounts (summed in 2^-64 fixed point)';
CREATE AGGREGATE @extschema@.rfm_agg(ordered_at timestamptz, amount bigint, as_of timestamptz) (
    SFUNC = @extschema@.rfm_trans, STYPE = @extschema@.rfm_state,
    FINALFUNC = @extschema@.rfm_agg_final, COMBINEFUNC = @extschema@.rfm_combine,
    MSFUNC = @extschema@.rfm_mtrans, MINVFUNC = @extschema@.rfm_minv, MSTYPE = internal,
    MFINALFUNC = @extschema@.rfm_mfinal, MSSPACE = 256,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_agg(timestamptz, bigint, timestamptz) IS
    'RFM metrics of one customer at as_of, bigint amounts (e.g. cents)';

CREATE AGGREGATE @extschema@.rfm_state_agg(ordered_at timestamptz, amount numeric) (
    SFUNC = @extschema@.rfm_state_trans, STYPE = @extschema@.rfm_state,
    COMBINEFUNC = @extschema@.rfm_combine, PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_state_agg(timestamptz, numeric) IS
    'partial RFM state of the rows (no as_of yet), to store and merge later';
CREATE AGGREGATE @extschema@.rfm_state_agg(ordered_at timestamptz, amount double precision) (
    SFUNC = @extschema@.rfm_state_trans, STYPE = @extschema@.rfm_state,
    COMBINEFUNC = @extschema@.rfm_combine, PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_state_agg(timestamptz, double precision) IS
    'partial RFM state of the rows, double precision amounts';
CREATE AGGREGATE @extschema@.rfm_state_agg(ordered_at timestamptz, amount bigint) (
    SFUNC = @extschema@.rfm_state_trans, STYPE = @extschema@.rfm_state,
    COMBINEFUNC = @extschema@.rfm_combine, PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_state_agg(timestamptz, bigint) IS
    'partial RFM state of the rows, bigint amounts';

CREATE AGGREGATE @extschema@.rfm_merge(@extschema@.rfm_state) (
    SFUNC = @extschema@.rfm_combine, STYPE = @extschema@.rfm_state,
    COMBINEFUNC = @extschema@.rfm_combine, PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_merge(@extschema@.rfm_state) IS
    'merge stored RFM states (e.g. daily states per customer) into one';

-- every customer of a query in one aggregate (states inline in one hash table)
