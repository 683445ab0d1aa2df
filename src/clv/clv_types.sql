-- ---------------------------------------------------------------------------
-- CLV: result types shared by the fitting aggregates and the predictions
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.btyd_summary AS (
    x           integer,            -- repeat purchase periods (first purchase not counted)
    t_x         double precision,   -- first to last purchase, in the unit asked for
    t           double precision,   -- first purchase to the cutoff, same unit
    mean_spend  double precision    -- mean spend per repeat period; 0 when x = 0
);
COMMENT ON TYPE @extschema@.btyd_summary IS
    'per-customer BTYD summary (x, t_x, T, mean spend over repeat purchases), as returned by clm.purchase_summary';

CREATE TYPE @extschema@.bgnbd AS (
    r               double precision,
    alpha           double precision,
    a               double precision,
    b               double precision,
    log_likelihood  double precision,
    n               double precision,   -- customers (sum of weights) in the fit
    iterations      integer,
    converged       boolean,
    r_se            double precision,   -- standard errors from the Hessian
    alpha_se        double precision,
    a_se            double precision,
    b_se            double precision
);
COMMENT ON TYPE @extschema@.bgnbd IS
    'a fitted BG/NBD model (Fader, Hardie and Lee 2005): parameters, log-likelihood, fit diagnostics and standard errors';

CREATE TYPE @extschema@.paretonbd AS (
    r               double precision,
    alpha           double precision,
    s               double precision,
    beta            double precision,
    log_likelihood  double precision,
    n               double precision,
    iterations      integer,
    converged       boolean,
    r_se            double precision,
    alpha_se        double precision,
    s_se            double precision,
    beta_se         double precision
);
COMMENT ON TYPE @extschema@.paretonbd IS
    'a fitted Pareto/NBD model (Schmittlein, Morrison and Colombo 1987): parameters, log-likelihood, fit diagnostics and standard errors';

CREATE TYPE @extschema@.gamma_gamma AS (
    p               double precision,
    q               double precision,
    gamma           double precision,
    log_likelihood  double precision,
    n               double precision,
    iterations      integer,
    converged       boolean,
    p_se            double precision,
    q_se            double precision,
    gamma_se        double precision
);
COMMENT ON TYPE @extschema@.gamma_gamma IS
    'a fitted Gamma-Gamma spend model (Fader, Hardie and Lee 2005): parameters, log-likelihood, fit diagnostics and standard errors';

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
