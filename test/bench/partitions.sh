#!/usr/bin/env bash
# partitions.sh - one table against 16 and 128 hash partitions of the same
# rows (README "Scaling out").
#
#   test/bench/partitions.sh [SPEC]          default: fashion
#
# Loads the data set (specs as in run_bench.sh), copies its rows into a
# table partitioned by HASH (id) into P partitions for each P in
# BENCH_PARTITIONS ("16 128"), builds one annoy index on each parent
# (default options), and measures recall@10 and queries/s of the prepared
# `SELECT id FROM t ORDER BY v <-> $1 LIMIT 10` for each annoy.search_k in
# BENCH_SEARCH_K ("-1 200 1000"), one client; whether the planner chose the
# annoy indexes by itself is the `forced` column (1: it did not, and
# enable_seqscan = off was needed).  Each table's exact scan (index scans
# off: the plan the planner chose for partitioned tables before their scans
# shared a budget) is measured on 20 queries, search_k "exact".  Rows go to
# $OUT/partitions.csv.
#
# Environment: BENCH_QUERIES (500), BENCH_CLUSTER_DIR
# (/tmp/annoy-bench-partitions), BENCH_OUT (test/bench/out), ANNOY_DATA_CACHE.
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH/../.." && pwd)
SPEC=${1:-fashion}
QUERIES=${BENCH_QUERIES:-500}
WARMUP=20
PARTITIONS=${BENCH_PARTITIONS:-16 128}
SEARCH_K=${BENCH_SEARCH_K:--1 200 1000}
OUT=${BENCH_OUT:-$BENCH/out}
CLUSTER=${BENCH_CLUSTER_DIR:-/tmp/annoy-bench-partitions}
CACHE=${ANNOY_DATA_CACHE:-/var/tmp/annoy-data}

source "$BENCH/common.sh"
bench_prepare

cluster_start "$CLUSTER" "shared_buffers = 2GB" "max_parallel_maintenance_workers = 1" "jit = off" \
    "max_locks_per_transaction = 256" >/dev/null
trap 'cluster_stop "$CLUSTER" --remove >/dev/null 2>&1 || true' EXIT
export PGOPTIONS="-c client_min_messages=warning"
psql_q -c "CREATE EXTENSION annoy"
dataset_load "$SPEC"

CSV=$OUT/partitions.csv
[[ -s $CSV ]] || echo "dataset,partitions,search_k,recall,qps,p50_ms,p99_ms,forced,build_s" >"$CSV"

# measure TABLE PARTITIONS INDEX BUILD_S: one row per search_k.
measure() {
    local res sk
    for sk in $SEARCH_K; do
        res=$("$CLIENT" query --table "$1" --queries "$QTBL" --type 'real[]' --op "$OP" --nq "$QUERIES" \
            --warmup "$WARMUP" --k 10 --gt "$GT" --clients 1 --expect-index "$3" --set "annoy.search_k=$sk")
        echo "$DS,$2,$sk,$(field 1 "$res"),$(field 2 "$res"),$(field 3 "$res"),$(field 4 "$res"),$(field 5 "$res"),$4" >>"$CSV"
        log "$DS, $2 partition(s), search_k $sk: recall $(field 1 "$res"), $(field 2 "$res") q/s, p50 $(field 3 "$res") ms, forced $(field 5 "$res")"
    done
    res=$("$CLIENT" query --table "$1" --queries "$QTBL" --type 'real[]' --op "$OP" --nq 20 --warmup 2 --k 10 \
        --gt "$GT" --clients 1 --expect-index none --set enable_indexscan=off)
    echo "$DS,$2,exact,$(field 1 "$res"),$(field 2 "$res"),$(field 3 "$res"),$(field 4 "$res"),0,$4" >>"$CSV"
    log "$DS, $2 partition(s), exact scan: $(field 2 "$res") q/s, p50 $(field 3 "$res") ms"
}

t0=$EPOCHREALTIME
psql_q -c "CREATE INDEX ${TBL}_annoy ON $TBL USING annoy (v $ANNOY_OPC)"
measure "$TBL" 1 "${TBL}_annoy" "$(since "$t0")"
for p in $PARTITIONS; do
    t=${TBL}_p$p
    psql_q -c "DROP TABLE IF EXISTS $t" -c "CREATE TABLE $t (id int, v real[]) PARTITION BY HASH (id)" \
        -c "ALTER TABLE $t ALTER COLUMN v SET STORAGE PLAIN"
    psql_q >/dev/null <<EOF
SELECT format('CREATE TABLE %s_%s PARTITION OF %s FOR VALUES WITH (MODULUS %s, REMAINDER %s)', '$t', i, '$t', $p, i)
FROM generate_series(0, $p - 1) i \gexec
EOF
    psql_q -c "INSERT INTO $t SELECT id, v FROM $TBL" -c "VACUUM ANALYZE $t"
    t0=$EPOCHREALTIME
    psql_q -c "CREATE INDEX ${t}_annoy ON $t USING annoy (v $ANNOY_OPC)"
    # Partition i's index is named <table>_<i>_v_idx.
    measure "$t" "$p" "${t}_0_v_idx" "$(since "$t0")"
    psql_q -c "DROP TABLE $t"
done
log "results in $CSV"
