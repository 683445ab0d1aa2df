# Makefile for clm (PGXS)

EXTENSION  = clm
MODULE_big = clm
PGFILEDESC = "clm - customer lifecycle management"

OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
# the install script of each version, and the upgrade scripts between them
DATA = $(wildcard $(EXTENSION)--*.sql)

# pg_regress: setup (creates the extension) first, the rest in name order.
REGRESS = setup $(filter-out setup,$(sort $(basename $(notdir $(wildcard sql/*.sql)))))
REGRESS_OPTS = --inputdir=. --load-extension=plpgsql
ISOLATION = $(sort $(basename $(notdir $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=clm

PG_CPPFLAGS = -I$(srcdir)/src
# -Wextra, less unused-parameter: PostgreSQL's own headers (and the fmgr
# calling convention) trip that one, nothing else.
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter
SHLIB_LINK = -lm

EXTRA_CLEAN = results/ regression.diffs regression.out output_iso/ tmp_check/

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(OBJS): $(wildcard src/*.h)

# The full suite (pg_regress, isolation, TAP) against a throwaway cluster.
.PHONY: test
test:
	test/run_tests.sh
