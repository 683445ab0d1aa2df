# 038_clv_interval_coverage.pl: the 90% delta-method interval of the total
# BG/NBD expected purchases covers the true total in 85-95% of 200 customer
# bases simulated from known parameters.
#
# Each base: 1,000 customers from test/data/btyd_gen.c (seeds 1001-1200,
# the parameters of 030_clv_fit_recovery.pl, T of 26 to 52 weeks).  Each is
# fitted with clm.bgnbd_fit, its covariance taken with clm.bgnbd_covariance,
# and the interval of the 52-week total with
# clm.bgnbd_expected_purchases_total_interval.  The true value is the same
# total with the true parameters: the expectation the interval is about
# (parameter uncertainty, given the customers' histories).  With fixed seeds
# the count is deterministic (174 of 200 at 90%, 101 at 50%); a covariance
# twice or half the right one would cover about 76% or 98% at 90%.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Cwd ();

my $root = $ENV{CLM_ROOT} or die "CLM_ROOT is not set";
my $tmp = Cwd::abs_path(PostgreSQL::Test::Utils::tempdir());
my $gen = "$tmp/btyd_gen";
system("cc -O2 -o $gen $root/test/data/btyd_gen.c -lm") == 0
  or BAIL_OUT("cannot compile test/data/btyd_gen.c");

my %bg = (r => 0.25, alpha => 4, a => 0.8, b => 2.5);
my $sets = 200;
my $n = 1000;

open(my $out, '>', "$tmp/sim.csv") or die "cannot write sim.csv: $!";
for my $ds (1 .. $sets)
{
	my $seed = 1000 + $ds;
	my @rows = `$gen bgnbd $n $seed $bg{r} $bg{alpha} $bg{a} $bg{b} 182 364 6.25 3.74 15.44`;
	$? == 0 or BAIL_OUT("generator failed");
	print $out "$ds,$_" for @rows;
}
close($out);

my $node = PostgreSQL::Test::Cluster->new('clvinterval');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION clm');
$node->safe_psql('postgres', qq{
	CREATE TABLE sim (ds int, id int, x int, t_x_days int, t_days int, mean_spend float8);
	COPY sim FROM '$tmp/sim.csv' (FORMAT csv);
	CREATE TABLE cust AS SELECT ds, x::float8 AS x, t_x_days / 7.0 AS t_x, t_days / 7.0 AS t FROM sim;
	ANALYZE cust;
	CREATE TABLE fits AS SELECT ds, clm.bgnbd_fit(x, t_x, t) AS m FROM cust GROUP BY ds;
	CREATE TABLE covs AS
	SELECT f.ds, clm.bgnbd_covariance(f.m, c.x, c.t_x, c.t) AS cov
	FROM fits f JOIN cust c USING (ds) GROUP BY f.ds, f.m;
	CREATE TABLE totals AS
	SELECT f.ds,
	       clm.bgnbd_expected_purchases_total_interval(f.m, v.cov, 52, c.x, c.t_x, c.t) AS i,
	       sum(clm.bgnbd_expected_purchases(
	             ROW($bg{r}, $bg{alpha}, $bg{a}, $bg{b}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd,
	             52, c.x, c.t_x, c.t)) AS truth
	FROM fits f JOIN covs v USING (ds) JOIN cust c USING (ds) GROUP BY f.ds, f.m, v.cov;
});

is($node->safe_psql('postgres', 'SELECT count(*) FROM cust'), $sets * $n, "$sets bases of $n customers loaded");
is($node->safe_psql('postgres', 'SELECT count(*) FROM fits WHERE (m).converged'), $sets, 'every fit converged');
is($node->safe_psql('postgres', 'SELECT count(cov) FROM covs'), $sets, 'every fit has a covariance');

my ($covered, $below, $above, $mean_rel) = split /\|/, $node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE truth BETWEEN (i).lower AND (i).upper),
	       count(*) FILTER (WHERE truth < (i).lower),
	       count(*) FILTER (WHERE truth > (i).upper),
	       round(avg((i).std_error / (i).estimate)::numeric, 4)
	FROM totals});
note "covered $covered of $sets (true total below the interval $below, above $above); mean std_error / estimate $mean_rel";
my $share = $covered / $sets;
ok($share >= 0.85 && $share <= 0.95,
	sprintf('the 90%% interval of the total covers the true total in %.1f%% of %d bases', 100 * $share, $sets));

# the same at 50%: a second level checks the quantile, not just one band
my $covered50 = $node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE truth BETWEEN (j).lower AND (j).upper)
	FROM (SELECT t.truth, clm.bgnbd_expected_purchases_total_interval(f.m, v.cov, 52, c.x, c.t_x, c.t, 0.5) AS j
	      FROM totals t JOIN fits f USING (ds) JOIN covs v USING (ds) JOIN cust c USING (ds)
	      GROUP BY t.ds, t.truth, f.m, v.cov) s});
note "50% intervals: covered $covered50 of $sets";
ok($covered50 / $sets >= 0.40 && $covered50 / $sets <= 0.60,
	sprintf('the 50%% interval covers the true total in %.1f%% of %d bases', 100 * $covered50 / $sets, $sets));

$node->stop;
done_testing();
