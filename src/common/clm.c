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

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "clm.h"

PG_MODULE_MAGIC;

/*
 * clm_check_finite_timestamp
 *		Reject +/-infinity where a point in time is needed.
 *
 * Recency, tenure and gaps are differences of timestamps; an infinite one
 * would make them meaningless, so it is an error rather than a silent NaN.
 */
void
clm_check_finite_timestamp(TimestampTz ts, const char *argname)
{
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be a finite timestamp", argname),
				 errdetail("The value is %s.",
						   TIMESTAMP_IS_NOBEGIN(ts) ? "-infinity" : "infinity"),
				 errhint("Filter out rows with infinite timestamps, or replace them with real dates.")));
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
 * (so no search_path can redirect it) and into clm.stage_history.relation.
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
