# 074_pg_upgrade_15_to_17: a PostgreSQL 15 cluster using clm upgrades to
# PostgreSQL 17 with pg_upgrade.  The 15 cluster (the host's PostgreSQL 15
# with the checkout's clm, which test/run_tests.sh --pg 17 prepares and names
# in CLM_PG15_INSTALL) holds two databases: "shop" on the current clm, with
# what users keep in and around it (customers under clm.stage_guard, orders
# under clm.stage_on_order, a rule edit and a policy, stage history from both
# triggers and from clm.refresh_stages, a customer view, clm.rfm_state and
# clm.btyd_fit_state values stored in their own tables, a user view over the
# history), and "legacy", still on clm 1.0.  pg_upgrade --check passes, then
# pg_upgrade moves the cluster to 17 (whose clm the suite installed); every
# table and view of both databases reads the same as on 15 (their full text,
# captured before and after), the stored states give the same results, the
# triggers still enforce the rules and write history, clm.refresh_stages
# works, and the 1.0 database updates with ALTER EXTENSION clm UPDATE.
#
# It runs on 17 only: the suite's run on 17 is the one that provides the 15
# install (on 15 and 18 it is skipped).  There, a missing 15 install is a
# failure, never a skip.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my ($major) = `pg_config --version` =~ /PostgreSQL (\d+)/
  or die "could not read the PostgreSQL version from pg_config";
plan skip_all => "pg_upgrade from PostgreSQL 15 is tested on 17, whose run provides the 15 install; "
  . "this is PostgreSQL $major"
  unless $major == 17;

my $old_inst = $ENV{CLM_PG15_INSTALL} // '';
unless (-x "$old_inst/bin/postgres")
{
	fail("PostgreSQL 15 with clm for pg_upgrade at CLM_PG15_INSTALL (\"$old_inst\"): "
		  . "test/run_tests.sh --pg 17 prepares it");
	done_testing();
	exit;
}
# The libraries the 15 programs need and this Debian lacks (run_tests.sh
# copies only sonames absent here, so the 17 programs never load one of
# them).  pg_upgrade starts the 15 programs itself, so they go into the
# environment of everything this test runs.
$ENV{LD_LIBRARY_PATH} = $ENV{CLM_PG15_LIBS} if $ENV{CLM_PG15_LIBS};
# timestamps render the same before and after
$ENV{PGTZ} = 'UTC';

command_like([ "$old_inst/bin/postgres", '--version' ],
	qr/\(PostgreSQL\) 15\./, 'the PostgreSQL 15 server runs here');

my $old = PostgreSQL::Test::Cluster->new('pg15', install_path => $old_inst);
$old->init;
$old->start;
$old->safe_psql('postgres', 'CREATE DATABASE shop');
$old->safe_psql('postgres', 'CREATE DATABASE legacy');

$old->safe_psql('shop', q{
CREATE EXTENSION clm;
CREATE SCHEMA crm;
CREATE TABLE crm.customers (id uuid PRIMARY KEY, status clm.lifecycle_stage, status_since timestamptz);
CREATE TABLE crm.orders (id bigserial PRIMARY KEY,
                         customer_id uuid NOT NULL REFERENCES crm.customers,
                         ordered_at timestamptz NOT NULL, amount numeric(10,2) NOT NULL);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON crm.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'status_since');
CREATE TRIGGER stage_on_order AFTER INSERT ON crm.orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('crm.customers', 'customer_id', 'status', 'ordered_at');
-- user edits: a rule added, a default removed, a policy added
INSERT INTO clm.stage_transition_rule VALUES ('churned', 'lead');
DELETE FROM clm.stage_transition_rule WHERE from_stage = 'reactivated' AND to_stage = 'loyal';
INSERT INTO clm.lifecycle_policy (name, fallback_gap_days) VALUES ('coffee', 14);
-- history from stage_guard (inserts), stage_on_order (orders) and refresh_stages
INSERT INTO crm.customers
SELECT md5('c' || i)::uuid, 'prospect', '2024-01-01 00:00+00' FROM generate_series(1, 60) i;
INSERT INTO crm.orders (customer_id, ordered_at, amount)
SELECT md5('c' || i)::uuid,
       timestamptz '2024-02-01 00:00+00' + ((i * 7 + k * k * 11) % 400) * interval '1 day',
       5 + (i * 31 + k * 17) % 200
FROM generate_series(1, 50) i, generate_series(1, 1 + i % 6) k ORDER BY 3;
SELECT clm.refresh_stages('crm.customers', 'crm.orders', 'id', 'status',
                          'customer_id', 'ordered_at', '2025-09-01 00:00+00');
-- a customer view
SELECT clm.create_customer_view('crm.customer_view', 'crm.orders', 'customer_id', 'ordered_at', 'amount',
                                as_of => '2025-07-01 00:00+00');
-- stored RFM states (per customer and day) and finished RFM values
CREATE TABLE crm.rfm_daily AS
SELECT customer_id, ordered_at::date AS day, clm.rfm_state_agg(ordered_at, amount) AS st
FROM crm.orders GROUP BY 1, 2;
CREATE TABLE crm.rfm_now AS
SELECT customer_id, clm.rfm_agg(ordered_at, amount, '2025-07-01 00:00+00') AS rfm
FROM crm.orders GROUP BY 1;
-- stored fit states, built by user aggregates over clm's transition
-- functions, and the models fitted from them
CREATE AGGREGATE crm.btyd_state(float8, float8, float8) (
    SFUNC = clm.btyd_fit_trans, STYPE = clm.btyd_fit_state);
CREATE AGGREGATE crm.spend_state(float8, float8) (
    SFUNC = clm.spend_fit_trans, STYPE = clm.btyd_fit_state);
CREATE TABLE crm.summary AS
SELECT customer_id, (clm.purchase_summary(ordered_at, amount, '2025-07-01 00:00+00', '7 days')).*
FROM crm.orders GROUP BY 1;
CREATE TABLE crm.fit_states (kind text PRIMARY KEY, st clm.btyd_fit_state, bg clm.bgnbd, gg clm.gamma_gamma);
INSERT INTO crm.fit_states (kind, st)
SELECT 'btyd', crm.btyd_state(x, t_x, t) FROM crm.summary
UNION ALL
SELECT 'spend', crm.spend_state(x, mean_spend) FROM crm.summary WHERE x > 0 AND mean_spend > 0;
UPDATE crm.fit_states SET bg = clm.bgnbd_fit_final(st) WHERE kind = 'btyd';
UPDATE crm.fit_states SET gg = clm.gamma_gamma_fit_final(st) WHERE kind = 'spend';
-- a user view over the history
CREATE VIEW crm.stage_changes AS
SELECT customer_key::uuid AS customer_id, from_stage, to_stage, changed_at
FROM clm.stage_history WHERE relation = 'crm.customers'::regclass;
});

$old->safe_psql('legacy', q{
CREATE EXTENSION clm VERSION '1.0';
CREATE TABLE accounts (id bigint PRIMARY KEY, stage clm.lifecycle_stage);
CREATE TABLE purchases (id bigserial PRIMARY KEY, account bigint REFERENCES accounts,
                        at timestamptz NOT NULL, total numeric NOT NULL);
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('stage', 'id');
CREATE TRIGGER on_purchase AFTER INSERT ON purchases
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('accounts', 'account', 'stage', 'at');
INSERT INTO accounts SELECT i, 'lead' FROM generate_series(1, 20) i;
INSERT INTO purchases (account, at, total)
SELECT 1 + i % 15, timestamptz '2024-03-01 00:00+00' + i * interval '5 days', 10 + i % 7
FROM generate_series(1, 40) i;
CREATE TABLE rfm_states AS
SELECT account, clm.rfm_state_agg(at, total) AS st FROM purchases GROUP BY 1;
});

# The results of named single-value queries, all run by one psql.
sub texts
{
	my ($node, $db, $queries) = @_;
	my $out = $node->safe_psql($db,
		join('', map { "SELECT '=== $_';\n$queries->{$_};\n" } sort keys %$queries));
	my (undef, %t) = split /^=== (.*)\n/m, "$out\n";
	chomp for values %t;
	die "psql did not answer every query: $out"
	  unless join(',', sort keys %t) eq join(',', sort keys %$queries);
	return \%t;
}

# The text of every table, materialized view and view of a database: the
# list of them, then each one's rows rendered as text and sorted.
sub contents
{
	my ($node, $db) = @_;
	my @rels = split /\n/, $node->safe_psql($db, q{
		SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'm', 'v')
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
		ORDER BY 1});
	my $c = texts($node, $db, { map {
		$_ => "SELECT count(*) || E'\\n' || coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '') FROM $_ r"
	} @rels });
	$c->{'the list of relations'} = join(',', @rels);
	return $c;
}

# results computed from stored values, and other things not in a table
my %q = (
	shop => {
		'extension version' => q{SELECT extversion FROM pg_extension WHERE extname = 'clm'},
		'history by writer' => q{SELECT string_agg(DISTINCT coalesce(from_stage::text, '-') || '>' || to_stage, ',')
		    FROM clm.stage_history},
		'rfm from the stored states' => q{SELECT string_agg(r::text, '|' ORDER BY customer_id) FROM (
		    SELECT customer_id, clm.rfm_final(clm.rfm_merge(st), '2025-07-01 00:00+00') AS r
		    FROM crm.rfm_daily GROUP BY 1) s},
		'fits from the stored states' => q{SELECT clm.bgnbd_fit_final(st)::text FROM crm.fit_states WHERE kind = 'btyd'
		    UNION ALL SELECT clm.gamma_gamma_fit_final(st)::text FROM crm.fit_states WHERE kind = 'spend'},
		'the user aggregate' => q{SELECT crm.btyd_state(x, t_x, t)::text FROM crm.summary},
		'stages' => q{SELECT string_agg(status || ':' || n, ',' ORDER BY status) FROM (
		    SELECT status, count(*) AS n FROM crm.customers GROUP BY 1) s},
		'triggers' => q{SELECT string_agg(tgrelid::regclass || ':' || tgname || ':' || tgfoid::regproc, ','
		    ORDER BY tgname) FROM pg_trigger WHERE NOT tgisinternal},
	},
	legacy => {
		'extension version' => q{SELECT extversion FROM pg_extension WHERE extname = 'clm'},
		'rfm from the stored states' => q{SELECT string_agg(clm.rfm_final(st, '2025-01-01 00:00+00')::text, '|'
		    ORDER BY account) FROM rfm_states},
		'stages' => q{SELECT string_agg(stage || ':' || n, ',' ORDER BY stage) FROM (
		    SELECT stage, count(*) AS n FROM accounts GROUP BY 1) s},
		'triggers' => q{SELECT string_agg(tgrelid::regclass || ':' || tgname || ':' || tgfoid::regproc, ','
		    ORDER BY tgname) FROM pg_trigger WHERE NOT tgisinternal},
	},
);

my (%before, %contents_before);
for my $db (sort keys %q)
{
	$before{$db} = texts($old, $db, $q{$db});
	$contents_before{$db} = contents($old, $db);
}
my $max_id_on_15 = $old->safe_psql('shop', 'SELECT max(id) FROM clm.stage_history');

# the data really is there on 15
is($before{shop}{'extension version'}, '1.1', 'shop is on clm 1.1');
is($before{legacy}{'extension version'}, '1.0', 'legacy is on clm 1.0');
like($contents_before{shop}{'clm.stage_history'}, qr/^[1-9]\d+\n/, 'stage history on 15');
like($before{shop}{'history by writer'}, qr/->prospect/, 'written by stage_guard (inserts)');
like($before{shop}{'history by writer'}, qr/prospect>first_purchase/, 'and by stage_on_order (orders)');
like($before{shop}{'history by writer'}, qr/>(at_risk|dormant|churned)/, 'and by refresh_stages');
like($contents_before{shop}{'clm.stage_transition_rule_user'}, qr/^2\n/, 'the user rule edits');
like($contents_before{shop}{'clm.lifecycle_policy'}, qr/^2\n\(coffee,/m, 'the user policy');
like($contents_before{shop}{'crm.customer_view'}, qr/^50\n/, 'the customer view, one row per customer with orders');
like($contents_before{shop}{'crm.rfm_daily'}, qr/^[1-9]\d+\n/, 'stored rfm_state values');
like($contents_before{shop}{'crm.fit_states'}, qr/^2\n\(btyd,"kind=btyd .*\n\(spend,"kind=spend /,
	'stored btyd_fit_state values');
like($contents_before{shop}{'crm.stage_changes'}, qr/^[1-9]\d+\n/, 'the user view sees the history');
like($before{shop}{stages}, qr/at_risk:[1-9]/, 'some customers are at risk');
like($before{legacy}{stages}, qr/repeat:[1-9]/, 'legacy: purchases moved accounts');

$old->stop;

my $new = PostgreSQL::Test::Cluster->new('pg17');
$new->init;
my @pg_upgrade = (
	'pg_upgrade', '--no-sync',
	'-d', $old->data_dir, '-D', $new->data_dir,
	'-b', "$old_inst/bin", '-B', $new->config_data('--bindir'),
	'-s', $new->host, '-p', $old->port, '-P', $new->port);
command_ok([ @pg_upgrade, '--check' ], 'pg_upgrade --check passes');
command_ok(\@pg_upgrade, 'pg_upgrade from 15 to 17');
$new->start;
like($new->safe_psql('postgres', 'SHOW server_version'), qr/^17\./, 'the upgraded cluster runs PostgreSQL 17');

for my $db (sort keys %q)
{
	my $after = contents($new, $db);
	for my $rel (sort keys %{ $contents_before{$db} })
	{
		is($after->{$rel}, $contents_before{$db}{$rel}, "$db: $rel reads the same on 17");
	}
	my $now = texts($new, $db, $q{$db});
	for my $what (sort keys %{ $q{$db} })
	{
		is($now->{$what}, $before{$db}{$what}, "$db: $what: the same on 17");
	}
}

# the triggers still enforce the rules and write history
my ($ret, $out, $err) = $new->psql('shop', qq{\\set VERBOSITY verbose
UPDATE crm.customers SET status = 'lead' WHERE status = 'at_risk'});
like($err, qr/ERROR:  23514: lifecycle transition from "at_risk" to "lead" is not allowed/,
	'a transition no rule allows fails with 23514 on 17');
$new->safe_psql('shop', q{
INSERT INTO crm.customers VALUES ('00000000-0000-0000-0000-000000000001', 'churned', '2025-01-01 00:00+00');
UPDATE crm.customers SET status = 'lead' WHERE id = '00000000-0000-0000-0000-000000000001';
INSERT INTO crm.customers VALUES ('00000000-0000-0000-0000-000000000002', 'reactivated', '2025-01-01 00:00+00');
INSERT INTO crm.customers VALUES ('00000000-0000-0000-0000-000000000003', 'lead', '2025-01-01 00:00+00');
});
is($new->safe_psql('shop', q{SELECT string_agg(coalesce(from_stage::text, '-') || '>' || to_stage, ',' ORDER BY id)
    FROM clm.stage_history WHERE customer_key = '00000000-0000-0000-0000-000000000001'}),
	'->churned,churned>lead', 'the rule the user added is in force');
($ret, $out, $err) = $new->psql('shop', qq{\\set VERBOSITY verbose
UPDATE crm.customers SET status = 'loyal' WHERE id = '00000000-0000-0000-0000-000000000002'});
like($err, qr/ERROR:  23514: lifecycle transition from "reactivated" to "loyal" is not allowed/,
	'the default the user removed stays removed');
is($new->safe_psql('shop', q{
INSERT INTO crm.orders (customer_id, ordered_at, amount)
VALUES ('00000000-0000-0000-0000-000000000003', '2025-10-01 00:00+00', 20);
SELECT status || ' ' || status_since FROM crm.customers WHERE id = '00000000-0000-0000-0000-000000000003'}),
	'first_purchase 2025-10-01 00:00:00+00', 'an order moves the customer on 17');
is($new->safe_psql('shop', q{SELECT string_agg(coalesce(from_stage::text, '-') || '>' || to_stage || ' ' || changed_at,
    ',' ORDER BY changed_at) FROM crm.stage_changes WHERE customer_id = '00000000-0000-0000-0000-000000000003'}),
	'->lead 2025-01-01 00:00:00+00,lead>first_purchase 2025-10-01 00:00:00+00',
	'and writes its history, dated with the order (seen through the user view)');
is($new->safe_psql('shop', qq{SELECT count(*) > 0 AND bool_and(id > $max_id_on_15) FROM clm.stage_history
    WHERE relation = 'crm.customers'::regclass AND customer_key = '00000000-0000-0000-0000-000000000003'
      AND changed_at = '2025-10-01 00:00+00'}),
	't', 'history ids go on after those that came through the upgrade');

# clm.refresh_stages moves the customers who lapsed since, with history
my $max_id = $new->safe_psql('shop', 'SELECT max(id) FROM clm.stage_history');
my $moved = $new->safe_psql('shop', q{SELECT clm.refresh_stages('crm.customers', 'crm.orders', 'id', 'status',
    'customer_id', 'ordered_at', '2027-01-01 00:00+00')});
cmp_ok($moved, '>', 0, 'refresh_stages moves customers on 17');
is($new->safe_psql('shop', qq{SELECT count(DISTINCT customer_key) FROM clm.stage_history WHERE id > $max_id}),
	$moved, 'and records each move in the history');
is($new->safe_psql('shop', q{SELECT clm.refresh_customer_view('crm.customer_view', '2026-01-01 00:00+00')
    = '2026-01-01 00:00+00'::timestamptz}), 't', 'the customer view refreshes on 17');

# the 1.0 database updates on 17, with nothing lost
$new->safe_psql('legacy', 'ALTER EXTENSION clm UPDATE');
my $current = $new->safe_psql('legacy',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'clm'});
is($new->safe_psql('legacy', $q{legacy}{'extension version'}), $current,
	"legacy: ALTER EXTENSION clm UPDATE reaches $current on 17");
my $after = contents($new, 'legacy');
# the update adds the tables of the versions since 1.0, empty; the rest is
# as it was
my %before_rels = map { $_ => 1 } split /,/, $contents_before{legacy}{'the list of relations'};
my @added = grep { !$before_rels{$_} } split /,/, $after->{'the list of relations'};
ok(!grep({ !/^clm\./ } @added), 'legacy: the update adds relations of clm only (' . join(',', @added) . ')');
is(join(',', grep { $after->{$_} !~ /^0\s*$/ } @added), '', 'legacy: and they are empty');
$after->{'the list of relations'} = join(',', grep { $before_rels{$_} } split /,/, $after->{'the list of relations'});
# 1.1 gives every policy the advocates' two columns, with their defaults
ok($after->{'clm.lifecycle_policy'} =~ s/,3,90\)$/)/mg,
	"legacy: the policies get the advocates' defaults");
for my $rel (sort keys %{ $contents_before{legacy} })
{
	is($after->{$rel}, $contents_before{legacy}{$rel}, "legacy: $rel reads the same after the update");
}
($ret, $out, $err) = $new->psql('legacy', qq{\\set VERBOSITY verbose
UPDATE accounts SET stage = 'lead' WHERE stage = 'repeat'});
like($err, qr/ERROR:  23514: lifecycle transition from "repeat" to "lead" is not allowed/,
	'legacy: the guard refuses a transition no rule allows after the update');
is($new->safe_psql('legacy', q{INSERT INTO purchases (account, at, total) VALUES (20, '2025-06-01 00:00+00', 5);
    SELECT stage FROM accounts WHERE id = 20}),
	'first_purchase', 'legacy: an order moves an account after the update');
is($new->safe_psql('legacy', q{SELECT string_agg(coalesce(from_stage::text, '-') || '>' || to_stage, ',' ORDER BY id)
    FROM clm.stage_history WHERE customer_key = '20'}),
	'->lead,lead>first_purchase', 'and writes its history');

$new->stop;
done_testing();
