-- ---------------------------------------------------------------------------
-- CLV: predictions of the fitted models
-- ---------------------------------------------------------------------------

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

-- BG/BB

CREATE FUNCTION @extschema@.bgbb_p_alive(model @extschema@.bgbb,
    x double precision, t_x double precision, n double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_bgbb_p_alive'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgbb_p_alive(@extschema@.bgbb, double precision, double precision, double precision) IS
    'BG/BB probability that a customer with history (x, t_x, n) is alive at opportunity n + 1';

CREATE FUNCTION @extschema@.bgbb_expected_transactions(model @extschema@.bgbb, n_star integer,
    x double precision, t_x double precision, n double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_bgbb_expected_transactions'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgbb_expected_transactions(@extschema@.bgbb, integer, double precision, double precision, double precision) IS
    'BG/BB expected transactions in the next n_star opportunities for a customer with history (x, t_x, n)';

CREATE FUNCTION @extschema@.bgbb_dert(model @extschema@.bgbb, discount_rate double precision,
    x double precision, t_x double precision, n double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_bgbb_dert'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgbb_dert(@extschema@.bgbb, double precision, double precision, double precision, double precision) IS
    'BG/BB discounted expected residual transactions (DERT) of a customer with history (x, t_x, n), at discount_rate per opportunity';

-- sBG

CREATE FUNCTION @extschema@.sbg_survival(model @extschema@.sbg, t integer)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_sbg_survival'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sbg_survival(@extschema@.sbg, integer) IS
    'sBG probability S(t) that a new customer is still active after t renewal opportunities';

CREATE FUNCTION @extschema@.sbg_retention(model @extschema@.sbg, t integer)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_sbg_retention'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sbg_retention(@extschema@.sbg, integer) IS
    'sBG retention rate S(t) / S(t - 1) at renewal opportunity t (the retention curve)';

CREATE FUNCTION @extschema@.sbg_expected_lifetime(model @extschema@.sbg)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_sbg_expected_lifetime'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sbg_expected_lifetime(@extschema@.sbg) IS
    'sBG expected lifetime of a new customer in periods, (alpha + beta - 1) / (alpha - 1); an error when alpha <= 1 (infinite)';

CREATE FUNCTION @extschema@.sbg_expected_lifetime(model @extschema@.sbg, horizon integer)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_sbg_expected_lifetime'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sbg_expected_lifetime(@extschema@.sbg, integer) IS
    'sBG expected number of the first horizon periods a new customer stays, sum of S(t) for t = 0 .. horizon - 1';

CREATE FUNCTION @extschema@.sbg_derl(model @extschema@.sbg, periods integer, discount_rate double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_sbg_derl'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sbg_derl(@extschema@.sbg, integer, double precision) IS
    'sBG discounted expected residual lifetime (Fader and Hardie 2010) of a customer active after periods renewal opportunities';

CREATE FUNCTION @extschema@.sbg_clv(model @extschema@.sbg, price double precision, discount_rate double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_sbg_clv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sbg_clv(@extschema@.sbg, double precision, double precision) IS
    'sBG expected discounted lifetime value of a new customer paying price now and at every renewal';

-- MBG/NBD

CREATE FUNCTION @extschema@.mbgnbd_expected_purchases(model @extschema@.mbgnbd, horizon double precision,
    x double precision, t_x double precision, t double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_mbgnbd_expected_purchases'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.mbgnbd_expected_purchases(@extschema@.mbgnbd, double precision, double precision, double precision, double precision) IS
    'MBG/NBD expected purchases in the next horizon for a customer with history (x, t_x, t), in the model''s time unit';

CREATE FUNCTION @extschema@.mbgnbd_p_alive(model @extschema@.mbgnbd,
    x double precision, t_x double precision, t double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_mbgnbd_p_alive'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.mbgnbd_p_alive(@extschema@.mbgnbd, double precision, double precision, double precision) IS
    'MBG/NBD probability that a customer with history (x, t_x, t) is still alive at t (below 1 even for x = 0)';

CREATE FUNCTION @extschema@.mbgnbd_expected_purchases_new(model @extschema@.mbgnbd, horizon double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_mbgnbd_expected_purchases_new'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.mbgnbd_expected_purchases_new(@extschema@.mbgnbd, double precision) IS
    'MBG/NBD expected repeat purchases E[X(horizon)] of a new customer';

CREATE FUNCTION @extschema@.mbgnbd_purchase_probability(model @extschema@.mbgnbd, horizon double precision, n integer)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_mbgnbd_purchase_probability'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.mbgnbd_purchase_probability(@extschema@.mbgnbd, double precision, integer) IS
    'MBG/NBD probability P(N(horizon) = n) that a new customer makes exactly n repeat purchases in horizon';

-- CLV under the other purchase models
CREATE FUNCTION @extschema@.clv(paretonbd @extschema@.paretonbd, gamma_gamma @extschema@.gamma_gamma,
    x double precision, t_x double precision, t double precision, mean_spend double precision,
    horizon_months integer, monthly_discount_rate double precision, unit_days double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_clv_paretonbd'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.clv(@extschema@.paretonbd, @extschema@.gamma_gamma, double precision, double precision, double precision, double precision, integer, double precision, double precision) IS
    'discounted CLV over horizon_months with Pareto/NBD expected purchases and Gamma-Gamma spend; unit_days = days per model time unit';
CREATE FUNCTION @extschema@.clv(mbgnbd @extschema@.mbgnbd, gamma_gamma @extschema@.gamma_gamma,
    x double precision, t_x double precision, t double precision, mean_spend double precision,
    horizon_months integer, monthly_discount_rate double precision, unit_days double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_clv_mbgnbd'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.clv(@extschema@.mbgnbd, @extschema@.gamma_gamma, double precision, double precision, double precision, double precision, integer, double precision, double precision) IS
    'discounted CLV over horizon_months with MBG/NBD expected purchases and Gamma-Gamma spend; unit_days = days per model time unit';
