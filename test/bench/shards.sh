#!/usr/bin/env bash
# shards.sh - a coordinator with two postgres_fdw shards against one node
# (README "Scaling out").
#
#   test/bench/shards.sh [SPEC]          default: fashion
#
# Starts three clusters (test/tools/cluster.sh): a coordinator holding the
# data set (specs as in run_bench.sh) in one table with the default annoy
# index, and two shards, each holding half of the rows (hash partitions of
# a coordinator table, foreign tables on servers with extensions 'annoy')
# with the same index.  Measures recall@10 and queries/s of the prepared
# `SELECT id FROM t ORDER BY v <-> $1 LIMIT 10` (automatic search_k, one
# client) on the single node, and through the shards with fetch_size 100
# (postgres_fdw's default) and 10, and with use_remote_estimate on (a few
# queries: every row crosses then).  Rows go to $OUT/shards.csv.
#
# Environment: BENCH_QUERIES (300), BENCH_CLUSTER_DIR (/tmp/annoy-bench-shards:
# DIR/coordinator, DIR/shard1, DIR/shard2), BENCH_OUT, ANNOY_DATA_CACHE.
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH/../.." && pwd)
SPEC=${1:-fashion}
QUERIES=${BENCH_QUERIES:-300}
WARMUP=20
OUT=${BENCH_OUT:-$BENCH/out}
DIR=${BENCH_CLUSTER_DIR:-/tmp/annoy-bench-shards}
CACHE=${ANNOY_DATA_CACHE:-/var/tmp/annoy-data}

source "$BENCH/common.sh"
bench_prepare
mkdir -p "$DIR"
chmod 755 "$DIR"

cleanup() { for c in shard1 shard2 coordinator; do cluster_stop "$DIR/$c" --remove >/dev/null 2>&1 || true; done; }
trap cleanup EXIT
declare -A PORT
for c in shard1 shard2 coordinator; do
    cluster_start "$DIR/$c" "shared_buffers = 512MB" "jit = off" >/dev/null
    PORT[$c]=$PGPORT
    psql_q -c "CREATE EXTENSION annoy"
done
export PGOPTIONS="-c client_min_messages=warning"
dataset_load "$SPEC"   # into the coordinator (the last cluster started)
psql_q -c "CREATE INDEX ${TBL}_annoy ON $TBL USING annoy (v $ANNOY_OPC)" -c "CREATE EXTENSION postgres_fdw" \
    -c "CREATE TABLE sharded (id int, v real[]) PARTITION BY HASH (id)"
for i in 1 2; do
    PGHOST=$DIR/shard$i PGPORT=${PORT[shard$i]} psql_q -c "CREATE TABLE sharded (id int PRIMARY KEY, v real[])" \
        -c "ALTER TABLE sharded ALTER COLUMN v SET STORAGE PLAIN"
    psql_q -c "CREATE SERVER shard$i FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1',
                 port '${PORT[shard$i]}', dbname '$PGDATABASE', extensions 'annoy', batch_size '500')" \
        -c "CREATE USER MAPPING FOR CURRENT_USER SERVER shard$i OPTIONS (user '$PGUSER')" \
        -c "CREATE FOREIGN TABLE sharded_$i PARTITION OF sharded FOR VALUES WITH (MODULUS 2, REMAINDER $((i - 1)))
                 SERVER shard$i OPTIONS (table_name 'sharded')"
done
psql_q -c "INSERT INTO sharded SELECT id, v FROM $TBL"
for i in 1 2; do
    PGHOST=$DIR/shard$i PGPORT=${PORT[shard$i]} psql_q -c "CREATE INDEX ON sharded USING annoy (v $ANNOY_OPC)" \
        -c "VACUUM ANALYZE sharded"
done
psql_q -c "ANALYZE sharded"
log "coordinator ${PORT[coordinator]}, shards ${PORT[shard1]} and ${PORT[shard2]}: $(psql_v 'SELECT count(*) FROM sharded') rows"

CSV=$OUT/shards.csv
[[ -s $CSV ]] || echo "dataset,setup,recall,qps,p50_ms,p99_ms" >"$CSV"
run() {
    local setup=$1 table=$2 nq=$3 res
    shift 3
    res=$("$CLIENT" query --table "$table" --queries "$QTBL" --type 'real[]' --op "$OP" --nq "$nq" \
        --warmup "$WARMUP" --k 10 --gt "$GT" --clients 1 "$@")
    echo "$DS,$setup,$(field 1 "$res"),$(field 2 "$res"),$(field 3 "$res"),$(field 4 "$res")" >>"$CSV"
    log "$DS: $setup: recall $(field 1 "$res"), $(field 2 "$res") q/s, p50 $(field 3 "$res") ms"
}
servers() { for i in 1 2; do psql_q -c "ALTER SERVER shard$i OPTIONS ($1)"; done; }

run "single node" "$TBL" "$QUERIES" --expect-index "${TBL}_annoy"
run "2 shards, fetch_size 100" sharded "$QUERIES"
servers "ADD fetch_size '10'"
run "2 shards, fetch_size 10" sharded "$QUERIES"
servers "ADD use_remote_estimate 'true'"
WARMUP=1 run "2 shards, fetch_size 10, use_remote_estimate" sharded 5
log "results in $CSV"
