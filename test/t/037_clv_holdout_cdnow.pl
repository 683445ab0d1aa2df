# 037_clv_holdout_cdnow.pl: the calibration/holdout split of CDNOW (39
# weeks to 1997-09-30, 39 weeks of holdout to 1998-06-30) with
# clm.purchase_summary and clm.holdout_purchases in one pass, and the
# accuracy report of clm.holdout_accuracy for BG/NBD, Pareto/NBD and
# MBG/NBD.  Skipped when the data is absent.
#
# - the split of the full cohort (CDNOW_master.txt, 23,570 customers)
#   equals an independent SQL computation for every customer, also in a
#   parallel plan;
# - on the 1/10 sample the calibration part reproduces
#   cdnow_customers_summary.csv, and the report's predicted total at the
#   published BG/NBD parameters is the lifetimes test suite's 1653.948;
# - every figure of the report (totals, MAE, RMSE, bias, means by
#   frequency 0 to 7+) equals the same figure computed by hand in SQL;
# - the tables of doc/clv.md are printed (note) for the documentation.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $dir = $ENV{CLM_CDNOW_DIR} // "$ENV{CLM_ROOT}/../shared/data/cdnow";
if (!-r "$dir/CDNOW_master.txt" || !-r "$dir/CDNOW_sample.txt"
	|| !-r "$dir/cdnow_customers_summary.csv")
{
	plan skip_all => "CDNOW data not found in $dir";
}

my $node = PostgreSQL::Test::Cluster->new('holdout');
$node->init;
$node->append_conf('postgresql.conf',
	"max_worker_processes = 8\nmax_parallel_workers = 4\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION clm');

# Load both logs (whitespace-separated, CRLF): master has id, date, cds,
# amount; the sample has master id, sample id, date, cds, amount.
$node->safe_psql('postgres', qq{
CREATE TABLE raw (line text);
\\copy raw FROM '$dir/CDNOW_master.txt'
CREATE TABLE tx AS
SELECT split_part(f, ' ', 1)::int AS id,
       to_date(split_part(f, ' ', 2), 'YYYYMMDD')::timestamp AT TIME ZONE 'UTC' AS ordered_at,
       split_part(f, ' ', 4)::numeric AS amount
FROM (SELECT regexp_replace(btrim(replace(line, E'\\r', '')), '\\s+', ' ', 'g') AS f FROM raw) s
WHERE f !~ '^customer';
TRUNCATE raw;
\\copy raw FROM '$dir/CDNOW_sample.txt'
CREATE TABLE stx AS
SELECT split_part(f, ' ', 2)::int AS id,
       to_date(split_part(f, ' ', 3), 'YYYYMMDD')::timestamp AT TIME ZONE 'UTC' AS ordered_at,
       split_part(f, ' ', 5)::numeric AS amount
FROM (SELECT regexp_replace(btrim(replace(line, E'\\r', '')), '\\s+', ' ', 'g') AS f FROM raw) s;
CREATE TABLE ref (id int PRIMARY KEY, frequency int, recency float8, t float8);
\\copy ref FROM '$dir/cdnow_customers_summary.csv' CSV HEADER
});

is($node->safe_psql('postgres', 'SELECT count(*) || \' \' || count(DISTINCT id) FROM tx'),
	'69659 23570', 'CDNOW master: 69,659 transactions of 23,570 customers');

# the split, one pass over each log
my $split = q{
SELECT id, (clm.purchase_summary(ordered_at, amount, '1997-09-30 23:59:59.999999+00', '7 days')).*,
       clm.holdout_purchases(ordered_at, '1997-09-30 23:59:59.999999+00', '39 weeks') AS holdout
FROM %s GROUP BY id};
$node->safe_psql('postgres', sprintf("CREATE TABLE split AS $split", 'tx'));
$node->safe_psql('postgres', sprintf("CREATE TABLE ssplit AS $split", 'stx'));

# the same split computed independently in SQL
$node->safe_psql('postgres', q{
CREATE TABLE split_sql AS
WITH d AS (SELECT id, (ordered_at AT TIME ZONE 'UTC')::date AS day, sum(amount) AS amount
           FROM tx GROUP BY 1, 2),
     f AS (SELECT id, min(day) AS first_day FROM d GROUP BY id)
SELECT id,
       count(*) FILTER (WHERE day <= date '1997-09-30')::int - 1 AS x,
       (max(day) FILTER (WHERE day <= date '1997-09-30') - first_day) / 7.0 AS t_x,
       (date '1997-09-30' - first_day) / 7.0 AS t,
       coalesce(sum(amount) FILTER (WHERE day > first_day AND day <= date '1997-09-30')
                / nullif(count(*) FILTER (WHERE day > first_day AND day <= date '1997-09-30'), 0), 0) AS mean_spend,
       count(*) FILTER (WHERE day > date '1997-09-30' AND day <= date '1998-06-30')::int AS holdout
FROM d JOIN f USING (id) GROUP BY id, first_day;
});
my $cmp = q{
SELECT count(*) FROM %s s FULL JOIN split_sql q USING (id)
WHERE s.x IS DISTINCT FROM q.x OR NOT abs(s.t_x - q.t_x) < 1e-12 OR NOT abs(s.t - q.t) < 1e-12
   OR NOT abs(s.mean_spend - q.mean_spend) < 1e-9 OR s.holdout IS DISTINCT FROM q.holdout};
is($node->safe_psql('postgres', sprintf($cmp, 'split')), '0',
	'master split equals the SQL computation for all 23,570 customers (0 mismatches)');
is($node->safe_psql('postgres',
	q{SELECT count(*) || ' ' || sum(x) || ' ' || sum(holdout) || ' ' || count(*) FILTER (WHERE x = 0) FROM split}),
	'23570 24337 19684 14119', 'master: customers, sum x = 24,337, holdout purchases 19,684, 14,119 with x = 0');

my $par = q{
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2; SET parallel_leader_participation = off;
};
like($node->safe_psql('postgres', $par . 'EXPLAIN (COSTS OFF) ' . sprintf($split, 'tx')),
	qr/Partial (Hash|Group)Aggregate/, 'parallel plan with a partial aggregate');
is($node->safe_psql('postgres', $par . sprintf("CREATE TABLE split_par AS $split;", 'tx')
	. sprintf($cmp, 'split_par')), '0', 'the parallel split equals the SQL computation');

# the sample: calibration as published; holdout purchases of its customers
# are the master's (same customers under their master ids)
is($node->safe_psql('postgres', q{
SELECT count(*) FROM ssplit s FULL JOIN ref r USING (id)
WHERE s.x IS DISTINCT FROM r.frequency OR round(s.t_x::numeric, 2) IS DISTINCT FROM r.recency::numeric
   OR round(s.t::numeric, 2) IS DISTINCT FROM r.t::numeric}),
	'0', 'sample split: calibration part reproduces cdnow_customers_summary.csv');
my $bgr = 'ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd';
is($node->safe_psql('postgres', qq{
SELECT abs((clm.holdout_accuracy(clm.bgnbd_expected_purchases($bgr, 39, x, t_x, t), holdout)).predicted
           - 1653.948) < 0.01 FROM ssplit}),
	't', 'sample: predicted holdout total at the published BG/NBD fit within 0.01 of 1653.948');

# the three fits on the master calibration data, and per-customer predictions
$node->safe_psql('postgres', q{
CREATE TABLE fits AS
SELECT (SELECT clm.bgnbd_fit(x, t_x, t) FROM split) AS bg,
       (SELECT clm.paretonbd_fit(x, t_x, t) FROM split) AS pn,
       (SELECT clm.mbgnbd_fit(x, t_x, t) FROM split) AS mbg;
CREATE TABLE pred AS
SELECT m.model, s.x, s.holdout,
       CASE m.model WHEN 'BG/NBD' THEN clm.bgnbd_expected_purchases((f).bg, 39, x, t_x, t)
                    WHEN 'Pareto/NBD' THEN clm.paretonbd_expected_purchases((f).pn, 39, x, t_x, t)
                    ELSE clm.mbgnbd_expected_purchases((f).mbg, 39, x, t_x, t) END AS p
FROM split s, (SELECT f FROM fits f) ff(f),
     (VALUES ('BG/NBD'), ('Pareto/NBD'), ('MBG/NBD')) m(model);
CREATE TABLE report AS
SELECT model, least(x, 7) AS f, grouping(least(x, 7)) AS g, clm.holdout_accuracy(p, holdout) AS a
FROM pred GROUP BY model, ROLLUP(least(x, 7));
});
note $node->safe_psql('postgres', q{SELECT (bg).*, (pn).*, (mbg).* FROM fits}, extended => 1);
ok($node->safe_psql('postgres', q{SELECT (bg).converged AND (pn).converged AND (mbg).converged FROM fits}) eq 't',
	'the three fits converge');

# every figure of the report against the same figure computed by hand
is($node->safe_psql('postgres', q{
SELECT count(*) || ' ' || count(*) FILTER (WHERE NOT (
         (r.a).customers = h.n AND abs((r.a).predicted - h.sp) < 1e-8 AND (r.a).actual = h.sa
         AND abs((r.a).mean_predicted - h.sp / h.n) < 1e-12 AND (r.a).mean_actual = h.sa / h.n
         AND abs((r.a).mae - h.mae) < 1e-12 AND abs((r.a).rmse - h.rmse) < 1e-12
         AND abs((r.a).bias - h.bias) < 1e-12))
FROM report r JOIN (
  SELECT model, least(x, 7) AS f, grouping(least(x, 7)) AS g, count(*) AS n, sum(p) AS sp,
         sum(holdout)::float8 AS sa, avg(abs(p - holdout)) AS mae, sqrt(avg((p - holdout) ^ 2)) AS rmse,
         avg(p - holdout) AS bias
  FROM pred GROUP BY model, ROLLUP(least(x, 7))) h
  ON h.model = r.model AND h.g = r.g AND h.f IS NOT DISTINCT FROM r.f}),
	'27 0', 'the report (3 models x (8 frequencies + total)) equals the hand computation');

# the tables of doc/clv.md
note "\n" . $node->safe_psql('postgres', q{
SELECT model, (a).customers, round((a).predicted::numeric, 1) AS predicted, (a).actual,
       round((a).mae::numeric, 4) AS mae, round((a).rmse::numeric, 4) AS rmse, round((a).bias::numeric, 4) AS bias
FROM report WHERE g = 1 ORDER BY model});
note "\n" . $node->safe_psql('postgres', q{
SELECT f, (array_agg((a).customers))[1] AS customers,
       round((array_agg((a).mean_actual))[1]::numeric, 3) AS actual,
       string_agg(model || ' ' || round((a).mean_predicted::numeric, 3), ' | ' ORDER BY model)
FROM report WHERE g = 0 GROUP BY f ORDER BY f});

$node->stop;
done_testing();
