#!/usr/bin/env bash
# Starts or stops the test FTP server (pyftpdlib, ci/servers/ftpd.py).
#
#   ftpd.sh start DIR   # DIR holds users.jsonl, and server.crt/server.key when TLS=yes
#   ftpd.sh stop DIR
#
# Environment for start: FTP_PORT (on 127.0.0.1), TLS=yes|no (default yes).
# Commands the server receives are logged (verbs only) to DIR/commands.log.
set -euo pipefail

cmd=${1:?usage: ftpd.sh start|stop DIR}
dir=$(cd "${2:?usage: ftpd.sh start|stop DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

case "$cmd" in
stop)
    if [ -f "$dir/ftpd.pid" ]; then
        kill "$(cat "$dir/ftpd.pid")" 2>/dev/null || true
        rm -f "$dir/ftpd.pid"
    fi
    exit 0
    ;;
start) ;;
*)
    echo "unknown command: $cmd" >&2
    exit 2
    ;;
esac

: "${FTP_PORT:?FTP_PORT is required}"
tls_args=()
if [ "${TLS:-yes}" = yes ]; then
    tls_args=(--cert "$dir/server.crt" --key "$dir/server.key")
fi
touch "$dir/commands.log"
python3 "$here/ftpd.py" --port "$FTP_PORT" --users "$dir/users.jsonl" \
    --commands "$dir/commands.log" --home "$dir/home" "${tls_args[@]}" \
    </dev/null >"$dir/ftpd.log" 2>&1 &
echo $! >"$dir/ftpd.pid"
