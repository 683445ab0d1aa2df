-- ---------------------------------------------------------------------------
-- CLV fitting: the aggregate state type of the BG/NBD, Pareto/NBD and
-- Gamma-Gamma maximum-likelihood aggregates (doc/clv.md, "Fitting")
-- ---------------------------------------------------------------------------

-- The state is a real type (not internal) so that Citus and users can ship,
-- store and merge partial states.  It holds distinct rows with summed weights.
CREATE TYPE @extschema@.btyd_fit_state;

CREATE FUNCTION @extschema@.btyd_fit_state_in(cstring)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_btyd_fit_state_in'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.btyd_fit_state_in(cstring) IS
    'text input of clm.btyd_fit_state (validates version, kind, counts and every row)';

CREATE FUNCTION @extschema@.btyd_fit_state_out(@extschema@.btyd_fit_state)
    RETURNS cstring
    AS 'MODULE_PATHNAME', 'clm_btyd_fit_state_out'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.btyd_fit_state_out(@extschema@.btyd_fit_state) IS
    'text output of clm.btyd_fit_state';

CREATE FUNCTION @extschema@.btyd_fit_state_recv(internal)
    RETURNS @extschema@.btyd_fit_state
    AS 'MODULE_PATHNAME', 'clm_btyd_fit_state_recv'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.btyd_fit_state_recv(internal) IS
    'binary input of clm.btyd_fit_state (validates version, kind, counts and every row)';

CREATE FUNCTION @extschema@.btyd_fit_state_send(@extschema@.btyd_fit_state)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'clm_btyd_fit_state_send'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.btyd_fit_state_send(@extschema@.btyd_fit_state) IS
    'binary output of clm.btyd_fit_state';

CREATE TYPE @extschema@.btyd_fit_state (
    INPUT = @extschema@.btyd_fit_state_in,
    OUTPUT = @extschema@.btyd_fit_state_out,
    RECEIVE = @extschema@.btyd_fit_state_recv,
    SEND = @extschema@.btyd_fit_state_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = extended
);
COMMENT ON TYPE @extschema@.btyd_fit_state IS
    'aggregate state of the CLV fits: distinct (x, t_x, t), (x, mean spend), BG/BB (x, t_x, n) or sBG (periods, churned) rows with summed weights and the penalizer';
