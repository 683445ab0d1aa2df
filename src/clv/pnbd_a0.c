/*-------------------------------------------------------------------------
 *
 * pnbd_a0.c
 *	  The A0 term of the Pareto/NBD likelihood, shared by the fit (the
 *	  log-likelihood of every customer) and the predictions (P(alive)).
 *
 * For a customer (x, t_x, T) and k = r + s + x,
 *	  A0 = 2F1(k, b2; k+1; D/(M+t_x)) / (M+t_x)^k - 2F1(k, b2; k+1; D/(M+T)) / (M+T)^k
 * with M = max(alpha, beta), D = |alpha - beta|, b2 = s + 1 when
 * alpha >= beta and r + x otherwise (Fader and Hardie's note on the
 * Pareto/NBD; doc/clv.md, "Fitting"); equivalently
 *	  A0 = k * integral_{t_x}^{T} (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau.
 * The log-likelihood is ln[Gamma(r+x) alpha^r beta^s / Gamma(r)] +
 * ln[(alpha+T)^-(r+x) (beta+T)^-s + s/k A0], and P(alive) is the share of
 * the first term in that sum, so both must use the same A0: one
 * implementation, here.
 *
 * IDENTIFICATION
 *	  src/clv/pnbd_a0.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "clm_math.h"
#include "pnbd_a0.h"

/* Terms of the series for the Pareto/NBD 2F1 before giving up. */
#define PNBD_SERIES_CAP 2000
/* Above this 2F1 argument the series is slow: integrate A0 numerically. */
#define PNBD_SERIES_MAX_Z 0.9

/*
 * ln 2F1(k, b2; k + 1; z) for 0 <= z < 1, the hypergeometric function of the
 * Pareto/NBD A0 term.  For b2 > 1 Euler's transformation
 * 2F1(k, b2; k+1; z) = (1-z)^(1-b2) 2F1(1, k+1-b2; k+1; z) is summed instead,
 * so in both branches every term is positive and the term ratio never
 * exceeds z: the tail after a term is at most term * z / (1 - z), which is
 * the stopping rule.  It is only used for z <= PNBD_SERIES_MAX_Z, where a
 * few hundred terms suffice; the cap only guards against the impossible, and
 * NaN then makes the fit treat the point as outside the domain (and a
 * prediction an error).
 * clm_hyp2f1 (hyp2f1.c) is not used here: its series allows terms of either
 * sign, so it trusts its tail bound only once n is past every parameter,
 * i.e. it sums at least about k = r + s + x terms, and x can be in the
 * hundreds; with positive terms this loop may stop after a handful, and it
 * runs twice per customer and likelihood evaluation.  Near z = 1 its
 * connection formula, at the integer c - a - b of these parameters, put
 * ln P(alive) off by up to 1e-6 (x = 300, alpha = 5000, beta = 11.7,
 * against 50-digit values), where the quadrature below stays within about
 * 1e-12.
 */
static double
pnbd_ln_hyp2f1(double k, double b2, double z)
{
	double		aa,
				bb,
				c = k + 1.0,
				pre = 0.0,
				sum = 1.0,
				term = 1.0;

	if (z <= 0.0)
		return 0.0;
	if (!(z < 1.0))
		return NAN;
	if (b2 > 1.0)
	{
		aa = 1.0;
		bb = k + 1.0 - b2;
		pre = (1.0 - b2) * log1p(-z);
	}
	else
	{
		aa = k;
		bb = b2;
	}
	for (int n = 0; n < PNBD_SERIES_CAP; n++)
	{
		term *= (aa + n) * (bb + n) / ((c + n) * (n + 1.0)) * z;
		sum += term;
		if (term * z <= 1e-17 * sum * (1.0 - z))
			return pre + log(sum);
	}
	return NAN;
}

#define GL_N 16

static double gl_node[GL_N];
static double gl_weight[GL_N];
static bool gl_ready = false;

/*
 * Gauss-Legendre nodes and weights on [-1, 1], by Newton's method on the
 * Legendre polynomial (computed once per backend).
 */
static void
gl_init(void)
{
	for (int i = 0; i < GL_N; i++)
	{
		double		z = cos(M_PI * (i + 0.75) / (GL_N + 0.5)),
					dp = 1.0;

		for (int it = 0; it < 100; it++)
		{
			double		p0 = 1.0,
						p1 = z,
						dz;

			for (int j = 2; j <= GL_N; j++)
			{
				double		p2 = ((2.0 * j - 1.0) * z * p1 - (j - 1.0) * p0) / j;

				p0 = p1;
				p1 = p2;
			}
			dp = GL_N * (z * p1 - p0) / (z * z - 1.0);
			dz = p1 / dp;
			z -= dz;
			if (fabs(dz) < 1e-16)
				break;
		}
		gl_node[i] = z;
		gl_weight[i] = 2.0 / ((1.0 - z * z) * dp * dp);
	}
	gl_ready = true;
}

/*
 * ln of I = integral over [t_x, T] of (m+tau)^-pm (M+tau)^-qm dtau, with
 * m <= M.  This is A0 / (r+s+x): the quadrature route for the cases where
 * the 2F1 series converges slowly (min(alpha, beta) much smaller than the
 * other).  In w = ln(m + tau) the log-integrand
 * (1 - pm) w - qm ln(M - m + e^w) is concave with a bounded slope, so
 * composite 16-point Gauss-Legendre on pieces over which it changes by at
 * most ~8 is accurate to rounding; sums are kept in log space.
 */
static double
pnbd_ln_integral(double m, double bigm, double pm, double qm, double t_x, double t)
{
	double		w0 = log(m + t_x),
				w1 = log(m + t),
				len = w1 - w0,
				d = bigm - m,
				acc = -INFINITY;
	int			nsub;

	if (!(len > 0))
		return -INFINITY;
	if (!gl_ready)
		gl_init();
	/*
	 * The slope of the log-integrand is 1 - pm - qm e^w / (d + e^w); the
	 * second part grows with w, so its size is at most that at w1.
	 */
	nsub = (int) ceil((fabs(1.0 - pm) + qm * exp(w1) / (d + exp(w1))) * len / 8.0);
	nsub = Max(1, Min(nsub, 100000));
	for (int k = 0; k < nsub; k++)
	{
		double		a = w0 + len * k / nsub,
					half = 0.5 * len / nsub,
					mid = a + half,
					lh_start = (1.0 - pm) * a - qm * log(d + exp(a)),
					lh_end;

		for (int i = 0; i < GL_N; i++)
		{
			double		w = mid + half * gl_node[i];
			double		lh = (1.0 - pm) * w - qm * log(d + exp(w));

			acc = clm_logsumexp(acc, lh + log(gl_weight[i] * half));
		}

		/*
		 * Log-concave: once the integrand decreases it keeps decreasing, so
		 * when it has fallen e^40 below the running sum the rest (over a
		 * log-range of at most a few dozen) is below rounding.
		 */
		lh_end = (1.0 - pm) * (a + 2.0 * half) - qm * log(d + exp(a + 2.0 * half));
		if (lh_end < lh_start && lh_end < acc - 40.0)
			break;
	}
	return acc;
}

/*
 * clv_pnbd_ln_a0
 *		ln A0 for parameters (r, alpha, s, beta) and the customer
 *		(x, t_x, t), in any time unit; -Infinity when A0 is 0 (t_x = t, or
 *		the difference below rounding), NaN when it cannot be evaluated.
 *
 * A0 is the difference of two positive terms; it is formed in log space as
 * ln(e^u - e^v) = u + ln(-expm1(v - u)), so (M+t)^-k cannot underflow.
 * When the 2F1 argument exceeds PNBD_SERIES_MAX_Z the integral form is
 * evaluated by quadrature instead.
 */
double
clv_pnbd_ln_a0(double r, double alpha, double s, double beta,
			   double x, double t_x, double t)
{
	double		k = r + s + x,
				d = fabs(alpha - beta),
				m,
				b2;

	if (!(t_x < t))
		return -INFINITY;
	clv_pnbd_hyp_form(r, alpha, s, beta, x, &m, &b2);
	if (d / (m + t_x) <= PNBD_SERIES_MAX_Z)
	{
		double		u = pnbd_ln_hyp2f1(k, b2, d / (m + t_x)) - k * log(m + t_x);
		double		v = pnbd_ln_hyp2f1(k, b2, d / (m + t)) - k * log(m + t);

		if (isnan(u) || isnan(v))
			return NAN;
		if (!(v < u))
			return -INFINITY;
		return u + log(-expm1(v - u));
	}
	if (alpha >= beta)
		return log(k) + pnbd_ln_integral(beta, alpha, s + 1.0, r + x, t_x, t);
	return log(k) + pnbd_ln_integral(alpha, beta, r + x, s + 1.0, t_x, t);
}
