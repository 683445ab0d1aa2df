/*-------------------------------------------------------------------------
 *
 * clm.c
 *	  Module magic and the input checks shared by every area of clm.
 *
 * IDENTIFICATION
 *	  src/common/clm.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_index.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "clm.h"

PG_MODULE_MAGIC;

/*
 * clm_check_finite_timestamp
 *		Reject +/-infinity where a point in time is needed, and any value
 *		outside the range of timestamptz.
 *
 * Recency, tenure and gaps are differences of timestamps; an infinite one
 * would make them meaningless, so it is an error rather than a silent NaN.
 * A value beyond the range (which only a binary-coercible cast can make)
 * would be kept in a state, or returned, that could then not be printed.
 */
void
clm_check_finite_timestamp(TimestampTz ts, const char *argname)
{
	if (unlikely(!IS_VALID_TIMESTAMP(ts)))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be a finite timestamp", argname),
				 TIMESTAMP_NOT_FINITE(ts) ?
				 errdetail("The value is %s.",
						   TIMESTAMP_IS_NOBEGIN(ts) ? "-infinity" : "infinity") :
				 errdetail("The value, " INT64_FORMAT " microseconds from 2000-01-01 00:00 UTC, is out of range for type timestamp with time zone.", ts),
				 errhint("Filter out rows with infinite timestamps, or replace them with real dates.")));
}

/*
 * clm_not_in_aggregate
 *		The one error for an aggregate support function called from anywhere
 *		but an aggregate (see clm_agg_context in clm.h).
 *
 * The transition, combine, serialize and deserialize functions of clm's
 * aggregates modify their state in place or keep it in the aggregate's
 * memory, which is only safe, and only possible, when nodeAgg or
 * nodeWindowAgg calls them.  Every such function of every area checks that
 * through clm_agg_context, so a direct call gets the same message and
 * SQLSTATE whichever it is.  The message names the function as the catalog
 * does (its name is looked up only here, on the error path).
 */
void
clm_not_in_aggregate(FunctionCallInfo fcinfo)
{
	Oid			fn_oid = fcinfo->flinfo ? fcinfo->flinfo->fn_oid : InvalidOid;
	const char *fname = "this function";

	if (OidIsValid(fn_oid))
	{
		char	   *name = get_func_name(fn_oid);
		char	   *nspname = get_namespace_name(get_func_namespace(fn_oid));

		if (name != NULL && nspname != NULL)
			fname = quote_qualified_identifier(nspname, name);
	}
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("%s must be called as an aggregate support function", fname),
			 errdetail("It keeps its state in memory that only an aggregate provides."),
			 errhint("Call the aggregate that uses it; pg_aggregate lists which one that is.")));
}

/*
 * clm_check_finite_float8
 *		Reject NaN and +/-Infinity in numeric inputs of the models.
 */
void
clm_check_finite_float8(double v, const char *argname)
{
	if (isnan(v) || isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be a finite number", argname),
				 errdetail("The value is %s.", isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity")),
				 errhint("Filter out or repair rows with NaN or infinite values.")));
}

/*
 * clm_qualified_relname
 *		The quoted, schema-qualified name of a relation.
 *
 * This is the form in which clm writes a user's table into the SQL it runs
 * (so no search_path can redirect it) and into its messages.
 */
char *
clm_qualified_relname(Oid relid)
{
	char	   *nspname = get_namespace_name(get_rel_namespace(relid));
	char	   *relname = get_rel_name(relid);

	if (nspname == NULL || relname == NULL)
		elog(ERROR, "cache lookup failed for relation %u", relid);
	return quote_qualified_identifier(nspname, relname);
}

/*
 * clm_single_key_column
 *		Where no key column is named, customers are found by the table's
 *		primary key when it has one column (clm.stage_on_order,
 *		clm.forget_customer).  Returns whether the table has a primary key,
 *		and sets *attnum to its column, or to InvalidAttrNumber when the key
 *		has more than one column.
 */
bool
clm_single_key_column(Relation rel, AttrNumber *attnum)
{
	Oid			pk = clm_primary_key_index(rel);
	Relation	idx;

	*attnum = InvalidAttrNumber;
	if (!OidIsValid(pk))
		return false;
	idx = index_open(pk, AccessShareLock);
	if (idx->rd_index->indnkeyatts == 1 && idx->rd_index->indkey.values[0] > 0)
		*attnum = idx->rd_index->indkey.values[0];
	index_close(idx, AccessShareLock);
	return true;
}

/*
 * clm_key_is_unique
 *		Whether a valid, unique, non-partial index that is checked at once
 *		has exactly the key column: one customer per key
 *		(clm.stage_guard's upserts, clm.stage_on_order's batches).
 */
bool
clm_key_is_unique(Relation rel, AttrNumber key_att)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	bool		found = false;

	foreach(lc, indexes)
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index idx;

		if (!HeapTupleIsValid(tup))
			continue;
		idx = (Form_pg_index) GETSTRUCT(tup);
		if (idx->indisunique && idx->indisvalid && idx->indimmediate &&
			idx->indnkeyatts == 1 && idx->indkey.values[0] == key_att &&
			heap_attisnull(tup, Anum_pg_index_indpred, NULL))
			found = true;
		ReleaseSysCache(tup);
		if (found)
			break;
	}
	list_free(indexes);
	return found;
}

/*
 * clm_array
 *		A one-dimensional array of n values of type typid (nulls: which are
 *		NULL, or NULL for none), to pass to a statement as one parameter.
 */
Datum
clm_array(Datum *values, bool *nulls, int n, Oid typid)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			lbound = 1;

	get_typlenbyvalalign(typid, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(values, nulls, 1, &n, &lbound, typid,
											  typlen, typbyval, typalign));
}

PG_FUNCTION_INFO_V1(clm_primary_key_column);

/*
 * clm_primary_key_column
 *		SQL: clm._primary_key_column(rel regclass) RETURNS name: the column
 *		of the table's one-column primary key, NULL without one.  The
 *		functions written in SQL find customers by the same rule as the
 *		triggers (clm_single_key_column).  A relation that does not exist
 *		(any more) has none.
 */
Datum
clm_primary_key_column(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	rel;
	AttrNumber	attnum;
	char	   *colname;

	rel = try_relation_open(relid, AccessShareLock);
	if (rel == NULL)
		PG_RETURN_NULL();
	if (!clm_single_key_column(rel, &attnum) || attnum == InvalidAttrNumber)
	{
		relation_close(rel, AccessShareLock);
		PG_RETURN_NULL();
	}
	colname = get_attname(relid, attnum, false);
	relation_close(rel, AccessShareLock);
	PG_RETURN_DATUM(DirectFunctionCall1(namein, CStringGetDatum(colname)));
}
