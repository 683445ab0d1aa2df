# 080_scale_postgres_fdw: clm scaled out with postgres_fdw (doc/scale.md).
#
# Two shard clusters and a coordinator on this machine.  On the coordinator,
# orders is hash-partitioned by customer into two foreign partitions, one
# per shard, whose servers list clm in `extensions`; a plain local table
# holds the same orders for the single-node results.  With partitionwise
# aggregation the per-customer aggregates (clm.rfm_agg, clm.purchase_summary,
# and the per-customer query of a customer view) run on the shards: EXPLAIN
# VERBOSE shows clm's aggregates in each partition's Remote SQL and no
# aggregation left on the coordinator.  The global aggregates run in two
# levels: a state per shard (clm.rfm_thresholds_state_agg,
# clm.purchase_summary_state_agg), merged on the coordinator; thresholds,
# summaries and the BG/NBD and Gamma-Gamma fits equal the single-node
# results exactly, and so does the customer view.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my @shards;
for my $i (1, 2)
{
	my $s = PostgreSQL::Test::Cluster->new("shard$i");
	$s->init;
	$s->start;
	# the shard's orders, and its per-customer RFM at the as-of of the test,
	# which the coordinator reads for the two-level thresholds
	$s->safe_psql('postgres', q{
CREATE EXTENSION clm;
CREATE TABLE orders (customer_id int NOT NULL, ordered_at timestamptz NOT NULL, amount numeric(12,2) NOT NULL);
CREATE VIEW customer_rfm AS
SELECT customer_id, clm.rfm_agg(ordered_at, amount, '2025-01-01 00:00+00') AS rfm
FROM orders GROUP BY customer_id;
});
	push @shards, $s;
}

my $coord = PostgreSQL::Test::Cluster->new('coordinator');
$coord->init;
$coord->start;
$coord->safe_psql('postgres', q{
CREATE EXTENSION clm;
CREATE EXTENSION postgres_fdw;
ALTER DATABASE postgres SET enable_partitionwise_aggregate = on;
ALTER DATABASE postgres SET timezone = 'UTC';
});
for my $i (1, 2)
{
	my $s = $shards[ $i - 1 ];
	my ($host, $port) = ($s->host, $s->port);
	$coord->safe_psql('postgres', qq{
CREATE SERVER shard$i FOREIGN DATA WRAPPER postgres_fdw
    OPTIONS (host '$host', port '$port', dbname 'postgres', extensions 'clm', fetch_size '10000');
CREATE USER MAPPING FOR CURRENT_USER SERVER shard$i;
CREATE FOREIGN TABLE customer_rfm_s$i (customer_id int, rfm clm.rfm)
    SERVER shard$i OPTIONS (table_name 'customer_rfm');
});
}
$coord->safe_psql('postgres', q{
CREATE TABLE orders (customer_id int NOT NULL, ordered_at timestamptz NOT NULL, amount numeric(12,2) NOT NULL)
    PARTITION BY HASH (customer_id);
CREATE FOREIGN TABLE orders_s1 PARTITION OF orders FOR VALUES WITH (MODULUS 2, REMAINDER 0)
    SERVER shard1 OPTIONS (table_name 'orders');
CREATE FOREIGN TABLE orders_s2 PARTITION OF orders FOR VALUES WITH (MODULUS 2, REMAINDER 1)
    SERVER shard2 OPTIONS (table_name 'orders');
-- the same orders on one node: 3,000 customers, ~8 orders each, amounts
-- with cents, several orders on some days
CREATE TABLE orders_local AS
SELECT c AS customer_id,
       timestamptz '2023-01-01 00:00+00' + ((c * 7 + k * k * 13) % 700) * interval '1 day'
           + (k % 3) * interval '5 hours' AS ordered_at,
       round(((c * 7919 + k * 104729) % 50000) / 100.0 + 0.01, 2)::numeric(12,2) AS amount
FROM generate_series(1, 3000) c, generate_series(1, 1 + c % 15) k;
INSERT INTO orders SELECT * FROM orders_local;
});
for my $s (@shards)
{
	$s->safe_psql('postgres', 'ANALYZE orders');
}
$coord->safe_psql('postgres', 'ANALYZE orders_local');

my ($n1, $n2) = map { $_->safe_psql('postgres', 'SELECT count(*) FROM orders') } @shards;
cmp_ok($n1, '>', 1000, 'shard 1 holds orders');
cmp_ok($n2, '>', 1000, 'shard 2 holds orders');
is($n1 + $n2, $coord->safe_psql('postgres', 'SELECT count(*) FROM orders_local'),
	'the shards hold every order once');

# --- per-customer aggregates run on the shards ------------------------------

my %per_customer = (
	'clm.rfm_agg' => q{SELECT customer_id, clm.rfm_agg(ordered_at, amount, '2025-01-01 00:00+00') AS v
	    FROM %s GROUP BY customer_id},
	'clm.purchase_summary' => q{SELECT customer_id, clm.purchase_summary(ordered_at, amount, '2025-01-01 00:00+00', '7 days') AS v
	    FROM %s GROUP BY customer_id},
	'clm.rfm_state_agg' => q{SELECT customer_id, clm.rfm_state_agg(ordered_at, amount) AS v
	    FROM %s GROUP BY customer_id},
	'clm.purchase_summary_state_agg' => q{SELECT customer_id,
	    clm.purchase_summary_state_agg(ordered_at, amount, '2025-01-01 00:00+00', '7 days') AS v
	    FROM %s GROUP BY customer_id},
);
for my $agg (sort keys %per_customer)
{
	my $q = $per_customer{$agg};
	my $plan = $coord->safe_psql('postgres', 'EXPLAIN (VERBOSE, COSTS OFF) ' . sprintf($q, 'orders'));
	note($plan) if $agg eq 'clm.rfm_agg';
	my @remote = ($plan =~ /Remote SQL: (SELECT [^\n]*)/g);
	is(scalar(grep { /\Q$agg\E\(/ && /GROUP BY/ } @remote), 2, "$agg runs on both shards (Remote SQL)")
	  or diag($plan);
	unlike($plan, qr/(Hash|Group)Aggregate|Partial/, "$agg: nothing is aggregated on the coordinator")
	  or diag($plan);
	my $digest = q{SELECT count(*) || ':' || md5(string_agg(v::text, '|' ORDER BY customer_id)) FROM (%s) q};
	is($coord->safe_psql('postgres', sprintf($digest, sprintf($q, 'orders'))),
		$coord->safe_psql('postgres', sprintf($digest, sprintf($q, 'orders_local'))),
		"$agg over the shards equals the single-node result");
}

# --- global aggregates: a state per shard, merged on the coordinator --------

my $thr_two_level = q{
SELECT clm.rfm_thresholds_final(clm.rfm_thresholds_merge(st))
FROM (SELECT clm.rfm_thresholds_state_agg(rfm) AS st FROM customer_rfm_s1
      UNION ALL
      SELECT clm.rfm_thresholds_state_agg(rfm) FROM customer_rfm_s2) per_shard};
my $plan = $coord->safe_psql('postgres', "EXPLAIN (VERBOSE, COSTS OFF) $thr_two_level");
is(scalar(() = $plan =~ /Remote SQL: SELECT clm\.rfm_thresholds_state_agg\(/g), 2,
	'the threshold state of each shard is built on the shard')
  or diag($plan);
my $thr_single = q{
SELECT clm.rfm_thresholds(rfm) FROM (
    SELECT clm.rfm_agg(ordered_at, amount, '2025-01-01 00:00+00') AS rfm FROM orders_local GROUP BY customer_id) c};
my $thr = $coord->safe_psql('postgres', $thr_single);
like($thr, qr/^\("\{[0-9.,]+\}","\{[0-9.,]+\}","\{[0-9.,]+\}"\)$/, 'single-node thresholds');
is($coord->safe_psql('postgres', $thr_two_level), $thr,
	'thresholds merged from the shard states equal the single-node thresholds');

# the summaries come from the shards (partitionwise); the fits run on the
# coordinator over them, and equal the single-node fits bit for bit
my $fits = q{
SELECT clm.bgnbd_fit((s).x, (s).t_x, (s).t)::text || ' ' ||
       clm.gamma_gamma_fit((s).x, (s).mean_spend) FILTER (WHERE (s).x > 0)::text
FROM (SELECT clm.purchase_summary(ordered_at, amount, '2025-01-01 00:00+00', '7 days') AS s
      FROM %s GROUP BY customer_id) c};
my $fit_single = $coord->safe_psql('postgres', sprintf($fits, 'orders_local'));
like($fit_single, qr/^\([^ ]*,t,[^ ]*\) \([^ ]*,t,[^ ]*\)$/, 'single-node fits converge');
is($coord->safe_psql('postgres', sprintf($fits, 'orders')), $fit_single,
	'BG/NBD and Gamma-Gamma fits over the shards equal the single-node fits');

# one customer's orders split over both shards: the summary state of each
# part, merged, is that of all its orders
my $split = q{
SELECT clm.purchase_summary_final(clm.purchase_summary_merge(st))::text
FROM (SELECT clm.purchase_summary_state_agg(ordered_at, amount, '2025-01-01 00:00+00', '7 days') AS st
      FROM orders_s1 WHERE customer_id IN (SELECT min(customer_id) FROM orders_s1)
      UNION ALL
      SELECT clm.purchase_summary_state_agg(ordered_at + interval '1 hour', amount + 0.01, '2025-01-01 00:00+00', '7 days')
      FROM orders_s1 WHERE customer_id IN (SELECT min(customer_id) FROM orders_s1)) parts};
my $whole = q{
SELECT clm.purchase_summary(at, amt, '2025-01-01 00:00+00', '7 days')::text
FROM (SELECT ordered_at AS at, amount AS amt FROM orders_local WHERE customer_id = (SELECT min(customer_id) FROM orders_s1)
      UNION ALL
      SELECT ordered_at + interval '1 hour', amount + 0.01 FROM orders_local
      WHERE customer_id = (SELECT min(customer_id) FROM orders_s1)) o};
is($coord->safe_psql('postgres', $split), $coord->safe_psql('postgres', $whole),
	'purchase summary states of two parts of one customer merge into the summary of all its orders');

# --- a customer view over the sharded orders ---------------------------------

$coord->safe_psql('postgres', q{
SELECT clm.create_customer_view('public.cv_sharded', 'public.orders', 'customer_id', 'ordered_at', 'amount',
                                as_of => '2025-01-01 00:00+00');
SELECT clm.create_customer_view('public.cv_local', 'public.orders_local', 'customer_id', 'ordered_at', 'amount',
                                as_of => '2025-01-01 00:00+00');
});
my $view_plan = $coord->safe_psql('postgres',
	q{SELECT 'EXPLAIN (VERBOSE, COSTS OFF) ' || rtrim(pg_get_viewdef('cv_sharded'::regclass), ';')});
$plan = $coord->safe_psql('postgres', $view_plan);
my @view_remote = ($plan =~ /Remote SQL: (SELECT [^\n]*)/g);
is(scalar(grep { /clm\.rfm_agg\(/ && /clm\.purchase_summary\(/ && /GROUP BY/ } @view_remote), 2,
	"the customer view's per-customer columns are computed on both shards")
  or diag($plan);
# Every column equal, bit for bit: the rows reach the predictions in a
# different order in the two plans, and a prediction must not depend on it.
my $view_digest = q{SELECT count(*) || ':' || md5(string_agg((v.customer_key, v.first_order_at, v.last_order_at,
    v.orders, v.revenue, v.recency_days, v.tenure_days, v.mean_gap_days, v.r_score, v.f_score, v.m_score,
    v.rfm_score, v.segment, v.stage, v.p_alive, v.expected_purchases, v.predicted_clv, v.as_of)::text, '|'
    ORDER BY customer_key))
    FROM %s v};
is($coord->safe_psql('postgres', sprintf($view_digest, 'cv_sharded')),
	$coord->safe_psql('postgres', sprintf($view_digest, 'cv_local')),
	'the customer view over the shards equals the single-node view, row for row');
is($coord->safe_psql('postgres', q{
SELECT (a.bgnbd, a.gamma_gamma, a.thresholds) IS NOT DISTINCT FROM (b.bgnbd, b.gamma_gamma, b.thresholds)
FROM clm.customer_view a, clm.customer_view b WHERE a.view_name = 'cv_sharded' AND b.view_name = 'cv_local'}),
	't', 'and its models and thresholds are the single-node ones');

$_->stop for @shards;
$coord->stop;
done_testing();
