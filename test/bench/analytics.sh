#!/usr/bin/env bash
# test/bench/analytics.sh [CUSTOMERS]: creating and refreshing the customer
# view (clm.create_customer_view / clm.refresh_customer_view) against the
# hand-written SQL that builds the same columns, measured in the same run.
#
# Data: CUSTOMERS (default 1,000,000) simulated by test/data/btyd_gen.c from
# a BG/NBD + Gamma-Gamma model (r=1.35, alpha=10 weeks, a=0.5, b=6; about 10
# orders per customer, so 1M customers give ~10M orders), expanded into
# dated orders (first order, then x repeat orders spread to the last repeat
# day) in bench.orders(customer_id bigint, ordered_at timestamptz, amount
# numeric).  as_of = 2026-01-01.
#
# The hand-written way is what an analyst would write without clm's view
# helpers: plain GROUP BY aggregates for the RFM values and the BTYD summary
# (UTC days, same-day orders merged), percentile_cont quintile breakpoints,
# width_bucket scores, a materialized view with a unique index; the model
# fits and predictions still call clm's functions (there is no plain-SQL
# maximum-likelihood fit).  Its refresh is the same work: re-aggregate,
# refit, REFRESH ... CONCURRENTLY.
#
# Environment: CLM_BENCH_RUNS (default 3) runs per measurement; timings are
# medians.  CLM_PORT (default 54983).
set -euo pipefail
. "$(dirname "$0")/../lib/pgenv.sh"
. "$(dirname "$0")/../lib/pgroot.sh"
# CLM_PG_MAJOR=17 runs the benchmark on PostgreSQL 17, inside its Debian root
clm_enter_root "$PG_MAJOR" "$(realpath "$0")" "$@"
cd "$CLM_ROOT"

customers=${1:-${CLM_BENCH_CUSTOMERS:-1000000}}
runs=${CLM_BENCH_RUNS:-3}
clm_bench_start analytics 54983 shared_buffers=2GB work_mem=256MB maintenance_work_mem=1GB \
    max_parallel_workers_per_gather=2 max_worker_processes=8 max_wal_size=8GB \
    checkpoint_timeout=30min
dir=$BENCH_DIR
trap 'clm_stop_cluster; rm -rf "$dir"' EXIT
export PGDATABASE=postgres

psql() { command "$CLM_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

# --- data -------------------------------------------------------------------
cc -O2 -o "$dir/btyd_gen" test/data/btyd_gen.c -lm
"$dir/btyd_gen" bgnbd "$customers" 2026 1.35 10 0.5 6 365 1095 6 4 15 >"$dir/gen.csv"
chmod 644 "$dir/gen.csv"
t0=$(date +%s)
psql <<SQL
CREATE EXTENSION clm;
CREATE SCHEMA bench;
CREATE UNLOGGED TABLE bench.gen (id bigint, x int, t_x_days int, t_days int, mean_spend numeric);
\copy bench.gen FROM '$dir/gen.csv' WITH (FORMAT csv)
CREATE TABLE bench.orders (
    order_id bigint GENERATED ALWAYS AS IDENTITY,
    customer_id bigint NOT NULL,
    ordered_at timestamptz NOT NULL,
    amount numeric(12,2) NOT NULL);
-- first order T days before as_of (at noon UTC), then x repeat orders spread
-- evenly up to the last repeat day t_x, each of the customer's mean spend
INSERT INTO bench.orders (customer_id, ordered_at, amount)
SELECT g.id,
       timestamptz '2026-01-01 12:00+00' - g.t_days * interval '1 day'
         + CASE WHEN k = 0 THEN interval '0' ELSE round(g.t_x_days * k / g.x::numeric) * interval '1 day' END,
       CASE WHEN k = 0 OR g.mean_spend <= 0 THEN 5 + g.id % 50 ELSE g.mean_spend END
FROM bench.gen AS g, generate_series(0, g.x) AS k;
CREATE INDEX ON bench.orders (customer_id);
VACUUM ANALYZE bench.orders;
DROP TABLE bench.gen;
SQL
orders=$(psql -Atc "SELECT count(*) FROM bench.orders")
echo "data: $customers customers, $orders orders, loaded in $(( $(date +%s) - t0 )) s"

# --- the hand-written way ------------------------------------------------------
hand_create=$(cat <<'SQL'
CREATE MATERIALIZED VIEW bench.hand_summary AS
WITH d AS (
    SELECT customer_id, (ordered_at AT TIME ZONE 'UTC')::date AS day,
           count(*) AS n, sum(amount) AS spend, min(ordered_at) AS first_at, max(ordered_at) AS last_at
      FROM bench.orders
     WHERE ordered_at < timestamptz '2026-01-01 00:00+00'
     GROUP BY 1, 2
), d2 AS (
    SELECT d.*, min(day) OVER (PARTITION BY customer_id) AS first_day FROM d
)
SELECT customer_id AS customer_key,
       min(first_at) AS first_order_at, max(last_at) AS last_order_at,
       sum(n)::bigint AS orders, sum(spend) AS revenue,
       count(*) - 1 AS x,
       (max(day) - min(day)) / 7.0 AS t_x,
       (date '2026-01-01' - min(day)) / 7.0 AS t,
       coalesce(sum(spend) FILTER (WHERE day > first_day) / nullif(count(*) - 1, 0), 0) AS mean_spend
  FROM d2
 GROUP BY customer_id;
CREATE TABLE bench.hand_model AS
SELECT clm.bgnbd_fit(x, t_x::float8, t::float8) AS bgnbd,
       clm.gamma_gamma_fit(x, mean_spend::float8) FILTER (WHERE x > 0 AND mean_spend > 0) AS gamma_gamma,
       percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (
           ORDER BY extract(epoch FROM timestamptz '2026-01-01 00:00+00' - last_order_at) / 86400) AS r_breaks,
       percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY orders) AS f_breaks,
       percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY revenue) AS m_breaks
  FROM bench.hand_summary;
CREATE MATERIALIZED VIEW bench.hand_cv AS
WITH s AS (
    SELECT h.*,
           extract(epoch FROM timestamptz '2026-01-01 00:00+00' - h.last_order_at) / 86400 AS recency_days,
           5 - width_bucket(extract(epoch FROM timestamptz '2026-01-01 00:00+00' - h.last_order_at)::float8 / 86400, m.r_breaks) AS r,
           1 + width_bucket(h.orders::float8, m.f_breaks) AS f,
           1 + width_bucket(h.revenue::float8, m.m_breaks) AS m,
           m.bgnbd, m.gamma_gamma
      FROM bench.hand_summary AS h, bench.hand_model AS m
)
SELECT customer_key, first_order_at, last_order_at, orders, revenue, recency_days,
       extract(epoch FROM timestamptz '2026-01-01 00:00+00' - first_order_at) / 86400 AS tenure_days,
       CASE WHEN orders > 1 THEN extract(epoch FROM last_order_at - first_order_at) / 86400 / (orders - 1) END AS mean_gap_days,
       r AS r_score, f AS f_score, m AS m_score, 100 * r + 10 * f + m AS rfm_score,
       clm.rfm_segment(row(r, f, m, 100 * r + 10 * f + m)::clm.rfm_score) AS segment,
       clm.classify_stage(orders, first_order_at, last_order_at, timestamptz '2026-01-01 00:00+00') AS stage,
       clm.bgnbd_p_alive(bgnbd, x, t_x::float8, t::float8) AS p_alive,
       clm.bgnbd_expected_purchases(bgnbd, 90 / 7.0, x, t_x::float8, t::float8) AS expected_purchases,
       clm.clv(bgnbd, gamma_gamma, x, t_x::float8, t::float8, mean_spend::float8, 12, 0.01, 7) AS predicted_clv,
       timestamptz '2026-01-01 00:00+00' AS as_of
  FROM s;
CREATE UNIQUE INDEX ON bench.hand_cv (customer_key);
SQL
)
hand_refresh=$(cat <<'SQL'
REFRESH MATERIALIZED VIEW bench.hand_summary;
TRUNCATE bench.hand_model;
INSERT INTO bench.hand_model
SELECT clm.bgnbd_fit(x, t_x::float8, t::float8),
       clm.gamma_gamma_fit(x, mean_spend::float8) FILTER (WHERE x > 0 AND mean_spend > 0),
       percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (
           ORDER BY extract(epoch FROM timestamptz '2026-01-01 00:00+00' - last_order_at) / 86400),
       percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY orders),
       percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY revenue)
  FROM bench.hand_summary;
REFRESH MATERIALIZED VIEW CONCURRENTLY bench.hand_cv;
SQL
)
hand_drop="DROP MATERIALIZED VIEW IF EXISTS bench.hand_cv; DROP TABLE IF EXISTS bench.hand_model; DROP MATERIALIZED VIEW IF EXISTS bench.hand_summary;"

clm_create="SELECT clm.create_customer_view('bench.cv', 'bench.orders', 'customer_id', 'ordered_at', 'amount', as_of => '2026-01-01 00:00+00') \\g /dev/null"
clm_refresh="SELECT clm.refresh_customer_view('bench.cv', '2026-01-01 00:00+00') \\g /dev/null"
clm_refresh_plain="SELECT clm.refresh_customer_view('bench.cv', '2026-01-01 00:00+00', concurrent => false) \\g /dev/null"
clm_drop="SELECT clm.drop_customer_view('bench.cv') \\g /dev/null"

# timed SQL -> seconds on stdout
timed() {
    local a b
    a=$(date +%s.%N)
    printf '%s\n' "$1" | psql >/dev/null
    b=$(date +%s.%N)
    echo "$b - $a" | bc -l
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

declare -a c_create c_refresh c_plain h_create h_refresh
for i in $(seq 1 "$runs"); do
    psql -c "$hand_drop" 2>/dev/null
    h_create+=("$(timed "$hand_create")")
    h_refresh+=("$(timed "$hand_refresh")")
    c_create+=("$(timed "$clm_create")")
    c_refresh+=("$(timed "$clm_refresh")")
    c_plain+=("$(timed "$clm_refresh_plain")")
    echo "run $i/$runs: clm create ${c_create[-1]} s, refresh ${c_refresh[-1]} s, plain refresh ${c_plain[-1]} s; hand create ${h_create[-1]} s, refresh ${h_refresh[-1]} s" >&2
    if [ "$i" -lt "$runs" ]; then printf '%s\n' "$clm_drop" | psql; fi
done

# the two ways agree on what they share exactly
psql -P footer=off <<'SQL'
\echo 'agreement (clm view vs hand-written view):'
SELECT count(*) AS customers,
       count(*) FILTER (WHERE c.orders = h.orders AND c.revenue = h.revenue
                        AND c.first_order_at = h.first_order_at AND c.last_order_at = h.last_order_at) AS same_rfm_values,
       count(*) FILTER (WHERE c.stage = h.stage) AS same_stage,
       count(*) FILTER (WHERE abs(c.p_alive - h.p_alive) < 1e-6) AS same_p_alive_1e6,
       count(*) FILTER (WHERE c.p_alive IS NULL) AS clm_p_alive_null
  FROM bench.cv AS c JOIN bench.hand_cv AS h USING (customer_key);
SQL

mc=$(median "${c_create[@]}"); hc=$(median "${h_create[@]}")
mr=$(median "${c_refresh[@]}"); hr=$(median "${h_refresh[@]}")
mp=$(median "${c_plain[@]}")
echo
echo "customer view, $customers customers / $orders orders; medians of $runs runs (seconds)"
printf '%-44s %10s %12s %8s\n' "operation" "clm" "hand SQL" "ratio"
printf '%-44s %10.2f %12.2f %8.2f\n' "create (fit + materialize + unique index)" "$mc" "$hc" "$(echo "$mc / $hc" | bc -l)"
printf '%-44s %10.2f %12.2f %8.2f\n' "refresh (refit + REFRESH CONCURRENTLY)" "$mr" "$hr" "$(echo "$mr / $hr" | bc -l)"
printf '%-44s %10.2f %12s %8s\n' "refresh, not concurrent" "$mp" "-" "-"
echo "ratio = clm / hand-written (below 1: clm is faster)"
