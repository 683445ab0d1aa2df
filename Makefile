# Makefile for clm (PGXS)
#
# src/<area>/ holds the C code of one area together with the SQL source of
# its objects.  The install script of the current version is built from those
# SQL sources, in the order of SQL_SOURCES: an area may use the objects of the
# areas before it (lifecycle, then RFM, CLV, analytics and action).
#
# EXTVERSION is the version being developed (clm.control's default_version,
# META.json's version and CHANGELOG's newest heading say the same; a test
# checks).  Released versions are kept in git as they were released: the
# frozen install script clm--X.sql of each release and the upgrade scripts
# clm--X--Y.sql between versions, through which every SQL change reaches a
# database already on an earlier version.

EXTENSION  = clm
EXTVERSION = 1.1
MODULE_big = clm
PGFILEDESC = "clm - customer lifecycle management"

AREAS = common lifecycle rfm clv analytics action

OBJS = $(patsubst %.c,%.o,$(sort $(foreach a,$(AREAS),$(wildcard src/$(a)/*.c))))

SQL_SOURCES = \
	src/common/schema.sql \
	src/lifecycle/stage.sql \
	src/lifecycle/transition_rule.sql \
	src/lifecycle/stage_history.sql \
	src/lifecycle/stage_guard.sql \
	src/lifecycle/lifecycle_policy.sql \
	src/lifecycle/stage_on_order.sql \
	src/lifecycle/refresh_stages.sql \
	src/rfm/rfm_agg.sql \
	src/rfm/rfm_agg_by_customer.sql \
	src/rfm/rfm_score.sql \
	src/rfm/rfm_segment.sql \
	src/rfm/rfm_stage.sql \
	src/clv/clv_types.sql \
	src/clv/btyd_fit_state.sql \
	src/clv/clv_fit.sql \
	src/clv/purchase_summary.sql \
	src/clv/clv_predict.sql \
	src/clv/holdout.sql \
	src/clv/clv_interval.sql \
	src/analytics/analytics.sql \
	src/analytics/cohort_retention.sql \
	src/analytics/churn_survival.sql \
	src/analytics/lifecycle_kpis.sql \
	src/analytics/stage_flow.sql \
	src/analytics/customer_view.sql \
	src/action/campaign.sql \
	src/action/feed.sql \
	src/action/erasure.sql \
	src/action/referral.sql

# The install script of the current version, built; the frozen install
# scripts of released versions and the upgrade scripts, kept in git.
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
DATA = $(filter-out $(DATA_built),$(wildcard $(EXTENSION)--*.sql))

# pg_regress: setup (creates the extension) first, the rest in name order.
REGRESS = setup $(filter-out setup,$(sort $(basename $(notdir $(wildcard sql/*.sql)))))
REGRESS_OPTS = --inputdir=. --load-extension=plpgsql
ISOLATION = $(sort $(basename $(notdir $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=clm

PG_CPPFLAGS = -I$(srcdir)/src/common
# -Wextra, less unused-parameter: PostgreSQL's own headers (and the fmgr
# calling convention) trip that one, nothing else.
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter
SHLIB_LINK = -lm

EXTRA_CLEAN = results/ regression.diffs regression.out output_iso/ tmp_check/

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(OBJS): $(wildcard src/*/*.h)

# Every source is listed above exactly once, and every SQL file under src/
# is a source: a file left out would silently drop its objects.
ifneq ($(sort $(SQL_SOURCES)),$(sort $(wildcard src/*/*.sql)))
$(error SQL_SOURCES and the SQL files under src/ differ: $(filter-out $(SQL_SOURCES),$(wildcard src/*/*.sql)) $(filter-out $(wildcard src/*/*.sql),$(SQL_SOURCES)))
endif

# The SQL sources joined in order, a blank line between two files.
build_script = awk 'FNR == 1 && NR != 1 { print "" } { print }' $(SQL_SOURCES)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_SOURCES)
	$(build_script) > $@

# make freeze FREEZE_VERSION=1.0: write the install script of the current
# sources as the frozen script clm--1.0.sql of that release (run before the
# release is tagged, then commit the file).  The sources are that release
# only while its upgrade script to EXTVERSION changes nothing, so the target
# refuses once clm--$(FREEZE_VERSION)--$(EXTVERSION).sql holds a statement:
# from then on the frozen script is what was released and never changes.
.PHONY: freeze
freeze: $(SQL_SOURCES)
	@test -n "$(FREEZE_VERSION)" || { echo "usage: make freeze FREEZE_VERSION=X.Y" >&2; exit 2; }
	@test -f $(EXTENSION)--$(FREEZE_VERSION)--$(EXTVERSION).sql || \
	    { echo "$(EXTENSION)--$(FREEZE_VERSION)--$(EXTVERSION).sql does not exist" >&2; exit 2; }
	@if grep -Ev '^[[:space:]]*(--.*)?$$|^\\echo ' $(EXTENSION)--$(FREEZE_VERSION)--$(EXTVERSION).sql; then \
	    echo "$(EXTENSION)--$(FREEZE_VERSION)--$(EXTVERSION).sql changes the catalog: $(FREEZE_VERSION) is no longer the current sources" >&2; \
	    exit 1; fi
	$(build_script) > $(EXTENSION)--$(FREEZE_VERSION).sql

# make dist: the PGXN archive clm-$(EXTVERSION).zip of the committed tree
# (HEAD), written to DIST_DIR (default: here).
DIST_DIR ?= .
.PHONY: dist
dist:
	git archive --format zip --prefix=$(EXTENSION)-$(EXTVERSION)/ -o $(DIST_DIR)/$(EXTENSION)-$(EXTVERSION).zip HEAD

# The full suite (pg_regress, isolation, TAP, the Debian package) against a
# throwaway cluster.
.PHONY: test
test:
	test/run_tests.sh
