--
-- clv_predict_determinism: a prediction has the same bits whatever its call
-- site evaluated before.  Each prediction of every family (BG/NBD,
-- Pareto/NBD, Gamma-Gamma, CLV) is computed cold (a call site that has seen
-- nothing else), after the other customers in ascending and in descending
-- order, and, for the columns of a customer view, by the view; the values
-- are compared with = on float8, not rounded.  Many histories per x, so
-- that every per-x cache of a call site is used many times.
--
SET timezone = 'UTC';
SET max_parallel_workers_per_gather = 0;
CREATE SCHEMA clv_predict_determinism;
SET search_path = clv_predict_determinism, public;

-- continuous times (no two histories share (x, T)) and horizons 0.05..100
CREATE TABLE hist AS
SELECT i AS id, (i % 4)::float8 AS x,
       CASE WHEN i % 4 = 0 THEN 0 ELSE (1 + (i * 7919) % 600 / 10.0) * ((i * 31) % 97) / 97.0 END AS t_x,
       1 + (i * 7919) % 600 / 10.0 + i * 1e-6 AS t,
       CASE WHEN i % 4 = 0 THEN 0 ELSE 5 + (i * 104729) % 1000 / 10.0 END AS mean_spend,
       0.05 + (i * 613) % 1000 / 10.0 AS h
FROM generate_series(1, 400) AS i;

-- the predictions of one history, as one array expression over h
CREATE TABLE pred (ord int, name text, expr text);
INSERT INTO pred VALUES
(1, 'bgnbd_expected_purchases', 'clm.bgnbd_expected_purchases(m.bg, h.h, h.x, h.t_x, h.t)'),
(2, 'bgnbd_p_alive', 'clm.bgnbd_p_alive(m.bg, h.x, h.t_x, h.t)'),
(3, 'bgnbd_expected_purchases_new', 'clm.bgnbd_expected_purchases_new(m.bg, h.h)'),
(4, 'bgnbd_purchase_probability', 'clm.bgnbd_purchase_probability(m.bg, h.h, h.x::int)'),
(5, 'paretonbd_expected_purchases', 'clm.paretonbd_expected_purchases(m.pn, h.h, h.x, h.t_x, h.t)'),
(6, 'paretonbd_p_alive', 'clm.paretonbd_p_alive(m.pn, h.x, h.t_x, h.t)'),
(7, 'paretonbd_expected_purchases_new', 'clm.paretonbd_expected_purchases_new(m.pn, h.h)'),
(8, 'paretonbd_purchase_probability', 'clm.paretonbd_purchase_probability(m.pn, h.h, h.x::int)'),
(9, 'gamma_gamma_expected_spend', 'clm.gamma_gamma_expected_spend(m.gg, h.x, h.mean_spend)'),
(10, 'clv', 'clm.clv(m.bg, m.gg, h.x, h.t_x, h.t, h.mean_spend, 12, 0.01, 7)');
-- CDNOW-like models, rounded
CREATE TABLE models AS
SELECT ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd AS bg,
       ROW(0.553, 10.578, 0.606, 11.669, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.paretonbd AS pn,
       ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma AS gg;

-- cold: one EXECUTE per history, so every call site is new
CREATE FUNCTION cold(arr text) RETURNS TABLE (id int, v float8[])
LANGUAGE plpgsql AS $$
DECLARE
    i int;
BEGIN
    FOR i IN SELECT hist.id FROM hist ORDER BY hist.id LOOP
        id := i;
        EXECUTE format('SELECT %s FROM hist AS h, models AS m WHERE h.id = $1', arr) INTO v USING i;
        RETURN NEXT;
    END LOOP;
END $$;
-- in one query, after the other histories in the given order (the rows
-- are materialized in that order, so that is the order of the calls)
CREATE FUNCTION in_order(arr text, dir text) RETURNS TABLE (id int, v float8[])
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format(
        'WITH o AS MATERIALIZED (SELECT h.id, %s AS v
                                   FROM (SELECT * FROM hist ORDER BY id %s OFFSET 0) AS h, models AS m)
         SELECT id, v FROM o', arr, dir);
END $$;

CREATE TABLE results AS
WITH a AS (SELECT 'ARRAY[' || string_agg(expr, ', ' ORDER BY ord) || ']' AS arr FROM pred)
SELECT c.id, c.v AS cold, asc_.v AS ascending, desc_.v AS descending
FROM a, cold(a.arr) AS c
JOIN in_order((SELECT arr FROM a), 'ASC') AS asc_ USING (id)
JOIN in_order((SELECT arr FROM a), 'DESC') AS desc_ USING (id);

SELECT p.name, count(*) AS histories,
       count(*) FILTER (WHERE r.cold[p.ord] IS NOT NULL) AS computed,
       count(*) FILTER (WHERE r.ascending[p.ord] IS DISTINCT FROM r.cold[p.ord]) AS differ_ascending,
       count(*) FILTER (WHERE r.descending[p.ord] IS DISTINCT FROM r.cold[p.ord]) AS differ_descending
FROM pred AS p, results AS r
GROUP BY p.ord, p.name ORDER BY p.ord;

-- the customer view: its prediction columns against the same calls made
-- cold with the view's models and summaries
-- 1200 customers with 0..10 repeat orders at minute resolution, spread by
-- multiplicative hashing (no random(): the same data on every platform)
CREATE TABLE orders (customer int, ordered_at timestamptz, amount numeric(10,2));
INSERT INTO orders
SELECT c, timestamptz '2024-01-01 00:00+00' + (f + span * k / greatest(n, 1)) * interval '1 day',
       5 + (c * 31 + k * 17) % 100
FROM (SELECT c, floor(500 * u1) AS f, floor(-ln(1 - u2) * 1.5) AS n, (500 - floor(500 * u1)) * u3 * u4 AS span
      FROM (SELECT c, (c::bigint * 2654435761 % 4294967296) / 4294967296.0 AS u1,
                   (c::bigint * 2246822519 % 4294967296) / 4294967296.0 AS u2,
                   (c::bigint * 3266489917 % 4294967296) / 4294967296.0 AS u3,
                   (c::bigint * 668265263 % 4294967296) / 4294967296.0 AS u4
            FROM generate_series(1, 1200) AS c) AS r) AS cu,
     generate_series(0, n::int) AS k;
SELECT clm.create_customer_view('cv', 'orders', 'customer', 'ordered_at', 'amount',
                                as_of => '2025-07-01') IS NOT NULL AS created;
CREATE TABLE summary AS
SELECT customer, (s).x, (s).t_x, (s).t, (s).mean_spend
FROM (SELECT customer,
             clm.purchase_summary(ordered_at, amount, '2025-07-01', '7 days') FILTER (WHERE amount >= 0) AS s
      FROM orders GROUP BY customer) AS q;
CREATE FUNCTION cold_view() RETURNS TABLE (customer int, p_alive float8, expected_purchases float8,
                                           predicted_clv float8)
LANGUAGE plpgsql AS $$
DECLARE
    i int;
BEGIN
    FOR i IN SELECT s.customer FROM summary AS s ORDER BY s.customer LOOP
        customer := i;
        EXECUTE $q$
            SELECT clm.bgnbd_p_alive(r.bgnbd, s.x, s.t_x, s.t),
                   clm.bgnbd_expected_purchases(r.bgnbd, r.horizon_days / (date_part('epoch', r.time_unit) / 86400),
                                                s.x, s.t_x, s.t),
                   clm.clv(r.bgnbd, r.gamma_gamma, s.x, s.t_x, s.t, s.mean_spend,
                           r.clv_months, r.monthly_discount_rate, date_part('epoch', r.time_unit) / 86400)
              FROM summary AS s, clm.customer_view AS r
             WHERE s.customer = $1 AND r.view_schema = 'clv_predict_determinism' AND r.view_name = 'cv'$q$
        INTO p_alive, expected_purchases, predicted_clv USING i;
        RETURN NEXT;
    END LOOP;
END $$;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE v.expected_purchases IS NOT NULL AND v.predicted_clv IS NOT NULL) AS predicted,
       count(*) FILTER (WHERE v.p_alive IS DISTINCT FROM c.p_alive) AS differ_p_alive,
       count(*) FILTER (WHERE v.expected_purchases IS DISTINCT FROM c.expected_purchases) AS differ_expected_purchases,
       count(*) FILTER (WHERE v.predicted_clv IS DISTINCT FROM c.predicted_clv) AS differ_predicted_clv
FROM cv AS v JOIN cold_view() AS c ON c.customer = v.customer_key;

SELECT clm.drop_customer_view('clv_predict_determinism.cv');
DROP SCHEMA clv_predict_determinism CASCADE;
