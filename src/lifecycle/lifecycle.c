/*-------------------------------------------------------------------------
 *
 * lifecycle.c
 *	  The per-backend cache behind clm's lifecycle triggers (stage values,
 *	  the allowed-transition matrix, policies, the history writer), the
 *	  stage classifier and clm.classify_stage.
 *
 * Triggers fire once per row, so nothing here may query the rule tables on
 * every call.  The rules and policies are read once per backend and kept
 * until a change to those tables invalidates them: the statement trigger
 * clm.lifecycle_config_changed() on the rule and policy tables sends a
 * relcache invalidation for the table (plain DML sends none), which every
 * backend receives at commit through the callback registered here.  Like
 * the catalog caches, the cache is refilled under a fresh snapshot, never
 * the snapshot of the transaction or statement that happens to notice the
 * invalidation (see lc_read_fresh).
 *
 * IDENTIFICATION
 *	  src/lifecycle/lifecycle.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <errno.h>
#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/relation.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
#include "utils/xid8.h"

#include "clm.h"
#include "lifecycle.h"

static const char *const stage_names[CLM_NUM_STAGES] = {
	"prospect", "lead", "first_purchase", "repeat", "loyal", "advocate",
	"at_risk", "dormant", "churned", "reactivated"
};

typedef struct PolicyEntry
{
	char	   *name;
	ClmPolicy	policy;
} PolicyEntry;

/* Everything cached for the extension in namespace nsp. */
typedef struct LcCache
{
	bool		valid;			/* stage values, relids, history plan */
	bool		rules_valid;
	uint64		rules_gen;		/* bumped by every invalidation of the rules */
	uint64		policy_gen;		/* ... and of the policies */
	Oid			nsp;
	char	   *nspname;		/* quoted, for SQL text */
	Oid			stage_type;
	Oid			rule_default_relid;
	Oid			rule_user_relid;
	Oid			policy_relid;
	Oid			history_relid;
	Oid			history_owner;
	int			nvals;			/* values of the enum */
	Oid		   *vals;
	char	  **labels;
	Oid			known[CLM_NUM_STAGES];
	bool	   *allowed;		/* nvals x nvals, [from * nvals + to] */
	SPIPlanPtr	rules_plan;
	SPIPlanPtr	history_plan;
	SPIPlanPtr	policy_plan;
	SPIPlanPtr	entered_plan;
	SPIPlanPtr	latest_plan;	/* latest recorded change of a customer */
	Oid			event_relid;	/* clm.stage_event; InvalidOid: no feed (a 1.0 catalog) */
	SPIPlanPtr	event_plan;		/* the feed's event, NULL without the table */
	SPIPlanPtr	history_many_plan;	/* history_plan and event_plan for many */
	SPIPlanPtr	event_many_plan;	/* changes at once, made when first needed */
	Oid			referral_relid; /* clm.referral_source; InvalidOid in a 1.0 catalog */
	SPIPlanPtr	referral_plan;	/* a customers table's row of it */
	uint64		referral_gen;	/* bumped by every invalidation of it */
	int			npolicies;
	PolicyEntry policies[16];
} LcCache;

static LcCache lc;
static MemoryContext lc_cxt = NULL;		/* stage values, rules */
static MemoryContext lc_policy_cxt = NULL;	/* policy names */
static bool lc_callback_registered = false;

/*
 * The changes clm.stage_guard records during an UPDATE that
 * clm_lc_execute_at_each runs, for the customers handed over: written to
 * the history and the feed after it, in one statement each, instead of
 * two statements per customer.
 */
typedef struct LcCollect
{
	MemoryContext cxt;
	int			n;
	int			cap;
	Datum	   *relid;
	Datum	   *key;
	Datum	   *from;
	bool	   *from_null;
	Datum	   *to;
	Datum	   *at;
	Datum	   *by;
	SubTransactionId *subid;	/* where the guard saw each change */
} LcCollect;

/*
 * What clm_lc_execute_at, clm_lc_execute_at_each and
 * clm_lc_execute_withdrawal hand to clm.stage_guard for the statement they
 * run (relid InvalidOid: nothing).
 */
typedef struct LcHandOff
{
	Oid			relid;
	TimestampTz changed_at;
	int64		withdraw;		/* history row withdrawn, or 0 */
	int			nkeys;			/* > 0: a time per customer, by key */
	const ClmKeyTime *keys;		/* sorted by key (lc_key_time_cmp) */
	LcCollect  *collect;		/* with keys: the changes recorded */
} LcHandOff;

static LcHandOff lc_handoff = {InvalidOid, 0, 0, 0, NULL, NULL};
static bool lc_collect_callback_registered = false;

static bool lc_handed_here(Oid relid, Oid logical_relid);
static int	lc_handed_key(Oid relid, Oid logical_relid, const char *customer_key);
static void lc_collect(Oid relid, const char *customer_key, Oid from, Oid to,
					   TimestampTz changed_at, Oid changed_by);

/*
 * Citus shards.  A Citus distributed table is a table of the same name on
 * every node (its "shell") whose rows live in shards, tables named
 * <table>_<shard id> on the workers; row triggers fire on the shards.  The
 * history of a shard's customers belongs to the distributed table: the
 * shell on the worker, whose name the coordinator's table shares.  Citus's
 * catalog pg_dist_shard maps shard ids to tables; it is read by name, when
 * it exists, so clm neither links to Citus nor needs it.  The answer for
 * a relation is kept per backend until a relcache invalidation of it (a
 * shard's name and table do not change without one).
 */
typedef struct LcShardMap
{
	Oid			relid;			/* hash key */
	Oid			logical;		/* the distributed table, or relid itself */
} LcShardMap;

static HTAB *lc_shard_maps = NULL;

/*
 * lc_shard_map_invalidate
 *		Forget what was found for a changed relation (from
 *		lc_relcache_callback: a backend has few relcache callback slots, and
 *		Citus takes several).
 */
static void
lc_shard_map_invalidate(Oid relid)
{
	HASH_SEQ_STATUS seq;
	LcShardMap *m;

	if (lc_shard_maps == NULL)
		return;
	if (OidIsValid(relid))
	{
		(void) hash_search(lc_shard_maps, &relid, HASH_REMOVE, NULL);
		return;
	}
	hash_seq_init(&seq, lc_shard_maps);
	while ((m = hash_seq_search(&seq)) != NULL)
		(void) hash_search(lc_shard_maps, &m->relid, HASH_REMOVE, NULL);
}

/*
 * lc_relcache_callback
 *		Drop what depends on a relation that changed.
 *
 * Called for every relcache invalidation in the backend, so it only
 * compares OIDs.  InvalidOid means "everything" (cache reset).  Plans are
 * not freed here (we may be inside their execution), and the history
 * table's invalidations (VACUUM, ANALYZE) need nothing: its plan is
 * revalidated by the plan cache.  A reinstalled extension is noticed by
 * clm_lc_load instead.
 */
static void
lc_relcache_callback(Datum arg, Oid relid)
{
	lc_shard_map_invalidate(relid);
	if (!lc.valid)
		return;
	if (relid == InvalidOid || relid == lc.rule_default_relid ||
		relid == lc.rule_user_relid)
	{
		lc.rules_valid = false;
		lc.rules_gen++;
	}
	if (relid == InvalidOid || relid == lc.policy_relid)
	{
		lc.npolicies = 0;
		lc.policy_gen++;
	}
	if (relid == InvalidOid || relid == lc.referral_relid)
		lc.referral_gen++;
}

/*
 * lc_get_relid
 *		The OID of one of clm's own tables, which must exist.
 */
static Oid
lc_get_relid(const char *name, Oid nsp)
{
	Oid			relid = get_relname_relid(name, nsp);

	if (!OidIsValid(relid))
		elog(ERROR, "clm table \"%s\" is missing", name);
	return relid;
}

/*
 * lc_switch_to_owner / lc_switch_back
 *		Run clm's own fixed queries as the owner of clm's tables.
 *
 * Triggers run as whoever changed the customer row.  Ordinary roles have no
 * INSERT on clm.stage_history (so history cannot be forged by hand), so the
 * trigger writes it as the table's owner, the way PostgreSQL's own foreign
 * key triggers act as the referenced table's owner.  Only fixed,
 * schema-qualified statements run under the switched identity.
 */
static void
lc_switch_to_owner(Oid *save_userid, int *save_sec)
{
	GetUserIdAndSecContext(save_userid, save_sec);
	SetUserIdAndSecContext(lc.history_owner,
						   *save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
}

static void
lc_switch_back(Oid save_userid, int save_sec)
{
	SetUserIdAndSecContext(save_userid, save_sec);
}

/*
 * lc_read_fresh
 *		Run one of clm's prepared queries on its table relid under a fresh
 *		snapshot, as the owner of clm's tables.
 *
 * The cache is refilled as soon as an invalidation has been processed, and
 * that may happen inside a REPEATABLE READ transaction, or a READ COMMITTED
 * statement, whose snapshot predates the change that sent it.  Read under
 * that snapshot, the old rows would be cached and marked valid, and no
 * further invalidation would come: the backend would keep the old rules for
 * good.  So read the way the catalog caches do, with a snapshot taken now
 * (the catalog snapshot is retaken for every table that has no syscache, and
 * unlike GetLatestSnapshot it may be taken in parallel mode): every change
 * whose invalidation has arrived is committed and therefore seen, and so
 * are the earlier commands of our own transaction.
 */
static int
lc_read_fresh(SPIPlanPtr plan, Oid relid, Datum *args, long tcount)
{
	Snapshot	snap = RegisterSnapshot(GetCatalogSnapshot(relid));
	Oid			save_userid;
	int			save_sec;
	int			ret;

	lc_switch_to_owner(&save_userid, &save_sec);
	ret = SPI_execute_snapshot(plan, args, NULL, snap, InvalidSnapshot,
							   true, false, tcount);
	lc_switch_back(save_userid, save_sec);
	UnregisterSnapshot(snap);
	return ret;
}

/*
 * lc_load_values
 *		Read the values of clm.lifecycle_stage from the catalog.
 *
 * Users may add values with ALTER TYPE ... ADD VALUE; they get rules like
 * any other value, and the classifier simply never produces them.
 */
static void
lc_load_values(void)
{
	CatCList   *list;
	int			i;

	list = SearchSysCacheList1(ENUMTYPOIDNAME, ObjectIdGetDatum(lc.stage_type));
	lc.nvals = list->n_members;
	lc.vals = MemoryContextAlloc(lc_cxt, sizeof(Oid) * Max(lc.nvals, 1));
	lc.labels = MemoryContextAlloc(lc_cxt, sizeof(char *) * Max(lc.nvals, 1));
	for (i = 0; i < CLM_NUM_STAGES; i++)
		lc.known[i] = InvalidOid;
	for (i = 0; i < list->n_members; i++)
	{
		HeapTuple	tup = &list->members[i]->tuple;
		Form_pg_enum en = (Form_pg_enum) GETSTRUCT(tup);
		int			k;

		lc.vals[i] = en->oid;
		lc.labels[i] = MemoryContextStrdup(lc_cxt, NameStr(en->enumlabel));
		for (k = 0; k < CLM_NUM_STAGES; k++)
			if (strcmp(stage_names[k], lc.labels[i]) == 0)
				lc.known[k] = en->oid;
	}
	ReleaseSysCacheList(list);
	for (i = 0; i < CLM_NUM_STAGES; i++)
		if (!OidIsValid(lc.known[i]))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("type %s.lifecycle_stage lacks the value \"%s\"",
							lc.nspname, stage_names[i]),
					 errdetail("A value was renamed although the event trigger clm_lifecycle_stage_protect refuses that."),
					 errhint("Rename the value back to \"%s\", with the event trigger disabled as it was for the rename.", stage_names[i])));
}

static int
lc_val_index(Oid v)
{
	int			i;

	for (i = 0; i < lc.nvals; i++)
		if (lc.vals[i] == v)
			return i;
	return -1;
}

/*
 * lc_load_rules
 *		Build the allowed-transition matrix from clm.stage_transition_rule.
 *
 * Reading the rules takes their tables' locks, which processes pending
 * invalidations; one that arrives after the snapshot was taken may announce
 * a change the snapshot does not show.  The matrix then answers the current
 * call but stays invalid, so the next call reads again.
 */
static void
lc_load_rules(void)
{
	uint64		gen = lc.rules_gen;
	int			ret;
	uint64		i;
	bool	   *allowed;

	ret = lc_read_fresh(lc.rules_plan, lc.rule_user_relid, NULL, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading the clm transition rules failed: %s",
			 SPI_result_code_string(ret));

	allowed = MemoryContextAllocZero(lc_cxt, sizeof(bool) * Max(lc.nvals * lc.nvals, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		n1,
					n2;
		Datum		f = SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &n1);
		Datum		t = SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &n2);
		int			fi,
					ti;

		if (n1 || n2)
			continue;
		fi = lc_val_index(DatumGetObjectId(f));
		ti = lc_val_index(DatumGetObjectId(t));
		if (fi < 0 || ti < 0)
			continue;			/* a value newer than our list; next load */
		allowed[fi * lc.nvals + ti] = true;
	}
	SPI_freetuptable(SPI_tuptable);
	if (lc.allowed != NULL)
		pfree(lc.allowed);
	lc.allowed = allowed;
	lc.rules_valid = (lc.rules_gen == gen);
}

/*
 * The columns of clm.lifecycle_policy that make up a ClmPolicy, in the order
 * lc_policy_fill takes them: read from the table by name (clm_lc_policy) or
 * from a row value of the table's type (clm.classify_stage's IMMUTABLE
 * variant).
 */
#define LC_POLICY_NFIELDS 14
#define LC_POLICY_NCLASSIFY 12	/* the classifier's; the rest are the referral rule's */
static const char *const lc_policy_fields[LC_POLICY_NFIELDS] = {
	"loyal_min_orders", "loyal_min_tenure_days", "fallback_gap_days",
	"at_risk_gap_multiple", "dormant_gap_multiple", "churned_gap_multiple",
	"at_risk_min_days", "dormant_min_days", "churned_min_days",
	"at_risk_max_days", "dormant_max_days", "churned_max_days",
	"advocate_min_referrals", "advocate_window_days"
};

/*
 * lc_policy_select_list
 *		The policy columns, comma separated, for a SELECT list.  A catalog
 *		of 1.0 (the library is replaced before ALTER EXTENSION UPDATE runs)
 *		has no referral columns: NULL stands in for them, and the referral
 *		rule is off (that catalog has no clm.referral_source either).
 */
static char *
lc_policy_select_list(void)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < LC_POLICY_NFIELDS; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "",
						 i < LC_POLICY_NCLASSIFY || get_attnum(lc.policy_relid, lc_policy_fields[i]) > 0 ?
						 lc_policy_fields[i] :
						 i == LC_POLICY_NCLASSIFY ? "NULL::pg_catalog.int4" : "NULL::pg_catalog.float8");
	return buf.data;
}

/*
 * lc_policy_fill
 *		A ClmPolicy from the values of the policy columns, in the order of
 *		lc_policy_fields (the first an integer, then double precision, the
 *		advocates' count an integer); isnull says which referral values are
 *		missing (the rule is then off).
 */
static void
lc_policy_fill(ClmPolicy *p, const Datum *v, const bool *isnull)
{
	int			i;

	p->loyal_min_orders = DatumGetInt32(v[0]);
	p->loyal_min_tenure_days = DatumGetFloat8(v[1]);
	p->fallback_gap_days = DatumGetFloat8(v[2]);
	for (i = 0; i < 3; i++)
	{
		p->gap_multiple[i] = DatumGetFloat8(v[3 + i]);
		p->min_days[i] = DatumGetFloat8(v[6 + i]);
		p->max_days[i] = DatumGetFloat8(v[9 + i]);
	}
	p->advocate_min_referrals = isnull[12] ? 0 : DatumGetInt32(v[12]);
	p->advocate_window_days = isnull[13] ? 0 : DatumGetFloat8(v[13]);
}

/*
 * lc_history_sql
 *		The history insert of the changes that source (VALUES, or a SELECT)
 *		lists as (relation, customer key, from, to, changed_at, changed_by),
 *		returning their ids in that order.
 */
static char *
lc_history_sql(const char *source)
{
	return psprintf("INSERT INTO %s.stage_history "
					"(relation, customer_key, from_stage, to_stage, changed_at, changed_by) "
					"%s RETURNING id", lc.nspname, source);
}

/*
 * lc_event_sql
 *		The feed's events for the changes that source lists as v(relation,
 *		customer key, from, to, changed_at, history id, withdrawal), written
 *		while a consumer exists (src/action/feed.sql explains the position).
 *		The customer's latest position is read as the first entry of a
 *		backward scan of stage_event_customer_idx, however many events the
 *		customer has: ORDER BY ... LIMIT 1 follows the index, where max()
 *		may be planned as an aggregate over all of them.
 */
static char *
lc_event_sql(const char *source)
{
	return psprintf("INSERT INTO %1$s.stage_event "
					"(position, relation, customer_key, from_stage, to_stage, "
					"changed_at, history_id, withdrawal) "
					"SELECT GREATEST(pg_catalog.pg_current_xact_id(), "
					"(SELECT e.position FROM %1$s.stage_event e "
					"WHERE e.relation OPERATOR(pg_catalog.=) v.r "
					"AND e.customer_key OPERATOR(pg_catalog.=) v.k "
					"ORDER BY e.position DESC LIMIT 1)), "
					"v.r, v.k, v.f, v.t, v.c, v.h, v.w "
					"FROM %2$s v(r, k, f, t, c, h, w) "
					"WHERE EXISTS (SELECT FROM %1$s.feed_consumer)",
					lc.nspname, source);
}

/*
 * clm_lc_load
 *		Make the cache valid for the extension in nsp.  Needs SPI connected.
 */
void
clm_lc_load(Oid nsp)
{
	HeapTuple	tup;
	Oid			argtypes[6];
	Oid			save_userid;
	int			save_sec;

	if (!lc_callback_registered)
	{
		CacheRegisterRelcacheCallback(lc_relcache_callback, (Datum) 0);
		lc_callback_registered = true;
	}
	/*
	 * Still the same extension?  After DROP and CREATE EXTENSION in this
	 * session its type and tables have new OIDs: two syscache lookups tell.
	 */
	if (lc.valid &&
		(lc.nsp != nsp ||
		 GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("lifecycle_stage"),
						 ObjectIdGetDatum(nsp)) != lc.stage_type ||
		 get_relname_relid("stage_history", nsp) != lc.history_relid ||
		 get_relname_relid("stage_event", nsp) != lc.event_relid ||
		 get_relname_relid("referral_source", nsp) != lc.referral_relid))
		lc.valid = false;
	if (lc.valid)
	{
		if (!lc.rules_valid)
			lc_load_rules();
		return;
	}

	/*
	 * Start over.  The previous generation's plans are not freed: a caller
	 * further up the stack may still be executing one of them (a trigger
	 * fired from inside the history insert, say).  Reloads happen only
	 * after DDL on clm's tables, so the leak is a few kilobytes per reload.
	 */
	lc.rules_plan = NULL;
	lc.history_plan = NULL;
	lc.policy_plan = NULL;
	lc.entered_plan = NULL;
	lc.latest_plan = NULL;
	lc.event_plan = NULL;
	lc.history_many_plan = NULL;
	lc.event_many_plan = NULL;
	lc.referral_plan = NULL;
	if (lc_cxt == NULL)
	{
		lc_cxt = AllocSetContextCreate(TopMemoryContext, "clm lifecycle cache",
									   ALLOCSET_SMALL_SIZES);
		lc_policy_cxt = AllocSetContextCreate(TopMemoryContext, "clm lifecycle policies",
											  ALLOCSET_SMALL_SIZES);
	}
	MemoryContextReset(lc_cxt);
	MemoryContextReset(lc_policy_cxt);
	lc.npolicies = 0;
	lc.rules_valid = false;
	lc.allowed = NULL;

	lc.nsp = nsp;
	lc.nspname = MemoryContextStrdup(lc_cxt, quote_identifier(get_namespace_name(nsp)));
	lc.stage_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
									CStringGetDatum("lifecycle_stage"),
									ObjectIdGetDatum(nsp));
	if (!OidIsValid(lc.stage_type))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("type %s.lifecycle_stage does not exist", lc.nspname),
				 errdetail("The type was renamed or moved although the event trigger clm_lifecycle_stage_protect refuses that."),
				 errhint("Rename or move it back, with the event trigger disabled as it was for the change.")));
	lc.rule_default_relid = lc_get_relid("stage_transition_rule_default", nsp);
	lc.rule_user_relid = lc_get_relid("stage_transition_rule_user", nsp);
	lc.policy_relid = lc_get_relid("lifecycle_policy", nsp);
	lc.history_relid = lc_get_relid("stage_history", nsp);

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(lc.history_relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", lc.history_relid);
	lc.history_owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);

	lc_load_values();

	lc.rules_plan = SPI_prepare(psprintf("SELECT from_stage, to_stage FROM %s.stage_transition_rule",
										 lc.nspname),
								0, NULL);
	if (lc.rules_plan == NULL)
		elog(ERROR, "preparing the clm rule lookup failed: %s",
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(lc.rules_plan);

	/*
	 * The plans that touch clm.stage_history run as its owner (see
	 * lc_switch_to_owner), so they are planned as its owner too: planned as
	 * the caller, a role subject to the history's row-level security would
	 * be refused under row_security = off, as pg_dump's restore scripts set
	 * it, before anything is read or written.
	 */
	lc_switch_to_owner(&save_userid, &save_sec);

	argtypes[0] = REGCLASSOID;
	argtypes[1] = TEXTOID;
	argtypes[2] = lc.stage_type;
	argtypes[3] = lc.stage_type;
	argtypes[4] = TIMESTAMPTZOID;
	argtypes[5] = NAMEOID;
	lc.history_plan = SPI_prepare(lc_history_sql("VALUES ($1, $2, $3, $4, $5, $6)"), 6, argtypes);
	if (lc.history_plan == NULL)
		elog(ERROR, "preparing the clm history insert failed: %s",
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(lc.history_plan);

	argtypes[0] = TEXTOID;
	lc.policy_plan = SPI_prepare(psprintf("SELECT %s FROM %s.lifecycle_policy "
										  "WHERE name OPERATOR(pg_catalog.=) $1",
										  lc_policy_select_list(), lc.nspname),
								 1, argtypes);
	if (lc.policy_plan == NULL)
		elog(ERROR, "preparing the clm policy lookup failed: %s",
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(lc.policy_plan);

	argtypes[0] = REGCLASSOID;
	argtypes[1] = TEXTOID;
	lc.entered_plan = SPI_prepare(psprintf("SELECT h.changed_at FROM %s.stage_history h "
										   "WHERE h.relation OPERATOR(pg_catalog.=) $1 "
										   "AND h.customer_key OPERATOR(pg_catalog.=) $2 "
										   "ORDER BY h.changed_at DESC, h.id DESC LIMIT 1",
										   lc.nspname),
								  2, argtypes);
	if (lc.entered_plan == NULL)
		elog(ERROR, "preparing the clm history lookup failed: %s",
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(lc.entered_plan);

	lc.latest_plan = SPI_prepare(psprintf("SELECT h.id, h.from_stage, h.to_stage, h.changed_at, h.txid "
										  "FROM %s.stage_history h "
										  "WHERE h.relation OPERATOR(pg_catalog.=) $1 "
										  "AND h.customer_key OPERATOR(pg_catalog.=) $2 "
										  "ORDER BY h.id DESC LIMIT 1",
										  lc.nspname),
								 2, argtypes);
	if (lc.latest_plan == NULL)
		elog(ERROR, "preparing the clm latest stage lookup failed: %s",
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(lc.latest_plan);

	/*
	 * The feed's event, written while a consumer exists (src/action/feed.sql
	 * explains the position).  A catalog of a version without the feed has
	 * no clm.stage_event: then there is no feed, until ALTER EXTENSION
	 * UPDATE creates the table, which the validity check above notices.
	 */
	lc.event_relid = get_relname_relid("stage_event", nsp);
	if (OidIsValid(lc.event_relid))
	{
		Oid			etypes[7] = {REGCLASSOID, TEXTOID, lc.stage_type, lc.stage_type,
		TIMESTAMPTZOID, INT8OID, BOOLOID};

		lc.event_plan = SPI_prepare(lc_event_sql("(VALUES ($1, $2, $3, $4, $5, $6, $7))"),
									7, etypes);
		if (lc.event_plan == NULL)
			elog(ERROR, "preparing the clm feed event failed: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(lc.event_plan);
	}

	/* the adopted referrals of a customers table; none in a 1.0 catalog */
	lc.referral_relid = get_relname_relid("referral_source", nsp);
	if (OidIsValid(lc.referral_relid))
	{
		argtypes[0] = REGCLASSOID;
		lc.referral_plan = SPI_prepare(psprintf("SELECT s.referrals, s.customer_key_column, "
												"s.referrer_column, s.referred_column, s.referred_at_column "
												"FROM %s.referral_source s "
												"WHERE s.customers OPERATOR(pg_catalog.=) $1",
												lc.nspname),
									   1, argtypes);
		if (lc.referral_plan == NULL)
			elog(ERROR, "preparing the clm referral lookup failed: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(lc.referral_plan);
	}
	lc.referral_gen++;

	lc_switch_back(save_userid, save_sec);

	lc.valid = true;
	lc_load_rules();
}

Oid
clm_lc_stage_type(void)
{
	return lc.stage_type;
}

Oid
clm_lc_stage_oid(ClmStage s)
{
	Assert(s >= 0 && s < CLM_NUM_STAGES);
	return lc.known[s];
}

ClmStage
clm_lc_stage_of(Oid enumval)
{
	int			k;

	for (k = 0; k < CLM_NUM_STAGES; k++)
		if (lc.known[k] == enumval)
			return (ClmStage) k;
	return CLM_STAGE_NONE;
}

const char *
clm_lc_nspname(void)
{
	return lc.nspname;
}

/*
 * clm_lc_stage_name
 *		Label of an enum value, for messages.
 */
const char *
clm_lc_stage_name(Oid enumval)
{
	int			i = lc_val_index(enumval);

	if (i < 0)
	{
		/* added after we loaded: ask the catalog */
		HeapTuple	tup = SearchSysCache1(ENUMOID, ObjectIdGetDatum(enumval));
		char	   *label;

		if (!HeapTupleIsValid(tup))
			return "?";
		label = pstrdup(NameStr(((Form_pg_enum) GETSTRUCT(tup))->enumlabel));
		ReleaseSysCache(tup);
		return label;
	}
	return lc.labels[i];
}

/*
 * clm_lc_allowed
 *		Look the transition up in the cached matrix.
 *
 * A value we have not seen was added with ALTER TYPE ... ADD VALUE after the
 * cache was built (that sends no invalidation), so reload once before
 * answering no.
 */
bool
clm_lc_allowed(Oid from, Oid to)
{
	int			fi,
				ti;

	if (!OidIsValid(from))
		return true;
	fi = lc_val_index(from);
	ti = lc_val_index(to);
	if (fi < 0 || ti < 0)
	{
		lc.valid = false;
		clm_lc_load(lc.nsp);
		fi = lc_val_index(from);
		ti = lc_val_index(to);
		if (fi < 0 || ti < 0)
			return false;
	}
	return lc.allowed[fi * lc.nvals + ti];
}

/*
 * clm_lc_policy
 *		The named policy, from the cache or clm.lifecycle_policy.
 */
const ClmPolicy *
clm_lc_policy(const char *name)
{
	int			i;
	Datum		arg;
	int			ret;
	uint64		gen = lc.policy_gen;
	HeapTuple	tup;
	TupleDesc	td;
	PolicyEntry *e;
	Datum		v[LC_POLICY_NFIELDS];
	bool		isnull[LC_POLICY_NFIELDS];

	for (i = 0; i < lc.npolicies; i++)
		if (strcmp(lc.policies[i].name, name) == 0)
			return &lc.policies[i].policy;

	arg = CStringGetTextDatum(name);
	ret = lc_read_fresh(lc.policy_plan, lc.policy_relid, &arg, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading clm.lifecycle_policy failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("lifecycle policy \"%s\" does not exist", name),
				 errhint("See SELECT name FROM %s.lifecycle_policy, or insert a row there.",
						 lc.nspname)));

	if (lc.npolicies == lengthof(lc.policies))
	{
		MemoryContextReset(lc_policy_cxt);
		lc.npolicies = 0;
	}
	tup = SPI_tuptable->vals[0];
	td = SPI_tuptable->tupdesc;
	e = &lc.policies[lc.npolicies];
	for (i = 0; i < LC_POLICY_NFIELDS; i++)
		v[i] = SPI_getbinval(tup, td, i + 1, &isnull[i]);
	lc_policy_fill(&e->policy, v, isnull);
	SPI_freetuptable(SPI_tuptable);
	e->name = MemoryContextStrdup(lc_policy_cxt, name);
	lc.npolicies++;
	/* invalidated while we read (see lc_load_rules): use it this once only */
	if (lc.policy_gen != gen)
		lc.npolicies = 0;
	return &e->policy;
}

/*
 * clm_lc_policy_row
 *		The named policy as a row value of clm.lifecycle_policy's type, with
 *		the values clm_lc_policy gives (the row clm.classify_stage's
 *		IMMUTABLE variant takes).  Needs SPI connected.
 */
Datum
clm_lc_policy_row(const char *name, Oid *typid)
{
	const ClmPolicy *p = clm_lc_policy(name);
	Datum		v[LC_POLICY_NFIELDS];
	TupleDesc	td;
	Datum	   *values;
	bool	   *nulls;
	int			att,
				i;

	v[0] = Int32GetDatum(p->loyal_min_orders);
	v[1] = Float8GetDatum(p->loyal_min_tenure_days);
	v[2] = Float8GetDatum(p->fallback_gap_days);
	for (i = 0; i < 3; i++)
	{
		v[3 + i] = Float8GetDatum(p->gap_multiple[i]);
		v[6 + i] = Float8GetDatum(p->min_days[i]);
		v[9 + i] = Float8GetDatum(p->max_days[i]);
	}
	v[12] = Int32GetDatum(p->advocate_min_referrals);
	v[13] = Float8GetDatum(p->advocate_window_days);
	*typid = get_rel_type_id(lc.policy_relid);
	td = lookup_rowtype_tupdesc_copy(*typid, -1);
	values = palloc0(td->natts * sizeof(Datum));
	nulls = palloc(td->natts * sizeof(bool));
	for (att = 0; att < td->natts; att++)
	{
		Form_pg_attribute a = TupleDescAttr(td, att);

		nulls[att] = true;
		if (a->attisdropped)
			continue;
		if (strcmp(NameStr(a->attname), "name") == 0)
		{
			values[att] = CStringGetTextDatum(name);
			nulls[att] = false;
			continue;
		}
		for (i = 0; i < LC_POLICY_NFIELDS; i++)
			if (strcmp(NameStr(a->attname), lc_policy_fields[i]) == 0)
			{
				values[att] = v[i];
				nulls[att] = false;
			}
	}
	return HeapTupleGetDatum(heap_form_tuple(td, values, nulls));
}

/*
 * lc_cached_policy
 *		The named policy if the cache already holds it, else NULL: the fast
 *		path of clm.classify_stage, which needs no SPI.
 */
static const ClmPolicy *
lc_cached_policy(Oid nsp, const char *name)
{
	int			i;

	if (!lc.valid || lc.nsp != nsp)
		return NULL;
	for (i = 0; i < lc.npolicies; i++)
		if (strcmp(lc.policies[i].name, name) == 0)
			return &lc.policies[i].policy;
	return NULL;
}

/*
 * A session announces new events at most this often.  NOTIFY is a wake-up
 * call, not the feed: every notifying commit takes a cluster-wide lock and
 * signals every listener, which at thousands of stage changes a second
 * costs the writers more than the events themselves.  A commit within the
 * interval is not lost: its announcement is owed, and made by the session's
 * next writing commit after the interval (one with a transaction id, whether
 * it wrote events or not: a read-only transaction is not made to take an id
 * and flush a commit record for it).  A consumer woken by one notification
 * reads everything there is (doc/action.md).
 */
#define LC_FEED_NOTIFY_INTERVAL_MS	100

static bool lc_feed_pending = false;	/* this transaction wrote events */
static bool lc_feed_owed = false;	/* committed events not announced yet */
static bool lc_feed_sending = false;	/* this transaction announces them */
static TimestampTz lc_feed_last_notify = 0;
static bool lc_feed_callback_registered = false;

/*
 * lc_feed_xact_callback
 *		Announce events just before a commit, not from the trigger: a
 *		transaction that has issued NOTIFY cannot be prepared, so a
 *		trigger's NOTIFY would make PREPARE TRANSACTION fail whenever a
 *		consumer exists.  The announcement counts as made once the commit
 *		has happened (a commit can still fail after PRE_COMMIT); until then
 *		what was owed stays owed.  A prepared transaction's events are not
 *		announced (they become visible at COMMIT PREPARED, perhaps in
 *		another session); consumers find them when they next read.
 */
static void
lc_feed_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (lc_feed_pending ||
				(lc_feed_owed && FullTransactionIdIsValid(GetTopFullTransactionIdIfAny())))
			{
				TimestampTz now = GetCurrentTimestamp();

				if (TimestampDifferenceExceeds(lc_feed_last_notify, now,
											   LC_FEED_NOTIFY_INTERVAL_MS - 1) ||
					lc_feed_last_notify > now)
				{
					Async_Notify("clm_stage_feed", NULL);
					lc_feed_sending = true;
				}
			}
			break;
		case XACT_EVENT_COMMIT:
			if (lc_feed_sending)
			{
				lc_feed_owed = false;
				lc_feed_last_notify = GetCurrentTimestamp();
			}
			else if (lc_feed_pending)
				lc_feed_owed = true;
			lc_feed_pending = false;
			lc_feed_sending = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PRE_PREPARE:
			lc_feed_pending = false;
			lc_feed_sending = false;
			break;
		default:
			break;
	}
}

/*
 * lc_feed_written
 *		This transaction wrote events: wake the consumers when it commits.
 */
static void
lc_feed_written(void)
{
	if (!lc_feed_callback_registered)
	{
		RegisterXactCallback(lc_feed_xact_callback, NULL);
		lc_feed_callback_registered = true;
	}
	lc_feed_pending = true;
}

/*
 * lc_feed_event
 *		Record a stage change in the feed, as the tables' owner, if the feed
 *		has a consumer; the consumers are woken when the transaction
 *		commits (lc_feed_xact_callback).
 */
static void
lc_feed_event(Oid relid, const char *customer_key, Oid from, Oid to,
			  TimestampTz changed_at, int64 history_id, bool withdrawal)
{
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Oid			save_userid;
	int			save_sec;
	int			ret;

	if (lc.event_plan == NULL)
		return;
	values[0] = ObjectIdGetDatum(relid);
	values[1] = CStringGetTextDatum(customer_key);
	values[2] = ObjectIdGetDatum(from);
	if (!OidIsValid(from))
		nulls[2] = 'n';
	values[3] = ObjectIdGetDatum(to);
	values[4] = TimestampTzGetDatum(changed_at);
	values[5] = Int64GetDatum(history_id);
	values[6] = BoolGetDatum(withdrawal);
	lc_switch_to_owner(&save_userid, &save_sec);
	ret = SPI_execute_plan(lc.event_plan, values, nulls, false, 0);
	lc_switch_back(save_userid, save_sec);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "writing clm.stage_event failed: %s", SPI_result_code_string(ret));
	if (SPI_processed > 0)
		lc_feed_written();
}

/*
 * clm_lc_record
 *		Append one row to clm.stage_history, as the table's owner, and the
 *		change to the feed; for a customer handed over by
 *		clm_lc_execute_at_each, keep the change to be written after its
 *		UPDATE.
 */
void
clm_lc_record(Oid relid, const char *customer_key,
			  Oid from, Oid to, TimestampTz changed_at, Oid changed_by)
{
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	Oid			save_userid;
	int			save_sec;
	int			ret;
	NameData	who;
	int64		history_id;
	bool		isnull;

	if (lc_handoff.collect != NULL && lc_handed_key(relid, relid, customer_key) >= 0)
	{
		lc_collect(relid, customer_key, from, to, changed_at, changed_by);
		return;
	}
	namestrcpy(&who, GetUserNameFromId(changed_by, false));
	values[0] = ObjectIdGetDatum(relid);
	values[1] = CStringGetTextDatum(customer_key);
	values[2] = ObjectIdGetDatum(from);
	if (!OidIsValid(from))
		nulls[2] = 'n';
	values[3] = ObjectIdGetDatum(to);
	values[4] = TimestampTzGetDatum(changed_at);
	values[5] = NameGetDatum(&who);

	lc_switch_to_owner(&save_userid, &save_sec);
	ret = SPI_execute_plan(lc.history_plan, values, nulls, false, 0);
	lc_switch_back(save_userid, save_sec);
	if (ret != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "writing clm.stage_history failed: %s", SPI_result_code_string(ret));
	history_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	lc_feed_event(relid, customer_key, from, to, changed_at, history_id, false);
}

/*
 * clm_lc_execute_as_owner
 *		Run one of clm's fixed, schema-qualified statements on its own tables
 *		as their owner (see lc_switch_to_owner), with parameters; returns
 *		the SPI result.  For clm.forget_customer, which removes what clm
 *		keeps about a customer from tables ordinary roles cannot write, once
 *		it has checked the caller's right to delete that customer.
 */
int
clm_lc_execute_as_owner(const char *sql, int nargs, Oid *types, Datum *values)
{
	Oid			save_userid;
	int			save_sec;
	int			ret;

	lc_switch_to_owner(&save_userid, &save_sec);
	ret = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);
	lc_switch_back(save_userid, save_sec);
	return ret;
}

/*
 * clm_lc_stage_entered_at
 *		The business time of the customer's latest recorded stage change.
 */
bool
clm_lc_stage_entered_at(Oid relid, const char *customer_key,
						TimestampTz *entered_at)
{
	Datum		args[2];
	Oid			save_userid;
	int			save_sec;
	int			ret;
	bool		isnull;

	args[0] = ObjectIdGetDatum(relid);
	args[1] = CStringGetTextDatum(customer_key);
	lc_switch_to_owner(&save_userid, &save_sec);
	ret = SPI_execute_plan(lc.entered_plan, args, NULL, false, 1);
	lc_switch_back(save_userid, save_sec);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading clm.stage_history failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return false;
	*entered_at = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 1, &isnull));
	return !isnull;
}

/*
 * lc_referral_column
 *		The adopted referrals table must still have the column: else a
 *		clear error, not a syntax error from the generated SQL.
 */
static void
lc_referral_column(const ClmReferralSource *src, const char *colname)
{
	if (get_attnum(src->referrals, colname) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of the referrals table %s does not exist",
						colname, clm_qualified_relname(src->referrals)),
				 errdetail("clm.adopt_referrals adopted the table with that column."),
				 errhint("Adopt the referrals again with clm.adopt_referrals, or stop with clm.release_referrals.")));
}

/*
 * clm_lc_referral_source
 *		The referrals adopted for customers table customers (a row of
 *		clm.referral_source), read fresh as the owner of clm's tables;
 *		false when there are none, or when the referrals table is gone
 *		without its row (dropped while event triggers were off).  Needs
 *		SPI and clm_lc_load.
 */
bool
clm_lc_referral_source(Oid customers, ClmReferralSource *src)
{
	Datum		arg = ObjectIdGetDatum(customers);
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	int			ret;

	if (lc.referral_plan == NULL)
		return false;
	ret = lc_read_fresh(lc.referral_plan, lc.referral_relid, &arg, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading clm.referral_source failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	src->referrals = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
	src->key_column = SPI_getvalue(tup, desc, 2);
	src->referrer_column = SPI_getvalue(tup, desc, 3);
	src->referred_column = SPI_getvalue(tup, desc, 4);
	src->referred_at_column = SPI_getvalue(tup, desc, 5);
	SPI_freetuptable(SPI_tuptable);
	if (!OidIsValid(src->referrals) || get_rel_relkind(src->referrals) == '\0')
		return false;			/* the referrals table is gone */
	lc_referral_column(src, src->referrer_column);
	lc_referral_column(src, src->referred_column);
	lc_referral_column(src, src->referred_at_column);
	return true;
}

/*
 * clm_lc_referral_gen
 *		Changes with every change to clm.referral_source: what a caller
 *		derived from it before is stale once this differs.
 */
uint64
clm_lc_referral_gen(void)
{
	return lc.referral_gen;
}

/*
 * clm_lc_referred_sql
 *		The advocacy rule as SQL: one row (referrer, referred, first_at) per
 *		customer referred by the referrer whose first order (in orders, by
 *		its columns fk and ts) came within window_days of being referred
 *		and not after as_of.  referrer, as_of and window_days are SQL
 *		expressions (parameters or columns); referrer NULL gives the rows of
 *		every referrer.  A referral of oneself never counts, and a customer
 *		referred twice counts once.  fk_eq is the equality operator of the
 *		orders' customer column (citext compares as citext).
 *
 * The trigger asks when a referrer's N-th such purchase came, and
 * clm.refresh_stages which referrers have N: both from this one query.
 */
char *
clm_lc_referred_sql(const ClmReferralSource *src, Oid orders, const char *fk,
					const char *ts, const char *fk_eq, const char *referrer,
					const char *as_of, const char *window_days)
{
	Oid			key_type = get_atttype(src->referrals, get_attnum(src->referrals,
																src->referrer_column));
	const char *rr = quote_identifier(src->referrer_column);
	const char *rd = quote_identifier(src->referred_column);
	const char *ra = quote_identifier(src->referred_at_column);
	const char *key_eq = clm_lc_eq_operator(key_type, src->referrer_column);

	fk = quote_identifier(fk);
	ts = quote_identifier(ts);
	return psprintf("SELECT r.%s AS referrer, r.%s AS referred, pg_catalog.min(f.first_at) AS first_at "
					"FROM %s r CROSS JOIN LATERAL "
					"(SELECT o.%s AS first_at FROM %s o WHERE o.%s %s r.%s AND o.%s IS NOT NULL "
					"ORDER BY o.%s LIMIT 1) f "
					"WHERE %s%s%s NOT (r.%s %s r.%s) "
					"AND f.first_at OPERATOR(pg_catalog.>=) r.%s "
					"AND f.first_at OPERATOR(pg_catalog.<=) (r.%s OPERATOR(pg_catalog.+) "
					"pg_catalog.make_interval(secs => (%s) OPERATOR(pg_catalog.*) 86400)) "
					"AND f.first_at OPERATOR(pg_catalog.<=) (%s) "
					"GROUP BY r.%s, r.%s",
					rr, rd,
					clm_qualified_relname(src->referrals),
					ts, clm_qualified_relname(orders), fk, fk_eq, rd, ts,
					ts,
					referrer ? psprintf("r.%s ", rr) : "",
					referrer ? psprintf("%s %s", key_eq, referrer) : "",
					referrer ? " AND" : "",
					rd, key_eq, rr,
					ra, ra, window_days, as_of,
					rr, rd);
}

/*
 * clm_lc_latest_change
 *		The customer's most recently recorded change (by recording order,
 *		not business time); false if there is none.
 */
bool
clm_lc_latest_change(Oid relid, const char *customer_key, ClmChange *change)
{
	Datum		args[2];
	Oid			save_userid;
	int			save_sec;
	int			ret;
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	desc;

	args[0] = ObjectIdGetDatum(relid);
	args[1] = CStringGetTextDatum(customer_key);
	lc_switch_to_owner(&save_userid, &save_sec);
	ret = SPI_execute_plan(lc.latest_plan, args, NULL, false, 1);
	lc_switch_back(save_userid, save_sec);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading clm.stage_history failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	change->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	change->from = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
	if (isnull)
		change->from = InvalidOid;
	change->to = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
	change->changed_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 4, &isnull));
	change->txid = DatumGetFullTransactionId(SPI_getbinval(tup, desc, 5, &isnull));
	return true;
}

/*
 * clm_lc_latest_stage
 *		The stage of the customer's most recently recorded change, or
 *		InvalidOid if none.
 */
Oid
clm_lc_latest_stage(Oid relid, const char *customer_key)
{
	ClmChange	change;

	return clm_lc_latest_change(relid, customer_key, &change) ? change.to : InvalidOid;
}

/*
 * lc_clamp
 *		Clamp a threshold between a policy's floor and ceiling.
 */
static inline double
lc_clamp(double v, double lo, double hi)
{
	if (v < lo)
		return lo;
	if (v > hi)
		return hi;
	return v;
}

/*
 * clm_lc_check_facts
 *		Reject facts the classifier cannot make sense of.
 */
void
clm_lc_check_facts(int64 orders, bool first_null, TimestampTz first_at,
				   bool last_null, TimestampTz last_at, TimestampTz as_of)
{
	clm_check_finite_timestamp(as_of, "as_of");
	if (orders < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number of orders must not be negative"),
				 errdetail("The value is " INT64_FORMAT ".", orders)));
	if (orders == 0)
		return;
	if (first_null || last_null)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("first_at and last_at must not be null when there are orders"),
				 errdetail("The number of orders is " INT64_FORMAT ".", orders)));
	clm_check_finite_timestamp(first_at, "first_at");
	clm_check_finite_timestamp(last_at, "last_at");
	if (first_at > last_at)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("first_at must not be later than last_at"),
				 errdetail("first_at is %s, last_at is %s.",
						   pstrdup(timestamptz_to_str(first_at)), pstrdup(timestamptz_to_str(last_at)))));
	if (orders == 1 && first_at != last_at)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a single order must have first_at equal to last_at"),
				 errdetail("first_at is %s, last_at is %s.",
						   pstrdup(timestamptz_to_str(first_at)), pstrdup(timestamptz_to_str(last_at)))));
	if (last_at > as_of)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("last_at is later than as_of"),
				 errdetail("last_at is %s, as_of is %s.",
						   pstrdup(timestamptz_to_str(last_at)), pstrdup(timestamptz_to_str(as_of))),
				 errhint("A purchase after the as-of time cannot be judged as of that time; pass a later as_of.")));
}

/*
 * clm_lc_classify
 *		The stage implied by a customer's order facts (see doc/lifecycle.md).
 *
 * The typical gap is the customer's own mean gap between purchases,
 * (last - first) / (orders - 1); one-time buyers have none and get the
 * policy's population fallback.  A customer is at_risk / dormant / churned
 * when the days since the last purchase exceed that gap times the policy's
 * multiple, each threshold clamped to the policy's floor and ceiling in
 * days.  Otherwise the customer is active: first_purchase, repeat or loyal
 * by count and tenure; a lapsed customer who is active again is reactivated
 * and stays so (only a further order, see stage_on_order, moves on); an
 * advocate stays an advocate.
 */
ClmStage
clm_lc_classify(int64 orders, TimestampTz first_at, TimestampTz last_at,
				TimestampTz as_of, const ClmPolicy *p, ClmStage current)
{
	double		gap,
				idle,
				tenure;
	int			k;

	if (orders == 0)
		return (current == CLM_STAGE_LEAD) ? CLM_STAGE_LEAD : CLM_STAGE_PROSPECT;

	/* in double: differences of extreme timestamps overflow int64 */
	idle = ((double) as_of - (double) last_at) / (double) USECS_PER_DAY;
	tenure = ((double) as_of - (double) first_at) / (double) USECS_PER_DAY;
	if (orders >= 2)
		gap = ((double) last_at - (double) first_at) / (double) USECS_PER_DAY / (double) (orders - 1);
	else
		gap = p->fallback_gap_days;

	for (k = 2; k >= 0; k--)
	{
		double		threshold = lc_clamp(gap * p->gap_multiple[k],
										 p->min_days[k], p->max_days[k]);

		if (idle > threshold)
			return (ClmStage) (CLM_STAGE_AT_RISK + k);
	}

	/* active */
	switch (current)
	{
		case CLM_STAGE_AT_RISK:
		case CLM_STAGE_DORMANT:
		case CLM_STAGE_CHURNED:
		case CLM_STAGE_REACTIVATED:
			return CLM_STAGE_REACTIVATED;
		case CLM_STAGE_ADVOCATE:
			return CLM_STAGE_ADVOCATE;
		default:
			break;
	}
	if (orders == 1)
		return CLM_STAGE_FIRST_PURCHASE;
	if (orders >= p->loyal_min_orders && tenure >= p->loyal_min_tenure_days)
		return CLM_STAGE_LOYAL;
	return CLM_STAGE_REPEAT;
}

PG_FUNCTION_INFO_V1(clm_classify_stage);

/*
 * clm_classify_stage
 *		SQL: clm.classify_stage(orders, first_at, last_at, as_of, policy,
 *		current_stage).  NULL orders, as_of or policy give NULL (like a
 *		strict function); current_stage may be NULL.
 */
Datum
clm_classify_stage(PG_FUNCTION_ARGS)
{
	int64		orders;
	TimestampTz first_at = 0,
				last_at = 0,
				as_of;
	char	   *policy_name;
	const ClmPolicy *policy;
	ClmStage	current = CLM_STAGE_NONE;
	ClmStage	result;
	Oid			result_oid;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
		PG_RETURN_NULL();
	orders = PG_GETARG_INT64(0);
	if (!PG_ARGISNULL(1))
		first_at = PG_GETARG_TIMESTAMPTZ(1);
	if (!PG_ARGISNULL(2))
		last_at = PG_GETARG_TIMESTAMPTZ(2);
	as_of = PG_GETARG_TIMESTAMPTZ(3);
	clm_lc_check_facts(orders, PG_ARGISNULL(1), first_at, PG_ARGISNULL(2), last_at, as_of);
	policy_name = text_to_cstring(PG_GETARG_TEXT_PP(4));

	/* the fast path (set-based refreshes call this per customer): no SPI */
	policy = lc_cached_policy(get_func_namespace(fcinfo->flinfo->fn_oid), policy_name);
	if (policy == NULL)
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		clm_lc_load(get_func_namespace(fcinfo->flinfo->fn_oid));
		policy = clm_lc_policy(policy_name);
		SPI_finish();
	}
	if (!PG_ARGISNULL(5))
		current = clm_lc_stage_of(PG_GETARG_OID(5));
	result = clm_lc_classify(orders, first_at, last_at, as_of, policy, current);
	result_oid = clm_lc_stage_oid(result);
	PG_RETURN_OID(result_oid);
}

/*
 * lc_policy_from_row
 *		A ClmPolicy from a row value of clm.lifecycle_policy's type, whose
 *		columns are found by name.  Every column the classifier uses must
 *		be non-NULL (the table's NOT NULL constraints do not hold for a row
 *		built by hand); the table's CHECK constraints are the table's
 *		business, and the classifier gives a stage for any values.
 */
static void
lc_policy_from_row(HeapTupleHeader row, ClmPolicy *p)
{
	TupleDesc	td;
	HeapTupleData tup;
	Datum		v[LC_POLICY_NFIELDS];
	bool		isnull[LC_POLICY_NFIELDS];
	int			i;

	td = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(row),
								HeapTupleHeaderGetTypMod(row));
	tup.t_len = HeapTupleHeaderGetDatumLength(row);
	ItemPointerSetInvalid(&tup.t_self);
	tup.t_tableOid = InvalidOid;
	tup.t_data = row;
	for (i = 0; i < LC_POLICY_NFIELDS; i++)
	{
		int			att;

		isnull[i] = true;
		for (att = 1; att <= td->natts; att++)
		{
			Form_pg_attribute a = TupleDescAttr(td, att - 1);

			if (!a->attisdropped && strcmp(NameStr(a->attname), lc_policy_fields[i]) == 0)
			{
				v[i] = heap_getattr(&tup, att, td, &isnull[i]);
				break;
			}
		}
		if (isnull[i] && i < LC_POLICY_NCLASSIFY)
		{
			ReleaseTupleDesc(td);
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("policy column \"%s\" must not be null", lc_policy_fields[i]),
					 errhint("Pass a row of clm.lifecycle_policy, e.g. (SELECT p FROM clm.lifecycle_policy p WHERE p.name = 'default').")));
		}
	}
	lc_policy_fill(p, v, isnull);
	ReleaseTupleDesc(td);
}

PG_FUNCTION_INFO_V1(clm_classify_stage_by_values);

/*
 * clm_classify_stage_by_values
 *		SQL: clm.classify_stage(orders, first_at, last_at, as_of, policy
 *		clm.lifecycle_policy, current_stage).  The classifier of
 *		clm.classify_stage with the policy passed as a row value instead
 *		of a name, so that it reads no table and is IMMUTABLE: a
 *		distributed UPDATE (Citus) may run it on every node with column
 *		arguments, which it refuses for a STABLE function.  NULL orders,
 *		as_of or policy give NULL; current_stage may be NULL.
 */
Datum
clm_classify_stage_by_values(PG_FUNCTION_ARGS)
{
	int64		orders;
	TimestampTz first_at = 0,
				last_at = 0,
				as_of;
	ClmPolicy	policy;
	ClmStage	current = CLM_STAGE_NONE;
	Oid			nsp = get_func_namespace(fcinfo->flinfo->fn_oid);

	if (PG_ARGISNULL(0) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
		PG_RETURN_NULL();
	orders = PG_GETARG_INT64(0);
	if (!PG_ARGISNULL(1))
		first_at = PG_GETARG_TIMESTAMPTZ(1);
	if (!PG_ARGISNULL(2))
		last_at = PG_GETARG_TIMESTAMPTZ(2);
	as_of = PG_GETARG_TIMESTAMPTZ(3);
	clm_lc_check_facts(orders, PG_ARGISNULL(1), first_at, PG_ARGISNULL(2), last_at, as_of);
	lc_policy_from_row(PG_GETARG_HEAPTUPLEHEADER(4), &policy);

	/* the stage values (an enum of the extension's) */
	if (!lc.valid || lc.nsp != nsp)
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		clm_lc_load(nsp);
		SPI_finish();
	}
	if (!PG_ARGISNULL(5))
		current = clm_lc_stage_of(PG_GETARG_OID(5));
	PG_RETURN_OID(clm_lc_stage_oid(clm_lc_classify(orders, first_at, last_at, as_of,
												   &policy, current)));
}

PG_FUNCTION_INFO_V1(clm_lifecycle_config_changed);

/*
 * clm_lifecycle_config_changed
 *		Statement trigger on the rule and policy tables: tell every backend
 *		(at commit; this one at the next command) to drop its cached copy.
 */
Datum
clm_lifecycle_config_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("lifecycle_config_changed: not called by trigger manager")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	PG_RETURN_POINTER(NULL);
}

/*
 * lc_citus_shard_name
 *		The name Citus gives shard shardid of the table named name (its
 *		AppendShardIdToName): name_shardid, or, when that would not fit in
 *		a name, name clipped, a hash of the whole name, and the shard id.
 */
static char *
lc_citus_shard_name(const char *name, uint64 shardid)
{
	char		suffix[NAMEDATALEN];
	int			len = strlen(name);
	int			slen;

	snprintf(suffix, sizeof(suffix), "_" UINT64_FORMAT, shardid);
	slen = strlen(suffix);
	if (len < NAMEDATALEN - slen)
		return psprintf("%s%s", name, suffix);
	return psprintf("%.*s_%.8x%s",
					pg_mbcliplen(name, len, NAMEDATALEN - slen - 10), name,
					DatumGetUInt32(hash_any((const unsigned char *) name, len)),
					suffix);
}

/*
 * lc_shard_id
 *		Whether relname ends the way a Citus shard's name does, in "_" and a
 *		shard id (a positive int64), and which.
 */
static bool
lc_shard_id(const char *relname, uint64 *shardid)
{
	const char *digits = strrchr(relname, '_');
	char	   *end;

	if (digits == NULL || digits[1] < '0' || digits[1] > '9')
		return false;
	errno = 0;
	*shardid = strtou64(digits + 1, &end, 10);
	return errno == 0 && *end == '\0' && *shardid <= (uint64) PG_INT64_MAX;
}

/*
 * lc_same_owner_and_kind
 *		Whether rel has the owner and the kind of the table table.
 */
static bool
lc_same_owner_and_kind(Oid table, Relation rel)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(table));
	bool		same;

	if (!HeapTupleIsValid(tup))
		return false;
	same = ((Form_pg_class) GETSTRUCT(tup))->relowner == rel->rd_rel->relowner &&
		((Form_pg_class) GETSTRUCT(tup))->relkind == rel->rd_rel->relkind;
	ReleaseSysCache(tup);
	return same;
}

/*
 * lc_citus_table_of_shard
 *		The Citus table whose shard rel is, or InvalidOid.  Needs SPI and
 *		clm_lc_load.
 *
 * As Citus itself tells a shard from a table that merely looks like one:
 * the shard id after the last underscore is in pg_dist_shard, for a table
 * in the same schema whose shard of that id has exactly rel's name.
 */
static Oid
lc_citus_table_of_shard(Relation rel)
{
	const char *relname = RelationGetRelationName(rel);
	uint64		shardid;
	Datum		arg;
	Oid			argtype = INT8OID;
	Oid			table = InvalidOid;
	Oid			save_userid;
	int			save_sec;
	int			ret;

	if (!lc_shard_id(relname, &shardid) || !clm_lc_citus_present())
		return InvalidOid;

	/* a fixed query of a catalog, as clm's owner (any role may insert) */
	arg = Int64GetDatum((int64) shardid);
	lc_switch_to_owner(&save_userid, &save_sec);
	ret = SPI_execute_with_args("SELECT s.logicalrelid::pg_catalog.oid "
								"FROM pg_catalog.pg_dist_shard s "
								"WHERE s.shardid OPERATOR(pg_catalog.=) $1",
								1, &argtype, &arg, NULL, true, 1);
	lc_switch_back(save_userid, save_sec);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading pg_catalog.pg_dist_shard failed: %s",
			 SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		char	   *name;

		if (!isnull)
			table = DatumGetObjectId(d);
		name = OidIsValid(table) ? get_rel_name(table) : NULL;
		/*
		 * Citus creates a shard as its table's owner, of its kind: a table
		 * of the right name but another owner is a look-alike some other
		 * role made, whose history must not go under the table.
		 */
		if (name == NULL || table == RelationGetRelid(rel) ||
			get_rel_namespace(table) != RelationGetNamespace(rel) ||
			strcmp(lc_citus_shard_name(name, shardid), relname) != 0 ||
			!lc_same_owner_and_kind(table, rel))
			table = InvalidOid;
	}
	SPI_freetuptable(SPI_tuptable);
	return table;
}

/*
 * clm_lc_partition_root
 *		The root of the partitioned table relid is a partition of, else
 *		relid: where the triggers record the history and events of every
 *		partition.
 */
Oid
clm_lc_partition_root(Oid relid)
{
	List	   *ancestors;

	if (!get_rel_relispartition(relid))
		return relid;
	ancestors = get_partition_ancestors(relid);
	return ancestors != NIL ? llast_oid(ancestors) : relid;
}

/*
 * clm_lc_logical_relid
 *		The table a row belongs to from the user's point of view, so that
 *		history, hand-offs, order counts and errors name the table the user
 *		attached the trigger to: for a partition (row triggers are cloned
 *		onto each), the root of its partitioned table; for a Citus shard (or
 *		a partition of one), the distributed table.  Needs SPI and
 *		clm_lc_load.
 */
Oid
clm_lc_logical_relid(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	LcShardMap *m;
	bool		found;

	if (rel->rd_rel->relispartition)
		relid = clm_lc_partition_root(relid);

	if (lc_shard_maps == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(LcShardMap);
		lc_shard_maps = hash_create("clm shard tables", 16, &ctl,
									HASH_ELEM | HASH_BLOBS);
	}
	m = hash_search(lc_shard_maps, &relid, HASH_FIND, NULL);
	if (m == NULL)
	{
		Relation	root = (relid == RelationGetRelid(rel)) ? rel :
			relation_open(relid, AccessShareLock);
		Oid			table = lc_citus_table_of_shard(root);

		if (root != rel)
			relation_close(root, AccessShareLock);
		/*
		 * A table named like a shard but not (yet) in pg_dist_shard may be
		 * registered later without an invalidation of the table itself:
		 * that answer is not kept.
		 */
		if (!OidIsValid(table) && clm_lc_citus_present())
		{
			char	   *name = get_rel_name(relid);
			uint64		shardid;

			if (name != NULL && lc_shard_id(name, &shardid))
				return relid;
		}
		m = hash_search(lc_shard_maps, &relid, HASH_ENTER, &found);
		m->logical = OidIsValid(table) ? table : relid;
	}
	return m->logical;
}

/*
 * lc_guard_defect
 *		Why trigger t, a clm.stage_guard on the stage column stage_attnum of
 *		its table, cannot see every stage change; NULL if it can.
 *
 * Only a BEFORE ROW trigger sees the row before it is written; it must fire
 * on INSERT (the first stage) and on every UPDATE that may change the stage
 * (UPDATE OF other columns does not fire when only the stage changes), with
 * no WHEN condition that could skip a change, and it must be enabled for
 * the current session_replication_role (as the trigger manager decides).
 */
static const char *
lc_guard_defect(const Trigger *t, AttrNumber stage_attnum)
{
	if (!TRIGGER_FOR_ROW(t->tgtype) || !TRIGGER_FOR_BEFORE(t->tgtype))
		return "it is not a BEFORE ... FOR EACH ROW trigger";
	if (!TRIGGER_FOR_INSERT(t->tgtype))
		return "it does not fire on INSERT";
	if (!TRIGGER_FOR_UPDATE(t->tgtype))
		return "it does not fire on UPDATE";
	if (t->tgnattr > 0)
	{
		int			i;
		bool		found = false;

		for (i = 0; i < t->tgnattr; i++)
			if (t->tgattr[i] == stage_attnum)
				found = true;
		if (!found)
			return "it fires only on UPDATE OF other columns";
	}
	if (t->tgqual != NULL)
		return "it has a WHEN condition";
	if (t->tgenabled == TRIGGER_DISABLED)
		return "it is disabled";
	if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA ?
		t->tgenabled == TRIGGER_FIRES_ON_ORIGIN :
		t->tgenabled == TRIGGER_FIRES_ON_REPLICA)
		return "it is not enabled for the current session_replication_role";
	return NULL;
}

/*
 * clm_lc_citus_present
 *		Whether this database has Citus: its metadata catalog pg_dist_shard,
 *		present with the citus extension on the coordinator and the workers
 *		alike.  Looked up by name: clm does not link to Citus.
 */
bool
clm_lc_citus_present(void)
{
	return OidIsValid(get_relname_relid("pg_dist_shard", PG_CATALOG_NAMESPACE));
}

/*
 * clm_lc_time_in_row
 *		Whether stage_on_order and refresh_stages must also write the business
 *		time into the guard's since column themselves.
 *
 * They hand the time to the guard in backend memory (clm_lc_execute_at).
 * Only on Citus may the guard fire in another backend, on a worker's shard,
 * where nothing was handed over (refresh_stages' UPDATE runs on the
 * coordinator): there the time has to travel with the row.  Elsewhere
 * writing the column would only cost the roles that may update the stage
 * column alone their UPDATE, and fire UPDATE OF triggers on the since
 * column for nothing.
 */
bool
clm_lc_time_in_row(void)
{
	return clm_lc_citus_present();
}

/*
 * lc_is_guard
 *		Whether trigger t calls clm.stage_guard (of the loaded schema).
 */
static bool
lc_is_guard(const Trigger *t)
{
	char	   *fname;

	if (get_func_namespace(t->tgfoid) != lc.nsp)
		return false;
	fname = get_func_name(t->tgfoid);
	return fname != NULL && strcmp(fname, "stage_guard") == 0;
}

/*
 * clm_lc_guard_key
 *		The key column by which the clm.stage_guard triggers on rel record
 *		its customers in the history (and the feed), as they name it.  NULL
 *		when rel has no guard, and when its guards name different columns;
 *		*several tells the second case.  Needs clm_lc_load.
 */
const char *
clm_lc_guard_key(Relation rel, bool *several)
{
	TriggerDesc *td = rel->trigdesc;
	const char *key = NULL;
	int			i;

	*several = false;
	for (i = 0; td != NULL && i < td->numtriggers; i++)
	{
		Trigger    *t = &td->triggers[i];

		if (t->tgnargs < 2 || !lc_is_guard(t))
			continue;
		if (key != NULL && strcmp(key, t->tgargs[1]) != 0)
		{
			*several = true;
			return NULL;
		}
		key = t->tgargs[1];
	}
	return key;
}

/*
 * clm_lc_require_guard
 *		Insist that rel carries a clm.stage_guard on stage_column that fires
 *		for every stage change; *key_column (when not NULL) is set to the
 *		guard's key column, by which it records the customers.
 *
 * stage_on_order and refresh_stages move stages by updating the customer
 * row; without the guard, or with one that does not fire for that update,
 * those moves would bypass the rules and leave no history, silently.
 */
const char *
clm_lc_require_guard(Relation rel, const char *stage_column, const char *caller,
					 const char **key_column)
{
	TriggerDesc *td = rel->trigdesc;
	AttrNumber	stage_attnum = get_attnum(RelationGetRelid(rel), stage_column);
	const Trigger *unfit = NULL;
	const char *defect = NULL;
	int			i;

	if (td != NULL)
	{
		for (i = 0; i < td->numtriggers; i++)
		{
			Trigger    *t = &td->triggers[i];
			const char *why;

			if (t->tgnargs < 2 || strcmp(t->tgargs[0], stage_column) != 0 || !lc_is_guard(t))
				continue;
			why = lc_guard_defect(t, stage_attnum);
			if (why == NULL)
			{
				if (key_column != NULL)
					*key_column = t->tgargs[1];
				return t->tgnargs >= 3 ? t->tgargs[2] : NULL;
			}
			if (unfit == NULL)
			{
				unfit = t;
				defect = why;
			}
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("%s needs clm.stage_guard on table \"%s\" for column \"%s\"",
					caller, RelationGetRelationName(rel), stage_column),
			 unfit != NULL ?
			 errdetail("Trigger \"%s\" calls clm.stage_guard for that column, but %s, so it would miss stage changes.",
					   unfit->tgname, defect) :
			 errdetail("Stage moves go through the transition rules and are recorded in %s.stage_history by that trigger.",
					   lc.nspname),
			 errhint("CREATE TRIGGER stage_guard BEFORE INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION %s.stage_guard('%s', '<key column>', '<stage-entered-at column>');",
					 clm_qualified_relname(RelationGetRelid(rel)),
					 lc.nspname, stage_column)));
	return NULL;				/* not reached */
}

/*
 * lc_execute_handed
 *		Run a stage-moving UPDATE with h handed to clm.stage_guard.
 *
 * stage_on_order (the order time) and refresh_stages (as_of) both move
 * stages by updating the customer row; the guard, which records the change,
 * cannot be told the time through the UPDATE itself, so it is handed over
 * in backend memory for exactly this statement and taken back however the
 * statement ends (an error caught by a savepoint must not leave a later
 * plain UPDATE dated by a stale time).
 */
static int
lc_execute_handed(SPIPlanPtr plan, Datum *values, LcHandOff h)
{
	LcHandOff	saved = lc_handoff;
	int			ret;

	lc_handoff = h;
	PG_TRY();
	{
		ret = SPI_execute_plan(plan, values, NULL, false, 0);
	}
	PG_FINALLY();
	{
		lc_handoff = saved;
	}
	PG_END_TRY();
	return ret;
}

/*
 * clm_lc_execute_at
 *		A move dated at changed_at (no earlier than the current stage began).
 */
int
clm_lc_execute_at(SPIPlanPtr plan, Datum *values, Oid relid, TimestampTz changed_at)
{
	LcHandOff	h = {relid, changed_at, 0, 0, NULL, NULL};

	return lc_execute_handed(plan, values, h);
}

static int
lc_key_time_cmp(const void *a, const void *b)
{
	return strcmp(((const ClmKeyTime *) a)->key, ((const ClmKeyTime *) b)->key);
}

/*
 * lc_handed_key
 *		The place among the keys handed over of this customer of the table
 *		relid (or of its partitioned root logical_relid), or -1.
 */
static int
lc_handed_key(Oid relid, Oid logical_relid, const char *customer_key)
{
	ClmKeyTime	probe = {customer_key, 0};
	const ClmKeyTime *hit;

	if (lc_handoff.nkeys == 0 || !lc_handed_here(relid, logical_relid))
		return -1;
	hit = bsearch(&probe, lc_handoff.keys, lc_handoff.nkeys, sizeof(ClmKeyTime),
				  lc_key_time_cmp);
	return hit != NULL ? (int) (hit - lc_handoff.keys) : -1;
}

/*
 * lc_collect
 *		Keep a change of a customer handed over, to be recorded after the
 *		UPDATE (lc_record_collected).
 */
static void
lc_collect(Oid relid, const char *customer_key, Oid from, Oid to,
		   TimestampTz changed_at, Oid changed_by)
{
	LcCollect  *c = lc_handoff.collect;
	MemoryContext old = MemoryContextSwitchTo(c->cxt);
	NameData   *who = palloc(sizeof(NameData));

	if (c->n == c->cap)
	{
		c->cap *= 2;
		c->relid = repalloc(c->relid, sizeof(Datum) * c->cap);
		c->key = repalloc(c->key, sizeof(Datum) * c->cap);
		c->from = repalloc(c->from, sizeof(Datum) * c->cap);
		c->from_null = repalloc(c->from_null, sizeof(bool) * c->cap);
		c->to = repalloc(c->to, sizeof(Datum) * c->cap);
		c->at = repalloc(c->at, sizeof(Datum) * c->cap);
		c->by = repalloc(c->by, sizeof(Datum) * c->cap);
		c->subid = repalloc(c->subid, sizeof(SubTransactionId) * c->cap);
	}
	namestrcpy(who, GetUserNameFromId(changed_by, false));
	c->relid[c->n] = ObjectIdGetDatum(relid);
	c->key[c->n] = CStringGetTextDatum(customer_key);
	c->from[c->n] = ObjectIdGetDatum(from);
	c->from_null[c->n] = !OidIsValid(from);
	c->to[c->n] = ObjectIdGetDatum(to);
	c->at[c->n] = TimestampTzGetDatum(changed_at);
	c->by[c->n] = NameGetDatum(who);
	c->subid[c->n] = GetCurrentSubTransactionId();
	c->n++;
	MemoryContextSwitchTo(old);
}

/*
 * lc_collect_subxact_callback
 *		A subtransaction that rolls back inside the UPDATE (a trigger of the
 *		user's with an exception block, moving a customer handed over) takes
 *		its changes with it: forget those collected in it.  Subtransaction
 *		ids grow, and every subtransaction begun since the one rolling back
 *		began is one of its own, so those changes are the newest ones.
 */
static void
lc_collect_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							SubTransactionId parentSubid, void *arg)
{
	LcCollect  *c = lc_handoff.collect;

	if (event != SUBXACT_EVENT_ABORT_SUB || c == NULL)
		return;
	while (c->n > 0 && c->subid[c->n - 1] >= mySubid)
		c->n--;
}

/*
 * lc_record_collected
 *		Record the changes collected during an UPDATE: their history rows in
 *		one statement, then, while the feed has a consumer, their events in
 *		another, in the order the guard saw them, as the tables' owner.
 */
static void
lc_record_collected(LcCollect *c)
{
	const char *unnest = "ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), "
		"pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5), "
		"pg_catalog.unnest($6)%s)";
	Oid			stage_array = get_array_type(lc.stage_type);
	Oid			types[7] = {REGCLASSARRAYOID, TEXTARRAYOID, stage_array, stage_array,
	TIMESTAMPTZARRAYOID, NAMEARRAYOID, BOOLARRAYOID};
	Datum		args[7];
	Datum	   *ids = palloc(sizeof(Datum) * c->n);
	Datum	   *no = palloc0(sizeof(Datum) * c->n);	/* false */
	Oid			save_userid;
	int			save_sec;
	int			ret;
	uint64		i;

	lc_switch_to_owner(&save_userid, &save_sec);
	if (lc.history_many_plan == NULL)
	{
		lc.history_many_plan = SPI_prepare(lc_history_sql(psprintf("SELECT * FROM %s",
																   psprintf(unnest, ""))),
										   6, types);
		if (lc.history_many_plan == NULL)
			elog(ERROR, "preparing the clm history insert failed: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(lc.history_many_plan);
	}
	if (lc.event_many_plan == NULL && lc.event_plan != NULL)
	{
		types[5] = INT8ARRAYOID;
		lc.event_many_plan = SPI_prepare(lc_event_sql(psprintf(unnest, ", pg_catalog.unnest($7)")),
										 7, types);
		if (lc.event_many_plan == NULL)
			elog(ERROR, "preparing the clm feed event failed: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(lc.event_many_plan);
	}
	args[0] = clm_array(c->relid, NULL, c->n, REGCLASSOID);
	args[1] = clm_array(c->key, NULL, c->n, TEXTOID);
	args[2] = clm_array(c->from, c->from_null, c->n, lc.stage_type);
	args[3] = clm_array(c->to, NULL, c->n, lc.stage_type);
	args[4] = clm_array(c->at, NULL, c->n, TIMESTAMPTZOID);
	args[5] = clm_array(c->by, NULL, c->n, NAMEOID);
	ret = SPI_execute_plan(lc.history_many_plan, args, NULL, false, 0);
	if (ret != SPI_OK_INSERT_RETURNING || SPI_processed != (uint64) c->n)
		elog(ERROR, "writing clm.stage_history failed: %s", SPI_result_code_string(ret));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		/* a copy: on some platforms an int8 Datum points into the row */
		ids[i] = Int64GetDatum(DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
															SPI_tuptable->tupdesc, 1, &isnull)));
	}
	SPI_freetuptable(SPI_tuptable);
	if (lc.event_many_plan != NULL)
	{
		args[5] = clm_array(ids, NULL, c->n, INT8OID);
		args[6] = clm_array(no, NULL, c->n, BOOLOID); /* no withdrawals */
		ret = SPI_execute_plan(lc.event_many_plan, args, NULL, false, 0);
		if (ret != SPI_OK_INSERT)
			elog(ERROR, "writing clm.stage_event failed: %s", SPI_result_code_string(ret));
		if (SPI_processed > 0)
			lc_feed_written();
	}
	lc_switch_back(save_userid, save_sec);
}

/*
 * clm_lc_execute_at_each
 *		An UPDATE moving many customers at once, each dated at its own time:
 *		keys[i].at for the customer whose key reads keys[i].key (sorted here
 *		in place).  A row the UPDATE changes whose key is not among them is
 *		a plain change.  The changes of the customers handed over are
 *		recorded once the UPDATE is done (lc_record_collected).
 */
int
clm_lc_execute_at_each(SPIPlanPtr plan, Datum *values, Oid relid,
					   ClmKeyTime *keys, int nkeys)
{
	LcCollect	c;
	LcHandOff	h = {relid, 0, 0, nkeys, keys, &c};
	int			ret;

	if (!lc_collect_callback_registered)
	{
		RegisterSubXactCallback(lc_collect_subxact_callback, NULL);
		lc_collect_callback_registered = true;
	}
	c.cxt = CurrentMemoryContext;
	c.n = 0;
	c.cap = Max(nkeys, 1);
	c.relid = palloc(sizeof(Datum) * c.cap);
	c.key = palloc(sizeof(Datum) * c.cap);
	c.from = palloc(sizeof(Datum) * c.cap);
	c.from_null = palloc(sizeof(bool) * c.cap);
	c.to = palloc(sizeof(Datum) * c.cap);
	c.at = palloc(sizeof(Datum) * c.cap);
	c.by = palloc(sizeof(Datum) * c.cap);
	c.subid = palloc(sizeof(SubTransactionId) * c.cap);
	qsort(keys, nkeys, sizeof(ClmKeyTime), lc_key_time_cmp);
	ret = lc_execute_handed(plan, values, h);
	if (c.n > 0)
		lc_record_collected(&c);
	return ret;
}

/*
 * clm_lc_execute_withdrawal
 *		An UPDATE back to the stage the change recorded in history row
 *		history_id left, withdrawing that change (see clm_lc_withdrawn).
 */
int
clm_lc_execute_withdrawal(SPIPlanPtr plan, Datum *values, Oid relid, int64 history_id)
{
	LcHandOff	h = {relid, 0, history_id, 0, NULL, NULL};

	return lc_execute_handed(plan, values, h);
}

/*
 * lc_handed_here
 *		Whether the hand-off is for this table (a partition's guard, cloned
 *		from the partitioned table, matches the table the caller updated).
 */
static bool
lc_handed_here(Oid relid, Oid logical_relid)
{
	return OidIsValid(lc_handoff.relid) &&
		(lc_handoff.relid == relid || lc_handoff.relid == logical_relid);
}

/*
 * clm_lc_handed_time
 *		The business time clm_lc_execute_at or clm_lc_execute_at_each handed
 *		over for this customer of this table.
 */
bool
clm_lc_handed_time(Oid relid, Oid logical_relid, const char *customer_key,
				   TimestampTz *changed_at)
{
	int			pos;

	if (!lc_handed_here(relid, logical_relid) || lc_handoff.withdraw != 0)
		return false;
	if (lc_handoff.nkeys > 0)
	{
		pos = lc_handed_key(relid, logical_relid, customer_key);
		if (pos < 0)
			return false;
		*changed_at = lc_handoff.keys[pos].at;
		return true;
	}
	*changed_at = lc_handoff.changed_at;
	return true;
}

/*
 * clm_lc_withdrawn
 *		For clm.stage_guard: if this change is a withdrawal handed over by
 *		clm_lc_execute_withdrawal, delete the withdrawn history row (it must
 *		be this customer's move from -> to) and return true with the time the
 *		restored stage began.
 *
 * stage_on_order withdraws a lapse that the customer's orders, with a late
 * one, no longer support as of the lapse's time: the stage and the history
 * become what they would have been had the order been stored before the
 * lapse was judged.  Only clm's own C code can hand a withdrawal over, and
 * only for the row it has locked and checked; any other change made during
 * that UPDATE (a user's trigger updating another customer) is a plain one,
 * and the withdrawal is used up once done.
 */
bool
clm_lc_withdrawn(Oid relid, Oid logical_relid,
				 const char *customer_key, Oid from, Oid to, TimestampTz *since)
{
	Oid			types[5] = {INT8OID, REGCLASSOID, TEXTOID, lc.stage_type, lc.stage_type};
	Datum		vals[5];
	int64		withdrawn;
	Oid			save_userid;
	int			save_sec;
	int			ret;

	if (!lc_handed_here(relid, logical_relid) || lc_handoff.withdraw == 0)
		return false;
	vals[0] = Int64GetDatum(lc_handoff.withdraw);
	vals[1] = ObjectIdGetDatum(logical_relid);
	vals[2] = CStringGetTextDatum(customer_key);
	vals[3] = ObjectIdGetDatum(from);
	vals[4] = ObjectIdGetDatum(to);
	lc_switch_to_owner(&save_userid, &save_sec);
	ret = SPI_execute_with_args(psprintf("DELETE FROM %s.stage_history h "
										 "WHERE h.id OPERATOR(pg_catalog.=) $1 "
										 "AND h.relation OPERATOR(pg_catalog.=) $2 "
										 "AND h.customer_key OPERATOR(pg_catalog.=) $3 "
										 "AND h.from_stage OPERATOR(pg_catalog.=) $4 "
										 "AND h.to_stage OPERATOR(pg_catalog.=) $5 "
										 "RETURNING h.id",
										 lc.nspname),
								5, types, vals, NULL, false, 0);
	lc_switch_back(save_userid, save_sec);
	if (ret != SPI_OK_DELETE_RETURNING)
		elog(ERROR, "withdrawing a clm.stage_history row failed: %s",
			 SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return false;			/* another row (a nested UPDATE): a plain change */
	SPI_freetuptable(SPI_tuptable);
	withdrawn = lc_handoff.withdraw;
	lc_handoff.relid = InvalidOid;	/* used up; the caller restores it */
	lc_handoff.withdraw = 0;
	if (!clm_lc_stage_entered_at(logical_relid, customer_key, since))
		*since = GetCurrentTransactionStartTimestamp();
	/* the feed hears of it: the customer moves back from the lapse */
	lc_feed_event(logical_relid, customer_key, to, from, *since, withdrawn, true);
	return true;
}

/*
 * clm_lc_eq_operator
 *		The equality operator of a customer key type, for SQL text.
 *
 * Keys are compared in SQL that clm writes; spelling the comparison
 * OPERATOR(pg_catalog.=) resolves, for a type without its own operator in
 * pg_catalog, to whatever pg_catalog's "=" its values can be cast to: for
 * citext that is case-sensitive text equality, so an order for 'ANN' would
 * not find the customer 'ann' that its foreign key accepted.  The type's
 * default equality (its btree or hash operator class, as for GROUP BY and
 * foreign keys) is what the key means.
 */
char *
clm_lc_eq_operator(Oid typid, const char *what)
{
	char	   *result = clm_lc_eq_operator_sql(typid);

	if (result == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify an equality operator for type %s",
						format_type_be(typid)),
				 errdetail("Column \"%s\" is a customer key, and customers are found by key equality.",
						   what),
				 errhint("Use a key column of a type with a default btree or hash operator class.")));
	return result;
}

PG_FUNCTION_INFO_V1(clm_eq_operator);

/*
 * clm_eq_operator
 *		SQL: clm._eq_operator(typ regtype) RETURNS text: the type's own
 *		equality operator as "OPERATOR(schema.op)", NULL without one, so
 *		that SQL written by clm's SQL functions compares keys as the
 *		triggers do (citext case-insensitively), whatever the search_path.
 */
Datum
clm_eq_operator(PG_FUNCTION_ARGS)
{
	char	   *op = clm_lc_eq_operator_sql(PG_GETARG_OID(0));

	if (op == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(op));
}

/*
 * clm_lc_eq_operator_sql
 *		The default equality operator of typid as "OPERATOR(schema.op)", or
 *		NULL when the type has none (callers that must not fail decide).
 */
char *
clm_lc_eq_operator_sql(Oid typid)
{
	TypeCacheEntry *tce = lookup_type_cache(typid, TYPECACHE_EQ_OPR);
	HeapTuple	tup;
	Form_pg_operator op;
	char	   *result;

	if (!OidIsValid(tce->eq_opr))
		return NULL;
	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(tce->eq_opr));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator %u", tce->eq_opr);
	op = (Form_pg_operator) GETSTRUCT(tup);
	result = psprintf("OPERATOR(%s.%s)",
					  quote_identifier(get_namespace_name(op->oprnamespace)),
					  NameStr(op->oprname));
	ReleaseSysCache(tup);
	return result;
}
