-- ---------------------------------------------------------------------------
-- RFM: named segments, full-coverage rule sets of score boxes (doc/rfm.md)
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
    -- as clm.rfm_segment does: an unknown rule set is an error, not 125 uncovered cells
    IF NOT EXISTS (SELECT 1 FROM @extschema@.rfm_segment_rule AS s
                   WHERE s.ruleset OPERATOR(pg_catalog.=) rfm_segment_rules_check.ruleset) THEN
        RAISE EXCEPTION 'RFM segment rule set "%" does not exist', ruleset
            USING ERRCODE = 'undefined_object',
                  HINT = 'The built-in rule set is "default"; add rules to clm.rfm_segment_rule.';
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
