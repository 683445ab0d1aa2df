/*-------------------------------------------------------------------------
 *
 * lifecycle_policy.c
 *	  clm.lifecycle_policy_protect_in_use(): a policy that a
 *	  clm.stage_on_order trigger names cannot be deleted or renamed;
 *	  clm.lifecycle_policy_claim(): a stage_on_order trigger being created
 *	  keeps its policy from being deleted until the trigger is committed.
 *
 * IDENTIFICATION
 *	  src/lifecycle/lifecycle_policy.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "commands/event_trigger.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "clm.h"
#include "lifecycle.h"

/*
 * clm_lc_stage_on_order_oid
 *		The OID of clm.stage_on_order() in clm's schema nsp.
 */
Oid
clm_lc_stage_on_order_oid(Oid nsp)
{
	return LookupFuncName(list_make2(makeString(get_namespace_name(nsp)),
									 makeString("stage_on_order")),
						  0, NULL, false);
}

/*
 * trigger_policy
 *		The policy a stage_on_order trigger (a pg_trigger tuple of tgrel)
 *		names: its fifth argument, "default" without one.
 */
static const char *
trigger_policy(HeapTuple tup, Relation tgrel)
{
	Form_pg_trigger tg = (Form_pg_trigger) GETSTRUCT(tup);
	bool		isnull;
	Datum		d;
	const char *p;
	int			i;

	if (tg->tgnargs < 5)
		return "default";
	d = heap_getattr(tup, Anum_pg_trigger_tgargs, RelationGetDescr(tgrel), &isnull);
	if (isnull)
		return "default";
	p = VARDATA_ANY(DatumGetByteaPP(d));
	for (i = 0; i < 4; i++)
		p += strlen(p) + 1;
	return p;
}

/*
 * policy_users
 *		The clm.stage_on_order triggers that name policy (all of them when
 *		policy is NULL), one per line, as "trigger t on table r"; NULL if
 *		there are none.
 *
 * A trigger without a policy argument uses "default".  Partitions carry
 * clones of a partitioned table's trigger; only the parent is listed.
 * pg_trigger is read with a catalog snapshot, taken now, so triggers that
 * committed after the caller's snapshot count too.
 */
static char *
policy_users(Oid nsp, const char *policy)
{
	Oid			fn;
	Relation	tgrel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	StringInfoData buf;
	int			n = 0;

	fn = clm_lc_stage_on_order_oid(nsp);
	initStringInfo(&buf);
	tgrel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_trigger_tgfoid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(fn));
	scan = systable_beginscan(tgrel, InvalidOid, false, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_trigger tg = (Form_pg_trigger) GETSTRUCT(tup);
		const char *named;

		if (OidIsValid(tg->tgparentid))
			continue;
		named = trigger_policy(tup, tgrel);
		if (policy != NULL && strcmp(named, policy) != 0)
			continue;
		appendStringInfo(&buf, "%strigger %s on table %s uses policy \"%s\"",
						 n++ > 0 ? "\n" : "",
						 quote_identifier(NameStr(tg->tgname)),
						 clm_qualified_relname(tg->tgrelid), named);
	}
	systable_endscan(scan);
	table_close(tgrel, AccessShareLock);
	return n > 0 ? buf.data : NULL;
}

PG_FUNCTION_INFO_V1(clm_lifecycle_policy_protect_in_use);

/*
 * clm_lifecycle_policy_protect_in_use
 *		BEFORE UPDATE OR DELETE row trigger and BEFORE TRUNCATE statement
 *		trigger on clm.lifecycle_policy.
 *
 * clm.stage_on_order looks its policy up by name for every order.  Were
 * the policy deleted or renamed under it, every order insert would fail
 * (42704): the orders, which are facts, would be lost to the application.
 * So, like DROP refusing to drop an object others depend on, a policy that
 * a trigger names cannot be deleted, renamed or truncated away; the error
 * names the triggers.  Changing its other columns is what policies are
 * for, and passes.
 */
Datum
clm_lifecycle_policy_protect_in_use(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Oid			nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
	HeapTuple	oldtup;
	AttrNumber	name_att;
	bool		isnull;
	char	   *name;
	char	   *users;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("lifecycle_policy_protect_in_use: not called by trigger manager")));

	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
	{
		users = policy_users(nsp, NULL);
		if (users != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot truncate %s because triggers use its policies",
							clm_qualified_relname(RelationGetRelid(td->tg_relation))),
					 errdetail("%s", users),
					 errhint("Delete the policies you no longer need one by one.")));
		PG_RETURN_POINTER(NULL);
	}

	oldtup = td->tg_trigtuple;
	name_att = get_attnum(RelationGetRelid(td->tg_relation), "name");
	name = TextDatumGetCString(heap_getattr(oldtup, name_att,
											RelationGetDescr(td->tg_relation), &isnull));
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		char	   *newname = TextDatumGetCString(heap_getattr(td->tg_newtuple, name_att,
															   RelationGetDescr(td->tg_relation),
															   &isnull));

		if (strcmp(name, newname) == 0)
			PG_RETURN_POINTER(td->tg_newtuple);
	}
	users = policy_users(nsp, name);
	if (users != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg(TRIGGER_FIRED_BY_UPDATE(td->tg_event) ?
						"cannot rename lifecycle policy \"%s\" because triggers use it" :
						"cannot delete lifecycle policy \"%s\" because triggers use it",
						name),
				 errdetail("%s", users),
				 errhint("Drop those triggers, or create them again with another policy, first.")));
	PG_RETURN_POINTER(TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : oldtup);
}

PG_FUNCTION_INFO_V1(clm_lifecycle_policy_claim);

/*
 * clm_lifecycle_policy_claim
 *		ddl_command_end on CREATE TRIGGER: for a clm.stage_on_order trigger,
 *		lock the row of the policy it names (FOR KEY SHARE, as the policy
 *		table's owner), or warn if there is no such policy.
 *
 * clm.lifecycle_policy_protect_in_use finds the triggers using a policy in
 * pg_trigger, where a trigger another transaction is creating is not yet
 * to be seen: without the lock, that transaction and one deleting the
 * policy could both commit, and every order insert would then fail
 * (42704).  The lock makes the deletion wait for the trigger's
 * transaction, after which its check sees the trigger; a deletion that
 * came first makes the trigger's lock find no row.  A trigger naming a
 * policy that does not exist makes every order fail the same way, so it
 * is warned about; it is not refused, because a restore of the schema
 * alone (pg_dump --schema-only leaves out the policies, which are data)
 * would lose the trigger.  The statement's table name is resolved
 * in the session's search_path, as CREATE TRIGGER resolved it: the
 * function does not pin its own.
 */
Datum
clm_lifecycle_policy_claim(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	CreateTrigStmt *stmt;
	Oid			nsp;
	Oid			relid;
	Oid			tgoid;
	Oid			policy_relid;
	Oid			policy_owner;
	Relation	tgrel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *policy;
	bool		ours;
	Oid			save_userid;
	int			save_sec;
	Oid			argtype = TEXTOID;
	Datum		arg;
	int			ret;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("lifecycle_policy_claim: not fired by event trigger manager")));
	trigdata = (EventTriggerData *) fcinfo->context;
	if (!IsA(trigdata->parsetree, CreateTrigStmt))
		PG_RETURN_VOID();
	stmt = (CreateTrigStmt *) trigdata->parsetree;

	nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
	relid = RangeVarGetRelid(stmt->relation, NoLock, false);
	tgoid = get_trigger_oid(relid, stmt->trigname, false);
	tgrel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(tgoid));
	scan = systable_beginscan(tgrel, TriggerOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "could not find tuple for trigger %u", tgoid);
	ours = ((Form_pg_trigger) GETSTRUCT(tup))->tgfoid == clm_lc_stage_on_order_oid(nsp);
	policy = ours ? pstrdup(trigger_policy(tup, tgrel)) : NULL;
	systable_endscan(scan);
	table_close(tgrel, AccessShareLock);
	if (!ours)
		PG_RETURN_VOID();

	policy_relid = get_relname_relid("lifecycle_policy", nsp);
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(policy_relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", policy_relid);
	policy_owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	arg = CStringGetTextDatum(policy);
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(policy_owner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	ret = SPI_execute_with_args(psprintf("SELECT FROM %s p WHERE p.name OPERATOR(pg_catalog.=) $1 "
										 "FOR KEY SHARE",
										 clm_qualified_relname(policy_relid)),
								1, &argtype, &arg, NULL, false, 1);
	SetUserIdAndSecContext(save_userid, save_sec);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "locking a clm.lifecycle_policy row failed: %s",
			 SPI_result_code_string(ret));
	if (SPI_processed == 0)
		ereport(WARNING,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("lifecycle policy \"%s\" does not exist", policy),
				 errdetail("Trigger \"%s\" on table %s calls clm.stage_on_order with that policy: every order insert will fail until it exists.",
						   stmt->trigname, clm_qualified_relname(relid)),
				 errhint("Insert it into %s.lifecycle_policy.",
						 quote_identifier(get_namespace_name(nsp)))));
	SPI_finish();
	PG_RETURN_VOID();
}
