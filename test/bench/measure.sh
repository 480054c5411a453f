# measure.sh - the measurements of run_bench.sh (sourced, not run).
# shellcheck shell=bash disable=SC2034  # sourced by run_bench.sh; sets variables for it
#
# Every figure goes to $CSV (one file per data set) as one row:
#   dataset,method,config,kind,param,clients,recall,qps,p50_ms,p99_ms,build_s,size_mb,seconds,forced
# kind: floor (client + executor alone), exact (no index), sweep (one search
# parameter value), concurrent (several clients), insert (qps = rows/s),
# vacuum (seconds after deleting 10% of the rows).  forced = 1 when the planner
# did not pick the index by itself and enable_seqscan = off was needed.

CSV_HEADER=dataset,method,config,kind,param,clients,recall,qps,p50_ms,p99_ms,build_s,size_mb,seconds,forced

# csv_row METHOD CONFIG KIND PARAM CLIENTS "recall qps p50 p99 forced" BUILD_S SIZE_MB SECONDS
csv_row() {
    local r q p50 p99 forced
    read -r r q p50 p99 forced <<<"$6"
    echo "$DS,$1,$2,$3,$4,$5,${r/-/},$q,$p50,$p99,${7:-},${8:-},${9:-},${forced:-0}" >>"$CSV"
}

# query_run TABLE TYPE INDEX NQ WARMUP CLIENTS [--set name=value]...: prints "recall qps p50 p99 forced"
query_run() {
    local table=$1 type=$2 index=$3 nq=$4 warmup=$5 clients=$6
    shift 6
    "$CLIENT" query --table "$table" --queries "$QTBL" --type "$type" --op "$OP" --nq "$nq" \
        --warmup "$warmup" --k 10 --gt "$GT" --clients "$clients" --expect-index "$index" "$@"
}

# build INDEX_SQL: runs it, prints the seconds it took (server-side, from \timing).
build_seconds() {
    psql_q -c '\timing on' -c "$1" | awk '/^Time:/ { t = $2 } END { printf "%.2f", t / 1000 }'
}

size_mb() { psql_v "SELECT round(pg_relation_size('$1') / 1048576.0, 1)"; }

# The client and executor alone, and the exact scan: the floor and the ceiling.
measure_baselines() {
    local floor exact
    floor=$("$CLIENT" query --table "$TBL" --queries "$QTBL" --type 'real[]' --nq "$QUERIES" --warmup "$WARMUP" --floor)
    csv_row client 'SELECT $1 IS NULL' floor - 1 "$floor"
    exact=$(query_run "$TBL" 'real[]' none "$EXACT_QUERIES" 2 1 --set enable_indexscan=off)
    csv_row exact 'no index' exact - 1 "$exact"
    EXACT_QPS=$(field 2 "$exact")
    log "client floor: $(field 2 "$floor") q/s; exact scan: recall $(field 1 "$exact"), $(field 2 "$exact") q/s"
}

# measure_writes METHOD CONFIG TABLE TYPE: inserts, then delete 10% and VACUUM.
# Destructive (the table no longer matches the ground truth): run it last.
measure_writes() {
    local method=$1 config=$2 table=$3 type=$4 res secs
    res=$("$CLIENT" insert --table "$table" --queries "$QTBL" --type "$type" --n "$INSERTS" --id-start 100000000)
    csv_row "$method" "$config" insert - 1 "- $(field 1 "$res") - - 0" '' '' "$(field 2 "$res")"
    psql_q -c "DELETE FROM $table WHERE id % 10 = 0"
    secs=$(build_seconds "VACUUM $table")
    csv_row "$method" "$config" vacuum - 1 "- - - - 0" '' '' "$secs"
    log "$method: $(field 1 "$res") inserts/s; VACUUM after deleting 10%: $secs s"
}

# measure_concurrent METHOD CONFIG TABLE TYPE INDEX GUC VALUE
measure_concurrent() {
    local res
    res=$(query_run "$3" "$4" "$5" "$QUERIES" "$WARMUP" "$CLIENTS" --set "$6=$7")
    csv_row "$1" "$2" concurrent "$7" "$CLIENTS" "$res"
    log "$1 ($2, $6=$7), $CLIENTS clients: $(field 2 "$res") q/s"
}

# sweep_stop RESULT: true when larger search parameters are pointless: recall is
# already ~1, or the index is no longer much faster than an exact scan.  This
# keeps the full sweep within minutes on 784-d data, where search_k 20000
# runs at a few queries per second.
sweep_stop() {
    awk -v r="$(field 1 "$1")" -v q="$(field 2 "$1")" -v stop="$STOP_RECALL" -v exact="$EXACT_QPS" \
        'BEGIN { exit !(r >= stop || q < 2 * exact) }'
}

# sweep METHOD CONFIG TABLE TYPE INDEX GUC LABEL BUILD_S SIZE_MB VALUE...: one
# measurement per value of the search parameter GUC, in the order given,
# until sweep_stop says larger ones are pointless (-1, annoy's automatic
# budget, never stops the sweep).
sweep() {
    local method=$1 config=$2 table=$3 type=$4 index=$5 guc=$6 label=$7 build=$8 size=$9 v res
    shift 9
    for v in "$@"; do
        res=$(query_run "$table" "$type" "$index" "$QUERIES" "$WARMUP" 1 --set "$guc=$v")
        csv_row "$method" "$config" sweep "$v" 1 "$res" "$build" "$size"
        log "  $label $v: recall $(field 1 "$res"), $(field 2 "$res") q/s"
        [[ $v == -1 ]] || ! sweep_stop "$res" || break
    done
}

measure_annoy() {
    local cfg trees leaf sk config idx=${TBL}_annoy build size
    for cfg in $CONFIGS; do
        [[ $cfg =~ ^([0-9]+):([0-9]+)$ ]] || die "BENCH_CONFIGS entries are N_TREES:LEAF_SIZE, got '$cfg'"
        trees=${BASH_REMATCH[1]} leaf=${BASH_REMATCH[2]}
        config="n_trees=$trees leaf_size=$leaf"
        psql_q -c "DROP INDEX IF EXISTS $idx"
        build=$(build_seconds "CREATE INDEX $idx ON $TBL USING annoy (v $ANNOY_OPC) WITH (n_trees = $trees, leaf_size = $leaf)")
        size=$(size_mb "$idx")
        log "annoy $config: built in $build s, $size MB"
        # -1 (automatic) first, then the explicit values in increasing order.
        # shellcheck disable=SC2046  # one word per value
        sweep annoy "$config" "$TBL" 'real[]' "$idx" annoy.search_k search_k "$build" "$size" \
            -1 $(tr ' ' '\n' <<<"$SEARCH_K" | grep -vx -- -1 | sort -n)
    done

    # The operating point: the configuration and search_k with the most q/s
    # at the target recall; the concurrency and write tests use it.
    IFS=$'\t' read -r config sk < <(python3 "$BENCH/report.py" pick "$CSV" annoy "$TARGET_RECALL")
    [[ $config =~ n_trees=([0-9]+)\ leaf_size=([0-9]+) ]] || die "no annoy operating point in $CSV"
    log "annoy operating point: $config, search_k $sk"
    if [[ $config != "n_trees=$trees leaf_size=$leaf" ]]; then  # not the index built last
        psql_q -c "DROP INDEX $idx" -c "CREATE INDEX $idx ON $TBL USING annoy (v $ANNOY_OPC)
            WITH (n_trees = ${BASH_REMATCH[1]}, leaf_size = ${BASH_REMATCH[2]})"
    fi
    measure_concurrent annoy "$config" "$TBL" 'real[]' "$idx" annoy.search_k "$sk"
    measure_writes annoy "$config" "$TBL" 'real[]'
}

# pgvector_table: the vector(d) copy of the base rows that pgvector indexes.
# Made before annoy's write tests change the base table.
pgvector_table() {
    psql_q -c "DROP TABLE IF EXISTS ${TBL}_vec" \
        -c "CREATE TABLE ${TBL}_vec (id int PRIMARY KEY, v vector($DIM) NOT NULL)" \
        -c "INSERT INTO ${TBL}_vec SELECT id, v::vector($DIM) FROM $TBL" -c "ANALYZE ${TBL}_vec"
}

# pgvector, when the cluster has it: HNSW and IVFFlat on the vector(d) copy.
measure_pgvector() {
    local vt=${TBL}_vec hnsw=${TBL}_hnsw ivf=${TBL}_ivf lists build size p config ef

    config="m=16 ef_construction=64"
    build=$(build_seconds "CREATE INDEX $hnsw ON $vt USING hnsw (v $PGV_OPS) WITH (m = 16, ef_construction = 64)")
    size=$(size_mb "$hnsw")
    log "pgvector HNSW: built in $build s, $size MB"
    # shellcheck disable=SC2086  # one word per value
    sweep hnsw "$config" "$vt" vector "$hnsw" hnsw.ef_search ef_search "$build" "$size" $EF_SEARCH
    psql_q -c "DROP INDEX $hnsw"

    # lists = sqrt(N), as pgvector recommends up to 1M rows.
    lists=$(python3 -c "import math; print(max(1, round(math.sqrt($N))))")
    config="lists=$lists"
    build=$(build_seconds "CREATE INDEX $ivf ON $vt USING ivfflat (v $PGV_OPS) WITH (lists = $lists)")
    size=$(size_mb "$ivf")
    log "pgvector IVFFlat: built in $build s, $size MB"
    # More probes than lists mean the same as all lists.
    # shellcheck disable=SC2046  # one word per value
    sweep ivfflat "$config" "$vt" vector "$ivf" ivfflat.probes probes "$build" "$size" \
        $(for p in $PROBES; do ((p <= lists)) && echo "$p"; done)
    psql_q -c "DROP INDEX $ivf"

    # Concurrency and writes against HNSW, the index annoy is measured against.
    IFS=$'\t' read -r config ef < <(python3 "$BENCH/report.py" pick "$CSV" hnsw "$TARGET_RECALL")
    psql_q -c "CREATE INDEX $hnsw ON $vt USING hnsw (v $PGV_OPS) WITH (m = 16, ef_construction = 64)"
    measure_concurrent hnsw "m=16 ef_construction=64" "$vt" vector "$hnsw" hnsw.ef_search "$ef"
    measure_writes hnsw "m=16 ef_construction=64" "$vt" vector
    psql_q -c "DROP TABLE $vt"
}
