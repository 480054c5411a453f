#!/usr/bin/env bash
# run_bench.sh - the benchmark tool (`make bench`): annoy against an exact scan
# and, when the cluster has the `vector` extension, pgvector HNSW and IVFFlat.
#
# Installs what it needs, builds and installs the extension, starts a private
# cluster, loads each data set, measures, writes test/bench/out/ (one CSV and one
# recall-vs-q/s PNG per data set, summary.md) and prints the summary.
# The method: one client over a Unix socket,
# prepared `SELECT id FROM t ORDER BY v <op> $1 LIMIT 10`, 1,000 queries after
# 100 warm-up queries, shared_buffers and maintenance_work_mem 4GB, one
# parallel maintenance worker, jit off.  See test/bench/README.md.
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH/../.." && pwd)

usage() {
    cat <<EOF
usage: $0 [--datasets LIST] [--quick] [--queries N] [--clients N] [--no-pgvector] [--keep-cluster]
  --datasets LIST   comma-separated: fashion[:N], glove[:N], synthetic:N:D   (BENCH_DATASETS,
                    default fashion,glove; quick mode: synthetic:10000:32)
  --quick           tiny sweep, for a smoke test (BENCH_QUICK=1)
  --queries N       measured queries per point (BENCH_QUERIES, default 1000; quick 100)
  --clients N       clients of the concurrency test (BENCH_CLIENTS, default 2)
  --no-pgvector     skip pgvector even if the cluster has it (BENCH_PGVECTOR=off)
  --keep-cluster    leave the cluster running afterwards (BENCH_KEEP_CLUSTER=1)
More settings (environment only): BENCH_CONFIGS ("N_TREES:LEAF_SIZE ..."), BENCH_SEARCH_K,
BENCH_EF_SEARCH, BENCH_PROBES, BENCH_WARMUP, BENCH_EXACT_QUERIES, BENCH_INSERTS,
BENCH_TARGET_RECALL, BENCH_STOP_RECALL,
BENCH_PG_SETTINGS ("name = value; ..."), BENCH_CLUSTER_DIR, BENCH_OUT, ANNOY_DATA_CACHE.
EOF
}

while [[ $# -gt 0 ]]; do
    case $1 in
        --datasets) BENCH_DATASETS=$2; shift ;;
        --quick) BENCH_QUICK=1 ;;
        --queries) BENCH_QUERIES=$2; shift ;;
        --clients) BENCH_CLIENTS=$2; shift ;;
        --no-pgvector) BENCH_PGVECTOR=off ;;
        --keep-cluster) BENCH_KEEP_CLUSTER=1 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
    shift
done

# Defaults: a full run of fashion + glove takes about 20-30 minutes with
# pgvector on a 2-core machine; quick mode takes seconds.
if [[ ${BENCH_QUICK:-0} == 1 ]]; then
    DATASETS=${BENCH_DATASETS:-synthetic:10000:32}
    QUERIES=${BENCH_QUERIES:-100}; WARMUP=${BENCH_WARMUP:-10}; EXACT_QUERIES=${BENCH_EXACT_QUERIES:-5}
    CONFIGS=${BENCH_CONFIGS:-10:64}
    SEARCH_K=${BENCH_SEARCH_K:-100 1000 -1}
    EF_SEARCH=${BENCH_EF_SEARCH:-10 40}; PROBES=${BENCH_PROBES:-1 8}
    INSERTS=${BENCH_INSERTS:-100}
else
    DATASETS=${BENCH_DATASETS:-fashion,glove}
    QUERIES=${BENCH_QUERIES:-1000}; WARMUP=${BENCH_WARMUP:-100}; EXACT_QUERIES=${BENCH_EXACT_QUERIES:-20}
    # n_trees:leaf_size; a cross through the default 10:64 rather than the
    # full 3 x 3 grid, which would double the run time.
    CONFIGS=${BENCH_CONFIGS:-5:64 10:64 20:64 10:32 10:128}
    SEARCH_K=${BENCH_SEARCH_K:-100 200 300 500 1000 2000 5000 10000 -1}
    EF_SEARCH=${BENCH_EF_SEARCH:-10 20 40 80 160}; PROBES=${BENCH_PROBES:-1 2 4 8 16 32 64}
    INSERTS=${BENCH_INSERTS:-2000}
fi
CLIENTS=${BENCH_CLIENTS:-2}
TARGET_RECALL=${BENCH_TARGET_RECALL:-0.95}
STOP_RECALL=${BENCH_STOP_RECALL:-0.999}
PGVECTOR=${BENCH_PGVECTOR:-auto}
OUT=${BENCH_OUT:-$BENCH/out}
CLUSTER=${BENCH_CLUSTER_DIR:-/tmp/annoy-bench}
CACHE=${ANNOY_DATA_CACHE:-/var/tmp/annoy-data}
for v in QUERIES WARMUP EXACT_QUERIES INSERTS CLIENTS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "run_bench.sh: $v must be a positive integer" >&2; exit 2; }
done

apt_install() {
    [[ $(id -u) -eq 0 ]] || die "missing $*; run as root to install it"
    log "installing $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/tmp/annoy-bench-apt.log 2>&1 || {
        apt-get update -q >/dev/null 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/tmp/annoy-bench-apt.log 2>&1
    } || { cat /tmp/annoy-bench-apt.log >&2; die "apt-get install $* failed"; }
}

# log, die, psql helpers, the data sets, the cluster and bench_prepare.
# shellcheck source=common.sh
source "$BENCH/common.sh"
# shellcheck source=measure.sh
source "$BENCH/measure.sh"

t_all=$EPOCHREALTIME
log "dependencies"
"$REPO/test/setup_deps.sh"
command -v gnuplot >/dev/null || apt_install gnuplot-nox
command -v python3 >/dev/null || apt_install python3

log "build and install the extension"
bench_prepare

log "cluster in $CLUSTER"
settings=("shared_buffers = 4GB" "maintenance_work_mem = 4GB" "max_parallel_maintenance_workers = 1" "jit = off")
IFS=';' read -r -a extra <<<"${BENCH_PG_SETTINGS:-}"
cleanup() {
    if [[ ${BENCH_KEEP_CLUSTER:-0} == 1 ]]; then
        log "cluster left running: eval \"\$($REPO/test/tools/cluster.sh env $CLUSTER)\""
    else
        cluster_stop "$CLUSTER" --remove >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT
cluster_start "$CLUSTER" "${settings[@]}" "${extra[@]}"
export PGOPTIONS="-c client_min_messages=warning"  # no "does not exist, skipping" notices
psql_q -c "CREATE EXTENSION annoy"
have_pgvector=0
if [[ $PGVECTOR != off && -n $(psql_v "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'") ]]; then
    # pgvector has its own hamming_distance(bit, bit) and <~> on bit, which
    # clash with annoy's: give it a schema of its own, on the search path.
    psql_q -c "CREATE SCHEMA pgvector" -c "CREATE EXTENSION vector SCHEMA pgvector" \
        -c "ALTER DATABASE $PGDATABASE SET search_path = public, pgvector"
    have_pgvector=1
fi
pgv_version=$([[ $have_pgvector == 1 ]] && psql_v "SELECT extversion FROM pg_extension WHERE extname = 'vector'" || echo absent)
log "pgvector: $pgv_version"

cat >"$OUT/run.info" <<EOF
Run $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)),
PostgreSQL $(psql_v 'SHOW server_version'), annoy $(psql_v "SELECT extversion FROM pg_extension WHERE extname = 'annoy'"), pgvector $pgv_version;
$(printf '%s, ' "${settings[@]}" "${extra[@]}" | sed 's/, $//'); $QUERIES queries after $WARMUP warm-up, one client unless said otherwise.
Load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews absolute figures; compare ratios).
EOF

done_ds=()
IFS=',' read -r -a specs <<<"$DATASETS"
for spec in "${specs[@]}"; do
    t_ds=$EPOCHREALTIME
    log "=== data set $spec"
    dataset_load "$spec"
    CSV=$OUT/$DS.csv
    echo "$CSV_HEADER" >"$CSV"
    printf 'rows=%s\ndim=%s\nmetric=%s\nqueries=%s\n' "$N" "$DIM" "$METRIC" "$QUERIES" >"$OUT/$DS.meta"
    [[ $have_pgvector == 0 ]] || pgvector_table
    measure_baselines
    measure_annoy
    [[ $have_pgvector == 0 ]] || measure_pgvector
    psql_q -c "DROP TABLE IF EXISTS $TBL, $QTBL, ${TBL}_vec"
    done_ds+=("$DS")
    log "=== $DS done in $(since "$t_ds") s"
done

echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)." >>"$OUT/run.info"
python3 "$BENCH/report.py" summary "$OUT" "${done_ds[@]}"
log "results in $OUT (CSV, PNG, summary.md); total $(since "$t_all") s"
