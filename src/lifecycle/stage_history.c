/*-------------------------------------------------------------------------
 *
 * stage_history.c
 *	  clm.stage_history_visible(): the read policy of clm.stage_history.
 *
 * A history row belongs to a customer row of a customers table.  A role
 * may see it only if it could see that customer itself: SELECT on the
 * table, USAGE on its schema, and, where the table's row-level security
 * applies to the role, the customer row under those policies.  Rows the
 * role may not see are filtered out; nothing here raises an error for
 * them (a table in a schema the role cannot use, a dropped table).
 *
 * Looking the customer up under the table's policies runs the policies'
 * expressions as the reader, although the reader only asked for clm's
 * history: the table's owner wrote them, and they would run with the
 * reader's rights.  So the lookup is made only when the owner may act as
 * the reader anyway (it is a member of the reader's role, or a superuser);
 * otherwise the reader sees none of that table's history, the way
 * PostgreSQL's pg_stats hides the statistics of such tables.
 *
 * A lookup that fails is a customer the reader cannot see either: a key
 * recorded before the key column changed type, or by a second guard keyed
 * on another column, that is no value of the key type; a policy reading a
 * table the reader may not read.  Such a row is filtered out like the
 * others, so that the table's owner cannot make reading the history fail
 * for anyone.
 *
 * IDENTIFICATION
 *	  src/lifecycle/stage_history.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "clm.h"
#include "compat.h"
#include "lifecycle.h"

/* What the reader may see of one table's history. */
typedef enum HistAccess
{
	HIST_NONE,					/* nothing */
	HIST_ALL,					/* every row */
	HIST_PROBE					/* the rows of the customers it can see */
} HistAccess;

/* One table, as decided for the reader during one query. */
typedef struct HistTable
{
	Oid			relid;
	HistAccess	access;
	SPIPlanPtr	probe;			/* HIST_PROBE: SELECT 1 ... WHERE key = $1 */
	Oid			key_input;		/* the key type's input function */
	Oid			key_ioparam;
	struct HistTable *next;
} HistTable;

/* Per call site (fn_extra): the tables decided so far in this query. */
typedef struct HistCache
{
	Oid			nsp;			/* clm's schema */
	HistTable  *tables;
} HistCache;

/*
 * hist_free_plans
 *		Memory context reset callback: the kept probe plans live outside the
 *		query's memory, so they are freed with the call site's cache.
 */
static void
hist_free_plans(void *arg)
{
	HistCache  *cache = (HistCache *) arg;
	HistTable  *t;

	for (t = cache->tables; t != NULL; t = t->next)
		if (t->probe != NULL)
			SPI_freeplan(t->probe);
}

/*
 * hist_guard_key_column
 *		The key column clm.stage_guard records for rel: the second argument
 *		of its guard triggers, or NULL if rel carries none, or if its guards
 *		(one per stage column) are keyed on different columns.  History rows
 *		do not say which guard wrote them, so a key could then not be told
 *		from another column's value: looking it up in the wrong column would
 *		show the reader the history of a customer it cannot see.
 */
static char *
hist_guard_key_column(Relation rel, Oid nsp)
{
	TriggerDesc *td = rel->trigdesc;
	char	   *keycol = NULL;
	int			i;

	if (td == NULL)
		return NULL;
	for (i = 0; i < td->numtriggers; i++)
	{
		Trigger    *t = &td->triggers[i];
		char	   *fname;

		if (t->tgnargs < 2 || get_func_namespace(t->tgfoid) != nsp)
			continue;
		fname = get_func_name(t->tgfoid);
		if (fname == NULL || strcmp(fname, "stage_guard") != 0)
			continue;
		if (keycol == NULL)
			keycol = t->tgargs[1];
		else if (strcmp(keycol, t->tgargs[1]) != 0)
			return NULL;
	}
	return keycol ? pstrdup(keycol) : NULL;
}

/*
 * hist_error_hides_row
 *		Whether an error raised while looking a customer up means only that
 *		the reader cannot see it (see the file header).  Cancels, shutdowns,
 *		lack of resources, serialization failures and deadlocks, lock
 *		timeouts and internal errors are about the query or the server, not
 *		the row: they propagate.
 */
static bool
hist_error_hides_row(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_TRANSACTION_ROLLBACK:
		case ERRCODE_INSUFFICIENT_RESOURCES:
		case ERRCODE_PROGRAM_LIMIT_EXCEEDED:
		case ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE:
		case ERRCODE_OPERATOR_INTERVENTION:
		case ERRCODE_SYSTEM_ERROR:
		case ERRCODE_INTERNAL_ERROR:
			return false;
		default:
			return true;
	}
}

/*
 * hist_try
 *		Run step(t, arg), which runs SQL as the reader, in a subtransaction.
 *		Its result, or false if it raised an error that only means the
 *		reader cannot see the customer (hist_error_hides_row); any other
 *		error is raised again.  Memory allocated by the step stays in the
 *		caller's context.
 */
static bool
hist_try(bool (*step) (HistTable *t, void *arg), HistTable *t, void *arg)
{
	MemoryContext mcxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool result = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(mcxt);
	PG_TRY();
	{
		result = step(t, arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(mcxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(mcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(mcxt);
		CurrentResourceOwner = owner;
		if (!hist_error_hides_row(edata->sqlerrcode))
			ReThrowError(edata);
		FreeErrorData(edata);
		result = false;
	}
	PG_END_TRY();
	return result;
}

/*
 * hist_prepare_probe
 *		hist_try step: prepare the lookup of one customer by key in t's
 *		table, as the reader so that the table's row-level security applies
 *		(arg: the HistCache).  The key is compared with its type's own
 *		equality (the default btree one), so a unique index on the key
 *		serves it.  false if the table has no guard or its key column is
 *		gone: then nothing is shown.
 */
static bool
hist_prepare_probe(HistTable *t, void *arg)
{
	HistCache  *cache = (HistCache *) arg;
	Relation	rel = table_open(t->relid, AccessShareLock);
	char	   *keycol = hist_guard_key_column(rel, cache->nsp);
	AttrNumber	attnum;
	Oid			keytype;
	char	   *eq;
	char	   *sql;
	SPIPlanPtr	plan;
	bool		ok = false;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (keycol != NULL &&
		(attnum = SPI_fnumber(RelationGetDescr(rel), keycol)) > 0)
	{
		/*
		 * A domain's key is read as its base type: the history holds keys
		 * that were valid, and a domain's CHECK may call functions of the
		 * domain's owner, which must not run as the reader.
		 */
		keytype = getBaseType(SPI_gettypeid(RelationGetDescr(rel), attnum));
		eq = clm_lc_eq_operator_sql(keytype);
		if (eq != NULL)
		{
			sql = psprintf("SELECT 1 FROM %s WHERE %s %s $1 LIMIT 1",
						   clm_qualified_relname(t->relid),
						   quote_identifier(keycol), eq);
			plan = SPI_prepare(sql, 1, &keytype);
			if (plan == NULL)
				elog(ERROR, "clm could not prepare \"%s\": %s",
					 sql, SPI_result_code_string(SPI_result));
			getTypeInputInfo(keytype, &t->key_input, &t->key_ioparam);
			SPI_keepplan(plan);
			t->probe = plan;
			ok = true;
		}
	}
	SPI_finish();
	table_close(rel, AccessShareLock);
	return ok;
}

/*
 * hist_lookup
 *		hist_try step: whether the reader sees the customer whose key, as
 *		text, is arg in t's table (HIST_PROBE).
 */
static bool
hist_lookup(HistTable *t, void *arg)
{
	Datum		key;
	int			ret;
	bool		found;

	key = OidInputFunctionCall(t->key_input, text_to_cstring((text *) arg),
							   t->key_ioparam, -1);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute_plan(t->probe, &key, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "clm: looking up a customer failed: %s", SPI_result_code_string(ret));
	found = SPI_processed > 0;
	SPI_finish();
	return found;
}

/*
 * hist_decide
 *		What the current role may see of relid's history.
 */
static HistTable *
hist_decide(HistCache *cache, MemoryContext mcxt, Oid relid)
{
	HistTable  *t;
	HeapTuple	tup;
	Oid			nspid;
	Oid			owner;
	bool		missing = false;
	Oid			user = GetUserId();
	MemoryContext old;

	for (t = cache->tables; t != NULL; t = t->next)
		if (t->relid == relid)
			return t;

	t = MemoryContextAllocZero(mcxt, sizeof(HistTable));
	t->relid = relid;
	t->access = HIST_NONE;
	t->next = cache->tables;
	cache->tables = t;

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		return t;				/* dropped (relation 0, or a stale OID) */
	nspid = ((Form_pg_class) GETSTRUCT(tup))->relnamespace;
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);

	if (clm_namespace_aclcheck(nspid, user, ACL_USAGE) != ACLCHECK_OK ||
		pg_class_aclcheck_ext(relid, user, ACL_SELECT, &missing) != ACLCHECK_OK ||
		missing)
		return t;

	if (check_enable_rls(relid, InvalidOid, true) != RLS_ENABLED)
	{
		t->access = HIST_ALL;
		return t;
	}
	if (!is_member_of_role(owner, user))
		return t;				/* its policies are not to run as the reader */
	old = MemoryContextSwitchTo(mcxt);
	if (hist_try(hist_prepare_probe, t, cache))
		t->access = HIST_PROBE;
	MemoryContextSwitchTo(old);
	return t;
}

PG_FUNCTION_INFO_V1(clm_stage_history_visible);

/*
 * clm_stage_history_visible
 *		SQL: clm.stage_history_visible(relation regclass, customer_key
 *		text).  Whether the current role may see a history row of that
 *		customer (see the file header).  The decision per table is made
 *		once per call site and query; under row-level security each row
 *		costs one lookup of its customer by key, in a subtransaction (so
 *		the function is PARALLEL UNSAFE).
 */
Datum
clm_stage_history_visible(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	HistCache  *cache = (HistCache *) fcinfo->flinfo->fn_extra;
	HistTable  *t;

	if (cache == NULL)
	{
		MemoryContextCallback *cb;

		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(HistCache));
		cache->nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
		cb = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(MemoryContextCallback));
		cb->func = hist_free_plans;
		cb->arg = cache;
		MemoryContextRegisterResetCallback(fcinfo->flinfo->fn_mcxt, cb);
		fcinfo->flinfo->fn_extra = cache;
	}
	if (!OidIsValid(relid))
		PG_RETURN_BOOL(false);
	t = hist_decide(cache, fcinfo->flinfo->fn_mcxt, relid);
	if (t->access != HIST_PROBE)
		PG_RETURN_BOOL(t->access == HIST_ALL);
	PG_RETURN_BOOL(hist_try(hist_lookup, t, PG_GETARG_TEXT_PP(1)));
}
