#!/usr/bin/python3
"""BI-client check for clm, run by 040_bi_client.pl; prints TAP.

Connects the way a BI tool does (psycopg 3, a read-only login role, no
write rights), reads the materialized customer view and calls the analysis
functions, and checks column types (by type name, as a BI tool maps them)
and row counts.  Expected row counts are computed here, in Python, from the
raw orders the role can read, independently of clm.

Usage: 040_bi_client.py CONNINFO AS_OF
"""
import datetime
import decimal
import sys

import psycopg

conninfo, as_of_text = sys.argv[1], sys.argv[2]
results = []


def check(ok, name):
    results.append((bool(ok), name))


def column_types(cur):
    """{column name: type name} of the last result, resolved in the catalog."""
    oids = [d.type_code for d in cur.description]
    with cur.connection.cursor() as c2:
        c2.execute("SELECT oid::int, format_type(oid, NULL) FROM pg_type WHERE oid = ANY(%s)", (oids,))
        names = dict(c2.fetchall())
    return {d.name: names[d.type_code] for d in cur.description}


with psycopg.connect(conninfo) as conn:
    cur = conn.cursor()
    cur.execute("SET TIME ZONE 'UTC'")
    cur.execute("SELECT current_user, current_setting('transaction_read_only')")
    user, read_only = cur.fetchone()
    check(user == "bi_reader" and read_only == "on", "connected as the read-only role bi_reader")

    cur.execute("SELECT %s::timestamptz", (as_of_text,))
    as_of = cur.fetchone()[0]

    # raw orders, to compute the expected counts independently of clm
    # (as_of is inclusive: an order placed exactly at as_of counts)
    cur.execute("SELECT customer, placed FROM shop.orders WHERE placed <= %s", (as_of,))
    orders = cur.fetchall()
    first = {}
    months = {}
    for customer, placed in orders:
        first[customer] = min(first.get(customer, placed), placed)
    n_customers = len(first)

    # --- the materialized view -------------------------------------------
    cur.execute("SELECT * FROM shop.customer_view ORDER BY customer_key")
    rows = cur.fetchall()
    types = column_types(cur)
    expected_types = {
        "customer_key": "bigint",
        "first_order_at": "timestamp with time zone",
        "last_order_at": "timestamp with time zone",
        "orders": "bigint",
        "revenue": "numeric",
        "recency_days": "double precision",
        "tenure_days": "double precision",
        "mean_gap_days": "double precision",
        "r_score": "integer",
        "f_score": "integer",
        "m_score": "integer",
        "rfm_score": "integer",
        "segment": "text",
        "stage": "clm.lifecycle_stage",
        "p_alive": "double precision",
        "expected_purchases": "double precision",
        "predicted_clv": "double precision",
        "referred_customers": "bigint",
        "referred_revenue": "numeric",
        "as_of": "timestamp with time zone",
    }
    check(types == expected_types, "customer view columns and types: %s" % types)
    check(len(rows) == n_customers, "customer view has one row per customer (%d, expected %d)"
          % (len(rows), n_customers))
    col = {d.name: i for i, d in enumerate(cur.description)}
    r0 = rows[0]
    check(isinstance(r0[col["revenue"]], decimal.Decimal)
          and isinstance(r0[col["first_order_at"]], datetime.datetime)
          and r0[col["first_order_at"]].tzinfo is not None
          and isinstance(r0[col["stage"]], str)
          and isinstance(r0[col["p_alive"]], float),
          "Python types: Decimal revenue, aware datetimes, str stage, float p_alive")
    check(all(r[col["as_of"]] == as_of for r in rows), "every row carries the stored as_of")
    check(all(0 <= r[col["p_alive"]] <= 1 for r in rows if r[col["p_alive"]] is not None)
          and sum(r[col["p_alive"]] is not None for r in rows) == len(rows),
          "p_alive is a probability for every customer")
    check(sum(r[col["orders"]] for r in rows) == len(orders), "orders in the view add up to the raw orders")

    # --- cohort retention --------------------------------------------------
    cur.execute("SELECT * FROM clm.cohort_retention('shop.orders', 'customer', 'placed', 'total', 'month', %s)",
                (as_of,))
    cohort_rows = cur.fetchall()
    check(column_types(cur) == {
        "cohort": "date", "period_number": "integer", "cohort_size": "bigint",
        "active_customers": "bigint", "retention_rate": "double precision",
        "revenue": "numeric", "revenue_per_customer": "numeric"},
        "cohort_retention column types")

    # expected grid size: each monthly cohort (of complete months) has one
    # row per month from its first month to the last complete month
    last = (as_of.year * 12 + as_of.month - 1) - 1   # last complete month index
    firsts = [f.year * 12 + f.month - 1 for f in first.values()]
    cohorts = {m for m in firsts if m <= last}
    expected_rows = sum(last - m + 1 for m in cohorts)
    check(len(cohort_rows) == expected_rows, "cohort_retention rows (%d, expected %d)"
          % (len(cohort_rows), expected_rows))
    size = sum(r[2] for r in cohort_rows if r[1] == 0)
    check(size == sum(1 for m in firsts if m <= last), "cohort sizes add up to the customers acquired")

    # --- survival ------------------------------------------------------------
    cur.execute("SELECT * FROM clm.churn_survival('shop.orders', 'customer', 'placed', '90 days', %s)", (as_of,))
    km = cur.fetchall()
    check(column_types(cur) == {
        "stratum": "text", "time": "integer", "at_risk": "bigint", "events": "bigint",
        "censored": "bigint", "survival": "double precision", "std_error": "double precision"},
        "churn_survival column types")
    check(sum(r[3] + r[4] for r in km) == n_customers and km[0][2] == n_customers,
          "churn_survival: every customer is an event or censored once")
    check(all(a[5] >= b[5] for a, b in zip(km, km[1:])), "survival never increases")
    # stratified by the view's segment: one curve per segment, same subjects
    cur.execute("""SELECT * FROM clm.churn_survival('shop.orders', 'customer', 'placed', '90 days', %s,
                                                  groups => 'shop.customer_view',
                                                  group_key_column => 'customer_key', group_column => 'segment')""",
                (as_of,))
    km_seg = cur.fetchall()
    segments = {r[col["segment"]] for r in rows}
    check({r[0] for r in km_seg} == segments and sum(r[3] + r[4] for r in km_seg) == n_customers,
          "churn_survival by segment: one stratum per segment (%d), every customer once" % len(segments))

    # --- KPIs with the customer view -------------------------------------
    cur.execute("""SELECT * FROM clm.lifecycle_kpis('shop.orders', 'customer', 'placed', 'total',
                                                  %s::timestamptz - interval '1 month', %s,
                                                  customer_view => 'shop.customer_view')""", (as_of, as_of))
    kpi = cur.fetchall()
    types = column_types(cur)
    check(len(kpi) == 1 and types["customers_per_stage"] == "jsonb"
          and types["average_predicted_clv"] == "double precision"
          and types["churn_rate"] == "double precision",
          "lifecycle_kpis: one row, jsonb stage mix, float rates")
    per_stage = kpi[0][list(types).index("customers_per_stage")]
    check(isinstance(per_stage, dict) and sum(per_stage.values()) == n_customers,
          "customers_per_stage arrives as a dict covering every customer")

    # --- stage analyses (no history for this table: empty but typed) ------
    cur.execute("SELECT * FROM clm.stage_funnel(NULL, %s, relation => 'shop.orders')", (as_of,))
    funnel = cur.fetchall()
    check(len(funnel) == 6 and column_types(cur)["stage"] == "clm.lifecycle_stage",
          "stage_funnel: six default steps")
    cur.execute("SELECT * FROM clm.stage_transition_matrix(NULL, %s, 'shop.orders')", (as_of,))
    check(cur.fetchall() == [] and column_types(cur)["probability"] == "double precision",
          "stage_transition_matrix: typed, empty without history")

    # --- the reader cannot write -----------------------------------------
    conn.rollback()
    try:
        cur.execute("SELECT clm.refresh_customer_view('shop.customer_view')")
        check(False, "refresh as the reader must fail")
    except psycopg.Error as e:
        check(e.sqlstate in ("25006", "42501"), "refresh as the reader fails (%s)" % e.sqlstate)
    conn.rollback()

print("1..%d" % len(results))
for i, (ok, name) in enumerate(results, 1):
    print("%sok %d - %s" % ("" if ok else "not ", i, name.replace("\n", " ")))
