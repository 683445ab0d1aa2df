/*-------------------------------------------------------------------------
 *
 * optim.c
 *	  Unconstrained minimisation for the CLV fits (at most four parameters,
 *	  always on log-parameters, so no bounds are needed).
 *
 * BFGS keeps an inverse-Hessian approximation and takes steps found by a
 * weak-Wolfe line search (bisection and doubling).  The line search treats a
 * non-finite objective as "too far" and backs off, so the model code can
 * return +Inf for any point where its formulas break down and no NaN ever
 * reaches the iterate.  Nelder-Mead is the derivative-free fallback the fit
 * driver uses when BFGS does not converge.
 *
 * IDENTIFICATION
 *	  src/clv/optim.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "optim.h"

/* Largest step in any log-parameter per iteration: e^8 is a factor of ~3000. */
#define MAX_LOG_STEP 8.0

/*
 * Evaluate the objective and turn every non-finite value into +Inf, so that
 * comparisons below never see a NaN.
 */
static double
eval(clm_objective fn, void *arg, const double *theta, double *grad, int n)
{
	double		f = fn(theta, grad, arg);

	if (isnan(f))
		f = INFINITY;
	if (grad != NULL && isfinite(f))
	{
		for (int i = 0; i < n; i++)
			if (!isfinite(grad[i]))
				return INFINITY;
	}
	return f;
}

static double
dot(int n, const double *a, const double *b)
{
	double		s = 0.0;

	for (int i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static double
norm_inf(int n, const double *a)
{
	double		m = 0.0;

	for (int i = 0; i < n; i++)
		m = Max(m, fabs(a[i]));
	return m;
}

/*
 * Weak-Wolfe line search along d from x (value f, directional derivative
 * gd < 0).  Bisects on failure of the sufficient-decrease condition (or a
 * non-finite value) and doubles on failure of the curvature condition.  The
 * gradient is only computed at points that pass sufficient decrease.
 * Returns true with the accepted point in xt/ft/gt; false when no step with
 * sufficient decrease was found.
 */
static bool
line_search(clm_objective fn, void *arg, int n, const double *x, double f,
			const double *d, double gd, double *xt, double *ft, double *gt)
{
	const double c1 = 1e-4,
				c2 = 0.9;
	double		lo = 0.0,
				hi = INFINITY,
				step = 1.0;
	double		best_x[CLM_OPTIM_MAXDIM],
				best_g[CLM_OPTIM_MAXDIM],
				best_f = INFINITY;
	bool		have_best = false;
	int			expansions = 0;

	for (int iter = 0; iter < 80; iter++)
	{
		double		fv;

		for (int i = 0; i < n; i++)
			xt[i] = x[i] + step * d[i];
		/* the value first: a numerical gradient costs 2n more evaluations */
		fv = eval(fn, arg, xt, NULL, n);
		if (!isfinite(fv) || fv > f + c1 * step * gd)
			hi = step;
		else if (!isfinite(fv = eval(fn, arg, xt, gt, n)))
			hi = step;
		else
		{
			/* sufficient decrease holds: remember the best such point */
			if (fv < best_f)
			{
				best_f = fv;
				memcpy(best_x, xt, n * sizeof(double));
				memcpy(best_g, gt, n * sizeof(double));
				have_best = true;
			}
			if (dot(n, gt, d) < c2 * gd)
				lo = step;
			else
			{
				*ft = fv;
				return true;
			}
		}
		if (isinf(hi))
		{
			/*
			 * At most four doublings: along an asymptote (an optimum at
			 * infinity) the curvature condition never holds, and each trial
			 * point costs a gradient.
			 */
			if (++expansions > 4)
				break;
			step = 2.0 * lo;
		}
		else
			step = 0.5 * (lo + hi);
		if (hi - lo < 1e-16 * Max(1.0, lo))
			break;
	}
	if (have_best)
	{
		memcpy(xt, best_x, n * sizeof(double));
		memcpy(gt, best_g, n * sizeof(double));
		*ft = best_f;
		return true;
	}
	return false;
}

/*
 * clm_bfgs
 *		Minimise fn from theta0 with BFGS on the inverse Hessian.
 *
 * Converged means the max-norm of the gradient fell below gtol.  When the line
 * search can make no more progress (the objective is flat to rounding) the
 * point is still accepted as converged if the gradient is below
 * max(gtol, 1e-5): that is the "precision loss" situation in which scipy
 * reports failure although the optimum has been reached.
 */
void
clm_bfgs(clm_objective fn, void *arg, int n, const double *theta0,
		 double gtol, int max_iter, ClmOptimResult *res)
{
	double		x[CLM_OPTIM_MAXDIM],
				g[CLM_OPTIM_MAXDIM],
				xt[CLM_OPTIM_MAXDIM],
				gt[CLM_OPTIM_MAXDIM],
				d[CLM_OPTIM_MAXDIM],
				s[CLM_OPTIM_MAXDIM],
				y[CLM_OPTIM_MAXDIM],
				hy[CLM_OPTIM_MAXDIM];
	double		H[CLM_OPTIM_MAXDIM][CLM_OPTIM_MAXDIM];
	double		f,
				ft;
	bool		fresh = true;	/* H is the (scaled) identity */
	int			stalls = 0;

	Assert(n >= 1 && n <= CLM_OPTIM_MAXDIM);
	memcpy(x, theta0, n * sizeof(double));
	memset(res, 0, sizeof(*res));
	f = eval(fn, arg, x, g, n);
	memset(H, 0, sizeof(H));
	for (int i = 0; i < n; i++)
		H[i][i] = 1.0;

	res->iterations = 0;
	while (isfinite(f) && res->iterations < max_iter)
	{
		double		gd,
					dmax,
					sy;

		CHECK_FOR_INTERRUPTS();
		if (norm_inf(n, g) < gtol)
			break;

		for (int i = 0; i < n; i++)
		{
			d[i] = 0.0;
			for (int j = 0; j < n; j++)
				d[i] -= H[i][j] * g[j];
		}
		gd = dot(n, g, d);
		if (!(gd < 0.0))
		{
			/* not a descent direction: restart from steepest descent */
			for (int i = 0; i < n; i++)
			{
				for (int j = 0; j < n; j++)
					H[i][j] = (i == j) ? 1.0 : 0.0;
				d[i] = -g[i];
			}
			fresh = true;
			gd = dot(n, g, d);
		}
		dmax = norm_inf(n, d);
		if (dmax > MAX_LOG_STEP)
		{
			for (int i = 0; i < n; i++)
				d[i] *= MAX_LOG_STEP / dmax;
			gd *= MAX_LOG_STEP / dmax;
		}

		if (!line_search(fn, arg, n, x, f, d, gd, xt, &ft, gt))
		{
			if (!fresh)
			{
				/* the approximation may be poor: one retry from the identity */
				for (int i = 0; i < n; i++)
					for (int j = 0; j < n; j++)
						H[i][j] = (i == j) ? 1.0 : 0.0;
				fresh = true;
				continue;
			}
			break;
		}
		res->iterations++;

		for (int i = 0; i < n; i++)
		{
			s[i] = xt[i] - x[i];
			y[i] = gt[i] - g[i];
		}
		sy = dot(n, s, y);

		/*
		 * Progress stalled: the objective improved by less than 1e-12
		 * (relative) five times in a row.  At an interior optimum that is
		 * rounding level; when the optimum is at infinity (data with no
		 * sign of dropout) it stops the walk along the asymptote.
		 */
		if (f - ft <= 1e-12 * Max(1.0, fabs(f)))
			stalls++;
		else
			stalls = 0;

		memcpy(x, xt, n * sizeof(double));
		memcpy(g, gt, n * sizeof(double));
		f = ft;

		if (sy > 1e-12 * sqrt(dot(n, s, s) * dot(n, y, y)))
		{
			double		rho = 1.0 / sy,
						yhy;

			if (fresh)
			{
				/* scale the identity to the observed curvature first */
				double		scale = sy / dot(n, y, y);

				for (int i = 0; i < n; i++)
					H[i][i] = scale;
				fresh = false;
			}
			for (int i = 0; i < n; i++)
			{
				hy[i] = 0.0;
				for (int j = 0; j < n; j++)
					hy[i] += H[i][j] * y[j];
			}
			yhy = dot(n, y, hy);
			for (int i = 0; i < n; i++)
				for (int j = 0; j < n; j++)
					H[i][j] += (1.0 + rho * yhy) * rho * s[i] * s[j]
						- rho * (hy[i] * s[j] + s[i] * hy[j]);
		}
		if (stalls >= 5)
			break;
	}

	memcpy(res->theta, x, n * sizeof(double));
	memcpy(res->grad, g, n * sizeof(double));
	res->f = f;
	res->grad_norm = isfinite(f) ? norm_inf(n, g) : INFINITY;
	res->converged = isfinite(f) && res->grad_norm < Max(gtol, 1e-5);
}

/*
 * clm_nelder_mead
 *		Derivative-free minimisation (Lagarias et al. coefficients), used when
 *		BFGS fails.  Converged means the simplex values agree to ftol.  The
 *		result's gradient fields are left zero: the caller polishes the point
 *		with BFGS, which computes them.
 */
void
clm_nelder_mead(clm_objective fn, void *arg, int n, const double *theta0,
				double step, double ftol, int max_iter, ClmOptimResult *res)
{
	double		v[CLM_OPTIM_MAXDIM + 1][CLM_OPTIM_MAXDIM];
	double		fv[CLM_OPTIM_MAXDIM + 1];
	double		c[CLM_OPTIM_MAXDIM],
				xr[CLM_OPTIM_MAXDIM],
				xe[CLM_OPTIM_MAXDIM],
				xc[CLM_OPTIM_MAXDIM];
	int			iter;

	memset(res, 0, sizeof(*res));
	for (int k = 0; k <= n; k++)
	{
		memcpy(v[k], theta0, n * sizeof(double));
		if (k > 0)
			v[k][k - 1] += step;
		fv[k] = eval(fn, arg, v[k], NULL, n);
	}

	for (iter = 0; iter < max_iter; iter++)
	{
		int			lo = 0,
					hi = 0,
					nh = 0;
		double		fr;

		CHECK_FOR_INTERRUPTS();
		for (int k = 1; k <= n; k++)
		{
			if (fv[k] < fv[lo])
				lo = k;
			if (fv[k] > fv[hi])
				hi = k;
		}
		nh = (hi == 0) ? 1 : 0;
		for (int k = 0; k <= n; k++)
			if (k != hi && fv[k] > fv[nh])
				nh = k;
		if (isfinite(fv[hi]) &&
			fv[hi] - fv[lo] <= ftol * (fabs(fv[lo]) + 1e-12))
		{
			res->converged = true;
			break;
		}

		for (int i = 0; i < n; i++)
		{
			c[i] = 0.0;
			for (int k = 0; k <= n; k++)
				if (k != hi)
					c[i] += v[k][i];
			c[i] /= n;
			xr[i] = c[i] + (c[i] - v[hi][i]);
		}
		fr = eval(fn, arg, xr, NULL, n);
		if (fr < fv[lo])
		{
			double		fe;

			for (int i = 0; i < n; i++)
				xe[i] = c[i] + 2.0 * (c[i] - v[hi][i]);
			fe = eval(fn, arg, xe, NULL, n);
			if (fe < fr)
			{
				memcpy(v[hi], xe, n * sizeof(double));
				fv[hi] = fe;
			}
			else
			{
				memcpy(v[hi], xr, n * sizeof(double));
				fv[hi] = fr;
			}
			continue;
		}
		if (fr < fv[nh])
		{
			memcpy(v[hi], xr, n * sizeof(double));
			fv[hi] = fr;
			continue;
		}
		{
			double		fc;
			bool		outside = fr < fv[hi];

			for (int i = 0; i < n; i++)
				xc[i] = outside ? c[i] + 0.5 * (xr[i] - c[i])
					: c[i] + 0.5 * (v[hi][i] - c[i]);
			fc = eval(fn, arg, xc, NULL, n);
			if (fc < (outside ? fr : fv[hi]))
			{
				memcpy(v[hi], xc, n * sizeof(double));
				fv[hi] = fc;
				continue;
			}
		}
		/* shrink towards the best vertex */
		for (int k = 0; k <= n; k++)
		{
			if (k == lo)
				continue;
			for (int i = 0; i < n; i++)
				v[k][i] = v[lo][i] + 0.5 * (v[k][i] - v[lo][i]);
			fv[k] = eval(fn, arg, v[k], NULL, n);
		}
	}

	{
		int			lo = 0;

		for (int k = 1; k <= n; k++)
			if (fv[k] < fv[lo])
				lo = k;
		memcpy(res->theta, v[lo], n * sizeof(double));
		res->f = fv[lo];
	}
	res->iterations = iter;
	res->grad_norm = INFINITY;
}

/*
 * clm_hessian
 *		Hessian by central differences of the gradient (step h), symmetrised.
 *		Returns false when any evaluation is not finite.
 */
bool
clm_hessian(clm_objective fn, void *arg, int n, const double *theta,
			double h, double *hess)
{
	double		xp[CLM_OPTIM_MAXDIM],
				gp[CLM_OPTIM_MAXDIM],
				gm[CLM_OPTIM_MAXDIM];

	for (int j = 0; j < n; j++)
	{
		memcpy(xp, theta, n * sizeof(double));
		xp[j] = theta[j] + h;
		if (!isfinite(eval(fn, arg, xp, gp, n)))
			return false;
		xp[j] = theta[j] - h;
		if (!isfinite(eval(fn, arg, xp, gm, n)))
			return false;
		for (int i = 0; i < n; i++)
			hess[i * n + j] = (gp[i] - gm[i]) / (2.0 * h);
	}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < i; j++)
		{
			double		m = 0.5 * (hess[i * n + j] + hess[j * n + i]);

			hess[i * n + j] = hess[j * n + i] = m;
		}
	return true;
}

/*
 * clm_spd_inverse
 *		Invert a symmetric positive-definite matrix by Cholesky.  Returns false
 *		(and leaves inv undefined) when the matrix is not positive definite,
 *		which at a reported optimum means the standard errors do not exist.
 */
bool
clm_spd_inverse(int n, const double *a, double *inv)
{
	double		L[CLM_OPTIM_MAXDIM][CLM_OPTIM_MAXDIM];

	memset(L, 0, sizeof(L));
	for (int j = 0; j < n; j++)
	{
		double		s = a[j * n + j];

		for (int k = 0; k < j; k++)
			s -= L[j][k] * L[j][k];
		if (!(s > 0.0) || !isfinite(s))
			return false;
		L[j][j] = sqrt(s);
		for (int i = j + 1; i < n; i++)
		{
			double		t = a[i * n + j];

			for (int k = 0; k < j; k++)
				t -= L[i][k] * L[j][k];
			L[i][j] = t / L[j][j];
		}
	}
	/* solve L L' X = I column by column */
	for (int col = 0; col < n; col++)
	{
		double		z[CLM_OPTIM_MAXDIM];

		for (int i = 0; i < n; i++)
		{
			double		t = (i == col) ? 1.0 : 0.0;

			for (int k = 0; k < i; k++)
				t -= L[i][k] * z[k];
			z[i] = t / L[i][i];
		}
		for (int i = n - 1; i >= 0; i--)
		{
			double		t = z[i];

			for (int k = i + 1; k < n; k++)
				t -= L[k][i] * inv[k * n + col];
			inv[i * n + col] = t / L[i][i];
		}
	}
	for (int i = 0; i < n * n; i++)
		if (!isfinite(inv[i]))
			return false;
	return true;
}
