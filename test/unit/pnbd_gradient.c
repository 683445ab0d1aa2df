/*
 * pnbd_gradient.c: check the analytic gradient of the Pareto/NBD
 * log-likelihood of one customer (clv_pnbd_row_ll in src/clv/pnbd_a0.c, the
 * gradient clm.paretonbd_fit minimises with) against central differences,
 * for test/t/039_clv_paretonbd_gradient.pl.  Built against the server
 * headers together with src/clv/pnbd_a0.c:
 *
 *   cc -O2 -I$(pg_config --includedir-server) -Isrc/common -Isrc/clv \
 *      -o pnbd_gradient test/unit/pnbd_gradient.c src/clv/pnbd_a0.c -lm
 *
 * Every case covers both branches of A0 (alpha < beta, alpha = beta,
 * alpha > beta), its 2F1 series and its quadrature (2F1 argument above 0.9),
 * x = 0, t_x = T (A0 = 0), t_x just below T and large x.  For each it
 * prints one line: the case, the largest error of the four derivatives (in
 * the log-parameters, as the fit uses them) relative to max(1, |derivative|),
 * and "ok" when that is below 1e-6 with finite values and the value and
 * gradient are the same when the terms of A0 are handed in precomputed (as
 * the fit does), "FAIL" otherwise.
 * The differences are Richardson-extrapolated central differences of step
 * 1e-3 and 5e-4 in the log-parameter (error of order 1e-12 here), so a wrong
 * term in the gradient shows as an error of order 1e-3 or more.
 */
#include "postgres.h"

#include <math.h>
#include <stdio.h>

#include "pnbd_a0.h"

/* port.h maps printf to libpgport's, which this program does not link */
#undef printf

/* ln Gamma(r + x) - ln Gamma(r) and its derivative in r, for whole x */
static void
gamma_ratio(double r, double x, double *lg, double *psi)
{
	*lg = 0.0;
	*psi = 0.0;
	for (int i = 0; i < (int) x; i++)
	{
		*lg += log(r + i);
		*psi += 1.0 / (r + i);
	}
}

static double
ll_at(const double *theta, double x, double t_x, double t)
{
	double		r = exp(theta[0]),
				lg,
				psi;

	gamma_ratio(r, x, &lg, &psi);
	return clv_pnbd_row_ll(r, exp(theta[1]), exp(theta[2]), exp(theta[3]),
						   x, t_x, t, lg, psi, NULL, NULL, NULL);
}

static double
central(const double *theta, int i, double h, double x, double t_x, double t)
{
	double		th[4];

	memcpy(th, theta, sizeof(th));
	th[i] = theta[i] + h;
	{
		double		fp = ll_at(th, x, t_x, t);

		th[i] = theta[i] - h;
		return (fp - ll_at(th, x, t_x, t)) / (2.0 * h);
	}
}

int
main(void)
{
	static const double cases[][7] = {
		/* r, alpha, s, beta, x, t_x, t */
		{0.55, 10.5, 0.6, 11.7, 2, 30.43, 38.86},	/* alpha < beta, series */
		{0.55, 11.7, 0.6, 11.7, 2, 30.43, 38.86},	/* alpha = beta */
		{0.55, 20, 0.6, 11.7, 2, 30.43, 38.86},	/* alpha > beta, series */
		{0.55, 10.5, 0.6, 11.7, 0, 0, 38.86},	/* x = 0 */
		{0.55, 10.5, 0.6, 11.7, 3, 20, 20}, /* t_x = T: A0 = 0 */
		{0.55, 10.5, 0.6, 11.7, 3, 38.85, 38.86},	/* t_x just below T */
		{0.55, 10.5, 0.6, 11.7, 300, 38, 40},	/* large x */
		{0.2, 5000, 3, 11.7, 300, 60, 200}, /* alpha >> beta, quadrature */
		{0.2, 100, 3, 0.6, 3, 0.9, 1},	/* alpha > beta, quadrature */
		{0.55, 0.05, 0.6, 300, 50, 20, 39}, /* alpha << beta, quadrature */
		{2.5, 0.5, 0.3, 8000, 5, 1, 39},	/* z = 0.9998 */
		{0.55, 0.5, 0.6, 8, 1, 0.2, 39},	/* alpha < beta, z near 0.9 */
		{0.243, 0.08, 0.6, 0.2, 4, 0.7, 1}, /* scaled time, as in the fit */
		{0.01, 1e-3, 0.02, 1e3, 1, 0.5, 1}, /* small shapes */
		{30, 2, 40, 3, 7, 0.3, 1},	/* large shapes */
	};
	int			fails = 0;

	for (int c = 0; c < (int) (sizeof(cases) / sizeof(cases[0])); c++)
	{
		const double *cs = cases[c];
		double		theta[4],
					grad[4],
					lg,
					psi,
					worst = 0.0,
					v;
		bool		finite = true;

		for (int i = 0; i < 4; i++)
			theta[i] = log(cs[i]);
		gamma_ratio(cs[0], cs[4], &lg, &psi);
		v = clv_pnbd_row_ll(cs[0], cs[1], cs[2], cs[3], cs[4], cs[5], cs[6], lg, psi, NULL, NULL, grad);
		/* the value must not depend on whether the gradient is asked for */
		if (v != clv_pnbd_row_ll(cs[0], cs[1], cs[2], cs[3], cs[4], cs[5], cs[6], lg, psi, NULL, NULL, NULL) ||
			!isfinite(v))
			finite = false;
		/* the fit's way, with the terms at t_x and t computed beforehand */
		{
			ClvPnbdTerm at_tx,
						at_t;
			double		g2[4];

			clv_pnbd_term(cs[0], cs[1], cs[2], cs[3], cs[4], cs[5], true, &at_tx);
			clv_pnbd_term(cs[0], cs[1], cs[2], cs[3], cs[4], cs[6], true, &at_t);
			if (v != clv_pnbd_row_ll(cs[0], cs[1], cs[2], cs[3], cs[4], cs[5], cs[6], lg, psi,
									 &at_tx, &at_t, g2) ||
				memcmp(g2, grad, sizeof(g2)) != 0)
				finite = false;
		}
		for (int i = 0; i < 4; i++)
		{
			double		an = grad[i] * cs[i],	/* in the log-parameter */
						d1 = central(theta, i, 1e-3, cs[4], cs[5], cs[6]),
						d2 = central(theta, i, 5e-4, cs[4], cs[5], cs[6]),
						fd = (4.0 * d2 - d1) / 3.0,
						err = fabs(an - fd) / fmax(1.0, fabs(fd));

			if (!isfinite(an) || !isfinite(fd))
				finite = false;
			worst = fmax(worst, err);
		}
		if (!finite || !(worst < 1e-6))
			fails++;
		printf("%s case %d (r %g, alpha %g, s %g, beta %g, x %g, t_x %g, t %g): ll %.10g, max error %.2e\n",
			   (finite && worst < 1e-6) ? "ok" : "FAIL", c + 1,
			   cs[0], cs[1], cs[2], cs[3], cs[4], cs[5], cs[6], v, worst);
	}
	return fails > 0;
}
