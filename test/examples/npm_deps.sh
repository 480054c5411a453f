#!/usr/bin/env bash
# Installs an example's npm packages (its package.json and package-lock.json)
# into the data cache, outside the repository, once per lock file, and prints
# the node_modules directory to put on NODE_PATH.
#
#   NODE_PATH=$(test/examples/npm_deps.sh test/examples/semantic_search) node ...
#
# Cache: ${ANNOY_DATA_CACHE:-/var/tmp/annoy-data}/npm/<example>-<lock hash>.
# Concurrent callers wait for one another (flock).
set -euo pipefail
dir=$(cd "$1" && pwd)
[ -f "$dir/package-lock.json" ] || { echo "npm_deps: $dir has no package-lock.json" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm_deps: npm is missing (test/setup_deps.sh installs it)" >&2; exit 1; }
cache=${ANNOY_DATA_CACHE:-/var/tmp/annoy-data}/npm
key=$(basename "$dir")-$(cat "$dir/package.json" "$dir/package-lock.json" | sha256sum | cut -c1-12)
mkdir -p "$cache"
exec 9>"$cache/$key.lock"
flock 9
if [ ! -f "$cache/$key/.complete" ]; then
    rm -rf "$cache/$key"
    mkdir -p "$cache/$key"
    cp "$dir/package.json" "$dir/package-lock.json" "$cache/$key/"
    echo "npm_deps: installing the packages of $(basename "$dir") into $cache/$key" >&2
    (cd "$cache/$key" && npm ci --no-audit --no-fund --loglevel=error >&2)
    touch "$cache/$key/.complete"
fi
echo "$cache/$key/node_modules"
