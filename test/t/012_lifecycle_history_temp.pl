# Temporary tables and the stage history.  A temporary table lives in the
# pg_temp_N schema of its backend slot and is dropped at session end, with
# no event trigger firing; the next session in that slot creates its own
# temporary table of the same name in the same schema.  Its history must
# not become readable by that next session's role: clm.stage_guard refuses
# temporary tables, so they have none.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('temp');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION clm;
    CREATE ROLE alice LOGIN;
    CREATE ROLE bob LOGIN;
});

sub as_role
{
    my ($role, $sql) = @_;
    my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n" . $sql,
        extra_params => [ '-U', $role ]);
    return ($ret, $out, $err);
}

# alice's session: a guarded temporary customers table
my ($ret, $out, $err) = as_role('alice', q{
    CREATE TEMP TABLE customers (id int PRIMARY KEY, status clm.lifecycle_stage);
    CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON customers
        FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id');
    SELECT pg_my_temp_schema()::regnamespace;
    INSERT INTO customers VALUES (4711, 'loyal');
});
my $alice_schema = (split /\n/, $out)[0];
like($err, qr/0A000: clm.stage_guard cannot be used on temporary table "customers"/,
    'the guard refuses a temporary table');
is($node->safe_psql('postgres', 'SELECT count(*) FROM clm.stage_history'), '0',
    'and records no history for it');

# bob's session, in the same backend slot: his own temporary customers
($ret, $out, $err) = as_role('bob', q{
    CREATE TEMP TABLE customers (id int PRIMARY KEY, status clm.lifecycle_stage);
    SELECT pg_my_temp_schema()::regnamespace;
    SELECT count(*) FROM clm.stage_history;
});
my ($bob_schema, $visible) = split /\n/, $out;
is($bob_schema, $alice_schema, "bob's session uses the same temporary schema ($alice_schema)");
is($visible, '0', "bob reads nothing of alice's customers");

$node->stop;
done_testing();
