-- ---------------------------------------------------------------------------
-- CLV: purchase summary and predictions (owner: clvpredict)
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

-- Gauss hypergeometric function

CREATE FUNCTION @extschema@.hyp2f1(a double precision, b double precision,
                                   c double precision, z double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_hyp2f1_sql'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.hyp2f1(double precision, double precision, double precision, double precision) IS
    'Gauss hypergeometric function 2F1(a, b; c; z) for real arguments and z <= 1';

-- BG/NBD

CREATE FUNCTION @extschema@.bgnbd_expected_purchases(model @extschema@.bgnbd, horizon double precision,
    x double precision, t_x double precision, t double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_bgnbd_expected_purchases'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_expected_purchases(@extschema@.bgnbd, double precision, double precision, double precision, double precision) IS
    'BG/NBD expected purchases in the next horizon for a customer with history (x, t_x, t), in the model''s time unit';

CREATE FUNCTION @extschema@.bgnbd_p_alive(model @extschema@.bgnbd,
    x double precision, t_x double precision, t double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_bgnbd_p_alive'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_p_alive(@extschema@.bgnbd, double precision, double precision, double precision) IS
    'BG/NBD probability that a customer with history (x, t_x, t) is still alive at t';

CREATE FUNCTION @extschema@.bgnbd_expected_purchases_new(model @extschema@.bgnbd, horizon double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_bgnbd_expected_purchases_new'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_expected_purchases_new(@extschema@.bgnbd, double precision) IS
    'BG/NBD expected repeat purchases E[X(horizon)] of a new customer';

CREATE FUNCTION @extschema@.bgnbd_purchase_probability(model @extschema@.bgnbd, horizon double precision, n integer)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_bgnbd_purchase_probability'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_purchase_probability(@extschema@.bgnbd, double precision, integer) IS
    'BG/NBD probability P(N(horizon) = n) that a new customer makes exactly n repeat purchases in horizon';

-- Pareto/NBD

CREATE FUNCTION @extschema@.paretonbd_expected_purchases(model @extschema@.paretonbd, horizon double precision,
    x double precision, t_x double precision, t double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_paretonbd_expected_purchases'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_expected_purchases(@extschema@.paretonbd, double precision, double precision, double precision, double precision) IS
    'Pareto/NBD expected purchases in the next horizon for a customer with history (x, t_x, t)';

CREATE FUNCTION @extschema@.paretonbd_p_alive(model @extschema@.paretonbd,
    x double precision, t_x double precision, t double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_paretonbd_p_alive'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_p_alive(@extschema@.paretonbd, double precision, double precision, double precision) IS
    'Pareto/NBD probability that a customer with history (x, t_x, t) is still alive at t';

CREATE FUNCTION @extschema@.paretonbd_expected_purchases_new(model @extschema@.paretonbd, horizon double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_paretonbd_expected_purchases_new'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_expected_purchases_new(@extschema@.paretonbd, double precision) IS
    'Pareto/NBD expected purchases E[X(horizon)] of a new customer';

CREATE FUNCTION @extschema@.paretonbd_purchase_probability(model @extschema@.paretonbd, horizon double precision, n integer)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_paretonbd_purchase_probability'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_purchase_probability(@extschema@.paretonbd, double precision, integer) IS
    'Pareto/NBD probability P(X(horizon) = n) that a new customer makes exactly n purchases in horizon';

-- Gamma-Gamma and CLV

CREATE FUNCTION @extschema@.gamma_gamma_expected_spend(model @extschema@.gamma_gamma,
    x double precision, mean_spend double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_gamma_gamma_expected_spend'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.gamma_gamma_expected_spend(@extschema@.gamma_gamma, double precision, double precision) IS
    'Gamma-Gamma expected spend per purchase of a customer with x repeat purchases of mean spend mean_spend';

CREATE FUNCTION @extschema@.clv(bgnbd @extschema@.bgnbd, gamma_gamma @extschema@.gamma_gamma,
    x double precision, t_x double precision, t double precision, mean_spend double precision,
    horizon_months integer, monthly_discount_rate double precision, unit_days double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_clv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.clv(@extschema@.bgnbd, @extschema@.gamma_gamma, double precision, double precision, double precision, double precision, integer, double precision, double precision) IS
    'discounted CLV over horizon_months: sum of monthly expected purchases (BG/NBD) times expected spend (Gamma-Gamma); unit_days = days per model time unit, a month = 365.25/12 days';

CREATE FUNCTION @extschema@.clv_simple(avg_order_value double precision, purchases_per_period double precision,
    expected_lifetime_periods double precision, margin double precision DEFAULT 1,
    discount_rate double precision DEFAULT 0)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_clv_simple'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.clv_simple(double precision, double precision, double precision, double precision, double precision) IS
    'simple CLV: avg_order_value * purchases_per_period * margin per period, discounted at discount_rate per period over expected_lifetime_periods';
