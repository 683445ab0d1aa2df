#!/usr/bin/env bash
# test/bench/lifecycle_refresh.sh: clm.refresh_stages (the time-driven
# moves, through clm.stage_guard, with history) against the plain-SQL way of
# doing the same job: one UPDATE ... FROM with the policy formula written
# inline and the history inserted from its RETURNING, guard disabled.
#
#   test/bench/lifecycle_refresh.sh [customers] [runs]
#
# Each run starts from the same stages and moves the same customers; prints
# the median time of each and the ratio.  A benchmark, not a test.

set -euo pipefail
. "$(dirname "$0")/../lib/pgenv.sh"
. "$(dirname "$0")/../lib/pgroot.sh"
# CLM_PG_MAJOR=17 runs the benchmark on PostgreSQL 17, inside its Debian root
clm_enter_root "$PG_MAJOR" "$(realpath "$0")" "$@"
cd "$CLM_ROOT"

ncust=${1:-100000}
runs=${2:-3}
clm_bench_start lifecycle_refresh 54872 shared_buffers=512MB max_wal_size=4GB work_mem=64MB
dir=$BENCH_DIR
psql() { "$CLM_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }

psql -v ncust="$ncust" <<'SQL'
CREATE EXTENSION clm;
SET timezone = 'UTC';
CREATE SCHEMA b;
CREATE TABLE b.customers (id bigint PRIMARY KEY, status clm.lifecycle_stage, status_since timestamptz);
CREATE TABLE b.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                       customer_id bigint NOT NULL REFERENCES b.customers,
                       ordered_at timestamptz NOT NULL, amount numeric(12,2) NOT NULL);
-- 1 to 9 orders per customer at a personal gap of 5 to 95 days, the last
-- one 0 to 599 days before the as-of time 2026-07-01
INSERT INTO b.customers SELECT g, NULL, NULL FROM generate_series(1, :ncust) g;
INSERT INTO b.orders (customer_id, ordered_at, amount)
SELECT g, timestamptz '2026-07-01 00:00+00' - ((g * 7919) % 600) * interval '1 day'
          - (k - 1) * (5 + (g * 31) % 91) * interval '1 day', 10
FROM generate_series(1, :ncust) g, generate_series(1, 9) k
WHERE k <= 1 + (g * 13) % 9;
CREATE INDEX ON b.orders (customer_id);
-- the stages the orders implied as of their last order (all active)
UPDATE b.customers c SET status = s.st, status_since = s.last_at
FROM (SELECT customer_id, max(ordered_at) AS last_at,
             clm.classify_stage(count(*), min(ordered_at), max(ordered_at), max(ordered_at)) AS st
      FROM b.orders GROUP BY 1) s
WHERE s.customer_id = c.id;
CREATE TABLE b.saved AS SELECT * FROM b.customers;
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON b.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'status_since');
VACUUM ANALYZE;
SQL

reset_sql="ALTER TABLE b.customers DISABLE TRIGGER stage_guard;
UPDATE b.customers c SET status = s.status, status_since = s.status_since FROM b.saved s
WHERE s.id = c.id AND (c.status, c.status_since) IS DISTINCT FROM (s.status, s.status_since);
ALTER TABLE b.customers ENABLE TRIGGER stage_guard;
DELETE FROM clm.stage_history WHERE relation = 'b.customers'::regclass;
VACUUM ANALYZE b.customers;"

clm_sql="SELECT clm.refresh_stages('b.customers', 'b.orders', 'id', 'status', 'customer_id',
                                  'ordered_at', '2026-07-01 00:00+00')"

plain_sql="ALTER TABLE b.customers DISABLE TRIGGER stage_guard;
WITH f AS (
    SELECT o.customer_id AS k, count(*) AS n, min(o.ordered_at) AS first_at, max(o.ordered_at) AS last_at
    FROM b.orders o GROUP BY o.customer_id
    HAVING max(o.ordered_at) <= timestamptz '2026-07-01 00:00+00'),
t AS (
    SELECT c.id, c.status AS cur,
           CASE WHEN x.idle > least(greatest(x.gap * p.churned_gap_multiple, p.churned_min_days), p.churned_max_days) THEN 'churned'
                WHEN x.idle > least(greatest(x.gap * p.dormant_gap_multiple, p.dormant_min_days), p.dormant_max_days) THEN 'dormant'
                WHEN x.idle > least(greatest(x.gap * p.at_risk_gap_multiple, p.at_risk_min_days), p.at_risk_max_days) THEN 'at_risk'
           END::clm.lifecycle_stage AS st
    FROM f JOIN b.customers c ON c.id = f.k
    CROSS JOIN (SELECT * FROM clm.lifecycle_policy WHERE name = 'default') p
    CROSS JOIN LATERAL (SELECT extract(epoch FROM timestamptz '2026-07-01 00:00+00' - f.last_at) / 86400 AS idle,
                               CASE WHEN f.n >= 2 THEN extract(epoch FROM f.last_at - f.first_at) / 86400 / (f.n - 1)
                                    ELSE p.fallback_gap_days END AS gap) x
    WHERE c.status IN ('first_purchase', 'repeat', 'loyal', 'advocate', 'reactivated', 'at_risk', 'dormant')),
u AS (
    UPDATE b.customers c SET status = t.st, status_since = timestamptz '2026-07-01 00:00+00'
    FROM t
    WHERE c.id = t.id AND t.st IS NOT NULL
      AND coalesce(array_position(ARRAY['at_risk', 'dormant', 'churned']::clm.lifecycle_stage[], t.cur), 0)
          < array_position(ARRAY['at_risk', 'dormant', 'churned']::clm.lifecycle_stage[], t.st)
      AND EXISTS (SELECT 1 FROM clm.stage_transition_rule r WHERE r.from_stage = t.cur AND r.to_stage = t.st)
    RETURNING c.id, t.cur, t.st)
INSERT INTO clm.stage_history (relation, customer_key, from_stage, to_stage, changed_at, changed_by)
SELECT 'b.customers', u.id::text, u.cur, u.st, timestamptz '2026-07-01 00:00+00', current_user FROM u;
ALTER TABLE b.customers ENABLE TRIGGER stage_guard;"

check_sql="SELECT sum(n) || ' moved: ' || string_agg(n || ' ' || to_stage, ', ' ORDER BY to_stage)
FROM (SELECT to_stage, count(*) AS n FROM clm.stage_history WHERE relation = 'b.customers'::regclass GROUP BY 1) s"

# seconds taken by one statement (psql \timing, ms -> s)
timed() {
    psql -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1 | awk '{printf "%.3f\n", $1 / 1000}'
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

: >"$dir/clm.t"; : >"$dir/plain.t"
for r in $(seq 1 "$runs"); do
    psql <<<"$reset_sql"
    timed "$clm_sql" >>"$dir/clm.t"
    clm_moves=$(psql -Atc "$check_sql")
    psql <<<"$reset_sql"
    # the plain statement's own time (the ALTERs around it are not counted)
    psql -c "ALTER TABLE b.customers DISABLE TRIGGER stage_guard"
    timed "${plain_sql#*;}" >>"$dir/plain.t"
    psql -c "ALTER TABLE b.customers ENABLE TRIGGER stage_guard"
    plain_moves=$(psql -Atc "$check_sql")
done
orders=$(psql -Atc "SELECT count(*) FROM b.orders")
echo
echo "refresh_stages as of 2026-07-01: $ncust customers, $orders orders, median of $runs runs"
echo "  clm.refresh_stages (locks, then moves through stage_guard): $(median <"$dir/clm.t") s   [$clm_moves]"
echo "  plain SQL UPDATE ... FROM + history INSERT, guard off:      $(median <"$dir/plain.t") s   [$plain_moves]"
awk -v a="$(median <"$dir/clm.t")" -v b="$(median <"$dir/plain.t")" 'BEGIN {
    printf "  ratio clm time / plain SQL time: %.2f\n", a / b }'
[ "$clm_moves" = "$plain_moves" ] && echo "  both moved the same customers to the same stages" \
    || echo "  WARNING: the two moved different customers"
