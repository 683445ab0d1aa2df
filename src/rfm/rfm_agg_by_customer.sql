-- ---------------------------------------------------------------------------
-- RFM of every customer in one aggregate, keyed by bigint or uuid
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.customer_rfm AS (
    customer_id bigint,
    rfm         @extschema@.rfm      -- NULL when none of the customer's rows was counted
);
COMMENT ON TYPE @extschema@.customer_rfm IS
    'one customer and its RFM metrics, as returned by clm.rfm_agg_by_customer';

CREATE FUNCTION @extschema@.rfm_customers_trans(internal, bigint, timestamptz, numeric, timestamptz)
    RETURNS internal AS 'MODULE_PATHNAME', 'rfm_customers_trans_numeric'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_trans(internal, bigint, timestamptz, numeric, timestamptz) IS
    'transition function of clm.rfm_agg_by_customer(bigint, timestamptz, numeric, timestamptz)';
CREATE FUNCTION @extschema@.rfm_customers_trans(internal, bigint, timestamptz, double precision, timestamptz)
    RETURNS internal AS 'MODULE_PATHNAME', 'rfm_customers_trans_float8'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_trans(internal, bigint, timestamptz, double precision, timestamptz) IS
    'transition function of clm.rfm_agg_by_customer(bigint, timestamptz, double precision, timestamptz)';
CREATE FUNCTION @extschema@.rfm_customers_trans(internal, bigint, timestamptz, bigint, timestamptz)
    RETURNS internal AS 'MODULE_PATHNAME', 'rfm_customers_trans_int8'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_trans(internal, bigint, timestamptz, bigint, timestamptz) IS
    'transition function of clm.rfm_agg_by_customer(bigint, timestamptz, bigint, timestamptz)';
CREATE FUNCTION @extschema@.rfm_customers_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_customers_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_combine(internal, internal) IS
    'combine function of clm.rfm_agg_by_customer';
CREATE FUNCTION @extschema@.rfm_customers_serialize(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'rfm_customers_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_serialize(internal) IS
    'serialize function of clm.rfm_agg_by_customer (parallel workers)';
CREATE FUNCTION @extschema@.rfm_customers_deserialize(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_customers_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_deserialize(bytea, internal) IS
    'deserialize function of clm.rfm_agg_by_customer (validated)';
CREATE FUNCTION @extschema@.rfm_customers_final(internal) RETURNS @extschema@.customer_rfm[]
    AS 'MODULE_PATHNAME', 'rfm_customers_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_final(internal) IS
    'final function of clm.rfm_agg_by_customer';

CREATE AGGREGATE @extschema@.rfm_agg_by_customer(customer_id bigint, ordered_at timestamptz,
                                                 amount numeric, as_of timestamptz) (
    SFUNC = @extschema@.rfm_customers_trans, STYPE = internal,
    FINALFUNC = @extschema@.rfm_customers_final, COMBINEFUNC = @extschema@.rfm_customers_combine,
    SERIALFUNC = @extschema@.rfm_customers_serialize, DESERIALFUNC = @extschema@.rfm_customers_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_agg_by_customer(bigint, timestamptz, numeric, timestamptz) IS
    'clm.rfm_agg of every customer in one pass: a clm.customer_rfm[] to unnest (no NULL ids; order fixed by the ids, not sorted)';
CREATE AGGREGATE @extschema@.rfm_agg_by_customer(customer_id bigint, ordered_at timestamptz,
                                                 amount double precision, as_of timestamptz) (
    SFUNC = @extschema@.rfm_customers_trans, STYPE = internal,
    FINALFUNC = @extschema@.rfm_customers_final, COMBINEFUNC = @extschema@.rfm_customers_combine,
    SERIALFUNC = @extschema@.rfm_customers_serialize, DESERIALFUNC = @extschema@.rfm_customers_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_agg_by_customer(bigint, timestamptz, double precision, timestamptz) IS
    'clm.rfm_agg of every customer in one pass, double precision amounts';
CREATE AGGREGATE @extschema@.rfm_agg_by_customer(customer_id bigint, ordered_at timestamptz,
                                                 amount bigint, as_of timestamptz) (
    SFUNC = @extschema@.rfm_customers_trans, STYPE = internal,
    FINALFUNC = @extschema@.rfm_customers_final, COMBINEFUNC = @extschema@.rfm_customers_combine,
    SERIALFUNC = @extschema@.rfm_customers_serialize, DESERIALFUNC = @extschema@.rfm_customers_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_agg_by_customer(bigint, timestamptz, bigint, timestamptz) IS
    'clm.rfm_agg of every customer in one pass, bigint amounts (e.g. cents)';

-- the same for uuid customer ids
CREATE TYPE @extschema@.customer_rfm_uuid AS (
    customer_id uuid,
    rfm         @extschema@.rfm      -- NULL when none of the customer's rows was counted
);
COMMENT ON TYPE @extschema@.customer_rfm_uuid IS
    'one customer (uuid id) and its RFM metrics, as returned by clm.rfm_agg_by_customer';
CREATE FUNCTION @extschema@.rfm_customers_trans(internal, uuid, timestamptz, numeric, timestamptz)
    RETURNS internal AS 'MODULE_PATHNAME', 'rfm_customers_trans_uuid_numeric'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_trans(internal, uuid, timestamptz, numeric, timestamptz) IS
    'transition function of clm.rfm_agg_by_customer(uuid, timestamptz, numeric, timestamptz)';
CREATE FUNCTION @extschema@.rfm_customers_trans(internal, uuid, timestamptz, double precision, timestamptz)
    RETURNS internal AS 'MODULE_PATHNAME', 'rfm_customers_trans_uuid_float8'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_trans(internal, uuid, timestamptz, double precision, timestamptz) IS
    'transition function of clm.rfm_agg_by_customer(uuid, timestamptz, double precision, timestamptz)';
CREATE FUNCTION @extschema@.rfm_customers_trans(internal, uuid, timestamptz, bigint, timestamptz)
    RETURNS internal AS 'MODULE_PATHNAME', 'rfm_customers_trans_uuid_int8'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_trans(internal, uuid, timestamptz, bigint, timestamptz) IS
    'transition function of clm.rfm_agg_by_customer(uuid, timestamptz, bigint, timestamptz)';
CREATE FUNCTION @extschema@.rfm_customers_final_uuid(internal) RETURNS @extschema@.customer_rfm_uuid[]
    AS 'MODULE_PATHNAME', 'rfm_customers_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_customers_final_uuid(internal) IS
    'final function of clm.rfm_agg_by_customer for uuid customer ids';
CREATE AGGREGATE @extschema@.rfm_agg_by_customer(customer_id uuid, ordered_at timestamptz,
                                                 amount numeric, as_of timestamptz) (
    SFUNC = @extschema@.rfm_customers_trans, STYPE = internal,
    FINALFUNC = @extschema@.rfm_customers_final_uuid, COMBINEFUNC = @extschema@.rfm_customers_combine,
    SERIALFUNC = @extschema@.rfm_customers_serialize, DESERIALFUNC = @extschema@.rfm_customers_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_agg_by_customer(uuid, timestamptz, numeric, timestamptz) IS
    'clm.rfm_agg of every customer in one pass: a clm.customer_rfm_uuid[] to unnest (no NULL ids; order fixed by the ids, not sorted)';
CREATE AGGREGATE @extschema@.rfm_agg_by_customer(customer_id uuid, ordered_at timestamptz,
                                                 amount double precision, as_of timestamptz) (
    SFUNC = @extschema@.rfm_customers_trans, STYPE = internal,
    FINALFUNC = @extschema@.rfm_customers_final_uuid, COMBINEFUNC = @extschema@.rfm_customers_combine,
    SERIALFUNC = @extschema@.rfm_customers_serialize, DESERIALFUNC = @extschema@.rfm_customers_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_agg_by_customer(uuid, timestamptz, double precision, timestamptz) IS
    'clm.rfm_agg of every customer in one pass, uuid ids, double precision amounts';
CREATE AGGREGATE @extschema@.rfm_agg_by_customer(customer_id uuid, ordered_at timestamptz,
                                                 amount bigint, as_of timestamptz) (
    SFUNC = @extschema@.rfm_customers_trans, STYPE = internal,
    FINALFUNC = @extschema@.rfm_customers_final_uuid, COMBINEFUNC = @extschema@.rfm_customers_combine,
    SERIALFUNC = @extschema@.rfm_customers_serialize, DESERIALFUNC = @extschema@.rfm_customers_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_agg_by_customer(uuid, timestamptz, bigint, timestamptz) IS
    'clm.rfm_agg of every customer in one pass, uuid ids, bigint amounts (e.g. cents)';

-- ---------------------------------------------------------------------------
-- The whole RFM pipeline over an orders relation, in bounded memory
-- ---------------------------------------------------------------------------

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
