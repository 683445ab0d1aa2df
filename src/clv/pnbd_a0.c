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
 * implementation, here, together with the log-likelihood of one customer.
 * For the fit both also return their gradient in (r, alpha, s, beta), with
 * the same value as without it (test/unit/pnbd_gradient.c checks the
 * gradient against differences of the value).
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

/* Relative size of the neglected tail of every sum of the 2F1 series. */
#define PNBD_SERIES_EPS 1e-17

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
 *
 * With deriv not NULL it also returns the partial derivatives of the result
 * in k (c = k + 1 moving with it), b2 and z, for the analytic gradient of the
 * fit: term n is a product of factors (a+j)(b+j)/((c+j)(j+1)) z, so its log
 * derivative in a parameter is a running sum over the factors, and the
 * derivative of the sum is the sum of term * that running sum (n/z for z).
 * Those sums are continued past the value's stopping point until their own
 * tails are below rounding; the value itself is the same with or without
 * deriv.  A running sum grows by at most its last increment per term, so the
 * tail of sum(term_m D_m) after term n is at most
 * term_n (D_n z/(1-z) + increment_n z/(1-z)^2).
 */
static double
pnbd_ln_hyp2f1(double k, double b2, double z, double *deriv)
{
	bool		euler = b2 > 1.0;
	double		aa,
				bb,
				c = k + 1.0,
				pre = 0.0,
				sum = 1.0,
				term = 1.0,
				lnf = NAN;
	/* running log-derivatives of the term in k and b2, and their sums */
	double		dk = 0.0,
				db = 0.0,
				inc_k = 0.0,
				inc_b = 0.0,
				s_k = 0.0,
				s_b = 0.0,
				s_n = 0.0;
	/* the tail factors z/(1-z) and z/(1-z)^2, for the derivatives */
	double		q1 = 0.0,
				q2 = 0.0;

	if (z <= 0.0)
	{
		/* 2F1 = 1; its slope in z at 0 is k b2 / (k + 1) */
		if (deriv)
		{
			deriv[0] = 0.0;
			deriv[1] = 0.0;
			deriv[2] = k * b2 / c;
		}
		return 0.0;
	}
	if (!(z < 1.0))
		return NAN;
	if (deriv)
	{
		q1 = z / (1.0 - z);
		q2 = q1 / (1.0 - z);
	}
	if (euler)
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
		if (isnan(lnf))
		{
			sum += term;
			if (term * z <= PNBD_SERIES_EPS * sum * (1.0 - z))
			{
				lnf = pre + log(sum);
				if (deriv == NULL)
					return lnf;
			}
		}
		if (deriv)
		{
			double		e = 1.0 / (bb + n),
						g = 1.0 / (c + n);

			if (euler)
			{
				/* bb = k + 1 - b2: e in k, -e in b2 */
				inc_k = e - g;
				inc_b = -e;
			}
			else
			{
				/* aa = k, bb = b2 */
				inc_k = 1.0 / (aa + n) - g;
				inc_b = e;
			}
			dk += inc_k;
			db += inc_b;
			s_k += term * dk;
			s_b += term * db;
			s_n += (n + 1.0) * term;
			if (!isnan(lnf) &&
				term * ((n + 1.0) * q1 + q2) <= PNBD_SERIES_EPS * s_n &&
				term * (fabs(dk) * q1 + fabs(inc_k) * q2) <= PNBD_SERIES_EPS * fabs(s_k) &&
				term * (fabs(db) * q1 + fabs(inc_b) * q2) <= PNBD_SERIES_EPS * fabs(s_b))
			{
				deriv[0] = s_k / sum;
				deriv[1] = s_b / sum;
				deriv[2] = s_n / (z * sum);
				if (euler)
				{
					deriv[1] -= log1p(-z);
					deriv[2] += (b2 - 1.0) / (1.0 - z);
				}
				return lnf;
			}
		}
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
 *
 * With mom not NULL it also returns the means of ln(m+tau), ln(M+tau),
 * 1/(m+tau) and 1/(M+tau) under the normalised integrand, from which the
 * derivatives of ln I in pm, qm, m and M follow; they are summed alongside
 * with a running maximum, so the value is the same with or without mom.
 */
static double
pnbd_ln_integral(double m, double bigm, double pm, double qm, double t_x, double t,
				 double *mom)
{
	double		w0 = log(m + t_x),
				w1 = log(m + t),
				len = w1 - w0,
				d = bigm - m,
				acc = -INFINITY;
	/* moment sums, scaled by e^-top */
	double		top = -INFINITY,
				s0 = 0.0,
				s_lm = 0.0,
				s_lbig = 0.0,
				s_im = 0.0,
				s_ibig = 0.0;
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
			double		ew = exp(w),
						lbig = log(d + ew);
			double		lh = (1.0 - pm) * w - qm * lbig,
						lwt = lh + log(gl_weight[i] * half);

			acc = clm_logsumexp(acc, lwt);
			if (mom)
			{
				double		wt;

				if (lwt > top)
				{
					double		f = exp(top - lwt);

					s0 *= f;
					s_lm *= f;
					s_lbig *= f;
					s_im *= f;
					s_ibig *= f;
					top = lwt;
				}
				wt = exp(lwt - top);
				s0 += wt;
				s_lm += wt * w;
				s_lbig += wt * lbig;
				s_im += wt / ew;
				s_ibig += wt / (d + ew);
			}
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
	if (mom)
	{
		mom[0] = s_lm / s0;
		mom[1] = s_lbig / s0;
		mom[2] = s_im / s0;
		mom[3] = s_ibig / s0;
	}
	return acc;
}

/*
 * clv_pnbd_term
 *		One term of A0 in its 2F1 form, ln[2F1(k, b2; k+1; D/(M+tau)) (M+tau)^-k]
 *		(k = r + s + x), and with want_grad its derivatives in
 *		(r, alpha, s, beta): through k, b2 (s + 1 when alpha >= beta, r + x
 *		otherwise), the argument z = D/(M+tau) and M + tau.  NaN when z is
 *		above PNBD_SERIES_MAX_Z (A0 then goes by quadrature, which does not
 *		use the terms) or the series fails.
 *
 * A term depends on the customer only through (x, tau), and A0 is the
 * difference of the terms at t_x and at T, so the fit computes each
 * distinct (x, tau) once per evaluation and hands the terms to
 * clv_pnbd_row_ll: a customer base has far fewer distinct (x, t_x) and
 * (x, T) than distinct (x, t_x, T).
 */
void
clv_pnbd_term(double r, double alpha, double s, double beta, double x,
			  double tau, bool want_grad, ClvPnbdTerm *term)
{
	double		k = r + s + x,
				d = fabs(alpha - beta),
				bigm,
				b2,
				mt,
				lmt,
				z,
				h[3],
				lnf;

	clv_pnbd_hyp_form(r, alpha, s, beta, x, &bigm, &b2);
	mt = bigm + tau;
	z = d / mt;
	if (!(z <= PNBD_SERIES_MAX_Z))
	{
		term->ln = NAN;
		return;
	}
	lmt = log(mt);
	lnf = pnbd_ln_hyp2f1(k, b2, z, want_grad ? h : NULL);
	term->ln = lnf - k * lmt;
	if (want_grad && !isnan(lnf))
	{
		double		du_k = h[0] - lmt;
		double	   *grad = term->grad;

		if (alpha >= beta)
		{
			/* M = alpha, z = (alpha - beta)/(alpha + tau), b2 = s + 1 */
			grad[0] = du_k;
			grad[1] = h[2] * (beta + tau) / (mt * mt) - k / mt;
			grad[2] = du_k + h[1];
			grad[3] = -h[2] / mt;
		}
		else
		{
			/* M = beta, z = (beta - alpha)/(beta + tau), b2 = r + x */
			grad[0] = du_k + h[1];
			grad[1] = -h[2] / mt;
			grad[2] = du_k;
			grad[3] = h[2] * (alpha + tau) / (mt * mt) - k / mt;
		}
	}
}

/*
 * clv_pnbd_ln_a0
 *		ln A0 for parameters (r, alpha, s, beta) and the customer
 *		(x, t_x, t), in any time unit; -Infinity when A0 is 0 (t_x = t, or
 *		the difference below rounding), NaN when it cannot be evaluated.
 *		With grad not NULL (and a finite result) also its partial
 *		derivatives in r, alpha, s and beta, for the analytic gradient of
 *		the fit; the value does not depend on whether grad is asked for.
 *		at_tx and at_t are the customer's clv_pnbd_term at t_x and t (with
 *		their derivatives when grad is asked for), or NULL to compute them
 *		here.
 *
 * A0 is the difference of two positive terms; it is formed in log space as
 * ln(e^u - e^v) = u + ln(-expm1(v - u)), so (M+t)^-k cannot underflow, and
 * its derivative is du + (du - dv) e^(v-u) / (1 - e^(v-u)).
 * When the 2F1 argument exceeds PNBD_SERIES_MAX_Z the integral form is
 * evaluated by quadrature instead; A0 = k * I, and the derivatives of ln I
 * are means under the integrand: -E[ln(alpha+tau)] in r,
 * -(r+x) E[1/(alpha+tau)] in alpha, and likewise in s and beta with s + 1.
 */
double
clv_pnbd_ln_a0(double r, double alpha, double s, double beta,
			   double x, double t_x, double t,
			   const ClvPnbdTerm *at_tx, const ClvPnbdTerm *at_t, double *grad)
{
	double		k = r + s + x,
				d = fabs(alpha - beta),
				m,
				b2,
				la0,
				mom[4];

	if (!(t_x < t))
		return -INFINITY;
	clv_pnbd_hyp_form(r, alpha, s, beta, x, &m, &b2);
	if (d / (m + t_x) <= PNBD_SERIES_MAX_Z)
	{
		ClvPnbdTerm own_tx,
					own_t;
		double		u,
					v;

		if (at_tx == NULL)
		{
			clv_pnbd_term(r, alpha, s, beta, x, t_x, grad != NULL, &own_tx);
			at_tx = &own_tx;
		}
		if (at_t == NULL)
		{
			clv_pnbd_term(r, alpha, s, beta, x, t, grad != NULL, &own_t);
			at_t = &own_t;
		}
		u = at_tx->ln;
		v = at_t->ln;
		if (isnan(u) || isnan(v))
			return NAN;
		if (!(v < u))
			return -INFINITY;
		if (grad)
		{
			double		odds = exp(v - u) / -expm1(v - u);

			for (int i = 0; i < 4; i++)
				grad[i] = at_tx->grad[i] + (at_tx->grad[i] - at_t->grad[i]) * odds;
		}
		return u + log(-expm1(v - u));
	}
	if (alpha >= beta)
	{
		la0 = log(k) + pnbd_ln_integral(beta, alpha, s + 1.0, r + x, t_x, t,
										grad ? mom : NULL);
		/* mom: means of ln(beta+tau), ln(alpha+tau), 1/(beta+tau), 1/(alpha+tau) */
		if (grad)
		{
			grad[0] = 1.0 / k - mom[1];
			grad[1] = -(r + x) * mom[3];
			grad[2] = 1.0 / k - mom[0];
			grad[3] = -(s + 1.0) * mom[2];
		}
	}
	else
	{
		la0 = log(k) + pnbd_ln_integral(alpha, beta, r + x, s + 1.0, t_x, t,
										grad ? mom : NULL);
		/* mom: means of ln(alpha+tau), ln(beta+tau), 1/(alpha+tau), 1/(beta+tau) */
		if (grad)
		{
			grad[0] = 1.0 / k - mom[0];
			grad[1] = -(r + x) * mom[2];
			grad[2] = 1.0 / k - mom[1];
			grad[3] = -(s + 1.0) * mom[3];
		}
	}
	return la0;
}

/*
 * clv_pnbd_row_ll
 *		The Pareto/NBD log-likelihood of one customer,
 *		lg_rx_r + r ln alpha + s ln beta + ln[L1 + s/(r+s+x) A0] with
 *		L1 = (alpha+t)^-(r+x) (beta+t)^-s and lg_rx_r = lnG(r+x) - lnG(r),
 *		which the caller passes (the fit computes it once per distinct x).
 *		With grad not NULL it also returns the derivatives in
 *		(r, alpha, s, beta); the caller then passes psi_rx_r =
 *		digamma(r+x) - digamma(r), the derivative of lg_rx_r.  at_tx and
 *		at_t as for clv_pnbd_ln_a0.  NaN when A0 cannot be evaluated.
 */
double
clv_pnbd_row_ll(double r, double alpha, double s, double beta,
				double x, double t_x, double t,
				double lg_rx_r, double psi_rx_r,
				const ClvPnbdTerm *at_tx, const ClvPnbdTerm *at_t, double *grad)
{
	double		k = r + s + x,
				lat = log(alpha + t),
				lbt = log(beta + t),
				l1 = -(r + x) * lat - s * lbt,
				ga[4],
				ln_a0 = clv_pnbd_ln_a0(r, alpha, s, beta, x, t_x, t, at_tx, at_t,
									   grad ? ga : NULL),
				l2,
				lse;

	if (isnan(ln_a0))
		return NAN;
	l2 = log(s) - log(k) + ln_a0;
	lse = clm_logsumexp(l1, l2);
	if (grad)
	{
		/* the shares of L1 and of s/k A0 in their sum */
		double		w1 = exp(l1 - lse),
					w2 = (ln_a0 == -INFINITY) ? 0.0 : exp(l2 - lse);

		grad[0] = psi_rx_r + log(alpha) - w1 * lat;
		grad[1] = r / alpha - w1 * (r + x) / (alpha + t);
		grad[2] = log(beta) - w1 * lbt;
		grad[3] = s / beta - w1 * s / (beta + t);
		if (w2 > 0.0)
		{
			grad[0] += w2 * (ga[0] - 1.0 / k);
			grad[1] += w2 * ga[1];
			grad[2] += w2 * (ga[2] + 1.0 / s - 1.0 / k);
			grad[3] += w2 * ga[3];
		}
	}
	return lg_rx_r + r * log(alpha) + s * log(beta) + lse;
}
