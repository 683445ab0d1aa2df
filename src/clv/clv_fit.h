/*-------------------------------------------------------------------------
 *
 * clv_fit.h
 *	  What the fitting code takes from the aggregate state of the CLV fits
 *	  (clm.btyd_fit_state, btyd_fit_state.c): its rows, sorted.
 *
 * IDENTIFICATION
 *	  src/clv/clv_fit.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_CLV_FIT_H
#define CLM_CLV_FIT_H

#include "fmgr.h"

/* What the rows of a state describe. */
#define CLV_KIND_BTYD	1		/* (x, t_x, T): BG/NBD and Pareto/NBD */
#define CLV_KIND_SPEND	2		/* (x, mean spend, 0): Gamma-Gamma */
#define CLV_KIND_BGBB	3		/* (x, t_x, n) in opportunities: BG/BB */
#define CLV_KIND_SBG	4		/* (periods, churned 0/1, 0): sBG */
#define CLV_KIND_MAX	4

/* One distinct row with the summed weight of the customers it stands for. */
typedef struct ClvFitRow
{
	double		x;
	double		t_x;			/* mean spend for CLV_KIND_SPEND, churned
								 * (0/1) for CLV_KIND_SBG */
	double		t;				/* n for CLV_KIND_BGBB, 0 for CLV_KIND_SPEND
								 * and CLV_KIND_SBG */
	double		w;
} ClvFitRow;

/* Rows of a state, copied out and sorted by (x, t_x, t), for the fitters. */
typedef struct ClvFitInput
{
	int			kind;
	bool		has_penalizer;
	double		penalizer;
	int			nrows;
	ClvFitRow  *rows;
} ClvFitInput;

extern void clv_state_get_input(Datum state, ClvFitInput *in);

/* BG/BB log-likelihood of one history (clv_fit.c), for the predictions. */
extern double clv_bgbb_row_ll(double alpha, double beta, double gamma, double delta,
							  double x, double t_x, double n);

#endif							/* CLM_CLV_FIT_H */
