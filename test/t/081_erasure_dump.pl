# 081_erasure_dump: after clm.forget_customer, a pg_dump of the database
# holds nothing of the erased customer: clm's tables are extension
# configuration data that pg_dump writes out (stage history, campaigns), and
# the customer views are refreshed.  The same dump taken before the erasure
# holds the key, and the one after still holds the other customers, so the
# checks can fail.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('erasure');
$node->init;
$node->start;

my $key = 'erase-me-91c2';
$node->safe_psql('postgres', qq{
SET timezone = 'UTC';
CREATE EXTENSION clm;
SELECT clm.feed_subscribe('mail');
CREATE SCHEMA shop;
CREATE TABLE shop.customers (id text PRIMARY KEY, status clm.lifecycle_stage, since timestamptz);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON shop.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'since');
CREATE TABLE shop.orders (customer_id text REFERENCES shop.customers, ordered_at timestamptz, amount numeric);
CREATE TRIGGER stage_on_order AFTER INSERT ON shop.orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('shop.customers', 'customer_id', 'status', 'ordered_at');
INSERT INTO shop.customers (id, status, since)
SELECT CASE WHEN i = 5 THEN '$key' ELSE 'keep-' || i END, 'prospect', '2025-01-01'
FROM generate_series(1, 20) i;
INSERT INTO shop.orders
SELECT CASE WHEN i = 5 THEN '$key' ELSE 'keep-' || i END,
       timestamptz '2025-02-01' + (i * 5 + k * 11) * interval '1 day', 20 * k
FROM generate_series(1, 20) i, generate_series(1, 1 + i % 4) k;
SELECT clm.create_customer_view('shop.cv', 'shop.orders', 'customer_id', 'ordered_at', 'amount', as_of => '2025-12-01');
SELECT clm.create_campaign('jan', 'shop.customers', 'shop.orders', 0.5, '2025-06-01');
SELECT clm.campaign_enroll('jan', id) FROM shop.customers;
});

# dump DATABASE: the plain-text dump of the database
sub dump_text
{
	my ($name) = @_;
	my $file = "$PostgreSQL::Test::Utils::tmp_check/$name.sql";
	$node->command_ok([ 'pg_dump', '-f', $file, '-d', $node->connstr('postgres') ], "pg_dump $name");
	return slurp_file($file);
}

my $before = dump_text('before');
like($before, qr/\Q$key\E/, 'before the erasure the dump holds the customer');

$node->safe_psql('postgres', qq{
BEGIN;
DELETE FROM shop.orders WHERE customer_id = '$key';
DELETE FROM shop.customers WHERE id = '$key';
SELECT clm.forget_customer('shop.customers', '$key');
COMMIT;
});

my $after = dump_text('after');
unlike($after, qr/\Q$key\E/, 'after the erasure the dump holds nothing of the customer');
like($after, qr/keep-13/, 'and still holds the other customers');
like($after, qr/COPY clm\.stage_history/, 'with the stage history');
like($after, qr/COPY clm\.campaign_member/, 'and the campaign memberships');
unlike($after, qr/COPY clm\.(stage_event|feed_consumer)/, 'but not the feed, whose positions are this cluster\'s');
is($node->safe_psql('postgres', "SELECT count(*) > 0, count(*) FILTER (WHERE customer_key = '$key') FROM clm.stage_event"),
	't|0', 'the feed holds the other customers\' events, and none of the erased one');

done_testing();
