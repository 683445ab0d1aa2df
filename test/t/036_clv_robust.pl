# 036_clv_robust.pl: the CLV prediction functions and the input of
# clm.purchase_summary_state never crash and never return NaN, infinities or values out
# of range, whatever they are given: random (deterministic) parameters and
# histories over many orders of magnitude, and random or corrupted bytes as
# states.  Each call either returns a sane value or raises a
# clean error of class 22 (data exception); the server stays up.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('robust');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION clm');

# log-uniform random numbers between 10^lo and 10^hi
$node->safe_psql('postgres', q{
CREATE FUNCTION lu(lo float8, hi float8) RETURNS float8 LANGUAGE sql VOLATILE
AS $$ SELECT power(10, lo + (hi - lo) * random()) $$;
CREATE TABLE outcome (fn text, ok boolean, sqlstate text, detail text);
});

# predictions with random models and histories
my $res = $node->safe_psql('postgres', q{
SELECT setseed(0.1234);
DO $$
DECLARE
    bg clm.bgnbd; pn clm.paretonbd; gg clm.gamma_gamma;
    x float8; t float8; tx float8; h float8; n int; v float8; v2 float8;
BEGIN
    FOR i IN 1 .. 3000 LOOP
        bg := ROW(lu(-3, 2), lu(-3, 4), lu(-3, 2), lu(-3, 2), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        pn := ROW(lu(-3, 2), lu(-3, 4), lu(-3, 2), lu(-3, 4), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        gg := ROW(lu(-2, 2), lu(-2, 2), lu(-2, 3), NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        x := CASE WHEN random() < 0.3 THEN 0 ELSE floor(lu(0, 3)) END;
        t := lu(-3, 4);
        tx := CASE WHEN x = 0 THEN 0 ELSE t * random() END;
        h := lu(-3, 5);
        n := floor(random() * 40)::int;
        BEGIN
            v := clm.bgnbd_p_alive(bg, x, tx, t);
            INSERT INTO outcome VALUES ('bgnbd_p_alive', v BETWEEN 0 AND 1, NULL, v::text);
        EXCEPTION WHEN OTHERS THEN INSERT INTO outcome VALUES ('bgnbd_p_alive', NULL, SQLSTATE, SQLERRM); END;
        BEGIN
            v := clm.bgnbd_expected_purchases(bg, h, x, tx, t);
            INSERT INTO outcome VALUES ('bgnbd_expected_purchases', v >= 0 AND v < 'Infinity', NULL, v::text);
        EXCEPTION WHEN OTHERS THEN INSERT INTO outcome VALUES ('bgnbd_expected_purchases', NULL, SQLSTATE, SQLERRM); END;
        BEGIN
            v := clm.bgnbd_expected_purchases_new(bg, h);
            INSERT INTO outcome VALUES ('bgnbd_expected_purchases_new', v >= 0 AND v < 'Infinity', NULL, v::text);
        EXCEPTION WHEN OTHERS THEN INSERT INTO outcome VALUES ('bgnbd_expected_purchases_new', NULL, SQLSTATE, SQLERRM); END;
        BEGIN
            v := clm.bgnbd_purchase_probability(bg, h, n);
            INSERT INTO outcome VALUES ('bgnbd_purchase_probability', v BETWEEN 0 AND 1 + 1e-12, NULL, v::text);
        EXCEPTION WHEN OTHERS THEN INSERT INTO outcome VALUES ('bgnbd_purchase_probability', NULL, SQLSTATE, SQLERRM); END;
        BEGIN
            v := clm.paretonbd_p_alive(pn, x, tx, t);
            INSERT INTO outcome VALUES ('paretonbd_p_alive', v BETWEEN 0 AND 1, NULL, v::text);
        EXCEPTION WHEN OTHERS THEN INSERT INTO outcome VALUES ('paretonbd_p_alive', NULL, SQLSTATE, SQLERRM); END;
        BEGIN
            v := clm.paretonbd_expected_purchases(pn, h, x, tx, t);
            INSERT INTO outcome VALUES ('paretonbd_expected_purchases', v >= 0 AND v < 'Infinity', NULL, v::text);
        EXCEPTION WHEN OTHERS THEN INSERT INTO outcome VALUES ('paretonbd_expected_purchases', NULL, SQLSTATE, SQLERRM); END;
        BEGIN
            v := clm.paretonbd_expected_purchases_new(pn, h);
            INSERT INTO outcome VALUES ('paretonbd_expected_purchases_new', v >= 0 AND v < 'Infinity', NULL, v::text);
        EXCEPTION WHEN OTHERS THEN INSERT INTO outcome VALUES ('paretonbd_expected_purchases_new', NULL, SQLSTATE, SQLERRM); END;
        BEGIN
            v := clm.paretonbd_purchase_probability(pn, h, n);
            INSERT INTO outcome VALUES ('paretonbd_purchase_probability', v BETWEEN 0 AND 1 + 1e-12, NULL, v::text);
        EXCEPTION WHEN OTHERS THEN INSERT INTO outcome VALUES ('paretonbd_purchase_probability', NULL, SQLSTATE, SQLERRM); END;
        BEGIN
            v := clm.gamma_gamma_expected_spend(gg, x, lu(-2, 3));
            INSERT INTO outcome VALUES ('gamma_gamma_expected_spend', v >= 0 AND v < 'Infinity', NULL, v::text);
        EXCEPTION WHEN OTHERS THEN INSERT INTO outcome VALUES ('gamma_gamma_expected_spend', NULL, SQLSTATE, SQLERRM); END;
        BEGIN
            v := clm.clv(bg, gg, x, tx, t, lu(-2, 3), floor(random() * 60)::int, random() * 0.1, lu(-1, 2));
            INSERT INTO outcome VALUES ('clv', v >= 0 AND v < 'Infinity', NULL, v::text);
        EXCEPTION WHEN OTHERS THEN INSERT INTO outcome VALUES ('clv', NULL, SQLSTATE, SQLERRM); END;
        BEGIN
            v := clm.hyp2f1(lu(-2, 2) * sign(random() - 0.2), lu(-2, 2), lu(-2, 2) * sign(random() - 0.2),
                            1 - lu(-7, 0.5));
            INSERT INTO outcome VALUES ('hyp2f1', v > '-Infinity' AND v < 'Infinity', NULL, v::text);
        EXCEPTION WHEN OTHERS THEN INSERT INTO outcome VALUES ('hyp2f1', NULL, SQLSTATE, SQLERRM); END;
    END LOOP;
END $$;
-- a few fixed extreme models scored many times in one call site (its
-- memo and per-x coefficients are used for them)
DO $$
DECLARE
    bg clm.bgnbd;
    x float8; t float8; tx float8; h float8; v float8;
BEGIN
    FOREACH bg IN ARRAY ARRAY[
        ROW(50, 0.01, 60, 0.01, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd,
        ROW(0.001, 1000, 0.002, 90, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd,
        ROW(80, 3, 0.3, 0.05, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd,
        ROW(0.3, 5, 1.0004, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd] LOOP
        FOR i IN 1 .. 300 LOOP
            x := floor(random() * 4);
            t := lu(-2, 3);
            tx := CASE WHEN x = 0 THEN 0 ELSE t * random() END;
            h := lu(-2, 4);
            BEGIN
                v := clm.bgnbd_expected_purchases(bg, h, x, tx, t);
                INSERT INTO outcome VALUES ('bgnbd_expected_purchases (fixed model)', v >= 0 AND v < 'Infinity', NULL, v::text);
            EXCEPTION WHEN OTHERS THEN
                INSERT INTO outcome VALUES ('bgnbd_expected_purchases (fixed model)', NULL, SQLSTATE, SQLERRM);
            END;
        END LOOP;
    END LOOP;
END $$;
SELECT fn || ' ' || count(*) FILTER (WHERE ok) || ' ' || count(*) FILTER (WHERE sqlstate IS NOT NULL)
FROM outcome GROUP BY fn ORDER BY fn;
});
note("function, sane values, clean errors:\n$res");

is($node->safe_psql('postgres', q{
SELECT count(*) FROM outcome WHERE ok IS NOT TRUE AND sqlstate IS NULL}),
	'0', 'no prediction returned NaN, an infinity or a value out of range');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM outcome WHERE sqlstate IS NOT NULL AND sqlstate NOT LIKE '22%'}),
	'0', 'every error is a data exception (SQLSTATE class 22)');
my $errors = $node->safe_psql('postgres', q{
SELECT string_agg(DISTINCT fn || ': ' || regexp_replace(detail, '-?[0-9][0-9.e+-]*', 'N', 'g'), E'\n')
FROM outcome WHERE sqlstate IS NOT NULL});
note("distinct errors:\n$errors");
cmp_ok($node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE ok) FROM outcome WHERE fn IN ('bgnbd_p_alive', 'bgnbd_expected_purchases', 'clv')}),
	'>=', 8000, 'the great majority of random cases give values');

# random and corrupted clm.purchase_summary_state values
$node->safe_psql('postgres', q{
SELECT setseed(0.5678);
CREATE TABLE decoded (ok boolean, sqlstate text);
DO $$
DECLARE
    -- clm.purchase_summary_state: version 1, scale 0, cutoff, unit (7 days),
    -- sums 12 and 5, two days
    good bytea := '\x0100'::bytea || int8send(0) || int8send(0) || int4send(7) || int4send(0)
                  || int8send(0) || int8send(12) || int8send(0) || int8send(5)
                  || int4send(2) || int4send(-10) || int4send(-3);
    b bytea;
    pos int;
BEGIN
    FOR i IN 1 .. 3000 LOOP
        IF i % 2 = 0 THEN
            -- random bytes of random length
            b := decode(substr(repeat(md5(random()::text), 8), 1, 2 * floor(random() * 120)::int), 'hex');
        ELSE
            -- a valid state with one byte changed, or cut short, or extended
            b := good;
            pos := floor(random() * length(b))::int;
            b := set_byte(b, pos, floor(random() * 256)::int);
            IF random() < 0.2 THEN b := substr(b, 1, floor(random() * length(b))::int); END IF;
            IF random() < 0.1 THEN b := b || '\x00'::bytea; END IF;
        END IF;
        BEGIN
            PERFORM clm.purchase_summary_final(encode(b, 'hex')::clm.purchase_summary_state);
            INSERT INTO decoded VALUES (true, NULL);
        EXCEPTION WHEN OTHERS THEN INSERT INTO decoded VALUES (NULL, SQLSTATE);
        END;
    END LOOP;
END $$;
});
is($node->safe_psql('postgres', q{
SELECT count(*) FROM decoded WHERE sqlstate IS NOT NULL AND sqlstate <> '22P03'}),
	'0', 'a corrupt state is always "invalid binary representation" (22P03)');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM decoded WHERE sqlstate = '22P03'}),
	'>', 1000, 'most corrupt states are rejected');
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'server answers after all cases');
unlike(slurp_file($node->logfile), qr/terminated by signal/, 'no backend crashed');

$node->stop;
done_testing();
