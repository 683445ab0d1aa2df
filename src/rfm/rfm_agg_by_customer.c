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
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "nodes/execnodes.h"
#include "nodes/extensible.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "storage/buffile.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
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
PG_FUNCTION_INFO_V1(rfm_table);
PG_FUNCTION_INFO_V1(rfm_table_uuid);

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

/* a place in clm.rfm_table's spill file */
typedef struct RfmcSpot
{
	int			fileno;
	off_t		offset;
} RfmcSpot;

/* customers (key and state) written to the spill file, one after another */
typedef struct RfmcSegment
{
	RfmcSpot	at;
	int64		count;
} RfmcSegment;

typedef struct RfmcPart
{
	rfmc_hash  *table;			/* NULL until the first flush */
	RfmcRow    *rows;			/* NULL until the first row */
	int			nrows;
	/* clm.rfm_table only: a spilled partition keeps its customers on disk */
	bool		spilled;
	RfmcSegment seg;			/* its customers when it was spilled */
	RfmcSpot	chunk;			/* its last chunk of rows; fileno -1: none */
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
	int			buf_rows;		/* rows per partition buffer */
	int			table_size;		/* initial size of a partition's table */
	/* clm.rfm_table only: the memory budget and the spilled partitions */
	Size		budget;			/* bytes the tables may take; 0: no limit */
	Size		table_bytes;	/* bytes the tables take now */
	BufFile    *spill;			/* NULL until the first spill */
	RfmcSpot	end;			/* where the next write goes */
	int			nspilled;		/* partitions spilled */
	char	   *chunk;			/* a chunk of encoded rows */
	RfmcRow    *decoded;		/* a chunk's rows, decoded */
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
	cs->buf_rows = RFMC_BUF_ROWS;
	cs->table_size = 64;
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
		part->table = rfmc_create(cs->cxt, cs->table_size, NULL);
	return part->table;
}

/*
 * rfmc_apply
 *		Add buffered rows to a table.
 */
static void
rfmc_apply(rfmc_hash *table, const RfmcRow *rows, int nrows)
{
	int			i;

	for (i = 0; i < nrows; i++)
	{
		const RfmcRow *row = &rows[i];
		bool		found;
		RfmCustomer *entry;

		/*
		 * Ask for the slot of a row a few places ahead now, so that the
		 * cache misses of several rows overlap instead of coming one after
		 * the other (a hint only: the table may still grow in between).
		 */
		if (i + RFMC_PREFETCH < nrows)
		{
			const char *ahead = (const char *) &table->data[rows[i + RFMC_PREFETCH].hash & table->sizemask];

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
}

/*
 * rfmc_flush
 *		Apply a partition's buffered rows to its table, or write them to the
 *		spill file if the partition was spilled; spill partitions when the
 *		tables outgrow the budget.
 */
static void rfmc_spill(RfmCustomers *cs);
static void rfmc_write_chunk(RfmCustomers *cs, RfmcPart *part);

static void
rfmc_flush(RfmCustomers *cs, RfmcPart *part)
{
	Size		before;
	rfmc_hash  *table;

	if (part->spilled)
	{
		rfmc_write_chunk(cs, part);
		return;
	}
	before = part->table ? part->table->size * sizeof(RfmCustomer) : 0;
	table = rfmc_part_table(cs, part);
	rfmc_apply(table, part->rows, part->nrows);
	part->nrows = 0;
	cs->table_bytes += table->size * sizeof(RfmCustomer) - before;
	if (cs->budget > 0 && cs->table_bytes > cs->budget)
		rfmc_spill(cs);
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
 * rfmc_push
 *		The buffer slot for a row of the customer with this key, and its
 *		partition, with what set to RFMC_ROW_ENTRY and *counts telling
 *		whether the row counts (a finite ordered_at up to as_of and an
 *		amount): the caller then fills in the amount (rfmc_set_amount).  As
 *		with GROUP BY, a customer whose rows are all skipped (NULL
 *		ordered_at or amount, or after as_of) still gets an entry, with a
 *		NULL clm.rfm.  The caller keeps the row (nrows++) once its amount
 *		has been checked.
 */
static inline RfmcRow *
rfmc_push(RfmCustomers *cs, RfmcKey key, bool ts_null, TimestampTz ts, bool amount_null,
		  RfmcPart **partp, bool *counts)
{
	uint32		hash = rfmc_hash_key(key);
	RfmcPart   *part = &cs->parts[hash >> (32 - RFMC_PART_BITS)];
	RfmcRow    *row;

	*partp = part;
	if (part->rows == NULL)
		part->rows = MemoryContextAlloc(cs->cxt, cs->buf_rows * sizeof(RfmcRow));
	else if (part->nrows == cs->buf_rows)
		rfmc_flush(cs, part);
	row = &part->rows[part->nrows];
	row->key = key;
	row->hash = hash;
	row->what = RFMC_ROW_ENTRY;
	*counts = false;
	if (!ts_null && !amount_null)
	{
		row->ts = ts;
		clm_check_finite_timestamp(row->ts, "ordered_at");
		*counts = row->ts <= cs->as_of;
	}
	return row;
}

/*
 * rfmc_set_amount
 *		Parse the amount of a row that counts (numeric amounts are checked
 *		here; the checks of rfm_add_* run when the buffer is applied).
 */
static inline void
rfmc_set_amount(RfmcRow *row, int what, Datum amount)
{
	if (what == RFMC_ROW_NUMERIC)
		rfm_read_numeric(amount, &row->amount.dec);
	else if (what == RFMC_ROW_FLOAT8)
		row->amount.f = DatumGetFloat8(amount);
	else
		row->amount.i = DatumGetInt64(amount);
	row->what = what;
}

/*
 * rfmc_row
 *		The common part of the transition functions (arguments: state,
 *		customer_id, ordered_at, amount, as_of): the state, made on the
 *		first row, and rfmc_push for the row; rows without a customer are
 *		skipped (NULL is returned).
 */
static inline RfmcRow *
rfmc_row(FunctionCallInfo fcinfo, int id_type, RfmCustomers **csp, RfmcPart **partp,
		 bool *counts)
{
	RfmCustomers *cs;

	if (PG_ARGISNULL(0))
	{
		MemoryContext aggcxt = clm_agg_context(fcinfo);

		rfmc_refuse_gathered_rows(fcinfo);
		*csp = rfmc_new(aggcxt, id_type);
	}
	else
	{
		(void) clm_agg_context(fcinfo);
		*csp = (RfmCustomers *) PG_GETARG_POINTER(0);
	}
	cs = *csp;

	rfmc_set_as_of(cs, PG_ARGISNULL(4), PG_GETARG_TIMESTAMPTZ(4));
	if (PG_ARGISNULL(1))
		return NULL;
	return rfmc_push(cs, rfmc_key_from_datum(PG_GETARG_DATUM(1), id_type),
					 PG_ARGISNULL(2), PG_ARGISNULL(2) ? 0 : PG_GETARG_TIMESTAMPTZ(2),
					 PG_ARGISNULL(3), partp, counts);
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
			rfmc_set_amount(row, what, PG_GETARG_DATUM(3));
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
 * rfmc_merge_entry, rfmc_merge_one
 *		Add one customer's state to a table, or to a state's partitions.
 */
static inline void
rfmc_merge_entry(rfmc_hash *table, RfmcKey key, const RfmState *st)
{
	bool		found;
	RfmCustomer *entry = rfmc_insert(table, key, &found);

	if (found)
		rfm_merge_into(&entry->st, st);
	else
	{
		memcpy(&entry->st, st, VARSIZE(st));
		rfm_state_widen_in_place(&entry->st);
	}
}

static inline void
rfmc_merge_one(RfmCustomers *into, RfmcKey key, const RfmState *st)
{
	RfmcPart   *part = &into->parts[rfmc_hash_key(key) >> (32 - RFMC_PART_BITS)];

	rfmc_merge_entry(rfmc_part_table(into, part), key, st);
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

/* ----------------------------------------------------------------------
 * clm.rfm_table: the whole RFM pipeline in one call, in bounded memory
 *
 * The aggregate above returns one array, so its memory grows with the
 * customer count and its result is capped at 1 GB.  clm.rfm_table reads
 * the orders itself (one SQL query through SPI, run as the caller, whose
 * rows come straight into the partitions), and keeps the partitions' tables
 * within the hash memory limit (work_mem * hash_mem_multiplier) as hash
 * aggregation does: when the tables outgrow it, partitions are spilled, the
 * last first, until a quarter of the budget is free again.  A spilled
 * partition's customers so far are written to a temporary file and its
 * table freed; from then on its rows are not aggregated but written there
 * too, in chunks, compactly encoded.  The partitions that were never
 * spilled keep all their customers in memory.  Afterwards a spilled
 * partition (about 1/1024 of the customers) is rebuilt from its customers
 * and its rows, one partition at a time, and written back as customers
 * only.  Two passes over the customers follow: the first gathers the
 * values the thresholds are cut from (as clm.rfm_thresholds does), the
 * second scores every customer, names its segment and puts the row into
 * the function's tuplestore, which spills beyond work_mem.
 * ----------------------------------------------------------------------
 */

/* a chunk of a spilled partition's rows: this header, then the rows */
typedef struct RfmcChunk
{
	RfmcSpot	prev;			/* the partition's chunk before; fileno -1: none */
	int32		nrows;
	int32		nbytes;
} RfmcChunk;

/* the longest encoded row: what, uuid key, timestamp, numeric amount */
#define RFMC_ROW_MAX_BYTES	(1 + 16 + 8 + 16 + 1 + 1 + 2 + 1)

/*
 * rfmc_spill_write, rfmc_spill_read, rfmc_spill_seek
 *		Write to the end of the spill file, which is made on the first
 *		write; read from it, which fails loudly on a short read; and seek
 *		in it.
 */
static void
rfmc_spill_write(RfmCustomers *cs, const void *ptr, size_t size, RfmcSpot *at)
{
	if (cs->spill == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(cs->cxt);

		cs->spill = BufFileCreateTemp(false);
		MemoryContextSwitchTo(old);
		BufFileTell(cs->spill, &cs->end.fileno, &cs->end.offset);
	}
	if (at)
		*at = cs->end;
	if (BufFileSeek(cs->spill, cs->end.fileno, cs->end.offset, SEEK_SET) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not seek in the temporary file of clm.rfm_table: %m")));
	BufFileWrite(cs->spill, (void *) ptr, size);
	BufFileTell(cs->spill, &cs->end.fileno, &cs->end.offset);
}

static void
rfmc_spill_read(RfmCustomers *cs, void *ptr, size_t size)
{
	size_t		got = BufFileRead(cs->spill, ptr, size);

	if (got != size)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("could not read the temporary file of clm.rfm_table"),
				 errdetail("Read %zu of %zu bytes.", got, size)));
}

static void
rfmc_spill_seek(RfmCustomers *cs, RfmcSpot at)
{
	if (BufFileSeek(cs->spill, at.fileno, at.offset, SEEK_SET) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not seek in the temporary file of clm.rfm_table: %m")));
}

/*
 * rfmc_write_table
 *		Write a table's customers to the spill file as one segment.
 */
static RfmcSegment
rfmc_write_table(RfmCustomers *cs, rfmc_hash *table)
{
	RfmcSegment seg;
	rfmc_iterator it;
	RfmCustomer *entry;
	char		buf[64 * RFMC_ENTRY_SIZE];
	int			n = 0;

	seg.count = 0;
	rfmc_spill_write(cs, NULL, 0, &seg.at);
	rfmc_start_iterate(table, &it);
	while ((entry = rfmc_iterate(table, &it)) != NULL)
	{
		memcpy(buf + n * RFMC_ENTRY_SIZE, &entry->key, sizeof(RfmcKey));
		memcpy(buf + n * RFMC_ENTRY_SIZE + sizeof(RfmcKey), &entry->st, sizeof(RfmState));
		if (++n == 64)
		{
			rfmc_spill_write(cs, buf, n * RFMC_ENTRY_SIZE, NULL);
			n = 0;
		}
	}
	if (n > 0)
		rfmc_spill_write(cs, buf, n * RFMC_ENTRY_SIZE, NULL);
	seg.count = table->members;
	return seg;
}

/*
 * rfmc_encode_row, rfmc_decode_row
 *		A buffered row in the spill file's form, and back: only what the
 *		row needs (a bigint key is the low word, a row that does not count
 *		has no timestamp or amount, a numeric amount its fields packed),
 *		so that a spilled order takes about 40 bytes rather than the 64 of
 *		a buffer slot.  The hash is computed again when the row is read.
 */
static inline char *
rfmc_encode_row(char *p, const RfmcRow *row, int id_type)
{
	*p++ = (char) row->what;
	if (id_type == RFMC_ID_UUID)
	{
		memcpy(p, &row->key.hi, sizeof(uint64));
		p += sizeof(uint64);
	}
	memcpy(p, &row->key.lo, sizeof(uint64));
	p += sizeof(uint64);
	if (row->what == RFMC_ROW_ENTRY)
		return p;
	memcpy(p, &row->ts, sizeof(TimestampTz));
	p += sizeof(TimestampTz);
	if (row->what == RFMC_ROW_NUMERIC)
	{
		int16		dscale = (int16) row->amount.dec.dscale;

		memcpy(p, &row->amount.dec.digits, sizeof(int128));
		p += sizeof(int128);
		*p++ = (char) row->amount.dec.frac_groups;
		*p++ = (char) row->amount.dec.int_groups;
		memcpy(p, &dscale, sizeof(int16));
		p += sizeof(int16);
		*p++ = (char) row->amount.dec.negative;
	}
	else
	{
		/* a double and a bigint alike: 8 bytes */
		memcpy(p, &row->amount, sizeof(int64));
		p += sizeof(int64);
	}
	return p;
}

static inline const char *
rfmc_decode_row(const char *p, RfmcRow *row, int id_type)
{
	row->what = (unsigned char) *p++;
	row->key.hi = 0;
	if (id_type == RFMC_ID_UUID)
	{
		memcpy(&row->key.hi, p, sizeof(uint64));
		p += sizeof(uint64);
	}
	memcpy(&row->key.lo, p, sizeof(uint64));
	p += sizeof(uint64);
	row->hash = rfmc_hash_key(row->key);
	if (row->what == RFMC_ROW_ENTRY)
		return p;
	memcpy(&row->ts, p, sizeof(TimestampTz));
	p += sizeof(TimestampTz);
	if (row->what == RFMC_ROW_NUMERIC)
	{
		int16		dscale;

		memcpy(&row->amount.dec.digits, p, sizeof(int128));
		p += sizeof(int128);
		row->amount.dec.frac_groups = (signed char) *p++;
		row->amount.dec.int_groups = (signed char) *p++;
		memcpy(&dscale, p, sizeof(int16));
		p += sizeof(int16);
		row->amount.dec.dscale = dscale;
		row->amount.dec.negative = *p++ != 0;
	}
	else
	{
		memcpy(&row->amount, p, sizeof(int64));
		p += sizeof(int64);
	}
	return p;
}

/*
 * rfmc_write_chunk
 *		Write a spilled partition's buffered rows as one chunk, linked to
 *		the partition's chunk before.
 */
static void
rfmc_write_chunk(RfmCustomers *cs, RfmcPart *part)
{
	RfmcChunk	hdr;
	char	   *p = cs->chunk;
	int			i;

	if (part->nrows == 0)
		return;
	for (i = 0; i < part->nrows; i++)
		p = rfmc_encode_row(p, &part->rows[i], cs->id_type);
	hdr.prev = part->chunk;
	hdr.nrows = part->nrows;
	hdr.nbytes = (int32) (p - cs->chunk);
	rfmc_spill_write(cs, &hdr, sizeof(hdr), &part->chunk);
	rfmc_spill_write(cs, cs->chunk, hdr.nbytes, NULL);
	part->nrows = 0;
}

/*
 * rfmc_spill
 *		Spill partitions, the last unspilled one first, until the tables
 *		take at most three quarters of the budget: each one's customers go
 *		to the spill file and its table is freed.  Its buffered rows stay,
 *		to be written as its first chunk.  Which partitions spill does not
 *		change the result, only where each customer's rows are added up.
 */
static void
rfmc_spill(RfmCustomers *cs)
{
	int			p;

	if (cs->chunk == NULL)
	{
		cs->chunk = MemoryContextAlloc(cs->cxt, (Size) cs->buf_rows * RFMC_ROW_MAX_BYTES);
		cs->decoded = MemoryContextAlloc(cs->cxt, (Size) cs->buf_rows * sizeof(RfmcRow));
	}
	for (p = RFMC_NPART - 1 - cs->nspilled;
		 p >= 0 && cs->table_bytes > cs->budget / 4 * 3;
		 p--)
	{
		RfmcPart   *part = &cs->parts[p];

		part->spilled = true;
		part->chunk.fileno = -1;
		cs->nspilled++;
		if (part->table == NULL)
		{
			part->seg.count = 0;
			continue;
		}
		part->seg = rfmc_write_table(cs, part->table);
		cs->table_bytes -= part->table->size * sizeof(RfmCustomer);
		rfmc_destroy(part->table);
		part->table = NULL;
	}
}

/*
 * rfmc_load_partition
 *		A table holding spilled partition p's customers (the caller
 *		destroys it): its customers written when it was spilled, merged
 *		with its chunks of rows.  The first time, the table is written back
 *		as the partition's customers, so that loading it again reads one
 *		entry per customer instead of every row.
 */
static rfmc_hash *
rfmc_load_partition(RfmCustomers *cs, int p)
{
	RfmcPart   *part = &cs->parts[p];
	rfmc_hash  *table = rfmc_create(cs->cxt, Max(part->seg.count, 16), NULL);
	char		buf[64 * RFMC_ENTRY_SIZE];
	int64		left = part->seg.count;

	if (left > 0)
		rfmc_spill_seek(cs, part->seg.at);
	while (left > 0)
	{
		int			n = (int) Min(left, 64);
		int			i;

		rfmc_spill_read(cs, buf, n * RFMC_ENTRY_SIZE);
		for (i = 0; i < n; i++)
		{
			RfmcKey		key;
			RfmState	st;

			memcpy(&key, buf + i * RFMC_ENTRY_SIZE, sizeof(RfmcKey));
			memcpy(&st, buf + i * RFMC_ENTRY_SIZE + sizeof(RfmcKey), sizeof(RfmState));
			rfmc_merge_entry(table, key, &st);
		}
		left -= n;
	}

	if (part->chunk.fileno < 0)
		return table;
	while (part->chunk.fileno >= 0)
	{
		RfmcChunk	hdr;
		const char *q;
		int			i;

		rfmc_spill_seek(cs, part->chunk);
		rfmc_spill_read(cs, &hdr, sizeof(hdr));
		if (hdr.nrows <= 0 || hdr.nrows > cs->buf_rows ||
			hdr.nbytes <= 0 || hdr.nbytes > cs->buf_rows * RFMC_ROW_MAX_BYTES)
			elog(ERROR, "clm.rfm_table read a malformed chunk of its temporary file");
		rfmc_spill_read(cs, cs->chunk, hdr.nbytes);
		q = cs->chunk;
		for (i = 0; i < hdr.nrows; i++)
			q = rfmc_decode_row(q, &cs->decoded[i], cs->id_type);
		if (q != cs->chunk + hdr.nbytes)
			elog(ERROR, "clm.rfm_table read a malformed chunk of its temporary file");
		rfmc_apply(table, cs->decoded, hdr.nrows);
		part->chunk = hdr.prev;
		CHECK_FOR_INTERRUPTS();
	}
	part->seg = rfmc_write_table(cs, table);
	return table;
}

typedef void (*RfmcVisitor) (const RfmcKey *key, const RfmState *st, void *arg);

/*
 * rfmc_visit
 *		Call fn for every customer of a state whose rows have all been
 *		pushed and flushed: from the tables in memory, or from the spill
 *		file, one spilled partition at a time.  May run more than once.
 */
static void
rfmc_visit(RfmCustomers *cs, RfmcVisitor fn, void *arg)
{
	int			p;

	for (p = 0; p < RFMC_NPART; p++)
	{
		bool		spilled = cs->parts[p].spilled;
		rfmc_hash  *table = spilled ? rfmc_load_partition(cs, p) : cs->parts[p].table;
		rfmc_iterator it;
		RfmCustomer *entry;

		CHECK_FOR_INTERRUPTS();
		if (table == NULL)
			continue;
		rfmc_start_iterate(table, &it);
		while ((entry = rfmc_iterate(table, &it)) != NULL)
			fn(&entry->key, &entry->st, arg);
		if (spilled)
			rfmc_destroy(table);
	}
}

/* the DestReceiver that feeds the scan's rows into the partitions */
typedef struct RfmtReceiver
{
	DestReceiver pub;
	RfmCustomers *cs;
	Oid			key_type;		/* base type of the customer column */
	Oid			amount_type;	/* base type of the amount column */
	int			what;			/* RFMC_ROW_NUMERIC, _FLOAT8 or _INT8 */
	MemoryContext rowcxt;		/* what reading one row allocates */
} RfmtReceiver;

/*
 * rfmt_widen
 *		An integer or real datum of the given type as the bigint or double
 *		precision datum the partitions take: the scan reads the columns as
 *		they are, so that it needs no cast per row.
 */
static inline Datum
rfmt_widen(Datum d, Oid typid)
{
	switch (typid)
	{
		case INT4OID:
			return Int64GetDatum((int64) DatumGetInt32(d));
		case INT2OID:
			return Int64GetDatum((int64) DatumGetInt16(d));
		case FLOAT4OID:
			return Float8GetDatum((double) DatumGetFloat4(d));
		default:
			return d;
	}
}

static bool
rfmt_receive(TupleTableSlot *slot, DestReceiver *self)
{
	RfmtReceiver *r = (RfmtReceiver *) self;
	RfmcPart   *part;
	bool		counts;
	RfmcRow    *row;

	MemoryContext old;

	slot_getallattrs(slot);
	if (slot->tts_isnull[0])
		return true;			/* no customer: skipped, as in the aggregate */
	/* a compressed numeric is expanded, and on 32-bit builds a bigint boxed */
	old = MemoryContextSwitchTo(r->rowcxt);
	row = rfmc_push(r->cs, rfmc_key_from_datum(rfmt_widen(slot->tts_values[0], r->key_type), r->cs->id_type),
					slot->tts_isnull[1], DatumGetTimestampTz(slot->tts_values[1]),
					slot->tts_isnull[2], &part, &counts);
	if (counts)
		rfmc_set_amount(row, r->what, rfmt_widen(slot->tts_values[2], r->amount_type));
	part->nrows++;
	MemoryContextSwitchTo(old);
	MemoryContextReset(r->rowcxt);
	return true;
}

/*
 * rfmt_startup
 *		The scan's columns must have the types rfmt_column found: the
 *		relation is locked from then on, so this cannot fail unless that
 *		guarantee is broken, and then it fails rather than misread a value.
 */
static void
rfmt_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	RfmtReceiver *r = (RfmtReceiver *) self;

	if (typeinfo->natts != 3 ||
		getBaseType(TupleDescAttr(typeinfo, 0)->atttypid) != r->key_type ||
		TupleDescAttr(typeinfo, 1)->atttypid != TIMESTAMPTZOID ||
		getBaseType(TupleDescAttr(typeinfo, 2)->atttypid) != r->amount_type)
		elog(ERROR, "clm.rfm_table's scan does not return the columns it checked");
}

static void
rfmt_shutdown(DestReceiver *self)
{
}

static void
rfmt_destroy(DestReceiver *self)
{
}

/* the three columns clm.rfm_table reads, and the types it accepts */
#define RFMT_KEY		0
#define RFMT_AT			1
#define RFMT_AMOUNT		2

/*
 * rfmt_column
 *		The select-list expression for one column of the orders relation:
 *		its quoted name, cast to timestamptz for a timestamp or date
 *		ordered_at (the session's time zone applies, as to any cast);
 *		integer and real columns are read as they are and widened by
 *		rfmt_widen.  *typid gets the column's base type.  Errors name the
 *		parameter that named the column.
 */
static char *
rfmt_column(Oid relid, const char *relname, const char *col, int which, int id_type,
			Oid *typid)
{
	static const char *const param[] = {"customer_column", "ordered_at_column", "amount_column"};
	AttrNumber	attnum = get_attnum(relid, col);
	const char *expected;
	const char *hint = NULL;
	bool		ok;

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist", col, relname),
				 errdetail("It was given as %s.", param[which]),
				 errhint("Name the relation's columns with customer_column, ordered_at_column and amount_column.")));
	if (attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column \"%s\" of relation \"%s\" is a system column", col, relname),
				 errdetail("It was given as %s.", param[which]),
				 errhint("Name one of the relation's own columns.")));
	*typid = getBaseType(get_atttype(relid, attnum));
	switch (which)
	{
		case RFMT_KEY:
			if (id_type == RFMC_ID_UUID)
			{
				expected = "uuid";
				ok = *typid == UUIDOID;
				if (*typid == INT8OID || *typid == INT4OID || *typid == INT2OID)
					hint = "Use clm.rfm_table for integer customer ids.";
			}
			else
			{
				expected = "bigint, integer or smallint";
				ok = *typid == INT8OID || *typid == INT4OID || *typid == INT2OID;
				if (*typid == UUIDOID)
					hint = "Use clm.rfm_table_uuid for uuid customer ids.";
			}
			break;
		case RFMT_AT:
			expected = "timestamp with time zone, timestamp or date";
			if (*typid == TIMESTAMPOID || *typid == DATEOID)
				return psprintf("%s::pg_catalog.timestamptz", quote_identifier(col));
			ok = *typid == TIMESTAMPTZOID;
			break;
		default:
			expected = "numeric, double precision, real, bigint, integer or smallint";
			ok = *typid == NUMERICOID || *typid == FLOAT8OID || *typid == FLOAT4OID ||
				*typid == INT8OID || *typid == INT4OID || *typid == INT2OID;
			break;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of relation \"%s\" has type %s", col, relname, format_type_be(*typid)),
				 errdetail("%s must name a column of type %s.", param[which], expected),
				 hint ? errhint("%s", hint) : 0));
	return pstrdup(quote_identifier(col));
}

/*
 * rfmt_scan
 *		Read every order of the relation into the partitions: one SELECT of
 *		the three columns, run through SPI as the calling role (its
 *		privileges and row-level security apply), whose rows go straight to
 *		rfmt_receive.
 */
static void
rfmt_scan(RfmCustomers *cs, Oid relid, Name key_col, Name at_col, Name amount_col)
{
	char		relkind;
	char	   *relname;
	char	   *nspname;
	char	   *sql;
	char	   *cols[3];
	RfmtReceiver recv;
	SPIExecuteOptions opts;
	Oid			at_type;
	int			rc;

	/* the lock the scan would take, now, so that its columns cannot change */
	LockRelationOid(relid, AccessShareLock);
	relname = get_rel_name(relid);
	relkind = get_rel_relkind(relid);
	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE &&
		relkind != RELKIND_VIEW && relkind != RELKIND_MATVIEW &&
		relkind != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table, view, materialized view or foreign table", relname),
				 errhint("Pass the relation that holds the orders.")));
	nspname = get_namespace_name(get_rel_namespace(relid));
	memset(&recv, 0, sizeof(recv));
	cols[RFMT_KEY] = rfmt_column(relid, relname, NameStr(*key_col), RFMT_KEY, cs->id_type, &recv.key_type);
	cols[RFMT_AT] = rfmt_column(relid, relname, NameStr(*at_col), RFMT_AT, cs->id_type, &at_type);
	cols[RFMT_AMOUNT] = rfmt_column(relid, relname, NameStr(*amount_col), RFMT_AMOUNT, cs->id_type,
									&recv.amount_type);
	recv.what = recv.amount_type == NUMERICOID ? RFMC_ROW_NUMERIC :
		(recv.amount_type == FLOAT8OID || recv.amount_type == FLOAT4OID) ? RFMC_ROW_FLOAT8 : RFMC_ROW_INT8;
	sql = psprintf("SELECT %s, %s, %s FROM %s", cols[RFMT_KEY], cols[RFMT_AT], cols[RFMT_AMOUNT],
				   quote_qualified_identifier(nspname, relname));

	recv.pub.receiveSlot = rfmt_receive;
	recv.pub.rStartup = rfmt_startup;
	recv.pub.rShutdown = rfmt_shutdown;
	recv.pub.rDestroy = rfmt_destroy;
	recv.pub.mydest = DestNone;
	recv.cs = cs;
	recv.rowcxt = AllocSetContextCreate(CurrentMemoryContext, "clm.rfm_table scan row", ALLOCSET_SMALL_SIZES);
	memset(&opts, 0, sizeof(opts));
	opts.read_only = true;
	opts.dest = &recv.pub;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_extended(sql, &opts);
	/* SPI reports a SELECT whose rows go to a DestNone receiver as utility */
	if (rc != SPI_OK_SELECT && rc != SPI_OK_UTILITY)
		elog(ERROR, "SPI_execute_extended failed: %s", SPI_result_code_string(rc));
	SPI_finish();
	MemoryContextDelete(recv.rowcxt);
}

/* what the two passes over the customers share */
typedef struct RfmtPass
{
	FunctionCallInfo fcinfo;
	RfmCustomers *cs;
	MemoryContext rowcxt;		/* reset after every customer */
	/* pass 1: the values the breakpoints are cut from */
	double	   *vals[RFM_DIMS];
	int64		n[RFM_DIMS];
	int64		cap[RFM_DIMS];
	/* pass 2 */
	double		b[RFM_DIMS][RFM_MAX_BINS];
	int			nb[RFM_DIMS];
	const char *ruleset;
	ReturnSetInfo *rsinfo;
} RfmtPass;

#define RFMT_NATTS		(1 + RFM_NATTS + RFM_SCORE_NATTS + 1)

/*
 * rfmt_gather
 *		Pass 1: add a customer's values to the threshold samples, as
 *		clm.rfm_thresholds does for its clm.rfm row (NULL fields skipped, -0
 *		stored as 0).
 */
static void
rfmt_gather(const RfmcKey *key, const RfmState *st, void *arg)
{
	RfmtPass   *ps = (RfmtPass *) arg;
	MemoryContext old = MemoryContextSwitchTo(ps->rowcxt);
	Datum		values[RFM_NATTS];
	bool		nulls[RFM_NATTS];
	double		x[RFM_DIMS];
	bool		has[RFM_DIMS];
	int			d;

	if (rfm_state_values(st, ps->cs->as_of, values, nulls))
	{
		rfm_dims_of(values, nulls, x, has);
		MemoryContextSwitchTo(ps->cs->cxt);
		for (d = 0; d < RFM_DIMS; d++)
		{
			if (!has[d])
				continue;
			if (ps->n[d] == ps->cap[d])
			{
				ps->cap[d] *= 2;
				ps->vals[d] = repalloc_huge(ps->vals[d], ps->cap[d] * sizeof(double));
			}
			ps->vals[d][ps->n[d]++] = x[d] + 0.0;
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(ps->rowcxt);
}

/*
 * rfmt_emit
 *		Pass 2: a customer's row of clm.rfm_table, into the tuplestore.
 */
static void
rfmt_emit(const RfmcKey *key, const RfmState *st, void *arg)
{
	RfmtPass   *ps = (RfmtPass *) arg;
	MemoryContext old = MemoryContextSwitchTo(ps->rowcxt);
	Datum		out[RFMT_NATTS];
	bool		onulls[RFMT_NATTS];
	int			k;

	memset(onulls, true, sizeof(onulls));
	memset(out, 0, sizeof(out));
	out[0] = rfmc_key_to_datum(key, ps->cs->id_type);
	onulls[0] = false;
	if (rfm_state_values(st, ps->cs->as_of, out + 1, onulls + 1))
	{
		double		x[RFM_DIMS];
		bool		has[RFM_DIMS];
		int			g[RFM_DIMS];
		Datum	   *score = out + 1 + RFM_NATTS;
		bool	   *snulls = onulls + 1 + RFM_NATTS;

		rfm_dims_of(out + 1, onulls + 1, x, has);
		rfm_score_dims(ps->b, ps->nb, x, has, g);
		for (k = 0; k < RFM_DIMS; k++)
		{
			snulls[k] = !has[k];
			score[k] = Int32GetDatum(g[k]);
		}
		if (has[0] && has[1] && has[2])
		{
			const char *segment = rfm_segment_name(ps->fcinfo, g, ps->ruleset);

			snulls[3] = false;
			score[3] = Int32GetDatum(g[0] * 100 + g[1] * 10 + g[2]);
			if (segment != NULL)
			{
				out[RFMT_NATTS - 1] = CStringGetTextDatum(segment);
				onulls[RFMT_NATTS - 1] = false;
			}
		}
	}
	tuplestore_putvalues(ps->rsinfo->setResult, ps->rsinfo->setDesc, out, onulls);
	MemoryContextSwitchTo(old);
	MemoryContextReset(ps->rowcxt);
}

/*
 * rfmt_not_null
 *		The error for a NULL argument of clm.rfm_table.
 */
static void
rfmt_not_null(FunctionCallInfo fcinfo, int argno, const char *name, const char *hint)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name),
				 errhint("%s", hint)));
}

/*
 * rfm_table_common
 *		clm.rfm_table(orders, as_of, customer_column, ordered_at_column,
 *		amount_column, bins, ruleset) and clm.rfm_table_uuid: every
 *		customer's RFM metrics, scores (thresholds cut from all customers, as
 *		clm.rfm_thresholds cuts them) and segment, as the pipeline of
 *		clm.rfm_agg, clm.rfm_thresholds, clm.rfm_score and clm.rfm_segment
 *		gives them.
 */
static Datum
rfm_table_common(FunctionCallInfo fcinfo, int id_type)
{
	static const char *const names[] = {"orders", "as_of", "customer_column", "ordered_at_column",
	"amount_column", "bins", "ruleset"};
	static const char *const hints[] = {
		"Pass the table or view that holds the orders, e.g. 'crm.orders'.", NULL,
		"Leave it out for the default name, or pass the column's name.",
		"Leave it out for the default name, or pass the column's name.",
		"Leave it out for the default name, or pass the column's name.",
		"Leave it out for 5 bins.",
	"Leave it out for the built-in rule set \"default\"."};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext cxt;
	MemoryContext old;
	RfmCustomers *cs;
	RfmtPass	ps;
	int			bins;
	int			one[RFM_DIMS] = {1, 1, 1};
	Size		limit;
	Size		buffers;
	int			k;
	int			d;

	for (k = 0; k < (int) lengthof(names); k++)
		if (hints[k] != NULL)	/* as_of: the as_of rule, below */
			rfmt_not_null(fcinfo, k, names[k], hints[k]);
	bins = PG_GETARG_INT32(5);
	rfm_check_bins(bins);
	memset(&ps, 0, sizeof(ps));
	ps.fcinfo = fcinfo;
	ps.ruleset = text_to_cstring(PG_GETARG_TEXT_PP(6));
	/* an unknown rule set is an error before any work */
	(void) rfm_segment_name(fcinfo, one, ps.ruleset);

	InitMaterializedSRF(fcinfo, 0);
	ps.rsinfo = rsinfo;
	if (rsinfo->setDesc->natts != RFMT_NATTS ||
		TupleDescAttr(rsinfo->setDesc, 0)->atttypid != (id_type == RFMC_ID_INT8 ? INT8OID : UUIDOID))
		rfmc_id_type_mismatch();

	cxt = AllocSetContextCreate(CurrentMemoryContext, "clm.rfm_table", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	cs = rfmc_new(cxt, id_type);
	rfmc_set_as_of(cs, PG_ARGISNULL(1), PG_ARGISNULL(1) ? 0 : PG_GETARG_TIMESTAMPTZ(1));

	/*
	 * The hash memory limit bounds the buffers (at most a quarter of it) and
	 * the tables (the rest, and at least 64 entries per partition, so that a
	 * tiny work_mem makes runs of a useful size).  Tables start as the
	 * aggregate's do, or smaller when the limit is tight.
	 */
	limit = get_hash_memory_limit();
	cs->buf_rows = (int) Max(Min(limit / 4 / (RFMC_NPART * sizeof(RfmcRow)), RFMC_BUF_ROWS), 8);
	buffers = (Size) cs->buf_rows * RFMC_NPART * sizeof(RfmcRow);
	cs->table_size = limit >= (Size) RFMC_NPART * 256 * sizeof(RfmCustomer) ? 64 : 8;
	cs->budget = Max(limit > buffers ? limit - buffers : 0,
					 (Size) RFMC_NPART * 64 * sizeof(RfmCustomer));

	rfmt_scan(cs, PG_GETARG_OID(0), PG_GETARG_NAME(2), PG_GETARG_NAME(3), PG_GETARG_NAME(4));
	cs->budget = 0;				/* the tables grow no more */
	rfmc_flush_all(cs);
	if (cs->nspilled > 0)
		elog(DEBUG1, "clm.rfm_table spilled %d of %d partitions to a temporary file",
			 cs->nspilled, RFMC_NPART);

	ps.cs = cs;
	ps.rowcxt = AllocSetContextCreate(cxt, "clm.rfm_table row", ALLOCSET_SMALL_SIZES);
	/* room for every customer when the count is known (nothing spilled) */
	for (d = 0; d < RFM_DIMS; d++)
	{
		ps.cap[d] = cs->nspilled > 0 ? 1024 : Max(rfmc_count(cs), 1);
		ps.vals[d] = palloc_extended(ps.cap[d] * sizeof(double), MCXT_ALLOC_HUGE);
	}
	rfmc_visit(cs, rfmt_gather, &ps);
	for (d = 0; d < RFM_DIMS; d++)
	{
		ps.nb[d] = bins - 1;
		rfm_breaks(ps.vals[d], ps.n[d], bins, ps.b[d]);
		pfree(ps.vals[d]);
	}
	rfmc_visit(cs, rfmt_emit, &ps);

	if (cs->spill)
		BufFileClose(cs->spill);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return (Datum) 0;
}

Datum
rfm_table(PG_FUNCTION_ARGS)
{
	return rfm_table_common(fcinfo, RFMC_ID_INT8);
}

Datum
rfm_table_uuid(PG_FUNCTION_ARGS)
{
	return rfm_table_common(fcinfo, RFMC_ID_UUID);
}
