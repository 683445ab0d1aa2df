/*-------------------------------------------------------------------------
 *
 * lifecycle.h
 *	  Declarations shared by the lifecycle C files: the per-backend cache of
 *	  stages, transition rules and policies, the classifier, and the hand-off
 *	  of a business time from the stage-moving code to clm.stage_guard.
 *
 * IDENTIFICATION
 *	  src/lifecycle/lifecycle.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_LIFECYCLE_H
#define CLM_LIFECYCLE_H

#include "access/transam.h"
#include "executor/spi.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

/* The stages clm knows by name (positions in clm.lifecycle_stage). */
typedef enum ClmStage
{
	CLM_STAGE_NONE = -1,		/* NULL, or a value added later by the user */
	CLM_STAGE_PROSPECT = 0,
	CLM_STAGE_LEAD,
	CLM_STAGE_FIRST_PURCHASE,
	CLM_STAGE_REPEAT,
	CLM_STAGE_LOYAL,
	CLM_STAGE_ADVOCATE,
	CLM_STAGE_AT_RISK,
	CLM_STAGE_DORMANT,
	CLM_STAGE_CHURNED,
	CLM_STAGE_REACTIVATED,
	CLM_NUM_STAGES
} ClmStage;

/* One row of clm.lifecycle_policy, in the classifier's terms. */
typedef struct ClmPolicy
{
	int32		loyal_min_orders;
	double		loyal_min_tenure_days;
	double		fallback_gap_days;
	double		gap_multiple[3];	/* at_risk, dormant, churned */
	double		min_days[3];
	double		max_days[3];
	int32		advocate_min_referrals; /* 0: the referral rule is off */
	double		advocate_window_days;
} ClmPolicy;

/* The referrals adopted for a customers table (clm.referral_source). */
typedef struct ClmReferralSource
{
	Oid			referrals;
	char	   *key_column;		/* of the customers table */
	char	   *referrer_column;
	char	   *referred_column;
	char	   *referred_at_column;
} ClmReferralSource;

extern bool clm_lc_referral_source(Oid customers, ClmReferralSource *src);
extern uint64 clm_lc_referral_gen(void);
extern char *clm_lc_referred_sql(const ClmReferralSource *src, Oid orders,
								 const char *fk, const char *ts, const char *fk_eq,
								 const char *referrer, const char *as_of,
								 const char *window_days);

/* Load (or revalidate) the cache for the extension living in nsp. */
extern void clm_lc_load(Oid nsp);

/* After clm_lc_load: the enum type, its value for a known stage, and back. */
extern Oid	clm_lc_stage_type(void);
extern Oid	clm_lc_stage_oid(ClmStage s);
extern ClmStage clm_lc_stage_of(Oid enumval);
extern const char *clm_lc_stage_name(Oid enumval);
extern const char *clm_lc_nspname(void);

/* Run a fixed statement on clm's tables as their owner (after clm_lc_load). */
extern int	clm_lc_execute_as_owner(const char *sql, int nargs, Oid *types, Datum *values);

/* Whether the rules allow from -> to (from = InvalidOid: first stage). */
extern bool clm_lc_allowed(Oid from, Oid to);

/* The policy of that name; ERROR if there is none.  Needs SPI connected. */
extern const ClmPolicy *clm_lc_policy(const char *name);

/* The same as a row value of clm.lifecycle_policy's type (*typid). */
extern Datum clm_lc_policy_row(const char *name, Oid *typid);

/*
 * Append a row to clm.stage_history for the customers table relid, as the
 * history's owner.  Needs SPI.
 */
extern void clm_lc_record(Oid relid, const char *customer_key,
						  Oid from, Oid to, TimestampTz changed_at,
						  Oid changed_by);

/*
 * When the customer entered its current stage, from the history (false if
 * there is none).  Needs SPI.
 */
extern bool clm_lc_stage_entered_at(Oid relid, const char *customer_key,
									TimestampTz *entered_at);

/* One recorded change of a customer's stage. */
typedef struct ClmChange
{
	int64		id;
	Oid			from;			/* InvalidOid: the first stage */
	Oid			to;
	TimestampTz changed_at;
	FullTransactionId txid;		/* the transaction that recorded it */
} ClmChange;

/*
 * The customer's most recently recorded change (false if there is none), or
 * just its stage (InvalidOid if none).  Need SPI.
 */
extern bool clm_lc_latest_change(Oid relid, const char *customer_key,
								  ClmChange *change);
extern Oid	clm_lc_latest_stage(Oid relid, const char *customer_key);

/*
 * The classifier behind clm.classify_stage and clm.stage_on_order.
 * first/last are ignored when orders = 0.
 */
extern ClmStage clm_lc_classify(int64 orders, TimestampTz first_at,
								TimestampTz last_at, TimestampTz as_of,
								const ClmPolicy *policy, ClmStage current);

/* Validate the facts handed to the classifier (errors are the user's). */
extern void clm_lc_check_facts(int64 orders, bool first_null, TimestampTz first_at,
							   bool last_null, TimestampTz last_at,
							   TimestampTz as_of);

/*
 * Business time hand-off: run one prepared UPDATE of relation relid (values
 * are its parameters) so that clm.stage_guard dates the stage changes it
 * makes at changed_at instead of the transaction time, no earlier than the
 * customer's current stage began.  The previous hand-off is restored however
 * the statement ends.  Returns the SPI result code.
 */
extern int	clm_lc_execute_at(SPIPlanPtr plan, Datum *values, Oid relid,
							  TimestampTz changed_at);

/*
 * The same for an UPDATE that moves many customers, each at its own time:
 * the customer whose key (as text) is keys[i].key at keys[i].at.
 */
typedef struct ClmKeyTime
{
	const char *key;
	TimestampTz at;
} ClmKeyTime;
extern int	clm_lc_execute_at_each(SPIPlanPtr plan, Datum *values, Oid relid,
								   ClmKeyTime *keys, int nkeys);

/*
 * For clm.stage_guard: the business time handed over for a change of this
 * customer of the table relid (or of its partitioned root logical_relid),
 * if any.
 */
extern bool clm_lc_handed_time(Oid relid, Oid logical_relid, const char *customer_key,
							   TimestampTz *changed_at);

/*
 * Withdrawing a recorded change: run an UPDATE of relation relid back to the
 * stage that history row history_id left; clm.stage_guard, asking
 * clm_lc_withdrawn, then deletes that row instead of checking the rules and
 * recording, and dates the stage when it began.  Needs SPI.
 */
extern int	clm_lc_execute_withdrawal(SPIPlanPtr plan, Datum *values, Oid relid,
									  int64 history_id);
extern bool clm_lc_withdrawn(Oid relid, Oid logical_relid,
							 const char *customer_key, Oid from, Oid to,
							 TimestampTz *since);

/*
 * A customer key type's own equality operator, as "OPERATOR(schema.op)" for
 * SQL text (citext compares case-insensitively, which text equality does
 * not).  ERROR if the type has none; what names the column for the message.
 */
extern char *clm_lc_eq_operator(Oid typid, const char *what);
extern char *clm_lc_eq_operator_sql(Oid typid);

/*
 * The table rel stands for: rel, the root of the partitioned table it is a
 * partition of, or the Citus distributed table it is a shard of.  Needs SPI
 * and clm_lc_load.
 */
extern Oid	clm_lc_logical_relid(Relation rel);
extern Oid	clm_lc_partition_root(Oid relid);
extern Oid	clm_lc_stage_on_order_oid(Oid nsp);
extern const char *clm_lc_guard_key(Relation rel, bool *several);

/* whether this database has Citus, and so the business time must travel in the row */
extern bool clm_lc_citus_present(void);
extern bool clm_lc_time_in_row(void);

/*
 * Whether rel has an enabled clm.stage_guard trigger on stage_column; the
 * stage-moving functions insist on it, so every move goes through the rules
 * and the history.  Returns the guard's stage-entered-at column (NULL if it
 * has none), which holds when the current stage began, and sets *key_column
 * (unless NULL) to its key column.
 */
extern const char *clm_lc_require_guard(Relation rel, const char *stage_column,
										const char *caller, const char **key_column);

#endif							/* CLM_LIFECYCLE_H */
