/*-------------------------------------------------------------------------
 *
 * pnbd_a0.h
 *	  ln A0 of the Pareto/NBD, shared by its log-likelihood and P(alive),
 *	  the 2F1 form of its terms, and the log-likelihood of one customer
 *	  with its gradient.
 *
 * IDENTIFICATION
 *	  src/clv/pnbd_a0.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_PNBD_A0_H
#define CLM_PNBD_A0_H

/*
 * The 2F1 form of the Pareto/NBD terms for a customer with n purchases:
 * M = max(alpha, beta), and the 2F1 parameter b2 = s + 1 when alpha >= beta,
 * r + n otherwise (so that the argument D/(M + tau) lies in [0, 1)).
 */
static inline void
clv_pnbd_hyp_form(double r, double alpha, double s, double beta, double n,
				  double *m, double *b2)
{
	if (alpha >= beta)
	{
		*m = alpha;
		*b2 = s + 1.0;
	}
	else
	{
		*m = beta;
		*b2 = r + n;
	}
}

/*
 * One term of A0 at time tau, ln[2F1(k, b2; k+1; D/(M+tau)) (M+tau)^-k],
 * with its derivatives in (r, alpha, s, beta) when asked for
 * (clv_pnbd_term).
 */
typedef struct ClvPnbdTerm
{
	double		ln;				/* NaN when not available */
	double		grad[4];
} ClvPnbdTerm;

extern void clv_pnbd_term(double r, double alpha, double s, double beta,
						  double x, double tau, bool want_grad,
						  ClvPnbdTerm *term);
extern double clv_pnbd_ln_a0(double r, double alpha, double s, double beta,
							 double x, double t_x, double t,
							 const ClvPnbdTerm *at_tx, const ClvPnbdTerm *at_t,
							 double *grad);
extern double clv_pnbd_row_ll(double r, double alpha, double s, double beta,
							  double x, double t_x, double t,
							  double lg_rx_r, double psi_rx_r,
							  const ClvPnbdTerm *at_tx, const ClvPnbdTerm *at_t,
							  double *grad);

#endif							/* CLM_PNBD_A0_H */
