/*-------------------------------------------------------------------------
 *
 * hyp2f1.h
 *	  Gauss hypergeometric function 2F1(a, b; c; z) for real arguments,
 *	  shared by the CLV predictions.
 *
 * IDENTIFICATION
 *	  src/clv/hyp2f1.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_HYP2F1_H
#define CLM_HYP2F1_H

#include <stdbool.h>

/*
 * 2F1(a, b; c; z) for real a, b, c and real z <= 1.  Raises an ERROR for NaN
 * or infinite arguments, z > 1, c a pole (non-positive integer not cancelled
 * by a terminating series), z = 1 with c - a - b <= 0, or when no method
 * reaches full precision.
 */
extern double clm_hyp2f1(double a, double b, double c, double z);

/*
 * The plain power series sum_{k>=0} (a)_k (b)_k / ((c)_k k!) z^k, summed by
 * term ratios, with at most maxterms terms.  Returns false (and leaves *result
 * unset) when the series does not reach full precision within the budget or
 * loses more than about eight digits to cancellation.
 */
extern bool clm_hyp2f1_series(double a, double b, double c, double z,
							  int maxterms, double *result);

/*
 * Gamma(n1) Gamma(n2) / (Gamma(d1) Gamma(d2)) with signs, zero when d1 or d2
 * is a pole of Gamma; n1 and n2 must not be poles.  The coefficients of the
 * 1 - z connection formula.
 */
extern double clm_gamma_ratio(double n1, double n2, double d1, double d2);

/*
 * Removable singularities (2F1's connection formula at integer c - a - b,
 * the BG/NBD expectation at a = 1) are bridged by the polynomial through six
 * points at offsets -3h .. 3h (h = CLM_LIMIT_STEP, 0 excluded) from the
 * singular parameter value: the functions are analytic there, only the
 * formulas are not.  Values are used only when the offset is within h/2.
 */
#define CLM_LIMIT_STEP	1.5e-3
#define CLM_LIMIT_NODES	6

static inline double
clm_limit_node(int i)
{
	static const double k[CLM_LIMIT_NODES] = {-3, -2, -1, 1, 2, 3};

	return k[i] * CLM_LIMIT_STEP;
}

/* The interpolating polynomial through (clm_limit_node(i), vals[i]) at e. */
static inline double
clm_limit_interpolate(const double *vals, double e)
{
	double		result = 0.0;
	int			i,
				j;

	for (i = 0; i < CLM_LIMIT_NODES; i++)
	{
		double		w = vals[i];

		for (j = 0; j < CLM_LIMIT_NODES; j++)
			if (j != i)
				w *= (e - clm_limit_node(j)) / (clm_limit_node(i) - clm_limit_node(j));
		result += w;
	}
	return result;
}

#endif							/* CLM_HYP2F1_H */
