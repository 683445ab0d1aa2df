# 003_release_versions: every file that states clm's version states the
# same one, and every released version can still be installed and updated.
#   - the Makefile's EXTVERSION, clm.control's default_version, the newest
#     heading of CHANGELOG.md, META.json's version (X.Y.0, the semantic
#     version PGXN requires) and the newest entry of debian/changelog (X.Y,
#     or X.Y~dev while the heading says unreleased) agree;
#   - every version CHANGELOG.md marks released (a date instead of
#     "unreleased") has its frozen install script clm--X.Y.sql, kept in git,
#     and a debian/changelog entry; each version has an upgrade script from
#     the one before it;
#   - make dist writes the PGXN archive clm-X.Y.zip of the committed tree,
#     with those files under clm-X.Y/.
use strict;
use warnings;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = $ENV{CLM_ROOT} or die "CLM_ROOT is not set";

my ($extversion) = slurp_file("$root/Makefile") =~ /^EXTVERSION\s*=\s*(\S+)\s*$/m;
my ($control) = slurp_file("$root/clm.control") =~ /^default_version\s*=\s*'([^']+)'/m;
my @headings = slurp_file("$root/CHANGELOG.md") =~ /^## (\d+\.\d+) \(([^)]+)\)\s*$/mg;
my %status = @headings;
my @versions = @headings[ grep { $_ % 2 == 0 } 0 .. $#headings ];
my $meta = decode_json(slurp_file("$root/META.json"));
my ($debian) = slurp_file("$root/debian/changelog") =~ /^clm \(([^)]+)\)/;
my @debian_versions = slurp_file("$root/debian/changelog") =~ /^clm \(([^)]+)\)/mg;

like($extversion, qr/^\d+\.\d+$/, "the Makefile's EXTVERSION is $extversion");
is($control, $extversion, 'clm.control default_version agrees');
is($versions[0], $extversion, "CHANGELOG.md's newest heading agrees");
is($meta->{version}, "$extversion.0", 'META.json version agrees');
is($meta->{provides}{clm}{version}, "$extversion.0", 'and so does the version of what it provides');
my $newest_released = $status{ $versions[0] } ne 'unreleased';
is($debian, $newest_released ? $extversion : "$extversion~dev",
	"debian/changelog's newest entry agrees ($status{$versions[0]})");

# the CHANGELOG lists versions newest first
my @sorted = sort { version_cmp($b, $a) } @versions;
is("@versions", "@sorted", 'CHANGELOG.md lists versions newest first');

my %tracked = map { $_ => 1 } split /\n/,
  `git -c safe.directory='*' -C '$root' ls-files 2>/dev/null`;
my $in_git = %tracked ? 1 : 0;

for my $v (grep { $status{$_} ne 'unreleased' } @versions)
{
	like($status{$v}, qr/^\d{4}-\d\d-\d\d$/, "$v is released on $status{$v}");
	ok(-f "$root/clm--$v.sql", "the frozen install script clm--$v.sql exists");
	ok($tracked{"clm--$v.sql"}, "and is kept in git") if $in_git;
	ok(scalar(grep { $_ eq $v } @debian_versions), "debian/changelog has an entry for $v");
}
for my $i (0 .. $#versions - 1)
{
	my ($to, $from) = @versions[ $i, $i + 1 ];
	ok(-f "$root/clm--$from--$to.sql", "the upgrade script clm--$from--$to.sql exists");
}

SKIP:
{
	skip 'not a git checkout: make dist archives the committed tree', 3 unless $in_git;
	my $dir = PostgreSQL::Test::Utils::tempdir();
	# the checkout may belong to another OS user than the one running the tests
	local $ENV{GIT_CONFIG_COUNT} = 1;
	local $ENV{GIT_CONFIG_KEY_0} = 'safe.directory';
	local $ENV{GIT_CONFIG_VALUE_0} = '*';
	my ($ok) = run_command([ 'make', '-s', '-C', $root, 'dist', "DIST_DIR=$dir" ]);
	my $zip = "$dir/clm-$extversion.zip";
	ok(-s $zip, "make dist writes clm-$extversion.zip");
	my ($list) = run_command([ 'unzip', '-Z1', $zip ]);
	my %files = map { $_ => 1 } split /\n/, $list;
	my @want = ('META.json', 'clm.control', 'Makefile', 'LICENSE', 'README.md', 'CHANGELOG.md',
		(map { "clm--$_.sql" } grep { $status{$_} ne 'unreleased' } @versions));
	is(join(',', grep { !$files{"clm-$extversion/$_"} } @want), '',
		"with META.json, the control file, the Makefile and the frozen scripts under clm-$extversion/");
	is(scalar(grep { !m{^clm-\Q$extversion\E/} } keys %files), 0, 'and nothing outside that folder');
}

sub version_cmp
{
	my @a = split /\./, $_[0];
	my @b = split /\./, $_[1];
	return $a[0] <=> $b[0] || $a[1] <=> $b[1];
}

done_testing();
