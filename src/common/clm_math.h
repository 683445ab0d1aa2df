/*-------------------------------------------------------------------------
 *
 * clm_math.h
 *	  Small numeric helpers shared by the model code: log-gamma without the
 *	  global signgam, digamma, trigamma and log-sum-exp.
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

/*
 * Digamma: shift x up with psi(x) = psi(x + 1) - 1/x until x >= 10, then the
 * asymptotic series.  Accurate to about 1e-14 for x > 0.
 */
static inline double
clm_digamma(double x)
{
	double		result = 0.0;
	double		inv,
				inv2;

	while (x < 10.0)
	{
		result -= 1.0 / x;
		x += 1.0;
	}
	inv = 1.0 / x;
	inv2 = inv * inv;
	result += log(x) - 0.5 * inv
		- inv2 * (1.0 / 12 - inv2 * (1.0 / 120 - inv2 * (1.0 / 252 - inv2 * (1.0 / 240 - inv2 * (1.0 / 132)))));
	return result;
}

/* Trigamma, by the same shift and its own asymptotic series. */
static inline double
clm_trigamma(double x)
{
	double		result = 0.0;
	double		inv,
				inv2;

	while (x < 10.0)
	{
		result += 1.0 / (x * x);
		x += 1.0;
	}
	inv = 1.0 / x;
	inv2 = inv * inv;
	result += inv + 0.5 * inv2
		+ inv * inv2 * (1.0 / 6 - inv2 * (1.0 / 30 - inv2 * (1.0 / 42 - inv2 * (1.0 / 30))));
	return result;
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
