/*-------------------------------------------------------------------------
 *
 * refresh_stages.c
 *	  clm.refresh_stages(): the time-driven moves (at_risk, dormant,
 *	  churned) for a whole customers table in one set-based pass.
 *
 * Orders move customers forward as they arrive (stage_on_order); the
 * absence of orders moves them nowhere by itself, so this function is run
 * on a schedule (e.g. pg_cron) with an as-of time.  The work is two SQL
 * statements: the first finds and locks the customers that lapse (in key
 * order, so concurrent refreshes do not deadlock), the second recomputes
 * their facts under a fresh snapshot and updates them.  Locking first means
 * an order that commits meanwhile is either seen by the second statement
 * or waits for the refresh; then it wins the customer back, or, dated
 * before as_of, withdraws the lapse it refutes (stage_on_order): no order
 * is overlooked, whichever commits first.  The first statement can be left
 * out (lock_first = false) where it cannot run: Citus refuses FOR UPDATE
 * on a distributed table.  The UPDATE passes the policy as a row value and
 * the allowed moves as arrays, so it reads no clm table and calls only the
 * IMMUTABLE clm.classify_stage: a distributed UPDATE runs it on every node
 * as it is.  The UPDATE fires clm.stage_guard,
 * which checks the rules and records the history with changed_at = as_of
 * (handed over through clm_lc_execute_at, like stage_on_order's order
 * times; no earlier than the customer's current stage began).
 *
 * IDENTIFICATION
 *	  src/lifecycle/refresh_stages.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "clm.h"
#include "lifecycle.h"

/*
 * refresh_arg_null
 *		A required argument was NULL.
 */
static void
refresh_arg_null(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument %s of clm.refresh_stages must not be null", name)));
}

/*
 * refresh_column
 *		Check that relation relid has a column colname of the wanted type
 *		(InvalidOid: any), with clear errors.
 */
static void
refresh_column(Oid relid, const char *colname, Oid want, const char *argname)
{
	AttrNumber	att = get_attnum(relid, colname);
	Oid			have;

	if (att <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						colname, get_rel_name(relid)),
				 errdetail("It was passed as %s.", argname)));
	have = get_atttype(relid, att);
	if (OidIsValid(want) && getBaseType(have) != want)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of relation \"%s\" has type %s, not %s",
						colname, get_rel_name(relid), format_type_be(have),
						format_type_be(want)),
				 errdetail("It was passed as %s.", argname)));
}

/*
 * refresh_stage_array
 *		An array of clm.lifecycle_stage values, for the statements.
 */
static Datum
refresh_stage_array(const ClmStage *stages, int n)
{
	Datum		elems[CLM_NUM_STAGES];
	int			i;

	for (i = 0; i < n; i++)
		elems[i] = ObjectIdGetDatum(clm_lc_stage_oid(stages[i]));
	return clm_array(elems, NULL, n, clm_lc_stage_type());
}

/*
 * refresh_update
 *		Run one of the refresh's stage-moving UPDATEs (sql, with nargs
 *		parameters), the moves dated at as_of; returns how many rows it
 *		updated.
 */
static uint64
refresh_update(const char *sql, int nargs, Oid *types, Datum *vals, Oid cust,
			   TimestampTz as_of)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);
	int			ret;

	if (plan == NULL)
		elog(ERROR, "clm.refresh_stages could not prepare \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	ret = clm_lc_execute_at(plan, vals, cust, as_of);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "clm.refresh_stages: the update failed: %s", SPI_result_code_string(ret));
	return SPI_processed;
}

/*
 * refresh_advocates
 *		The advocacy rule for the whole customers table cust, as of as_of:
 *		with referrals adopted, move the loyal customers with enough
 *		referred customers who made their first purchase in time (orders
 *		ord, customer column fk, time column ts) to advocate, locking them
 *		first (in key order) unless lock_first is off.  key_col is the
 *		customers table's key, eq its equality operator; stage_q the stage column, quoted, and cur as
 *		an expression of clm.lifecycle_stage; sets what else the update
 *		sets.  Returns how many moved.
 */
static uint64
refresh_advocates(Oid cust, Oid ord, const char *key_col, const char *eq, const char *fk,
				  const char *ts, const char *stage_q, const char *cur, const char *sets,
				  TimestampTz as_of,
				  const ClmPolicy *policy, bool lock_first)
{
	ClmReferralSource src;
	Oid			loyal = clm_lc_stage_oid(CLM_STAGE_LOYAL);
	Oid			advocate = clm_lc_stage_oid(CLM_STAGE_ADVOCATE);
	const char *key_q = quote_identifier(key_col);
	char	   *qual;
	char	   *sql;
	Oid			types[5] = {TIMESTAMPTZOID, INT8OID, FLOAT8OID, clm_lc_stage_type(), clm_lc_stage_type()};
	Datum		vals[5];
	int			ret;

	if (policy->advocate_min_referrals <= 0 || !clm_lc_allowed(loyal, advocate) ||
		!clm_lc_referral_source(cust, &src))
		return 0;
	if (strcmp(src.key_column, key_col) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the referrals of %s hold keys of column \"%s\", not of \"%s\"",
						clm_qualified_relname(cust), src.key_column, key_col),
				 errhint("Pass customer_key => '%s', or adopt the referrals again with that key column.",
						 src.key_column)));
	qual = psprintf("SELECT q.referrer FROM (%s) q GROUP BY q.referrer "
					"HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>=) $2",
					clm_lc_referred_sql(&src, ord, fk, ts,
										clm_lc_eq_operator(get_atttype(ord, get_attnum(ord, fk)), fk),
										NULL, "$1", "$3"));
	vals[0] = TimestampTzGetDatum(as_of);
	vals[1] = Int64GetDatum((int64) policy->advocate_min_referrals);
	vals[2] = Float8GetDatum(policy->advocate_window_days);
	vals[3] = ObjectIdGetDatum(loyal);
	vals[4] = ObjectIdGetDatum(advocate);
	if (lock_first)
	{
		sql = psprintf("SELECT 1 FROM %s c JOIN (%s) a ON c.%s %s a.referrer "
					   "WHERE %s OPERATOR(pg_catalog.=) $4 ORDER BY c.%s FOR NO KEY UPDATE OF c",
					   clm_qualified_relname(cust), qual, key_q, eq, cur, key_q);
		ret = SPI_execute_with_args(sql, 4, types, vals, NULL, false, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "clm.refresh_stages: locking failed: %s", SPI_result_code_string(ret));
	}
	sql = psprintf("UPDATE %s c SET %s = $5%s FROM (%s) a WHERE c.%s %s a.referrer "
				   "AND %s OPERATOR(pg_catalog.=) $4",
				   clm_qualified_relname(cust), stage_q, sets, qual,
				   key_q, eq, cur);
	return refresh_update(sql, 5, types, vals, cust, as_of);
}

PG_FUNCTION_INFO_V1(clm_refresh_stages);

/*
 * clm_refresh_stages
 *		SQL: clm.refresh_stages(customers, orders, customer_key,
 *		stage_column, order_customer_column, ordered_at_column, as_of,
 *		policy, since_column) RETURNS bigint, the number of customers moved.
 *
 * A customer moves only deeper into decay (repeat -> at_risk -> dormant ->
 * churned, skipping allowed), only if the rules allow it, only from a
 * stage that has bought (never prospect, lead, or NULL), and only when the
 * last order is not after as_of (a later order means the customer was not
 * lapsed at as_of).
 */
Datum
clm_refresh_stages(PG_FUNCTION_ARGS)
{
	static const ClmStage lapsed[] = {CLM_STAGE_AT_RISK, CLM_STAGE_DORMANT, CLM_STAGE_CHURNED};
	static const ClmStage movable[] = {CLM_STAGE_FIRST_PURCHASE, CLM_STAGE_REPEAT,
		CLM_STAGE_LOYAL, CLM_STAGE_ADVOCATE, CLM_STAGE_REACTIVATED,
	CLM_STAGE_AT_RISK, CLM_STAGE_DORMANT};
	Oid			cust,
				ord;
	char	   *key,
			   *key_col,
			   *fk_col,
			   *ts_col,
			   *stage,
			   *fk,
			   *ts,
			   *since = NULL;
	const char *guard_since;
	StringInfoData sets;
	TimestampTz as_of;
	char	   *policy;
	char	   *cust_q,
			   *ord_q,
			   *nsp_q,
			   *facts,
			   *cur,
			   *eq,
			   *sql;
	Oid			types[6];
	Datum		vals[6];
	Datum		rule_from[CLM_NUM_STAGES * CLM_NUM_STAGES];
	Datum		rule_to[CLM_NUM_STAGES * CLM_NUM_STAGES];
	int			nrules = 0;
	bool		lock_first = true;
	bool		by_values;
	int			i,
				j;
	Relation	crel;
	int			ret;
	uint64		moved;

	refresh_arg_null(fcinfo, 0, "customers");
	refresh_arg_null(fcinfo, 1, "orders");
	refresh_arg_null(fcinfo, 2, "customer_key");
	refresh_arg_null(fcinfo, 3, "stage_column");
	refresh_arg_null(fcinfo, 4, "order_customer_column");
	refresh_arg_null(fcinfo, 5, "ordered_at_column");
	refresh_arg_null(fcinfo, 6, "as_of");
	refresh_arg_null(fcinfo, 7, "policy");
	cust = PG_GETARG_OID(0);
	ord = PG_GETARG_OID(1);
	key = pstrdup(NameStr(*PG_GETARG_NAME(2)));
	stage = pstrdup(NameStr(*PG_GETARG_NAME(3)));
	fk = pstrdup(NameStr(*PG_GETARG_NAME(4)));
	ts = pstrdup(NameStr(*PG_GETARG_NAME(5)));
	as_of = PG_GETARG_TIMESTAMPTZ(6);
	policy = text_to_cstring(PG_GETARG_TEXT_PP(7));
	if (!PG_ARGISNULL(8))
		since = pstrdup(NameStr(*PG_GETARG_NAME(8)));
	/*
	 * The 1.0 catalog declares the function without lock_first, and has no
	 * clm.classify_stage taking the policy as a row: it gets the policy by
	 * name.
	 */
	by_values = PG_NARGS() > 9;
	if (by_values)
	{
		refresh_arg_null(fcinfo, 9, "lock_first");
		lock_first = PG_GETARG_BOOL(9);
	}
	clm_check_finite_timestamp(as_of, "as_of");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	clm_lc_load(get_func_namespace(fcinfo->flinfo->fn_oid));
	(void) clm_lc_policy(policy);	/* an unknown policy is an error */

	refresh_column(cust, key, InvalidOid, "customer_key");
	eq = clm_lc_eq_operator(get_atttype(cust, get_attnum(cust, key)), key);
	refresh_column(cust, stage, clm_lc_stage_type(), "stage_column");
	refresh_column(ord, fk, InvalidOid, "order_customer_column");
	refresh_column(ord, ts, TIMESTAMPTZOID, "ordered_at_column");
	if (since)
		refresh_column(cust, since, TIMESTAMPTZOID, "since_column");

	crel = table_open(cust, AccessShareLock);
	guard_since = clm_lc_require_guard(crel, stage, "clm.refresh_stages", NULL);
	table_close(crel, NoLock);

	cust_q = clm_qualified_relname(cust);
	ord_q = clm_qualified_relname(ord);
	nsp_q = pstrdup(clm_lc_nspname());
	key_col = key;
	fk_col = fk;
	ts_col = ts;
	key = pstrdup(quote_identifier(key));
	stage = pstrdup(quote_identifier(stage));
	fk = pstrdup(quote_identifier(fk));
	ts = pstrdup(quote_identifier(ts));

	/* per customer: the stage the orders imply as of $1 under policy $2 */
	facts = psprintf("SELECT o.%s AS k, %s.classify_stage(pg_catalog.count(o.%s), "
					 "pg_catalog.min(o.%s), pg_catalog.max(o.%s), $1, $2) AS st "
					 "FROM %s o WHERE o.%s IS NOT NULL AND o.%s IS NOT NULL GROUP BY o.%s "
					 "HAVING pg_catalog.max(o.%s) OPERATOR(pg_catalog.<=) $1",
					 fk, nsp_q, ts, ts, ts, ord_q, fk, ts, fk, ts);

	/*
	 * The policy as a row value, for the IMMUTABLE clm.classify_stage (by
	 * name for the 1.0 catalog).
	 */
	types[1] = TEXTOID;
	vals[1] = CStringGetTextDatum(policy);
	if (by_values)
		vals[1] = clm_lc_policy_row(policy, &types[1]);

	/* the allowed moves from a movable stage to a lapsed one, as two arrays */
	for (i = 0; i < (int) lengthof(movable); i++)
		for (j = 0; j < (int) lengthof(lapsed); j++)
			if (clm_lc_allowed(clm_lc_stage_oid(movable[i]), clm_lc_stage_oid(lapsed[j])))
			{
				rule_from[nrules] = ObjectIdGetDatum(clm_lc_stage_oid(movable[i]));
				rule_to[nrules++] = ObjectIdGetDatum(clm_lc_stage_oid(lapsed[j]));
			}

	types[0] = TIMESTAMPTZOID;
	types[2] = get_array_type(clm_lc_stage_type());
	types[3] = types[2];
	types[4] = types[2];
	types[5] = types[2];
	vals[0] = TimestampTzGetDatum(as_of);
	vals[2] = refresh_stage_array(lapsed, lengthof(lapsed));
	vals[3] = refresh_stage_array(movable, lengthof(movable));
	vals[4] = clm_array(rule_from, NULL, nrules, clm_lc_stage_type());
	vals[5] = clm_array(rule_to, NULL, nrules, clm_lc_stage_type());

	/*
	 * The stage column as clm.lifecycle_stage: it may be a domain over it,
	 * and enum_eq and array_position do not resolve for a domain compared
	 * with the base type ("operator does not exist: dom = lifecycle_stage").
	 */
	cur = psprintf("c.%s::%s.lifecycle_stage", stage, nsp_q);

	/* 1: lock the customers that lapse, in key order */
	if (lock_first)
	{
		sql = psprintf("SELECT 1 FROM %s c JOIN (%s) f ON c.%s %s f.k "
					   "WHERE f.st OPERATOR(pg_catalog.=) ANY ($3) "
					   "AND %s OPERATOR(pg_catalog.=) ANY ($4) "
					   "ORDER BY c.%s FOR NO KEY UPDATE OF c",
					   cust_q, facts, key, eq, cur, key);
		ret = SPI_execute_with_args(sql, 4, types, vals, NULL, false, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "clm.refresh_stages: locking failed: %s", SPI_result_code_string(ret));
	}

	/*
	 * 2: recompute under a fresh snapshot and move them, deeper only.  On
	 * Citus the UPDATE also writes as_of into the guard's since column
	 * (never earlier than the value there): the business time then travels
	 * with the row to a guard that did not get it handed over (a shard's,
	 * fired in another backend); the hand-off, where it arrives, takes
	 * precedence.  See clm_lc_time_in_row.
	 */
	initStringInfo(&sets);
	if (since)
		appendStringInfo(&sets, ", %s = $1", quote_identifier(since));
	if (guard_since && (since == NULL || strcmp(since, guard_since) != 0) &&
		clm_lc_time_in_row())
		appendStringInfo(&sets, ", %s = GREATEST($1, c.%s::pg_catalog.timestamptz)",
						 quote_identifier(guard_since), quote_identifier(guard_since));
	sql = psprintf("UPDATE %s c SET %s = f.st%s FROM (%s) f "
				   "WHERE c.%s %s f.k "
				   "AND f.st OPERATOR(pg_catalog.=) ANY ($3) "
				   "AND %s OPERATOR(pg_catalog.=) ANY ($4) "
				   "AND COALESCE(pg_catalog.array_position($3, %s), 0) "
				   "OPERATOR(pg_catalog.<) pg_catalog.array_position($3, f.st) "
				   "AND EXISTS (SELECT 1 FROM ROWS FROM (pg_catalog.unnest($5), pg_catalog.unnest($6)) r(f, t) "
				   "WHERE r.f OPERATOR(pg_catalog.=) %s "
				   "AND r.t OPERATOR(pg_catalog.=) f.st)",
				   cust_q, stage, sets.data, facts, key, eq, cur, cur, cur);
	moved = refresh_update(sql, 6, types, vals, cust, as_of);

	/* 3: loyal customers whose referrals make them advocates */
	moved += refresh_advocates(cust, ord, key_col, eq, fk_col, ts_col, stage, cur, sets.data,
							   as_of, clm_lc_policy(policy), lock_first);

	SPI_finish();
	PG_RETURN_INT64((int64) moved);
}
