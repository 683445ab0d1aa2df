/*-------------------------------------------------------------------------
 *
 * rfm_numeric.h
 *	  Reading a numeric amount as an exact integer count of base-10000 digit
 *	  groups, for the RFM aggregates (rfm_numeric.c).
 *
 * IDENTIFICATION
 *	  src/rfm/rfm_numeric.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_RFM_NUMERIC_H
#define CLM_RFM_NUMERIC_H

#include "fmgr.h"

/*
 * The RFM aggregates keep exact sums of up to 38 digits in a 128-bit
 * integer (clm.rfm_state stores one), so clm cannot be built without one.
 */
#ifndef HAVE_INT128
#error "clm's RFM aggregates need a C compiler with a 128-bit integer type (HAVE_INT128)"
#endif

/* the decimal digits in one of numeric's base-10000 digit groups */
#define RFM_DEC_DIGITS		4

/*
 * The most digit groups an amount may have (36 decimal digits), and at most
 * RFM_MAX_GROUPS - 1 of them after the decimal point: 10000^9 = 1e36 leaves
 * a sum room for 100 times that below 2^127.
 */
#define RFM_MAX_GROUPS		9

/*
 * A parsed numeric amount: its digits as an integer, the number of
 * fractional base-10000 digit groups they stand for (negative when the
 * digits end before the units), the display scale and the sign.
 */
typedef struct RfmDecimal
{
	int128		digits;			/* absolute value of the digits */
	int			frac_groups;	/* value = digits * 10000^-frac_groups */
	int			int_groups;		/* base-10000 groups before the point */
	int			dscale;
	bool		negative;
} RfmDecimal;

/*
 * rfm_pow
 *		10000^k as int128, 0 <= k <= RFM_MAX_GROUPS.
 */
static inline int128
rfm_pow(int k)
{
	static const int128 pow_nbase[RFM_MAX_GROUPS + 1] = {
		1,
		INT64CONST(10000),
		INT64CONST(100000000),
		INT64CONST(1000000000000),
		INT64CONST(10000000000000000),
		(int128) INT64CONST(10000000000000000) * INT64CONST(10000),
		(int128) INT64CONST(10000000000000000) * INT64CONST(100000000),
		(int128) INT64CONST(10000000000000000) * INT64CONST(1000000000000),
		(int128) INT64CONST(10000000000000000) * INT64CONST(10000000000000000),
		(int128) INT64CONST(10000000000000000) * INT64CONST(10000000000000000) * INT64CONST(10000)
	};

	Assert(k >= 0 && k <= RFM_MAX_GROUPS);
	return pow_nbase[k];
}

/*
 * Parse a numeric amount for rfm_add_decimal; errors for NaN, infinities and
 * amounts beyond RFM_MAX_GROUPS digit groups.
 */
extern void rfm_read_numeric(Datum d, RfmDecimal *out);

/*
 * The same without errors: false for NaN, infinities and amounts beyond
 * RFM_MAX_GROUPS digit groups, which the caller reports in its own words.
 */
extern bool rfm_read_numeric_in_range(Datum d, RfmDecimal *out);

/*
 * A numeric as a double, from its digits (the same numeric always gives the
 * same double); NaN, infinities and long numbers go through
 * numeric_float8_no_overflow.
 */
extern double rfm_numeric_to_double(Datum d);

#endif							/* CLM_RFM_NUMERIC_H */
