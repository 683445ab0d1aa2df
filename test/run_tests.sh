#!/usr/bin/env bash
# test/run_tests.sh: the whole clm test suite, from a fresh Debian machine.
#
#   test/run_tests.sh                 everything: pg_regress, isolation, TAP,
#                                     the Debian package
#   test/run_tests.sh sql/rfm.sql test/t/010_dump.pl ...   only the named tests
#   test/run_tests.sh debian          only the Debian package (see below)
#
# Installs missing packages, builds clm, installs it into a private copy of
# PostgreSQL 15 under tmp_check/, starts a throwaway cluster there, runs the
# tests, prints regression.diffs on failure and ends with the line
# "N passed, N failed".  Exits non-zero on any failure (or a backend crash).
#
# Results stay in tmp_check/ (regress/results, iso/output_iso, tap/) until
# the next run.  The Debian package step builds postgresql-15-clm with
# dpkg-buildpackage in a clean copy of the checkout's tracked files, installs
# it with dpkg into the system PostgreSQL 15 (it needs root or sudo), runs
# the regression and isolation tests against the installed package with
# pg_buildext installcheck, as Debian's autopkgtest does, and removes the
# package again.  CLM_CDNOW_DIR points at the CDNOW data (default:
# ../shared/data/cdnow next to the checkout); tests that need it are skipped
# with a notice where it is absent.

set -uo pipefail
. "$(dirname "$0")/lib/pgenv.sh"
cd "$CLM_ROOT"

regress=() specs=() taps=() package=no
if [ $# -eq 0 ]; then
    package=yes
    for f in sql/*.sql; do
        n=$(basename "$f" .sql)
        [ "$n" = setup ] || regress+=("$n")
    done
    regress=(setup "${regress[@]}")
    for f in test/isolation/specs/*.spec; do [ -e "$f" ] && specs+=("$(basename "$f" .spec)"); done
    for f in test/t/*.pl; do [ -e "$f" ] && taps+=("$f"); done
else
    regress=(setup)
    for a in "$@"; do
        case "$a" in
            *.spec) specs+=("$(basename "$a" .spec)") ;;
            *.pl) taps+=("$a") ;;
            debian) package=yes ;;
            *) n=$(basename "$a" .sql); [ "$n" = setup ] || regress+=("$n") ;;
        esac
    done
fi

clm_ensure_deps
clm_build with_llvm=no

W=$CLM_ROOT/tmp_check
rm -rf "$W"
mkdir -p "$W"
clm_private_install "$W/inst" with_llvm=no
export CLM_CDNOW_DIR=${CLM_CDNOW_DIR:-$(cd "$CLM_ROOT/.." && pwd)/shared/data/cdnow}
[ -d "$CLM_CDNOW_DIR" ] || clm_log "CDNOW data not found at $CLM_CDNOW_DIR: its tests are skipped"
clm_start_cluster "$W/cluster" max_worker_processes=16 max_parallel_workers=8

passed=0 failed=0

# count_pgregress LOG: PostgreSQL 15's pg_regress prints one line per test,
# "test name ... ok" or "... FAILED" (also "failed (ignored)").
count_pgregress() {
    local ok
    ok=$(grep -Ec '^(test| )? *[A-Za-z0-9_-]+ +\.\.\. ok' "$1")
    bad=$(grep -Ec '^(test| )? *[A-Za-z0-9_-]+ +\.\.\. (FAILED|failed)' "$1")
    passed=$((passed + ok))
    failed=$((failed + bad))
}

echo "== pg_regress (${#regress[@]} tests)"
mkdir -p "$W/regress"
"$PGXS_DIR/src/test/regress/pg_regress" --inputdir="$CLM_ROOT" --outputdir="$W/regress" \
    --bindir="$CLM_BINDIR" --host="$PGHOST" --port="$PGPORT" --user=postgres \
    --dbname=contrib_regression "${regress[@]}" 2>&1 | tee "$W/regress.log"
rc=${PIPESTATUS[0]}
count_pgregress "$W/regress.log"
if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then failed=$((failed + 1)); fi
[ -s "$W/regress/regression.diffs" ] && cat "$W/regress/regression.diffs"

if [ ${#specs[@]} -gt 0 ]; then
    echo "== isolation (${#specs[@]} specs)"
    mkdir -p "$W/iso"
    "$PGXS_DIR/src/test/isolation/pg_isolation_regress" --inputdir="$CLM_ROOT/test/isolation" \
        --outputdir="$W/iso" --bindir="$CLM_BINDIR" --host="$PGHOST" --port="$PGPORT" \
        --user=postgres --dbname=isolation_regression --load-extension=clm \
        "${specs[@]}" 2>&1 | tee "$W/iso.log"
    rc=${PIPESTATUS[0]}
    count_pgregress "$W/iso.log"
    if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then failed=$((failed + 1)); fi
    [ -s "$W/iso/regression.diffs" ] && cat "$W/iso/regression.diffs"
fi

if [ ${#taps[@]} -gt 0 ]; then
    echo "== TAP (${#taps[@]} files)"
    # PostgreSQL::Test::Cluster runs initdb itself, so the TAP scripts run as
    # the cluster's OS user, with the private installation first in PATH.
    mkdir -p "$W/tap"
    [ "$(id -u)" -eq 0 ] && chown -R postgres: "$W/tap"
    for t in "${taps[@]}"; do
        name=$(basename "$t" .pl)
        mkdir -p "$W/tap/$name"
        [ "$(id -u)" -eq 0 ] && chown postgres: "$W/tap/$name"
        (cd "$W/tap/$name" && clm_as_pg env PATH="$CLM_BINDIR:$PATH" \
            PERL5LIB="$PGXS_DIR/src/test/perl" TESTDIR="$W/tap/$name" \
            PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" \
            CLM_ROOT="$CLM_ROOT" CLM_CDNOW_DIR="$CLM_CDNOW_DIR" PGHOST= PGPORT= \
            prove -v "$CLM_ROOT/$t") >"$W/tap/$name.log" 2>&1
        rc=$?
        ok=$(grep -Ec '^ *ok [0-9]+' "$W/tap/$name.log")
        bad=$(grep -Ec '^ *not ok [0-9]+' "$W/tap/$name.log")
        if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
        passed=$((passed + ok))
        failed=$((failed + bad))
        if [ "$bad" -ne 0 ]; then
            echo "$t ... FAILED ($ok ok, $bad not ok)"
            cat "$W/tap/$name.log"
            cat "$W/tap/$name"/tmp_check/log/regress_log_* 2>/dev/null | tail -50
        else
            echo "$t ... ok ($ok assertions)"
        fi
    done
fi

if [ "$package" = yes ]; then
    echo "== Debian package"
    clm_package_test "$W/deb" 2>&1 | tee "$W/deb.log"
    rc=${PIPESTATUS[0]}
    count_pgregress "$W/deb.log"
    if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then failed=$((failed + 1)); fi
fi

clm_stop_cluster 2>"$W/crash.log"
if [ -s "$W/crash.log" ]; then
    cat "$W/crash.log"
    failed=$((failed + 1))
fi
trap - EXIT

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
