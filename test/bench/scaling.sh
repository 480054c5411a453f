#!/usr/bin/env bash
# scaling.sh - how annoy's costs grow with the table (README "Scaling out").
#
#   test/bench/scaling.sh [SPEC ...]      default: synthetic:100000:768 synthetic:1000000:768
#
# For each data set (specs as in run_bench.sh: synthetic:N:D, fashion, glove[:N]):
#   - builds the default index (10 trees, leaf_size 64) twice, at
#     maintenance_work_mem 64MB (the server default) and at 1GB, each on a
#     fresh connection, timing it and sampling the building backend's private
#     memory (RssAnon in /proc, every 0.1 s: shared buffers are not counted);
#   - the index size, then recall@10 and latency at fixed annoy.search_k
#     values and at the automatic budget (-1);
#   - single-row inserts into the (large) index.
# One row per figure goes to $OUT/scaling.csv; $OUT/scaling.png plots build
# seconds and query latency against N (gnuplot).
#
# Environment: BENCH_QUERIES (200), BENCH_SEARCH_K ("500 2000 -1"),
# BENCH_INSERTS (1000), BENCH_CLUSTER_DIR (/tmp/annoy-bench-scaling),
# BENCH_OUT (test/bench/out), ANNOY_DATA_CACHE.  Run it under `nice` on a
# shared machine: a 1,000,000 x 768 data set needs about 4 GB for the table
# and as much again for the index, and takes 20-40 minutes.
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH/../.." && pwd)
SPECS=("$@")
[[ ${#SPECS[@]} -gt 0 ]] || SPECS=(synthetic:100000:768 synthetic:1000000:768)
QUERIES=${BENCH_QUERIES:-200}
WARMUP=20
SEARCH_K=${BENCH_SEARCH_K:-500 2000 -1}
INSERTS=${BENCH_INSERTS:-1000}
OUT=${BENCH_OUT:-$BENCH/out}
CLUSTER=${BENCH_CLUSTER_DIR:-/tmp/annoy-bench-scaling}
CACHE=${ANNOY_DATA_CACHE:-/var/tmp/annoy-data}

source "$BENCH/common.sh"
bench_prepare

# shared_buffers 2GB: the large index does not fit, as it would not on a
# server whose data outgrew its memory (the OS cache holds the rest).
cluster_start "$CLUSTER" "shared_buffers = 2GB" "max_parallel_maintenance_workers = 1" \
    "max_wal_size = 8GB" "jit = off" >/dev/null
trap 'cluster_stop "$CLUSTER" --remove >/dev/null 2>&1 || true' EXIT
export PGOPTIONS="-c client_min_messages=warning"
psql_q -c "CREATE EXTENSION annoy"

CSV=$OUT/scaling.csv
[[ -s $CSV ]] || echo "dataset,n,dim,kind,param,value,recall,p50_ms,p99_ms,qps" >"$CSV"
row() { echo "$DS,$N,$DIM,$1,$2,$3,${4:-},${5:-},${6:-},${7:-}" >>"$CSV"; }

# build MWM: CREATE INDEX on a fresh connection; prints "seconds peak_anon_mb".
build() {
    local mwm=$1 pidfile peakfile t0 secs
    pidfile=$(mktemp) peakfile=$(mktemp)
    psql_q -c "DROP INDEX IF EXISTS ${TBL}_annoy"
    coproc BUILD { psql -X -q -v ON_ERROR_STOP=1 -At; }
    echo "SELECT pg_backend_pid();" >&"${BUILD[1]}"
    read -r pid <&"${BUILD[0]}"
    (peak=0; while [[ -r /proc/$pid/status ]]; do
        kb=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
        (( ${kb:-0} > peak )) && { peak=$kb; echo "$peak" >"$peakfile"; }
        sleep 0.1
    done) &
    local sampler=$!
    t0=$EPOCHREALTIME
    printf '%s\n' "SET maintenance_work_mem = '$mwm';" \
        "CREATE INDEX ${TBL}_annoy ON $TBL USING annoy (v);" "SELECT 'built';" >&"${BUILD[1]}"
    local line
    while read -r line <&"${BUILD[0]}"; do [[ $line == built ]] && break; done
    secs=$(since "$t0")
    exec {BUILD[1]}>&-
    wait "$BUILD_PID" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    echo "$secs $(awk '{ printf "%.0f", $1 / 1024 }' "$peakfile")"
    rm -f "$pidfile" "$peakfile"
}

for spec in "${SPECS[@]}"; do
    t_ds=$EPOCHREALTIME
    log "=== $spec"
    dataset_load "$spec"
    psql_q -c "VACUUM ANALYZE $TBL"
    for mwm in 64MB 1GB; do
        res=$(build "$mwm")
        row build "$mwm" "$(field 1 "$res")"
        row peak_mb "$mwm" "$(field 2 "$res")"
        log "$DS: build at maintenance_work_mem $mwm: $(field 1 "$res") s, peak private memory $(field 2 "$res") MB"
    done
    size=$(psql_v "SELECT round(pg_relation_size('${TBL}_annoy') / 1048576.0)")
    row size_mb - "$size"
    log "$DS: index $size MB, table $(psql_v "SELECT round(pg_table_size('$TBL') / 1048576.0)") MB"
    for sk in $SEARCH_K; do
        res=$("$CLIENT" query --table "$TBL" --queries "$QTBL" --type 'real[]' --op "$OP" --nq "$QUERIES" \
            --warmup "$WARMUP" --k 10 --gt "$GT" --clients 1 --expect-index "${TBL}_annoy" --set "annoy.search_k=$sk")
        row query "$sk" "$(field 2 "$res")" "$(field 1 "$res")" "$(field 3 "$res")" "$(field 4 "$res")" "$(field 2 "$res")"
        log "$DS: search_k $sk: recall $(field 1 "$res"), $(field 2 "$res") q/s, p50 $(field 3 "$res") ms"
    done
    res=$("$CLIENT" insert --table "$TBL" --queries "$QTBL" --type 'real[]' --n "$INSERTS" --id-start 100000000)
    row insert - "$(field 1 "$res")"
    log "$DS: $(field 1 "$res") single-row inserts/s"
    psql_q -c "DROP TABLE IF EXISTS $TBL, $QTBL"
    log "=== $DS done in $(since "$t_ds") s"
done

python3 - "$CSV" "$OUT/scaling.png" <<'EOF'
import csv, subprocess, sys
rows = list(csv.DictReader(open(sys.argv[1])))
def series(kind, param):
    pts = sorted((int(r["n"]), float(r["value"] if kind != "query" else r["p50_ms"]), r["dim"])
                 for r in rows if r["kind"] == kind and r["param"] == param)
    return pts
blocks, titles = [], []
for dim in sorted({r["dim"] for r in rows}):
    for kind, param, what in [("build", "64MB", "build s, mwm 64MB"), ("build", "1GB", "build s, mwm 1GB"),
                              ("query", "-1", "query ms (p50), automatic search_k"),
                              ("query", "2000", "query ms (p50), search_k 2000")]:
        pts = [(n, v) for n, v, d in series(kind, param) if d == dim]
        if len(pts) >= 1:
            blocks.append("\n".join(f"{n} {v}" for n, v in pts) + "\ne")
            titles.append(f"{dim}-d: {what}")
plots = ", ".join(f"'-' with linespoints title '{t}'" for t in titles)
script = f"""set terminal pngcairo size 900,560
set output '{sys.argv[2]}'
set logscale xy
set xlabel 'rows (N)'
set ylabel 'seconds (build) / milliseconds (query)'
set key top left
set grid
set termoption noenhanced
plot {plots}
""" + "\n".join(blocks) + "\n"
subprocess.run(["gnuplot"], input=script, text=True, check=True)
EOF
log "results in $CSV and $OUT/scaling.png"
