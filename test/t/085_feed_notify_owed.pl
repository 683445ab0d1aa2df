# 085_feed_notify_owed: a session announces new events at most every 100 ms,
# and a commit within that interval is not left unannounced: its
# notification is sent by the session's next writing commit after the
# interval, whether that transaction wrote events or not (a read-only one
# is not made to write a commit record for it).  Once paid, nothing more is
# sent.
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
$writer->query_safe('CREATE TABLE notes (n int)');
# two stage changes in two transactions, a few milliseconds apart, so that
# the second commits within 100 ms of the first's notification (tried again
# with new customers should the machine stall between them)
my ($heard_before, $after_two, $id) = (0, 0, 0);
for my $try (1 .. 5)
{
	$heard_before = notifications();
	$writer->query_safe(sprintf(q{INSERT INTO customers VALUES (%d, 'prospect');
INSERT INTO customers VALUES (%d, 'prospect');}, $id + 1, $id + 2));
	$id += 2;
	$after_two = notifications() - $heard_before;
	last if $after_two == 1;
	usleep(300_000);
}
is($after_two, 1, 'two commits 100 ms apart or less: the first is announced, the second not yet');

# a read-only transaction does not pay what is owed; the writer's next
# writing commit, without events, does
$writer->query_safe('SELECT 1');
is(notifications() - $heard_before, 1, 'a read-only commit announces nothing');
$writer->query_safe('INSERT INTO notes VALUES (1)');
is(notifications() - $heard_before, 2, 'the next writing commit announces the second');

# and once paid, nothing more is owed
$writer->query_safe('INSERT INTO notes VALUES (2)');
is(notifications() - $heard_before, 2, 'a writing commit with nothing owed announces nothing');

# the consumer woken by them reads every change
is($node->safe_psql('postgres', q{SELECT count(*) FROM clm.feed_read('mail')}),
	$id, 'and the feed delivers every change');

$writer->quit;
$listener->quit;
done_testing();
