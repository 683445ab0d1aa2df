/*-------------------------------------------------------------------------
 *
 * pnbd_a0.h
 *	  ln A0 of the Pareto/NBD, shared by its log-likelihood and P(alive).
 *
 * IDENTIFICATION
 *	  src/clv/pnbd_a0.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_PNBD_A0_H
#define CLM_PNBD_A0_H

extern double clv_pnbd_ln_a0(double r, double alpha, double s, double beta,
							 double x, double t_x, double t);

#endif							/* CLM_PNBD_A0_H */
