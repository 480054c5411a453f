# common.sh - what the single-purpose benchmark scripts share (scaling.sh,
# partitions.sh, replicas.sh, shards.sh); sourced after they set BENCH,
# REPO, OUT and CACHE.
# shellcheck shell=bash disable=SC2034  # sets CLIENT for its callers

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '%s: ERROR: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
field() { echo "$2" | cut -d' ' -f"$1"; }
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
psql_v() { psql -X -q -v ON_ERROR_STOP=1 -At -c "$1"; }

source "$BENCH/datasets.sh"
source "$REPO/test/tools/cluster.sh"

# Builds and installs the extension, compiles the client into $OUT.
bench_prepare() {
    make -s -C "$REPO" -j2 >/dev/null
    make -s -C "$REPO" install >/dev/null
    mkdir -p "$OUT" "$CACHE"
    CLIENT=$OUT/bench_client
    g++ -O3 -march=native -std=c++17 -pthread -I"$(pg_config --includedir)" \
        "$BENCH/bench_client.cpp" -o "$CLIENT" -L"$(pg_config --libdir)" -lpq
}
