-- ---------------------------------------------------------------------------
-- RFM: per-customer recency / frequency / monetary aggregate, tie-safe
-- quantile scores and full-coverage segments (doc/rfm.md)
-- ---------------------------------------------------------------------------

GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;

CREATE TYPE @extschema@.rfm AS (
    recency_days    double precision,   -- as_of - last purchase, in days; NULL without purchases
    frequency       bigint,             -- purchases (rows with amount >= 0)
    monetary        numeric,            -- exact sum of all amounts, refunds included
    first_at        timestamptz,        -- first purchase
    last_at         timestamptz,        -- last purchase
    tenure_days     double precision,   -- as_of - first purchase, in days
    mean_gap_days   double precision    -- mean days between consecutive purchases; NULL below 2
);
COMMENT ON TYPE @extschema@.rfm IS
    'per-customer RFM metrics as returned by clm.rfm_agg and clm.rfm_final';

-- The aggregate state as a real SQL type, so that states can be stored,
-- merged later (incremental refresh) and shipped between nodes (Citus).
CREATE TYPE @extschema@.rfm_state;

CREATE FUNCTION @extschema@.rfm_state_in(cstring) RETURNS @extschema@.rfm_state
    AS 'MODULE_PATHNAME', 'rfm_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_in(cstring) IS 'text input of clm.rfm_state (validated)';
CREATE FUNCTION @extschema@.rfm_state_out(@extschema@.rfm_state) RETURNS cstring
    AS 'MODULE_PATHNAME', 'rfm_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_out(@extschema@.rfm_state) IS 'text output of clm.rfm_state';
CREATE FUNCTION @extschema@.rfm_state_recv(internal) RETURNS @extschema@.rfm_state
    AS 'MODULE_PATHNAME', 'rfm_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_recv(internal) IS 'binary input of clm.rfm_state (validated)';
CREATE FUNCTION @extschema@.rfm_state_send(@extschema@.rfm_state) RETURNS bytea
    AS 'MODULE_PATHNAME', 'rfm_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_send(@extschema@.rfm_state) IS 'binary output of clm.rfm_state';

CREATE TYPE @extschema@.rfm_state (
    INPUT = @extschema@.rfm_state_in,
    OUTPUT = @extschema@.rfm_state_out,
    RECEIVE = @extschema@.rfm_state_recv,
    SEND = @extschema@.rfm_state_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE @extschema@.rfm_state IS
    'mergeable partial RFM state (counts, first/last purchase, exact sum); build with clm.rfm_state_agg, merge with clm.rfm_merge, finish with clm.rfm_final';

-- transition, combine and final functions
CREATE FUNCTION @extschema@.rfm_trans(@extschema@.rfm_state, timestamptz, numeric, timestamptz)
    RETURNS @extschema@.rfm_state AS 'MODULE_PATHNAME', 'rfm_trans_numeric'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_trans(@extschema@.rfm_state, timestamptz, numeric, timestamptz) IS
    'transition function of clm.rfm_agg(timestamptz, numeric, timestamptz)';
CREATE FUNCTION @extschema@.rfm_trans(@extschema@.rfm_state, timestamptz, double precision, timestamptz)
    RETURNS @extschema@.rfm_state AS 'MODULE_PATHNAME', 'rfm_trans_float8'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_trans(@extschema@.rfm_state, timestamptz, double precision, timestamptz) IS
    'transition function of clm.rfm_agg(timestamptz, double precision, timestamptz)';
CREATE FUNCTION @extschema@.rfm_trans(@extschema@.rfm_state, timestamptz, bigint, timestamptz)
    RETURNS @extschema@.rfm_state AS 'MODULE_PATHNAME', 'rfm_trans_int8'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_trans(@extschema@.rfm_state, timestamptz, bigint, timestamptz) IS
    'transition function of clm.rfm_agg(timestamptz, bigint, timestamptz)';

CREATE FUNCTION @extschema@.rfm_state_trans(@extschema@.rfm_state, timestamptz, numeric)
    RETURNS @extschema@.rfm_state AS 'MODULE_PATHNAME', 'rfm_state_trans_numeric'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_trans(@extschema@.rfm_state, timestamptz, numeric) IS
    'transition function of clm.rfm_state_agg(timestamptz, numeric)';
CREATE FUNCTION @extschema@.rfm_state_trans(@extschema@.rfm_state, timestamptz, double precision)
    RETURNS @extschema@.rfm_state AS 'MODULE_PATHNAME', 'rfm_state_trans_float8'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_trans(@extschema@.rfm_state, timestamptz, double precision) IS
    'transition function of clm.rfm_state_agg(timestamptz, double precision)';
CREATE FUNCTION @extschema@.rfm_state_trans(@extschema@.rfm_state, timestamptz, bigint)
    RETURNS @extschema@.rfm_state AS 'MODULE_PATHNAME', 'rfm_state_trans_int8'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_trans(@extschema@.rfm_state, timestamptz, bigint) IS
    'transition function of clm.rfm_state_agg(timestamptz, bigint)';

CREATE FUNCTION @extschema@.rfm_combine(@extschema@.rfm_state, @extschema@.rfm_state)
    RETURNS @extschema@.rfm_state AS 'MODULE_PATHNAME', 'rfm_combine'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_combine(@extschema@.rfm_state, @extschema@.rfm_state) IS
    'combine function of the RFM aggregates and transition function of clm.rfm_merge';

CREATE FUNCTION @extschema@.rfm_agg_final(@extschema@.rfm_state) RETURNS @extschema@.rfm
    AS 'MODULE_PATHNAME', 'rfm_agg_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_agg_final(@extschema@.rfm_state) IS
    'final function of clm.rfm_agg (the state carries as_of)';

CREATE FUNCTION @extschema@.rfm_final(state @extschema@.rfm_state, as_of timestamptz)
    RETURNS @extschema@.rfm AS 'MODULE_PATHNAME', 'rfm_final'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_final(@extschema@.rfm_state, timestamptz) IS
    'RFM metrics of a stored or merged state at as_of; error if the state holds orders after as_of';

-- moving-aggregate (window frame) support
CREATE FUNCTION @extschema@.rfm_mtrans(internal, timestamptz, numeric, timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_mtrans_numeric' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_mtrans(internal, timestamptz, numeric, timestamptz) IS
    'moving-mode forward transition of clm.rfm_agg(timestamptz, numeric, timestamptz)';
CREATE FUNCTION @extschema@.rfm_mtrans(internal, timestamptz, double precision, timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_mtrans_float8' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_mtrans(internal, timestamptz, double precision, timestamptz) IS
    'moving-mode forward transition of clm.rfm_agg(timestamptz, double precision, timestamptz)';
CREATE FUNCTION @extschema@.rfm_mtrans(internal, timestamptz, bigint, timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_mtrans_int8' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_mtrans(internal, timestamptz, bigint, timestamptz) IS
    'moving-mode forward transition of clm.rfm_agg(timestamptz, bigint, timestamptz)';
CREATE FUNCTION @extschema@.rfm_minv(internal, timestamptz, numeric, timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_minv_numeric' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_minv(internal, timestamptz, numeric, timestamptz) IS
    'moving-mode inverse transition of clm.rfm_agg(timestamptz, numeric, timestamptz)';
CREATE FUNCTION @extschema@.rfm_minv(internal, timestamptz, double precision, timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_minv_float8' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_minv(internal, timestamptz, double precision, timestamptz) IS
    'moving-mode inverse transition of clm.rfm_agg(timestamptz, double precision, timestamptz)';
CREATE FUNCTION @extschema@.rfm_minv(internal, timestamptz, bigint, timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_minv_int8' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_minv(internal, timestamptz, bigint, timestamptz) IS
    'moving-mode inverse transition of clm.rfm_agg(timestamptz, bigint, timestamptz)';
CREATE FUNCTION @extschema@.rfm_mfinal(internal) RETURNS @extschema@.rfm
    AS 'MODULE_PATHNAME', 'rfm_mfinal' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_mfinal(internal) IS 'moving-mode final function of clm.rfm_agg';

CREATE AGGREGATE @extschema@.rfm_agg(ordered_at timestamptz, amount numeric, as_of timestamptz) (
    SFUNC = @extschema@.rfm_trans, STYPE = @extschema@.rfm_state,
    FINALFUNC = @extschema@.rfm_agg_final, COMBINEFUNC = @extschema@.rfm_combine,
    MSFUNC = @extschema@.rfm_mtrans, MINVFUNC = @extschema@.rfm_minv, MSTYPE = internal,
    MFINALFUNC = @extschema@.rfm_mfinal, MSSPACE = 256,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_agg(timestamptz, numeric, timestamptz) IS
    'RFM metrics of one customer at as_of: NULL rows skipped, refunds lower monetary only, orders after as_of ignored';
CREATE AGGREGATE @extschema@.rfm_agg(ordered_at timestamptz, amount double precision, as_of timestamptz) (
    SFUNC = @extschema@.rfm_trans, STYPE = @extschema@.rfm_state,
    FINALFUNC = @extschema@.rfm_agg_final, COMBINEFUNC = @extschema@.rfm_combine,
    MSFUNC = @extschema@.rfm_mtrans, MINVFUNC = @extschema@.rfm_minv, MSTYPE = internal,
    MFINALFUNC = @extschema@.rfm_mfinal, MSSPACE = 256,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_agg(timestamptz, double precision, timestamptz) IS
    'RFM metrics of one customer at as_of, double precision amounts (summed in 2^-64 fixed point)';
CREATE AGGREGATE @extschema@.rfm_agg(ordered_at timestamptz, amount bigint, as_of timestamptz) (
    SFUNC = @extschema@.rfm_trans, STYPE = @extschema@.rfm_state,
    FINALFUNC = @extschema@.rfm_agg_final, COMBINEFUNC = @extschema@.rfm_combine,
    MSFUNC = @extschema@.rfm_mtrans, MINVFUNC = @extschema@.rfm_minv, MSTYPE = internal,
    MFINALFUNC = @extschema@.rfm_mfinal, MSSPACE = 256,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_agg(timestamptz, bigint, timestamptz) IS
    'RFM metrics of one customer at as_of, bigint amounts (e.g. cents)';

CREATE AGGREGATE @extschema@.rfm_state_agg(ordered_at timestamptz, amount numeric) (
    SFUNC = @extschema@.rfm_state_trans, STYPE = @extschema@.rfm_state,
    COMBINEFUNC = @extschema@.rfm_combine, PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_state_agg(timestamptz, numeric) IS
    'partial RFM state of the rows (no as_of yet), to store and merge later';
CREATE AGGREGATE @extschema@.rfm_state_agg(ordered_at timestamptz, amount double precision) (
    SFUNC = @extschema@.rfm_state_trans, STYPE = @extschema@.rfm_state,
    COMBINEFUNC = @extschema@.rfm_combine, PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_state_agg(timestamptz, double precision) IS
    'partial RFM state of the rows, double precision amounts';
CREATE AGGREGATE @extschema@.rfm_state_agg(ordered_at timestamptz, amount bigint) (
    SFUNC = @extschema@.rfm_state_trans, STYPE = @extschema@.rfm_state,
    COMBINEFUNC = @extschema@.rfm_combine, PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_state_agg(timestamptz, bigint) IS
    'partial RFM state of the rows, bigint amounts';

CREATE AGGREGATE @extschema@.rfm_merge(@extschema@.rfm_state) (
    SFUNC = @extschema@.rfm_combine, STYPE = @extschema@.rfm_state,
    COMBINEFUNC = @extschema@.rfm_combine, PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_merge(@extschema@.rfm_state) IS
    'merge stored RFM states (e.g. daily states per customer) into one';

-- ---------------------------------------------------------------------------
-- Thresholds and scores
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.rfm_thresholds AS (
    recency_breaks   double precision[],  -- ascending days; recency is scored in reverse
    frequency_breaks double precision[],  -- ascending purchase counts
    monetary_breaks  double precision[]   -- ascending money
);
COMMENT ON TYPE @extschema@.rfm_thresholds IS
    'RFM breakpoints per dimension: a value scores 1 + the number of breakpoints <= it (recency reversed)';

CREATE TYPE @extschema@.rfm_score AS (
    r     integer,   -- recency score: highest for the most recent customers
    f     integer,   -- frequency score
    m     integer,   -- monetary score
    score integer    -- r*100 + f*10 + m
);
COMMENT ON TYPE @extschema@.rfm_score IS 'RFM scores of one customer, as returned by clm.rfm_score';

CREATE FUNCTION @extschema@.rfm_thresholds_trans(internal, @extschema@.rfm) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_thresholds_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_trans(internal, @extschema@.rfm) IS
    'transition function of clm.rfm_thresholds(clm.rfm)';
CREATE FUNCTION @extschema@.rfm_thresholds_trans(internal, @extschema@.rfm, integer) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_thresholds_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_trans(internal, @extschema@.rfm, integer) IS
    'transition function of clm.rfm_thresholds(clm.rfm, integer)';
CREATE FUNCTION @extschema@.rfm_thresholds_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_thresholds_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_combine(internal, internal) IS
    'combine function of clm.rfm_thresholds';
CREATE FUNCTION @extschema@.rfm_thresholds_serialize(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'rfm_thresholds_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_serialize(internal) IS
    'serialize function of clm.rfm_thresholds';
CREATE FUNCTION @extschema@.rfm_thresholds_deserialize(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'rfm_thresholds_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_deserialize(bytea, internal) IS
    'deserialize function of clm.rfm_thresholds (validated)';
CREATE FUNCTION @extschema@.rfm_thresholds_final(internal) RETURNS @extschema@.rfm_thresholds
    AS 'MODULE_PATHNAME', 'rfm_thresholds_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds_final(internal) IS
    'final function of clm.rfm_thresholds: exact tie-safe breakpoints';

CREATE AGGREGATE @extschema@.rfm_thresholds(rfm @extschema@.rfm) (
    SFUNC = @extschema@.rfm_thresholds_trans, STYPE = internal,
    FINALFUNC = @extschema@.rfm_thresholds_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = @extschema@.rfm_thresholds_combine,
    SERIALFUNC = @extschema@.rfm_thresholds_serialize,
    DESERIALFUNC = @extschema@.rfm_thresholds_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_thresholds(@extschema@.rfm) IS
    'quintile breakpoints (5 bins) per RFM dimension over a set of customers; ties never split';
CREATE AGGREGATE @extschema@.rfm_thresholds(rfm @extschema@.rfm, bins integer) (
    SFUNC = @extschema@.rfm_thresholds_trans, STYPE = internal,
    FINALFUNC = @extschema@.rfm_thresholds_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = @extschema@.rfm_thresholds_combine,
    SERIALFUNC = @extschema@.rfm_thresholds_serialize,
    DESERIALFUNC = @extschema@.rfm_thresholds_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_thresholds(@extschema@.rfm, integer) IS
    'quantile breakpoints (bins 2..9) per RFM dimension over a set of customers; ties never split';

CREATE FUNCTION @extschema@.rfm_thresholds(recency_breaks double precision[],
        frequency_breaks double precision[], monetary_breaks double precision[])
    RETURNS @extschema@.rfm_thresholds AS 'MODULE_PATHNAME', 'rfm_thresholds_make'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_thresholds(double precision[], double precision[], double precision[]) IS
    'business-defined RFM breakpoints (1..8 ascending values per dimension)';

CREATE FUNCTION @extschema@.rfm_score(rfm @extschema@.rfm, thresholds @extschema@.rfm_thresholds)
    RETURNS @extschema@.rfm_score AS 'MODULE_PATHNAME', 'rfm_score'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_score(@extschema@.rfm, @extschema@.rfm_thresholds) IS
    'RFM scores of a customer against breakpoints: identical values always share a score';

-- ---------------------------------------------------------------------------
-- Segments
-- ---------------------------------------------------------------------------

-- Rules are non-overlapping boxes of score ranges, grouped into rule sets.
-- The rule set 'default' is seeded below and read-only (copy it to edit);
-- user rule sets are dumped by pg_dump (the filter keeps the seeded rows,
-- which CREATE EXTENSION recreates, out of the dump).
CREATE TABLE @extschema@.rfm_segment_rule (
    ruleset  text    NOT NULL,
    segment  text    NOT NULL CHECK (segment OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]*$'),
    r_min    integer NOT NULL CHECK (r_min BETWEEN 1 AND 9),
    r_max    integer NOT NULL CHECK (r_max BETWEEN 1 AND 9),
    f_min    integer NOT NULL CHECK (f_min BETWEEN 1 AND 9),
    f_max    integer NOT NULL CHECK (f_max BETWEEN 1 AND 9),
    m_min    integer NOT NULL CHECK (m_min BETWEEN 1 AND 9),
    m_max    integer NOT NULL CHECK (m_max BETWEEN 1 AND 9),
    label_en text    NOT NULL,
    label_zh text,
    PRIMARY KEY (ruleset, segment, r_min, f_min, m_min),
    CHECK (r_min <= r_max AND f_min <= f_max AND m_min <= m_max)
);
COMMENT ON TABLE @extschema@.rfm_segment_rule IS
    'RFM segment rules: each row maps the box r_min..r_max x f_min..f_max x m_min..m_max of a rule set to a segment; boxes of a rule set must not overlap';

INSERT INTO @extschema@.rfm_segment_rule
    (ruleset, segment, r_min, r_max, f_min, f_max, m_min, m_max, label_en, label_zh) VALUES
    ('default', 'champions',          5, 5, 4, 5, 1, 5, 'Champions',           '冠军客户'),
    ('default', 'loyal',              3, 4, 4, 5, 1, 5, 'Loyal',               '忠诚客户'),
    ('default', 'potential_loyalist', 4, 5, 2, 3, 1, 5, 'Potential loyalist',  '潜在忠诚客户'),
    ('default', 'new',                5, 5, 1, 1, 1, 5, 'New',                 '新客户'),
    ('default', 'promising',          4, 4, 1, 1, 1, 5, 'Promising',           '有潜力客户'),
    ('default', 'need_attention',     3, 3, 3, 3, 1, 5, 'Need attention',      '需要关注'),
    ('default', 'about_to_sleep',     3, 3, 1, 2, 1, 5, 'About to sleep',      '即将沉睡'),
    ('default', 'at_risk',            1, 2, 3, 3, 1, 5, 'At risk',             '流失风险'),
    ('default', 'at_risk',            1, 2, 4, 5, 1, 3, 'At risk',             '流失风险'),
    ('default', 'cannot_lose',        1, 2, 4, 5, 4, 5, 'Cannot lose them',    '不能失去'),
    ('default', 'hibernating',        2, 2, 1, 2, 1, 5, 'Hibernating',         '休眠客户'),
    ('default', 'lost',               1, 1, 1, 2, 1, 5, 'Lost',                '已流失');

SELECT pg_catalog.pg_extension_config_dump('@extschema@.rfm_segment_rule',
                                           $$WHERE ruleset <> 'default'$$);
GRANT SELECT ON @extschema@.rfm_segment_rule TO PUBLIC;

CREATE FUNCTION @extschema@.rfm_segment_rule_guard() RETURNS trigger
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF (TG_OP <> 'INSERT' AND OLD.ruleset = 'default')
       OR (TG_OP <> 'DELETE' AND NEW.ruleset = 'default') THEN
        RAISE EXCEPTION 'the RFM segment rule set "default" is read-only'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'It is recreated by CREATE EXTENSION and is not dumped, so edits would be lost.',
                  HINT = 'Copy it into a rule set of your own (INSERT INTO clm.rfm_segment_rule SELECT ''mine'', segment, r_min, r_max, f_min, f_max, m_min, m_max, label_en, label_zh FROM clm.rfm_segment_rule WHERE ruleset = ''default''), edit that and pass its name to clm.rfm_segment.';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_segment_rule_guard() IS
    'keeps the seeded RFM rule set "default" read-only (it is not dumped; edits would be lost)';

CREATE TRIGGER rfm_segment_rule_guard
    BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.rfm_segment_rule
    FOR EACH ROW EXECUTE FUNCTION @extschema@.rfm_segment_rule_guard();

CREATE FUNCTION @extschema@.rfm_segment(score @extschema@.rfm_score, ruleset text DEFAULT 'default')
    RETURNS text AS 'MODULE_PATHNAME', 'rfm_segment'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_segment(@extschema@.rfm_score, text) IS
    'RFM segment of a score from clm.rfm_segment_rule (NULL if no rule covers it; error if two do)';

CREATE FUNCTION @extschema@.rfm_segment_label(score @extschema@.rfm_score, lang text DEFAULT 'en',
                                              ruleset text DEFAULT 'default')
    RETURNS text AS 'MODULE_PATHNAME', 'rfm_segment_label'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_segment_label(@extschema@.rfm_score, text, text) IS
    'label of the RFM segment of a score, in English (en) or Chinese (zh)';

CREATE FUNCTION @extschema@.rfm_segment_rules_check(ruleset text DEFAULT 'default', bins integer DEFAULT 5)
    RETURNS TABLE (r integer, f integer, m integer, problem text, segments text[])
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF bins IS NULL OR bins < 2 OR bins > 9 THEN
        RAISE EXCEPTION 'bins must be between 2 and 9'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('bins is %s.', COALESCE(bins::text, 'NULL'));
    END IF;
    RETURN QUERY
    SELECT gr.r, gf.f, gm.m,
           CASE WHEN pg_catalog.count(s.segment) OPERATOR(pg_catalog.=) 0 THEN 'uncovered'
                ELSE 'covered ' OPERATOR(pg_catalog.||) pg_catalog.count(s.segment)::text
                     OPERATOR(pg_catalog.||) ' times' END,
           pg_catalog.array_agg(s.segment ORDER BY s.segment) FILTER (WHERE s.segment IS NOT NULL)
    FROM pg_catalog.generate_series(1, bins) AS gr(r)
         CROSS JOIN pg_catalog.generate_series(1, bins) AS gf(f)
         CROSS JOIN pg_catalog.generate_series(1, bins) AS gm(m)
         LEFT JOIN @extschema@.rfm_segment_rule AS s
           ON s.ruleset OPERATOR(pg_catalog.=) rfm_segment_rules_check.ruleset
          AND gr.r OPERATOR(pg_catalog.>=) s.r_min AND gr.r OPERATOR(pg_catalog.<=) s.r_max
          AND gf.f OPERATOR(pg_catalog.>=) s.f_min AND gf.f OPERATOR(pg_catalog.<=) s.f_max
          AND gm.m OPERATOR(pg_catalog.>=) s.m_min AND gm.m OPERATOR(pg_catalog.<=) s.m_max
    GROUP BY gr.r, gf.f, gm.m
    HAVING pg_catalog.count(s.segment) OPERATOR(pg_catalog.<>) 1
    ORDER BY gr.r, gf.f, gm.m;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_segment_rules_check(text, integer) IS
    'cells of the bins x bins x bins score grid that a rule set leaves uncovered or covers more than once (no rows: the rule set is a partition)';

-- ---------------------------------------------------------------------------
-- Lifecycle stage from RFM metrics (needs clm.classify_stage from 10_lifecycle)
-- ---------------------------------------------------------------------------

-- clm.rfm carries recency and last_at but not as_of itself: as_of is
-- last_at + recency_days (exact to the microsecond for any realistic
-- recency).  Without purchases the stage does not depend on as_of, which is
-- then passed as the epoch.
CREATE FUNCTION @extschema@.classify_stage(rfm @extschema@.rfm, policy text DEFAULT 'default',
                                           current_stage @extschema@.lifecycle_stage DEFAULT NULL)
    RETURNS @extschema@.lifecycle_stage
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.classify_stage(
        (rfm).frequency, (rfm).first_at, (rfm).last_at,
        CASE WHEN (rfm).last_at IS NULL THEN timestamptz '2000-01-01 00:00+00'
             ELSE (rfm).last_at OPERATOR(pg_catalog.+)
                  pg_catalog.make_interval(secs => (rfm).recency_days OPERATOR(pg_catalog.*) 86400::double precision) END,
        policy, current_stage)
$$;
COMMENT ON FUNCTION @extschema@.classify_stage(@extschema@.rfm, text, @extschema@.lifecycle_stage) IS
    'the lifecycle stage implied by a customer''s RFM metrics (frequency, first and last purchase, as_of = last purchase + recency) under a policy';
