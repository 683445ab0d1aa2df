# CREATE EXTENSION clm installs only into a schema clm that the installing
# role owns and in which no other role may create objects.  A role with
# CREATE on the database could otherwise create the schema first, let the
# DBA install into it, and later (as the schema's owner) rename it away and
# put look-alike functions into a new clm that the DBA's jobs would run.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('install');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
    CREATE ROLE mallory LOGIN NOSUPERUSER;
    GRANT CREATE ON DATABASE postgres TO mallory;
});

# an ordinary role creates the schema first
$node->safe_psql('postgres', 'CREATE SCHEMA clm', extra_params => [ '-U', 'mallory' ]);
my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nCREATE EXTENSION clm");
isnt($ret, 0, 'CREATE EXTENSION refuses a schema clm owned by another role');
like($err, qr/42501: schema "clm" is owned by role "mallory", not by the role installing clm/,
    'with an error that names the owner');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_extension WHERE extname = 'clm'}), '0',
    'nothing is installed');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_proc WHERE pronamespace = 'clm'::regnamespace}), '0',
    'and no function was created in that schema');

# the rename attack has nothing to work with: the schema stays empty
$node->safe_psql('postgres', 'ALTER SCHEMA clm RENAME TO clm_old', extra_params => [ '-U', 'mallory' ]);

# a schema of the DBA's own in which others may create objects is refused too
$node->safe_psql('postgres', q{CREATE SCHEMA clm; GRANT CREATE ON SCHEMA clm TO mallory});
($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nCREATE EXTENSION clm");
like($err, qr/42501: other roles may create objects in schema "clm"/, 'CREATE on the schema for others is refused');
like($err, qr/CREATE on the schema is granted to: mallory\./, 'naming the roles');
$node->safe_psql('postgres', q{GRANT CREATE ON SCHEMA clm TO PUBLIC; REVOKE CREATE ON SCHEMA clm FROM mallory});
($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nCREATE EXTENSION clm");
like($err, qr/CREATE on the schema is granted to: PUBLIC\./, 'PUBLIC included');

# what another role created while it could stays its own: a function that a
# call with a string literal would choose over clm's (clm.stage_label has a
# clm.lifecycle_stage argument), whose body its owner can replace any time
$node->safe_psql('postgres', q{
    CREATE FUNCTION clm.stage_label(stage text) RETURNS text LANGUAGE sql
        AS $$SELECT 'run as ' || current_user$$;
}, extra_params => [ '-U', 'mallory' ]);
$node->safe_psql('postgres', q{REVOKE CREATE ON SCHEMA clm FROM PUBLIC});
($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nCREATE EXTENSION clm");
like($err, qr/42501: schema "clm" holds objects of other roles/, 'objects of other roles in the schema are refused');
like($err, qr/function clm\.stage_label\(pg_catalog\.text\) \(owner mallory\)/, 'naming them and their owners');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_extension WHERE extname = 'clm'}), '0',
    'nothing is installed');

# default privileges in the schema would grant clm's tables to others
$node->safe_psql('postgres', q{
    DROP FUNCTION clm.stage_label(text);
    ALTER DEFAULT PRIVILEGES IN SCHEMA clm GRANT INSERT, UPDATE, DELETE ON TABLES TO mallory;
});
($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nCREATE EXTENSION clm");
like($err, qr/42501: schema "clm" has default privileges for the objects the installing role creates in it/,
    'default privileges in the schema are refused');
$node->safe_psql('postgres', q{
    ALTER DEFAULT PRIVILEGES IN SCHEMA clm REVOKE INSERT, UPDATE, DELETE ON TABLES FROM mallory;
});

# the DBA's own schema without such grants is fine, and so is no schema at all
$node->safe_psql('postgres', q{CREATE EXTENSION clm});
is($node->safe_psql('postgres', q{SELECT has_table_privilege('mallory', 'clm.stage_history', 'INSERT')}), 'f',
    'clm\'s tables are not granted to the role');
is($node->safe_psql('postgres', q{SELECT n.nspname || ':' || pg_get_userbyid(n.nspowner)
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'clm'}),
    'clm:' . $node->safe_psql('postgres', 'SELECT current_user'), 'a schema the installing role owns is used');
$node->safe_psql('postgres', q{DROP EXTENSION clm; DROP SCHEMA clm; CREATE EXTENSION clm});
is($node->safe_psql('postgres', q{SELECT clm.stage_label('loyal')}), 'Loyal customer', 'without a schema it is created');

$node->stop;
done_testing();
