# pg_dump / pg_restore round trip of clm's lifecycle data: the user's rule
# edits, the user's policies and the stage history survive; the seeded
# default rules and the default policy are not duplicated; the triggers
# keep working in the restored database (and the history's id sequence
# continues instead of colliding).  The history names its tables by OID,
# which a restore changes: the dump carries the names, so the restored rows
# belong to the restored tables and a non-owner reads them as before, and
# the rows of a table dropped before the dump stay detached (a table created
# again under its name does not inherit them).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', q{
    CREATE EXTENSION clm;
    CREATE SCHEMA crm;
    CREATE TABLE crm.customers (id uuid PRIMARY KEY, status clm.lifecycle_stage,
                                status_since timestamptz);
    CREATE TABLE crm.orders (id bigserial PRIMARY KEY,
                             customer_id uuid NOT NULL REFERENCES crm.customers,
                             ordered_at timestamptz NOT NULL, amount numeric NOT NULL);
    CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON crm.customers
        FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'status_since');
    CREATE TRIGGER stage_on_order AFTER INSERT ON crm.orders
        FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('crm.customers', 'customer_id', 'status', 'ordered_at');
    -- user edits: one rule added, one default removed, one policy added
    INSERT INTO clm.stage_transition_rule VALUES ('churned', 'lead');
    DELETE FROM clm.stage_transition_rule WHERE from_stage = 'reactivated' AND to_stage = 'loyal';
    INSERT INTO clm.lifecycle_policy (name, fallback_gap_days) VALUES ('coffee', 14);
    -- some history written by the triggers
    INSERT INTO crm.customers
    SELECT md5('c' || i)::uuid, 'prospect', '2024-01-01 00:00+00' FROM generate_series(1, 20) i;
    INSERT INTO crm.orders (customer_id, ordered_at, amount)
    SELECT md5('c' || i)::uuid, timestamptz '2024-02-01 00:00+00' + (i * k) * interval '3 days', 10
    FROM generate_series(1, 20) i, generate_series(1, 1 + i % 5) k ORDER BY 2;
    SELECT clm.refresh_stages('crm.customers', 'crm.orders', 'id', 'status',
                              'customer_id', 'ordered_at', '2025-06-01 00:00+00');
    -- a reader of the customers table (not of clm's tables)
    CREATE ROLE hist_reader;
    GRANT USAGE ON SCHEMA crm TO hist_reader;
    GRANT SELECT ON crm.customers TO hist_reader;
    -- a table dropped and created again under the same name
    CREATE TABLE crm.leads (id int PRIMARY KEY, status clm.lifecycle_stage);
    CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON crm.leads
        FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
    INSERT INTO crm.leads VALUES (1, 'lead');
    DROP TABLE crm.leads;
    CREATE TABLE crm.leads (id int PRIMARY KEY, status clm.lifecycle_stage);
    CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON crm.leads
        FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
    INSERT INTO crm.leads VALUES (1, 'prospect');
});

my $rules_q = q{SELECT string_agg(from_stage || '>' || to_stage || ':' || is_default, ',' ORDER BY from_stage, to_stage) FROM clm.stage_transition_rule};
my $user_q = q{SELECT string_agg(from_stage || '>' || to_stage || ':' || allowed, ',' ORDER BY from_stage, to_stage) FROM clm.stage_transition_rule_user};
my $hist_q = q{SELECT count(*) || ':' || md5(string_agg(concat_ws('|', id, relation, customer_key, from_stage, to_stage, changed_at, recorded_at, changed_by, txid), ',' ORDER BY id)) FROM clm.stage_history};
my $pol_q = q{SELECT string_agg(name || ':' || fallback_gap_days, ',' ORDER BY name) FROM clm.lifecycle_policy};

my %before = (
    rules => $node->safe_psql('src', $rules_q),
    user => $node->safe_psql('src', $user_q),
    hist => $node->safe_psql('src', $hist_q),
    pol => $node->safe_psql('src', $pol_q),
);
like($before{hist}, qr/^[1-9][0-9]*:/, 'the source has history rows');
is($before{user}, 'churned>lead:true,reactivated>loyal:false', 'user edits recorded apart from the seeds');

my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $dump ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('dst'), $dump ],
    'pg_restore without errors');

is($node->safe_psql('dst', $rules_q), $before{rules}, 'effective rules identical after restore');
is($node->safe_psql('dst', $user_q), $before{user}, 'user rule edits survive');
is($node->safe_psql('dst', q{SELECT count(*) FROM clm.stage_transition_rule_default}),
    '38', 'seeded rules not duplicated');
is($node->safe_psql('dst', $pol_q), $before{pol}, 'policies survive, default not duplicated');
is($node->safe_psql('dst', $hist_q), $before{hist}, 'history identical after restore');
my $reader_q = q{SET ROLE hist_reader; SELECT count(*) FROM clm.stage_history};
my $cust_q = q{SELECT count(*) FROM clm.stage_history WHERE relation = 'crm.customers'::regclass};
isnt($node->safe_psql('src', $cust_q), '0', 'the source has history of crm.customers');
is($node->safe_psql('dst', $cust_q), $node->safe_psql('src', $cust_q),
    'the restored rows belong to the restored crm.customers');
is($node->safe_psql('dst', $reader_q), $node->safe_psql('src', $cust_q),
    'a reader of crm.customers reads all of its history after restore');
my $leads_q = q{SELECT string_agg(relation || ':' || to_stage, ',' ORDER BY id) FROM clm.stage_history
                WHERE relation IN (0, 'crm.leads'::regclass::oid)};
is($node->safe_psql('src', $leads_q), '-:lead,crm.leads:prospect', 'a dropped table\'s history is detached');
is($node->safe_psql('dst', $leads_q), '-:lead,crm.leads:prospect',
    'and stays detached after restore: the table created again under its name has only its own');

# the triggers work in the restored database, with the restored rules
$node->safe_psql('dst', q{
    INSERT INTO crm.customers VALUES ('00000000-0000-0000-0000-000000000001', 'prospect', '2025-01-01 00:00+00');
    INSERT INTO crm.orders (customer_id, ordered_at, amount)
    VALUES ('00000000-0000-0000-0000-000000000001', '2025-02-01 00:00+00', 5);
});
is($node->safe_psql('dst', q{SELECT string_agg(coalesce(from_stage::text, '-') || '>' || to_stage, ',' ORDER BY id)
    FROM clm.stage_history WHERE customer_key = '00000000-0000-0000-0000-000000000001'}),
    '->prospect,prospect>first_purchase', 'new history rows appended after restore');
is($node->safe_psql('dst', q{SELECT count(*) = count(DISTINCT id) FROM clm.stage_history}),
    't', 'history ids continue without collision');

my ($ret, $out, $err) = $node->psql('dst',
    q{UPDATE crm.customers SET status = 'lead' WHERE id = '00000000-0000-0000-0000-000000000001'});
isnt($ret, 0, 'a transition no rule allows is still rejected');
like($err, qr/lifecycle transition from "first_purchase" to "lead" is not allowed/, 'with its message');

# the user-added rule is in force, the user-removed default is not
$node->safe_psql('dst', q{
    INSERT INTO crm.customers VALUES ('00000000-0000-0000-0000-000000000002', 'churned', '2025-01-01 00:00+00');
    UPDATE crm.customers SET status = 'lead' WHERE id = '00000000-0000-0000-0000-000000000002';
    INSERT INTO crm.customers VALUES ('00000000-0000-0000-0000-000000000003', 'reactivated', '2025-01-01 00:00+00');
});
is($node->safe_psql('dst', q{SELECT status FROM crm.customers WHERE id = '00000000-0000-0000-0000-000000000002'}),
    'lead', 'user-added rule churned -> lead in force');
($ret, $out, $err) = $node->psql('dst',
    q{UPDATE crm.customers SET status = 'loyal' WHERE id = '00000000-0000-0000-0000-000000000003'});
like($err, qr/from "reactivated" to "loyal" is not allowed/, 'removed default rule stays removed');

# a second dump of the restored database restores again (no seed collision)
my $dump2 = $node->basedir . '/dst.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('dst'), '-f', $dump2 ], 'second pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE dst2');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('dst2'), $dump2 ],
    'second pg_restore without errors');
is($node->safe_psql('dst2', $hist_q), $node->safe_psql('dst', $hist_q), 'history identical after the second round trip');

$node->stop;
done_testing();
