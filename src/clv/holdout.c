/*-------------------------------------------------------------------------
 *
 * holdout.c
 *	  Holdout validation of the purchase models.
 *
 *	  clm.holdout_purchases(ordered_at, cutoff, holdout): the number of
 *	  distinct UTC purchase days of a customer in the holdout period, the
 *	  days after the cutoff's day up to holdout days later.  Used next to
 *	  clm.purchase_summary in the same GROUP BY, one pass over the orders
 *	  gives each customer's calibration summary and holdout purchases, by
 *	  the same day convention (UTC days, same-day orders one purchase).
 *
 *	  clm.holdout_accuracy(predicted, actual): totals, MAE, RMSE and bias
 *	  of predicted against actual holdout purchases; with GROUP BY
 *	  ROLLUP(least(x, 7)) it gives the overall figures and the table of
 *	  mean predicted against mean actual by calibration frequency.
 *
 * IDENTIFICATION
 *	  src/clv/holdout.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "clm.h"

PG_FUNCTION_INFO_V1(clm_holdout_purchases_transfn);
PG_FUNCTION_INFO_V1(clm_holdout_purchases_combine);
PG_FUNCTION_INFO_V1(clm_holdout_purchases_serial);
PG_FUNCTION_INFO_V1(clm_holdout_purchases_deserial);
PG_FUNCTION_INFO_V1(clm_holdout_purchases_final);
PG_FUNCTION_INFO_V1(clm_holdout_accuracy_transfn);
PG_FUNCTION_INFO_V1(clm_holdout_accuracy_combine);
PG_FUNCTION_INFO_V1(clm_holdout_accuracy_final);

#define HO_INITIAL_CAP 8
/* the serialized header: cutoff, holdout days, count */
#define HO_HEADER_BYTES (8 + 4 + 4)
/* the accuracy state: n, sum predicted, sum actual, sum |e|, sum e^2 */
#define HA_NSTATE 5

typedef struct HOState
{
	TimestampTz cutoff;
	int32		holdout_days;
	int32		n;
	int32		cap;
	bool		compact;		/* days sorted and distinct */
	int32	   *days;
} HOState;

/*
 * holdout_days_of
 *		The holdout as a whole, positive number of days.  The holdout is a
 *		set of calendar days, so a months part (no fixed length) or a
 *		fraction of a day has no meaning.
 */
static int32
holdout_days_of(const Interval *h)
{
	int64		days;

	if (h->month != 0 || h->time % USECS_PER_DAY != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("holdout must be a whole number of days"),
				 errdetail("The holdout is %s.",
						   DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(h)))),
				 errhint("Use an interval of days or weeks, e.g. '39 weeks'; a month has no fixed length.")));
	days = (int64) h->day + h->time / USECS_PER_DAY;
	if (days <= 0 || days > PG_INT32_MAX / 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("holdout must be a positive interval"),
				 errdetail("The holdout is %s.",
						   DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(h)))),
				 errhint("Pass the length of the holdout period after the cutoff, e.g. '39 weeks'.")));
	return (int32) days;
}

static int
day_cmp(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

/* Sort the days and drop repeats, so the count is of distinct days. */
static void
compact_days(HOState *st)
{
	int32		i,
				k = 0;

	if (st->compact)
		return;
	qsort(st->days, st->n, sizeof(int32), day_cmp);
	for (i = 0; i < st->n; i++)
		if (k == 0 || st->days[k - 1] != st->days[i])
			st->days[k++] = st->days[i];
	st->n = k;
	st->compact = true;
}

/* Room for extra more days: compact first, grow only if that is not enough. */
static void
reserve_days(HOState *st, int32 extra)
{
	if (st->n + extra <= st->cap)
		return;
	compact_days(st);
	if (st->n + extra <= st->cap)
		return;
	while (st->n + extra > st->cap)
		st->cap *= 2;
	st->days = repalloc(st->days, st->cap * sizeof(int32));
}

static HOState *
new_ho_state(MemoryContext cxt, TimestampTz cutoff, int32 holdout_days, int32 cap)
{
	HOState    *st = MemoryContextAllocZero(cxt, sizeof(HOState));

	st->cutoff = cutoff;
	st->holdout_days = holdout_days;
	st->cap = Max(cap, HO_INITIAL_CAP);
	st->compact = true;
	st->days = MemoryContextAlloc(cxt, st->cap * sizeof(int32));
	return st;
}

static void
check_same_holdout_args(const HOState *st, TimestampTz cutoff, int32 holdout_days)
{
	if (st->cutoff != cutoff)
	{
		/* timestamptz_to_str returns a static buffer: copy each result */
		char	   *c1 = pstrdup(timestamptz_to_str(st->cutoff));
		char	   *c2 = pstrdup(timestamptz_to_str(cutoff));

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cutoff must be the same for all rows of a group"),
				 errdetail("Found %s and %s in the same group.", c1, c2),
				 errhint("Pass a constant cutoff, e.g. a literal or a query parameter.")));
	}
	if (st->holdout_days != holdout_days)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("holdout must be the same for all rows of a group"),
				 errdetail("Found %d and %d days in the same group.", st->holdout_days, holdout_days),
				 errhint("Pass a constant holdout, e.g. '39 weeks'.")));
}

/*
 * Transition: (state, ordered_at, cutoff, holdout).  A row with a NULL
 * ordered_at is skipped, like NULLs in other aggregates; cutoff and holdout
 * are required.  Only days in (cutoff's day, cutoff's day + holdout] are
 * kept, the days clm.purchase_summary does not see.
 */
Datum
clm_holdout_purchases_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = clm_agg_context(fcinfo);
	HOState    *st = PG_ARGISNULL(0) ? NULL : (HOState *) PG_GETARG_POINTER(0);
	TimestampTz at,
				cutoff;
	int32		hdays,
				day,
				cday;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("cutoff must not be NULL"),
				 errhint("Pass the end of the calibration period, as to clm.purchase_summary.")));
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("holdout must not be NULL"),
				 errhint("Pass the length of the holdout period, e.g. '39 weeks'.")));
	cutoff = PG_GETARG_TIMESTAMPTZ(2);
	clm_check_finite_timestamp(cutoff, "cutoff");
	hdays = holdout_days_of(PG_GETARG_INTERVAL_P(3));

	if (st == NULL)
		st = new_ho_state(cxt, cutoff, hdays, HO_INITIAL_CAP);
	else
		check_same_holdout_args(st, cutoff, hdays);

	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(st);
	at = PG_GETARG_TIMESTAMPTZ(1);
	clm_check_finite_timestamp(at, "ordered_at");

	day = clm_utc_day(at);
	cday = clm_utc_day(cutoff);
	if (day <= cday || (int64) day > (int64) cday + hdays)
		PG_RETURN_POINTER(st);

	reserve_days(st, 1);
	if (st->n > 0 && st->days[st->n - 1] >= day)
		st->compact = false;
	st->days[st->n++] = day;
	PG_RETURN_POINTER(st);
}

/* Combine two partial states (either may be NULL), copying into cxt. */
Datum
clm_holdout_purchases_combine(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = clm_agg_context(fcinfo);
	HOState    *s1 = PG_ARGISNULL(0) ? NULL : (HOState *) PG_GETARG_POINTER(0);
	HOState    *s2 = PG_ARGISNULL(1) ? NULL : (HOState *) PG_GETARG_POINTER(1);

	if (s2 == NULL)
	{
		if (s1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s1);
	}
	if (s1 == NULL)
		s1 = new_ho_state(cxt, s2->cutoff, s2->holdout_days, s2->n);
	else
		check_same_holdout_args(s1, s2->cutoff, s2->holdout_days);
	reserve_days(s1, s2->n);
	memcpy(s1->days + s1->n, s2->days, s2->n * sizeof(int32));
	if (s2->n > 0 && (s1->n > 0 || !s2->compact))
		s1->compact = false;
	s1->n += s2->n;
	PG_RETURN_POINTER(s1);
}

/* Serialize: cutoff, holdout days, count, then the distinct days. */
Datum
clm_holdout_purchases_serial(PG_FUNCTION_ARGS)
{
	HOState    *st;
	StringInfoData buf;
	int32		i;

	(void) clm_agg_context(fcinfo);
	st = (HOState *) PG_GETARG_POINTER(0);
	compact_days(st);
	pq_begintypsend(&buf);
	pq_sendint64(&buf, st->cutoff);
	pq_sendint32(&buf, st->holdout_days);
	pq_sendint32(&buf, st->n);
	for (i = 0; i < st->n; i++)
		pq_sendint32(&buf, st->days[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Every defect of a serialized state is the same clear error. */
static void
bad_ho_state(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid serialized state of clm.holdout_purchases"),
			 errdetail("%s", detail),
			 errhint("Only states serialized by clm.holdout_purchases itself (in a parallel plan) can be read back.")));
}

/*
 * Deserialize a partial state of a parallel worker, checking the length
 * against the count and every day against the holdout window, so that a
 * corrupt state is an error, never a wrong count.
 */
Datum
clm_holdout_purchases_deserial(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = clm_agg_context(fcinfo);
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	HOState    *st;
	TimestampTz cutoff;
	int32		hdays,
				n,
				i,
				cday;
	int			len = VARSIZE_ANY_EXHDR(b);

	if (len < HO_HEADER_BYTES)
		bad_ho_state("The state is shorter than its header.");
	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, VARDATA_ANY(b), len);
	cutoff = (TimestampTz) pq_getmsgint64(&buf);
	hdays = (int32) pq_getmsgint(&buf, 4);
	n = (int32) pq_getmsgint(&buf, 4);
	if (!IS_VALID_TIMESTAMP(cutoff))
		bad_ho_state("The cutoff is not finite.");
	if (hdays <= 0 || hdays > PG_INT32_MAX / 2)
		bad_ho_state("The holdout is not a positive number of days.");
	if (n < 0 || (int64) n * 4 != (int64) (len - HO_HEADER_BYTES))
		bad_ho_state("The day count does not match the length of the state.");
	cday = clm_utc_day(cutoff);
	st = new_ho_state(cxt, cutoff, hdays, n);
	for (i = 0; i < n; i++)
	{
		int32		day = (int32) pq_getmsgint(&buf, 4);

		if (day <= cday || (int64) day > (int64) cday + hdays)
			bad_ho_state("A day is outside the holdout period.");
		if (i > 0 && day <= st->days[i - 1])
			bad_ho_state("The days are not strictly increasing.");
		st->days[i] = day;
	}
	st->n = n;
	pq_getmsgend(&buf);
	pfree(buf.data);
	PG_RETURN_POINTER(st);
}

/* The number of distinct holdout purchase days; 0 for a group without rows. */
Datum
clm_holdout_purchases_final(PG_FUNCTION_ARGS)
{
	HOState    *st;

	(void) clm_agg_context(fcinfo);
	if (PG_ARGISNULL(0))
		PG_RETURN_INT32(0);
	st = (HOState *) PG_GETARG_POINTER(0);
	compact_days(st);
	PG_RETURN_INT32(st->n);
}

/*
 * The accuracy state is a float8[5] (n, sum predicted, sum actual,
 * sum |predicted - actual|, sum (predicted - actual)^2): a plain array, so
 * parallel workers hand it over without serialization functions.
 */
static float8 *
accuracy_state(ArrayType *a)
{
	if (ARR_NDIM(a) != 1 || ARR_DIMS(a)[0] != HA_NSTATE || ARR_HASNULL(a) ||
		ARR_ELEMTYPE(a) != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid state of clm.holdout_accuracy"),
				 errdetail("The state must be a float8 array of %d elements without NULLs.", HA_NSTATE)));
	/* one dimension and no NULL bitmap: the data follow the fixed header */
	return (float8 *) ((char *) a + ARR_OVERHEAD_NONULLS(1));
}

/* Check one of the two values of a customer: present, finite, >= 0. */
static double
accuracy_value(FunctionCallInfo fcinfo, int argno, const char *name)
{
	double		v;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name),
				 errdetail("Every customer of the holdout needs a predicted and an actual number of purchases."),
				 errhint("A customer left out would bias the totals: use coalesce(..., 0) for customers without holdout purchases.")));
	v = PG_GETARG_FLOAT8(argno);
	clm_check_finite_float8(v, name);
	if (v < 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", name),
				 errdetail("The value is %g.", v),
				 errhint("Numbers of purchases are zero or more.")));
	return v;
}

/*
 * Transition: (state, predicted, actual).  The state is modified in place,
 * which is safe in an aggregate (the array was made for this group).
 */
Datum
clm_holdout_accuracy_transfn(PG_FUNCTION_ARGS)
{
	ArrayType  *a;
	float8	   *s;
	double		p,
				y,
				e;

	(void) clm_agg_context(fcinfo);
	/* clm.holdout_accuracy starts from its INITCOND; another aggregate may not */
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid state of clm.holdout_accuracy"),
				 errdetail("The state must be a float8 array of %d elements without NULLs, not NULL.", HA_NSTATE),
				 errhint("Use clm.holdout_accuracy, whose state starts as five zeros.")));
	a = PG_GETARG_ARRAYTYPE_P(0);
	s = accuracy_state(a);
	p = accuracy_value(fcinfo, 1, "predicted");
	y = accuracy_value(fcinfo, 2, "actual");
	e = p - y;
	s[0] += 1.0;
	s[1] += p;
	s[2] += y;
	s[3] += fabs(e);
	s[4] += e * e;
	PG_RETURN_ARRAYTYPE_P(a);
}

/* Combine: element-wise sum of two states, into the first. */
Datum
clm_holdout_accuracy_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *a1;
	float8	   *s1,
			   *s2;
	int			i;

	(void) clm_agg_context(fcinfo);
	a1 = PG_GETARG_ARRAYTYPE_P(0);
	s1 = accuracy_state(a1);
	s2 = accuracy_state(PG_GETARG_ARRAYTYPE_P(1));
	for (i = 0; i < HA_NSTATE; i++)
		s1[i] += s2[i];
	PG_RETURN_ARRAYTYPE_P(a1);
}

/*
 * Final: clm.holdout_accuracy (customers, predicted, actual, mean_predicted,
 * mean_actual, mae, rmse, bias); NULL for no customers.  bias is the mean of
 * predicted - actual, so a positive bias is over-prediction.
 */
Datum
clm_holdout_accuracy_final(PG_FUNCTION_ARGS)
{
	float8	   *s = accuracy_state(PG_GETARG_ARRAYTYPE_P(0));
	TupleDesc	tupdesc;
	Datum		v[8];
	bool		nulls[8] = {0};
	double		n = s[0];

	if (n == 0.0)
		PG_RETURN_NULL();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	v[0] = Int64GetDatum((int64) n);
	v[1] = Float8GetDatum(s[1]);
	v[2] = Float8GetDatum(s[2]);
	v[3] = Float8GetDatum(s[1] / n);
	v[4] = Float8GetDatum(s[2] / n);
	v[5] = Float8GetDatum(s[3] / n);
	v[6] = Float8GetDatum(sqrt(s[4] / n));
	v[7] = Float8GetDatum((s[1] - s[2]) / n);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, v, nulls)));
}
