# 082_feed_consumer: a real consumer of the stage-change feed survives being
# killed.  A Python consumer (python3-psycopg, test/t/082_feed_consumer.py)
# reads the feed while pgbench runs 4 clients inserting orders and one
# running clm.refresh_stages, whose lapses a late order may withdraw.  The
# consumer is killed with SIGKILL mid-way and started again.  In the end,
# after de-duplication by event id, it has seen every event exactly once:
# one per stage change in clm.stage_history, plus the lapses withdrawn and
# their withdrawals, and for each customer in the order of its changes
# (each event starts at the stage the one before ended in, and the
# history ids grow).  Writers never wait for the consumer: its reads take
# no lock a writer needs.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $python = '/usr/bin/python3';
plan skip_all => 'python3-psycopg is not installed'
  unless system("$python -c 'import psycopg' 2>/dev/null") == 0;

my $customers = 400;
my $node = PostgreSQL::Test::Cluster->new('feed');
$node->init;
$node->append_conf('postgresql.conf', "log_statement = none\n");
$node->start;
$node->safe_psql('postgres', qq{
    CREATE EXTENSION clm;
    CREATE SCHEMA crm;
    CREATE TABLE crm.customers (id int PRIMARY KEY, status clm.lifecycle_stage, status_since timestamptz);
    CREATE TABLE crm.orders (customer_id int NOT NULL REFERENCES crm.customers,
                             ordered_at timestamptz NOT NULL, amount numeric NOT NULL);
    CREATE INDEX ON crm.orders (customer_id, ordered_at);
    CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON crm.customers
        FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'status_since');
    CREATE TRIGGER stage_on_order AFTER INSERT ON crm.orders
        FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('crm.customers', 'customer_id', 'status', 'ordered_at');
    SELECT clm.feed_subscribe('marketing');
    INSERT INTO crm.customers SELECT i, 'prospect', now() - interval '3 years'
    FROM generate_series(1, $customers) i;
    INSERT INTO crm.orders
    SELECT i, now() - interval '3 years' + (i % 7 + k * 40) * interval '1 day', 20
    FROM generate_series(1, $customers) i, generate_series(0, i % 3) k ORDER BY 2;
});

my $tmp = PostgreSQL::Test::Utils::tempdir();
open(my $fh, '>', "$tmp/order.sql") or die;
print $fh qq{\\set c random(1, $customers)
INSERT INTO crm.orders VALUES (:c, clock_timestamp() - random() * interval '200 days', 10);
};
close $fh;
open($fh, '>', "$tmp/refresh.sql") or die;
print $fh q{SELECT clm.refresh_stages('crm.customers', 'crm.orders', 'id', 'status',
                          'customer_id', 'ordered_at', clock_timestamp() - interval '30 days');
};
close $fh;

my $connstr = $node->connstr('postgres');
my ($out, $stop) = ("$tmp/events.txt", "$tmp/stop");
sub consumer
{
	return IPC::Run::start([ $python, "$ENV{CLM_ROOT}/test/t/082_feed_consumer.py",
			$connstr, 'marketing', $out, $stop ],
		'>', \my $o, '2>', \my $e);
}

my $consumer = consumer();
my ($o1, $e1, $o2, $e2);
my $orders = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', '12', '-f', "$tmp/order.sql", $connstr ],
	'>', \$o1, '2>', \$e1);
my $refresh = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '1', '-T', '12', '-f', "$tmp/refresh.sql", $connstr ],
	'>', \$o2, '2>', \$e2);

# kill the consumer once it has handled some events, start it again
my $deadline = time() + 30;
sleep(1) while time() < $deadline && (!-e $out || -s $out < 2000);
ok(-s $out >= 2000, 'the consumer handled events before it was killed');
$consumer->signal('KILL');
$consumer->finish;
$consumer = consumer();

$orders->finish;
$refresh->finish;
like($o1, qr/number of transactions actually processed: [1-9]/, 'the order writers ran');
like($o2, qr/number of transactions actually processed: [1-9]/, 'clm.refresh_stages ran');

# let the consumer drain the feed, then stop it
open($fh, '>', $stop) or die;
close $fh;
$consumer->finish;

open($fh, '<', $out) or die "$out: $!";
my (%event, @order, $starts, $done, $torn, $notified);
while (my $line = <$fh>)
{
	chomp $line;
	if ($line eq 'START') { $starts++; next; }
	if ($line eq 'DONE') { $done++; next; }
	if ($line =~ /^NOTIFIED (\d+)$/) { $notified = $1; next; }
	my @f = split /\|/, $line;
	if (@f != 7 || $f[0] !~ /^\d+$/)
	{
		$torn++;    # the line being written when the consumer was killed
		next;
	}
	next if $event{ $f[0] };    # seen before: de-duplicated
	$event{ $f[0] } = { customer => $f[2], from => $f[3], to => $f[4], history => $f[5],
		withdrawal => $f[6] };
	push @order, $f[0];
}
close $fh;
is($starts, 2, 'the consumer ran twice');
is($done, 1, 'and the second run finished');
cmp_ok($notified // 0, '>', 0, 'the consumer received notifications while the writers ran');
ok(!defined $torn || $torn <= 1, 'at most one torn line, from the kill');

# every event of the server, exactly once
my $server_events = $node->safe_psql('postgres', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM clm.stage_event');
is(join(',', sort { $a <=> $b } keys %event), $server_events, 'the consumer saw every event, each once');
my $changes = $node->safe_psql('postgres', q{SELECT count(*) FROM clm.stage_history});
my $withdrawals = grep { $event{$_}{withdrawal} eq 't' } keys %event;
my %lapsed_away = map { $event{$_}{history} => 1 } grep { $event{$_}{withdrawal} eq 't' } keys %event;
my %history_seen;
$history_seen{ $event{$_}{history} }++ for grep { $event{$_}{withdrawal} eq 'f' } keys %event;
is(scalar(keys %history_seen) - scalar(grep { $history_seen{$_} } keys %lapsed_away), $changes,
	"one event per stage change in the history ($changes), besides withdrawn lapses ($withdrawals)");
ok(!grep({ $_ > 1 } values %history_seen), 'no change has two events');
cmp_ok($changes, '>', 500, 'many stage changes were made meanwhile');

# per customer, in the order of its changes
my (%last_to, %last_history, $broken);
for my $id (@order)
{
	my $e = $event{$id};
	my $c = $e->{customer};
	if (defined $last_to{$c} && $e->{from} ne $last_to{$c})
	{
		$broken++;
		diag("customer $c: event $id starts at $e->{from}, the one before ended at $last_to{$c}");
	}
	if ($e->{withdrawal} eq 'f' && defined $last_history{$c} && $e->{history} <= $last_history{$c})
	{
		$broken++;
		diag("customer $c: event $id (history $e->{history}) after history $last_history{$c}");
	}
	$last_to{$c} = $e->{to};
	$last_history{$c} = $e->{history} if $e->{withdrawal} eq 'f';
}
ok(!$broken, 'each customer\'s events came in the order of its changes');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM crm.customers c
	WHERE c.status IS DISTINCT FROM (SELECT e.to_stage FROM clm.stage_event e
	                                  WHERE e.customer_key = c.id::text ORDER BY e.position DESC, e.id DESC LIMIT 1)}),
	'0', 'the last event of each customer is its stage');

done_testing();
