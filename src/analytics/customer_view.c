/*-------------------------------------------------------------------------
 *
 * customer_view.c
 *	  clm._customer_view_refit(view, as_of): fits the models of a customer
 *	  view with the rights of the view's owner.
 *
 * The fit reads the orders relation the owner chose, which may be a view
 * that calls the owner's functions, and stores what it computed in the
 * owner's registry row.  Whoever refreshes (a member of the owner role, a
 * superuser) must neither run that code with their own rights nor fit over
 * rows the owner may not see (row-level security, column privileges).  So
 * the fit runs as REFRESH MATERIALIZED VIEW runs the view's query: as the
 * materialized view's owner, inside a security-restricted operation (no
 * SET ROLE, no temporary objects), with GUC changes undone afterwards.
 *
 * IDENTIFICATION
 *	  src/analytics/customer_view.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "compat.h"

PG_FUNCTION_INFO_V1(clm_customer_view_refit);

/*
 * view_owner
 *		The owner of materialized view relid, after checking that the
 *		current user has its privileges (the check REFRESH makes).
 */
static Oid
view_owner(Oid relid)
{
	HeapTuple	tup;
	Oid			owner;
	char		relkind;

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	relkind = ((Form_pg_class) GETSTRUCT(tup))->relkind;
	ReleaseSysCache(tup);
	if (relkind != RELKIND_MATVIEW)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a materialized view", get_rel_name(relid))));
	if (!clm_relation_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_MATVIEW, get_rel_name(relid));
	return owner;
}

/*
 * clm_customer_view_refit
 *		(view regclass, as_of timestamptz): checks that the caller has the
 *		privileges of the materialized view's owner (as REFRESH does), locks
 *		the view against concurrent refreshes (readers are not blocked),
 *		then calls clm._customer_view_fit(view, as_of) as that owner.  The
 *		fit function
 *		is not executable by PUBLIC: this is its only way in, and it is
 *		called through fmgr, which does not check EXECUTE.  An error undoes
 *		the user and GUC switch with the (sub)transaction.
 */
Datum
clm_customer_view_refit(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Datum		as_of = PG_GETARG_DATUM(1);
	Oid			owner;
	char	   *nspname;
	Oid			argtypes[2] = {REGCLASSOID, TIMESTAMPTZOID};
	Oid			fitoid;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;

	/* checked before the lock (no one else may hold it), and again after */
	(void) view_owner(relid);
	LockRelationOid(relid, ExclusiveLock);
	owner = view_owner(relid);

	/* the fit function of this installation: in this function's schema */
	nspname = get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid));
	fitoid = LookupFuncName(list_make2(makeString(nspname), makeString("_customer_view_fit")),
							2, argtypes, false);

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_RESTRICTED_OPERATION);
	save_nestlevel = NewGUCNestLevel();

	OidFunctionCall2(fitoid, ObjectIdGetDatum(relid), as_of);

	AtEOXact_GUC(false, save_nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	PG_RETURN_VOID();
}
