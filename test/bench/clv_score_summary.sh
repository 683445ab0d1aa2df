#!/usr/bin/env bash
# test/bench/clv_score_summary.sh [orders] [runs]: build the BTYD summary of
# generated orders with clm.purchase_summary and with the same computation in
# plain SQL (day per UTC date, GROUP BY twice, first day's amount by
# array_agg), measured in the same run; checks that both agree.
#
# Benchmark, not a test.  Defaults: 1,000,000 orders of 200,000 customers,
# median of 3 runs, serial (max_parallel_workers_per_gather = 0, no JIT),
# then clm.purchase_summary with 2 parallel workers.
set -euo pipefail
. "$(dirname "$0")/../lib/pgenv.sh"
. "$(dirname "$0")/../lib/pgroot.sh"
# CLM_PG_MAJOR=17 runs the benchmark on PostgreSQL 17, inside its Debian root
clm_enter_root "$PG_MAJOR" "$(realpath "$0")" "$@"

N=${1:-1000000}
RUNS=${2:-3}
clm_bench_start clv_score_summary 54792 shared_buffers=512MB work_mem=512MB \
    max_parallel_workers_per_gather=0 jit=off
dir=$BENCH_DIR

psql() { "$CLM_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }

psql -c "CREATE EXTENSION clm"
psql -v n="$N" <<'SQL'
-- orders of n/5 customers over 2023-2024, amounts 1..200 with cents
CREATE TABLE orders AS
SELECT (hashint4(i) & 2147483647) % (:n / 5) AS customer_id,
       timestamptz '2023-01-01 00:00+00' + ((hashint4(i + 7) & 2147483647) % (730 * 86400)) * interval '1 second' AS ordered_at,
       ((hashint4(i + 13) & 2147483647) % 20000 + 100) / 100.0 AS amount
FROM generate_series(1, :n) i;
VACUUM ANALYZE orders;

CREATE FUNCTION bench(q text, runs int) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    ts float8[] := '{}';
    dummy text;
BEGIN
    EXECUTE q INTO dummy;
    FOR i IN 1 .. runs LOOP
        t0 := clock_timestamp();
        EXECUTE q INTO dummy;
        ts := ts || extract(epoch FROM clock_timestamp() - t0)::float8;
    END LOOP;
    RETURN (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v) FROM unnest(ts) v);
END $$;

CREATE VIEW clm_way AS
SELECT customer_id, (s).x, (s).t_x, (s).t, (s).mean_spend
FROM (SELECT customer_id, clm.purchase_summary(ordered_at, amount, '2024-09-30 23:59:59+00', '7 days') AS s
      FROM orders GROUP BY customer_id) q
WHERE s IS NOT NULL;
CREATE VIEW sql_way AS
WITH d AS (
    SELECT customer_id, (ordered_at AT TIME ZONE 'UTC')::date AS day, sum(amount) AS amt
    FROM orders WHERE ordered_at <= '2024-09-30 23:59:59+00'
    GROUP BY 1, 2
)
SELECT customer_id, count(*)::int - 1 AS x, (max(day) - min(day)) / 7.0::float8 AS t_x,
       (date '2024-09-30' - min(day)) / 7.0::float8 AS t,
       CASE WHEN count(*) > 1
            THEN ((sum(amt) - (array_agg(amt ORDER BY day))[1]) / (count(*) - 1))::float8 ELSE 0 END AS mean_spend
FROM d GROUP BY customer_id;
SQL

echo "clv_score_summary: $N orders, $(psql -Atc 'SELECT count(DISTINCT customer_id) FROM orders') customers, median of $RUNS runs (serial, JIT off)"
psql -At <<SQL
SELECT 'rows differing between clm and plain SQL: ' || count(*)
FROM clm_way c FULL JOIN sql_way s USING (customer_id)
WHERE c.x IS DISTINCT FROM s.x OR c.t_x IS DISTINCT FROM s.t_x OR c.t IS DISTINCT FROM s.t
   OR NOT abs(c.mean_spend - s.mean_spend) < 1e-9;
WITH r AS (
    SELECT bench('SELECT count(*) FROM (SELECT customer_id, count(*) FROM orders GROUP BY 1) q', $RUNS) AS scan,
           bench('SELECT sum(x) FROM sql_way', $RUNS) AS plain,
           bench('SELECT sum(x) FROM clm_way', $RUNS) AS clm
)
SELECT format(E'%-52s %s s\n', 'scan + GROUP BY customer only', to_char(scan, 'FM990.000')) ||
       format(E'%-52s %s s\n', 'summary in plain SQL (two GROUP BYs, array_agg)', to_char(plain, 'FM990.000')) ||
       format(E'%-52s %s s   (plain SQL / clm = %s)', 'clm.purchase_summary', to_char(clm, 'FM990.000'),
              to_char(plain / clm, 'FM990.00'))
FROM r;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET min_parallel_table_scan_size = 0;
SELECT format('%-52s %s s', 'clm.purchase_summary, 2 parallel workers',
              to_char(bench('SELECT sum(x) FROM clm_way', $RUNS), 'FM990.000'));
SQL
