# 070_upgrade_same_catalog: a database created on 1.0 and updated with
# ALTER EXTENSION clm UPDATE ends with the same catalog as a fresh install
# of the current version.  Compared, and any difference fails:
#   - pg_dump --schema-only --schema=clm --binary-upgrade: the binary-upgrade
#     mode is what makes pg_dump write every member object of the extension
#     (an ordinary dump writes only CREATE EXTENSION), so this is the full
#     definition of every type, table, function, aggregate, view, trigger,
#     sequence and grant of clm;
#   - the extension's configuration tables and their dump conditions
#     (pg_extension.extconfig, extcondition), as table names;
#   - the member list with the comment of every member object and column;
#   - the privileges (ACLs) of every member object and column, and the
#     initial privileges pg_dump restores them from (pg_init_privs).
# Every step of the upgrade chain is covered: the test starts from the
# oldest frozen script and lets PostgreSQL find the path.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->start;

my $current = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'clm'});
like($current, qr/^\d+\.\d+$/, "the current version is $current");

$node->safe_psql('postgres', q{
CREATE DATABASE fresh;
CREATE DATABASE updated;
});
$node->safe_psql('fresh', 'CREATE EXTENSION clm');
$node->safe_psql('updated', q{CREATE EXTENSION clm VERSION '1.0'});
is($node->safe_psql('updated', q{SELECT extversion FROM pg_extension WHERE extname = 'clm'}),
	'1.0', 'the updated database starts on 1.0');
$node->safe_psql('updated', 'ALTER EXTENSION clm UPDATE');
is($node->safe_psql('updated', q{SELECT extversion FROM pg_extension WHERE extname = 'clm'}),
	$current, "and is on $current after ALTER EXTENSION clm UPDATE");

# pg_dump writes the member objects of an extension only in binary-upgrade
# mode and only when the extension itself is selected (--extension=clm).
# That mode also writes values that come from counters of the whole cluster
# and differ between any two databases, whatever their contents; they are
# masked, nothing else is:
#   - OIDs and relfilenodes: binary_upgrade_set_next_*, the OIDs of the configuration
#     tables in binary_upgrade_create_empty_extension (compared below by
#     name instead), "WHERE oid = ..." of the pg_class fix-ups;
#   - transaction ids and WAL positions: relfrozenxid, relminmxid and the
#     LSN arrays of binary_upgrade_set_next_attribute_versions;
#   - the random key of pg_dump's \restrict line.
# The order of the two dumps is not normalised: pg_dump sorts objects by
# kind, schema, name and signature, then by dependencies; only objects
# equal in all of these would fall back to OID order, and clm has none, so
# the order is the same when the contents are.
sub dump_clm
{
	my ($db) = @_;
	my $file = $node->basedir . "/$db.sql";
	$node->command_ok(
		[
			'pg_dump', '--schema-only', '--schema=clm', '--extension=clm', '--binary-upgrade',
			'--no-sync', '-f', $file, '-d', $node->connstr($db)
		],
		"pg_dump --schema-only --schema=clm of $db");
	my $text = slurp_file($file);
	$text =~ s/(binary_upgrade_set_next_\w+_(?:oid|relfilenode)\()'\d+'/$1'<oid>'/g;
	$text =~ s/(binary_upgrade_create_empty_extension\('clm', 'clm', (?:true|false), '[^']*', )'\{[\d,]*\}'/$1'<oids>'/g;
	$text =~ s/^(\s*WHERE oid = )'\d+'/$1'<oid>'/mg;
	$text =~ s/relfrozenxid = '\d+', relminmxid = '\d+'/relfrozenxid = '<xid>', relminmxid = '<mxid>'/g;
	$text =~ s/(binary_upgrade_set_next_attribute_versions\()'\{[0-9A-F\/,]*\}'/$1'<lsns>'/g;
	$text =~ s/^(\\(?:un)?restrict) \S+$/$1 <key>/mg;
	return $text;
}

my $fresh_dump = dump_clm('fresh');
my $updated_dump = dump_clm('updated');
like($fresh_dump, qr/CREATE FUNCTION clm\.stage_guard\(\)/,
	'the dump holds the member objects (here: clm.stage_guard)');
like($fresh_dump, qr/ALTER EXTENSION clm ADD FUNCTION clm\.stage_guard\(\)/,
	'with their membership in the extension');
unlike($fresh_dump, qr/binary_upgrade_set_next_\w+_oid\('\d/, 'every OID is masked');
is_diff($updated_dump, $fresh_dump, 'pg_dump of schema clm: updated equals fresh');

my %queries = (
	'extconfig and extcondition' => q{
		SELECT string_agg(c.cfg::regclass::text || ' [' || coalesce(c.cond, '') || ']', E'\n' ORDER BY c.cfg::regclass::text)
		FROM pg_extension e,
		     unnest(e.extconfig, e.extcondition) AS c(cfg, cond)
		WHERE e.extname = 'clm'},
	'member objects and their comments' => q{
		WITH member AS (
			SELECT classid, objid FROM pg_depend
			WHERE refclassid = 'pg_extension'::regclass
			  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'clm')
			  AND deptype = 'e'),
		-- the member itself (objsubid 0) and each column of a member relation
		obj AS (
			SELECT classid, objid, 0 AS objsubid FROM member
			UNION ALL
			SELECT m.classid, m.objid, a.attnum FROM member m
			JOIN pg_attribute a ON m.classid = 'pg_class'::regclass AND a.attrelid = m.objid
			                    AND a.attnum > 0 AND NOT a.attisdropped)
		SELECT string_agg(pg_describe_object(o.classid, o.objid, o.objsubid) || ' = '
		                  || coalesce(quote_literal(d.description), 'no comment'),
		                  E'\n' ORDER BY pg_describe_object(o.classid, o.objid, o.objsubid))
		FROM obj o
		LEFT JOIN pg_description d
		  ON d.classoid = o.classid AND d.objoid = o.objid AND d.objsubid = o.objsubid},
	'privileges of member objects and columns' => q{
		WITH member AS (
			SELECT classid, objid FROM pg_depend
			WHERE refclassid = 'pg_extension'::regclass
			  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'clm')
			  AND deptype = 'e'),
		acl AS (
			SELECT m.classid, m.objid, 0 AS objsubid, c.relacl::text AS acl FROM member m
			JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
			UNION ALL
			SELECT m.classid, m.objid, a.attnum, a.attacl::text FROM member m
			JOIN pg_attribute a ON m.classid = 'pg_class'::regclass AND a.attrelid = m.objid
			                    AND a.attnum > 0 AND NOT a.attisdropped
			UNION ALL
			SELECT m.classid, m.objid, 0, p.proacl::text FROM member m
			JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
			UNION ALL
			SELECT m.classid, m.objid, 0, t.typacl::text FROM member m
			JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
			UNION ALL
			SELECT m.classid, m.objid, 0, n.nspacl::text FROM member m
			JOIN pg_namespace n ON m.classid = 'pg_namespace'::regclass AND n.oid = m.objid
			UNION ALL
			SELECT 'pg_namespace'::regclass, n.oid, 0, n.nspacl::text FROM pg_namespace n
			WHERE n.nspname = 'clm')
		SELECT string_agg(DISTINCT pg_describe_object(a.classid, a.objid, a.objsubid)
		                  || ' acl=' || coalesce(a.acl, 'default')
		                  || ' init=' || coalesce(i.initprivs::text, 'none'), E'\n')
		FROM acl a
		LEFT JOIN pg_init_privs i
		  ON i.classoid = a.classid AND i.objoid = a.objid AND i.objsubid = a.objsubid},
);

for my $what (sort keys %queries)
{
	my $fresh = $node->safe_psql('fresh', $queries{$what});
	my $updated = $node->safe_psql('updated', $queries{$what});
	isnt($fresh, '', "$what: the fresh install has some");
	is_diff($updated, $fresh, "$what: updated equals fresh");
}
like($node->safe_psql('fresh', $queries{'extconfig and extcondition'}),
	qr/^clm\.customer_view \[\]$/m, 'extconfig names the configuration tables');
like($node->safe_psql('fresh', $queries{'member objects and their comments'}),
	qr/^function clm\.stage_guard\(\) = '/m, 'the member list carries the comments');
like($node->safe_psql('fresh', $queries{'privileges of member objects and columns'}),
	qr/^table clm\.stage_history acl=\{.*\}/m, 'and the privileges of the history table');

# is() on two long texts prints both in full; print a unified diff instead.
my $n_diff = 0;
sub is_diff
{
	my ($got, $expected, $name) = @_;
	my $ok = is($got eq $expected ? 'same' : 'different', 'same', $name);
	if (!$ok)
	{
		$n_diff++;
		my $base = $node->basedir . "/diff$n_diff";
		append_to_file("$base.fresh", $expected);
		append_to_file("$base.updated", $got);
		my ($out) = run_command([ 'diff', '-u', "$base.fresh", "$base.updated" ]);
		diag($out);
	}
	return $ok;
}

$node->stop;
done_testing();
