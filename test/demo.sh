#!/usr/bin/env bash
# The annoy demo (`make demo`): Fashion-MNIST nearest-neighbour search in
# PostgreSQL, first by exact scan, then through an annoy index.
#
# Run as root on a Debian 12 machine with PostgreSQL 15: installs what is
# missing (test/setup_deps.sh), builds and installs the extension, starts a
# private throwaway cluster in a temporary directory (removed on exit), loads
# the 60,000 training and 10,000 test images, and shows
#   1. k-nearest-neighbour queries answered by an exact scan,
#   2. the annoy index build, its size and the plan that uses it,
#   3. the same queries through the index,
#   4. recall@10 against exact search and queries per second, with and
#      without the index, over 100 test images.
# Takes one to three minutes, most of it the build and the exact scans.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

bold= plain=
if [[ -t 1 ]]; then
    bold=$(tput bold 2>/dev/null || true)
    plain=$(tput sgr0 2>/dev/null || true)
fi
section() { printf '\n%s==== %s ====%s\n' "$bold" "$*" "$plain"; }
say() { printf '%s\n' "$*"; }
demo_start=$EPOCHREALTIME
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", b - a }'; }

section "Setup"
say "Installing missing packages (if any), building and installing the extension..."
test/setup_deps.sh
build_log=$(mktemp /tmp/annoy-demo-build.XXXXXX)
if ! { make -s -j2 && make -s install; } >"$build_log" 2>&1; then
    cat "$build_log" >&2
    rm -f "$build_log"
    echo "demo: build failed" >&2
    exit 1
fi
rm -f "$build_log"
say "annoy built and installed into $(pg_config --pkglibdir)."

work=$(mktemp -d /tmp/annoy-demo.XXXXXX)
chmod 755 "$work"
# shellcheck source=tools/cluster.sh
source test/tools/cluster.sh
cleanup() {
    cluster_stop "$work/cluster" --remove >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if ! cluster_start "$work/cluster" 2>"$work/cluster-start.log"; then
    cat "$work/cluster-start.log" >&2
    exit 1
fi
say "Private PostgreSQL cluster running in $work/cluster (port $PGPORT); it is removed when the demo ends."

psql_() { psql -X -q -v ON_ERROR_STOP=1 -P pager=off -P footer=off "$@"; }

section "The data: Fashion-MNIST"
say "70,000 grey-scale images of clothes, 28 x 28 pixels, in 10 classes. Each image is a"
say "784-dimensional vector of pixel values 0..255 (a real[] column); similar images are close"
say "in Euclidean distance. 60,000 training images are the table we search, the 10,000 test"
say "images are the queries."
test/tools/load_fashion_mnist.sh fm 2>&1 | sed 's/^/  /'
psql_ <<'SQL'
CREATE EXTENSION annoy;
CREATE TABLE labels (label int PRIMARY KEY, name text NOT NULL);
INSERT INTO labels VALUES (0, 'T-shirt/top'), (1, 'Trouser'), (2, 'Pullover'), (3, 'Dress'), (4, 'Coat'),
    (5, 'Sandal'), (6, 'Shirt'), (7, 'Sneaker'), (8, 'Bag'), (9, 'Ankle boot');
-- The query vectors: the first 100 test images, stored uncompressed, as a
-- client would send them (a compressed vector would be decompressed again
-- for every distance the exact scan computes).
CREATE TABLE queries (id int PRIMARY KEY, label int NOT NULL, embedding real[] NOT NULL);
ALTER TABLE queries ALTER embedding SET STORAGE PLAIN;
INSERT INTO queries SELECT id, label, embedding[1:784] FROM fm_test WHERE id < 100;
ANALYZE labels, queries;
\echo
SELECT (SELECT count(*) FROM fm_train) AS training_images, (SELECT count(*) FROM fm_test) AS test_images,
       pg_size_pretty(pg_table_size('fm_train')) AS training_table_size;
SQL

# The k nearest training images of three test images, with their classes.
knn_queries() {
    local qid
    for qid in 0 1 2; do
        psql_ -v qid="$qid" <<'SQL'
\pset format unaligned
\pset tuples_only on
SELECT format(E'\nQuery: test image %s (%s). Its 5 nearest training images:', q.id, l.name)
FROM queries q JOIN labels l USING (label) WHERE q.id = :qid;
\pset format aligned
\pset tuples_only off
\timing on
SELECT row_number() OVER (ORDER BY n.distance) AS rank, n.id AS training_image, l.name AS class,
       CASE WHEN n.label = (SELECT label FROM queries WHERE id = :qid) THEN 'yes' ELSE 'no' END AS same_class,
       round(n.distance::numeric, 1) AS distance
FROM (SELECT id, label, embedding <-> (SELECT embedding FROM queries WHERE id = :qid) AS distance
      FROM fm_train ORDER BY distance LIMIT 5) n
JOIN labels l USING (label)
ORDER BY n.distance;
SQL
    done
}

section "1. k-nearest neighbours by exact scan (no index)"
say "SELECT id FROM fm_train ORDER BY embedding <-> query LIMIT 5 -- with no index, PostgreSQL"
say "computes the distance to all 60,000 images and sorts them."
knn_queries

section "2. Building the annoy index"
say "CREATE INDEX ON fm_train USING annoy (embedding) -- default options: 10 random-projection"
say "trees, leaves of up to 64 items, Euclidean distance (euclidean_ops, the operator <->)."
t0=$EPOCHREALTIME
psql_ -c "CREATE INDEX fm_train_embedding_annoy ON fm_train USING annoy (embedding)"
say "Built in $(since "$t0")."
psql_ <<'SQL'
SELECT pg_size_pretty(pg_relation_size('fm_train_embedding_annoy')) AS index_size,
       pg_size_pretty(pg_table_size('fm_train')) AS table_size_without_indexes;
SQL
say ""
say "The plan of a kNN query now reads the index, which returns rows nearest first:"
psql_ <<'SQL'
EXPLAIN (COSTS OFF)
SELECT id, label FROM fm_train ORDER BY embedding <-> (SELECT embedding FROM queries WHERE id = 0) LIMIT 5;
SQL

section "3. The same queries through the index"
say "annoy examines a few thousand candidates (annoy.search_k, automatic by default) instead of"
say "all 60,000 images: the answer is approximate, and usually the same."
knn_queries

section "4. Recall and speed over 100 test images"
say "Each method answers the 10 nearest neighbours of test images 0..99 in one statement."
say "recall@10 = the fraction of the true 10 nearest neighbours found (a neighbour tied in"
say "distance with the 10th counts as found). The exact scan is the ground truth."
psql_ <<'SQL'
CREATE TABLE results (method text, search_k text, recall numeric, seconds numeric);
-- The exact answers, with the index disabled; timed.
SET enable_indexscan = off;
SELECT clock_timestamp() AS t0 \gset
CREATE TABLE truth AS
SELECT q.id AS qid, n.id AS nid, n.d
FROM queries q CROSS JOIN LATERAL
  (SELECT id, embedding <-> q.embedding AS d FROM fm_train ORDER BY d LIMIT 10) n;
INSERT INTO results SELECT 'exact scan', '-', 1, extract(epoch FROM clock_timestamp() - :'t0'::timestamptz);
CREATE TABLE kth AS SELECT qid, max(d) AS kd FROM truth GROUP BY qid;
SQL

# The same statement through the index at one annoy.search_k.
approx_run() {  # search_k label
    psql_ -v sk="$1" -v label="$2" <<'SQL'
SET enable_seqscan = off;
SET annoy.search_k = :sk;
SELECT clock_timestamp() AS t0 \gset
CREATE TEMP TABLE approx AS
SELECT q.id AS qid, n.id AS nid, n.d
FROM queries q CROSS JOIN LATERAL
  (SELECT id, embedding <-> q.embedding AS d FROM fm_train ORDER BY d LIMIT 10) n;
INSERT INTO results
SELECT 'annoy index', :'label',
       (SELECT count(DISTINCT (a.qid, a.nid)) FROM approx a JOIN kth USING (qid) WHERE a.d <= kth.kd) / 1000.0,
       extract(epoch FROM clock_timestamp() - :'t0'::timestamptz);
SQL
}
approx_run -1 warm-up  # reads the index into the buffer cache once
psql_ -c "DELETE FROM results WHERE search_k = 'warm-up'"
approx_run 500 500
approx_run -1 "automatic (-1)"
approx_run 5000 5000
psql_ <<'SQL'
SELECT method, search_k, to_char(recall, '0.000') AS "recall@10",
       round(100 / seconds, 1) AS queries_per_second,
       round(1000 * seconds / 100, 2) AS ms_per_query,
       round((SELECT seconds FROM results WHERE method = 'exact scan') / seconds) || 'x' AS speedup
FROM results ORDER BY method = 'annoy index', seconds DESC;
SQL

section "Done"
say "A larger annoy.search_k examines more candidates: higher recall, fewer queries per second."
say "Try it yourself: CREATE EXTENSION annoy; CREATE INDEX ON t USING annoy (v);"
say "SELECT ... ORDER BY v <-> '{...}' LIMIT 10;  (see README for the operator classes)."
say "Demo finished in $(since "$demo_start"); the cluster is being removed."
