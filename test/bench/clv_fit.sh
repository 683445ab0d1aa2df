#!/usr/bin/env bash
# test/bench/clv_fit.sh: benchmark of the CLV fitting aggregates (not a test).
#
#   test/bench/clv_fit.sh [N_CUSTOMERS] [RUNS]      (defaults 1000000, 5)
#
# Simulates N customers from BG/NBD (r .25, alpha 4, a .8, b 2.5, weeks) and
# Gamma-Gamma (6.25, 3.74, 15.44) with test/data/btyd_gen.c: every customer
# observed for T = 52 weeks, t_x at day resolution (the setting of the
# published lifetimes timings).  Then
# times, in a private cluster, each fit serially and with 2 parallel workers,
# against the plain-SQL GROUP BY that collapses identical (x, t_x, T) rows
# (the part of the job plain SQL can do), and prints the ratios and the
# recovered parameters.  Timings are medians of RUNS runs, measured by psql's
# \timing (server round trip included).
set -euo pipefail
N=${1:-1000000}
RUNS=${2:-5}
. "$(dirname "$0")/../lib/pgenv.sh"
. "$(dirname "$0")/../lib/pgroot.sh"
# CLM_PG_MAJOR=17 runs the benchmark on PostgreSQL 17, inside its Debian root
clm_enter_root "$PG_MAJOR" "$(realpath "$0")" "$@"
clm_bench_start clv_fit 54873 max_worker_processes=8 max_parallel_workers=4 shared_buffers=512MB \
    work_mem=256MB
dir=$BENCH_DIR
PSQL="$CLM_BINDIR/psql -X -q -v ON_ERROR_STOP=1 -d postgres"

cc -O2 -o "$dir/btyd_gen" "$CLM_ROOT/test/data/btyd_gen.c" -lm
"$dir/btyd_gen" bgnbd "$N" 42 0.25 4 0.8 2.5 364 364 6.25 3.74 15.44 >"$dir/bg.csv"
"$dir/btyd_gen" paretonbd "$N" 7 0.55 10.5 0.6 11.7 364 364 6.25 3.74 15.44 >"$dir/pn.csv"
chmod a+r "$dir"/*.csv
$PSQL <<EOF
CREATE EXTENSION clm;
CREATE TABLE bg (id int, x float8, t_x float8, t float8, mean_spend float8);
CREATE TABLE pn (id int, x float8, t_x float8, t float8, mean_spend float8);
CREATE TEMP TABLE raw (id int, x int, t_x_days int, t_days int, mean_spend float8);
COPY raw FROM '$dir/bg.csv' (FORMAT csv);
INSERT INTO bg SELECT id, x, t_x_days / 7.0, t_days / 7.0, mean_spend FROM raw;
TRUNCATE raw;
COPY raw FROM '$dir/pn.csv' (FORMAT csv);
INSERT INTO pn SELECT id, x, t_x_days / 7.0, t_days / 7.0, mean_spend FROM raw;
VACUUM ANALYZE bg;
VACUUM ANALYZE pn;
EOF

# median_ms SETTINGS QUERY: run QUERY RUNS times after one warm-up, print the median in ms
median_ms() {
    local settings=$1 query=$2 i script
    script="$settings"$'\n'"$query;"$'\n\\timing on\n'
    for ((i = 0; i < RUNS; i++)); do script+="$query;"$'\n'; done
    printf '%s' "$script" | $PSQL -o /dev/null 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' \
        | sort -n | awk '{a[NR] = $1} END {printf "%.1f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
SERIAL="SET max_parallel_workers_per_gather = 0;"
PARALLEL="SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;"

distinct=$($PSQL -At -c "SELECT count(*) FROM (SELECT DISTINCT x, t_x, t FROM bg) d")
distinct_pn=$($PSQL -At -c "SELECT count(*) FROM (SELECT DISTINCT x, t_x, t FROM pn) d")
distinct_gg=$($PSQL -At -c "SELECT count(*) FROM (SELECT DISTINCT x, mean_spend FROM bg WHERE x > 0) d")
echo "== clm CLV fit benchmark: $N customers, T = 52 weeks, t_x at day resolution"
echo "   distinct (x, t_x, T) rows: BG/NBD data $distinct, Pareto/NBD data $distinct_pn;"
echo "   distinct (x, mean_spend) rows of repeat buyers: $distinct_gg"
echo "   timings: median of $RUNS runs (after one warm-up), psql \\timing, ms"
echo "   machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $($CLM_BINDIR/postgres --version)"
echo

base_q="SELECT count(*) FROM (SELECT x, t_x, t, count(*) FROM bg GROUP BY 1, 2, 3) g"
base_s=$(median_ms "$SERIAL" "$base_q")
base_p=$(median_ms "$PARALLEL" "$base_q")
printf '%-58s %10s %10s\n' "query" "serial" "parallel2"
printf '%-58s %10s %10s\n' "plain SQL: GROUP BY x, t_x, t (collapse only)" "$base_s" "$base_p"
row() {
    local label=$1 q=$2 s p
    s=$(median_ms "$SERIAL" "$q")
    p=$(median_ms "$PARALLEL" "$q")
    printf '%-58s %10s %10s   ratio to GROUP BY: %.2f / %.2f\n' "$label" "$s" "$p" \
        "$(echo "$s / $base_s" | bc -l)" "$(echo "$p / $base_p" | bc -l)"
}
row "clm.bgnbd_fit(x, t_x, t)" "SELECT clm.bgnbd_fit(x, t_x, t) FROM bg"
row "clm.bgnbd_fit(x, t_x, t, n) over the GROUP BY" \
    "SELECT clm.bgnbd_fit(x, t_x, t, n) FROM (SELECT x, t_x, t, count(*)::float8 n FROM bg GROUP BY 1, 2, 3) g"
row "clm.gamma_gamma_fit(x, mean_spend)" "SELECT clm.gamma_gamma_fit(x, mean_spend) FROM bg"
row "clm.paretonbd_fit(x, t_x, t) (Pareto/NBD data)" "SELECT clm.paretonbd_fit(x, t_x, t) FROM pn"
echo
echo "== recovered parameters (true: BG/NBD .25 4 .8 2.5; Gamma-Gamma 6.25 3.74 15.44; Pareto/NBD .55 10.5 .6 11.7)"
$PSQL <<'EOF'
\pset footer off
SELECT 'BG/NBD' AS model, round((f).r::numeric, 4) AS "r | p", round((f).alpha::numeric, 4) AS "alpha | q",
       round((f).a::numeric, 4) AS "a | s | gamma", round((f).b::numeric, 4) AS "b | beta",
       round((f).log_likelihood::numeric, 2) AS ll, (f).iterations, (f).converged
FROM (SELECT clm.bgnbd_fit(x, t_x, t) f FROM bg) s
UNION ALL
SELECT 'Gamma-Gamma', round((f).p::numeric, 4), round((f).q::numeric, 4), round((f).gamma::numeric, 4), NULL,
       round((f).log_likelihood::numeric, 2), (f).iterations, (f).converged
FROM (SELECT clm.gamma_gamma_fit(x, mean_spend) f FROM bg) s
UNION ALL
SELECT 'Pareto/NBD', round((f).r::numeric, 4), round((f).alpha::numeric, 4), round((f).s::numeric, 4),
       round((f).beta::numeric, 4), round((f).log_likelihood::numeric, 2), (f).iterations, (f).converged
FROM (SELECT clm.paretonbd_fit(x, t_x, t) f FROM pn) s
ORDER BY 1;
EOF
