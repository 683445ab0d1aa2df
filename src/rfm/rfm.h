/*-------------------------------------------------------------------------
 *
 * rfm.h
 *	  Declarations shared by the RFM files of clm (rfm_agg.c, rfm_score.c,
 *	  rfm_segment.c).
 *
 * IDENTIFICATION
 *	  src/rfm/rfm.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_RFM_H
#define CLM_RFM_H

#include "postgres.h"
#include "fmgr.h"
#include "access/htup.h"
#include "access/tupdesc.h"
#include "datatype/timestamp.h"

/*
 * The version byte of a stored clm.rfm_state (the in-memory layout below,
 * which is also what a table stores); RFM_LAYOUT_V1 states, from clm before
 * the short form, are converted when read.  The text and binary forms keep
 * their own version, RFM_STATE_FORMAT: their fields did not change.
 */
#define RFM_LAYOUT			2
#define RFM_LAYOUT_V1		1
#define RFM_STATE_FORMAT	1

/* how the amounts of a state are summed */
#define RFM_KIND_NONE		0	/* no amount yet */
#define RFM_KIND_DECIMAL	1	/* numeric and bigint: units of 10000^-F */
#define RFM_KIND_BINARY		2	/* double precision: units of 2^-64 */

#define RFM_FLAG_ASOF		0x01	/* as_of is set (clm.rfm_agg) */
#define RFM_KNOWN_FLAGS		RFM_FLAG_ASOF

/*
 * The state, both in memory (modified in place by the transition function)
 * and as the SQL type clm.rfm_state (a varlena, STORAGE plain).
 *
 * It comes in two lengths.  Until a refund arrives, the state is "short":
 * it ends before refunds, which is then 0, and the latest row is the last
 * purchase.  That keeps the state of almost every customer at 64 bytes, one
 * small allocation per group in a GROUP BY (80 bytes would take a 128-byte
 * chunk), which measurably speeds up clm.rfm_agg over many customers.  A
 * refund makes the state "full" (RFM_FULL_SIZE): the transition and combine
 * functions then return a widened copy, which the executor adopts in place
 * of the old one.  Read refunds and latest_at only through
 * rfm_state_refunds() and rfm_state_latest(); write them only to a full
 * state.
 */
typedef struct RfmState
{
	int32		vl_len_;		/* varlena header: RFM_SHORT_SIZE or RFM_FULL_SIZE */
	uint8		version;		/* RFM_LAYOUT */
	uint8		kind;			/* RFM_KIND_* */
	uint8		flags;			/* RFM_FLAG_* */
	uint8		frac_groups;	/* decimal: sum is in units of 10000^-F */
	int32		dscale;			/* decimal: largest display scale seen */
	int32		reserved;		/* zero */
	int64		purchases;		/* rows with amount >= 0 */
	TimestampTz first_at;		/* first purchase (valid if purchases > 0) */
	TimestampTz last_at;		/* last purchase (valid if purchases > 0) */
	TimestampTz as_of;			/* valid if RFM_FLAG_ASOF */
	int128		sum;			/* purchases plus refunds, in units */
	/* a short state ends here */
	int64		refunds;		/* rows with amount < 0 */
	TimestampTz latest_at;		/* latest row of any kind (if rows > 0) */
} RfmState;

#define RFM_SHORT_SIZE		offsetof(RfmState, refunds)
#define RFM_FULL_SIZE		sizeof(RfmState)

/* does the state carry refunds and latest_at (is it full)? */
static inline bool
rfm_state_is_full(const RfmState *st)
{
	return VARSIZE(st) == RFM_FULL_SIZE;
}

/* the number of refunds (0 in a short state) */
static inline int64
rfm_state_refunds(const RfmState *st)
{
	return rfm_state_is_full(st) ? st->refunds : 0;
}

/* the latest row of any kind (a short state's is its last purchase) */
static inline TimestampTz
rfm_state_latest(const RfmState *st)
{
	return rfm_state_is_full(st) ? st->latest_at : st->last_at;
}

/* the number of rows that went into a state */
static inline int64
rfm_rows(const RfmState *st)
{
	return st->purchases + rfm_state_refunds(st);
}

/*
 * A parsed numeric amount: its digits as an integer, the number of
 * fractional base-10000 digit groups they stand for (negative when the
 * stored digits end before the units), the display scale and the sign.
 */
typedef struct RfmDecimal
{
	int128		digits;			/* absolute value of the stored digits */
	int			frac_groups;	/* value = digits * 10000^-frac_groups */
	int			int_groups;		/* base-10000 groups before the point */
	int			dscale;
	bool		negative;
} RfmDecimal;

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

/* an empty full state, header included */
extern void rfm_state_init(RfmState *st);

/*
 * Make a short state full where it lies; st must point to RFM_FULL_SIZE
 * bytes.
 */
extern void rfm_state_widen_in_place(RfmState *st);

/*
 * A clm.rfm_state datum from outside this backend's own transition
 * functions (a table, a worker, a user's aggregate), detoasted, converted
 * from the version 1 layout if need be, and validated.
 */
extern RfmState *rfm_state_from_datum(Datum d);

/*
 * Count one row in a state: a finite timestamp and a non-NULL amount of the
 * given type.  Errors for NaN, infinite or out-of-range amounts, for mixing
 * decimal and binary amounts, and for sums beyond 38 digits.  A refund (a
 * negative amount) can only be added to a full state.
 */
extern void rfm_add_decimal(RfmState *st, TimestampTz ts, const RfmDecimal *dec);
extern void rfm_add_float8(RfmState *st, TimestampTz ts, double amount);
extern void rfm_add_int8(RfmState *st, TimestampTz ts, int64 amount);

/*
 * Parse a numeric amount for rfm_add_decimal; errors for NaN, infinities and
 * amounts beyond 36 significant digits.
 */
extern void rfm_read_numeric(Datum d, RfmDecimal *out);

/* add state b to state a (associative and commutative) */
extern void rfm_merge_into(RfmState *a, const RfmState *b);

/* error unless a state from outside this backend is well formed */
extern void rfm_validate_state(const RfmState *st);

/* the clm.rfm row of a state at as_of, or NULL if it counted no row */
extern HeapTuple rfm_form_tuple(TupleDesc tupdesc, const RfmState *st, TimestampTz as_of);

#endif							/* CLM_RFM_H */
