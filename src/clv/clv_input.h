/*-------------------------------------------------------------------------
 *
 * clv_input.h
 *	  The input contract of the CLV models: one customer's (x, t_x, t) for
 *	  BG/NBD and Pareto/NBD, (x, mean_spend) for Gamma-Gamma, (x, t_x, n)
 *	  for BG/BB and (periods, churned) for sBG.  The fits, the
 *	  log-likelihoods, the predictions and the validation of stored fit
 *	  states all check their inputs here, so they accept and reject the same
 *	  values with the same errors.
 *
 * IDENTIFICATION
 *	  src/clv/clv_input.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_CLV_INPUT_H
#define CLM_CLV_INPUT_H

/* Raise the error for a history that breaks the contract (clv_input.c). */
extern void clv_check_btyd_history(double x, double t_x, double t);
extern void clv_check_spend(double x, double mean_spend);
extern void clv_check_bgbb_history(double x, double t_x, double n);
extern void clv_check_sbg_history(double periods, bool churned);

/*
 * The same rules without raising: NULL for a valid input, else the error
 * message the check would raise (for the row errors of stored states).
 */
extern const char *clv_btyd_history_problem(double x, double t_x, double t);
extern const char *clv_spend_problem(double x, double mean_spend);
extern const char *clv_bgbb_history_problem(double x, double t_x, double n);
extern const char *clv_sbg_history_problem(double periods, double churned);

#endif							/* CLM_CLV_INPUT_H */
