-- Customer views on the smallest data: no repeat buyer at all.
\set VERBOSITY default
CREATE SCHEMA analytics_view_edge;
SET search_path = analytics_view_edge;
-- timestamp (without time zone) orders, read in the session's time zone
SET TimeZone = 'UTC';
CREATE TABLE orders (cust int, at timestamp, amount numeric);
INSERT INTO orders VALUES (1, '2025-03-05', 10);

-- one customer with one order: BG/NBD is still fitted (no dropout can be
-- seen, so a customer without repeat purchases is alive with probability
-- 1 under BG/NBD), and the view keeps its predictions instead of a
-- WARNING about the model's own probe
SELECT clm.create_customer_view('cv', 'orders', 'cust', 'at', 'amount', timestamptz '2026-01-01 00:00+00');
SELECT customer_key, orders, first_order_at, p_alive = 1 AS alive, expected_purchases >= 0 AS expected_ok
  FROM cv;
SELECT (bgnbd).r IS NOT NULL AS bgnbd_stored, gamma_gamma IS NULL AS no_spend_model
  FROM clm.customer_view WHERE view_schema = 'analytics_view_edge' AND view_name = 'cv';

-- several customers, none with a repeat purchase
INSERT INTO orders VALUES (2, '2025-06-01', 20), (3, '2025-09-30 12:00', 5);
SELECT clm.refresh_customer_view('cv', timestamptz '2026-01-01 00:00+00', false);
SELECT count(*) AS customers, bool_and(p_alive = 1) AS all_alive FROM cv;

SELECT clm.drop_customer_view('cv');
RESET TimeZone;
RESET search_path;
DROP SCHEMA analytics_view_edge CASCADE;
