#!/usr/bin/env bash
# test/bench/lifecycle_orders.sh: order-insert throughput with clm's
# stage_on_order (+ stage_guard on the customers) attached, against the
# same inserts without triggers and against the plain-SQL way of doing the
# same job (a PL/pgSQL trigger that locks the customer, counts the orders,
# checks the rule and writes the history).  pgbench, 2 clients on the
# local socket, single-row INSERT transactions.
#
#   test/bench/lifecycle_orders.sh [seconds per run] [runs] [customers]
#
# Prints the median tps of each variant over the runs and the ratios.
# A benchmark, not a test: it asserts nothing.

set -euo pipefail
. "$(dirname "$0")/../lib/pgenv.sh"
. "$(dirname "$0")/../lib/pgroot.sh"
# CLM_PG_MAJOR=17 runs the benchmark on PostgreSQL 17, inside its Debian root
clm_enter_root "$PG_MAJOR" "$(realpath "$0")" "$@"
cd "$CLM_ROOT"

secs=${1:-5}
runs=${2:-3}
ncust=${3:-10000}
clm_bench_start lifecycle_orders 54871 shared_buffers=256MB max_wal_size=4GB
dir=$BENCH_DIR
psql() { "$CLM_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }

psql -v ncust="$ncust" <<'SQL'
CREATE EXTENSION clm;
SET timezone = 'UTC';
-- three identical CRM schemas
DO $$
DECLARE s text;
BEGIN
    FOREACH s IN ARRAY ARRAY['b_plain', 'b_clm', 'b_sql'] LOOP
        EXECUTE format('CREATE SCHEMA %I', s);
        EXECUTE format('CREATE TABLE %I.customers (id bigint PRIMARY KEY, status clm.lifecycle_stage,
                        status_since timestamptz)', s);
        EXECUTE format('CREATE TABLE %I.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                        customer_id bigint NOT NULL REFERENCES %I.customers,
                        ordered_at timestamptz NOT NULL, amount numeric(12,2) NOT NULL)', s, s);
        EXECUTE format('CREATE INDEX ON %I.orders (customer_id, ordered_at)', s);
    END LOOP;
END $$;
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON b_clm.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'status_since');
CREATE TRIGGER stage_on_order AFTER INSERT ON b_clm.orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('b_clm.customers', 'customer_id', 'status', 'ordered_at');

-- the plain-SQL way of the same job
CREATE FUNCTION b_sql.on_order() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
    cur clm.lifecycle_stage;
    n bigint; first_at timestamptz;
    target clm.lifecycle_stage;
BEGIN
    SELECT c.status INTO cur FROM b_sql.customers c WHERE c.id = NEW.customer_id FOR NO KEY UPDATE;
    SELECT count(*), min(o.ordered_at) INTO n, first_at
    FROM b_sql.orders o WHERE o.customer_id = NEW.customer_id AND o.ordered_at <= NEW.ordered_at;
    target := CASE WHEN cur IN ('at_risk', 'dormant', 'churned') THEN 'reactivated'
                   WHEN n = 1 THEN 'first_purchase'
                   WHEN n >= 4 AND NEW.ordered_at - first_at >= interval '180 days' THEN 'loyal'
                   ELSE 'repeat' END;
    IF target IS DISTINCT FROM cur
       AND (cur IS NULL OR EXISTS (SELECT 1 FROM clm.stage_transition_rule r
                                   WHERE r.from_stage = cur AND r.to_stage = target)) THEN
        UPDATE b_sql.customers SET status = target, status_since = NEW.ordered_at
        WHERE id = NEW.customer_id;
        INSERT INTO clm.stage_history (relation, customer_key, from_stage, to_stage, changed_at, changed_by)
        VALUES ('b_sql.customers', NEW.customer_id::text, cur, target, NEW.ordered_at, current_user);
    END IF;
    RETURN NULL;
END $f$;
CREATE TRIGGER on_order AFTER INSERT ON b_sql.orders FOR EACH ROW EXECUTE FUNCTION b_sql.on_order();

-- customers with some history, in three equal groups (orders relative to
-- now(), since the benchmark's orders are placed at now()):
--   first_purchase: 1 order 30 days ago      -> the next orders make them repeat
--   repeat:         3 orders in the last 90 days -> stay repeat (tenure < 180 days)
--   loyal:          6 orders over two years  -> stay loyal
-- so two thirds of the orders take the full path (lock, read the orders,
-- classify) and one third only the lock (no order can move a loyal customer)
INSERT INTO b_plain.customers
SELECT g, (ARRAY['first_purchase', 'repeat', 'loyal'])[1 + g % 3]::clm.lifecycle_stage,
       now() - interval '30 days' FROM generate_series(1, :ncust) g;
INSERT INTO b_clm.customers SELECT * FROM b_plain.customers;
INSERT INTO b_sql.customers SELECT * FROM b_plain.customers;
INSERT INTO b_plain.orders (customer_id, ordered_at, amount)
SELECT g, now() - k * CASE g % 3 WHEN 0 THEN interval '30 days' WHEN 1 THEN interval '30 days'
                                 ELSE interval '120 days' END, 10
FROM generate_series(1, :ncust) g, generate_series(1, 6) k
WHERE k <= (ARRAY[1, 3, 6])[1 + g % 3];
ALTER TABLE b_clm.orders DISABLE TRIGGER stage_on_order;
INSERT INTO b_clm.orders (customer_id, ordered_at, amount) SELECT customer_id, ordered_at, amount FROM b_plain.orders;
ALTER TABLE b_clm.orders ENABLE TRIGGER stage_on_order;
ALTER TABLE b_sql.orders DISABLE TRIGGER on_order;
INSERT INTO b_sql.orders (customer_id, ordered_at, amount) SELECT customer_id, ordered_at, amount FROM b_plain.orders;
ALTER TABLE b_sql.orders ENABLE TRIGGER on_order;
VACUUM ANALYZE;
SQL

for v in b_plain b_clm b_sql; do
    cat >"$dir/$v.sql" <<EOF
\set c random(1, $ncust)
INSERT INTO $v.orders (customer_id, ordered_at, amount) VALUES (:c, now(), 10);
EOF
done
[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"/*.sql

# tps of one pgbench run
run() {
    clm_as_pg "$CLM_BINDIR/pgbench" -n -c 2 -j 2 -T "$secs" -f "$dir/$1.sql" \
        -h "$PGHOST" -p "$PGPORT" -U postgres postgres 2>&1 |
        sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p'
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# CLM_BENCH_PROFILE=<variant>: profile one client's backend with perf instead
# (development aid)
if [ -n "${CLM_BENCH_PROFILE:-}" ]; then
    clm_as_pg "$CLM_BINDIR/pgbench" -n -c 1 -T "$secs" -f "$dir/$CLM_BENCH_PROFILE.sql" \
        -h "$PGHOST" -p "$PGPORT" -U postgres postgres >"$dir/profile.log" 2>&1 &
    sleep 1
    pid=$(psql -Atc "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' LIMIT 1")
    perf record -g -p "$pid" -o "$dir/perf.data" -- sleep $((secs - 2)) >/dev/null 2>&1
    wait
    grep tps "$dir/profile.log"
    perf report -i "$dir/perf.data" --children --sort symbol --stdio -g none 2>/dev/null | grep -v '^#' | grep '%' | head -70
    exit 0
fi

declare -A tps
for v in b_plain b_clm b_sql; do : >"$dir/$v.tps"; done
for r in $(seq 1 "$runs"); do
    # interleave the variants so that load from other users of the machine
    # hits them alike
    for v in b_plain b_clm b_sql; do run "$v" >>"$dir/$v.tps"; done
done
for v in b_plain b_clm b_sql; do tps[$v]=$(median <"$dir/$v.tps"); done

moves=$(psql -Atc "SELECT count(*) FROM clm.stage_history WHERE relation = 'b_clm.customers'::regclass")
orders=$(psql -Atc "SELECT count(*) - (SELECT count(*) FROM b_plain.orders WHERE ordered_at < now() - interval '1 day') FROM b_clm.orders")
echo
echo "order-insert throughput, pgbench -c 2 -j 2, ${secs} s per run, median of $runs runs"
echo "($ncust customers, a third each first_purchase / repeat / loyal; one order per transaction)"
printf '  %-44s %10.1f tps\n' "no trigger" "${tps[b_plain]}"
printf '  %-44s %10.1f tps\n' "clm.stage_on_order + clm.stage_guard (C)" "${tps[b_clm]}"
printf '  %-44s %10.1f tps\n' "same job as a PL/pgSQL trigger (plain SQL)" "${tps[b_sql]}"
awk -v a="${tps[b_clm]}" -v b="${tps[b_plain]}" -v c="${tps[b_sql]}" 'BEGIN {
    printf "  ratio with clm / without trigger:        %.2f\n", a / b;
    printf "  ratio with clm / PL/pgSQL trigger:       %.2f\n", a / c }'
echo "  stage changes recorded by clm during the runs: $moves (for $orders orders)"
