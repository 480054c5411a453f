#!/usr/bin/env bash
# replicas.sh - read scaling on a streaming standby (README "Scaling out").
#
#   test/bench/replicas.sh [SPEC]          default: fashion
#
# Starts a primary (test/tools/cluster.sh), loads the data set (specs as in
# run_bench.sh), builds the default annoy index, clones a streaming standby
# with pg_basebackup and waits until it has replayed the build.  Then
# measures queries/s of the prepared `SELECT id FROM t ORDER BY v <-> $1
# LIMIT 10` (automatic search_k, BENCH_QUERIES per client) for
#   - 1 client on the primary, 1 client on the standby (recall too);
#   - BENCH_CLIENTS (2) clients on the primary alone;
#   - the same clients split over primary and standby, at the same time;
#   - 1 client on the standby while the primary deletes 10% of the rows
#     and VACUUMs (the standby replays the VACUUM meanwhile).
# Both servers run on this machine, so they share its cores: the split
# shows that a standby serves annoy scans at the primary's speed, not the
# gain of a second machine.  Rows go to $OUT/replicas.csv.
#
# Environment: BENCH_QUERIES (1000), BENCH_CLIENTS (2), BENCH_CLUSTER_DIR
# (/tmp/annoy-bench-replicas: DIR/primary, DIR/standby), BENCH_OUT, ANNOY_DATA_CACHE.
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH/../.." && pwd)
SPEC=${1:-fashion}
QUERIES=${BENCH_QUERIES:-1000}
CLIENTS=${BENCH_CLIENTS:-2}
WARMUP=50
OUT=${BENCH_OUT:-$BENCH/out}
DIR=${BENCH_CLUSTER_DIR:-/tmp/annoy-bench-replicas}
CACHE=${ANNOY_DATA_CACHE:-/var/tmp/annoy-data}

source "$BENCH/common.sh"
bench_prepare
mkdir -p "$DIR"
chmod 755 "$DIR"
BINDIR=$(pg_config --bindir)
as_owner() { if [[ $(id -u) -eq 0 ]]; then (cd / && runuser -u postgres -- "$@"); else (cd / && "$@"); fi; }

cluster_start "$DIR/primary" "shared_buffers = 1GB" "jit = off" "hot_standby_feedback = off" >/dev/null
PRIMARY_HOST=$PGHOST PRIMARY_PORT=$PGPORT
standby_port=$((PRIMARY_PORT + 1))
while (exec 3<>"/dev/tcp/127.0.0.1/$standby_port") 2>/dev/null; do standby_port=$((standby_port + 1)); done
cleanup() {
    as_owner "$BINDIR/pg_ctl" -D "$DIR/standby/data" -m fast stop >/dev/null 2>&1 || true
    cluster_stop "$DIR/primary" --remove >/dev/null 2>&1 || true
    rm -rf "$DIR/standby"
}
trap cleanup EXIT
export PGOPTIONS="-c client_min_messages=warning"
psql_q -c "CREATE EXTENSION annoy"
dataset_load "$SPEC"
IDX=${TBL}_annoy
psql_q -c "CREATE INDEX $IDX ON $TBL USING annoy (v $ANNOY_OPC)" -c "CHECKPOINT"

rm -rf "$DIR/standby"
mkdir -p "$DIR/standby"
chown "$(id -u | sed 's/^0$/postgres/')" "$DIR/standby" 2>/dev/null || true
as_owner "$BINDIR/pg_basebackup" -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -D "$DIR/standby/data" -R -X stream
cat >>"$DIR/standby/data/postgresql.auto.conf" <<EOF
port = $standby_port
unix_socket_directories = '$DIR/standby'
EOF
as_owner "$BINDIR/pg_ctl" -D "$DIR/standby/data" -l "$DIR/standby/log" -w start >/dev/null
target=$(psql_v "SELECT pg_current_wal_lsn()")
until [[ $(PGHOST=$DIR/standby PGPORT=$standby_port psql_v "SELECT pg_last_wal_replay_lsn() >= '$target'") == t ]]; do
    sleep 0.5
done
log "standby on port $standby_port has replayed the index build"

CSV=$OUT/replicas.csv
[[ -s $CSV ]] || echo "dataset,setup,clients,recall,qps" >"$CSV"

# run HOST PORT CLIENTS: prints "recall qps ..." of bench_client.
run() {
    PGHOST=$1 PGPORT=$2 "$CLIENT" query --table "$TBL" --queries "$QTBL" --type 'real[]' --op "$OP" --nq "$QUERIES" \
        --warmup "$WARMUP" --k 10 --gt "$GT" --clients "$3" --expect-index "$IDX"
}
row() { echo "$DS,$1,$2,$3,$4" >>"$CSV"; log "$DS: $1, $2 client(s): recall $3, $4 q/s"; }

res=$(run "$PRIMARY_HOST" "$PRIMARY_PORT" 1)
row primary 1 "$(field 1 "$res")" "$(field 2 "$res")"
res=$(run "$DIR/standby" "$standby_port" 1)
row standby 1 "$(field 1 "$res")" "$(field 2 "$res")"
res=$(run "$PRIMARY_HOST" "$PRIMARY_PORT" "$CLIENTS")
row "primary alone" "$CLIENTS" "$(field 1 "$res")" "$(field 2 "$res")"
half=$((CLIENTS / 2 > 0 ? CLIENTS / 2 : 1))
run "$PRIMARY_HOST" "$PRIMARY_PORT" "$half" >"$OUT/replicas.p" &
run "$DIR/standby" "$standby_port" "$half" >"$OUT/replicas.s"
wait
p=$(cat "$OUT/replicas.p") s=$(cat "$OUT/replicas.s")
row "primary + standby" "$((2 * half))" "$(awk -v a="$(field 1 "$p")" -v b="$(field 1 "$s")" 'BEGIN { printf "%.4f", (a + b) / 2 }')" \
    "$(awk -v a="$(field 2 "$p")" -v b="$(field 2 "$s")" 'BEGIN { printf "%.1f", a + b }')"

# The standby answering while it replays a DELETE + VACUUM of the primary.
(psql_q -c "DELETE FROM $TBL WHERE id % 10 = 0" -c "VACUUM $TBL") &
vac=$!
res=$(run "$DIR/standby" "$standby_port" 1)
wait "$vac"
row "standby during primary VACUUM" 1 "$(field 1 "$res")" "$(field 2 "$res")"
rm -f "$OUT/replicas.p" "$OUT/replicas.s"
log "results in $CSV"
