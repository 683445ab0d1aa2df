# 050_lifecycle_crash_recovery.pl: the lifecycle triggers keep the customers
# table and the stage history consistent through a server crash.
#
# pgbench runs 4 clients inserting orders (clm.stage_on_order and
# clm.stage_guard both on) and one client running clm.refresh_stages; the
# server is stopped with "pg_ctl stop -m immediate" while they run, then
# restarted.  Three rounds, each checking:
#   - every customer's stage equals the to_stage of their last history row;
#   - every customer's history is an unbroken chain (each row starts where
#     the one before ended, the first from NULL);
#   - every order whose commit pgbench saw acknowledged is there (a client
#     may have at most one more: a commit whose acknowledgement was lost).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;

my $customers = 200;
my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
# the cluster's default fsync = off is enough: an immediate stop ends the
# processes, not the machine, and committed WAL is in the OS page cache
$node->append_conf('postgresql.conf', "synchronous_commit = on\nlog_statement = none\n");
$node->start;

$node->safe_psql('postgres', qq{
    CREATE EXTENSION clm;
    CREATE SCHEMA crm;
    CREATE TABLE crm.customers (id int PRIMARY KEY, status clm.lifecycle_stage,
                                status_since timestamptz);
    CREATE TABLE crm.orders (id bigserial PRIMARY KEY,
                             customer_id int NOT NULL REFERENCES crm.customers,
                             ordered_at timestamptz NOT NULL, amount numeric NOT NULL,
                             client int NOT NULL, round int NOT NULL);
    CREATE INDEX ON crm.orders (customer_id, ordered_at);
    CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON crm.customers
        FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'status_since');
    CREATE TRIGGER stage_on_order AFTER INSERT ON crm.orders
        FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('crm.customers', 'customer_id', 'status', 'ordered_at');
    INSERT INTO crm.customers SELECT i, 'prospect', now() - interval '3 years'
    FROM generate_series(1, $customers) i;
    -- an old purchase history, so that refresh_stages has customers to lapse
    INSERT INTO crm.orders (customer_id, ordered_at, amount, client, round)
    SELECT i, now() - interval '3 years' + (i % 7 + k * 40) * interval '1 day', 20, -1, 0
    FROM generate_series(1, $customers) i, generate_series(0, i % 3) k ORDER BY 2;
});

my $tmp = PostgreSQL::Test::Utils::tempdir();
open(my $fh, '>', "$tmp/order.sql") or die;
print $fh qq{\\set c random(1, $customers)
INSERT INTO crm.orders (customer_id, ordered_at, amount, client, round)
VALUES (:c, clock_timestamp(), 10, :client_id, :round);
};
close $fh;
open($fh, '>', "$tmp/refresh.sql") or die;
print $fh q{SELECT clm.refresh_stages('crm.customers', 'crm.orders', 'id', 'status',
                          'customer_id', 'ordered_at', clock_timestamp() - interval '30 days');
};
close $fh;

# acknowledged transactions per client, from a pgbench per-transaction log
# (lines "client_id transaction_no time ..."; a failed one has "failed")
sub acknowledged
{
	my ($prefix) = @_;
	my %n;
	for my $f (glob("$prefix.*"))
	{
		open(my $lf, '<', $f) or die "$f: $!";
		while (<$lf>)
		{
			my @w = split;
			$n{ $w[0] }++ if @w >= 3 && $w[2] =~ /^\d+$/;
		}
		close $lf;
	}
	return \%n;
}

for my $round (1 .. 3)
{
	my $connstr = $node->connstr('postgres');
	my ($o1, $e1, $o2, $e2);
	my $orders = IPC::Run::start(
		[
			'pgbench', '-n', '-c', '4', '-j', '2', '-T', '60',
			'-D', "round=$round", '-l', "--log-prefix=$tmp/orders$round",
			'-f', "$tmp/order.sql", $connstr
		],
		'>', \$o1, '2>', \$e1);
	my $refresh = IPC::Run::start(
		[ 'pgbench', '-n', '-c', '1', '-T', '60', '-f', "$tmp/refresh.sql", $connstr ],
		'>', \$o2, '2>', \$e2);

	# let both run, then pull the plug mid-way
	my $deadline = time() + 60;
	sleep(1)
	  while time() < $deadline
	  && $node->safe_psql('postgres', "SELECT count(*) FROM crm.orders WHERE round = $round") < 500;
	sleep(1 + $round % 2);
	$node->stop('immediate');
	$orders->finish;
	$refresh->finish;
	$node->start;

	my $ack = acknowledged("$tmp/orders$round");
	my $total = 0;
	$total += $_ for values %$ack;
	cmp_ok($total, '>=', 500, "round $round: pgbench acknowledged orders before the crash");

	my %stored = split /[|\n]/, $node->safe_psql('postgres',
		"SELECT client, count(*) FROM crm.orders WHERE round = $round GROUP BY client");
	my @lost = grep { ($stored{$_} // 0) < $ack->{$_} } keys %$ack;
	my @extra = grep { ($stored{$_} // 0) > ($ack->{$_} // 0) + 1 } keys %stored;
	is("@lost", '', "round $round: every acknowledged order is stored");
	is("@extra", '', "round $round: at most one unacknowledged commit per client");

	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM crm.customers c
		LEFT JOIN LATERAL (SELECT h.to_stage FROM clm.stage_history h
		                   WHERE h.customer_key = c.id::text ORDER BY h.id DESC LIMIT 1) last ON true
		WHERE last.to_stage IS DISTINCT FROM c.status}),
		'0', "round $round: every customer's stage is their last history row's");

	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM (
		    SELECT from_stage, lag(to_stage) OVER w AS prev, row_number() OVER w AS n
		    FROM clm.stage_history WINDOW w AS (PARTITION BY customer_key ORDER BY id)) s
		WHERE from_stage IS DISTINCT FROM prev}),
		'0', "round $round: every history chain is unbroken");

	is($node->safe_psql('postgres', q{
		SELECT count(*) FILTER (WHERE h.from_stage IS NOT NULL AND h.from_stage <> h.to_stage)
		     = count(*) FILTER (WHERE h.from_stage IS NOT NULL)
		FROM clm.stage_history h}),
		't', "round $round: no history row records a non-move");
}

# the moves really happened under load: both triggers and the refresh wrote history
ok($node->safe_psql('postgres', q{
	SELECT count(DISTINCT to_stage) >= 4 FROM clm.stage_history WHERE from_stage IS NOT NULL}),
	'the run moved customers through several stages');

$node->stop;
done_testing();
