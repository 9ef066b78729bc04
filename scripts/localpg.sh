#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for `make run` and `make test`, in a git-ignored folder.
#
#   scripts/localpg.sh packages        install libpq-dev and postgresql when missing
#   scripts/localpg.sh start NAME      init (once) and start cluster NAME; print its DATABASE_URL
#   scripts/localpg.sh url NAME        print the DATABASE_URL of running cluster NAME
#   scripts/localpg.sh stop NAME       stop cluster NAME
#   scripts/localpg.sh destroy NAME    stop cluster NAME and delete its files
#
# The cluster listens on 127.0.0.1 only, on a free port kept in .local/NAME/port, with trust
# authentication (it is a local development cluster: never expose it). PostgreSQL refuses to run
# as root, so as root the server runs as the `postgres` user.
# PG_SERVER_OPTS adds server settings, e.g. "-c fsync=off" for tests.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
command=${1:?usage: localpg.sh packages|start|url|stop|destroy NAME}
name=${2:-run}
state="$root/.local/$name"

log() { echo "localpg: $*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_bindir() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

install_packages() {
    local missing=()
    pkg-config --exists libpq 2>/dev/null || missing+=(libpq-dev)
    local bindir
    bindir=$(pg_bindir)
    [ -n "$bindir" ] && [ -x "$bindir/initdb" ] || missing+=(postgresql)
    command -v psql >/dev/null || missing+=(postgresql-client)
    command -v pkg-config >/dev/null || missing+=(pkg-config)
    pkg-config --exists zlib 2>/dev/null || missing+=(zlib1g-dev)
    command -v wrk >/dev/null || missing+=(wrk)  # load tests, and the overload of `make chaos`
    command -v openssl >/dev/null || missing+=(openssl)  # the TLS tests make their certificates
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# The data folder: inside the repository when the postgres user can reach it; otherwise (a clone
# under /root, say) a folder under /tmp named after the repository path.
data_dir() {
    if [ -f "$state/datadir" ]; then cat "$state/datadir"; return; fi
    local dir="$state/data"
    if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$state"; then
        dir="/tmp/inlet-pg-$(echo -n "$root" | sha256sum | cut -c1-12)-$name"
    fi
    echo "$dir" > "$state/datadir"
    echo "$dir"
}

close_inherited_descriptors() {
    local fd
    for fd in $(ls /proc/$BASHPID/fd); do
        [ "$fd" -gt 2 ] && [ "$fd" -ne 255 ] && eval "exec $fd>&-" 2>/dev/null
    done
    return 0
}

free_port() {
    local port
    for _ in $(seq 1 200); do
        port=$((20000 + RANDOM % 20000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
    done
    log "no free port found"; exit 1
}

url() {
    echo "postgresql://postgres@127.0.0.1:$(cat "$state/port")/inlet"
}

start() {
    install_packages
    mkdir -p "$state"
    chmod 755 "$state"
    local bin dir
    bin=$(pg_bindir)
    dir=$(data_dir)
    [ -f "$state/port" ] || free_port > "$state/port"
    if [ ! -f "$dir/PG_VERSION" ]; then
        mkdir -p "$dir"
        [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
        chmod 700 "$dir"
        log "initialising a cluster in $dir"
        as_postgres "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
    fi
    if ! as_postgres "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
        # shellcheck disable=SC2086 # PG_SERVER_OPTS is a list of options
        as_postgres "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
            -o "-p $(cat "$state/port") -c listen_addresses=127.0.0.1 -k $dir ${PG_SERVER_OPTS:-}" start >/dev/null \
            || { log "PostgreSQL did not start; its log:"; tail -n 20 "$dir/server.log" >&2; exit 1; }
        log "PostgreSQL is running on 127.0.0.1:$(cat "$state/port") (data in $dir)"
    fi
    local psql=(psql -X -q -h 127.0.0.1 -p "$(cat "$state/port")" -U postgres -d postgres -tA)
    if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'inlet'")" != "1" ]; then
        "${psql[@]}" -c "CREATE DATABASE inlet" >/dev/null
    fi
    url
}

stop() {
    [ -f "$state/datadir" ] || return 0
    local dir
    dir=$(cat "$state/datadir")
    if [ -f "$dir/PG_VERSION" ] && as_postgres "$(pg_bindir)/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
        as_postgres "$(pg_bindir)/pg_ctl" -D "$dir" -m fast -w stop >/dev/null
        log "stopped cluster $name"
    fi
}

case "$command" in
    packages) install_packages ;;
    start) start ;;
    url) url ;;
    stop) stop ;;
    destroy)
        stop
        [ -f "$state/datadir" ] && rm -rf "$(cat "$state/datadir")"
        rm -rf "$state"
        ;;
    *) log "unknown command $command"; exit 2 ;;
esac
