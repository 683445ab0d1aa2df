# 090_html_report: the demo's HTML lifecycle report (bin/clm-demo --html),
# opened in a real browser.
#
# bin/clm-demo refuses a target it cannot write before any work starts.  On
# the demo data (test/data/crm_sample.sql, 1,500 customers) the report,
# written by the same function bin/clm-demo calls (clm_html_report,
# test/lib/pgenv.sh), is one self-contained page: nine charts as inline SVG,
# each with a title, axis labels and the as-of date, the KPI row and the
# at-risk table, no script, nothing to fetch; --lang zh gives clm's Chinese
# stage and segment labels.  A database without orders gives a page that
# says so, with every chart labelled empty.  Headless Chromium (Debian's
# chromium), in a network namespace of its own so that it has no network,
# parses the page (every chart's SVG is in its DOM, with marks), logs no
# console message (a page that logs one shows the check can fail), and its
# screenshot is not blank (test/t/090_html_report.py reads the PNG).
#
# It runs on the host's PostgreSQL 15, where test/run_tests.sh installs
# chromium; the runs on 17 and 18 skip it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my ($major) = `pg_config --version` =~ /PostgreSQL (\d+)/
  or die "could not read the PostgreSQL version from pg_config";
plan skip_all => "the HTML report is checked on the host's PostgreSQL 15, where the suite installs "
  . "chromium; this is PostgreSQL $major"
  unless $major == 15;

my $root = $ENV{CLM_ROOT};
my $tmp = $PostgreSQL::Test::Utils::tmp_check;
my $chromium = '/usr/bin/chromium';
ok(-x $chromium, 'chromium is installed (test/run_tests.sh installs it)');

# --- bad targets: refused at once, before the build and the data load
sub demo_error
{
	my ($target) = @_;
	my ($out, $err) = ('', '');
	my $ret = IPC::Run::run([ "$root/bin/clm-demo", '--html', $target ], '>', \$out, '2>', \$err);
	return ($ret, $? >> 8, $out, $err);
}
mkdir "$tmp/ro_dir" or die;
chmod 0555, "$tmp/ro_dir";
open my $fh, '>', "$tmp/ro_file.html" or die;
close $fh;
chmod 0444, "$tmp/ro_file.html";
for my $case (
	[ '', qr/--html needs a file name/, 'an empty name' ],
	[ "$tmp/no/such/dir/report.html", qr/directory "\Q$tmp\E\/no\/such\/dir" does not exist/, 'a missing directory' ],
	[ "$tmp/ro_dir/report.html", qr/permission denied in "\Q$tmp\E\/ro_dir"/, 'a directory it may not write' ],
	[ "$tmp/ro_file.html", qr/"\Q$tmp\E\/ro_file\.html": permission denied/, 'a file it may not write' ],
	[ $tmp, qr/it is a directory/, 'a directory' ])
{
	my ($target, $re, $what) = @$case;
	my (undef, $code, $out, $err) = demo_error($target);
	is($code, 2, "bin/clm-demo --html into $what exits with 2");
	like($err, qr/^error: (cannot write the HTML report to .*)?$re/, "and says why: $what");
	unlike($err . $out, qr/installing|building|starting|loading/, "before any work starts: $what");
}

# --- the demo data, and the report of it
my $node = PostgreSQL::Test::Cluster->new('report');
$node->init;
$node->start;
$ENV{PGHOST} = $node->host;
$ENV{PGPORT} = $node->port;
for my $db ([ 'demo', 1500 ], [ 'empty', 0 ])
{
	my ($name, $customers) = @$db;
	$node->safe_psql('postgres', "CREATE DATABASE $name");
	$node->safe_psql($name, 'CREATE EXTENSION clm');
	my $load = `psql -X -q -v ON_ERROR_STOP=1 -v customers=$customers -d $name -f '$root/test/data/crm_sample.sql' 2>&1`;
	is($?, 0, "the demo data of $customers customers loads") or diag($load);
}

sub report
{
	my ($db, $lang, $file) = @_;
	local $ENV{PGDATABASE} = $db;
	my $log = `bash -c '. "$root/test/lib/pgenv.sh" && clm_html_report "$file" $lang' 2>&1`;
	is($?, 0, "clm_html_report writes the $lang report of $db") or diag($log);
	open my $in, '<', $file or die "$file: $!";
	local $/;
	return <$in>;
}

my @charts = qw(stages funnel transitions rfm segments cohorts clv palive holdout);

# the marks of a chart: bars, points, lines, heatmap cells with a colour
# (not the white background or the grey of an empty cell)
sub marks
{
	my ($svg) = @_;
	return scalar(() = $svg =~ /class="(?:bar|bar2|dot|line)"|fill="#(?!ffffff"|eeeeee")[0-9a-f]{6}"/g);
}

# every chart's SVG, by id
sub svgs
{
	my ($html) = @_;
	my %svg;
	$svg{$1} = $2 while $html =~ m{<svg id="chart-([a-z]+)"[^>]*>(.*?)</svg>}gs;
	return %svg;
}

my $en = report('demo', 'en', "$tmp/report.html");
my %svg = svgs($en);
is(join(',', sort keys %svg), join(',', sort @charts), 'the nine charts are there');
for my $c (@charts)
{
	my $s = $svg{$c} // '';
	like($s, qr{<text[^>]*class="title">[^<]+</text>}, "$c: a title");
	like($s, qr{class="sub">as of 2026-07-01</text>}, "$c: the as-of date");
	my @axes = $s =~ m{class="axis">([^<]+)</text>}g;
	is(scalar(@axes), 2, "$c: two axis labels (@axes)");
	my $marks = marks($s);
	cmp_ok($marks, '>=', 4, "$c: marks ($marks)");
	unlike($s, qr/class="empty"/, "$c: not empty");
}
like($en, qr{<div class="kpis" id="kpis">(<div class="kpi"><div class="v">[^<]+</div><div class="k">[^<]+</div></div>){6}</div>},
	'the KPI row has six figures');
my $at_risk = () = $en =~ m{<tr><td>customer\d+\@example\.com</td>}g;
cmp_ok($at_risk, '>', 0, "the at-risk table lists customers ($at_risk)");
unlike($en, qr/<script|<link|<img|<iframe|\ssrc=|\shref=|url\(|\@import|\@font-face/i,
	'self-contained: no script, no link, no image, no font, nothing fetched');
is(join(',', $en =~ m{https?://[^"\s<]*}g), join(',', ('http://www.w3.org/2000/svg') x 9),
	'the only URLs are the SVG namespace');
like($en, qr/^<!DOCTYPE html>\n<html lang="en">/, 'an HTML document in English');

# Chinese labels
my $zh = report('demo', 'zh', "$tmp/report_zh.html");
my $loyal_zh = $node->safe_psql('demo', q{SELECT clm.stage_label('loyal', 'zh')});
my $champions_zh = $node->safe_psql('demo', q{SELECT clm.rfm_segment_label(ROW(5, 5, 5, 555)::clm.rfm_score, 'zh')});
like($zh, qr/^<!DOCTYPE html>\n<html lang="zh">/, 'the zh report is marked Chinese');
my %zsvg = svgs($zh);
like($zsvg{stages}, qr/>\Q$loyal_zh\E</, "zh: the stage labels are clm's Chinese ones ($loyal_zh)");
like($zsvg{segments}, qr/>\Q$champions_zh\E</, "zh: and the segment labels ($champions_zh)");
unlike($en, qr/\Q$loyal_zh\E/, 'the default report has no Chinese stage labels');

# no orders: the page says so, every chart is labelled empty
my $empty = report('empty', 'en', "$tmp/report_empty.html");
like($empty, qr/<p class="notice" id="no-orders">The database has no orders/, 'no orders: the page says so');
unlike($en, qr/id="no-orders"|No data/, 'with orders the page says nothing of the kind');
my %esvg = svgs($empty);
is(join(',', sort keys %esvg), join(',', sort @charts), 'no orders: the nine charts are there');
is(scalar(grep { $esvg{$_} =~ m{class="empty">No data: the database has no orders</text>} } @charts), 9,
	'no orders: every chart is labelled empty');

# written whole or not at all: a report that fails leaves the file as it was,
# and nothing beside it
mkdir "$tmp/keep" or die;
open my $old, '>', "$tmp/keep/report.html" or die;
print $old "the previous report\n";
close $old;
{
	local $ENV{PGDATABASE} = 'no_such_database';
	my $log = `bash -c '. "$root/test/lib/pgenv.sh" && clm_html_report "$tmp/keep/report.html" en' 2>&1`;
	isnt($?, 0, 'a report that fails is an error');
	like($log, qr/the HTML report failed; ".*report\.html" is unchanged/, 'which says the file is unchanged');
}
open my $kept, '<', "$tmp/keep/report.html" or die;
is(scalar(<$kept>), "the previous report\n", 'and it is');
close $kept;
opendir my $dh, "$tmp/keep" or die;
is(join(',', sort grep { !/^\.\.?$/ } readdir $dh), 'report.html', 'no temporary file is left beside it');
closedir $dh;

# --- in a real browser, without network
sub chromium
{
	my ($url, @args) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'unshare', '-rn', $chromium, '--headless', '--no-sandbox', '--disable-gpu',
			'--hide-scrollbars', '--enable-logging=stderr', '--v=0', "--user-data-dir=$tmp/chromium",
			@args, $url ],
		'>', \$out, '2>', \$err);
	return ($? >> 8, $out, $err);
}
my ($code, $out, $err) = chromium('file:///dev/null', '--dump-dom');
is($code, 0, 'chromium starts without network') or diag($err);

open my $probe, '>', "$tmp/probe.html" or die;
print $probe '<!DOCTYPE html><html><body><script>console.error("clm-probe")</script></body></html>';
close $probe;
(undef, undef, $err) = chromium("file://$tmp/probe.html", '--dump-dom');
like($err, qr/CONSOLE.*clm-probe.*source: file:/, 'a console message shows in its log (the check can fail)');

for my $page ([ 'report.html', 'en' ], [ 'report_zh.html', 'zh' ], [ 'report_empty.html', 'no orders' ])
{
	my ($file, $what) = @$page;
	($code, $out, $err) = chromium("file://$tmp/$file", '--dump-dom');
	is($code, 0, "$what: chromium renders the page");
	my %dom = svgs($out);
	is(join(',', sort keys %dom), join(',', sort @charts), "$what: every chart's SVG is in the DOM");
	is(scalar(grep { marks($dom{$_}) >= 4 } @charts), $what eq 'no orders' ? 0 : 9,
		$what eq 'no orders' ? "$what: none has marks" : "$what: every one has marks");
	# (Chromium's own pages log too, with chrome:// sources)
	is(join("\n", $err =~ /^.*CONSOLE.*source: file:.*$/mg), '', "$what: no console message");
	unlike($err, qr/net::ERR|Failed to load/, "$what: nothing was fetched");

	($code, $out, $err) = chromium("file://$tmp/$file", "--screenshot=$tmp/$file.png", '--window-size=1280,4400');
	ok($code == 0 && -s "$tmp/$file.png", "$what: a screenshot") or diag($err);
	my ($w, $h, $colours, $ink) = split ' ', `python3 '$root/test/t/090_html_report.py' '$tmp/$file.png'`;
	is("$w x $h", '1280 x 4400', "$what: the screenshot is 1280 x 4400, the whole page");
	cmp_ok($colours, '>=', $what eq 'no orders' ? 8 : 100, "$what: the screenshot is not blank ($colours colours)");
	cmp_ok($ink, '>=', $what eq 'no orders' ? 100 : 300,
		"$what: $ink of 1000 pixels are not the background");
}

$node->stop;
done_testing();
