# 060_sqlsmith_fuzz.pl: random SQL from sqlsmith, with a fixed seed, run
# by a role without privileges against a database holding clm and the demo
# CRM data; no backend may crash and no query that touches clm may end in an
# internal error (XX000).
#
# sqlsmith draws its queries from the whole catalog, so most of them call
# core functions; the statements that name clm (its tables, views, types,
# functions and aggregates) and the errors raised from clm's C files are the
# ones judged here.  The run is bounded by a query count (6,000 by default,
# CLM_SQLSMITH_QUERIES for a longer run) and by a 170-second limit, and each
# statement by the role's statement_timeout.  The default seed differs per
# PostgreSQL major, so that one run of the suite over its three majors tries
# three different sets of queries against the same C code.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;

my $root = $ENV{CLM_ROOT} or die "CLM_ROOT is not set";
my $queries = $ENV{CLM_SQLSMITH_QUERIES} // 6000;

my ($sqlsmith) = grep { -x } map { "$_/sqlsmith" } split /:/, $ENV{PATH};
BAIL_OUT('sqlsmith is not installed (Debian package sqlsmith)') unless $sqlsmith;

my $node = PostgreSQL::Test::Cluster->new('fuzz');
$node->init;
$node->append_conf('postgresql.conf', qq{
log_statement = none
log_min_error_statement = error
log_error_verbosity = verbose
log_line_prefix = '%m [%p] %e '
});
$node->start;
my $seed = $ENV{CLM_SQLSMITH_SEED}
  // 20261204 + int($node->safe_psql('postgres', 'SHOW server_version_num') / 10000);

$node->safe_psql('postgres', 'CREATE DATABASE fuzz');
$node->safe_psql('fuzz', 'CREATE EXTENSION clm');
my ($ret, $out, $err) = $node->psql('fuzz', undef,
	extra_params => [ '-v', 'customers=300', '-f', "$root/test/data/crm_sample.sql" ]);
is($ret, 0, 'demo data loaded') or diag($err);
$node->safe_psql('fuzz', q{
    CREATE ROLE fuzzer LOGIN;
    ALTER ROLE fuzzer SET statement_timeout = '2s';
    ALTER ROLE fuzzer SET lock_timeout = '1s';
    ALTER ROLE fuzzer SET temp_file_limit = '64MB';
    GRANT USAGE ON SCHEMA clm_demo TO fuzzer;
    GRANT SELECT ON ALL TABLES IN SCHEMA clm_demo TO fuzzer;
});

my $log_start = -s $node->logfile;
my $target = $node->connstr('fuzz') . ' user=fuzzer';
my ($o, $e);
my $h = IPC::Run::start(
	[
		$sqlsmith, "--target=$target", "--seed=$seed",
		"--max-queries=$queries", '--exclude-catalog', '--verbose'
	],
	'>', \$o, '2>', \$e,
	IPC::Run::timeout(170));
eval { $h->finish; };
if ($@)
{
	$h->kill_kill;
	note('sqlsmith stopped at the time limit');
}

# sqlsmith --verbose prints one character per query (. for success, e for
# an error, ...), and now and then a "queries: N" line with the count so
# far: the last one is the count when it ends by itself
my @counts = $e =~ /^queries: (\d+)$/mg;
my $ran = @counts ? $counts[-1] : 0;
if (!$ran)
{
	$ran += length($1) while $e =~ /^([.a-zA-Z]+)$/mg;
}
note("sqlsmith: seed $seed, $ran queries");

ok($node->safe_psql('postgres', 'SELECT 1') eq '1', 'the server still answers');

my $log = slurp_file($node->logfile, $log_start);
unlike($log, qr/terminated by signal|server process .* was terminated/,
	'no backend crashed');

# The log's error reports: consecutive lines of one backend with one
# SQLSTATE (the ERROR, LOCATION and STATEMENT lines, continuation lines
# included) form one report.
my @reports;
my $key = '';
for my $line (split /\n/, $log)
{
	if ($line =~ /^\d{4}-\d\d-\d\d \S+ \S+ \[(\d+)\] (\S*) /)
	{
		my $k = "$1 $2";
		push @reports, '' if $k ne $key || $line =~ / ERROR: /;
		$key = $k;
	}
	$reports[-1] .= "$line\n" if @reports;
}
my @internal = grep { /^\S+ \S+ \S+ \[\d+\] XX000 / } @reports;

# clm's own C files, by the base names the LOCATION line gives
my $clm_files = join('|', map { m{([^/]+\.c)$} ? quotemeta($1) : () } glob("$root/src/*/*.c"));
# An internal error is clm's when it is raised in clm's C (its LOCATION), or
# inside one of clm's SQL or PL/pgSQL functions (its CONTEXT): a core
# function failing on arguments clm passed it reports its own location but
# clm's function in its context.  Naming clm in the statement is not enough:
# core's own internal errors (such as sqlsmith's invalid interval typmods)
# turn up in statements that also call clm.
my @clm = grep { /LOCATION: .*\b(?:$clm_files):|CONTEXT: .*function clm\./ } @internal;
is(scalar(@clm), 0, 'no internal error (XX000) from a statement that touches clm')
  or diag(join("\n", @clm));

my $clm_errors = grep { / ERROR: / && /\bclm\./ } @reports;
cmp_ok($ran, '>=', 500, 'sqlsmith ran a real workload');
note("statements naming clm that failed: $clm_errors; XX000 outside clm: "
	  . (scalar(@internal) - scalar(@clm)));

$node->stop;
done_testing();
