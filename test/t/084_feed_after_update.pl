# 084_feed_after_update: a session that made stage changes on a 1.0
# catalog (which has no feed) writes feed events once another session has
# run ALTER EXTENSION clm UPDATE and subscribed a consumer: the session's
# cached lifecycle state notices the new clm.stage_event and reloads.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('feed_update');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION clm VERSION '1.0';
CREATE TABLE customers (id int PRIMARY KEY, status clm.lifecycle_stage);
CREATE TRIGGER g BEFORE INSERT OR UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
});

# a long-lived session (a pooled connection) changes a stage on 1.0
my $app = $node->background_psql('postgres');
$app->query_safe(q{INSERT INTO customers VALUES (1, 'prospect')});

$node->safe_psql('postgres', q{
ALTER EXTENSION clm UPDATE;
SELECT clm.feed_subscribe('mail');
});

$app->query_safe(q{INSERT INTO customers VALUES (2, 'prospect')});
$app->query_safe(q{UPDATE customers SET status = 'lead' WHERE id = 1});
$app->quit;

is($node->safe_psql('postgres', q{
	SELECT string_agg(customer_key || ':' || to_stage, ',' ORDER BY id) FROM clm.stage_event}),
	'2:prospect,1:lead', 'the session that began on 1.0 writes the events of its later changes');

done_testing();
