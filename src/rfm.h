/*-------------------------------------------------------------------------
 *
 * rfm.h
 *	  Declarations shared by the RFM files of clm (rfm_agg.c, rfm_score.c,
 *	  rfm_segment.c).
 *
 * IDENTIFICATION
 *	  src/rfm.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_RFM_H
#define CLM_RFM_H

#include "postgres.h"
#include "fmgr.h"

/* attribute numbers of the composite clm.rfm */
#define RFM_ATT_RECENCY		1
#define RFM_ATT_FREQUENCY	2
#define RFM_ATT_MONETARY	3
#define RFM_ATT_FIRST_AT	4
#define RFM_ATT_LAST_AT		5
#define RFM_ATT_TENURE		6
#define RFM_ATT_MEAN_GAP	7
#define RFM_NATTS			7

/* attribute numbers of the composite clm.rfm_score */
#define RFM_SCORE_NATTS		4

/* scores are digits of r*100 + f*10 + m, so at most 9 bins per dimension */
#define RFM_MIN_BINS		2
#define RFM_MAX_BINS		9

/*
 * A blessed copy, in fn_mcxt, of the TupleDesc of a function's composite
 * result; callers cache it in their fn_extra so a call per row does not look
 * it up again.
 */
extern TupleDesc rfm_result_tupdesc(FunctionCallInfo fcinfo);

/*
 * A numeric as a double, read from its digits (fast; the same numeric always
 * gives the same double).  NaN and infinities go through numeric_float8.
 */
extern double rfm_numeric_to_double(Datum num);

/*
 * Deform a composite datum (natts attributes) with a TupleDesc cached in
 * *cache (allocated in cxt on first use).
 */
extern void rfm_deform(HeapTupleHeader th, int natts, Datum *values, bool *nulls,
					   TupleDesc *cache, MemoryContext cxt);

#endif							/* CLM_RFM_H */
