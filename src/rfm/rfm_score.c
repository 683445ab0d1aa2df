/*-------------------------------------------------------------------------
 *
 * rfm_score.c
 *	  RFM thresholds and scores: the aggregates clm.rfm_thresholds(rfm
 *	  [, bins]) (exact, tie-safe quantile breakpoints per dimension) over the
 *	  mergeable state clm.rfm_thresholds_state, the constructor
 *	  clm.rfm_thresholds(float8[] x3) for business-defined breakpoints, and
 *	  clm.rfm_score.
 *
 * The state keeps every value of every dimension (the breakpoints are exact
 * quantiles, so nothing less will do) in one varlena: a real SQL type, so
 * that Citus can combine worker partials, postgres_fdw users can merge
 * per-shard states, and states can be stored.  In memory each dimension has
 * room for thr_capacity(the largest count) values, the unused ones zero, so
 * the transition function appends in place and the state grows by doubling;
 * text and binary forms carry only the values in use.  The 1.0 catalog's
 * internal-state functions (rfm_thresholds_trans, _combine, _serialize,
 * _deserialize, _final) are kept over the same state, for databases not yet
 * updated.
 *
 * Breakpoints are values, and a value's score is 1 + the number of
 * breakpoints <= the value (recency reversed), so identical values always
 * share a score.  How breakpoints are chosen when ties collapse quantiles is
 * described at rfm_breaks() and in doc/rfm.md.
 *
 * IDENTIFICATION
 *	  src/rfm/rfm_score.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "clm.h"
#include "rfm.h"

/* the fewest bins per dimension (the most are RFM_MAX_BINS) */
#define RFM_MIN_BINS		2

PG_FUNCTION_INFO_V1(rfm_thresholds_trans);
PG_FUNCTION_INFO_V1(rfm_thresholds_combine);
PG_FUNCTION_INFO_V1(rfm_thresholds_serialize);
PG_FUNCTION_INFO_V1(rfm_thresholds_deserialize);
PG_FUNCTION_INFO_V1(rfm_thresholds_final);
PG_FUNCTION_INFO_V1(rfm_thresholds_state_in);
PG_FUNCTION_INFO_V1(rfm_thresholds_state_out);
PG_FUNCTION_INFO_V1(rfm_thresholds_state_recv);
PG_FUNCTION_INFO_V1(rfm_thresholds_state_send);
PG_FUNCTION_INFO_V1(rfm_thresholds_state_trans);
PG_FUNCTION_INFO_V1(rfm_thresholds_state_combine);
PG_FUNCTION_INFO_V1(rfm_thresholds_state_final);
PG_FUNCTION_INFO_V1(rfm_thresholds_make);
PG_FUNCTION_INFO_V1(rfm_score);

#define RFM_THR_VERSION		1
#define RFM_DEFAULT_BINS	5

static const char *const rfm_dim_name[RFM_DIMS] = {"recency", "frequency", "monetary"};

/*
 * The state, in memory and as clm.rfm_thresholds_state: the values of
 * dimension d are v[d * cap .. d * cap + n[d] - 1], cap = thr_cap(st).
 */
typedef struct RfmThrState
{
	int32		vl_len_;		/* varlena header */
	uint8		version;		/* RFM_THR_VERSION */
	uint8		bins;
	uint16		reserved;		/* zero */
	int64		n[RFM_DIMS];
	double		v[FLEXIBLE_ARRAY_MEMBER];
} RfmThrState;

#define RFM_THR_HEADER		offsetof(RfmThrState, v)
#define RFM_THR_MIN_CAP		256
/* the most values per dimension: 3 * 8 * 2^25 bytes stay below 1 GB */
#define RFM_THR_MAX_CAP		(INT64CONST(1) << 25)
/* the binary form: version, bins, three counts, then the values */
#define RFM_THR_WIRE_HEADER	(1 + 1 + 3 * 8)

/*
 * rfm_deform
 *		Deform a composite datum into values/nulls, checking its attribute
 *		count.  The TupleDesc is looked up once per call site and kept in
 *		*cache (fn_mcxt), so a call per row does not go to the type cache.
 */
void
rfm_deform(HeapTupleHeader th, int natts, Datum *values, bool *nulls,
		   TupleDesc *cache, MemoryContext cxt)
{
	Oid			typid = HeapTupleHeaderGetTypeId(th);
	int32		typmod = HeapTupleHeaderGetTypMod(th);
	HeapTupleData tuple;

	if (*cache == NULL || (*cache)->tdtypeid != typid || (*cache)->tdtypmod != typmod)
	{
		TupleDesc	td = lookup_rowtype_tupdesc(typid, typmod);
		MemoryContext old = MemoryContextSwitchTo(cxt);

		if (td->natts != natts)
			elog(ERROR, "composite argument has %d attributes, expected %d", td->natts, natts);
		*cache = CreateTupleDescCopy(td);
		MemoryContextSwitchTo(old);
		ReleaseTupleDesc(td);
	}
	tuple.t_len = HeapTupleHeaderGetDatumLength(th);
	ItemPointerSetInvalid(&(tuple.t_self));
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = th;
	heap_deform_tuple(&tuple, *cache, values, nulls);
}

/*
 * rfm_dims_of
 *		The three scored values of the fields of a clm.rfm row as doubles;
 *		has[d] false for NULL.  Non-finite values are errors (a hand-built
 *		row could hold them; clm.rfm_agg never makes them).
 */
void
rfm_dims_of(const Datum *values, const bool *nulls, double *x, bool *has)
{
	int			d;

	has[0] = !nulls[RFM_ATT_RECENCY - 1];
	has[1] = !nulls[RFM_ATT_FREQUENCY - 1];
	has[2] = !nulls[RFM_ATT_MONETARY - 1];
	if (has[0])
		x[0] = DatumGetFloat8(values[RFM_ATT_RECENCY - 1]);
	if (has[1])
		x[1] = (double) DatumGetInt64(values[RFM_ATT_FREQUENCY - 1]);
	if (has[2])
		x[2] = rfm_numeric_to_double(values[RFM_ATT_MONETARY - 1]);
	for (d = 0; d < RFM_DIMS; d++)
		if (has[d] && (isnan(x[d]) || isinf(x[d])))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("%s of an RFM row must be a finite number", rfm_dim_name[d]),
					 errhint("Build RFM rows with clm.rfm_agg.")));
}

/*
 * rfm_dims
 *		rfm_dims_of for a clm.rfm composite datum.
 */
static void
rfm_dims(FunctionCallInfo fcinfo, TupleDesc *cache, HeapTupleHeader th, double *x, bool *has)
{
	Datum		values[RFM_NATTS];
	bool		nulls[RFM_NATTS];

	rfm_deform(th, RFM_NATTS, values, nulls, cache, fcinfo->flinfo->fn_mcxt);
	rfm_dims_of(values, nulls, x, has);
}

/*
 * rfm_check_bins
 *		bins must be 2..9: scores are the digits of r*100 + f*10 + m.
 */
void
rfm_check_bins(int bins)
{
	if (bins < RFM_MIN_BINS || bins > RFM_MAX_BINS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bins must be between %d and %d", RFM_MIN_BINS, RFM_MAX_BINS),
				 errdetail("bins is %d.", bins),
				 errhint("Scores are the digits of r*100 + f*10 + m, so at most 9 bins fit.")));
}

/* The room per dimension of a state whose largest count is m. */
static int64
thr_capacity(int64 m)
{
	int64		cap = RFM_THR_MIN_CAP;

	while (cap < m)
		cap *= 2;
	return cap;
}

/* The room per dimension of a state (from its length). */
static inline int64
thr_cap(const RfmThrState *st)
{
	return (VARSIZE(st) - RFM_THR_HEADER) / (RFM_DIMS * sizeof(double));
}

static inline double *
thr_values(RfmThrState *st, int d)
{
	return st->v + d * thr_cap(st);
}

/*
 * thr_alloc
 *		An empty state with room for cap values per dimension, in cxt.
 */
static RfmThrState *
thr_alloc(int bins, int64 cap, MemoryContext cxt)
{
	Size		size = RFM_THR_HEADER + (Size) cap * RFM_DIMS * sizeof(double);
	RfmThrState *st;

	if (cap > RFM_THR_MAX_CAP)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many customers for clm.rfm_thresholds"),
				 errdetail("A state holds at most " INT64_FORMAT " values per dimension.", RFM_THR_MAX_CAP),
				 errhint("Compute thresholds over a sample of the customers.")));
	st = MemoryContextAllocZero(cxt, size);
	SET_VARSIZE(st, size);
	st->version = RFM_THR_VERSION;
	st->bins = (uint8) bins;
	return st;
}

/*
 * thr_with_room
 *		st itself if it may be changed and has room for extra[d] more values
 *		in each dimension, else a copy in cxt with enough room (the caller
 *		disposes of st).
 */
static RfmThrState *
thr_with_room(RfmThrState *st, const int64 extra[RFM_DIMS], bool may_change, MemoryContext cxt)
{
	int64		need = 0;
	RfmThrState *r;
	int			d;

	for (d = 0; d < RFM_DIMS; d++)
		need = Max(need, st->n[d] + extra[d]);
	if (may_change && need <= thr_cap(st))
		return st;
	r = thr_alloc(st->bins, thr_capacity(need), cxt);
	for (d = 0; d < RFM_DIMS; d++)
	{
		memcpy(thr_values(r, d), thr_values(st, d), st->n[d] * sizeof(double));
		r->n[d] = st->n[d];
	}
	return r;
}

/* Both states must have the same number of bins. */
static void
thr_check_bins(int a, int b)
{
	if (a != b)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bins must be the same for every row"),
				 errdetail("The states have %d and %d bins.", a, b)));
}

/*
 * thr_add_row
 *		The transition of one row (st may be NULL): st changed in place, or
 *		a new state in cxt (see thr_with_room).  NULL rows and NULL fields
 *		are skipped (a customer with refunds only has no recency).  bins
 *		(third argument, optional) must not change.  -0 is stored as 0: the
 *		two are one value, and a breakpoint taken from the values must not
 *		print as -0 depending on which of them the sort put first.
 */
static RfmThrState *
thr_add_row(FunctionCallInfo fcinfo, RfmThrState *st, MemoryContext cxt)
{
	int			bins = RFM_DEFAULT_BINS;
	double		x[RFM_DIMS];
	bool		has[RFM_DIMS];
	int64		extra[RFM_DIMS];
	int			d;

	if (PG_NARGS() > 2)
	{
		if (PG_ARGISNULL(2))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("bins must not be null")));
		bins = PG_GETARG_INT32(2);
		rfm_check_bins(bins);
	}
	if (st == NULL)
		st = thr_alloc(bins, RFM_THR_MIN_CAP, cxt);
	else if (st->bins != bins)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bins must be the same for every row"),
				 errdetail("The aggregate started with %d bins and now has %d.", st->bins, bins)));
	if (PG_ARGISNULL(1))
		return st;
	rfm_dims(fcinfo, (TupleDesc *) &fcinfo->flinfo->fn_extra, PG_GETARG_HEAPTUPLEHEADER(1), x, has);
	for (d = 0; d < RFM_DIMS; d++)
		extra[d] = has[d] ? 1 : 0;
	st = thr_with_room(st, extra, true, cxt);
	for (d = 0; d < RFM_DIMS; d++)
		if (has[d])
			thr_values(st, d)[st->n[d]++] = x[d] + 0.0;
	return st;
}

/*
 * thr_merge
 *		Add b's values to a: in place if a may be changed and has room,
 *		else into a new state in cxt.
 */
static RfmThrState *
thr_merge(RfmThrState *a, const RfmThrState *b, bool in_place, MemoryContext cxt)
{
	RfmThrState *r;
	int			d;

	thr_check_bins(a->bins, b->bins);
	r = thr_with_room(a, b->n, in_place, cxt);
	for (d = 0; d < RFM_DIMS; d++)
	{
		memcpy(thr_values(r, d) + r->n[d], thr_values((RfmThrState *) b, d), b->n[d] * sizeof(double));
		r->n[d] += b->n[d];
	}
	return r;
}

/* ----------------------------------------------------------------------
 * Text and binary forms: version, bins, the three counts, then the values
 * of each dimension in turn.  The text form is the binary form in
 * hexadecimal, so both go through one validator.
 * ----------------------------------------------------------------------
 */

static void
rfm_thr_malformed(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid clm.rfm_thresholds_state value"),
			 errdetail("%s", detail),
			 errhint("Build states with clm.rfm_thresholds_state_agg.")));
}

static void
thr_write(StringInfo buf, RfmThrState *st)
{
	int			d;
	int64		i;

	pq_sendbyte(buf, RFM_THR_VERSION);
	pq_sendbyte(buf, st->bins);
	for (d = 0; d < RFM_DIMS; d++)
		pq_sendint64(buf, st->n[d]);
	for (d = 0; d < RFM_DIMS; d++)
	{
		double	   *v = thr_values(st, d);

		for (i = 0; i < st->n[d]; i++)
			pq_sendfloat8(buf, v[i]);
	}
}

/*
 * thr_read
 *		A state from its binary form, in cxt: version, bins, counts against
 *		the bytes present, every value finite (-0 read as 0).
 */
static RfmThrState *
thr_read(StringInfo buf, MemoryContext cxt)
{
	int64		left = buf->len - buf->cursor;
	int			bins;
	int64		n[RFM_DIMS];
	int64		total = 0;
	RfmThrState *st;
	int			d;
	int64		i;

	if (left < RFM_THR_WIRE_HEADER)
		rfm_thr_malformed("The state is shorter than its header.");
	if (pq_getmsgbyte(buf) != RFM_THR_VERSION)
		rfm_thr_malformed("The format version is unknown.");
	bins = pq_getmsgbyte(buf);
	if (bins < RFM_MIN_BINS || bins > RFM_MAX_BINS)
		rfm_thr_malformed("The number of bins is out of range.");
	for (d = 0; d < RFM_DIMS; d++)
	{
		n[d] = pq_getmsgint64(buf);
		if (n[d] < 0 || n[d] > RFM_THR_MAX_CAP)
			rfm_thr_malformed("A value count is out of range.");
		total += n[d];
	}
	if (total * 8 != left - RFM_THR_WIRE_HEADER)
		rfm_thr_malformed("The value counts do not match the length of the state.");
	st = thr_alloc(bins, thr_capacity(Max(n[0], Max(n[1], n[2]))), cxt);
	for (d = 0; d < RFM_DIMS; d++)
	{
		double	   *v = thr_values(st, d);

		for (i = 0; i < n[d]; i++)
		{
			double		x = pq_getmsgfloat8(buf);

			if (isnan(x) || isinf(x))
				rfm_thr_malformed("A value is not finite.");
			v[i] = x + 0.0;
		}
		st->n[d] = n[d];
	}
	pq_getmsgend(buf);
	return st;
}

/* A state from a SQL argument (its input function validated it). */
static RfmThrState *
thr_arg(FunctionCallInfo fcinfo, int argno)
{
	return (RfmThrState *) PG_DETOAST_DATUM(PG_GETARG_DATUM(argno));
}

Datum
rfm_thresholds_state_send(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	pq_begintypsend(&buf);
	thr_write(&buf, thr_arg(fcinfo, 0));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
rfm_thresholds_state_recv(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(thr_read((StringInfo) PG_GETARG_POINTER(0), CurrentMemoryContext));
}

/* Text output: the binary form in hexadecimal. */
Datum
rfm_thresholds_state_out(PG_FUNCTION_ARGS)
{
	StringInfoData bin;
	char	   *out;

	initStringInfo(&bin);
	thr_write(&bin, thr_arg(fcinfo, 0));
	out = palloc_extended((Size) bin.len * 2 + 1, MCXT_ALLOC_HUGE);
	out[hex_encode(bin.data, bin.len, out)] = '\0';
	PG_RETURN_CSTRING(out);
}

/* Text input: hexadecimal digits of the binary form, validated like it. */
Datum
rfm_thresholds_state_in(PG_FUNCTION_ARGS)
{
	const char *input = PG_GETARG_CSTRING(0);
	size_t		len = strlen(input);
	StringInfoData bin;
	size_t		i;

	initStringInfo(&bin);
	for (i = 0; i < len; i++)
		if (!isxdigit((unsigned char) input[i]))
			break;
	if (i < len || len % 2 != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type clm.rfm_thresholds_state: \"%.40s\"", input),
				 errdetail("The text form is an even number of hexadecimal digits.")));
	enlargeStringInfo(&bin, len / 2);
	bin.len = hex_decode(input, len, bin.data);
	PG_RETURN_POINTER(thr_read(&bin, CurrentMemoryContext));
}

/*
 * rfm_thresholds_state_trans
 *		Transition of clm.rfm_thresholds and clm.rfm_thresholds_state_agg:
 *		the state is changed in place (it is the aggregate's own); a first
 *		state, or one that must grow, is made in the per-row context and the
 *		executor copies it into the aggregate context, freeing the old.
 */
Datum
rfm_thresholds_state_trans(PG_FUNCTION_ARGS)
{
	(void) clm_agg_context(fcinfo);
	PG_RETURN_POINTER(thr_add_row(fcinfo,
								  PG_ARGISNULL(0) ? NULL : (RfmThrState *) PG_GETARG_POINTER(0),
								  CurrentMemoryContext));
}

/*
 * rfm_thresholds_state_combine
 *		Combine function of the aggregates and transition function of
 *		clm.rfm_thresholds_merge; a NULL side is an empty partial state.
 *		The first argument is changed in place only inside an aggregate
 *		(where it is the aggregate's own state).
 */
Datum
rfm_thresholds_state_combine(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	if (PG_ARGISNULL(0))
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));
	PG_RETURN_POINTER(thr_merge(thr_arg(fcinfo, 0), thr_arg(fcinfo, 1),
								AggCheckCallContext(fcinfo, NULL) != 0,
								CurrentMemoryContext));
}

/* The internal-state functions of the 1.0 catalog, over the same state. */
typedef struct RfmThrHolder
{
	RfmThrState *st;
} RfmThrHolder;

/* Replace the holder's state by next, freeing the old one if it moved. */
static void
thr_hold(RfmThrHolder *h, RfmThrState *next)
{
	if (h->st != NULL && h->st != next)
		pfree(h->st);
	h->st = next;
}

Datum
rfm_thresholds_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = clm_agg_context(fcinfo);
	RfmThrHolder *h = PG_ARGISNULL(0) ? NULL : (RfmThrHolder *) PG_GETARG_POINTER(0);

	if (h == NULL)
		h = MemoryContextAllocZero(aggcxt, sizeof(RfmThrHolder));
	thr_hold(h, thr_add_row(fcinfo, h->st, aggcxt));
	PG_RETURN_POINTER(h);
}

Datum
rfm_thresholds_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = clm_agg_context(fcinfo);
	RfmThrHolder *a = PG_ARGISNULL(0) ? NULL : (RfmThrHolder *) PG_GETARG_POINTER(0);
	RfmThrHolder *b = PG_ARGISNULL(1) ? NULL : (RfmThrHolder *) PG_GETARG_POINTER(1);

	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
	{
		a = MemoryContextAllocZero(aggcxt, sizeof(RfmThrHolder));
		a->st = thr_alloc(b->st->bins, RFM_THR_MIN_CAP, aggcxt);
	}
	thr_hold(a, thr_merge(a->st, b->st, true, aggcxt));
	PG_RETURN_POINTER(a);
}

Datum
rfm_thresholds_serialize(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	(void) clm_agg_context(fcinfo);
	pq_begintypsend(&buf);
	thr_write(&buf, ((RfmThrHolder *) PG_GETARG_POINTER(0))->st);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
rfm_thresholds_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = clm_agg_context(fcinfo);
	bytea	   *raw = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	RfmThrHolder *h = MemoryContextAllocZero(aggcxt, sizeof(RfmThrHolder));

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw));
	h->st = thr_read(&buf, aggcxt);
	PG_RETURN_POINTER(h);
}

/*
 * rfm_sort_small: qsort specialised for doubles, with the comparison
 * inlined; for inputs too small for the radix sort below to pay off.
 */
#define ST_SORT rfm_sort_small
#define ST_ELEMENT_TYPE double
#define ST_COMPARE(a, b) ((*(a) > *(b)) - (*(a) < *(b)))
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

#define RFM_RADIX_MIN	1024

/*
 * rfm_sort_double
 *		Sort finite doubles ascending.
 *
 * A million customers mean three sorts of a million values each, and a
 * comparison sort spent most of rfm_thresholds' time there (the frequency
 * dimension is mostly ties, which comparison sorts handle poorly).  This is
 * an LSD radix sort on the order-preserving integer image of the doubles:
 * flip all bits of negatives, set the sign bit of the rest.  All eight byte
 * histograms come from one pass, and a byte that is the same in every key
 * costs no pass at all, so small integers (frequencies) and amounts of
 * similar magnitude need only a few passes.  (-0.0 would sort just before
 * +0.0; rfm_thr_push never stores it.)
 */
static void
rfm_sort_double(double *x, int64 n)
{
	uint64	   *a;
	uint64	   *b;
	int64	  (*count)[256];
	int64		i;
	int			byte;

	if (n < RFM_RADIX_MIN)
	{
		rfm_sort_small(x, n);
		return;
	}
	a = palloc_extended(n * sizeof(uint64), MCXT_ALLOC_HUGE);
	b = palloc_extended(n * sizeof(uint64), MCXT_ALLOC_HUGE);
	count = palloc0(8 * sizeof(*count));
	for (i = 0; i < n; i++)
	{
		uint64		k;

		memcpy(&k, &x[i], sizeof(k));
		k = (k & UINT64CONST(0x8000000000000000)) ? ~k : k | UINT64CONST(0x8000000000000000);
		a[i] = k;
		for (byte = 0; byte < 8; byte++)
			count[byte][(k >> (8 * byte)) & 0xFF]++;
	}
	for (byte = 0; byte < 8; byte++)
	{
		int64		pos = 0;
		int			v;
		uint64	   *t;

		if (count[byte][(a[0] >> (8 * byte)) & 0xFF] == n)
			continue;			/* this byte is the same in every key */
		for (v = 0; v < 256; v++)
		{
			int64		c = count[byte][v];

			count[byte][v] = pos;
			pos += c;
		}
		for (i = 0; i < n; i++)
			b[count[byte][(a[i] >> (8 * byte)) & 0xFF]++] = a[i];
		t = a;
		a = b;
		b = t;
	}
	for (i = 0; i < n; i++)
	{
		uint64		k = a[i];

		k = (k & UINT64CONST(0x8000000000000000)) ? k & ~UINT64CONST(0x8000000000000000) : ~k;
		memcpy(&x[i], &k, sizeof(k));
	}
	pfree(a);
	pfree(b);
	pfree(count);
}

/*
 * rfm_breaks
 *		Breakpoints b[0..bins-2] of n sorted values; value x gets the group
 *		1 + #{b <= x}.
 *
 * Let v_1 < ... < v_d be the distinct values and c_i the number of values
 * <= v_i.
 * - d >= bins: cut j (j = 1 .. bins-1) goes after the distinct value i
 *   whose c_i is nearest to j*n/bins (the smaller i on a tie), subject to
 *   leaving at least one distinct value for every group before and after;
 *   b_j = v_{i+1}.  Every group is non-empty, each is as close to an equal
 *   share as the ties allow, and a heavy tie (55% one-order customers)
 *   takes one group instead of emptying the next ones.
 * - 2 <= d < bins: some groups must stay empty; the distinct values are
 *   spread over the whole range, v_i in group 1 + round((i-1)(bins-1)/(d-1)),
 *   so the lowest value scores 1 and the highest scores bins.
 * - d = 1: every value in the middle group (bins+1)/2 (integer division).
 * - no values: every breakpoint is +Infinity.
 */
void
rfm_breaks(double *x, int64 n, int bins, double *b)
{
	double	   *vals;
	int64	   *cum;
	int64		d = 0;
	int64		i;
	int			j;

	if (n == 0)
	{
		for (j = 0; j < bins - 1; j++)
			b[j] = get_float8_infinity();
		return;
	}
	rfm_sort_double(x, n);
	vals = palloc_extended(n * sizeof(double), MCXT_ALLOC_HUGE);
	cum = palloc_extended(n * sizeof(int64), MCXT_ALLOC_HUGE);
	for (i = 0; i < n; i++)
	{
		if (d == 0 || x[i] != vals[d - 1])
			vals[d++] = x[i];
		cum[d - 1] = i + 1;
	}

	if (d >= bins)
	{
		int64		prev = -1;

		for (j = 1; j < bins; j++)
		{
			double		target = (double) n * j / bins;
			int64		lo = prev + 1;
			int64		hi = d - 1 - (bins - j);	/* last allowed cut */
			int64		a = lo,
						z = hi;
			int64		best;

			/* first i in [lo, hi] with cum[i] >= target, or hi */
			while (a < z)
			{
				int64		mid = a + (z - a) / 2;

				if ((double) cum[mid] >= target)
					z = mid;
				else
					a = mid + 1;
			}
			best = a;
			if (best > lo && fabs((double) cum[best - 1] - target) <= fabs((double) cum[best] - target))
				best = best - 1;
			b[j - 1] = vals[best + 1];
			prev = best;
		}
	}
	else
	{
		int			group[RFM_MAX_BINS];

		for (i = 0; i < d; i++)
			group[i] = d == 1 ? (bins + 1) / 2 :
				1 + (int) floor((double) i * (bins - 1) / (d - 1) + 0.5);
		for (j = 1; j < bins; j++)
		{
			/* smallest value whose group is above j */
			b[j - 1] = get_float8_infinity();
			for (i = 0; i < d; i++)
				if (group[i] > j)
				{
					b[j - 1] = vals[i];
					break;
				}
		}
	}
	pfree(vals);
	pfree(cum);
}

/*
 * rfm_make_thresholds
 *		The composite clm.rfm_thresholds from three C arrays.
 */
static Datum
rfm_make_thresholds(FunctionCallInfo fcinfo, double *b[RFM_DIMS], int nb[RFM_DIMS])
{
	TupleDesc	tupdesc;
	Datum		values[RFM_DIMS];
	bool		nulls[RFM_DIMS] = {false, false, false};
	int			d;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	for (d = 0; d < RFM_DIMS; d++)
	{
		Datum	   *elems = palloc(sizeof(Datum) * Max(nb[d], 1));
		int			k;

		for (k = 0; k < nb[d]; k++)
			elems[k] = Float8GetDatum(b[d][k]);
		values[d] = PointerGetDatum(construct_array(elems, nb[d], FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * thr_final
 *		Sort each dimension of st in place and compute its breakpoints.  No
 *		values: NULL.
 */
static Datum
thr_final(FunctionCallInfo fcinfo, RfmThrState *st)
{
	double		bufs[RFM_DIMS][RFM_MAX_BINS];
	double	   *b[RFM_DIMS];
	int			nb[RFM_DIMS];
	int			d;

	if (st->n[0] == 0 && st->n[1] == 0 && st->n[2] == 0)
		PG_RETURN_NULL();
	for (d = 0; d < RFM_DIMS; d++)
	{
		b[d] = bufs[d];
		nb[d] = st->bins - 1;
		rfm_breaks(thr_values(st, d), st->n[d], st->bins, b[d]);
	}
	return rfm_make_thresholds(fcinfo, b, nb);
}

/*
 * rfm_thresholds_state_final
 *		The breakpoints of a state: final function of clm.rfm_thresholds
 *		(FINALFUNC_MODIFY = READ_WRITE: it sorts the aggregate's state in
 *		place) and callable on stored or merged states, which it copies.
 */
Datum
rfm_thresholds_state_final(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (AggCheckCallContext(fcinfo, NULL))
		return thr_final(fcinfo, (RfmThrState *) PG_GETARG_POINTER(0));
	return thr_final(fcinfo, (RfmThrState *) PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0)));
}

/* Final function of clm.rfm_thresholds in the 1.0 catalog. */
Datum
rfm_thresholds_final(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	return thr_final(fcinfo, ((RfmThrHolder *) PG_GETARG_POINTER(0))->st);
}

/*
 * rfm_read_breaks
 *		Validate one breakpoint array (1-D, 1..8 elements, no NULL or NaN,
 *		non-decreasing; +/-Infinity allowed) and copy it into out.
 */
static int
rfm_read_breaks(ArrayType *arr, const char *name, double *out)
{
	Datum	   *elems;
	bool	   *enulls;
	int			n;
	int			k;

	if (ARR_ELEMTYPE(arr) != FLOAT8OID)
		elog(ERROR, "%s must be a double precision array", name);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", name)));
	deconstruct_array(arr, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &enulls, &n);
	if (n < RFM_MIN_BINS - 1 || n > RFM_MAX_BINS - 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must have between %d and %d breakpoints", name, RFM_MIN_BINS - 1, RFM_MAX_BINS - 1),
				 errdetail("It has %d.", n),
				 errhint("n breakpoints make n + 1 scores; scores are single digits.")));
	for (k = 0; k < n; k++)
	{
		if (enulls[k])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain nulls", name)));
		out[k] = DatumGetFloat8(elems[k]);
		if (isnan(out[k]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not contain NaN", name)));
		if (k > 0 && out[k] < out[k - 1])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be in ascending order", name),
					 errdetail("Breakpoint %d (%g) is below breakpoint %d (%g).", k + 1, out[k], k, out[k - 1])));
	}
	return n;
}

/*
 * rfm_thresholds_make
 *		clm.rfm_thresholds(recency_breaks, frequency_breaks, monetary_breaks):
 *		business-defined breakpoints, validated here and again on use.
 */
Datum
rfm_thresholds_make(PG_FUNCTION_ARGS)
{
	double		bufs[RFM_DIMS][RFM_MAX_BINS];
	double	   *b[RFM_DIMS];
	int			nb[RFM_DIMS];
	int			d;

	for (d = 0; d < RFM_DIMS; d++)
	{
		char		name[32];

		snprintf(name, sizeof(name), "%s_breaks", rfm_dim_name[d]);
		b[d] = bufs[d];
		nb[d] = rfm_read_breaks(PG_GETARG_ARRAYTYPE_P(d), name, b[d]);
	}
	return rfm_make_thresholds(fcinfo, b, nb);
}

/* what rfm_score keeps in fn_extra between rows */
typedef struct RfmScoreCache
{
	TupleDesc	tupdesc;		/* of clm.rfm_score */
	TupleDesc	rfmdesc;		/* of clm.rfm */
	TupleDesc	thrdesc;		/* of clm.rfm_thresholds */
	Size		thrlen;			/* bytes of the cached thresholds (0: none) */
	char	   *thr;			/* copy of the thresholds datum */
	double		b[RFM_DIMS][RFM_MAX_BINS];
	int			nb[RFM_DIMS];
} RfmScoreCache;

/*
 * rfm_score_load
 *		Parse and validate thresholds (a composite that may have been built
 *		by hand with ROW(...), bypassing the constructor).
 */
static void
rfm_score_load(RfmScoreCache *c, HeapTupleHeader th, MemoryContext cxt)
{
	Datum		values[RFM_DIMS];
	bool		nulls[RFM_DIMS];
	int			d;
	Size		len = HeapTupleHeaderGetDatumLength(th);

	rfm_deform(th, RFM_DIMS, values, nulls, &c->thrdesc, cxt);
	c->thrlen = 0;
	for (d = 0; d < RFM_DIMS; d++)
	{
		char		name[32];

		snprintf(name, sizeof(name), "%s_breaks", rfm_dim_name[d]);
		if (nulls[d])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s of the thresholds must not be null", name)));
		c->nb[d] = rfm_read_breaks(DatumGetArrayTypeP(values[d]), name, c->b[d]);
	}
	if (c->thr)
		pfree(c->thr);
	c->thr = MemoryContextAlloc(cxt, len);
	memcpy(c->thr, th, len);
	c->thrlen = len;
}

/*
 * rfm_bin
 *		1 + the number of breakpoints <= x (binary search).
 */
static inline int
rfm_bin(const double *b, int nb, double x)
{
	int			lo = 0,
				hi = nb;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (b[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo + 1;
}

/*
 * rfm_score_dims
 *		The scores of one customer (rfm.h): 1 + the number of breakpoints <=
 *		the value, recency reversed so that the most recent get the highest.
 */
void
rfm_score_dims(const double b[RFM_DIMS][RFM_MAX_BINS], const int nb[RFM_DIMS],
			   const double *x, const bool *has, int *g)
{
	int			d;

	for (d = 0; d < RFM_DIMS; d++)
	{
		g[d] = 0;
		if (has[d])
		{
			int			k = rfm_bin(b[d], nb[d], x[d]);

			g[d] = d == 0 ? nb[d] + 2 - k : k;
		}
	}
}

/*
 * rfm_score
 *		clm.rfm_score(rfm, thresholds): r (reversed: the most recent get the
 *		highest), f, m and score = r*100 + f*10 + m.  A NULL dimension (no
 *		purchases: no recency) gives NULL for it and for score.  The parsed
 *		thresholds are cached per call site and reused while the same bytes
 *		come in, so a million rows parse them once.
 */
Datum
rfm_score(PG_FUNCTION_ARGS)
{
	HeapTupleHeader rfm = PG_GETARG_HEAPTUPLEHEADER(0);
	HeapTupleHeader th = PG_GETARG_HEAPTUPLEHEADER(1);
	RfmScoreCache *c = (RfmScoreCache *) fcinfo->flinfo->fn_extra;
	double		x[RFM_DIMS];
	bool		has[RFM_DIMS];
	int			g[RFM_DIMS];
	Datum		values[RFM_SCORE_NATTS];
	bool		nulls[RFM_SCORE_NATTS];
	Size		len = HeapTupleHeaderGetDatumLength(th);
	int			d;

	if (c == NULL)
	{
		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(RfmScoreCache));
		c->tupdesc = rfm_result_tupdesc(fcinfo);
		fcinfo->flinfo->fn_extra = c;
	}
	if (c->thrlen != len || memcmp(c->thr, th, len) != 0)
		rfm_score_load(c, th, fcinfo->flinfo->fn_mcxt);

	rfm_dims(fcinfo, &c->rfmdesc, rfm, x, has);
	rfm_score_dims(c->b, c->nb, x, has, g);
	for (d = 0; d < RFM_DIMS; d++)
	{
		nulls[d] = !has[d];
		values[d] = Int32GetDatum(g[d]);
	}
	nulls[3] = nulls[0] || nulls[1] || nulls[2];
	values[3] = Int32GetDatum(g[0] * 100 + g[1] * 10 + g[2]);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(c->tupdesc, values, nulls)));
}
