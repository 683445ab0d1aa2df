/*-------------------------------------------------------------------------
 *
 * optim.h
 *	  Small unconstrained minimisers for the model fits: a safeguarded BFGS
 *	  with a weak-Wolfe line search, Nelder-Mead as the fallback, and a
 *	  finite-difference Hessian for standard errors.
 *
 * IDENTIFICATION
 *	  src/clv/optim.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_OPTIM_H
#define CLM_OPTIM_H

#define CLM_OPTIM_MAXDIM 4

/*
 * Objective: returns f(theta) and, when grad is not NULL, fills the gradient.
 * A point outside the model's domain (or any numeric failure) must return
 * +Inf; the minimisers treat NaN the same way.
 */
typedef double (*clm_objective) (const double *theta, double *grad, void *arg);

typedef struct ClmOptimResult
{
	double		theta[CLM_OPTIM_MAXDIM];
	double		f;
	double		grad[CLM_OPTIM_MAXDIM];
	double		grad_norm;		/* max-norm of grad at theta */
	int			iterations;
	bool		converged;
} ClmOptimResult;

extern void clm_bfgs(clm_objective fn, void *arg, int n, const double *theta0,
					 double gtol, int max_iter, ClmOptimResult *res);
extern void clm_nelder_mead(clm_objective fn, void *arg, int n,
							const double *theta0, double step, double ftol,
							int max_iter, ClmOptimResult *res);
extern bool clm_hessian(clm_objective fn, void *arg, int n, const double *theta,
						double h, double *hess);
extern bool clm_spd_inverse(int n, const double *a, double *inv);

#endif							/* CLM_OPTIM_H */
