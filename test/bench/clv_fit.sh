#!/usr/bin/env bash
# test/bench/clv_fit.sh: benchmark of the CLV fitting aggregates (not a test).
#
#   test/bench/clv_fit.sh [N_CUSTOMERS] [RUNS] [N_RECOVERY]   (defaults 1000000, 5, 100000)
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
# Last, the Pareto/NBD fit against the BG/NBD fit on the same data, the
# parameter-recovery data of test/t/030 (N_RECOVERY Pareto/NBD customers, seed
# 7, T from 26 to 52 weeks, so many more distinct rows): the two fits run
# alternately in one session, and the script prints both medians, the median
# of the per-round ratios and the load average before and after.
set -euo pipefail
N=${1:-1000000}
RUNS=${2:-5}
NREC=${3:-100000}
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
"$dir/btyd_gen" paretonbd "$NREC" 7 0.55 10.5 0.6 11.7 182 364 6.25 3.74 15.44 >"$dir/rec.csv"
chmod a+r "$dir"/*.csv
$PSQL <<EOF
CREATE EXTENSION clm;
CREATE TABLE bg (id int, x float8, t_x float8, t float8, mean_spend float8);
CREATE TABLE pn (id int, x float8, t_x float8, t float8, mean_spend float8);
CREATE TABLE rec (id int, x float8, t_x float8, t float8, mean_spend float8);
CREATE TEMP TABLE raw (id int, x int, t_x_days int, t_days int, mean_spend float8);
COPY raw FROM '$dir/bg.csv' (FORMAT csv);
INSERT INTO bg SELECT id, x, t_x_days / 7.0, t_days / 7.0, mean_spend FROM raw;
TRUNCATE raw;
COPY raw FROM '$dir/pn.csv' (FORMAT csv);
INSERT INTO pn SELECT id, x, t_x_days / 7.0, t_days / 7.0, mean_spend FROM raw;
TRUNCATE raw;
COPY raw FROM '$dir/rec.csv' (FORMAT csv);
INSERT INTO rec SELECT id, x, t_x_days / 7.0, t_days / 7.0, mean_spend FROM raw;
VACUUM ANALYZE bg;
VACUUM ANALYZE pn;
VACUUM ANALYZE rec;
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

# Pareto/NBD against BG/NBD on the recovery data: after one warm-up of each,
# RUNS rounds of (Pareto/NBD, BG/NBD) in one serial session.
distinct_rec=$($PSQL -At -c "SELECT count(*) FROM (SELECT DISTINCT x, t_x, t FROM rec) d")
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
pn_q="SELECT clm.paretonbd_fit(x, t_x, t) FROM rec"
bg_q="SELECT clm.bgnbd_fit(x, t_x, t) FROM rec"
script="$SERIAL"$'\n'"$pn_q;"$'\n'"$bg_q;"$'\n\\timing on\n'
for ((i = 0; i < RUNS; i++)); do script+="$pn_q;"$'\n'"$bg_q;"$'\n'; done
times=$(printf '%s' "$script" | $PSQL -o /dev/null 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
echo
echo "== Pareto/NBD against BG/NBD on the recovery data of test/t/030: $NREC Pareto/NBD customers"
echo "   (seed 7), T from 26 to 52 weeks, t_x at day resolution; $distinct_rec distinct (x, t_x, T) rows;"
echo "   the two fits alternate in one serial session, $RUNS rounds after one warm-up, ms"
echo "   load average before: $load_before, after: $load_after"
printf '%s\n' $times | awk '
    NR % 2 == 1 {pn[++n] = $1}
    NR % 2 == 0 {bg[n] = $1; ratio[n] = pn[n] / $1}
    function median(a, k,   i, j, t, b) {
        for (i = 1; i <= k; i++) b[i] = a[i]
        for (i = 2; i <= k; i++) for (j = i; j > 1 && b[j - 1] > b[j]; j--) { t = b[j]; b[j] = b[j - 1]; b[j - 1] = t }
        return (k % 2) ? b[(k + 1) / 2] : (b[k / 2] + b[k / 2 + 1]) / 2
    }
    END {
        printf "%-58s %10.1f\n", "clm.paretonbd_fit(x, t_x, t)", median(pn, n)
        printf "%-58s %10.1f\n", "clm.bgnbd_fit(x, t_x, t)", median(bg, n)
        printf "%-58s %10.2f (per round:", "ratio Pareto/NBD / BG/NBD, median of the rounds", median(ratio, n)
        for (i = 1; i <= n; i++) printf " %.2f", ratio[i]
        printf ")\n"
    }'
$PSQL <<'EOF'
\pset footer off
SELECT 'Pareto/NBD' AS model, round((f).r::numeric, 4) AS r, round((f).alpha::numeric, 4) AS alpha,
       round((f).s::numeric, 4) AS s, round((f).beta::numeric, 4) AS beta,
       round((f).log_likelihood::numeric, 2) AS ll, (f).iterations, (f).converged
FROM (SELECT clm.paretonbd_fit(x, t_x, t) f FROM rec) s;
EOF
