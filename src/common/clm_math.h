/*-------------------------------------------------------------------------
 *
 * clm_math.h
 *	  Small numeric helpers shared by the model code: log-gamma without the
 *	  global signgam and log-sum-exp.
 *
 * IDENTIFICATION
 *	  src/common/clm_math.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_MATH_H
#define CLM_MATH_H

#include <math.h>

/*
 * lgamma() writes the global signgam and is therefore not reentrant; every
 * argument clm passes is positive, so the sign is not needed.
 */
static inline double
clm_lgamma(double x)
{
	int			sign;

	return lgamma_r(x, &sign);
}

/* ln B(p, q) for p, q > 0 */
static inline double
clm_lbeta(double p, double q)
{
	return clm_lgamma(p) + clm_lgamma(q) - clm_lgamma(p + q);
}

/* log(exp(a) + exp(b)) without overflow; -Inf is the identity. */
static inline double
clm_logsumexp(double a, double b)
{
	double		hi = a > b ? a : b;
	double		lo = a > b ? b : a;

	if (isinf(hi) && hi < 0)
		return hi;
	return hi + log1p(exp(lo - hi));
}

#endif							/* CLM_MATH_H */
