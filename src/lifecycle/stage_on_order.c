/*-------------------------------------------------------------------------
 *
 * stage_on_order.c
 *	  clm.stage_on_order(): the AFTER INSERT trigger for an orders table
 *	  that moves the customer to first_purchase / repeat / loyal /
 *	  reactivated as orders arrive.
 *
 *	  CREATE TRIGGER o AFTER INSERT ON crm.orders FOR EACH ROW
 *	  EXECUTE FUNCTION clm.stage_on_order('crm.customers', 'customer_id',
 *	                                      'status', 'ordered_at'
 *	                                      [, policy [, customer key column]]);
 *
 *	  or, for bulk loads, once per statement over its new rows:
 *
 *	  CREATE TRIGGER o AFTER INSERT ON crm.orders
 *	  REFERENCING NEW TABLE AS new_orders FOR EACH STATEMENT
 *	  EXECUTE FUNCTION clm.stage_on_order(... the same arguments ...);
 *
 * The move is an UPDATE of the customer row, so clm.stage_guard on the
 * customers table (required) applies the rules and writes the history in
 * one place.  The customer row is locked before the orders are counted, so
 * two sessions adding orders for one customer serialize on that row and
 * the second one counts the first one's order: no transition is lost.
 *
 * IDENTIFICATION
 *	  src/lifecycle/stage_on_order.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"
#include "utils/varlena.h"

#include "clm.h"
#include "compat.h"
#include "lifecycle.h"

/* What one stage_on_order trigger needs, built once per backend. */
typedef struct OrderTrigger
{
	Oid			tgoid;
	int			nargs;
	char	   *args[6];		/* to notice CREATE OR REPLACE TRIGGER */
	Oid			nsp;			/* clm's schema when built */
	Oid			stage_type;
	Oid			cust_relid;
	char	   *stage_column;
	char	   *since_column;	/* the guard's, when the plans were made */
	char	   *guard_key;		/* the guard's key column, likewise */
	Oid			key_type;		/* of the order's customer column */
	Oid			cust_key_type;	/* of the customers table's key column */
	char	   *policy;
	int			fk_att;			/* in the orders table */
	int			ts_att;
	SPIPlanPtr	lock_plan;
	SPIPlanPtr	facts_plan;		/* without the index: all of the customer's
								 * orders */
	SPIPlanPtr	first_plan;		/* with an (customer, time) index: the first
								 * k, and those after ts */
	SPIPlanPtr	steps_plan;		/* ... the steps since a time */
	SPIPlanPtr	count_plan;		/* ... and how many up to a time */
	SPIPlanPtr	update_plan;
	bool		batches;		/* order_batches, when the plans were made */
	SPIPlanPtr	batch_facts_plan;	/* the statement trigger's: facts_plan, */
	SPIPlanPtr	batch_first_plan;	/* first_plan and steps_plan for many */
	SPIPlanPtr	batch_steps_plan;	/* customers at once, */
	SPIPlanPtr	batch_update_plan;	/* and update_plan moving many; NULL
										 * without batches (order_build_batch) */
	char	   *cust_q;			/* for the statement-level query: quoted customers table, */
	char	   *key_q;			/* key column, */
	char	   *key_eq;			/* its equality operator */
	char	   *stage_q;		/* and stage column */
	Oid			ord_relid;		/* the relation the trigger is on */
	Oid			ord_relid_logical;	/* the table whose orders count */
	uint64		referral_gen;	/* clm.referral_source as of these plans */
	char	   *referral_sig;	/* what the referral plans were made for
								 * (order_referral_signature); NULL: none */
	Oid			referrals_relid;	/* the adopted referrals table, if any */
	bool		referrals_check;	/* a relcache invalidation hit it */
	SPIPlanPtr	referrers_plan; /* a new buyer's referrers and their stages,
								 * locked; NULL without adopted referrals */
	SPIPlanPtr	nth_plan;		/* when a referrer's N-th referral bought */
	SPIPlanPtr	advocate_plan;	/* update_plan by the customers table's key */
	char	   *referrers_q;	/* the statement path's: the referrers of the
								 * customers in the transition table */
	bool		stale;			/* a relcache invalidation hit either table */
	struct OrderTrigger *next;
} OrderTrigger;

static OrderTrigger *order_triggers = NULL;
static MemoryContext order_cxt = NULL;
static bool order_callback_registered = false;

/*
 * order_invalidate
 *		Relcache callback: mark the entries of a changed orders or customers
 *		table for re-checking.  The attribute numbers and the key type cached
 *		with them may no longer hold (ALTER TABLE ... ALTER COLUMN TYPE): a
 *		key read as the wrong type is passed to a plan that dereferences it.
 *		No catalog access here; order_lookup does the checking.
 */
static void
order_invalidate(Datum arg, Oid relid)
{
	OrderTrigger *ot;

	for (ot = order_triggers; ot != NULL; ot = ot->next)
	{
		if (relid == InvalidOid || ot->ord_relid == relid || ot->cust_relid == relid)
			ot->stale = true;
		if (relid == InvalidOid || (OidIsValid(ot->referrals_relid) && ot->referrals_relid == relid))
			ot->referrals_check = true;
	}
}

/*
 * order_check_call
 *		The trigger protocol: AFTER INSERT, FOR EACH ROW or FOR EACH
 *		STATEMENT with a NEW TABLE transition, 4 to 6 arguments.
 */
static void
order_check_call(FunctionCallInfo fcinfo)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("clm.stage_on_order: not called by trigger manager"),
				 errhint("Use it in CREATE TRIGGER ... AFTER INSERT ... FOR EACH ROW EXECUTE FUNCTION clm.stage_on_order(...), or FOR EACH STATEMENT with REFERENCING NEW TABLE.")));
	if (!TRIGGER_FIRED_AFTER(td->tg_event) || !TRIGGER_FIRED_BY_INSERT(td->tg_event) ||
		(!TRIGGER_FIRED_FOR_ROW(td->tg_event) && td->tg_trigger->tgnewtable == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("clm.stage_on_order must be an AFTER INSERT trigger, FOR EACH ROW or FOR EACH STATEMENT with the new rows"),
				 errdetail("Trigger \"%s\" on \"%s\" is not.",
						   td->tg_trigger->tgname, RelationGetRelationName(td->tg_relation)),
				 errhint("Recreate it with AFTER INSERT ON <orders> FOR EACH ROW, or AFTER INSERT ON <orders> REFERENCING NEW TABLE AS new_orders FOR EACH STATEMENT.")));
	if (td->tg_trigger->tgnargs < 4 || td->tg_trigger->tgnargs > 6)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("clm.stage_on_order takes 4 to 6 arguments, got %d",
						td->tg_trigger->tgnargs),
				 errdetail("Trigger \"%s\" on \"%s\".",
						   td->tg_trigger->tgname, RelationGetRelationName(td->tg_relation)),
				 errhint("The arguments are (customers table, order customer column, stage column, order time column [, policy [, customer key column]]).")));
}

/*
 * order_attnum
 *		A column of rel named by a trigger argument, of the wanted type
 *		(InvalidOid: any).
 */
static int
order_attnum(Relation rel, const char *colname, Oid want, const char *role)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			attnum = SPI_fnumber(desc, colname);
	Oid			have;

	if (attnum == SPI_ERROR_NOATTRIBUTE || attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						colname, RelationGetRelationName(rel)),
				 errdetail("clm.stage_on_order was given \"%s\" as its %s column.", colname, role)));
	have = SPI_gettypeid(desc, attnum);
	if (OidIsValid(want) && getBaseType(have) != want)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s column \"%s\" of relation \"%s\" has type %s, not %s",
						role, colname, RelationGetRelationName(rel),
						format_type_be(have), format_type_be(want)),
				 errtablecol(rel, attnum)));
	return attnum;
}

/*
 * order_key_column
 *		The customers table's key: the given column, or its one-column
 *		primary key.
 */
static char *
order_key_column(Relation crel, const char *given)
{
	AttrNumber	attnum;

	if (given != NULL)
		return pstrdup(given);
	if (!clm_single_key_column(crel, &attnum))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("table \"%s\" has no primary key to find customers by",
						RelationGetRelationName(crel)),
				 errhint("Pass the customer key column as the sixth argument of clm.stage_on_order.")));
	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the primary key of table \"%s\" is not a single column",
						RelationGetRelationName(crel)),
				 errhint("Pass the customer key column as the sixth argument of clm.stage_on_order.")));
	return pstrdup(NameStr(TupleDescAttr(RelationGetDescr(crel), attnum - 1)->attname));
}

static SPIPlanPtr
order_prepare(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "clm.stage_on_order could not prepare \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

/*
 * order_has_time_index
 *		Whether the orders table has a btree index leading with (customer
 *		column, order time column), which makes the bounded reads cheap.
 */
static bool
order_has_time_index(Relation orel, int fk_att, int ts_att)
{
	List	   *indexes = RelationGetIndexList(orel);
	ListCell   *lc;
	bool		found = false;

	foreach(lc, indexes)
	{
		Oid			indexoid = lfirst_oid(lc);
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
		Form_pg_index idx;

		if (!HeapTupleIsValid(tup))
			continue;
		idx = (Form_pg_index) GETSTRUCT(tup);
		if (idx->indnkeyatts >= 2 && idx->indkey.values[0] == fk_att &&
			idx->indkey.values[1] == ts_att &&
			heap_attisnull(tup, Anum_pg_index_indpred, NULL))
		{
			HeapTuple	ctup = SearchSysCache1(RELOID, ObjectIdGetDatum(indexoid));

			if (HeapTupleIsValid(ctup))
			{
				found = (((Form_pg_class) GETSTRUCT(ctup))->relam == BTREE_AM_OID);
				ReleaseSysCache(ctup);
			}
		}
		ReleaseSysCache(tup);
		if (found)
			break;
	}
	list_free(indexes);
	return found;
}

/*
 * order_customers_relid
 *		Resolve the customers-table argument the same way in every session.
 *
 * A trigger argument is a string, and resolving it through the search_path
 * of whichever session fires the trigger first could find another table
 * (a temporary one, say).  A qualified name is taken as written; an
 * unqualified one is looked up in the schema of the orders table.
 *
 * With missing_ok nothing is an error: a name that does not parse, or names
 * another database, or a schema that does not exist or that the current
 * role may not use, resolves to InvalidOid like a table that does not exist
 * (RangeVarGetRelid would raise an error for each of these).
 */
static Oid
order_customers_relid(const char *name, Oid orders_nsp, bool missing_ok)
{
	RangeVar   *rv;

	if (missing_ok)
	{
		List	   *parts;
		int			n;
		char	   *schema;
		Oid			nsp;

		if (!SplitIdentifierString(pstrdup(name), '.', &parts) ||
			(n = list_length(parts)) == 0 || n > 3)
			return InvalidOid;
		if (n == 3 && strcmp(linitial(parts), get_database_name(MyDatabaseId)) != 0)
			return InvalidOid;
		schema = n >= 2 ? list_nth(parts, n - 2) : get_namespace_name(orders_nsp);
		nsp = schema != NULL ? get_namespace_oid(schema, true) : InvalidOid;
		if (!OidIsValid(nsp) ||
			clm_namespace_aclcheck(nsp, GetUserId(), ACL_USAGE) != ACLCHECK_OK)
			return InvalidOid;
	}
	rv = makeRangeVarFromNameList(clm_qualified_name_list(name));
	if (rv->schemaname == NULL)
		rv->schemaname = get_namespace_name(orders_nsp);
	return RangeVarGetRelid(rv, NoLock, missing_ok);
}

PG_FUNCTION_INFO_V1(clm_orders_customers);

/*
 * clm_orders_customers
 *		SQL: clm._orders_customers(orders regclass) RETURNS regclass[]: the
 *		customers tables that the clm.stage_on_order triggers on orders name,
 *		resolved as the triggers resolve them (order_customers_relid), so
 *		that clm.forget_customer knows the orders of a customers table
 *		without a foreign key between them.  A name that resolves to no table
 *		the current role can reach is left out, without an error: such a
 *		trigger links nothing for it.  Read from pg_trigger, which every role
 *		may read, without locking the orders relation.
 */
Datum
clm_orders_customers(PG_FUNCTION_ARGS)
{
	Oid			orders = PG_GETARG_OID(0);
	Oid			fn = clm_lc_stage_on_order_oid(get_func_namespace(fcinfo->flinfo->fn_oid));
	Oid			orders_nsp = get_rel_namespace(orders);
	Relation	tgrel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *found = NIL;
	Datum	   *elems;
	ListCell   *lc;
	int			n = 0;

	if (!OidIsValid(orders_nsp))
		PG_RETURN_NULL();		/* dropped */
	tgrel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(orders));
	scan = systable_beginscan(tgrel, TriggerRelidNameIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_trigger tg = (Form_pg_trigger) GETSTRUCT(tup);
		bool		isnull;
		Datum		args;
		Oid			customers;

		if (tg->tgfoid != fn || tg->tgnargs < 1)
			continue;
		args = heap_getattr(tup, Anum_pg_trigger_tgargs, RelationGetDescr(tgrel), &isnull);
		if (isnull)
			continue;
		/* the first argument, up to its terminating zero byte */
		customers = order_customers_relid(VARDATA_ANY(DatumGetByteaPP(args)), orders_nsp, true);
		if (OidIsValid(customers))
			found = lappend_oid(found, customers);
	}
	systable_endscan(scan);
	table_close(tgrel, AccessShareLock);

	elems = palloc(sizeof(Datum) * Max(list_length(found), 1));
	foreach(lc, found)
		elems[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, REGCLASSOID, sizeof(Oid), true, TYPALIGN_INT));
}

/*
 * order_update_sql
 *		The customer UPDATE moving a customer ($1, compared with key_eq) to
 *		stage $2 at business time $3.
 *
 * On Citus the move also writes the order time into the guard's since
 * column (never earlier than the value there): the business time then
 * travels with the row to a guard that did not get it handed over (a
 * shard's, fired in another backend); the hand-off, where it arrives,
 * takes precedence.  See clm_lc_time_in_row.
 */
static char *
order_update_sql(const char *cust_q, const char *stage_q, const char *since,
				 const char *key_q, const char *key_eq)
{
	if (since && clm_lc_time_in_row())
		return psprintf("UPDATE %s c SET %s = $2, %s = "
						"GREATEST($3, c.%s::pg_catalog.timestamptz) "
						"WHERE c.%s %s $1",
						cust_q, stage_q, quote_identifier(since),
						quote_identifier(since), key_q, key_eq);
	return psprintf("UPDATE %s c SET %s = $2 WHERE c.%s %s $1",
					cust_q, stage_q, key_q, key_eq);
}

/*
 * The SQL that reads a customer's orders, written once for the row
 * trigger's plans (the customer a parameter) and for the statement
 * trigger's (many customers at once, joined laterally).
 */
typedef struct OrderSql
{
	const char *ord_q;			/* the orders table, */
	const char *fk_q;			/* its customer column, */
	const char *fk_eq;			/* that column's equality operator, */
	const char *ts_q;			/* and its time column, quoted */
} OrderSql;

/*
 * Which part of a read an order row comes from (its column p): what
 * order_take makes of it.
 */
typedef enum OrderPart
{
	ORDER_ALL,					/* all orders: counted, and after when after ts */
	ORDER_FIRST,				/* the first k: counted */
	ORDER_AFTER,				/* those after ts */
	ORDER_STEP					/* the second read's: steps */
} OrderPart;

/*
 * order_cols_sql
 *		The orders of the customer key (an SQL expression), or one for each
 *		of their times (distinct): the time, the transaction that wrote the
 *		order, and the part of the read it comes from.
 */
static char *
order_cols_sql(const OrderSql *q, const char *key, OrderPart part, bool distinct)
{
	return psprintf("SELECT %so.%s AS t, o.xmin AS x, %d AS p FROM %s o WHERE o.%s %s %s",
					distinct ? psprintf("DISTINCT ON (o.%s) ", q->ts_q) : "",
					q->ts_q, (int) part, q->ord_q, q->fk_q, q->fk_eq, key);
}

/*
 * order_timed_sql
 *		Its orders with a time.
 */
static char *
order_timed_sql(const OrderSql *q, const char *key, OrderPart part)
{
	return psprintf("%s AND o.%s IS NOT NULL", order_cols_sql(q, key, part, false), q->ts_q);
}

/*
 * order_first_sql
 *		The bounded reads' first: its first limit orders by time, and those
 *		after ts (normally none).
 */
static char *
order_first_sql(const OrderSql *q, const char *key, const char *limit, const char *ts)
{
	return psprintf("(%s ORDER BY o.%s LIMIT %s) "
					"UNION ALL (%s AND o.%s OPERATOR(pg_catalog.>) %s)",
					order_timed_sql(q, key, ORDER_FIRST), q->ts_q, limit,
					order_cols_sql(q, key, ORDER_AFTER, false), q->ts_q, ts);
}

/*
 * order_steps_sql
 *		The bounded reads' second: of its order times in (lo, ts), the first
 *		two and the first two from ten on (see order_facts_bounded).  The
 *		first part is not read at all unless first (a boolean) is true, nor
 *		the second when ten is not before ts.
 */
static char *
order_steps_sql(const OrderSql *q, const char *key, const char *lo, const char *ts,
				const char *ten, const char *first)
{
	char	   *cols = order_cols_sql(q, key, ORDER_STEP, true);

	return psprintf("(%s AND %s AND o.%s OPERATOR(pg_catalog.>) %s "
					"AND o.%s OPERATOR(pg_catalog.<) %s ORDER BY o.%s LIMIT 2) "
					"UNION ALL (%s AND %s OPERATOR(pg_catalog.<) %s "
					"AND o.%s OPERATOR(pg_catalog.>=) %s "
					"AND o.%s OPERATOR(pg_catalog.>) %s "
					"AND o.%s OPERATOR(pg_catalog.<) %s ORDER BY o.%s LIMIT 2)",
					cols, first, q->ts_q, lo, q->ts_q, ts, q->ts_q,
					cols, ten, ts, q->ts_q, ten, q->ts_q, lo, q->ts_q, ts, q->ts_q);
}

/*
 * order_referral_signature
 *		What the referral plans of a trigger on customers table cust_relid
 *		depend on: the adopted referrals table, by OID and by the name the
 *		plans use, and its columns; NULL without adopted referrals.
 *		Needs SPI and clm_lc_load.
 */
static char *
order_referral_signature(Oid cust_relid, ClmReferralSource *src)
{
	if (!clm_lc_referral_source(cust_relid, src))
		return NULL;
	return psprintf("%u %s %s %s %s %s", src->referrals, clm_qualified_relname(src->referrals),
					src->key_column, src->referrer_column, src->referred_column,
					src->referred_at_column);
}

/*
 * order_referrals_current
 *		After a change to clm.referral_source or to the referrals table:
 *		whether the entry's referral plans still fit (nothing they depend
 *		on changed), so that the entry need not be built again.  Changes
 *		that do not touch them (a VACUUM of the referrals table, another
 *		customers table's adoption, a cache reset) are common, and plans
 *		are not freed (an outer call may be running one).
 */
static bool
order_referrals_current(OrderTrigger *ot)
{
	ClmReferralSource src;
	uint64		gen = clm_lc_referral_gen();
	char	   *sig = order_referral_signature(ot->cust_relid, &src);

	if ((sig == NULL) != (ot->referral_sig == NULL) ||
		(sig != NULL && strcmp(sig, ot->referral_sig) != 0))
		return false;
	ot->referral_gen = gen;
	ot->referrals_check = false;
	return true;
}

/*
 * order_build_referrals
 *		With referrals adopted for the customers table: the plans of the
 *		advocacy rule (see order_referrals).  The referrals hold keys of
 *		the customers table's key column, which must be the trigger's.
 */
static void
order_build_referrals(OrderTrigger *ot, const char *key_col, const char *tab_fk_eq)
{
	ClmReferralSource src;
	char	   *sig;
	const char *cust_q = ot->cust_q;
	const char *key_q = ot->key_q;
	const char *key_eq = ot->key_eq;
	const char *stage = psprintf("c.%s::%s.lifecycle_stage", ot->stage_q, clm_lc_nspname());
	const char *rr,
			   *rd,
			   *ref_q;
	Oid			argtypes[3];
	MemoryContext old;

	ot->referral_gen = clm_lc_referral_gen();
	sig = order_referral_signature(ot->cust_relid, &src);
	if (sig == NULL)
		return;
	ot->referral_sig = MemoryContextStrdup(order_cxt, sig);
	ot->referrals_relid = src.referrals;
	if (strcmp(src.key_column, key_col) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the referrals of %s hold keys of column \"%s\", but the trigger finds customers by column \"%s\"",
						ot->cust_q, src.key_column, key_col),
				 errhint("Adopt the referrals again with customer_key_column => '%s', or give the trigger that key column.",
						 key_col)));
	rr = quote_identifier(src.referrer_column);
	rd = quote_identifier(src.referred_column);
	ref_q = clm_qualified_relname(src.referrals);

	/*
	 * Every referrer is locked, whatever its stage: one becoming loyal in
	 * another transaction is then waited for and seen loyal (READ
	 * COMMITTED re-reads the locked row), and that transaction's own
	 * check, if it locked first, sees this purchase.
	 */
	argtypes[0] = ot->cust_key_type;
	ot->referrers_plan = order_prepare(psprintf("SELECT c.%s, %s FROM %s c "
												"WHERE c.%s %s ANY (ARRAY(SELECT r.%s FROM %s r "
												"WHERE r.%s %s $1 AND NOT (r.%s %s r.%s))) "
												"ORDER BY c.%s FOR NO KEY UPDATE OF c",
												key_q, stage, cust_q,
												key_q, key_eq, rr, ref_q,
												rd, key_eq, rr, key_eq, rd,
												key_q),
									   1, argtypes);
	argtypes[1] = INT8OID;
	argtypes[2] = FLOAT8OID;
	ot->nth_plan = order_prepare(psprintf("SELECT q.first_at FROM (%s) q ORDER BY q.first_at OFFSET $2 LIMIT 1",
										  clm_lc_referred_sql(&src, ot->ord_relid_logical,
															  ot->args[1], ot->args[3], tab_fk_eq,
															  "$1", "'infinity'::pg_catalog.timestamptz",
															  "$3")),
								 3, argtypes);
	argtypes[1] = ot->stage_type;
	argtypes[2] = TIMESTAMPTZOID;
	ot->advocate_plan = order_prepare(order_update_sql(cust_q, ot->stage_q, ot->since_column,
													   key_q, key_eq),
									  3, argtypes);
	old = MemoryContextSwitchTo(order_cxt);
	ot->referrers_q = psprintf("SELECT DISTINCT NULL::%s, NULL::pg_catalog.timestamptz, r.%s FROM %s r "
							   "WHERE NOT (r.%s %s r.%s) AND EXISTS (SELECT 1 FROM %%s n WHERE n.%s %s r.%s)",
							   format_type_be_qualified(ot->key_type), rr, ref_q,
							   rr, key_eq, rd,
							   quote_identifier(ot->args[1]), tab_fk_eq, rd);
	MemoryContextSwitchTo(old);
}

/*
 * order_batches
 *		Whether the statement trigger td moves its customers in batches:
 *		where each row is one customer (its key key_att is unique) and the
 *		guard, keyed on guard_key, records them by that same key, by which
 *		the batch hands it their times.
 */
static bool
order_batches(TriggerData *td, Relation crel, const char *key_col, AttrNumber key_att,
			  const char *guard_key)
{
	return !TRIGGER_FIRED_FOR_ROW(td->tg_event) &&
		strcmp(guard_key, key_col) == 0 && clm_key_is_unique(crel, key_att);
}

/*
 * order_build_batch
 *		The statement trigger's plans that read the orders of many customers
 *		and move many customers in one statement each: the row trigger's
 *		reads, joined laterally to arrays of customers ($1 the keys; with
 *		the bounded reads, for the first read $2 the limit and $3 the times
 *		of their latest new orders, for the second $2 to $4 the bounds, $5
 *		whether the first steps are to be read and $6 the customers'
 *		places), and an UPDATE from arrays of keys and stages.
 *
 * Not on Citus, where the time of a move travels in the row
 * (clm_lc_time_in_row): its customers move one by one, as they do for a
 * customers key of an array type.
 */
static void
order_build_batch(OrderTrigger *ot, const OrderSql *oq, const char *cust_q,
				  const char *stage_q, const char *key_q, const char *key_eq)
{
	Oid			types[6];
	const char *cols = "SELECT m.i, f.t, f.x, f.p";

	types[0] = get_array_type(ot->key_type);
	types[1] = get_array_type(ot->cust_key_type);
	types[2] = get_array_type(ot->stage_type);
	if (clm_lc_time_in_row() || !OidIsValid(types[0]) || !OidIsValid(types[1]) ||
		!OidIsValid(types[2]))
		return;					/* (a key of an array type has none) */
	if (ot->first_plan == NULL)
		ot->batch_facts_plan = order_prepare(psprintf("%s FROM pg_catalog.unnest($1) WITH ORDINALITY m(k, i) "
													  "CROSS JOIN LATERAL (%s) f ORDER BY m.i, f.t",
													  cols, order_timed_sql(oq, "m.k", ORDER_ALL)),
											 1, types);
	else
	{
		types[1] = INT8OID;
		types[2] = TIMESTAMPTZARRAYOID;
		ot->batch_first_plan = order_prepare(psprintf("%s FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($3)) "
													  "WITH ORDINALITY m(k, ts, i) CROSS JOIN LATERAL (%s) f",
													  cols, order_first_sql(oq, "m.k", "$2", "m.ts")),
											 3, types);
		types[1] = TIMESTAMPTZARRAYOID;
		types[3] = TIMESTAMPTZARRAYOID;
		types[4] = BOOLARRAYOID;
		types[5] = INT8ARRAYOID;
		ot->batch_steps_plan = order_prepare(psprintf("%s FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3), "
													  "pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6)) "
													  "m(k, lo, ts, ten, first, i) "
													  "CROSS JOIN LATERAL (%s) f",
													  cols, order_steps_sql(oq, "m.k", "m.lo", "m.ts", "m.ten", "m.first")),
											 6, types);
	}
	types[0] = get_array_type(ot->cust_key_type);
	types[1] = get_array_type(ot->stage_type);
	ot->batch_update_plan = order_prepare(psprintf("UPDATE %s c SET %s = v.s "
												   "FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) v(k, s) "
												   "WHERE c.%s %s v.k",
												   cust_q, stage_q, key_q, key_eq),
										  2, types);
}

/*
 * order_build
 *		Resolve the arguments and prepare the statements.  Needs SPI and
 *		clm_lc_load.
 */
static OrderTrigger *
order_build(TriggerData *td, Oid nsp)
{
	Trigger    *tg = td->tg_trigger;
	Relation	orel = td->tg_relation;
	Relation	crel;
	OrderTrigger *ot;
	MemoryContext old;
	Oid			cust_relid;
	int			stage_att,
				key_att;
	char	   *key_col,
			   *key_eq,
			   *fk_eq;
	char	   *cust_q,
			   *ord_q,
			   *key_q,
			   *stage_q,
			   *fk_q,
			   *ts_q;
	Oid			argtypes[3];
	int			i;
	const char *since;
	const char *guard_key;
	bool		batches;
	OrderSql	oq;

	if (order_cxt == NULL)
		order_cxt = AllocSetContextCreate(TopMemoryContext, "clm stage_on_order",
										  ALLOCSET_SMALL_SIZES);
	if (!order_callback_registered)
	{
		CacheRegisterRelcacheCallback(order_invalidate, (Datum) 0);
		order_callback_registered = true;
	}

	cust_relid = order_customers_relid(tg->tgargs[0], RelationGetNamespace(td->tg_relation), false);
	crel = table_open(cust_relid, AccessShareLock);
	if (crel->rd_rel->relkind != RELKIND_RELATION &&
		crel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", tg->tgargs[0])));
	stage_att = order_attnum(crel, tg->tgargs[2], clm_lc_stage_type(), "stage");
	since = clm_lc_require_guard(crel, tg->tgargs[2], "clm.stage_on_order", &guard_key);
	key_col = order_key_column(crel, tg->tgnargs >= 6 ? tg->tgargs[5] : NULL);
	key_att = order_attnum(crel, key_col, InvalidOid, "customer key");
	(void) stage_att;

	batches = order_batches(td, crel, key_col, key_att, guard_key);

	old = MemoryContextSwitchTo(order_cxt);
	ot = palloc0(sizeof(OrderTrigger));
	ot->tgoid = tg->tgoid;
	ot->nargs = tg->tgnargs;
	for (i = 0; i < tg->tgnargs; i++)
		ot->args[i] = pstrdup(tg->tgargs[i]);
	ot->nsp = nsp;
	ot->stage_type = clm_lc_stage_type();
	ot->cust_relid = cust_relid;
	ot->stage_column = pstrdup(tg->tgargs[2]);
	ot->since_column = since ? pstrdup(since) : NULL;
	ot->guard_key = pstrdup(guard_key);
	ot->batches = batches;
	ot->policy = pstrdup(tg->tgnargs >= 5 ? tg->tgargs[4] : "default");
	MemoryContextSwitchTo(old);

	ot->ord_relid = RelationGetRelid(orel);
	ot->fk_att = order_attnum(orel, tg->tgargs[1], InvalidOid, "order customer");
	ot->ts_att = order_attnum(orel, tg->tgargs[3], TIMESTAMPTZOID, "order time");
	ot->key_type = SPI_gettypeid(RelationGetDescr(orel), ot->fk_att);
	ot->cust_key_type = SPI_gettypeid(RelationGetDescr(crel), key_att);
	key_eq = clm_lc_eq_operator(ot->cust_key_type, key_col);
	fk_eq = clm_lc_eq_operator(ot->key_type, tg->tgargs[1]);

	cust_q = clm_qualified_relname(RelationGetRelid(crel));
	/* a partition's trigger counts the orders of the whole table */
	ot->ord_relid_logical = clm_lc_logical_relid(orel);
	ord_q = clm_qualified_relname(ot->ord_relid_logical);
	key_q = pstrdup(quote_identifier(key_col));
	stage_q = pstrdup(quote_identifier(tg->tgargs[2]));
	fk_q = pstrdup(quote_identifier(tg->tgargs[1]));
	ts_q = pstrdup(quote_identifier(tg->tgargs[3]));
	table_close(crel, NoLock);

	argtypes[0] = SPI_gettypeid(RelationGetDescr(orel), ot->fk_att);
	argtypes[1] = ot->stage_type;
	/*
	 * FOR NO KEY UPDATE: does not conflict with the FK check's KEY SHARE.
	 * The customer's own key is read back for the history, which records
	 * it as the guard sees it (for citext, 'ann' where the order says
	 * 'ANN').
	 */
	ot->lock_plan = order_prepare(psprintf("SELECT c.%s, %s, c.%s FROM %s c WHERE c.%s %s $1 "
										   "FOR NO KEY UPDATE OF c",
										   stage_q,
										   since ? psprintf("c.%s::pg_catalog.timestamptz", quote_identifier(since)) : "NULL::pg_catalog.timestamptz",
										   key_q, cust_q, key_q, key_eq), 1, argtypes);
	/* the customer's order times, and which transaction wrote them */
	oq.ord_q = ord_q;
	oq.fk_q = fk_q;
	oq.fk_eq = fk_eq;
	oq.ts_q = ts_q;
	if (!order_has_time_index(orel, ot->fk_att, ot->ts_att))
		ot->facts_plan = order_prepare(psprintf("%s ORDER BY o.%s",
												order_timed_sql(&oq, "$1", ORDER_ALL), ts_q),
									   1, argtypes);
	else
	{
		/*
		 * With an index on (customer, time) the trigger reads a bounded
		 * number of orders however many the customer has: the first k (k =
		 * the policy's loyal_min_orders, the largest count the classifier
		 * distinguishes) and those after this one ($3, normally none); then,
		 * where the first k are not all, of the orders since the current
		 * stage began ($2) before this one ($3) only those that can move the
		 * customer and are not read yet (see order_facts_bounded).
		 */
		Oid			t5[5];

		t5[0] = argtypes[0];
		t5[1] = INT8OID;
		t5[2] = TIMESTAMPTZOID;
		ot->first_plan = order_prepare(order_first_sql(&oq, "$1", "$2", "$3"), 3, t5);
		t5[1] = TIMESTAMPTZOID;
		t5[3] = TIMESTAMPTZOID;
		t5[4] = BOOLOID;
		ot->steps_plan = order_prepare(order_steps_sql(&oq, "$1", "$2", "$3", "$4", "$5"), 5, t5);
		ot->count_plan = order_prepare(psprintf("SELECT pg_catalog.count(*) FROM (%s AND o.%s OPERATOR(pg_catalog.<=) $2) q",
												order_timed_sql(&oq, "$1", ORDER_ALL), ts_q),
									   2, t5);
	}
	argtypes[1] = ot->stage_type;
	argtypes[2] = TIMESTAMPTZOID;
	ot->update_plan = order_prepare(order_update_sql(cust_q, stage_q, since, key_q, key_eq),
									3, argtypes);
	if (batches)
		order_build_batch(ot, &oq, cust_q, stage_q, key_q, key_eq);
	old = MemoryContextSwitchTo(order_cxt);
	ot->cust_q = pstrdup(cust_q);
	ot->key_q = pstrdup(key_q);
	ot->key_eq = pstrdup(key_eq);
	ot->stage_q = pstrdup(stage_q);
	MemoryContextSwitchTo(old);
	order_build_referrals(ot, key_col, fk_eq);
	ot->next = order_triggers;
	order_triggers = ot;
	return ot;
}

/*
 * order_still_valid
 *		After an invalidation: whether the cached columns, key types,
 *		customers table, way of reading (the index on (customer, time)
 *		dropped or made) and choice of batches (a unique index dropped, a
 *		trigger replaced by one of the other level) are still what the
 *		plans were made for.  The plans
 *		themselves are re-planned by the plan cache; only a different
 *		parameter type or table needs new ones.
 */
static bool
order_still_valid(OrderTrigger *ot, TriggerData *td)
{
	Relation	orel = td->tg_relation;
	int			fk_att = order_attnum(orel, ot->args[1], InvalidOid, "order customer");
	int			ts_att = order_attnum(orel, ot->args[3], TIMESTAMPTZOID, "order time");
	Oid			cust_relid = order_customers_relid(ot->args[0], RelationGetNamespace(orel), false);
	Relation	crel;
	Oid			cust_key_type;
	char	   *key_col;
	int			key_att;
	bool		batches;

	crel = table_open(cust_relid, AccessShareLock);
	key_col = order_key_column(crel, ot->nargs >= 6 ? ot->args[5] : NULL);
	key_att = order_attnum(crel, key_col, InvalidOid, "customer key");
	cust_key_type = SPI_gettypeid(RelationGetDescr(crel), key_att);
	/* (a change of the guard's key is caught on every firing) */
	batches = order_batches(td, crel, key_col, key_att, ot->guard_key);
	table_close(crel, NoLock);

	return fk_att == ot->fk_att && ts_att == ot->ts_att &&
		order_has_time_index(orel, fk_att, ts_att) == (ot->first_plan != NULL) &&
		SPI_gettypeid(RelationGetDescr(orel), fk_att) == ot->key_type &&
		cust_relid == ot->cust_relid && RelationGetRelid(orel) == ot->ord_relid &&
		cust_key_type == ot->cust_key_type &&
		batches == ot->batches;
}

/*
 * order_lookup
 *		The cached entry for this trigger, rebuilt when its arguments or
 *		clm's schema changed since.
 */
static OrderTrigger *
order_lookup(TriggerData *td, Oid nsp)
{
	Trigger    *tg = td->tg_trigger;
	OrderTrigger **pp;

	for (pp = &order_triggers; *pp != NULL; pp = &(*pp)->next)
	{
		OrderTrigger *ot = *pp;
		bool		same = (ot->tgoid == tg->tgoid && ot->nargs == tg->tgnargs &&
							ot->nsp == nsp && ot->stage_type == clm_lc_stage_type());
		int			i;

		if (ot->tgoid != tg->tgoid)
			continue;
		for (i = 0; same && i < tg->tgnargs; i++)
			same = (strcmp(ot->args[i], tg->tgargs[i]) == 0);
		if (same && ot->stale && order_still_valid(ot, td))
			ot->stale = false;
		if (same && !ot->stale &&
			((ot->referral_gen == clm_lc_referral_gen() && !ot->referrals_check) ||
			 order_referrals_current(ot)))
			return ot;
		/*
		 * Stale: unlink it.  Its plans are not freed, since an outer call of
		 * this trigger may still be executing one; this happens only after
		 * DDL (CREATE OR REPLACE TRIGGER, clm reinstalled) or a change of
		 * the adopted referrals, so it is cheap.
		 */
		*pp = ot->next;
		break;
	}
	return order_build(td, nsp);
}

/*
 * What the trigger knows about the customer's orders.  Counts as of a time
 * come from "counted" (all orders, or with the bounded reads, for a
 * customer with many, the first k, capped at k: enough for the classifier,
 * which only tells 1, 2 or more, and k or more orders apart; a lapse is
 * judged on all of them, order_count_exact).  "steps" are the times of the
 * orders after the current stage began and before the new order's time
 * (those that can move the customer), ascending and each once; "after" the
 * orders after the new order's time.
 */
typedef struct OrderFacts
{
	int64		cap;
	int			ncounted;
	TimestampTz *counted;		/* ascending */
	int			nsteps;
	TimestampTz *steps;
	int			nafter;
	TimestampTz *after;
	int64		n_all;			/* all orders (capped) */
	TimestampTz first_at;
	TimestampTz latest;			/* the latest order's time */
	TimestampTz latest_other;	/* the latest after ts by another transaction */
} OrderFacts;

/*
 * order_k
 *		The count beyond which the bounded reads need not tell orders
 *		apart: the policy's loyal_min_orders, the largest count the
 *		classifier distinguishes (at least 2).
 */
static int64
order_k(const ClmPolicy *policy)
{
	return Max(2, (int64) policy->loyal_min_orders);
}

/*
 * order_lapsed
 *		Whether the stage is one that time made (at_risk, dormant, churned).
 */
static bool
order_lapsed(Oid cur)
{
	ClmStage	s = OidIsValid(cur) ? clm_lc_stage_of(cur) : CLM_STAGE_NONE;

	return s == CLM_STAGE_AT_RISK || s == CLM_STAGE_DORMANT || s == CLM_STAGE_CHURNED;
}

/*
 * order_count_at
 *		The number of orders at or before t (capped).
 */
static int64
order_count_at(const OrderFacts *f, TimestampTz t)
{
	int64		n = 0;
	int			i;

	for (i = 0; i < f->ncounted && f->counted[i] <= t; i++)
		n++;
	return Min(n, f->cap);
}

/*
 * order_last_at
 *		The latest order at or before t (t >= ts, the new order's time).
 */
static TimestampTz
order_last_at(const OrderFacts *f, TimestampTz ts, TimestampTz t)
{
	TimestampTz last = ts;
	int			i;

	for (i = 0; i < f->ncounted; i++)
		if (f->counted[i] <= t && f->counted[i] > last)
			last = f->counted[i];
	for (i = 0; i < f->nafter; i++)
		if (f->after[i] <= t && f->after[i] > last)
			last = f->after[i];
	return last;
}

/*
 * order_count_exact
 *		The number of the customer's orders at or before t, not capped: a
 *		lapse is judged on the customer's typical gap between orders, which
 *		a count capped at k would stretch.
 */
static int64
order_count_exact(OrderTrigger *ot, Datum key, const OrderFacts *f, TimestampTz t)
{
	Datum		args[2];
	bool		isnull;
	int64		n;
	int			ret;

	if (f->cap == PG_INT64_MAX)
		return order_count_at(f, t);	/* they were all read */
	args[0] = key;
	args[1] = TimestampTzGetDatum(t);
	ret = SPI_execute_plan(ot->count_plan, args, NULL, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "clm.stage_on_order: counting the orders failed: %s",
			 SPI_result_code_string(ret));
	n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return n;
}

static int
order_cmp_time(const void *a, const void *b)
{
	TimestampTz ta = *(const TimestampTz *) a;
	TimestampTz tb = *(const TimestampTz *) b;

	return (ta > tb) - (ta < tb);
}

/*
 * order_take
 *		Fold fetched orders (rows from..to-1 of tt, their time, xmin and part
 *		from column col on) into f.  The first call is the first read (all
 *		orders, or the first k and those after ts); a second, the steps.
 *		Orders of the first k or all are counted (ascending by time), orders
 *		after ts are after, and set latest and latest_other (another
 *		transaction's order after ts has had its trigger run already,
 *		without seeing this one); the second read's are steps (the two reads
 *		may have a time in common: order_facts_finish).
 */
static void
order_take(OrderFacts *f, SPITupleTable *tt, uint64 from, uint64 to, int col,
		   TimestampTz ts)
{
	uint64		n = Max(to - from, 1);
	bool		first = (f->counted == NULL);
	uint64		i;

	if (first)
	{
		f->counted = palloc(sizeof(TimestampTz) * n);
		f->after = palloc(sizeof(TimestampTz) * n);
	}
	else
		f->steps = palloc(sizeof(TimestampTz) * n);
	for (i = from; i < to; i++)
	{
		HeapTuple	tup = tt->vals[i];
		TupleDesc	desc = tt->tupdesc;
		bool		isnull;
		TimestampTz t = DatumGetTimestampTz(SPI_getbinval(tup, desc, col, &isnull));
		TransactionId xmin = DatumGetTransactionId(SPI_getbinval(tup, desc, col + 1, &isnull));
		OrderPart	part = (OrderPart) DatumGetInt32(SPI_getbinval(tup, desc, col + 2, &isnull));

		Assert(first == (part != ORDER_STEP));
		if (part == ORDER_ALL || part == ORDER_FIRST)
			f->counted[f->ncounted++] = t;
		if ((part == ORDER_ALL || part == ORDER_AFTER) && t > ts)
		{
			f->after[f->nafter++] = t;
			if (t > f->latest)
				f->latest = t;
			if (t > f->latest_other && !TransactionIdIsCurrentTransactionId(xmin))
				f->latest_other = t;
		}
		if (part == ORDER_STEP)
			f->steps[f->nsteps++] = t;
	}
}

/*
 * order_sort_times
 *		Sort n times ascending, each once; returns how many are left.
 */
static int
order_sort_times(TimestampTz *t, int n)
{
	int			i,
				k = 0;

	qsort(t, n, sizeof(TimestampTz), order_cmp_time);
	for (i = 0; i < n; i++)
		if (k == 0 || t[i] != t[k - 1])
			t[k++] = t[i];
	return k;
}

/*
 * order_known_times
 *		How many distinct times the counted orders have in (lo, ts) from
 *		from on.
 */
static int
order_known_times(const OrderFacts *f, TimestampTz from, TimestampTz lo, TimestampTz ts)
{
	int			known = 0;
	int			i;

	for (i = 0; i < f->ncounted; i++)
		if (f->counted[i] > lo && f->counted[i] >= from && f->counted[i] < ts &&
			(known == 0 || f->counted[i] != f->counted[i - 1]))
			known++;
	return known;
}

/*
 * order_facts_start
 *		Empty facts for a customer whose latest new order is at ts.
 */
static void
order_facts_start(OrderFacts *f, TimestampTz ts)
{
	memset(f, 0, sizeof(OrderFacts));
	f->cap = PG_INT64_MAX;
	f->latest = ts;
	f->latest_other = DT_NOBEGIN;
	f->first_at = DT_NOEND;
}

/*
 * order_facts_bounded
 *		After the bounded reads' first (the first k orders, and those after
 *		ts) of a customer in stage cur: whether those were not all its
 *		orders, so that counts stop at k, and the second read is needed; if
 *		so, whether it is to read the first steps in (lo, ts), and the time
 *		from which the customer's tenure reaches the policy's
 *		loyal_min_tenure_days, clamped to [lo, ts] (ts: not to read the
 *		steps from there).
 *
 * Beyond the first k orders every count is k, so the classifier's answer
 * at an order depends only on whether the customer's tenure then reaches
 * loyal_min_tenure_days: of the order times in (lo, ts) only the first two
 * and the first two from that tenure on can move the customer, and only
 * those are read.  A lapsed customer's first may reactivate it and the
 * next move it on; another customer's first takes it where all later ones
 * before that tenure would (repeat: k orders, tenure not reached; as the
 * next order does, a reactivated customer's moves on), and likewise from
 * the tenure on (loyal), so one is enough.  Those the first k have need not
 * be read: no order comes before one of them.  So the second read is not
 * needed at all for a customer whose stage began before the new orders and
 * whose tenure is reached only at ts or later, as for most customers
 * still repeat, nor when (lo, ts) is empty (an order older than its
 * customer's stage).  The orders after ts, on which a late order is judged
 * (order_judge), are all in the first read.
 */
static bool
order_facts_bounded(OrderFacts *f, Oid cur, TimestampTz ts, TimestampTz lo,
					const ClmPolicy *policy, TimestampTz *tenure_from, bool *first_steps)
{
	int			need = order_lapsed(cur) ? 2 : 1;
	double		tenure_at;

	if (f->ncounted < order_k(policy))
		return false;			/* that is all of them */
	f->cap = order_k(policy);
	*first_steps = lo < ts && order_known_times(f, lo, lo, ts) < need;
	/* in double: no overflow */
	tenure_at = (double) f->counted[0] + policy->loyal_min_tenure_days * (double) USECS_PER_DAY;
	*tenure_from = tenure_at >= (double) ts ? ts :
		tenure_at <= (double) lo ? lo : (TimestampTz) tenure_at;
	if (order_known_times(f, *tenure_from, lo, ts) >= need)
		*tenure_from = ts;
	return *first_steps || *tenure_from < ts;
}

/*
 * order_facts_finish
 *		Once read: the count of all orders (capped), the first order, and
 *		the steps (those the second read found, and the times of the
 *		counted orders in (lo, ts)).
 */
static void
order_facts_finish(OrderFacts *f, TimestampTz ts, TimestampTz lo)
{
	TimestampTz *steps = palloc(sizeof(TimestampTz) * (f->nsteps + f->ncounted + 1));
	int			i;

	if (f->cap == PG_INT64_MAX)
		f->n_all = f->ncounted; /* all of them were read */
	else
		f->n_all = Min(order_count_at(f, ts) + f->nafter, f->cap);
	if (f->ncounted > 0)
		f->first_at = f->counted[0];
	if (f->nsteps > 0)
		memcpy(steps, f->steps, sizeof(TimestampTz) * f->nsteps);
	for (i = 0; i < f->ncounted; i++)
		if (f->counted[i] > lo && f->counted[i] < ts)
			steps[f->nsteps++] = f->counted[i];
	f->steps = steps;
	f->nsteps = order_sort_times(f->steps, f->nsteps);
}

/*
 * order_select
 *		Run a reading plan; its rows are in SPI_tuptable.
 */
static void
order_select(SPIPlanPtr plan, Datum *args)
{
	int			ret = SPI_execute_plan(plan, args, NULL, false, 0);

	if (ret != SPI_OK_SELECT)
		elog(ERROR, "clm.stage_on_order: reading the orders failed: %s",
			 SPI_result_code_string(ret));
}

/*
 * order_read_facts
 *		Read the orders of one customer in stage cur: all of them, or with an
 *		index on (customer, time) the first k (all of them when fewer) and
 *		those after ts, then, where needed, the steps since lo (lo <= ts,
 *		order_facts_bounded).
 */
static void
order_read_facts(OrderTrigger *ot, Datum key, Oid cur, TimestampTz ts, TimestampTz lo,
				 const ClmPolicy *policy, OrderFacts *f)
{
	Datum		args[5];
	TimestampTz tenure_from;
	bool		first_steps;

	order_facts_start(f, ts);
	args[0] = key;
	args[1] = Int64GetDatum(order_k(policy));
	args[2] = TimestampTzGetDatum(ts);
	order_select(ot->first_plan ? ot->first_plan : ot->facts_plan, args);
	order_take(f, SPI_tuptable, 0, SPI_processed, 1, ts);
	SPI_freetuptable(SPI_tuptable);
	if (ot->first_plan &&
		order_facts_bounded(f, cur, ts, lo, policy, &tenure_from, &first_steps))
	{
		args[1] = TimestampTzGetDatum(lo);
		args[2] = TimestampTzGetDatum(ts);
		args[3] = TimestampTzGetDatum(tenure_from);
		args[4] = BoolGetDatum(first_steps);
		order_select(ot->steps_plan, args);
		order_take(f, SPI_tuptable, 0, SPI_processed, 1, ts);
		SPI_freetuptable(SPI_tuptable);
	}
	order_facts_finish(f, ts, lo);
}

/*
 * order_cannot_move
 *		Whether no order can move a customer in stage cur under the current
 *		rules.  Lapsed and reactivated customers always can (win-back, next
 *		step); otherwise an order can only lead to first_purchase, repeat or
 *		loyal (an advocate stays an advocate).
 */
static bool
order_cannot_move(Oid cur)
{
	ClmStage	s;

	if (!OidIsValid(cur))
		return false;
	s = clm_lc_stage_of(cur);
	if (s == CLM_STAGE_ADVOCATE)
		return true;
	if (s != CLM_STAGE_LOYAL && s != CLM_STAGE_REPEAT && s != CLM_STAGE_FIRST_PURCHASE)
		return false;
	return !((s != CLM_STAGE_FIRST_PURCHASE &&
			  clm_lc_allowed(cur, clm_lc_stage_oid(CLM_STAGE_FIRST_PURCHASE))) ||
			 (s != CLM_STAGE_REPEAT &&
			  clm_lc_allowed(cur, clm_lc_stage_oid(CLM_STAGE_REPEAT))) ||
			 (s != CLM_STAGE_LOYAL &&
			  clm_lc_allowed(cur, clm_lc_stage_oid(CLM_STAGE_LOYAL))));
}

/*
 * order_may_move
 *		Whether an order may move a customer in stage cur to target: a
 *		change the rules allow.
 */
static bool
order_may_move(Oid cur, ClmStage target)
{
	Oid			to = clm_lc_stage_oid(target);

	return to != cur && clm_lc_allowed(cur, to);
}

/*
 * order_move
 *		Move the customer to target if that is a change the rules allow: the
 *		customer UPDATE (plan: update_plan, by the order's customer column,
 *		or advocate_plan, by the customers table's key), with at handed to
 *		clm.stage_guard as the business time (the guard dates it no earlier
 *		than the current stage began).  Returns whether it moved.
 */
static bool
order_move(OrderTrigger *ot, SPIPlanPtr plan, Datum key, Oid *cur, ClmStage target,
		   TimestampTz at)
{
	Oid			target_oid = clm_lc_stage_oid(target);
	Datum		vals[3];
	int			ret;

	if (!order_may_move(*cur, target))
		return false;
	vals[0] = key;
	vals[1] = ObjectIdGetDatum(target_oid);
	vals[2] = TimestampTzGetDatum(at);
	ret = clm_lc_execute_at(plan, vals, ot->cust_relid, at);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "clm.stage_on_order: updating the customer failed: %s",
			 SPI_result_code_string(ret));
	*cur = target_oid;
	return true;
}

/*
 * order_current
 *		The classifier's view of the current stage at an order at t: a
 *		reactivated customer's next order moves on as if it had none (to
 *		repeat or loyal), but not one at or before its reactivation (since,
 *		when known), which arrives late.
 */
static ClmStage
order_current(Oid cur, bool since_known, TimestampTz since, TimestampTz t)
{
	ClmStage	s = OidIsValid(cur) ? clm_lc_stage_of(cur) : CLM_STAGE_NONE;

	if (s == CLM_STAGE_REACTIVATED && !(since_known && t <= since))
		return CLM_STAGE_NONE;
	return s;
}

/*
 * order_raced
 *		Whether the transaction fxid was still running when the order's
 *		statement took its snapshot (stmt_snap).
 *
 * Such a transaction and this order did not know of each other: a lapse it
 * recorded was judged without this order, and this order was placed
 * without seeing the lapse.  A change committed before the statement
 * began, by a refresh or by hand, is a fact this order came after.
 */
static bool
order_raced(FullTransactionId fxid, Snapshot stmt_snap)
{
	uint64		next = U64FromFullTransactionId(ReadNextFullTransactionId());

	if (stmt_snap == NULL || !FullTransactionIdIsValid(fxid) ||
		next - U64FromFullTransactionId(fxid) > (uint64) (MaxTransactionId / 2))
		return false;			/* no snapshot, or older than any it lists */

	/*
	 * This transaction's own earlier statement is not a race: the order's
	 * statement came after it and sees it.  (A snapshot does not list its
	 * own transaction, but counts it as running when no transaction has
	 * ended since it began, so asking the snapshot would depend on others.)
	 */
	if (TransactionIdIsCurrentTransactionId(XidFromFullTransactionId(fxid)))
		return false;
	return XidInMVCCSnapshot(XidFromFullTransactionId(fxid), stmt_snap);
}

/*
 * order_withdraw_lapse
 *		Withdraw the customer's lapse if this order, older than the lapse
 *		and racing it, refutes it; returns whether it did.
 *
 * A lapse (at_risk, dormant, churned: clm.refresh_stages) is a judgement
 * of the orders as of its time.  An order dated before it whose statement
 * began while the lapse's transaction was still running (the refresh and
 * the order raced for the customer, and the refresh won the row lock) was
 * not part of that judgement, and the order could not know of the lapse.
 * When the orders including it say something else as of the lapse's time,
 * the lapse is withdrawn: the stage and the history become what they would
 * have been had the order won the lock (where the judgement is a lapse
 * still, the customer moves to it, at the same time).  Whether the refresh
 * or the order commits first then makes no difference.  A lapse committed
 * before the order's statement began, by a refresh or by hand, stands: the
 * order is late, and the history keeps what was decided.
 */
static bool
order_withdraw_lapse(OrderTrigger *ot, Datum key, Oid cur, const char *cust_key,
					 TimestampTz entered_at, TimestampTz ts, const OrderFacts *f,
					 const ClmPolicy *policy, Snapshot stmt_snap)
{
	ClmChange	lapse;
	ClmStage	judged;
	Datum		vals[2];
	int			ret;

	if (!clm_lc_latest_change(ot->cust_relid, cust_key, &lapse) ||
		lapse.to != cur || lapse.changed_at != entered_at || !OidIsValid(lapse.from))
		return false;			/* the stage is not the recorded lapse */
	if (!order_raced(lapse.txid, stmt_snap))
		return false;			/* decided before this order came */
	judged = clm_lc_classify(order_count_exact(ot, key, f, entered_at), f->first_at,
							 order_last_at(f, ts, entered_at), entered_at, policy,
							 order_current(lapse.from, false, 0, entered_at));
	if (clm_lc_stage_oid(judged) == cur)
		return false;			/* the lapse stands */

	vals[0] = key;
	vals[1] = ObjectIdGetDatum(lapse.from);
	ret = clm_lc_execute_withdrawal(ot->update_plan, vals, ot->cust_relid, lapse.id);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "clm.stage_on_order: updating the customer failed: %s",
			 SPI_result_code_string(ret));
	if (judged == CLM_STAGE_AT_RISK || judged == CLM_STAGE_DORMANT ||
		judged == CLM_STAGE_CHURNED)
		(void) order_move(ot, ot->update_plan, key, &lapse.from, judged, lapse.changed_at);
	return true;
}

/*
 * order_try_advocate
 *		Move a loyal customer (key: the customers table's key, row locked)
 *		to advocate if policy's advocate_min_referrals of the customers they
 *		referred have made their first purchase in time; dated when the
 *		last of those needed did.
 */
static void
order_try_advocate(OrderTrigger *ot, Datum key, Oid cur, const ClmPolicy *policy)
{
	Datum		args[3];
	bool		isnull;
	TimestampTz at;
	int			ret;

	args[0] = key;
	args[1] = Int64GetDatum((int64) policy->advocate_min_referrals - 1);
	args[2] = Float8GetDatum(policy->advocate_window_days);
	ret = SPI_execute_plan(ot->nth_plan, args, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "clm.stage_on_order: reading the referrals failed: %s",
			 SPI_result_code_string(ret));
	if (SPI_processed == 0)
	{
		SPI_freetuptable(SPI_tuptable);
		return;
	}
	at = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	(void) order_move(ot, ot->advocate_plan, key, &cur, CLM_STAGE_ADVOCATE, at);
}

/*
 * order_advocacy_on
 *		Whether the policy and the rules can make an advocate at all.
 */
static bool
order_advocacy_on(const ClmPolicy *policy)
{
	return policy->advocate_min_referrals > 0 &&
		clm_lc_allowed(clm_lc_stage_oid(CLM_STAGE_LOYAL), clm_lc_stage_oid(CLM_STAGE_ADVOCATE));
}

/*
 * order_new_buyer
 *		Whether an order moved a customer who had never bought (no stage,
 *		prospect, lead) to one who has (first_purchase, repeat, loyal).
 */
static bool
order_new_buyer(Oid before, Oid after)
{
	ClmStage	b = OidIsValid(before) ? clm_lc_stage_of(before) : CLM_STAGE_NONE;
	ClmStage	a = OidIsValid(after) ? clm_lc_stage_of(after) : CLM_STAGE_NONE;

	return (b == CLM_STAGE_NONE || b == CLM_STAGE_PROSPECT || b == CLM_STAGE_LEAD) &&
		(a == CLM_STAGE_FIRST_PURCHASE || a == CLM_STAGE_REPEAT || a == CLM_STAGE_LOYAL);
}

/*
 * order_referrals
 *		The advocacy rule, after a customer's orders moved it from before to
 *		after (key: the customers table's key).
 *
 * Referrals count once the referred customer buys, so a new buyer's loyal
 * referrers may have enough now: they are locked (in key order) and
 * judged.  And a customer who has just become loyal may have had enough
 * referrals already.  Nothing else changes the count, except referrals
 * recorded after the purchase, which clm.refresh_stages counts.
 */
static void
order_referrals(OrderTrigger *ot, Datum key, Oid before, Oid after, const ClmPolicy *policy)
{
	Oid			loyal = clm_lc_stage_oid(CLM_STAGE_LOYAL);
	Datum	   *referrers;
	uint64		n,
				i;
	int16		typlen;
	bool		typbyval;
	bool		isnull;
	int			ret;

	if (ot->referrers_plan == NULL || !order_advocacy_on(policy))
		return;
	if (order_new_buyer(before, after))
	{
		uint64		nloyal = 0;

		ret = SPI_execute_plan(ot->referrers_plan, &key, NULL, false, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "clm.stage_on_order: locking the referrers failed: %s",
				 SPI_result_code_string(ret));
		n = SPI_processed;
		get_typlenbyval(ot->cust_key_type, &typlen, &typbyval);
		referrers = palloc(sizeof(Datum) * Max(n, 1));
		for (i = 0; i < n; i++)
		{
			Datum		st = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);

			if (isnull || DatumGetObjectId(st) != loyal)
				continue;
			referrers[nloyal++] = datumCopy(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
														  1, &isnull), typbyval, typlen);
		}
		SPI_freetuptable(SPI_tuptable);
		for (i = 0; i < nloyal; i++)
			order_try_advocate(ot, referrers[i], loyal, policy);
	}
	if (after == loyal && before != loyal)
		order_try_advocate(ot, key, after, policy);
}

/*
 * order_lo
 *		Where the orders to judge begin: all of them for a customer without
 *		a stage, those since its current stage began, or only the later ones
 *		when that is unknown.
 */
static TimestampTz
order_lo(Oid cur, bool entered_known, TimestampTz entered_at, TimestampTz ts)
{
	if (!OidIsValid(cur))
		return DT_NOBEGIN;
	if (entered_known && entered_at < ts)
		return entered_at;
	return ts;
}

/*
 * The moves the facts imply for one customer, in order.
 */
typedef struct OrderMoves
{
	int			n;
	ClmStage   *to;
	TimestampTz *at;
} OrderMoves;

/*
 * order_judge
 *		The moves of a customer in stage cur whose latest new order is at ts
 *		(see clm_stage_on_order): each step in time order, then this order.
 *		A late order is judged as the latest order is, now counted with
 *		them: at each order since the stage began up to the latest (not at
 *		all for a lapsed customer, whose lapse it predates:
 *		order_withdraw_lapse).  Each is a move the rules allow from the
 *		stage the one before it left.
 *
 * So the rows of one statement leave the customer where the statement
 * trigger does whatever order they fire in: an older row that fires first
 * takes the customer through the newer ones' steps as they would.
 */
static void
order_judge(const OrderFacts *f, Oid cur, bool entered_known, TimestampTz entered_at,
			TimestampTz ts, const ClmPolicy *policy, OrderMoves *m)
{
	bool		late = f->latest_other > ts ||
		(entered_known && (ts < entered_at || (order_lapsed(cur) && ts == entered_at)));
	TimestampTz end = ts;
	TimestampTz *steps = f->steps;
	int			nsteps = f->nsteps;
	int			i;

	m->n = 0;
	if (late)
	{
		TimestampTz lo = (OidIsValid(cur) && entered_known) ? entered_at :
			order_lo(cur, entered_known, entered_at, ts);

		if (order_lapsed(cur))
			return;				/* (a lapse it predates: order_withdraw_lapse) */
		end = f->latest;
		steps = palloc(sizeof(TimestampTz) * (f->nsteps + f->nafter + 1));
		memcpy(steps, f->steps, sizeof(TimestampTz) * f->nsteps);
		if (ts > lo && ts < end)
			steps[nsteps++] = ts;
		for (i = 0; i < f->nafter; i++)
			if (f->after[i] > lo && f->after[i] < end)
				steps[nsteps++] = f->after[i];
		nsteps = order_sort_times(steps, nsteps);
	}
	m->to = palloc(sizeof(ClmStage) * (nsteps + 1));
	m->at = palloc(sizeof(TimestampTz) * (nsteps + 1));
	for (i = 0; i <= nsteps; i++)
	{
		TimestampTz t = (i < nsteps) ? steps[i] : end;
		ClmStage	to = clm_lc_classify(order_count_at(f, t), f->first_at, t, t, policy,
										 order_current(cur, entered_known, entered_at, t));

		if (!order_may_move(cur, to))
			continue;
		m->to[m->n] = to;
		m->at[m->n++] = t;
		cur = clm_lc_stage_oid(to);
		entered_known = true;
		entered_at = t;
	}
}

/*
 * order_apply
 *		Move one ordering customer to the stage the new facts imply, the
 *		latest of its new orders being at ts (see clm_stage_on_order).
 *		Runs inside the caller's SPI connection.
 */
static void
order_apply(OrderTrigger *ot, Datum key, TimestampTz ts, Snapshot stmt_snap)
{
	int			ret;
	Oid			cur = InvalidOid;
	bool		isnull;
	const ClmPolicy *policy;
	char	   *cust_key;
	bool		entered_known = false;
	TimestampTz entered_at = 0;
	OrderFacts	f;
	OrderMoves	m;
	int			i;
	bool		first_lock = true;
	Oid			before = InvalidOid;
	Datum		ckey = (Datum) 0;

again:
	ret = SPI_execute_plan(ot->lock_plan, &key, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "clm.stage_on_order: locking the customer failed: %s",
			 SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return;					/* no such customer (no foreign key?) */
	cur = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		cur = InvalidOid;
	entered_at = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	entered_known = (ot->since_column != NULL && !isnull);
	cust_key = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	if (first_lock)
	{
		int16		typlen;
		bool		typbyval;

		/* the stage before these orders, and the key as the customers table has it */
		before = cur;
		get_typlenbyval(ot->cust_key_type, &typlen, &typbyval);
		ckey = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull),
						 typbyval, typlen);
		first_lock = false;
	}

	/*
	 * Most orders come from customers who are already where orders can
	 * take them (loyal, advocate): an active customer is classified as
	 * first_purchase, repeat or loyal (an advocate stays one), so when the
	 * rules allow none of those moves from the current stage, the orders
	 * need not be read at all.
	 */
	if (order_cannot_move(cur))
		return;

	/* when the current stage began: the guard's since column, else the history */
	if (OidIsValid(cur) && !entered_known && cust_key != NULL)
		entered_known = clm_lc_stage_entered_at(ot->cust_relid, cust_key, &entered_at);

	policy = clm_lc_policy(ot->policy);
	order_read_facts(ot, key, cur, ts, order_lo(cur, entered_known, entered_at, ts), policy, &f);
	if (order_count_at(&f, ts) == 0)
		return;					/* our own order is not visible?  nothing to do */
	clm_lc_check_facts(f.n_all, false, f.first_at, false, f.latest, f.latest);

	if (order_lapsed(cur) && entered_known && ts <= entered_at && cust_key != NULL &&
		order_withdraw_lapse(ot, key, cur, cust_key, entered_at, ts, &f, policy, stmt_snap))
		goto again;				/* judge again from the stage restored */

	order_judge(&f, cur, entered_known, entered_at, ts, policy, &m);
	for (i = 0; i < m.n; i++)
		(void) order_move(ot, ot->update_plan, key, &cur, m.to[i], m.at[i]);
	order_referrals(ot, ckey, before, cur, policy);
}

/*
 * A customer of the statement's new orders whom they may move, as the
 * locking pass found it.
 */
typedef struct OrderMover
{
	Datum		key;			/* the orders' customer column */
	Datum		ckey;			/* the customers table's key */
	TimestampTz ts;				/* the latest new order */
	Oid			cur;			/* the stage */
	TimestampTz entered_at;		/* when it began (the since column) */
	bool		entered_known;
	bool		single;			/* takes the row trigger's path */
} OrderMover;

/* movers judged together, in one SPI connection: a bound on the memory */
#define ORDER_BATCH 10000

/*
 * order_group
 *		Reorder the rows of tt (nrows of them) so that those of each mover,
 *		numbered 1..n in the first column, are together in the order they
 *		came; the rows of mover i (0-based) are then start[i]..start[i+1]-1.
 */
static uint64 *
order_group(SPITupleTable *tt, uint64 nrows, int n)
{
	uint64	   *start = palloc0(sizeof(uint64) * (n + 2));
	uint64	   *next;
	HeapTuple  *vals = palloc(sizeof(HeapTuple) * Max(nrows, 1));
	int		   *who = palloc(sizeof(int) * Max(nrows, 1));
	uint64		r;
	int			i;

	for (r = 0; r < nrows; r++)
	{
		bool		isnull;
		int64		m = DatumGetInt64(SPI_getbinval(tt->vals[r], tt->tupdesc, 1, &isnull));

		if (isnull || m < 1 || m > n)
			elog(ERROR, "clm.stage_on_order: an order read for no customer");
		who[r] = (int) m - 1;
		start[who[r] + 1]++;
	}
	for (i = 0; i < n; i++)
		start[i + 1] += start[i];
	next = palloc(sizeof(uint64) * (n + 1));
	memcpy(next, start, sizeof(uint64) * (n + 1));
	for (r = 0; r < nrows; r++)
		vals[next[who[r]]++] = tt->vals[r];
	memcpy(tt->vals, vals, sizeof(HeapTuple) * nrows);
	return start;
}

/*
 * order_read_batch
 *		order_read_facts for n movers at once: one query for all their orders
 *		(without the index), or for the first k of each and those after its
 *		latest new order, then one for the steps of those that need them.
 */
static void
order_read_batch(OrderTrigger *ot, const OrderMover *mv, int n, const ClmPolicy *policy,
				 OrderFacts *f)
{
	Datum	   *keys = palloc(sizeof(Datum) * n);
	Datum	   *tsd = palloc(sizeof(Datum) * n);
	Datum		args[6];
	uint64	   *start;
	TimestampTz *lo = palloc(sizeof(TimestampTz) * n);
	bool	   *more = palloc0(sizeof(bool) * n);
	Datum	   *lod,
			   *tend,
			   *first,
			   *place;
	int			nmore = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		keys[i] = mv[i].key;
		tsd[i] = TimestampTzGetDatum(mv[i].ts);
		lo[i] = order_lo(mv[i].cur, mv[i].entered_known, mv[i].entered_at, mv[i].ts);
		order_facts_start(&f[i], mv[i].ts);
	}
	args[0] = clm_array(keys, NULL, n, ot->key_type);
	args[1] = Int64GetDatum(order_k(policy));
	args[2] = clm_array(tsd, NULL, n, TIMESTAMPTZOID);
	order_select(ot->batch_facts_plan ? ot->batch_facts_plan : ot->batch_first_plan, args);
	start = order_group(SPI_tuptable, SPI_processed, n);
	for (i = 0; i < n; i++)
		order_take(&f[i], SPI_tuptable, start[i], start[i + 1], 2, mv[i].ts);
	SPI_freetuptable(SPI_tuptable);

	/* with the bounded reads: the steps, for those that need them */
	lod = palloc(sizeof(Datum) * n);
	tend = palloc(sizeof(Datum) * n);
	first = palloc(sizeof(Datum) * n);
	place = palloc(sizeof(Datum) * n);
	for (i = 0; i < n && ot->batch_first_plan; i++)
	{
		TimestampTz tenure_from;
		bool		first_steps;

		more[i] = order_facts_bounded(&f[i], mv[i].cur, mv[i].ts, lo[i], policy,
									  &tenure_from, &first_steps);
		if (!more[i])
			continue;
		keys[nmore] = mv[i].key;
		lod[nmore] = TimestampTzGetDatum(lo[i]);
		tsd[nmore] = TimestampTzGetDatum(mv[i].ts);
		tend[nmore] = TimestampTzGetDatum(tenure_from);
		first[nmore] = BoolGetDatum(first_steps);
		place[nmore++] = Int64GetDatum(i + 1);
	}
	if (nmore > 0)
	{
		args[0] = clm_array(keys, NULL, nmore, ot->key_type);
		args[1] = clm_array(lod, NULL, nmore, TIMESTAMPTZOID);
		args[2] = clm_array(tsd, NULL, nmore, TIMESTAMPTZOID);
		args[3] = clm_array(tend, NULL, nmore, TIMESTAMPTZOID);
		args[4] = clm_array(first, NULL, nmore, BOOLOID);
		args[5] = clm_array(place, NULL, nmore, INT8OID);
		order_select(ot->batch_steps_plan, args);
		start = order_group(SPI_tuptable, SPI_processed, n);
		for (i = 0; i < n; i++)
			if (more[i])
				order_take(&f[i], SPI_tuptable, start[i], start[i + 1], 2, mv[i].ts);
		SPI_freetuptable(SPI_tuptable);
	}
	for (i = 0; i < n; i++)
		order_facts_finish(&f[i], mv[i].ts, lo[i]);
}

/*
 * order_apply_batch
 *		order_apply for n movers at once, none of them lapsed and each with
 *		a known start of its current stage (their rows are locked): their
 *		orders read in two queries, each judged, and the moves made in
 *		rounds, the r-th move of every customer in one UPDATE, each dated at
 *		its own time (clm_lc_execute_at_each).  after[i] is set to where
 *		mover i ends.  Runs in an SPI connection of its own, whose memory
 *		the caller frees after each batch.
 */
static void
order_apply_batch(OrderTrigger *ot, const OrderMover *mv, int n, const ClmPolicy *policy,
				  Oid *after)
{
	OrderFacts *f = palloc(sizeof(OrderFacts) * n);
	OrderMoves *m = palloc(sizeof(OrderMoves) * n);
	Datum	   *keys = palloc(sizeof(Datum) * n);
	Datum	   *stages = palloc(sizeof(Datum) * n);
	ClmKeyTime *times = palloc(sizeof(ClmKeyTime) * n);
	char	  **text = palloc(sizeof(char *) * n);
	Oid			typoutput;
	bool		typisvarlena;
	int			i,
				r;

	order_read_batch(ot, mv, n, policy, f);
	getTypeOutputInfo(ot->cust_key_type, &typoutput, &typisvarlena);
	for (i = 0; i < n; i++)
	{
		m[i].n = 0;
		if (order_count_at(&f[i], mv[i].ts) == 0)
			continue;			/* its own order is not visible?  nothing to do */
		clm_lc_check_facts(f[i].n_all, false, f[i].first_at, false, f[i].latest, f[i].latest);
		order_judge(&f[i], mv[i].cur, mv[i].entered_known, mv[i].entered_at, mv[i].ts,
					policy, &m[i]);
		/* the key as the guard reads it, to hand it the time */
		text[i] = m[i].n > 0 ? OidOutputFunctionCall(typoutput, mv[i].ckey) : NULL;
	}
	for (r = 0;; r++)
	{
		Datum		args[2];
		int			cnt = 0;
		int			ret;

		for (i = 0; i < n; i++)
		{
			if (m[i].n <= r)
				continue;
			keys[cnt] = mv[i].ckey;
			stages[cnt] = ObjectIdGetDatum(clm_lc_stage_oid(m[i].to[r]));
			times[cnt].key = text[i];
			times[cnt++].at = m[i].at[r];
		}
		if (cnt == 0)
			break;
		args[0] = clm_array(keys, NULL, cnt, ot->cust_key_type);
		args[1] = clm_array(stages, NULL, cnt, ot->stage_type);
		ret = clm_lc_execute_at_each(ot->batch_update_plan, args, ot->cust_relid, times, cnt);
		if (ret != SPI_OK_UPDATE)
			elog(ERROR, "clm.stage_on_order: updating the customers failed: %s",
				 SPI_result_code_string(ret));
	}
	for (i = 0; i < n; i++)
		after[i] = m[i].n > 0 ? clm_lc_stage_oid(m[i].to[m[i].n - 1]) : mv[i].cur;
}

/*
 * One customer of the statement's new orders, and its latest order time
 * (order_group_new).
 */
typedef struct OrderGroup
{
	Datum		key;
	TimestampTz ts;
	uint32		hash;
	char		status;			/* simplehash's slot status */
} OrderGroup;

/* How the new orders' customer keys hash and compare: as their type does. */
typedef struct OrderKeyOps
{
	FmgrInfo   *hash;
	FmgrInfo   *eq;
	Oid			collation;
} OrderKeyOps;

#define ORDER_KEY_OPS(tb) ((OrderKeyOps *) (tb)->private_data)
#define SH_PREFIX		ordergroup
#define SH_ELEMENT_TYPE OrderGroup
#define SH_KEY_TYPE		Datum
#define SH_KEY			key
#define SH_HASH_KEY(tb, k) \
	DatumGetUInt32(FunctionCall1Coll(ORDER_KEY_OPS(tb)->hash, ORDER_KEY_OPS(tb)->collation, (k)))
#define SH_EQUAL(tb, a, b) \
	DatumGetBool(FunctionCall2Coll(ORDER_KEY_OPS(tb)->eq, ORDER_KEY_OPS(tb)->collation, (a), (b)))
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/*
 * order_group_new
 *		The customers of the statement's new orders, each once (by the key
 *		type's own equality and hashing, as GROUP BY has them), with the
 *		latest order time of each: *n of them in *keys and *tss.  Read in C
 *		from the transition table, which is several times cheaper than
 *		grouping it in SQL; an infinite order time is an error, as in the row
 *		trigger.  Returns false, having read nothing, for a key type without
 *		hashing: then order_group_sql groups them.
 */
static bool
order_group_new(OrderTrigger *ot, TriggerData *td, Datum **keys, Datum **tss, uint64 *n)
{
	TypeCacheEntry *tc = lookup_type_cache(ot->key_type,
										   TYPECACHE_HASH_PROC_FINFO | TYPECACHE_EQ_OPR_FINFO);
	Tuplestorestate *store = td->tg_newtable;
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	TupleTableSlot *slot;
	ordergroup_hash *groups;
	ordergroup_iterator it;
	OrderGroup *g;
	OrderKeyOps ops;
	int16		typlen;
	bool		typbyval;
	int			ptr;

	if (!OidIsValid(tc->hash_proc) || !OidIsValid(tc->eq_opr))
		return false;
	ops.hash = &tc->hash_proc_finfo;
	ops.eq = &tc->eq_opr_finfo;
	ops.collation = TupleDescAttr(desc, ot->fk_att - 1)->attcollation;
	get_typlenbyval(ot->key_type, &typlen, &typbyval);
	groups = ordergroup_create(CurrentMemoryContext, 1024, &ops);

	/* a read pointer of our own, as a scan of the transition table has */
	slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	ptr = tuplestore_alloc_read_pointer(store, EXEC_FLAG_REWIND);
	tuplestore_select_read_pointer(store, ptr);
	tuplestore_rescan(store);
	while (tuplestore_gettupleslot(store, true, false, slot))
	{
		bool		isnull;
		bool		found;
		Datum		key = slot_getattr(slot, ot->fk_att, &isnull);
		Datum		ts;

		if (isnull)
			continue;
		ts = slot_getattr(slot, ot->ts_att, &isnull);
		if (isnull)
			continue;
		clm_check_finite_timestamp(DatumGetTimestampTz(ts), ot->args[3]);
		g = ordergroup_insert(groups, key, &found);
		if (!found)
		{
			g->key = datumCopy(key, typbyval, typlen);
			g->ts = DatumGetTimestampTz(ts);
		}
		else if (DatumGetTimestampTz(ts) > g->ts)
			g->ts = DatumGetTimestampTz(ts);
		CHECK_FOR_INTERRUPTS();
	}
	tuplestore_select_read_pointer(store, 0);
	ExecDropSingleTupleTableSlot(slot);

	*n = 0;
	*keys = palloc_extended(sizeof(Datum) * Max(groups->members, 1), MCXT_ALLOC_HUGE);
	*tss = palloc_extended(sizeof(Datum) * Max(groups->members, 1), MCXT_ALLOC_HUGE);
	ordergroup_start_iterate(groups, &it);
	while ((g = ordergroup_iterate(groups, &it)) != NULL)
	{
		(*keys)[*n] = g->key;
		(*tss)[(*n)++] = TimestampTzGetDatum(g->ts);
	}
	return true;
}

/*
 * order_group_sql
 *		order_group_new for a key type without hashing: grouped in SQL.
 */
static void
order_group_sql(OrderTrigger *ot, const char *tab, Datum **keys, Datum **tss, uint64 *n)
{
	const char *fk_q = quote_identifier(ot->args[1]);
	const char *ts_q = quote_identifier(ot->args[3]);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			nk,
				nt;
	bool		isnull = true;
	int			i,
				ret;

	ret = SPI_execute(psprintf("SELECT pg_catalog.array_agg(g.k), pg_catalog.array_agg(g.t), "
							   "pg_catalog.min(g.lo), pg_catalog.max(g.t) "
							   "FROM (SELECT n.%s AS k, pg_catalog.max(n.%s) AS t, pg_catalog.min(n.%s) AS lo "
							   "FROM %s n WHERE n.%s IS NOT NULL AND n.%s IS NOT NULL GROUP BY n.%s) g",
							   fk_q, ts_q, ts_q, tab, fk_q, ts_q, fk_q), true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "clm.stage_on_order: reading the new orders failed: %s",
			 SPI_result_code_string(ret));
	*n = 0;
	for (i = 3; i <= 4; i++)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i, &isnull);

		if (!isnull)
			clm_check_finite_timestamp(DatumGetTimestampTz(d), ot->args[3]);
	}
	if (isnull)
		return;					/* no orders */
	get_typlenbyvalalign(ot->key_type, &typlen, &typbyval, &typalign);
	deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)),
					  ot->key_type, typlen, typbyval, typalign, keys, NULL, &nk);
	deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)),
					  TIMESTAMPTZOID, sizeof(TimestampTz), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  tss, NULL, &nt);
	Assert(nk == nt);
	*n = nk;
}

/*
 * order_apply_statement
 *		The statement-level trigger: every customer of the new orders (the
 *		transition table), each once, as the row trigger would leave it.
 *
 * The row trigger, fired for each row of a statement after all of them are
 * in, moves a customer at its first row through the steps of all its
 * orders up to that row, and its later rows continue from there: the
 * customer ends where one run up to its latest new order takes it, and
 * that is what this does, once per customer instead of once per row.  The
 * new orders are grouped by customer in C (order_group_new); one query
 * joins the customers and locks them (FOR NO KEY UPDATE, in key order, so
 * that two bulk loads do not deadlock), and reads their stages: the
 * customers no order can move (loyal, advocate) need nothing more.  The
 * others are judged in batches (order_apply_batch), set-based, where the
 * trigger's key is the guard's and unique (order_batches).  A lapsed customer
 * (whose lapse a late order may withdraw) and one whose stage has no
 * recorded start in the row take the row trigger's path (order_apply), in
 * a nested SPI connection of their own, so that what one customer reads is
 * freed before the next.
 */
static void
order_apply_statement(OrderTrigger *ot, TriggerData *td, Snapshot stmt_snap)
{
	const char *tab = quote_identifier(td->tg_trigger->tgnewtable);
	int			ret;
	Datum	   *keys,
			   *tss;
	Datum		args[2];
	Oid			types[2];
	uint64		n,
				i,
				nmove = 0,
				nbatch = 0;
	OrderMover *mv,
			   *batch;
	Oid		   *after;
	bool		isnull;
	int16		typlen,
				ctyplen;
	bool		typbyval,
				ctypbyval;
	char	   *grouped;
	const ClmPolicy *policy = clm_lc_policy(ot->policy);

	if (SPI_register_trigger_data(td) != SPI_OK_TD_REGISTER)
		elog(ERROR, "clm.stage_on_order: registering the transition table failed");

	/* the new orders' customers, each once, with their latest order */
	if (!order_group_new(ot, td, &keys, &tss, &n))
		order_group_sql(ot, tab, &keys, &tss, &n);
	if (n == 0)
		return;
	types[0] = get_array_type(ot->key_type);
	types[1] = TIMESTAMPTZARRAYOID;
	if (!OidIsValid(types[0]))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("clm.stage_on_order cannot run as a statement trigger for customer keys of type %s",
						format_type_be(ot->key_type)),
				 errdetail("Trigger \"%s\" on \"%s\" passes the new orders' customers, column \"%s\", as an array, and that type has no array type.",
						   td->tg_trigger->tgname, RelationGetRelationName(td->tg_relation), ot->args[1]),
				 errhint("Use it FOR EACH ROW.")));
	args[0] = clm_array(keys, NULL, (int) n, ot->key_type);
	args[1] = clm_array(tss, NULL, (int) n, TIMESTAMPTZOID);

	/*
	 * Lock them in key order.  With referrals adopted, the loyal referrers
	 * of the new orders' customers are locked in the same pass (rows
	 * without an order time), since a first purchase may make them
	 * advocates (order_referrals).
	 */
	grouped = "SELECT o.k, o.t, o.k AS j "
		"FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) o(k, t)";
	if (ot->referrers_q != NULL && order_advocacy_on(policy))
		grouped = psprintf("%s UNION ALL %s", grouped, psprintf(ot->referrers_q, tab));
	ret = SPI_execute_with_args(psprintf("SELECT o.k, o.t, c.%s, %s, c.%s FROM (%s) o "
										 "JOIN %s c ON c.%s %s o.j "
										 "ORDER BY c.%s FOR NO KEY UPDATE OF c",
										 ot->stage_q,
										 ot->since_column ? psprintf("c.%s::pg_catalog.timestamptz",
																	 quote_identifier(ot->since_column)) :
										 "NULL::pg_catalog.timestamptz",
										 ot->key_q, grouped,
										 ot->cust_q, ot->key_q, ot->key_eq, ot->key_q),
								2, types, args, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "clm.stage_on_order: locking the customers failed: %s",
			 SPI_result_code_string(ret));
	n = SPI_processed;
	get_typlenbyval(ot->key_type, &typlen, &typbyval);
	get_typlenbyval(ot->cust_key_type, &ctyplen, &ctypbyval);
	mv = palloc_extended(sizeof(OrderMover) * Max(n, 1), MCXT_ALLOC_HUGE);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Datum		stage = SPI_getbinval(tup, desc, 3, &isnull);
		OrderMover *m = &mv[nmove];

		m->cur = isnull ? InvalidOid : DatumGetObjectId(stage);
		if (order_cannot_move(m->cur))
			continue;
		m->ts = DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull));
		if (isnull)
			continue;			/* a referrer, only locked */
		m->key = datumCopy(SPI_getbinval(tup, desc, 1, &isnull), typbyval, typlen);
		m->entered_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 4, &isnull));
		m->entered_known = !isnull;
		m->ckey = datumCopy(SPI_getbinval(tup, desc, 5, &isnull), ctypbyval, ctyplen);
		m->single = ot->batch_update_plan == NULL || order_lapsed(m->cur) ||
			(!m->entered_known && OidIsValid(m->cur));
		nmove++;
	}
	SPI_freetuptable(SPI_tuptable);

	/* the batches, each in an SPI connection of its own */
	batch = palloc_extended(sizeof(OrderMover) * Max(nmove, 1), MCXT_ALLOC_HUGE);
	for (i = 0; i < nmove; i++)
		if (!mv[i].single)
			batch[nbatch++] = mv[i];
	after = palloc_extended(sizeof(Oid) * Max(nbatch, 1), MCXT_ALLOC_HUGE);
	for (i = 0; i < nbatch; i += ORDER_BATCH)
	{
		CHECK_FOR_INTERRUPTS();
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		order_apply_batch(ot, batch + i, (int) Min(nbatch - i, ORDER_BATCH), policy, after + i);
		SPI_finish();
	}

	/*
	 * The advocacy rule for those who moved, once every batch has moved its
	 * customers: a referrer it promotes is then not a mover of a later
	 * batch judged from the stage it had.
	 */
	for (i = 0; i < nbatch && ot->referrers_plan != NULL && order_advocacy_on(policy); i++)
	{
		if (after[i] == batch[i].cur)
			continue;
		CHECK_FOR_INTERRUPTS();
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		order_referrals(ot, batch[i].ckey, batch[i].cur, after[i], policy);
		SPI_finish();
	}

	/* the others, one by one */
	for (i = 0; i < nmove; i++)
	{
		if (!mv[i].single)
			continue;
		CHECK_FOR_INTERRUPTS();
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		order_apply(ot, mv[i].key, mv[i].ts, stmt_snap);
		SPI_finish();
	}
}

PG_FUNCTION_INFO_V1(clm_stage_on_order);

/*
 * clm_stage_on_order
 *		Move the ordering customer to the stage the new facts imply.
 *
 * A move the rules do not allow is skipped, not raised: the order is a
 * fact that must be stored whatever the customer's stage.
 *
 * The customer is judged at each order since its current stage began, in
 * time order, up to this one: the rows of one INSERT or COPY fire this
 * trigger in row order, after all of them are in, so the first row to fire
 * takes the customer through the steps of any earlier-dated rows that are
 * still to fire (which then find nothing left to do), and the history is
 * the same whatever the row order.  As a statement-level trigger it does
 * the same once per customer (order_apply_statement).
 *
 * A late order (older than one another transaction already stored, or than
 * the start of the current stage) comes after those were judged without
 * it.  A lapse it refutes is withdrawn (order_withdraw_lapse); otherwise it
 * does not win back a lapsed customer (the newer order or the lapse came
 * after it), and a customer who is not lapsed is judged again at each
 * order since its stage began up to the latest, with the late one counted,
 * so that no order's effect is lost (order_judge).
 */
Datum
clm_stage_on_order(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Oid			nsp;
	OrderTrigger *ot;
	Datum		key = (Datum) 0;
	TimestampTz ts = 0;
	bool		row;
	Relation	crel;
	const char *since;
	const char *guard_key;
	Snapshot	stmt_snap;

	order_check_call(fcinfo);
	row = TRIGGER_FIRED_FOR_ROW(td->tg_event);
	/* the statement's snapshot, before SPI pushes its own (order_raced) */
	stmt_snap = ActiveSnapshotSet() ? GetActiveSnapshot() : NULL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
	clm_lc_load(nsp);
	ot = order_lookup(td, nsp);

	if (row)
	{
		HeapTuple	tup = td->tg_trigtuple;
		TupleDesc	desc = RelationGetDescr(td->tg_relation);
		bool		isnull;
		Datum		tsd;

		key = heap_getattr(tup, ot->fk_att, desc, &isnull);
		if (isnull)
			goto done;
		tsd = heap_getattr(tup, ot->ts_att, desc, &isnull);
		if (isnull)
			goto done;
		ts = DatumGetTimestampTz(tsd);
		clm_check_finite_timestamp(ts, ot->args[3]);
	}

	/* the guard must still be there; rebuild if its columns changed */
	crel = table_open(ot->cust_relid, AccessShareLock);
	since = clm_lc_require_guard(crel, ot->stage_column, "clm.stage_on_order", &guard_key);
	table_close(crel, NoLock);
	if ((since == NULL) != (ot->since_column == NULL) ||
		(since != NULL && strcmp(since, ot->since_column) != 0) ||
		strcmp(guard_key, ot->guard_key) != 0)
	{
		ot->args[0][0] = '\0';	/* stale: order_lookup rebuilds it */
		ot = order_lookup(td, nsp);
	}

	if (row)
		order_apply(ot, key, ts, stmt_snap);
	else
		order_apply_statement(ot, td, stmt_snap);

done:
	SPI_finish();
	return PointerGetDatum(NULL);
}
