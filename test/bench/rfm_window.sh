#!/usr/bin/env bash
# test/bench/rfm_window.sh: clm.rfm_agg as a moving window aggregate.
#
#   test/bench/rfm_window.sh [ROWS]      default 200000 rows in one partition
#
#   CLM_BENCH_RUNS=5          rounds (the median is kept)
#   CLM_PG_MAJOR=17           run on PostgreSQL 17, inside its Debian root
#
# Not a test: it prints timings.  The moving-aggregate mode adds and removes
# each row once, so a frame of 10 rows and one of 1,000 rows over the same
# rows should take about as long (linear time); a mode that recomputed each
# frame would take about 100 times as long for the larger frame.  Times are
# the "Execution Time" of EXPLAIN (ANALYZE, TIMING OFF).

set -euo pipefail
. "$(dirname "$0")/../lib/pgenv.sh"
. "$(dirname "$0")/../lib/pgroot.sh"
clm_enter_root "$PG_MAJOR" "$(realpath "$0")" "$@"
cd "$CLM_ROOT"

rows=${1:-200000}
runs=${CLM_BENCH_RUNS:-5}
clm_bench_start rfm_window 54792 shared_buffers=512MB work_mem=64MB jit=off
export PGDATABASE=postgres
psql() { "$CLM_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

psql -v rows="$rows" <<'SQL'
CREATE EXTENSION clm;
CREATE TABLE win AS
SELECT timestamptz '2024-01-01 00:00+00' + i * interval '1 minute' AS t, (i % 1000)::numeric / 100 AS a
FROM generate_series(1, :rows) i;
VACUUM ANALYZE win;
SQL
echo "== $rows rows, frames of 10 and 1,000 rows, $runs rounds"
for w in 9 999; do
    for run in $(seq "$runs"); do
        { echo "EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF)"
          echo "SELECT (clm.rfm_agg(t, a, timestamptz '2026-01-01 00:00+00')"
          echo "        OVER (ORDER BY t ROWS BETWEEN $w PRECEDING AND CURRENT ROW)).frequency FROM win"; } |
            psql -At | sed -n 's/^Execution Time: \([0-9.]*\) ms$/\1/p'
    done | median | xargs printf 'frame of %5d rows: %s ms (median)\n' $((w + 1))
done
