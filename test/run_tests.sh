#!/usr/bin/env bash
# Every test, on a fresh machine: installs dependencies, builds and installs
# the extension, runs the core unit tests, then the pg_regress, isolation
# and TAP suites against private throwaway clusters.  Exits non-zero on any
# failure.  Run as root (README: `make test`).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

section() { printf '\n=== %s ===\n' "$*"; }

section "dependencies"
test/setup_deps.sh

section "build and install"
make -s check-core-purity
make -s -j2
make -s install >/dev/null

bindir=$(pg_config --bindir)
pgxs_dir=$(dirname "$(pg_config --pgxs)")/../..
work=$(mktemp -d /tmp/annoy-test.XXXXXX)
chmod 755 "$work"
source test/tools/cluster.sh
cleanup() {
    cluster_stop "$work/cluster" >/dev/null 2>&1 || true
    if [ "${KEEP_TEST_DIR:-0}" = 1 ]; then echo "test files kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

failures=()

section "packaging"
# META.json against the PGXN spec and annoy.control, the validator's own
# refusals, and the PGXN zip of HEAD built and installed from its contents.
if ! { /usr/bin/python3 test/packaging/meta_validate.py && /usr/bin/python3 test/packaging/meta_validate.py --self-test | tail -1 \
        && test/packaging/dist_check.sh "$work/dist"; }; then
    failures+=(packaging)
fi

section "core unit tests"
make -s -C test/core -j2 core_tests
(cd test/core && ./core_tests --gtest_brief=1)
# The in-memory benchmark (make bench-anchors) builds against the core's
# API: compiling it here keeps a change of that API from breaking it unseen
# (the libraries it compares with are left out when not installed).
make -s -C test/bench/anchors -j2 BUILD="$work/anchors" >/dev/null

section "pg_regress"
cluster_start "$work/cluster" >/dev/null
if ! make -s installcheck PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER="$PGUSER"; then
    head -300 test/regress_out/regression.diffs 2>/dev/null || true
    failures+=(pg_regress)
fi

if ls test/isolation/specs/*.spec >/dev/null 2>&1; then
    section "isolation"
    specs=$(cd test/isolation/specs && ls *.spec | sed 's/\.spec$//')
    mkdir -p test/isolation_out
    if ! "$pgxs_dir/src/test/isolation/pg_isolation_regress" --host="$PGHOST" --port="$PGPORT" \
        --user="$PGUSER" --inputdir=test/isolation --outputdir=test/isolation_out $specs; then
        head -300 test/isolation_out/regression.diffs 2>/dev/null || true
        failures+=(isolation)
    fi
fi

section "examples"
# The client examples (Node + a sentence-embedding model, Python + psycopg +
# numpy, serving to several processes) on the same cluster.
if ! test/examples/run_examples.sh; then
    failures+=(examples)
fi
cluster_stop "$work/cluster" >/dev/null

section "TAP"
# PostgreSQL::Test::Cluster refuses to run initdb as root: run prove as the
# postgres user from a copy it owns.
mkdir -p "$work/tap"
cp -r test/t test/tools "$work/tap/"
chown -R postgres "$work/tap"
if ! runuser -u postgres -- env PATH="$bindir:$PATH" PG_REGRESS="$pgxs_dir/src/test/regress/pg_regress" \
    TESTDIR="$work/tap" ANNOY_DATA_CACHE="${ANNOY_DATA_CACHE:-/var/tmp/annoy-data}" \
    bash -c "cd '$work/tap' && prove -I '$pgxs_dir/src/test/perl' --ext .pl --timer ${PROVE_FLAGS:-} ${PROVE_TESTS:-t/}"; then
    for f in "$work"/tap/tmp_check/log/regress_log_*; do
        echo "--- $f"
        tail -60 "$f"
    done
    failures+=(TAP)
fi

if [ ${#failures[@]} -gt 0 ]; then
    section "FAILED: ${failures[*]}"
    exit 1
fi
section "all tests passed"
