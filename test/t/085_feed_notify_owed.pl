# 085_feed_notify_owed: a session announces new events at most every 100 ms,
# and a commit within that interval is not left unannounced: its
# notification is sent by the session's next commit after the interval,
# whatever that transaction does.  Once paid, nothing more is sent.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('notify_owed');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION clm;
CREATE TABLE customers (id int PRIMARY KEY, status clm.lifecycle_stage);
CREATE TRIGGER g BEFORE INSERT OR UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
SELECT clm.feed_subscribe('mail');
});

my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN clm_stage_feed');
my $heard = '';

# the notifications the listener has received so far (psql prints each
# after the result of its next query)
sub notifications
{
	usleep(300_000);
	$heard .= $listener->query_safe('SELECT 1') . ($listener->{stderr} // '');
	$listener->{stderr} = '';
	my $n = () = $heard =~ /notification "clm_stage_feed"/g;
	return $n;
}

my $writer = $node->background_psql('postgres');
# two stage changes in two transactions, a few milliseconds apart: the
# second commits within 100 ms of the first's notification
$writer->query_safe(q{INSERT INTO customers VALUES (1, 'prospect');
INSERT INTO customers VALUES (2, 'prospect');});
my $after_two = notifications();
ok($after_two >= 1, "the first commit is announced ($after_two so far)");

# the writer's next commit, an event-less one 300 ms later, pays what is owed
$writer->query_safe('SELECT 1');
is(notifications(), 2, 'every commit with events is announced, the second by the next commit');

# and once paid, nothing more is owed
$writer->query_safe('SELECT 1');
is(notifications(), 2, 'an event-less commit with nothing owed announces nothing');

# the consumer woken by them reads both changes
is($node->safe_psql('postgres', q{SELECT string_agg(customer_key, ',' ORDER BY position, id) FROM clm.feed_read('mail')}),
	'1,2', 'and the feed delivers both');

$writer->quit;
$listener->quit;
done_testing();
