#!/usr/bin/env bash
# Runs the client examples (README "Examples") against a server with annoy
# installed, in a database of their own, and says which passed.
#
#   test/examples/run_examples.sh [EXAMPLE ...]     (default: all of them)
#
# EXAMPLE is semantic_search (Node), fashion_recall or serving (Python).
# The server is the one the PG* variables point at (PGHOST, PGPORT, PGUSER:
# a role that may create extensions and databases); without PGHOST the
# script starts a private throwaway cluster (test/tools/cluster.sh) and
# removes it afterwards.  The examples use database ${ANNOY_EXAMPLES_DB:-annoy_examples},
# which is dropped and created anew.  Needs node and npm (npm packages go to
# ${ANNOY_DATA_CACHE:-/var/tmp/annoy-data}/npm, see npm_deps.sh), Debian's
# python3-psycopg and python3-numpy, and dataset-fashion-mnist; test/setup_deps.sh
# installs them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
examples=("$@")
[ ${#examples[@]} -gt 0 ] || examples=(semantic_search fashion_recall serving)

if [ -z "${PGHOST:-}" ]; then
    # shellcheck source=../tools/cluster.sh
    source "$repo/test/tools/cluster.sh"
    own=$(mktemp -d /tmp/annoy-examples.XXXXXX)
    chmod 755 "$own"
    trap 'cluster_stop "$own/cluster" >/dev/null 2>&1; rm -rf "$own"' EXIT
    cluster_start "$own/cluster" >/dev/null 2>&1 || { echo "run_examples: could not start a cluster" >&2; exit 1; }
fi
db=${ANNOY_EXAMPLES_DB:-annoy_examples}
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
export PGDATABASE=$db

run() {
    case $1 in
        semantic_search)
            local modules
            modules=$("$here/npm_deps.sh" "$here/semantic_search") || return 1
            NODE_PATH=$modules node "$here/semantic_search/search.js" ;;
        fashion_recall | serving)
            /usr/bin/python3 "$here/python/$1.py" ;;
        *)
            echo "run_examples: no example named $1" >&2
            return 1 ;;
    esac
}

passed=0 failed=0 failures=()
for e in "${examples[@]}"; do
    printf '\n--- example %s\n' "$e"
    start=$EPOCHREALTIME
    if run "$e"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$e")
    fi
    awk -v a="$start" -v b="$EPOCHREALTIME" -v e="$e" 'BEGIN { printf "--- %s: %.1f s\n", e, b - a }'
done
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null || true
echo
[ $failed -eq 0 ] || echo "examples failed: ${failures[*]}"
echo "examples: $passed passed, $failed failed"
[ $failed -eq 0 ]
