/*
 * btyd_gen.c: simulate a customer base from known BG/NBD (or Pareto/NBD)
 * and Gamma-Gamma parameters, for the parameter-recovery test and the
 * benchmark of the CLV fits.  Deterministic: the same arguments give the same
 * file on every machine (own PRNG, no libc rand).
 *
 *   cc -O2 -o btyd_gen btyd_gen.c -lm
 *   ./btyd_gen MODEL N SEED R ALPHA A_OR_S B_OR_BETA TMIN_DAYS TMAX_DAYS P Q GAMMA
 *
 * MODEL is bgnbd or paretonbd; ALPHA (and BETA) are in weeks.  Output CSV,
 * no header: id, x, t_x_days, t_days, mean_spend.  Each customer's T is a
 * whole number of days drawn uniformly from [TMIN_DAYS, TMAX_DAYS]; the
 * last repeat purchase t_x is rounded to a whole day (day resolution, as a
 * summary built from dated orders would be), and mean_spend to cents (0 when
 * x = 0).
 *
 * BG/NBD (Fader, Hardie and Lee 2005): lambda ~ Gamma(r, rate alpha),
 * p ~ Beta(a, b); purchases arrive as a Poisson process of rate lambda and
 * after each repeat purchase the customer drops out with probability p.
 * Simulating the process event by event is exact and equivalent to the
 * vectorised recipe x = min(N, K), t_x = x-th order statistic.
 * Pareto/NBD: lambda as above, mu ~ Gamma(s, rate beta), lifetime ~ Exp(mu).
 * Gamma-Gamma: nu ~ Gamma(q, rate gamma); the mean of x spends
 * z ~ Gamma(p, rate nu) is Gamma(p x, rate nu x).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t s[4];

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static uint64_t
next_u64(void)
{
	uint64_t	result = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

static void
seed_rng(uint64_t seed)
{
	for (int i = 0; i < 4; i++)
	{
		uint64_t	z = (seed += 0x9E3779B97F4A7C15ULL);

		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
		s[i] = z ^ (z >> 31);
	}
}

/* uniform on (0, 1), never 0 or 1 */
static double
unif(void)
{
	return ((double) (next_u64() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* standard normal, Marsaglia polar method (one value per call) */
static double
norm(void)
{
	double		u,
				v,
				q;

	do
	{
		u = 2.0 * unif() - 1.0;
		v = 2.0 * unif() - 1.0;
		q = u * u + v * v;
	} while (q >= 1.0 || q == 0.0);
	return u * sqrt(-2.0 * log(q) / q);
}

/* Gamma(shape k, scale 1): Marsaglia and Tsang, boosted for k < 1 */
static double
gamma_rv(double k)
{
	double		d,
				c;

	if (k < 1.0)
		return gamma_rv(k + 1.0) * pow(unif(), 1.0 / k);
	d = k - 1.0 / 3.0;
	c = 1.0 / sqrt(9.0 * d);
	for (;;)
	{
		double		x = norm(),
					v = 1.0 + c * x,
					u;

		if (v <= 0)
			continue;
		v = v * v * v;
		u = unif();
		if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
			return d * v;
	}
}

static double
beta_rv(double a, double b)
{
	double		x = gamma_rv(a),
				y = gamma_rv(b);

	return x / (x + y);
}

int
main(int argc, char **argv)
{
	long		n;
	int			pareto;
	double		r,
				alpha,
				a,
				b,
				p,
				q,
				g;
	long		tmin,
				tmax;

	if (argc != 13)
	{
		fprintf(stderr, "usage: %s bgnbd|paretonbd N SEED R ALPHA A_OR_S B_OR_BETA TMIN_DAYS TMAX_DAYS P Q GAMMA\n", argv[0]);
		return 2;
	}
	pareto = strcmp(argv[1], "paretonbd") == 0;
	if (!pareto && strcmp(argv[1], "bgnbd") != 0)
	{
		fprintf(stderr, "model must be bgnbd or paretonbd\n");
		return 2;
	}
	n = atol(argv[2]);
	seed_rng(strtoull(argv[3], NULL, 10));
	r = atof(argv[4]);
	alpha = atof(argv[5]);
	a = atof(argv[6]);
	b = atof(argv[7]);
	tmin = atol(argv[8]);
	tmax = atol(argv[9]);
	p = atof(argv[10]);
	q = atof(argv[11]);
	g = atof(argv[12]);
	if (n < 0 || tmin < 0 || tmax < tmin || r <= 0 || alpha <= 0 || a <= 0 || b <= 0 ||
		p <= 0 || q <= 0 || g <= 0)
	{
		fprintf(stderr, "invalid arguments\n");
		return 2;
	}

	for (long id = 1; id <= n; id++)
	{
		long		t_days = tmin + (long) (unif() * (double) (tmax - tmin + 1));
		double		T = t_days / 7.0;
		double		lambda = gamma_rv(r) / alpha;
		double		t = 0.0,
					tx = 0.0,
					end = T,
					drop = 0.0;
		long		x = 0,
					tx_days = 0;
		double		m = 0.0;

		if (t_days > tmax)
			t_days = tmax;
		if (pareto)
		{
			double		mu = gamma_rv(a) / b;

			end = fmin(T, -log(unif()) / mu);
		}
		else
			drop = beta_rv(a, b);
		while (lambda > 0)
		{
			t += -log(unif()) / lambda;
			if (t > end)
				break;
			x++;
			tx = t;
			if (!pareto && unif() < drop)
				break;
		}
		if (x > 0)
		{
			double		nu = gamma_rv(q) / g;

			tx_days = lround(tx * 7.0);
			if (tx_days > t_days)
				tx_days = t_days;
			m = gamma_rv(p * x) / (nu * x);
			m = round(m * 100.0) / 100.0;
			if (m < 0.01)
				m = 0.01;
		}
		printf("%ld,%ld,%ld,%ld,%.2f\n", id, x, tx_days, t_days, m);
	}
	return 0;
}
