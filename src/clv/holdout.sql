-- ---------------------------------------------------------------------------
-- CLV: holdout validation (holdout purchases per customer, accuracy report)
-- ---------------------------------------------------------------------------

-- clm.holdout_purchases: orders -> distinct UTC purchase days in the holdout

CREATE FUNCTION @extschema@.holdout_purchases_transfn(internal, timestamptz, timestamptz, interval)
RETURNS internal
AS 'MODULE_PATHNAME', 'clm_holdout_purchases_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.holdout_purchases_transfn(internal, timestamptz, timestamptz, interval) IS
    'transition function of clm.holdout_purchases: collects the UTC days of the orders in the holdout period';

CREATE FUNCTION @extschema@.holdout_purchases_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'clm_holdout_purchases_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.holdout_purchases_combine(internal, internal) IS
    'combine function of clm.holdout_purchases (parallel aggregation)';

CREATE FUNCTION @extschema@.holdout_purchases_serial(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'clm_holdout_purchases_serial'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.holdout_purchases_serial(internal) IS
    'serialization function of clm.holdout_purchases (parallel aggregation)';

CREATE FUNCTION @extschema@.holdout_purchases_deserial(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'clm_holdout_purchases_deserial'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.holdout_purchases_deserial(bytea, internal) IS
    'deserialization function of clm.holdout_purchases; validates length and days';

CREATE FUNCTION @extschema@.holdout_purchases_final(internal)
RETURNS integer
AS 'MODULE_PATHNAME', 'clm_holdout_purchases_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.holdout_purchases_final(internal) IS
    'final function of clm.holdout_purchases: the number of distinct holdout purchase days';

CREATE AGGREGATE @extschema@.holdout_purchases(ordered_at timestamptz, cutoff timestamptz,
                                              holdout interval) (
    SFUNC = @extschema@.holdout_purchases_transfn,
    STYPE = internal,
    FINALFUNC = @extschema@.holdout_purchases_final,
    FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = @extschema@.holdout_purchases_combine,
    SERIALFUNC = @extschema@.holdout_purchases_serial,
    DESERIALFUNC = @extschema@.holdout_purchases_deserial,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.holdout_purchases(timestamptz, timestamptz, interval) IS
    'purchases of a customer in the holdout period: distinct UTC days after the cutoff''s day, up to holdout days later (pair with clm.purchase_summary for a calibration/holdout split)';

-- clm.holdout_accuracy: predicted against actual holdout purchases

CREATE TYPE @extschema@.holdout_accuracy AS (
    customers       bigint,             -- customers (rows) compared
    predicted       double precision,   -- total predicted holdout purchases
    actual          double precision,   -- total actual holdout purchases
    mean_predicted  double precision,
    mean_actual     double precision,
    mae             double precision,   -- mean absolute error per customer
    rmse            double precision,   -- root mean squared error per customer
    bias            double precision    -- mean of predicted - actual
);
COMMENT ON TYPE @extschema@.holdout_accuracy IS
    'accuracy of predicted against actual holdout purchases: totals, means, MAE, RMSE and bias, as returned by clm.holdout_accuracy';

CREATE FUNCTION @extschema@.holdout_accuracy_transfn(double precision[], double precision, double precision)
RETURNS double precision[]
AS 'MODULE_PATHNAME', 'clm_holdout_accuracy_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.holdout_accuracy_transfn(double precision[], double precision, double precision) IS
    'transition function of clm.holdout_accuracy: accumulates count, sums and errors';

CREATE FUNCTION @extschema@.holdout_accuracy_combine(double precision[], double precision[])
RETURNS double precision[]
AS 'MODULE_PATHNAME', 'clm_holdout_accuracy_combine'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.holdout_accuracy_combine(double precision[], double precision[]) IS
    'combine function of clm.holdout_accuracy (parallel aggregation)';

CREATE FUNCTION @extschema@.holdout_accuracy_final(double precision[])
RETURNS @extschema@.holdout_accuracy
AS 'MODULE_PATHNAME', 'clm_holdout_accuracy_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.holdout_accuracy_final(double precision[]) IS
    'final function of clm.holdout_accuracy: builds the clm.holdout_accuracy';

CREATE AGGREGATE @extschema@.holdout_accuracy(predicted double precision, actual double precision) (
    SFUNC = @extschema@.holdout_accuracy_transfn,
    STYPE = double precision[],
    INITCOND = '{0,0,0,0,0}',
    FINALFUNC = @extschema@.holdout_accuracy_final,
    COMBINEFUNC = @extschema@.holdout_accuracy_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.holdout_accuracy(double precision, double precision) IS
    'accuracy of predicted against actual holdout purchases (totals, means, MAE, RMSE, bias); GROUP BY ROLLUP(least(x, 7)) gives the table by calibration frequency';
