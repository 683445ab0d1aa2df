/*-------------------------------------------------------------------------
 *
 * rfm_agg_by_customer.c
 *	  clm.rfm_agg_by_customer: the RFM metrics of every customer of a query
 *	  in one aggregate, returned as an array of clm.customer_rfm (bigint
 *	  customer ids) or clm.customer_rfm_uuid (uuid customer ids).
 *
 * `clm.rfm_agg(...) GROUP BY customer_id` gives the same rows, but nodeAgg
 * keeps, per group, a copy of the grouping key, an array of per-aggregate
 * slots and a separately allocated pass-by-reference state: at a million
 * customers that is hundreds of megabytes, and each order costs several
 * cache and TLB misses in it, which is most of the query's time.  A single
 * hash table with the states inline is no better: it is still one random
 * access into a table far larger than the cache per order.
 *
 * So the orders are first partitioned: the top bits of the customer id's
 * hash pick one of RFMC_NPART partitions, and the order (id, timestamp,
 * parsed amount) is appended to that partition's small buffer.  When a
 * buffer is full it is applied to the partition's own hash table
 * (lib/simplehash.h, states inline), which holds about 1/RFMC_NPART of the
 * customers and stays in the CPU cache while the buffer is applied.  The
 * per-row rules and the arithmetic are clm.rfm_agg's own (rfm_add_* in
 * rfm_agg.c), so both give identical results.
 *
 * It is an ordinary aggregate over whatever rows a query produces, so
 * WHERE, joins, row-level security and parallel query all apply: parallel
 * workers build partial tables, serialize them, and the leader merges them.
 * The limits are those of one array value: about 7 million customers per
 * call, somewhat fewer with uuid ids (the result must stay under 1 GB);
 * beyond that, split the customers with GROUP BY customer_id % k (uuid ids:
 * left(customer_id::text, 1)), or use clm.rfm_agg with GROUP BY.
 *
 * IDENTIFICATION
 *	  src/rfm/rfm_agg_by_customer.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "nodes/execnodes.h"
#include "nodes/extensible.h"
#include "port/pg_bswap.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "utils/uuid.h"

#include "clm.h"
#include "rfm.h"

PG_FUNCTION_INFO_V1(rfm_customers_trans_numeric);
PG_FUNCTION_INFO_V1(rfm_customers_trans_float8);
PG_FUNCTION_INFO_V1(rfm_customers_trans_int8);
PG_FUNCTION_INFO_V1(rfm_customers_trans_uuid_numeric);
PG_FUNCTION_INFO_V1(rfm_customers_trans_uuid_float8);
PG_FUNCTION_INFO_V1(rfm_customers_trans_uuid_int8);
PG_FUNCTION_INFO_V1(rfm_customers_combine);
PG_FUNCTION_INFO_V1(rfm_customers_serialize);
PG_FUNCTION_INFO_V1(rfm_customers_deserialize);
PG_FUNCTION_INFO_V1(rfm_customers_final);

/*
 * A customer id as an unsigned 128-bit number that orders like the id: a
 * bigint is hi = 0 and lo = the id with its sign bit flipped, a uuid is its
 * 16 bytes read big-endian (uuid order is byte order).  One key type lets
 * both id types share the tables, the buffers and the serialized form.
 */
typedef struct RfmcKey
{
	uint64		hi;
	uint64		lo;
} RfmcKey;

/* the SQL type of the ids of a state */
#define RFMC_ID_INT8		1
#define RFMC_ID_UUID		2

#define RFMC_INT8_FLIP		(UINT64CONST(1) << 63)

/* one customer: the key and clm.rfm_agg's state, inline */
typedef struct RfmCustomer
{
	RfmcKey		key;
	char		status;			/* simplehash's slot status */
	RfmState	st;
} RfmCustomer;

/*
 * rfmc_hash_key
 *		Fold the halves of each 64-bit word (as hashint8 does) and mix them
 *		with murmurhash32's finalizer.  hi is mixed on its own first, so that
 *		uuids whose words differ in the same bits (equal hi ^ lo) do not all
 *		hash alike; for a bigint (hi = 0) that inner step gives 0.  The top
 *		bits pick the partition, the low bits the slot in the partition's
 *		table.
 */
static inline uint32
rfmc_hash_key(RfmcKey key)
{
	uint32		h = murmurhash32((uint32) key.hi ^ (uint32) (key.hi >> 32));

	return murmurhash32(h ^ (uint32) key.lo ^ (uint32) (key.lo >> 32));
}

/*
 * rfmc_key_cmp
 *		Unsigned 128-bit comparison of two keys: the order of the ids.
 */
static inline int
rfmc_key_cmp(const RfmcKey *a, const RfmcKey *b)
{
	if (a->hi != b->hi)
		return a->hi > b->hi ? 1 : -1;
	return (a->lo > b->lo) - (a->lo < b->lo);
}

#define SH_PREFIX		rfmc
#define SH_ELEMENT_TYPE RfmCustomer
#define SH_KEY_TYPE		RfmcKey
#define SH_KEY			key
#define SH_HASH_KEY(tb, key) rfmc_hash_key(key)
#define SH_EQUAL(tb, a, b) ((a).hi == (b).hi && (a).lo == (b).lo)
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/*
 * 1024 partitions: at a million customers a partition's table is about
 * 200 kB, within a core's L2 cache; the buffers take 8 MB in all, and are
 * only allocated for partitions that get rows.
 */
#define RFMC_PART_BITS		10
#define RFMC_NPART			(1 << RFMC_PART_BITS)
#define RFMC_BUF_ROWS		128
#define RFMC_PREFETCH		8	/* rows ahead whose slot is prefetched */

/* how a buffered row counts */
#define RFMC_ROW_ENTRY		0	/* customer only: NULL ordered_at or amount, or after as_of */
#define RFMC_ROW_NUMERIC	1
#define RFMC_ROW_FLOAT8		2
#define RFMC_ROW_INT8		3

/* an order waiting in a partition buffer, its amount already parsed */
typedef struct RfmcRow
{
	RfmcKey		key;
	TimestampTz ts;
	uint32		hash;			/* rfmc_hash_key(key), computed once per row */
	int			what;			/* RFMC_ROW_* */
	union
	{
		RfmDecimal	dec;
		double		f;
		int64		i;
	}			amount;
} RfmcRow;

typedef struct RfmcPart
{
	rfmc_hash  *table;			/* NULL until the first flush */
	RfmcRow    *rows;			/* NULL until the first row */
	int			nrows;
} RfmcPart;

/*
 * The aggregate state.  Built by the transition and combine functions it
 * holds the partitions; made by the deserialize function it points to the
 * packed entries of a serialized state instead (it is only ever merged into
 * partitions right away).
 */
typedef struct RfmCustomers
{
	MemoryContext cxt;			/* the aggregate context */
	int			id_type;		/* RFMC_ID_* */
	bool		has_as_of;		/* set by the first row */
	TimestampTz as_of;
	const char *packed;			/* deserialized: entries, RFMC_ENTRY_SIZE each */
	int64		npacked;
	RfmcPart	parts[FLEXIBLE_ARRAY_MEMBER];	/* RFMC_NPART, unless packed */
} RfmCustomers;

/*
 * Serialized form (a bytea between processes of one server, never stored):
 * the header below, then per customer its key and its RfmState as in
 * memory, partition by partition.
 */
#define RFMC_SERIAL_VERSION	2
typedef struct RfmCustomersHeader
{
	uint32		version;
	uint32		has_as_of;
	uint32		id_type;		/* RFMC_ID_* */
	uint32		reserved;		/* 0 */
	TimestampTz as_of;
	int64		count;
} RfmCustomersHeader;

#define RFMC_ENTRY_SIZE		(sizeof(RfmcKey) + sizeof(RfmState))

/*
 * rfmc_key_from_datum
 *		The key of a customer id of the given type.
 */
static inline RfmcKey
rfmc_key_from_datum(Datum id, int id_type)
{
	RfmcKey		key;

	if (id_type == RFMC_ID_INT8)
	{
		key.hi = 0;
		key.lo = (uint64) DatumGetInt64(id) ^ RFMC_INT8_FLIP;
	}
	else
	{
		const pg_uuid_t *u = DatumGetUUIDP(id);

		memcpy(&key.hi, u->data, sizeof(uint64));
		memcpy(&key.lo, u->data + sizeof(uint64), sizeof(uint64));
		key.hi = pg_ntoh64(key.hi);
		key.lo = pg_ntoh64(key.lo);
	}
	return key;
}

/*
 * rfmc_key_to_datum
 *		The customer id of a key, as a Datum of the given type (a uuid is
 *		allocated in the current context).
 */
static Datum
rfmc_key_to_datum(const RfmcKey *key, int id_type)
{
	pg_uuid_t  *u;
	uint64		be;

	if (id_type == RFMC_ID_INT8)
		return Int64GetDatum((int64) (key->lo ^ RFMC_INT8_FLIP));
	u = palloc(sizeof(pg_uuid_t));
	be = pg_hton64(key->hi);
	memcpy(u->data, &be, sizeof(uint64));
	be = pg_hton64(key->lo);
	memcpy(u->data + sizeof(uint64), &be, sizeof(uint64));
	return UUIDPGetDatum(u);
}

/*
 * rfmc_id_type_mismatch
 *		The error for support functions of different id types put together
 *		in a hand-made aggregate (clm's own aggregates never do that).
 */
static void
rfmc_id_type_mismatch(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("the support functions of this aggregate disagree on the customer id type"),
			 errdetail("A state of bigint ids met one of uuid ids, or a final function for the other id type."),
			 errhint("Use clm.rfm_agg_by_customer, whose support functions match.")));
}

/*
 * rfmc_new
 *		An empty state in the aggregate context.
 */
static RfmCustomers *
rfmc_new(MemoryContext aggcxt, int id_type)
{
	RfmCustomers *cs;

	cs = MemoryContextAllocZero(aggcxt, offsetof(RfmCustomers, parts) + RFMC_NPART * sizeof(RfmcPart));
	cs->cxt = aggcxt;
	cs->id_type = id_type;
	return cs;
}

/*
 * rfmc_set_as_of
 *		Record the as_of of a state, or check that it did not change: one
 *		call of the aggregate is one analysis date.  The rule and its errors
 *		are clm.rfm_agg's (rfm_take_as_of).
 */
static inline void
rfmc_set_as_of(RfmCustomers *cs, bool isnull, TimestampTz as_of)
{
	cs->as_of = rfm_take_as_of(isnull, as_of, cs->has_as_of, cs->as_of);
	cs->has_as_of = true;
}

/*
 * rfmc_part_table
 *		A partition's table, created on first use.
 */
static inline rfmc_hash *
rfmc_part_table(RfmCustomers *cs, RfmcPart *part)
{
	if (part->table == NULL)
		part->table = rfmc_create(cs->cxt, 64, NULL);
	return part->table;
}

/*
 * rfmc_flush
 *		Apply a partition's buffered rows to its table.
 */
static void
rfmc_flush(RfmCustomers *cs, RfmcPart *part)
{
	rfmc_hash  *table = rfmc_part_table(cs, part);
	int			i;

	for (i = 0; i < part->nrows; i++)
	{
		const RfmcRow *row = &part->rows[i];
		bool		found;
		RfmCustomer *entry;

		/*
		 * Ask for the slot of a row a few places ahead now, so that the
		 * cache misses of several rows overlap instead of coming one after
		 * the other (a hint only: the table may still grow in between).
		 */
		if (i + RFMC_PREFETCH < part->nrows)
		{
			const char *ahead = (const char *) &table->data[part->rows[i + RFMC_PREFETCH].hash & table->sizemask];

			__builtin_prefetch(ahead, 1);
			__builtin_prefetch(ahead + sizeof(RfmCustomer) - 1, 1);
		}
		entry = rfmc_insert_hash(table, row->key, row->hash, &found);

		if (!found)
			rfm_state_init(&entry->st);
		switch (row->what)
		{
			case RFMC_ROW_ENTRY:
				break;
			case RFMC_ROW_NUMERIC:
				rfm_add_decimal(&entry->st, row->ts, &row->amount.dec);
				break;
			case RFMC_ROW_FLOAT8:
				rfm_add_float8(&entry->st, row->ts, row->amount.f);
				break;
			case RFMC_ROW_INT8:
				rfm_add_int8(&entry->st, row->ts, row->amount.i);
				break;
		}
	}
	part->nrows = 0;
}

/*
 * rfmc_flush_all
 *		Apply every buffered row, before the state is read.
 */
static void
rfmc_flush_all(RfmCustomers *cs)
{
	int			p;

	for (p = 0; p < RFMC_NPART; p++)
		if (cs->parts[p].nrows > 0)
			rfmc_flush(cs, &cs->parts[p]);
}

/*
 * rfmc_count
 *		Number of customers in a flushed state.
 */
static int64
rfmc_count(const RfmCustomers *cs)
{
	int64		n = 0;
	int			p;

	for (p = 0; p < RFMC_NPART; p++)
		if (cs->parts[p].table)
			n += cs->parts[p].table->members;
	return n;
}

/*
 * rfmc_gathered_error
 *		The error of rfmc_refuse_gathered_rows, below.
 */
clm_noreturn static void
rfmc_gathered_error(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("clm.rfm_agg_by_customer cannot aggregate rows gathered from Citus workers"),
			 errdetail("Its state is internal, which Citus cannot send between nodes, so every order row would be pulled to the coordinator and aggregated there."),
			 errhint("Use clm.rfm_agg(ordered_at, amount, as_of) with GROUP BY customer_id, which runs on the workers.")));
}

/*
 * rfmc_refuse_gathered_rows
 *		Refuse to aggregate rows that a Citus coordinator gathered from its
 *		workers.
 *
 * The state is internal, and Citus distributes only aggregates whose state
 * is a real type: by default it pulls every row of a distributed table to
 * the coordinator and runs the whole aggregate there (tens of MB for a
 * million orders).  Such a plan is an Agg reading, directly or through
 * sorts and subqueries, a custom scan of Citus's (its plan methods are
 * named "Citus Adaptive", "Citus INSERT ... SELECT", ...), or, for a CTE
 * or subquery Citus gathered first, its pg_catalog.read_intermediate_result
 * (or _results); clm does not link to Citus, so both are recognised by
 * name.  Checked once per group, when the state is created.
 */
static void
rfmc_refuse_gathered_rows(FunctionCallInfo fcinfo)
{
	PlanState  *ps;

	if (fcinfo->context == NULL || !IsA(fcinfo->context, AggState))
		return;
	ps = outerPlanState((PlanState *) fcinfo->context);
	while (ps != NULL)
	{
		if (IsA(ps, CustomScanState))
		{
			const CustomScanMethods *m = ((CustomScan *) ps->plan)->methods;

			if (m != NULL && m->CustomName != NULL &&
				strncmp(m->CustomName, "Citus", 5) == 0)
				rfmc_gathered_error();
			return;
		}
		if (IsA(ps, FunctionScanState))
		{
			List	   *fns = ((FunctionScan *) ps->plan)->functions;
			Node	   *fn = list_length(fns) == 1 ?
				((RangeTblFunction *) linitial(fns))->funcexpr : NULL;
			char	   *name = (fn != NULL && IsA(fn, FuncExpr)) ?
				get_func_name(((FuncExpr *) fn)->funcid) : NULL;

			if (name != NULL &&
				get_func_namespace(((FuncExpr *) fn)->funcid) == PG_CATALOG_NAMESPACE &&
				strncmp(name, "read_intermediate_result", 24) == 0)
				rfmc_gathered_error();
			return;
		}
		if (IsA(ps, SubqueryScanState))
			ps = ((SubqueryScanState *) ps)->subplan;
		else if (innerPlanState(ps) == NULL)
			ps = outerPlanState(ps);
		else
			return;
	}
}

/*
 * rfmc_row
 *		The common part of the transition functions (arguments: state,
 *		customer_id, ordered_at, amount, as_of): check the row, and return
 *		the buffer slot for it and its partition, with what set to
 *		RFMC_ROW_ENTRY; the caller fills in the amount of a row that counts.
 *		As with GROUP BY, a customer whose rows are all skipped (NULL
 *		ordered_at or amount, or after as_of) still gets an entry, with a
 *		NULL clm.rfm; rows without a customer are skipped (NULL is
 *		returned).
 */
static inline RfmcRow *
rfmc_row(FunctionCallInfo fcinfo, int id_type, RfmCustomers **csp, RfmcPart **partp,
		 bool *counts)
{
	MemoryContext aggcxt;
	RfmCustomers *cs;
	RfmcKey		key;
	uint32		hash;
	RfmcPart   *part;
	RfmcRow    *row;

	aggcxt = clm_agg_context(fcinfo);
	if (PG_ARGISNULL(0))
	{
		rfmc_refuse_gathered_rows(fcinfo);
		*csp = rfmc_new(aggcxt, id_type);
	}
	else
		*csp = (RfmCustomers *) PG_GETARG_POINTER(0);
	cs = *csp;

	rfmc_set_as_of(cs, PG_ARGISNULL(4), PG_GETARG_TIMESTAMPTZ(4));
	if (PG_ARGISNULL(1))
		return NULL;

	key = rfmc_key_from_datum(PG_GETARG_DATUM(1), id_type);
	hash = rfmc_hash_key(key);
	part = &cs->parts[hash >> (32 - RFMC_PART_BITS)];
	*partp = part;
	if (part->rows == NULL)
		part->rows = MemoryContextAlloc(cs->cxt, RFMC_BUF_ROWS * sizeof(RfmcRow));
	else if (part->nrows == RFMC_BUF_ROWS)
		rfmc_flush(cs, part);
	row = &part->rows[part->nrows];
	row->key = key;
	row->hash = hash;
	row->what = RFMC_ROW_ENTRY;
	*counts = false;
	if (!PG_ARGISNULL(2) && !PG_ARGISNULL(3))
	{
		row->ts = PG_GETARG_TIMESTAMPTZ(2);
		clm_check_finite_timestamp(row->ts, "ordered_at");
		*counts = row->ts <= cs->as_of;
	}
	/* the caller keeps the row (nrows++) once its amount has been checked */
	return row;
}

/*
 * rfm_customers_trans_numeric, _float8, _int8
 *		Transition functions of clm.rfm_agg_by_customer(customer_id,
 *		ordered_at, amount, as_of).  Timestamps and numeric amounts are
 *		checked as the row comes in; the checks of rfm_add_* (a double
 *		precision amount out of range, a sum beyond 38 digits) run when the
 *		buffer is applied, so they may report a row a little later than it
 *		was read.
 */
static inline Datum
rfmc_trans(FunctionCallInfo fcinfo, int id_type, int what)
{
	RfmCustomers *cs;
	RfmcPart   *part;
	bool		counts;
	RfmcRow    *row = rfmc_row(fcinfo, id_type, &cs, &part, &counts);

	if (row)
	{
		if (counts)
		{
			if (what == RFMC_ROW_NUMERIC)
				rfm_read_numeric(PG_GETARG_DATUM(3), &row->amount.dec);
			else if (what == RFMC_ROW_FLOAT8)
				row->amount.f = PG_GETARG_FLOAT8(3);
			else
				row->amount.i = PG_GETARG_INT64(3);
			row->what = what;
		}
		part->nrows++;
	}
	PG_RETURN_POINTER(cs);
}

Datum
rfm_customers_trans_numeric(PG_FUNCTION_ARGS)
{
	return rfmc_trans(fcinfo, RFMC_ID_INT8, RFMC_ROW_NUMERIC);
}

Datum
rfm_customers_trans_float8(PG_FUNCTION_ARGS)
{
	return rfmc_trans(fcinfo, RFMC_ID_INT8, RFMC_ROW_FLOAT8);
}

Datum
rfm_customers_trans_int8(PG_FUNCTION_ARGS)
{
	return rfmc_trans(fcinfo, RFMC_ID_INT8, RFMC_ROW_INT8);
}

/*
 * rfm_customers_trans_uuid_numeric, _float8, _int8
 *		The same for uuid customer ids.
 */
Datum
rfm_customers_trans_uuid_numeric(PG_FUNCTION_ARGS)
{
	return rfmc_trans(fcinfo, RFMC_ID_UUID, RFMC_ROW_NUMERIC);
}

Datum
rfm_customers_trans_uuid_float8(PG_FUNCTION_ARGS)
{
	return rfmc_trans(fcinfo, RFMC_ID_UUID, RFMC_ROW_FLOAT8);
}

Datum
rfm_customers_trans_uuid_int8(PG_FUNCTION_ARGS)
{
	return rfmc_trans(fcinfo, RFMC_ID_UUID, RFMC_ROW_INT8);
}

/*
 * rfmc_merge_one
 *		Add one customer's state to a state's partitions.
 */
static inline void
rfmc_merge_one(RfmCustomers *into, RfmcKey key, const RfmState *st)
{
	RfmcPart   *part = &into->parts[rfmc_hash_key(key) >> (32 - RFMC_PART_BITS)];
	bool		found;
	RfmCustomer *entry = rfmc_insert(rfmc_part_table(into, part), key, &found);

	if (found)
		rfm_merge_into(&entry->st, st);
	else
	{
		memcpy(&entry->st, st, VARSIZE(st));
		rfm_state_widen_in_place(&entry->st);
	}
}

/*
 * rfm_customers_combine
 *		Combine function: merge the right state's customers into the left
 *		one, which is made in the aggregate context when it is NULL (the
 *		right state comes from the deserialize function and lives only as
 *		long as its input row).  Serialized entries come partition by
 *		partition, so the merge, too, works in one cache-sized table at a
 *		time.
 */
Datum
rfm_customers_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = clm_agg_context(fcinfo);
	RfmCustomers *a = PG_ARGISNULL(0) ? NULL : (RfmCustomers *) PG_GETARG_POINTER(0);
	RfmCustomers *b = PG_ARGISNULL(1) ? NULL : (RfmCustomers *) PG_GETARG_POINTER(1);

	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
		a = rfmc_new(aggcxt, b->id_type);
	else if (a->id_type != b->id_type)
		rfmc_id_type_mismatch();
	if (b->has_as_of)
		rfmc_set_as_of(a, false, b->as_of);

	if (b->packed)
	{
		int64		i;

		for (i = 0; i < b->npacked; i++)
		{
			const char *p = b->packed + i * RFMC_ENTRY_SIZE;
			RfmcKey		key;
			RfmState	st;

			memcpy(&key, p, sizeof(RfmcKey));
			memcpy(&st, p + sizeof(RfmcKey), sizeof(RfmState));
			rfmc_merge_one(a, key, &st);
		}
	}
	else
	{
		int			p;

		rfmc_flush_all(b);
		for (p = 0; p < RFMC_NPART; p++)
		{
			rfmc_iterator it;
			RfmCustomer *entry;

			if (b->parts[p].table == NULL)
				continue;
			rfmc_start_iterate(b->parts[p].table, &it);
			while ((entry = rfmc_iterate(b->parts[p].table, &it)) != NULL)
				rfmc_merge_one(a, entry->key, &entry->st);
		}
	}
	PG_RETURN_POINTER(a);
}

/*
 * rfm_customers_serialize
 *		The state as a bytea for a parallel worker to send to the leader.
 */
Datum
rfm_customers_serialize(PG_FUNCTION_ARGS)
{
	RfmCustomers *cs;
	RfmCustomersHeader hdr;
	int64		count;
	Size		size;
	bytea	   *result;
	char	   *p;
	rfmc_iterator it;
	RfmCustomer *entry;
	int			part;

	(void) clm_agg_context(fcinfo);
	cs = (RfmCustomers *) PG_GETARG_POINTER(0);
	if (cs->packed)
		elog(ERROR, "rfm_customers_serialize called on a deserialized state");
	rfmc_flush_all(cs);
	count = rfmc_count(cs);
	size = VARHDRSZ + sizeof(hdr) + count * RFMC_ENTRY_SIZE;
	if (!AllocSizeIsValid(size))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many customers in one partial clm.rfm_agg_by_customer state"),
				 errdetail("A parallel worker holds %lld customers; its state would exceed 1 GB.",
						   (long long) count),
				 errhint("Split the customers, e.g. GROUP BY customer_id %% 8 (uuid ids: GROUP BY left(customer_id::text, 1)), or disable parallel query for this query.")));

	result = (bytea *) palloc(size);
	SET_VARSIZE(result, size);
	memset(&hdr, 0, sizeof(hdr));
	hdr.version = RFMC_SERIAL_VERSION;
	hdr.has_as_of = cs->has_as_of ? 1 : 0;
	hdr.id_type = cs->id_type;
	hdr.as_of = cs->has_as_of ? cs->as_of : 0;
	hdr.count = count;
	p = VARDATA(result);
	memcpy(p, &hdr, sizeof(hdr));
	p += sizeof(hdr);

	for (part = 0; part < RFMC_NPART; part++)
	{
		rfmc_hash  *table = cs->parts[part].table;

		if (table == NULL)
			continue;
		rfmc_start_iterate(table, &it);
		while ((entry = rfmc_iterate(table, &it)) != NULL)
		{
			memcpy(p, &entry->key, sizeof(RfmcKey));
			memcpy(p + sizeof(RfmcKey), &entry->st, sizeof(RfmState));
			p += RFMC_ENTRY_SIZE;
		}
	}
	PG_RETURN_BYTEA_P(result);
}

/*
 * rfmc_malformed
 *		The error for a serialized state that is not one.
 */
static void
rfmc_malformed(const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid serialized clm.rfm_agg_by_customer state"),
			 errdetail("The state is malformed: %s.", problem),
			 errhint("Serialized states are only passed between the processes of one parallel query.")));
}

/*
 * rfm_customers_deserialize
 *		Check a serialized state entry by entry and return a state pointing
 *		to its packed entries; the combine function merges them.  SQL cannot
 *		pass it a bytea of its own (the second argument is internal), so the
 *		checks guard against a state corrupted on its way from a worker, not
 *		against user input; they are cheap next to the merge.
 */
Datum
rfm_customers_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *b;
	RfmCustomersHeader hdr;
	Size		len;
	const char *p;
	RfmCustomers *cs;
	int64		i;

	(void) clm_agg_context(fcinfo);
	b = PG_GETARG_BYTEA_PP(0);
	len = VARSIZE_ANY_EXHDR(b);
	p = VARDATA_ANY(b);
	if (len < sizeof(hdr))
		rfmc_malformed("it is too short");
	memcpy(&hdr, p, sizeof(hdr));
	if (hdr.version != RFMC_SERIAL_VERSION)
		rfmc_malformed("its format version is unknown");
	if (hdr.has_as_of > 1 || (hdr.has_as_of ? !IS_VALID_TIMESTAMP(hdr.as_of) : hdr.as_of != 0))
		rfmc_malformed("its as_of is invalid");
	if (hdr.id_type != RFMC_ID_INT8 && hdr.id_type != RFMC_ID_UUID)
		rfmc_malformed("its customer id type is unknown");
	if (hdr.reserved != 0)
		rfmc_malformed("its header is invalid");
	if (hdr.count < 0 || (Size) hdr.count != (len - sizeof(hdr)) / RFMC_ENTRY_SIZE ||
		(len - sizeof(hdr)) % RFMC_ENTRY_SIZE != 0)
		rfmc_malformed("its length does not match its number of customers");
	if (hdr.count > 0 && !hdr.has_as_of)
		rfmc_malformed("it has customers but no as_of");

	cs = palloc0(offsetof(RfmCustomers, parts));
	cs->id_type = hdr.id_type;
	cs->packed = p + sizeof(hdr);
	cs->npacked = hdr.count;
	cs->has_as_of = hdr.has_as_of != 0;
	cs->as_of = hdr.as_of;
	for (i = 0; i < hdr.count; i++)
	{
		RfmcKey		key;
		RfmState	st;

		memcpy(&key, cs->packed + i * RFMC_ENTRY_SIZE, sizeof(RfmcKey));
		if (hdr.id_type == RFMC_ID_INT8 && key.hi != 0)
			rfmc_malformed("a bigint customer id is out of range");
		memcpy(&st, cs->packed + i * RFMC_ENTRY_SIZE + sizeof(RfmcKey), sizeof(RfmState));
		rfm_validate_state(&st);
		if ((st.flags & RFM_FLAG_ASOF) ||
			(rfm_rows(&st) > 0 && rfm_state_latest(&st) > cs->as_of))
			rfmc_malformed("a customer's state does not fit its as_of");
	}
	PG_RETURN_POINTER(cs);
}

/* a partition's entries, to sort by customer id (lib/sort_template.h) */
typedef struct RfmcSorted
{
	RfmcKey		key;
	RfmCustomer *entry;
} RfmcSorted;

#define ST_SORT rfmc_sort_entries
#define ST_ELEMENT_TYPE RfmcSorted
#define ST_COMPARE(a, b) rfmc_key_cmp(&(a)->key, &(b)->key)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/* the result's row types, looked up once per call site */
typedef struct RfmCustomersTypes
{
	Oid			elemtype;		/* clm.customer_rfm or clm.customer_rfm_uuid */
	int16		elemlen;
	bool		elembyval;
	char		elemalign;
	TupleDesc	outer;			/* the element's row type */
	TupleDesc	rfm;			/* clm.rfm */
} RfmCustomersTypes;

/*
 * rfmc_types
 *		The element type of the final function's result (clm.customer_rfm[]
 *		or clm.customer_rfm_uuid[]) and the row types it is made of, cached
 *		in fn_extra.  Its customer_id must have the type of the state's ids.
 */
static RfmCustomersTypes *
rfmc_types(FunctionCallInfo fcinfo, int id_type)
{
	RfmCustomersTypes *t = (RfmCustomersTypes *) fcinfo->flinfo->fn_extra;
	MemoryContext old;
	Oid			arraytype;

	if (t)
		return t;
	arraytype = get_func_rettype(fcinfo->flinfo->fn_oid);
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	t = palloc(sizeof(RfmCustomersTypes));
	t->elemtype = get_element_type(arraytype);
	if (!OidIsValid(t->elemtype))
		elog(ERROR, "rfm_customers_final must return an array");
	get_typlenbyvalalign(t->elemtype, &t->elemlen, &t->elembyval, &t->elemalign);
	t->outer = BlessTupleDesc(lookup_rowtype_tupdesc_copy(t->elemtype, -1));
	if (t->outer->natts != 2 ||
		TupleDescAttr(t->outer, 0)->atttypid != (id_type == RFMC_ID_INT8 ? INT8OID : UUIDOID))
		rfmc_id_type_mismatch();
	t->rfm = BlessTupleDesc(lookup_rowtype_tupdesc_copy(TupleDescAttr(t->outer, 1)->atttypid, -1));
	if (t->rfm->natts != RFM_NATTS)
		elog(ERROR, "clm.rfm must have %d attributes", RFM_NATTS);
	MemoryContextSwitchTo(old);
	fcinfo->flinfo->fn_extra = t;
	return t;
}

/*
 * rfm_customers_final
 *		Final function: one clm.customer_rfm (bigint ids) or
 *		clm.customer_rfm_uuid (uuid ids) per customer, partition by
 *		partition, by customer id within one: an order that depends only on
 *		the set of customers (not on plan or row order) and reads the
 *		entries in the order they lie in memory.  Callers that want
 *		customers in id order sort them.  NULL when no row had a customer.
 *		Each element's rfm is what clm.rfm_agg gives for that customer's rows
 *		(NULL when none was counted).
 */
Datum
rfm_customers_final(PG_FUNCTION_ARGS)
{
	RfmCustomers *cs;
	RfmCustomersTypes *types;
	RfmcSorted *entries;
	Datum	   *elems;
	int64		n;
	int64		i;
	Size		total = ARR_OVERHEAD_NONULLS(1);
	rfmc_iterator it;
	RfmCustomer *entry;
	MemoryContext elemcxt;
	MemoryContext rowcxt;
	MemoryContext old;
	ArrayType  *result;
	int			dims[1];
	int			lbs[1] = {1};
	int			part;
	int64		start;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	cs = (RfmCustomers *) PG_GETARG_POINTER(0);
	if (cs->packed)
		elog(ERROR, "rfm_customers_final called on a deserialized state");
	rfmc_flush_all(cs);
	n = rfmc_count(cs);
	if (n == 0)
		PG_RETURN_NULL();
	types = rfmc_types(fcinfo, cs->id_type);

	entries = palloc_extended(n * sizeof(RfmcSorted), MCXT_ALLOC_HUGE);
	i = 0;
	for (part = 0; part < RFMC_NPART; part++)
	{
		rfmc_hash  *table = cs->parts[part].table;

		if (table == NULL)
			continue;
		start = i;
		rfmc_start_iterate(table, &it);
		while ((entry = rfmc_iterate(table, &it)) != NULL)
		{
			entries[i].key = entry->key;
			entries[i++].entry = entry;
		}
		rfmc_sort_entries(entries + start, i - start);
	}
	Assert(i == n);

	elemcxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_agg_by_customer elements",
									ALLOCSET_DEFAULT_SIZES);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_agg_by_customer row",
								   ALLOCSET_DEFAULT_SIZES);
	elems = palloc_extended(n * sizeof(Datum), MCXT_ALLOC_HUGE);
	for (i = 0; i < n; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};
		HeapTuple	rfm;
		HeapTuple	outer;

		old = MemoryContextSwitchTo(rowcxt);
		values[0] = rfmc_key_to_datum(&entries[i].key, cs->id_type);
		rfm = rfm_form_tuple(types->rfm, &entries[i].entry->st, cs->as_of);
		if (rfm)
			values[1] = HeapTupleGetDatum(rfm);
		else
		{
			values[1] = (Datum) 0;
			nulls[1] = true;
		}
		MemoryContextSwitchTo(elemcxt);
		outer = heap_form_tuple(types->outer, values, nulls);
		elems[i] = HeapTupleGetDatum(outer);
		MemoryContextSwitchTo(old);
		MemoryContextReset(rowcxt);

		/*
		 * The one size limit: under 1 GB the element count is also far below
		 * MaxArraySize and INT_MAX (an element takes over 40 bytes).
		 */
		total += att_align_nominal(outer->t_len, types->elemalign);
		if (!AllocSizeIsValid(total))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many customers for one clm.rfm_agg_by_customer result"),
					 errdetail("The result for %lld customers would exceed 1 GB.", (long long) n),
					 errhint("Split the customers, e.g. GROUP BY customer_id %% 8 (uuid ids: GROUP BY left(customer_id::text, 1)), or use clm.rfm_agg with GROUP BY customer_id.")));
	}
	dims[0] = (int) n;
	result = construct_md_array(elems, NULL, 1, dims, lbs, types->elemtype,
								types->elemlen, types->elembyval, types->elemalign);
	MemoryContextDelete(rowcxt);
	MemoryContextDelete(elemcxt);
	pfree(elems);
	pfree(entries);
	PG_RETURN_ARRAYTYPE_P(result);
}
