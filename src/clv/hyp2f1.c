/*-------------------------------------------------------------------------
 *
 * hyp2f1.c
 *	  Gauss hypergeometric function 2F1(a, b; c; z) for real arguments.
 *
 * The BTYD predictions need 2F1 at arguments z in [0, 1) that approach 1
 * for long horizons, with parameters from small fractions (r ~ 0.2) up to a
 * few hundred (x = 200 repeat purchases).  The plain power series converges
 * slowly near z = 1 and diverges there when c - a - b <= 0, so this file
 * combines:
 *	- the power series summed by term ratios, with a tail bound as the stop
 *	  rule and a cancellation check;
 *	- Pfaff's transformation for z < 0 (maps z into (0, 1));
 *	- Euler's transformation, tried when it converges faster;
 *	- the 1 - z connection formula (Abramowitz and Stegun 15.3.6) for
 *	  z > 1/2, with the degenerate case c - a - b near an integer handled by
 *	  polynomial extrapolation in b from nearby non-degenerate points (the
 *	  function is analytic in b; only the formula is singular);
 *	- Gauss's sum at z = 1.
 *
 * Only the published mathematics is used; no code from other libraries.
 *
 * IDENTIFICATION
 *	  src/clv/hyp2f1.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"

#include "clm.h"
#include "clm_math.h"
#include "hyp2f1.h"

PG_FUNCTION_INFO_V1(clm_hyp2f1_sql);

/* Term budget for series at |z| <= 1/2 (geometric, so generous). */
#define HYP_SERIES_MAX		200000
/* Term budget when a slowly converging series is only tried. */
#define HYP_TRY_MAX			2000

/*
 * is_nonpos_int
 *		True when v is 0, -1, -2, ...: the Pochhammer symbol (v)_k vanishes
 *		(numerator) or the series has a pole (denominator).
 */
static bool
is_nonpos_int(double v)
{
	return v <= 0.0 && v == floor(v);
}

/*
 * clm_hyp2f1_series
 *		Sum the defining power series by term ratios.
 *
 * The stop rule bounds the remaining tail by a geometric series once k is
 * past all parameters (from there the term ratio moves monotonically toward
 * z), so a result is only returned at full double precision.  A series whose
 * largest term exceeds the sum by 1e8 has lost too many digits to
 * cancellation and is reported as failed, so the caller can switch method.
 */
bool
clm_hyp2f1_series(double a, double b, double c, double z, int maxterms,
				  double *result)
{
	double		sum = 1.0;
	double		term = 1.0;
	double		maxabs = 1.0;
	double		kstable = Max(fabs(a), Max(fabs(b), fabs(c))) + 2.0;
	int			k;

	if (z == 0.0)
	{
		*result = 1.0;
		return true;
	}
	for (k = 0; k < maxterms; k++)
	{
		double		ratio = (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;

		term *= ratio;
		if (term == 0.0)
			break;				/* terminating series (a or b a non-positive
								 * integer) */
		sum += term;
		if (fabs(term) > maxabs)
			maxabs = fabs(term);
		if (!isfinite(sum))
			return false;
		if (k + 1 > kstable)
		{
			/* tail <= |term| m / (1 - m), m = the larger of |ratio| and |z| */
			double		m = Max(fabs(ratio), fabs(z));

			if (m < 1.0 && fabs(term) * m <= 1.0e-17 * fabs(sum) * (1.0 - m))
				break;
		}
	}
	if (k >= maxterms)
		return false;
	if (maxabs > 1.0e8 * fabs(sum))
		return false;
	*result = sum;
	return true;
}

/*
 * log_abs_gamma
 *		ln|Gamma(x)| and the sign of Gamma(x), for x not a pole.
 */
static double
log_abs_gamma(double x, int *sign)
{
	return lgamma_r(x, sign);
}

/*
 * clm_gamma_ratio
 *		Gamma(n1) Gamma(n2) / (Gamma(d1) Gamma(d2)), zero when a denominator
 *		argument is a pole (1/Gamma vanishes there).  Numerator poles are
 *		excluded by the callers.
 */
double
clm_gamma_ratio(double n1, double n2, double d1, double d2)
{
	int			s1,
				s2,
				s3,
				s4;
	double		l;

	if (is_nonpos_int(d1) || is_nonpos_int(d2))
		return 0.0;
	l = log_abs_gamma(n1, &s1) + log_abs_gamma(n2, &s2)
		- log_abs_gamma(d1, &s3) - log_abs_gamma(d2, &s4);
	return (double) (s1 * s2 * s3 * s4) * exp(l);
}

/*
 * The arguments clm_hyp2f1 was called with.  Errors name these, not the
 * transformed ones an inner step works on (Pfaff, connection formulas): a
 * message about 2F1(-1e+308, -Infinity; ...) after a call with finite
 * arguments only confuses.
 */
static double hyp_arg[4];

static double hyp2f1_eval(double a, double b, double c, double z, double zc);

/* No method reached full precision: an error rather than a doubtful value. */
static void
hyp_inaccurate(double a, double b, double c, double z)
{
	a = hyp_arg[0];
	b = hyp_arg[1];
	c = hyp_arg[2];
	z = hyp_arg[3];
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("hypergeometric function 2F1(%g, %g; %g; %g) could not be evaluated to full precision",
					a, b, c, z),
			 errdetail("The series and its transformations did not converge or lost too many digits to cancellation."),
			 errhint("Check that the model parameters and times are in a sensible range.")));
}

/*
 * series_or_fail
 *		The series at |z| <= 1/2 (geometric convergence); it only fails on
 *		heavy cancellation, then Euler's form is tried before giving up.
 */
static double
series_or_fail(double a, double b, double c, double z)
{
	double		f;

	if (clm_hyp2f1_series(a, b, c, z, HYP_SERIES_MAX, &f))
		return f;
	if (z < 1.0 &&
		clm_hyp2f1_series(c - a, c - b, c, z, HYP_SERIES_MAX, &f))
		return exp((c - a - b) * log1p(-z)) * f;
	hyp_inaccurate(a, b, c, z);
	return 0.0;					/* keep compiler quiet */
}

/*
 * connection
 *		Abramowitz and Stegun 15.3.6 for 1/2 < z < 1, c - a - b not an
 *		integer: both series then run in 1 - z < 1/2.
 */
static double
connection(double a, double b, double c, double z, double zc)
{
	double		w = zc;
	double		d = c - a - b;
	double		r1 = 0.0,
				r2 = 0.0;
	double		c1 = clm_gamma_ratio(c, d, c - a, c - b);
	double		c2 = clm_gamma_ratio(c, -d, a, b);

	if (c1 != 0.0)
		r1 = c1 * series_or_fail(a, b, 1.0 - d, w);
	if (c2 != 0.0)
		r2 = c2 * exp(d * log(w)) * series_or_fail(c - a, c - b, 1.0 + d, w);
	return r1 + r2;
}

/*
 * connection_any
 *		The connection formula, also when c - a - b is (nearly) an integer m:
 *		2F1 is analytic in b, so it is evaluated at six values of b that put
 *		c - a - b at m + 1.5e-3 * (-3 .. 3) (where 15.3.6 loses about three
 *		of sixteen digits) and interpolated (hyp2f1.h).  Relative accuracy
 *		about 1e-12 there, less as -ln(1 - z) grows.
 */
static double
connection_any(double a, double b, double c, double z, double zc)
{
	double		d = c - a - b;
	double		m = rint(d);
	double		e = d - m;
	double		vals[CLM_LIMIT_NODES];
	int			i;

	if (fabs(e) > CLM_LIMIT_STEP / 2.0)
		return connection(a, b, c, z, zc);
	for (i = 0; i < CLM_LIMIT_NODES; i++)
		vals[i] = connection(a, c - a - m - clm_limit_node(i), c, z, zc);
	return clm_limit_interpolate(vals, e);
}

/*
 * clm_hyp2f1
 *		2F1(a, b; c; z) for real arguments and z <= 1.
 */
double
clm_hyp2f1(double a, double b, double c, double z)
{
	clm_check_finite_float8(a, "a");
	clm_check_finite_float8(b, "b");
	clm_check_finite_float8(c, "c");
	clm_check_finite_float8(z, "z");
	hyp_arg[0] = a;
	hyp_arg[1] = b;
	hyp_arg[2] = c;
	hyp_arg[3] = z;
	return hyp2f1_eval(a, b, c, z, 1.0 - z);
}

/*
 * hyp2f1_eval
 *		The evaluation behind clm_hyp2f1; it recurses into itself with
 *		transformed arguments, which may overflow to infinities: those are
 *		errors about the caller's arguments, not about a, b, c, z here.
 *		zc is 1 - z computed without cancellation: after Pfaff's transform
 *		of a very negative z, z is within |z|^-1 of 1 and 1.0 - z would keep
 *		only -log10|z_original| of its digits.
 */
static double
hyp2f1_eval(double a, double b, double c, double z, double zc)
{
	double		f;

	if (!isfinite(a) || !isfinite(b) || !isfinite(c) || !isfinite(z))
		hyp_inaccurate(a, b, c, z);

	if (z > 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hypergeometric function 2F1 is only defined here for z <= 1"),
				 errdetail("z is %g; for z > 1 the function is on its branch cut.", z)));

	/* terminating series: a polynomial in z, valid everywhere */
	if (is_nonpos_int(a) || is_nonpos_int(b))
	{
		double		n = is_nonpos_int(a) ? -a : -b;

		if (is_nonpos_int(a) && is_nonpos_int(b))
			n = fmin(-a, -b);
		if (is_nonpos_int(c) && -c < n)
			goto pole;
		if (n > HYP_SERIES_MAX)
			hyp_inaccurate(a, b, c, z);
		{
			double		sum = 1.0,
						term = 1.0;
			int			k;

			for (k = 0; k < (int) n; k++)
			{
				term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
				sum += term;
			}
			return sum;
		}
	}
	if (is_nonpos_int(c))
		goto pole;
	if (z == 0.0)
		return 1.0;

	if (z == 1.0)
	{
		if (c - a - b <= 0.0)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("hypergeometric function 2F1(%g, %g; %g; 1) diverges", a, b, c),
					 errdetail("At z = 1 the series converges only when c - a - b > 0.")));
		/* Gauss's summation theorem */
		return clm_gamma_ratio(c, c - a - b, c - a, c - b);
	}

	if (z < 0.0)
	{
		/* Pfaff: (1 - z)^(-a) 2F1(a, c - b; c; z / (z - 1)); pick the smaller power */
		double		w = z / (z - 1.0);

		/* z below about -1e16: w rounds to 1, where the Pfaff form breaks */
		if (w >= 1.0)
			hyp_inaccurate(a, b, c, z);

		if (fabs(b) < fabs(a))
		{
			double		tmp = a;

			a = b;
			b = tmp;
		}
		return exp(-a * log1p(-z)) * hyp2f1_eval(a, c - b, c, w, 1.0 / (1.0 - z));
	}

	if (z <= 0.5)
		return series_or_fail(a, b, c, z);

	/* 1/2 < z < 1: a fast series if there is one, else the connection */
	if (clm_hyp2f1_series(a, b, c, z, HYP_TRY_MAX, &f))
		return f;
	if (clm_hyp2f1_series(c - a, c - b, c, z, HYP_TRY_MAX, &f))
		return exp((c - a - b) * log(zc)) * f;
	f = connection_any(a, b, c, z, zc);
	if (!isfinite(f))
		hyp_inaccurate(a, b, c, z);
	return f;

pole:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("hypergeometric function 2F1 has a pole at c = %g", c),
			 errdetail("c is a non-positive integer and the series does not terminate before it.")));
	return 0.0;					/* keep compiler quiet */
}

/*
 * clm.hyp2f1(a, b, c, z): the function above, exposed so it can be tested in
 * isolation and used in ad-hoc model work.
 */
Datum
clm_hyp2f1_sql(PG_FUNCTION_ARGS)
{
	double		r = clm_hyp2f1(PG_GETARG_FLOAT8(0), PG_GETARG_FLOAT8(1),
							   PG_GETARG_FLOAT8(2), PG_GETARG_FLOAT8(3));

	if (!isfinite(r))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("hypergeometric function 2F1 overflows at these arguments")));
	PG_RETURN_FLOAT8(r);
}
