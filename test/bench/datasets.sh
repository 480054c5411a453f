# datasets.sh - data sets for run_bench.sh (sourced, not run).
# shellcheck shell=bash disable=SC2034  # sourced by run_bench.sh; sets variables for it
#
# dataset_load SPEC loads one data set into the uniform schema every
# measurement uses, and sets the variables that describe it:
#   bench_<name>   (id int primary key, v real[])   the base rows
#   bench_<name>_q (id int primary key, v real[])   the queries (measured: the first by id)
#   DS       file-name stem of the results (fashion, glove-100000, syn-1000000x128, ...)
#   TBL/QTBL the two tables;  N, DIM  rows and dimensions
#   METRIC   l2 | cosine (for the ground truth); OP the annoy/pgvector operator
#   ANNOY_OPC, PGV_OPS  operator classes;  GT  ground truth file in the cache
#
# SPEC is one of
#   fashion[:N]           Fashion-MNIST 784-d, euclidean; N base rows (default all 60,000),
#                         queries from the 10,000 test images
#   glove[:N]             GloVe 100-d, angular; N base words (default 100,000) + 10,000 held out
#   synthetic:N:D         clustered gaussian mixture, N x D, euclidean; 10,000 queries
#
# Vectors are stored uncompressed (STORAGE PLAIN: exact scans would otherwise
# decompress every row; synthetic sets of more than 2,000 dimensions, whose rows
# do not fit in a heap page, STORAGE EXTERNAL: out of line, uncompressed), and the vector column gets no planner statistics:
# ANALYZE would spend seconds building element statistics for real[] that no
# query here can use; the row counts it records are all the planner needs.

# bench_table NAME: (re)create an empty table of the uniform schema.
bench_table() {
    psql_q -c "DROP TABLE IF EXISTS $1" \
        -c "CREATE TABLE $1 (id int NOT NULL, v real[] NOT NULL)" \
        -c "ALTER TABLE $1 ALTER COLUMN v SET STORAGE PLAIN, ALTER COLUMN v SET STATISTICS 0"
}

# bench_fill NAME SOURCE_TABLE: copy (id, embedding) from a loader's table, then drop it.
bench_fill() {
    bench_table "$1"
    psql_q -c "INSERT INTO $1 SELECT id, embedding FROM $2" \
        -c "ALTER TABLE $1 ADD PRIMARY KEY (id)" -c "ANALYZE $1" -c "DROP TABLE $2"
}

dataset_load() {
    local spec=$1 kind n d t0=$EPOCHREALTIME
    IFS=: read -r kind n d <<<"$spec"
    case $kind in
        fashion)
            [[ -z $n || $n =~ ^[0-9]+$ ]] || die "bad data set '$spec' (fashion[:N])"
            DS=fashion${n:+-$n}; TBL=bench_fashion; METRIC=l2
            "$REPO/test/tools/load_fashion_mnist.sh" bench_fm "${n:-all}" all
            bench_fill "$TBL" bench_fm_train
            bench_fill "${TBL}_q" bench_fm_test ;;
        glove)
            [[ -z $n || $n =~ ^[0-9]+$ ]] || die "bad data set '$spec' (glove[:N])"
            n=${n:-100000}
            DS=glove-$n; TBL=bench_glove; METRIC=cosine
            command -v npm >/dev/null || apt_install npm
            "$REPO/test/tools/load_glove.sh" bench_gl "$n" 10000
            bench_fill "$TBL" bench_gl_train
            bench_fill "${TBL}_q" bench_gl_test ;;
        synthetic|syn)
            [[ $n =~ ^[0-9]+$ && $d =~ ^[0-9]+$ ]] || die "bad data set '$spec' (synthetic:N:D)"
            DS=syn-${n}x$d; TBL=bench_syn_${n}_$d; METRIC=l2
            "$CLIENT" gen --table "$TBL" --n "$n" --dim "$d" --seed 1
            "$CLIENT" gen --table "${TBL}_q" --n 10000 --dim "$d" --seed 2 ;;
        *) die "unknown data set '$spec' (fashion[:N], glove[:N], synthetic:N:D)" ;;
    esac
    QTBL=${TBL}_q
    N=$(psql_v "SELECT count(*) FROM $TBL")
    DIM=$(psql_v "SELECT array_length(v, 1) FROM $TBL LIMIT 1")
    if [[ $METRIC == l2 ]]; then
        OP='<->'; ANNOY_OPC=euclidean_ops; PGV_OPS=vector_l2_ops
    else
        OP='<=>'; ANNOY_OPC=angular_ops; PGV_OPS=vector_cosine_ops
    fi
    log "$DS: $N x $DIM ($METRIC) + $(psql_v "SELECT count(*) FROM $QTBL") queries, loaded in $(since "$t0") s"

    # Exact top-100 of the measured queries, computed once per data set and
    # kept in the cache (the client reuses the file when it still matches).
    GT=$CACHE/gt-$DS-$METRIC.bin
    "$CLIENT" gt --base "$TBL" --queries "$QTBL" --metric "$METRIC" --nq "$QUERIES" --k 100 --out "$GT"
}
