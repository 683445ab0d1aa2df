/*-------------------------------------------------------------------------
 *
 * rfm_segment.c
 *	  clm.rfm_segment and clm.rfm_segment_label: the segment of an RFM score
 *	  from the editable rules table clm.rfm_segment_rule.
 *
 * A rule set is loaded once per call site and query into a 9x9x9 grid of
 * rule numbers (through SPI), so scoring a million customers costs one
 * table read and an array lookup per row.  Rules are boxes of (r, f, m)
 * ranges and must not overlap: a cell covered twice is an error when it is
 * looked up (clm.rfm_segment_rules_check lists such cells up front), a cell
 * covered by no rule gives NULL.
 *
 * IDENTIFICATION
 *	  src/rfm/rfm_segment.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "clm.h"
#include "rfm.h"

PG_FUNCTION_INFO_V1(rfm_segment);
PG_FUNCTION_INFO_V1(rfm_segment_label);

#define RFM_CELL_NONE		(-1)
#define RFM_CELL_OVERLAP	(-2)

typedef struct RfmRule
{
	char	   *segment;
	char	   *label_en;
	char	   *label_zh;
} RfmRule;

/* one loaded rule set */
typedef struct RfmSegSet
{
	char	   *ruleset;
	int			nrules;
	RfmRule    *rules;
	int32		grid[RFM_MAX_BINS][RFM_MAX_BINS][RFM_MAX_BINS];	/* rule numbers */
	struct RfmSegSet *next;
} RfmSegSet;

/*
 * What a call site keeps: every rule set it has loaded (a query may pass a
 * different rule set per row, e.g. per market; reloading on each change ran
 * one SPI query per row and never freed the previous rules), the last one
 * used first.
 */
typedef struct RfmSegCache
{
	RfmSegSet  *sets;
	RfmSegSet  *last;
	TupleDesc	scoredesc;		/* of clm.rfm_score */
} RfmSegCache;

/*
 * rfm_seg_load
 *		Read a rule set into the cache (memory in fn_mcxt, which lives as
 *		long as the query's expression state).
 *
 * A cell holds the number of the rule covering it, so the grid is as wide
 * as the rule count: the table does not limit how many rules a rule set
 * has (overlapping ones included), and any role allowed to insert rules
 * can make one of 100,000.  A count beyond int32 (which no SPI result can
 * reach in memory) is refused rather than wrapped.
 */
static void
rfm_seg_load(FunctionCallInfo fcinfo, RfmSegSet *c, const char *ruleset)
{
	MemoryContext fcxt = fcinfo->flinfo->fn_mcxt;
	Oid			nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
	char	   *nspname = get_namespace_name(nsp);
	char	   *sql;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	uint64		i;
	int			r,
				f,
				m;

	if (nspname == NULL)
		elog(ERROR, "cache lookup failed for namespace %u", nsp);
	sql = psprintf("SELECT segment, r_min, r_max, f_min, f_max, m_min, m_max, label_en, label_zh "
				   "FROM %s.rfm_segment_rule WHERE ruleset OPERATOR(pg_catalog.=) $1 "
				   "ORDER BY segment, r_min, f_min, m_min",
				   quote_identifier(nspname));
	args[0] = CStringGetTextDatum(ruleset);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(sql, 1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read %s.rfm_segment_rule", nspname);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("RFM segment rule set \"%s\" does not exist", ruleset),
				 errhint("The built-in rule set is \"default\"; add rules to clm.rfm_segment_rule.")));

	if (SPI_processed >= (uint64) PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("RFM segment rule set \"%s\" has too many rules", ruleset),
				 errdetail("It has " UINT64_FORMAT " rules; a rule set may have at most %d.",
						   SPI_processed, PG_INT32_MAX - 1)));
	c->nrules = (int) SPI_processed;
	c->rules = MemoryContextAllocZero(fcxt, sizeof(RfmRule) * c->nrules);
	for (r = 0; r < RFM_MAX_BINS; r++)
		for (f = 0; f < RFM_MAX_BINS; f++)
			for (m = 0; m < RFM_MAX_BINS; m++)
				c->grid[r][f][m] = RFM_CELL_NONE;

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		int			lim[6];
		int			k;
		char	   *s;

		for (k = 0; k < 6; k++)
		{
			bool		isnull;
			Datum		v = SPI_getbinval(tup, td, k + 2, &isnull);

			/* the table's CHECK constraints make these can't-happen */
			if (isnull || DatumGetInt32(v) < 1 || DatumGetInt32(v) > RFM_MAX_BINS)
				elog(ERROR, "invalid range in rfm_segment_rule");
			lim[k] = DatumGetInt32(v);
		}
		s = SPI_getvalue(tup, td, 1);
		c->rules[i].segment = MemoryContextStrdup(fcxt, s ? s : "");
		s = SPI_getvalue(tup, td, 8);
		c->rules[i].label_en = s ? MemoryContextStrdup(fcxt, s) : NULL;
		s = SPI_getvalue(tup, td, 9);
		c->rules[i].label_zh = s ? MemoryContextStrdup(fcxt, s) : NULL;
		for (r = lim[0]; r <= lim[1]; r++)
			for (f = lim[2]; f <= lim[3]; f++)
				for (m = lim[4]; m <= lim[5]; m++)
				{
					int32	   *cell = &c->grid[r - 1][f - 1][m - 1];

					*cell = (*cell == RFM_CELL_NONE) ? (int32) i : RFM_CELL_OVERLAP;
				}
	}
	SPI_finish();
	c->ruleset = MemoryContextStrdup(fcxt, ruleset);
}

/*
 * rfm_seg_rule
 *		The rule covering scores v[0..2] (each 1..RFM_MAX_BINS) in a rule
 *		set, or NULL when none does.
 */
static RfmRule *
rfm_seg_rule(FunctionCallInfo fcinfo, const int *v, const char *ruleset)
{
	RfmSegCache *cache = (RfmSegCache *) fcinfo->flinfo->fn_extra;
	RfmSegSet  *c;
	int32		cell;

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(RfmSegCache));
		fcinfo->flinfo->fn_extra = cache;
	}
	c = cache->last;
	if (c == NULL || strcmp(c->ruleset, ruleset) != 0)
	{
		for (c = cache->sets; c != NULL; c = c->next)
			if (strcmp(c->ruleset, ruleset) == 0)
				break;
		if (c == NULL)
		{
			c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(RfmSegSet));
			rfm_seg_load(fcinfo, c, ruleset);	/* sets c->ruleset last */
			c->next = cache->sets;
			cache->sets = c;
		}
		cache->last = c;
	}
	cell = c->grid[v[0] - 1][v[1] - 1][v[2] - 1];
	if (cell == RFM_CELL_NONE)
		return NULL;
	if (cell == RFM_CELL_OVERLAP)
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("RFM cell (%d, %d, %d) is covered by more than one rule of rule set \"%s\"",
						v[0], v[1], v[2], ruleset),
				 errhint("Run SELECT * FROM clm.rfm_segment_rules_check('%s') and fix the overlapping rules.", ruleset)));
	return &c->rules[cell];
}

/*
 * rfm_segment_name
 *		The segment of scores in a rule set (rfm.h), for clm.rfm_table.
 */
const char *
rfm_segment_name(FunctionCallInfo fcinfo, const int *v, const char *ruleset)
{
	RfmRule    *rule = rfm_seg_rule(fcinfo, v, ruleset);

	return rule ? rule->segment : NULL;
}

/*
 * rfm_seg_lookup
 *		The rule of a clm.rfm_score in a rule set, or NULL when the score has
 *		a NULL part or no rule covers it.
 */
static RfmRule *
rfm_seg_lookup(FunctionCallInfo fcinfo, HeapTupleHeader score, const char *ruleset)
{
	RfmSegCache *cache = (RfmSegCache *) fcinfo->flinfo->fn_extra;
	Datum		values[RFM_SCORE_NATTS];
	bool		nulls[RFM_SCORE_NATTS];
	int			v[3];
	int			k;

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(RfmSegCache));
		fcinfo->flinfo->fn_extra = cache;
	}
	rfm_deform(score, RFM_SCORE_NATTS, values, nulls, &cache->scoredesc, fcinfo->flinfo->fn_mcxt);
	for (k = 0; k < 3; k++)
	{
		if (nulls[k])
			return NULL;
		v[k] = DatumGetInt32(values[k]);
		if (v[k] < 1 || v[k] > RFM_MAX_BINS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("RFM scores must be between 1 and %d", RFM_MAX_BINS),
					 errdetail("Component %d of the score is %d.", k + 1, v[k]),
					 errhint("Build scores with clm.rfm_score.")));
	}
	return rfm_seg_rule(fcinfo, v, ruleset);
}

/*
 * rfm_segment
 *		clm.rfm_segment(score, ruleset DEFAULT 'default'): the segment name.
 */
Datum
rfm_segment(PG_FUNCTION_ARGS)
{
	char	   *ruleset = text_to_cstring(PG_GETARG_TEXT_PP(1));
	RfmRule    *rule = rfm_seg_lookup(fcinfo, PG_GETARG_HEAPTUPLEHEADER(0), ruleset);

	if (rule == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(rule->segment));
}

/*
 * rfm_segment_label
 *		clm.rfm_segment_label(score, lang DEFAULT 'en', ruleset DEFAULT
 *		'default'): the segment's label in English ('en') or Chinese ('zh',
 *		also 'zh-CN', 'zh_CN'); falls back to English when a user rule has no
 *		Chinese label.
 */
Datum
rfm_segment_label(PG_FUNCTION_ARGS)
{
	char	   *lang = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *ruleset = text_to_cstring(PG_GETARG_TEXT_PP(2));
	bool		zh;
	RfmRule    *rule;

	if (pg_strcasecmp(lang, "en") == 0)
		zh = false;
	else if (pg_strncasecmp(lang, "zh", 2) == 0 &&
			 (lang[2] == '\0' || lang[2] == '-' || lang[2] == '_'))
		zh = true;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported language \"%s\"", lang),
				 errhint("Use 'en' or 'zh'.")));
	rule = rfm_seg_lookup(fcinfo, PG_GETARG_HEAPTUPLEHEADER(0), ruleset);
	if (rule == NULL)
		PG_RETURN_NULL();
	if (zh && rule->label_zh)
		PG_RETURN_TEXT_P(cstring_to_text(rule->label_zh));
	PG_RETURN_TEXT_P(cstring_to_text(rule->label_en));
}
