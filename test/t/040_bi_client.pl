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
$node->safe_psql('postgres', qq{
CREATE EXTENSION clm;
CREATE SCHEMA shop;
CREATE TABLE shop.orders (
    order_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer bigint NOT NULL,
    placed timestamptz NOT NULL,
    total numeric(12,2) NOT NULL);
-- 2000 customers with 1 to 7 orders each, spread over 2024-01 .. 2025-09
INSERT INTO shop.orders (customer, placed, total)
SELECT c,
       timestamptz '2024-01-01 00:00+00'
         + ((c * 7919 + k * k * 104729) % 630) * interval '1 day'
         + ((c + k * 37) % 24) * interval '1 hour',
       5 + ((c * 31 + k * 17) % 200)
FROM generate_series(1, 2000) AS c, generate_series(1, 1 + c % 7) AS k;
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
