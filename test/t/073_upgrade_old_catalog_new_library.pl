# 073_upgrade_old_catalog_new_library: the newest clm library serves a
# database whose catalog is still at 1.0.  That is every database between
# "install the new binaries" and "ALTER EXTENSION clm UPDATE" (README,
# Upgrading): the 1.0 SQL objects call into the current clm.so.
#
# A database on the 1.0 catalog and one on a fresh install of the current
# version run the same 1.0 behaviour checks: the triggers (a refused
# transition, an order that moves a customer, the history they write),
# clm.rfm_agg, a BG/NBD and a Gamma-Gamma fit, predictions with the
# published CDNOW model, and a customer view.  Each check has its own
# expected value, and the 1.0 database must give exactly what the current
# one gives.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('old_catalog');
$node->init;
$node->start;

my $sample = "$ENV{CLM_ROOT}/test/data/btyd_sample.csv";
ok(-r $sample, 'the BTYD sample data is there');

$node->safe_psql('postgres', q{CREATE DATABASE old; CREATE DATABASE current});
$node->safe_psql('old', q{CREATE EXTENSION clm VERSION '1.0'});
$node->safe_psql('current', q{CREATE EXTENSION clm});
is($node->safe_psql('old', q{SELECT extversion FROM pg_extension WHERE extname = 'clm'}),
	'1.0', 'the old database is on the 1.0 catalog');

for my $db ('old', 'current')
{
	$node->safe_psql($db, qq{
SET timezone = 'UTC';
CREATE TABLE customers (id bigint PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TABLE orders (customer_id bigint REFERENCES customers, at timestamptz, amount numeric(10,2));
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
CREATE TRIGGER on_order AFTER INSERT ON orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('customers', 'customer_id', 'status', 'at');
INSERT INTO customers SELECT i, 'prospect', '2025-01-01 00:00+00' FROM generate_series(1, 40) i;
INSERT INTO orders
SELECT i, timestamptz '2025-01-10 00:00+00' + ((i * 13 + k * 29) % 150) * interval '1 day', 10 * k + i % 7
FROM generate_series(1, 30) i, generate_series(1, 1 + i % 4) k ORDER BY 2;
CREATE TABLE btyd (id int, x float8, t_x float8, t float8, mean_spend float8);
\\copy btyd FROM '$sample' WITH (FORMAT csv)
SELECT clm.create_customer_view('public.cv', 'public.orders', 'customer_id', 'at', 'amount',
                                as_of => '2025-07-01 00:00+00');
});
}

my @checks = (
	[
		'stage_guard refuses a transition no rule allows',
		q{UPDATE customers SET status = 'churned' WHERE id = 40},
		qr/ERROR:  lifecycle transition from "prospect" to "churned" is not allowed/
	],
	[
		'stage_on_order moved the customers with orders',
		q{SELECT string_agg(status || ':' || n, ',' ORDER BY status) FROM (
		  SELECT status, count(*) AS n FROM customers GROUP BY 1) s},
		qr/^prospect:10,first_purchase:7,repeat:23$/
	],
	[
		'the triggers wrote the history',
		q{SELECT string_agg(coalesce(from_stage::text, '-') || '>' || to_stage || ':' || n, ',' ORDER BY from_stage NULLS FIRST, to_stage) FROM (
		  SELECT from_stage, to_stage, count(*) AS n FROM clm.stage_history GROUP BY 1, 2) s},
		qr/^->prospect:40,prospect>first_purchase:30,first_purchase>repeat:23$/
	],
	[
		'clm.rfm_agg',
		q{SELECT clm.rfm_agg(at, amount, '2025-07-01 00:00+00')::text FROM (VALUES
		  ('2025-01-01 00:00+00'::timestamptz, 10::numeric), ('2025-03-01 00:00+00', 20), ('2025-06-01 00:00+00', 30.5)) o(at, amount)},
		qr/^\(30,3,60\.5,"2025-01-01 00:00:00\+00","2025-06-01 00:00:00\+00",181,75\.5\)$/
	],
	[
		'a BG/NBD fit',
		q{SELECT f.converged || ' ' || round(f.r::numeric, 6) || ' ' || round(f.alpha::numeric, 6) || ' '
		         || round(f.a::numeric, 6) || ' ' || round(f.b::numeric, 6) || ' ' || f.n
		  FROM (SELECT (clm.bgnbd_fit(x, t_x, t)).* FROM btyd) f},
		qr/^true [0-9.]+ [0-9.]+ [0-9.]+ [0-9.]+ 5000$/
	],
	[
		'a Gamma-Gamma fit',
		q{SELECT f.converged || ' ' || round(f.p::numeric, 6) || ' ' || round(f.q::numeric, 6) || ' '
		         || round(f.gamma::numeric, 6)
		  FROM (SELECT (clm.gamma_gamma_fit(x, mean_spend)).* FROM btyd WHERE x > 0) f},
		qr/^true [0-9.]+ [0-9.]+ [0-9.]+$/
	],
	[
		'predictions with the published CDNOW model (Hardie: 1.226, P(alive) 0.7266)',
		q{SELECT round(clm.bgnbd_expected_purchases(m, 39, 2, 30.43, 38.86)::numeric, 3) || ' '
		         || round(clm.bgnbd_p_alive(m, 2, 30.43, 38.86)::numeric, 4)
		  FROM (SELECT ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd) s(m)},
		qr/^1\.226 0\.7266$/
	],
	[
		'the customer view',
		q{SELECT count(*) || ' ' || sum(revenue) || ' ' || count(predicted_clv) || ' '
		         || md5(string_agg((to_jsonb(v) - 'referred_customers' - 'referred_revenue')::text,
		                           '|' ORDER BY customer_key)) FROM cv v},
		qr/^30 \d+(\.\d+)? 30 \w+$/
	],
	[
		'the customer view refreshes',
		q{SELECT clm.refresh_customer_view('public.cv', '2025-08-01 00:00+00')::date},
		qr/^2025-08-01$/
	],
);

for my $c (@checks)
{
	my ($name, $sql, $expect) = @$c;
	my %r;
	for my $db ('old', 'current')
	{
		my ($ret, $out, $err) = $node->psql($db, "SET timezone = 'UTC';\n$sql");
		$r{$db} = $ret == 0 ? $out : $err;
	}
	like($r{current}, $expect, "$name: the current version gives the expected result");
	is($r{old}, $r{current}, "$name: the 1.0 catalog on the new library gives the same");
}

$node->stop;
done_testing();
