#!/usr/bin/env bash
# run_anchors.sh - the in-memory anchors (`make bench-anchors`): our core forest
# next to Annoy, hnswlib and FAISS on Fashion-MNIST and GloVe-100k, one thread,
# no PostgreSQL.  See README.md in this directory.
#
# Installs what it needs (Debian packages libhnswlib-dev, libfaiss-dev and the
# data sets' packages; Annoy's header from r-cran-rcppannoy, unpacked into the
# data cache without installing R), builds test/bench/anchors, runs it under
# nice and writes $OUT/anchors.md (the tables) and $OUT/anchors.csv.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)

usage() {
    cat <<EOF
usage: $0 [--datasets fashion,glove] [--libraries core,annoy,hnswlib,faiss] [--queries N]
Environment: ANCHORS_OUT (default test/bench/out), ANNOY_DATA_CACHE (/var/tmp/annoy-data),
ANCHORS_NICE (10).
EOF
}

DATASETS=fashion,glove
LIBRARIES=core,annoy,hnswlib,faiss
QUERIES=1000
while [[ $# -gt 0 ]]; do
    case $1 in
        --datasets) DATASETS=$2; shift ;;
        --libraries) LIBRARIES=$2; shift ;;
        --queries) QUERIES=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
    shift
done
OUT=${ANCHORS_OUT:-$REPO/test/bench/out}
CACHE=${ANNOY_DATA_CACHE:-/var/tmp/annoy-data}
NICE=${ANCHORS_NICE:-10}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'run_anchors.sh: ERROR: %s\n' "$*" >&2; exit 1; }
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "(not installed)"; }

# Debian packages besides the project's own (test/setup_deps.sh): hnswlib,
# FAISS with the BLAS and LAPACK it links against.
# (setup_deps.sh also brings npm.)
extra=(libhnswlib-dev libfaiss-dev libblas-dev liblapack-dev)
"$REPO/test/setup_deps.sh" "${extra[@]}" || die "cannot install the packages it needs (${extra[*]})"

# Annoy: annoylib.h and kissrandom.h from r-cran-rcppannoy, downloaded with
# apt and unpacked into the cache (R is not installed).
mkdir -p -- "$CACHE/anchors" || die "cannot create $CACHE/anchors (set ANNOY_DATA_CACHE)"
exec 9>"$CACHE/anchors/.lock"
flock 9 || die "cannot lock $CACHE/anchors/.lock"
ANNOY_ROOT=$CACHE/anchors/rcppannoy
ANNOY_INCLUDE=$ANNOY_ROOT/usr/lib/R/site-library/RcppAnnoy/include
if [[ ! -r $ANNOY_INCLUDE/annoylib.h || ! -r $ANNOY_ROOT/VERSION ]]; then
    log "fetching Annoy's header: apt-get download r-cran-rcppannoy into $CACHE/anchors"
    tmp=$(mktemp -d "$CACHE/anchors/.fetch.XXXXXX")
    fetch() { (cd "$tmp" && apt-get download -q r-cran-rcppannoy >/dev/null 2>&1); }
    fetch || { apt-get update -q >/dev/null 2>&1 || true; fetch; } \
        || { rm -rf -- "$tmp"; die "apt-get download r-cran-rcppannoy failed (is the Debian mirror reachable?)"; }
    deb=$(ls "$tmp"/r-cran-rcppannoy_*.deb)
    dpkg-deb -x "$deb" "$tmp/x" || { rm -rf -- "$tmp"; die "cannot unpack $deb"; }
    [[ -r $tmp/x/usr/lib/R/site-library/RcppAnnoy/include/annoylib.h ]] || { rm -rf -- "$tmp"; die "$deb has no annoylib.h"; }
    dpkg-deb -f "$deb" Version >"$tmp/x/VERSION"
    rm -rf -- "$ANNOY_ROOT"
    mv -- "$tmp/x" "$ANNOY_ROOT"
    rm -rf -- "$tmp"
fi
exec 9>&-

# --check: the run fails if an index never reaches recall 0.99 (a broken
# adapter or ground truth shows up that way).
args=(--datasets "$DATASETS" --libraries "$LIBRARIES" --queries "$QUERIES" --check)
if [[ ,$DATASETS, == *,glove,* ]]; then
    mapfile -t glove < <("$REPO/test/tools/load_glove.sh" --files 100000 10000)
    [[ ${#glove[@]} -eq 2 ]] || die "load_glove.sh --files did not name the two COPY files"
    args+=(--glove-train "${glove[0]}" --glove-test "${glove[1]}")
fi

log "build"
mkdir -p -- "$OUT"
make -s -C "$HERE" -j2 BUILD="$OUT/anchors-build" ANNOY_INCLUDE="$ANNOY_INCLUDE" >&2
BIN=$OUT/anchors-build/anchors

log "run under nice -n $NICE (about 5 minutes a data set on 2 busy cores)"
load=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$EPOCHREALTIME
nice -n "$NICE" "$BIN" "${args[@]}" --markdown "$OUT/anchors.tables.md" --csv "$OUT/anchors.csv" >/dev/null
{
    echo "# In-memory anchors: our core forest, Annoy, hnswlib, FAISS"
    echo
    echo "\`make bench-anchors\` (test/bench/anchors/run_anchors.sh --datasets $DATASETS --libraries $LIBRARIES" \
        "--queries $QUERIES), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores" \
        "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load average $load before the run," \
        "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s in all."
    echo "Annoy from r-cran-rcppannoy $(cat "$ANNOY_ROOT/VERSION"), hnswlib from libhnswlib-dev" \
        "$(pkg_version libhnswlib-dev), FAISS from libfaiss-dev $(pkg_version libfaiss-dev) (reference BLAS" \
        "libblas3 $(pkg_version libblas3)); the core at commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')."
    echo
    echo "One thread; every index in one process over the same vectors and queries. q/s = queries per CPU second,"
    echo "build = CPU seconds, memory = heap the index holds after its build including the vectors it searches"
    echo "(the core reads the caller's copy, counted for it). Recall@10 against exact search (ties count as hits)."
    echo
    cat "$OUT/anchors.tables.md"
} >"$OUT/anchors.md"
cat "$OUT/anchors.md"
log "wrote $OUT/anchors.md and $OUT/anchors.csv"
