/*-------------------------------------------------------------------------
 *
 * clv_predict.h
 *	  What the prediction intervals (clv_interval.c) take from the
 *	  predictions (clv_predict.c): model decoding and the predictions at
 *	  given parameters.
 *
 * IDENTIFICATION
 *	  src/clv/clv_predict.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_CLV_PREDICT_H
#define CLM_CLV_PREDICT_H

#include "fmgr.h"

extern const double *clv_bgnbd_model_params(FunctionCallInfo fcinfo, int argno);
extern void clv_check_horizon(double h);
extern double clv_bgnbd_p_alive_at(const double *m, double x, double t_x, double t);
extern double clv_bgnbd_expected_purchases_at(const double *m, double h, double x,
											  double t_x, double t);
extern const double *clv_paretonbd_model_params(FunctionCallInfo fcinfo, int argno);
extern double clv_paretonbd_p_alive_at(const double *m, double x, double t_x, double t);
extern double clv_paretonbd_expected_purchases_at(const double *m, double h, double x,
												  double t_x, double t);
extern const double *clv_gamma_gamma_model_params(FunctionCallInfo fcinfo, int argno);
extern double clv_check_clv_terms(int32 months, double d, double unit_days);
extern double clv_clv_at(const double *bg, const double *gg, double x, double t_x,
						 double t, double mean_spend, int32 months, double d, double f);

#endif							/* CLM_CLV_PREDICT_H */
