/*-------------------------------------------------------------------------
 *
 * stage_guard.c
 *	  clm.stage_guard(): the BEFORE ROW trigger that enforces the stage
 *	  transition rules on any table with a clm.lifecycle_stage column and
 *	  records every change in clm.stage_history.
 *
 *	  CREATE TRIGGER g BEFORE INSERT OR UPDATE ON crm.customers FOR EACH ROW
 *	  EXECUTE FUNCTION clm.stage_guard('status', 'id', 'status_since');
 *
 * IDENTIFICATION
 *	  src/lifecycle/stage_guard.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "clm.h"
#include "lifecycle.h"

/*
 * guard_column
 *		Resolve a trigger argument naming a column of rel, with a clear error
 *		for a missing one (ordinary, not generated, user columns only).
 */
static int
guard_column(Relation rel, const char *colname, const char *role)
{
	int			attnum = SPI_fnumber(RelationGetDescr(rel), colname);

	if (attnum == SPI_ERROR_NOATTRIBUTE || attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						colname, RelationGetRelationName(rel)),
				 errdetail("clm.stage_guard was given \"%s\" as its %s column.", colname, role),
				 errhint("The arguments are (stage column, key column [, stage-entered-at column]), as plain column names.")));

	/*
	 * BEFORE triggers run before generated columns are computed: the guard
	 * would see NULL (INSERT) or the old value (UPDATE) instead of the stage
	 * or key stored, so stage changes would pass unchecked and unrecorded,
	 * and a stage-entered-at value it sets would be overwritten.
	 */
	if (TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attgenerated)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("clm.stage_guard cannot use generated column \"%s\"", colname),
				 errdetail("Column \"%s\" of relation %s, given as the %s column, is a generated column; BEFORE triggers run before generated columns are computed, so the guard would never see the value stored.",
						   colname, clm_qualified_relname(RelationGetRelid(rel)), role),
				 errhint("Make it an ordinary column (ALTER TABLE %s ALTER COLUMN %s DROP EXPRESSION) and set it in your statements.",
						 clm_qualified_relname(RelationGetRelid(rel)), quote_identifier(colname)),
				 errtablecol(rel, attnum)));
	return attnum;
}

/*
 * guard_check_type
 *		The column must have the given type (or a domain over it).
 */
static void
guard_check_type(Relation rel, int attnum, Oid want, const char *role)
{
	Oid			have = SPI_gettypeid(RelationGetDescr(rel), attnum);

	if (getBaseType(have) != want)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s column \"%s\" of relation \"%s\" has type %s, not %s",
						role, SPI_fname(RelationGetDescr(rel), attnum),
						RelationGetRelationName(rel),
						format_type_be(have), format_type_be(want)),
				 errtablecol(rel, attnum)));
}

/*
 * stage_guard_check_call
 *		The trigger protocol: a BEFORE ROW trigger on INSERT or UPDATE with
 *		two or three arguments.  Anything else is a mistake in CREATE
 *		TRIGGER, reported as such rather than silently doing nothing.
 */
static void
stage_guard_check_call(FunctionCallInfo fcinfo)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("clm.stage_guard: not called by trigger manager"),
				 errhint("Use it in CREATE TRIGGER ... BEFORE INSERT OR UPDATE ... FOR EACH ROW EXECUTE FUNCTION clm.stage_guard(...).")));
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("clm.stage_guard must be a FOR EACH ROW trigger"),
				 errdetail("Trigger \"%s\" on \"%s\" is a statement-level trigger.",
						   td->tg_trigger->tgname, RelationGetRelationName(td->tg_relation)),
				 errhint("Recreate it with BEFORE INSERT OR UPDATE ... FOR EACH ROW.")));
	if (!TRIGGER_FIRED_BEFORE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("clm.stage_guard must be a BEFORE trigger"),
				 TRIGGER_FIRED_AFTER(td->tg_event) ?
				 errdetail("Trigger \"%s\" on \"%s\" fires after the row is written, too late to reject it.",
						   td->tg_trigger->tgname, RelationGetRelationName(td->tg_relation)) :
				 errdetail("Trigger \"%s\" on \"%s\" is an INSTEAD OF trigger.",
						   td->tg_trigger->tgname, RelationGetRelationName(td->tg_relation)),
				 errhint("Recreate it with BEFORE INSERT OR UPDATE ... FOR EACH ROW.")));
	if (!TRIGGER_FIRED_BY_INSERT(td->tg_event) && !TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("clm.stage_guard must fire on INSERT or UPDATE only"),
				 errdetail("Trigger \"%s\" on \"%s\" fired for DELETE.",
						   td->tg_trigger->tgname, RelationGetRelationName(td->tg_relation)),
				 errhint("Recreate it with BEFORE INSERT OR UPDATE ... FOR EACH ROW.")));
	if (td->tg_trigger->tgnargs < 2 || td->tg_trigger->tgnargs > 3)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("clm.stage_guard takes 2 or 3 arguments, got %d",
						td->tg_trigger->tgnargs),
				 errdetail("Trigger \"%s\" on \"%s\".",
						   td->tg_trigger->tgname, RelationGetRelationName(td->tg_relation)),
				 errhint("The arguments are (stage column, key column [, stage-entered-at column]).")));

	/*
	 * The history names a table by OID, and the history of a dropped table
	 * is detached by an event trigger, so that no later table inherits it.
	 * Temporary tables are dropped at the end of their session without any
	 * event trigger firing, and the next session in the same backend slot
	 * creates its own table of the same name in the same pg_temp schema:
	 * they get no history.
	 */
	if (td->tg_relation->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("clm.stage_guard cannot be used on temporary table \"%s\"",
						RelationGetRelationName(td->tg_relation)),
				 errdetail("The stage history could not tell a temporary table from a later one of another session."),
				 errhint("Use an ordinary or unlogged table.")));
}

/*
 * guard_changed_at
 *		The business time of this change.
 *
 * stage_on_order and refresh_stages hand theirs over (the order time,
 * as_of).  Otherwise a statement that sets the stage-entered-at column
 * itself (imports, backdating) supplies it; otherwise the transaction time.
 *
 * A handed-over time is a judgement about the customer's facts, and the
 * current stage may have begun later than that (set by hand, or by a move
 * dated at a later order): such a move is dated when the current stage
 * began, so that a customer's history never runs backwards.  This is the
 * one place that rule lives, for both callers.  The current stage began at
 * the old stage-entered-at value, else at the latest recorded change.
 */
static TimestampTz
guard_changed_at(TriggerData *td, Oid logical_relid, int since_att, HeapTuple newtup,
				 HeapTuple oldtup, bool had_stage, const char *key)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	TimestampTz handed;

	if (clm_lc_handed_time(RelationGetRelid(td->tg_relation), logical_relid, key, &handed))
	{
		bool		known = false;
		TimestampTz entered = 0;

		if (!had_stage)
			return handed;
		if (since_att > 0)
		{
			bool		isnull;
			Datum		ov = heap_getattr(oldtup, since_att, desc, &isnull);

			known = !isnull;
			if (known)
				entered = DatumGetTimestampTz(ov);
		}
		if (!known)
			known = clm_lc_stage_entered_at(logical_relid, key, &entered);
		return (known && entered > handed) ? entered : handed;
	}
	if (since_att > 0)
	{
		bool		newnull,
					oldnull = true;
		Datum		nv = heap_getattr(newtup, since_att, desc, &newnull);
		Datum		ov = (Datum) 0;

		if (oldtup != NULL)
			ov = heap_getattr(oldtup, since_att, desc, &oldnull);
		if (!newnull &&
			(oldnull || DatumGetTimestampTz(ov) != DatumGetTimestampTz(nv)))
		{
			clm_check_finite_timestamp(DatumGetTimestampTz(nv),
									   SPI_fname(desc, since_att));
			return DatumGetTimestampTz(nv);
		}
	}
	return GetCurrentTransactionStartTimestamp();
}

/*
 * Upserts.  In INSERT ... ON CONFLICT the BEFORE INSERT trigger fires for
 * the proposed row before the conflict is found; recording a first stage
 * for it would be wrong (DO NOTHING stores nothing, DO UPDATE records its
 * own change through the BEFORE UPDATE trigger).  So when the key column
 * is unique on its own and a row with the key already exists, the INSERT
 * records nothing: it either conflicts or fails.  The probe's plan is kept
 * per table and dropped when the table's relcache entry is invalidated.
 */
typedef struct KeyProbe
{
	Oid			relid;			/* InvalidOid: stale, to be freed */
	int			key_att;
	bool		unique;			/* is the key column unique by itself? */
	SPIPlanPtr	plan;			/* SELECT 1 ... WHERE key = $1 */
	struct KeyProbe *next;
} KeyProbe;

static KeyProbe *key_probes = NULL;
static bool key_probe_callback_registered = false;

/*
 * key_probe_invalidate
 *		Mark the probes of a relation that changed as stale.  They are freed
 *		by the next guard_key_exists, not here: invalidations are processed
 *		while locks are taken, possibly in the middle of running a probe.
 */
static void
key_probe_invalidate(Datum arg, Oid relid)
{
	KeyProbe   *kp;

	for (kp = key_probes; kp != NULL; kp = kp->next)
		if (relid == InvalidOid || kp->relid == relid)
			kp->relid = InvalidOid;
}

/*
 * key_probe_sweep
 *		Free the stale probes (no probe is running when this is called).
 */
static void
key_probe_sweep(void)
{
	KeyProbe  **pp = &key_probes;

	while (*pp != NULL)
	{
		KeyProbe   *kp = *pp;

		if (OidIsValid(kp->relid))
		{
			pp = &kp->next;
			continue;
		}
		*pp = kp->next;
		if (kp->plan)
			SPI_freeplan(kp->plan);
		pfree(kp);
	}
}

/*
 * guard_key_exists
 *		Whether the table already holds a row with this key (only asked
 *		when the key is unique by itself; otherwise false).  Needs SPI.
 */
static bool
guard_key_exists(Relation rel, int key_att, Datum key)
{
	KeyProbe   *kp;
	int			ret;
	Oid			save_userid;
	int			save_sec;

	key_probe_sweep();
	for (kp = key_probes; kp != NULL; kp = kp->next)
		if (kp->relid == RelationGetRelid(rel) && kp->key_att == key_att)
			break;
	if (kp == NULL)
	{
		Oid			argtype = SPI_gettypeid(RelationGetDescr(rel), key_att);

		if (!key_probe_callback_registered)
		{
			CacheRegisterRelcacheCallback(key_probe_invalidate, (Datum) 0);
			key_probe_callback_registered = true;
		}
		kp = MemoryContextAllocZero(TopMemoryContext, sizeof(KeyProbe));
		kp->relid = RelationGetRelid(rel);
		kp->key_att = key_att;
		kp->unique = clm_key_is_unique(rel, key_att);
		if (kp->unique)
		{
			char	   *keyname = SPI_fname(RelationGetDescr(rel), key_att);
			char	   *sql = psprintf("SELECT 1 FROM %s WHERE %s %s $1 LIMIT 1",
									   clm_qualified_relname(RelationGetRelid(rel)),
									   quote_identifier(keyname),
									   clm_lc_eq_operator(argtype, keyname));

			kp->plan = SPI_prepare(sql, 1, &argtype);
			if (kp->plan == NULL)
				elog(ERROR, "clm.stage_guard could not prepare \"%s\": %s",
					 sql, SPI_result_code_string(SPI_result));
			SPI_keepplan(kp->plan);
		}
		kp->next = key_probes;
		key_probes = kp;
	}
	if (!kp->unique)
		return false;

	/*
	 * Probe as the table's owner: INSERT needs no SELECT privilege (a
	 * sign-up role may only insert), and row-level security must not hide
	 * the conflicting row.  This tells the caller nothing that the unique
	 * violation or ON CONFLICT would not; only the fixed, schema-qualified
	 * probe runs under the switched identity (on an error, transaction or
	 * subtransaction abort restores the caller's, as for lc_switch_to_owner).
	 */
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(rel->rd_rel->relowner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	ret = SPI_execute_plan(kp->plan, &key, NULL, false, 1);
	SetUserIdAndSecContext(save_userid, save_sec);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "clm.stage_guard: probing the key failed: %s", SPI_result_code_string(ret));
	return SPI_processed > 0;
}

PG_FUNCTION_INFO_V1(clm_stage_guard);

/*
 * clm_stage_guard
 *		Allow or reject one row's stage change, and record it.
 *
 * Order matters: everything is checked before anything is written, so a
 * rejected change leaves no trace.  An unchanged stage runs no query: the
 * rule cache is only checked to still be current (two syscache lookups).
 * NULL stages: a row may be inserted without a stage, and a NULL stage may
 * be set (that is the customer's first stage, always allowed); clearing a
 * stage is rejected, because "clear, then set" would bypass the rules.
 */
Datum
clm_stage_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	char	  **args;
	int			stage_att,
				key_att,
				since_att = 0;
	HeapTuple	newtup,
				oldtup = NULL;
	bool		newnull,
				oldnull = true,
				keynull;
	Datum		newval,
				oldval = (Datum) 0,
				keyval;
	Oid			newstage,
				oldstage = InvalidOid;
	Oid			typoutput;
	bool		typisvarlena;
	char	   *key;
	char	   *relname;
	Oid			logical_relid;
	TimestampTz changed_at;

	stage_guard_check_call(fcinfo);
	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	args = td->tg_trigger->tgargs;

	stage_att = guard_column(rel, args[0], "stage");
	key_att = guard_column(rel, args[1], "key");
	if (td->tg_trigger->tgnargs == 3)
		since_att = guard_column(rel, args[2], "stage-entered-at");
	if (since_att > 0)
		guard_check_type(rel, since_att, TIMESTAMPTZOID, "stage-entered-at");

	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		newtup = td->tg_newtuple;
		oldtup = td->tg_trigtuple;
		oldval = heap_getattr(oldtup, stage_att, desc, &oldnull);
	}
	else
		newtup = td->tg_trigtuple;
	newval = heap_getattr(newtup, stage_att, desc, &newnull);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	clm_lc_load(get_func_namespace(fcinfo->flinfo->fn_oid));
	guard_check_type(rel, stage_att, clm_lc_stage_type(), "stage");

	/* unchanged (including NULL to NULL): nothing to check or record */
	if (newnull && oldnull)
		goto done;
	if (!newnull && !oldnull && DatumGetObjectId(newval) == DatumGetObjectId(oldval))
		goto done;

	logical_relid = clm_lc_logical_relid(rel);
	relname = clm_qualified_relname(logical_relid);

	if (newnull)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("lifecycle stage cannot be cleared (was \"%s\")",
						clm_lc_stage_name(DatumGetObjectId(oldval))),
				 errdetail("Relation %s, customer key %s.",
						   relname,
						   SPI_getvalue(oldtup, desc, key_att) ? SPI_getvalue(oldtup, desc, key_att) : "NULL"),
				 errhint("Move the customer to another stage instead; clearing and setting again would bypass the transition rules."),
				 errtablecol(rel, stage_att)));

	newstage = DatumGetObjectId(newval);
	if (!oldnull)
		oldstage = DatumGetObjectId(oldval);

	keyval = heap_getattr(newtup, key_att, desc, &keynull);
	if (keynull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("customer key column \"%s\" is null, so the stage change cannot be recorded",
						args[1]),
				 errtablecol(rel, key_att)));
	getTypeOutputInfo(SPI_gettypeid(desc, key_att), &typoutput, &typisvarlena);
	key = OidOutputFunctionCall(typoutput, keyval);

	/* an INSERT that will conflict (upsert) or fail records nothing */
	if (oldtup == NULL && guard_key_exists(rel, key_att, keyval))
		goto done;

	/*
	 * An UPDATE that moves a row to another partition is a DELETE plus an
	 * INSERT into the new partition, and only the INSERT reaches us there:
	 * the BEFORE UPDATE trigger on the old partition has already checked and
	 * recorded any stage change.  Recording the INSERT as a first stage would
	 * restart the customer's history (its funnel) at every move, so an INSERT
	 * into a partition whose stage is the customer's latest recorded stage
	 * records nothing.
	 */
	if (oldtup == NULL && rel->rd_rel->relispartition &&
		clm_lc_latest_stage(logical_relid, key) == newstage)
		goto done;

	/*
	 * stage_on_order withdrawing a lapse it has found refuted: not a move
	 * under the rules but the lapse's history row taken back.
	 */
	if (clm_lc_withdrawn(RelationGetRelid(rel), logical_relid, key,
						 newstage, oldstage, &changed_at))
		goto entered;

	if (OidIsValid(oldstage) && !clm_lc_allowed(oldstage, newstage))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("lifecycle transition from \"%s\" to \"%s\" is not allowed",
						clm_lc_stage_name(oldstage), clm_lc_stage_name(newstage)),
				 errdetail("Relation %s, customer key %s.", relname, key),
				 errhint("To allow it: INSERT INTO %s.stage_transition_rule (from_stage, to_stage) VALUES ('%s', '%s');",
						 clm_lc_nspname(), clm_lc_stage_name(oldstage),
						 clm_lc_stage_name(newstage)),
				 errtablecol(rel, stage_att)));

	changed_at = guard_changed_at(td, logical_relid, since_att, newtup, oldtup,
								  OidIsValid(oldstage), key);
	clm_lc_record(logical_relid, key, oldstage, newstage, changed_at, GetUserId());
entered:
	SPI_finish();

	/* the returned tuple must live in the caller's context, not SPI's */
	if (since_att > 0)
	{
		int			cols[1];
		Datum		vals[1];
		bool		nulls[1] = {false};

		cols[0] = since_att;
		vals[0] = TimestampTzGetDatum(changed_at);
		newtup = heap_modify_tuple_by_cols(newtup, desc, 1, cols, vals, nulls);
	}
	return PointerGetDatum(newtup);

done:
	SPI_finish();
	return PointerGetDatum(newtup);
}
