# test/lib/pgenv.sh: shared shell helpers for the test runner, the demo and
# the benchmarks.  Sourced, not executed.
#
# They install what is missing from Debian's packages, build clm, and start a
# throwaway PostgreSQL cluster (15, the host's, unless CLM_PG_MAJOR names the
# major of a root of test/lib/pgroot.sh).  initdb refuses to run as root, so when
# we are root the server runs as the "postgres" OS user (via runuser).
#
# Two ways to get clm into a server:
#   clm_private_install: "make install DESTDIR=..." into a private copy of the
#     PostgreSQL 15 tree.  The server started from that copy finds clm there
#     (PostgreSQL resolves its share and lib directories relative to its own
#     binary), so tests never touch the system installation and several
#     checkouts can run their suites at once.
#   clm_system_install: the ordinary "make install" (used by the demo).
#   clm_html_target, clm_html_report: where the demo's HTML report goes, and
#   writing it (bin/clm-demo --html; test/t/090_html_report.pl).

# The PostgreSQL major: the host's 15 unless a run inside one of the roots of
# test/lib/pgroot.sh says otherwise.
PG_MAJOR=${CLM_PG_MAJOR:-15}
CLM_ROOT=${CLM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CLM_PKGS="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-contrib libipc-run-perl python3-psycopg sqlsmith make gcc git unzip debhelper postgresql-server-dev-all dpkg-dev"

clm_log() { printf '%s\n' "-- $*" >&2; }
clm_die() { printf 'error: %s\n' "$*" >&2; exit 2; }

# Run a command as the OS user that owns the cluster.
clm_as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Install missing Debian packages (as root, or through sudo).
clm_ensure_deps() {
    local missing=() p
    # a root of test/lib/pgroot.sh was provisioned when it was created
    [ -n "${CLM_IN_ROOT:-}" ] && return 0
    for p in $CLM_PKGS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    clm_log "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >/dev/null || clm_die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
        || clm_die "apt-get install ${missing[*]} failed"
}

clm_pg_config() {
    PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
    [ -x "$PG_CONFIG" ] || clm_die "$PG_CONFIG not found (install postgresql-server-dev-$PG_MAJOR)"
    PGXS_DIR=$(dirname "$("$PG_CONFIG" --pgxs)")/../..
    PGXS_DIR=$(cd "$PGXS_DIR" && pwd)
    PG_BINDIR=$("$PG_CONFIG" --bindir)
    export PG_CONFIG PGXS_DIR PG_BINDIR
}

# Build the extension; extra arguments go to make.  Objects built against
# another PostgreSQL major (the checkout is shared with the roots of
# test/lib/pgroot.sh) are cleaned first: make would otherwise keep them.
clm_build() {
    local stamp=$CLM_ROOT/.clm-built-for
    clm_pg_config
    if [ "$(cat "$stamp" 2>/dev/null)" != "$PG_MAJOR" ]; then
        make -C "$CLM_ROOT" -s clean PG_CONFIG="$PG_CONFIG" >/dev/null 2>&1
        echo "$PG_MAJOR" >"$stamp"
    fi
    make -C "$CLM_ROOT" -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG" "$@" >/dev/null \
        || clm_die "build failed"
}

# Copy the PostgreSQL tree into $1 and install clm into the copy.  Sets
# CLM_BINDIR to the copy's bin directory.
clm_private_install() {
    local dest=$1 d
    clm_pg_config
    rm -rf "$dest"
    # the bin and lib directories (Debian: /usr/lib/postgresql/15/{bin,lib}) and share
    for d in "$PG_BINDIR" "$("$PG_CONFIG" --pkglibdir)" "$("$PG_CONFIG" --sharedir)"; do
        mkdir -p "$dest$(dirname "$d")"
        [ -e "$dest$d" ] || cp -a "$d" "$dest$(dirname "$d")/"
    done
    make -C "$CLM_ROOT" -s install DESTDIR="$dest" PG_CONFIG="$PG_CONFIG" "$@" >/dev/null \
        || clm_die "make install DESTDIR=$dest failed"
    CLM_BINDIR=$dest$PG_BINDIR
    export CLM_BINDIR
}

clm_system_install() {
    clm_pg_config
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo make -C "$CLM_ROOT" -s install PG_CONFIG="$PG_CONFIG" >/dev/null || clm_die "make install failed"
    CLM_BINDIR=$PG_BINDIR
    export CLM_BINDIR
}

# clm_package_test DIR: build the Debian package postgresql-15-clm from a
# clean copy (in DIR/src) of the checkout's tracked files, install it with
# dpkg into the system PostgreSQL, run the regression and isolation tests
# against the installed files (pg_buildext installcheck: a throwaway
# cluster of the system PostgreSQL made by pg_virtualenv), then remove the
# package.  Prints pg_regress's output; fails on the first failing step.
clm_package_test() {
    local dir=$1 sudo="" deb rc
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    rm -rf "$dir"
    mkdir -p "$dir/src"
    git -C "$CLM_ROOT" rev-parse --git-dir >/dev/null 2>&1 \
        || { clm_log "not a git checkout: no clean copy to build the package from"; return 1; }
    # tracked files as they are in the work tree (uncommitted edits included)
    (cd "$CLM_ROOT" && git ls-files -z | xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
        | tar --null -T - -cf -) | tar -xf - -C "$dir/src" || return 1
    echo "-- dpkg-buildpackage -us -uc -b (log: $dir/build.log)"
    (cd "$dir/src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b) \
        >"$dir/build.log" 2>&1 || { tail -30 "$dir/build.log"; return 1; }
    deb=$(ls "$dir"/postgresql-"$PG_MAJOR"-clm_*.deb) || return 1
    echo "-- dpkg -i $(basename "$deb")"
    $sudo dpkg -i "$deb" >"$dir/dpkg.log" 2>&1 || { cat "$dir/dpkg.log"; return 1; }
    echo "-- pg_buildext installcheck against the installed package"
    (cd "$dir/src" && pg_buildext installcheck) >"$dir/installcheck.log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ]; then
        grep -E '\.\.\. (ok|FAILED|failed)|tests (passed|failed)' "$dir/installcheck.log"
    else
        cat "$dir/installcheck.log"
    fi
    $sudo dpkg -r "postgresql-$PG_MAJOR-clm" >>"$dir/dpkg.log" 2>&1 || { cat "$dir/dpkg.log"; return 1; }
    return $rc
}

# A port that differs between checkouts, so that two suites can run at once.
clm_default_port() {
    echo $((54000 + $(printf '%s' "$CLM_ROOT" | cksum | cut -d' ' -f1) % 900))
}

# clm_start_cluster DIR [postgres -c options...]: initdb + start, using
# $CLM_BINDIR.  Exports PGHOST, PGPORT, PGUSER for the clients.
clm_start_cluster() {
    local dir=$1
    shift
    local opts="" o
    for o in "$@"; do opts="$opts -c $o"; done
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    CLM_PGDATA=$dir/data
    PGPORT=${CLM_PORT:-$(clm_default_port)}
    PGHOST=$dir
    PGUSER=postgres
    export CLM_PGDATA PGPORT PGHOST PGUSER
    unset PGDATABASE PGSERVICE PGPASSWORD
    clm_as_pg "$CLM_BINDIR/initdb" -D "$CLM_PGDATA" -U postgres --auth=trust --no-sync \
        -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; clm_die "initdb failed"; }
    clm_as_pg "$CLM_BINDIR/pg_ctl" -D "$CLM_PGDATA" -l "$dir/server.log" -w -t 60 \
        -o "-p $PGPORT -k $dir -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off $opts" \
        start >/dev/null || { cat "$dir/server.log" >&2; clm_die "could not start the server"; }
    trap clm_stop_cluster EXIT
}

clm_stop_cluster() {
    [ -n "${CLM_PGDATA:-}" ] && [ -d "$CLM_PGDATA" ] || return 0
    clm_as_pg "$CLM_BINDIR/pg_ctl" -D "$CLM_PGDATA" -m fast -w stop >/dev/null 2>&1 || true
    if grep -q 'terminated by signal' "$(dirname "$CLM_PGDATA")/server.log" 2>/dev/null; then
        echo "SERVER CRASH: a backend was terminated by a signal (see $(dirname "$CLM_PGDATA")/server.log)" >&2
        grep -B2 -A2 'terminated by signal' "$(dirname "$CLM_PGDATA")/server.log" >&2
    fi
    CLM_PGDATA=
}

# clm_bench_dir NAME: where a benchmark keeps its build, cluster and data,
# $CLM_BENCH_DIR/NAME (default tmp_bench/NAME in the checkout): outside
# tmp_check/, which every test run wipes, so tests and benchmarks can run
# side by side.  Each benchmark also has its own default port (CLM_PORT).
clm_bench_dir() {
    echo "${CLM_BENCH_DIR:-$CLM_ROOT/tmp_bench}/$1"
}

# clm_bench_start NAME PORT [GUC=VALUE ...]: how every benchmark begins.
# Builds clm, installs it into a private tree in a fresh clm_bench_dir NAME
# and starts a cluster there with the given settings, on $CLM_PORT (default
# PORT).  Sets BENCH_DIR.
clm_bench_start() {
    local name=$1 port=$2
    shift 2
    BENCH_DIR=$(clm_bench_dir "$name")
    rm -rf "$BENCH_DIR"
    mkdir -p "$BENCH_DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$BENCH_DIR"
    clm_ensure_deps
    clm_build with_llvm=no
    clm_private_install "$BENCH_DIR/inst" with_llvm=no
    CLM_PORT=${CLM_PORT:-$port} clm_start_cluster "$BENCH_DIR/cluster" "$@"
}

# clm_html_target FILE: FILE as an absolute path, once it is clear that the
# HTML report can be written there: its directory exists and may be written
# (the page is written beside it and renamed into place) and FILE is not a
# directory, nor a file that may not be written.  Checked before any work
# starts; an error otherwise.
clm_html_target() {
    local f=$1 d abs
    [ -n "$f" ] || clm_die "--html needs a file name"
    d=$(dirname -- "$f")
    [ -d "$d" ] || clm_die "cannot write the HTML report to \"$f\": directory \"$d\" does not exist"
    [ ! -d "$f" ] || clm_die "cannot write the HTML report to \"$f\": it is a directory"
    [ ! -e "$f" ] || [ -w "$f" ] || clm_die "cannot write the HTML report to \"$f\": permission denied"
    { [ -w "$d" ] && [ -x "$d" ]; } || clm_die "cannot write the HTML report to \"$f\": permission denied in \"$d\""
    abs=$(CDPATH= cd -P -- "$d" >/dev/null && pwd -P) \
        || clm_die "cannot write the HTML report to \"$f\": cannot enter \"$d\""
    printf '%s/%s\n' "$abs" "$(basename -- "$f")"
}

# clm_html_report FILE LANG: the demo's lifecycle report (schema clm_demo of
# the database the libpq variables name) as one HTML page in FILE, labels in
# LANG (en or zh).  Written beside FILE and renamed into place: FILE is the
# whole new page or, if anything fails, what it was before.
clm_html_report() {
    local f=$1 lang=$2 page
    page=$(mktemp -- "$(dirname -- "$f")/.clm-report.XXXXXX") \
        || clm_die "cannot write the HTML report beside \"$f\""
    if ! command psql -X -q -At -v ON_ERROR_STOP=1 -v lang="$lang" \
            -f "$CLM_ROOT/bin/report/html/10_charts.sql" \
            -f "$CLM_ROOT/bin/report/html/20_report.sql" >"$page" \
       || ! chmod 0644 -- "$page" || ! mv -f -- "$page" "$f"; then
        rm -f -- "$page"
        clm_die "the HTML report failed; \"$f\" is unchanged"
    fi
}
