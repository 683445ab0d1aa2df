--
-- rfm_segment: the rules table, its default rule set, the coverage check
--
\set VERBOSITY default
CREATE SCHEMA rfm_segment_test;
SET search_path = rfm_segment_test, public;

-- the default rules cover the 125 cells of the 5x5x5 grid exactly once
SELECT count(*) AS problem_cells FROM clm.rfm_segment_rules_check();
SELECT count(*) AS cells, count(DISTINCT seg) AS segments
FROM (SELECT clm.rfm_segment(ROW(r, f, m, r * 100 + f * 10 + m)::clm.rfm_score) AS seg
      FROM generate_series(1, 5) r, generate_series(1, 5) f, generate_series(1, 5) m) s
WHERE seg IS NOT NULL;
-- the map, R x F (M only splits at_risk / cannot_lose)
SELECT r, string_agg(f || ':' || segs, '  ' ORDER BY f) AS "f: segment(s) over m = 1..5"
FROM (SELECT r, f, string_agg(DISTINCT clm.rfm_segment(ROW(r, f, m, 0)::clm.rfm_score), '/') AS segs
      FROM generate_series(1, 5) r, generate_series(1, 5) f, generate_series(1, 5) m GROUP BY r, f) x
GROUP BY r ORDER BY r DESC;
-- segments, cells and labels
SELECT segment, sum((r_max - r_min + 1) * (f_max - f_min + 1) * (m_max - m_min + 1)) AS cells,
       min(label_en) AS label_en, min(label_zh) AS label_zh
FROM clm.rfm_segment_rule WHERE ruleset = 'default' GROUP BY segment ORDER BY segment;
SELECT clm.rfm_segment_label(ROW(5, 5, 5, 555)::clm.rfm_score) AS en,
       clm.rfm_segment_label(ROW(5, 5, 5, 555)::clm.rfm_score, 'zh') AS zh,
       clm.rfm_segment_label(ROW(1, 5, 5, 155)::clm.rfm_score, 'zh-CN') AS zh_cn;

-- a user rule set: a copy of the default, then broken on purpose
INSERT INTO clm.rfm_segment_rule
SELECT 'broken', segment, r_min, r_max, f_min, f_max, m_min, m_max, label_en, label_zh
FROM clm.rfm_segment_rule WHERE ruleset = 'default';
SELECT count(*) AS problem_cells FROM clm.rfm_segment_rules_check('broken');
-- drop "new" (5 cells uncovered) and widen "promising" over part of "potential_loyalist"
DELETE FROM clm.rfm_segment_rule WHERE ruleset = 'broken' AND segment = 'new';
UPDATE clm.rfm_segment_rule SET f_max = 2, m_max = 2 WHERE ruleset = 'broken' AND segment = 'promising';
SELECT * FROM clm.rfm_segment_rules_check('broken');
SELECT clm.rfm_segment(ROW(5, 1, 3, 513)::clm.rfm_score, 'broken') IS NULL AS uncovered_is_null;
SELECT clm.rfm_segment(ROW(4, 2, 1, 421)::clm.rfm_score, 'broken');
SELECT clm.rfm_segment(ROW(4, 3, 1, 431)::clm.rfm_score, 'broken');
-- a 3-bin rule set checked on its own grid
INSERT INTO clm.rfm_segment_rule VALUES
    ('three', 'low', 1, 1, 1, 3, 1, 3, 'Low', '低'),
    ('three', 'mid', 2, 2, 1, 3, 1, 3, 'Mid', '中'),
    ('three', 'high', 3, 3, 1, 3, 1, 3, 'High', NULL);
SELECT count(*) AS problem_cells FROM clm.rfm_segment_rules_check('three', 3);
SELECT clm.rfm_segment_label(ROW(3, 1, 1, 311)::clm.rfm_score, 'zh', 'three') AS falls_back_to_en;

-- scores with a NULL part have no segment
SELECT clm.rfm_segment(ROW(NULL, 1, 1, NULL)::clm.rfm_score) IS NULL AS null_segment;

-- the default rule set is read-only (it is recreated by CREATE EXTENSION
-- and not dumped)
UPDATE clm.rfm_segment_rule SET segment = 'x' WHERE ruleset = 'default' AND segment = 'lost';
DELETE FROM clm.rfm_segment_rule WHERE ruleset = 'default';
INSERT INTO clm.rfm_segment_rule VALUES ('default', 'x', 1, 1, 1, 1, 1, 1, 'X', NULL);
UPDATE clm.rfm_segment_rule SET ruleset = 'default' WHERE ruleset = 'three';
-- table constraints
INSERT INTO clm.rfm_segment_rule VALUES ('bad', 'x', 0, 1, 1, 1, 1, 1, 'X', NULL);
INSERT INTO clm.rfm_segment_rule VALUES ('bad', 'x', 3, 2, 1, 1, 1, 1, 'X', NULL);
INSERT INTO clm.rfm_segment_rule VALUES ('bad', 'Has Space', 1, 1, 1, 1, 1, 1, 'X', NULL);

-- bad input
SELECT clm.rfm_segment(ROW(0, 1, 1, 11)::clm.rfm_score);
SELECT clm.rfm_segment(ROW(1, 10, 1, 11)::clm.rfm_score);
SELECT clm.rfm_segment(ROW(1, 1, 1, 111)::clm.rfm_score, 'no_such_rules');
SELECT clm.rfm_segment_label(ROW(1, 1, 1, 111)::clm.rfm_score, 'fr');
SELECT * FROM clm.rfm_segment_rules_check('default', 10);
SELECT * FROM clm.rfm_segment_rules_check('no_such_rule_set');

-- the dump filter keeps the seeded rows out of pg_dump
SELECT c.relname, x.cond
FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(cfg, cond)
JOIN pg_class c ON c.oid = x.cfg
WHERE e.extname = 'clm' AND c.relname = 'rfm_segment_rule';

-- a rule set per row: every rule set is read once per call site (it was
-- re-read by an SPI query, and its old rules leaked, at each change: 12 s
-- for 200,000 alternating rows instead of 0.1 s).  Counted as scans of the
-- rule table in this transaction: 2 + 1 here, not one per row.
INSERT INTO clm.rfm_segment_rule
SELECT 'copy', segment, r_min, r_max, f_min, f_max, m_min, m_max, label_en, label_zh
FROM clm.rfm_segment_rule WHERE ruleset = 'default';
SELECT pg_stat_force_next_flush();   -- count this transaction's scans only
BEGIN;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE clm.rfm_segment(sc, CASE WHEN i % 2 = 0 THEN 'default' ELSE 'copy' END)
                        IS DISTINCT FROM clm.rfm_segment(sc)) AS differ
FROM (SELECT i, ROW(1 + i % 5, 1 + i % 3, 1 + i % 4, 0)::clm.rfm_score AS sc
      FROM generate_series(1, 2000) i) q;
SELECT COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0) <= 3 AS rules_read_once
FROM pg_stat_xact_user_tables WHERE relid = 'clm.rfm_segment_rule'::regclass;
COMMIT;

DELETE FROM clm.rfm_segment_rule WHERE ruleset IN ('broken', 'three', 'copy');
RESET search_path;
DROP SCHEMA rfm_segment_test CASCADE;
