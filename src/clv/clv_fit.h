/*-------------------------------------------------------------------------
 *
 * clv_fit.h
 *	  The aggregate state of the CLV fits (clm.btyd_fit_state) and what the
 *	  fitting code needs from it.
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

#define CLV_STATE_VERSION 1
#define CLV_FLAG_PENALIZER 0x0001	/* a penalizer was given */

/* One distinct row with the summed weight of the customers it stands for. */
typedef struct ClvFitRow
{
	double		x;
	double		t_x;			/* mean spend for CLV_KIND_SPEND */
	double		t;				/* 0 for CLV_KIND_SPEND */
	double		w;
} ClvFitRow;

/* The flat (varlena) form: the on-disk and wire representation. */
typedef struct ClvFitStateData
{
	int32		vl_len_;
	uint8		version;
	uint8		kind;
	uint16		flags;
	int32		nrows;
	int32		padding;		/* keeps the doubles 8-byte aligned */
	double		penalizer;
	ClvFitRow	rows[FLEXIBLE_ARRAY_MEMBER];
} ClvFitStateData;

#define CLV_STATE_HDRSZ offsetof(ClvFitStateData, rows)

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

#endif							/* CLM_CLV_FIT_H */
