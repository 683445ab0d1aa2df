/*-------------------------------------------------------------------------
 *
 * btyd_summary.c
 *	  clm.purchase_summary(ordered_at, amount, cutoff, unit): the per-customer
 *	  BTYD summary (x, t_x, T, mean spend) that the CLV models are fitted on.
 *
 * Convention (the BTYD literature's, as in lifetimes and CLVTools): purchases on the same day are one
 * purchase with the amounts summed; a "day" is a UTC calendar day, so the
 * result does not depend on the session's TimeZone.  x = distinct purchase
 * days - 1; t_x = last day - first day and T = cutoff's day - first day, in
 * whole days converted to `unit`; mean_spend = mean amount per repeat day
 * (the first day excluded), 0 when x = 0.  Orders after the cutoff are
 * ignored; a group without orders up to the cutoff gives NULL.
 *
 * The state is internal: a list of (day, amount) pairs, compacted (sorted,
 * same days merged) whenever it fills up, so a customer costs memory per
 * distinct purchase day.  It has a combine function and serial/deserial
 * functions for parallel aggregation; the deserializer validates its input.
 *
 * IDENTIFICATION
 *	  src/clv/purchase_summary.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "clm.h"

PG_FUNCTION_INFO_V1(clm_purchase_summary_transfn);
PG_FUNCTION_INFO_V1(clm_purchase_summary_combine);
PG_FUNCTION_INFO_V1(clm_purchase_summary_serial);
PG_FUNCTION_INFO_V1(clm_purchase_summary_deserial);
PG_FUNCTION_INFO_V1(clm_purchase_summary_final);
PG_FUNCTION_INFO_V1(clm_purchase_summary_decode);

#define PS_STATE_VERSION 1
#define PS_INITIAL_CAP 8
/* the serialized header: version, cutoff, unit (time, day, month), count */
#define PS_HEADER_BYTES (1 + 8 + 8 + 4 + 4 + 4)
#define PS_ENTRY_BYTES (4 + 8)

typedef struct PSEntry
{
	int32		day;			/* UTC days since 2000-01-01 */
	double		amount;
} PSEntry;

typedef struct PSState
{
	TimestampTz cutoff;
	Interval	unit;
	int32		n;
	int32		cap;
	bool		compact;		/* entries sorted by day, days distinct */
	PSEntry    *e;
} PSState;

/* The UTC calendar day of a finite timestamp, as days since 2000-01-01. */
static int32
utc_day(TimestampTz ts)
{
	int64		d = ts / USECS_PER_DAY;

	if (ts < 0 && ts % USECS_PER_DAY != 0)
		d--;					/* floor, not truncation, before 2000 */
	return (int32) d;
}

/* Days in the unit; the unit was validated to have no months. */
static double
unit_days(const Interval *unit)
{
	return unit->day + (double) unit->time / USECS_PER_DAY;
}

/*
 * check_unit
 *		The unit must be a positive length of time without a months part:
 *		a month or year has no fixed number of days, so '1 month' would make
 *		t_x and T ambiguous.
 */
static void
check_unit(const Interval *unit)
{
	if (unit->month != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unit must not contain months or years"),
				 errdetail("A month or year has no fixed length in days, so times in that unit are ambiguous."),
				 errhint("Use a unit in days, e.g. '7 days' for weeks or '30.4375 days' for average months.")));
	if (unit_days(unit) <= 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unit must be a positive interval"),
				 errhint("Use e.g. '1 day' or '7 days'.")));
}

/* qsort comparator: by purchase day. */
static int
entry_cmp(const void *a, const void *b)
{
	int32		da = ((const PSEntry *) a)->day;
	int32		db = ((const PSEntry *) b)->day;

	return (da > db) - (da < db);
}

/* Sort the entries by day and merge same-day entries, summing amounts. */
static void
compact_state(PSState *st)
{
	int32		i,
				j = 0;

	if (st->compact || st->n == 0)
	{
		st->compact = true;
		return;
	}
	qsort(st->e, st->n, sizeof(PSEntry), entry_cmp);
	for (i = 1; i < st->n; i++)
	{
		if (st->e[i].day == st->e[j].day)
			st->e[j].amount += st->e[i].amount;
		else
			st->e[++j] = st->e[i];
	}
	st->n = j + 1;
	st->compact = true;
}

/* Room for `extra` more entries: compact first, then grow if still needed. */
static void
reserve(PSState *st, int32 extra)
{
	int64		need;
	int64		newcap;

	if ((int64) st->n + extra <= st->cap)
		return;
	compact_state(st);
	need = (int64) st->n + extra;
	if (need <= st->cap && st->n <= st->cap / 2)
		return;
	newcap = st->cap;
	while (newcap < 2 * need)
		newcap *= 2;
	if (newcap > (int64) (MaxAllocSize / sizeof(PSEntry)))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct purchase days in one group")));
	st->cap = (int32) newcap;
	st->e = repalloc(st->e, st->cap * sizeof(PSEntry));
}

/* An empty state in cxt (the aggregate context), with room for cap entries. */
static PSState *
new_state(MemoryContext cxt, TimestampTz cutoff, const Interval *unit, int32 cap)
{
	PSState    *st = MemoryContextAllocZero(cxt, sizeof(PSState));

	st->cutoff = cutoff;
	st->unit = *unit;
	st->cap = Max(cap, PS_INITIAL_CAP);
	st->compact = true;
	st->e = MemoryContextAlloc(cxt, st->cap * sizeof(PSEntry));
	return st;
}

/*
 * A group's summary is measured against one cutoff in one unit; rows that
 * disagree would make T meaningless, so they are an error, not a choice.
 */
static void
check_same_args(const PSState *st, TimestampTz cutoff, const Interval *unit)
{
	if (st->cutoff != cutoff)
	{
		/* timestamptz_to_str returns a static buffer: copy each result */
		char	   *c1 = pstrdup(timestamptz_to_str(st->cutoff));
		char	   *c2 = pstrdup(timestamptz_to_str(cutoff));

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cutoff must be the same for all rows of a group"),
				 errdetail("Found %s and %s in the same group.",
						   c1, c2),
				 errhint("Pass a constant cutoff, e.g. a literal or a query parameter.")));
	}
	if (st->unit.time != unit->time || st->unit.day != unit->day || st->unit.month != unit->month)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unit must be the same for all rows of a group"),
				 errdetail("Found %s and %s in the same group.",
						   DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(&st->unit))),
						   DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(unit)))),
				 errhint("Pass a constant unit, e.g. '7 days'.")));
}

/*
 * Transition: (state, ordered_at, amount, cutoff, unit).  Rows with a NULL
 * ordered_at or amount are skipped, like NULLs in other aggregates; cutoff
 * and unit are required.  Every amount is validated, also after the cutoff.
 */
Datum
clm_purchase_summary_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = clm_agg_context(fcinfo);
	PSState    *st = PG_ARGISNULL(0) ? NULL : (PSState *) PG_GETARG_POINTER(0);
	TimestampTz at,
				cutoff;
	Interval   *unit;
	Numeric		num;
	double		amount;

	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("cutoff must not be NULL"),
				 errhint("Pass the end of the observation period, e.g. the as-of time.")));
	if (PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("unit must not be NULL"),
				 errhint("Pass the time unit of the model, e.g. '7 days'.")));
	cutoff = PG_GETARG_TIMESTAMPTZ(3);
	unit = PG_GETARG_INTERVAL_P(4);
	clm_check_finite_timestamp(cutoff, "cutoff");
	check_unit(unit);

	if (st == NULL)
		st = new_state(cxt, cutoff, unit, PS_INITIAL_CAP);
	else
		check_same_args(st, cutoff, unit);

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(st);

	at = PG_GETARG_TIMESTAMPTZ(1);
	clm_check_finite_timestamp(at, "ordered_at");
	num = PG_GETARG_NUMERIC(2);
	if (numeric_is_nan(num) || numeric_is_inf(num))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("amount must be a finite number"),
				 errdetail("The value is %s.", numeric_is_nan(num) ? "NaN" : "infinite"),
				 errhint("Filter out or repair orders with NaN or infinite amounts.")));
	/* no_overflow: a huge amount gives Infinity, not an error quoting it */
	amount = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, NumericGetDatum(num)));
	if (isinf(amount))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("amount is out of range for clm.purchase_summary"),
				 errdetail("Amounts are averaged in double precision, which ends near 1.8e308."),
				 errhint("Filter out or repair orders with absurd amounts.")));
	if (amount < 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("amount must not be negative"),
				 errdetail("The value is %g.", amount),
				 errhint("Record refunds separately; the spend model needs non-negative purchase amounts.")));

	if (at > cutoff)
		PG_RETURN_POINTER(st);

	reserve(st, 1);
	st->e[st->n].day = utc_day(at);
	st->e[st->n].amount = amount;
	if (st->n > 0 && st->e[st->n - 1].day >= st->e[st->n].day)
		st->compact = false;
	st->n++;
	PG_RETURN_POINTER(st);
}

/*
 * Combine two partial states (either may be NULL).  The result lives in the
 * aggregate context, so a state from a worker is copied, never adopted.
 */
Datum
clm_purchase_summary_combine(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = clm_agg_context(fcinfo);
	PSState    *s1 = PG_ARGISNULL(0) ? NULL : (PSState *) PG_GETARG_POINTER(0);
	PSState    *s2 = PG_ARGISNULL(1) ? NULL : (PSState *) PG_GETARG_POINTER(1);

	if (s2 == NULL)
	{
		if (s1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s1);
	}
	if (s1 == NULL)
	{
		s1 = new_state(cxt, s2->cutoff, &s2->unit, s2->n);
		memcpy(s1->e, s2->e, s2->n * sizeof(PSEntry));
		s1->n = s2->n;
		s1->compact = s2->compact;
		PG_RETURN_POINTER(s1);
	}
	check_same_args(s1, s2->cutoff, &s2->unit);
	reserve(s1, s2->n);
	memcpy(s1->e + s1->n, s2->e, s2->n * sizeof(PSEntry));
	s1->n += s2->n;
	if (s2->n > 0)
		s1->compact = false;
	PG_RETURN_POINTER(s1);
}

/* Serialize: version, cutoff, unit, count, then (day, amount) pairs. */
Datum
clm_purchase_summary_serial(PG_FUNCTION_ARGS)
{
	PSState    *st;
	StringInfoData buf;
	int32		i;

	(void) clm_agg_context(fcinfo);
	st = (PSState *) PG_GETARG_POINTER(0);
	compact_state(st);
	pq_begintypsend(&buf);
	pq_sendbyte(&buf, PS_STATE_VERSION);
	pq_sendint64(&buf, st->cutoff);
	pq_sendint64(&buf, st->unit.time);
	pq_sendint32(&buf, st->unit.day);
	pq_sendint32(&buf, st->unit.month);
	pq_sendint32(&buf, st->n);
	for (i = 0; i < st->n; i++)
	{
		pq_sendint32(&buf, st->e[i].day);
		pq_sendfloat8(&buf, st->e[i].amount);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Every defect of a serialized state is the same clear error. */
static void
bad_state(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid serialized state of clm.purchase_summary"),
			 errdetail("%s", detail),
			 errhint("Only states serialized by clm.purchase_summary itself (in a parallel plan) can be read back.")));
}

/*
 * decode_state
 *		Rebuild a state from its serialized form in cxt, checking the version,
 *		the length against the count, the cutoff, the unit and every entry,
 *		so that a corrupt state is an error and never a crash or a silently
 *		wrong summary.
 */
static PSState *
decode_state(bytea *b, MemoryContext cxt)
{
	StringInfoData buf;
	PSState    *st;
	TimestampTz cutoff;
	Interval	unit;
	int32		n,
				i;
	int			len = VARSIZE_ANY_EXHDR(b);

	if (len < PS_HEADER_BYTES)
		bad_state("The state is shorter than its header.");
	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, VARDATA_ANY(b), len);
	if (pq_getmsgbyte(&buf) != PS_STATE_VERSION)
		bad_state("Unknown state version.");
	cutoff = (TimestampTz) pq_getmsgint64(&buf);
	unit.time = pq_getmsgint64(&buf);
	unit.day = (int32) pq_getmsgint(&buf, 4);
	unit.month = (int32) pq_getmsgint(&buf, 4);
	n = (int32) pq_getmsgint(&buf, 4);
	if (TIMESTAMP_NOT_FINITE(cutoff))
		bad_state("The cutoff is not finite.");
	if (unit.month != 0 || unit_days(&unit) <= 0.0)
		bad_state("The unit is not a positive interval without months.");
	if (n < 0 || (int64) n * PS_ENTRY_BYTES != (int64) (len - PS_HEADER_BYTES))
		bad_state("The entry count does not match the length of the state.");

	st = new_state(cxt, cutoff, &unit, n);
	for (i = 0; i < n; i++)
	{
		int32		day = (int32) pq_getmsgint(&buf, 4);
		double		amount = pq_getmsgfloat8(&buf);

		if (isnan(amount) || isinf(amount) || amount < 0.0)
			bad_state("An amount is negative or not finite.");
		if (day > utc_day(cutoff))
			bad_state("A purchase day is after the cutoff.");
		/* keeps the day differences of build_summary within int32 */
		if (day < utc_day(MIN_TIMESTAMP))
			bad_state("A purchase day is before the earliest timestamp.");
		if (i > 0 && day <= st->e[i - 1].day)
			bad_state("The purchase days are not strictly increasing.");
		st->e[i].day = day;
		st->e[i].amount = amount;
	}
	st->n = n;
	st->compact = true;
	pq_getmsgend(&buf);
	pfree(buf.data);
	return st;
}

/* Deserialize a partial state of a parallel worker. */
Datum
clm_purchase_summary_deserial(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = clm_agg_context(fcinfo);

	PG_RETURN_POINTER(decode_state(PG_GETARG_BYTEA_PP(0), cxt));
}

/* The summary of a compacted, non-empty state. */
static Datum
build_summary(FunctionCallInfo fcinfo, PSState *st)
{
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	double		ud,
				spend = 0.0;
	int32		first,
				i;

	/* the result descriptor, built once per call site (it costs microseconds) */
	tupdesc = (TupleDesc) fcinfo->flinfo->fn_extra;
	if (tupdesc == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = tupdesc;
	}

	ud = unit_days(&st->unit);
	first = st->e[0].day;
	for (i = 1; i < st->n; i++)
		spend += st->e[i].amount;
	if (st->n > 1)
	{
		spend /= (st->n - 1);
		/* the sum can overflow where the mean does not: average directly */
		if (isinf(spend))
		{
			spend = 0.0;
			for (i = 1; i < st->n; i++)
				spend += st->e[i].amount / (st->n - 1);
		}
		if (!isfinite(spend))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("mean spend is out of range for clm.purchase_summary"),
					 errdetail("The amounts of one day add up to more than double precision holds (about 1.8e308)."),
					 errhint("Filter out or repair orders with absurd amounts.")));
	}
	values[0] = Int32GetDatum(st->n - 1);
	values[1] = Float8GetDatum((st->e[st->n - 1].day - first) / ud);
	values[2] = Float8GetDatum((utc_day(st->cutoff) - first) / ud);
	values[3] = Float8GetDatum(st->n > 1 ? spend : 0.0);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/*
 * clm.purchase_summary_decode(state bytea): the summary a serialized partial
 * state stands for.  It exposes the deserializer's checks to SQL, for
 * diagnosing parallel aggregation and for testing those checks.
 */
Datum
clm_purchase_summary_decode(PG_FUNCTION_ARGS)
{
	PSState    *st = decode_state(PG_GETARG_BYTEA_PP(0), CurrentMemoryContext);

	if (st->n == 0)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(build_summary(fcinfo, st));
}

/* Final: the clm.btyd_summary, or NULL when no order is up to the cutoff. */
Datum
clm_purchase_summary_final(PG_FUNCTION_ARGS)
{
	PSState    *st;

	(void) clm_agg_context(fcinfo);
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (PSState *) PG_GETARG_POINTER(0);
	if (st->n == 0)
		PG_RETURN_NULL();
	compact_state(st);
	PG_RETURN_DATUM(build_summary(fcinfo, st));
}
