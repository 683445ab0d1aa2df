#!/usr/bin/env bash
# test/bench/clv_score.sh [customers] [runs]: score generated customers with
# fixed CLV models -- BG/NBD expected purchases (52 weeks), P(alive) and
# 12-month CLV (BG/NBD + Gamma-Gamma) -- and compare P(alive) with the same
# closed form written in plain SQL, measured in the same run.
#
# Benchmark, not a test.  Defaults: 1,000,000 customers, median of 3 runs.
# Timings are server-side (clock_timestamp around the query), serial
# (max_parallel_workers_per_gather = 0, no JIT) unless the line says otherwise.
set -euo pipefail
. "$(dirname "$0")/../lib/pgenv.sh"
. "$(dirname "$0")/../lib/pgroot.sh"
# CLM_PG_MAJOR=17 runs the benchmark on PostgreSQL 17, inside its Debian root
clm_enter_root "$PG_MAJOR" "$(realpath "$0")" "$@"

N=${1:-1000000}
RUNS=${2:-3}
clm_bench_start clv_score 54793 shared_buffers=512MB work_mem=256MB \
    max_parallel_workers_per_gather=0 jit=off
dir=$BENCH_DIR

psql() { "$CLM_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }

psql -c "CREATE EXTENSION clm"
psql -v n="$N" <<'SQL'
-- deterministic customers at day resolution, in weeks, as clm.purchase_summary
-- returns them: T = 1..365 days, t_x = 0..T days when x > 0, x ~ geometric,
-- mean spend 5..105.  cust_distinct is the worst case for clm's memo: the
-- same customers with T moved by a different tiny amount each, so that no
-- two share (x, T).
\o /dev/null
SELECT setseed(0.42);
\o
CREATE TABLE cust AS
SELECT i AS id, x, CASE WHEN x = 0 THEN 0 ELSE floor(days * random()) / 7.0 END AS t_x, days / 7.0 AS t,
       CASE WHEN x = 0 THEN 0 ELSE 5 + 100 * random() END AS mean_spend
FROM (SELECT i, floor(-ln(1 - random()) * 1.5)::float8 AS x, (1 + floor(365 * random()))::float8 AS days
      FROM generate_series(1, :n) i) s;
CREATE TABLE cust_distinct AS SELECT id, x, t_x, t + id * 1e-9 AS t, mean_spend FROM cust;
VACUUM ANALYZE cust;
VACUUM ANALYZE cust_distinct;

CREATE FUNCTION bench(q text, runs int) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    ts float8[] := '{}';
    dummy text;
BEGIN
    EXECUTE q INTO dummy;           -- warm-up (caches, model decode)
    FOR i IN 1 .. runs LOOP
        t0 := clock_timestamp();
        EXECUTE q INTO dummy;
        ts := ts || extract(epoch FROM clock_timestamp() - t0)::float8;
    END LOOP;
    RETURN (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v) FROM unnest(ts) v);
END $$;
SQL

M="ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd"
G="ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma"
SQL_PALIVE="CASE WHEN x = 0 THEN 1.0 ELSE 1.0 / (1.0 + 0.793 / (2.426 + x - 1) * power((4.414 + t) / (4.414 + t_x), 0.243 + x)) END"

echo "clv_score: $(psql -Atc 'SELECT count(*) FROM cust') customers ($(psql -Atc 'SELECT count(*) FROM (SELECT DISTINCT x, t FROM cust) d') distinct (x, T)), median of $RUNS runs (serial, JIT off)"
psql -At <<SQL
SELECT 'P(alive): clm vs plain SQL max abs difference ' ||
       max(abs(clm.bgnbd_p_alive($M, x, t_x, t) - ($SQL_PALIVE)))::text FROM cust;
WITH r AS (
    SELECT bench('SELECT sum(x + t_x + t + mean_spend) FROM cust', $RUNS) AS scan,
           bench('SELECT sum($SQL_PALIVE) FROM cust', $RUNS) AS palive_sql,
           bench('SELECT sum(clm.bgnbd_p_alive($M, x, t_x, t)) FROM cust', $RUNS) AS palive_c,
           bench('SELECT sum(clm.bgnbd_expected_purchases($M, 52, x, t_x, t)) FROM cust', $RUNS) AS ey,
           bench('SELECT sum(clm.clv($M, $G, x, t_x, t, mean_spend, 12, 0.01, 7)) FROM cust', $RUNS) AS clv,
           bench('SELECT sum(clm.bgnbd_expected_purchases($M, 52, x, t_x, t)), sum(clm.bgnbd_p_alive($M, x, t_x, t)),
                         sum(clm.clv($M, $G, x, t_x, t, mean_spend, 12, 0.01, 7)) FROM cust', $RUNS) AS all3,
           bench('SELECT sum(clm.bgnbd_expected_purchases($M, 52, x, t_x, t)), sum(clm.bgnbd_p_alive($M, x, t_x, t)),
                         sum(clm.clv($M, $G, x, t_x, t, mean_spend, 12, 0.01, 7)) FROM cust_distinct', 1) AS all3_distinct
)
SELECT format(E'%-58s %s s\n', 'scan only (sum of the inputs)', to_char(scan, 'FM990.000')) ||
       format(E'%-58s %s s\n', 'P(alive), plain SQL closed form', to_char(palive_sql, 'FM990.000')) ||
       format(E'%-58s %s s   (plain SQL / clm = %s)\n', 'P(alive), clm.bgnbd_p_alive', to_char(palive_c, 'FM990.000'),
              to_char(palive_sql / palive_c, 'FM990.00')) ||
       format(E'%-58s %s s\n', 'E[Y(52 weeks)], clm.bgnbd_expected_purchases', to_char(ey, 'FM990.000')) ||
       format(E'%-58s %s s\n', '12-month CLV, clm.clv (12 E[Y] evaluations each)', to_char(clv, 'FM990.000')) ||
       format(E'%-58s %s s   (target < 2 s)\n', 'scoring: E[Y] + P(alive) + CLV in one pass', to_char(all3, 'FM990.000')) ||
       format(E'%-58s %s s   (1 run)', 'same, worst case: every (x, T) distinct (no memo hits)', to_char(all3_distinct, 'FM990.000'))
FROM r;
SQL
echo "parallel (2 workers, machine has 2 cores):"
psql -At <<SQL
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET min_parallel_table_scan_size = 0;
SELECT format('%-58s %s s', 'scoring: E[Y] + P(alive) + CLV in one pass, 2 workers', to_char(
       bench('SELECT sum(clm.bgnbd_expected_purchases($M, 52, x, t_x, t)), sum(clm.bgnbd_p_alive($M, x, t_x, t)),
                     sum(clm.clv($M, $G, x, t_x, t, mean_spend, 12, 0.01, 7)) FROM cust', $RUNS), 'FM990.000'));
SQL
