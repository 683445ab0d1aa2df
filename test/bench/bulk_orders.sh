#!/usr/bin/env bash
# test/bench/bulk_orders.sh: a nightly bulk load of orders with clm's stages
# kept, against the same load without triggers.  For each load (COPY from a
# file, and INSERT ... SELECT from a staging table) and each variant:
#   none   no trigger on the orders
#   row    clm.stage_on_order FOR EACH ROW
#   stmt   clm.stage_on_order FOR EACH STATEMENT over the new rows
# (clm.stage_guard on the customers in all three), timed in the same round,
# the variants in turn; every round loads the same orders into fresh
# copies of the same customers and orders.
#
#   test/bench/bulk_orders.sh [orders] [customers] [rounds]
#
# Default: 1,000,000 orders for 100,000 customers, 3 rounds.  Customers
# are a third each first_purchase, repeat and loyal with an order history
# (as in test/bench/lifecycle_orders.sh), so the load moves many of them.
# Prints the median seconds of each, and the throughput of each variant
# relative to no trigger (its time over theirs: 1 is as fast); then the
# statement trigger's own time, from EXPLAIN ANALYZE of one more INSERT ...
# SELECT per round.  A benchmark, not a test: it asserts nothing.
# CLM_BULK_VARIANTS="none stmt" leaves the row trigger out (it takes
# several times as long as the rest).

set -euo pipefail
. "$(dirname "$0")/../lib/pgenv.sh"
. "$(dirname "$0")/../lib/pgroot.sh"
# CLM_PG_MAJOR=17 runs the benchmark on PostgreSQL 17, inside its Debian root
clm_enter_root "$PG_MAJOR" "$(realpath "$0")" "$@"
cd "$CLM_ROOT"

norders=${1:-1000000}
ncust=${2:-100000}
rounds=${3:-3}
# autovacuum off: every table is vacuumed and analyzed before each load, and
# a vacuum of the last load's tables must not run into the next one's time
clm_bench_start bulk_orders 54875 shared_buffers=1GB max_wal_size=8GB work_mem=64MB autovacuum=off
dir=$BENCH_DIR
psql() { "$CLM_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }

psql -v ncust="$ncust" -v norders="$norders" <<'SQL'
CREATE EXTENSION clm;
CREATE SCHEMA b;
-- the customers and their order history, copied for every load
CREATE TABLE b.customers0 (id bigint PRIMARY KEY, status clm.lifecycle_stage, status_since timestamptz);
INSERT INTO b.customers0
SELECT g, (ARRAY['first_purchase', 'repeat', 'loyal'])[1 + g % 3]::clm.lifecycle_stage,
       timestamptz '2026-01-01 00:00+00' - interval '30 days' FROM generate_series(1, :ncust) g;
CREATE TABLE b.history0 AS
SELECT g AS customer_id,
       timestamptz '2026-01-01 00:00+00' - k * CASE g % 3 WHEN 2 THEN interval '120 days' ELSE interval '30 days' END AS ordered_at,
       10::numeric(12,2) AS amount
FROM generate_series(1, :ncust) g, generate_series(1, 6) k
WHERE k <= (ARRAY[1, 3, 6])[1 + g % 3];
-- the night's orders: every customer at least once, in no particular order
CREATE TABLE b.staging AS
SELECT CASE WHEN i <= :ncust THEN 1 + (i::bigint * 7919) % :ncust
            ELSE 1 + floor(:ncust * power(((i::bigint * 104729) % 1000003) / 1000003.0, 2))::bigint END AS customer_id,
       timestamptz '2026-01-01 00:00+00' + ((i::bigint * 2654435761) % 86400) * interval '1 second' AS ordered_at,
       (1 + i % 500)::numeric(12,2) AS amount
FROM generate_series(1, :norders) i;
VACUUM ANALYZE b.customers0, b.history0, b.staging;
SQL
psql -c "\\copy b.staging TO '$dir/orders.csv' WITH (FORMAT csv)"
[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"/orders.csv

# fresh copies of the customers and orders, with the variant's trigger
prepare() {
    psql -v v="$1" >/dev/null <<'SQL'
DROP TABLE IF EXISTS b.orders, b.customers;
DELETE FROM clm.stage_history WHERE relation = 0;   -- the dropped copies' (detached)
CREATE TABLE b.customers (LIKE b.customers0 INCLUDING ALL);
INSERT INTO b.customers SELECT * FROM b.customers0;
CREATE TRIGGER g BEFORE INSERT OR UPDATE ON b.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'status_since');
CREATE TABLE b.orders (customer_id bigint NOT NULL REFERENCES b.customers,
                       ordered_at timestamptz NOT NULL, amount numeric(12,2) NOT NULL);
CREATE INDEX ON b.orders (customer_id, ordered_at);
INSERT INTO b.orders SELECT * FROM b.history0;
SELECT CASE :'v'
    WHEN 'row' THEN 'CREATE TRIGGER o AFTER INSERT ON b.orders FOR EACH ROW
        EXECUTE FUNCTION clm.stage_on_order(''b.customers'', ''customer_id'', ''status'', ''ordered_at'')'
    WHEN 'stmt' THEN 'CREATE TRIGGER o AFTER INSERT ON b.orders REFERENCING NEW TABLE AS new_orders
        FOR EACH STATEMENT EXECUTE FUNCTION clm.stage_on_order(''b.customers'', ''customer_id'', ''status'', ''ordered_at'')'
    ELSE 'SELECT 1' END AS ddl \gset
:ddl;
VACUUM ANALYZE b.customers, b.orders, clm.stage_history;
CHECKPOINT;
SQL
}

# seconds of one load
load() {
    local how=$1 t0 t1
    t0=$(date +%s.%N)
    if [ "$how" = copy ]; then
        psql -c "\\copy b.orders FROM '$dir/orders.csv' WITH (FORMAT csv)"
    else
        psql -c "INSERT INTO b.orders SELECT * FROM b.staging"
    fi
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

variants=${CLM_BULK_VARIANTS:-none row stmt}
case " $variants " in *" none "*) ;; *) variants="none $variants" ;; esac
for how in copy insert; do
    for v in $variants; do : >"$dir/$how.$v"; done
done
# the statement trigger's own time, as EXPLAIN ANALYZE of the INSERT ...
# SELECT reports it (one more load per round, not among the timed ones)
trigger_time() {
    prepare stmt
    psql -At -c "EXPLAIN (ANALYZE, COSTS OFF) INSERT INTO b.orders SELECT * FROM b.staging" |
        sed -n 's/^Trigger o: time=\([0-9.]*\) .*/\1/p' | awk '{ printf "%.3f\n", $1 / 1000 }'
}
: >"$dir/trigger.stmt"
for r in $(seq 1 "$rounds"); do
    for how in copy insert; do
        for v in $variants; do
            prepare "$v"
            load "$how" >>"$dir/$how.$v"
            if [ "$v" != none ]; then
                psql -Atc "SELECT status || ' ' || count(*) FROM b.customers GROUP BY status ORDER BY 1" >"$dir/stages.$v"
            fi
        done
    done
    case " $variants " in *" stmt "*) trigger_time >>"$dir/trigger.stmt" ;; esac
done

echo
echo "bulk load of $norders orders for $ncust customers, median of $rounds rounds (seconds)"
for how in copy insert; do
    none=$(median <"$dir/$how.none")
    for v in $variants; do
        t=$(median <"$dir/$how.$v")
        awk -v h="$how" -v v="$v" -v t="$t" -v n="$none" \
            'BEGIN { printf "  %-6s %-5s %8.2f s   throughput / no trigger %.2f\n", h, v, t, n / t }'
    done
    echo "    all rounds:$(for v in $variants; do printf ' %s %s|' "$v" "$(tr '\n' ' ' <"$dir/$how.$v")"; done)"
    # each round's own ratio (the variants ran one after the other in it):
    # steadier than the ratio of the medians where the machine's speed drifts
    for v in $variants; do
        [ "$v" = none ] && continue
        paste "$dir/$how.none" "$dir/$how.$v" | awk '{ printf "%.3f\n", $1 / $2 }' >"$dir/$how.$v.ratio"
        echo "    $v, each round's throughput / no trigger: $(tr '\n' ' ' <"$dir/$how.$v.ratio")(median $(median <"$dir/$how.$v.ratio"))"
    done
done
if [ -s "$dir/trigger.stmt" ]; then
    echo "  the statement trigger's own time in the INSERT ... SELECT (EXPLAIN ANALYZE): median $(median <"$dir/trigger.stmt") s"
    echo "    all rounds: $(tr '\n' ' ' <"$dir/trigger.stmt")"
fi
if [ -e "$dir/stages.row" ] && [ -e "$dir/stages.stmt" ]; then
    if cmp -s "$dir/stages.row" "$dir/stages.stmt"; then
        echo "  stages after the last load: the same with either trigger ($(tr '\n' ',' <"$dir/stages.stmt"))"
    else
        echo "  stages after the last load DIFFER: row $(tr '\n' ',' <"$dir/stages.row") stmt $(tr '\n' ',' <"$dir/stages.stmt")"
    fi
fi
