# 072_upgrade_user_data: a database in use on 1.0 updates to the current
# version with nothing lost.  The 1.0 database holds what users keep in and
# around clm: their rule edits and a policy, stage history written by both
# triggers and by clm.refresh_stages, a customer view, clm.rfm_state and
# clm.rfm values and clm.btyd_fit_state values (with the models fitted from
# them) stored in their own tables, a user aggregate over clm's transition
# function, a user view over clm.stage_history and one over
# clm.purchase_summary and one over clm.rfm_thresholds (whose state types
# the update changes).  After ALTER EXTENSION
# clm UPDATE every one of them reads the same (md5 of an ordered text
# rendering, before and after), the stored states give the same results,
# and the triggers still enforce the rules with the user's edits.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade_data');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
SET timezone = 'UTC';
CREATE EXTENSION clm VERSION '1.0';
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
-- stored fit states, built by a user aggregate over clm's transition
-- function, and the models fitted from them
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
-- a user view over clm.purchase_summary, whose state type changes in 1.1
CREATE VIEW crm.spend AS
SELECT customer_id, clm.purchase_summary(ordered_at, amount, '2025-07-01 00:00+00', '7 days') AS s
FROM crm.orders GROUP BY customer_id;
-- and one over clm.rfm_thresholds, whose state type changes in 1.1
CREATE VIEW crm.thresholds AS
SELECT clm.rfm_thresholds(rfm) AS th, clm.rfm_thresholds(rfm, 7) AS th7 FROM crm.rfm_now;
-- a user view over the history
CREATE VIEW crm.stage_changes AS
SELECT customer_key::uuid AS customer_id, from_stage, to_stage, changed_at
FROM clm.stage_history WHERE relation = 'crm.customers'::regclass;
});

my %q = (
	customers => q{SELECT count(*) || ':' || md5(string_agg(c::text, '|' ORDER BY id)) FROM crm.customers c},
	orders => q{SELECT count(*) || ':' || md5(string_agg(o::text, '|' ORDER BY id)) FROM crm.orders o},
	'stage history' => q{SELECT count(*) || ':' || md5(string_agg(concat_ws('|', id, relation::regclass::text,
	    customer_key, from_stage, to_stage, changed_at, recorded_at, changed_by, txid), ',' ORDER BY id))
	    FROM clm.stage_history},
	'history of crm.customers' => q{SELECT count(*) FROM clm.stage_history WHERE relation = 'crm.customers'::regclass},
	'history by writer' => q{SELECT string_agg(DISTINCT coalesce(from_stage::text, '-') || '>' || to_stage, ',')
	    FROM clm.stage_history},
	'effective rules' => q{SELECT md5(string_agg(from_stage || '>' || to_stage || ':' || is_default, ','
	    ORDER BY from_stage, to_stage)) FROM clm.stage_transition_rule},
	'user rule edits' => q{SELECT string_agg(from_stage || '>' || to_stage || ':' || allowed, ','
	    ORDER BY from_stage, to_stage) FROM clm.stage_transition_rule_user},
	# 1.1 adds the advocates' columns, filled with their defaults (checked below)
	policies => q{SELECT md5(string_agg((to_jsonb(p) - 'advocate_min_referrals' - 'advocate_window_days')::text,
	    '|' ORDER BY name)) FROM clm.lifecycle_policy p},
	'policy names' => q{SELECT string_agg(name, ',' ORDER BY name) FROM clm.lifecycle_policy},
	'customer view registry' => q{SELECT string_agg(concat_ws('|', view_schema, view_name, orders_relation, as_of,
	    bgnbd, gamma_gamma, thresholds, definition), ',' ORDER BY view_schema, view_name) FROM clm.customer_view},
	'customer view rows' => q{SELECT count(*) || ':' || md5(string_agg(v::text, '|' ORDER BY customer_key))
	    FROM crm.customer_view v},
	'stored rfm_state values' => q{SELECT count(*) || ':' || md5(string_agg(st::text, '|' ORDER BY customer_id, day))
	    FROM crm.rfm_daily},
	'rfm from the stored states' => q{SELECT md5(string_agg(r::text, '|' ORDER BY customer_id)) FROM (
	    SELECT customer_id, clm.rfm_final(clm.rfm_merge(st), '2025-07-01 00:00+00') AS r
	    FROM crm.rfm_daily GROUP BY 1) s},
	'stored rfm values' => q{SELECT count(*) || ':' || md5(string_agg(rfm::text, '|' ORDER BY customer_id))
	    FROM crm.rfm_now},
	'stored btyd_fit_state values' => q{SELECT string_agg(concat_ws(' ', kind || '=' || md5(st::text), bg, gg), ','
	    ORDER BY kind) FROM crm.fit_states},
	'fits from the stored states' => q{SELECT clm.bgnbd_fit_final(st)::text FROM crm.fit_states WHERE kind = 'btyd'
	    UNION ALL SELECT clm.gamma_gamma_fit_final(st)::text FROM crm.fit_states WHERE kind = 'spend'},
	'the user aggregate' => q{SELECT md5(crm.btyd_state(x, t_x, t)::text) FROM crm.summary},
	'the user view' => q{SELECT count(*) || ':' || md5(string_agg(v::text, '|' ORDER BY customer_id, changed_at, to_stage))
	    FROM crm.stage_changes v},
	'the user view over clm.purchase_summary' => q{SELECT count(*) || ':' || md5(string_agg(s::text, '|' ORDER BY customer_id))
	    FROM crm.spend},
	'the user view over clm.rfm_thresholds' => q{SELECT t::text FROM crm.thresholds t},
	'the user view definition' => q{SELECT pg_get_viewdef('crm.stage_changes'::regclass)},
	'stages' => q{SELECT string_agg(status || ':' || n, ',' ORDER BY status) FROM (
	    SELECT status, count(*) AS n FROM crm.customers GROUP BY 1) s},
	'triggers' => q{SELECT string_agg(tgrelid::regclass || ':' || tgname || ':' || tgfoid::regproc, ',' ORDER BY tgname)
	    FROM pg_trigger WHERE tgrelid IN ('crm.customers'::regclass, 'crm.orders'::regclass) AND NOT tgisinternal},
);

my %before = map { $_ => $node->safe_psql('postgres', $q{$_}) } keys %q;

# the data really is there before the update
like($before{'stage history'}, qr/^[1-9]\d+:/, 'stage history before the update');
like($before{'history by writer'}, qr/->prospect/, 'written by stage_guard (inserts)');
like($before{'history by writer'}, qr/prospect>first_purchase/, 'and by stage_on_order (orders)');
like($before{'history by writer'}, qr/>(at_risk|dormant|churned)/, 'and by refresh_stages');
is($before{'user rule edits'}, 'churned>lead:true,reactivated>loyal:false', 'the user rule edits');
is($before{'policy names'}, 'coffee,default', 'the user policy');
like($before{'customer view rows'}, qr/^50:/, 'the customer view, one row per customer with orders');
like($before{'stored btyd_fit_state values'}, qr/^btyd=\w+ \([^,]+,.*\),spend=\w+ \([^,]+,/,
	'the stored fit states and models');
isnt($before{'history of crm.customers'}, '0', 'the user view sees the history');

$node->safe_psql('postgres', 'ALTER EXTENSION clm UPDATE');
my $current = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'clm'});
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'clm'}),
	$current, "ALTER EXTENSION clm UPDATE reached $current");

for my $what (sort keys %q)
{
	is($node->safe_psql('postgres', $q{$what}), $before{$what}, "$what: the same after the update");
}
is($node->safe_psql('postgres', q{SELECT string_agg(name || ':' || advocate_min_referrals || ':' || advocate_window_days,
    ',' ORDER BY name) FROM clm.lifecycle_policy}),
	'coffee:3:90,default:3:90', 'the policies have the advocates\' defaults after the update');

# the triggers still enforce the rules, with the user's edits
like($before{stages}, qr/at_risk:[1-9]/, 'some customers are at risk');
my ($ret, $out, $err) = $node->psql('postgres', q{
UPDATE crm.customers SET status = 'lead' WHERE status = 'at_risk'});
isnt($ret, 0, 'a transition no rule allows is refused after the update');
like($err, qr/lifecycle transition from "at_risk" to "lead" is not allowed/, 'by stage_guard');
$node->safe_psql('postgres', q{
INSERT INTO crm.customers VALUES ('00000000-0000-0000-0000-000000000001', 'churned', '2025-01-01 00:00+00');
UPDATE crm.customers SET status = 'lead' WHERE id = '00000000-0000-0000-0000-000000000001';
INSERT INTO crm.customers VALUES ('00000000-0000-0000-0000-000000000002', 'reactivated', '2025-01-01 00:00+00');
INSERT INTO crm.orders (customer_id, ordered_at, amount)
VALUES ('00000000-0000-0000-0000-000000000001', '2025-10-01 00:00+00', 20);
});
($ret, $out, $err) = $node->psql('postgres', q{
UPDATE crm.customers SET status = 'loyal' WHERE id = '00000000-0000-0000-0000-000000000002'});
like($err, qr/from "reactivated" to "loyal" is not allowed/, 'the default the user removed stays removed');
is($node->safe_psql('postgres', q{SELECT string_agg(coalesce(from_stage::text, '-') || '>' || to_stage, ',' ORDER BY changed_at, to_stage)
    FROM crm.stage_changes WHERE customer_id = '00000000-0000-0000-0000-000000000001'}),
	'->churned,churned>lead,lead>first_purchase',
	'the user-added rule is in force and an order moves the customer (seen through the user view)');
is($node->safe_psql('postgres', q{SELECT count(*) = count(DISTINCT id) FROM clm.stage_history}),
	't', 'history ids continue without collision');
is($node->safe_psql('postgres', q{SELECT clm.refresh_customer_view('crm.customer_view', '2025-11-01 00:00+00')
    = '2025-11-01 00:00+00'::timestamptz}), 't', 'the customer view refreshes after the update');
like($node->safe_psql('postgres', q{SELECT count(*) || ':' || count(DISTINCT as_of) FROM crm.customer_view}),
	qr/^51:1$/, 'and includes the new customer');
is($node->safe_psql('postgres', q{SELECT purchase_model || ':' || ((bgnbd).r IS NOT NULL) || ':'
    || (paretonbd IS NULL AND mbgnbd IS NULL) FROM clm.customer_view}),
	'bgnbd:true:true', 'a view made before the update stays on BG/NBD, refitted');
is($node->safe_psql('postgres', q{SELECT count(p_alive) > 0 FROM crm.customer_view}),
	't', 'and predicts with it');

$node->stop;
done_testing();
