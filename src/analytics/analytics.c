/*-------------------------------------------------------------------------
 *
 * analytics.c
 *	  The one piece of C behind the analytics: the check that an order time
 *	  the SQL of cohort_retention, churn_survival and lifecycle_kpis reads
 *	  is finite.
 *
 * The analytics are set-based SQL (analytics.sql and the files after it),
 * but a check that runs on every order they read must be cheap, and it must
 * say the same as the C aggregates say about the same row: both go through
 * clm_check_finite_timestamp.
 *
 * IDENTIFICATION
 *	  src/analytics/analytics.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/timestamp.h"

#include "clm.h"

PG_FUNCTION_INFO_V1(clm_finite_order_time);

/*
 * clm_finite_order_time
 *		SQL: clm._finite_order_time(ordered_at) RETURNS timestamptz, its
 *		argument, or an error (22008) when it is -infinity or infinity.
 *
 * An infinite order time has no calendar period and no age: left in, it
 * makes cohort_retention's grid of periods endless (generate_series from
 * -infinity never advances) and churn_survival's durations fail deep in a
 * query.  The analytics wrap the order times they read in this function,
 * so such a row is refused up front, with the same message clm.rfm_agg
 * gives for it.
 */
Datum
clm_finite_order_time(PG_FUNCTION_ARGS)
{
	TimestampTz ts = PG_GETARG_TIMESTAMPTZ(0);

	clm_check_finite_timestamp(ts, "ordered_at");
	PG_RETURN_TIMESTAMPTZ(ts);
}
