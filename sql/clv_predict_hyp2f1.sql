--
-- clv_predict_hyp2f1: the Gauss hypergeometric function clm.hyp2f1(a, b, c, z)
-- in isolation, against closed forms and independent values (mpmath 1.3,
-- 40 digits), over the argument range the BTYD formulas reach: small
-- parameters near z = 1, large parameters, negative z, and the degenerate
-- connection case c - a - b an integer.
--
\set VERBOSITY default
CREATE SCHEMA clv_hyp_test;
SET search_path = clv_hyp_test, public;
CREATE FUNCTION rel(v float8, ref float8) RETURNS float8
LANGUAGE sql IMMUTABLE AS $$ SELECT abs(v / ref - 1) $$;

-- closed forms: 2F1(1,1;2;z) = -ln(1-z)/z (c - a - b = 0: the degenerate case),
-- 2F1(a,b;b;z) = (1-z)^-a, 2F1(1/2,1/2;3/2;z^2) = asin(z)/z, 2F1(1,1;2;-z) = ln(1+z)/z
SELECT z, rel(clm.hyp2f1(1, 1, 2, z), -ln(1 - z::numeric)::float8 / z) < 1e-12 AS log_ok,
       rel(clm.hyp2f1(0.7, 1.3, 1.3, z), power(1 - z, -0.7)) < 1e-13 AS power_ok,
       rel(clm.hyp2f1(0.5, 0.5, 1.5, z), asin(sqrt(z)) / sqrt(z)) < 1e-12 AS asin_ok
FROM unnest(ARRAY[0.01, 0.3, 0.5, 0.7, 0.9, 0.99, 0.999, 0.99999]::float8[]) z;
SELECT z, rel(clm.hyp2f1(1, 1, 2, -z), ln(1 + z) / z) < 1e-13 AS log_neg_ok
FROM unnest(ARRAY[0.1, 0.5, 1, 3, 100]::float8[]) z;
-- near z = 1 in the degenerate case: -ln(1e-7)/(1 - 1e-7)
SELECT rel(clm.hyp2f1(1, 1, 2, 0.9999999), 16.1180972627680460649) < 1e-9 AS log_ok_1e7;

-- mpmath values
SELECT a, b, c, z, rel(clm.hyp2f1(a, b, c, z), ref) < 1e-12 AS ok
FROM (VALUES
    (0.3, 0.4, 1.5, 0.5, 1.05011892286702736883),
    (0.3, 0.4, 1.5, 0.9, 1.12675167586701762207),
    (0.3, 0.4, 1.5, 0.99, 1.16893974536854998168),
    (0.3, 0.4, 1.5, 0.999, 1.17884777027875993524),
    (2.9, -0.2, 3.2, 0.999, 0.50673995396265360683),   -- the Euler form of BG/NBD's E[Y]
    (0.5, 0.5, 1.0, 0.99, 2.35271581677974260110),     -- c - a - b = 0
    (1.5, 2.5, 3.0, 0.95, 30.9495236564325196191),     -- c - a - b = -1
    (1.5, 2.5, 1.0, 0.9, 1633.24453373002697107),      -- c - a - b = -3
    (3, 4, 2.5, -5, -0.000227824369168456328611),      -- Pfaff, z < -1
    (0.7, 1.3, 2.0, -0.3, 0.885378596469562730287),
    (200.25, 201, 2.3, 0.3, 2.10295271685873160046e+133),
    (0.2, 3, 5, 0.999999, 1.25313189235137309669)
) v(a, b, c, z, ref);

-- terminating series (a polynomial), Gauss's sum at z = 1, z = 0
SELECT clm.hyp2f1(-2, 3, 4, 0.5) AS poly,          -- 1 - 2*3/4*0.5 + (-2)(-1)(3)(4)/(4*5*2)*0.25 = 0.4
       rel(clm.hyp2f1(0.5, 0.5, 2, 1), 4 / pi()) < 1e-14 AS gauss_sum,   -- G(2)G(1)/G(1.5)^2
       clm.hyp2f1(3, 4, 5, 0) AS at_zero;

-- bad input
SELECT clm.hyp2f1(1, 1, 2, 1.5);
SELECT clm.hyp2f1(1, 1, 2, 1);
SELECT clm.hyp2f1(1, 1, -2, 0.5);
SELECT clm.hyp2f1('NaN', 1, 2, 0.5);
SELECT clm.hyp2f1(1, 1, 2, '-Infinity');

RESET search_path;
DROP SCHEMA clv_hyp_test CASCADE;
