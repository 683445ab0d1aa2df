# 086_doc_worked_example: the worked example of doc/action.md ("from a stage
# change to a campaign report") runs as printed.  Its SQL blocks are run
# one after the other in a new database, as the page says they were, and
# each output the page shows (the lines right after a statement) must be
# what psql prints for it, up to trailing blanks and the row-count footer.
# A statement without an output shown must merely succeed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $page = slurp_file("$ENV{CLM_ROOT}/doc/action.md");
my ($section) = $page =~ /^## A worked example[^\n]*\n(.*?)^## /ms
  or die "doc/action.md has no worked example section";

# the statements, in order, each with the output shown after it (or
# undef): a psql table (a header, then a line of dashes) right after the
# statement, up to a blank line
my @steps;
for my $block ($section =~ /^```sql\n(.*?)^```/msg)
{
	my @lines = split /\n/, $block;
	my $sql = '';
	for (my $i = 0; $i < @lines; $i++)
	{
		my $line = $lines[$i];
		next if $sql eq '' && ($line =~ /^\s*$/ || $line =~ /^--/);
		$sql .= "$line\n";
		next unless $line =~ /;\s*(--.*)?$/;
		my $out;
		if ($i + 2 < @lines && $lines[ $i + 2 ] =~ /^-+(\+-+)*$/)
		{
			$out = '';
			$out .= $lines[ ++$i ] . "\n" while $i + 1 < @lines && $lines[ $i + 1 ] !~ /^\s*$/;
		}
		push @steps, { sql => $sql, out => $out };
		$sql = '';
	}
	push @steps, { sql => $sql, out => undef } if $sql ne '';
}
cmp_ok(scalar(@steps), '>=', 8, 'the worked example has its statements');

my $node = PostgreSQL::Test::Cluster->new('doc_example');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION clm');

# one psql session runs them all, a marker before each
my $script = "SET timezone = 'UTC';\n";
$script .= "\\echo \@\@step $_\n$steps[$_]{sql}" for 0 .. $#steps;
my ($stdout, $stderr);
my $ok = IPC::Run::run([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres') ],
	'<', \$script, '>', \$stdout, '2>', \$stderr);
ok($ok, 'every statement of the worked example runs') or diag($stderr);

my %printed;
my $cur;
for my $line (split /\n/, $stdout)
{
	if ($line =~ /^\@\@step (\d+)$/) { $cur = $1; $printed{$cur} = ''; next; }
	next unless defined $cur;
	next if $line =~ /^\(\d+ rows?\)$/ || $line =~ /^\s*$/;
	$printed{$cur} .= "$line\n";
}

# compare line by line without trailing blanks
sub tidy { my ($t) = @_; $t =~ s/[ \t]+$//mg; return $t; }
for my $i (0 .. $#steps)
{
	next unless defined $steps[$i]{out} && $steps[$i]{out} ne '';
	my ($first) = $steps[$i]{sql} =~ /^(.*)$/m;
	is(tidy($printed{$i} // ''), tidy($steps[$i]{out}), "the page shows what psql prints for: $first");
}

done_testing();
