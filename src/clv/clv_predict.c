/*-------------------------------------------------------------------------
 *
 * clv_predict.c
 *	  Predictions from fitted BTYD models: BG/NBD and Pareto/NBD expected
 *	  purchases, P(alive), purchase-count probabilities, Gamma-Gamma expected
 *	  spend and the discounted CLV sum.
 *
 * Every function takes the model as its composite type (clm.bgnbd,
 * clm.paretonbd, clm.gamma_gamma), so a fitted model can be passed straight
 * from the fitting aggregates.  Scoring runs once per customer, so each
 * call site caches, while the model's bytes are unchanged: the decoded
 * parameters, a memo of the expensive part by (x, T, ...), and per x the
 * connection-formula coefficients (see the comments at each).  Every cache
 * holds only values that a call computes the same way without it, so a
 * prediction has the same bits whatever the call site evaluated before
 * (a cold call, a view scoring all customers, a Citus worker's share).
 *
 * Formulas: the published models only: BG/NBD (Fader, Hardie and Lee 2005,
 * "Counting your customers the easy way"), Pareto/NBD (Schmittlein, Morrison
 * and Colombo 1987; Fader and Hardie's note on its P(alive)) and Gamma-Gamma
 * (Fader, Hardie and Lee 2005, "RFM and CLV").
 *
 * IDENTIFICATION
 *	  src/clv/clv_predict.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "clm.h"
#include "clm_math.h"
#include "clv_fit.h"
#include "clv_input.h"
#include "clv_predict.h"
#include "hyp2f1.h"
#include "pnbd_a0.h"

PG_FUNCTION_INFO_V1(clm_bgnbd_expected_purchases);
PG_FUNCTION_INFO_V1(clm_bgnbd_p_alive);
PG_FUNCTION_INFO_V1(clm_bgnbd_expected_purchases_new);
PG_FUNCTION_INFO_V1(clm_bgnbd_purchase_probability);
PG_FUNCTION_INFO_V1(clm_paretonbd_expected_purchases);
PG_FUNCTION_INFO_V1(clm_paretonbd_p_alive);
PG_FUNCTION_INFO_V1(clm_paretonbd_expected_purchases_new);
PG_FUNCTION_INFO_V1(clm_paretonbd_purchase_probability);
PG_FUNCTION_INFO_V1(clm_gamma_gamma_expected_spend);
PG_FUNCTION_INFO_V1(clm_clv);
PG_FUNCTION_INFO_V1(clm_clv_paretonbd);
PG_FUNCTION_INFO_V1(clm_clv_mbgnbd);
PG_FUNCTION_INFO_V1(clm_clv_simple);
PG_FUNCTION_INFO_V1(clm_mbgnbd_expected_purchases);
PG_FUNCTION_INFO_V1(clm_mbgnbd_p_alive);
PG_FUNCTION_INFO_V1(clm_mbgnbd_expected_purchases_new);
PG_FUNCTION_INFO_V1(clm_mbgnbd_purchase_probability);
PG_FUNCTION_INFO_V1(clm_bgbb_p_alive);
PG_FUNCTION_INFO_V1(clm_bgbb_expected_transactions);
PG_FUNCTION_INFO_V1(clm_bgbb_dert);
PG_FUNCTION_INFO_V1(clm_sbg_survival);
PG_FUNCTION_INFO_V1(clm_sbg_retention);
PG_FUNCTION_INFO_V1(clm_sbg_expected_lifetime);
PG_FUNCTION_INFO_V1(clm_sbg_derl);
PG_FUNCTION_INFO_V1(clm_sbg_clv);

/* days in a month, by the Julian year: 365.25 / 12 */
#define CLM_DAYS_PER_MONTH	(365.25 / 12.0)
/* longest CLV horizon accepted: 100 years */
#define CLM_MAX_HORIZON_MONTHS	1200

/* ------------------------------------------------------------------------
 * Decoding and validating the model composites
 * ------------------------------------------------------------------------
 */

#define MODEL_MAX_PARAMS 4

typedef struct ModelCache
{
	Oid			typid;
	int32		typmod;
	TupleDesc	tupdesc;
	uint32		len;			/* length of the cached composite, 0 = none */
	char	   *bytes;			/* copy of the composite datum */
	double		params[MODEL_MAX_PARAMS];
	struct BgConn *bgconn;		/* BG/NBD per-x connection coefficients */
	HTAB	   *memo;			/* per-(x, T, ...) results, see memo_slot */
	int64		memo_lookups;
	int64		memo_hits;
	bool		memo_off;		/* too few hits to pay for the lookups */
	MemoryContext mcxt;			/* where the cache lives */
} ModelCache;

/*
 * model_params
 *		The first nparams fields of the composite argument argno, checked to
 *		be non-NULL, finite and positive.  Up to two model arguments per call
 *		site are cached (clm.clv takes two).
 */
static const double *
model_params(FunctionCallInfo fcinfo, int argno, int slot, int nparams,
			 const char *const *names, const char *typname)
{
	HeapTupleHeader th = PG_GETARG_HEAPTUPLEHEADER(argno);
	uint32		len = HeapTupleHeaderGetDatumLength(th);
	ModelCache *cache;
	Oid			typid;
	int32		typmod;
	HeapTupleData tup;
	Datum		values[MODEL_MAX_PARAMS + 16];
	bool		nulls[MODEL_MAX_PARAMS + 16];
	int			i;

	if (fcinfo->flinfo->fn_extra == NULL)
		fcinfo->flinfo->fn_extra =
			MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, 2 * sizeof(ModelCache));
	cache = &((ModelCache *) fcinfo->flinfo->fn_extra)[slot];
	cache->mcxt = fcinfo->flinfo->fn_mcxt;

	if (cache->len == len && memcmp(cache->bytes, th, len) == 0)
		return cache->params;

	typid = HeapTupleHeaderGetTypeId(th);
	typmod = HeapTupleHeaderGetTypMod(th);
	if (cache->tupdesc == NULL || cache->typid != typid || cache->typmod != typmod)
	{
		TupleDesc	td = lookup_rowtype_tupdesc(typid, typmod);
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (cache->tupdesc)
			FreeTupleDesc(cache->tupdesc);
		cache->tupdesc = CreateTupleDescCopy(td);
		MemoryContextSwitchTo(old);
		ReleaseTupleDesc(td);
		cache->typid = typid;
		cache->typmod = typmod;
	}
	if (cache->tupdesc->natts < nparams || cache->tupdesc->natts > MODEL_MAX_PARAMS + 16)
		elog(ERROR, "unexpected composite for %s", typname);

	tup.t_len = len;
	ItemPointerSetInvalid(&(tup.t_self));
	tup.t_tableOid = InvalidOid;
	tup.t_data = th;
	heap_deform_tuple(&tup, cache->tupdesc, values, nulls);

	for (i = 0; i < nparams; i++)
	{
		double		v;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s parameter %s must not be NULL", typname, names[i]),
					 errhint("Pass a model returned by the fitting aggregate, or build one with ROW(...)::clm.%s.",
							 typname)));
		v = DatumGetFloat8(values[i]);
		if (isnan(v) || isinf(v) || v <= 0.0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s parameter %s must be a positive finite number", typname, names[i]),
					 errdetail("The value is %g.", v),
					 errhint("Pass a model returned by the fitting aggregate, or build one with ROW(...)::clm.%s.",
							 typname)));
		cache->params[i] = v;
	}

	if (cache->bytes)
		pfree(cache->bytes);
	if (cache->bgconn)
		pfree(cache->bgconn);
	cache->bgconn = NULL;
	if (cache->memo)
		hash_destroy(cache->memo);
	cache->memo = NULL;
	cache->memo_lookups = cache->memo_hits = 0;
	cache->memo_off = false;
	cache->len = 0;
	cache->bytes = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, len);
	memcpy(cache->bytes, th, len);
	cache->len = len;
	return cache->params;
}

/* The cache slot of a model argument (after model_params). */
static ModelCache *
model_cache(FunctionCallInfo fcinfo, int slot)
{
	return &((ModelCache *) fcinfo->flinfo->fn_extra)[slot];
}

/*
 * Memoization of the expensive part of a prediction.  The 2F1-based BG/NBD
 * expectation depends on the customer only through (x, T) (P(alive), the
 * only part that depends on t_x, and the spend are cheap), and summaries
 * built at day resolution have few distinct (x, T) pairs: a customer base of
 * millions has thousands.  So each call site keeps, next to the decoded
 * model, a hash table from (x, T, the call's other arguments) to that part,
 * dropped when the model changes and capped at MEMO_MAX entries (beyond
 * that, values are computed without being stored).  When the first
 * MEMO_PROBE lookups hit less than 10 % of the time (continuous times, no
 * repeats), the memo is switched off for the rest of the query.  Results
 * are identical to recomputing them.
 */
#define MEMO_MAX 200000
/* lookups after which a memo with under 10 % hits is switched off */
#define MEMO_PROBE 20000

typedef struct MemoKey
{
	double		v[5];
} MemoKey;

typedef struct MemoEntry
{
	MemoKey		key;
	double		value;
} MemoEntry;

/*
 * memo_slot
 *		The entry for key (found or new), or NULL when the memo is full.
 */
static MemoEntry *
memo_slot(ModelCache *mc, const MemoKey *key, bool *found)
{
	MemoEntry  *e;

	*found = false;
	if (mc->memo_off)
		return NULL;
	/* nearly all distinct: stop paying for lookups */
	if (mc->memo_lookups >= MEMO_PROBE && mc->memo_hits < mc->memo_lookups / 10)
	{
		mc->memo_off = true;
		if (mc->memo)
			hash_destroy(mc->memo);
		mc->memo = NULL;
		return NULL;
	}
	mc->memo_lookups++;
	if (mc->memo == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(MemoKey);
		ctl.entrysize = sizeof(MemoEntry);
		ctl.hcxt = mc->mcxt;
		mc->memo = hash_create("clm prediction memo", 1024, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	if (hash_get_num_entries(mc->memo) >= MEMO_MAX)
	{
		e = hash_search(mc->memo, key, HASH_FIND, NULL);
		*found = (e != NULL);
	}
	else
		e = hash_search(mc->memo, key, HASH_ENTER, found);
	if (*found)
		mc->memo_hits++;
	return e;
}

static const char *const bgnbd_names[] = {"r", "alpha", "a", "b"};
static const char *const paretonbd_names[] = {"r", "alpha", "s", "beta"};
static const char *const gg_names[] = {"p", "q", "gamma"};
static const char *const mbgnbd_names[] = {"r", "alpha", "a", "b"};
static const char *const bgbb_names[] = {"alpha", "beta", "gamma", "delta"};
static const char *const sbg_names[] = {"alpha", "beta"};

/* ------------------------------------------------------------------------
 * Input checks shared by the predictions
 * ------------------------------------------------------------------------
 */

/* A finite, non-negative argument (times, horizons, counts, amounts). */
static void
check_nonneg(double v, const char *name)
{
	clm_check_finite_float8(v, name);
	if (v < 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", name),
				 errdetail("The value is %g.", v)));
}

/* The purchase count of a probability: a count cannot be negative. */
static void
check_n(int32 n)
{
	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n must not be negative"),
				 errdetail("The value is %d.", n)));
}

/*
 * The last line of defence: a prediction that is not finite is an error,
 * never a NaN or an infinity handed to the caller.
 */
static double
finite_or_error(double v, const char *what)
{
	if (!isfinite(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s is not finite for these inputs", what),
				 errhint("Check that the model parameters and times are in a sensible range.")));
	return v;
}

/* expm1(y) / y, 1 at y = 0 */
static double
expm1_ratio(double y)
{
	if (fabs(y) < 1e-5)
		return 1.0 + y * (0.5 + y / 6.0);
	return expm1(y) / y;
}

/* ------------------------------------------------------------------------
 * BG/NBD
 * ------------------------------------------------------------------------
 */

/*
 * bg_p_alive
 *		1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)), in logs so
 *		that x = 200 and beyond neither overflows nor loses the answer.
 */
static double
bg_p_alive(const double *m, double x, double t_x, double t)
{
	double		r = m[0],
				alpha = m[1],
				a = m[2],
				b = m[3];
	double		l;

	if (x == 0.0)
		return 1.0;
	l = log(a / (b + x - 1.0)) + (r + x) * log((alpha + t) / (alpha + t_x));
	if (l > 0.0)
		return exp(-l) / (1.0 + exp(-l));
	return 1.0 / (1.0 + exp(l));
}

/*
 * The BG/NBD expectation at 1/2 < z < 1 by the connection formula.  Its
 * Gamma coefficients depend on the model and x only, so scoring caches them
 * per x (for x < BG_CONN_MEMO) with the decoded model; a CLV evaluates the
 * expectation at twelve horizons with one set.
 */
#define BG_CONN_MEMO 256

typedef struct BgConn
{
	int			state;			/* 0 not prepared, 1 usable, -1 not usable */
	double		A,
				eps,
				C,
				d,
				c1,
				c2;
} BgConn;

/*
 * bg_conn_prepare
 *		Coefficients of 2F1(A, eps; C; z) = c1 2F1(A, eps; 1-d; 1-z)
 *		+ c2 (1-z)^d 2F1(C-A, C-eps; 1+d; 1-z), d = C - A - eps.  Not usable
 *		(the series path is taken instead) near a = 1 (cancellation in
 *		(1 - ...)/(a-1)), near integer d (degenerate formula), at large C
 *		(the direct series is fast there), at d > 6 (the first series then
 *		has c = 1-d < -5 and its terms spike, costing digits) or at a pole
 *		of Gamma(C).
 */
static void
bg_conn_prepare(double r, double a, double b, double x, BgConn *bc)
{
	bc->A = a + b - 1.0 - r;
	bc->eps = a - 1.0;
	bc->C = a + b + x - 1.0;
	bc->d = bc->C - bc->A - bc->eps;
	bc->state = -1;
	if (fabs(bc->eps) < 0.01 || fabs(bc->d - rint(bc->d)) < 0.01 || bc->C > 20.0 || bc->d > 6.0 ||
		(bc->C <= 0.0 && bc->C == floor(bc->C)) ||
		(bc->A <= 0.0 && bc->A == floor(bc->A)))
		return;
	bc->c1 = clm_gamma_ratio(bc->C, bc->d, bc->C - bc->A, bc->C - bc->eps);
	bc->c2 = clm_gamma_ratio(bc->C, -bc->d, bc->A, bc->eps);
	if (isfinite(bc->c1) && isfinite(bc->c2))
		bc->state = 1;
}

/*
 * ey_accept
 *		Accept a computed E[Y(h) | alive] only when it is trustworthy: finite,
 *		within [0, (r+x) h / (alpha+T)] (the expectation if nobody ever
 *		dropped out), and not the small difference of parts more than 1e6
 *		times larger (scale), which would have lost over six digits.  Tiny
 *		negative rounding results are set to 0.
 */
static bool
ey_accept(double *v, double scale, double r, double x, double alpha, double T, double h)
{
	double		bound = (r + x) * h / (alpha + T);

	if (!isfinite(*v) || !isfinite(scale) || scale > 1e6 * fabs(*v) + 1e-300)
		return false;
	if (*v < 0.0)
	{
		if (-*v > 1e-12 * scale)
			return false;
		*v = 0.0;
	}
	return *v <= bound * (1.0 + 1e-9);
}

/*
 * bg_ey_alive_conn
 *		E[Y(h) | alive] for z > 1/2 through the connection formula; false when
 *		not applicable (the caller then sums the series).
 */
static bool
bg_ey_alive_conn(const BgConn *bc, double alpha, double T, double h, double *result)
{
	double		w,
				L,
				f1,
				f2,
				F;

	if (bc == NULL || bc->state != 1 || h <= alpha + T)	/* z <= 1/2 */
		return false;
	L = -log1p(h / (alpha + T));
	w = exp(L);
	if (!clm_hyp2f1_series(bc->A, bc->eps, 1.0 - bc->d, w, 500, &f1) ||
		!clm_hyp2f1_series(bc->C - bc->A, bc->C - bc->eps, 1.0 + bc->d, w, 500, &f2))
		return false;
	{
		double		t1 = bc->c1 * f1;
		double		t2 = bc->c2 * exp(bc->d * L) * f2;
		double		e = exp(bc->eps * L);
		double		scale;

		F = t1 + t2;
		*result = bc->C * (-expm1(bc->eps * L) - e * (F - 1.0)) / bc->eps;
		scale = fabs(bc->C / bc->eps) * (fabs(expm1(bc->eps * L)) + e * (fabs(t1) + fabs(t2) + 1.0));
		return ey_accept(result, scale, bc->C - bc->A, 0.0, alpha, T, h);
	}
}

/*
 * bg_conn_for
 *		The cached coefficients for x, or a prepared local copy in *tmp.
 */
static BgConn *
bg_conn_for(ModelCache *mc, const double *m, double x, BgConn *tmp)
{
	BgConn	   *bc;

	if (mc != NULL && x < BG_CONN_MEMO)
	{
		if (mc->bgconn == NULL)
			mc->bgconn = MemoryContextAllocZero(mc->mcxt,
												BG_CONN_MEMO * sizeof(BgConn));
		bc = &mc->bgconn[(int) x];
	}
	else
	{
		bc = tmp;
		bc->state = 0;
	}
	if (bc->state == 0)
		bg_conn_prepare(m[0], m[2], m[3], x, bc);
	return bc;
}

/* log1p(u) / u, 1 at u = 0 (u > -1) */
static double
log1p_ratio(double u)
{
	if (fabs(u) < 1e-5)
		return 1.0 - u * (0.5 - u / 3.0);
	return log1p(u) / u;
}

/* the most terms bg_ey_alive_nbsum sums before it gives up */
#define BG_NBSUM_MAX 200000

/*
 * bg_ey_alive_nbsum
 *		E[Y(h) | alive] as a sum of non-negative terms, for the models where
 *		both forms above cancel: C = a+b+x-1 large (a tiny with b huge, or a
 *		and b both huge, which fits of very regular buyers give), where the
 *		bracket 1 - (1-z)^(r+x) 2F1(r+x, b+x; C; z) is the small difference
 *		of numbers near 1.  Writing 1 = (1-z)^n sum_k (n)_k z^k / k!
 *		(n = r+x) and subtracting term by term,
 *
 *			E = C sum_{k>=1} pi_k D_k,  D_k = (1 - (b+x)_k / (C)_k) / (a-1)
 *
 *		with pi_k the negative binomial (n, z) probabilities (E is C D_K
 *		averaged over K).  (b+x)_k / (C)_k = prod_{j<k} (1 - eps/(C+j)),
 *		eps = a-1, so D_k = expm1_ratio(S) * sum_{j<k} log1p_ratio(-eps/(C+j))
 *		/ (C+j) with S the log of that product: every D_k is positive and
 *		regular at a = 1.  The weights are summed in logs relative to the
 *		mode (pi_0 may underflow).  Needs C > 0; false when more than
 *		BG_NBSUM_MAX terms would be needed (horizons very long against
 *		alpha + T: the mean of K is (r+x) h / (alpha+T)).
 */
static bool
bg_ey_alive_nbsum(double r, double alpha, double a, double b, double x,
				  double T, double h, double *result)
{
	double		n = r + x;
	double		eps = a - 1.0;
	double		C = a + b + x - 1.0;
	double		q = h / (alpha + T);
	double		z = q / (1.0 + q);
	double		lz = log(z);
	double		mode = n > 1.0 ? floor((n - 1.0) * q) : 0.0;
	double		lmode,
				lw,
				dsum = 0.0,		/* sum_{j<k} log1p_ratio(-eps/(C+j)) / (C+j) */
				sum = 0.0;
	int			k;

	if (!(C > 0.0) || !(h > 0.0) || mode > BG_NBSUM_MAX)
		return false;
	lmode = clm_lgamma(n + mode) - clm_lgamma(n) - clm_lgamma(mode + 1.0)
		- n * log1p(q) + mode * lz;
	lw = -n * log1p(q) - lmode;	/* ln(pi_0 / pi_mode) */
	for (k = 1; k <= BG_NBSUM_MAX; k++)
	{
		double		y = eps / (C + k - 1.0);
		double		d,
					t;

		dsum += log1p_ratio(-y) / (C + k - 1.0);
		d = expm1_ratio(-eps * dsum) * dsum;
		lw += log((n + k - 1.0) / k) + lz;
		t = exp(lw) * d;
		sum += t;
		if (k > mode)
		{
			double		rho = (n + k) / (k + 1.0) * z;

			if (rho < 1.0 &&
				t * (rho / (1.0 - rho) + rho / (k * (1.0 - rho) * (1.0 - rho))) <= 1e-17 * sum)
			{
				*result = C * exp(lmode) * sum;
				return ey_accept(result, *result, r, x, alpha, T, h);
			}
		}
	}
	return false;
}

/*
 * bg_ey_alive_direct
 *		E[Y(h) | alive, x, T] = C/(a-1) [1 - (1-z)^(a-1) 2F1(A, a-1; C; z)]
 *		with A = a+b-1-r, C = a+b+x-1, z = h/(alpha+T+h) (the Euler form of
 *		Fader, Hardie and Lee 2005, eq. 10).
 *
 * Writing eps = a-1, L = ln(1-z) and 2F1 = 1 + eps*S, the bracket over eps
 * is -(L expm1(eps L)/(eps L) + S e^(eps L)): no division by a-1, so a = 1
 * is no special case, and C*S is summed without its (C)_k pole at C = 0.
 * When that series converges slowly (z near 1), 2F1 is taken from
 * clm_hyp2f1 (connection formula) instead, which needs |a-1| not tiny; the
 * caller handles that case by a limit.  Returns false if neither applies.
 */
static bool
bg_ey_alive_direct(double r, double alpha, double a, double b, double x,
				   double T, double h, bool may_throw, double *result)
{
	double		eps = a - 1.0;
	double		A = a + b - 1.0 - r;
	double		C = a + b + x - 1.0;
	double		q = h / (alpha + T);
	double		z = h / (alpha + T + h);
	double		L = -log1p(q);
	double		e = exp(eps * L);
	double		cs = 0.0;		/* C * S */
	double		term;
	double		kstable = Max(fabs(A), Max(fabs(eps), fabs(C))) + 2.0;
	double		maxabs;
	int			k;
	bool		done = false;

	if (h == 0.0)
	{
		*result = 0.0;
		return true;
	}

	/* C*S = sum_{k>=1} (A)_k (eps+1)_{k-1} / ((C+1)_{k-1} k!) z^k */
	term = A * z;
	cs = term;
	maxabs = fabs(term);
	for (k = 1; k < 4000; k++)
	{
		double		ratio = (A + k) * (eps + k) / ((C + k) * (k + 1.0)) * z;

		term *= ratio;
		cs += term;
		if (fabs(term) > maxabs)
			maxabs = fabs(term);
		if (term == 0.0)
		{
			done = true;
			break;
		}
		if (k > kstable)
		{
			double		mm = Max(fabs(ratio), z);

			if (mm < 1.0 && fabs(term) * mm <= 1e-17 * fabs(cs) * (1.0 - mm))
			{
				done = true;
				break;
			}
		}
	}
	if (done && isfinite(cs))
	{
		double		first = -C * L * expm1_ratio(eps * L);

		*result = first - e * cs;
		if (ey_accept(result, fabs(first) + e * maxabs, r, x, alpha, T, h))
			return true;
	}

	if (bg_ey_alive_nbsum(r, alpha, a, b, x, T, h, result))
		return true;

	/* slow series: full 2F1 by the connection formula (which may throw) */
	if (!may_throw || fabs(eps) < CLM_LIMIT_STEP / 2.0 || fabs(C) < CLM_LIMIT_STEP / 2.0)
		return false;
	{
		double		f = clm_hyp2f1(A, eps, C, z);

		*result = C * (-expm1(eps * L) - e * (f - 1.0)) / eps;
		return ey_accept(result, fabs(C / eps) * (fabs(expm1(eps * L)) + e * (fabs(f) + 1.0)),
						 r, x, alpha, T, h);
	}
}

/* No method gave a trustworthy value: a clear error, never a wrong number. */
static void
ey_failed(double r, double a, double b, double x, double h)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("BG/NBD expected purchases cannot be evaluated accurately for this model and horizon"),
			 errdetail("r = %g, a = %g, b = %g, x = %g, horizon = %g.", r, a, b, x, h),
			 errhint("The series lose too many digits for very large r or a (tens and more) at long horizons; check the model, or use a shorter horizon.")));
}

/*
 * bg_ey_alive_exact
 *		E[Y(h) | alive], also for a within CLM_LIMIT_STEP/2 of 1 (or C near 0)
 *		at horizons where only the connection formula converges: the value is
 *		analytic in a (b), so it is interpolated from points around.
 */
static bool
bg_ey_alive_exact(double r, double alpha, double a, double b, double x,
				  double T, double h, const BgConn *bc, bool may_throw, double *res)
{
	double		vals[CLM_LIMIT_NODES];
	double		centre;
	bool		in_a;
	int			i;

	if (bg_ey_alive_conn(bc, alpha, T, h, res))
		return true;
	if (bg_ey_alive_direct(r, alpha, a, b, x, T, h, may_throw, res))
		return true;

	in_a = fabs(a - 1.0) < CLM_LIMIT_STEP / 2.0;
	if (!in_a && fabs(a + b + x - 1.0) >= CLM_LIMIT_STEP / 2.0)
	{
		if (may_throw)
			ey_failed(r, a, b, x, h);
		return false;
	}
	centre = in_a ? 1.0 : 1.0 - a - x;	/* the value of a (b) at the singularity */
	for (i = 0; i < CLM_LIMIT_NODES; i++)
	{
		double		aa = in_a ? centre + clm_limit_node(i) : a;
		double		bb = in_a ? b : centre + clm_limit_node(i);

		if (bb <= 0.0 || !bg_ey_alive_direct(r, alpha, aa, bb, x, T, h, may_throw, &vals[i]))
		{
			if (may_throw)
				ey_failed(r, a, b, x, h);
			return false;
		}
	}
	*res = clm_limit_interpolate(vals, (in_a ? a : b) - centre);
	return true;
}

/*
 * bg_ey_alive
 *		E[Y(h) | alive, x, T], raising an error when no method is accurate.
 *		Always the exact path: an interpolant of it would differ from it in
 *		the last digits, and a call would then return other bits than the
 *		same call made cold.
 */
static double
bg_ey_alive(double r, double alpha, double a, double b, double x,
			double T, double h, const BgConn *bc)
{
	double		res;

	(void) bg_ey_alive_exact(r, alpha, a, b, x, T, h, bc, true, &res);
	return res;
}

/*
 * nbd_log_pmf
 *		Helper for the count probabilities: ln of Gamma(r+j)/(Gamma(r) j!)
 *		p0^r q^j, the NBD(r, alpha; t) probability of j purchases, with
 *		p0 = alpha/(alpha+t) and q = t/(alpha+t).
 */
static double
nbd_log_pmf(double r, double lp0, double lq, int j)
{
	return clm_lgamma(r + j) - clm_lgamma(r) - clm_lgamma(j + 1.0)
		+ r * lp0 + (j > 0 ? j * lq : 0.0);
}

/*
 * nbd_upper_tail
 *		P(NBD >= n) for n >= 1, summed over the smaller side so that a tiny
 *		tail is not the difference of two numbers near 1.
 */
static double
nbd_upper_tail(double r, double alpha, double h, int n)
{
	double		lp0 = log(alpha) - log(alpha + h);
	double		lq = log(h) - log(alpha + h);
	double		q = h / (alpha + h);
	double		mean = r * h / alpha;
	double		sum = 0.0;
	double		term;
	int			j;

	if (n <= mean + 1.0)
	{
		/* lower part: 1 - sum_{j<n} */
		term = exp(r * lp0);
		for (j = 0; j < n; j++)
		{
			sum += term;
			term *= (r + j) / (j + 1.0) * q;
			if ((j & 1023) == 0)
				CHECK_FOR_INTERRUPTS();
		}
		return Max(0.0, 1.0 - sum);
	}
	/*
	 * upper part: sum_{j>=n}; the ratio (r+j)/(j+1) q moves monotonically
	 * toward q < 1, so the tail is below term m/(1-m), m = max(ratio, q)
	 */
	term = exp(nbd_log_pmf(r, lp0, lq, n));
	for (j = n; j < n + 10000000; j++)
	{
		double		ratio = (r + j) / (j + 1.0) * q;
		double		m = Max(ratio, q);

		sum += term;
		term *= ratio;
		if (term == 0.0 || (m < 1.0 && term * m <= 1e-17 * sum * (1.0 - m)))
			break;
		if ((j & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return sum;
}

/*
 * bg_pmf
 *		P(N(h) = n) for a new customer (FHL 2005 eq. 8).
 */
static double
bg_pmf(const double *m, double h, int n)
{
	double		r = m[0],
				alpha = m[1],
				a = m[2],
				b = m[3];
	double		lp0,
				lq,
				p;

	if (h == 0.0)
		return n == 0 ? 1.0 : 0.0;
	lp0 = log(alpha) - log(alpha + h);
	lq = log(h) - log(alpha + h);
	p = exp(clm_lbeta(a, b + n) - clm_lbeta(a, b) + nbd_log_pmf(r, lp0, lq, n));
	if (n > 0)
		p += exp(clm_lbeta(a + 1.0, b + n - 1.0) - clm_lbeta(a, b)) *
			nbd_upper_tail(r, alpha, h, n);
	return p;
}

/* ------------------------------------------------------------------------
 * Pareto/NBD
 * ------------------------------------------------------------------------
 */

/*
 * pn_p_alive
 *		Pareto/NBD P(alive) (Schmittlein et al. 1987, in the form of Fader
 *		and Hardie's note 009): 1 / (1 + s/(r+s+x) (alpha+T)^(r+x) (beta+T)^s A0), in
 *		logs, with the A0 of the log-likelihood (pnbd_a0.c).
 */
static double
pn_p_alive(const double *m, double x, double t_x, double t)
{
	double		r = m[0],
				alpha = m[1],
				s = m[2],
				beta = m[3];
	double		lA0 = clv_pnbd_ln_a0(r, alpha, s, beta, x, t_x, t, NULL, NULL, NULL),
				l;

	if (lA0 == -INFINITY)
		return 1.0;				/* A0 = 0 to rounding (t_x = t) */
	l = log(s) - log(r + s + x) + (r + x) * log(alpha + t) + s * log(beta + t) + lA0;
	if (l > 0.0)
		return exp(-l) / (1.0 + exp(-l));
	return 1.0 / (1.0 + exp(l));
}

/*
 * pn_ey_alive
 *		E[Y(h) | alive] = (r+x)(beta+T)/((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+h))^(s-1)];
 *		the bracket over s-1 is u expm1(-(s-1)u)/(-(s-1)u) with
 *		u = ln(1 + h/(beta+T)), so s = 1 is its limit u.
 */
static double
pn_ey_alive(const double *m, double x, double T, double h)
{
	double		r = m[0],
				alpha = m[1],
				s = m[2],
				beta = m[3];
	double		u = log1p(h / (beta + T));

	return (r + x) * (beta + T) / (alpha + T) * u * expm1_ratio(-(s - 1.0) * u);
}

/*
 * log_hyp_pos
 *		ln 2F1(a, b; c; z) for a, b, c > 0 and 0 <= z < 1 (the function is
 *		positive there).  When c - a - b < 0 it grows like (1-z)^(c-a-b) and
 *		may overflow, so Euler's form is used: (1-z)^(c-a-b) 2F1(c-a, c-b; c; z),
 *		whose 2F1 stays bounded as z -> 1.
 */
static double
log_hyp_pos(double a, double b, double c, double z)
{
	double		d = c - a - b;
	double		f,
				ca,
				cb;

	if (d >= 0.0)
		return log(clm_hyp2f1(a, b, c, z));
	/* all terms positive: the plain series if it converges soon */
	if (clm_hyp2f1_series(a, b, c, z, 5000, &f) && isfinite(f))
		return log(f);

	/*
	 * Euler's form.  c - a and c - b are differences of sums such as
	 * (r+s+n+1) - (r+s+i) and may miss a whole number by rounding; a
	 * terminating series must be recognized as one.
	 */
	ca = c - a;
	cb = c - b;
	if (fabs(ca - rint(ca)) < 1e-9 * Max(1.0, fabs(ca)))
		ca = rint(ca);
	if (fabs(cb - rint(cb)) < 1e-9 * Max(1.0, fabs(cb)))
		cb = rint(cb);
	return d * log1p(-z) + log(clm_hyp2f1(ca, cb, c, z));
}

/*
 * pn_pmf_log_term
 *		ln of the i-th term Gamma(r+s+i)/(Gamma(r+s) i!) h^i B2(i) of the
 *		Pareto/NBD count probability, B2(i) = 2F1(r+s+i, b2; c; D/(M+h)) /
 *		(M+h)^(r+s+i).
 */
static double
pn_pmf_log_term(double r, double s, double h, double M, double b2, double c,
				double D, int64 i)
{
	return clm_lgamma(r + s + i) - clm_lgamma(r + s) - clm_lgamma(i + 1.0)
		+ (i > 0 ? i * log(h) : 0.0)
		+ log_hyp_pos(r + s + i, b2, c, D / (M + h))
		- (r + s + i) * log(M + h);
}

/*
 * pn_pmf
 *		P(X(h) = n) for a new customer (Fader and Hardie, note 012):
 *		NBD(n; h) (beta/(beta+h))^s + alpha^r beta^s B(r+n, s+1)/B(r, s)
 *		[B1 - sum_{i=0}^{n} Gamma(r+s+i)/(Gamma(r+s) i!) h^i B2(i)].
 */
static double
pn_pmf(const double *m, double h, int n)
{
	double		r = m[0],
				alpha = m[1],
				s = m[2],
				beta = m[3];
	double		lp0,
				lq,
				first,
				M,
				b2,
				D,
				c,
				lB1,
				lsum = -INFINITY,
				lpref,
				second,
				result,
				abserr;
	int64		i;
	double		lprev = INFINITY;

	if (h == 0.0)
		return n == 0 ? 1.0 : 0.0;
	lp0 = log(alpha) - log(alpha + h);
	lq = log(h) - log(alpha + h);
	first = exp(nbd_log_pmf(r, lp0, lq, n) + s * (log(beta) - log(beta + h)));

	clv_pnbd_hyp_form(r, alpha, s, beta, n, &M, &b2);
	D = fabs(alpha - beta);
	c = r + s + n + 1.0;
	lB1 = log_hyp_pos(r + s, b2, c, D / M) - (r + s) * log(M);
	for (i = 0; i <= n; i++)
	{
		double		li = pn_pmf_log_term(r, s, h, M, b2, c, D, i);

		lsum = clm_logsumexp(lsum, li);

		/*
		 * The terms rise to one mode and then fall.  Once they fall and even
		 * all n - i remaining terms together stay below 1e-17 of the sum,
		 * they cannot change it: stop (n can be up to 2^31 - 1).
		 */
		if (li < lprev && li < lsum - 40.0 - log((double) (n - i) + 1.0))
			break;
		lprev = li;
		if ((i & 255) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	lpref = r * log(alpha) + s * log(beta) + clm_lbeta(r + n, s + 1.0) - clm_lbeta(r, s);

	/* B1 >= the partial sum; clamp rounding */
	second = lB1 > lsum ? exp(lpref + lB1) * -expm1(lsum - lB1) : 0.0;
	result = first + second;

	/*
	 * The difference B1 - sum carries a rounding error of about 1e-16 (n+2)
	 * times B1.  When that is not negligible against the result (short
	 * horizons, many purchases: tiny probabilities), use instead that B1 is
	 * the sum of the same terms over all i >= 0: B1 - sum_{i<=n} is the tail
	 * sum_{i>n}, whose terms fall off like rho^i, rho = h/(min(alpha,beta)+h).
	 */
	abserr = 1e-16 * (n + 2.0) * exp(lpref + lB1);
	if (abserr > 1e-12 * result)
	{
		double		rho = h / (Min(alpha, beta) + h);
		double		need = rho < 1.0 ? 45.0 / -log(rho) : INFINITY;

		if (need <= 5000.0)
		{
			double		ltail = -INFINITY;
			double		prev = INFINITY;

			for (i = (int64) n + 1; i < (int64) n + 2 * (int64) need + 100; i++)
			{
				double		li = pn_pmf_log_term(r, s, h, M, b2, c, D, i);

				if (isnan(li))
				{
					ltail = NAN;
					break;
				}
				ltail = clm_logsumexp(ltail, li);
				if (li < prev && li < ltail - 40.0)
					break;
				prev = li;
				if ((i & 255) == 0)
					CHECK_FOR_INTERRUPTS();
			}
			if (isfinite(ltail))
				return first + exp(lpref + ltail);
		}
		if (abserr > 1e-6 * result)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("Pareto/NBD purchase probability cannot be evaluated accurately for this model, horizon and n"),
					 errdetail("r = %g, alpha = %g, s = %g, beta = %g, horizon = %g, n = %d.",
							   r, alpha, s, beta, h, n)));
	}
	return result;
}

/* ------------------------------------------------------------------------
 * Gamma-Gamma
 * ------------------------------------------------------------------------
 */

/*
 * gg_expected
 *		E[M | x, m] = p (gamma + m x) / (p x + q - 1).  For x = 0 that is the
 *		population mean p gamma / (q - 1), which needs q > 1.
 */
static double
gg_expected(const double *m, double x, double mean_spend)
{
	double		p = m[0],
				q = m[1],
				g = m[2];
	double		den = p * x + q - 1.0;

	if (den <= 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expected spend is not finite for this Gamma-Gamma model"),
				 errdetail("p*x + q - 1 = %g is not positive (q = %g, x = %g).", den, q, x),
				 errhint("A Gamma-Gamma model with q <= 1 has no finite mean spend; refit it on more repeat buyers.")));
	return p * (g + mean_spend * x) / den;
}

/* ------------------------------------------------------------------------
 * SQL entry points
 * ------------------------------------------------------------------------
 */

#define BG_PARAMS(argno) model_params(fcinfo, (argno), 0, 4, bgnbd_names, "bgnbd")
#define PN_PARAMS(argno) model_params(fcinfo, (argno), 0, 4, paretonbd_names, "paretonbd")

/*
 * clm.bgnbd_expected_purchases(model, horizon, x, t_x, t): E[Y(horizon)]
 * for a customer with history (x, t_x, t).
 */
Datum
clm_bgnbd_expected_purchases(PG_FUNCTION_ARGS)
{
	const double *m = BG_PARAMS(0);
	double		h = PG_GETARG_FLOAT8(1);
	double		x = PG_GETARG_FLOAT8(2);
	double		t_x = PG_GETARG_FLOAT8(3);
	double		t = PG_GETARG_FLOAT8(4);

	BgConn		tmp;
	ModelCache *mc = model_cache(fcinfo, 0);
	MemoKey		key = {{x + 0.0, t + 0.0, h + 0.0, 0.0, 0.0}};	/* + 0.0: no -0 */
	MemoEntry  *e;
	bool		found;
	double		ey;

	check_nonneg(h, "horizon");
	clv_check_btyd_history(x, t_x, t);
	e = memo_slot(mc, &key, &found);
	if (e && found)
		ey = e->value;
	else
	{
		ey = bg_ey_alive(m[0], m[1], m[2], m[3], x, t, h, bg_conn_for(mc, m, x, &tmp));
		if (e)
			e->value = ey;
	}
	PG_RETURN_FLOAT8(finite_or_error(bg_p_alive(m, x, t_x, t) * ey, "expected purchases"));
}

/* clm.bgnbd_p_alive(model, x, t_x, t) */
Datum
clm_bgnbd_p_alive(PG_FUNCTION_ARGS)
{
	const double *m = BG_PARAMS(0);
	double		x = PG_GETARG_FLOAT8(1);
	double		t_x = PG_GETARG_FLOAT8(2);
	double		t = PG_GETARG_FLOAT8(3);

	clv_check_btyd_history(x, t_x, t);
	PG_RETURN_FLOAT8(finite_or_error(bg_p_alive(m, x, t_x, t), "P(alive)"));
}

/* clm.bgnbd_expected_purchases_new(model, horizon): E[X(horizon)] */
Datum
clm_bgnbd_expected_purchases_new(PG_FUNCTION_ARGS)
{
	const double *m = BG_PARAMS(0);
	double		h = PG_GETARG_FLOAT8(1);
	BgConn		tmp;

	check_nonneg(h, "horizon");
	PG_RETURN_FLOAT8(finite_or_error(bg_ey_alive(m[0], m[1], m[2], m[3], 0.0, 0.0, h,
												 bg_conn_for(model_cache(fcinfo, 0), m, 0.0, &tmp)),
									 "expected purchases"));
}

/* clm.bgnbd_purchase_probability(model, horizon, n): P(N(horizon) = n) */
Datum
clm_bgnbd_purchase_probability(PG_FUNCTION_ARGS)
{
	const double *m = BG_PARAMS(0);
	double		h = PG_GETARG_FLOAT8(1);
	int32		n = PG_GETARG_INT32(2);

	check_nonneg(h, "horizon");
	check_n(n);
	PG_RETURN_FLOAT8(finite_or_error(bg_pmf(m, h, n), "purchase probability"));
}

/* clm.paretonbd_expected_purchases(model, horizon, x, t_x, t) */
Datum
clm_paretonbd_expected_purchases(PG_FUNCTION_ARGS)
{
	const double *m = PN_PARAMS(0);
	double		h = PG_GETARG_FLOAT8(1);
	double		x = PG_GETARG_FLOAT8(2);
	double		t_x = PG_GETARG_FLOAT8(3);
	double		t = PG_GETARG_FLOAT8(4);

	check_nonneg(h, "horizon");
	clv_check_btyd_history(x, t_x, t);
	PG_RETURN_FLOAT8(finite_or_error(pn_p_alive(m, x, t_x, t) * pn_ey_alive(m, x, t, h),
									 "expected purchases"));
}

/* clm.paretonbd_p_alive(model, x, t_x, t) */
Datum
clm_paretonbd_p_alive(PG_FUNCTION_ARGS)
{
	const double *m = PN_PARAMS(0);
	double		x = PG_GETARG_FLOAT8(1);
	double		t_x = PG_GETARG_FLOAT8(2);
	double		t = PG_GETARG_FLOAT8(3);

	clv_check_btyd_history(x, t_x, t);
	PG_RETURN_FLOAT8(finite_or_error(pn_p_alive(m, x, t_x, t), "P(alive)"));
}

/* clm.paretonbd_expected_purchases_new(model, horizon): E[X(horizon)] */
Datum
clm_paretonbd_expected_purchases_new(PG_FUNCTION_ARGS)
{
	const double *m = PN_PARAMS(0);
	double		h = PG_GETARG_FLOAT8(1);
	double		r = m[0],
				alpha = m[1],
				s = m[2],
				beta = m[3];
	double		u;

	check_nonneg(h, "horizon");
	u = log1p(h / beta);
	PG_RETURN_FLOAT8(finite_or_error(r * beta / alpha * u * expm1_ratio(-(s - 1.0) * u),
									 "expected purchases"));
}

/* clm.paretonbd_purchase_probability(model, horizon, n) */
Datum
clm_paretonbd_purchase_probability(PG_FUNCTION_ARGS)
{
	const double *m = PN_PARAMS(0);
	double		h = PG_GETARG_FLOAT8(1);
	int32		n = PG_GETARG_INT32(2);

	check_nonneg(h, "horizon");
	check_n(n);
	PG_RETURN_FLOAT8(finite_or_error(pn_pmf(m, h, n), "purchase probability"));
}

/* clm.gamma_gamma_expected_spend(model, x, mean_spend) */
Datum
clm_gamma_gamma_expected_spend(PG_FUNCTION_ARGS)
{
	const double *m = model_params(fcinfo, 0, 0, 3, gg_names, "gamma_gamma");
	double		x = PG_GETARG_FLOAT8(1);
	double		ms = PG_GETARG_FLOAT8(2);

	clv_check_spend(x, ms);
	PG_RETURN_FLOAT8(finite_or_error(gg_expected(m, x, ms), "expected spend"));
}

/*
 * clv_check_clv_terms
 *		Check the CLV terms (horizon_months, monthly_discount_rate, unit_days)
 *		and return f, the model time units per month (also for the CLV
 *		interval, clv_interval.c).
 */
double
clv_check_clv_terms(int32 months, double d, double unit_days)
{
	double		f;

	clm_check_finite_float8(d, "monthly_discount_rate");
	clm_check_finite_float8(unit_days, "unit_days");
	if (months < 0 || months > CLM_MAX_HORIZON_MONTHS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon_months must be between 0 and %d", CLM_MAX_HORIZON_MONTHS),
				 errdetail("The value is %d.", months)));
	if (d <= -1.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("monthly_discount_rate must be greater than -1"),
				 errdetail("The value is %g.", d)));
	if (unit_days <= 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unit_days must be positive"),
				 errdetail("The value is %g.", unit_days),
				 errhint("Pass the length of the model's time unit in days, e.g. 7 for a model fitted in weeks.")));

	f = CLM_DAYS_PER_MONTH / unit_days;
	if (!isfinite(f))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("unit_days is too small"),
				 errdetail("The value is %g; a month of %g days is not a finite number of model time units.",
						   unit_days, CLM_DAYS_PER_MONTH),
				 errhint("Pass the length of the model's time unit in days, e.g. 7 for a model fitted in weeks.")));
	return f;
}

/*
 * clv_discounted_purchases
 *		The discounted sum of the monthly expected purchases given alive:
 *		sum_{k=1..H} (E[Y|alive](k f) - E[Y|alive]((k-1) f)) / (1+d)^k.
 */
static double
clv_discounted_purchases(const double *bg, double x, double t, int32 months,
						 double d, double f, const BgConn *bc)
{
	double		lf = log1p(d),
				prev = 0.0,
				total = 0.0;

	for (int k = 1; k <= months; k++)
	{
		double		cur = bg_ey_alive(bg[0], bg[1], bg[2], bg[3], x, t, k * f, bc);

		total += (cur - prev) * exp(-k * lf);
		prev = cur;
	}
	return total;
}

/*
 * ClvTerms: the arguments every clm.clv shares after the purchase model
 * (gamma_gamma, x, t_x, t, mean_spend, horizon_months,
 * monthly_discount_rate, unit_days), checked.
 */
typedef struct ClvTerms
{
	double		x,
				t_x,
				t;
	int32		months;
	double		d;				/* monthly discount rate */
	double		f;				/* model time units per month */
	double		unit_days;
	double		spend;			/* E[M] of the customer (Gamma-Gamma) */
} ClvTerms;

static void
clv_terms(FunctionCallInfo fcinfo, ClvTerms *c)
{
	const double *gg = model_params(fcinfo, 1, 1, 3, gg_names, "gamma_gamma");
	double		ms = PG_GETARG_FLOAT8(5);

	c->x = PG_GETARG_FLOAT8(2);
	c->t_x = PG_GETARG_FLOAT8(3);
	c->t = PG_GETARG_FLOAT8(4);
	c->months = PG_GETARG_INT32(6);
	c->d = PG_GETARG_FLOAT8(7);
	c->unit_days = PG_GETARG_FLOAT8(8);
	clv_check_btyd_history(c->x, c->t_x, c->t);
	clv_check_spend(c->x, ms);
	c->f = clv_check_clv_terms(c->months, c->d, c->unit_days);
	c->spend = gg_expected(gg, c->x, ms);
}

/*
 * clv_bg_discounted
 *		clv_discounted_purchases for a model of the BG/NBD family (its
 *		parameters in bg), memoized per customer history in the cache of
 *		the model argument.
 */
static double
clv_bg_discounted(FunctionCallInfo fcinfo, const double *bg, const ClvTerms *c)
{
	ModelCache *mc = model_cache(fcinfo, 0);
	MemoKey		key = {{c->x + 0.0, c->t + 0.0, (double) c->months, c->d + 0.0, c->unit_days}};
	MemoEntry  *e;
	BgConn		tmp;
	bool		found;
	double		total;

	e = memo_slot(mc, &key, &found);
	if (e && found)
		return e->value;
	total = clv_discounted_purchases(bg, c->x, c->t, c->months, c->d, c->f,
									 bg_conn_for(mc, bg, c->x, &tmp));
	if (e)
		e->value = total;
	return total;
}

/*
 * clm.clv(bgnbd, gamma_gamma, x, t_x, t, mean_spend, horizon_months,
 *		   monthly_discount_rate, unit_days)
 *
 * sum_{k=1..H} E[M] (E[Y](k f) - E[Y]((k-1) f)) / (1+d)^k, f = model time
 * units per month = (365.25/12) / unit_days.  The time unit is explicit
 * because the wrong implicit one (lifetimes' freq="D" on weekly models) is
 * the classic CLV bug.  P(alive) and E[M] are computed once per customer.
 * The overloads for clm.paretonbd and clm.mbgnbd follow their models.
 */
Datum
clm_clv(PG_FUNCTION_ARGS)
{
	const double *bg = BG_PARAMS(0);
	ClvTerms	c;

	clv_terms(fcinfo, &c);
	PG_RETURN_FLOAT8(finite_or_error(clv_bg_discounted(fcinfo, bg, &c) * bg_p_alive(bg, c.x, c.t_x, c.t)
									 * c.spend, "CLV"));
}

/*
 * clm.clv(paretonbd, gamma_gamma, ...): the same sum with the Pareto/NBD's
 * expected purchases given alive, which are in closed form.
 */
Datum
clm_clv_paretonbd(PG_FUNCTION_ARGS)
{
	const double *m = PN_PARAMS(0);
	ClvTerms	c;
	double		lf,
				prev = 0.0,
				total = 0.0;

	clv_terms(fcinfo, &c);
	lf = log1p(c.d);
	for (int k = 1; k <= c.months; k++)
	{
		double		cur = pn_ey_alive(m, c.x, c.t, k * c.f);

		total += (cur - prev) * exp(-k * lf);
		prev = cur;
	}
	PG_RETURN_FLOAT8(finite_or_error(total * pn_p_alive(m, c.x, c.t_x, c.t) * c.spend, "CLV"));
}

/*
 * clm.clv_simple(avg_order_value, purchases_per_period,
 *				  expected_lifetime_periods, margin, discount_rate)
 *
 * Value per period v = aov * purchases * margin, received at the end of
 * each period for L periods and discounted: v (1 - (1+d)^-L) / d (v L when
 * d = 0); a fractional L continues the same formula.
 */
Datum
clm_clv_simple(PG_FUNCTION_ARGS)
{
	double		aov = PG_GETARG_FLOAT8(0);
	double		ppp = PG_GETARG_FLOAT8(1);
	double		life = PG_GETARG_FLOAT8(2);
	double		margin = PG_GETARG_FLOAT8(3);
	double		d = PG_GETARG_FLOAT8(4);
	double		v,
				y,
				ann;

	check_nonneg(aov, "avg_order_value");
	check_nonneg(ppp, "purchases_per_period");
	check_nonneg(life, "expected_lifetime_periods");
	check_nonneg(margin, "margin");
	clm_check_finite_float8(d, "discount_rate");
	if (d <= -1.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("discount_rate must be greater than -1"),
				 errdetail("The value is %g.", d)));
	v = aov * ppp * margin;
	y = life * log1p(d);
	/* (1 - e^-y) / d = L * (log1p(d)/d) * (-expm1(-y)/y) */
	ann = life * (d == 0.0 ? 1.0 : log1p(d) / d) * expm1_ratio(-y);
	PG_RETURN_FLOAT8(finite_or_error(v * ann, "CLV"));
}

/* ------------------------------------------------------------------------
 * BG/BB (Fader, Hardie and Shang 2010)
 * ------------------------------------------------------------------------
 */

/* A per-opportunity discount rate: finite and positive. */
static double
check_discount_rate(double d)
{
	clm_check_finite_float8(d, "discount_rate");
	if (!(d > 0.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("discount_rate must be positive"),
				 errdetail("The value is %g.", d),
				 errhint("The rate is per period (opportunity); the discounted sums are infinite without discounting.")));
	return d;
}

/* A whole number of periods: not negative. */
static void
check_periods(int32 v, const char *name)
{
	if (v < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", name),
				 errdetail("The value is %d.", v)));
}

/*
 * The model and history arguments of the BG/BB predictions, checked, and
 * ln L of the history: every prediction is a ratio over the likelihood.
 */
static const double *
bgbb_args(FunctionCallInfo fcinfo, int xarg, double *x, double *t_x, double *n,
		  double *ln_l)
{
	const double *m = model_params(fcinfo, 0, 0, 4, bgbb_names, "bgbb");

	*x = PG_GETARG_FLOAT8(xarg);
	*t_x = PG_GETARG_FLOAT8(xarg + 1);
	*n = PG_GETARG_FLOAT8(xarg + 2);
	clv_check_bgbb_history(*x, *t_x, *n);
	*ln_l = clv_bgbb_row_ll(m[0], m[1], m[2], m[3], *x, *t_x, *n);
	if (!isfinite(*ln_l))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the BG/BB likelihood of this history is not finite"),
				 errhint("Check that the model parameters are in a sensible range.")));
	return m;
}

/*
 * clm.bgbb_p_alive(model, x, t_x, n): P(alive at opportunity n + 1 | x,
 * t_x, n) = B(a+x, b+n-x)/B(a,b) * B(g, d+n+1)/B(g,d) / L (FHS 2010, eq. 11).
 */
Datum
clm_bgbb_p_alive(PG_FUNCTION_ARGS)
{
	double		x,
				t_x,
				n,
				ln_l;
	const double *m = bgbb_args(fcinfo, 1, &x, &t_x, &n, &ln_l);
	double		v;

	v = exp(clm_lbeta(m[0] + x, m[1] + n - x) - clm_lbeta(m[0], m[1])
			+ clm_lbeta(m[2], m[3] + n + 1) - clm_lbeta(m[2], m[3]) - ln_l);
	PG_RETURN_FLOAT8(finite_or_error(Min(v, 1.0), "P(alive)"));
}

/*
 * clm.bgbb_expected_transactions(model, n_star, x, t_x, n): expected
 * transactions in opportunities n+1 .. n+n_star.  Given the history, the
 * customer transacts at opportunity n+t with probability P(alive at n+t) *
 * E[p | alive], which sums to
 *   B(a+x+1, b+n-x)/B(a,b) / L * sum_{t=1..n_star} B(g, d+n+t)/B(g,d),
 * FHS 2010's eq. 13 before its closed form; the sum runs by the ratio
 * B(g, d+k+1)/B(g, d+k) = (d+k)/(g+d+k), so it has no singularity at
 * gamma = 1, where the closed form has one.
 */
Datum
clm_bgbb_expected_transactions(PG_FUNCTION_ARGS)
{
	int32		n_star = PG_GETARG_INT32(1);
	double		x,
				t_x,
				n,
				ln_l;
	const double *m;
	double		term,
				sum = 0.0;

	check_periods(n_star, "n_star");
	m = bgbb_args(fcinfo, 2, &x, &t_x, &n, &ln_l);
	term = exp(clm_lbeta(m[2], m[3] + n + 1) - clm_lbeta(m[2], m[3]));
	for (int32 t = 1; t <= n_star; t++)
	{
		if ((t & 0xFFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		sum += term;
		term *= (m[3] + n + t) / (m[2] + m[3] + n + t);
	}
	PG_RETURN_FLOAT8(finite_or_error(exp(clm_lbeta(m[0] + x + 1, m[1] + n - x)
										 - clm_lbeta(m[0], m[1]) - ln_l) * sum,
									 "expected transactions"));
}

/*
 * clm.bgbb_dert(model, discount_rate, x, t_x, n): the same expectation over
 * all future opportunities, the one at n+t discounted by (1+d)^t (FHS 2010,
 * eq. 14):
 *   B(a+x+1, b+n-x)/B(a,b) * B(g, d+n+1)/B(g,d) / L / (1+d)
 *   * 2F1(1, delta+n+1; gamma+delta+n+1; 1/(1+d)).
 */
Datum
clm_bgbb_dert(PG_FUNCTION_ARGS)
{
	double		d = check_discount_rate(PG_GETARG_FLOAT8(1));
	double		x,
				t_x,
				n,
				ln_l;
	const double *m = bgbb_args(fcinfo, 2, &x, &t_x, &n, &ln_l);
	double		v;

	v = exp(clm_lbeta(m[0] + x + 1, m[1] + n - x) - clm_lbeta(m[0], m[1])
			+ clm_lbeta(m[2], m[3] + n + 1) - clm_lbeta(m[2], m[3]) - ln_l)
		/ (1.0 + d) * clm_hyp2f1(1.0, m[3] + n + 1, m[2] + m[3] + n + 1, 1.0 / (1.0 + d));
	PG_RETURN_FLOAT8(finite_or_error(v, "DERT"));
}

/* ------------------------------------------------------------------------
 * sBG (Fader and Hardie 2007, 2010)
 * ------------------------------------------------------------------------
 */

/*
 * clm.sbg_survival(model, t): S(t) = B(alpha, beta+t) / B(alpha, beta), the
 * share of a cohort still active after t renewal opportunities.
 */
Datum
clm_sbg_survival(PG_FUNCTION_ARGS)
{
	const double *m = model_params(fcinfo, 0, 0, 2, sbg_names, "sbg");
	int32		t = PG_GETARG_INT32(1);

	check_periods(t, "t");
	PG_RETURN_FLOAT8(finite_or_error(exp(clm_lbeta(m[0], m[1] + t) - clm_lbeta(m[0], m[1])),
									 "survival"));
}

/*
 * clm.sbg_retention(model, t): r_t = S(t)/S(t-1) = (beta+t-1)/(alpha+beta+t-1),
 * the retention rate at renewal t, rising with t as the customers most
 * likely to churn leave first.
 */
Datum
clm_sbg_retention(PG_FUNCTION_ARGS)
{
	const double *m = model_params(fcinfo, 0, 0, 2, sbg_names, "sbg");
	int32		t = PG_GETARG_INT32(1);

	if (t < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("t must be at least 1"),
				 errdetail("The value is %d.", t),
				 errhint("Renewal opportunities are numbered from 1.")));
	/* (beta+t-1) / (alpha+beta+t-1), written so that no sum can overflow */
	PG_RETURN_FLOAT8(1.0 / (1.0 + m[0] / (m[1] + (t - 1))));
}

/*
 * clm.sbg_expected_lifetime(model [, horizon]): without a horizon, E[T] =
 * sum_{t>=0} S(t) = E[1/theta] = (alpha+beta-1)/(alpha-1), infinite for
 * alpha <= 1 (an error rather than an infinity); with one, the truncated
 * sum over t = 0 .. horizon-1, by S(t+1) = S(t) (beta+t)/(alpha+beta+t).
 */
Datum
clm_sbg_expected_lifetime(PG_FUNCTION_ARGS)
{
	const double *m = model_params(fcinfo, 0, 0, 2, sbg_names, "sbg");
	double		s = 1.0,
				sum = 0.0;
	int32		h;

	if (PG_NARGS() == 1)
	{
		if (!(m[0] > 1.0))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("the expected sBG lifetime is infinite when alpha <= 1"),
					 errdetail("alpha is %g.", m[0]),
					 errhint("Pass a horizon, or use clm.sbg_derl or clm.sbg_clv, which discount.")));
		PG_RETURN_FLOAT8(finite_or_error((m[0] + m[1] - 1.0) / (m[0] - 1.0),
										 "expected lifetime"));
	}
	h = PG_GETARG_INT32(1);
	check_periods(h, "horizon");
	for (int32 t = 0; t < h; t++)
	{
		if ((t & 0xFFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		sum += s;
		s *= (m[1] + t) / (m[0] + m[1] + t);
	}
	PG_RETURN_FLOAT8(finite_or_error(sum, "expected lifetime"));
}

/*
 * clm.sbg_derl(model, periods, discount_rate): Fader and Hardie's (2010)
 * DERL of a customer who has renewed at each of `periods` opportunities
 * (their n - 1 renewals): sum_{k>=0} S(periods+1+k)/S(periods) / (1+d)^k
 *   = (beta+periods)/(alpha+beta+periods)
 *     * 2F1(1, beta+periods+1; alpha+beta+periods+1; 1/(1+d)),
 * the next renewal counted undiscounted.  Times the price per period it is
 * the customer's expected residual value.
 */
Datum
clm_sbg_derl(PG_FUNCTION_ARGS)
{
	const double *m = model_params(fcinfo, 0, 0, 2, sbg_names, "sbg");
	int32		p = PG_GETARG_INT32(1);
	double		d = check_discount_rate(PG_GETARG_FLOAT8(2));

	check_periods(p, "periods");
	PG_RETURN_FLOAT8(finite_or_error((m[1] + p) / (m[0] + m[1] + p)
									 * clm_hyp2f1(1.0, m[1] + p + 1, m[0] + m[1] + p + 1,
												  1.0 / (1.0 + d)),
									 "DERL"));
}

/*
 * clm.sbg_clv(model, price, discount_rate): the expected discounted value of
 * a new customer who pays price now and at every renewal,
 * price * sum_{t>=0} S(t) / (1+d)^t = price * 2F1(1, beta; alpha+beta; 1/(1+d))
 * (Fader and Hardie 2010's E(CLV)).
 */
Datum
clm_sbg_clv(PG_FUNCTION_ARGS)
{
	const double *m = model_params(fcinfo, 0, 0, 2, sbg_names, "sbg");
	double		price = PG_GETARG_FLOAT8(1);
	double		d = check_discount_rate(PG_GETARG_FLOAT8(2));

	check_nonneg(price, "price");
	PG_RETURN_FLOAT8(finite_or_error(price * clm_hyp2f1(1.0, m[1], m[0] + m[1], 1.0 / (1.0 + d)),
									 "CLV"));
}

/* ------------------------------------------------------------------------
 * MBG/NBD (Batislam, Denizel and Filiztekin 2007)
 * ------------------------------------------------------------------------
 */

#define MBG_PARAMS(argno) model_params(fcinfo, (argno), 0, 4, mbgnbd_names, "mbgnbd")

/*
 * mbg_p_alive
 *		1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)), for every x: the
 *		customer may have dropped out at time 0, so even x = 0 is uncertain.
 */
static double
mbg_p_alive(const double *m, double x, double t_x, double t)
{
	double		l = log(m[2] / (m[3] + x)) + (m[0] + x) * log((m[1] + t) / (m[1] + t_x));

	if (l > 0.0)
		return exp(-l) / (1.0 + exp(-l));
	return 1.0 / (1.0 + exp(l));
}

/*
 * The MBG/NBD expectations are BG/NBD's with b + 1: E[Y(h) | alive, x, T] =
 * (a+b+x)/(a-1) [1 - (1-z)^(r+x) 2F1(r+x, b+x+1; a+b+x; z)] is the BG/NBD
 * expression at b' = b + 1, and E[X(h)] = b/(a+b) times BG/NBD's at
 * b' = b + 1.  So they share its 2F1 machinery and its caches.
 */
static void
mbg_shifted(const double *m, double *shifted)
{
	shifted[0] = m[0];
	shifted[1] = m[1];
	shifted[2] = m[2];
	shifted[3] = m[3] + 1.0;
}

/* clm.mbgnbd_expected_purchases(model, horizon, x, t_x, t) */
Datum
clm_mbgnbd_expected_purchases(PG_FUNCTION_ARGS)
{
	const double *m = MBG_PARAMS(0);
	double		h = PG_GETARG_FLOAT8(1);
	double		x = PG_GETARG_FLOAT8(2);
	double		t_x = PG_GETARG_FLOAT8(3);
	double		t = PG_GETARG_FLOAT8(4);
	double		ms[4];
	BgConn		tmp;

	check_nonneg(h, "horizon");
	clv_check_btyd_history(x, t_x, t);
	mbg_shifted(m, ms);
	PG_RETURN_FLOAT8(finite_or_error(mbg_p_alive(m, x, t_x, t)
									 * bg_ey_alive(ms[0], ms[1], ms[2], ms[3], x, t, h,
												   bg_conn_for(model_cache(fcinfo, 0), ms, x, &tmp)),
									 "expected purchases"));
}

/*
 * clm.clv(mbgnbd, gamma_gamma, ...): the BG/NBD sum at b + 1, with the
 * MBG/NBD's P(alive).
 */
Datum
clm_clv_mbgnbd(PG_FUNCTION_ARGS)
{
	const double *m = MBG_PARAMS(0);
	double		ms[4];
	ClvTerms	c;

	clv_terms(fcinfo, &c);
	mbg_shifted(m, ms);
	PG_RETURN_FLOAT8(finite_or_error(clv_bg_discounted(fcinfo, ms, &c) * mbg_p_alive(m, c.x, c.t_x, c.t)
									 * c.spend, "CLV"));
}

/* clm.mbgnbd_p_alive(model, x, t_x, t) */
Datum
clm_mbgnbd_p_alive(PG_FUNCTION_ARGS)
{
	const double *m = MBG_PARAMS(0);
	double		x = PG_GETARG_FLOAT8(1);
	double		t_x = PG_GETARG_FLOAT8(2);
	double		t = PG_GETARG_FLOAT8(3);

	clv_check_btyd_history(x, t_x, t);
	PG_RETURN_FLOAT8(finite_or_error(mbg_p_alive(m, x, t_x, t), "P(alive)"));
}

/* clm.mbgnbd_expected_purchases_new(model, horizon): E[X(horizon)] */
Datum
clm_mbgnbd_expected_purchases_new(PG_FUNCTION_ARGS)
{
	const double *m = MBG_PARAMS(0);
	double		h = PG_GETARG_FLOAT8(1);
	double		ms[4];
	BgConn		tmp;

	check_nonneg(h, "horizon");
	mbg_shifted(m, ms);
	PG_RETURN_FLOAT8(finite_or_error(m[3] / (m[2] + m[3])
									 * bg_ey_alive(ms[0], ms[1], ms[2], ms[3], 0.0, 0.0, h,
												   bg_conn_for(model_cache(fcinfo, 0), ms, 0.0, &tmp)),
									 "expected purchases"));
}

/*
 * mbg_pmf
 *		P(N(h) = n) for a new customer.  Either the customer survived the
 *		n + 1 dropout chances (at time 0 and after each of n purchases) and
 *		made exactly n purchases, or dropped out at the chance after the n-th
 *		purchase (at time 0 for n = 0), having made at least n:
 *		B(a, b+n+1)/B(a,b) NBD(n) + B(a+1, b+n)/B(a,b) P(NBD >= n).
 */
static double
mbg_pmf(const double *m, double h, int n)
{
	double		r = m[0],
				alpha = m[1],
				a = m[2],
				b = m[3];
	double		lp0,
				lq;

	if (h == 0.0)
		return n == 0 ? 1.0 : 0.0;
	lp0 = log(alpha) - log(alpha + h);
	lq = log(h) - log(alpha + h);
	return exp(clm_lbeta(a, b + n + 1.0) - clm_lbeta(a, b) + nbd_log_pmf(r, lp0, lq, n))
		+ exp(clm_lbeta(a + 1.0, b + n) - clm_lbeta(a, b))
		* (n == 0 ? 1.0 : nbd_upper_tail(r, alpha, h, n));
}

/* clm.mbgnbd_purchase_probability(model, horizon, n): P(N(horizon) = n) */
Datum
clm_mbgnbd_purchase_probability(PG_FUNCTION_ARGS)
{
	const double *m = MBG_PARAMS(0);
	double		h = PG_GETARG_FLOAT8(1);
	int32		n = PG_GETARG_INT32(2);

	check_nonneg(h, "horizon");
	check_n(n);
	PG_RETURN_FLOAT8(finite_or_error(mbg_pmf(m, h, n), "purchase probability"));
}

/* ------------------------------------------------------------------------
 * For the prediction intervals (clv_interval.c), which evaluate the same
 * predictions at perturbed parameters: the validated parameters of a
 * clm.bgnbd argument, and the predictions at given parameters.
 * ------------------------------------------------------------------------
 */

/* The parameters of the clm.bgnbd argument argno, checked as above. */
const double *
clv_bgnbd_model_params(FunctionCallInfo fcinfo, int argno)
{
	return BG_PARAMS(argno);
}

/* BG/NBD P(alive) at parameters m (r, alpha, a, b). */
double
clv_bgnbd_p_alive_at(const double *m, double x, double t_x, double t)
{
	return bg_p_alive(m, x, t_x, t);
}

/* The parameters of the clm.paretonbd argument argno, checked as above. */
const double *
clv_paretonbd_model_params(FunctionCallInfo fcinfo, int argno)
{
	return PN_PARAMS(argno);
}

/* Pareto/NBD P(alive) at parameters m (r, alpha, s, beta). */
double
clv_paretonbd_p_alive_at(const double *m, double x, double t_x, double t)
{
	return pn_p_alive(m, x, t_x, t);
}

/* Pareto/NBD expected purchases in (t, t + h] at parameters m. */
double
clv_paretonbd_expected_purchases_at(const double *m, double h, double x,
									double t_x, double t)
{
	return pn_p_alive(m, x, t_x, t) * pn_ey_alive(m, x, t, h);
}

/* BG/NBD expected purchases in (t, t + h] at parameters m, uncached. */
double
clv_bgnbd_expected_purchases_at(const double *m, double h, double x,
								double t_x, double t)
{
	BgConn		tmp;

	return bg_p_alive(m, x, t_x, t) *
		bg_ey_alive(m[0], m[1], m[2], m[3], x, t, h, bg_conn_for(NULL, m, x, &tmp));
}

/* The horizon rule of the predictions above. */
void
clv_check_horizon(double h)
{
	check_nonneg(h, "horizon");
}

/* The parameters of the clm.gamma_gamma argument argno, checked as above. */
const double *
clv_gamma_gamma_model_params(FunctionCallInfo fcinfo, int argno)
{
	return model_params(fcinfo, argno, 1, 3, gg_names, "gamma_gamma");
}

/* clm.clv at parameters bg and gg, f from clv_check_clv_terms, uncached. */
double
clv_clv_at(const double *bg, const double *gg, double x, double t_x, double t,
		   double mean_spend, int32 months, double d, double f)
{
	BgConn		tmp;

	return clv_discounted_purchases(bg, x, t, months, d, f, bg_conn_for(NULL, bg, x, &tmp)) *
		bg_p_alive(bg, x, t_x, t) * gg_expected(gg, x, mean_spend);
}
