/*-------------------------------------------------------------------------
 *
 * rfm_agg.c
 *	  The RFM aggregate: the state type clm.rfm_state (in/out/send/recv),
 *	  the transition, combine and final functions of clm.rfm_agg,
 *	  clm.rfm_state_agg and clm.rfm_merge, and the moving-aggregate
 *	  (window frame) mode of clm.rfm_agg.
 *
 * Money is summed exactly and cheaply: a numeric amount is read straight
 * from its stored base-10000 digits into an int128 count of units of
 * 10000^-F (F = the most fractional digit groups seen so far), so no row
 * allocates memory or runs numeric arithmetic.  The result is turned into a
 * numeric once per group.  Sums are therefore identical whatever the order
 * of rows or partial states (parallel, partitionwise, merged later).
 * double precision amounts are summed in fixed point of 2^-64 units (each
 * amount rounded to that grid, 5e-20, far below anything a double can show
 * next to a money amount), which keeps the
 * sum order-independent too.
 *
 * IDENTIFICATION
 *	  src/rfm/rfm_agg.c
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
#include "rfm.h"

PG_FUNCTION_INFO_V1(rfm_state_in);
PG_FUNCTION_INFO_V1(rfm_state_out);
PG_FUNCTION_INFO_V1(rfm_state_recv);
PG_FUNCTION_INFO_V1(rfm_state_send);
PG_FUNCTION_INFO_V1(rfm_trans_numeric);
PG_FUNCTION_INFO_V1(rfm_trans_float8);
PG_FUNCTION_INFO_V1(rfm_trans_int8);
PG_FUNCTION_INFO_V1(rfm_state_trans_numeric);
PG_FUNCTION_INFO_V1(rfm_state_trans_float8);
PG_FUNCTION_INFO_V1(rfm_state_trans_int8);
PG_FUNCTION_INFO_V1(rfm_combine);
PG_FUNCTION_INFO_V1(rfm_agg_final);
PG_FUNCTION_INFO_V1(rfm_final);
PG_FUNCTION_INFO_V1(rfm_mtrans_numeric);
PG_FUNCTION_INFO_V1(rfm_mtrans_float8);
PG_FUNCTION_INFO_V1(rfm_mtrans_int8);
PG_FUNCTION_INFO_V1(rfm_minv_numeric);
PG_FUNCTION_INFO_V1(rfm_minv_float8);
PG_FUNCTION_INFO_V1(rfm_minv_int8);
PG_FUNCTION_INFO_V1(rfm_mfinal);

/*
 * The version byte of a stored clm.rfm_state (the in-memory layout of
 * RfmState, which is also what a table stores).  The text and binary forms
 * keep their own version, RFM_STATE_FORMAT.
 */
#define RFM_LAYOUT			2
#define RFM_STATE_FORMAT	1

/* how the amounts of a state are summed (RfmState.kind) */
#define RFM_KIND_NONE		0	/* no amount yet */
#define RFM_KIND_DECIMAL	1	/* numeric and bigint: units of 10000^-F */
#define RFM_KIND_BINARY		2	/* double precision: units of 2^-64 */

#define RFM_KNOWN_FLAGS		RFM_FLAG_ASOF

/* a short state ends before refunds (rfm.h) */
#define RFM_SHORT_SIZE		offsetof(RfmState, refunds)

#define RFM_BINARY_BITS		64
#define RFM_BINARY_LIMIT	116	/* |amount| < 2^(116-64) = 2^52 ~ 4.5e15 */
#define RFM_MAX_DSCALE		NUMERIC_MAX_DISPLAY_SCALE

#define USECS_PER_DAY_F		86400000000.0

/*
 * rfm_pow10
 *		10^k as int128, 0 <= k <= 38.
 */
static int128
rfm_pow10(int k)
{
	int128		p = 1;

	Assert(k >= 0 && k <= 38);
	while (k-- > 0)
		p *= 10;
	return p;
}

StaticAssertDecl(RFM_SHORT_SIZE == 64 && RFM_FULL_SIZE == 80,
				 "the short clm.rfm_state must fill a 64-byte allocation");

/*
 * rfm_state_init
 *		Fill an empty full state (header included).  States that live in
 *		clm's own memory (clm.rfm_agg_by_customer's table, the moving
 *		aggregate, text and binary input) are full; only the transition
 *		functions start short (rfm_state_new).
 */
void
rfm_state_init(RfmState *st)
{
	memset(st, 0, sizeof(RfmState));
	SET_VARSIZE(st, RFM_FULL_SIZE);
	st->version = RFM_LAYOUT;
}

/*
 * rfm_state_widen_in_place
 *		Make a short state full: no refunds, and the latest row is the last
 *		purchase (0 when there is none, as in an empty state).
 */
void
rfm_state_widen_in_place(RfmState *st)
{
	if (rfm_state_is_full(st))
		return;
	st->refunds = 0;
	st->latest_at = st->last_at;
	SET_VARSIZE(st, RFM_FULL_SIZE);
}

/*
 * rfm_state_widen_if
 *		The state to go on with when it must be full (a refund is about to
 *		be added, or a full state merged in): a short one is replaced by a
 *		full copy in the current memory context.  The transition and combine
 *		functions return that copy in place of their state argument; nodeAgg
 *		and nodeWindowAgg then copy it into the aggregate context and free
 *		the old one.
 */
static inline RfmState *
rfm_state_widen_if(RfmState *st, bool need_full)
{
	RfmState   *full;

	if (likely(!need_full) || rfm_state_is_full(st))
		return st;
	full = (RfmState *) palloc(RFM_FULL_SIZE);
	memcpy(full, st, RFM_SHORT_SIZE);
	rfm_state_widen_in_place(full);
	return full;
}

/*
 * rfm_state_pack
 *		Store a validated full state that holds no refund as a short one
 *		(the form the transition functions build), so that input gives the
 *		same bytes.  Validation has made sure its latest row is then its
 *		last purchase.
 */
static void
rfm_state_pack(RfmState *st)
{
	if (rfm_state_is_full(st) && st->refunds == 0)
		SET_VARSIZE(st, RFM_SHORT_SIZE);
}

/*
 * rfm_state_new
 *		An empty short state allocated in the given memory context.
 *
 * clm.rfm_state is an ordinary pass-by-reference type, so when a transition
 * or combine function returns a pointer other than its state argument,
 * nodeAgg/nodeWindowAgg copy the value into the aggregate context
 * themselves; new states are therefore made in the short-lived current
 * context (making them in the aggregate context would leave one dead copy
 * per group).  Later calls modify the copy in place, which is allowed when
 * called as an aggregate.
 */
static RfmState *
rfm_state_new(MemoryContext cxt)
{
	RfmState   *st = (RfmState *) MemoryContextAlloc(cxt, RFM_FULL_SIZE);

	rfm_state_init(st);
	SET_VARSIZE(st, RFM_SHORT_SIZE);
	return st;
}

/*
 * rfm_sum_overflow
 *		The one error for sums that leave the int128 range.
 */
static void
rfm_sum_overflow(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("sum of amounts out of range for clm.rfm_agg"),
			 errdetail("The exact sum needs more than 38 significant decimal digits."),
			 errhint("Round the amounts to fewer decimal places, or use smaller units.")));
}

/*
 * rfm_rescale
 *		Raise the number of fractional digit groups of a decimal state to
 *		new_groups, so that an amount with more decimals can be added
 *		exactly.
 */
static void
rfm_rescale(RfmState *st, int new_groups)
{
	if (new_groups <= st->frac_groups)
		return;
	if (st->sum != 0 &&
		__builtin_mul_overflow(st->sum, rfm_pow(new_groups - st->frac_groups), &st->sum))
		rfm_sum_overflow();
	st->frac_groups = (uint8) new_groups;
}

/*
 * rfm_set_kind
 *		Fix how amounts are summed on the first amount; refuse to mix decimal
 *		and binary amounts in one state (their sums are kept in different
 *		units and adding them would no longer be exact).
 */
static inline void
rfm_set_kind(RfmState *st, uint8 kind)
{
	if (likely(st->kind == kind))
		return;
	if (st->kind == RFM_KIND_NONE)
	{
		st->kind = kind;
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("cannot combine RFM states of numeric and double precision amounts"),
			 errdetail("One state sums exact decimal amounts, the other binary floating-point amounts."),
			 errhint("Build every state from the same amount type, e.g. cast the amounts to numeric.")));
}

/*
 * rfm_add_row
 *		Count one row with a finite timestamp and an amount already converted
 *		to units of the state.  Refunds (negative amounts) change only the
 *		sum: they are not purchases and do not move recency.  A refund needs
 *		a full state (the callers widen a short one first).
 */
static inline void
rfm_add_row(RfmState *st, TimestampTz ts, int128 units, bool refund)
{
	if (unlikely(refund) && !rfm_state_is_full(st))
		elog(ERROR, "refund added to a short clm.rfm_state");
	if (__builtin_add_overflow(st->sum, units, &st->sum))
		rfm_sum_overflow();
	if (rfm_state_is_full(st) && (rfm_rows(st) == 0 || ts > st->latest_at))
		st->latest_at = ts;
	if (refund)
	{
		st->refunds++;
		return;
	}
	if (st->purchases == 0)
	{
		st->first_at = ts;
		st->last_at = ts;
	}
	else
	{
		if (ts < st->first_at)
			st->first_at = ts;
		if (ts > st->last_at)
			st->last_at = ts;
	}
	st->purchases++;
}


/*
 * rfm_decimal_units
 *		Convert a parsed amount to units of the state, first raising the
 *		state's scale if the amount has more decimals.
 */
static inline int128
rfm_decimal_units(RfmState *st, const RfmDecimal *dec)
{
	int			shift;
	int128		units;

	if (dec->digits == 0)
		return 0;
	if (dec->frac_groups > st->frac_groups)
		rfm_rescale(st, dec->frac_groups);
	shift = st->frac_groups - dec->frac_groups;
	if (dec->int_groups + st->frac_groups > RFM_MAX_GROUPS)
		rfm_sum_overflow();
	units = dec->digits * rfm_pow(shift);
	return dec->negative ? -units : units;
}

/*
 * rfm_binary_units
 *		A double precision amount in units of 2^-64, rounded to the nearest
 *		unit; the rounding depends only on the amount, so sums stay
 *		order-independent.
 */
static inline int128
rfm_binary_units(double amount)
{
	double		x;

	clm_check_finite_float8(amount, "amount");
	x = ldexp(amount, RFM_BINARY_BITS);
	if (fabs(x) >= ldexp(1.0, RFM_BINARY_LIMIT))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("amount %g out of range for the double precision clm.rfm_agg", amount),
				 errdetail("double precision amounts must be smaller than 2^52 in absolute value."),
				 errhint("Use numeric amounts.")));
	return (int128) rint(x);
}

/*
 * rfm_add_decimal, rfm_add_float8, rfm_add_int8
 *		Count one row of a finite timestamp and a non-NULL amount (rfm.h).
 *		Shared by the transition functions here and by the per-customer
 *		entries of clm.rfm_agg_customers.
 */
void
rfm_add_decimal(RfmState *st, TimestampTz ts, const RfmDecimal *dec)
{
	rfm_set_kind(st, RFM_KIND_DECIMAL);
	rfm_add_row(st, ts, rfm_decimal_units(st, dec), dec->negative);
	if (dec->dscale > st->dscale)
		st->dscale = dec->dscale;
}

void
rfm_add_float8(RfmState *st, TimestampTz ts, double amount)
{
	int128		units = rfm_binary_units(amount);

	rfm_set_kind(st, RFM_KIND_BINARY);
	rfm_add_row(st, ts, units, amount < 0);
}

void
rfm_add_int8(RfmState *st, TimestampTz ts, int64 amount)
{
	int128		units = amount;

	rfm_set_kind(st, RFM_KIND_DECIMAL);
	if (st->frac_groups > 0 &&
		__builtin_mul_overflow(units, rfm_pow(st->frac_groups), &units))
		rfm_sum_overflow();
	rfm_add_row(st, ts, units, amount < 0);
}

/*
 * rfm_check_as_of
 *		The one as_of rule of clm.rfm_agg and clm.rfm_agg_by_customer, for a
 *		row that does not simply repeat the as_of already taken (rfm.h,
 *		rfm_take_as_of): as_of is required, finite and within the range of
 *		timestamptz, and one aggregate state has one as_of.  Returns only
 *		for the first, valid, as_of of a state.
 */
void
rfm_check_as_of(bool isnull, TimestampTz as_of, bool has, TimestampTz current)
{
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("as_of must not be null"),
				 errhint("Pass the analysis date, e.g. timestamptz '2026-07-01 00:00+00'.")));
	if (has && as_of != current)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of must be the same for every row the aggregate reads"),
				 errdetail("The aggregate started with as_of %s and now has %s.",
						   pstrdup(timestamptz_to_str(current)), pstrdup(timestamptz_to_str(as_of))),
				 errhint("Pass a constant or a parameter as as_of: an expression such as now() is evaluated again by every node of a distributed query (Citus), each in its own transaction.")));
	clm_check_finite_timestamp(as_of, "as_of");
}

/*
 * rfm_trans_state
 *		The state argument of a transition function: the existing state,
 *		or a new one in the aggregate context.
 */
static inline RfmState *
rfm_trans_state(FunctionCallInfo fcinfo)
{
	(void) clm_agg_context(fcinfo);
	if (PG_ARGISNULL(0))
		return rfm_state_new(CurrentMemoryContext);
	return (RfmState *) PG_GETARG_POINTER(0);
}

/*
 * Common body of the transition functions.  with_asof: the aggregate takes
 * an as_of argument (clm.rfm_agg), and rows after it are ignored.
 * Returns false when the row is skipped.
 */
static inline bool
rfm_row_prologue(FunctionCallInfo fcinfo, RfmState *st, bool with_asof,
				 TimestampTz *ts)
{
	if (with_asof)
	{
		st->as_of = rfm_take_as_of(PG_ARGISNULL(3), PG_GETARG_TIMESTAMPTZ(3),
								   (st->flags & RFM_FLAG_ASOF) != 0, st->as_of);
		st->flags |= RFM_FLAG_ASOF;
	}
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		return false;
	*ts = PG_GETARG_TIMESTAMPTZ(1);
	clm_check_finite_timestamp(*ts, "ordered_at");
	if (with_asof && *ts > st->as_of)
		return false;
	return true;
}

static inline Datum
rfm_trans_numeric_common(FunctionCallInfo fcinfo, bool with_asof)
{
	RfmState   *st = rfm_trans_state(fcinfo);
	TimestampTz ts;

	if (rfm_row_prologue(fcinfo, st, with_asof, &ts))
	{
		RfmDecimal	dec;

		rfm_read_numeric(PG_GETARG_DATUM(2), &dec);
		st = rfm_state_widen_if(st, dec.negative);
		rfm_add_decimal(st, ts, &dec);
	}
	PG_RETURN_POINTER(st);
}

static inline Datum
rfm_trans_float8_common(FunctionCallInfo fcinfo, bool with_asof)
{
	RfmState   *st = rfm_trans_state(fcinfo);
	TimestampTz ts;

	if (rfm_row_prologue(fcinfo, st, with_asof, &ts))
	{
		double		amount = PG_GETARG_FLOAT8(2);

		st = rfm_state_widen_if(st, amount < 0);
		rfm_add_float8(st, ts, amount);
	}
	PG_RETURN_POINTER(st);
}

static inline Datum
rfm_trans_int8_common(FunctionCallInfo fcinfo, bool with_asof)
{
	RfmState   *st = rfm_trans_state(fcinfo);
	TimestampTz ts;

	if (rfm_row_prologue(fcinfo, st, with_asof, &ts))
	{
		int64		amount = PG_GETARG_INT64(2);

		st = rfm_state_widen_if(st, amount < 0);
		rfm_add_int8(st, ts, amount);
	}
	PG_RETURN_POINTER(st);
}

/*
 * rfm_trans_numeric, rfm_trans_float8, rfm_trans_int8
 *		Transition functions of clm.rfm_agg(ordered_at, amount, as_of).
 *		NULL ordered_at or amount: row skipped; rows after as_of: ignored.
 */
Datum
rfm_trans_numeric(PG_FUNCTION_ARGS)
{
	return rfm_trans_numeric_common(fcinfo, true);
}

Datum
rfm_trans_float8(PG_FUNCTION_ARGS)
{
	return rfm_trans_float8_common(fcinfo, true);
}

Datum
rfm_trans_int8(PG_FUNCTION_ARGS)
{
	return rfm_trans_int8_common(fcinfo, true);
}

/*
 * rfm_state_trans_numeric, rfm_state_trans_float8, rfm_state_trans_int8
 *		Transition functions of clm.rfm_state_agg(ordered_at, amount): the
 *		same as above without as_of (it is given to clm.rfm_final later).
 */
Datum
rfm_state_trans_numeric(PG_FUNCTION_ARGS)
{
	return rfm_trans_numeric_common(fcinfo, false);
}

Datum
rfm_state_trans_float8(PG_FUNCTION_ARGS)
{
	return rfm_trans_float8_common(fcinfo, false);
}

Datum
rfm_state_trans_int8(PG_FUNCTION_ARGS)
{
	return rfm_trans_int8_common(fcinfo, false);
}

/*
 * rfm_malformed_state
 *		The error for a clm.rfm_state whose fields break the rules of the
 *		layout.
 */
static void
rfm_malformed_state(const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid clm.rfm_state value"),
			 errdetail("The state is malformed: %s.", problem),
			 errhint("Rebuild the state with clm.rfm_state_agg.")));
}

/*
 * rfm_check_state_timestamp
 *		The error for a timestamp field of a clm.rfm_state (text or binary
 *		input, a stored state) that is not a finite timestamptz:
 *		-infinity, infinity or a number of microseconds beyond the range
 *		timestamptz can print.
 */
static void
rfm_check_state_timestamp(TimestampTz ts, const char *field)
{
	if (likely(IS_VALID_TIMESTAMP(ts)))
		return;
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s of a clm.rfm_state must be a finite timestamp", field),
				 errdetail("The value is %s.", TIMESTAMP_IS_NOBEGIN(ts) ? "-infinity" : "infinity"),
				 strcmp(field, "as_of") == 0 ?
				 errhint("A state without as_of has none: its text form leaves the field empty.") :
				 errhint("Rebuild the state with clm.rfm_state_agg.")));
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("%s of a clm.rfm_state is out of range for type timestamp with time zone", field),
			 errdetail("The value is " INT64_FORMAT " microseconds from 2000-01-01 00:00 UTC.", ts),
			 errhint("Rebuild the state with clm.rfm_state_agg.")));
}

/*
 * rfm_validate_state
 *		Check the invariants of a state that came from outside this backend's
 *		own transition functions (a table, COPY, binary input, a worker).
 *		Anything else could make the final function compute garbage.
 */
void
rfm_validate_state(const RfmState *st)
{
	const char *problem = NULL;

	if (!VARATT_IS_4B_U(st) ||
		(VARSIZE(st) != RFM_SHORT_SIZE && VARSIZE(st) != RFM_FULL_SIZE))
		problem = "it has the wrong length";
	else if (st->version != RFM_LAYOUT)
		problem = "its format version is unknown";
	else if (st->reserved != 0)
		problem = "its reserved field is not zero";
	else if (st->kind > RFM_KIND_BINARY)
		problem = "its amount kind is unknown";
	else if ((st->flags & ~RFM_KNOWN_FLAGS) != 0)
		problem = "it has unknown flags";
	if (problem)
		rfm_malformed_state(problem);

	/*
	 * Every timestamp must be one that timestamptz can hold, or the clm.rfm
	 * of the state could not be printed; those not in use are 0.
	 */
	rfm_check_state_timestamp(st->first_at, "first_at");
	rfm_check_state_timestamp(st->last_at, "last_at");
	rfm_check_state_timestamp(rfm_state_latest(st), "latest_at");
	if (st->flags & RFM_FLAG_ASOF)
		rfm_check_state_timestamp(st->as_of, "as_of");

	if (st->frac_groups > RFM_MAX_GROUPS - 1 ||
			 (st->kind != RFM_KIND_DECIMAL && st->frac_groups != 0))
		problem = "its scale is out of range";
	else if (st->dscale < 0 || st->dscale > RFM_MAX_DSCALE ||
			 (st->kind != RFM_KIND_DECIMAL && st->dscale != 0))
		problem = "its display scale is out of range";
	else if (st->kind == RFM_KIND_DECIMAL && st->dscale < RFM_DEC_DIGITS * st->frac_groups &&
			 st->sum % rfm_pow10(RFM_DEC_DIGITS * st->frac_groups - st->dscale) != 0)
		problem = "its sum has digits beyond its display scale";
	else if (st->purchases < 0 || rfm_state_refunds(st) < 0 ||
			 st->purchases > PG_INT64_MAX - rfm_state_refunds(st))
		problem = "its counts are out of range";
	else if (rfm_rows(st) == 0 && (st->sum != 0 || st->kind != RFM_KIND_NONE))
		problem = "it has a sum but no rows";
	else if (rfm_rows(st) > 0 && st->kind == RFM_KIND_NONE)
		problem = "it has rows but no amount kind";
	else if (st->purchases > 0 &&
			 (st->first_at > st->last_at || rfm_state_latest(st) < st->last_at))
		problem = "its purchase timestamps are inconsistent";
	else if (st->purchases == 0 && (st->first_at != 0 || st->last_at != 0))
		problem = "it has purchase timestamps but no purchases";
	else if (rfm_rows(st) == 0 && rfm_state_latest(st) != 0)
		problem = "it has a latest timestamp but no rows";
	else if (rfm_state_refunds(st) == 0 && rfm_state_latest(st) != st->last_at)
		problem = "its latest timestamp is not its last purchase, with no refunds";
	else if (!(st->flags & RFM_FLAG_ASOF) && st->as_of != 0)
		problem = "it has an as_of value but no as_of flag";

	if (problem)
		rfm_malformed_state(problem);
}

/*
 * rfm_state_from_datum
 *		A clm.rfm_state from outside this backend's own transition functions
 *		(a table, a worker, a user's aggregate), detoasted and validated.
 */
static RfmState *
rfm_state_from_datum(Datum d)
{
	RfmState   *st = (RfmState *) PG_DETOAST_DATUM(d);

	rfm_validate_state(st);
	return st;
}

/*
 * rfm_merge_into
 *		Add state b to state a.  Associative and commutative: counts and sums
 *		add, first purchase is a min, last purchase a max.  A state without
 *		as_of takes the other's; two different ones break the as_of rule of
 *		the aggregates (rfm_take_as_of), which is where they come from.
 */
void
rfm_merge_into(RfmState *a, const RfmState *b)
{
	int128		bsum = b->sum;

	if (unlikely(rfm_state_is_full(b) && !rfm_state_is_full(a)))
		elog(ERROR, "full clm.rfm_state merged into a short one");
	if (b->flags & RFM_FLAG_ASOF)
	{
		a->as_of = rfm_take_as_of(false, b->as_of, (a->flags & RFM_FLAG_ASOF) != 0, a->as_of);
		a->flags |= RFM_FLAG_ASOF;
	}
	if (rfm_rows(b) == 0)
		return;
	rfm_set_kind(a, b->kind);
	if (a->kind == RFM_KIND_DECIMAL)
	{
		if (b->frac_groups > a->frac_groups)
			rfm_rescale(a, b->frac_groups);
		if (a->frac_groups > b->frac_groups &&
			__builtin_mul_overflow(bsum, rfm_pow(a->frac_groups - b->frac_groups), &bsum))
			rfm_sum_overflow();
		if (b->dscale > a->dscale)
			a->dscale = b->dscale;
	}
	if (__builtin_add_overflow(a->sum, bsum, &a->sum))
		rfm_sum_overflow();
	if (rfm_state_is_full(a) &&
		(rfm_rows(a) == 0 || rfm_state_latest(b) > a->latest_at))
		a->latest_at = rfm_state_latest(b);
	if (b->purchases > 0)
	{
		if (a->purchases == 0)
		{
			a->first_at = b->first_at;
			a->last_at = b->last_at;
		}
		else
		{
			if (b->first_at < a->first_at)
				a->first_at = b->first_at;
			if (b->last_at > a->last_at)
				a->last_at = b->last_at;
		}
	}
	if (__builtin_add_overflow(a->purchases, b->purchases, &a->purchases) ||
		(rfm_state_is_full(a) &&
		 __builtin_add_overflow(a->refunds, rfm_state_refunds(b), &a->refunds)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("row count out of range for clm.rfm_state")));
}

/*
 * rfm_combine
 *		Combine function of the RFM aggregates and transition function of
 *		clm.rfm_merge.  A NULL on either side is an empty partial state.
 *		When the left is NULL the right state is returned as it is: nodeAgg
 *		and nodeWindowAgg copy a returned pass-by-reference value that is not
 *		the old state into the aggregate context, so making a copy here
 *		first would only copy every first partial state twice.  A short left
 *		state meeting a full right one is widened the same way.
 */
Datum
rfm_combine(PG_FUNCTION_ARGS)
{
	RfmState   *a;
	RfmState   *b;

	(void) clm_agg_context(fcinfo);
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	b = rfm_state_from_datum(PG_GETARG_DATUM(1));
	if (PG_ARGISNULL(0))
		PG_RETURN_POINTER(b);
	a = (RfmState *) PG_GETARG_POINTER(0);
	a = rfm_state_widen_if(a, rfm_state_is_full(b));
	rfm_merge_into(a, b);
	PG_RETURN_POINTER(a);
}

/*
 * rfm_format_decimal
 *		The exact decimal text of sum * 10000^-groups with dscale digits
 *		after the point (inputs never have digits beyond their own display
 *		scale, so dropping digits past dscale drops only zeros).
 */
static char *
rfm_format_decimal(int128 sum, int groups, int dscale)
{
	char		digits[64];
	int			n = 0;
	uint128		u;
	bool		neg = sum < 0;
	int			fracdigits = groups * RFM_DEC_DIGITS;
	StringInfoData buf;
	int			i;

	u = neg ? (uint128) (-(sum + 1)) + 1 : (uint128) sum;
	do
	{
		digits[n++] = '0' + (int) (u % 10);
		u /= 10;
	} while (u != 0);
	/* make sure there is at least one digit before the point */
	while (n <= fracdigits)
		digits[n++] = '0';

	initStringInfo(&buf);
	if (neg)
		appendStringInfoChar(&buf, '-');
	for (i = n - 1; i >= fracdigits; i--)
		appendStringInfoChar(&buf, digits[i]);
	if (dscale > 0)
	{
		appendStringInfoChar(&buf, '.');
		for (i = 0; i < dscale; i++)
		{
			int			pos = fracdigits - 1 - i;

			appendStringInfoChar(&buf, pos >= 0 ? digits[pos] : '0');
		}
	}
	return buf.data;
}

/*
 * rfm_decimal_fast
 *		The decimal sum of a state as sum' * 10^-dscale, if |sum'| is below
 *		2^63 / 1000: the common case, which int64_div_fast_to_numeric turns
 *		into a numeric without going through text.  The state's units are
 *		10^-(4 * frac_groups); digits past dscale are zeros (no input has
 *		digits beyond its own display scale, and rfm_validate_state rejects
 *		states that do), so scaling down is exact.
 */
static bool
rfm_decimal_fast(const RfmState *st, int64 *scaled)
{
	int			shift = st->dscale - RFM_DEC_DIGITS * st->frac_groups;
	int128		v = st->sum;

	if (shift > 18)
		return false;
	if (shift >= 0)
	{
		if (__builtin_mul_overflow(v, rfm_pow10(shift), &v))
			return false;
	}
	else
		v /= rfm_pow10(-shift);	/* exact, see above */
	/*
	 * int64_div_fast_to_numeric multiplies by up to 1000 when dscale is not a
	 * multiple of 4; staying 1000 times below the int64 limits keeps it off
	 * its overflow path, whose handling differs between 15.x minor releases.
	 */
	if (v < PG_INT64_MIN / 1000 || v > PG_INT64_MAX / 1000)
		return false;
	*scaled = (int64) v;
	return true;
}

/*
 * rfm_monetary
 *		The sum of a state as an exact numeric.
 */
static Datum
rfm_monetary(const RfmState *st)
{
	int64		scaled;

	if (st->kind == RFM_KIND_BINARY)
	{
		double		d = ldexp((double) st->sum, -RFM_BINARY_BITS);

		return DirectFunctionCall1(float8_numeric, Float8GetDatum(d));
	}
	if (rfm_decimal_fast(st, &scaled))
		return NumericGetDatum(int64_div_fast_to_numeric(scaled, st->dscale));
	return DirectFunctionCall3(numeric_in,
							   CStringGetDatum(rfm_format_decimal(st->sum, st->frac_groups, st->dscale)),
							   ObjectIdGetDatum(InvalidOid),
							   Int32GetDatum(-1));
}

/*
 * rfm_result_tupdesc
 *		See rfm.h.
 */
TupleDesc
rfm_result_tupdesc(FunctionCallInfo fcinfo)
{
	TupleDesc	tupdesc;
	MemoryContext old;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
	MemoryContextSwitchTo(old);
	return tupdesc;
}

/*
 * rfm_days_between
 *		to - from in days.  The difference is taken in int128: two finite
 *		timestamps can be further apart than int64 microseconds reach (4713 BC
 *		to 294276 AD), and the int64 difference would wrap to a negative
 *		tenure or gap.
 */
static inline double
rfm_days_between(TimestampTz from, TimestampTz to)
{
	return (double) ((int128) to - (int128) from) / USECS_PER_DAY_F;
}

/*
 * rfm_state_values
 *		The fields of the clm.rfm row of a state at as_of (rfm.h), in
 *		values/nulls (RFM_NATTS each); false, with nothing set, when no row
 *		was counted.  Recency, tenure and the mean gap are in days (86400 s);
 *		the mean gap between consecutive purchases telescopes to
 *		(last - first) / (n - 1).
 */
bool
rfm_state_values(const RfmState *st, TimestampTz as_of, Datum *values, bool *nulls)
{
	if (rfm_rows(st) == 0)
		return false;
	memset(nulls, 0, RFM_NATTS * sizeof(bool));
	values[RFM_ATT_FREQUENCY - 1] = Int64GetDatum(st->purchases);
	values[RFM_ATT_MONETARY - 1] = rfm_monetary(st);
	if (st->purchases > 0)
	{
		values[RFM_ATT_RECENCY - 1] = Float8GetDatum(rfm_days_between(st->last_at, as_of));
		values[RFM_ATT_FIRST_AT - 1] = TimestampTzGetDatum(st->first_at);
		values[RFM_ATT_LAST_AT - 1] = TimestampTzGetDatum(st->last_at);
		values[RFM_ATT_TENURE - 1] = Float8GetDatum(rfm_days_between(st->first_at, as_of));
	}
	else
	{
		nulls[RFM_ATT_RECENCY - 1] = true;
		nulls[RFM_ATT_FIRST_AT - 1] = true;
		nulls[RFM_ATT_LAST_AT - 1] = true;
		nulls[RFM_ATT_TENURE - 1] = true;
	}
	if (st->purchases >= 2)
		values[RFM_ATT_MEAN_GAP - 1] =
			Float8GetDatum(rfm_days_between(st->first_at, st->last_at) / (double) (st->purchases - 1));
	else
		nulls[RFM_ATT_MEAN_GAP - 1] = true;
	return true;
}

/*
 * rfm_form_tuple
 *		The clm.rfm row of a state at as_of (rfm.h), or NULL when no row was
 *		counted.
 */
HeapTuple
rfm_form_tuple(TupleDesc tupdesc, const RfmState *st, TimestampTz as_of)
{
	Datum		values[RFM_NATTS];
	bool		nulls[RFM_NATTS];

	if (!rfm_state_values(st, as_of, values, nulls))
		return NULL;
	return heap_form_tuple(tupdesc, values, nulls);
}

/*
 * rfm_build
 *		The clm.rfm result of a function returning it, or NULL.
 */
static Datum
rfm_build(FunctionCallInfo fcinfo, const RfmState *st, TimestampTz as_of)
{
	HeapTuple	tuple;

	if (fcinfo->flinfo->fn_extra == NULL)
		fcinfo->flinfo->fn_extra = rfm_result_tupdesc(fcinfo);
	tuple = rfm_form_tuple((TupleDesc) fcinfo->flinfo->fn_extra, st, as_of);
	if (tuple == NULL)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}

/*
 * rfm_check_rows_before
 *		A state holding rows after as_of cannot be cut back, so finishing it
 *		there is an error rather than a silently wrong (negative) recency.
 */
static void
rfm_check_rows_before(const RfmState *st, TimestampTz as_of)
{
	if (rfm_rows(st) > 0 && rfm_state_latest(st) > as_of)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("state holds orders after as_of"),
				 errdetail("The latest order in the state is at %s, as_of is %s.",
						   pstrdup(timestamptz_to_str(rfm_state_latest(st))), pstrdup(timestamptz_to_str(as_of))),
				 errhint("Build the state only from orders up to as_of, e.g. WHERE ordered_at <= as_of.")));
}

/*
 * rfm_agg_final
 *		Final function of clm.rfm_agg: the state carries its as_of.
 *
 * clm's own transition functions never count a row after as_of, but the
 * state may come from elsewhere: a user's aggregate over stored states (a
 * stored value that is not in memory as the transition functions leave it
 * is detoasted and validated here), a merge with a state built without
 * as_of, or a call by hand, where it is checked as clm.rfm_final checks it.
 */
Datum
rfm_agg_final(PG_FUNCTION_ARGS)
{
	RfmState   *st;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (RfmState *) PG_GETARG_POINTER(0);
	if (!AggCheckCallContext(fcinfo, NULL) || !VARATT_IS_4B_U(st))
		st = rfm_state_from_datum(PG_GETARG_DATUM(0));
	if (!(st->flags & RFM_FLAG_ASOF))
		PG_RETURN_NULL();
	rfm_check_rows_before(st, st->as_of);
	return rfm_build(fcinfo, st, st->as_of);
}

/*
 * rfm_final
 *		clm.rfm_final(state, as_of): finish a stored or merged state.  A state
 *		holding rows after as_of cannot be cut back, so that is an error
 *		rather than a silently wrong (negative) recency.
 */
Datum
rfm_final(PG_FUNCTION_ARGS)
{
	RfmState   *st = rfm_state_from_datum(PG_GETARG_DATUM(0));
	TimestampTz as_of = PG_GETARG_TIMESTAMPTZ(1);

	clm_check_finite_timestamp(as_of, "as_of");
	if ((st->flags & RFM_FLAG_ASOF) && st->as_of != as_of)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of differs from the as_of the state was built with"),
				 errdetail("The state was built with as_of %s.", pstrdup(timestamptz_to_str(st->as_of)))));
	rfm_check_rows_before(st, as_of);
	return rfm_build(fcinfo, st, as_of);
}

/* ----------------------------------------------------------------------
 * The type clm.rfm_state: text and binary forms.
 *
 * Text: 11 comma-separated fields in parentheses, integers only so that the
 * form does not depend on DateStyle or TimeZone:
 *   (version,kind,frac_groups,dscale,purchases,refunds,first_at,last_at,
 *    latest_at,as_of,sum)
 * kind is n (none), d (decimal) or b (binary); timestamps are microseconds
 * since 2000-01-01 00:00 UTC; as_of is empty when unset; sum is the integer
 * count of units (10000^-frac_groups for decimal, 2^-64 for binary).
 * ----------------------------------------------------------------------
 */

/*
 * rfm_int128_out
 *		Decimal text of an int128.
 */
static char *
rfm_int128_out(int128 v)
{
	return rfm_format_decimal(v, 0, 0);
}

/*
 * rfm_parse_int
 *		Parse a signed decimal integer field into an int128 (overflow is a
 *		syntax error).  Returns the position after the field.
 */
static const char *
rfm_parse_int(const char *p, int128 *out, const char *input)
{
	bool		neg = false;
	int			ndig = 0;
	int128		v = 0;

	if (*p == '-')
	{
		neg = true;
		p++;
	}
	while (*p >= '0' && *p <= '9')
	{
		ndig++;
		if (__builtin_mul_overflow(v, 10, &v) ||
			__builtin_add_overflow(v, neg ? -(*p - '0') : (*p - '0'), &v))
			goto bad;
		p++;
	}
	if (ndig == 0)
		goto bad;
	*out = v;
	return p;
bad:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type clm.rfm_state: \"%s\"", input),
			 errdetail("Expected an integer in the int128 range at \"%.20s\".", p)));
	return NULL;				/* keep compiler quiet */
}

static void
rfm_syntax_error(const char *input, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type clm.rfm_state: \"%s\"", input),
			 errdetail("%s", detail),
			 errhint("The form is (version,kind,frac_groups,dscale,purchases,refunds,first_at,last_at,latest_at,as_of,sum), as printed by clm.rfm_state_agg.")));
}

/*
 * rfm_int64_field
 *		An int128 parsed field that must fit into the int64 range.
 */
static int64
rfm_int64_field(int128 v, const char *input)
{
	if (v > PG_INT64_MAX || v < PG_INT64_MIN)
		rfm_syntax_error(input, "A count or timestamp field is out of range.");
	return (int64) v;
}

/*
 * rfm_state_in
 *		Text input of clm.rfm_state; validated like binary input.
 */
Datum
rfm_state_in(PG_FUNCTION_ARGS)
{
	const char *input = PG_GETARG_CSTRING(0);
	const char *p = input;
	RfmState   *st = palloc(sizeof(RfmState));
	int128		f[11];
	int			i;
	char		kind = 0;
	bool		has_as_of = false;

	rfm_state_init(st);
	while (*p == ' ')
		p++;
	if (*p++ != '(')
		rfm_syntax_error(input, "The value must start with \"(\".");
	for (i = 0; i < 11; i++)
	{
		if (i == 9)
			has_as_of = *p != ',';
		if (i == 1)
		{
			kind = *p;
			if (kind != 'n' && kind != 'd' && kind != 'b')
				rfm_syntax_error(input, "The kind must be n, d or b.");
			p++;
			f[i] = 0;
		}
		else if (i == 9 && *p == ',')
			f[i] = 0;			/* as_of unset */
		else
			p = rfm_parse_int(p, &f[i], input);
		if (*p != (i == 10 ? ')' : ','))
			rfm_syntax_error(input, i == 10 ? "The value must end with \")\"." : "Expected 11 comma-separated fields.");
		p++;
	}
	while (*p == ' ')
		p++;
	if (*p != '\0')
		rfm_syntax_error(input, "Unexpected characters after \")\".");
	if (f[0] != RFM_STATE_FORMAT)
		rfm_syntax_error(input, "Only format version 1 is known.");
	st->kind = kind == 'n' ? RFM_KIND_NONE : (kind == 'd' ? RFM_KIND_DECIMAL : RFM_KIND_BINARY);
	if (f[2] < 0 || f[2] > 255 || f[3] < 0 || f[3] > RFM_MAX_DSCALE)
		rfm_syntax_error(input, "The scale fields are out of range.");
	st->frac_groups = (uint8) f[2];
	st->dscale = (int32) f[3];
	st->purchases = rfm_int64_field(f[4], input);
	st->refunds = rfm_int64_field(f[5], input);
	st->first_at = rfm_int64_field(f[6], input);
	st->last_at = rfm_int64_field(f[7], input);
	st->latest_at = rfm_int64_field(f[8], input);
	if (has_as_of)
	{
		st->as_of = rfm_int64_field(f[9], input);
		st->flags |= RFM_FLAG_ASOF;
	}
	st->sum = f[10];
	rfm_validate_state(st);
	rfm_state_pack(st);
	PG_RETURN_POINTER(st);
}

/*
 * rfm_state_out
 *		Text output of clm.rfm_state (see the form above).
 */
Datum
rfm_state_out(PG_FUNCTION_ARGS)
{
	RfmState   *st = rfm_state_from_datum(PG_GETARG_DATUM(0));
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "(%d,%c,%d,%d," INT64_FORMAT "," INT64_FORMAT ","
					 INT64_FORMAT "," INT64_FORMAT "," INT64_FORMAT ",",
					 RFM_STATE_FORMAT,
					 st->kind == RFM_KIND_NONE ? 'n' : (st->kind == RFM_KIND_DECIMAL ? 'd' : 'b'),
					 st->frac_groups, st->dscale, st->purchases, rfm_state_refunds(st),
					 st->first_at, st->last_at, rfm_state_latest(st));
	if (st->flags & RFM_FLAG_ASOF)
		appendStringInfo(&buf, INT64_FORMAT, st->as_of);
	appendStringInfo(&buf, ",%s)", rfm_int128_out(st->sum));
	PG_RETURN_CSTRING(buf.data);
}

/*
 * rfm_state_send
 *		Binary output: a version byte, then the fields in network order.
 */
Datum
rfm_state_send(PG_FUNCTION_ARGS)
{
	RfmState   *st = rfm_state_from_datum(PG_GETARG_DATUM(0));
	StringInfoData buf;
	uint128		u = (uint128) st->sum;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, RFM_STATE_FORMAT);
	pq_sendbyte(&buf, st->kind);
	pq_sendbyte(&buf, st->flags);
	pq_sendbyte(&buf, st->frac_groups);
	pq_sendint32(&buf, st->dscale);
	pq_sendint64(&buf, st->purchases);
	pq_sendint64(&buf, rfm_state_refunds(st));
	pq_sendint64(&buf, st->first_at);
	pq_sendint64(&buf, st->last_at);
	pq_sendint64(&buf, rfm_state_latest(st));
	pq_sendint64(&buf, st->as_of);
	pq_sendint64(&buf, (int64) (uint64) (u >> 64));
	pq_sendint64(&buf, (int64) (uint64) u);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/*
 * rfm_state_recv
 *		Binary input: checks the length before reading (pq_getmsg* raise a
 *		protocol error on a short message) and the values after.
 */
Datum
rfm_state_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	RfmState   *st = palloc(sizeof(RfmState));
	int			version;
	uint64		hi,
				lo;

	rfm_state_init(st);
	if (buf->len - buf->cursor != 4 + 4 + 8 * 8)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid clm.rfm_state value"),
				 errdetail("The binary form has %d bytes, expected %d.", buf->len - buf->cursor, 4 + 4 + 8 * 8)));
	version = pq_getmsgbyte(buf);
	if (version != RFM_STATE_FORMAT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid clm.rfm_state value"),
				 errdetail("Format version %d is unknown.", version)));
	st->kind = pq_getmsgbyte(buf);
	st->flags = pq_getmsgbyte(buf);
	st->frac_groups = pq_getmsgbyte(buf);
	st->dscale = pq_getmsgint(buf, 4);
	st->purchases = pq_getmsgint64(buf);
	st->refunds = pq_getmsgint64(buf);
	st->first_at = pq_getmsgint64(buf);
	st->last_at = pq_getmsgint64(buf);
	st->latest_at = pq_getmsgint64(buf);
	st->as_of = pq_getmsgint64(buf);
	hi = (uint64) pq_getmsgint64(buf);
	lo = (uint64) pq_getmsgint64(buf);
	pq_getmsgend(buf);
	st->sum = (int128) (((uint128) hi << 64) | lo);
	rfm_validate_state(st);
	rfm_state_pack(st);
	PG_RETURN_POINTER(st);
}

/* ----------------------------------------------------------------------
 * Moving-aggregate mode.
 *
 * The executor removes rows from the head of the frame in the order it added
 * them.  Counts and sums invert exactly.  first_at/last_at are a min and a
 * max, which do not invert: the state keeps the rows of the frame in a FIFO
 * and two monotonic deques (sliding-window minimum and maximum) of the
 * purchase rows, so when the row holding the last purchase leaves the frame
 * the next largest timestamp is already at the head of the max deque: no
 * rescan, amortised O(1) per row, linear time per partition.  The inverse
 * function checks that the row it is asked to remove is the FIFO head; if
 * not (it cannot happen with today's executor) it returns NULL, which makes
 * PostgreSQL recompute the frame from scratch.  It does the same when the
 * last row with the largest display scale leaves (the scale of the result
 * would otherwise be wrong), as PostgreSQL's own numeric sum does.
 * ----------------------------------------------------------------------
 */

typedef struct RfmMovingRow
{
	TimestampTz ts;
	int128		units;			/* at frac_groups */
	int32		dscale;
	uint8		frac_groups;
	bool		refund;
} RfmMovingRow;

typedef struct RfmMoving
{
	RfmState	st;				/* running counts and sum */
	int64		dscale_count;	/* rows at st.dscale */
	/* FIFO of the frame's rows: rows[head .. tail-1], seq of rows[0] */
	RfmMovingRow *rows;
	int64		base;			/* sequence number of rows[0] */
	int			head;
	int			tail;
	int			cap;
	/* deques of sequence numbers of purchases: ascending / descending ts */
	int64	   *minq;
	int			minq_head,
				minq_tail;
	int64	   *maxq;
	int			maxq_head,
				maxq_tail;
	MemoryContext cxt;
} RfmMoving;

static inline RfmMovingRow *
rfm_mrow(RfmMoving *mv, int64 seq)
{
	return &mv->rows[seq - mv->base];
}

/*
 * rfm_moving_make_room
 *		Make room for one more row at the tail of the FIFO (and deques): slide
 *		the live part to the front when the dead head is at least half the
 *		array, otherwise double the arrays.  Amortised O(1).
 */
static void
rfm_moving_make_room(RfmMoving *mv)
{
	int			live;

	if (mv->tail < mv->cap)
		return;
	live = mv->tail - mv->head;
	if (mv->head >= mv->cap / 2 && mv->head > 0)
	{
		memmove(mv->rows, mv->rows + mv->head, live * sizeof(RfmMovingRow));
		mv->base += mv->head;
		mv->tail = live;
		mv->head = 0;
	}
	else
	{
		int			newcap = mv->cap * 2;

		if (newcap > (int) (MaxAllocSize / sizeof(RfmMovingRow)))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("window frame too large for clm.rfm_agg")));
		mv->rows = repalloc(mv->rows, newcap * sizeof(RfmMovingRow));
		mv->minq = repalloc(mv->minq, newcap * sizeof(int64));
		mv->maxq = repalloc(mv->maxq, newcap * sizeof(int64));
		mv->cap = newcap;
	}
	/* the deques hold at most the live rows; compact them the same way */
	if (mv->minq_head > 0)
	{
		memmove(mv->minq, mv->minq + mv->minq_head, (mv->minq_tail - mv->minq_head) * sizeof(int64));
		mv->minq_tail -= mv->minq_head;
		mv->minq_head = 0;
	}
	if (mv->maxq_head > 0)
	{
		memmove(mv->maxq, mv->maxq + mv->maxq_head, (mv->maxq_tail - mv->maxq_head) * sizeof(int64));
		mv->maxq_tail -= mv->maxq_head;
		mv->maxq_head = 0;
	}
}

/*
 * rfm_moving_state
 *		The moving state argument, created in the aggregate context on the
 *		first call (the forward function must never return NULL).
 */
static RfmMoving *
rfm_moving_state(FunctionCallInfo fcinfo)
{
	MemoryContext aggcxt = clm_agg_context(fcinfo);
	RfmMoving  *mv;

	if (!PG_ARGISNULL(0))
		return (RfmMoving *) PG_GETARG_POINTER(0);
	mv = MemoryContextAllocZero(aggcxt, sizeof(RfmMoving));
	rfm_state_init(&mv->st);
	mv->cxt = aggcxt;
	mv->cap = 16;
	mv->rows = MemoryContextAlloc(aggcxt, mv->cap * sizeof(RfmMovingRow));
	mv->minq = MemoryContextAlloc(aggcxt, mv->cap * sizeof(int64));
	mv->maxq = MemoryContextAlloc(aggcxt, mv->cap * sizeof(int64));
	return mv;
}

/*
 * rfm_moving_add
 *		Append a row to the frame.
 */
static void
rfm_moving_add(RfmMoving *mv, TimestampTz ts, int128 units, int dscale, bool refund)
{
	MemoryContext old = MemoryContextSwitchTo(mv->cxt);
	int64		seq;
	RfmMovingRow *row;

	rfm_moving_make_room(mv);
	MemoryContextSwitchTo(old);
	seq = mv->base + mv->tail;
	row = &mv->rows[mv->tail++];
	row->ts = ts;
	row->units = units;
	row->dscale = dscale;
	row->frac_groups = mv->st.frac_groups;
	row->refund = refund;

	rfm_add_row(&mv->st, ts, units, refund);
	if (rfm_rows(&mv->st) == 1 || dscale > mv->st.dscale)
	{
		mv->st.dscale = dscale;
		mv->dscale_count = 1;
	}
	else if (dscale == mv->st.dscale)
		mv->dscale_count++;
	if (!refund)
	{
		while (mv->minq_tail > mv->minq_head && rfm_mrow(mv, mv->minq[mv->minq_tail - 1])->ts >= ts)
			mv->minq_tail--;
		mv->minq[mv->minq_tail++] = seq;
		while (mv->maxq_tail > mv->maxq_head && rfm_mrow(mv, mv->maxq[mv->maxq_tail - 1])->ts <= ts)
			mv->maxq_tail--;
		mv->maxq[mv->maxq_tail++] = seq;
	}
}

/*
 * rfm_moving_remove
 *		Remove the head row of the frame, which must be (ts, units).  Returns
 *		false when the state cannot be inverted (see the comment above).
 */
static bool
rfm_moving_remove(RfmMoving *mv, TimestampTz ts, int128 units, int dscale, bool refund)
{
	RfmMovingRow *row;
	int64		seq;
	int128		rowunits;

	if (mv->head >= mv->tail)
		return false;
	seq = mv->base + mv->head;
	row = &mv->rows[mv->head];
	rowunits = row->units * rfm_pow(mv->st.frac_groups - row->frac_groups);
	if (row->ts != ts || rowunits != units || row->refund != refund || row->dscale != dscale)
		return false;
	if (dscale == mv->st.dscale && --mv->dscale_count == 0 && mv->tail - mv->head > 1)
		return false;
	mv->head++;
	mv->st.sum -= rowunits;
	if (refund)
		mv->st.refunds--;
	else
	{
		mv->st.purchases--;
		if (mv->minq_tail > mv->minq_head && mv->minq[mv->minq_head] == seq)
			mv->minq_head++;
		if (mv->maxq_tail > mv->maxq_head && mv->maxq[mv->maxq_head] == seq)
			mv->maxq_head++;
	}
	if (mv->st.purchases > 0)
	{
		mv->st.first_at = rfm_mrow(mv, mv->minq[mv->minq_head])->ts;
		mv->st.last_at = rfm_mrow(mv, mv->maxq[mv->maxq_head])->ts;
	}
	else
	{
		mv->st.first_at = 0;
		mv->st.last_at = 0;
	}
	if (rfm_rows(&mv->st) == 0)
	{
		/* empty frame: start afresh, keeping as_of and the amount kind */
		mv->st.sum = 0;
		mv->st.latest_at = 0;
		mv->dscale_count = 0;
		mv->st.dscale = 0;
	}
	/* latest_at only matters for clm.rfm_final; rows here are <= as_of */
	return true;
}

/*
 * rfm_moving_row
 *		Parse a moving-mode row into units and scale; amtype is the amount
 *		type (n numeric, f double precision, i bigint).  Returns false for a skipped row.
 */
static bool
rfm_moving_row(FunctionCallInfo fcinfo, RfmMoving *mv, char amtype,
			   TimestampTz *ts, int128 *units, int *dscale, bool *refund)
{
	if (!rfm_row_prologue(fcinfo, &mv->st, true, ts))
		return false;
	rfm_set_kind(&mv->st, amtype == 'f' ? RFM_KIND_BINARY : RFM_KIND_DECIMAL);
	*dscale = 0;
	if (amtype == 'f')
	{
		double		amount = PG_GETARG_FLOAT8(2);

		*units = rfm_binary_units(amount);
		*refund = amount < 0;
	}
	else if (amtype == 'i')
	{
		int64		amount = PG_GETARG_INT64(2);

		*units = amount;
		if (__builtin_mul_overflow(*units, rfm_pow(mv->st.frac_groups), units))
			rfm_sum_overflow();
		*refund = amount < 0;
	}
	else
	{
		RfmDecimal	dec;

		rfm_read_numeric(PG_GETARG_DATUM(2), &dec);
		*units = rfm_decimal_units(&mv->st, &dec);
		*dscale = dec.dscale;
		*refund = dec.negative;
	}
	return true;
}

static Datum
rfm_mtrans_common(FunctionCallInfo fcinfo, char amtype)
{
	RfmMoving  *mv = rfm_moving_state(fcinfo);
	TimestampTz ts;
	int128		units;
	int			dscale;
	bool		refund;

	if (rfm_moving_row(fcinfo, mv, amtype, &ts, &units, &dscale, &refund))
		rfm_moving_add(mv, ts, units, dscale, refund);
	PG_RETURN_POINTER(mv);
}

static Datum
rfm_minv_common(FunctionCallInfo fcinfo, char amtype)
{
	RfmMoving  *mv = rfm_moving_state(fcinfo);
	TimestampTz ts;
	int128		units;
	int			dscale;
	bool		refund;

	if (rfm_moving_row(fcinfo, mv, amtype, &ts, &units, &dscale, &refund) &&
		!rfm_moving_remove(mv, ts, units, dscale, refund))
		PG_RETURN_NULL();
	PG_RETURN_POINTER(mv);
}

/*
 * rfm_mtrans_* / rfm_minv_*
 *		Forward and inverse transition functions of the moving mode of
 *		clm.rfm_agg (MSFUNC / MINVFUNC); see the comment above.
 */
Datum
rfm_mtrans_numeric(PG_FUNCTION_ARGS)
{
	return rfm_mtrans_common(fcinfo, 'n');
}

Datum
rfm_mtrans_float8(PG_FUNCTION_ARGS)
{
	return rfm_mtrans_common(fcinfo, 'f');
}

Datum
rfm_mtrans_int8(PG_FUNCTION_ARGS)
{
	return rfm_mtrans_common(fcinfo, 'i');
}

Datum
rfm_minv_numeric(PG_FUNCTION_ARGS)
{
	return rfm_minv_common(fcinfo, 'n');
}

Datum
rfm_minv_float8(PG_FUNCTION_ARGS)
{
	return rfm_minv_common(fcinfo, 'f');
}

Datum
rfm_minv_int8(PG_FUNCTION_ARGS)
{
	return rfm_minv_common(fcinfo, 'i');
}

/*
 * rfm_mfinal
 *		Final function of the moving mode (MFINALFUNC).
 */
Datum
rfm_mfinal(PG_FUNCTION_ARGS)
{
	RfmMoving  *mv;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	mv = (RfmMoving *) PG_GETARG_POINTER(0);
	if (!(mv->st.flags & RFM_FLAG_ASOF))
		PG_RETURN_NULL();
	return rfm_build(fcinfo, &mv->st, mv->st.as_of);
}
