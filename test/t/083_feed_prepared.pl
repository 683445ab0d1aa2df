# 083_feed_prepared: with a feed consumer subscribed, a stage change in a
# transaction prepared for two-phase commit prepares and commits: clm
# announces new events just before a plain commit, not from the trigger
# (a transaction that has issued NOTIFY cannot be prepared), and the
# prepared transaction's events are delivered all the same.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('prepared');
$node->init;
$node->append_conf('postgresql.conf', "max_prepared_transactions = 4\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION clm;
CREATE TABLE customers (id int PRIMARY KEY, status clm.lifecycle_stage);
CREATE TRIGGER g BEFORE INSERT OR UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
SELECT clm.feed_subscribe('mail');
});

# three in a row, so that at least one falls outside the notify interval
for my $i (1 .. 3)
{
	my ($ret, $out, $err) = $node->psql('postgres', qq{
BEGIN;
INSERT INTO customers VALUES ($i, 'prospect');
PREPARE TRANSACTION 'p$i';
COMMIT PREPARED 'p$i';
});
	is($ret, 0, "a stage change in prepared transaction $i commits") or diag($err);
}
is($node->safe_psql('postgres', q{SELECT string_agg(customer_key, ',' ORDER BY position, id) FROM clm.feed_read('mail')}),
	'1,2,3', 'and the feed delivers its events');

# a plain commit still announces them
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN clm_stage_feed');
$node->safe_psql('postgres', q{INSERT INTO customers VALUES (4, 'prospect')});
my $got = '';
for (1 .. 50)
{
	$got = $listener->query_safe('SELECT 1');
	last if $listener->{stderr} =~ /clm_stage_feed/ || $got =~ /clm_stage_feed/;
	sleep(0.1);
}
like($listener->{stderr} . $got, qr/notification "clm_stage_feed"/, 'a plain commit notifies the listeners');
$listener->quit;

done_testing();
