# 040_bi_client: a BI tool's view of clm.  A Python psycopg client (Debian's
# python3-psycopg) logs in as a read-only role, reads the materialized
# customer view and calls the analysis functions, checking column types and
# row counts; this script sets the database up and relays its TAP lines.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $python = '/usr/bin/python3';
plan skip_all => 'python3-psycopg is not installed'
  unless system("$python -c 'import psycopg' 2>/dev/null") == 0;

my $node = PostgreSQL::Test::Cluster->new('bi');
$node->init;
$node->start;

my $as_of = '2025-07-01 00:00+00';

# 2000 customers simulated from a BG/NBD + Gamma-Gamma model (the generator
# of the CLV tests), expanded into dated orders: a realistic purchase
# pattern, so that the view's models fit and every prediction column is set.
my $gen = "$PostgreSQL::Test::Utils::tmp_check/btyd_gen";
my $csv = "$PostgreSQL::Test::Utils::tmp_check/customers.csv";
system('cc', '-O2', '-o', $gen, "$ENV{CLM_ROOT}/test/data/btyd_gen.c", '-lm') == 0
  or BAIL_OUT('cannot compile test/data/btyd_gen.c');
system("'$gen' bgnbd 2000 7 1.35 10 0.5 6 200 540 6 4 15 > '$csv'") == 0
  or BAIL_OUT('btyd_gen failed');

$node->safe_psql('postgres', qq{
CREATE EXTENSION clm;
CREATE SCHEMA shop;
CREATE TABLE shop.gen (id bigint, x int, t_x_days int, t_days int, mean_spend numeric);
\\copy shop.gen FROM '$csv' WITH (FORMAT csv)
CREATE TABLE shop.orders (
    order_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer bigint NOT NULL,
    placed timestamptz NOT NULL,
    total numeric(12,2) NOT NULL);
-- first order T days before as_of (noon UTC), then x repeat orders spread
-- evenly up to the last repeat day, each of the customer's mean spend
INSERT INTO shop.orders (customer, placed, total)
SELECT g.id,
       timestamptz '$as_of' + interval '12 hours' - g.t_days * interval '1 day'
         + CASE WHEN k = 0 THEN interval '0' ELSE round(g.t_x_days * k / g.x::numeric) * interval '1 day' END,
       CASE WHEN k = 0 OR g.mean_spend <= 0 THEN 5 + g.id % 50 ELSE g.mean_spend END
FROM shop.gen AS g, generate_series(0, g.x) AS k;
DROP TABLE shop.gen;
SELECT clm.create_customer_view('shop.customer_view', 'shop.orders', 'customer', 'placed', 'total',
                                as_of => '$as_of');
CREATE ROLE bi_reader LOGIN;
ALTER ROLE bi_reader SET default_transaction_read_only = on;
GRANT USAGE ON SCHEMA shop TO bi_reader;
GRANT SELECT ON shop.orders, shop.customer_view TO bi_reader;
});

my $connstr = $node->connstr('postgres') . ' user=bi_reader';
my ($stdout, $stderr);
my $ok = IPC::Run::run [ $python, "$ENV{CLM_ROOT}/test/t/040_bi_client.py", $connstr, $as_of ],
  '>', \$stdout, '2>', \$stderr;
ok($ok, 'the Python client ran') or diag($stderr);

my $planned;
my $seen = 0;
for my $line (split /\n/, $stdout)
{
	if ($line =~ /^1\.\.(\d+)$/) { $planned = $1; next; }
	if ($line =~ /^(not )?ok (\d+) - (.*)$/)
	{
		ok(!defined $1, "python: $3");
		$seen++;
	}
}
ok(defined $planned && $planned == $seen && $seen >= 15, "python reported all its $seen checks")
  or diag($stdout);

$node->stop;
done_testing();
