/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  The one place where clm adapts to the PostgreSQL major it is built
 *	  against (15, 16, 17, 18).
 *
 * Every PG_VERSION_NUM test of clm lives here, at the release where the
 * API changed; the C files call the clm_ names below and never test the
 * version themselves.  Each wrapper keeps the behaviour of 15 on every
 * version, so bad input fails with the same SQLSTATE everywhere.
 *
 * IDENTIFICATION
 *	  src/common/compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_COMPAT_H
#define CLM_COMPAT_H

#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "utils/acl.h"
#include "utils/relcache.h"
#include "utils/regproc.h"

/*
 * 16 moved the varlena macros (VARDATA_ANY, VARSIZE_ANY_EXHDR, ...) from
 * postgres.h into varatt.h, which 15 does not have.
 */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/*
 * clm_noreturn
 *		Marks a function that never returns, written before the declaration.
 *		18 replaced pg_attribute_noreturn() (written after it) by
 *		pg_noreturn; the GCC attribute of older releases may stand first too.
 */
#if PG_VERSION_NUM >= 180000
#define clm_noreturn pg_noreturn
#else
#define clm_noreturn pg_attribute_noreturn()
#endif

/*
 * clm_qualified_name_list
 *		stringToQualifiedNameList: 16 added a soft-error context.  Passing
 *		NULL keeps 15's behaviour: a malformed name raises 42602
 *		("invalid name syntax").
 */
#if PG_VERSION_NUM >= 160000
#define clm_qualified_name_list(string) stringToQualifiedNameList((string), NULL)
#else
#define clm_qualified_name_list(string) stringToQualifiedNameList(string)
#endif

/*
 * clm_primary_key_index
 *		RelationGetPrimaryKeyIndex: 18 added deferrable_ok.  Passing false
 *		keeps the answer of 15 to 17, where a deferrable primary key is not
 *		reported (InvalidOid).
 */
#if PG_VERSION_NUM >= 180000
#define clm_primary_key_index(rel) RelationGetPrimaryKeyIndex((rel), false)
#else
#define clm_primary_key_index(rel) RelationGetPrimaryKeyIndex(rel)
#endif

/*
 * clm_relation_ownercheck
 *		pg_class_ownercheck: 16 replaced the per-catalog owner checks by
 *		object_ownercheck.
 */
#if PG_VERSION_NUM >= 160000
#define clm_relation_ownercheck(relid, roleid) \
	object_ownercheck(RelationRelationId, (relid), (roleid))
#else
#define clm_relation_ownercheck(relid, roleid) pg_class_ownercheck((relid), (roleid))
#endif

/*
 * clm_namespace_aclcheck
 *		pg_namespace_aclcheck: 16 replaced the per-catalog privilege checks
 *		by object_aclcheck.
 */
#if PG_VERSION_NUM >= 160000
#define clm_namespace_aclcheck(nspid, roleid, mode) \
	object_aclcheck(NamespaceRelationId, (nspid), (roleid), (mode))
#else
#define clm_namespace_aclcheck(nspid, roleid, mode) \
	pg_namespace_aclcheck((nspid), (roleid), (mode))
#endif

#endif							/* CLM_COMPAT_H */
