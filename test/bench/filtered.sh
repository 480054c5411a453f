#!/usr/bin/env bash
# filtered.sh - filtered kNN (README "Filtered search"): the nearest rows that
# also pass a WHERE condition, `SELECT id FROM t WHERE <filter> ORDER BY v
# <op> $1 LIMIT 10`, by each way PostgreSQL can answer it.
#
#   test/bench/filtered.sh                 Fashion-MNIST + 100,000 x 96 multi-tenant
#   BENCH_QUICK=1 test/bench/filtered.sh   smoke test: 5,000 rows of each, 20 queries
#
# Data sets and filters (each query has its own filter value, $2):
#   fashion  Fashion-MNIST 784-d, euclidean, columns label (class 0..9, ~10%),
#            m100 = id % 100 (1%), m1000 = id % 1000 (0.1%); filter `col = $2`
#   tenants  clustered gaussian mixture (bench_client gen) 96-d, cosine, 1,000
#            tenants of skewed sizes (tenant = floor(1000 u^3): tenant 0 holds
#            10% of the rows, tenant 999 0.03%), labels int[] of 2 of 50 labels;
#            filters `tenant = $2` (a tenant drawn uniformly), `tenant = ANY($2)`
#            (3 tenants), `labels && $2` (2 labels)
# Methods, one index at a time on a copy of the table (so the planner cannot
# pick another), each measured on the same queries:
#   exact        sequential scan + top-10 sort (no index): the ground truth's plan
#   btree+sort   a btree on the filter column, then a sort of the matching rows
#   annoy post   single-column annoy index, the executor filters what it returns
#   annoy filter multi-column annoy index (vector, filter columns...): the scan
#                applies the filter to leaf entries (skipped with a message when
#                the build does not support filter columns)
#   planner's choice  the annoy filter index and btrees (gin) on the filter
#                columns together: the plan the planner picks (automatic budget)
#   hnsw         pgvector HNSW (m 16, ef_construction 64) with
#                hnsw.iterative_scan = relaxed_order (skipped without pgvector)
# Ground truth: the exact answer of each filtered query, computed in SQL with
# the index scans off; recall@10 counts ties at the 10th distance as hits.
# For both annoy indexes also: build time, size, single-row INSERTs/s and
# VACUUM after deleting 10% (the cost of carrying the filter values).
#
# Writes $RESULTS/filtered.csv and filtered.md (the table, also printed).
# RESULTS: BENCH_OUT, else test/bench/results (full run) or test/bench/out
# (quick mode); the client is compiled into test/bench/out.
# Environment: BENCH_QUICK, BENCH_DATASETS (fashion,tenants), BENCH_QUERIES
# (100; quick 20), BENCH_EXACT_QUERIES (10), BENCH_WARMUP (10), BENCH_INSERTS
# (1000; quick 100), BENCH_SEARCH_K ("-1 5000"), BENCH_EF_SEARCH ("40 200"),
# BENCH_PGVECTOR (auto|off), BENCH_TENANT_ROWS (100000), BENCH_CLUSTER_DIR
# (/tmp/annoy-bench-filtered), BENCH_OUT, ANNOY_DATA_CACHE.
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH/../.." && pwd)
if [[ ${BENCH_QUICK:-0} == 1 ]]; then
    DATASETS=${BENCH_DATASETS:-fashion,tenants}
    QUERIES=${BENCH_QUERIES:-20}; INSERTS=${BENCH_INSERTS:-100}
    FASHION_ROWS=5000; TENANT_ROWS=${BENCH_TENANT_ROWS:-5000}
    RESULTS=${BENCH_OUT:-$BENCH/out}
else
    DATASETS=${BENCH_DATASETS:-fashion,tenants}
    QUERIES=${BENCH_QUERIES:-100}; INSERTS=${BENCH_INSERTS:-1000}
    FASHION_ROWS=all; TENANT_ROWS=${BENCH_TENANT_ROWS:-100000}
    RESULTS=${BENCH_OUT:-$BENCH/results}
fi
OUT=$BENCH/out
EXACT_QUERIES=${BENCH_EXACT_QUERIES:-10}
WARMUP=${BENCH_WARMUP:-10}
SEARCH_K=${BENCH_SEARCH_K:--1 5000}
EF_SEARCH=${BENCH_EF_SEARCH:-40 200}
PGVECTOR=${BENCH_PGVECTOR:-auto}
CLUSTER=${BENCH_CLUSTER_DIR:-/tmp/annoy-bench-filtered}
CACHE=${ANNOY_DATA_CACHE:-/var/tmp/annoy-data}
for v in QUERIES EXACT_QUERIES WARMUP INSERTS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "filtered.sh: $v must be a positive integer" >&2; exit 2; }
done

source "$BENCH/common.sh"
bench_prepare

cluster_start "$CLUSTER" "shared_buffers = 2GB" "maintenance_work_mem = 2GB" \
    "max_parallel_maintenance_workers = 1" "max_parallel_workers_per_gather = 0" "jit = off" >/dev/null
trap 'cluster_stop "$CLUSTER" --remove >/dev/null 2>&1 || true' EXIT
export PGOPTIONS="-c client_min_messages=warning"
psql_q -c "CREATE EXTENSION annoy"
have_pgvector=0
if [[ $PGVECTOR != off ]]; then
    # pgvector's hamming_distance(bit, bit) and <~> clash with annoy's: its own schema.
    if psql_q -c "CREATE SCHEMA pgvector" -c "CREATE EXTENSION vector SCHEMA pgvector" 2>/dev/null; then
        psql_q -c "ALTER DATABASE $PGDATABASE SET search_path = public, pgvector"
        have_pgvector=1
    else
        log "pgvector: CREATE EXTENSION vector failed; the hnsw rows are skipped"
    fi
fi

mkdir -p "$RESULTS"
CSV=$RESULTS/filtered.csv
echo "dataset,filter,selectivity,method,setting,recall,qps,p50_ms,forced,index_mb,build_s,inserts_per_s,vacuum_s" >"$CSV"
{
    echo "Run $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores, PostgreSQL $(psql_v 'SHOW server_version'),"
    echo "pgvector $([[ $have_pgvector == 1 ]] && psql_v "SELECT extversion FROM pg_extension WHERE extname = 'vector'" || echo absent);"
    echo "$QUERIES queries per filter ($EXACT_QUERIES for the exact scan) after $WARMUP warm-up, one client;"
    echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)."
} >"$RESULTS/filtered.info"

# Deterministic uniform [0, 1) from an integer expression (SQL).
u01() { echo "(('x' || substr(md5(($1)::text), 1, 8))::bit(32)::bigint / 4294967296.0)"; }

# base_table NAME FILTER_COLUMN_DEFINITIONS: (re)creates the table of a data
# set, (id, v real[] stored uncompressed, filter columns with defaults, which
# the insert test's rows take).
base_table() {
    psql_q -c "DROP TABLE IF EXISTS $1" -c "CREATE TABLE $1 (id int PRIMARY KEY, v real[] NOT NULL, $2)" \
        -c "ALTER TABLE $1 ALTER COLUMN v SET STORAGE PLAIN, ALTER COLUMN v SET STATISTICS 0"
}

# data_set TABLE QUERIES l2|cosine "FILTER COLUMNS" FILTER...: describes a
# loaded data set.  Each FILTER is name|column|WHERE with @P for the
# value|column of QUERIES holding each query's value.
data_set() {
    TBL=$1; QTBL=$2; FILTER_COLS=$4
    if [[ $3 == l2 ]]; then
        OP='<->'; ANNOY_OPC=euclidean_ops; PGV_OPS=vector_l2_ops
    else
        OP='<=>'; ANNOY_OPC=angular_ops; PGV_OPS=vector_cosine_ops
    fi
    shift 4
    FILTERS=("$@")
    psql_q -c "VACUUM ANALYZE $TBL, $QTBL"
}

# load_fashion: table ft (id, v, label, m100, m1000) and its queries fq.
load_fashion() {
    "$REPO/test/tools/load_fashion_mnist.sh" bench_fm "$FASHION_ROWS" $((QUERIES + WARMUP + 10))
    base_table ft "label int NOT NULL DEFAULT 0, m100 int NOT NULL DEFAULT 0, m1000 int NOT NULL DEFAULT 0"
    psql_q <<EOF
DROP TABLE IF EXISTS fq;
INSERT INTO ft SELECT id, embedding, label, id % 100, id % 1000 FROM bench_fm_train;
CREATE TABLE fq AS SELECT id, embedding AS v,
    floor(10 * $(u01 "id + 1"))::int AS p_label, floor(100 * $(u01 "id + 2"))::int AS p_m100,
    floor(1000 * $(u01 "id + 3"))::int AS p_m1000 FROM bench_fm_test;
ALTER TABLE fq ADD PRIMARY KEY (id);
DROP TABLE bench_fm_train, bench_fm_test;
EOF
    data_set ft fq l2 "label, m100, m1000" "label|label|label = @P::int|p_label" \
        "id%100|m100|m100 = @P::int|p_m100" "id%1000|m1000|m1000 = @P::int|p_m1000"
}

# load_tenants: table tt (id, v, tenant, labels) and its queries tq.
load_tenants() {
    "$CLIENT" gen --table tt_base --n "$TENANT_ROWS" --dim 96 --seed 11
    "$CLIENT" gen --table tq --n $((QUERIES + WARMUP + 10)) --dim 96 --seed 12
    base_table tt "tenant int NOT NULL DEFAULT 0, labels int[] NOT NULL DEFAULT '{0}'"
    psql_q <<EOF
INSERT INTO tt SELECT id, v, floor(1000 * power($(u01 "id * 3 + 1"), 3))::int,
    ARRAY[floor(50 * $(u01 "id * 3 + 2"))::int, floor(50 * $(u01 "id * 3 + 3"))::int] FROM tt_base;
DROP TABLE tt_base;
ALTER TABLE tq ADD COLUMN p_tenant int, ADD COLUMN p_any text, ADD COLUMN p_labels text;
UPDATE tq SET p_tenant = floor(1000 * $(u01 "id * 7 + 1")),
    p_any = format('{%s,%s,%s}', floor(1000 * $(u01 "id * 7 + 2")), floor(1000 * $(u01 "id * 7 + 3")),
                   floor(1000 * $(u01 "id * 7 + 4"))),
    p_labels = format('{%s,%s}', floor(50 * $(u01 "id * 7 + 5")), floor(50 * $(u01 "id * 7 + 6")));
EOF
    data_set tt tq cosine "tenant, labels" "tenant|tenant|tenant = @P::int|p_tenant" \
        "tenant=ANY(3)|tenant|tenant = ANY(@P::int[])|p_any" "labels&&(2)|labels|labels && @P::int[]|p_labels"
}

# ground_truth NAME WHERE PARAM: table gt_<n> (qid, ids, dists, matching) of
# the exact filtered answers of the measured queries; sets SEL (mean fraction
# of the rows that pass).
ground_truth() {
    local g=gt_$1 w=${2//@P/q.$3}
    psql_q -c "SET enable_indexscan = off" -c "DROP TABLE IF EXISTS $g" -c "
CREATE TABLE $g AS SELECT q.id AS qid, a.ids, a.dists, (SELECT count(*) FROM $TBL WHERE $w) AS matching
FROM (SELECT * FROM $QTBL ORDER BY id LIMIT $QUERIES) q CROSS JOIN LATERAL (
    SELECT array_agg(id ORDER BY d, id) AS ids, array_agg(d ORDER BY d, id) AS dists
    FROM (SELECT id, v $OP q.v AS d FROM $TBL WHERE $w ORDER BY d, id LIMIT 10) s) a"
    SEL=$(psql_v "SELECT round(avg(matching) / $N, 5) FROM $g")
}

# measure_row FILTER_INDEX TABLE METHOD SETTING INDEX MB BUILD_S [--set ...]:
# one CSV row per filter of the data set (FILTER_INDEX "all") or of one.
measure_rows() {
    local table=$1 method=$2 setting=$3 index=$4 mb=$5 build=$6 nq=$QUERIES f name col where param res
    shift 6
    [[ $index == none ]] && nq=$EXACT_QUERIES
    for f in "${FILTERS[@]}"; do
        IFS='|' read -r name col where param <<<"$f"
        [[ -z ${ONLY_COL:-} || $ONLY_COL == "$col" ]] || continue
        [[ -z ${ONLY_FILTER:-} || $ONLY_FILTER == "$name" ]] || continue
        res=$("$CLIENT" query --table "$table" --queries "$QTBL" --type "$TYPE" --op "$OP" --nq "$nq" \
            --warmup "$WARMUP" --k 10 --gt-table "gt_${name//[^a-z0-9]/_}" --where "${where//@P/\$2}" \
            --param "$param" --expect-index "$index" "$@") || { log "$DS $name $method $setting: failed"; continue; }
        echo "$DS,$name,${SELS[$name]},$method,$setting,$(field 1 "$res"),$(field 2 "$res"),$(field 3 "$res"),$(field 5 "$res"),$mb,$build,," >>"$CSV"
        log "$DS $name (sel ${SELS[$name]}) $method $setting: recall $(field 1 "$res"), $(field 2 "$res") q/s"
    done
}

# planner_choice TABLE: with the annoy index and a btree (gin for arrays) on
# every filter column, the plan the planner picks by itself for each filter
# (the index it scans, or "seq scan"), and how that plan does.
planner_choice() {
    local f name col where param plan am cols
    cols=$(printf '%s\n' "${FILTERS[@]}" | cut -d'|' -f2 | sort -u)
    for col in $cols; do
        [[ $col == labels ]] && am=gin || am=btree
        psql_q -c "CREATE INDEX ${1}_$col ON $1 USING $am ($col)"
    done
    psql_q -c "ANALYZE $1"
    for f in "${FILTERS[@]}"; do
        IFS='|' read -r name col where param <<<"$f"
        plan=$(psql_q -At <<EOF | sed -n 's/.*\(Index Scan using\|Bitmap Index Scan on\) \([a-z0-9_]*\).*/\2/p; s/.*Seq Scan on.*/seq scan/p' | head -1
SELECT v::text AS qv, $param::text AS qp FROM $QTBL ORDER BY id LIMIT 1 \gset
EXPLAIN (COSTS OFF) SELECT id FROM $1 t WHERE ${where//@P/:\'qp\'} ORDER BY v $OP :'qv'::real[] LIMIT 10;
EOF
        )
        ONLY_FILTER=$name measure_rows "$1" "planner's choice" "${plan:-?}" "" - -
    done
    for col in $cols; do psql_q -c "DROP INDEX ${1}_$col"; done
}

# copy_table NAME [vector]: a copy of $TBL (v as vector(d) with "vector").
copy_table() {
    psql_q -c "DROP TABLE IF EXISTS $1" -c "CREATE TABLE $1 (LIKE $TBL INCLUDING DEFAULTS INCLUDING STORAGE)"
    [[ ${2:-} != vector ]] || psql_q -c "ALTER TABLE $1 ALTER COLUMN v TYPE vector($DIM)"
    psql_q -c "INSERT INTO $1 SELECT * FROM $TBL" -c "ALTER TABLE $1 ADD PRIMARY KEY (id)" -c "VACUUM ANALYZE $1"
}

# build NAME SQL: runs CREATE INDEX; sets BUILD_S and MB, or returns 1 (message logged).
build() {
    local t0=$EPOCHREALTIME err
    if ! err=$(psql_q -c "$2" 2>&1); then
        log "$DS: $1 skipped: $(echo "$err" | head -2 | tr '\n' ' ')"
        return 1
    fi
    BUILD_S=$(since "$t0")
    MB=$(psql_v "SELECT round(pg_relation_size('$1') / 1048576.0, 1)")
}

# write_costs TABLE METHOD: INSERTs/s of new rows, then VACUUM after deleting 10%.
write_costs() {
    local res t0 vac
    res=$("$CLIENT" insert --table "$1" --queries "$QTBL" --type real[] --n "$INSERTS" --id-start $((N + 1000000)))
    psql_q -c "DELETE FROM $1 WHERE id % 10 = 3"
    t0=$EPOCHREALTIME
    psql_q -c "VACUUM $1"
    vac=$(since "$t0")
    echo "$DS,(writes),,$2,,,,,,$MB,$BUILD_S,$(field 1 "$res"),$vac" >>"$CSV"
    log "$DS $2: $MB MB, build $BUILD_S s, $(field 1 "$res") inserts/s, VACUUM $vac s"
}

IFS=',' read -r -a specs <<<"$DATASETS"
for DS in "${specs[@]}"; do
    case $DS in
        fashion) load_fashion ;;
        tenants) load_tenants ;;
        *) die "unknown data set '$DS' (fashion, tenants)" ;;
    esac
    N=$(psql_v "SELECT count(*) FROM $TBL")
    DIM=$(psql_v "SELECT array_length(v, 1) FROM $TBL LIMIT 1")
    log "$DS: $N x $DIM"
    TYPE='real[]'

    # Ground truth (btrees on the filter columns make it quicker; still exact).
    declare -A SELS=()
    for f in "${FILTERS[@]}"; do
        IFS='|' read -r name col where param <<<"$f"
        [[ $col == labels ]] && am=gin || am=btree
        psql_q -c "CREATE INDEX IF NOT EXISTS ${TBL}_$col ON $TBL USING $am ($col)"
    done
    for f in "${FILTERS[@]}"; do
        IFS='|' read -r name col where param <<<"$f"
        ground_truth "${name//[^a-z0-9]/_}" "$where" "$param"
        SELS[$name]=$SEL
        log "$DS $name: selectivity $SEL"
    done

    # btree (gin for arrays) on the filter column + sort, one index at a time.
    copy_table w
    measure_rows w exact - none - - --set enable_indexscan=off --set enable_bitmapscan=off
    for col in $(printf '%s\n' "${FILTERS[@]}" | cut -d'|' -f2 | sort -u); do
        [[ $col == labels ]] && am=gin || am=btree
        build w_$col "CREATE INDEX w_$col ON w USING $am ($col)" || continue
        ONLY_COL=$col measure_rows w "$am+sort" - "w_$col" "$MB" "$BUILD_S"
        psql_q -c "DROP INDEX w_$col"
    done

    # annoy, vector only: the executor filters what the index returns.
    if build w_annoy "CREATE INDEX w_annoy ON w USING annoy (v $ANNOY_OPC)"; then
        for sk in $SEARCH_K; do
            measure_rows w "annoy post-filter" "search_k $sk" w_annoy "$MB" "$BUILD_S" --set "annoy.search_k=$sk"
        done
        write_costs w "annoy (vector only)"
    fi
    copy_table w
    # annoy with the filter columns in the index.
    if build w_annoyf "CREATE INDEX w_annoyf ON w USING annoy (v $ANNOY_OPC, $FILTER_COLS)"; then
        for sk in $SEARCH_K; do
            measure_rows w "annoy filtered" "search_k $sk" w_annoyf "$MB" "$BUILD_S" --set "annoy.search_k=$sk"
        done
        planner_choice w
        write_costs w "annoy (vector + ${FILTER_COLS//, / + })"
    fi
    psql_q -c "DROP TABLE w"

    if [[ $have_pgvector == 1 ]]; then
        copy_table wv vector
        if build wv_hnsw "CREATE INDEX wv_hnsw ON wv USING hnsw (v $PGV_OPS)"; then
            TYPE=vector
            for ef in $EF_SEARCH; do
                measure_rows wv "hnsw relaxed_order" "ef_search $ef" wv_hnsw "$MB" "$BUILD_S" \
                    --set hnsw.iterative_scan=relaxed_order --set "hnsw.ef_search=$ef"
            done
            TYPE='real[]'
        fi
        psql_q -c "DROP TABLE wv"
    fi
    psql_q -c "DROP TABLE $TBL, $QTBL"
done

python3 - "$CSV" "$RESULTS/filtered.md" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
out = ["| data set | filter | selectivity | method | setting | recall@10 | q/s |", "|---|---|---|---|---|---|---|"]
for r in rows:
    if r["filter"] != "(writes)":
        forced = " (forced)" if r["forced"] == "1" else ""
        out.append(f"| {r['dataset']} | {r['filter']} | {float(r['selectivity']):.2%} | {r['method']} | "
                   f"{r['setting']} | {r['recall']} | {r['qps']}{forced} |")
out += ["", "| data set | index | MB | build s | inserts/s | VACUUM s (10% deleted) |", "|---|---|---|---|---|---|"]
for r in rows:
    if r["filter"] == "(writes)":
        out.append(f"| {r['dataset']} | {r['method']} | {r['index_mb']} | {r['build_s']} | {r['inserts_per_s']} | {r['vacuum_s']} |")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out))
EOF
log "results in $CSV and $RESULTS/filtered.md"
