#!/usr/bin/env bash
# churn.sh - index size under rounds of updates: every row of a Fashion-MNIST
# table (30,000 rows by default) is updated once per round (a changed vector,
# so no update is HOT), then the table is VACUUMed.  After each round it
# prints the size of the annoy index, of a fresh annoy build of the same rows,
# of a btree on the table's id, and of a pgvector HNSW index when the cluster
# has the `vector` extension (CHURN_PGVECTOR=off skips it).
#
#   test/bench/churn.sh [ROWS (30000)] [ROUNDS (6)]
#
# Uses the extension and cluster tools of this repository (installs nothing):
# a private cluster in $BENCH_CLUSTER_DIR (default /tmp/annoy-churn), data
# from $ANNOY_DATA_CACHE via test/tools/load_fashion_mnist.sh.  Output: one
# CSV line per round on stdout (and in $BENCH_OUT/churn.csv if BENCH_OUT is
# set).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
ROWS=${1:-30000}
ROUNDS=${2:-6}
DIR=${BENCH_CLUSTER_DIR:-/tmp/annoy-churn}

source "$REPO/test/tools/cluster.sh"
cluster_start "$DIR" "maintenance_work_mem = 1GB" "autovacuum = off" >/dev/null
trap 'cluster_stop "$DIR" --remove >/dev/null 2>&1 || true' EXIT
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION annoy' >/dev/null
"$REPO/test/tools/load_fashion_mnist.sh" fm "$ROWS" 0 >/dev/null

hnsw=0
if [ "${CHURN_PGVECTOR:-on}" != off ] &&
    psql -qXAt -c "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'" | grep -q 1; then
    hnsw=1
    psql -qX -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION vector SCHEMA public' >/dev/null 2>&1 ||
        psql -qX -v ON_ERROR_STOP=1 -c 'CREATE SCHEMA pgv; CREATE EXTENSION vector SCHEMA pgv' >/dev/null
fi

q() { psql -qXAt -v ON_ERROR_STOP=1 -c "$1"; }
vec_type=$(q "SELECT format_type(oid, -1) FROM pg_type WHERE typname = 'vector'" 2>/dev/null || true)
q "CREATE TABLE churn AS SELECT id, embedding FROM fm_train; ALTER TABLE churn ADD PRIMARY KEY (id)" >/dev/null
if [ $hnsw = 1 ]; then
    q "ALTER TABLE churn ADD vec $vec_type(784); UPDATE churn SET vec = embedding::$vec_type" >/dev/null
    q "VACUUM churn" >/dev/null
fi
q "CREATE INDEX churn_annoy ON churn USING annoy (embedding)"
if [ $hnsw = 1 ]; then q "SET maintenance_work_mem = '1GB'; CREATE INDEX churn_hnsw ON churn USING hnsw (vec ${vec_type%vector}vector_l2_ops)" >/dev/null; fi

mb() { q "SELECT round(pg_relation_size('$1') / 1048576.0, 1)"; }
fresh() {
    q "CREATE INDEX churn_fresh ON churn USING annoy (embedding)" >/dev/null
    local s
    s=$(mb churn_fresh)
    q "DROP INDEX churn_fresh" >/dev/null
    echo "$s"
}

header="round,annoy_mb,fresh_annoy_mb,ratio,btree_mb"
if [ $hnsw = 1 ]; then header="$header,hnsw_mb"; fi
echo "$header"
out=${BENCH_OUT:+$BENCH_OUT/churn.csv}
if [ -n "$out" ]; then mkdir -p "$BENCH_OUT" && echo "$header" >"$out"; fi
for r in $(seq 0 "$ROUNDS"); do
    if [ "$r" -gt 0 ]; then
        # Every row once, in 10 batches of 10% (pixel 1 changes, so the
        # update is not HOT and every index gets a new entry), then VACUUM.
        for b in $(seq 0 9); do
            set_vec=""
            if [ $hnsw = 1 ]; then set_vec=", vec = ((embedding[1:1] || ARRAY[embedding[1] + $r] || embedding[3:]))::$vec_type"; fi
            q "UPDATE churn SET embedding = embedding[1:1] || ARRAY[embedding[1] + $r] || embedding[3:] $set_vec
               WHERE id % 10 = $b" >/dev/null
        done
        q "VACUUM churn" >/dev/null
    fi
    a=$(mb churn_annoy)
    f=$(fresh)
    line="$r,$a,$f,$(awk -v a="$a" -v f="$f" 'BEGIN { printf "%.2f", a / f }'),$(mb churn_pkey)"
    if [ $hnsw = 1 ]; then line="$line,$(mb churn_hnsw)"; fi
    echo "$line"
    if [ -n "$out" ]; then echo "$line" >>"$out"; fi
done
