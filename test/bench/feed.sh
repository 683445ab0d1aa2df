#!/usr/bin/env bash
# test/bench/feed.sh: what the stage-change feed costs the order writers.
# pgbench, 4 clients, single-row INSERT transactions into an orders table
# with clm.stage_on_order (+ clm.stage_guard on the customers), each run on
# new customers, in three variants, interleaved run by run (in both orders,
# since the tables grow from run to run):
#   off   no feed consumer: stage changes go to the history only
#   sub   a consumer subscribed but not reading: the events are written
#         and announced, nobody listens
#   on    a consumer subscribed, and test/t/082_feed_consumer.py reading
#         and acknowledging the events while the writers run (on this
#         machine it shares the cores with the writers)
#
#   test/bench/feed.sh [seconds per run] [runs] [customers per run]
#   (an even number of runs gives each order of the variants as many)
#   CLM_BENCH_MIX=established|new   which customers (see below)
#
# Prints the median tps of each variant, the ratios sub / off and on / off,
# and how many events the consumer handled.  A benchmark, not a test: it asserts
# nothing.

set -euo pipefail
. "$(dirname "$0")/../lib/pgenv.sh"
. "$(dirname "$0")/../lib/pgroot.sh"
# CLM_PG_MAJOR=17 runs the benchmark on PostgreSQL 17, inside its Debian root
clm_enter_root "$PG_MAJOR" "$(realpath "$0")" "$@"
cd "$CLM_ROOT"

secs=${1:-10}
runs=${2:-10}
ncust=${3:-20000}
clm_bench_start feed 54873 shared_buffers=256MB max_wal_size=4GB
dir=$BENCH_DIR
psql() { "$CLM_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }

psql -v ncust="$ncust" <<'SQL'
CREATE EXTENSION clm;
CREATE SCHEMA b;
CREATE TABLE b.customers (id bigint PRIMARY KEY, status clm.lifecycle_stage, status_since timestamptz);
CREATE TABLE b.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                       customer_id bigint NOT NULL REFERENCES b.customers,
                       ordered_at timestamptz NOT NULL, amount numeric(12,2) NOT NULL);
CREATE INDEX ON b.orders (customer_id, ordered_at);
CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON b.customers
    FOR EACH ROW EXECUTE FUNCTION clm.stage_guard('status', 'id', 'status_since');
CREATE TRIGGER stage_on_order AFTER INSERT ON b.orders
    FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order('b.customers', 'customer_id', 'status', 'ordered_at');
SQL

# Each run gets customers of its own, so that every run does the same
# work.  CLM_BENCH_MIX chooses them:
#   established  (default) as in test/bench/lifecycle_orders.sh: a third
#                each first_purchase (1 order 30 days ago), repeat (3 in the
#                last 90 days) and loyal (6 over two years): few orders
#                move a customer
#   new          all prospects: their first orders move them
#                (first_purchase, then repeat), the feed's worst case
mix=${CLM_BENCH_MIX:-established}
cat >"$dir/order.sql" <<EOF
\set c random(1, $ncust) + :base
INSERT INTO b.orders (customer_id, ordered_at, amount) VALUES (:c, now(), 10);
EOF
new_customers() {
    if [ "$mix" = new ]; then
        psql -c "INSERT INTO b.customers SELECT $1 + g, 'prospect', now() - interval '30 days'
                 FROM generate_series(1, $ncust) g" -c "VACUUM ANALYZE b.customers" >/dev/null
        return
    fi
    psql -v base="$1" -v ncust="$ncust" >/dev/null <<'SQL'
INSERT INTO b.customers
SELECT :base + g, (ARRAY['first_purchase', 'repeat', 'loyal'])[1 + g % 3]::clm.lifecycle_stage,
       now() - interval '30 days' FROM generate_series(1, :ncust) g;
ALTER TABLE b.orders DISABLE TRIGGER stage_on_order;
INSERT INTO b.orders (customer_id, ordered_at, amount)
SELECT :base + g, now() - k * CASE g % 3 WHEN 2 THEN interval '120 days' ELSE interval '30 days' END, 10
FROM generate_series(1, :ncust) g, generate_series(1, 6) k
WHERE k <= (ARRAY[1, 3, 6])[1 + g % 3];
ALTER TABLE b.orders ENABLE TRIGGER stage_on_order;
VACUUM ANALYZE b.customers, b.orders;
SQL
}
[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"/*.sql
connstr="host=$PGHOST port=$PGPORT user=postgres dbname=postgres"

# tps of one pgbench run, on the customers from $1 + 1 on
run() {
    clm_as_pg "$CLM_BINDIR/pgbench" -n -c 4 -j 2 -T "$secs" -D base="$1" -f "$dir/order.sql" \
        -h "$PGHOST" -p "$PGPORT" -U postgres postgres 2>&1 |
        sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p'
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

: >"$dir/off.tps"
: >"$dir/sub.tps"
: >"$dir/on.tps"
: >"$dir/events.txt"
# one run of variant $1, on customers of its own, made before a consumer
# subscribes (so that no variant writes or reads their first stages)
variant() {
    new_customers "$base"
    case $1 in
    off)
        run "$base" >>"$dir/off.tps" ;;
    sub)
        psql -c "SELECT clm.feed_subscribe('bench')" >/dev/null
        run "$base" >>"$dir/sub.tps"
        psql -c "SELECT clm.feed_unsubscribe('bench')" >/dev/null ;;
    on)
        psql -c "SELECT clm.feed_subscribe('bench')" >/dev/null
        rm -f "$dir/stop"
        /usr/bin/python3 test/t/082_feed_consumer.py "$connstr" bench "$dir/events.txt" "$dir/stop" &
        consumer=$!
        run "$base" >>"$dir/on.tps"
        touch "$dir/stop"
        wait "$consumer"
        psql -c "SELECT clm.feed_unsubscribe('bench')" >/dev/null ;;
    esac
    base=$((base + ncust))
}

# The tables grow run by run, so the variants take turns in both orders
# (off sub on, then on sub off): a drift over the runs does not favour one.
base=0
for r in $(seq 1 "$runs"); do
    if [ $((r % 2)) -eq 1 ]; then order="off sub on"; else order="on sub off"; fi
    for v in $order; do variant "$v"; done
done
off=$(median <"$dir/off.tps")
sub=$(median <"$dir/sub.tps")
on=$(median <"$dir/on.tps")
events=$(grep -c '|' "$dir/events.txt" || true)
changes=$(psql -Atc "SELECT count(*) FROM clm.stage_history WHERE relation = 'b.customers'::regclass
                      AND changed_at > now() - interval '1 day' AND from_stage IS NOT NULL")
orders=$(psql -Atc "SELECT count(*) FROM b.orders WHERE ordered_at > now() - interval '1 day'")

echo
echo "order-insert throughput, pgbench -c 4 -j 2, ${secs} s per run, median of $runs runs ($ncust $mix customers per run)"
printf '  %-50s %10.1f tps\n' "feed off (no consumer)" "$off"
printf '  %-50s %10.1f tps\n' "feed on, consumer subscribed, not reading" "$sub"
printf '  %-50s %10.1f tps\n' "feed on, a consumer reading and acknowledging" "$on"
awk -v a="$sub" -v b="$off" 'BEGIN { printf "  ratio subscribed / off: %.3f\n", a / b }'
awk -v a="$on" -v b="$off" 'BEGIN { printf "  ratio reading / off: %.3f\n", a / b }'
echo "  all runs (tps): off $(tr '\n' ' ' <"$dir/off.tps")| sub $(tr '\n' ' ' <"$dir/sub.tps")| on $(tr '\n' ' ' <"$dir/on.tps")"
echo "  stage changes made by the orders, all runs: $changes for $orders orders; events the consumer handled: $events"
