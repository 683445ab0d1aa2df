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

CREATE FUNCTION @extschema@.rfm_thresholds_trans(internal, @extschema@.rfm) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_thresholds_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_trans(internal, @extschema@.rfm) IS
    'transition function of clm.rfm_thresholds(clm.rfm)';
CREATE FUNCTION @extschema@.rfm_thresholds_trans(internal, @extschema@.rfm, integer) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_thresholds_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_trans(internal, @extschema@.rfm, integer) IS
    'transition function of clm.rfm_thresholds(clm.rfm, integer)';
CREATE FUNCTION @extschema@.rfm_thresholds_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_thresholds_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_combine(internal, internal) IS
    'combine function of clm.rfm_thresholds';
CREATE FUNCTION @extschema@.rfm_thresholds_serialize(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'rfm_thresholds_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_serialize(internal) IS
    'serialize function of clm.rfm_thresholds';
CREATE FUNCTION @extschema@.rfm_thresholds_deserialize(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_thresholds_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_deserialize(bytea, internal) IS
    'deserialize function of clm.rfm_thresholds (validated)';
CREATE FUNCTION @extschema@.rfm_thresholds_final(internal) RETURNS @extschema@.rfm_thresholds
    AS 'MODULE_PATHNAME', 'rfm_thresholds_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_final(internal) IS
    'final function of clm.rfm_thresholds: exact tie-safe breakpoints';

CREATE AGGREGATE @extschema@.rfm_thresholds(rfm @extschema@.rfm) (
    SFUNC = @extschema@.rfm_thresholds_trans, STYPE = internal,
    FINALFUNC = @extschema@.rfm_thresholds_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = @extschema@.rfm_thresholds_combine,
    SERIALFUNC = @extschema@.rfm_thresholds_serialize,
    DESERIALFUNC = @extschema@.rfm_thresholds_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_thresholds(@extschema@.rfm) IS
    'quintile breakpoints (5 bins) per RFM dimension over a set of customers; ties never split';
CREATE AGGREGATE @extschema@.rfm_thresholds(rfm @extschema@.rfm, bins integer) (
    SFUNC = @extschema@.rfm_thresholds_trans, STYPE = internal,
    FINALFUNC = @extschema@.rfm_thresholds_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = @extschema@.rfm_thresholds_combine,
    SERIALFUNC = @extschema@.rfm_thresholds_serialize,
    DESERIALFUNC = @extschema@.rfm_thresholds_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_thresholds(@extschema@.rfm, integer) IS
    'quantile breakpoints (bins 2..9) per RFM dimension over a set of customers; ties never split';

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
