#!/usr/bin/env bash
# cluster.sh - manage a private, throwaway PostgreSQL cluster for tests and demos.
#
# As a library (bash):
#   source test/tools/cluster.sh
#   cluster_start DIR ["setting = value" ...]   # initdb + start, exports PGHOST/PGPORT/PGUSER/PGDATABASE
#   cluster_env DIR                             # export the PG* variables of a running cluster
#   cluster_stop DIR [--remove]                 # fast shutdown; --remove also deletes DIR
#
# As a command:
#   eval "$(test/tools/cluster.sh start DIR ["setting = value" ...])"   # prints export lines
#   test/tools/cluster.sh env DIR
#   test/tools/cluster.sh status DIR
#   test/tools/cluster.sh stop DIR [--remove]
#
# The cluster lives entirely in DIR: DIR/data (PGDATA), DIR/log (server and initdb logs),
# the Unix socket in DIR itself, DIR/port (the chosen port). It listens on 127.0.0.1 as well,
# on the first free port from ${ANNOY_PG_PORT_BASE:-54320} upward. DIR is marked with a
# .annoy-test-cluster file; cluster_start refuses to wipe a non-empty DIR without that mark.
#
# When run as root, initdb/pg_ctl run as the `postgres` OS user (runuser); otherwise as the
# current user. The server binaries come from $PG_BINDIR, else `pg_config --bindir`, else
# /usr/lib/postgresql/15/bin.

_CL_MARK=.annoy-test-cluster

_cl_msg() { printf 'cluster.sh: %s\n' "$*" >&2; }
_cl_err() { printf 'cluster.sh: ERROR: %s\n' "$*" >&2; }

_cl_bindir() {
    local d=${PG_BINDIR:-}
    if [[ -z $d ]] && command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null) || d=
    fi
    if [[ -z $d || ! -x $d/pg_ctl ]]; then
        d=/usr/lib/postgresql/15/bin
    fi
    if [[ ! -x $d/pg_ctl || ! -x $d/initdb ]]; then
        _cl_err "no PostgreSQL server binaries (pg_ctl, initdb) in $d; set PG_BINDIR"
        return 1
    fi
    printf '%s\n' "$d"
}

# Owner of the cluster files: postgres when we are root, else ourselves.
_cl_owner() {
    if [[ $(id -u) -eq 0 ]]; then echo postgres; else id -un; fi
}

# Run a command as the cluster owner, from a directory it can read.
_cl_as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# Absolute, normalised form of a path (need not exist).
_cl_abspath() {
    local p=$1
    [[ $p == /* ]] || p="$PWD/$p"
    realpath -m -- "$p"
}

# Is TCP port $1 free on 127.0.0.1 (and no socket file for it in $2)?
_cl_port_free() {
    local port=$1 sockdir=$2
    [[ -e $sockdir/.s.PGSQL.$port || -e $sockdir/.s.PGSQL.$port.lock ]] && return 1
    if command -v ss >/dev/null 2>&1; then
        [[ -z $(ss -Hltn "sport = :$port" 2>/dev/null) ]] || return 1
    fi
    # Something accepting connections there? (works without ss too)
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        return 1
    fi
    return 0
}

_cl_is_running() {
    local dir=$1 bindir
    bindir=$(_cl_bindir) || return 1
    [[ -f $dir/data/PG_VERSION ]] || return 1
    _cl_as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

cluster_env() {
    local dir
    if [[ $# -lt 1 || -z $1 ]]; then _cl_err "usage: cluster_env DIR"; return 2; fi
    dir=$(_cl_abspath "$1")
    if [[ ! -f $dir/port ]]; then _cl_err "no cluster in $dir (missing $dir/port)"; return 1; fi
    export PGHOST="$dir"
    export PGPORT
    PGPORT=$(<"$dir/port")
    export PGUSER=postgres
    export PGDATABASE=postgres
}

cluster_stop() {
    local dir remove=0 bindir a
    if [[ $# -lt 1 || -z $1 ]]; then _cl_err "usage: cluster_stop DIR [--remove]"; return 2; fi
    dir=$(_cl_abspath "$1"); shift
    for a in "$@"; do
        case $a in
            --remove|--rm|-r) remove=1 ;;
            *) _cl_err "cluster_stop: unknown option '$a'"; return 2 ;;
        esac
    done
    bindir=$(_cl_bindir) || return 1
    if [[ -f $dir/data/PG_VERSION ]] && _cl_is_running "$dir"; then
        _cl_msg "stopping cluster in $dir"
        if ! _cl_as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null; then
            _cl_msg "fast shutdown failed; trying immediate"
            _cl_as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 60 stop >/dev/null || {
                _cl_err "could not stop the cluster in $dir"; return 1; }
        fi
    fi
    if [[ ${PGHOST:-} == "$dir" ]]; then
        unset PGHOST PGPORT
    fi
    if [[ $remove -eq 1 && -d $dir ]]; then
        if [[ ! -e $dir/$_CL_MARK ]]; then
            _cl_err "refusing to remove $dir: it has no $_CL_MARK mark (not made by cluster.sh)"
            return 1
        fi
        rm -rf -- "$dir"
        _cl_msg "removed $dir"
    fi
    return 0
}

cluster_start() {
    local dir bindir owner port base tries line sock conf
    if [[ $# -lt 1 || -z $1 ]]; then
        _cl_err "usage: cluster_start DIR [\"setting = value\" ...]"; return 2
    fi
    dir=$(_cl_abspath "$1"); shift
    if [[ $dir == / || $dir == *"'"* || $dir == *[[:space:]]* ]]; then
        _cl_err "unsuitable cluster directory '$dir' (no root, quotes or whitespace)"; return 1
    fi
    bindir=$(_cl_bindir) || return 1
    owner=$(_cl_owner)
    if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
        _cl_err "running as root but there is no 'postgres' OS user to own the cluster"; return 1
    fi

    # A previous cluster here: stop it and start afresh.
    if [[ -d $dir && -n $(ls -A -- "$dir" 2>/dev/null) ]]; then
        if [[ ! -e $dir/$_CL_MARK ]]; then
            _cl_err "$dir exists, is not empty and was not made by cluster.sh; refusing to touch it"
            return 1
        fi
        cluster_stop "$dir" || return 1
        rm -rf -- "$dir/data" "$dir/log" "$dir/port"
    fi

    mkdir -p -- "$dir/log" || { _cl_err "cannot create $dir"; return 1; }
    : >"$dir/$_CL_MARK"
    chmod 755 "$dir" "$dir/log"
    chown "$owner" "$dir" "$dir/log" "$dir/$_CL_MARK" || { _cl_err "cannot chown $dir to $owner"; return 1; }
    if ! _cl_as_owner test -w "$dir" -a -x "$dir"; then
        _cl_err "user $owner cannot write $dir (is a parent directory closed to it? use e.g. /tmp/...)"
        return 1
    fi

    _cl_msg "initdb in $dir/data ($bindir)"
    if ! _cl_as_owner "$bindir/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C \
            --no-sync >"$dir/log/initdb.log" 2>&1; then
        _cl_err "initdb failed; last lines of $dir/log/initdb.log:"
        tail -n 20 "$dir/log/initdb.log" >&2
        return 1
    fi

    conf=$dir/data/postgresql.conf
    {
        echo
        echo "# --- added by test/tools/cluster.sh ---"
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '$dir'"
        echo "unix_socket_permissions = 0777"
        echo "fsync = off"
        echo "synchronous_commit = off"
        echo "full_page_writes = off"
        echo "shared_buffers = 512MB"
        echo "maintenance_work_mem = 1GB"
        echo "max_wal_size = 4GB"
        echo "checkpoint_timeout = 30min"
        echo "jit = off"
        echo "log_min_messages = warning"
        echo "log_line_prefix = '%m [%p] '"
        for line in "$@"; do echo "$line"; done
    } >>"$conf" || { _cl_err "cannot write $conf"; return 1; }

    base=${ANNOY_PG_PORT_BASE:-54320}
    port=$base
    for ((tries = 0; tries < 50; tries++)); do
        while ! _cl_port_free "$port" "$dir"; do
            port=$((port + 1))
            if ((port > base + 1000)); then _cl_err "no free port in $base..$((base + 1000))"; return 1; fi
        done
        sock="$dir/.s.PGSQL.$port"
        if ((${#sock} > 107)); then
            _cl_err "socket path $sock is too long for a Unix socket; use a shorter DIR"; return 1
        fi
        echo "port = $port" >>"$conf"
        if _cl_as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log/postgresql.log" -w -t 120 \
                start >/dev/null 2>&1; then
            break
        fi
        # Lost a race for the port? Try the next one; any other failure is fatal.
        if tail -n 20 "$dir/log/postgresql.log" 2>/dev/null | grep -qiE 'could not (bind|create lock file)|already in use'; then
            _cl_msg "port $port taken meanwhile; trying the next one"
            port=$((port + 1))
            continue
        fi
        _cl_err "server did not start; last lines of $dir/log/postgresql.log:"
        tail -n 20 "$dir/log/postgresql.log" >&2
        return 1
    done
    if ((tries >= 50)); then _cl_err "gave up finding a port after 50 attempts"; return 1; fi

    echo "$port" >"$dir/port"
    cluster_env "$dir" || return 1
    if ! "$bindir/psql" -X -q -At -c 'select 1' >/dev/null; then
        _cl_err "server started but psql cannot connect via $PGHOST:$PGPORT"; return 1
    fi
    _cl_msg "cluster running: PGHOST=$PGHOST PGPORT=$PGPORT (log: $dir/log/postgresql.log)"
}

_cl_main() {
    set -euo pipefail
    local cmd=${1:-} dir
    case $cmd in
        start|env|status|stop) ;;
        *)
            echo "usage: $0 start DIR [\"setting = value\" ...]   (prints export lines: eval \"\$($0 start DIR)\")" >&2
            echo "       $0 env DIR | status DIR | stop DIR [--remove]" >&2
            exit 2 ;;
    esac
    if [[ $# -lt 2 || -z $2 ]]; then _cl_err "$cmd: missing DIR"; exit 2; fi
    shift
    case $cmd in
        start) cluster_start "$@" ;;
        env) cluster_env "$1" ;;
        stop) cluster_stop "$@"; exit 0 ;;
        status)
            dir=$(_cl_abspath "$1")
            if _cl_is_running "$dir"; then
                echo "running in $dir on port $(cat "$dir/port" 2>/dev/null || echo '?')"; exit 0
            else
                echo "not running in $dir"; exit 3
            fi ;;
    esac
    printf 'export PGHOST=%q PGPORT=%q PGUSER=%q PGDATABASE=%q\n' "$PGHOST" "$PGPORT" "$PGUSER" "$PGDATABASE"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    _cl_main "$@"
fi
