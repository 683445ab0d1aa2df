/*-------------------------------------------------------------------------
 *
 * purchase_summary.c
 *	  clm.purchase_summary(ordered_at, amount, cutoff, unit): the per-customer
 *	  BTYD summary (x, t_x, T, mean spend) that the CLV models are fitted on,
 *	  and its mergeable state clm.purchase_summary_state.
 *
 * Convention (the BTYD literature's, as in lifetimes and CLVTools): purchases
 * on the same day are one purchase with the amounts summed; a "day" is a UTC
 * calendar day, so the result does not depend on the session's TimeZone.
 * x = distinct purchase days - 1; t_x = last day - first day and T = cutoff's
 * day - first day, in whole days converted to `unit`; mean_spend = mean
 * amount per repeat day (the first day excluded), 0 when x = 0.  Orders after
 * the cutoff are ignored; a group without orders up to the cutoff gives NULL.
 *
 * The state is a real SQL type, so that Citus can combine worker partials
 * and a user can store states per shard or per day and merge them later.  It
 * holds the sorted distinct purchase days and two exact sums (all amounts,
 * and the amounts of the first day) as 128-bit integers in units of
 * 10000^-frac_groups, like clm.rfm_state: the mean spend is one rounding of
 * an exact value, so any order of rows and partial states gives the same
 * bits.
 *
 * In memory the day array has room for ps_capacity(ndays) days (the unused
 * ones zero), so the transition function appends in place and a state grows
 * by doubling; the capacity is a function of ndays, so equal states are equal
 * bytes.  Text and binary forms carry only the days in use.
 *
 * The 1.0 catalog declares the aggregate with an internal state and the
 * support functions clm_purchase_summary_{transfn,combine,serial,deserial,
 * final,decode}; they are kept, over the same state, for databases not yet
 * updated (a pointer to the state in the aggregate context).
 *
 * IDENTIFICATION
 *	  src/clv/purchase_summary.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "clm.h"
#include "../rfm/rfm_numeric.h"

PG_FUNCTION_INFO_V1(clm_purchase_summary_state_in);
PG_FUNCTION_INFO_V1(clm_purchase_summary_state_out);
PG_FUNCTION_INFO_V1(clm_purchase_summary_state_recv);
PG_FUNCTION_INFO_V1(clm_purchase_summary_state_send);
PG_FUNCTION_INFO_V1(clm_purchase_summary_trans);
PG_FUNCTION_INFO_V1(clm_purchase_summary_state_combine);
PG_FUNCTION_INFO_V1(clm_purchase_summary_state_final);

/* the internal-state support functions of the 1.0 catalog */
PG_FUNCTION_INFO_V1(clm_purchase_summary_transfn);
PG_FUNCTION_INFO_V1(clm_purchase_summary_combine);
PG_FUNCTION_INFO_V1(clm_purchase_summary_serial);
PG_FUNCTION_INFO_V1(clm_purchase_summary_deserial);
PG_FUNCTION_INFO_V1(clm_purchase_summary_final);
PG_FUNCTION_INFO_V1(clm_purchase_summary_decode);

#define PS_FORMAT		1		/* version of the text and binary forms */
#define PS_MIN_CAP		8
/* the binary form: header, then one int32 per day */
#define PS_WIRE_HEADER	(1 + 1 + 8 + 8 + 4 + 4 + 16 + 16 + 4)

typedef struct PsState
{
	int32		vl_len_;		/* varlena header */
	uint8		version;		/* PS_FORMAT */
	uint8		frac_groups;	/* sums are in units of 10000^-frac_groups */
	uint16		reserved;		/* zero */
	int32		ndays;			/* distinct purchase days up to the cutoff */
	TimestampTz cutoff;
	Interval	unit;
	int128		total;			/* all amounts up to the cutoff */
	int128		first;			/* the amounts of the first day */
	int32		days[FLEXIBLE_ARRAY_MEMBER];	/* UTC days since 2000-01-01,
												 * ascending */
} PsState;

#define PS_HEADER		offsetof(PsState, days)

/* The room for days a state with n days has: at least 8, a power of 2. */
static int32
ps_capacity(int32 n)
{
	int32		cap = PS_MIN_CAP;

	while (cap < n)
		cap *= 2;
	return cap;
}

static Size
ps_size(int32 n)
{
	return PS_HEADER + (Size) ps_capacity(n) * sizeof(int32);
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

/* The one error for sums beyond the 128-bit range. */
static void
sum_overflow(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("sum of amounts out of range for clm.purchase_summary"),
			 errdetail("The exact sum needs more than 38 significant decimal digits."),
			 errhint("Round the amounts to fewer decimal places, or use smaller units.")));
}

/* An empty state, allocated in cxt. */
static PsState *
ps_new(MemoryContext cxt, TimestampTz cutoff, const Interval *unit)
{
	PsState    *st = MemoryContextAllocZero(cxt, ps_size(0));

	SET_VARSIZE(st, ps_size(0));
	st->version = PS_FORMAT;
	st->cutoff = cutoff;
	st->unit = *unit;
	return st;
}

/*
 * ps_copy
 *		A copy of st in cxt with room for n days (n >= st->ndays).
 */
static PsState *
ps_copy(const PsState *st, int32 n, MemoryContext cxt)
{
	PsState    *c = MemoryContextAllocZero(cxt, ps_size(n));

	memcpy(c, st, PS_HEADER + st->ndays * sizeof(int32));
	SET_VARSIZE(c, ps_size(n));
	return c;
}

/*
 * ps_rescale
 *		Raise the scale of the sums to frac_groups, so that an amount or a
 *		state with more decimals adds exactly.
 */
static void
ps_rescale(PsState *st, int frac_groups)
{
	int128		f;

	if (frac_groups <= st->frac_groups)
		return;
	f = rfm_pow(frac_groups - st->frac_groups);
	if (__builtin_mul_overflow(st->total, f, &st->total) ||
		__builtin_mul_overflow(st->first, f, &st->first))
		sum_overflow();
	st->frac_groups = (uint8) frac_groups;
}

/*
 * A group's summary is measured against one cutoff in one unit; rows and
 * states that disagree would make T meaningless, so they are an error.
 */
static void
check_same_args(const PsState *st, TimestampTz cutoff, const Interval *unit)
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
 * read_amount
 *		A non-negative numeric amount as an exact decimal; NaN, infinities,
 *		negative amounts and amounts beyond 36 digits are errors.
 */
static void
read_amount(Datum d, RfmDecimal *dec)
{
	Numeric		num = DatumGetNumeric(d);

	if (numeric_is_nan(num) || numeric_is_inf(num))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("amount must be a finite number"),
				 errdetail("The value is %s.", numeric_is_nan(num) ? "NaN" : "infinite"),
				 errhint("Filter out or repair orders with NaN or infinite amounts.")));
	if (!rfm_read_numeric_in_range(d, dec))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("amount is out of range for clm.purchase_summary"),
				 errdetail("Amounts may have at most %d decimal digits, counted in groups of %d from the decimal point, at most %d of them after it.",
						   RFM_MAX_GROUPS * RFM_DEC_DIGITS, RFM_DEC_DIGITS, (RFM_MAX_GROUPS - 1) * RFM_DEC_DIGITS),
				 errhint("Filter out or repair orders with absurd amounts.")));
	if (dec->negative && dec->digits != 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("amount must not be negative"),
				 errdetail("The value is %s.",
						   DatumGetCString(DirectFunctionCall1(numeric_out, d))),
				 errhint("Record refunds separately; the spend model needs non-negative purchase amounts.")));
}

/*
 * ps_add_day
 *		Count an amount (units of the state's scale) on a day.  A new day
 *		that does not fit makes a copy with twice the room in cxt, which is
 *		returned (the caller disposes of the old state); otherwise the state
 *		is changed in place and returned.
 */
static PsState *
ps_add_day(PsState *st, int32 day, int128 units, MemoryContext cxt)
{
	int32		lo = 0,
				hi = st->ndays;

	if (__builtin_add_overflow(st->total, units, &st->total))
		sum_overflow();
	/* rows usually come in time order: check the end first */
	if (st->ndays > 0 && day <= st->days[st->ndays - 1])
	{
		while (lo < hi)
		{
			int32		mid = lo + (hi - lo) / 2;

			if (st->days[mid] < day)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (st->days[lo] == day)
		{
			if (lo == 0 && __builtin_add_overflow(st->first, units, &st->first))
				sum_overflow();
			return st;
		}
	}
	else
		lo = st->ndays;
	if (st->ndays == ps_capacity(st->ndays))
		st = ps_copy(st, st->ndays + 1, cxt);
	memmove(&st->days[lo + 1], &st->days[lo], (st->ndays - lo) * sizeof(int32));
	st->days[lo] = day;
	st->ndays++;
	if (lo == 0)
		st->first = units;
	return st;
}

/*
 * ps_add_row
 *		The transition of one row (state may be NULL): the state, changed in
 *		place or a new one in cxt (see ps_add_day).  Rows with a NULL
 *		ordered_at or amount are skipped, like NULLs in other aggregates;
 *		cutoff and unit are required.  Every amount is validated, also after
 *		the cutoff.
 */
static PsState *
ps_add_row(FunctionCallInfo fcinfo, PsState *st, MemoryContext cxt)
{
	TimestampTz at,
				cutoff;
	Interval   *unit;
	RfmDecimal	dec;
	int128		units;

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
	if (st == NULL)
	{
		clm_check_finite_timestamp(cutoff, "cutoff");
		check_unit(unit);
		st = ps_new(cxt, cutoff, unit);
	}
	else
		check_same_args(st, cutoff, unit);

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		return st;
	at = PG_GETARG_TIMESTAMPTZ(1);
	clm_check_finite_timestamp(at, "ordered_at");
	read_amount(PG_GETARG_DATUM(2), &dec);
	if (at > cutoff)
		return st;

	units = 0;
	if (dec.digits != 0)
	{
		ps_rescale(st, dec.frac_groups);
		if (__builtin_mul_overflow(dec.digits, rfm_pow(st->frac_groups - dec.frac_groups), &units))
			sum_overflow();
	}
	return ps_add_day(st, clm_utc_day(at), units, cxt);
}

/*
 * ps_merge
 *		The union of two states as a new state in cxt: the days merged, the
 *		sums added at the larger scale, the first day's amounts from the
 *		state with the earlier first day (from both on the same day).
 */
static PsState *
ps_merge(const PsState *a, const PsState *b, MemoryContext cxt)
{
	PsState    *r;
	PsState    *bs;
	int32		i = 0,
				j = 0,
				n = 0;

	check_same_args(a, b->cutoff, &b->unit);
	r = ps_copy(a, a->ndays + b->ndays, cxt);
	/* b's sums at the common scale, in a scratch copy of its header */
	bs = palloc(PS_HEADER);
	memcpy(bs, b, PS_HEADER);
	ps_rescale(bs, r->frac_groups);
	ps_rescale(r, bs->frac_groups);
	if (__builtin_add_overflow(r->total, bs->total, &r->total))
		sum_overflow();
	if (b->ndays > 0)
	{
		if (a->ndays == 0 || b->days[0] < a->days[0])
			r->first = bs->first;
		else if (b->days[0] == a->days[0] &&
				 __builtin_add_overflow(r->first, bs->first, &r->first))
			sum_overflow();
	}
	pfree(bs);
	while (i < a->ndays || j < b->ndays)
	{
		int32		d;

		if (j >= b->ndays || (i < a->ndays && a->days[i] < b->days[j]))
			d = a->days[i++];
		else if (i >= a->ndays || b->days[j] < a->days[i])
			d = b->days[j++];
		else
		{
			d = a->days[i++];
			j++;
		}
		r->days[n++] = d;
	}
	r->ndays = n;
	SET_VARSIZE(r, ps_size(n));
	return r;
}

/* The clm.btyd_summary of a state with days. */
static Datum
ps_summary(FunctionCallInfo fcinfo, const PsState *st)
{
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	double		ud = unit_days(&st->unit);
	double		spend = 0.0;
	int32		first = st->days[0];

	/* the result descriptor, built once per call site */
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

	/*
	 * One exact sum converted once: the same orders give the same bits,
	 * whatever their order and however they were split into partial states.
	 */
	if (st->ndays > 1)
		spend = (double) (st->total - st->first) / (double) rfm_pow(st->frac_groups)
			/ (st->ndays - 1);
	values[0] = Int32GetDatum(st->ndays - 1);
	values[1] = Float8GetDatum((st->days[st->ndays - 1] - first) / ud);
	values[2] = Float8GetDatum((clm_utc_day(st->cutoff) - first) / ud);
	values[3] = Float8GetDatum(spend);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/* ----------------------------------------------------------------------
 * Text and binary forms.  The binary form is: format version, frac_groups,
 * cutoff (microseconds since 2000-01-01 UTC), unit (time, day, month), the
 * two sums (high and low 64 bits each), the day count, the days.  The text
 * form is the binary form in hexadecimal, so both go through one validator.
 * ----------------------------------------------------------------------
 */

/* Every defect of a state in text or binary form is this error. */
static void
ps_malformed(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid clm.purchase_summary_state value"),
			 errdetail("%s", detail),
			 errhint("Build states with clm.purchase_summary_state_agg.")));
}

static void
ps_send_int128(StringInfo buf, int128 v)
{
	uint128		u = (uint128) v;

	pq_sendint64(buf, (int64) (uint64) (u >> 64));
	pq_sendint64(buf, (int64) (uint64) u);
}

static int128
ps_get_int128(StringInfo buf)
{
	uint64		hi = (uint64) pq_getmsgint64(buf);
	uint64		lo = (uint64) pq_getmsgint64(buf);

	return (int128) (((uint128) hi << 64) | lo);
}

/* The binary form of a state into buf. */
static void
ps_write(StringInfo buf, const PsState *st)
{
	int32		i;

	pq_sendbyte(buf, PS_FORMAT);
	pq_sendbyte(buf, st->frac_groups);
	pq_sendint64(buf, st->cutoff);
	pq_sendint64(buf, st->unit.time);
	pq_sendint32(buf, st->unit.day);
	pq_sendint32(buf, st->unit.month);
	ps_send_int128(buf, st->total);
	ps_send_int128(buf, st->first);
	pq_sendint32(buf, st->ndays);
	for (i = 0; i < st->ndays; i++)
		pq_sendint32(buf, st->days[i]);
}

/*
 * ps_read
 *		A state from its binary form, in cxt, checking the length before
 *		reading and every field after: a malformed state is an error, never
 *		a crash or a silently wrong summary.
 */
static PsState *
ps_read(StringInfo buf, MemoryContext cxt)
{
	int			left = buf->len - buf->cursor;
	int			version,
				frac_groups;
	TimestampTz cutoff;
	Interval	unit;
	int128		total,
				first;
	int32		n,
				i;
	PsState    *st;

	if (left < PS_WIRE_HEADER)
		ps_malformed("The state is shorter than its header.");
	version = pq_getmsgbyte(buf);
	if (version != PS_FORMAT)
		ps_malformed("The format version is unknown.");
	frac_groups = pq_getmsgbyte(buf);
	cutoff = (TimestampTz) pq_getmsgint64(buf);
	unit.time = pq_getmsgint64(buf);
	unit.day = (int32) pq_getmsgint(buf, 4);
	unit.month = (int32) pq_getmsgint(buf, 4);
	total = ps_get_int128(buf);
	first = ps_get_int128(buf);
	n = (int32) pq_getmsgint(buf, 4);
	if (n < 0 || (int64) n * 4 != (int64) (left - PS_WIRE_HEADER))
		ps_malformed("The day count does not match the length of the state.");
	if (frac_groups > RFM_MAX_GROUPS - 1)
		ps_malformed("The scale of the sums is out of range.");
	if (!IS_VALID_TIMESTAMP(cutoff))
		ps_malformed("The cutoff is not a finite timestamp.");
	if (unit.month != 0 || unit_days(&unit) <= 0.0)
		ps_malformed("The unit is not a positive interval without months.");
	if (first < 0 || total < first || (n == 0 && total != 0) || (n == 1 && total != first))
		ps_malformed("The sums are negative or inconsistent with the days.");

	st = MemoryContextAllocZero(cxt, ps_size(n));
	SET_VARSIZE(st, ps_size(n));
	st->version = PS_FORMAT;
	st->frac_groups = (uint8) frac_groups;
	st->cutoff = cutoff;
	st->unit = unit;
	st->total = total;
	st->first = first;
	for (i = 0; i < n; i++)
	{
		int32		day = (int32) pq_getmsgint(buf, 4);

		if (day > clm_utc_day(cutoff))
			ps_malformed("A purchase day is after the cutoff.");
		/* keeps the day differences of ps_summary within int32 */
		if (day < clm_utc_day(MIN_TIMESTAMP))
			ps_malformed("A purchase day is before the earliest timestamp.");
		if (i > 0 && day <= st->days[i - 1])
			ps_malformed("The purchase days are not strictly increasing.");
		st->days[i] = day;
	}
	st->ndays = n;
	pq_getmsgend(buf);
	return st;
}

/* A state from a SQL argument (detoasted; its input function validated it). */
static PsState *
ps_arg(FunctionCallInfo fcinfo, int argno)
{
	return (PsState *) PG_DETOAST_DATUM(PG_GETARG_DATUM(argno));
}

Datum
clm_purchase_summary_state_send(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	pq_begintypsend(&buf);
	ps_write(&buf, ps_arg(fcinfo, 0));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
clm_purchase_summary_state_recv(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(ps_read((StringInfo) PG_GETARG_POINTER(0), CurrentMemoryContext));
}

/* Text output: the binary form in hexadecimal. */
Datum
clm_purchase_summary_state_out(PG_FUNCTION_ARGS)
{
	static const char hex[] = "0123456789abcdef";
	StringInfoData bin;
	StringInfoData out;
	int			i;

	initStringInfo(&bin);
	ps_write(&bin, ps_arg(fcinfo, 0));
	initStringInfo(&out);
	for (i = 0; i < bin.len; i++)
	{
		appendStringInfoChar(&out, hex[(unsigned char) bin.data[i] >> 4]);
		appendStringInfoChar(&out, hex[(unsigned char) bin.data[i] & 0xf]);
	}
	PG_RETURN_CSTRING(out.data);
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Text input: hexadecimal digits of the binary form, validated like it. */
Datum
clm_purchase_summary_state_in(PG_FUNCTION_ARGS)
{
	const char *input = PG_GETARG_CSTRING(0);
	size_t		len = strlen(input);
	StringInfoData bin;
	size_t		i;

	if (len % 2 != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type clm.purchase_summary_state: \"%.40s\"", input),
				 errdetail("The text form is an even number of hexadecimal digits.")));
	initStringInfo(&bin);
	for (i = 0; i < len; i += 2)
	{
		int			h = hex_value(input[i]);
		int			l = hex_value(input[i + 1]);

		if (h < 0 || l < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type clm.purchase_summary_state: \"%.40s\"", input),
					 errdetail("\"%.2s\" is not a pair of hexadecimal digits.", input + i)));
		appendStringInfoChar(&bin, (char) (h * 16 + l));
	}
	PG_RETURN_POINTER(ps_read(&bin, CurrentMemoryContext));
}

/* ----------------------------------------------------------------------
 * The aggregate over clm.purchase_summary_state.
 * ----------------------------------------------------------------------
 */

/*
 * clm_purchase_summary_trans
 *		Transition of clm.purchase_summary and clm.purchase_summary_state_agg.
 *		The state is changed in place (it is the aggregate's own); a state
 *		that must grow, or a first one, is made in the per-row context and
 *		the executor copies it into the aggregate context, freeing the old.
 */
Datum
clm_purchase_summary_trans(PG_FUNCTION_ARGS)
{
	PsState    *st;

	(void) clm_agg_context(fcinfo);
	st = PG_ARGISNULL(0) ? NULL : (PsState *) PG_GETARG_POINTER(0);
	PG_RETURN_POINTER(ps_add_row(fcinfo, st, CurrentMemoryContext));
}

/*
 * clm_purchase_summary_state_combine
 *		Combine function of the aggregates and transition function of
 *		clm.purchase_summary_merge: a NULL side is an empty partial state.
 *		Neither argument is changed, so it may be called anywhere.
 */
Datum
clm_purchase_summary_state_combine(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	if (PG_ARGISNULL(0))
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));
	PG_RETURN_POINTER(ps_merge(ps_arg(fcinfo, 0), ps_arg(fcinfo, 1), CurrentMemoryContext));
}

/*
 * clm_purchase_summary_state_final
 *		The clm.btyd_summary of a state, or NULL when it has no order up to
 *		the cutoff (final function of clm.purchase_summary, and callable on
 *		stored or merged states).
 */
Datum
clm_purchase_summary_state_final(PG_FUNCTION_ARGS)
{
	PsState    *st;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = ps_arg(fcinfo, 0);
	if (st->ndays == 0)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(ps_summary(fcinfo, st));
}

/* ----------------------------------------------------------------------
 * The internal-state support functions of the 1.0 catalog: the state is a
 * pointer to a PsState in the aggregate context; serialized, it is the
 * binary form above.
 * ----------------------------------------------------------------------
 */

typedef struct PsHolder
{
	PsState    *st;
} PsHolder;

/* Replace the holder's state by next, freeing the old one if it moved. */
static void
ps_hold(PsHolder *h, PsState *next)
{
	if (h->st != NULL && h->st != next)
		pfree(h->st);
	h->st = next;
}

Datum
clm_purchase_summary_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = clm_agg_context(fcinfo);
	PsHolder   *h = PG_ARGISNULL(0) ? NULL : (PsHolder *) PG_GETARG_POINTER(0);

	if (h == NULL)
		h = MemoryContextAllocZero(cxt, sizeof(PsHolder));
	ps_hold(h, ps_add_row(fcinfo, h->st, cxt));
	PG_RETURN_POINTER(h);
}

Datum
clm_purchase_summary_combine(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = clm_agg_context(fcinfo);
	PsHolder   *a = PG_ARGISNULL(0) ? NULL : (PsHolder *) PG_GETARG_POINTER(0);
	PsHolder   *b = PG_ARGISNULL(1) ? NULL : (PsHolder *) PG_GETARG_POINTER(1);

	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
	{
		a = MemoryContextAllocZero(cxt, sizeof(PsHolder));
		a->st = ps_copy(b->st, b->st->ndays, cxt);
		PG_RETURN_POINTER(a);
	}
	ps_hold(a, ps_merge(a->st, b->st, cxt));
	PG_RETURN_POINTER(a);
}

Datum
clm_purchase_summary_serial(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	(void) clm_agg_context(fcinfo);
	pq_begintypsend(&buf);
	ps_write(&buf, ((PsHolder *) PG_GETARG_POINTER(0))->st);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* A state from a bytea holding its binary form, in cxt. */
static PsState *
ps_from_bytea(bytea *b, MemoryContext cxt)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
	return ps_read(&buf, cxt);
}

Datum
clm_purchase_summary_deserial(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = clm_agg_context(fcinfo);
	PsHolder   *h = MemoryContextAllocZero(cxt, sizeof(PsHolder));

	h->st = ps_from_bytea(PG_GETARG_BYTEA_PP(0), cxt);
	PG_RETURN_POINTER(h);
}

Datum
clm_purchase_summary_final(PG_FUNCTION_ARGS)
{
	PsHolder   *h;

	(void) clm_agg_context(fcinfo);
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	h = (PsHolder *) PG_GETARG_POINTER(0);
	if (h->st->ndays == 0)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(ps_summary(fcinfo, h->st));
}

/* The summary of a serialized state (clm.purchase_summary_decode of 1.0). */
Datum
clm_purchase_summary_decode(PG_FUNCTION_ARGS)
{
	PsState    *st = ps_from_bytea(PG_GETARG_BYTEA_PP(0), CurrentMemoryContext);

	if (st->ndays == 0)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(ps_summary(fcinfo, st));
}
