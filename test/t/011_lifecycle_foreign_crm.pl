# A CRM schema not written for clm adopts both triggers without other
# changes: crm.customers(id uuid, status clm.lifecycle_stage,
# status_since timestamptz) and crm.orders, owned by an ordinary login role
# whose search_path is pg_catalog only.  The role gets no privilege on
# clm's tables beyond what clm grants to everybody, and still the rules
# apply and the history is written (by the triggers, not by the role).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('crm');
$node->init;
$node->start;

# the DBA: install clm, create the application role and its schema
$node->safe_psql('postgres', q{
    CREATE EXTENSION clm;
    CREATE ROLE crm_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
    ALTER ROLE crm_app SET search_path = pg_catalog;
    CREATE SCHEMA crm AUTHORIZATION crm_app;
});

# the application, as itself
sub app { my ($sql) = @_; return $node->safe_psql('postgres', $sql, extra_params => [ '-U', 'crm_app' ]); }
sub app_err
{
    my ($sql) = @_;
    my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n" . $sql,
        extra_params => [ '-U', 'crm_app' ]);
    return ($ret, $err);
}

is(app('SHOW search_path'), 'pg_catalog', 'the application runs with search_path = pg_catalog');
is(app('SELECT rolsuper FROM pg_roles WHERE rolname = current_user'), 'f', 'and is no superuser');

app(q{
    CREATE TABLE crm.customers (id uuid PRIMARY KEY, status clm.lifecycle_stage, status_since timestamptz);
    CREATE TABLE crm.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                             customer_id uuid NOT NULL REFERENCES crm.customers,
                             ordered_at timestamptz NOT NULL, total numeric(10,2) NOT NULL);
    CREATE INDEX ON crm.orders (customer_id);
    CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON crm.customers
        FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'status_since');
    CREATE TRIGGER stage_on_order AFTER INSERT ON crm.orders
        FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('crm.customers', 'customer_id', 'status', 'ordered_at');
});
pass('the role attaches both triggers to its own tables');

app(q{
    INSERT INTO crm.customers (id, status, status_since) VALUES
        ('11111111-1111-1111-1111-111111111111', 'prospect', '2024-12-01 00:00+00'),
        ('22222222-2222-2222-2222-222222222222', 'lead', '2024-12-01 00:00+00');
    INSERT INTO crm.orders (customer_id, ordered_at, total) VALUES
        ('11111111-1111-1111-1111-111111111111', '2025-01-01 00:00+00', 10),
        ('11111111-1111-1111-1111-111111111111', '2025-01-20 00:00+00', 10),
        ('22222222-2222-2222-2222-222222222222', '2025-01-05 00:00+00', 10);
});
is(app(q{SELECT string_agg(status::text, ',' ORDER BY id) FROM crm.customers}),
    'repeat,first_purchase', 'orders move the customers');
is(app(q{SELECT string_agg(coalesce(from_stage::text, '-') || '>' || to_stage || '@' || changed_by, ',' ORDER BY id)
          FROM clm.stage_history WHERE relation = 'crm.customers'::regclass
           AND customer_key = '11111111-1111-1111-1111-111111111111'}),
    '->prospect@crm_app,prospect>first_purchase@crm_app,first_purchase>repeat@crm_app',
    'the history is written and readable by the role, attributed to it');
is(app(q{SELECT to_char(status_since AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM crm.customers
          WHERE id = '11111111-1111-1111-1111-111111111111'}),
    '2025-01-20', 'status_since is the business time of the move');

my ($ret, $err) = app_err(q{UPDATE crm.customers SET status = 'prospect' WHERE id = '11111111-1111-1111-1111-111111111111'});
isnt($ret, 0, 'a forbidden transition fails');
like($err, qr/ERROR:  23514: lifecycle transition from "repeat" to "prospect" is not allowed/, 'with check_violation');
like($err, qr/DETAIL:  Relation crm\.customers, customer key 11111111-1111-1111-1111-111111111111\./, 'naming the customer');
like($err, qr/HINT:  To allow it: INSERT INTO clm\.stage_transition_rule/, 'and how to allow it');

is(app(q{SELECT clm.refresh_stages('crm.customers', 'crm.orders', 'id', 'status', 'customer_id',
                                   'ordered_at', '2025-12-01 00:00+00')}),
    '2', 'the role runs refresh_stages on its tables');
is(app(q{SELECT string_agg(status::text, ',' ORDER BY id) FROM crm.customers}),
    'churned,at_risk', 'time-driven moves applied (gap 19 d: floors 30/60/120; one order: 180/360/540)');

# what the role may not do: write history or rules by hand, or read others' history
($ret, $err) = app_err(q{INSERT INTO clm.stage_history (relation, customer_key, to_stage, changed_at)
                         VALUES ('crm.customers', 'x', 'loyal', now())});
like($err, qr/42501: permission denied for table stage_history/, 'no direct history writes');
($ret, $err) = app_err(q{INSERT INTO clm.stage_transition_rule VALUES ('churned', 'lead')});
like($err, qr/42501: permission denied for view stage_transition_rule/, 'no rule edits without a grant');
($ret, $err) = app_err(q{UPDATE clm.stage_history SET to_stage = 'loyal'});
like($err, qr/42501: permission denied for table stage_history/, 'no history edits');
$node->safe_psql('postgres', q{
    CREATE TABLE public.secret (k int PRIMARY KEY, st clm.lifecycle_stage);
    CREATE TRIGGER g BEFORE INSERT OR UPDATE ON public.secret
        FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('st', 'k');
    INSERT INTO public.secret VALUES (1, 'lead');
});
is(app(q{SELECT count(*) FROM clm.stage_history WHERE relation = 'public.secret'::regclass}), '0',
    'the history of tables the role cannot read stays hidden');
is($node->safe_psql('postgres', q{SELECT count(*) FROM clm.stage_history WHERE relation = 'public.secret'::regclass}), '1',
    'while it exists');

# once the DBA grants rule editing, the role's rule takes effect in its session
$node->safe_psql('postgres', q{GRANT INSERT, DELETE ON clm.stage_transition_rule TO crm_app});
app(q{INSERT INTO clm.stage_transition_rule VALUES ('churned', 'lead');
      UPDATE crm.customers SET status = 'lead' WHERE id = '11111111-1111-1111-1111-111111111111'});
is(app(q{SELECT status FROM crm.customers WHERE id = '11111111-1111-1111-1111-111111111111'}), 'lead',
    'a granted rule edit works through the view');

# one session that uses the triggers, drops and re-creates clm, and uses
# them again: the per-backend caches notice the new extension's objects
my $out = $node->safe_psql('postgres', q{
    CREATE TABLE public.t1 (id int PRIMARY KEY, st clm.lifecycle_stage);
    CREATE TRIGGER g BEFORE INSERT OR UPDATE ON public.t1 FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('st', 'id');
    INSERT INTO public.t1 VALUES (1, 'lead');
    UPDATE public.t1 SET st = 'first_purchase';
    DROP EXTENSION clm CASCADE;
    CREATE EXTENSION clm;
    CREATE TABLE public.t2 (id int PRIMARY KEY, st clm.lifecycle_stage);
    CREATE TRIGGER g BEFORE INSERT OR UPDATE ON public.t2 FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('st', 'id');
    INSERT INTO public.t2 VALUES (1, 'lead');
    UPDATE public.t2 SET st = 'first_purchase';
    SELECT string_agg(coalesce(from_stage::text, '-') || '>' || to_stage, ',' ORDER BY id) FROM clm.stage_history;
});
is($out, '->lead,lead>first_purchase', 'the triggers work after DROP and CREATE EXTENSION in the same session');

$node->stop;
done_testing();
