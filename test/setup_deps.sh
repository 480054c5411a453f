#!/usr/bin/env bash
# Installs what building and testing annoy needs on Debian 12, when missing:
# the server headers matching the installed server, GoogleTest, Google
# Benchmark, IPC::Run (TAP), the Fashion-MNIST data set, the compilers, and
# what the packaging checks and the client examples (test/examples) use:
# unzip, Python 3 with psycopg 3 and numpy, Node.js and npm (the examples'
# npm packages themselves go to the data cache: test/examples/npm_deps.sh);
# and any further packages named as arguments (what a benchmark needs besides:
# test/bench/anchors/run_anchors.sh).
set -euo pipefail

missing=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# Headers must match the running server's minor version when possible.
server_version=$(dpkg-query -W -f='${Version}' postgresql-15 2>/dev/null || true)
if ! have_pkg postgresql-server-dev-15; then
    missing+=("postgresql-server-dev-15${server_version:+=$server_version}")
    have_pkg libpq-dev || missing+=("libpq-dev${server_version:+=$server_version}")
fi
for p in g++ make libgtest-dev libbenchmark-dev libipc-run-perl dataset-fashion-mnist clang-14 llvm-14 \
    unzip python3 python3-psycopg python3-numpy "$@"; do
    have_pkg "$p" || missing+=("$p")
done
# Node.js may come from another repository than Debian's (with npm inside):
# only install Debian's when the commands are missing.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "setup_deps.sh: missing packages ${missing[*]}; run as root to install them" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "setup_deps.sh: installing ${missing[*]}"
if ! apt-get install -y --no-install-recommends "${missing[@]}" >/tmp/annoy-apt.log 2>&1; then
    # A stale package index, or the exact server version is gone from the
    # mirror: refresh and fall back to the newest headers.
    apt-get update >/tmp/annoy-apt-update.log 2>&1 || true
    unpinned=("${missing[@]%%=*}")
    apt-get install -y --no-install-recommends "${unpinned[@]}" >/tmp/annoy-apt.log 2>&1 || {
        cat /tmp/annoy-apt.log >&2
        exit 1
    }
fi
