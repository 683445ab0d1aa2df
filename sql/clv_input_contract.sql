--
-- clv_input_contract: the fits, the log-likelihoods and the predictions take
-- one customer's (x, t_x, t), and (x, mean_spend), under one contract: the
-- same values are accepted by all of them, and a bad value is rejected by
-- all of them with the same SQLSTATE, message, detail and hint.
--
CREATE SCHEMA clv_input_contract;
SET search_path = clv_input_contract, public;

-- the error a statement raises, as "SQLSTATE: message | detail | hint", or ok
CREATE FUNCTION err(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
    det text;
    hnt text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RETURN st || ': ' || msg || ' | ' || det || ' | ' || hnt;
END
$$;

-- every function that takes a BTYD history, with %1$s, %2$s, %3$s for x, t_x, t
CREATE TABLE btyd_fn (fn text, stmt text);
INSERT INTO btyd_fn VALUES
  ('bgnbd_fit', 'SELECT clm.bgnbd_fit(x, t_x, t) FROM (VALUES (%1$s::float8, %2$s::float8, %3$s::float8)) v(x, t_x, t)'),
  ('bgnbd_fit weighted', 'SELECT clm.bgnbd_fit(x, t_x, t, 3) FROM (VALUES (%1$s::float8, %2$s::float8, %3$s::float8)) v(x, t_x, t)'),
  ('paretonbd_fit', 'SELECT clm.paretonbd_fit(x, t_x, t) FROM (VALUES (%1$s::float8, %2$s::float8, %3$s::float8)) v(x, t_x, t)'),
  ('bgnbd_log_likelihood', 'SELECT clm.bgnbd_log_likelihood(0.243, 4.414, 0.793, 2.426, %1$s, %2$s, %3$s)'),
  ('paretonbd_log_likelihood', 'SELECT clm.paretonbd_log_likelihood(0.553, 10.578, 0.606, 11.669, %1$s, %2$s, %3$s)'),
  ('bgnbd_p_alive', 'SELECT clm.bgnbd_p_alive(ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, %1$s, %2$s, %3$s)'),
  ('bgnbd_expected_purchases', 'SELECT clm.bgnbd_expected_purchases(ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, 10, %1$s, %2$s, %3$s)'),
  ('paretonbd_p_alive', 'SELECT clm.paretonbd_p_alive(ROW(0.553, 10.578, 0.606, 11.669, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.paretonbd, %1$s, %2$s, %3$s)'),
  ('paretonbd_expected_purchases', 'SELECT clm.paretonbd_expected_purchases(ROW(0.553, 10.578, 0.606, 11.669, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.paretonbd, 10, %1$s, %2$s, %3$s)'),
  ('clv', 'SELECT clm.clv(ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma, %1$s, %2$s, %3$s, 20, 12, 0.01, 7)'),
  ('btyd_fit_state text input', 'SELECT (''kind=btyd version=1 penalizer=none rows=1: ('' || %1$s::float8 || '','' || %2$s::float8 || '','' || %3$s::float8 || '',1)'')::clm.btyd_fit_state');

-- valid histories (first) and one breach of each rule
CREATE TABLE btyd_in (ord int, x text, t_x text, t text);
INSERT INTO btyd_in VALUES
  (1, '0', '0', '10'), (2, '2', '10', '10'), (3, '2', '0', '10'), (4, '0', '0', '0'),
  (11, '''NaN''', '0', '10'), (12, '''-Infinity''', '0', '10'), (13, '1', '''NaN''', '10'),
  (14, '1', '1', '''Infinity'''), (15, '-1', '0', '10'), (16, '1.5', '1', '10'),
  (17, '1', '-1', '10'), (18, '0', '0', '-1'), (19, '0', '3', '10'), (20, '0', '0.5', '0.5'),
  (21, '2', '11', '10'), (22, '0', '11', '10');

-- per input: how many different outcomes the ten SQL functions give (1:
-- all agree), and that outcome
SELECT i.x, i.t_x, i.t, count(DISTINCT e) AS outcomes, min(e) AS outcome
FROM btyd_in i CROSS JOIN btyd_fn f
CROSS JOIN LATERAL err(format(f.stmt, i.x, i.t_x, i.t)) AS e
WHERE f.fn <> 'btyd_fit_state text input'
GROUP BY i.ord, i.x, i.t_x, i.t ORDER BY i.ord;

-- a stored fit state is held to the same rules (its own SQLSTATE, 22P02,
-- and the message after the row number)
SELECT i.x, i.t_x, i.t, err(format(f.stmt, i.x, i.t_x, i.t)) AS outcome
FROM btyd_in i, btyd_fn f
WHERE f.fn = 'btyd_fit_state text input' AND i.ord > 10 ORDER BY i.ord;

-- NULL is not a value: the fits skip the row, the other functions are STRICT
SELECT (SELECT clm.bgnbd_fit(x, t_x, t) FROM (VALUES (NULL::float8, 0::float8, 10::float8)) v(x, t_x, t)) IS NULL AS bgnbd_fit_skips,
       (SELECT clm.paretonbd_fit(x, t_x, t) FROM (VALUES (1::float8, NULL::float8, 10::float8)) v(x, t_x, t)) IS NULL AS paretonbd_fit_skips,
       clm.bgnbd_log_likelihood(0.243, 4.414, 0.793, 2.426, 0, 0, NULL) IS NULL AS bgnbd_ll_null,
       clm.paretonbd_log_likelihood(0.553, 10.578, 0.606, 11.669, NULL, 0, 10) IS NULL AS paretonbd_ll_null,
       clm.bgnbd_p_alive(ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, 1, NULL, 10) IS NULL AS bgnbd_p_alive_null,
       clm.paretonbd_p_alive(ROW(0.553, 10.578, 0.606, 11.669, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.paretonbd, NULL, 0, 10) IS NULL AS paretonbd_p_alive_null;

-- Gamma-Gamma: every function that takes (x, mean_spend), %1$s and %2$s
CREATE TABLE spend_fn (fn text, stmt text);
INSERT INTO spend_fn VALUES
  ('gamma_gamma_fit', 'SELECT clm.gamma_gamma_fit(x, m) FROM (VALUES (%1$s::float8, %2$s::float8)) v(x, m)'),
  ('gamma_gamma_fit weighted', 'SELECT clm.gamma_gamma_fit(x, m, 2) FROM (VALUES (%1$s::float8, %2$s::float8)) v(x, m)'),
  ('gamma_gamma_log_likelihood', 'SELECT clm.gamma_gamma_log_likelihood(6.25, 3.74, 15.44, %1$s, %2$s)'),
  ('gamma_gamma_expected_spend', 'SELECT clm.gamma_gamma_expected_spend(ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma, %1$s, %2$s)');
CREATE TABLE spend_in (ord int, x text, m text);
INSERT INTO spend_in VALUES
  (1, '0', '0'), (2, '0', '5'), (3, '2', '5'),
  (11, '''NaN''', '5'), (12, '2', '''Infinity'''), (13, '-1', '5'), (14, '2.5', '5'),
  (15, '2', '-5'), (16, '0', '-5'), (17, '2', '0');
SELECT i.x, i.m AS mean_spend, count(DISTINCT e) AS outcomes, min(e) AS outcome
FROM spend_in i CROSS JOIN spend_fn f
CROSS JOIN LATERAL err(format(f.stmt, i.x, i.m)) AS e
GROUP BY i.ord, i.x, i.m ORDER BY i.ord;
-- clm.clv checks its mean_spend by the same rule
SELECT err('SELECT clm.clv(ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, '
           'ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma, 2, 3, 10, 0, 12, 0.01, 7)')
     = err('SELECT clm.gamma_gamma_expected_spend(ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma, 2, 0)')
       AS clv_same_error;
-- x = 0 carries no spend information: skipped by the fit, log-likelihood 0,
-- the population mean p gamma / (q - 1) as expected spend
SELECT (SELECT clm.gamma_gamma_fit(x, m) FROM (VALUES (0::float8, 0::float8)) v(x, m)) IS NULL AS fit_skips_x0,
       clm.gamma_gamma_log_likelihood(6.25, 3.74, 15.44, 0, 0) AS ll_x0,
       abs(clm.gamma_gamma_expected_spend(ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma, 0, 0)
           - 6.25 * 15.44 / 2.74) < 1e-12 AS population_mean;

RESET search_path;
DROP SCHEMA clv_input_contract CASCADE;
