/*-------------------------------------------------------------------------
 *
 * rfm_numeric.c
 *	  Numeric amounts of the RFM aggregates as exact integers.
 *
 * clm.rfm_agg and clm.rfm_agg_by_customer add up money exactly without
 * numeric arithmetic: each amount becomes an integer count of base-10000
 * digit groups (RfmDecimal), which the state adds in an int128.  Reading
 * every amount through numeric_out and parsing the text would make
 * clm.rfm_agg ... GROUP BY over a million orders run a third more
 * instructions (callgrind), and clm.rfm_agg_by_customer half more, so the
 * digits are read from numeric's stored form, which pg_upgrade keeps fixed:
 *
 *   a uint16 header, then (long form only) an int16 weight, then the
 *   base-10000 digits as int16, most significant first, with no leading or
 *   trailing zero digit.  value = digits * 10000^(weight - ndigits + 1).
 *
 * The constants below name the header's fields as PostgreSQL's numeric type
 * defines them.  That fast path handles every finite number of at most
 * RFM_MAX_GROUPS digit groups; anything else (NaN, infinities, longer
 * numbers, a form it does not know) goes through the public interface
 * (numeric_is_nan, numeric_is_inf, numeric_out), which is also where the
 * errors for amounts come from.  sql/rfm_numeric.sql compares both with
 * numeric_out.
 *
 * IDENTIFICATION
 *	  src/rfm/rfm_numeric.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "compat.h"
#include "rfm_numeric.h"

/* the base of numeric's digit groups (10^RFM_DEC_DIGITS) */
#define RFM_NBASE					10000

/* the header of a stored numeric */
#define RFM_NUMERIC_SIGN_MASK		0xC000	/* the two top bits: the form */
#define RFM_NUMERIC_POS				0x0000	/* long form, positive */
#define RFM_NUMERIC_NEG				0x4000	/* long form, negative */
#define RFM_NUMERIC_SHORT			0x8000	/* short form */
#define RFM_NUMERIC_SPECIAL			0xC000	/* NaN or an infinity */
#define RFM_NUMERIC_DSCALE_MASK		0x3FFF	/* long form: display scale */

/* short form: sign, display scale and a 7-bit weight in the header */
#define RFM_NUMERIC_SHORT_SIGN_MASK			0x2000
#define RFM_NUMERIC_SHORT_DSCALE_MASK		0x1F80
#define RFM_NUMERIC_SHORT_DSCALE_SHIFT		7
#define RFM_NUMERIC_SHORT_WEIGHT_SIGN_MASK	0x0040
#define RFM_NUMERIC_SHORT_WEIGHT_MASK		0x003F
#define RFM_NUMERIC_SHORT_WEIGHT_SPAN		64	/* 2^6: sign extension */

typedef int16 RfmNumericDigit;

/*
 * rfm_decimal_shape
 *		Fill the group counts of a parsed amount from its digit count and
 *		weight (the power of 10000 of its first digit); false when it has
 *		more groups than RFM_MAX_GROUPS allows.
 */
static inline bool
rfm_decimal_shape(RfmDecimal *out, int ndigits, int weight)
{
	out->int_groups = weight + 1;
	out->frac_groups = ndigits - weight - 1;
	return ndigits <= RFM_MAX_GROUPS && out->int_groups <= RFM_MAX_GROUPS &&
		out->frac_groups <= RFM_MAX_GROUPS - 1;
}

/*
 * rfm_decimal_zero
 *		A parsed zero (numeric's zero has no digits, whatever its scale).
 */
static inline void
rfm_decimal_zero(RfmDecimal *out)
{
	out->digits = 0;
	out->frac_groups = 0;
	out->int_groups = 0;
	out->negative = false;
}

/*
 * rfm_numeric_fast
 *		Read a numeric from its stored form without detoasting a short
 *		(1-byte header) value and without numeric arithmetic.  Returns false
 *		for what rfm_numeric_public must handle.
 */
static inline bool
rfm_numeric_fast(Datum d, RfmDecimal *out)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);
	const char *p;
	Size		len;
	uint16		hdr;
	int			weight;
	int			ndigits;
	int			i;
	int128		acc = 0;

	if (VARATT_IS_EXTENDED(v) && !VARATT_IS_SHORT(v))
		return false;
	p = VARDATA_ANY(v);
	len = VARSIZE_ANY_EXHDR(v);
	if (len < sizeof(uint16))
		return false;
	memcpy(&hdr, p, sizeof(uint16));

	switch (hdr & RFM_NUMERIC_SIGN_MASK)
	{
		case RFM_NUMERIC_SHORT:
			out->negative = (hdr & RFM_NUMERIC_SHORT_SIGN_MASK) != 0;
			out->dscale = (hdr & RFM_NUMERIC_SHORT_DSCALE_MASK) >> RFM_NUMERIC_SHORT_DSCALE_SHIFT;
			weight = (int) (hdr & RFM_NUMERIC_SHORT_WEIGHT_MASK);
			if (hdr & RFM_NUMERIC_SHORT_WEIGHT_SIGN_MASK)
				weight -= RFM_NUMERIC_SHORT_WEIGHT_SPAN;
			p += sizeof(uint16);
			len -= sizeof(uint16);
			break;
		case RFM_NUMERIC_POS:
		case RFM_NUMERIC_NEG:
			{
				int16		w;

				if (len < 2 * sizeof(uint16))
					return false;
				out->negative = (hdr & RFM_NUMERIC_SIGN_MASK) == RFM_NUMERIC_NEG;
				out->dscale = hdr & RFM_NUMERIC_DSCALE_MASK;
				memcpy(&w, p + sizeof(uint16), sizeof(int16));
				weight = w;
				p += 2 * sizeof(uint16);
				len -= 2 * sizeof(uint16);
				break;
			}
		default:
			return false;		/* RFM_NUMERIC_SPECIAL */
	}
	if (len % sizeof(RfmNumericDigit) != 0)
		return false;
	ndigits = (int) (len / sizeof(RfmNumericDigit));
	if (ndigits == 0)
	{
		rfm_decimal_zero(out);
		return true;
	}
	if (!rfm_decimal_shape(out, ndigits, weight))
		return false;
	for (i = 0; i < ndigits; i++)
	{
		RfmNumericDigit dig;

		memcpy(&dig, p + i * sizeof(RfmNumericDigit), sizeof(RfmNumericDigit));
		if (dig < 0 || dig >= RFM_NBASE ||
			((i == 0 || i == ndigits - 1) && dig == 0))
			return false;		/* not a stored form made by numeric */
		acc = acc * RFM_NBASE + dig;
	}
	out->digits = acc;
	return true;
}

/*
 * rfm_group_of
 *		The base-10000 group of the decimal digit at power of ten e (floor
 *		division, also for the negative powers after the point).
 */
static inline int
rfm_group_of(int e)
{
	return e >= 0 ? e / RFM_DEC_DIGITS : -((-e + RFM_DEC_DIGITS - 1) / RFM_DEC_DIGITS);
}

/*
 * rfm_text_digit
 *		The decimal digit at power of ten pos of numeric_out's text, split
 *		into its intdigits digits before the point (s) and those after it
 *		(point, which is NULL when there are none).
 */
static inline int
rfm_text_digit(const char *s, int intdigits, const char *point, int pos)
{
	return (pos >= 0 ? s[intdigits - 1 - pos] : point[-pos]) - '0';
}

/*
 * rfm_numeric_public
 *		The same through numeric's public interface: the digits of
 *		numeric_out's text, grouped in fours around the decimal point, give
 *		the digit groups numeric stores.  With raise, NaN, infinities and
 *		numbers longer than RFM_MAX_GROUPS groups are errors; without, they
 *		return false.
 */
static bool
rfm_numeric_public(Datum d, RfmDecimal *out, bool raise)
{
	Numeric		num = DatumGetNumeric(d);
	char	   *text;
	const char *s;
	const char *point;
	int			intdigits;
	bool		nonzero = false;
	int			first = 0;		/* powers of ten of the first and last */
	int			last = 0;		/* non-zero digits */
	int			weight;
	int			ndigits;
	int			pos;
	int128		acc = 0;
	int			group = 0;
	int			in_group = 0;

	text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	if (numeric_is_nan(num) || numeric_is_inf(num))
	{
		if (!raise)
			return false;
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("amount must be a finite number"),
				 errdetail("The value is %s.", text),
				 errhint("Filter out or repair rows with NaN or infinite amounts.")));
	}
	s = text;
	out->negative = (*s == '-');
	if (out->negative)
		s++;
	point = strchr(s, '.');
	intdigits = point ? (int) (point - s) : (int) strlen(s);
	out->dscale = point ? (int) strlen(point + 1) : 0;

	/*
	 * Number the digits by their power of ten: the digit at power e belongs
	 * to the base-10000 group floor(e / 4).  Find the first and last
	 * non-zero digits; numeric stores the groups from the one holding the
	 * first to the one holding the last.
	 */
	for (pos = intdigits - 1; pos >= -out->dscale; pos--)
	{
		if (rfm_text_digit(s, intdigits, point, pos) != 0)
		{
			if (!nonzero)
				first = pos;
			nonzero = true;
			last = pos;
		}
	}
	if (!nonzero)
	{
		pfree(text);
		rfm_decimal_zero(out);
		return true;
	}
	weight = rfm_group_of(first);
	ndigits = weight - rfm_group_of(last) + 1;
	if (!rfm_decimal_shape(out, ndigits, weight))
	{
		pfree(text);
		if (!raise)
			return false;
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("amount out of range for clm.rfm_agg"),
				 errdetail("Amounts may have at most %d decimal digits, counted in groups of %d from the decimal point, at most %d of them after it.",
						   RFM_MAX_GROUPS * RFM_DEC_DIGITS, RFM_DEC_DIGITS, (RFM_MAX_GROUPS - 1) * RFM_DEC_DIGITS),
				 errhint("Round the amounts, e.g. with round(amount, 2).")));
	}
	/* the digits from the top of the first group to the bottom of the last */
	for (pos = (weight + 1) * RFM_DEC_DIGITS - 1;
		 pos >= rfm_group_of(last) * RFM_DEC_DIGITS; pos--)
	{
		int			dig = 0;

		if (pos < intdigits && pos >= -out->dscale)
			dig = rfm_text_digit(s, intdigits, point, pos);
		group = group * 10 + dig;
		if (++in_group == RFM_DEC_DIGITS)
		{
			acc = acc * RFM_NBASE + group;
			group = 0;
			in_group = 0;
		}
	}
	out->digits = acc;
	pfree(text);
	return true;
}

/*
 * rfm_read_numeric
 *		See rfm_numeric.h.
 */
void
rfm_read_numeric(Datum d, RfmDecimal *out)
{
	if (likely(rfm_numeric_fast(d, out)))
		return;
	(void) rfm_numeric_public(d, out, true);
}

/*
 * rfm_read_numeric_in_range
 *		See rfm_numeric.h.
 */
bool
rfm_read_numeric_in_range(Datum d, RfmDecimal *out)
{
	return rfm_numeric_fast(d, out) || rfm_numeric_public(d, out, false);
}

/*
 * rfm_numeric_to_double
 *		See rfm_numeric.h.  Exact digits, then one division by a power of
 *		10000: the same numeric always gives the same double, which is all
 *		scoring needs.  Beyond RFM_MAX_GROUPS groups numeric_float8_no_overflow
 *		converts: beyond the double range it gives +/-Infinity, which the
 *		callers reject as not finite, instead of an error quoting the number.
 */
double
rfm_numeric_to_double(Datum d)
{
	RfmDecimal	dec;
	double		v;

	if (!rfm_numeric_fast(d, &dec) && !rfm_numeric_public(d, &dec, false))
		return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, d));
	v = (double) dec.digits;
	if (dec.frac_groups > 0)
		v /= (double) rfm_pow(dec.frac_groups);
	else if (dec.frac_groups < 0)
		v *= (double) rfm_pow(-dec.frac_groups);
	return dec.negative ? -v : v;
}
