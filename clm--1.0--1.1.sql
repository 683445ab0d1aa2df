-- clm--1.0--1.1.sql: update clm from 1.0 to 1.1 (ALTER EXTENSION clm UPDATE).
--
-- Every SQL change made for 1.1 goes both into its source under src/ (which
-- builds the install script clm--1.1.sql) and here, so that a database on
-- 1.0 ends with the same catalog as a fresh install of 1.1 (test/t/070
-- compares the two).

\echo Use "ALTER EXTENSION clm UPDATE TO '1.1'" to load this file. \quit

-- clm.classify_stage with the policy as a row value: IMMUTABLE, for
-- distributed UPDATEs (src/lifecycle/lifecycle_policy.sql)
CREATE FUNCTION @extschema@.classify_stage(
    orders bigint, first_at timestamptz, last_at timestamptz, as_of timestamptz,
    policy @extschema@.lifecycle_policy, current_stage @extschema@.lifecycle_stage DEFAULT NULL)
RETURNS @extschema@.lifecycle_stage
AS 'MODULE_PATHNAME', 'clm_classify_stage_by_values'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.classify_stage(bigint, timestamptz, timestamptz, timestamptz, @extschema@.lifecycle_policy, @extschema@.lifecycle_stage) IS
    'clm.classify_stage with the policy passed as a row of clm.lifecycle_policy instead of its name: reads no table, so IMMUTABLE (distributed UPDATEs, e.g. on Citus, may call it with column arguments)';

-- clm.refresh_stages gains lock_first (src/lifecycle/refresh_stages.sql); a
-- new trailing parameter with a default would make nine-argument calls
-- ambiguous next to the old function, so the old one goes
DROP FUNCTION @extschema@.refresh_stages(regclass, regclass, name, name, name, name, timestamptz, text, name);
CREATE FUNCTION @extschema@.refresh_stages(
    customers regclass, orders regclass, customer_key name, stage_column name,
    order_customer_column name, ordered_at_column name, as_of timestamptz,
    policy text DEFAULT 'default', since_column name DEFAULT NULL,
    lock_first boolean DEFAULT true)
RETURNS bigint
AS 'MODULE_PATHNAME', 'clm_refresh_stages'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.refresh_stages(regclass, regclass, name, name, name, name, timestamptz, text, name, boolean) IS
    'moves lapsing customers to at_risk / dormant / churned as of a time, in one set-based pass through clm.stage_guard; lock_first => false skips the locking pass (for Citus distributed tables); returns the number moved';

-- BG/BB and sBG models: result types, fits, predictions

CREATE TYPE @extschema@.bgbb AS (
    alpha           double precision,   -- transaction probability p ~ Beta(alpha, beta)
    beta            double precision,
    gamma           double precision,   -- dropout probability theta ~ Beta(gamma, delta)
    delta           double precision,
    log_likelihood  double precision,
    n               double precision,   -- customers (sum of weights) in the fit
    iterations      integer,
    converged       boolean,
    alpha_se        double precision,   -- standard errors from the Hessian
    beta_se         double precision,
    gamma_se        double precision,
    delta_se        double precision
);
COMMENT ON TYPE @extschema@.bgbb IS
    'a fitted BG/BB model (Fader, Hardie and Shang 2010): parameters, log-likelihood, fit diagnostics and standard errors';

CREATE TYPE @extschema@.sbg AS (
    alpha           double precision,   -- churn probability theta ~ Beta(alpha, beta)
    beta            double precision,
    log_likelihood  double precision,
    n               double precision,
    iterations      integer,
    converged       boolean,
    alpha_se        double precision,
    beta_se         double precision
);
COMMENT ON TYPE @extschema@.sbg IS
    'a fitted shifted-beta-geometric contract model (Fader and Hardie 2007): parameters, log-likelihood, fit diagnostics and standard errors';

-- BG/BB (discrete opportunities) and sBG (contract renewals)

CREATE FUNCTION @extschema@.bgbb_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_bgbb_fit_trans'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgbb_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8) IS
    'transition function of clm.bgbb_fit';

CREATE FUNCTION @extschema@.bgbb_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8, float8)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_bgbb_fit_trans'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgbb_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8, float8) IS
    'transition function of the weighted clm.bgbb_fit';

CREATE FUNCTION @extschema@.sbg_fit_trans(@extschema@.btyd_fit_state, integer, boolean)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_sbg_fit_trans'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sbg_fit_trans(@extschema@.btyd_fit_state, integer, boolean) IS
    'transition function of clm.sbg_fit';

CREATE FUNCTION @extschema@.sbg_fit_trans(@extschema@.btyd_fit_state, integer, boolean, float8)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_sbg_fit_trans'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sbg_fit_trans(@extschema@.btyd_fit_state, integer, boolean, float8) IS
    'transition function of the weighted clm.sbg_fit';

CREATE FUNCTION @extschema@.bgbb_fit_final(@extschema@.btyd_fit_state)
    RETURNS @extschema@.bgbb
    AS 'MODULE_PATHNAME', 'clm_bgbb_fit_final'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgbb_fit_final(@extschema@.btyd_fit_state) IS
    'final function of clm.bgbb_fit: maximum-likelihood BG/BB fit of the collected rows';

CREATE FUNCTION @extschema@.sbg_fit_final(@extschema@.btyd_fit_state)
    RETURNS @extschema@.sbg
    AS 'MODULE_PATHNAME', 'clm_sbg_fit_final'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sbg_fit_final(@extschema@.btyd_fit_state) IS
    'final function of clm.sbg_fit: maximum-likelihood shifted-beta-geometric fit of the collected rows';

CREATE AGGREGATE @extschema@.bgbb_fit(x float8, t_x float8, n float8) (
    SFUNC = @extschema@.bgbb_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.bgbb_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.bgbb_fit(float8, float8, float8) IS
    'fit a BG/BB model by maximum likelihood to per-customer (x, t_x, n) in discrete opportunities';

CREATE AGGREGATE @extschema@.bgbb_fit(x float8, t_x float8, n float8, weight float8) (
    SFUNC = @extschema@.bgbb_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.bgbb_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.bgbb_fit(float8, float8, float8, float8) IS
    'fit a BG/BB model to pre-aggregated rows, each standing for weight customers';

CREATE AGGREGATE @extschema@.sbg_fit(periods integer, churned boolean) (
    SFUNC = @extschema@.sbg_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.sbg_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.sbg_fit(integer, boolean) IS
    'fit a shifted-beta-geometric contract model to per-customer (renewal opportunities faced, churned at the last)';

CREATE AGGREGATE @extschema@.sbg_fit(periods integer, churned boolean, weight float8) (
    SFUNC = @extschema@.sbg_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.sbg_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.sbg_fit(integer, boolean, float8) IS
    'fit a shifted-beta-geometric contract model to pre-aggregated rows, each standing for weight customers';

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

COMMENT ON TYPE @extschema@.btyd_fit_state IS
    'aggregate state of the CLV fits: distinct (x, t_x, t), (x, mean spend), BG/BB (x, t_x, n) or sBG (periods, churned) rows with summed weights and the penalizer';

-- MBG/NBD: result type, fit, log-likelihood, predictions

CREATE TYPE @extschema@.mbgnbd AS (
    r               double precision,
    alpha           double precision,
    a               double precision,
    b               double precision,
    log_likelihood  double precision,
    n               double precision,
    iterations      integer,
    converged       boolean,
    r_se            double precision,
    alpha_se        double precision,
    a_se            double precision,
    b_se            double precision
);
COMMENT ON TYPE @extschema@.mbgnbd IS
    'a fitted MBG/NBD model (Batislam, Denizel and Filiztekin 2007): parameters, log-likelihood, fit diagnostics and standard errors';

-- MBG/NBD (BG/NBD with a dropout possible at time 0), on the BTYD rows

CREATE FUNCTION @extschema@.mbgnbd_fit_final(@extschema@.btyd_fit_state)
    RETURNS @extschema@.mbgnbd
    AS 'MODULE_PATHNAME', 'clm_mbgnbd_fit_final'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.mbgnbd_fit_final(@extschema@.btyd_fit_state) IS
    'final function of clm.mbgnbd_fit: maximum-likelihood MBG/NBD fit of the collected rows';

CREATE AGGREGATE @extschema@.mbgnbd_fit(x float8, t_x float8, t float8) (
    SFUNC = @extschema@.btyd_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.mbgnbd_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.mbgnbd_fit(float8, float8, float8) IS
    'fit an MBG/NBD model by maximum likelihood to per-customer (x, t_x, t)';

CREATE AGGREGATE @extschema@.mbgnbd_fit(x float8, t_x float8, t float8, weight float8) (
    SFUNC = @extschema@.btyd_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.mbgnbd_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.mbgnbd_fit(float8, float8, float8, float8) IS
    'fit an MBG/NBD model to pre-aggregated rows, each standing for weight customers';

CREATE AGGREGATE @extschema@.mbgnbd_fit(x float8, t_x float8, t float8, weight float8, penalizer float8) (
    SFUNC = @extschema@.btyd_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.mbgnbd_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.mbgnbd_fit(float8, float8, float8, float8, float8) IS
    'fit an MBG/NBD model with weights and an L2 penalty on the parameters (lifetimes convention)';

CREATE FUNCTION @extschema@.mbgnbd_log_likelihood(r float8, alpha float8, a float8, b float8,
                                                  x float8, t_x float8, t float8)
    RETURNS float8
    AS 'MODULE_PATHNAME', 'clm_mbgnbd_log_likelihood'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.mbgnbd_log_likelihood(float8, float8, float8, float8, float8, float8, float8) IS
    'MBG/NBD log-likelihood of one customer (x, t_x, t) at parameters (r, alpha, a, b)';

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

COMMENT ON FUNCTION @extschema@.btyd_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8) IS
    'transition function of clm.bgnbd_fit, clm.mbgnbd_fit and clm.paretonbd_fit';
COMMENT ON FUNCTION @extschema@.btyd_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8, float8) IS
    'transition function of the weighted clm.bgnbd_fit, clm.mbgnbd_fit and clm.paretonbd_fit';
COMMENT ON FUNCTION @extschema@.btyd_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8, float8, float8) IS
    'transition function of the weighted, penalized clm.bgnbd_fit, clm.mbgnbd_fit and clm.paretonbd_fit';

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
