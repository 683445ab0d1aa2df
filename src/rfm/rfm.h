/*-------------------------------------------------------------------------
 *
 * rfm.h
 *	  Declarations shared by the RFM files of clm (rfm_agg.c,
 *	  rfm_agg_by_customer.c, rfm_score.c, rfm_segment.c).
 *
 * IDENTIFICATION
 *	  src/rfm/rfm.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_RFM_H
#define CLM_RFM_H

#include "fmgr.h"
#include "access/htup.h"
#include "access/tupdesc.h"
#include "datatype/timestamp.h"

#include "rfm_numeric.h"

#define RFM_FLAG_ASOF		0x01	/* as_of is set (clm.rfm_agg) */

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
	uint8		version;		/* RFM_LAYOUT (rfm_agg.c) */
	uint8		kind;			/* RFM_KIND_* (rfm_agg.c): how amounts are summed */
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
#define RFM_MAX_BINS		9

/*
 * A blessed copy, in fn_mcxt, of the TupleDesc of a function's composite
 * result; callers cache it in their fn_extra so a call per row does not look
 * it up again.
 */
extern TupleDesc rfm_result_tupdesc(FunctionCallInfo fcinfo);

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
 * Count one row in a state: a finite timestamp and a non-NULL amount of the
 * given type.  Errors for NaN, infinite or out-of-range amounts, for mixing
 * decimal and binary amounts, and for sums beyond 38 digits.  A refund (a
 * negative amount) can only be added to a full state.
 */
extern void rfm_add_decimal(RfmState *st, TimestampTz ts, const RfmDecimal *dec);
extern void rfm_add_float8(RfmState *st, TimestampTz ts, double amount);
extern void rfm_add_int8(RfmState *st, TimestampTz ts, int64 amount);

/*
 * The as_of rule of clm.rfm_agg and clm.rfm_agg_by_customer: a non-NULL,
 * finite as_of, the same for every row of one aggregate state.
 * rfm_take_as_of returns the as_of of a row (isnull, as_of) for a state
 * that has taken (has) the as_of current so far, or raises the error;
 * rfm_check_as_of, in rfm_agg.c, holds the checks and the errors, and runs
 * only when a row does not simply repeat the state's as_of.
 */
extern void rfm_check_as_of(bool isnull, TimestampTz as_of, bool has, TimestampTz current);

static inline TimestampTz
rfm_take_as_of(bool isnull, TimestampTz as_of, bool has, TimestampTz current)
{
	if (unlikely(isnull || !has || as_of != current))
		rfm_check_as_of(isnull, as_of, has, current);
	return as_of;
}

/* add state b to state a (associative and commutative) */
extern void rfm_merge_into(RfmState *a, const RfmState *b);

/* error unless a state from outside this backend is well formed */
extern void rfm_validate_state(const RfmState *st);

/* the clm.rfm row of a state at as_of, or NULL if it counted no row */
extern HeapTuple rfm_form_tuple(TupleDesc tupdesc, const RfmState *st, TimestampTz as_of);

/* the fields of that row (RFM_NATTS); false if the state counted no row */
extern bool rfm_state_values(const RfmState *st, TimestampTz as_of, Datum *values, bool *nulls);

/* ----------------------------------------------------------------------
 * Scoring (rfm_score.c) and segments (rfm_segment.c), for clm.rfm_table
 * ----------------------------------------------------------------------
 */
#define RFM_DIMS			3	/* recency, frequency, monetary */

/* error unless 2 <= bins <= RFM_MAX_BINS */
extern void rfm_check_bins(int bins);

/*
 * The scored values (recency, frequency, monetary) of the fields of a
 * clm.rfm row as doubles; has[d] false for NULL.  Errors for non-finite
 * values.
 */
extern void rfm_dims_of(const Datum *values, const bool *nulls, double *x, bool *has);

/* breakpoints b[0..bins-2] of n values (x is sorted in place) */
extern void rfm_breaks(double *x, int64 n, int bins, double *b);

/*
 * The scores of one customer's values under breakpoints b (nb[d] per
 * dimension): g[d] in 1..nb[d]+1, recency reversed; 0 where !has[d].
 */
extern void rfm_score_dims(const double b[RFM_DIMS][RFM_MAX_BINS], const int nb[RFM_DIMS],
						   const double *x, const bool *has, int *g);

/*
 * The segment of scores v[0..2] (each 1..RFM_MAX_BINS) in a rule set, or
 * NULL when no rule covers them.  The rule set is cached in
 * fcinfo->flinfo->fn_extra, which the caller must leave to it.
 */
extern const char *rfm_segment_name(FunctionCallInfo fcinfo, const int *v, const char *ruleset);

#endif							/* CLM_RFM_H */
