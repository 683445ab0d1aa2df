-- A customer view of an orders table with refunds (negative amounts): the
-- RFM columns follow clm.rfm_agg's rules (a refund lowers revenue but is no
-- order and moves no date), and the models are fitted on, and applied to,
-- the purchases only.
\set VERBOSITY terse
SET timezone = 'UTC';
CREATE SCHEMA analytics_refunds;
SET search_path = analytics_refunds;
CREATE TABLE orders (cust int, at timestamptz, amount numeric(10,2));
INSERT INTO orders
SELECT c, timestamptz '2024-01-01 00:00+00' + ((c * 7919 + k * k * 104729) % 500) * interval '1 day',
       5 + ((c * 31 + k * 17) % 200)
FROM generate_series(1, 200) AS c, generate_series(1, 1 + c % 5) AS k;
-- refunds: of part of an order, after the customer's last purchase, and a
-- customer (1001) whose only row before as_of is a refund
INSERT INTO orders
SELECT c, timestamptz '2025-05-20 00:00+00' + c * interval '1 hour', -(c % 40 + 1)
FROM generate_series(1, 200, 3) AS c;
INSERT INTO orders VALUES (1001, '2025-06-01', -15), (1001, '2025-08-01', 30);
SELECT clm.create_customer_view('cv', 'orders', 'cust', 'at', 'amount', as_of => '2025-07-01');

-- the RFM columns equal clm.rfm_agg on the same rows
WITH agg AS (
    SELECT cust, clm.rfm_agg(at, amount, timestamptz '2025-07-01 00:00+00') AS rfm
      FROM orders WHERE at <= '2025-07-01 00:00+00' GROUP BY cust
)
SELECT count(*) AS customers, count(v.customer_key) AS view_rows,
       count(*) FILTER (WHERE (a.rfm).monetary < 0) AS refunds_only,
       bool_and(v.orders = (a.rfm).frequency AND v.revenue = (a.rfm).monetary
                AND v.first_order_at IS NOT DISTINCT FROM (a.rfm).first_at
                AND v.last_order_at IS NOT DISTINCT FROM (a.rfm).last_at
                AND v.recency_days IS NOT DISTINCT FROM (a.rfm).recency_days
                AND v.tenure_days IS NOT DISTINCT FROM (a.rfm).tenure_days
                AND v.mean_gap_days IS NOT DISTINCT FROM (a.rfm).mean_gap_days) AS rfm_as_rfm_agg,
       sum(v.revenue) = (SELECT sum(amount) FROM orders WHERE at <= '2025-07-01 00:00+00') AS revenue_net_of_refunds
  FROM agg AS a LEFT JOIN cv AS v ON v.customer_key = a.cust;
SELECT customer_key, orders, revenue, first_order_at, stage, p_alive, expected_purchases, predicted_clv
  FROM cv WHERE customer_key = 1001;

-- the models equal fits on the purchases (amount >= 0) only, and the
-- predictions apply them to each customer's purchases
WITH s AS (
    SELECT cust, clm.purchase_summary(at, amount, timestamptz '2025-07-01 00:00+00', '7 days') AS ps
      FROM orders WHERE at <= '2025-07-01 00:00+00' AND amount >= 0 GROUP BY cust
), fits AS (
    SELECT clm.bgnbd_fit((ps).x, (ps).t_x, (ps).t) AS bg,
           clm.gamma_gamma_fit((ps).x, (ps).mean_spend) FILTER (WHERE (ps).x > 0 AND (ps).mean_spend > 0) AS gg
      FROM s
)
SELECT r.bgnbd::text = f.bg::text AS bgnbd_on_purchases, r.gamma_gamma::text = f.gg::text AS gamma_gamma_on_purchases,
       r.customers,
       (SELECT bool_and(abs(v.expected_purchases - clm.bgnbd_expected_purchases(r.bgnbd, 90 / 7.0, (s.ps).x, (s.ps).t_x, (s.ps).t))
                        < 1e-12)
          FROM cv AS v JOIN s ON s.cust = v.customer_key) AS predictions_on_purchases
  FROM clm.customer_view AS r, fits AS f
 WHERE r.view_schema = 'analytics_refunds' AND r.view_name = 'cv';

-- a refresh with the late order of customer 1001 counted
SELECT clm.refresh_customer_view('cv', '2025-09-01');
SELECT customer_key, orders, revenue, first_order_at FROM cv WHERE customer_key = 1001;

SELECT clm.drop_customer_view('cv');
RESET search_path;
DROP SCHEMA analytics_refunds CASCADE;
