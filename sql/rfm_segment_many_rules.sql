--
-- rfm_segment_many_rules: a rule set of more rules than a 16-bit rule number
-- holds.  Rules are numbered in the order segment, r_min, f_min, m_min; the
-- grid of a loaded rule set must keep rule 32,768 (a negative index in 16
-- bits), 65,534 and 65,535 (the "covered twice" and "no rule" markers in 16
-- bits) and 65,536 (rule 0 again) apart from each other and from the markers.
--
\set VERBOSITY default
-- rule i is segment s<i>, zero-padded so that names sort as numbers; the
-- five rules named below each cover one cell alone, every other rule covers
-- the cell (5, 5, 5)
INSERT INTO clm.rfm_segment_rule
SELECT 'many', 's' || lpad(i::text, 5, '0'), c.r, c.r, c.f, c.f, c.m, c.m, 'Rule ' || i, NULL
FROM generate_series(0, 65536) AS i
CROSS JOIN LATERAL (SELECT CASE i WHEN 32768 THEN 1 WHEN 65534 THEN 2 WHEN 65535 THEN 3
                                  WHEN 65536 THEN 4 WHEN 0 THEN 5 ELSE 5 END AS r,
                           CASE WHEN i IN (0, 32768, 65534, 65535, 65536) THEN 1 ELSE 5 END AS f,
                           CASE WHEN i IN (0, 32768, 65534, 65535, 65536) THEN 1 ELSE 5 END AS m) AS c;
SELECT count(*) AS rules FROM clm.rfm_segment_rule WHERE ruleset = 'many';

-- each singly covered cell gives its own rule
SELECT r, clm.rfm_segment(ROW(r, 1, 1, r * 100 + 11)::clm.rfm_score, 'many') AS segment,
       clm.rfm_segment_label(ROW(r, 1, 1, r * 100 + 11)::clm.rfm_score, 'en', 'many') AS label
FROM generate_series(1, 5) AS r ORDER BY r;
-- a cell no rule covers has no segment
SELECT clm.rfm_segment(ROW(1, 2, 1, 121)::clm.rfm_score, 'many') IS NULL AS uncovered_is_null;
-- the cell covered 65,532 times is an overlap
SELECT clm.rfm_segment(ROW(5, 5, 5, 555)::clm.rfm_score, 'many');
-- the coverage check agrees
SELECT problem, count(*) AS cells, max(cardinality(segments)) AS max_segments
FROM clm.rfm_segment_rules_check('many') GROUP BY problem ORDER BY problem;
SELECT r, f, m, problem FROM clm.rfm_segment_rules_check('many')
WHERE problem <> 'uncovered';

DELETE FROM clm.rfm_segment_rule WHERE ruleset = 'many';
