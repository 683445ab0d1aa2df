-- ---------------------------------------------------------------------------
-- CLV fitting: the BG/NBD, Pareto/NBD, Gamma-Gamma, BG/BB, sBG and MBG/NBD
-- maximum-likelihood aggregates over clm.btyd_fit_state, and the
-- log-likelihoods
-- ---------------------------------------------------------------------------

-- transition functions: one C function per kind, whatever the arity
CREATE FUNCTION @extschema@.btyd_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_btyd_fit_trans'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.btyd_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8) IS
    'transition function of clm.bgnbd_fit, clm.mbgnbd_fit and clm.paretonbd_fit';

CREATE FUNCTION @extschema@.btyd_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8, float8)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_btyd_fit_trans'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.btyd_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8, float8) IS
    'transition function of the weighted clm.bgnbd_fit, clm.mbgnbd_fit and clm.paretonbd_fit';

CREATE FUNCTION @extschema@.btyd_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8, float8, float8)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_btyd_fit_trans'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.btyd_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8, float8, float8) IS
    'transition function of the weighted, penalized clm.bgnbd_fit, clm.mbgnbd_fit and clm.paretonbd_fit';

CREATE FUNCTION @extschema@.spend_fit_trans(@extschema@.btyd_fit_state, float8, float8)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_spend_fit_trans'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.spend_fit_trans(@extschema@.btyd_fit_state, float8, float8) IS
    'transition function of clm.gamma_gamma_fit';

CREATE FUNCTION @extschema@.spend_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_spend_fit_trans'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.spend_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8) IS
    'transition function of the weighted clm.gamma_gamma_fit';

CREATE FUNCTION @extschema@.spend_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8, float8)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_spend_fit_trans'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.spend_fit_trans(@extschema@.btyd_fit_state, float8, float8, float8, float8) IS
    'transition function of the weighted, penalized clm.gamma_gamma_fit';

CREATE FUNCTION @extschema@.btyd_fit_combine(@extschema@.btyd_fit_state, @extschema@.btyd_fit_state)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_btyd_fit_combine'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.btyd_fit_combine(@extschema@.btyd_fit_state, @extschema@.btyd_fit_state) IS
    'combine function of the CLV fits: merges distinct rows, summing weights';

CREATE FUNCTION @extschema@.bgnbd_fit_final(@extschema@.btyd_fit_state)
    RETURNS @extschema@.bgnbd
    AS 'MODULE_PATHNAME', 'clm_bgnbd_fit_final'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_fit_final(@extschema@.btyd_fit_state) IS
    'final function of clm.bgnbd_fit: maximum-likelihood BG/NBD fit of the collected rows';

CREATE FUNCTION @extschema@.paretonbd_fit_final(@extschema@.btyd_fit_state)
    RETURNS @extschema@.paretonbd
    AS 'MODULE_PATHNAME', 'clm_paretonbd_fit_final'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_fit_final(@extschema@.btyd_fit_state) IS
    'final function of clm.paretonbd_fit: maximum-likelihood Pareto/NBD fit of the collected rows';

CREATE FUNCTION @extschema@.gamma_gamma_fit_final(@extschema@.btyd_fit_state)
    RETURNS @extschema@.gamma_gamma
    AS 'MODULE_PATHNAME', 'clm_gamma_gamma_fit_final'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.gamma_gamma_fit_final(@extschema@.btyd_fit_state) IS
    'final function of clm.gamma_gamma_fit: maximum-likelihood Gamma-Gamma fit of the collected rows';

-- the aggregates
CREATE AGGREGATE @extschema@.bgnbd_fit(x float8, t_x float8, t float8) (
    SFUNC = @extschema@.btyd_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.bgnbd_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.bgnbd_fit(float8, float8, float8) IS
    'fit a BG/NBD model by maximum likelihood to per-customer (x, t_x, t)';

CREATE AGGREGATE @extschema@.bgnbd_fit(x float8, t_x float8, t float8, weight float8) (
    SFUNC = @extschema@.btyd_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.bgnbd_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.bgnbd_fit(float8, float8, float8, float8) IS
    'fit a BG/NBD model to pre-aggregated rows, each standing for weight customers';

CREATE AGGREGATE @extschema@.bgnbd_fit(x float8, t_x float8, t float8, weight float8, penalizer float8) (
    SFUNC = @extschema@.btyd_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.bgnbd_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.bgnbd_fit(float8, float8, float8, float8, float8) IS
    'fit a BG/NBD model with weights and an L2 penalty on the parameters (lifetimes convention)';

CREATE AGGREGATE @extschema@.paretonbd_fit(x float8, t_x float8, t float8) (
    SFUNC = @extschema@.btyd_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.paretonbd_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.paretonbd_fit(float8, float8, float8) IS
    'fit a Pareto/NBD model by maximum likelihood to per-customer (x, t_x, t)';

CREATE AGGREGATE @extschema@.paretonbd_fit(x float8, t_x float8, t float8, weight float8) (
    SFUNC = @extschema@.btyd_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.paretonbd_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.paretonbd_fit(float8, float8, float8, float8) IS
    'fit a Pareto/NBD model to pre-aggregated rows, each standing for weight customers';

CREATE AGGREGATE @extschema@.paretonbd_fit(x float8, t_x float8, t float8, weight float8, penalizer float8) (
    SFUNC = @extschema@.btyd_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.paretonbd_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.paretonbd_fit(float8, float8, float8, float8, float8) IS
    'fit a Pareto/NBD model with weights and an L2 penalty on the parameters (lifetimes convention)';

CREATE AGGREGATE @extschema@.gamma_gamma_fit(x float8, mean_spend float8) (
    SFUNC = @extschema@.spend_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.gamma_gamma_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.gamma_gamma_fit(float8, float8) IS
    'fit the Gamma-Gamma spend model by maximum likelihood to (x, mean spend) of repeat buyers; rows with x = 0 are ignored';

CREATE AGGREGATE @extschema@.gamma_gamma_fit(x float8, mean_spend float8, weight float8) (
    SFUNC = @extschema@.spend_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.gamma_gamma_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.gamma_gamma_fit(float8, float8, float8) IS
    'fit the Gamma-Gamma spend model to pre-aggregated rows, each standing for weight customers';

CREATE AGGREGATE @extschema@.gamma_gamma_fit(x float8, mean_spend float8, weight float8, penalizer float8) (
    SFUNC = @extschema@.spend_fit_trans, STYPE = @extschema@.btyd_fit_state,
    COMBINEFUNC = @extschema@.btyd_fit_combine, FINALFUNC = @extschema@.gamma_gamma_fit_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.gamma_gamma_fit(float8, float8, float8, float8) IS
    'fit the Gamma-Gamma spend model with weights and an L2 penalty on the parameters (lifetimes convention)';

-- log-likelihoods of one customer at given parameters
CREATE FUNCTION @extschema@.bgnbd_log_likelihood(r float8, alpha float8, a float8, b float8,
                                                 x float8, t_x float8, t float8)
    RETURNS float8
    AS 'MODULE_PATHNAME', 'clm_bgnbd_log_likelihood'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_log_likelihood(float8, float8, float8, float8, float8, float8, float8) IS
    'BG/NBD log-likelihood of one customer (x, t_x, t) at parameters (r, alpha, a, b)';

CREATE FUNCTION @extschema@.paretonbd_log_likelihood(r float8, alpha float8, s float8, beta float8,
                                                     x float8, t_x float8, t float8)
    RETURNS float8
    AS 'MODULE_PATHNAME', 'clm_paretonbd_log_likelihood'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.paretonbd_log_likelihood(float8, float8, float8, float8, float8, float8, float8) IS
    'Pareto/NBD log-likelihood of one customer (x, t_x, t) at parameters (r, alpha, s, beta)';

CREATE FUNCTION @extschema@.gamma_gamma_log_likelihood(p float8, q float8, gamma float8,
                                                       x float8, mean_spend float8)
    RETURNS float8
    AS 'MODULE_PATHNAME', 'clm_gamma_gamma_log_likelihood'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.gamma_gamma_log_likelihood(float8, float8, float8, float8, float8) IS
    'Gamma-Gamma log-likelihood (density of the mean spend) of one customer (x, mean_spend) at parameters (p, q, gamma); 0 for x = 0, which carries no spend information';

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
