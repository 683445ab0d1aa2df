/*-------------------------------------------------------------------------
 *
 * rfm_score.c
 *	  RFM thresholds and scores: the aggregates clm.rfm_thresholds(rfm
 *	  [, bins]) (exact, tie-safe quantile breakpoints per dimension, parallel
 *	  with serialize/deserialize), the constructor clm.rfm_thresholds(float8[]
 *	  x3) for business-defined breakpoints, and clm.rfm_score.
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
PG_FUNCTION_INFO_V1(rfm_thresholds_make);
PG_FUNCTION_INFO_V1(rfm_score);

#define RFM_DIMS			3	/* recency, frequency, monetary */
#define RFM_THR_VERSION		1
#define RFM_DEFAULT_BINS	5

static const char *const rfm_dim_name[RFM_DIMS] = {"recency", "frequency", "monetary"};

/* the aggregate state: every value per dimension (exact quantiles) */
typedef struct RfmThrState
{
	int			bins;
	int64		n[RFM_DIMS];
	int64		cap[RFM_DIMS];
	double	   *v[RFM_DIMS];
} RfmThrState;

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
 * rfm_dims
 *		The three scored values of a clm.rfm row as doubles; has[d] false for
 *		NULL.  Non-finite values are errors (a hand-built row could hold
 *		them; clm.rfm_agg never makes them).
 */
static void
rfm_dims(FunctionCallInfo fcinfo, TupleDesc *cache, HeapTupleHeader th, double *x, bool *has)
{
	Datum		values[RFM_NATTS];
	bool		nulls[RFM_NATTS];
	int			d;

	rfm_deform(th, RFM_NATTS, values, nulls, cache, fcinfo->flinfo->fn_mcxt);
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
 * rfm_check_bins
 *		bins must be 2..9: scores are the digits of r*100 + f*10 + m.
 */
static void
rfm_check_bins(int bins)
{
	if (bins < RFM_MIN_BINS || bins > RFM_MAX_BINS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bins must be between %d and %d", RFM_MIN_BINS, RFM_MAX_BINS),
				 errdetail("bins is %d.", bins),
				 errhint("Scores are the digits of r*100 + f*10 + m, so at most 9 bins fit.")));
}

static RfmThrState *
rfm_thr_new(MemoryContext cxt, int bins)
{
	RfmThrState *st = MemoryContextAllocZero(cxt, sizeof(RfmThrState));

	st->bins = bins;
	return st;
}

/*
 * rfm_thr_push
 *		Append a value, growing the array geometrically in cxt (huge
 *		allocations allowed: one double per customer).  -0 is stored as 0:
 *		the two are one value, and a breakpoint taken from the values must
 *		not print as -0 depending on which of them the sort put first.
 */
static inline void
rfm_thr_push(RfmThrState *st, int d, double v, MemoryContext cxt)
{
	if (st->n[d] >= st->cap[d])
	{
		int64		newcap = st->cap[d] ? st->cap[d] * 2 : 1024;

		if ((Size) newcap * sizeof(double) > MaxAllocHugeSize)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many rows for clm.rfm_thresholds")));
		if (st->v[d] == NULL)
			st->v[d] = MemoryContextAllocHuge(cxt, newcap * sizeof(double));
		else
			st->v[d] = repalloc_huge(st->v[d], newcap * sizeof(double));
		st->cap[d] = newcap;
	}
	st->v[d][st->n[d]++] = v + 0.0;
}

/*
 * rfm_thresholds_trans
 *		Transition: collect the three values of a customer.  NULL rows and
 *		NULL fields are skipped (a customer with refunds only has no
 *		recency).  bins (second argument, optional) must not change.
 */
Datum
rfm_thresholds_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	RfmThrState *st;
	int			bins = RFM_DEFAULT_BINS;
	double		x[RFM_DIMS];
	bool		has[RFM_DIMS];
	int			d;

	aggcxt = clm_agg_context(fcinfo);
	if (PG_NARGS() > 2)
	{
		if (PG_ARGISNULL(2))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("bins must not be null")));
		bins = PG_GETARG_INT32(2);
		rfm_check_bins(bins);
	}
	if (PG_ARGISNULL(0))
		st = rfm_thr_new(aggcxt, bins);
	else
	{
		st = (RfmThrState *) PG_GETARG_POINTER(0);
		if (st->bins != bins)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("bins must be the same for every row"),
					 errdetail("The aggregate started with %d bins and now has %d.", st->bins, bins)));
	}
	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(st);
	rfm_dims(fcinfo, (TupleDesc *) &fcinfo->flinfo->fn_extra, PG_GETARG_HEAPTUPLEHEADER(1), x, has);
	for (d = 0; d < RFM_DIMS; d++)
		if (has[d])
			rfm_thr_push(st, d, x[d], aggcxt);
	PG_RETURN_POINTER(st);
}

/*
 * rfm_thresholds_combine
 *		Concatenate the value lists; a NULL side is an empty partial state
 *		and the right-hand state is copied, never kept (wrong context).
 */
Datum
rfm_thresholds_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	RfmThrState *a;
	RfmThrState *b;
	int			d;
	int64		i;

	aggcxt = clm_agg_context(fcinfo);
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	b = (RfmThrState *) PG_GETARG_POINTER(1);
	if (PG_ARGISNULL(0))
		a = rfm_thr_new(aggcxt, b->bins);
	else
	{
		a = (RfmThrState *) PG_GETARG_POINTER(0);
		if (a->bins != b->bins)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("bins must be the same for every row"),
					 errdetail("Partial states have %d and %d bins.", a->bins, b->bins)));
	}
	for (d = 0; d < RFM_DIMS; d++)
		for (i = 0; i < b->n[d]; i++)
			rfm_thr_push(a, d, b->v[d][i], aggcxt);
	PG_RETURN_POINTER(a);
}

/*
 * rfm_thresholds_serialize
 *		version byte, bins, then per dimension a count and the values.
 */
Datum
rfm_thresholds_serialize(PG_FUNCTION_ARGS)
{
	RfmThrState *st;
	StringInfoData buf;
	int			d;
	int64		i;

	(void) clm_agg_context(fcinfo);
	st = (RfmThrState *) PG_GETARG_POINTER(0);
	pq_begintypsend(&buf);
	pq_sendbyte(&buf, RFM_THR_VERSION);
	pq_sendint32(&buf, st->bins);
	for (d = 0; d < RFM_DIMS; d++)
	{
		pq_sendint64(&buf, st->n[d]);
		for (i = 0; i < st->n[d]; i++)
			pq_sendfloat8(&buf, st->v[d][i]);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

static void
rfm_thr_malformed(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid serialized clm.rfm_thresholds state"),
			 errdetail("%s", detail)));
}

/*
 * rfm_thresholds_deserialize
 *		Inverse of the above; checks version, bins, counts against the bytes
 *		actually present, and that every value is finite.
 */
Datum
rfm_thresholds_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *raw;
	const char *p;
	int64		left;
	RfmThrState *st;
	int			d;
	int64		i;
	int32		bins;

	(void) clm_agg_context(fcinfo);
	raw = PG_GETARG_BYTEA_PP(0);
	p = VARDATA_ANY(raw);
	left = VARSIZE_ANY_EXHDR(raw);
	if (left < 5 || (uint8) p[0] != RFM_THR_VERSION)
		rfm_thr_malformed("The header is missing or has an unknown version.");
	memcpy(&bins, p + 1, 4);
	bins = (int32) pg_ntoh32((uint32) bins);
	if (bins < RFM_MIN_BINS || bins > RFM_MAX_BINS)
		rfm_thr_malformed("The number of bins is out of range.");
	p += 5;
	left -= 5;
	st = rfm_thr_new(CurrentMemoryContext, bins);
	for (d = 0; d < RFM_DIMS; d++)
	{
		uint64		n;

		if (left < 8)
			rfm_thr_malformed("The state is truncated.");
		memcpy(&n, p, 8);
		n = pg_ntoh64(n);
		p += 8;
		left -= 8;
		if (n > (uint64) left / 8)
			rfm_thr_malformed("A value count exceeds the bytes present.");
		st->n[d] = st->cap[d] = (int64) n;
		st->v[d] = n ? palloc_extended(n * sizeof(double), MCXT_ALLOC_HUGE) : NULL;
		for (i = 0; i < (int64) n; i++)
		{
			uint64		bits;
			double		v;

			memcpy(&bits, p, 8);
			bits = pg_ntoh64(bits);
			memcpy(&v, &bits, 8);
			if (isnan(v) || isinf(v))
				rfm_thr_malformed("A value is not finite.");
			st->v[d][i] = v;
			p += 8;
			left -= 8;
		}
	}
	if (left != 0)
		rfm_thr_malformed("There are trailing bytes.");
	PG_RETURN_POINTER(st);
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
static void
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
 * rfm_thresholds_final
 *		Sort each dimension (in place: FINALFUNC_MODIFY = READ_WRITE) and
 *		compute its breakpoints.  No rows: NULL.
 */
Datum
rfm_thresholds_final(PG_FUNCTION_ARGS)
{
	RfmThrState *st;
	double		bufs[RFM_DIMS][RFM_MAX_BINS];
	double	   *b[RFM_DIMS];
	int			nb[RFM_DIMS];
	int			d;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (RfmThrState *) PG_GETARG_POINTER(0);
	if (st->n[0] == 0 && st->n[1] == 0 && st->n[2] == 0)
		PG_RETURN_NULL();
	for (d = 0; d < RFM_DIMS; d++)
	{
		b[d] = bufs[d];
		nb[d] = st->bins - 1;
		rfm_breaks(st->v[d], st->n[d], st->bins, b[d]);
	}
	return rfm_make_thresholds(fcinfo, b, nb);
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
	for (d = 0; d < RFM_DIMS; d++)
	{
		nulls[d] = !has[d];
		if (has[d])
		{
			int			g = rfm_bin(c->b[d], c->nb[d], x[d]);

			values[d] = Int32GetDatum(d == 0 ? c->nb[d] + 2 - g : g);
		}
	}
	nulls[3] = nulls[0] || nulls[1] || nulls[2];
	if (!nulls[3])
		values[3] = Int32GetDatum(DatumGetInt32(values[0]) * 100 +
								  DatumGetInt32(values[1]) * 10 +
								  DatumGetInt32(values[2]));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(c->tupdesc, values, nulls)));
}
