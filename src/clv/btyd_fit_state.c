/*-------------------------------------------------------------------------
 *
 * btyd_fit_state.c
 *	  clm.btyd_fit_state: the aggregate state of the CLV fits.
 *
 * The state is a real SQL type (not internal) so that distributed engines
 * such as Citus, which only combine partial states of non-pseudo types, can
 * push the fit down, and so that partial states can be stored and merged.
 * It holds the DISTINCT input rows with summed weights: identical (x, t_x, T)
 * customers (or (x, t_x, n) of BG/BB, (periods, churned) of sBG) collapse
 * into one row, so the cost of a fit depends on the
 * number of distinct rows, not on the number of customers.
 *
 * Two representations:
 *	- flat (varlena): header + rows sorted by (x, t_x, t); what in/out,
 *	  send/recv, tuples and the Gather between workers see;
 *	- expanded (an expanded object with a simplehash table): what the
 *	  transition and combine functions update in place.  nodeAgg keeps a
 *	  read-write expanded datum that lives under the aggregate context
 *	  without copying it, so a row costs one hash probe instead of a copy of
 *	  the whole state.  PostgreSQL flattens it where a tuple is formed.
 *
 * IDENTIFICATION
 *	  src/clv/btyd_fit_state.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/expandeddatum.h"
#include "utils/memutils.h"

#include "clm.h"
#include "clv_fit.h"
#include "clv_input.h"

PG_FUNCTION_INFO_V1(clm_btyd_fit_state_in);
PG_FUNCTION_INFO_V1(clm_btyd_fit_state_out);
PG_FUNCTION_INFO_V1(clm_btyd_fit_state_recv);
PG_FUNCTION_INFO_V1(clm_btyd_fit_state_send);
PG_FUNCTION_INFO_V1(clm_btyd_fit_trans);
PG_FUNCTION_INFO_V1(clm_spend_fit_trans);
PG_FUNCTION_INFO_V1(clm_bgbb_fit_trans);
PG_FUNCTION_INFO_V1(clm_sbg_fit_trans);
PG_FUNCTION_INFO_V1(clm_btyd_fit_combine);

#define CLV_STATE_VERSION 1
#define CLV_FLAG_PENALIZER 0x0001	/* a penalizer was given */

/* The flat (varlena) form: the on-disk and wire representation. */
typedef struct ClvFitStateData
{
	int32		vl_len_;
	uint8		version;
	uint8		kind;
	uint16		flags;
	int32		nrows;
	int32		padding;		/* keeps the doubles 8-byte aligned */
	double		penalizer;
	ClvFitRow	rows[FLEXIBLE_ARRAY_MEMBER];
} ClvFitStateData;

#define CLV_STATE_HDRSZ offsetof(ClvFitStateData, rows)

/* A flat state may hold at most this many rows (it must fit in 1 GB). */
#define CLV_MAX_ROWS ((int) ((MaxAllocSize - CLV_STATE_HDRSZ) / sizeof(ClvFitRow)))

/* ---------- the hash table of distinct rows ---------- */

typedef struct ClvRowKey
{
	double		x;
	double		t_x;
	double		t;
} ClvRowKey;

typedef struct ClvRowEntry
{
	ClvRowKey	key;
	double		w;
	char		status;
} ClvRowEntry;

/*
 * Hash three doubles by their bits (callers normalise -0 to +0 first, so that
 * equal values have equal bits), with the splitmix64 finaliser as the mixer.
 */
static inline uint32
clv_key_hash(const ClvRowKey *k)
{
	uint64		h = UINT64CONST(0x9E3779B97F4A7C15);
	const double *v = &k->x;

	for (int i = 0; i < 3; i++)
	{
		uint64		bits;

		memcpy(&bits, &v[i], sizeof(bits));
		h ^= bits;
		h ^= h >> 30;
		h *= UINT64CONST(0xBF58476D1CE4E5B9);
		h ^= h >> 27;
		h *= UINT64CONST(0x94D049BB133111EB);
		h ^= h >> 31;
	}
	return (uint32) (h ^ (h >> 32));
}

#define SH_PREFIX clvrows
#define SH_ELEMENT_TYPE ClvRowEntry
#define SH_KEY_TYPE ClvRowKey
#define SH_KEY key
#define SH_HASH_KEY(tb, k) clv_key_hash(&(k))
#define SH_EQUAL(tb, a, b) ((a).x == (b).x && (a).t_x == (b).t_x && (a).t == (b).t)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* ---------- the expanded representation ---------- */

typedef struct ClvFitExpanded
{
	ExpandedObjectHeader hdr;
	int			kind;
	uint16		flags;
	double		penalizer;
	clvrows_hash *rows;
} ClvFitExpanded;

static Size clv_get_flat_size(ExpandedObjectHeader *eohptr);
static void clv_flatten_into(ExpandedObjectHeader *eohptr, void *result, Size allocated_size);

static const ExpandedObjectMethods clv_methods = {
	clv_get_flat_size,
	clv_flatten_into
};

/* The names of the kinds in the text form, indexed by kind. */
static const char *const clv_kind_names[CLV_KIND_MAX + 1] = {
	NULL, "btyd", "spend", "bgbb", "sbg"
};

#define CLV_KIND_VALID(k) ((k) >= 1 && (k) <= CLV_KIND_MAX)

static const char *
kind_name(int kind)
{
	return clv_kind_names[kind];
}

static int
row_cmp(const void *pa, const void *pb)
{
	const ClvFitRow *a = pa;
	const ClvFitRow *b = pb;

	if (a->x != b->x)
		return a->x < b->x ? -1 : 1;
	if (a->t_x != b->t_x)
		return a->t_x < b->t_x ? -1 : 1;
	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	return 0;
}

/*
 * Create an empty expanded state in its own memory context under parent
 * (the aggregate context, so that nodeAgg adopts it without copying).
 */
static ClvFitExpanded *
clv_new_expanded(MemoryContext parent, int kind, uint16 flags, double penalizer,
				 uint32 nelem)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "clm fit state",
											  ALLOCSET_START_SMALL_SIZES);
	ClvFitExpanded *e = MemoryContextAllocZero(cxt, sizeof(ClvFitExpanded));

	EOH_init_header(&e->hdr, &clv_methods, cxt);
	e->kind = kind;
	e->flags = flags;
	e->penalizer = penalizer;
	e->rows = clvrows_create(cxt, Max(nelem, 16), NULL);
	return e;
}

/* Add weight w to the row (x, t_x, t), inserting it when new. */
static inline void
clv_add_row(ClvFitExpanded *e, double x, double t_x, double t, double w)
{
	ClvRowKey	key;
	ClvRowEntry *ent;
	bool		found;

	key.x = x + 0.0;			/* -0 becomes +0 */
	key.t_x = t_x + 0.0;
	key.t = t + 0.0;
	ent = clvrows_insert(e->rows, key, &found);
	if (found)
		ent->w += w;
	else
	{
		if (e->rows->members > (uint32) CLV_MAX_ROWS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many distinct rows in a CLV fit state"),
					 errdetail("A state holds at most %d distinct rows.", CLV_MAX_ROWS),
					 errhint("Round t_x and t to a coarser time resolution (for example whole days) so that identical customers collapse.")));
		ent->w = w;
	}
}

/* Reconcile the penalizer of two states or of a state and a new row. */
static void
clv_merge_penalizer(ClvFitExpanded *e, uint16 flags, double penalizer)
{
	if (!(flags & CLV_FLAG_PENALIZER))
		return;
	if (!(e->flags & CLV_FLAG_PENALIZER))
	{
		e->flags |= CLV_FLAG_PENALIZER;
		e->penalizer = penalizer;
	}
	else if (e->penalizer != penalizer)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("penalizer must be the same for every row of a fit"),
				 errdetail("Found both %g and %g.", e->penalizer, penalizer),
				 errhint("Pass the penalizer as a constant.")));
}

static Size
clv_get_flat_size(ExpandedObjectHeader *eohptr)
{
	ClvFitExpanded *e = (ClvFitExpanded *) eohptr;

	return CLV_STATE_HDRSZ + (Size) e->rows->members * sizeof(ClvFitRow);
}

/* Write the flat form, rows sorted so that equal states print equally. */
static void
clv_flatten_into(ExpandedObjectHeader *eohptr, void *result, Size allocated_size)
{
	ClvFitExpanded *e = (ClvFitExpanded *) eohptr;
	ClvFitStateData *s = (ClvFitStateData *) result;
	clvrows_iterator it;
	ClvRowEntry *ent;
	int			i = 0;

	Assert(allocated_size == clv_get_flat_size(eohptr));
	memset(s, 0, CLV_STATE_HDRSZ);
	SET_VARSIZE(s, allocated_size);
	s->version = CLV_STATE_VERSION;
	s->kind = e->kind;
	s->flags = e->flags;
	s->penalizer = e->penalizer;
	clvrows_start_iterate(e->rows, &it);
	while ((ent = clvrows_iterate(e->rows, &it)) != NULL)
	{
		s->rows[i].x = ent->key.x;
		s->rows[i].t_x = ent->key.t_x;
		s->rows[i].t = ent->key.t;
		s->rows[i].w = ent->w;
		i++;
	}
	s->nrows = i;
	qsort(s->rows, i, sizeof(ClvFitRow), row_cmp);
}

/* ---------- validation ---------- */

/*
 * Describe what is wrong with a stored row, or return NULL.  Used for states
 * that come from outside a transition function (text, binary, a flat
 * partial state), where the row-level errors of the transition functions
 * cannot name an argument.  The values follow the input contract of the
 * models (clv_input.c); a spend row also has x > 0 (the transition skips
 * x = 0) and 0 in the time column, and so has an sBG row.
 */
static const char *
clv_row_problem(int kind, const ClvFitRow *r)
{
	const char *problem;

	if (!isfinite(r->w) || !(r->w > 0))
		return "a weight is not a positive finite number";
	if (kind == CLV_KIND_BTYD)
		return clv_btyd_history_problem(r->x, r->t_x, r->t);
	if (kind == CLV_KIND_BGBB)
		return clv_bgbb_history_problem(r->x, r->t_x, r->t);
	if (kind == CLV_KIND_SBG)
	{
		problem = clv_sbg_history_problem(r->x, r->t_x);
		if (problem)
			return problem;
		if (r->t != 0)
			return "the third column of an sbg row is not 0";
		return NULL;
	}
	problem = clv_spend_problem(r->x, r->t_x);
	if (problem)
		return problem;
	if (r->x == 0)
		return "a spend row has x = 0";
	if (r->t != 0)
		return "the third column of a spend row is not 0";
	return NULL;
}

/*
 * Check a flat state completely: header, declared size against the row
 * count, every row, sort order without duplicates.  errcode is the SQLSTATE
 * to raise (binary/text representation for recv/in, data corruption for
 * states reaching a combine or final function).
 */
static void
clv_check_flat(const ClvFitStateData *s, Size size, int sqlstate)
{
	if (size < CLV_STATE_HDRSZ)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid clm.btyd_fit_state: too short"),
				 errdetail("The value has %zu bytes; the header alone has %zu.",
						   size, (Size) CLV_STATE_HDRSZ)));
	if (s->version != CLV_STATE_VERSION)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid clm.btyd_fit_state: unsupported version %d", s->version),
				 errdetail("This build of clm reads version %d.", CLV_STATE_VERSION)));
	if (!CLV_KIND_VALID(s->kind))
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid clm.btyd_fit_state: unknown kind %d", s->kind)));
	if ((s->flags & ~CLV_FLAG_PENALIZER) != 0)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid clm.btyd_fit_state: unknown flags 0x%x", s->flags)));
	if (!isfinite(s->penalizer) || s->penalizer < 0 ||
		(!(s->flags & CLV_FLAG_PENALIZER) && s->penalizer != 0))
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid clm.btyd_fit_state: invalid penalizer")));
	if (s->nrows < 0 || s->nrows > CLV_MAX_ROWS ||
		size != CLV_STATE_HDRSZ + (Size) s->nrows * sizeof(ClvFitRow))
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid clm.btyd_fit_state: row count %d does not match its size", s->nrows),
				 errdetail("The value has %zu bytes.", size)));
	for (int i = 0; i < s->nrows; i++)
	{
		const char *problem = clv_row_problem(s->kind, &s->rows[i]);

		if (problem)
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid clm.btyd_fit_state: row %d: %s", i + 1, problem)));
		if (i > 0 && row_cmp(&s->rows[i - 1], &s->rows[i]) >= 0)
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid clm.btyd_fit_state: rows are not sorted or not distinct at row %d", i + 1)));
	}
}

/* Detoast a flat state (flattening an expanded one) and check it. */
static ClvFitStateData *
clv_get_flat(Datum d, int sqlstate)
{
	ClvFitStateData *s = (ClvFitStateData *) PG_DETOAST_DATUM(d);

	clv_check_flat(s, VARSIZE(s), sqlstate);
	return s;
}

/* Our expanded object behind d, or NULL when d is a flat value. */
static ClvFitExpanded *
clv_expanded_or_null(Datum d)
{
	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(d)))
	{
		ExpandedObjectHeader *eoh = DatumGetEOHP(d);

		if (eoh->eoh_methods == &clv_methods)
			return (ClvFitExpanded *) eoh;
	}
	return NULL;
}

/*
 * Merge the rows of datum d (expanded or flat) into e, checking that both
 * describe the same kind of fit.
 */
static void
clv_merge_into(ClvFitExpanded *e, Datum d)
{
	ClvFitExpanded *src = clv_expanded_or_null(d);

	if (src != NULL)
	{
		clvrows_iterator it;
		ClvRowEntry *ent;

		if (src->kind != e->kind)
			elog(ERROR, "cannot merge clm.btyd_fit_state of kind %s into %s",
				 kind_name(src->kind), kind_name(e->kind));
		clv_merge_penalizer(e, src->flags, src->penalizer);
		clvrows_start_iterate(src->rows, &it);
		while ((ent = clvrows_iterate(src->rows, &it)) != NULL)
			clv_add_row(e, ent->key.x, ent->key.t_x, ent->key.t, ent->w);
	}
	else
	{
		ClvFitStateData *s = clv_get_flat(d, ERRCODE_DATA_CORRUPTED);

		if (s->kind != e->kind)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot merge a %s fit state into a %s fit state",
							kind_name(s->kind), kind_name(e->kind))));
		clv_merge_penalizer(e, s->flags, s->penalizer);
		for (int i = 0; i < s->nrows; i++)
			clv_add_row(e, s->rows[i].x, s->rows[i].t_x, s->rows[i].t, s->rows[i].w);
	}
}

/*
 * A state to update in place: the read-write expanded object nodeAgg hands
 * back to us, or a fresh expanded copy (in the aggregate context) of a flat
 * or foreign value.
 */
static ClvFitExpanded *
clv_state_for_update(Datum d, int kind, MemoryContext aggcxt)
{
	ClvFitExpanded *e = clv_expanded_or_null(d);

	if (e != NULL && VARATT_IS_EXTERNAL_EXPANDED_RW(DatumGetPointer(d)) &&
		MemoryContextGetParent(e->hdr.eoh_context) == aggcxt)
	{
		if (e->kind != kind)
			elog(ERROR, "clm.btyd_fit_state of kind %s used for a %s fit",
				 kind_name(e->kind), kind_name(kind));
		return e;
	}
	e = clv_new_expanded(aggcxt, kind, 0, 0.0, 64);
	clv_merge_into(e, d);
	return e;
}

/* ---------- transition and combine ---------- */

static void
check_weight_penalizer(FunctionCallInfo fcinfo, int wpos, double *w,
					   uint16 *flags, double *penalizer)
{
	*w = 1.0;
	*flags = 0;
	*penalizer = 0.0;
	if (PG_NARGS() > wpos)
	{
		*w = PG_GETARG_FLOAT8(wpos);
		clm_check_finite_float8(*w, "weight");
		if (!(*w > 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("weight must be positive"),
					 errdetail("The value is %g.", *w),
					 errhint("A weight is the number of customers a row stands for; leave out rows with no customers.")));
	}
	if (PG_NARGS() > wpos + 1)
	{
		*penalizer = PG_GETARG_FLOAT8(wpos + 1);
		clm_check_finite_float8(*penalizer, "penalizer");
		if (*penalizer < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("penalizer must not be negative"),
					 errdetail("The value is %g.", *penalizer),
					 errhint("Use 0 for no penalty; lifetimes users typically try 0.001 to 0.1.")));
		*flags = CLV_FLAG_PENALIZER;
	}
}

static bool
any_arg_null(FunctionCallInfo fcinfo)
{
	for (int i = 1; i < PG_NARGS(); i++)
		if (PG_ARGISNULL(i))
			return true;
	return false;
}

/*
 * fit_state_unchanged
 *		The transition result for a row a fit skips: the state as it was
 *		(NULL before the first row counted).
 */
static Datum
fit_state_unchanged(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_DATUM(PG_GETARG_DATUM(0));
}

/*
 * clm_btyd_fit_trans(state, x, t_x, t [, weight [, penalizer]])
 *		Transition of clm.bgnbd_fit and clm.paretonbd_fit: validate the row
 *		and add its weight to the distinct row (x, t_x, t).
 *
 * Rows with a NULL argument are skipped, as a strict aggregate would.
 */
Datum
clm_btyd_fit_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	ClvFitExpanded *e;
	double		x,
				t_x,
				t,
				w,
				penalizer;
	uint16		flags;

	aggcxt = clm_agg_context(fcinfo);
	if (any_arg_null(fcinfo))
		return fit_state_unchanged(fcinfo);

	x = PG_GETARG_FLOAT8(1);
	t_x = PG_GETARG_FLOAT8(2);
	t = PG_GETARG_FLOAT8(3);
	clv_check_btyd_history(x, t_x, t);
	check_weight_penalizer(fcinfo, 4, &w, &flags, &penalizer);

	e = PG_ARGISNULL(0) ? clv_new_expanded(aggcxt, CLV_KIND_BTYD, 0, 0.0, 16)
		: clv_state_for_update(PG_GETARG_DATUM(0), CLV_KIND_BTYD, aggcxt);
	clv_merge_penalizer(e, flags, penalizer);
	clv_add_row(e, x, t_x, t, w);
	PG_RETURN_DATUM(EOHPGetRWDatum(&e->hdr));
}

/*
 * clm_spend_fit_trans(state, x, mean_spend [, weight [, penalizer]])
 *		Transition of clm.gamma_gamma_fit.  Customers without repeat
 *		purchases (x = 0) carry no spend information and are skipped.
 */
Datum
clm_spend_fit_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	ClvFitExpanded *e;
	double		x,
				m,
				w,
				penalizer;
	uint16		flags;

	aggcxt = clm_agg_context(fcinfo);
	if (any_arg_null(fcinfo))
		return fit_state_unchanged(fcinfo);

	x = PG_GETARG_FLOAT8(1);
	m = PG_GETARG_FLOAT8(2);
	clv_check_spend(x, m);
	check_weight_penalizer(fcinfo, 3, &w, &flags, &penalizer);

	if (x == 0)
		return fit_state_unchanged(fcinfo);
	e = PG_ARGISNULL(0) ? clv_new_expanded(aggcxt, CLV_KIND_SPEND, 0, 0.0, 16)
		: clv_state_for_update(PG_GETARG_DATUM(0), CLV_KIND_SPEND, aggcxt);
	clv_merge_penalizer(e, flags, penalizer);
	clv_add_row(e, x, m, 0.0, w);
	PG_RETURN_DATUM(EOHPGetRWDatum(&e->hdr));
}

/*
 * clm_bgbb_fit_trans(state, x, t_x, n [, weight])
 *		Transition of clm.bgbb_fit: validate the discrete-time history and
 *		add its weight to the distinct row (x, t_x, n).
 */
Datum
clm_bgbb_fit_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	ClvFitExpanded *e;
	double		x,
				t_x,
				n,
				w,
				penalizer;
	uint16		flags;

	aggcxt = clm_agg_context(fcinfo);
	if (any_arg_null(fcinfo))
		return fit_state_unchanged(fcinfo);

	x = PG_GETARG_FLOAT8(1);
	t_x = PG_GETARG_FLOAT8(2);
	n = PG_GETARG_FLOAT8(3);
	clv_check_bgbb_history(x, t_x, n);
	check_weight_penalizer(fcinfo, 4, &w, &flags, &penalizer);

	e = PG_ARGISNULL(0) ? clv_new_expanded(aggcxt, CLV_KIND_BGBB, 0, 0.0, 16)
		: clv_state_for_update(PG_GETARG_DATUM(0), CLV_KIND_BGBB, aggcxt);
	clv_add_row(e, x, t_x, n, w);
	PG_RETURN_DATUM(EOHPGetRWDatum(&e->hdr));
}

/*
 * clm_sbg_fit_trans(state, periods, churned [, weight])
 *		Transition of clm.sbg_fit: a customer (or a group of weight
 *		customers) who faced periods renewal opportunities and left at the
 *		last one (churned) or is still active.  Stored as the row
 *		(periods, churned as 0/1, 0).
 */
Datum
clm_sbg_fit_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	ClvFitExpanded *e;
	double		periods,
				w,
				penalizer;
	bool		churned;
	uint16		flags;

	aggcxt = clm_agg_context(fcinfo);
	if (any_arg_null(fcinfo))
		return fit_state_unchanged(fcinfo);

	periods = PG_GETARG_INT32(1);
	churned = PG_GETARG_BOOL(2);
	clv_check_sbg_history(periods, churned);
	check_weight_penalizer(fcinfo, 3, &w, &flags, &penalizer);

	e = PG_ARGISNULL(0) ? clv_new_expanded(aggcxt, CLV_KIND_SBG, 0, 0.0, 16)
		: clv_state_for_update(PG_GETARG_DATUM(0), CLV_KIND_SBG, aggcxt);
	clv_add_row(e, periods, churned ? 1.0 : 0.0, 0.0, w);
	PG_RETURN_DATUM(EOHPGetRWDatum(&e->hdr));
}

/*
 * clm_btyd_fit_combine(state, state)
 *		Merge two partial states (either may be NULL: a worker that saw no
 *		rows).  The result is always an expanded object in the aggregate
 *		context; a state coming from a worker is never returned as is.
 */
Datum
clm_btyd_fit_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	ClvFitExpanded *e;

	aggcxt = clm_agg_context(fcinfo);
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	if (PG_ARGISNULL(0))
	{
		ClvFitExpanded *src = clv_expanded_or_null(PG_GETARG_DATUM(1));
		int			kind;

		if (src != NULL)
			kind = src->kind;
		else
			kind = clv_get_flat(PG_GETARG_DATUM(1), ERRCODE_DATA_CORRUPTED)->kind;
		e = clv_new_expanded(aggcxt, kind, 0, 0.0, 64);
		clv_merge_into(e, PG_GETARG_DATUM(1));
		PG_RETURN_DATUM(EOHPGetRWDatum(&e->hdr));
	}
	{
		ClvFitExpanded *cur = clv_expanded_or_null(PG_GETARG_DATUM(0));
		int			kind = cur ? cur->kind
			: clv_get_flat(PG_GETARG_DATUM(0), ERRCODE_DATA_CORRUPTED)->kind;

		e = clv_state_for_update(PG_GETARG_DATUM(0), kind, aggcxt);
	}
	clv_merge_into(e, PG_GETARG_DATUM(1));
	PG_RETURN_DATUM(EOHPGetRWDatum(&e->hdr));
}

/*
 * clv_state_get_input
 *		Copy the rows of a state (expanded or flat) into in, sorted by
 *		(x, t_x, t).  Sorting makes the fit independent of the order in which
 *		rows and partial states arrived, so a parallel fit gives exactly the
 *		serial result.
 */
void
clv_state_get_input(Datum state, ClvFitInput *in)
{
	ClvFitExpanded *e = clv_expanded_or_null(state);

	if (e != NULL)
	{
		clvrows_iterator it;
		ClvRowEntry *ent;
		int			i = 0;

		in->kind = e->kind;
		in->has_penalizer = (e->flags & CLV_FLAG_PENALIZER) != 0;
		in->penalizer = e->penalizer;
		in->nrows = e->rows->members;
		in->rows = palloc_extended(Max(in->nrows, 1) * sizeof(ClvFitRow), MCXT_ALLOC_HUGE);
		clvrows_start_iterate(e->rows, &it);
		while ((ent = clvrows_iterate(e->rows, &it)) != NULL)
		{
			in->rows[i].x = ent->key.x;
			in->rows[i].t_x = ent->key.t_x;
			in->rows[i].t = ent->key.t;
			in->rows[i].w = ent->w;
			i++;
		}
		qsort(in->rows, in->nrows, sizeof(ClvFitRow), row_cmp);
	}
	else
	{
		ClvFitStateData *s = clv_get_flat(state, ERRCODE_DATA_CORRUPTED);

		in->kind = s->kind;
		in->has_penalizer = (s->flags & CLV_FLAG_PENALIZER) != 0;
		in->penalizer = s->penalizer;
		in->nrows = s->nrows;
		in->rows = palloc_extended(Max(in->nrows, 1) * sizeof(ClvFitRow), MCXT_ALLOC_HUGE);
		memcpy(in->rows, s->rows, (Size) s->nrows * sizeof(ClvFitRow));
	}
}

/* ---------- text and binary I/O ---------- */

/*
 * Sort parsed rows, reject duplicates and bad rows, and build the flat
 * value.  A duplicate (x, t_x, t) would be legal to fit but is never
 * produced by clm, so it marks a hand-made or damaged value.
 */
static ClvFitStateData *
clv_build_flat(int kind, uint16 flags, double penalizer, ClvFitRow *rows,
			   int n, int sqlstate)
{
	Size		size = CLV_STATE_HDRSZ + (Size) n * sizeof(ClvFitRow);
	ClvFitStateData *s = palloc_extended(size, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);

	SET_VARSIZE(s, size);
	s->version = CLV_STATE_VERSION;
	s->kind = kind;
	s->flags = flags;
	s->penalizer = penalizer;
	s->nrows = n;
	if (n > 0)
		memcpy(s->rows, rows, (Size) n * sizeof(ClvFitRow));
	qsort(s->rows, n, sizeof(ClvFitRow), row_cmp);
	clv_check_flat(s, size, sqlstate);
	return s;
}

static void
text_error(const char *str, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type clm.btyd_fit_state: \"%s\"", str),
			 errdetail("%s", what),
			 errhint("The format is: kind=btyd version=1 penalizer=none rows=N: (x,t_x,t,weight) ...")));
}

static const char *
expect_literal(const char *p, const char *lit, const char *str)
{
	while (*p == ' ')
		p++;
	if (strncmp(p, lit, strlen(lit)) != 0)
		text_error(str, psprintf("Expected \"%s\".", lit));
	return p + strlen(lit);
}

static const char *
parse_double(const char *p, double *v, const char *str)
{
	char	   *end;

	while (*p == ' ')
		p++;
	errno = 0;
	*v = strtod(p, &end);
	if (end == p || errno == ERANGE)
		text_error(str, "Expected a number.");
	return end;
}

/*
 * clm_btyd_fit_state_in
 *		Text form: kind=btyd version=1 penalizer=none rows=2: (0,0,38.86,1411)
 *		(1,1.71,38.86,1); the kind is btyd, spend, bgbb or sbg.  Every part
 *		is checked; the row count must match.
 */
Datum
clm_btyd_fit_state_in(PG_FUNCTION_ARGS)
{
	const char *str = PG_GETARG_CSTRING(0);
	const char *p = str;
	int			kind = 0,
				cap;
	uint16		flags = 0;
	double		penalizer = 0.0,
				v;
	long		nrows;
	char	   *end;
	ClvFitRow  *rows;
	int			n = 0;

	p = expect_literal(p, "kind=", str);
	for (int k = 1; k <= CLV_KIND_MAX; k++)
	{
		size_t		len = strlen(clv_kind_names[k]);

		if (strncmp(p, clv_kind_names[k], len) == 0 && p[len] == ' ')
		{
			kind = k;
			p += len;
			break;
		}
	}
	if (kind == 0)
		text_error(str, "The kind must be btyd, spend, bgbb or sbg.");
	p = expect_literal(p, "version=", str);
	p = parse_double(p, &v, str);
	if (v != CLV_STATE_VERSION)
		text_error(str, psprintf("Unsupported version %g; this build reads version %d.", v, CLV_STATE_VERSION));
	p = expect_literal(p, "penalizer=", str);
	if (strncmp(p, "none", 4) == 0)
		p += 4;
	else
	{
		p = parse_double(p, &penalizer, str);
		flags = CLV_FLAG_PENALIZER;
	}
	p = expect_literal(p, "rows=", str);
	errno = 0;
	nrows = strtol(p, &end, 10);
	if (end == p || errno != 0 || nrows < 0 || nrows > CLV_MAX_ROWS)
		text_error(str, "The row count must be a non-negative integer within limits.");
	p = expect_literal(end, ":", str);

	/* never trust the count for the allocation: grow as rows are read */
	cap = 16;
	rows = palloc(sizeof(ClvFitRow) * cap);
	for (;;)
	{
		ClvFitRow	r;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (n >= nrows)
			text_error(str, psprintf("More rows than the declared %ld.", nrows));
		if (n >= cap)
		{
			cap = (int) Min((long) cap * 2, nrows);
			rows = repalloc_huge(rows, sizeof(ClvFitRow) * cap);
		}
		p = expect_literal(p, "(", str);
		p = parse_double(p, &r.x, str);
		p = expect_literal(p, ",", str);
		p = parse_double(p, &r.t_x, str);
		p = expect_literal(p, ",", str);
		p = parse_double(p, &r.t, str);
		p = expect_literal(p, ",", str);
		p = parse_double(p, &r.w, str);
		p = expect_literal(p, ")", str);
		rows[n++] = r;
	}
	if (n != nrows)
		text_error(str, psprintf("Declared %ld rows but found %d.", nrows, n));
	PG_RETURN_POINTER(clv_build_flat(kind, flags, penalizer, rows, n,
									 ERRCODE_INVALID_TEXT_REPRESENTATION));
}

static void
append_double(StringInfo buf, double v)
{
	char		tmp[DOUBLE_SHORTEST_DECIMAL_LEN];

	double_to_shortest_decimal_buf(v, tmp);
	appendStringInfoString(buf, tmp);
}

/* clm_btyd_fit_state_out: the text form above, exact (shortest round-trip). */
Datum
clm_btyd_fit_state_out(PG_FUNCTION_ARGS)
{
	ClvFitStateData *s = clv_get_flat(PG_GETARG_DATUM(0), ERRCODE_DATA_CORRUPTED);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "kind=%s version=%d penalizer=", kind_name(s->kind), s->version);
	if (s->flags & CLV_FLAG_PENALIZER)
		append_double(&buf, s->penalizer);
	else
		appendStringInfoString(&buf, "none");
	appendStringInfo(&buf, " rows=%d:", s->nrows);
	for (int i = 0; i < s->nrows; i++)
	{
		appendStringInfoString(&buf, " (");
		append_double(&buf, s->rows[i].x);
		appendStringInfoChar(&buf, ',');
		append_double(&buf, s->rows[i].t_x);
		appendStringInfoChar(&buf, ',');
		append_double(&buf, s->rows[i].t);
		appendStringInfoChar(&buf, ',');
		append_double(&buf, s->rows[i].w);
		appendStringInfoChar(&buf, ')');
	}
	PG_RETURN_CSTRING(buf.data);
}

/*
 * clm_btyd_fit_state_send
 *		Binary form: version (1 byte), kind (1), flags (2), row count (4),
 *		penalizer (8), then x, t_x, t, weight (8 each) per row.
 */
Datum
clm_btyd_fit_state_send(PG_FUNCTION_ARGS)
{
	ClvFitStateData *s = clv_get_flat(PG_GETARG_DATUM(0), ERRCODE_DATA_CORRUPTED);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint8(&buf, s->version);
	pq_sendint8(&buf, s->kind);
	pq_sendint16(&buf, s->flags);
	pq_sendint32(&buf, s->nrows);
	pq_sendfloat8(&buf, s->penalizer);
	for (int i = 0; i < s->nrows; i++)
	{
		pq_sendfloat8(&buf, s->rows[i].x);
		pq_sendfloat8(&buf, s->rows[i].t_x);
		pq_sendfloat8(&buf, s->rows[i].t);
		pq_sendfloat8(&buf, s->rows[i].w);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/*
 * clm_btyd_fit_state_recv
 *		Read the binary form, checking the count against the bytes actually
 *		present before allocating, then every field.
 */
Datum
clm_btyd_fit_state_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			version,
				kind,
				flags,
				nrows;
	double		penalizer;
	ClvFitRow  *rows;

	if (buf->len - buf->cursor < 16)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid clm.btyd_fit_state: too short")));
	version = pq_getmsgbyte(buf);
	kind = pq_getmsgbyte(buf);
	flags = pq_getmsgint(buf, 2);
	nrows = pq_getmsgint(buf, 4);
	penalizer = pq_getmsgfloat8(buf);
	if (version != CLV_STATE_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid clm.btyd_fit_state: unsupported version %d", version),
				 errdetail("This build of clm reads version %d.", CLV_STATE_VERSION)));
	if (nrows < 0 || nrows > CLV_MAX_ROWS ||
		(Size) (buf->len - buf->cursor) != (Size) nrows * 4 * sizeof(double))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid clm.btyd_fit_state: row count %d does not match the data", nrows),
				 errdetail("%d bytes follow the header.", buf->len - buf->cursor)));
	rows = palloc_extended(Max(nrows, 1) * sizeof(ClvFitRow), MCXT_ALLOC_HUGE);
	for (int i = 0; i < nrows; i++)
	{
		rows[i].x = pq_getmsgfloat8(buf);
		rows[i].t_x = pq_getmsgfloat8(buf);
		rows[i].t = pq_getmsgfloat8(buf);
		rows[i].w = pq_getmsgfloat8(buf);
	}
	pq_getmsgend(buf);
	if (!CLV_KIND_VALID(kind))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid clm.btyd_fit_state: unknown kind %d", kind)));
	PG_RETURN_POINTER(clv_build_flat(kind, (uint16) flags, penalizer, rows, nrows,
									 ERRCODE_INVALID_BINARY_REPRESENTATION));
}
