# 030_clv_fit_recovery.pl: the fits recover known parameters from 100,000
# customers simulated by test/data/btyd_gen.c (deterministic seeds), and the
# parallel plan of a fit at that scale equals the serial one.
#
# Tolerance: every recovered parameter within 4 standard errors (as reported
# by the fit itself) of the true value, and each SE below 10% of the value
# so that the 4-SE band stays narrow.  With a fixed seed the check is
# deterministic; a wrong likelihood or a scaling slip moves estimates by
# tens of SEs.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Cwd ();

my $root = $ENV{CLM_ROOT} or die "CLM_ROOT is not set";
# absolute: the server reads the files (COPY FROM), from its own working
# directory, and tempdir is relative from PostgreSQL 17 on
my $tmp = Cwd::abs_path(PostgreSQL::Test::Utils::tempdir());
my $gen = "$tmp/btyd_gen";
system("cc -O2 -o $gen $root/test/data/btyd_gen.c -lm") == 0
  or BAIL_OUT("cannot compile test/data/btyd_gen.c");

my %bg = (r => 0.25, alpha => 4, a => 0.8, b => 2.5);
my %gg = (p => 6.25, q => 3.74, gamma => 15.44);
my %pn = (r => 0.55, alpha => 10.5, s => 0.6, beta => 11.7);

# T between 26 and 52 weeks (182 to 364 days), as a cohort joining over half a year
system("$gen bgnbd 100000 42 $bg{r} $bg{alpha} $bg{a} $bg{b} 182 364 $gg{p} $gg{q} $gg{gamma} > $tmp/bg.csv") == 0
  or BAIL_OUT("generator failed");
system("$gen paretonbd 100000 7 $pn{r} $pn{alpha} $pn{s} $pn{beta} 182 364 $gg{p} $gg{q} $gg{gamma} > $tmp/pn.csv") == 0
  or BAIL_OUT("generator failed");

my $node = PostgreSQL::Test::Cluster->new('clvfit');
$node->init;
$node->append_conf('postgresql.conf', "max_worker_processes = 8\nmax_parallel_workers = 4\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION clm');
for my $t ('bg', 'pn')
{
	$node->safe_psql('postgres',
		"CREATE TABLE $t (id int, x int, t_x_days int, t_days int, mean_spend float8)");
	$node->safe_psql('postgres', "COPY $t FROM '$tmp/$t.csv' (FORMAT csv)");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM bg'), '100000', '100,000 BG/NBD customers loaded');

# Check one fit: every parameter within 4 SE and 10% of the truth.
sub check_fit
{
	my ($label, $sql, $truth) = @_;
	my @names = sort keys %$truth;
	my $cols = join(', ', map { "(f).$_, (f).${_}_se" } @names);
	my $out = $node->safe_psql('postgres', "SELECT (f).converged, $cols FROM ($sql) s");
	my ($conv, @v) = split /\|/, $out;
	is($conv, 't', "$label converged");
	for my $i (0 .. $#names)
	{
		my ($est, $se) = ($v[2 * $i], $v[2 * $i + 1]);
		my $true = $truth->{ $names[$i] };
		my $z = ($est - $true) / $se;
		note sprintf("%s %s: true %g, estimate %.5g, SE %.3g, z %.2f", $label, $names[$i], $true, $est, $se, $z);
		ok(abs($z) < 4 && $se / $true < 0.10,
			sprintf("%s %s = %.4g recovers %g (z = %.2f)", $label, $names[$i], $est, $true, $z));
	}
}

check_fit('BG/NBD', 'SELECT clm.bgnbd_fit(x, t_x_days / 7.0, t_days / 7.0) f FROM bg', \%bg);
check_fit('Gamma-Gamma', 'SELECT clm.gamma_gamma_fit(x, mean_spend) f FROM bg', \%gg);
check_fit('Pareto/NBD', 'SELECT clm.paretonbd_fit(x, t_x_days / 7.0, t_days / 7.0) f FROM pn', \%pn);

# The collapsed state: as many rows as distinct (x, t_x, t), n = customers.
my $distinct = $node->safe_psql('postgres',
	'SELECT count(*) FROM (SELECT DISTINCT x, CASE WHEN x = 0 THEN 0 ELSE t_x_days END, t_days FROM bg) d');
my $weighted = $node->safe_psql('postgres', q{
	SELECT (SELECT clm.bgnbd_fit(x, t_x_days / 7.0, t_days / 7.0, n) FROM
	          (SELECT x, t_x_days, t_days, count(*)::float8 n FROM bg GROUP BY 1, 2, 3) g)
	     = (SELECT clm.bgnbd_fit(x, t_x_days / 7.0, t_days / 7.0) FROM bg)});
note "distinct (x, t_x, T) rows: $distinct";
ok($distinct < 60000, "100,000 customers collapse to $distinct distinct rows");
is($weighted, 't', 'the weighted fit of the GROUP BY equals the fit of the customers');

# Parallel at scale: Partial Aggregate with the leader out, result = serial.
my $par = q{
	SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
	SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;
	SET parallel_leader_participation = off;
};
my $explain = $node->safe_psql('postgres',
	"$par EXPLAIN (COSTS OFF) SELECT clm.bgnbd_fit(x, t_x_days / 7.0, t_days / 7.0) FROM bg");
like($explain, qr/Partial Aggregate/, 'the fit runs as a parallel partial aggregate');
my $eq = $node->safe_psql('postgres', qq{
	CREATE TABLE serial AS SELECT clm.bgnbd_fit(x, t_x_days / 7.0, t_days / 7.0) bg,
	                              clm.gamma_gamma_fit(x, mean_spend) gg FROM bg;
	$par
	SELECT s.bg = p.bg AND s.gg = p.gg FROM serial s,
	  (SELECT clm.bgnbd_fit(x, t_x_days / 7.0, t_days / 7.0) bg, clm.gamma_gamma_fit(x, mean_spend) gg FROM bg) p});
is($eq, 't', 'parallel fits equal the serial fits');

$node->stop;
done_testing();
