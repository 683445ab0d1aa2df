# 001_docs.pl: every object clm installs is documented in doc/*.md.
#
# The catalog test (sql/catalog.sql) checks COMMENT ON; this one checks the
# reference pages: each function, aggregate, type, table and view of the
# extension must appear there by its qualified name, "clm.<name>".

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use Test::More;

my $root = $ENV{CLM_ROOT} or die "CLM_ROOT is not set";
my $docs = '';
for my $f (glob("$root/doc/*.md"))
{
	open(my $fh, '<', $f) or die "$f: $!";
	local $/;
	$docs .= <$fh>;
	close $fh;
}
ok(length($docs) > 0, 'doc/*.md exists');

my $node = PostgreSQL::Test::Cluster->new('docs');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION clm');

# Names of member objects, one per line.  Array types and the row types of
# tables come along with their base objects and are not listed separately.
my $names = $node->safe_psql(
	'postgres', q{
	SELECT DISTINCT name FROM (
		SELECT p.proname AS name
		FROM pg_depend d JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
		WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'clm') AND d.deptype = 'e'
		UNION ALL
		SELECT t.typname
		FROM pg_depend d JOIN pg_type t ON d.classid = 'pg_type'::regclass AND t.oid = d.objid
		WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'clm') AND d.deptype = 'e'
		UNION ALL
		SELECT c.relname
		FROM pg_depend d JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
		WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'clm') AND d.deptype = 'e'
		  AND c.relkind IN ('r', 'v', 'm', 'p')
	) s ORDER BY 1});

my @names = split /\n/, $names;
ok(@names > 0, 'the extension has member objects');
for my $n (@names)
{
	like($docs, qr/\bclm\.\Q$n\E\b/, "clm.$n is documented in doc/");
}

$node->stop;
done_testing();
