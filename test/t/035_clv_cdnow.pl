# 035_clv_cdnow.pl: clm.purchase_summary and the CLV predictions on the CDNOW
# sample (Fader, Hardie and Lee 2005).  Skipped when the data is absent.
#
# - purchase_summary(cutoff 1997-09-30 end of day, unit '7 days') reproduces
#   cdnow_customers_summary.csv (x, t_x, T to 2 dp: 0 mismatches of 2357) and
#   zbar of cdnow_customers_summary_with_transactions.csv within 0.01;
# - the same summary in a parallel plan equals the serial one;
# - sums and means over all customers against the published figures.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $dir = $ENV{CLM_CDNOW_DIR} // "$ENV{CLM_ROOT}/../shared/data/cdnow";
if (!-r "$dir/CDNOW_sample.txt" || !-r "$dir/cdnow_customers_summary.csv"
	|| !-r "$dir/cdnow_customers_summary_with_transactions.csv")
{
	plan skip_all => "CDNOW data not found in $dir";
}

my $node = PostgreSQL::Test::Cluster->new('cdnow');
$node->init;
$node->append_conf('postgresql.conf',
	"max_worker_processes = 8\nmax_parallel_workers = 4\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION clm');

# Load: the transaction log is whitespace-separated with CRLF line ends, so
# it is read as lines and split in SQL.  Dates are UTC calendar days.
$node->safe_psql('postgres', qq{
CREATE TABLE raw (line text);
\\copy raw FROM '$dir/CDNOW_sample.txt'
CREATE TABLE tx AS
SELECT split_part(f, ' ', 2)::int AS id,
       to_date(split_part(f, ' ', 3), 'YYYYMMDD')::timestamp AT TIME ZONE 'UTC' AS ordered_at,
       split_part(f, ' ', 5)::numeric AS amount
FROM (SELECT regexp_replace(btrim(replace(line, E'\\r', '')), '\\s+', ' ', 'g') AS f FROM raw) s;
CREATE TABLE ref (id int PRIMARY KEY, frequency int, recency float8, t float8);
\\copy ref FROM '$dir/cdnow_customers_summary.csv' CSV HEADER
CREATE TABLE ref2 (id int PRIMARY KEY, x int, t_x float8, t float8, zbar float8);
\\copy ref2 FROM '$dir/cdnow_customers_summary_with_transactions.csv' CSV HEADER
CREATE TABLE summ AS
SELECT id, clm.purchase_summary(ordered_at, amount, '1997-09-30 23:59:59.999999+00', '7 days') AS s
FROM tx GROUP BY id;
});

is($node->safe_psql('postgres', 'SELECT count(*) FROM tx'), '6919', 'CDNOW sample: 6919 transactions');
is($node->safe_psql('postgres', 'SELECT count(*) FROM summ WHERE s IS NOT NULL'), '2357',
	'2357 customers summarized');

is( $node->safe_psql('postgres', q{
SELECT count(*) FROM summ FULL JOIN ref r USING (id)
WHERE (s).x IS DISTINCT FROM r.frequency
   OR round((s).t_x::numeric, 2) IS DISTINCT FROM r.recency::numeric
   OR round((s).t::numeric, 2) IS DISTINCT FROM r.t::numeric}),
	'0', 'x, t_x, T reproduce cdnow_customers_summary.csv for all 2357 customers (0 mismatches)');

is( $node->safe_psql('postgres', q{
SELECT count(*) FROM summ FULL JOIN ref2 r USING (id)
WHERE NOT (abs((s).mean_spend - r.zbar) < 0.01) OR (s).x IS DISTINCT FROM r.x}),
	'0', 'mean_spend reproduces zbar within 0.01 (and x matches) for all 2357 customers');

is( $node->safe_psql('postgres', q{
SELECT sum((s).x) || ' ' || count(*) FILTER (WHERE (s).x = 0) || ' ' ||
       round(avg((s).mean_spend) FILTER (WHERE (s).x > 0)::numeric, 2) FROM summ}),
	'2457 1411 35.08', 'sum x = 2457, 1411 customers with x = 0, mean m of repeat buyers 35.08');

# the same summary in a parallel plan
my $par = q{
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2; SET parallel_leader_participation = off;
};
like(
	$node->safe_psql('postgres', $par . q{
EXPLAIN (COSTS OFF) SELECT id, clm.purchase_summary(ordered_at, amount, '1997-09-30 23:59:59.999999+00', '7 days')
FROM tx GROUP BY id}),
	qr/Partial (Hash|Group)Aggregate/, 'parallel plan with a partial aggregate');
is( $node->safe_psql('postgres', $par . q{
CREATE TABLE summ_par AS SELECT id, clm.purchase_summary(ordered_at, amount, '1997-09-30 23:59:59.999999+00', '7 days') AS s
FROM tx GROUP BY id;
SELECT count(*) FROM summ FULL JOIN summ_par p USING (id)
WHERE (summ.s).x IS DISTINCT FROM (p.s).x OR (summ.s).t_x IS DISTINCT FROM (p.s).t_x
   OR (summ.s).t IS DISTINCT FROM (p.s).t OR NOT abs((summ.s).mean_spend - (p.s).mean_spend) < 1e-9}),
	'0', 'parallel summary equals the serial one');

# Sum over customers of E[Y(39)] at the published rounded BG/NBD parameters:
# 1653.948 (the lifetimes test suite's figure) on the published summary (t rounded to
# 2 dp); on clm's unrounded summary within 0.01 of it.
my $bgr = 'ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd';
my $bgf = 'ROW(0.242593, 4.413532, 0.792886, 2.425752, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd';
my $ggf = 'ROW(6.248802, 3.744588, 15.447748, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma';
is( $node->safe_psql('postgres', qq{
SELECT abs(sum(clm.bgnbd_expected_purchases($bgr, 39, x, t_x, t)) - 1653.948) < 0.0005 FROM ref2}),
	't', 'sum E[Y(39)] = 1653.948 on the published summary');
is( $node->safe_psql('postgres', qq{
SELECT abs(sum(clm.bgnbd_expected_purchases($bgr, 39, (s).x, (s).t_x, (s).t)) - 1653.948) < 0.01 FROM summ}),
	't', 'sum E[Y(39)] within 0.01 of 1653.948 on the purchase_summary output');

# Gamma-Gamma mean E[M] over 2357 customers (lifetimes Quickstart, full MLE): 35.2530
is( $node->safe_psql('postgres', qq{
SELECT abs(avg(clm.gamma_gamma_expected_spend($ggf, x, zbar)) - 35.2530) < 0.00005 FROM ref2}),
	't', 'mean E[M] = 35.2530 on the published summary');
is( $node->safe_psql('postgres', qq{
SELECT abs(avg(clm.gamma_gamma_expected_spend($ggf, (s).x, (s).mean_spend)) - 35.2530) < 0.001 FROM summ}),
	't', 'mean E[M] within 0.001 of 35.2530 on the purchase_summary output');

# CLV, 12 months, d = 0.01, customers 1-5.  lifetimes Quickstart with
# freq="W" (4.345 weeks a month, i.e. unit_days = 30.4375/4.345): 36.279,
# 4.638, 8.344, 8.344, 8.344, published to 3 decimals; checked within 0.001
# on the published summary.  With clm's month of 365.25/12 days and
# unit_days = 7 on clm's own summary, customer 1 is 36.297 (independent
# mpmath evaluation of the same sum: 36.2970252), 0.05% above lifetimes
# because a month is 4.348 weeks, not 4.345.
is( $node->safe_psql('postgres', qq{
SELECT string_agg((abs(clm.clv($bgf, $ggf, x, t_x, t, zbar, 12, 0.01, 30.4375 / 4.345) - ref) < 0.001)::text, ',' ORDER BY id)
FROM ref2 JOIN (VALUES (1, 36.279), (2, 4.638), (3, 8.344), (4, 8.344), (5, 8.344)) v(id, ref) USING (id)}),
	'true,true,true,true,true', 'CLV of customers 1-5 = lifetimes freq="W" figures');
is( $node->safe_psql('postgres', qq{
SELECT abs(clm.clv($bgf, $ggf, (s).x, (s).t_x, (s).t, (s).mean_spend, 12, 0.01, 7) - 36.2970252) < 1e-6
FROM summ WHERE id = 1}),
	't', 'CLV of customer 1 in weeks (unit_days = 7) = 36.2970 (mpmath)');
is( $node->safe_psql('postgres', qq{
SELECT count(*) FROM summ
WHERE NOT (clm.clv($bgf, $ggf, (s).x, (s).t_x, (s).t, (s).mean_spend, 12, 0.01, 7) >= 0)}),
	'0', 'CLV finite and non-negative for every customer');

$node->stop;
done_testing();
