# 001_docs.pl: every object clm installs is documented.
#
# The catalog test (sql/catalog.sql) checks COMMENT ON; this one checks the
# reference pages and the README:
# - each function, aggregate, type, table and view of the extension appears
#   in doc/*.md by its qualified name, "clm.<name>";
# - each of them that a user calls or reads has a row in the README's
#   "Reference" section, with a version in its "Added" column.  Support
#   objects are recognised from the catalog, not from their names: the
#   functions an aggregate or a type is built from, the trigger functions on
#   clm's own tables, the functions of clm's event triggers, and the
#   "_"-prefixed helpers;
# - every row of that section names an object of the extension, and every
#   link in it leads to a heading of the page it names (GitHub's anchors:
#   the heading's text, lower case, punctuation dropped, spaces to "-").

use strict;
use warnings;
use utf8;
use PostgreSQL::Test::Cluster;
use Test::More;

my $root = $ENV{CLM_ROOT} or die "CLM_ROOT is not set";

# slurp FILE: its text, decoded as UTF-8
sub slurp
{
	my ($f) = @_;
	open(my $fh, '<:encoding(UTF-8)', $f) or die "$f: $!";
	local $/;
	my $text = <$fh>;
	close $fh;
	return $text;
}

# anchors TEXT: the set of anchors GitHub gives the headings of a page,
# "-1", "-2" ... appended to repeated ones; fenced code is not a heading
sub anchors
{
	my ($text) = @_;
	my (%seen, %anchors);
	my $fence = 0;
	for my $line (split /\n/, $text)
	{
		if ($line =~ /^```/)
		{
			$fence = !$fence;
			next;
		}
		next if $fence;
		next unless $line =~ /^#{1,6}\s+(.*?)\s*#*\s*$/;
		my $a = lc $1;
		$a =~ s/[`*]//g;
		$a =~ s/[^\w\- ]//g;
		$a =~ tr/ /-/;
		my $n = $seen{$a}++;
		$anchors{ $n ? "$a-$n" : $a } = 1;
	}
	return \%anchors;
}

my $docs = '';
$docs .= slurp($_) for glob("$root/doc/*.md");
ok(length($docs) > 0, 'doc/*.md exists');

my $node = PostgreSQL::Test::Cluster->new('docs');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION clm');

# Names of member objects, one per line, with a flag saying whether the
# object is a support object.  Array types and the row types of tables come
# along with their base objects and are not listed separately (PostgreSQL 17
# and later record them as extension members too).
my $rows = $node->safe_psql(
	'postgres', q{
	WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'clm'),
	member AS (SELECT classid, objid FROM pg_depend
			   WHERE refclassid = 'pg_extension'::regclass
				 AND refobjid = (SELECT oid FROM ext) AND deptype = 'e'),
	support AS (
		SELECT unnest(ARRAY[aggtransfn::oid, aggfinalfn::oid, aggcombinefn::oid, aggserialfn::oid,
							aggdeserialfn::oid, aggmtransfn::oid, aggminvtransfn::oid, aggmfinalfn::oid]) AS f
		FROM pg_aggregate
		UNION
		SELECT unnest(ARRAY[typinput::oid, typoutput::oid, typreceive::oid, typsend::oid])
		FROM pg_type
		UNION
		SELECT tgfoid FROM pg_trigger
		WHERE tgrelid IN (SELECT objid FROM member WHERE classid = 'pg_class'::regclass)
		UNION
		SELECT evtfoid FROM pg_event_trigger
		WHERE oid IN (SELECT objid FROM member WHERE classid = 'pg_event_trigger'::regclass))
	SELECT name, bool_and(is_support) FROM (
		SELECT p.proname AS name, p.oid IN (SELECT f FROM support) OR p.proname LIKE '\_%' AS is_support
		FROM member m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
		UNION ALL
		SELECT t.typname, false
		FROM member m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
		WHERE NOT EXISTS (SELECT FROM pg_type e WHERE e.typarray = t.oid)
		  AND NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')
		UNION ALL
		SELECT c.relname, false
		FROM member m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
		WHERE c.relkind IN ('r', 'v', 'm', 'p')
	) s GROUP BY name ORDER BY name});

my %support;
for my $row (split /\n/, $rows)
{
	my ($name, $is_support) = split /\|/, $row;
	$support{$name} = $is_support eq 't';
}
ok(%support > 0, 'the extension has member objects');
for my $n (sort keys %support)
{
	like($docs, qr/\bclm\.\Q$n\E\b/, "clm.$n is documented in doc/");
}

# The README's reference: the "## Reference" section, up to the next
# second-level heading.
my $readme = slurp("$root/README.md");
my ($reference) = $readme =~ /^## Reference\n(.*?)(?=^## |\z)/ms;
ok(defined $reference, 'README.md has a "## Reference" section');
$reference //= '';

# Rows: | [`clm.name`](link) | kind | description | added |
my %listed;
for my $line (split /\n/, $reference)
{
	next unless $line =~ /^\| \[`clm\.(\w+)`\]\([^)]*\) \|/;
	my $name = $1;
	my @cells = split /\s*\|\s*/, $line;
	$listed{$name} = $cells[-1];
	ok(exists $support{$name}, "README reference row clm.$name names an object of the extension");
}
for my $n (sort grep { !$support{$_} } keys %support)
{
	ok(exists $listed{$n}, "clm.$n has a row in the README reference");
	like($listed{$n} // '', qr/^\d+\.\d+$/, "clm.$n has an \"Added\" version in the README reference")
	  if exists $listed{$n};
}

# Every link of the section leads to a heading of its page.
my %page_anchors;
while ($reference =~ /\]\((doc\/[\w.-]+\.md)#([^)]+)\)/g)
{
	my ($page, $anchor) = ($1, $2);
	$page_anchors{$page} //= -e "$root/$page" ? anchors(slurp("$root/$page")) : {};
	ok($page_anchors{$page}{$anchor}, "README link $page#$anchor leads to a heading");
}

$node->stop;
done_testing();
