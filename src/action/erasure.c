/*-------------------------------------------------------------------------
 *
 * erasure.c
 *	  clm._forget_records: the part of clm.forget_customer (erasure on
 *	  request) that removes what clm keeps about one customer in its own
 *	  tables, which ordinary roles cannot write.
 *
 * The right to delete a customer is the right to DELETE from the customers
 * table, unrestricted by row-level security.  The check is made here, as
 * the calling role, before anything is removed; the removal itself then runs as the owner of clm's tables, the
 * way clm's triggers write the history.  Only fixed statements run under
 * that identity.
 *
 * IDENTIFICATION
 *	  src/action/erasure.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "clm.h"
#include "compat.h"
#include "../lifecycle/lifecycle.h"

PG_FUNCTION_INFO_V1(clm_forget_records);
PG_FUNCTION_INFO_V1(clm_purge_history);

/*
 * forget_check_rights
 *		The calling role must be able to delete the table's customers:
 *		USAGE on its schema and DELETE on it.  A dropped table (an OID left
 *		in a regclass) is an error of its own.
 */
static void
forget_check_rights(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Form_pg_class form;
	char	   *name;
	Oid			nspid;
	char		relkind;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid),
				 errhint("Pass the customers table the history was recorded for.")));
	form = (Form_pg_class) GETSTRUCT(tup);
	name = pstrdup(NameStr(form->relname));
	nspid = form->relnamespace;
	relkind = form->relkind;
	ReleaseSysCache(tup);

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE &&
		relkind != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", name),
				 errhint("Pass the customers table the history was recorded for.")));
	if (clm_namespace_aclcheck(nspid, GetUserId(), ACL_USAGE) != ACLCHECK_OK ||
		pg_class_aclcheck(relid, GetUserId(), ACL_DELETE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to erase customers of table %s",
						quote_qualified_identifier(get_namespace_name(nspid), name)),
				 errdetail("Erasing a customer needs the right to delete it: DELETE on the table and USAGE on its schema."),
				 errhint("Ask the table's owner, or run it as a role that may delete the customers.")));

	/*
	 * Under row-level security the role may delete only some customers, and
	 * which ones cannot be told once the customer row is gone: clm would
	 * remove, as its tables' owner, what the role itself could not.
	 */
	if (check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to erase customers of table %s",
						quote_qualified_identifier(get_namespace_name(nspid), name)),
				 errdetail("Row-level security limits which of the table's customers this role may delete."),
				 errhint("Run it as the table's owner or as a role with BYPASSRLS.")));
}

/*
 * forget_spi_strdup
 *		A copy of s that outlives the SPI connection.
 */
static char *
forget_spi_strdup(const char *s)
{
	size_t		len = strlen(s) + 1;
	char	   *copy = SPI_palloc(len);

	memcpy(copy, s, len);
	return copy;
}

/*
 * forget_check_gone
 *		The customer must be gone from the customers table, or its next stage
 *		change would record it again: clm erases what it keeps, the
 *		customer's own rows are the caller's to delete first.  It is looked
 *		up by the column the table's clm.stage_guard records customers by,
 *		else by its one-column primary key, as the calling role, whom
 *		forget_check_rights has found unrestricted by row-level security,
 *		and compared as the triggers compare keys (the type's own equality:
 *		citext case-insensitively).
 *
 * Returns the key as clm keeps it: read as that column's type (a domain's
 * base type, whose checks may have changed since) and written out by it, as
 * the guard writes it into the history, so that '007' finds customer 7 of
 * an integer key (and a key that is not of that type is an error, not
 * nothing to erase).  The key as given, not looked up, where no such column
 * is known: no key, or guards that record by different columns.  The
 * result is allocated with SPI_palloc: the caller uses it after SPI_finish.
 * Needs SPI and clm_lc_load.
 */
static char *
forget_check_gone(Oid relid, text *key)
{
	Relation	rel = table_open(relid, AccessShareLock);
	char	   *given = text_to_cstring(key);
	bool		several;
	const char *guard_col = clm_lc_guard_key(rel, &several);
	char	   *col = NULL;
	AttrNumber	attnum = InvalidAttrNumber;
	Oid			argtype = TEXTOID;
	Datum		arg = PointerGetDatum(key);
	char	   *query;
	char	   *eq;
	char	   *kept;
	Oid			keytype;
	int			ret;
	bool		isnull;

	if (guard_col != NULL && (attnum = get_attnum(relid, guard_col)) != InvalidAttrNumber)
		col = pstrdup(guard_col);
	else if (!several && clm_single_key_column(rel, &attnum) && attnum != InvalidAttrNumber)
		col = pstrdup(NameStr(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attname));
	table_close(rel, NoLock);
	if (col == NULL)
		return forget_spi_strdup(given);	/* nothing to look it up by */

	keytype = getBaseType(get_atttype(relid, attnum));
	eq = clm_lc_eq_operator_sql(keytype);
	query = psprintf("SELECT k.v, EXISTS (SELECT FROM %s AS c WHERE c.%s %s k.v) "
					 "FROM (SELECT $1::%s AS v) AS k",
					 clm_qualified_relname(relid), quote_identifier(col),
					 eq != NULL ? eq : "OPERATOR(pg_catalog.=)",
					 format_type_be_qualified(keytype));
	ret = SPI_execute_with_args(query, 1, &argtype, &arg, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "clm.forget_customer: looking the customer up failed: %s",
			 SPI_result_code_string(ret));
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("customer %s is still in table %s",
						given, clm_qualified_relname(relid)),
				 errdetail("clm erases what it keeps about a customer; the customer row and its orders are yours to delete."),
				 errhint("Delete the customer row and its orders first (in the same transaction if you like), then call clm.forget_customer.")));
	kept = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	return forget_spi_strdup(kept != NULL ? kept : given);
}

/*
 * forget_delete
 *		Run one of the fixed DELETEs as the owner of clm's tables and
 *		return how many rows it removed.
 */
static int64
forget_delete(const char *sql, Oid relid, Oid argtype, Datum arg)
{
	Oid			types[2] = {REGCLASSOID, argtype};
	Datum		values[2];
	int			ret;

	values[0] = ObjectIdGetDatum(relid);
	values[1] = arg;
	ret = clm_lc_execute_as_owner(sql, 2, types, values);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "clm.forget_customer: \"%s\" failed: %s", sql, SPI_result_code_string(ret));
	return (int64) SPI_processed;
}

/*
 * clm_forget_records
 *		SQL: clm._forget_records(customers regclass, customer_key text)
 *		RETURNS TABLE (what text, removed bigint, kept_key text).  Removes
 *		the customer's stage history, feed events and campaign memberships,
 *		once the customer is gone from its table; one row per table with the
 *		count, and the key as clm keeps it (forget_check_gone), by which
 *		clm.forget_customer then finds the customer in the customer views.
 */
Datum
clm_forget_records(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid;
	char	   *kept;
	Datum		key;
	const char *nsp;
	const char *what[3] = {"clm.stage_history", "clm.stage_event", "clm.campaign_member"};
	int64		removed[3];
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	int			i;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("customers table and customer key must not be null"),
				 errhint("Pass the customers table and the customer's key as text, as clm.stage_history keeps it.")));
	relid = clm_lc_partition_root(PG_GETARG_OID(0));
	forget_check_rights(relid);

	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	clm_lc_load(get_func_namespace(fcinfo->flinfo->fn_oid));
	nsp = clm_lc_nspname();	/* quoted */
	kept = forget_check_gone(relid, PG_GETARG_TEXT_PP(1));
	key = CStringGetTextDatum(kept);

	removed[0] = forget_delete(psprintf("DELETE FROM %s.stage_history AS h "
										"WHERE h.relation OPERATOR(pg_catalog.=) $1 "
										"AND h.customer_key OPERATOR(pg_catalog.=) $2", nsp),
							   relid, TEXTOID, key);
	removed[1] = forget_delete(psprintf("DELETE FROM %s.stage_event AS e "
										"WHERE e.relation OPERATOR(pg_catalog.=) $1 "
										"AND e.customer_key OPERATOR(pg_catalog.=) $2", nsp),
							   relid, TEXTOID, key);
	removed[2] = forget_delete(psprintf("DELETE FROM %s.campaign_member AS m "
										"USING %s.campaign AS c "
										"WHERE c.name OPERATOR(pg_catalog.=) m.campaign "
										"AND c.customers OPERATOR(pg_catalog.=) $1 "
										"AND m.customer_key OPERATOR(pg_catalog.=) $2", nsp, nsp),
							   relid, TEXTOID, key);
	SPI_finish();

	for (i = 0; i < 3; i++)
	{
		values[0] = CStringGetTextDatum(what[i]);
		values[1] = Int64GetDatum(removed[i]);
		values[2] = CStringGetTextDatum(kept);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * purge_on_workers
 *		On a Citus coordinator, the same purge on every worker, where the
 *		guards of a Citus table record its history, as the calling role
 *		(clm._run_on_citus_workers; nothing elsewhere): the rows the workers
 *		removed.  Needs SPI.
 */
static int64
purge_on_workers(Oid relid, Interval *older_than)
{
	Oid			types[2] = {REGCLASSOID, TEXTOID};
	Datum		values[2];
	char	   *command;
	bool		isnull;
	Datum		sum;
	int			ret;

	command = psprintf("SELECT %s.purge_history(%s::pg_catalog.regclass, %s::pg_catalog.interval)",
					   clm_lc_nspname(), quote_literal_cstr(clm_qualified_relname(relid)),
					   quote_literal_cstr(DatumGetCString(DirectFunctionCall1(interval_out,
																			   IntervalPGetDatum(older_than)))));
	values[0] = ObjectIdGetDatum(relid);
	values[1] = CStringGetTextDatum(command);
	ret = SPI_execute_with_args(psprintf("SELECT pg_catalog.sum(w::pg_catalog.int8)::pg_catalog.int8 "
										 "FROM %s._run_on_citus_workers($1, $2) AS w", clm_lc_nspname()),
								2, types, values, NULL, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "clm.purge_history: purging on the Citus workers failed: %s",
			 SPI_result_code_string(ret));
	sum = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetInt64(sum);
}

/*
 * clm_purge_history
 *		SQL: clm.purge_history(customers regclass, older_than interval)
 *		RETURNS bigint.  Retention: removes the table's feed events recorded
 *		before now() - older_than, delivered or not, and its stage changes
 *		dated (changed_at) before then, except each customer's latest
 *		change, which says when its current stage began (the triggers read
 *		it), here and on the Citus workers.  Returns the number of rows
 *		removed.
 */
Datum
clm_purge_history(PG_FUNCTION_ARGS)
{
	Oid			relid;
	Interval   *older_than;
	TimestampTz cutoff;
	int64		removed;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("customers table and retention interval must not be null"),
				 errhint("Pass the customers table and how long to keep its history, for example interval '3 years'.")));
	relid = clm_lc_partition_root(PG_GETARG_OID(0));
	older_than = PG_GETARG_INTERVAL_P(1);
	cutoff = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
													 TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
													 IntervalPGetDatum(older_than)));
	if (!(cutoff < GetCurrentTransactionStartTimestamp()))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retention interval must be positive"),
				 errdetail("It was given as %s.",
						   DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(older_than)))),
				 errhint("Pass how long to keep the history, for example interval '3 years'.")));
	forget_check_rights(relid);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	clm_lc_load(get_func_namespace(fcinfo->flinfo->fn_oid));
	removed = forget_delete(psprintf("DELETE FROM %s.stage_event AS e "
									 "WHERE e.relation OPERATOR(pg_catalog.=) $1 "
									 "AND e.recorded_at OPERATOR(pg_catalog.<) $2",
									 clm_lc_nspname()),
							relid, TIMESTAMPTZOID, TimestampTzGetDatum(cutoff));
	removed += forget_delete(psprintf("DELETE FROM %1$s.stage_history AS h "
									 "WHERE h.relation OPERATOR(pg_catalog.=) $1 "
									 "AND h.changed_at OPERATOR(pg_catalog.<) $2 "
									 "AND EXISTS (SELECT FROM %1$s.stage_history AS l "
									 "WHERE l.relation OPERATOR(pg_catalog.=) h.relation "
									 "AND l.customer_key OPERATOR(pg_catalog.=) h.customer_key "
									 "AND (l.changed_at OPERATOR(pg_catalog.>) h.changed_at "
									 "OR (l.changed_at OPERATOR(pg_catalog.=) h.changed_at "
									 "AND l.id OPERATOR(pg_catalog.>) h.id)))",
									 clm_lc_nspname()),
							relid, TIMESTAMPTZOID, TimestampTzGetDatum(cutoff));
	removed += purge_on_workers(relid, older_than);
	SPI_finish();
	PG_RETURN_INT64(removed);
}
