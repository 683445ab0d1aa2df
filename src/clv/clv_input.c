/*-------------------------------------------------------------------------
 *
 * clv_input.c
 *	  The input contract of the CLV models, in one place.
 *
 * A customer enters BG/NBD and Pareto/NBD as the BTYD summary (x, t_x, t)
 * and Gamma-Gamma as (x, mean_spend), the form clm.purchase_summary
 * produces.  The fitting aggregates, the log-likelihoods, the predictions
 * and the validation of stored fit states all take their rules from here,
 * so a value one of them accepts is accepted by all, and a value one of
 * them rejects is rejected by all with the same SQLSTATE, message, detail
 * and hint.  (NULLs are not values: the fits skip a row with a NULL, the
 * per-customer functions are STRICT.)
 *
 * (x, t_x, t): all finite; x a whole number >= 0 (repeat purchase periods,
 * the first purchase not counted); t_x >= 0 and t >= 0; t_x = 0 when x = 0
 * (t_x is the time of the last REPEAT purchase); t_x <= t.
 *
 * (x, mean_spend): both finite; x a whole number >= 0; mean_spend >= 0 and
 * > 0 when x > 0.  A customer with x = 0 carries no spend information: the
 * fit skips it, its log-likelihood is 0, and its expected spend is the
 * population mean.
 *
 * (x, t_x, n) of BG/BB, in discrete opportunities: all finite whole numbers
 * >= 0; t_x = 0 when x = 0; x <= t_x (at most one transaction per
 * opportunity, the last at t_x); t_x <= n.
 *
 * (periods, churned) of sBG: periods a whole number >= 0 (renewal
 * opportunities faced); a churned customer left at the last of them, so
 * periods >= 1 when churned.
 *
 * IDENTIFICATION
 *	  src/clv/clv_input.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/float.h"

#include "clv_input.h"

/* One way an input can break the contract, with its error. */
typedef struct ClvInputRule
{
	int			sqlstate;
	const char *msg;
	const char *hint;
} ClvInputRule;

#define NOT_FINITE_HINT "Filter out or repair rows with NaN or infinite values."

static const ClvInputRule x_not_finite = {
	ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "x must be a finite number", NOT_FINITE_HINT
};
static const ClvInputRule t_x_not_finite = {
	ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "t_x must be a finite number", NOT_FINITE_HINT
};
static const ClvInputRule t_not_finite = {
	ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "t must be a finite number", NOT_FINITE_HINT
};
static const ClvInputRule spend_not_finite = {
	ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "mean_spend must be a finite number", NOT_FINITE_HINT
};
static const ClvInputRule x_not_count = {
	ERRCODE_INVALID_PARAMETER_VALUE, "x must be a non-negative whole number",
	"x counts repeat purchase periods (the first purchase is not counted), as clm.purchase_summary returns it."
};
static const ClvInputRule time_negative = {
	ERRCODE_INVALID_PARAMETER_VALUE, "t_x and t must not be negative",
	"t_x is the time from the first to the last purchase, t from the first purchase to the end of the calibration period."
};
static const ClvInputRule t_x_without_repeat = {
	ERRCODE_INVALID_PARAMETER_VALUE, "t_x must be 0 when x is 0",
	"t_x is the time from the first to the last repeat purchase: it is 0 for a customer without repeat purchases, as clm.purchase_summary produces."
};
static const ClvInputRule t_x_after_t = {
	ERRCODE_INVALID_PARAMETER_VALUE, "t_x must not be greater than t",
	"The last purchase cannot be after the end of the calibration period; check the cutoff and the time unit."
};
static const ClvInputRule spend_negative = {
	ERRCODE_INVALID_PARAMETER_VALUE, "mean_spend must not be negative",
	"The Gamma-Gamma model needs positive amounts; filter out returns, or customers whose mean spend is negative."
};
static const ClvInputRule spend_zero = {
	ERRCODE_INVALID_PARAMETER_VALUE, "mean_spend must be positive for a customer with repeat purchases",
	"The Gamma-Gamma model needs positive amounts; filter out returns and free orders, or customers whose mean spend is not positive."
};

#define BGBB_HINT "In BG/BB, x counts the repeat transactions, t_x is the opportunity of the last one (0 when x is 0) and n the number of opportunities; at most one transaction per opportunity."

static const ClvInputRule n_not_finite = {
	ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "n must be a finite number", NOT_FINITE_HINT
};
static const ClvInputRule opportunity_not_count = {
	ERRCODE_INVALID_PARAMETER_VALUE, "t_x and n must be non-negative whole numbers", BGBB_HINT
};
static const ClvInputRule opportunities_too_many = {
	ERRCODE_INVALID_PARAMETER_VALUE, "n must be at most 2147483647 opportunities", BGBB_HINT
};
static const ClvInputRule bgbb_t_x_without_repeat = {
	ERRCODE_INVALID_PARAMETER_VALUE, "t_x must be 0 when x is 0", BGBB_HINT
};
static const ClvInputRule x_after_t_x = {
	ERRCODE_INVALID_PARAMETER_VALUE, "x must not be greater than t_x", BGBB_HINT
};
static const ClvInputRule t_x_after_n = {
	ERRCODE_INVALID_PARAMETER_VALUE, "t_x must not be greater than n", BGBB_HINT
};

#define SBG_HINT "periods is the number of renewal opportunities the customer faced; churned says the customer left at the last of them."

static const ClvInputRule periods_not_count = {
	ERRCODE_INVALID_PARAMETER_VALUE, "periods must be a non-negative whole number", SBG_HINT
};
static const ClvInputRule churned_without_period = {
	ERRCODE_INVALID_PARAMETER_VALUE, "a churned customer must have faced at least one renewal opportunity", SBG_HINT
};
static const ClvInputRule churned_not_flag = {
	ERRCODE_INVALID_PARAMETER_VALUE, "churned must be 0 or 1", SBG_HINT
};

/* The rule x, a count of repeat purchase periods, breaks, or NULL. */
static const ClvInputRule *
count_rule(double x)
{
	if (!isfinite(x))
		return &x_not_finite;
	if (x < 0 || x != floor(x))
		return &x_not_count;
	return NULL;
}

/* The first rule (x, t_x, t) breaks, or NULL. */
static const ClvInputRule *
btyd_rule(double x, double t_x, double t)
{
	const ClvInputRule *rule = count_rule(x);

	if (rule)
		return rule;
	if (!isfinite(t_x))
		return &t_x_not_finite;
	if (!isfinite(t))
		return &t_not_finite;
	if (t_x < 0 || t < 0)
		return &time_negative;
	if (x == 0 && t_x != 0)
		return &t_x_without_repeat;
	if (t_x > t)
		return &t_x_after_t;
	return NULL;
}

/* The first rule (x, mean_spend) breaks, or NULL. */
static const ClvInputRule *
spend_rule(double x, double mean_spend)
{
	const ClvInputRule *rule = count_rule(x);

	if (rule)
		return rule;
	if (!isfinite(mean_spend))
		return &spend_not_finite;
	if (mean_spend < 0)
		return &spend_negative;
	if (x > 0 && mean_spend == 0)
		return &spend_zero;
	return NULL;
}

/* A finite whole number >= 0 (a count of opportunities). */
static bool
is_count(double v)
{
	return isfinite(v) && v >= 0 && v == floor(v);
}

/* The first rule (x, t_x, n) of BG/BB breaks, or NULL. */
static const ClvInputRule *
bgbb_rule(double x, double t_x, double n)
{
	const ClvInputRule *rule = count_rule(x);

	if (rule)
		return rule;
	if (!isfinite(t_x))
		return &t_x_not_finite;
	if (!isfinite(n))
		return &n_not_finite;
	if (!is_count(t_x) || !is_count(n))
		return &opportunity_not_count;
	if (n > PG_INT32_MAX)
		return &opportunities_too_many;
	if (x == 0 && t_x != 0)
		return &bgbb_t_x_without_repeat;
	if (x > t_x)
		return &x_after_t_x;
	if (t_x > n)
		return &t_x_after_n;
	return NULL;
}

/* The first rule (periods, churned as 0 or 1) of sBG breaks, or NULL. */
static const ClvInputRule *
sbg_rule(double periods, double churned)
{
	if (!is_count(periods) || periods > PG_INT32_MAX)
		return &periods_not_count;
	if (churned != 0 && churned != 1)
		return &churned_not_flag;
	if (churned == 1 && periods == 0)
		return &churned_without_period;
	return NULL;
}

/* Raise the error of a broken rule; detail names the values. */
static void
raise_rule(const ClvInputRule *rule, const char *detail)
{
	ereport(ERROR,
			(errcode(rule->sqlstate),
			 errmsg("%s", rule->msg),
			 errdetail("%s", detail),
			 errhint("%s", rule->hint)));
}

/*
 * clv_check_btyd_history
 *		Raise the error of the first rule (x, t_x, t) breaks; the detail
 *		names all three values, exactly as float8 prints them.
 */
void
clv_check_btyd_history(double x, double t_x, double t)
{
	const ClvInputRule *rule = btyd_rule(x, t_x, t);

	if (rule)
		raise_rule(rule, psprintf("x is %s, t_x is %s and t is %s.",
								  float8out_internal(x), float8out_internal(t_x),
								  float8out_internal(t)));
}

/* clv_check_spend: the same for a Gamma-Gamma input (x, mean_spend). */
void
clv_check_spend(double x, double mean_spend)
{
	const ClvInputRule *rule = spend_rule(x, mean_spend);

	if (rule)
		raise_rule(rule, psprintf("x is %s and mean_spend is %s.",
								  float8out_internal(x), float8out_internal(mean_spend)));
}

/* The message of the rule (x, t_x, t) breaks, or NULL. */
const char *
clv_btyd_history_problem(double x, double t_x, double t)
{
	const ClvInputRule *rule = btyd_rule(x, t_x, t);

	return rule ? rule->msg : NULL;
}

/* The message of the rule (x, mean_spend) breaks, or NULL. */
const char *
clv_spend_problem(double x, double mean_spend)
{
	const ClvInputRule *rule = spend_rule(x, mean_spend);

	return rule ? rule->msg : NULL;
}

/* clv_check_bgbb_history: the same for a BG/BB input (x, t_x, n). */
void
clv_check_bgbb_history(double x, double t_x, double n)
{
	const ClvInputRule *rule = bgbb_rule(x, t_x, n);

	if (rule)
		raise_rule(rule, psprintf("x is %s, t_x is %s and n is %s.",
								  float8out_internal(x), float8out_internal(t_x),
								  float8out_internal(n)));
}

/* The message of the rule (x, t_x, n) of BG/BB breaks, or NULL. */
const char *
clv_bgbb_history_problem(double x, double t_x, double n)
{
	const ClvInputRule *rule = bgbb_rule(x, t_x, n);

	return rule ? rule->msg : NULL;
}

/* clv_check_sbg_history: the same for an sBG input (periods, churned). */
void
clv_check_sbg_history(double periods, bool churned)
{
	const ClvInputRule *rule = sbg_rule(periods, churned ? 1.0 : 0.0);

	if (rule)
		raise_rule(rule, psprintf("periods is %s and churned is %s.",
								  float8out_internal(periods), churned ? "true" : "false"));
}

/* The message of the rule (periods, churned as 0 or 1) of sBG breaks, or NULL. */
const char *
clv_sbg_history_problem(double periods, double churned)
{
	const ClvInputRule *rule = sbg_rule(periods, churned);

	return rule ? rule->msg : NULL;
}
