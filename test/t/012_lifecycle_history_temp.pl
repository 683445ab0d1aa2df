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

# One backend slot, so that the next session is in the slot (and the
# temporary schema) of the last one: which free slot a new backend takes
# differs between PostgreSQL versions.
my $node = PostgreSQL::Test::Cluster->new('temp');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 1\nsuperuser_reserved_connections = 0\n");
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION clm;
    CREATE ROLE alice LOGIN;
    CREATE ROLE bob LOGIN;
});

# A session as $role.  The one slot is free again only once the last
# session's backend has exited, which happens after its client is gone:
# until then a new session is refused with 53300 and tried again.
sub as_role
{
    my ($role, $sql) = @_;
    my ($ret, $out, $err);
    for my $try (1 .. 100)
    {
        ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n" . $sql,
            extra_params => [ '-U', $role ]);
        last unless $err =~ /too many clients|remaining connection slots/;
        select(undef, undef, undef, 0.1);
    }
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
is((as_role('postgres', 'SELECT count(*) FROM clm.stage_history'))[1], '0',
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
