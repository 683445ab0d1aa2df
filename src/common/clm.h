/*-------------------------------------------------------------------------
 *
 * clm.h
 *	  Declarations shared by the C files of clm.
 *
 * IDENTIFICATION
 *	  src/common/clm.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_H
#define CLM_H

#include "fmgr.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "compat.h"

/* The error of clm_agg_context below (SQLSTATE 0A000, naming the function). */
clm_noreturn extern void clm_not_in_aggregate(FunctionCallInfo fcinfo);

/*
 * clm_agg_context
 *		The aggregate memory context of an aggregate support function, or
 *		the one error when it is called outside an aggregate.  Inline: the
 *		transition functions call it once per row.
 */
static inline MemoryContext
clm_agg_context(FunctionCallInfo fcinfo)
{
	MemoryContext aggcxt;

	if (unlikely(!AggCheckCallContext(fcinfo, &aggcxt)))
		clm_not_in_aggregate(fcinfo);
	return aggcxt;
}

/*
 * clm_utc_day
 *		The UTC calendar day of a finite timestamp, as days since 2000-01-01
 *		(floor, not truncation, before 2000): the day of the purchase models.
 */
static inline int32
clm_utc_day(TimestampTz ts)
{
	int64		d = ts / USECS_PER_DAY;

	if (ts < 0 && ts % USECS_PER_DAY != 0)
		d--;
	return (int32) d;
}

/* Raise a clear error if a timestamp argument is +/-infinity. */
extern void clm_check_finite_timestamp(TimestampTz ts, const char *argname);

/* Raise a clear error if a float8 argument is NaN or infinite. */
extern void clm_check_finite_float8(double v, const char *argname);

/* The quoted, schema-qualified name of a relation, e.g. crm."Customers". */
extern char *clm_qualified_relname(Oid relid);

/* The column of a table's one-column primary key (clm.c). */
extern bool clm_single_key_column(Relation rel, AttrNumber *attnum);

/* Whether a unique index has exactly that column (clm.c). */
extern bool clm_key_is_unique(Relation rel, AttrNumber key_att);

/* A one-dimensional array of n values of type typid, for a parameter (clm.c). */
extern Datum clm_array(Datum *values, bool *nulls, int n, Oid typid);

#endif							/* CLM_H */
