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

-- ---------------------------------------------------------------------------
-- clm.purchase_summary: a real, mergeable state with exact sums
-- (clm.purchase_summary_state) instead of an internal one, so that partial
-- states can cross nodes and be stored.  The aggregate is replaced in place
-- (same argument and result types), so views over it keep working; the
-- support functions of the internal state then serve nothing and go.
-- ---------------------------------------------------------------------------

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

CREATE OR REPLACE AGGREGATE @extschema@.purchase_summary(ordered_at timestamptz, amount numeric,
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

DROP FUNCTION @extschema@.purchase_summary_decode(bytea);
DROP FUNCTION @extschema@.purchase_summary_transfn(internal, timestamptz, numeric, timestamptz, interval);
DROP FUNCTION @extschema@.purchase_summary_combine(internal, internal);
DROP FUNCTION @extschema@.purchase_summary_serial(internal);
DROP FUNCTION @extschema@.purchase_summary_deserial(bytea, internal);
DROP FUNCTION @extschema@.purchase_summary_final(internal);

-- ---------------------------------------------------------------------------
-- clm.rfm_thresholds: a real, mergeable state (clm.rfm_thresholds_state)
-- instead of an internal one; the aggregates are replaced in place, the
-- support functions of the internal state go.
-- ---------------------------------------------------------------------------

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

CREATE OR REPLACE AGGREGATE @extschema@.rfm_thresholds(rfm @extschema@.rfm) (
    SFUNC = @extschema@.rfm_thresholds_trans, STYPE = @extschema@.rfm_thresholds_state,
    FINALFUNC = @extschema@.rfm_thresholds_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = @extschema@.rfm_thresholds_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_thresholds(@extschema@.rfm) IS
    'quintile breakpoints (5 bins) per RFM dimension over a set of customers; ties never split';
CREATE OR REPLACE AGGREGATE @extschema@.rfm_thresholds(rfm @extschema@.rfm, bins integer) (
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

DROP FUNCTION @extschema@.rfm_thresholds_trans(internal, @extschema@.rfm);
DROP FUNCTION @extschema@.rfm_thresholds_trans(internal, @extschema@.rfm, integer);
DROP FUNCTION @extschema@.rfm_thresholds_combine(internal, internal);
DROP FUNCTION @extschema@.rfm_thresholds_serialize(internal);
DROP FUNCTION @extschema@.rfm_thresholds_deserialize(bytea, internal);
DROP FUNCTION @extschema@.rfm_thresholds_final(internal);

-- ---------------------------------------------------------------------------
-- Customer views: the per-customer aggregation reads as_of and the unit
-- through scalar subqueries instead of a join with the registry row, so
-- that it is over the orders relation alone and postgres_fdw can run it on
-- the shards.  Views made before keep their definition.
-- ---------------------------------------------------------------------------

DROP FUNCTION @extschema@._customer_view_source(@extschema@.customer_view, text, text, text);
-- Customer views choose their purchase model (BG/NBD, Pareto/NBD or
-- MBG/NBD): the registry says which, and keeps the fit of each in a column
-- of its name; views made before stay on BG/NBD.  create_customer_view
-- gains the purchase_model argument.  (Before _customer_view_source is
-- created again: ALTER TABLE refuses while a function body uses the row type.)
-- The column is filled by an UPDATE, not by ADD COLUMN's default, which
-- would leave a "missing value" in the catalog that a fresh install has not.
ALTER TABLE @extschema@.customer_view
    ADD COLUMN purchase_model text,
    ADD COLUMN paretonbd @extschema@.paretonbd,
    ADD COLUMN mbgnbd @extschema@.mbgnbd;
UPDATE @extschema@.customer_view SET purchase_model = 'bgnbd';
ALTER TABLE @extschema@.customer_view
    ALTER COLUMN purchase_model SET DEFAULT 'bgnbd',
    ALTER COLUMN purchase_model SET NOT NULL,
    ADD CONSTRAINT customer_view_purchase_model_check
        CHECK (purchase_model IN ('bgnbd', 'paretonbd', 'mbgnbd'));
COMMENT ON COLUMN @extschema@.customer_view.purchase_model IS
    'the model of purchases and dropout behind P(alive), expected purchases and CLV: bgnbd, paretonbd or mbgnbd; its fit is stored in the column of that name at each refresh, the other two stay NULL';

CREATE FUNCTION @extschema@._customer_view_source(reg @extschema@.customer_view,
                                                  as_of_expr text, unit_expr text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.format($q$
    SELECT o.%1$I AS customer_key,
           @extschema@.rfm_agg(o.%2$I::timestamptz, o.%3$I::numeric, %5$s) AS rfm,
           @extschema@.purchase_summary(o.%2$I::timestamptz, o.%3$I::numeric, %5$s, %6$s)
               FILTER (WHERE o.%3$I::numeric >= 0) AS s
      FROM %4$s AS o
     WHERE o.%1$I IS NOT NULL AND o.%2$I::timestamptz <= %5$s
     GROUP BY o.%1$I$q$,
    reg.customer_column, reg.ordered_at_column, reg.amount_column, reg.orders_relation,
    as_of_expr, unit_expr);
COMMENT ON FUNCTION @extschema@._customer_view_source(@extschema@.customer_view, text, text) IS
    'internal: the per-customer RFM and BTYD summary query of a customer view';

CREATE OR REPLACE FUNCTION @extschema@._customer_view_fit(view regclass, as_of timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
-- the fitted model crosses into SQL as text: every digit of its doubles
SET extra_float_digits = 3
AS $fn$
DECLARE
    vschema name;
    vname name;
    owner_name name;
    reg @extschema@.customer_view;
    fit record;
    model text;
    usable boolean := false;
    gg @extschema@.gamma_gamma;
    th @extschema@.rfm_thresholds;
    n bigint;
    unit_days double precision;
    src text;
    rel regclass;
BEGIN
    SELECT ns.nspname, c.relname, pg_catalog.pg_get_userbyid(c.relowner) INTO vschema, vname, owner_name
      FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS ns ON ns.oid = c.relnamespace
     WHERE c.oid = view;
    IF owner_name IS DISTINCT FROM CURRENT_USER THEN
        RAISE EXCEPTION 'the models of customer view % are fitted only by its owner', view
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Use clm.refresh_customer_view.';
    END IF;
    SELECT * INTO reg FROM @extschema@.customer_view AS r
     WHERE r.view_schema = vschema AND r.view_name = vname;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'materialized view % is not a customer view', view
            USING ERRCODE = 'undefined_object';
    END IF;
    -- orders_relation is text that the row's owner may UPDATE: it becomes
    -- SQL only after it has been resolved to a relation and quoted again.
    -- The fit reads the relation as the owner: the owner must be able to
    -- read every column it reads.
    rel := pg_catalog.to_regclass(reg.orders_relation);
    IF rel IS NULL THEN
        RAISE EXCEPTION 'orders relation % of customer view % does not exist', reg.orders_relation, view
            USING ERRCODE = 'undefined_table';
    END IF;
    IF NOT (pg_catalog.has_column_privilege(rel, reg.customer_column, 'SELECT')
            AND pg_catalog.has_column_privilege(rel, reg.ordered_at_column, 'SELECT')
            AND pg_catalog.has_column_privilege(rel, reg.amount_column, 'SELECT')) THEN
        RAISE EXCEPTION 'owner % of customer view % may not read its orders relation %',
                        pg_catalog.quote_ident(owner_name), view, rel::text
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = pg_catalog.format('The view reads the columns %I, %I and %I.', reg.customer_column,
                                             reg.ordered_at_column, reg.amount_column),
                  HINT = 'The models of a customer view are fitted on its owner''s behalf.';
    END IF;
    reg.orders_relation := @extschema@._relation_label(rel);
    src := @extschema@._customer_view_source(reg, '$1', '$2');
    unit_days := pg_catalog.date_part('epoch', reg.time_unit) / 86400;
    -- one of three names (the registry's CHECK), each the name of the
    -- model's type, of its registry column and the prefix of its functions
    model := reg.purchase_model;
    -- the view applies the model it was made with, whatever the row says now
    IF pg_catalog.strpos(pg_catalog.pg_get_viewdef(view), '.' || model || '_p_alive(') = 0 THEN
        RAISE EXCEPTION 'customer view % was not made for purchase model "%"', view, model
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'purchase_model was changed in clm.customer_view after the view was created.',
                  HINT = 'Set purchase_model back, or drop the view with clm.drop_customer_view and create it with the model.';
    END IF;
    BEGIN
        -- the model leaves this query as text, and goes back into SQL as
        -- text cast to its type: its type changes with the model, which the
        -- cached plans of PL/pgSQL expressions on fit.pm would not follow
        EXECUTE pg_catalog.format($q$
            SELECT f.*, (f.pm).r IS NOT NULL AS has_model, f.pm::text AS pm_text
              FROM (SELECT @extschema@.%2$I((c.s).x::double precision, (c.s).t_x, (c.s).t)
                               FILTER (WHERE (c.s).x IS NOT NULL) AS pm,
                           @extschema@.gamma_gamma_fit((c.s).x::double precision, (c.s).mean_spend)
                               FILTER (WHERE (c.s).x > 0 AND (c.s).mean_spend > 0) AS gg,
                           @extschema@.rfm_thresholds(c.rfm) AS th,
                           pg_catalog.count(*) AS n,
                           pg_catalog.max((c.s).t) AS t_max,
                           pg_catalog.max((c.s).x) AS x_max
                      FROM (%1$s) AS c) AS f$q$, src, model || '_fit')
        INTO fit
        USING as_of, reg.time_unit;
        gg := fit.gg;
        th := fit.th;
        n := fit.n;
        usable := fit.has_model;
    EXCEPTION WHEN data_exception THEN
        RAISE WARNING 'the models of customer view % could not be fitted: %', view, SQLERRM
            USING DETAIL = 'P(alive), expected purchases and predicted CLV are left empty.';
        EXECUTE pg_catalog.format($q$
            SELECT @extschema@.rfm_thresholds(c.rfm) AS th, pg_catalog.count(*) AS n,
                   NULL::double precision AS t_max
              FROM (%s) AS c$q$, src)
        INTO fit
        USING as_of, reg.time_unit;
        th := fit.th;
        n := fit.n;
    END;
    -- probe the fitted model on the extreme customers
    IF usable AND fit.t_max IS NOT NULL THEN
        BEGIN
            EXECUTE pg_catalog.format($q$
                SELECT @extschema@.%1$I(m.pm, p.x, p.t_x, $2),
                       @extschema@.%2$I(m.pm, $3, p.x, p.t_x, $2),
                       @extschema@.clv(m.pm, $4, p.x, p.t_x, $2, 1.0, $5, $6, $7)
                  FROM (SELECT $1::@extschema@.%3$I AS pm) AS m,
                       (VALUES (0::double precision, 0::double precision),
                               ($8, $2 / 2), ($8, $2)) AS v(x, t_x),
                       -- t_x is 0 for x = 0: data without a repeat buyer
                       LATERAL (SELECT v.x, CASE WHEN v.x > 0 THEN v.t_x ELSE 0 END) AS p(x, t_x)$q$,
                model || '_p_alive', model || '_expected_purchases', model)
            USING fit.pm_text, fit.t_max, reg.horizon_days / unit_days, gg, reg.clv_months,
                  reg.monthly_discount_rate, unit_days, fit.x_max;
        EXCEPTION WHEN data_exception THEN
            RAISE WARNING 'the % model fitted for customer view % cannot predict: %',
                          CASE model WHEN 'bgnbd' THEN 'BG/NBD' WHEN 'paretonbd' THEN 'Pareto/NBD'
                                     ELSE 'MBG/NBD' END, view, SQLERRM
                USING DETAIL = 'Fitted model: ' || fit.pm_text || '.',
                      HINT = 'P(alive), expected purchases and predicted CLV are left empty; check the time unit and the order data.';
            usable := false;
        END;
    END IF;
    UPDATE @extschema@.customer_view AS r
       SET as_of = _customer_view_fit.as_of, bgnbd = NULL, paretonbd = NULL, mbgnbd = NULL,
           gamma_gamma = gg, thresholds = th, customers = n,
           orders_relation = reg.orders_relation, refreshed_at = pg_catalog.statement_timestamp()
     WHERE r.view_schema = vschema AND r.view_name = vname;
    IF usable THEN
        EXECUTE pg_catalog.format('UPDATE @extschema@.customer_view AS r SET %1$I = $1::@extschema@.%1$I
                                    WHERE r.view_schema = $2 AND r.view_name = $3', model)
        USING fit.pm_text, vschema, vname;
    END IF;
END
$fn$;
COMMENT ON FUNCTION @extschema@._customer_view_fit(regclass, timestamptz) IS
    'internal: fits the purchase model (BG/NBD, Pareto/NBD or MBG/NBD), the Gamma-Gamma model and the RFM thresholds of a customer view at as_of and stores them in clm.customer_view; runs only as the view''s owner, through clm._customer_view_refit';
DROP FUNCTION @extschema@.create_customer_view(text, regclass, name, name, name, timestamptz, text, interval, integer, integer, double precision);
CREATE FUNCTION @extschema@.create_customer_view(
    view_name text,
    orders regclass,
    customer_column name,
    ordered_at_column name,
    amount_column name,
    as_of timestamptz DEFAULT pg_catalog.now(),
    policy text DEFAULT 'default',
    time_unit interval DEFAULT '7 days',
    horizon_days integer DEFAULT 90,
    clv_months integer DEFAULT 12,
    monthly_discount_rate double precision DEFAULT 0.01,
    purchase_model text DEFAULT 'bgnbd')
RETURNS regclass
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    parts text[];
    vschema name;
    vname name;
    reg @extschema@.customer_view;
    def text;
    rel regclass;
BEGIN
    PERFORM @extschema@._check_order_columns(orders, customer_column, ordered_at_column);
    PERFORM @extschema@._check_amount_column(orders, amount_column);
    PERFORM @extschema@._check_as_of(as_of, 'as_of');
    IF policy IS NULL THEN
        RAISE EXCEPTION 'policy must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Use ''default'' or the name of a lifecycle policy.';
    END IF;
    IF time_unit IS NULL OR time_unit <= interval '0' THEN
        RAISE EXCEPTION 'time_unit must be a positive interval'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The models'' clock ticks in this unit, for example interval ''7 days''.';
    END IF;
    IF horizon_days IS NULL OR horizon_days <= 0 OR clv_months IS NULL OR clv_months <= 0
       OR clv_months > 1200 THEN
        RAISE EXCEPTION 'horizon_days and clv_months must be positive'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'horizon_days was ' || COALESCE(horizon_days::text, 'NULL')
                           || ', clv_months was ' || COALESCE(clv_months::text, 'NULL') || '.',
                  HINT = 'clv_months can be at most 1200.';
    END IF;
    IF monthly_discount_rate IS NULL OR monthly_discount_rate < 0
       OR monthly_discount_rate = 'NaN' OR monthly_discount_rate = 'Infinity' THEN
        RAISE EXCEPTION 'monthly_discount_rate must be a finite number >= 0'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The value given was ' || COALESCE(monthly_discount_rate::text, 'NULL') || '.';
    END IF;
    IF purchase_model IS NULL THEN
        RAISE EXCEPTION 'purchase_model must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Leave it out for BG/NBD, or use ''bgnbd'', ''paretonbd'' or ''mbgnbd''.';
    END IF;
    IF purchase_model NOT IN ('bgnbd', 'paretonbd', 'mbgnbd') THEN
        RAISE EXCEPTION 'unknown purchase model "%"', purchase_model
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A customer view predicts purchases with BG/NBD, Pareto/NBD or MBG/NBD.',
                  HINT = 'Use ''bgnbd'' (the default), ''paretonbd'' or ''mbgnbd''.';
    END IF;
    IF view_name IS NULL THEN
        RAISE EXCEPTION 'view_name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    -- the name is parsed as SQL would: unquoted parts fold to lower case;
    -- an unqualified view goes into the schema of the orders table
    parts := pg_catalog.parse_ident(view_name);
    IF pg_catalog.cardinality(parts) = 1 THEN
        SELECT n.nspname INTO vschema
          FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.oid = orders;
        vname := parts[1];
    ELSIF pg_catalog.cardinality(parts) = 2 THEN
        vschema := parts[1];
        vname := parts[2];
    ELSE
        RAISE EXCEPTION 'invalid customer view name "%"', view_name
            USING ERRCODE = 'invalid_name',
                  HINT = 'Give the view''s name, optionally qualified with its schema.';
    END IF;
    IF pg_catalog.length(vname) > 50 THEN
        RAISE EXCEPTION 'customer view name "%" is too long', vname
            USING ERRCODE = 'name_too_long',
                  HINT = 'Use at most 50 characters, so that the name of its unique index fits.';
    END IF;
    -- said here rather than as a row security violation on the registry
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace AS n WHERE n.nspname = vschema) THEN
        RAISE EXCEPTION 'schema "%" does not exist', vschema
            USING ERRCODE = 'invalid_schema_name';
    END IF;
    IF NOT pg_catalog.has_schema_privilege(vschema, 'CREATE') THEN
        RAISE EXCEPTION 'permission denied for schema %', pg_catalog.quote_ident(vschema)
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A customer view is created in the schema of the orders table unless its name is qualified.';
    END IF;
    IF pg_catalog.to_regclass(pg_catalog.format('%I.%I', vschema, vname)) IS NOT NULL THEN
        RAISE EXCEPTION 'relation "%" already exists', pg_catalog.format('%I.%I', vschema, vname)
            USING ERRCODE = 'duplicate_table',
                  HINT = 'Refresh it with clm.refresh_customer_view, or drop it with clm.drop_customer_view.';
    END IF;
    -- a registry row whose view was dropped by hand is stale: replace it
    DELETE FROM @extschema@.customer_view AS r WHERE r.view_schema = vschema AND r.view_name = vname;

    reg.view_schema := vschema;
    reg.view_name := vname;
    -- the canonical quoted form (orders::text would be schema-qualified
    -- here only because search_path is pinned to pg_catalog)
    reg.orders_relation := @extschema@._relation_label(orders);
    reg.customer_column := customer_column;
    reg.ordered_at_column := ordered_at_column;
    reg.amount_column := amount_column;
    def := pg_catalog.format($q$
WITH m AS (
    SELECT r.as_of, r.policy, r.time_unit, r.horizon_days, r.clv_months, r.monthly_discount_rate,
           r.bgnbd, r.paretonbd, r.mbgnbd, r.gamma_gamma, r.thresholds,
           pg_catalog.date_part('epoch', r.time_unit) / 86400 AS unit_days
      FROM @extschema@._customer_view_row(%1$L, %2$L) AS r
), c AS (%3$s
), sc AS (
    SELECT c.customer_key, c.rfm, c.s, @extschema@.rfm_score(c.rfm, m.thresholds) AS score
      FROM c, m
)
SELECT sc.customer_key,
       (sc.rfm).first_at AS first_order_at,
       (sc.rfm).last_at AS last_order_at,
       (sc.rfm).frequency AS orders,
       (sc.rfm).monetary AS revenue,
       (sc.rfm).recency_days AS recency_days,
       (sc.rfm).tenure_days AS tenure_days,
       (sc.rfm).mean_gap_days AS mean_gap_days,
       (sc.score).r AS r_score,
       (sc.score).f AS f_score,
       (sc.score).m AS m_score,
       (sc.score).score AS rfm_score,
       @extschema@.rfm_segment(sc.score) AS segment,
       @extschema@.classify_stage((sc.rfm).frequency, (sc.rfm).first_at, (sc.rfm).last_at, m.as_of, m.policy) AS stage,
       @extschema@.%5$I(m.%4$I, (sc.s).x, (sc.s).t_x, (sc.s).t) AS p_alive,
       @extschema@.%6$I(m.%4$I, m.horizon_days / m.unit_days,
                        (sc.s).x, (sc.s).t_x, (sc.s).t) AS expected_purchases,
       @extschema@.clv(m.%4$I, m.gamma_gamma, (sc.s).x, (sc.s).t_x, (sc.s).t, (sc.s).mean_spend,
                       m.clv_months, m.monthly_discount_rate, m.unit_days) AS predicted_clv,
       m.as_of
  FROM sc, m
$q$, vschema, vname,
        @extschema@._customer_view_source(reg, '(SELECT m.as_of FROM m)', '(SELECT m.time_unit FROM m)'),
        purchase_model, purchase_model || '_p_alive', purchase_model || '_expected_purchases');

    INSERT INTO @extschema@.customer_view
        (view_schema, view_name, orders_relation, customer_column, ordered_at_column, amount_column,
         policy, time_unit, horizon_days, clv_months, monthly_discount_rate, as_of, definition,
         purchase_model)
    VALUES (vschema, vname, reg.orders_relation, customer_column, ordered_at_column, amount_column,
            policy, time_unit, horizon_days, clv_months, monthly_discount_rate, as_of, def,
            purchase_model);
    -- the view first (empty), so that the models are fitted as its owner
    EXECUTE pg_catalog.format('CREATE MATERIALIZED VIEW %I.%I AS %s WITH NO DATA', vschema, vname, def);
    rel := pg_catalog.format('%I.%I', vschema, vname)::regclass;
    EXECUTE pg_catalog.format('CREATE UNIQUE INDEX %I ON %I.%I (customer_key)',
                              vname || '_customer_key', vschema, vname);
    EXECUTE pg_catalog.format('COMMENT ON MATERIALIZED VIEW %I.%I IS %L', vschema, vname,
                              'clm customer view of ' || reg.orders_relation
                              || ': one row per customer; refresh with clm.refresh_customer_view');
    PERFORM @extschema@._customer_view_refit(rel, as_of);
    EXECUTE pg_catalog.format('REFRESH MATERIALIZED VIEW %I.%I', vschema, vname);
    RETURN rel;
END
$fn$;
COMMENT ON FUNCTION @extschema@.create_customer_view(text, regclass, name, name, name, timestamptz, text, interval, integer, integer, double precision, text) IS
    'creates a materialized view with one row per customer of an orders table (RFM values, scores and segment, lifecycle stage, P(alive), expected purchases and predicted CLV from a BG/NBD, Pareto/NBD or MBG/NBD model), fitted and fixed at as_of, with a unique index for REFRESH CONCURRENTLY';


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

-- clm.distributed_stage_history: the history of Citus tables read on the
-- coordinator from every node (new in 1.1)
-- distributed_stage_history: the history of Citus tables, read on the
-- coordinator from every node.  On Citus each node records the changes of
-- the shards it holds in its own clm.stage_history, under the distributed
-- table (clm.stage_guard maps a shard to its table); this gathers them,
-- filtered on each node by table and customer, with the table resolved on
-- this node.  Each node's query runs as the calling role, so each node's
-- read policy (clm.stage_history_visible) applies there.  The Citus catalog
-- and function are named only in the body (resolved when called), so clm
-- installs without Citus.
CREATE FUNCTION @extschema@.distributed_stage_history(
    distributed_table regclass DEFAULT NULL, customer text DEFAULT NULL)
RETURNS TABLE (nodeid integer, id bigint, relation regclass, customer_key text,
               from_stage @extschema@.lifecycle_stage, to_stage @extschema@.lifecycle_stage,
               changed_at timestamptz, recorded_at timestamptz, changed_by name, txid xid8)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    want_relation regclass := $1;
    want_key text := $2;
    nsp name;
    rel name;
    node record;
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RAISE EXCEPTION 'clm.distributed_stage_history needs Citus'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'This database has no Citus extension: every stage change is in its own clm.stage_history.',
                  HINT = 'Read clm.stage_history.';
    END IF;
    IF want_relation IS NOT NULL THEN
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
                        WHERE p.logicalrelid OPERATOR(pg_catalog.=) want_relation) THEN
            RAISE EXCEPTION 'relation % is not a Citus table', want_relation
                USING ERRCODE = 'wrong_object_type',
                      DETAIL = 'The history of a table that is not distributed is in this node''s clm.stage_history.',
                      HINT = pg_catalog.format('SELECT * FROM clm.stage_history WHERE relation = %L::regclass;',
                                               want_relation::text);
        END IF;
        SELECT n.nspname, c.relname INTO nsp, rel
          FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n
            ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
         WHERE c.oid OPERATOR(pg_catalog.=) want_relation;
    END IF;
    FOR node IN
        SELECT r.nodeid, r.success, r.result
          FROM pg_catalog.run_command_on_all_nodes(pg_catalog.format($cmd$
SELECT COALESCE(pg_catalog.json_agg(pg_catalog.json_build_object(
           'id', h.id, 'nsp', n.nspname, 'rel', c.relname, 'customer_key', h.customer_key,
           'from_stage', h.from_stage, 'to_stage', h.to_stage, 'changed_at', h.changed_at,
           'recorded_at', h.recorded_at, 'changed_by', h.changed_by, 'txid', h.txid)
       ORDER BY h.id), '[]')
  FROM @extschema@.stage_history h
  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) h.relation
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
 WHERE h.relation OPERATOR(pg_catalog.=) ANY (SELECT p.logicalrelid FROM pg_catalog.pg_dist_partition p)
   AND (%1$L::pg_catalog.name IS NULL OR (n.nspname OPERATOR(pg_catalog.=) %1$L AND c.relname OPERATOR(pg_catalog.=) %2$L))
   AND (%3$L::pg_catalog.text IS NULL OR h.customer_key OPERATOR(pg_catalog.=) %3$L)
$cmd$, nsp, rel, want_key)) AS r
         ORDER BY r.nodeid
    LOOP
        IF NOT node.success THEN
            RAISE EXCEPTION 'reading clm.stage_history on Citus node % failed', node.nodeid
                USING ERRCODE = 'connection_exception',
                      DETAIL = pg_catalog.format('The node reported: %s', node.result),
                      HINT = 'See pg_dist_node for the node; clm must be installed on every node.';
        END IF;
        RETURN QUERY
            SELECT node.nodeid, h.id,
                   pg_catalog.to_regclass(pg_catalog.format('%I.%I', h.nsp, h.rel)),
                   h.customer_key, h.from_stage, h.to_stage, h.changed_at, h.recorded_at,
                   h.changed_by, h.txid
              FROM pg_catalog.json_to_recordset(node.result::pg_catalog.json)
                   AS h(id bigint, nsp name, rel name, customer_key text,
                        from_stage @extschema@.lifecycle_stage, to_stage @extschema@.lifecycle_stage,
                        changed_at timestamptz, recorded_at timestamptz, changed_by name, txid xid8);
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION @extschema@.distributed_stage_history(regclass, text) IS
    'on a Citus coordinator: the clm.stage_history rows of Citus tables from every node (as the calling role, under each node''s read policy), optionally of one table and one customer key, with the table resolved on this node';

-- rfm_table, rfm_table_uuid: the whole RFM pipeline over an orders relation
-- in one call, within work_mem (new in 1.1)
CREATE FUNCTION @extschema@.rfm_table(orders regclass, as_of timestamptz,
                                      customer_column name DEFAULT 'customer_id',
                                      ordered_at_column name DEFAULT 'ordered_at',
                                      amount_column name DEFAULT 'amount',
                                      bins integer DEFAULT 5,
                                      ruleset text DEFAULT 'default')
    RETURNS TABLE (customer_id bigint, recency_days double precision, frequency bigint,
                   monetary numeric, first_at timestamptz, last_at timestamptz,
                   tenure_days double precision, mean_gap_days double precision,
                   r integer, f integer, m integer, score integer, segment text)
    AS 'MODULE_PATHNAME', 'rfm_table' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 100000;
COMMENT ON FUNCTION @extschema@.rfm_table(regclass, timestamptz, name, name, name, integer, text) IS
    'RFM metrics, scores and segment of every customer of an orders table or view (integer ids), in one pass within work_mem';
CREATE FUNCTION @extschema@.rfm_table_uuid(orders regclass, as_of timestamptz,
                                           customer_column name DEFAULT 'customer_id',
                                           ordered_at_column name DEFAULT 'ordered_at',
                                           amount_column name DEFAULT 'amount',
                                           bins integer DEFAULT 5,
                                           ruleset text DEFAULT 'default')
    RETURNS TABLE (customer_id uuid, recency_days double precision, frequency bigint,
                   monetary numeric, first_at timestamptz, last_at timestamptz,
                   tenure_days double precision, mean_gap_days double precision,
                   r integer, f integer, m integer, score integer, segment text)
    AS 'MODULE_PATHNAME', 'rfm_table_uuid' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 100000;
COMMENT ON FUNCTION @extschema@.rfm_table_uuid(regclass, timestamptz, name, name, name, integer, text) IS
    'clm.rfm_table for uuid customer ids';

-- CLV under the other purchase models (new in 1.1)
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
