# 071_upgrade_script_guard: every script clm installs (the frozen install
# scripts of released versions, the install script of the current version
# and each upgrade script) refuses to run outside CREATE EXTENSION or ALTER
# EXTENSION ... UPDATE.  Run with psql -f, its \echo ... \quit guard prints
# how to load it and stops before the first statement, so nothing is
# created, in an empty database or in one where clm is installed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('guard');
$node->init;
$node->start;

# the scripts the server itself would load
my $dir = $node->safe_psql('postgres',
	q{SELECT setting FROM pg_config WHERE name = 'SHAREDIR'}) . '/extension';
my @scripts = sort glob("$dir/clm--*.sql");
my @install = grep { m{/clm--[^-]+\.sql$} } @scripts;
my @update = grep { m{/clm--[^-]+--[^-]+\.sql$} } @scripts;
ok(scalar(grep { m{/clm--1\.0\.sql$} } @install), 'the frozen install script of 1.0 is installed');
ok(scalar(grep { m{/clm--1\.0--[^-]+\.sql$} } @update), 'and an upgrade script from 1.0');
is(scalar(@install) + scalar(@update), scalar(@scripts), 'every script is an install or upgrade script');

# everything a script could create or change, in one text
my $catalog = q{
	SELECT (SELECT count(*) FROM pg_namespace) || ' ' || (SELECT count(*) FROM pg_class) || ' '
	       || (SELECT count(*) FROM pg_proc) || ' ' || (SELECT count(*) FROM pg_type) || ' '
	       || (SELECT count(*) FROM pg_description) || ' '
	       || (SELECT coalesce(string_agg(extname || extversion, ','), '-') FROM pg_extension
	           WHERE extname = 'clm')};

$node->safe_psql('postgres', q{CREATE DATABASE empty; CREATE DATABASE installed});
$node->safe_psql('installed', q{CREATE EXTENSION clm VERSION '1.0'});

for my $script (@scripts)
{
	my ($name) = $script =~ m{/([^/]+)$};
	my $hint = $name =~ /^clm--[^-]+--([^-]+)\.sql$/
	  ? qr/^Use "ALTER EXTENSION clm UPDATE TO '\Q$1\E'" to load this file\.$/m
	  : qr/^Use "CREATE EXTENSION clm" to load this file\.$/m;
	for my $db ('empty', 'installed')
	{
		my $before = $node->safe_psql($db, $catalog);
		my ($stdout, $stderr);
		$node->psql($db, undef, extra_params => [ '-f', $script ],
			stdout => \$stdout, stderr => \$stderr, on_error_stop => 1);
		like($stdout, $hint, "$name run with psql -f in database $db prints how to load it");
		is($stderr, '', 'and no error: no statement ran');
		is($node->safe_psql($db, $catalog), $before, 'nothing was created or changed');
	}
}

$node->stop;
done_testing();
