/*-------------------------------------------------------------------------
 *
 * clv_interval.c
 *	  Prediction intervals from parameter uncertainty: the covariance of the
 *	  fitted BG/NBD, Pareto/NBD and Gamma-Gamma parameters
 *	  (clm.bgnbd_covariance, clm.paretonbd_covariance,
 *	  clm.gamma_gamma_covariance), and intervals for one customer's expected
 *	  purchases, P(alive) and (BG/NBD) CLV and for the total expected
 *	  purchases of a customer base.
 *
 * Method: the delta method with the full covariance.  The covariance is the
 * inverse of the observed information (minus the Hessian of the
 * log-likelihood, summed over the customers, at the given parameters), the
 * same matrix whose diagonal gives the fits' standard errors.  A prediction
 * f(theta) then has variance g' Sigma g with g its gradient, and a total
 * over customers has the summed gradient; so the total's interval is one
 * pass over the customers that adds up estimates and gradients, and the
 * result is deterministic (no random draws) and costs nine evaluations of
 * the prediction per customer, where a parametric bootstrap would refit or
 * re-score the whole base once per draw.  The states are float8 arrays:
 * a real type, so the aggregates run in parallel and across nodes without
 * serialization functions.
 *
 * IDENTIFICATION
 *	  src/clv/clv_interval.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "clm.h"
#include "clv_input.h"
#include "clv_predict.h"
#include "optim.h"

PG_FUNCTION_INFO_V1(clm_bgnbd_covariance_trans);
PG_FUNCTION_INFO_V1(clm_bgnbd_covariance_combine);
PG_FUNCTION_INFO_V1(clm_bgnbd_covariance_final);
PG_FUNCTION_INFO_V1(clm_gamma_gamma_covariance_trans);
PG_FUNCTION_INFO_V1(clm_gamma_gamma_covariance_combine);
PG_FUNCTION_INFO_V1(clm_gamma_gamma_covariance_final);
PG_FUNCTION_INFO_V1(clm_clv_interval);
PG_FUNCTION_INFO_V1(clm_paretonbd_covariance_trans);
PG_FUNCTION_INFO_V1(clm_paretonbd_covariance_combine);
PG_FUNCTION_INFO_V1(clm_paretonbd_covariance_final);
PG_FUNCTION_INFO_V1(clm_paretonbd_expected_purchases_interval);
PG_FUNCTION_INFO_V1(clm_paretonbd_p_alive_interval);
PG_FUNCTION_INFO_V1(clm_paretonbd_total_interval_trans);
PG_FUNCTION_INFO_V1(clm_paretonbd_total_interval_combine);
PG_FUNCTION_INFO_V1(clm_paretonbd_total_interval_final);
PG_FUNCTION_INFO_V1(clm_bgnbd_expected_purchases_interval);
PG_FUNCTION_INFO_V1(clm_bgnbd_p_alive_interval);
PG_FUNCTION_INFO_V1(clm_bgnbd_total_interval_trans);
PG_FUNCTION_INFO_V1(clm_bgnbd_total_interval_combine);
PG_FUNCTION_INFO_V1(clm_bgnbd_total_interval_final);

/* clv_fit.c: one customer's log-likelihoods, arguments checked */
extern Datum clm_bgnbd_log_likelihood(PG_FUNCTION_ARGS);
extern Datum clm_gamma_gamma_log_likelihood(PG_FUNCTION_ARGS);
extern Datum clm_paretonbd_log_likelihood(PG_FUNCTION_ARGS);

#define NP 4					/* BG/NBD parameters: r, alpha, a, b; and
								 * Pareto/NBD: r, alpha, s, beta */
#define GP 3					/* Gamma-Gamma parameters: p, q, gamma */
#define MAXP (NP + GP)			/* the CLV depends on both */

/*
 * Layout of the covariance state of a model of np parameters: the model's
 * parameters, then the sums: the weight and the observed information in
 * log-parameters (row-major).
 */
#define COV_LEN(np)	((np) + 1 + (np) * (np))

/*
 * Layout of the total's state: level, parameters and covariance (the same
 * on every row), then the sums: the estimate and its gradient.
 */
#define TOT_HEAD	(1 + NP + NP * NP)
#define TOT_LEN		(TOT_HEAD + 1 + NP)

#define COV_SAME_MSG "every row must pass the same model"
#define TOT_SAME_MSG "every row must pass the same model, covariance and level"

/* Log-parameter step of the finite-difference Hessian (as in the fits). */
#define HESS_STEP	1e-4
/* Relative parameter step of the finite-difference gradients. */
#define GRAD_STEP	1e-5

/* ---------- arrays ---------- */

/* The elements of a float8 state array (length checked by the callers). */
static double *
state_values(ArrayType *a, int *n)
{
	if (ARR_NDIM(a) > 1 || ARR_HASNULL(a) || ARR_ELEMTYPE(a) != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid state of a clm interval aggregate")));
	*n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
	return (double *) ((char *) a + ARR_OVERHEAD_NONULLS(ARR_NDIM(a)));
}

static Datum
float8_array(const double *v, int n)
{
	Datum	   *d = palloc(n * sizeof(Datum));

	for (int i = 0; i < n; i++)
		d[i] = Float8GetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, FLOAT8OID, sizeof(float8),
										   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * combine_states
 *		Merge two states of length len whose first head values must be equal
 *		(the model, and for the total the covariance and level): the rest
 *		are sums.  An empty array is the empty state.
 */
static Datum
combine_states(FunctionCallInfo fcinfo, int len, int head, const char *same_msg)
{
	int			n1,
				n2;
	double	   *s1 = state_values(PG_GETARG_ARRAYTYPE_P(0), &n1);
	double	   *s2 = state_values(PG_GETARG_ARRAYTYPE_P(1), &n2);
	double		out[Max(TOT_LEN, COV_LEN(MAXP))];

	if (n2 == 0)
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	if (n1 == 0)
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));
	if (n1 != len || n2 != len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid state of a clm interval aggregate")));
	if (memcmp(s1, s2, head * sizeof(double)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", same_msg)));
	for (int i = 0; i < len; i++)
		out[i] = i < head ? s1[i] : s1[i] + s2[i];
	PG_RETURN_DATUM(float8_array(out, len));
}

/* ---------- the covariance ---------- */

/* One customer's log-likelihood at log-parameters theta, data as given. */
typedef double (*row_ll_fn) (const double *theta, const double *data);

static double
bgnbd_ll(const double *theta, const double *data)
{
	return DatumGetFloat8(DirectFunctionCall7(clm_bgnbd_log_likelihood,
											  Float8GetDatum(exp(theta[0])),
											  Float8GetDatum(exp(theta[1])),
											  Float8GetDatum(exp(theta[2])),
											  Float8GetDatum(exp(theta[3])),
											  Float8GetDatum(data[0]),
											  Float8GetDatum(data[1]),
											  Float8GetDatum(data[2])));
}

static double
paretonbd_ll(const double *theta, const double *data)
{
	return DatumGetFloat8(DirectFunctionCall7(clm_paretonbd_log_likelihood,
											  Float8GetDatum(exp(theta[0])),
											  Float8GetDatum(exp(theta[1])),
											  Float8GetDatum(exp(theta[2])),
											  Float8GetDatum(exp(theta[3])),
											  Float8GetDatum(data[0]),
											  Float8GetDatum(data[1]),
											  Float8GetDatum(data[2])));
}

static double
gamma_gamma_ll(const double *theta, const double *data)
{
	return DatumGetFloat8(DirectFunctionCall5(clm_gamma_gamma_log_likelihood,
											  Float8GetDatum(exp(theta[0])),
											  Float8GetDatum(exp(theta[1])),
											  Float8GetDatum(exp(theta[2])),
											  Float8GetDatum(data[0]),
											  Float8GetDatum(data[1])));
}

/*
 * covariance_trans
 *		Transition of the covariance aggregates: add the customer's observed
 *		information, minus the central-difference Hessian of its
 *		log-likelihood in log-parameters, at the model's np parameters m,
 *		weighted by w.  Log space is where the fits take their Hessian, so at
 *		a fitted model the square roots of the diagonal are the fit's
 *		standard errors.
 */
static Datum
covariance_trans(FunctionCallInfo fcinfo, int np, const double *m,
				 row_ll_fn ll, const double *data, double w)
{
	int			n;
	double	   *st = state_values(PG_GETARG_ARRAYTYPE_P(0), &n);
	double		out[COV_LEN(MAXP)];
	double		theta[MAXP],
				f0;
	double	   *info = out + np + 1;
	const double h = HESS_STEP;

	clm_check_finite_float8(w, "weight");
	if (w < 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("weight must not be negative"),
				 errdetail("The value is %g.", w)));
	if (n == 0)
	{
		memset(out, 0, sizeof(out));
		memcpy(out, m, np * sizeof(double));
	}
	else if (n != COV_LEN(np))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid state of a clm interval aggregate")));
	else
	{
		if (memcmp(st, m, np * sizeof(double)) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg(COV_SAME_MSG)));
		memcpy(out, st, COV_LEN(np) * sizeof(double));
	}
	if (w == 0.0 || ll == NULL)
		PG_RETURN_DATUM(float8_array(out, COV_LEN(np)));

	for (int i = 0; i < np; i++)
		theta[i] = log(m[i]);
	f0 = ll(theta, data);
	for (int i = 0; i < np; i++)
	{
		for (int j = i; j < np; j++)
		{
			double		hij;

			if (i == j)
			{
				double		fp,
							fm;

				theta[i] += h;
				fp = ll(theta, data);
				theta[i] -= 2 * h;
				fm = ll(theta, data);
				theta[i] = log(m[i]);
				hij = (fp - 2 * f0 + fm) / (h * h);
			}
			else
			{
				double		f[4];

				for (int k = 0; k < 4; k++)
				{
					theta[i] += (k < 2 ? h : -h);
					theta[j] += (k % 2 == 0 ? h : -h);
					f[k] = ll(theta, data);
					theta[i] = log(m[i]);
					theta[j] = log(m[j]);
				}
				hij = (f[0] - f[1] - f[2] + f[3]) / (4 * h * h);
			}
			info[i * np + j] -= w * hij;
			if (i != j)
				info[j * np + i] -= w * hij;
		}
	}
	out[np] += w;
	PG_RETURN_DATUM(float8_array(out, COV_LEN(np)));
}

/*
 * covariance_final
 *		Final function of the covariance aggregates: the inverse of the
 *		information in log-parameters, carried to the parameters themselves
 *		(Cov(p_i, p_j) = p_i p_j Cov(log p_i, log p_j)), as an np x np array
 *		in the order of the model's fields, made exactly symmetric (the
 *		inverse is so only to rounding).  NULL for no rows, and where the
 *		information is not positive definite (the fits report NULL standard
 *		errors then).
 */
static Datum
covariance_final(FunctionCallInfo fcinfo, int np)
{
	int			n;
	double	   *st = state_values(PG_GETARG_ARRAYTYPE_P(0), &n);
	double		inv[MAXP * MAXP];
	Datum		d[MAXP * MAXP];
	int			dims[2] = {np, np};
	int			lbs[2] = {1, 1};

	if (n != COV_LEN(np) || !(st[np] > 0.0) ||
		!clm_spd_inverse(np, st + np + 1, inv))
		PG_RETURN_NULL();
	for (int i = 0; i < np; i++)
		for (int j = 0; j < np; j++)
		{
			double		v = st[i] * st[j] * (inv[i * np + j] + inv[j * np + i]) / 2;

			if (!isfinite(v))
				PG_RETURN_NULL();
			d[i * np + j] = Float8GetDatum(v);
		}
	PG_RETURN_ARRAYTYPE_P(construct_md_array(d, NULL, 2, dims, lbs, FLOAT8OID,
											 sizeof(float8), FLOAT8PASSBYVAL,
											 TYPALIGN_DOUBLE));
}

/* The covariance transition of a (x, t_x, t) model: BG/NBD, Pareto/NBD. */
static Datum
btyd_covariance_trans(FunctionCallInfo fcinfo, const double *m, row_ll_fn ll)
{
	double		data[3];

	data[0] = PG_GETARG_FLOAT8(2);
	data[1] = PG_GETARG_FLOAT8(3);
	data[2] = PG_GETARG_FLOAT8(4);
	clv_check_btyd_history(data[0], data[1], data[2]);
	return covariance_trans(fcinfo, NP, m, ll, data,
							PG_NARGS() > 5 ? PG_GETARG_FLOAT8(5) : 1.0);
}

/* clm.bgnbd_covariance(model, x, t_x, t [, weight]) transition */
Datum
clm_bgnbd_covariance_trans(PG_FUNCTION_ARGS)
{
	return btyd_covariance_trans(fcinfo, clv_bgnbd_model_params(fcinfo, 1), bgnbd_ll);
}

/* clm.paretonbd_covariance(model, x, t_x, t [, weight]) transition */
Datum
clm_paretonbd_covariance_trans(PG_FUNCTION_ARGS)
{
	return btyd_covariance_trans(fcinfo, clv_paretonbd_model_params(fcinfo, 1), paretonbd_ll);
}

/* Combine function of clm.paretonbd_covariance. */
Datum
clm_paretonbd_covariance_combine(PG_FUNCTION_ARGS)
{
	return combine_states(fcinfo, COV_LEN(NP), NP, COV_SAME_MSG);
}

/* Final function of clm.paretonbd_covariance: 4 x 4, r, alpha, s, beta. */
Datum
clm_paretonbd_covariance_final(PG_FUNCTION_ARGS)
{
	return covariance_final(fcinfo, NP);
}

/* Combine function of clm.bgnbd_covariance. */
Datum
clm_bgnbd_covariance_combine(PG_FUNCTION_ARGS)
{
	return combine_states(fcinfo, COV_LEN(NP), NP, COV_SAME_MSG);
}

/* Final function of clm.bgnbd_covariance: 4 x 4, r, alpha, a, b. */
Datum
clm_bgnbd_covariance_final(PG_FUNCTION_ARGS)
{
	return covariance_final(fcinfo, NP);
}

/*
 * clm.gamma_gamma_covariance(model, x, mean_spend [, weight]) transition;
 * a customer without repeat purchases carries no spend information (the
 * fit skips the row) and adds nothing.
 */
Datum
clm_gamma_gamma_covariance_trans(PG_FUNCTION_ARGS)
{
	const double *m = clv_gamma_gamma_model_params(fcinfo, 1);
	double		data[2];

	data[0] = PG_GETARG_FLOAT8(2);
	data[1] = PG_GETARG_FLOAT8(3);
	clv_check_spend(data[0], data[1]);
	return covariance_trans(fcinfo, GP, m, data[0] > 0 ? gamma_gamma_ll : NULL, data,
							PG_NARGS() > 4 ? PG_GETARG_FLOAT8(4) : 1.0);
}

/* Combine function of clm.gamma_gamma_covariance. */
Datum
clm_gamma_gamma_covariance_combine(PG_FUNCTION_ARGS)
{
	return combine_states(fcinfo, COV_LEN(GP), GP, COV_SAME_MSG);
}

/* Final function of clm.gamma_gamma_covariance: 3 x 3, p, q, gamma. */
Datum
clm_gamma_gamma_covariance_final(PG_FUNCTION_ARGS)
{
	return covariance_final(fcinfo, GP);
}

/* ---------- checking the covariance and the level ---------- */

/*
 * check_covariance
 *		Read the covariance argument argname of a model of np parameters
 *		into cov: an np x np matrix of finite numbers, symmetric and
 *		positive semi-definite (a Cholesky factorisation that allows zero
 *		pivots only where the rest of the column is zero, with a relative
 *		rounding tolerance).  aggregate names where it comes from.
 */
static void
check_covariance(ArrayType *a, int np, const char *argname,
				 const char *aggregate, double *cov)
{
	Datum	   *d;
	bool	   *nulls;
	int			n;
	double		L[MAXP][MAXP];
	double		scale = 0.0,
				tol;

	if (ARR_ELEMTYPE(a) != FLOAT8OID || ARR_NDIM(a) != 2 ||
		ARR_DIMS(a)[0] != np || ARR_DIMS(a)[1] != np)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a %d by %d matrix", argname, np, np),
				 errdetail("The array has %d dimension(s) and %d element(s).",
						   ARR_NDIM(a), ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a))),
				 errhint("Pass the result of %s for the same model.", aggregate)));
	deconstruct_array(a, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &d, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL", argname)));
		cov[i] = DatumGetFloat8(d[i]);
		if (!isfinite(cov[i]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("%s must contain only finite numbers", argname),
					 errdetail("Element %d is %g.", i + 1, cov[i])));
	}
	for (int i = 0; i < np; i++)
		scale = Max(scale, fabs(cov[i * np + i]));
	for (int i = 0; i < np; i++)
		for (int j = 0; j < i; j++)
			if (fabs(cov[i * np + j] - cov[j * np + i]) >
				1e-9 * Max(fabs(cov[i * np + j]), fabs(cov[j * np + i])))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s must be symmetric", argname),
						 errdetail("Element [%d][%d] is %g and element [%d][%d] is %g.",
								   i + 1, j + 1, cov[i * np + j], j + 1, i + 1, cov[j * np + i])));

	tol = 1e-12 * scale;
	for (int j = 0; j < np; j++)
	{
		double		s = cov[j * np + j];

		for (int k = 0; k < j; k++)
			s -= L[j][k] * L[j][k];
		if (s < -tol)
			goto not_psd;
		L[j][j] = s > tol ? sqrt(s) : 0.0;
		for (int i = j + 1; i < np; i++)
		{
			double		r = cov[i * np + j];

			for (int k = 0; k < j; k++)
				r -= L[i][k] * L[j][k];
			if (L[j][j] == 0.0)
			{
				if (fabs(r) > sqrt(tol * scale) + tol)
					goto not_psd;
				L[i][j] = 0.0;
			}
			else
				L[i][j] = r / L[j][j];
		}
	}
	return;

not_psd:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s must be positive semi-definite", argname),
			 errhint("Pass the result of %s for the same model.", aggregate)));
}

/* The normal quantile of a level in (0, 1): z with P(|Z| <= z) = level. */
static double
level_z(double level)
{
	double		p,
				q,
				r,
				z;

	clm_check_finite_float8(level, "level");
	if (!(level > 0.0 && level < 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("level must be between 0 and 1, exclusive"),
				 errdetail("The value is %g.", level)));

	/*
	 * Acklam's rational approximation of the upper quantile at
	 * p = (1 - level) / 2 (relative error 1.2e-9), then one Halley step on
	 * erfc, which leaves it exact to rounding.
	 */
	p = (1.0 - level) / 2.0;
	if (p < 0.02425)
	{
		q = sqrt(-2 * log(p));
		z = -(((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838e+00) * q - 2.549732539343734e+00) * q + 4.374664141464968e+00) * q + 2.938163982698783e+00) /
			((((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996e+00) * q + 3.754408661907416e+00) * q + 1.0);
	}
	else
	{
		q = p - 0.5;
		r = q * q;
		z = -(((((-3.969683028665376e+01 * r + 2.209460984245205e+02) * r - 2.759285104469687e+02) * r + 1.383577518672690e+02) * r - 3.066479806614716e+01) * r + 2.506628277459239e+00) * q /
			(((((-5.447609879822406e+01 * r + 1.615858368580409e+02) * r - 1.556989798598866e+02) * r + 6.680131188771972e+01) * r - 1.328068155288572e+01) * r + 1.0);
	}
	/* z is the upper quantile: P(Z > z) = p; refine */
	{
		double		e = 0.5 * erfc(z / M_SQRT2) - p;
		double		u = e * sqrt(2 * M_PI) * exp(z * z / 2);

		z = z + u / (1 + z * u / 2);
	}
	return z;
}

/* ---------- intervals ---------- */

/* A prediction at parameters m for the arguments in args. */
typedef double (*prediction_fn) (const double *m, const double *args);

static double
pred_expected_purchases(const double *m, const double *args)
{
	return clv_bgnbd_expected_purchases_at(m, args[0], args[1], args[2], args[3]);
}

static double
pred_p_alive(const double *m, const double *args)
{
	return clv_bgnbd_p_alive_at(m, args[1], args[2], args[3]);
}

static double
pred_pn_expected_purchases(const double *m, const double *args)
{
	return clv_paretonbd_expected_purchases_at(m, args[0], args[1], args[2], args[3]);
}

static double
pred_pn_p_alive(const double *m, const double *args)
{
	return clv_paretonbd_p_alive_at(m, args[1], args[2], args[3]);
}

/*
 * CLV at m = (r, alpha, a, b, p, q, gamma), args = (x, t_x, t, mean_spend,
 * months, monthly discount rate, model time units per month).
 */
static double
pred_clv(const double *m, const double *args)
{
	return clv_clv_at(m, m + NP, args[0], args[1], args[2], args[3],
					  (int32) args[4], args[5], args[6]);
}

/*
 * prediction_gradient
 *		The prediction at m (np parameters) and its gradient in the
 *		parameters by central differences with a relative step.
 */
static double
prediction_gradient(prediction_fn fn, int np, const double *m,
					const double *args, double *grad)
{
	double		p[MAXP];
	double		f = fn(m, args);

	if (!isfinite(f))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the prediction is not finite for these parameters and data")));
	memcpy(p, m, np * sizeof(double));
	for (int i = 0; i < np; i++)
	{
		double		h = GRAD_STEP * m[i];
		double		fp,
					fm;

		p[i] = m[i] + h;
		fp = fn(p, args);
		p[i] = m[i] - h;
		fm = fn(p, args);
		p[i] = m[i];
		grad[i] = (fp - fm) / (2 * h);
		if (!isfinite(grad[i]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("the gradient of the prediction is not finite for these parameters and data")));
	}
	return f;
}

/*
 * interval_result
 *		The clm.prediction_interval (estimate, std_error, lower, upper) of
 *		an estimate with gradient grad in np parameters of covariance cov:
 *		se = sqrt(grad' cov grad), the bounds estimate -/+ z se kept within
 *		[lo, hi], the range of the quantity.
 */
static Datum
interval_result(FunctionCallInfo fcinfo, double est, int np, const double *grad,
				const double *cov, double z, double lo, double hi)
{
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	double		var = 0.0,
				se;

	for (int i = 0; i < np; i++)
		for (int j = 0; j < np; j++)
			var += grad[i] * cov[i * np + j] * grad[j];
	se = sqrt(Max(var, 0.0));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = Float8GetDatum(est);
	values[1] = Float8GetDatum(se);
	values[2] = Float8GetDatum(Max(est - z * se, lo));
	values[3] = Float8GetDatum(Min(est + z * se, hi));
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/*
 * customer_interval
 *		One customer's prediction fn of the (x, t_x, t) model m with its
 *		delta-method interval, from the arguments (model, covariance,
 *		[horizon,] x, t_x, t, level); covagg names the covariance aggregate.
 */
static Datum
customer_interval(FunctionCallInfo fcinfo, const double *m, prediction_fn fn,
				  bool horizon, const char *covagg, double hi)
{
	double		cov[NP * NP],
				grad[NP],
				args[4],
				z,
				est;
	int			k = 2;

	check_covariance(PG_GETARG_ARRAYTYPE_P(1), NP, "covariance", covagg, cov);
	args[0] = horizon ? PG_GETARG_FLOAT8(k++) : 0.0;
	args[1] = PG_GETARG_FLOAT8(k++);
	args[2] = PG_GETARG_FLOAT8(k++);
	args[3] = PG_GETARG_FLOAT8(k++);
	z = level_z(PG_GETARG_FLOAT8(k));
	if (horizon)
		clv_check_horizon(args[0]);
	clv_check_btyd_history(args[1], args[2], args[3]);
	est = prediction_gradient(fn, NP, m, args, grad);
	return interval_result(fcinfo, est, NP, grad, cov, z, 0.0, hi);
}

/* clm.bgnbd_expected_purchases_interval(model, covariance, horizon, x, t_x, t, level) */
Datum
clm_bgnbd_expected_purchases_interval(PG_FUNCTION_ARGS)
{
	return customer_interval(fcinfo, clv_bgnbd_model_params(fcinfo, 0),
							 pred_expected_purchases, true, "clm.bgnbd_covariance", INFINITY);
}

/* clm.bgnbd_p_alive_interval(model, covariance, x, t_x, t, level), within [0, 1] */
Datum
clm_bgnbd_p_alive_interval(PG_FUNCTION_ARGS)
{
	return customer_interval(fcinfo, clv_bgnbd_model_params(fcinfo, 0),
							 pred_p_alive, false, "clm.bgnbd_covariance", 1.0);
}

/* clm.paretonbd_expected_purchases_interval(model, covariance, horizon, x, t_x, t, level) */
Datum
clm_paretonbd_expected_purchases_interval(PG_FUNCTION_ARGS)
{
	return customer_interval(fcinfo, clv_paretonbd_model_params(fcinfo, 0),
							 pred_pn_expected_purchases, true, "clm.paretonbd_covariance", INFINITY);
}

/* clm.paretonbd_p_alive_interval(model, covariance, x, t_x, t, level), within [0, 1] */
Datum
clm_paretonbd_p_alive_interval(PG_FUNCTION_ARGS)
{
	return customer_interval(fcinfo, clv_paretonbd_model_params(fcinfo, 0),
							 pred_pn_p_alive, false, "clm.paretonbd_covariance", 1.0);
}

/*
 * total_interval_trans
 *		Transition of the total aggregates (model, covariance, horizon, x,
 *		t_x, t [, level]): add the customer's expected purchases fn at model
 *		m and their gradient.  The first row's level, model and covariance
 *		are checked and kept; every later row must pass the same.
 */
static Datum
total_interval_trans(FunctionCallInfo fcinfo, const double *m, prediction_fn fn,
					 const char *covagg)
{
	int			n;
	double	   *st = state_values(PG_GETARG_ARRAYTYPE_P(0), &n);
	ArrayType  *cova = PG_GETARG_ARRAYTYPE_P(2);
	double		level = PG_NARGS() > 7 ? PG_GETARG_FLOAT8(7) : 0.9;
	double		out[TOT_LEN];
	double		args[4],
				grad[NP];

	args[0] = PG_GETARG_FLOAT8(3);
	args[1] = PG_GETARG_FLOAT8(4);
	args[2] = PG_GETARG_FLOAT8(5);
	args[3] = PG_GETARG_FLOAT8(6);
	if (n == 0)
	{
		memset(out, 0, sizeof(out));
		(void) level_z(level);
		out[0] = level;
		memcpy(out + 1, m, NP * sizeof(double));
		check_covariance(cova, NP, "covariance", covagg, out + 1 + NP);
	}
	else if (n != TOT_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid state of a clm interval aggregate")));
	else
	{
		double		cov[NP * NP];
		int			nc = ArrayGetNItems(ARR_NDIM(cova), ARR_DIMS(cova));

		memcpy(out, st, sizeof(out));
		if (ARR_ELEMTYPE(cova) != FLOAT8OID || ARR_HASNULL(cova) || nc != NP * NP)
			check_covariance(cova, NP, "covariance", covagg, cov);	/* raises */
		memcpy(cov, (char *) cova + ARR_OVERHEAD_NONULLS(ARR_NDIM(cova)), sizeof(cov));
		if (level != st[0] || memcmp(m, st + 1, NP * sizeof(double)) != 0 ||
			memcmp(cov, st + 1 + NP, sizeof(cov)) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg(TOT_SAME_MSG)));
	}
	clv_check_horizon(args[0]);
	clv_check_btyd_history(args[1], args[2], args[3]);
	out[TOT_HEAD] += prediction_gradient(fn, NP, m, args, grad);
	for (int i = 0; i < NP; i++)
		out[TOT_HEAD + 1 + i] += grad[i];
	PG_RETURN_DATUM(float8_array(out, TOT_LEN));
}

/* Transition of clm.bgnbd_expected_purchases_total_interval. */
Datum
clm_bgnbd_total_interval_trans(PG_FUNCTION_ARGS)
{
	return total_interval_trans(fcinfo, clv_bgnbd_model_params(fcinfo, 1),
								pred_expected_purchases, "clm.bgnbd_covariance");
}

/* Transition of clm.paretonbd_expected_purchases_total_interval. */
Datum
clm_paretonbd_total_interval_trans(PG_FUNCTION_ARGS)
{
	return total_interval_trans(fcinfo, clv_paretonbd_model_params(fcinfo, 1),
								pred_pn_expected_purchases, "clm.paretonbd_covariance");
}

/* Combine function of clm.paretonbd_expected_purchases_total_interval. */
Datum
clm_paretonbd_total_interval_combine(PG_FUNCTION_ARGS)
{
	return combine_states(fcinfo, TOT_LEN, TOT_HEAD, TOT_SAME_MSG);
}

/* Final function of clm.paretonbd_expected_purchases_total_interval. */
Datum
clm_paretonbd_total_interval_final(PG_FUNCTION_ARGS)
{
	return clm_bgnbd_total_interval_final(fcinfo);
}

/* Combine function of clm.bgnbd_expected_purchases_total_interval. */
Datum
clm_bgnbd_total_interval_combine(PG_FUNCTION_ARGS)
{
	return combine_states(fcinfo, TOT_LEN, TOT_HEAD, TOT_SAME_MSG);
}

/*
 * Final function of clm.bgnbd_expected_purchases_total_interval: the
 * total and its interval from the summed gradient; NULL for no rows.
 */
Datum
clm_bgnbd_total_interval_final(PG_FUNCTION_ARGS)
{
	int			n;
	double	   *st = state_values(PG_GETARG_ARRAYTYPE_P(0), &n);

	if (n != TOT_LEN)
		PG_RETURN_NULL();
	return interval_result(fcinfo, st[TOT_HEAD], NP, st + TOT_HEAD + 1, st + 1 + NP,
						   level_z(st[0]), 0.0, INFINITY);
}

/*
 * clm.clv_interval(bgnbd, gamma_gamma, bgnbd_covariance,
 * gamma_gamma_covariance, x, t_x, t, mean_spend, horizon_months,
 * monthly_discount_rate, unit_days, level): clm.clv with its delta-method
 * interval over the seven parameters.  The two models are fitted
 * separately, on different data (purchase timing, and the spend of repeat
 * buyers), so their estimates are taken as independent: the covariance is
 * block-diagonal.
 */
Datum
clm_clv_interval(PG_FUNCTION_ARGS)
{
	const double *bg = clv_bgnbd_model_params(fcinfo, 0);
	const double *gg = clv_gamma_gamma_model_params(fcinfo, 1);
	double		m[MAXP],
				bcov[NP * NP],
				gcov[GP * GP],
				cov[MAXP * MAXP],
				grad[MAXP],
				args[7],
				z,
				est;

	check_covariance(PG_GETARG_ARRAYTYPE_P(2), NP, "bgnbd_covariance",
					 "clm.bgnbd_covariance", bcov);
	check_covariance(PG_GETARG_ARRAYTYPE_P(3), GP, "gamma_gamma_covariance",
					 "clm.gamma_gamma_covariance", gcov);
	args[0] = PG_GETARG_FLOAT8(4);
	args[1] = PG_GETARG_FLOAT8(5);
	args[2] = PG_GETARG_FLOAT8(6);
	args[3] = PG_GETARG_FLOAT8(7);
	args[4] = PG_GETARG_INT32(8);
	args[5] = PG_GETARG_FLOAT8(9);
	z = level_z(PG_GETARG_FLOAT8(11));
	clv_check_btyd_history(args[0], args[1], args[2]);
	clv_check_spend(args[0], args[3]);
	args[6] = clv_check_clv_terms(PG_GETARG_INT32(8), args[5], PG_GETARG_FLOAT8(10));

	memcpy(m, bg, NP * sizeof(double));
	memcpy(m + NP, gg, GP * sizeof(double));
	memset(cov, 0, sizeof(cov));
	for (int i = 0; i < NP; i++)
		for (int j = 0; j < NP; j++)
			cov[i * MAXP + j] = bcov[i * NP + j];
	for (int i = 0; i < GP; i++)
		for (int j = 0; j < GP; j++)
			cov[(NP + i) * MAXP + NP + j] = gcov[i * GP + j];
	est = prediction_gradient(pred_clv, MAXP, m, args, grad);
	return interval_result(fcinfo, est, MAXP, grad, cov, z, 0.0, INFINITY);
}
