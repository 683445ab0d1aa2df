# 041_customer_view_dump: a customer view survives pg_dump and restore.
# The registry row (definition, as-of time, fitted models) is extension
# configuration data (pg_extension_config_dump), so the restored view is
# refreshed from the same models and equals the original row for row, and
# clm.refresh_customer_view works on the restored copy.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
CREATE DATABASE src;
CREATE DATABASE dst;
});
$node->safe_psql('src', q{
SET timezone = 'UTC';
CREATE EXTENSION clm;
CREATE SCHEMA "Shop; x";
CREATE TABLE "Shop; x"."Orders" (cust text, at timestamptz, amount numeric(10,2));
INSERT INTO "Shop; x"."Orders"
SELECT 'c' || c, timestamptz '2024-01-01 00:00+00'
         + ((c * 7919 + k * k * 104729) % 600) * interval '1 day'
         + ((c + k * 37) % 24) * interval '1 hour',
       5 + ((c * 31 + k * 17) % 200)
FROM generate_series(1, 500) AS c, generate_series(1, 1 + c % 6) AS k;
SELECT clm.create_customer_view('"Shop; x"."Customer View"', '"Shop; x"."Orders"', 'cust', 'at', 'amount',
                                as_of => '2025-07-01');
});

my $dump = "$PostgreSQL::Test::Utils::tmp_check/src.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src') ], 'pg_dump');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('dst'), $dump ], 'pg_restore');

my $registry = q{SELECT view_schema, view_name, orders_relation, as_of, bgnbd::text, gamma_gamma::text,
                        thresholds::text, definition FROM clm.customer_view ORDER BY 1, 2};
is($node->safe_psql('dst', $registry), $node->safe_psql('src', $registry),
	'the registry row (definition, as_of, models) is restored');
my $rows = q{SELECT count(*), sum(revenue), sum(predicted_clv)::numeric(20,6), string_agg(DISTINCT stage::text, ',')
             FROM "Shop; x"."Customer View"};
my $src_rows = $node->safe_psql('src', $rows);
my $customers = $node->safe_psql('src',
	q{SELECT count(DISTINCT cust) FROM "Shop; x"."Orders" WHERE at <= '2025-07-01 00:00+00'});
like($src_rows, qr/^$customers\|/, "the source view has one row per customer ($customers)");
is($node->safe_psql('dst', $rows), $src_rows, 'the restored view has the same totals');
my $all = q{SELECT md5(string_agg(v::text, '|' ORDER BY customer_key)) FROM "Shop; x"."Customer View" AS v};
is($node->safe_psql('dst', $all), $node->safe_psql('src', $all), 'and the same rows, every column');
is($node->safe_psql('dst', q{
	SELECT indisunique FROM pg_index WHERE indrelid = '"Shop; x"."Customer View"'::regclass}),
	't', 'the unique index is restored');
is($node->safe_psql('dst', q{SELECT clm.refresh_customer_view('"Shop; x"."Customer View"', '2025-08-01')
                             = '2025-08-01'::timestamptz}),
	't', 'the restored view refreshes concurrently');
is($node->safe_psql('dst', q{SELECT count(DISTINCT as_of) || ' ' || min(as_of)::date FROM "Shop; x"."Customer View"}),
	'1 2025-08-01', 'and moves to the new as_of');
# the restored view passes to a role without superuser rights: its
# registry row follows the view's owner
$node->safe_psql('dst', q{
CREATE ROLE regress_dump_owner;
GRANT USAGE ON SCHEMA "Shop; x" TO regress_dump_owner;
GRANT SELECT ON "Shop; x"."Orders" TO regress_dump_owner;
ALTER MATERIALIZED VIEW "Shop; x"."Customer View" OWNER TO regress_dump_owner;
});
is($node->safe_psql('dst', q{SET ROLE regress_dump_owner;
                             SELECT clm.refresh_customer_view('"Shop; x"."Customer View"', '2025-09-01')
                             = '2025-09-01'::timestamptz}),
	't', 'the owner of the restored view refreshes it');
is($node->safe_psql('dst', q{SELECT pg_get_userbyid(c.relowner) || ' ' || r.as_of::date || ' '
                                    || (r.customers = (SELECT count(*) FROM "Shop; x"."Customer View"))
                             FROM clm.customer_view AS r, pg_class AS c
                             WHERE c.oid = '"Shop; x"."Customer View"'::regclass}),
	'regress_dump_owner 2025-09-01 true', 'and its registry row moves with it');

$node->stop;
done_testing();
