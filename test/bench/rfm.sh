#!/usr/bin/env bash
# test/bench/rfm.sh: clm's RFM pipeline against the hand-written SQL.
#
#   test/bench/rfm.sh            10M orders over 1M customers (the issue's size)
#   CLM_BENCH_ORDERS=1000000 test/bench/rfm.sh     smaller, for development
#   CLM_BENCH_RUNS=5 ...         runs per query (default 3; the median is kept)
#   CLM_BENCH_DIR=/some/dir      build, cluster and data go to /some/dir/rfm (default tmp_bench/rfm)
#
# Not a test: it prints timings and ratios.  Builds clm, installs it into a
# private PostgreSQL copy under that directory, starts a cluster on its own
# port, generates the orders deterministically (hash of the row number, no
# random()), then times, in the same run and alternately:
#   (a) hand-written SQL: max/count/sum GROUP BY, three ntile(5) windows, CASE
#   (b) clm: rfm_agg_by_customer, rfm_thresholds, rfm_score, rfm_segment
#   (b2) the same with clm.rfm_agg ... GROUP BY customer_id
# and the aggregate alone: max/count/sum GROUP BY vs clm.rfm_agg GROUP BY
# (and clm.rfm_agg_by_customer),
# plus two references: count(*) GROUP BY (the scan and hash table every
# variant pays) and max/min/count GROUP BY (built-in aggregates whose states
# are passed by value, with no per-customer allocation and no sum), and the
# moving-aggregate mode at two frame sizes.  Then the same orders with uuid
# customer ids: rfm_agg_by_customer against rfm_agg GROUP BY.
# Times are "Execution Time" of EXPLAIN (ANALYZE, TIMING OFF): the whole
# result is computed but not sent to the client, for both sides alike.
# Every ratio is printed twice: as the ratio of the two medians, and as the
# ratio within each round with the median of those (the paired figure).

set -euo pipefail
. "$(dirname "$0")/../lib/pgenv.sh"
. "$(dirname "$0")/../lib/pgroot.sh"
# CLM_PG_MAJOR=17 runs the benchmark on PostgreSQL 17, inside its Debian root
clm_enter_root "$PG_MAJOR" "$(realpath "$0")" "$@"
cd "$CLM_ROOT"

orders=${CLM_BENCH_ORDERS:-10000000}
customers=$((orders / 10))
runs=${CLM_BENCH_RUNS:-3}
clm_bench_start rfm 54791 shared_buffers=2GB work_mem=1GB max_parallel_workers_per_gather=2 \
    max_worker_processes=8 max_parallel_workers=8 jit=off
dir=$BENCH_DIR
export PGDATABASE=postgres
psql() { "$CLM_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

echo "== generating $orders orders over $customers customers (deterministic)"
psql -v orders="$orders" -v customers="$customers" <<'SQL'
CREATE EXTENSION clm;
CREATE TABLE orders (customer_id integer NOT NULL, ordered_at timestamptz NOT NULL,
                     amount numeric(12,2) NOT NULL);
-- every customer orders once; the other orders go to customers with a
-- skewed (u^2) distribution, so frequency is heavily tied at the low end
INSERT INTO orders
SELECT CASE WHEN i <= :customers THEN i
            ELSE 1 + floor(:customers * power((abs(hashint8(i)) % 1000000007) / 1000000007.0, 2))::int END,
       timestamptz '2023-07-01 00:00+00'
           + make_interval(secs => (abs(hashint8(i * 7 + 1)) % (1096 * 86400))),
       ((abs(hashint8(i * 13 + 5)) % 50000) + 1) / 100.0
FROM generate_series(1, :orders) AS i;
VACUUM ANALYZE orders;
SELECT count(*) AS orders, count(DISTINCT customer_id) AS customers FROM orders;
SQL

cat >"$dir/hand.sql" <<'SQL'
WITH c AS (
    SELECT customer_id, max(ordered_at) AS last_at, count(*) AS frequency, sum(amount) AS monetary
    FROM orders GROUP BY customer_id),
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
# After the per-customer aggregation (CTE c), both clm pipelines score the
# same way.  OFFSET 0 keeps the subquery from being flattened, so rfm_score
# runs once per customer rather than once per (s).field reference.
scoring="t AS (SELECT clm.rfm_thresholds(rfm) AS th FROM c)
SELECT customer_id, (rfm).recency_days, (rfm).frequency, (rfm).monetary,
       (s).r, (s).f, (s).m, (s).score, clm.rfm_segment(s) AS segment
FROM (SELECT customer_id, rfm, clm.rfm_score(rfm, th) AS s FROM c CROSS JOIN t OFFSET 0) AS x"
# (b) every customer's clm.rfm from clm.rfm_agg_by_customer, one pass
cat >"$dir/clm.sql" <<SQL
WITH c AS MATERIALIZED (
    SELECT r.customer_id, r.rfm
    FROM unnest((SELECT clm.rfm_agg_by_customer(customer_id, ordered_at, amount, timestamptz '2026-07-01 00:00+00')
                 FROM orders)) AS r),
$scoring
SQL
# (b2) the same pipeline with clm.rfm_agg ... GROUP BY customer_id
cat >"$dir/clm_group.sql" <<SQL
WITH c AS MATERIALIZED (
    SELECT customer_id, clm.rfm_agg(ordered_at, amount, timestamptz '2026-07-01 00:00+00') AS rfm
    FROM orders GROUP BY customer_id),
$scoring
SQL
cat >"$dir/hand_agg.sql" <<'SQL'
SELECT customer_id, max(ordered_at), count(*), sum(amount) FROM orders GROUP BY customer_id
SQL
cat >"$dir/clm_keyed.sql" <<'SQL'
SELECT clm.rfm_agg_by_customer(customer_id, ordered_at, amount, timestamptz '2026-07-01 00:00+00') IS NULL FROM orders
SQL
cat >"$dir/floor_agg.sql" <<'SQL'
SELECT customer_id, count(*) FROM orders GROUP BY customer_id
SQL
cat >"$dir/byval_agg.sql" <<'SQL'
SELECT customer_id, max(ordered_at), min(ordered_at), count(*) FROM orders GROUP BY customer_id
SQL
cat >"$dir/clm_agg.sql" <<'SQL'
SELECT customer_id, clm.rfm_agg(ordered_at, amount, timestamptz '2026-07-01 00:00+00')
FROM orders GROUP BY customer_id
SQL

# exectime FILE: the Execution Time (ms) of one EXPLAIN ANALYZE run
exectime() {
    { echo "EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF)"; cat "$1"; } |
        psql -At | sed -n 's/^Execution Time: \([0-9.]*\) ms$/\1/p'
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# rounds X Y: the ratio X/Y of every round, in run order.  X and Y ran in
# the same round, minutes apart at most, so a machine that slows down or
# speeds up during the run moves both; the median of these paired ratios
# is the figure least moved by such drift.
rounds() { paste -d' ' "$dir/$1.times" "$dir/$2.times" | awk '{printf "%.3f\n", $1 / $2}'; }
# ratio_line LABEL X Y: the ratio of the medians, then the paired ratios
ratio_line() {
    local r
    r=$(rounds "$2" "$3")
    printf '%-44s %10s   per round: %s(median %s)\n' "$1" \
        "$(awk -v x="$(median <"$dir/$2.times")" -v y="$(median <"$dir/$3.times")" 'BEGIN{printf "%.3f", x/y}')" \
        "$(echo "$r" | tr '\n' ' ')" "$(echo "$r" | median)"
}

echo "== same answer?  (per-customer recency/frequency/monetary equal; score differences are ntile's tie splits)"
psql <<'SQL'
WITH h AS (SELECT customer_id, max(ordered_at) AS last_at, count(*) AS f, sum(amount) AS m FROM orders GROUP BY 1),
     c AS (SELECT customer_id, clm.rfm_agg(ordered_at, amount, timestamptz '2026-07-01 00:00+00') AS rfm FROM orders GROUP BY 1),
     k AS (SELECT * FROM unnest((SELECT clm.rfm_agg_by_customer(customer_id, ordered_at, amount, timestamptz '2026-07-01 00:00+00') FROM orders)))
SELECT count(*) AS customers,
       count(*) FILTER (WHERE (c.rfm).last_at = h.last_at AND (c.rfm).frequency = h.f AND (c.rfm).monetary = h.m
                          AND abs((c.rfm).recency_days - extract(epoch FROM timestamptz '2026-07-01 00:00+00' - h.last_at)::float8 / 86400) < 1e-9) AS equal,
       count(*) FILTER (WHERE k.rfm::text = c.rfm::text) AS by_customer_equal
FROM h JOIN c USING (customer_id) LEFT JOIN k USING (customer_id);
SQL

queries="hand clm clm_group hand_agg clm_agg clm_keyed floor_agg byval_agg"
for q in $queries; do : >"$dir/$q.times"; done
# Every other round runs the queries in reverse order, so that neither query
# of a compared pair always runs right after the other (a query that frees
# a lot of memory can make the next one's page faults cheaper).
reversed=$(echo "$queries" | tr ' ' '\n' | tac | tr '\n' ' ')
for run in $(seq "$runs"); do
    order=$queries
    [ $((run % 2)) -eq 0 ] && order=$reversed
    for q in $order; do
        exectime "$dir/$q.sql" >>"$dir/$q.times"
    done
done
a=$(median <"$dir/hand.times"); b=$(median <"$dir/clm.times")
b2=$(median <"$dir/clm_group.times"); k=$(median <"$dir/clm_keyed.times")
c=$(median <"$dir/hand_agg.times"); d=$(median <"$dir/clm_agg.times"); e=$(median <"$dir/floor_agg.times")
v=$(median <"$dir/byval_agg.times")
echo "== results: $orders orders, $customers customers; medians of $runs runs (ms), $(nproc) cores"
printf '%-44s %10s\n' "(a) hand-written SQL pipeline" "$a"
printf '%-44s %10s\n' "(b) clm pipeline (rfm_agg_by_customer)" "$b"
ratio_line "    ratio b/a (target <= 0.5)" clm hand
printf '%-44s %10s\n' "(b2) clm pipeline (rfm_agg GROUP BY)" "$b2"
printf '%-44s %10s\n' "    ratio b2/a" "$(awk -v x="$b2" -v y="$a" 'BEGIN{printf "%.3f", x/y}')"
printf '%-44s %10s\n' "(c) max/count/sum GROUP BY" "$c"
printf '%-44s %10s\n' "(d) clm.rfm_agg GROUP BY" "$d"
ratio_line "    ratio d/c (target <= 0.7)" clm_agg hand_agg
printf '%-44s %10s\n' "(k) clm.rfm_agg_by_customer alone" "$k"
printf '%-44s %10s\n' "    ratio k/c" "$(awk -v x="$k" -v y="$c" 'BEGIN{printf "%.3f", x/y}')"
printf '%-44s %10s\n' "(e) floor: count(*) GROUP BY (scan + hash)" "$e"
printf '%-44s %10s\n' "    ratio e/c (lowest d/c possible)" "$(awk -v x="$e" -v y="$c" 'BEGIN{printf "%.3f", x/y}')"
printf '%-44s %10s\n' "(v) max/min/count GROUP BY (by-value states)" "$v"
printf '%-44s %10s\n' "    ratio d/v" "$(awk -v x="$d" -v y="$v" 'BEGIN{printf "%.3f", x/y}')"
echo "   all runs (ms): a: $(tr '\n' ' ' <"$dir/hand.times")| b: $(tr '\n' ' ' <"$dir/clm.times")| b2: $(tr '\n' ' ' <"$dir/clm_group.times")| k: $(tr '\n' ' ' <"$dir/clm_keyed.times")| c: $(tr '\n' ' ' <"$dir/hand_agg.times")| d: $(tr '\n' ' ' <"$dir/clm_agg.times")| e: $(tr '\n' ' ' <"$dir/floor_agg.times")| v: $(tr '\n' ' ' <"$dir/byval_agg.times")"

# uuid customer ids: the same orders keyed by md5(customer_id)::uuid, the
# per-customer aggregation alone, rfm_agg_by_customer against GROUP BY
psql -c "CREATE TABLE uorders AS SELECT md5(customer_id::text)::uuid AS customer_id, ordered_at, amount FROM orders" \
     -c "VACUUM ANALYZE uorders"
cat >"$dir/uuid_group.sql" <<'SQL'
SELECT customer_id, clm.rfm_agg(ordered_at, amount, timestamptz '2026-07-01 00:00+00')
FROM uorders GROUP BY customer_id
SQL
cat >"$dir/uuid_keyed.sql" <<'SQL'
SELECT clm.rfm_agg_by_customer(customer_id, ordered_at, amount, timestamptz '2026-07-01 00:00+00') IS NULL FROM uorders
SQL
for q in uuid_group uuid_keyed; do : >"$dir/$q.times"; done
for run in $(seq "$runs"); do
    for q in uuid_group uuid_keyed; do exectime "$dir/$q.sql" >>"$dir/$q.times"; done
done
du=$(median <"$dir/uuid_group.times"); ku=$(median <"$dir/uuid_keyed.times")
printf '%-44s %10s\n' "(du) uuid ids: clm.rfm_agg GROUP BY" "$du"
printf '%-44s %10s\n' "(ku) uuid ids: clm.rfm_agg_by_customer" "$ku"
printf '%-44s %10s\n' "    ratio ku/du" "$(awk -v x="$ku" -v y="$du" 'BEGIN{printf "%.3f", x/y}')"
echo "   all runs (ms): du: $(tr '\n' ' ' <"$dir/uuid_group.times")| ku: $(tr '\n' ' ' <"$dir/uuid_keyed.times")"

# Moving-aggregate mode: a window frame of 10 and of 1000 rows over one
# partition of 200k rows; linear time means the two take about as long.
psql -c "CREATE TABLE win AS SELECT timestamptz '2024-01-01 00:00+00' + i * interval '1 minute' AS t,
                (i % 1000)::numeric / 100 AS a FROM generate_series(1, 200000) i"
for w in 9 999; do
    echo "SELECT (clm.rfm_agg(t, a, timestamptz '2026-01-01 00:00+00') OVER (ORDER BY t ROWS BETWEEN $w PRECEDING AND CURRENT ROW)).frequency FROM win" >"$dir/win$w.sql"
    : >"$dir/win$w.times"
done
for run in $(seq "$runs"); do
    for w in 9 999; do exectime "$dir/win$w.sql" >>"$dir/win$w.times"; done
done
printf '%-44s %10s\n' "(f) moving rfm_agg, frame 10 rows, 200k rows" "$(median <"$dir/win9.times")"
printf '%-44s %10s\n' "(g) moving rfm_agg, frame 1000 rows" "$(median <"$dir/win999.times")"
