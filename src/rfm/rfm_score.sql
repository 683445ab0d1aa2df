-- ---------------------------------------------------------------------------
-- RFM: tie-safe quantile thresholds and scores (doc/rfm.md)
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.rfm_thresholds AS (
    recency_breaks   double precision[],  -- ascending days; recency is scored in reverse
    frequency_breaks double precision[],  -- ascending purchase counts
    monetary_breaks  double precision[]   -- ascending money
);
COMMENT ON TYPE @extschema@.rfm_thresholds IS
    'RFM breakpoints per dimension: a value scores 1 + the number of breakpoints <= it (recency reversed)';

CREATE TYPE @extschema@.rfm_score AS (
    r     integer,   -- recency score: highest for the most recent customers
    f     integer,   -- frequency score
    m     integer,   -- monetary score
    score integer    -- r*100 + f*10 + m
);
COMMENT ON TYPE @extschema@.rfm_score IS 'RFM scores of one customer, as returned by clm.rfm_score';

-- The aggregate state as a real SQL type (every value of every dimension),
-- so that partial states can be stored, merged and shipped between nodes
-- (postgres_fdw, Citus).
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

CREATE AGGREGATE @extschema@.rfm_thresholds(rfm @extschema@.rfm) (
    SFUNC = @extschema@.rfm_thresholds_trans, STYPE = @extschema@.rfm_thresholds_state,
    FINALFUNC = @extschema@.rfm_thresholds_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = @extschema@.rfm_thresholds_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_thresholds(@extschema@.rfm) IS
    'quintile breakpoints (5 bins) per RFM dimension over a set of customers; ties never split';
CREATE AGGREGATE @extschema@.rfm_thresholds(rfm @extschema@.rfm, bins integer) (
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

CREATE FUNCTION @extschema@.rfm_thresholds(recency_breaks double precision[],
        frequency_breaks double precision[], monetary_breaks double precision[])
    RETURNS @extschema@.rfm_thresholds AS 'MODULE_PATHNAME', 'rfm_thresholds_make'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds(double precision[], double precision[], double precision[]) IS
    'business-defined RFM breakpoints (1..8 ascending values per dimension)';

CREATE FUNCTION @extschema@.rfm_score(rfm @extschema@.rfm, thresholds @extschema@.rfm_thresholds)
    RETURNS @extschema@.rfm_score AS 'MODULE_PATHNAME', 'rfm_score'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_score(@extschema@.rfm, @extschema@.rfm_thresholds) IS
    'RFM scores of a customer against breakpoints: identical values always share a score';
