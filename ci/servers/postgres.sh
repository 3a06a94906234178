#!/usr/bin/env bash
# Starts or stops a private PostgreSQL server for authbridge's tests.
#
#   postgres.sh start DIR   # initdb DIR/data the first time, then start it
#   postgres.sh stop DIR    # a fast shutdown (an outage the daemons must ride out)
#   postgres.sh kill DIR    # an immediate shutdown (the end of a test)
#
# Environment for start: PG_PORT; PG_TLS_CERT and PG_TLS_KEY (PEM files) switch
# TLS on with that certificate. The server listens on 127.0.0.1 only, and on
# a unix socket in DIR/sock; trust authentication, user postgres. The cluster
# uses the C.UTF-8 locale. fsync is off: a test server survives no power cut,
# and a clean or fast shutdown still writes everything. Run as root, the
# server runs as the postgres user (initdb refuses root).
set -euo pipefail

cmd=${1:?usage: postgres.sh start|stop|kill DIR}
dir=$(cd "${2:?usage: postgres.sh start|stop|kill DIR}" && pwd)
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 2; }

as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
stop | kill)
    mode=fast
    [ "$cmd" = kill ] && mode=immediate
    [ -f "$dir/data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m "$mode" -w stop >/dev/null 2>&1 || true
    exit 0
    ;;
start) ;;
*)
    echo "unknown command: $cmd" >&2
    exit 2
    ;;
esac

: "${PG_PORT:?PG_PORT is required}"
if [ ! -f "$dir/data/PG_VERSION" ]; then
    mkdir -p "$dir/data" "$dir/sock"
    [ "$(id -u)" = 0 ] && chown postgres "$dir" "$dir/data" "$dir/sock"
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
fi
: >"$dir/postgres.log"
[ "$(id -u)" = 0 ] && chown postgres "$dir/postgres.log"
tls=""
if [ -n "${PG_TLS_CERT:-}" ]; then
    # The server refuses a key others may read.
    install -m 0644 "$PG_TLS_CERT" "$dir/tls.crt"
    install -m 0600 "${PG_TLS_KEY:?PG_TLS_KEY goes with PG_TLS_CERT}" "$dir/tls.key"
    [ "$(id -u)" = 0 ] && chown postgres "$dir/tls.crt" "$dir/tls.key"
    tls="-c ssl=on -c ssl_cert_file=$dir/tls.crt -c ssl_key_file=$dir/tls.key"
fi
if ! as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 \
    -o "-p $PG_PORT -k $dir/sock -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 $tls" start >/dev/null 2>&1; then
    cat "$dir/postgres.log" >&2
    exit 1
fi
