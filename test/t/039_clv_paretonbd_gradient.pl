# 039_clv_paretonbd_gradient.pl: the analytic gradient of the Pareto/NBD
# log-likelihood, which clm.paretonbd_fit minimises with, agrees with
# central differences of the log-likelihood itself, over both branches of
# A0, its 2F1 series and its quadrature (test/unit/pnbd_gradient.c, built
# here against the server headers with src/clv/pnbd_a0.c).
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use Cwd ();

my $root = $ENV{CLM_ROOT} or die "CLM_ROOT is not set";
my $tmp = Cwd::abs_path(PostgreSQL::Test::Utils::tempdir());

# The server headers: pg_config's, or (pg_config in PATH belongs to the
# private copy of the test run, which has no headers) those of the
# installation it was copied from.
chomp(my $inc = `pg_config --includedir-server`);
if (!-e "$inc/postgres.h")
{
	chomp(my $version = `pg_config --version`);
	my ($major) = $version =~ /PostgreSQL (\d+)/
	  or BAIL_OUT("cannot read the PostgreSQL major from '$version'");
	$inc = "/usr/include/postgresql/$major/server";
}
ok(-e "$inc/postgres.h", "server headers found in $inc");

my $bin = "$tmp/pnbd_gradient";
is( system("cc -O2 -I$inc -I$root/src/common -I$root/src/clv -o $bin "
		  . "$root/test/unit/pnbd_gradient.c $root/src/clv/pnbd_a0.c -lm"),
	0, 'the gradient check compiles');

my @lines = split /\n/, `$bin`;
is($? >> 8, 0, 'the gradient check reports no failure');
is(scalar(@lines), 15, 'fifteen parameter sets and customers checked');
for my $line (@lines)
{
	ok($line =~ /^ok /, $line);
}

done_testing();
