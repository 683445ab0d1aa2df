-- ---------------------------------------------------------------------------
-- CLV: purchase summary (x, t_x, T, mean spend) of each customer
-- ---------------------------------------------------------------------------

-- clm.purchase_summary: orders -> (x, t_x, T, mean_spend) per customer

CREATE FUNCTION @extschema@.purchase_summary_transfn(internal, timestamptz, numeric, timestamptz, interval)
RETURNS internal
AS 'MODULE_PATHNAME', 'clm_purchase_summary_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_transfn(internal, timestamptz, numeric, timestamptz, interval) IS
    'transition function of clm.purchase_summary: collects (UTC day, amount) of the orders up to the cutoff';

CREATE FUNCTION @extschema@.purchase_summary_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'clm_purchase_summary_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_combine(internal, internal) IS
    'combine function of clm.purchase_summary (parallel aggregation)';

CREATE FUNCTION @extschema@.purchase_summary_serial(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'clm_purchase_summary_serial'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_serial(internal) IS
    'serialization function of clm.purchase_summary (parallel aggregation)';

CREATE FUNCTION @extschema@.purchase_summary_deserial(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'clm_purchase_summary_deserial'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_deserial(bytea, internal) IS
    'deserialization function of clm.purchase_summary; validates version, lengths and entries';

CREATE FUNCTION @extschema@.purchase_summary_final(internal)
RETURNS @extschema@.btyd_summary
AS 'MODULE_PATHNAME', 'clm_purchase_summary_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_final(internal) IS
    'final function of clm.purchase_summary: builds the clm.btyd_summary';

CREATE AGGREGATE @extschema@.purchase_summary(ordered_at timestamptz, amount numeric,
                                             cutoff timestamptz, unit interval) (
    SFUNC = @extschema@.purchase_summary_transfn,
    STYPE = internal,
    SSPACE = 256,
    FINALFUNC = @extschema@.purchase_summary_final,
    FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = @extschema@.purchase_summary_combine,
    SERIALFUNC = @extschema@.purchase_summary_serial,
    DESERIALFUNC = @extschema@.purchase_summary_deserial,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.purchase_summary(timestamptz, numeric, timestamptz, interval) IS
    'BTYD purchase summary per customer: x = repeat purchase days, t_x and T in unit, mean spend over repeat days (UTC days; same-day orders merged; orders after cutoff ignored)';

CREATE FUNCTION @extschema@.purchase_summary_decode(state bytea)
RETURNS @extschema@.btyd_summary
AS 'MODULE_PATHNAME', 'clm_purchase_summary_decode'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_decode(bytea) IS
    'the summary a serialized partial state of clm.purchase_summary stands for, with the deserializer''s validation (diagnostics and tests)';
