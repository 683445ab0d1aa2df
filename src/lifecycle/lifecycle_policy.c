/*-------------------------------------------------------------------------
 *
 * lifecycle_policy.c
 *	  clm.lifecycle_policy_protect_in_use(): a policy that a
 *	  clm.stage_on_order trigger names cannot be deleted or renamed.
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
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "clm.h"

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

	fn = LookupFuncName(list_make2(makeString(get_namespace_name(nsp)),
								   makeString("stage_on_order")),
						0, NULL, false);
	initStringInfo(&buf);
	tgrel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_trigger_tgfoid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(fn));
	scan = systable_beginscan(tgrel, InvalidOid, false, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_trigger tg = (Form_pg_trigger) GETSTRUCT(tup);
		const char *named = "default";

		if (OidIsValid(tg->tgparentid))
			continue;
		if (tg->tgnargs >= 5)
		{
			bool		isnull;
			Datum		d = heap_getattr(tup, Anum_pg_trigger_tgargs,
										 RelationGetDescr(tgrel), &isnull);
			bytea	   *args;
			const char *p;
			int			i;

			if (isnull)
				continue;
			args = DatumGetByteaPP(d);
			p = VARDATA_ANY(args);
			for (i = 0; i < 4; i++)
				p += strlen(p) + 1;
			named = p;
		}
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
