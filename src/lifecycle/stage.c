/*-------------------------------------------------------------------------
 *
 * stage.c
 *	  clm.lifecycle_stage_protect(): the event trigger function that keeps
 *	  the enum clm.lifecycle_stage as clm defines it.
 *
 * IDENTIFICATION
 *	  src/lifecycle/stage.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(clm_lifecycle_stage_protect);

/*
 * clm_lifecycle_stage_protect
 *		ddl_command_start on ALTER TYPE: refuse renaming or adding a value
 *		of clm.lifecycle_stage, renaming the type or moving it to another
 *		schema.
 *
 * clm's C code finds the type by name in its own schema and its ten values
 * by label; after a rename every trigger and classify_stage call would
 * fail.  An added value would be lost by pg_dump, which does not dump
 * changes to an extension's objects, and a restore would then fail on every
 * row using it.  Refusing before the command runs gives a clear error in
 * place of those later failures.  Other ALTER TYPE commands (OWNER TO) and
 * other types pass.  The statement's type name is resolved in the session's
 * search_path, as the statement resolves it: the function does not pin its
 * own.
 */
Datum
clm_lifecycle_stage_protect(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	Node	   *stmt;
	List	   *names = NIL;
	const char *msg = NULL;		/* the error message; %s is the type */
	Oid			nsp;
	Oid			stage_type;
	Oid			target;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("lifecycle_stage_protect: not fired by event trigger manager")));
	trigdata = (EventTriggerData *) fcinfo->context;
	stmt = trigdata->parsetree;

	if (IsA(stmt, AlterEnumStmt))
	{
		AlterEnumStmt *s = (AlterEnumStmt *) stmt;

		names = s->typeName;
		msg = s->oldVal != NULL ? "cannot rename a value of type %s" : "cannot add a value to type %s";
	}
	else if (IsA(stmt, RenameStmt) &&
			 ((RenameStmt *) stmt)->renameType == OBJECT_TYPE)
	{
		names = castNode(List, ((RenameStmt *) stmt)->object);
		msg = "cannot rename type %s";
	}
	else if (IsA(stmt, AlterObjectSchemaStmt) &&
			 ((AlterObjectSchemaStmt *) stmt)->objectType == OBJECT_TYPE)
	{
		names = castNode(List, ((AlterObjectSchemaStmt *) stmt)->object);
		msg = "cannot move type %s to another schema";
	}
	if (names == NIL)
		PG_RETURN_VOID();

	nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
	stage_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
								 CStringGetDatum("lifecycle_stage"),
								 ObjectIdGetDatum(nsp));
	target = LookupTypeNameOid(NULL, makeTypeNameFromNameList(names), true);
	if (!OidIsValid(target) || target != stage_type)
		PG_RETURN_VOID();

	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg(msg, psprintf("%s.lifecycle_stage",
								  quote_identifier(get_namespace_name(nsp)))),
			 errdetail("clm's triggers and classifier know the type by its name and its ten stages by their labels, and pg_dump does not dump changes to an extension's type."),
			 errhint("Show other names through a mapping such as clm.stage_label or clm.stage_model, and keep finer distinctions in a column of your own next to the stage.")));
	PG_RETURN_VOID();			/* not reached */
}
