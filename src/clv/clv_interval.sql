-- ---------------------------------------------------------------------------
-- CLV: prediction intervals from parameter uncertainty (delta method with
-- the full covariance of the fitted parameters) for BG/NBD expected
-- purchases and P(alive), Pareto/NBD expected purchases and P(alive), and
-- the BG/NBD x Gamma-Gamma CLV
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.prediction_interval AS (
    estimate    double precision,   -- the prediction at the fitted parameters
    std_error   double precision,   -- its delta-method standard error
    lower       double precision,   -- estimate - z * std_error, within the range of the quantity
    upper       double precision    -- estimate + z * std_error, within the range of the quantity
);
COMMENT ON TYPE @extschema@.prediction_interval IS
    'a prediction with its standard error and interval from parameter uncertainty, as returned by the clm.*_interval functions';

-- the covariance of the fitted parameters
CREATE FUNCTION @extschema@.bgnbd_covariance_trans(float8[], @extschema@.bgnbd, float8, float8, float8)
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'clm_bgnbd_covariance_trans'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_covariance_trans(float8[], @extschema@.bgnbd, float8, float8, float8) IS
    'transition function of clm.bgnbd_covariance: adds a customer''s observed information';

CREATE FUNCTION @extschema@.bgnbd_covariance_trans(float8[], @extschema@.bgnbd, float8, float8, float8, float8)
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'clm_bgnbd_covariance_trans'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_covariance_trans(float8[], @extschema@.bgnbd, float8, float8, float8, float8) IS
    'transition function of the weighted clm.bgnbd_covariance';

CREATE FUNCTION @extschema@.bgnbd_covariance_combine(float8[], float8[])
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'clm_bgnbd_covariance_combine'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_covariance_combine(float8[], float8[]) IS
    'combine function of clm.bgnbd_covariance: adds the information of two partial states';

CREATE FUNCTION @extschema@.bgnbd_covariance_final(float8[])
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'clm_bgnbd_covariance_final'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_covariance_final(float8[]) IS
    'final function of clm.bgnbd_covariance: inverts the information into the 4 x 4 covariance of r, alpha, a, b';

CREATE AGGREGATE @extschema@.bgnbd_covariance(model @extschema@.bgnbd, x float8, t_x float8, t float8) (
    SFUNC = @extschema@.bgnbd_covariance_trans, STYPE = float8[], INITCOND = '{}',
    COMBINEFUNC = @extschema@.bgnbd_covariance_combine,
    FINALFUNC = @extschema@.bgnbd_covariance_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.bgnbd_covariance(@extschema@.bgnbd, float8, float8, float8) IS
    'covariance matrix of a BG/NBD model''s parameters (r, alpha, a, b) from the observed information of the customers it was fitted to';

CREATE AGGREGATE @extschema@.bgnbd_covariance(model @extschema@.bgnbd, x float8, t_x float8, t float8, weight float8) (
    SFUNC = @extschema@.bgnbd_covariance_trans, STYPE = float8[], INITCOND = '{}',
    COMBINEFUNC = @extschema@.bgnbd_covariance_combine,
    FINALFUNC = @extschema@.bgnbd_covariance_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.bgnbd_covariance(@extschema@.bgnbd, float8, float8, float8, float8) IS
    'covariance matrix of a BG/NBD model''s parameters from pre-aggregated rows, each standing for weight customers';

CREATE FUNCTION @extschema@.gamma_gamma_covariance_trans(float8[], @extschema@.gamma_gamma, float8, float8)
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'clm_gamma_gamma_covariance_trans'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.gamma_gamma_covariance_trans(float8[], @extschema@.gamma_gamma, float8, float8) IS
    'transition function of clm.gamma_gamma_covariance: adds a repeat buyer''s observed information';

CREATE FUNCTION @extschema@.gamma_gamma_covariance_trans(float8[], @extschema@.gamma_gamma, float8, float8, float8)
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'clm_gamma_gamma_covariance_trans'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.gamma_gamma_covariance_trans(float8[], @extschema@.gamma_gamma, float8, float8, float8) IS
    'transition function of the weighted clm.gamma_gamma_covariance';

CREATE FUNCTION @extschema@.gamma_gamma_covariance_combine(float8[], float8[])
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'clm_gamma_gamma_covariance_combine'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.gamma_gamma_covariance_combine(float8[], float8[]) IS
    'combine function of clm.gamma_gamma_covariance: adds the information of two partial states';

CREATE FUNCTION @extschema@.gamma_gamma_covariance_final(float8[])
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'clm_gamma_gamma_covariance_final'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.gamma_gamma_covariance_final(float8[]) IS
    'final function of clm.gamma_gamma_covariance: inverts the information into the 3 x 3 covariance of p, q, gamma';

CREATE AGGREGATE @extschema@.gamma_gamma_covariance(model @extschema@.gamma_gamma, x float8, mean_spend float8) (
    SFUNC = @extschema@.gamma_gamma_covariance_trans, STYPE = float8[], INITCOND = '{}',
    COMBINEFUNC = @extschema@.gamma_gamma_covariance_combine,
    FINALFUNC = @extschema@.gamma_gamma_covariance_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.gamma_gamma_covariance(@extschema@.gamma_gamma, float8, float8) IS
    'covariance matrix of a Gamma-Gamma model''s parameters (p, q, gamma) from the observed information of the customers it was fitted to';

CREATE AGGREGATE @extschema@.gamma_gamma_covariance(model @extschema@.gamma_gamma, x float8, mean_spend float8, weight float8) (
    SFUNC = @extschema@.gamma_gamma_covariance_trans, STYPE = float8[], INITCOND = '{}',
    COMBINEFUNC = @extschema@.gamma_gamma_covariance_combine,
    FINALFUNC = @extschema@.gamma_gamma_covariance_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.gamma_gamma_covariance(@extschema@.gamma_gamma, float8, float8, float8) IS
    'covariance matrix of a Gamma-Gamma model''s parameters from pre-aggregated rows, each standing for weight customers';

-- one customer
CREATE FUNCTION @extschema@.bgnbd_expected_purchases_interval(model @extschema@.bgnbd, covariance float8[],
        horizon float8, x float8, t_x float8, t float8, level float8 DEFAULT 0.9)
    RETURNS @extschema@.prediction_interval
    AS 'MODULE_PATHNAME', 'clm_bgnbd_expected_purchases_interval'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_expected_purchases_interval(@extschema@.bgnbd, float8[], float8, float8, float8, float8, float8) IS
    'a customer''s BG/NBD expected purchases in the next horizon with its delta-method interval at the given level';

CREATE FUNCTION @extschema@.bgnbd_p_alive_interval(model @extschema@.bgnbd, covariance float8[],
        x float8, t_x float8, t float8, level float8 DEFAULT 0.9)
    RETURNS @extschema@.prediction_interval
    AS 'MODULE_PATHNAME', 'clm_bgnbd_p_alive_interval'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_p_alive_interval(@extschema@.bgnbd, float8[], float8, float8, float8, float8) IS
    'a customer''s BG/NBD P(alive) with its delta-method interval at the given level';

CREATE FUNCTION @extschema@.clv_interval(bgnbd @extschema@.bgnbd, gamma_gamma @extschema@.gamma_gamma,
        bgnbd_covariance float8[], gamma_gamma_covariance float8[],
        x float8, t_x float8, t float8, mean_spend float8,
        horizon_months integer, monthly_discount_rate float8, unit_days float8, level float8 DEFAULT 0.9)
    RETURNS @extschema@.prediction_interval
    AS 'MODULE_PATHNAME', 'clm_clv_interval'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.clv_interval(@extschema@.bgnbd, @extschema@.gamma_gamma, float8[], float8[], float8, float8, float8, float8, integer, float8, float8, float8) IS
    'a customer''s clm.clv with its delta-method interval from both models'' parameter covariances at the given level';

-- the total over customers
CREATE FUNCTION @extschema@.bgnbd_total_interval_trans(float8[], @extschema@.bgnbd, float8[], float8, float8, float8, float8)
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'clm_bgnbd_total_interval_trans'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_total_interval_trans(float8[], @extschema@.bgnbd, float8[], float8, float8, float8, float8) IS
    'transition function of clm.bgnbd_expected_purchases_total_interval: adds a customer''s expected purchases and their gradient';

CREATE FUNCTION @extschema@.bgnbd_total_interval_trans(float8[], @extschema@.bgnbd, float8[], float8, float8, float8, float8, float8)
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'clm_bgnbd_total_interval_trans'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_total_interval_trans(float8[], @extschema@.bgnbd, float8[], float8, float8, float8, float8, float8) IS
    'transition function of clm.bgnbd_expected_purchases_total_interval with a level';

CREATE FUNCTION @extschema@.bgnbd_total_interval_combine(float8[], float8[])
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'clm_bgnbd_total_interval_combine'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_total_interval_combine(float8[], float8[]) IS
    'combine function of clm.bgnbd_expected_purchases_total_interval: adds the estimates and gradients of two partial states';

CREATE FUNCTION @extschema@.bgnbd_total_interval_final(float8[])
    RETURNS @extschema@.prediction_interval
    AS 'MODULE_PATHNAME', 'clm_bgnbd_total_interval_final'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_total_interval_final(float8[]) IS
    'final function of clm.bgnbd_expected_purchases_total_interval: the total with its delta-method interval';

CREATE AGGREGATE @extschema@.bgnbd_expected_purchases_total_interval(model @extschema@.bgnbd, covariance float8[],
        horizon float8, x float8, t_x float8, t float8) (
    SFUNC = @extschema@.bgnbd_total_interval_trans, STYPE = float8[], INITCOND = '{}',
    COMBINEFUNC = @extschema@.bgnbd_total_interval_combine,
    FINALFUNC = @extschema@.bgnbd_total_interval_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.bgnbd_expected_purchases_total_interval(@extschema@.bgnbd, float8[], float8, float8, float8, float8) IS
    'total BG/NBD expected purchases of the customers in the next horizon with its 90% delta-method interval';

CREATE AGGREGATE @extschema@.bgnbd_expected_purchases_total_interval(model @extschema@.bgnbd, covariance float8[],
        horizon float8, x float8, t_x float8, t float8, level float8) (
    SFUNC = @extschema@.bgnbd_total_interval_trans, STYPE = float8[], INITCOND = '{}',
    COMBINEFUNC = @extschema@.bgnbd_total_interval_combine,
    FINALFUNC = @extschema@.bgnbd_total_interval_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.bgnbd_expected_purchases_total_interval(@extschema@.bgnbd, float8[], float8, float8, float8, float8, float8) IS
    'total BG/NBD expected purchases of the customers in the next horizon with its delta-method interval at the given level';

-- Pareto/NBD
CREATE FUNCTION @extschema@.paretonbd_covariance_trans(float8[], @extschema@.paretonbd, float8, float8, float8)
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'clm_paretonbd_covariance_trans'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_covariance_trans(float8[], @extschema@.paretonbd, float8, float8, float8) IS
    'transition function of clm.paretonbd_covariance: adds a customer''s observed information';

CREATE FUNCTION @extschema@.paretonbd_covariance_trans(float8[], @extschema@.paretonbd, float8, float8, float8, float8)
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'clm_paretonbd_covariance_trans'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_covariance_trans(float8[], @extschema@.paretonbd, float8, float8, float8, float8) IS
    'transition function of the weighted clm.paretonbd_covariance';

CREATE FUNCTION @extschema@.paretonbd_covariance_combine(float8[], float8[])
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'clm_paretonbd_covariance_combine'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_covariance_combine(float8[], float8[]) IS
    'combine function of clm.paretonbd_covariance: adds the information of two partial states';

CREATE FUNCTION @extschema@.paretonbd_covariance_final(float8[])
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'clm_paretonbd_covariance_final'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_covariance_final(float8[]) IS
    'final function of clm.paretonbd_covariance: inverts the information into the 4 x 4 covariance of r, alpha, s, beta';

CREATE AGGREGATE @extschema@.paretonbd_covariance(model @extschema@.paretonbd, x float8, t_x float8, t float8) (
    SFUNC = @extschema@.paretonbd_covariance_trans, STYPE = float8[], INITCOND = '{}',
    COMBINEFUNC = @extschema@.paretonbd_covariance_combine,
    FINALFUNC = @extschema@.paretonbd_covariance_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.paretonbd_covariance(@extschema@.paretonbd, float8, float8, float8) IS
    'covariance matrix of a Pareto/NBD model''s parameters (r, alpha, s, beta) from the observed information of the customers it was fitted to';

CREATE AGGREGATE @extschema@.paretonbd_covariance(model @extschema@.paretonbd, x float8, t_x float8, t float8, weight float8) (
    SFUNC = @extschema@.paretonbd_covariance_trans, STYPE = float8[], INITCOND = '{}',
    COMBINEFUNC = @extschema@.paretonbd_covariance_combine,
    FINALFUNC = @extschema@.paretonbd_covariance_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.paretonbd_covariance(@extschema@.paretonbd, float8, float8, float8, float8) IS
    'covariance matrix of a Pareto/NBD model''s parameters from pre-aggregated rows, each standing for weight customers';

CREATE FUNCTION @extschema@.paretonbd_expected_purchases_interval(model @extschema@.paretonbd, covariance float8[],
        horizon float8, x float8, t_x float8, t float8, level float8 DEFAULT 0.9)
    RETURNS @extschema@.prediction_interval
    AS 'MODULE_PATHNAME', 'clm_paretonbd_expected_purchases_interval'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_expected_purchases_interval(@extschema@.paretonbd, float8[], float8, float8, float8, float8, float8) IS
    'a customer''s Pareto/NBD expected purchases in the next horizon with its delta-method interval at the given level';

CREATE FUNCTION @extschema@.paretonbd_p_alive_interval(model @extschema@.paretonbd, covariance float8[],
        x float8, t_x float8, t float8, level float8 DEFAULT 0.9)
    RETURNS @extschema@.prediction_interval
    AS 'MODULE_PATHNAME', 'clm_paretonbd_p_alive_interval'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_p_alive_interval(@extschema@.paretonbd, float8[], float8, float8, float8, float8) IS
    'a customer''s Pareto/NBD P(alive) with its delta-method interval at the given level';

CREATE FUNCTION @extschema@.paretonbd_total_interval_trans(float8[], @extschema@.paretonbd, float8[], float8, float8, float8, float8)
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'clm_paretonbd_total_interval_trans'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_total_interval_trans(float8[], @extschema@.paretonbd, float8[], float8, float8, float8, float8) IS
    'transition function of clm.paretonbd_expected_purchases_total_interval: adds a customer''s expected purchases and their gradient';

CREATE FUNCTION @extschema@.paretonbd_total_interval_trans(float8[], @extschema@.paretonbd, float8[], float8, float8, float8, float8, float8)
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'clm_paretonbd_total_interval_trans'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_total_interval_trans(float8[], @extschema@.paretonbd, float8[], float8, float8, float8, float8, float8) IS
    'transition function of clm.paretonbd_expected_purchases_total_interval with a level';

CREATE FUNCTION @extschema@.paretonbd_total_interval_combine(float8[], float8[])
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'clm_paretonbd_total_interval_combine'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_total_interval_combine(float8[], float8[]) IS
    'combine function of clm.paretonbd_expected_purchases_total_interval: adds the estimates and gradients of two partial states';

CREATE FUNCTION @extschema@.paretonbd_total_interval_final(float8[])
    RETURNS @extschema@.prediction_interval
    AS 'MODULE_PATHNAME', 'clm_paretonbd_total_interval_final'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_total_interval_final(float8[]) IS
    'final function of clm.paretonbd_expected_purchases_total_interval: the total with its delta-method interval';

CREATE AGGREGATE @extschema@.paretonbd_expected_purchases_total_interval(model @extschema@.paretonbd, covariance float8[],
        horizon float8, x float8, t_x float8, t float8) (
    SFUNC = @extschema@.paretonbd_total_interval_trans, STYPE = float8[], INITCOND = '{}',
    COMBINEFUNC = @extschema@.paretonbd_total_interval_combine,
    FINALFUNC = @extschema@.paretonbd_total_interval_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.paretonbd_expected_purchases_total_interval(@extschema@.paretonbd, float8[], float8, float8, float8, float8) IS
    'total Pareto/NBD expected purchases of the customers in the next horizon with its 90% delta-method interval';

CREATE AGGREGATE @extschema@.paretonbd_expected_purchases_total_interval(model @extschema@.paretonbd, covariance float8[],
        horizon float8, x float8, t_x float8, t float8, level float8) (
    SFUNC = @extschema@.paretonbd_total_interval_trans, STYPE = float8[], INITCOND = '{}',
    COMBINEFUNC = @extschema@.paretonbd_total_interval_combine,
    FINALFUNC = @extschema@.paretonbd_total_interval_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.paretonbd_expected_purchases_total_interval(@extschema@.paretonbd, float8[], float8, float8, float8, float8, float8) IS
    'total Pareto/NBD expected purchases of the customers in the next horizon with its delta-method interval at the given level';
