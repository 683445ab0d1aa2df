# 020_rfm_dump.pl: user RFM rule sets and stored RFM states survive
# pg_dump/pg_restore; the seeded default rule set is not duplicated; a
# non-superuser can run the whole RFM pipeline.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('rfm_dump');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', q{
    CREATE EXTENSION clm;
    INSERT INTO clm.rfm_segment_rule
    SELECT 'mine', segment, r_min, r_max, f_min, f_max, m_min, m_max, label_en, label_zh
    FROM clm.rfm_segment_rule WHERE ruleset = 'default';
    UPDATE clm.rfm_segment_rule SET label_en = 'Stars' WHERE ruleset = 'mine' AND segment = 'champions';
    CREATE TABLE orders (customer int, ordered_at timestamptz, amount numeric);
    INSERT INTO orders
    SELECT i % 50, timestamptz '2024-01-01 00:00+00' + (i * 37 % 400) * interval '1 day', (i * 13 % 1000) / 100.0
    FROM generate_series(1, 1000) i;
    CREATE TABLE daily AS
    SELECT customer, date_trunc('day', ordered_at, 'UTC') AS day, clm.rfm_state_agg(ordered_at, amount) AS st
    FROM orders GROUP BY 1, 2;
});

my $query = q{
    SELECT string_agg(customer || ':' || clm.rfm_final(m, timestamptz '2026-01-01 00:00+00')::text, ';' ORDER BY customer)
    FROM (SELECT customer, clm.rfm_merge(st) AS m FROM daily GROUP BY customer) x};
my $before = $node->safe_psql('src', $query);

my $dump = $PostgreSQL::Test::Utils::tmp_check . '/rfm_src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src') ], 'pg_dump of a database using clm');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('dst'), $dump ], 'pg_restore');

is($node->safe_psql('dst', q{SELECT count(*) FROM clm.rfm_segment_rule WHERE ruleset = 'default'}),
   '12', 'seeded default rules are restored once, not duplicated');
is($node->safe_psql('dst', q{SELECT count(*) FROM clm.rfm_segment_rule WHERE ruleset = 'mine'}),
   '12', 'the user rule set is in the dump');
is($node->safe_psql('dst', q{SELECT count(*) FROM clm.rfm_segment_rules_check('mine')}),
   '0', 'the restored user rule set still covers the grid');
is($node->safe_psql('dst', q{SELECT clm.rfm_segment_label(ROW(5, 5, 5, 555)::clm.rfm_score, 'en', 'mine')}),
   'Stars', 'the edit in the user rule set survives');
is($node->safe_psql('dst', $query), $before, 'stored clm.rfm_state values survive dump and restore');

# plain-text dump too (COPY text form of clm.rfm_state)
my ($out, $err);
$node->command_ok([ 'pg_dump', '-Fp', '-f', "$dump.sql", '-d', $node->connstr('src') ], 'plain pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE dst2');
$node->command_ok([ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-q', '-f', "$dump.sql", '-d', $node->connstr('dst2') ],
                  'plain restore');
is($node->safe_psql('dst2', $query), $before, 'states survive a plain-text dump');

# a non-superuser runs the whole pipeline
$node->safe_psql('src', q{
    CREATE ROLE analyst LOGIN;
    GRANT SELECT ON orders TO analyst;
});
my $pipeline = $node->safe_psql('src', q{
    SET ROLE analyst;
    WITH c AS (SELECT customer, clm.rfm_agg(ordered_at, amount, timestamptz '2026-01-01 00:00+00') AS r
               FROM orders GROUP BY customer),
    t AS (SELECT clm.rfm_thresholds(r) AS th FROM c)
    SELECT count(*) || '/' || count(clm.rfm_segment(clm.rfm_score(r, th))) FROM c, t;
});
is($pipeline, '50/50', 'a non-superuser scores and segments every customer');

$node->stop;
done_testing();
