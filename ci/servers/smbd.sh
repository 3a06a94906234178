#!/usr/bin/env bash
# Starts or stops a private Samba smbd for authbridge's tests.
#
#   smbd.sh start DIR   # DIR/users: one "login password" pair per line (tab-separated)
#   smbd.sh stop DIR
#
# Environment for start: SMB_PORT (on 127.0.0.1), GUEST=yes|no (default no: with
# yes, unknown users are mapped to guest and the share allows guests, to prove a
# guest session never counts as a login).
# Users exist only in a private tdbsam database and, through nss_wrapper, in a
# private passwd file: the machine's own accounts are not touched.
set -euo pipefail

cmd=${1:?usage: smbd.sh start|stop DIR}
dir=$(cd "${2:?usage: smbd.sh start|stop DIR}" && pwd)

case "$cmd" in
stop)
    if [ -f "$dir/smbd.pid" ]; then
        pid=$(cat "$dir/smbd.pid")
        kill "$pid" 2>/dev/null || true
        # smbd's children follow their parent; wait for the parent so ports are free.
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        rm -f "$dir/smbd.pid"
    fi
    exit 0
    ;;
start) ;;
*)
    echo "unknown command: $cmd" >&2
    exit 2
    ;;
esac

: "${SMB_PORT:?SMB_PORT is required}"
mkdir -p "$dir/private" "$dir/lock" "$dir/state" "$dir/cache" "$dir/run" "$dir/share" "$dir/ncalrpc"
if [ "${GUEST:-no}" = yes ]; then
    map_to_guest="Bad User"
    guest_ok=yes
else
    map_to_guest=Never
    guest_ok=no
fi

# Private accounts for smbd through nss_wrapper (uids from 60000, never on this machine).
: >"$dir/passwd"
echo "nogroup:x:65534:" >"$dir/group"
echo "abtest:x:60000:" >>"$dir/group"
echo "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin" >>"$dir/passwd"
uid=60001
while IFS=$'\t' read -r login _; do
    [ -n "$login" ] || continue
    echo "$login:x:$uid:60000:$login:$dir/share:/bin/false" >>"$dir/passwd"
    uid=$((uid + 1))
done <"$dir/users"

export LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libnss_wrapper.so
export NSS_WRAPPER_PASSWD="$dir/passwd" NSS_WRAPPER_GROUP="$dir/group"

cat >"$dir/smb.conf" <<CONF
[global]
  netbios name = ABTEST
  workgroup = ABTEST
  security = user
  server role = standalone server
  passdb backend = tdbsam:$dir/private/passdb.tdb
  private dir = $dir/private
  lock directory = $dir/lock
  state directory = $dir/state
  cache directory = $dir/cache
  pid directory = $dir/run
  ncalrpc dir = $dir/ncalrpc
  log file = $dir/smbd.log
  log level = 1 auth_audit:3
  max log size = 0
  interfaces = 127.0.0.1
  bind interfaces only = yes
  smb ports = $SMB_PORT
  disable netbios = yes
  server min protocol = SMB2_02
  map to guest = $map_to_guest
  guest account = nobody
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  registry shares = no
  usershare path =

[share]
  path = $dir/share
  read only = yes
  guest ok = $guest_ok
CONF

while IFS=$'\t' read -r login password; do
    [ -n "$login" ] || continue
    printf '%s\n%s\n' "$password" "$password" |
        pdbedit -s "$dir/smb.conf" -a -t -u "$login" >/dev/null
done <"$dir/users"

# On shutdown smbd signals its whole process group, which must not be the caller's:
# with job control on, the background job gets a process group of its own.
set -m
smbd --foreground --no-process-group -s "$dir/smb.conf" </dev/null >"$dir/smbd.out" 2>&1 &
echo $! >"$dir/smbd.pid"
