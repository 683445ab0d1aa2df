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

#include "postgres.h"
#include "utils/timestamp.h"

/* Raise a clear error if a timestamp argument is +/-infinity. */
extern void clm_check_finite_timestamp(TimestampTz ts, const char *argname);

/* Raise a clear error if a float8 argument is NaN or infinite. */
extern void clm_check_finite_float8(double v, const char *argname);

/* The quoted, schema-qualified name of a relation, e.g. crm."Customers". */
extern char *clm_qualified_relname(Oid relid);

#endif							/* CLM_H */
