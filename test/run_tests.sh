#!/usr/bin/env bash
# test/run_tests.sh: the whole clm test suite, from a fresh Debian machine.
#
#   test/run_tests.sh                 everything, on every supported major (on
#                                     15 also the Debian package)
#   test/run_tests.sh --pg 17         everything, on PostgreSQL 17 only
#   test/run_tests.sh [--pg N] sql/rfm.sql test/t/010_dump.pl ...   only the named tests
#   test/run_tests.sh --pg 15 debian  only the Debian package (see below)
#
# For one major: installs missing packages, builds clm, installs it into a
# private copy of that PostgreSQL under tmp_check/ (tmp_check_pgN/ for a major
# other than 15), starts a throwaway cluster there, runs the tests, prints
# regression.diffs on failure and ends with the line "N passed, N failed".
# Exits non-zero on any failure (or a backend crash).  PostgreSQL 15 is the
# host's; the others run inside a cached Debian root of the suite that
# packages them (test/lib/pgroot.sh); a run on 17 also prepares, on the host,
# the PostgreSQL 15 with clm that its pg_upgrade test upgrades from
# (tmp_check_pg15_for_pg17/, clm_host_pg_for_root).  Without --pg, every supported major
# runs in turn, each ending with "PostgreSQL 17.x: N passed, N failed",
# then the total "N passed, N failed".
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
. "$(dirname "$0")/lib/pgroot.sh"
cd "$CLM_ROOT"

major=
if [ "${1:-}" = --pg ]; then
    [ $# -ge 2 ] || clm_die "--pg needs a major version ($CLM_MAJORS)"
    major=$2
    shift 2
fi
export CLM_CDNOW_DIR=${CLM_CDNOW_DIR:-$(cd "$CLM_ROOT/.." && pwd)/shared/data/cdnow}

if [ -z "$major" ]; then
    # every supported major in turn, each in its own run
    tp=0 tf=0 summary=()
    for m in $CLM_MAJORS; do
        log=$(mktemp)
        "$CLM_ROOT/test/run_tests.sh" --pg "$m" "$@" 2>&1 | tee "$log"
        rc=${PIPESTATUS[0]}
        ver=$(sed -n 's/^== PostgreSQL \([0-9][0-9.]*\)$/\1/p' "$log" | tail -1)
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
        rm -f "$log"
        p=${line%% passed*} f=${line#*passed, }
        f=${f%% failed}
        [ -n "$line" ] || { p=0 f=1; }
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
        summary+=("PostgreSQL ${ver:-$m}: $p passed, $f failed")
        tp=$((tp + p)) tf=$((tf + f))
    done
    printf '%s\n' "${summary[@]}"
    echo "$tp passed, $tf failed"
    [ "$tf" -eq 0 ]
    exit
fi

# The pg_upgrade test on 17 upgrades a cluster of the host's 15, which is
# prepared here, on the host, when the run includes that test.
if [ "$major" = 17 ] && [ -z "${CLM_IN_ROOT:-}" ]; then
    want=no
    [ $# -eq 0 ] && want=yes
    for a in "$@"; do case "$a" in *_pg_upgrade_15_to_17.pl) want=yes ;; esac; done
    if [ "$want" = yes ]; then
        root=$(clm_root_ensure "$major") || exit 2
        CLM_PG15_INSTALL=$(clm_host_pg_for_root "$root" "$CLM_ROOT/tmp_check_pg15_for_pg17") \
            || clm_die "could not prepare PostgreSQL 15 for the pg_upgrade test"
        CLM_PG15_LIBS=$CLM_ROOT/tmp_check_pg15_for_pg17/lib
        export CLM_PG15_INSTALL CLM_PG15_LIBS
    fi
fi
# a major the host does not package runs inside its Debian root, on this checkout
clm_enter_root "$major" "$CLM_ROOT/test/run_tests.sh" --pg "$major" "$@"
[ "$major" = "$PG_MAJOR" ] || clm_die "PostgreSQL $major is not the one this environment provides ($PG_MAJOR)"

regress=() specs=() taps=() package=no
if [ $# -eq 0 ]; then
    [ -n "${CLM_IN_ROOT:-}" ] || package=yes
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

# the HTML report is checked in a real browser (test/t/090_html_report.pl,
# on the host's 15)
CLM_PKGS="$CLM_PKGS chromium"
clm_ensure_deps
clm_build with_llvm=no

W=$CLM_ROOT/tmp_check
[ "$PG_MAJOR" = 15 ] || W=${W}_pg$PG_MAJOR
rm -rf "$W"
mkdir -p "$W"
clm_private_install "$W/inst" with_llvm=no
[ -d "$CLM_CDNOW_DIR" ] || clm_log "CDNOW data not found at $CLM_CDNOW_DIR: its tests are skipped"
clm_start_cluster "$W/cluster" max_worker_processes=16 max_parallel_workers=8
echo "== PostgreSQL $("$CLM_BINDIR/postgres" --version | awk '{ print $3 }')"

passed=0 failed=0

# count_pgregress LOG: pg_regress prints one line per test: on 15
# "test name ... ok" or "... FAILED" (also "failed (ignored)"), from 16 on
# TAP lines "ok 1 - name" or "not ok 1 - name".
count_pgregress() {
    local ok
    ok=$(grep -Ec '^(test| )? *[A-Za-z0-9_-]+ +\.\.\. ok|^ok [0-9]+ ' "$1")
    bad=$(grep -Ec '^(test| )? *[A-Za-z0-9_-]+ +\.\.\. (FAILED|failed)|^not ok [0-9]+ ' "$1")
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
    # Each TAP script starts clusters of its own, so CLM_TAP_JOBS of them
    # (default: one per core) run at once; their results are printed in
    # file order once all have ended.  The fuzz test, the longest, starts
    # first.  They share one port reservation directory.
    jobs=${CLM_TAP_JOBS:-$(nproc)}
    echo "== TAP (${#taps[@]} files, $jobs at a time)"
    # PostgreSQL::Test::Cluster runs initdb itself, so the TAP scripts run as
    # the cluster's OS user, with the private installation first in PATH.
    mkdir -p "$W/tap/portlock"
    [ "$(id -u)" -eq 0 ] && chown -R postgres: "$W/tap"
    run_tap() {
        local t=$1 name
        name=$(basename "$t" .pl)
        mkdir -p "$W/tap/$name"
        [ "$(id -u)" -eq 0 ] && chown postgres: "$W/tap/$name"
        (cd "$W/tap/$name" && clm_as_pg env PATH="$CLM_BINDIR:$PATH" \
            PERL5LIB="$PGXS_DIR/src/test/perl" TESTDIR="$W/tap/$name" \
            PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" PG_TEST_PORT_DIR="$W/tap/portlock" \
            CLM_ROOT="$CLM_ROOT" CLM_CDNOW_DIR="$CLM_CDNOW_DIR" PGHOST= PGPORT= \
            CLM_PG15_INSTALL="${CLM_PG15_INSTALL:-}" CLM_PG15_LIBS="${CLM_PG15_LIBS:-}" \
            prove -v "$CLM_ROOT/$t") >"$W/tap/$name.log" 2>&1
        echo $? >"$W/tap/$name.rc"
    }
    ordered=()
    for t in "${taps[@]}"; do case "$t" in *sqlsmith*) ordered=("$t" "${ordered[@]}") ;; *) ordered+=("$t") ;; esac; done
    for t in "${ordered[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
        run_tap "$t" &
    done
    wait
    for t in "${taps[@]}"; do
        name=$(basename "$t" .pl)
        rc=$(cat "$W/tap/$name.rc" 2>/dev/null || echo 1)
        ok=$(grep -Ec '^ *ok [0-9]+' "$W/tap/$name.log")
        bad=$(grep -Ec '^ *not ok [0-9]+' "$W/tap/$name.log")
        if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
        passed=$((passed + ok))
        failed=$((failed + bad))
        if [ "$bad" -ne 0 ]; then
            echo "$t ... FAILED ($ok ok, $bad not ok)"
            cat "$W/tap/$name.log"
            # the TAP modules of 15 log under tmp_check/log, those of 17 on under log
            cat "$W/tap/$name"/tmp_check/log/regress_log_* "$W/tap/$name"/log/regress_log_* 2>/dev/null | tail -50
        elif skipped=$(grep -m1 -o ' skipped: .*' "$W/tap/$name.log"); then
            # plan skip_all: nothing counted, and the reason shown
            echo "$t ...$skipped"
        else
            echo "$t ... ok ($ok assertions)"
        fi
    done
fi

if [ "$package" = yes ]; then
    echo "== Debian package"
    # The package goes into the system PostgreSQL, which every checkout on
    # this machine shares: one package step at a time.
    lock=/tmp/clm-package-step.lock
    [ -e "$lock" ] || (umask 0; : >"$lock")
    (flock 9 || exit 1; clm_package_test "$W/deb") 9<"$lock" 2>&1 | tee "$W/deb.log"
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
