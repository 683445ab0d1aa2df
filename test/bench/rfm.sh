#!/usr/bin/env bash
# test/bench/rfm.sh: clm's RFM pipeline against the hand-written SQL, at
# several sizes.
#
#   test/bench/rfm.sh [SIZE ...]
#
# SIZE is CUSTOMERS:ORDERS_PER_CUSTOMER, with k and M for thousands and
# millions: 100k:10 1M:30 10M:100.  Default: 100k:10 1M:30.
#
#   CLM_BENCH_RUNS=N          rounds per size (the median is kept; default 5
#                             for up to 5 million orders, 3 above)
#   CLM_BENCH_WORK_MEM=256MB  work_mem of the cluster
#   CLM_BENCH_UUID=100k:10    also run this size with uuid customer ids
#                             (default: the first size; "none" to skip)
#   CLM_BENCH_DIR=/some/dir   build, cluster and data go to /some/dir/rfm
#   CLM_PG_MAJOR=17           run on PostgreSQL 17, inside its Debian root
#
# Not a test: it prints timings, ratios and memory.  Builds clm, installs it
# into a private PostgreSQL copy, starts a cluster on its own port, and for
# each size generates the orders deterministically (hash of the row number,
# no random(): every customer orders once, in an order scrambled by a
# multiplicative permutation, and the other orders go to customers drawn
# with a skewed u^2 distribution), then
# times, in the same round and alternating their order:
#   hand   the hand-written pipeline: max/count/sum GROUP BY, three
#          ntile(5) windows, CASE
#   clm    the documented pipeline: SELECT * FROM clm.rfm_table(...)
#   floor  count(*) GROUP BY customer_id: the scan and hash table every
#          per-customer aggregation pays
# Times are the "Execution Time" of EXPLAIN (ANALYZE, TIMING OFF): the whole
# result is computed but not sent to the client, for all three alike.
# Ratios are the medians of the per-round ratios (both queries of a ratio
# ran in the same round).  Peak memory is the highest sum of RssAnon over
# the server's processes (backend and parallel workers) during the query,
# above the idle sum before it, sampled every 20 ms; temp is what the query
# wrote to temporary files (pg_stat_database.temp_bytes).  Workers is how
# many parallel workers the query's plan launched.

set -euo pipefail
. "$(dirname "$0")/../lib/pgenv.sh"
. "$(dirname "$0")/../lib/pgroot.sh"
clm_enter_root "$PG_MAJOR" "$(realpath "$0")" "$@"
cd "$CLM_ROOT"

sizes=${*:-100k:10 1M:30}
work_mem=${CLM_BENCH_WORK_MEM:-256MB}
uuid_size=${CLM_BENCH_UUID:-${sizes%% *}}
clm_bench_start rfm 54791 shared_buffers=2GB "work_mem=$work_mem" max_parallel_workers_per_gather=2 \
    max_worker_processes=8 max_parallel_workers=8 jit=off
dir=$BENCH_DIR
export PGDATABASE=postgres
psql() { "$CLM_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
postmaster=$(head -1 "$CLM_PGDATA/postmaster.pid")

# count SIZE-PART: 100k -> 100000, 1M -> 1000000, 30 -> 30
count() {
    case $1 in
        *[kK]) echo $((${1%?} * 1000)) ;;
        *M) echo $((${1%?} * 1000000)) ;;
        *) echo "$1" ;;
    esac
}
# rss: the RssAnon (kB) of the server's processes, summed
rss() {
    local sum=0 pid kb
    for pid in $postmaster $(pgrep -P "$postmaster"); do
        kb=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        sum=$((sum + ${kb:-0}))
    done
    echo "$sum"
}
temp_bytes() { psql -At -c "SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# measure NAME: run $dir/NAME.sql once under EXPLAIN ANALYZE; append its
# time (ms), peak memory (MB), temp bytes (MB) and launched workers to
# $dir/NAME.{times,mem,temp,workers}
measure() {
    local name=$1 base peak now t0 out
    base=$(rss)
    peak=$base
    t0=$(temp_bytes)
    { echo "EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF)"; cat "$dir/$name.sql"; } | psql -At >"$dir/$name.plan" &
    out=$!
    while kill -0 "$out" 2>/dev/null; do
        now=$(rss)
        [ "$now" -gt "$peak" ] && peak=$now
        sleep 0.02
    done
    wait "$out"
    # a backend flushes its statistics as it exits: wait for that before
    # reading temp_bytes, or the query's temporary files would count in the
    # next one's figure
    for _ in $(seq 100); do
        [ "$(psql -At -c "SELECT count(*) FROM pg_stat_activity
                          WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")" = 0 ] && break
        sleep 0.05
    done
    sed -n 's/^Execution Time: \([0-9.]*\) ms$/\1/p' "$dir/$name.plan" >>"$dir/$name.times"
    echo $(((peak - base) / 1024)) >>"$dir/$name.mem"
    echo $((($(temp_bytes) - t0) / 1048576)) >>"$dir/$name.temp"
    { grep -o 'Workers Launched: [0-9]*' "$dir/$name.plan" || echo "Workers Launched: 0"; } |
        awk '{s += $3} END {print s}' >>"$dir/$name.workers"
}
# paired X Y: the median of the per-round ratios X/Y
paired() {
    paste -d' ' "$dir/$1.times" "$dir/$2.times" | awk '{printf "%.3f\n", $1 / $2}' | median
}

# generate TABLE CUSTOMERS ORDERS KEY: the orders, KEY "int" or "uuid"
generate() {
    local key="i2c"
    [ "$4" = uuid ] && key="md5(i2c::text)::uuid"
    psql -v customers="$2" -v orders="$3" <<SQL
DROP TABLE IF EXISTS $1;
CREATE TABLE $1 AS
SELECT $key AS customer_id, ordered_at, amount
FROM (SELECT CASE WHEN i <= :customers THEN ((i - 1) * 1000000007) % :customers + 1
                  ELSE 1 + floor(:customers * power((abs(hashint8(i)) % 1000000007) / 1000000007.0, 2)) END::integer AS i2c,
             timestamptz '2023-07-01 00:00+00'
                 + make_interval(secs => (abs(hashint8(i * 7 + 1)) % (1096 * 86400))) AS ordered_at,
             (((abs(hashint8(i * 13 + 5)) % 50000) + 1) / 100.0)::numeric(12,2) AS amount
      FROM generate_series(1::bigint, :orders) AS i) g;
VACUUM ANALYZE $1;
SQL
}

# bench LABEL TABLE FUNCTION: the three queries over TABLE, $runs rounds
bench() {
    local label=$1 table=$2 fn=$3 q run order
    cat >"$dir/hand.sql" <<SQL
WITH c AS (
    SELECT customer_id, max(ordered_at) AS last_at, count(*) AS frequency, sum(amount) AS monetary
    FROM $table GROUP BY customer_id),
s AS (
    SELECT customer_id, frequency, monetary,
           extract(epoch FROM timestamptz '2026-07-01 00:00+00' - last_at) / 86400 AS recency_days,
           ntile(5) OVER (ORDER BY last_at) AS r,
           ntile(5) OVER (ORDER BY frequency) AS f,
           ntile(5) OVER (ORDER BY monetary) AS m
    FROM c)
SELECT customer_id, recency_days, frequency, monetary, r, f, m, r * 100 + f * 10 + m AS score,
       CASE WHEN r = 5 AND f >= 4 THEN 'champions'
            WHEN r BETWEEN 3 AND 4 AND f >= 4 THEN 'loyal'
            WHEN r >= 4 AND f BETWEEN 2 AND 3 THEN 'potential_loyalist'
            WHEN r = 5 AND f = 1 THEN 'new'
            WHEN r = 4 AND f = 1 THEN 'promising'
            WHEN r = 3 AND f = 3 THEN 'need_attention'
            WHEN r = 3 AND f <= 2 THEN 'about_to_sleep'
            WHEN r <= 2 AND f = 3 THEN 'at_risk'
            WHEN r <= 2 AND f >= 4 AND m <= 3 THEN 'at_risk'
            WHEN r <= 2 AND f >= 4 THEN 'cannot_lose'
            WHEN r = 2 THEN 'hibernating'
            ELSE 'lost' END AS segment
FROM s
SQL
    echo "SELECT * FROM clm.$fn('$table', timestamptz '2026-07-01 00:00+00')" >"$dir/clm.sql"
    echo "SELECT customer_id, count(*) FROM $table GROUP BY customer_id" >"$dir/floor.sql"
    for q in hand clm floor; do
        for f in times mem temp workers; do : >"$dir/$q.$f"; done
    done
    # one untimed scan first, so that the first round does not pay for
    # reading the table into the caches
    psql -c "SELECT count(*) FROM $table" >/dev/null
    for run in $(seq "$runs"); do
        order="hand clm floor"
        [ $((run % 2)) -eq 0 ] && order="floor clm hand"
        for q in $order; do measure "$q"; done
    done
    printf '%-22s %s rounds  clm/hand %s  clm/floor %s | ms: clm %s hand %s floor %s | peak MB: clm %s hand %s floor %s | temp MB: clm %s hand %s floor %s | workers: clm %s hand %s floor %s\n' \
        "$label" "$runs" "$(paired clm hand)" "$(paired clm floor)" \
        "$(median <"$dir/clm.times")" "$(median <"$dir/hand.times")" "$(median <"$dir/floor.times")" \
        "$(sort -n "$dir/clm.mem" | tail -1)" "$(sort -n "$dir/hand.mem" | tail -1)" "$(sort -n "$dir/floor.mem" | tail -1)" \
        "$(median <"$dir/clm.temp")" "$(median <"$dir/hand.temp")" "$(median <"$dir/floor.temp")" \
        "$(median <"$dir/clm.workers")" "$(median <"$dir/hand.workers")" "$(median <"$dir/floor.workers")" |
        tee -a "$dir/results.txt"
    echo "   all rounds (ms): clm $(tr '\n' ' ' <"$dir/clm.times")| hand $(tr '\n' ' ' <"$dir/hand.times")| floor $(tr '\n' ' ' <"$dir/floor.times")" |
        tee -a "$dir/results.txt"
}

psql -c "CREATE EXTENSION clm"
: >"$dir/results.txt"
echo "== PostgreSQL $PG_MAJOR, $(nproc) cores, work_mem $work_mem"
for size in $sizes; do
    customers=$(count "${size%%:*}")
    orders=$((customers * $(count "${size##*:}")))
    runs=${CLM_BENCH_RUNS:-$([ "$orders" -le 5000000 ] && echo 5 || echo 3)}
    echo "== $size: generating $orders orders over $customers customers"
    generate orders "$customers" "$orders" int
    # the same answer as the SQL pipeline of clm's own parts (checked once,
    # at the smallest size: it costs as much as the benchmark)
    if [ "$size" = "${sizes%% *}" ]; then
        psql -At <<'SQL'
WITH c AS MATERIALIZED (
    SELECT customer_id::bigint AS customer_id, clm.rfm_agg(ordered_at, amount, timestamptz '2026-07-01 00:00+00') AS rfm
    FROM orders GROUP BY customer_id),
t AS (SELECT clm.rfm_thresholds(rfm) AS th FROM c),
p AS (SELECT customer_id, (rfm).recency_days, (rfm).frequency, (rfm).monetary, (rfm).first_at, (rfm).last_at,
             (rfm).tenure_days, (rfm).mean_gap_days, (s).r, (s).f, (s).m, (s).score, clm.rfm_segment(s) AS segment
      FROM (SELECT customer_id, rfm, clm.rfm_score(rfm, th) AS s FROM c CROSS JOIN t OFFSET 0) x),
q AS (SELECT * FROM clm.rfm_table('orders', timestamptz '2026-07-01 00:00+00'))
SELECT 'rows of clm.rfm_table differing from the SQL pipeline: '
       || (SELECT count(*) FROM ((SELECT * FROM p EXCEPT ALL SELECT * FROM q)
                                 UNION ALL (SELECT * FROM q EXCEPT ALL SELECT * FROM p)) d)
SQL
    fi
    bench "$size" orders rfm_table
    if [ "$size" = "$uuid_size" ]; then
        echo "== $size, uuid ids: generating"
        generate uorders "$customers" "$orders" uuid
        bench "$size uuid" uorders rfm_table_uuid
        psql -c "DROP TABLE uorders"
    fi
    psql -c "DROP TABLE orders"
done
echo "== results (also in $dir/results.txt)"
cat "$dir/results.txt"
