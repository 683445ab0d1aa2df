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

-- Lifecycle policies say when a loyal customer who refers others becomes an
-- advocate (src/lifecycle/lifecycle_policy.sql).  The columns are filled by
-- an UPDATE, not by ADD COLUMN's default, which would leave a "missing
-- value" in the catalog that a fresh install has not; the default policy's
-- guard is set aside for it.
ALTER TABLE @extschema@.lifecycle_policy
    ADD COLUMN advocate_min_referrals integer,
    ADD COLUMN advocate_window_days double precision;
ALTER TABLE @extschema@.lifecycle_policy DISABLE TRIGGER lifecycle_policy_protect_default;
UPDATE @extschema@.lifecycle_policy SET advocate_min_referrals = 3, advocate_window_days = 90;
ALTER TABLE @extschema@.lifecycle_policy ENABLE TRIGGER lifecycle_policy_protect_default;
ALTER TABLE @extschema@.lifecycle_policy
    ALTER COLUMN advocate_min_referrals SET DEFAULT 3,
    ALTER COLUMN advocate_min_referrals SET NOT NULL,
    ALTER COLUMN advocate_window_days SET DEFAULT 90,
    ALTER COLUMN advocate_window_days SET NOT NULL,
    ADD CONSTRAINT lifecycle_policy_advocate_min_referrals_check
        CHECK (advocate_min_referrals BETWEEN 1 AND 1000000),
    ADD CONSTRAINT lifecycle_policy_advocate_window_days_check
        CHECK (advocate_window_days > 0 AND advocate_window_days <= 36500);
COMMENT ON TABLE @extschema@.lifecycle_policy IS
    'when a customer counts as loyal, at_risk, dormant or churned: multiples of the customer''s own mean purchase gap (population fallback for one-time buyers), clamped to floors and ceilings in days; and when a loyal customer who refers others becomes an advocate';
COMMENT ON COLUMN @extschema@.lifecycle_policy.advocate_min_referrals IS 'a loyal customer becomes an advocate once this many of the customers they referred have made their first purchase in time (with referrals adopted: clm.adopt_referrals)';
COMMENT ON COLUMN @extschema@.lifecycle_policy.advocate_window_days IS 'a referred customer''s first purchase counts for the referrer if it comes within this many days of the referral';

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
    ADD COLUMN mbgnbd @extschema@.mbgnbd,
    ADD COLUMN referrals_relation text;
UPDATE @extschema@.customer_view SET purchase_model = 'bgnbd';
ALTER TABLE @extschema@.customer_view
    ALTER COLUMN purchase_model SET DEFAULT 'bgnbd',
    ALTER COLUMN purchase_model SET NOT NULL,
    ADD CONSTRAINT customer_view_purchase_model_check
        CHECK (purchase_model IN ('bgnbd', 'paretonbd', 'mbgnbd'));
COMMENT ON COLUMN @extschema@.customer_view.referrals_relation IS
    'the adopted referrals table (clm.adopt_referrals) whose referred customers the view counts, or NULL';
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
-- _eq_operator: a type's own equality operator, for the SQL the customer
-- views are built from (keys compare as in the triggers)
CREATE FUNCTION @extschema@._eq_operator(typ regtype)
RETURNS text
AS 'MODULE_PATHNAME', 'clm_eq_operator'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._eq_operator(regtype) IS
    'internal: the type''s default equality operator as OPERATOR(schema.op), or NULL';

-- create_customer_view: the materialized view BI tools read, one row per
-- customer, built on the user's own orders table whatever its column names
-- and key type.  The as-of time is fixed here and stored with the view, so
-- every figure in it (recency, stage, P(alive), CLV) refers to the same
-- instant however late the view is read.
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
    purchase_model text DEFAULT 'bgnbd',
    referrals regclass DEFAULT NULL)
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
    ref @extschema@.referral_source;
    ref_cte text := '';
    ref_cols text := 'NULL::pg_catalog.int8 AS referred_customers, NULL::pg_catalog.numeric AS referred_revenue';
    ref_join text := '';
    key_eq text;
    order_eq text;
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
    -- with referrals: per customer, the customers they referred (not
    -- themselves) up to as_of, and those customers' revenue up to as_of
    IF referrals IS NOT NULL THEN
        SELECT * INTO ref FROM @extschema@.referral_source AS s WHERE s.referrals = create_customer_view.referrals;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'table % is not an adopted referrals table', referrals
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Adopt it for its customers table with clm.adopt_referrals first.';
        END IF;
        -- keys compare with their types' own equality, as in the triggers
        -- (citext case-insensitively), whatever the search_path
        key_eq := @extschema@._eq_operator(@extschema@._column_type(referrals, ref.referrer_column, 'referrer_column'));
        order_eq := @extschema@._eq_operator(@extschema@._column_type(orders, customer_column, 'customer_column'));
        ref_cte := pg_catalog.format($q$, rf AS (
    SELECT d.referrer, pg_catalog.count(*) AS referred_customers,
           pg_catalog.sum(rv.revenue) AS referred_revenue
      FROM (SELECT DISTINCT r.%1$I AS referrer, r.%2$I AS referred
              FROM %3$s AS r, m
             WHERE NOT (r.%1$I %9$s r.%2$I) AND r.%4$I OPERATOR(pg_catalog.<=) m.as_of) AS d
      LEFT JOIN (SELECT o.%5$I AS customer, pg_catalog.sum(o.%7$I)::pg_catalog.numeric AS revenue
                   FROM %8$s AS o, m
                  WHERE o.%6$I OPERATOR(pg_catalog.<=) m.as_of
                  GROUP BY o.%5$I) AS rv ON rv.customer %10$s d.referred
     GROUP BY d.referrer
)$q$, ref.referrer_column, ref.referred_column, @extschema@._relation_label(referrals),
              ref.referred_at_column, customer_column, ordered_at_column, amount_column,
              @extschema@._relation_label(orders), key_eq, order_eq);
        ref_cols := 'COALESCE(rf.referred_customers, 0) AS referred_customers, '
                    'COALESCE(rf.referred_revenue, 0) AS referred_revenue';
        ref_join := pg_catalog.format(' LEFT JOIN rf ON sc.customer_key %s rf.referrer', order_eq);
        reg.referrals_relation := @extschema@._relation_label(referrals);
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
)%7$s
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
       %8$s,
       m.as_of
  FROM sc CROSS JOIN m%9$s
$q$, vschema, vname,
        @extschema@._customer_view_source(reg, '(SELECT m.as_of FROM m)', '(SELECT m.time_unit FROM m)'),
        purchase_model, purchase_model || '_p_alive', purchase_model || '_expected_purchases',
        ref_cte, ref_cols, ref_join);

    INSERT INTO @extschema@.customer_view
        (view_schema, view_name, orders_relation, customer_column, ordered_at_column, amount_column,
         policy, time_unit, horizon_days, clv_months, monthly_discount_rate, as_of, definition,
         purchase_model, referrals_relation)
    VALUES (vschema, vname, reg.orders_relation, customer_column, ordered_at_column, amount_column,
            policy, time_unit, horizon_days, clv_months, monthly_discount_rate, as_of, def,
            purchase_model, reg.referrals_relation);
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
COMMENT ON FUNCTION @extschema@.create_customer_view(text, regclass, name, name, name, timestamptz, text, interval, integer, integer, double precision, text, regclass) IS
    'creates a materialized view with one row per customer of an orders table (RFM values, scores and segment, lifecycle stage, P(alive), expected purchases and predicted CLV from a BG/NBD, Pareto/NBD or MBG/NBD model; with an adopted referrals table, the customers each referred and their revenue), fitted and fixed at as_of, with a unique index for REFRESH CONCURRENTLY';


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

-- clm.stage_on_order also works as a statement-level trigger over the new rows (1.1)
COMMENT ON FUNCTION @extschema@.stage_on_order() IS
    'AFTER INSERT trigger on an orders table, FOR EACH ROW or, for bulk loads, FOR EACH STATEMENT with REFERENCING NEW TABLE; arguments (customers table, order customer column, stage column, order time column [, policy [, customer key column]]): moves the customer to first_purchase / repeat / loyal / reactivated through clm.stage_guard';

-- One helper finds the relations a DROP removed, for every event trigger
-- that detaches clm's records from them (new in 1.1)
-- _dropped_relations: in a sql_drop event trigger, the tables, foreign
-- tables, views and materialized views just dropped (DROP TABLE, DROP
-- SCHEMA ... CASCADE, DROP OWNED, ...); NULL when there are none.  Every
-- record clm keeps of a user's relation is detached from these.
CREATE FUNCTION @extschema@._dropped_relations()
RETURNS oid[]
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT pg_catalog.array_agg(d.objid)
          FROM pg_catalog.pg_event_trigger_dropped_objects() AS d
         WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
           AND d.objsubid OPERATOR(pg_catalog.=) 0
           AND d.object_type OPERATOR(pg_catalog.=) ANY ('{table,foreign table,view,materialized view}'));
COMMENT ON FUNCTION @extschema@._dropped_relations() IS
    'internal: in a sql_drop event trigger, the OIDs of the tables, foreign tables, views and materialized views just dropped';

-- stage_history_detach_dropped: relation := 0 for the history of tables
-- just dropped, as the owner of the history, whoever dropped the table.
CREATE OR REPLACE FUNCTION @extschema@.stage_history_detach_dropped()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    UPDATE @extschema@.stage_history AS h SET relation = 0
     WHERE h.relation OPERATOR(pg_catalog.=) ANY (@extschema@._dropped_relations());
END
$fn$;

-- Campaigns: targeted and held-out customers, and their measured response (new in 1.1)
-- campaign: one row per campaign made by create_campaign: the customers
-- table it targets (and its key), the orders table its results are read
-- from, the share of customers held out as the control group, and when it
-- starts.  The tables are kept by OID (regclass): the campaign follows a
-- rename, and clm.action_detach_dropped (feed.sql) sets them to 0 when
-- they are dropped, so that no later table reusing the OID inherits the
-- campaign.
-- A campaign belongs to the role that made it (created_by).
CREATE TABLE @extschema@.campaign (
    name                text PRIMARY KEY CHECK (name <> ''),
    customers           regclass NOT NULL,
    customer_key_column name NOT NULL,
    orders              regclass NOT NULL,
    customer_column     name NOT NULL,
    ordered_at_column   name NOT NULL,
    amount_column       name NOT NULL,
    control_share       double precision NOT NULL
                        CHECK (control_share > 0 AND control_share < 1),
    starts_at           timestamptz NOT NULL CHECK (pg_catalog.isfinite(starts_at)),
    description         text,
    created_by          name NOT NULL DEFAULT CURRENT_USER,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.statement_timestamp()
);
COMMENT ON TABLE @extschema@.campaign IS
    'campaigns made by clm.create_campaign: the customers table targeted and its key, the orders table the results are read from, the control share, the start, and the role that made it';
COMMENT ON COLUMN @extschema@.campaign.customers IS
    'the customers table (by OID: the campaign follows a rename); 0 once the table is dropped';
COMMENT ON COLUMN @extschema@.campaign.orders IS
    'the orders table whose orders count as responses (by OID); 0 once the table is dropped';
COMMENT ON COLUMN @extschema@.campaign.control_share IS
    'the share of enrolled customers held out as the control group, strictly between 0 and 1 (clm.campaign_arm)';
COMMENT ON COLUMN @extschema@.campaign.starts_at IS
    'when the campaign starts: the response window of clm.campaign_report begins here';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.campaign', '');

-- campaign_member: the customers enrolled in a campaign, and their arm.
-- The arm is always clm.campaign_arm's (the insert policy checks it), so
-- that enrolling a customer again, or in a restored database, gives the
-- same arm.
CREATE TABLE @extschema@.campaign_member (
    campaign        text NOT NULL REFERENCES @extschema@.campaign ON DELETE CASCADE,
    customer_key    text NOT NULL,
    arm             text NOT NULL CHECK (arm IN ('target', 'control')),
    enrolled_at     timestamptz NOT NULL DEFAULT pg_catalog.statement_timestamp(),
    PRIMARY KEY (campaign, customer_key)
);
COMMENT ON TABLE @extschema@.campaign_member IS
    'the customers enrolled in each campaign (key as text, as in clm.stage_history), with their arm: target (contacted) or control (held out)';
COMMENT ON COLUMN @extschema@.campaign_member.arm IS
    'target: the customer is to be contacted; control: held out, to measure what the campaign changed (clm.campaign_arm)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.campaign_member', '');

-- campaign_arm: the arm of a customer in a campaign, from a hash of the
-- campaign name and the customer key: the same every time, on every
-- server, and independent of the order customers are enrolled in.  A
-- customer goes to the control group when the hash, read as a number in
-- [0, 1), is below the control share.
CREATE FUNCTION @extschema@.campaign_arm(campaign text, customer_key text,
                                         control_share double precision)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF campaign IS NULL OR customer_key IS NULL OR control_share IS NULL THEN
        RAISE EXCEPTION 'campaign, customer key and control share must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass the campaign name, the customer key as text, and a share between 0 and 1.';
    END IF;
    IF NOT (control_share > 0 AND control_share < 1) THEN
        RAISE EXCEPTION 'control share must be between 0 and 1, exclusive'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('It was given as %s.', control_share),
                  HINT = 'A campaign holds out a share of its customers, such as 0.1; none or all leaves nothing to compare.';
    END IF;
    RETURN CASE WHEN ('x' || substr(encode(sha256(convert_to(campaign || E'\n' || customer_key, 'UTF8')),
                                           'hex'), 1, 13))::bit(52)::bigint / 4503599627370496.0
                     < control_share
                THEN 'control' ELSE 'target' END;
END
$fn$;
COMMENT ON FUNCTION @extschema@.campaign_arm(text, text, double precision) IS
    'the arm (target or control) of a customer in a campaign: control when the SHA-256 of the campaign name and the customer key, read as a number in [0, 1), is below the control share; the same on every call and every server';

-- _campaign_readable: whether the current role may read a table (USAGE on
-- its schema, SELECT on it); false for a dropped one.
CREATE FUNCTION @extschema@._campaign_readable(rel regclass)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN EXISTS (SELECT FROM pg_catalog.pg_class AS c
                WHERE c.oid = rel
                  AND pg_catalog.has_schema_privilege(c.relnamespace, 'USAGE')
                  AND pg_catalog.has_table_privilege(c.oid, 'SELECT'));
COMMENT ON FUNCTION @extschema@._campaign_readable(regclass) IS
    'internal: whether the current role may read the table (USAGE on its schema and SELECT on it); false for a dropped table';

-- _role_member: whether the current role is a member of the named role,
-- which made a campaign or subscribed a feed consumer (false once that
-- role is dropped: pg_has_role would raise an error for a missing name).
CREATE FUNCTION @extschema@._role_member(role_name name)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN EXISTS (SELECT FROM pg_catalog.pg_roles AS r
                WHERE r.rolname = role_name AND pg_catalog.pg_has_role(r.oid, 'MEMBER'));
COMMENT ON FUNCTION @extschema@._role_member(name) IS
    'internal: whether the current role is a member of the named role (false for a role that does not exist)';

-- _primary_key_column: the column of a table's one-column primary key, by
-- which clm finds customers where no key column is named; NULL when the
-- table has no primary key or one of several columns.
CREATE FUNCTION @extschema@._primary_key_column(rel regclass)
RETURNS name
AS 'MODULE_PATHNAME', 'clm_primary_key_column'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._primary_key_column(regclass) IS
    'internal: the column of the table''s one-column primary key, or NULL';

-- _customer_key_column: the column customers are found by, given or the
-- one-column primary key, for the functions that take an optional
-- customer_key_column; an error when there is neither.
CREATE FUNCTION @extschema@._customer_key_column(customers regclass, given name)
RETURNS name
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    key_column name := coalesce(given, @extschema@._primary_key_column(customers));
BEGIN
    IF key_column IS NULL THEN
        RAISE EXCEPTION 'table % has no one-column primary key to find customers by', customers
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass customer_key_column.';
    END IF;
    RETURN key_column;
END
$fn$;
COMMENT ON FUNCTION @extschema@._customer_key_column(regclass, name) IS
    'internal: the given customer key column, else the customers table''s one-column primary key; an error without either';

-- Who sees and changes what: a campaign is seen by the roles that may read
-- its customers table and by its maker, and changed or deleted by its
-- maker only.  A membership is seen by the roles that may see the
-- customer's history (clm.stage_history_visible: the same rule), and
-- added or removed by the campaign's maker, for customers the maker may
-- see (campaign_member_check_arm, below, keeps the arm).
ALTER TABLE @extschema@.campaign ENABLE ROW LEVEL SECURITY;
CREATE POLICY campaign_read ON @extschema@.campaign FOR SELECT
    USING (@extschema@._role_member(created_by) OR @extschema@._campaign_readable(customers));
CREATE POLICY campaign_insert ON @extschema@.campaign FOR INSERT
    WITH CHECK (created_by = CURRENT_USER AND @extschema@._campaign_readable(customers)
                AND @extschema@._campaign_readable(orders));
CREATE POLICY campaign_update ON @extschema@.campaign FOR UPDATE
    USING (@extschema@._role_member(created_by))
    WITH CHECK (@extschema@._role_member(created_by));
CREATE POLICY campaign_delete ON @extschema@.campaign FOR DELETE
    USING (@extschema@._role_member(created_by));
COMMENT ON POLICY campaign_read ON @extschema@.campaign IS
    'a campaign is visible to its maker and to the roles that may read its customers table';
COMMENT ON POLICY campaign_insert ON @extschema@.campaign IS
    'a role makes campaigns in its own name, on customers and orders tables it may read';
COMMENT ON POLICY campaign_update ON @extschema@.campaign IS
    'only (members of) the maker may change a campaign''s description';
COMMENT ON POLICY campaign_delete ON @extschema@.campaign IS
    'only (members of) the maker may delete a campaign, and with it its memberships';
GRANT SELECT, INSERT, DELETE ON @extschema@.campaign TO PUBLIC;
GRANT UPDATE (description) ON @extschema@.campaign TO PUBLIC;

ALTER TABLE @extschema@.campaign_member ENABLE ROW LEVEL SECURITY;
CREATE POLICY campaign_member_read ON @extschema@.campaign_member FOR SELECT
    USING (EXISTS (SELECT FROM @extschema@.campaign AS c
                    WHERE c.name OPERATOR(pg_catalog.=) campaign
                      AND @extschema@.stage_history_visible(c.customers, customer_key)));
CREATE POLICY campaign_member_insert ON @extschema@.campaign_member FOR INSERT
    WITH CHECK (EXISTS (SELECT FROM @extschema@.campaign AS c
                         WHERE c.name OPERATOR(pg_catalog.=) campaign
                           AND @extschema@._role_member(c.created_by)
                           AND @extschema@.stage_history_visible(c.customers, customer_key)));
CREATE POLICY campaign_member_delete ON @extschema@.campaign_member FOR DELETE
    USING (EXISTS (SELECT FROM @extschema@.campaign AS c
                    WHERE c.name OPERATOR(pg_catalog.=) campaign
                      AND @extschema@._role_member(c.created_by)));
COMMENT ON POLICY campaign_member_read ON @extschema@.campaign_member IS
    'a membership is visible to the roles that may see the customer (clm.stage_history_visible)';
COMMENT ON POLICY campaign_member_insert ON @extschema@.campaign_member IS
    'the campaign''s maker enrolls customers it may see';
COMMENT ON POLICY campaign_member_delete ON @extschema@.campaign_member IS
    'the campaign''s maker may remove memberships';
GRANT SELECT, INSERT, DELETE ON @extschema@.campaign_member TO PUBLIC;

-- campaign_member_check_arm: every membership is in the arm
-- clm.campaign_arm gives, however it was written (a trigger rather than a
-- policy: it holds for the table's owner and superusers too).
CREATE FUNCTION @extschema@.campaign_member_check_arm()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    share double precision;
    want text;
BEGIN
    SELECT c.control_share INTO share FROM @extschema@.campaign AS c WHERE c.name = NEW.campaign;
    IF NOT FOUND THEN
        RETURN NEW;             -- the foreign key reports it
    END IF;
    want := @extschema@.campaign_arm(NEW.campaign, NEW.customer_key, share);
    IF NEW.arm IS DISTINCT FROM want THEN
        RAISE EXCEPTION 'customer % of campaign "%" belongs in the % arm, not %',
                        NEW.customer_key, NEW.campaign, want, NEW.arm
            USING ERRCODE = 'check_violation',
                  DETAIL = 'The arm is a function of the campaign, the customer and the control share (clm.campaign_arm).',
                  HINT = 'Enroll customers with clm.campaign_enroll, which assigns the arm.';
    END IF;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION @extschema@.campaign_member_check_arm() IS
    'trigger function on clm.campaign_member: refuses a membership whose arm is not the one clm.campaign_arm gives';
CREATE TRIGGER campaign_member_check_arm BEFORE INSERT OR UPDATE ON @extschema@.campaign_member
    FOR EACH ROW EXECUTE FUNCTION @extschema@.campaign_member_check_arm();
COMMENT ON TRIGGER campaign_member_check_arm ON @extschema@.campaign_member IS
    'keeps every membership in the arm clm.campaign_arm gives (clm.campaign_member_check_arm)';

-- _campaign_get: the campaign of that name the current role may see, with
-- its tables still there; clear errors otherwise.
CREATE FUNCTION @extschema@._campaign_get(campaign text)
RETURNS @extschema@.campaign
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c @extschema@.campaign;
BEGIN
    IF campaign IS NULL THEN
        RAISE EXCEPTION 'campaign must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass the name given to clm.create_campaign.';
    END IF;
    SELECT * INTO c FROM @extschema@.campaign AS x WHERE x.name = campaign;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'campaign "%" does not exist', campaign
            USING ERRCODE = 'undefined_object',
                  HINT = 'See SELECT name FROM clm.campaign; a campaign is visible to its maker and to roles that may read its customers table.';
    END IF;
    IF c.customers = 0 OR c.orders = 0 THEN
        RAISE EXCEPTION 'the % table of campaign "%" was dropped', CASE WHEN c.customers = 0 THEN 'customers' ELSE 'orders' END, campaign
            USING ERRCODE = 'undefined_table',
                  HINT = 'Delete the campaign (DELETE FROM clm.campaign WHERE name = ...), or make it again on the current tables.';
    END IF;
    RETURN c;
END
$fn$;
COMMENT ON FUNCTION @extschema@._campaign_get(text) IS
    'internal: the visible campaign of that name, or an error when it is unknown or its tables were dropped';

-- create_campaign: make a campaign.  The customer key column defaults to
-- the customers table's one-column primary key; the customer, time and
-- amount columns of the orders table are checked now, so that the report
-- cannot fail on them later.
CREATE FUNCTION @extschema@.create_campaign(
    name text,
    customers regclass,
    orders regclass,
    control_share double precision DEFAULT 0.1,
    starts_at timestamptz DEFAULT pg_catalog.statement_timestamp(),
    customer_column name DEFAULT 'customer_id',
    ordered_at_column name DEFAULT 'ordered_at',
    amount_column name DEFAULT 'amount',
    customer_key_column name DEFAULT NULL,
    description text DEFAULT NULL)
RETURNS @extschema@.campaign
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c @extschema@.campaign;
    key_column name := customer_key_column;
    r regclass;
BEGIN
    IF name IS NULL OR customers IS NULL OR orders IS NULL OR control_share IS NULL
       OR customer_column IS NULL OR ordered_at_column IS NULL OR amount_column IS NULL THEN
        RAISE EXCEPTION 'the arguments of clm.create_campaign must not be null, except customer_key_column and description'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Leave out the arguments whose default you want.';
    END IF;
    IF name = '' THEN
        RAISE EXCEPTION 'a campaign name must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM @extschema@.campaign_arm(name, '', control_share);   -- checks the share
    PERFORM @extschema@._check_as_of(starts_at, 'starts_at');
    FOREACH r IN ARRAY ARRAY[customers, orders] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_class AS k WHERE k.oid = r
                          AND k.relkind IN ('r', 'p', 'v', 'm', 'f')) THEN
            RAISE EXCEPTION '% is not a table or view', r
                USING ERRCODE = 'wrong_object_type';
        END IF;
        IF NOT @extschema@._campaign_readable(r) THEN
            RAISE EXCEPTION 'permission denied for table %', r
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'A campaign is made by a role that may read its customers and orders tables.';
        END IF;
    END LOOP;
    key_column := @extschema@._customer_key_column(customers, key_column);
    PERFORM @extschema@._column_type(customers, key_column, 'customer_key_column');
    PERFORM @extschema@._check_order_columns(orders, customer_column, ordered_at_column);
    PERFORM @extschema@._check_amount_column(orders, amount_column);
    IF EXISTS (SELECT FROM @extschema@.campaign AS x WHERE x.name = create_campaign.name) THEN
        RAISE EXCEPTION 'campaign "%" already exists', name
            USING ERRCODE = 'duplicate_object';
    END IF;
    INSERT INTO @extschema@.campaign AS x (name, customers, customer_key_column, orders, customer_column,
                                          ordered_at_column, amount_column, control_share, starts_at, description)
    VALUES (name, customers, key_column, orders, customer_column, ordered_at_column, amount_column,
            control_share, starts_at, description)
    RETURNING x.* INTO c;
    RETURN c;
END
$fn$;
COMMENT ON FUNCTION @extschema@.create_campaign(text, regclass, regclass, double precision, timestamptz, name, name, name, name, text) IS
    'makes a campaign on a customers table, with the orders table its results are read from, a control share (default 0.1) and a start (default now); the customer key defaults to the one-column primary key';

-- campaign_enroll: enroll a customer (who must exist in the campaign's
-- customers table, as the calling role sees it) and return the arm.
-- Enrolling again changes nothing and returns the same arm.
CREATE FUNCTION @extschema@.campaign_enroll(campaign text, customer_key text)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c @extschema@.campaign := @extschema@._campaign_get(campaign);
    found_key text;
    result text;
BEGIN
    IF customer_key IS NULL THEN
        RAISE EXCEPTION 'customer key must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT @extschema@._role_member(c.created_by) THEN
        RAISE EXCEPTION 'only the maker of campaign "%" may enroll customers in it', campaign
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The campaign was made by %s.', c.created_by);
    END IF;
    EXECUTE format('SELECT k.%1$I::pg_catalog.text FROM %2$s AS k WHERE k.%1$I OPERATOR(pg_catalog.=) $1::%3$s',
                   c.customer_key_column, c.customers,
                   @extschema@._column_type(c.customers, c.customer_key_column, 'customer_key_column'))
        INTO found_key USING customer_key;
    IF found_key IS NULL THEN
        RAISE EXCEPTION 'customer % is not in table %', customer_key, c.customers
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'Enroll customers of the campaign''s customers table, by their key as text.';
    END IF;
    INSERT INTO @extschema@.campaign_member AS m (campaign, customer_key, arm)
    VALUES (c.name, found_key, @extschema@.campaign_arm(c.name, found_key, c.control_share))
    ON CONFLICT ON CONSTRAINT campaign_member_pkey DO NOTHING
    RETURNING m.arm INTO result;
    IF result IS NULL THEN
        SELECT m.arm INTO result FROM @extschema@.campaign_member AS m
         WHERE m.campaign = c.name AND m.customer_key = found_key;
    END IF;
    RETURN result;
END
$fn$;
COMMENT ON FUNCTION @extschema@.campaign_enroll(text, text) IS
    'enrolls a customer of the campaign''s customers table (key as text) and returns the arm, target or control (clm.campaign_arm); enrolling again returns the same arm; only the campaign''s maker may enroll';

-- campaign_report: what the campaign did, per arm, within a window from
-- its start.  A customer responded when the stage history shows it
-- reactivated in the window, or it ordered in the window.  The uplift is
-- the target arm's response rate minus the control arm's, with the normal
-- approximation's 95 % interval for a difference of two proportions.
-- Runs as the calling role: it counts the members, history rows and
-- orders that role may read.
CREATE FUNCTION @extschema@.campaign_report(campaign text, response_window interval)
RETURNS TABLE (name text, starts_at timestamptz, ends_at timestamptz,
               target_customers bigint, control_customers bigint,
               target_responded bigint, control_responded bigint,
               target_rate double precision, control_rate double precision,
               uplift double precision, uplift_low double precision, uplift_high double precision,
               target_revenue_per_customer numeric, control_revenue_per_customer numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    c @extschema@.campaign := @extschema@._campaign_get(campaign);
    win_end timestamptz;
    z constant double precision := 1.959963984540054;  -- the normal's 97.5 % quantile
    se double precision;
    n_t bigint;
    n_c bigint;
    r_t bigint;
    r_c bigint;
    rev_t numeric;
    rev_c numeric;
BEGIN
    IF response_window IS NULL THEN
        RAISE EXCEPTION 'response window must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass how long after the start a response counts, such as interval ''30 days''.';
    END IF;
    win_end := c.starts_at + response_window;
    IF NOT (win_end > c.starts_at) THEN
        RAISE EXCEPTION 'response window must be positive'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('It was given as %s.', response_window),
                  HINT = 'Pass how long after the start a response counts, such as interval ''30 days''.';
    END IF;
    EXECUTE format($q$
        WITH m AS (
            SELECT m.customer_key, m.arm FROM @extschema@.campaign_member AS m
             WHERE m.campaign OPERATOR(pg_catalog.=) $1),
        o AS (
            SELECT o.%2$I::pg_catalog.text AS customer_key,
                   pg_catalog.sum(o.%4$I::pg_catalog.numeric) AS revenue
              FROM %1$s AS o
             WHERE o.%2$I OPERATOR(pg_catalog.=) ANY (SELECT m.customer_key::%5$s FROM m)
               AND o.%3$I::pg_catalog.timestamptz OPERATOR(pg_catalog.>=) $2
               AND o.%3$I::pg_catalog.timestamptz OPERATOR(pg_catalog.<) $3
             GROUP BY 1),
        r AS (
            SELECT DISTINCT h.customer_key FROM @extschema@.stage_history AS h
             WHERE h.relation OPERATOR(pg_catalog.=) $4
               AND h.to_stage OPERATOR(pg_catalog.=) 'reactivated'
               AND h.changed_at OPERATOR(pg_catalog.>=) $2
               AND h.changed_at OPERATOR(pg_catalog.<) $3),
        per AS (
            SELECT m.arm, o.customer_key IS NOT NULL OR r.customer_key IS NOT NULL AS responded,
                   o.revenue
              FROM m
              LEFT JOIN o ON o.customer_key OPERATOR(pg_catalog.=) m.customer_key
              LEFT JOIN r ON r.customer_key OPERATOR(pg_catalog.=) m.customer_key)
        SELECT pg_catalog.count(*) FILTER (WHERE arm OPERATOR(pg_catalog.=) 'target'),
               pg_catalog.count(*) FILTER (WHERE arm OPERATOR(pg_catalog.=) 'control'),
               pg_catalog.count(*) FILTER (WHERE arm OPERATOR(pg_catalog.=) 'target' AND responded),
               pg_catalog.count(*) FILTER (WHERE arm OPERATOR(pg_catalog.=) 'control' AND responded),
               COALESCE(pg_catalog.sum(revenue) FILTER (WHERE arm OPERATOR(pg_catalog.=) 'target'), 0),
               COALESCE(pg_catalog.sum(revenue) FILTER (WHERE arm OPERATOR(pg_catalog.=) 'control'), 0)
          FROM per$q$,
        c.orders, c.customer_column, c.ordered_at_column, c.amount_column,
        @extschema@._column_type(c.orders, c.customer_column, 'customer_column'))
    INTO n_t, n_c, r_t, r_c, rev_t, rev_c
    USING c.name, c.starts_at, win_end, c.customers;
    IF n_t = 0 OR n_c = 0 THEN
        RAISE EXCEPTION 'the % arm of campaign "%" has no customers', CASE WHEN n_t = 0 THEN 'target' ELSE 'control' END, c.name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The calling role sees %s target and %s control customers.', n_t, n_c),
                  HINT = 'Enroll customers with clm.campaign_enroll; an uplift needs both arms.';
    END IF;
    se := sqrt((r_t::double precision / n_t) * (1 - r_t::double precision / n_t) / n_t
               + (r_c::double precision / n_c) * (1 - r_c::double precision / n_c) / n_c);
    RETURN QUERY SELECT c.name, c.starts_at, win_end, n_t, n_c, r_t, r_c,
                        r_t::double precision / n_t, r_c::double precision / n_c,
                        r_t::double precision / n_t - r_c::double precision / n_c,
                        r_t::double precision / n_t - r_c::double precision / n_c - z * se,
                        r_t::double precision / n_t - r_c::double precision / n_c + z * se,
                        rev_t / n_t, rev_c / n_c;
END
$fn$;
COMMENT ON FUNCTION @extschema@.campaign_report(text, interval) IS
    'what a campaign did within a window from its start: customers, responders (reactivated in the stage history, or ordered) and response rate per arm, the uplift (target rate minus control rate) with its 95 % interval (normal approximation), and revenue per customer per arm; counts what the calling role may read';

-- The stage-change feed (new in 1.1)
-- feed_consumer: one row per consumer of the feed, with its position: the
-- (position, event id) of the last event it acknowledged.  While at least
-- one consumer exists, clm.stage_guard records every stage change in
-- clm.stage_event as well as in the history.
CREATE TABLE @extschema@.feed_consumer (
    name            text PRIMARY KEY CHECK (name <> ''),
    position        xid8 NOT NULL,
    event_id        bigint NOT NULL DEFAULT 0,
    created_by      name NOT NULL DEFAULT CURRENT_USER,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.statement_timestamp(),
    acknowledged_at timestamptz
);
COMMENT ON TABLE @extschema@.feed_consumer IS
    'consumers of the stage-change feed (clm.feed_subscribe) and their positions: the (position, event id) of the last event each acknowledged; while one exists, stage changes are recorded in clm.stage_event';
COMMENT ON COLUMN @extschema@.feed_consumer.position IS
    'the position of the last acknowledged event; the consumer reads the events after (position, event_id)';

-- stage_event: the feed.  One row per stage change recorded while the feed
-- has a consumer, written by clm.stage_guard in the changing transaction.
-- The feed is read in (position, id) order.  position is the writing
-- transaction's id, raised to the position of the customer's previous
-- event when that is larger, so that a customer's events are in the order
-- they happened (a customer's changes are serialized by its row lock, but
-- an older transaction may take the lock after a younger one).  An event
-- is delivered only once its position is below every running transaction
-- (pg_snapshot_xmin): then no event can still appear before it.
CREATE TABLE @extschema@.stage_event (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    position        xid8 NOT NULL,
    relation        regclass NOT NULL,
    customer_key    text NOT NULL,
    from_stage      @extschema@.lifecycle_stage,
    to_stage        @extschema@.lifecycle_stage NOT NULL,
    changed_at      timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT pg_catalog.transaction_timestamp(),
    history_id      bigint,
    withdrawal      boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE @extschema@.stage_event IS
    'the stage-change feed: one event per stage change recorded while a consumer exists, delivered in (position, id) order by clm.feed_read';
COMMENT ON COLUMN @extschema@.stage_event.position IS
    'the delivery order: the writing transaction''s id, or the position of the customer''s previous event when larger';
COMMENT ON COLUMN @extschema@.stage_event.history_id IS
    'the clm.stage_history row of the change (of the change withdrawn, for a withdrawal)';
COMMENT ON COLUMN @extschema@.stage_event.withdrawal IS
    'true when a late order withdrew a lapse (at_risk, dormant, churned) recorded earlier: the customer moves back from from_stage to to_stage, and the lapse''s history row is gone';
CREATE INDEX stage_event_position_idx ON @extschema@.stage_event (position, id);
-- a customer's events, and the latest position among them, which every new
-- event of the customer reads (an index-only max, however many it has)
CREATE INDEX stage_event_customer_idx ON @extschema@.stage_event (relation, customer_key, position);
COMMENT ON SEQUENCE @extschema@.stage_event_id_seq IS
    'ids of clm.stage_event';

-- Neither table is dumped (no pg_extension_config_dump): positions are
-- transaction ids of this cluster, which mean nothing in another one.  A
-- restored database starts without consumers, and consumers subscribe
-- again.  pg_upgrade keeps the transaction ids, and the tables with them.

-- Consumers see their own rows; events are seen by the roles that may see
-- the customer's history (the same rule).  Nobody but clm's triggers, as
-- the tables' owner, writes the events.
ALTER TABLE @extschema@.feed_consumer ENABLE ROW LEVEL SECURITY;
CREATE POLICY feed_consumer_read ON @extschema@.feed_consumer FOR SELECT
    USING (@extschema@._role_member(created_by));
CREATE POLICY feed_consumer_insert ON @extschema@.feed_consumer FOR INSERT
    WITH CHECK (created_by = CURRENT_USER);
CREATE POLICY feed_consumer_update ON @extschema@.feed_consumer FOR UPDATE
    USING (@extschema@._role_member(created_by));
CREATE POLICY feed_consumer_delete ON @extschema@.feed_consumer FOR DELETE
    USING (@extschema@._role_member(created_by));
COMMENT ON POLICY feed_consumer_read ON @extschema@.feed_consumer IS
    'a consumer is seen only by (members of) the role that subscribed it';
COMMENT ON POLICY feed_consumer_insert ON @extschema@.feed_consumer IS
    'a role subscribes consumers in its own name';
COMMENT ON POLICY feed_consumer_update ON @extschema@.feed_consumer IS
    'only (members of) the role that subscribed a consumer move its position';
COMMENT ON POLICY feed_consumer_delete ON @extschema@.feed_consumer IS
    'only (members of) the role that subscribed a consumer remove it';
GRANT SELECT, INSERT, DELETE ON @extschema@.feed_consumer TO PUBLIC;
GRANT UPDATE (position, event_id, acknowledged_at) ON @extschema@.feed_consumer TO PUBLIC;
ALTER TABLE @extschema@.stage_event ENABLE ROW LEVEL SECURITY;
CREATE POLICY stage_event_read ON @extschema@.stage_event FOR SELECT
    USING (@extschema@.stage_history_visible(relation, customer_key));
COMMENT ON POLICY stage_event_read ON @extschema@.stage_event IS
    'a role sees the events of the customers it may read (clm.stage_history_visible)';
GRANT SELECT ON @extschema@.stage_event TO PUBLIC;

-- _feed_consumer: the calling role's consumer of that name, locked.
CREATE FUNCTION @extschema@._feed_consumer(consumer text)
RETURNS @extschema@.feed_consumer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c @extschema@.feed_consumer;
BEGIN
    IF consumer IS NULL THEN
        RAISE EXCEPTION 'consumer must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass the name given to clm.feed_subscribe.';
    END IF;
    SELECT * INTO c FROM @extschema@.feed_consumer AS x WHERE x.name = consumer FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feed consumer "%" does not exist', consumer
            USING ERRCODE = 'undefined_object',
                  HINT = 'Subscribe it with clm.feed_subscribe; a consumer is visible only to the role that subscribed it.';
    END IF;
    RETURN c;
END
$fn$;
COMMENT ON FUNCTION @extschema@._feed_consumer(text) IS
    'internal: the calling role''s feed consumer of that name, locked, or an error';

-- feed_subscribe: a new consumer.  It receives every stage change of the
-- transactions that take their snapshot after the subscription commits,
-- and possibly some earlier ones.
CREATE FUNCTION @extschema@.feed_subscribe(consumer text)
RETURNS @extschema@.feed_consumer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c @extschema@.feed_consumer;
BEGIN
    IF consumer IS NULL OR consumer = '' THEN
        RAISE EXCEPTION 'a feed consumer needs a name'
            USING ERRCODE = CASE WHEN consumer IS NULL THEN 'null_value_not_allowed' ELSE 'invalid_parameter_value' END,
                  HINT = 'Name it after the system that reads the feed, such as ''crm_email''.';
    END IF;
    INSERT INTO @extschema@.feed_consumer AS x (name, position)
    VALUES (consumer, pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot()))
    ON CONFLICT (name) DO NOTHING
    RETURNING x.* INTO c;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feed consumer "%" already exists', consumer
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Consumer names are shared by all roles; pick another one.';
    END IF;
    RETURN c;
END
$fn$;
-- Every subscribed consumer makes every stage change write an event, and
-- holds back the purge of what it has not read: a role subscribes only if
-- granted to.
REVOKE EXECUTE ON FUNCTION @extschema@.feed_subscribe(text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.feed_subscribe(text) IS
    'subscribes a consumer to the stage-change feed, from now on: it receives every stage change of transactions that take their snapshot after the subscription commits';

-- feed_read: the next events after the consumer's position, in delivery
-- order, without moving it (acknowledge with feed_ack once they are
-- handled: at-least-once delivery).  Only events below every running
-- transaction are delivered, so none can appear later before them.
CREATE FUNCTION @extschema@.feed_read(consumer text, max_events integer DEFAULT 1000)
RETURNS SETOF @extschema@.stage_event
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c @extschema@.feed_consumer := @extschema@._feed_consumer(consumer);
BEGIN
    IF max_events IS NULL OR max_events < 1 THEN
        RAISE EXCEPTION 'max_events must be at least 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('It was given as %s.', COALESCE(max_events::text, 'NULL'));
    END IF;
    RETURN QUERY
        SELECT e.* FROM @extschema@.stage_event AS e
         WHERE (e.position, e.id) > (c.position, c.event_id)
           AND e.position < pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())
         ORDER BY e.position, e.id
         LIMIT max_events;
END
$fn$;
COMMENT ON FUNCTION @extschema@.feed_read(text, integer) IS
    'the next events of the stage-change feed after the consumer''s position, in delivery order (per customer, the order of its changes); does not move the position (clm.feed_ack)';

-- feed_ack: the consumer has handled every event up to and including this
-- one; its position moves there (never back: see feed_seek).
CREATE FUNCTION @extschema@.feed_ack(consumer text, event_position xid8, event_id bigint)
RETURNS @extschema@.feed_consumer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    c @extschema@.feed_consumer := @extschema@._feed_consumer(consumer);
BEGIN
    IF event_position IS NULL OR event_id IS NULL THEN
        RAISE EXCEPTION 'event position and id must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass the position and id of the last event handled, as clm.feed_read returned them.';
    END IF;
    IF event_position >= pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot()) THEN
        RAISE EXCEPTION 'the event position has not been delivered yet'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Position %s is not below every running transaction.', event_position),
                  HINT = 'Acknowledge only events clm.feed_read returned.';
    END IF;
    UPDATE @extschema@.feed_consumer AS x
       SET position = event_position, event_id = event_id, acknowledged_at = pg_catalog.statement_timestamp()
     WHERE x.name = c.name AND (x.position, x.event_id) < (event_position, event_id)
    RETURNING x.* INTO c;
    IF NOT FOUND THEN
        SELECT * INTO c FROM @extschema@.feed_consumer AS x WHERE x.name = consumer;
    END IF;
    RETURN c;
END
$fn$;
COMMENT ON FUNCTION @extschema@.feed_ack(text, xid8, bigint) IS
    'acknowledges the events of the feed up to and including this one: the consumer''s position moves there, never back';

-- feed_seek: move a consumer to any position, back for a replay: its next
-- read starts after (event_position, event_id).
CREATE FUNCTION @extschema@.feed_seek(consumer text, event_position xid8, event_id bigint DEFAULT 0)
RETURNS @extschema@.feed_consumer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    c @extschema@.feed_consumer := @extschema@._feed_consumer(consumer);
BEGIN
    IF event_position IS NULL OR event_id IS NULL THEN
        RAISE EXCEPTION 'event position and id must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'To replay from the start of the feed: clm.feed_seek(consumer, ''0''::xid8).';
    END IF;
    UPDATE @extschema@.feed_consumer AS x SET position = event_position, event_id = event_id
     WHERE x.name = c.name
    RETURNING x.* INTO c;
    RETURN c;
END
$fn$;
COMMENT ON FUNCTION @extschema@.feed_seek(text, xid8, bigint) IS
    'moves a consumer to a position, back for a replay: its next read starts after (event_position, event_id); ''0''::xid8 replays every event kept';

-- feed_unsubscribe: remove a consumer.  With the last one gone, stage
-- changes are no longer recorded in the feed.
CREATE FUNCTION @extschema@.feed_unsubscribe(consumer text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c @extschema@.feed_consumer := @extschema@._feed_consumer(consumer);
BEGIN
    DELETE FROM @extschema@.feed_consumer AS x WHERE x.name = c.name;
END
$fn$;
COMMENT ON FUNCTION @extschema@.feed_unsubscribe(text) IS
    'removes a consumer of the feed; with none left, stage changes are no longer recorded in clm.stage_event';

-- feed_purge: retention of consumed events: removes the events every
-- consumer has acknowledged that were recorded more than keep ago.  Runs
-- as the owner of clm's tables (only clm writes the events), and removes
-- nothing a consumer still has to read.
CREATE FUNCTION @extschema@.feed_purge(keep interval DEFAULT '0')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n bigint;
BEGIN
    IF keep IS NULL OR keep < interval '0' THEN
        RAISE EXCEPTION 'keep must be an interval of at least 0'
            USING ERRCODE = CASE WHEN keep IS NULL THEN 'null_value_not_allowed' ELSE 'invalid_parameter_value' END,
                  HINT = 'Pass how long to keep events every consumer has acknowledged, such as interval ''7 days''.';
    END IF;
    DELETE FROM @extschema@.stage_event AS e
     WHERE e.recorded_at < pg_catalog.statement_timestamp() - keep
       AND NOT EXISTS (SELECT FROM @extschema@.feed_consumer AS c
                        WHERE (c.position, c.event_id) < (e.position, e.id));
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;
REVOKE EXECUTE ON FUNCTION @extschema@.feed_purge(interval) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.feed_purge(interval) IS
    'retention of the feed: removes the events every consumer has acknowledged that were recorded more than keep ago (default: all of them); returns how many';

-- action_detach_dropped: for the tables just dropped, the campaigns' table
-- and the feed events' relation := 0, as the owner of clm's tables,
-- whoever dropped the table; as clm.stage_history_detach_dropped does for
-- the history, so that no later table reusing an OID inherits them.
CREATE FUNCTION @extschema@.action_detach_dropped()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    dropped oid[] := @extschema@._dropped_relations();
BEGIN
    IF dropped IS NULL THEN
        RETURN;
    END IF;
    UPDATE @extschema@.campaign AS c SET customers = 0
     WHERE c.customers OPERATOR(pg_catalog.=) ANY (dropped);
    UPDATE @extschema@.campaign AS c SET orders = 0
     WHERE c.orders OPERATOR(pg_catalog.=) ANY (dropped);
    UPDATE @extschema@.stage_event AS e SET relation = 0
     WHERE e.relation OPERATOR(pg_catalog.=) ANY (dropped);
    DELETE FROM @extschema@.referral_source AS s
     WHERE s.customers OPERATOR(pg_catalog.=) ANY (dropped)
        OR s.referrals OPERATOR(pg_catalog.=) ANY (dropped);
END
$fn$;
REVOKE EXECUTE ON FUNCTION @extschema@.action_detach_dropped() FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.action_detach_dropped() IS
    'sql_drop event trigger function: sets the customers or orders table of campaigns, and the relation of feed events, to 0 when that table is dropped, so that no later table reusing its OID inherits them; forgets the adopted referrals of a dropped customers or referrals table';
CREATE EVENT TRIGGER clm_action_detach_dropped ON sql_drop
    EXECUTE FUNCTION @extschema@.action_detach_dropped();
COMMENT ON EVENT TRIGGER clm_action_detach_dropped IS
    'detaches the campaigns, feed events and adopted referrals of dropped tables (clm.action_detach_dropped)';

-- _orders_customers (src/lifecycle/stage_on_order.sql): the customers
-- tables an orders relation's clm.stage_on_order triggers name, resolved as
-- the triggers resolve them; clm.forget_customer finds a customers table's
-- customer views by it.
CREATE FUNCTION @extschema@._orders_customers(orders regclass)
RETURNS regclass[]
AS 'MODULE_PATHNAME', 'clm_orders_customers'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._orders_customers(regclass) IS
    'internal: the customers tables that the clm.stage_on_order triggers on an orders relation name, resolved as the triggers resolve them (names that resolve to no table left out)';

-- Erasure on request, and retention of the stage history (new in 1.1)
-- _forget_records: what clm keeps about one customer in its own tables
-- (stage history, feed events, campaign memberships), removed as their
-- owner once the calling role is found to have DELETE on the customers
-- table and the customer is gone from it (erasure.c); with the key as clm
-- keeps it (read as the key column's type and written out by it).
CREATE FUNCTION @extschema@._forget_records(customers regclass, customer_key text)
RETURNS TABLE (what text, removed bigint, kept_key text)
AS 'MODULE_PATHNAME', 'clm_forget_records'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@._forget_records(regclass, text) IS
    'internal: removes a customer''s stage history, feed events and campaign memberships, if the calling role may delete from the customers table and the customer is gone from it; returns the rows removed per table and the key as clm keeps it';

-- _run_on_citus_workers: on a Citus coordinator, a command run on every
-- worker as the calling role, for a customers table that is a Citus table
-- (whose guards record its history on the workers, next to its shards);
-- each worker's result, the command's one value, in node order.  Nothing
-- elsewhere, and nothing for a Citus local table (kept on the
-- coordinator).  Each worker runs the command in a transaction of its
-- own, which commits there whatever becomes of the caller's: a worker that
-- fails is an error, and the other workers keep what they did.  The
-- coordinator is the node of group 0 (pg_dist_local_group, in every Citus
-- version; a worker without metadata is group 0 too, but has no Citus
-- tables).
CREATE FUNCTION @extschema@._run_on_citus_workers(customers regclass, command text)
RETURNS SETOF text
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    node record;
    results text[] := '{}';
    failed text[] := '{}';
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RETURN;                 -- no Citus
    END IF;
    -- a Citus table whose shards are on the workers (a Citus local table,
    -- method n, not a reference table, no co-location, is on the
    -- coordinator)
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p
                    WHERE p.logicalrelid OPERATOR(pg_catalog.=) customers
                      AND NOT (p.partmethod OPERATOR(pg_catalog.=) 'n'
                               AND p.repmodel OPERATOR(pg_catalog.<>) 't'
                               AND p.colocationid OPERATOR(pg_catalog.=) 0))
       OR NOT EXISTS (SELECT FROM pg_catalog.pg_dist_local_group AS l
                       WHERE l.groupid OPERATOR(pg_catalog.=) 0) THEN
        RETURN;
    END IF;
    FOR node IN
        SELECT r.nodename, r.nodeport, r.success, r.result
          FROM pg_catalog.run_command_on_workers(command) AS r
         ORDER BY r.nodename, r.nodeport
    LOOP
        IF node.success THEN
            results := results OPERATOR(pg_catalog.||) node.result;
        ELSE
            failed := failed OPERATOR(pg_catalog.||)
                pg_catalog.format('%s:%s: %s', node.nodename, node.nodeport, node.result);
        END IF;
    END LOOP;
    IF pg_catalog.cardinality(failed) OPERATOR(pg_catalog.>) 0 THEN
        RAISE EXCEPTION 'clm could not finish on every Citus worker'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = pg_catalog.format('Failed on %s', pg_catalog.array_to_string(failed, '; ')),
                  HINT = 'Each worker runs its part as the calling role, in a transaction of its own that sees only committed rows (commit the deletion of a customer first). Mend what the workers reported and call it again; what the other workers removed stays removed.';
    END IF;
    RETURN QUERY SELECT pg_catalog.unnest(results);
END
$fn$;
COMMENT ON FUNCTION @extschema@._run_on_citus_workers(regclass, text) IS
    'internal: on a Citus coordinator, for a Citus customers table, runs a command on every worker as the calling role and returns each worker''s result; nothing elsewhere';

-- forget_customer: erase one customer of one customers table from
-- everything clm keeps: its stage history, its feed events, its campaign
-- memberships, and its rows in the customer views the calling role can
-- see whose orders relation has a foreign key to the customers table,
-- which are refreshed (at their last as-of time) when they hold the
-- customer.  The customer's own rows (the customer row, its orders) are
-- the caller's to delete first; a customer still in the table, or still
-- shown by a customer view after its refresh, is an error, and then
-- nothing is removed.  Runs as the calling role.  On a Citus coordinator
-- the workers then erase what they keep of a Citus table's customer, each
-- in a transaction of its own (_run_on_citus_workers): last, once the
-- coordinator's part, customer views included, has succeeded.  The counts
-- are the sums over the nodes.
CREATE FUNCTION @extschema@.forget_customer(customers regclass, customer_key text)
RETURNS TABLE (what text, removed bigint)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    still boolean;
    v record;
    label text;
    n bigint;
    customers_root regclass;
    tables text[];
    counts bigint[];
    views text[] := '{}';
    view_counts bigint[] := '{}';
    worker text;
    i integer;
    kept_key text;
    eq text;
    shows text;
BEGIN
    -- a partition's customers are recorded under the partitioned table
    customers_root := COALESCE(pg_catalog.pg_partition_root(customers), customers);
    SELECT pg_catalog.array_agg(f.what), pg_catalog.array_agg(f.removed), pg_catalog.min(f.kept_key)
      FROM @extschema@._forget_records(customers_root, customer_key) AS f
      INTO tables, counts, kept_key;

    -- the customer views of this table's customers (their orders relation
    -- has a foreign key to it, or a clm.stage_on_order trigger naming it)
    -- that show the customer: refreshed at their last as-of time, after
    -- which they must no longer show it
    FOR v IN
        SELECT r.view_schema, r.view_name, a.atttypid::pg_catalog.regtype AS key_type
          FROM @extschema@.customer_view AS r
          JOIN pg_catalog.pg_namespace AS s ON s.nspname = r.view_schema
          JOIN pg_catalog.pg_class AS c ON c.relnamespace = s.oid AND c.relname = r.view_name
          JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attname = 'customer_key'
         WHERE c.relkind = 'm'
           AND (EXISTS (SELECT FROM pg_catalog.pg_constraint AS k
                         WHERE k.contype = 'f'
                           AND k.conrelid = pg_catalog.to_regclass(r.orders_relation)
                           AND COALESCE(pg_catalog.pg_partition_root(k.confrelid), k.confrelid) = customers_root)
                OR EXISTS (SELECT FROM pg_catalog.unnest(@extschema@._orders_customers(
                                           pg_catalog.to_regclass(r.orders_relation))) AS t(customers)
                            WHERE COALESCE(pg_catalog.pg_partition_root(t.customers), t.customers) = customers_root))
         ORDER BY r.view_schema, r.view_name
    LOOP
        label := format('%I.%I', v.view_schema, v.view_name);
        -- the view's key (the orders' spelling) compared with the key as clm
        -- keeps it as the view's key type compares them (citext
        -- case-insensitively, numeric by value); a key that type cannot
        -- hold is not in the view
        BEGIN
            EXECUTE format('SELECT $1::%s', v.key_type) USING kept_key;
        EXCEPTION WHEN data_exception OR integrity_constraint_violation THEN
            CONTINUE;
        END;
        eq := @extschema@._eq_operator(v.key_type);
        shows := CASE WHEN eq IS NULL THEN 'c.customer_key::pg_catalog.text OPERATOR(pg_catalog.=) $1'
                      ELSE format('c.customer_key %s $1::%s', eq, v.key_type) END;
        EXECUTE format('SELECT pg_catalog.count(*) FROM %s AS c WHERE %s', label, shows)
            INTO n USING kept_key;
        CONTINUE WHEN n = 0;
        IF NOT @extschema@._customer_view_owned(v.view_schema, v.view_name) THEN
            RAISE EXCEPTION 'customer view % shows customer %, and only its owner may refresh it', label, customer_key
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Erase the customer as a role that owns the customer views showing it, or have their owner do it.';
        END IF;
        EXECUTE format('REFRESH MATERIALIZED VIEW %s', label);
        EXECUTE format('SELECT EXISTS (SELECT FROM %s AS c WHERE %s)', label, shows)
            INTO still USING kept_key;
        IF still THEN
            RAISE EXCEPTION 'customer view % still shows customer % after its refresh', label, customer_key
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = format('Its orders relation %s still has orders of the customer.',
                                      (SELECT r.orders_relation FROM @extschema@.customer_view AS r
                                        WHERE r.view_schema = v.view_schema AND r.view_name = v.view_name)),
                      HINT = 'Delete the customer''s orders first, then call clm.forget_customer.';
        END IF;
        views := views OPERATOR(pg_catalog.||) ('customer view ' OPERATOR(pg_catalog.||) label);
        view_counts := view_counts OPERATOR(pg_catalog.||) n;
    END LOOP;

    -- the workers' part, which commits on each worker at once
    FOR worker IN
        SELECT w FROM @extschema@._run_on_citus_workers(customers_root, pg_catalog.format(
            'SELECT pg_catalog.json_object_agg(f.what, f.removed) FROM %s._forget_records(%L::pg_catalog.regclass, %L) AS f',
            '@extschema@', customers_root::text, customer_key)) AS w
    LOOP
        FOR i IN 1 .. pg_catalog.array_length(tables, 1) LOOP
            counts[i] := counts[i] OPERATOR(pg_catalog.+)
                COALESCE((worker::pg_catalog.json OPERATOR(pg_catalog.->>) tables[i])::bigint, 0);
        END LOOP;
    END LOOP;
    RETURN QUERY SELECT t.what, t.removed
                   FROM ROWS FROM (pg_catalog.unnest(tables OPERATOR(pg_catalog.||) views),
                                   pg_catalog.unnest(counts OPERATOR(pg_catalog.||) view_counts)) AS t(what, removed);
END
$fn$;
COMMENT ON FUNCTION @extschema@.forget_customer(regclass, text) IS
    'erasure on request: removes a customer (key as text) of a customers table from clm''s stage history, feed events and campaign memberships (on the Citus workers too), and refreshes the customer views that still show it; needs DELETE on the customers table, and the customer row and its orders deleted first; returns the rows removed per table or view';

-- purge_history: retention of the stage history of one customers table.
CREATE FUNCTION @extschema@.purge_history(customers regclass, older_than interval)
RETURNS bigint
AS 'MODULE_PATHNAME', 'clm_purge_history'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.purge_history(regclass, interval) IS
    'retention: removes the feed events of a customers table recorded before now() - older_than, and its stage changes dated before then except each customer''s latest (when its current stage began), on the Citus workers too; needs DELETE on the customers table; returns the rows removed';

-- Referrals and advocates (new in 1.1)
-- referral_source: the referrals table adopted for a customers table by
-- clm.adopt_referrals, and its columns.  clm.stage_on_order and
-- clm.refresh_stages read it: a loyal customer of that customers table
-- becomes an advocate once advocate_min_referrals of the customers they
-- referred have made their first purchase within advocate_window_days of
-- being referred (the policy's).  The tables are kept by OID: the row
-- follows a rename, and goes when either table is dropped
-- (clm.action_detach_dropped).  A row belongs to the owner of its
-- customers table.
CREATE TABLE @extschema@.referral_source (
    customers           regclass PRIMARY KEY,
    customer_key_column name NOT NULL,
    referrals           regclass NOT NULL UNIQUE,
    referrer_column     name NOT NULL,
    referred_column     name NOT NULL,
    referred_at_column  name NOT NULL,
    adopted_at          timestamptz NOT NULL DEFAULT pg_catalog.statement_timestamp()
);
COMMENT ON TABLE @extschema@.referral_source IS
    'the referrals table adopted for each customers table (clm.adopt_referrals): who referred whom and when, read by clm.stage_on_order and clm.refresh_stages to make advocates; a row belongs to the owner of its customers table';
COMMENT ON COLUMN @extschema@.referral_source.customers IS
    'the customers table whose stages the referrals move (by OID: follows a rename)';
COMMENT ON COLUMN @extschema@.referral_source.customer_key_column IS
    'the customers table''s key column, which the referrer and referred columns hold';
COMMENT ON COLUMN @extschema@.referral_source.referrals IS
    'the user''s referrals table, one row per referral (by OID)';
COMMENT ON COLUMN @extschema@.referral_source.referrer_column IS
    'the column of the referring customer''s key';
COMMENT ON COLUMN @extschema@.referral_source.referred_column IS
    'the column of the referred customer''s key';
COMMENT ON COLUMN @extschema@.referral_source.referred_at_column IS
    'when the referral was made: the referred customer''s first purchase counts if it falls within the policy''s advocate_window_days from then';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.referral_source', '');

-- Everyone reads the registry (every role that inserts orders runs the
-- trigger that reads it); only roles with the rights of the owner of a
-- customers table adopt, change or release its referrals.
CREATE FUNCTION @extschema@._referral_source_owned(customers regclass)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN EXISTS (SELECT FROM pg_catalog.pg_class AS c
                WHERE c.oid = customers AND pg_catalog.pg_has_role(c.relowner, 'USAGE'));
COMMENT ON FUNCTION @extschema@._referral_source_owned(regclass) IS
    'internal: whether the current role has the rights of the owner of the table (as ALTER TABLE requires)';
ALTER TABLE @extschema@.referral_source ENABLE ROW LEVEL SECURITY;
CREATE POLICY referral_source_read ON @extschema@.referral_source FOR SELECT USING (true);
COMMENT ON POLICY referral_source_read ON @extschema@.referral_source IS
    'every role reads the registry: the triggers of every role that inserts orders read it';
CREATE POLICY referral_source_insert ON @extschema@.referral_source FOR INSERT
    WITH CHECK (@extschema@._referral_source_owned(customers));
COMMENT ON POLICY referral_source_insert ON @extschema@.referral_source IS
    'only members of the owner of a customers table adopt referrals for it';
CREATE POLICY referral_source_update ON @extschema@.referral_source FOR UPDATE
    USING (@extschema@._referral_source_owned(customers))
    WITH CHECK (@extschema@._referral_source_owned(customers));
COMMENT ON POLICY referral_source_update ON @extschema@.referral_source IS
    'only members of the owner of a customers table change its referrals';
CREATE POLICY referral_source_delete ON @extschema@.referral_source FOR DELETE
    USING (@extschema@._referral_source_owned(customers));
COMMENT ON POLICY referral_source_delete ON @extschema@.referral_source IS
    'only members of the owner of a customers table release its referrals';
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.referral_source TO PUBLIC;
CREATE TRIGGER referral_source_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.referral_source
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.lifecycle_config_changed();
COMMENT ON TRIGGER referral_source_changed ON @extschema@.referral_source IS
    'makes every backend''s clm.stage_on_order triggers read the registry again';

-- referral_source_check: every row, however written (clm.adopt_referrals
-- or INSERT and UPDATE by hand), names two plain or partitioned tables,
-- not temporary ones (other sessions cannot read those, and their end
-- drops them without an event), both owned by roles whose rights the
-- writing role has: the referrals table is read by every role that
-- inserts orders, so it must be the customers owner's own, not one whose
-- owner could hang code on it (row security policies) for those roles to
-- run.  The referrer and referred columns hold keys of the customers table
-- and have its key's type; the referred-at column is timestamptz.
CREATE FUNCTION @extschema@.referral_source_check()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r regclass;
    key_type regtype;
BEGIN
    FOREACH r IN ARRAY ARRAY[NEW.customers, NEW.referrals] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_class AS c
                        WHERE c.oid = r AND c.relkind IN ('r', 'p') AND c.relpersistence <> 't') THEN
            RAISE EXCEPTION '% is not a table', r
                USING ERRCODE = 'wrong_object_type',
                      HINT = 'Adopt a plain or partitioned table, not a view or a temporary table.';
        END IF;
        IF NOT @extschema@._referral_source_owned(r) THEN
            RAISE EXCEPTION 'must be owner of table %', r
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'The referrals decide stages of the customers table, and every role that inserts orders reads them.',
                      HINT = 'Adopt referrals as the owner of both tables (or with that owner''s rights).';
        END IF;
    END LOOP;
    key_type := @extschema@._column_type(NEW.customers, NEW.customer_key_column, 'customer_key_column');
    IF @extschema@._column_type(NEW.referrals, NEW.referrer_column, 'referrer_column') <> key_type
       OR @extschema@._column_type(NEW.referrals, NEW.referred_column, 'referred_column') <> key_type THEN
        RAISE EXCEPTION 'the referrer and referred columns must have the type of the customer key, %', key_type
            USING ERRCODE = 'datatype_mismatch',
                  DETAIL = pg_catalog.format('%I is %s and %I is %s.',
                                             NEW.referrer_column, @extschema@._column_type(NEW.referrals, NEW.referrer_column, 'referrer_column'),
                                             NEW.referred_column, @extschema@._column_type(NEW.referrals, NEW.referred_column, 'referred_column')),
                  HINT = 'Both hold keys of the customers table.';
    END IF;
    IF @extschema@._column_type(NEW.referrals, NEW.referred_at_column, 'referred_at_column') <> 'timestamptz'::regtype THEN
        RAISE EXCEPTION 'column "%" of % must be of type timestamp with time zone', NEW.referred_at_column, NEW.referrals
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'It says when the referral was made.';
    END IF;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION @extschema@.referral_source_check() IS
    'checks every row written to clm.referral_source: two tables (not temporary) owned by roles whose rights the writer has, columns of the customer key''s type and a timestamptz referred-at column';
CREATE TRIGGER referral_source_check
    BEFORE INSERT OR UPDATE ON @extschema@.referral_source
    FOR EACH ROW EXECUTE FUNCTION @extschema@.referral_source_check();
COMMENT ON TRIGGER referral_source_check ON @extschema@.referral_source IS
    'every adoption is checked, however it is written (clm.referral_source_check)';

-- adopt_referrals: clm reads the user's referrals table as it is, like the
-- orders table: the columns are named, not imposed.  The referrer and
-- referred columns hold keys of the customers table (of its key's type);
-- a referrer that is not (yet) a customer, and a referral of oneself, are
-- allowed and count for nothing.
CREATE FUNCTION @extschema@.adopt_referrals(
    customers regclass,
    referrals regclass,
    referrer_column name,
    referred_column name,
    referred_at_column name,
    customer_key_column name DEFAULT NULL)
RETURNS @extschema@.referral_source
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    key_column name := customer_key_column;
    result @extschema@.referral_source;
BEGIN
    IF customers IS NULL OR referrals IS NULL THEN
        RAISE EXCEPTION 'customers and referrals must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- the rest is checked by clm.referral_source_check, for every writer
    IF NOT @extschema@._campaign_readable(referrals) THEN
        RAISE EXCEPTION 'permission denied for table %', referrals
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'The roles that insert orders read the referrals table too: grant them SELECT on it.';
    END IF;
    key_column := @extschema@._customer_key_column(customers, key_column);
    INSERT INTO @extschema@.referral_source AS s
        (customers, customer_key_column, referrals, referrer_column, referred_column, referred_at_column)
    VALUES (customers, key_column, referrals, referrer_column, referred_column, referred_at_column)
    ON CONFLICT ON CONSTRAINT referral_source_pkey DO UPDATE
       SET customer_key_column = excluded.customer_key_column, referrals = excluded.referrals,
           referrer_column = excluded.referrer_column, referred_column = excluded.referred_column,
           referred_at_column = excluded.referred_at_column, adopted_at = excluded.adopted_at
    RETURNING s.* INTO result;
    RETURN result;
EXCEPTION
    WHEN unique_violation THEN
        RAISE EXCEPTION 'table % is already adopted as the referrals of another customers table', referrals
            USING ERRCODE = 'duplicate_object',
                  DETAIL = (SELECT pg_catalog.format('It holds the referrals of %s.', s.customers)
                              FROM @extschema@.referral_source AS s WHERE s.referrals = adopt_referrals.referrals),
                  HINT = 'One referrals table serves one customers table.';
END
$fn$;
COMMENT ON FUNCTION @extschema@.adopt_referrals(regclass, regclass, name, name, name, name) IS
    'adopts the user''s referrals table (referrer, referred, referred-at columns) for a customers table, or changes its columns: loyal customers then become advocates through clm.stage_on_order and clm.refresh_stages under the policy''s advocate_min_referrals and advocate_window_days; only the customers table''s owner may';

-- release_referrals: the customers table no longer takes stages from its
-- referrals.  Stages already reached stay.
CREATE FUNCTION @extschema@.release_referrals(customers regclass)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF customers IS NULL THEN
        RAISE EXCEPTION 'customers must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM @extschema@.referral_source AS s WHERE s.customers = release_referrals.customers) THEN
        RETURN false;
    END IF;
    IF NOT @extschema@._referral_source_owned(customers) THEN
        RAISE EXCEPTION 'must be owner of table %', customers
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Release referrals as the owner of the customers table, or as a member of that role.';
    END IF;
    DELETE FROM @extschema@.referral_source AS s WHERE s.customers = release_referrals.customers;
    RETURN true;
END
$fn$;
COMMENT ON FUNCTION @extschema@.release_referrals(regclass) IS
    'stops making advocates of a customers table from its referrals (the stages already reached stay); returns whether referrals had been adopted; only the customers table''s owner may';
