# test/lib/pgroot.sh: Debian roots that carry the PostgreSQL majors the host
# does not package (sourced by test/run_tests.sh, after pgenv.sh).
#
# The host (Debian bookworm) packages only PostgreSQL 15.  Newer Debian
# suites package the others: 17 in trixie, 18 in unstable (sid).  For such a
# major the suite runs inside a minimal Debian root of that suite
# (debootstrap --variant=minbase), with Debian's own binary packages
# installed by apt inside it.  Source packages are not a route.
#
# The archive is the one the host's own apt configuration uses; no host name
# is written here.  Roots are kept outside the checkout, in
# $CLM_ROOTS_DIR/<suite> (default /var/cache/clm-roots), and reused by later
# runs; a root counts as ready once its ".clm-ready" stamp exists.
#
# clm_in_root ROOT CMD...: runs CMD inside ROOT in a private mount namespace
# with /proc, /dev, /dev/shm, the checkout and, where it exists, the CDNOW
# data directory $CLM_CDNOW_DIR (read-only) mounted at their own paths.  The
# mounts are undone by a trap when CMD ends, whatever its exit status, and the
# private namespace takes them with it even if the trap never runs.

CLM_ROOTS_DIR=${CLM_ROOTS_DIR:-/var/cache/clm-roots}

# The PostgreSQL majors the suite supports, and the Debian suite packaging
# each one ("host" for the host's own packages).
CLM_MAJORS="15 17 18"
clm_major_suite() {
    case "$1" in
        15) echo host ;;
        17) echo trixie ;;
        18) echo sid ;;
        *) clm_die "PostgreSQL $1 is not supported (supported: $CLM_MAJORS)" ;;
    esac
}

# The URI of the host's main Debian archive: the first apt source whose
# suites include one without a "-" (bookworm, not bookworm-security or
# bookworm-updates).  deb822 .sources files first, then one-line sources.list.
clm_archive_url() {
    local url
    url=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
        function flush() { if (uri != "" && main && out == "") out = uri; uri = ""; main = 0 }
        /^[ \t]*$/ { flush(); next }
        /^URIs:/ { uri = $2 }
        /^Suites:/ { for (i = 2; i <= NF; i++) if ($i !~ /-/) main = 1 }
        END { flush(); print out }')
    if [ -z "$url" ]; then
        url=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '
            $1 == "deb" { u = $2; s = $3; if ($2 ~ /^\[/) { u = $3; s = $4 }
                          if (s !~ /-/) { print u; exit } }')
    fi
    [ -n "$url" ] || clm_die "no Debian archive found in the host's apt configuration"
    echo "$url"
}

# clm_in_root ROOT CMD...: see the header.
clm_in_root() {
    local root=$1
    shift
    local data=
    [ -n "${CLM_CDNOW_DIR:-}" ] && [ -d "$CLM_CDNOW_DIR" ] && data=$CLM_CDNOW_DIR
    unshare --mount --propagation private -- bash -c '
        root=$1 src=$2 data=$3
        shift 3
        undo() {
            [ -n "$data" ] && umount "$root$data"
            umount "$root$src" "$root/dev/shm" "$root/dev/pts" "$root/dev" "$root/proc"
            return 0
        } 2>/dev/null
        trap undo EXIT
        mount -t proc proc "$root/proc" &&
            mount --bind /dev "$root/dev" &&
            mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts" &&
            mount -t tmpfs -o mode=1777 shm "$root/dev/shm" &&
            mkdir -p "$root$src" && mount --bind "$src" "$root$src" || exit 2
        if [ -n "$data" ]; then
            mkdir -p "$root$data" && mount --bind -o ro "$data" "$root$data" || exit 2
        fi
        chroot "$root" "$@"
    ' clm-root "$root" "$CLM_ROOT" "$data" "$@"
}

# clm_enter_root MAJOR CMD...: where MAJOR runs inside a Debian root and we
# are not inside it yet, run CMD (an absolute path) there, on this checkout,
# as PostgreSQL MAJOR (CLM_PG_MAJOR), and exit with its status.  Otherwise
# return, and the caller goes on here.  The environment passes through, so
# the caller's settings (CLM_BENCH_ORDERS, CLM_PORT, CLM_CDNOW_DIR...) hold
# inside too.
clm_enter_root() {
    local major=$1 root
    shift
    if [ "$(clm_major_suite "$major")" = host ] || [ -n "${CLM_IN_ROOT:-}" ]; then
        return 0
    fi
    root=$(clm_root_ensure "$major") || exit 2
    clm_in_root "$root" env CLM_IN_ROOT=1 CLM_PG_MAJOR="$major" LC_ALL=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
    exit
}

# clm_root_ensure MAJOR: the root of MAJOR's suite, created and provisioned
# on first use.  Prints its path.
clm_root_ensure() {
    local major=$1 suite root url apt_opts="" pkgs
    suite=$(clm_major_suite "$major")
    root=$CLM_ROOTS_DIR/$suite
    [ -e "$root/.clm-ready-$major" ] && { echo "$root"; return 0; }
    [ "$(id -u)" -eq 0 ] || clm_die "creating the $suite root for PostgreSQL $major needs root"
    command -v debootstrap >/dev/null || {
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    } || clm_die "could not install debootstrap"
    mkdir -p "$CLM_ROOTS_DIR"
    url=$(clm_archive_url)
    (
        # one creator at a time per root
        flock 9
        [ -e "$root/.clm-ready-$major" ] && exit 0
        if [ ! -e "$root/.clm-debootstrapped" ]; then
            clm_log "creating the Debian $suite root $root from $url"
            rm -rf "$root"
            debootstrap --variant=minbase "$suite" "$root" "$url" >"$CLM_ROOTS_DIR/$suite.debootstrap.log" 2>&1 \
                || { tail -20 "$CLM_ROOTS_DIR/$suite.debootstrap.log" >&2; exit 2; }
            touch "$root/.clm-debootstrapped"
        fi
        # unstable's Release file may be past its Valid-Until date on a
        # snapshot archive
        [ "$suite" = sid ] && apt_opts="-o Acquire::Check-Valid-Until=false"
        pkgs="postgresql-$major postgresql-server-dev-$major make gcc perl libipc-run-perl python3-psycopg"
        clm_log "installing PostgreSQL $major into the $suite root"
        clm_in_root "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C bash -c "
            apt-get $apt_opts update -qq >/dev/null &&
            apt-get $apt_opts install -y -qq --no-install-recommends $pkgs >/dev/null &&
            { apt-get $apt_opts install -y -qq --no-install-recommends sqlsmith >/dev/null 2>&1 || true; }
        " || exit 2
        touch "$root/.clm-ready-$major"
    ) 9>"$CLM_ROOTS_DIR/$suite.lock" || clm_die "could not provision the $suite root for PostgreSQL $major"
    echo "$root"
}

# clm_host_pg_for_root ROOT DIR: the host's PostgreSQL (15) with the
# checkout's clm, made to run inside ROOT, for the pg_upgrade test that runs
# there (test/t/074_pg_upgrade_15_to_17.pl).  Built on the host and installed
# by clm_private_install into DIR/inst, without the JIT provider (its LLVM is
# not worth carrying over; the server then runs without JIT).  ROOT's newer
# Debian lacks some of the shared libraries the host's programs link against
# (ICU and OpenLDAP of older sonames): those, and only those, are copied from
# the host into DIR/lib, to be found through LD_LIBRARY_PATH=DIR/lib.  A
# soname counts as present when ROOT's ld.so.cache lists it; the libraries a
# copied one needs are looked at the same way in turn.  Every library ROOT
# has, libc above all, stays ROOT's own: mixing two libcs in one process
# crashes it, while the host's programs run on ROOT's newer glibc.  Runs in a
# subshell (the build sets PG_CONFIG and the rest for the host's major);
# prints the install's PostgreSQL directory, the one holding bin/ and lib/.
clm_host_pg_for_root() {
    local root=$1 dir=$2
    rm -rf "$dir"
    (
        # the sonames the ELF files "$@" need (their DT_NEEDED entries)
        needed() { readelf -d "$@" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p' | sort -u; }
        clm_ensure_deps
        clm_build with_llvm=no
        clm_private_install "$dir/inst" with_llvm=no
        pkglib=$dir/inst$("$PG_CONFIG" --pkglibdir)
        rm -rf "$pkglib"/llvmjit*.so "$pkglib/bitcode"
        have=$(chroot "$root" ldconfig -p | awk '$(NF - 1) == "=>" { print $1 }') || exit 2
        host=$(ldconfig -p | awk '$(NF - 1) == "=>" { print $1, $NF }')
        mkdir -p "$dir/lib"
        sonames=$(needed "$CLM_BINDIR"/* "$pkglib"/*.so)
        while [ -n "$sonames" ]; do
            copied=()
            for so in $sonames; do
                grep -qxF "$so" <<<"$have" && continue
                [ -e "$dir/lib/$so" ] && continue
                path=$(awk -v so="$so" '$1 == so { print $2; exit }' <<<"$host")
                [ -n "$path" ] || { clm_log "$so: not found on the host"; exit 2; }
                cp -L "$path" "$dir/lib/$so" || exit 2
                copied+=("$dir/lib/$so")
            done
            sonames=
            [ ${#copied[@]} -gt 0 ] && sonames=$(needed "${copied[@]}")
        done
        dirname "$CLM_BINDIR"
    )
}
