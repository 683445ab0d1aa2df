# 075_upgrade_dependent_user_objects: the update from 1.0 drops the support
# functions of the internal states of clm.purchase_summary and
# clm.rfm_thresholds, which became real types.  A user object that depends
# on one of them (here an aggregate of the user's over
# clm.purchase_summary_transfn) makes ALTER EXTENSION clm UPDATE fail before
# anything changed, with an error that names both objects; the user object
# keeps working on the 1.0 catalog, and once it is gone the update succeeds.
# Views over the changed aggregates themselves survive the update (072).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dependent');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
SET timezone = 'UTC';
CREATE EXTENSION clm VERSION '1.0';
CREATE AGGREGATE public.my_summary(timestamptz, numeric, timestamptz, interval) (
    SFUNC = clm.purchase_summary_transfn, STYPE = internal,
    FINALFUNC = clm.purchase_summary_final, FINALFUNC_MODIFY = READ_WRITE);
CREATE TABLE orders (customer int, at timestamptz, amount numeric);
INSERT INTO orders VALUES (1, '2024-01-01', 10), (1, '2024-01-08', 0.1), (1, '2024-01-08', 0.2),
                          (2, '2024-01-03', 5);
CREATE VIEW per_customer AS
SELECT customer, clm.purchase_summary(at, amount, '2024-02-01', '7 days') AS s,
       public.my_summary(at, amount, '2024-02-01', '7 days') AS mine
FROM orders GROUP BY customer;
});
my $catalog = q{SELECT md5(string_agg(p.oid::regprocedure::text || p.prorettype || p.prosrc, ',' ORDER BY p.oid))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'clm'};
my $before = $node->safe_psql('postgres', $catalog);
my $rows = $node->safe_psql('postgres', q{SELECT string_agg(v::text, '|' ORDER BY customer) FROM per_customer v});
# 0.1 + 0.2 on one repeat day: exactly 0.3 (the 1.0 catalog runs on the new library)
like($rows, qr/^\(1,"\(1,1,4\.\d+,0\.3\)","\(1,1,4\.\d+,0\.3\)"\)\|/, 'the user aggregate and clm.purchase_summary agree');

my ($ret, $out, $err) = $node->psql('postgres', 'ALTER EXTENSION clm UPDATE');
isnt($ret, 0, 'the update fails while a user aggregate depends on a function it drops');
like($err, qr/ERROR:  cannot drop function (clm\.)?purchase_summary_transfn\(internal,timestamp with time zone,numeric,timestamp with time zone,interval\) because other objects depend on it/,
	'the error names the clm function');
like($err, qr/function public\.my_summary\(timestamp with time zone,numeric,timestamp with time zone,interval\) depends on function (clm\.)?purchase_summary_transfn/,
	'and the user object that depends on it');
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'clm'}), '1.0',
	'the database is still on 1.0');
is($node->safe_psql('postgres', $catalog), $before, 'no clm function changed');
is($node->safe_psql('postgres', q{SELECT string_agg(v::text, '|' ORDER BY customer) FROM per_customer v}), $rows,
	'the view over both aggregates reads the same');

# without the user aggregate, the update goes through and the view over
# clm.purchase_summary keeps working
$node->safe_psql('postgres', q{
CREATE OR REPLACE VIEW per_customer AS
SELECT customer, clm.purchase_summary(at, amount, '2024-02-01', '7 days') AS s,
       clm.purchase_summary(at, amount, '2024-02-01', '7 days') AS mine
FROM orders GROUP BY customer;
DROP AGGREGATE public.my_summary(timestamptz, numeric, timestamptz, interval);
ALTER EXTENSION clm UPDATE;
});
isnt($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'clm'}), '1.0',
	'the update succeeds once the user aggregate is gone');
is($node->safe_psql('postgres', q{SELECT string_agg(v::text, '|' ORDER BY customer) FROM per_customer v}), $rows,
	'the view over clm.purchase_summary gives the same result after the update');

$node->stop;
done_testing();
