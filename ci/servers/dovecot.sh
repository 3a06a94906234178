#!/usr/bin/env bash
# Starts or stops a private Dovecot IMAP server for authbridge's tests.
#
#   dovecot.sh start DIR   # DIR holds users (passwd-file), server.crt, server.key
#   dovecot.sh stop DIR
#
# Environment for start: IMAP_PORT (plain listener, STARTTLS offered unless SSL=no),
# IMAPS_PORT (implicit TLS; ignored when SSL=no), SSL=yes|no (default yes),
# ADDRESS (a loopback address, default 127.0.0.1). Dovecot treats a client whose
# address equals the server's as secured; listening on 127.0.0.2 makes a plaintext
# connection from 127.0.0.1 count as insecure, as a remote one would. Logs every authentication to DIR/dovecot.log.
set -euo pipefail

cmd=${1:?usage: dovecot.sh start|stop DIR}
dir=$(cd "${2:?usage: dovecot.sh start|stop DIR}" && pwd)
conf="$dir/dovecot.conf"

case "$cmd" in
stop)
    [ -f "$conf" ] && dovecot -c "$conf" stop 2>/dev/null || true
    exit 0
    ;;
start) ;;
*)
    echo "unknown command: $cmd" >&2
    exit 2
    ;;
esac

: "${IMAP_PORT:?IMAP_PORT is required}"
ssl=${SSL:-yes}
address=${ADDRESS:-127.0.0.1}
case "$address" in
127.*) ;;
*)
    echo "ADDRESS must be a loopback address, not $address" >&2
    exit 2
    ;;
esac

# The post-login imap process needs a uid to run as and a mail location.
id vmail >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin vmail
mkdir -p "$dir/mail" "$dir/run" "$dir/state"
chown vmail:vmail "$dir/mail"
chmod 755 "$dir"
chmod 644 "$dir/users"

if [ "$ssl" = yes ]; then
    : "${IMAPS_PORT:?IMAPS_PORT is required when SSL=yes}"
    chmod 644 "$dir/server.crt"
    chmod 600 "$dir/server.key"
    ssl_block="ssl = yes
ssl_cert = <$dir/server.crt
ssl_key = <$dir/server.key
ssl_min_protocol = TLSv1.2
# Refuse LOGIN before TLS: a test can then prove no password was sent in clear.
disable_plaintext_auth = yes"
    imaps_listener="inet_listener imaps {
    address = $address
    port = $IMAPS_PORT
    ssl = yes
  }"
else
    # No STARTTLS offered, and plaintext logins allowed: a client that wrongly sent
    # its password anyway would show up as a login in the log.
    ssl_block="ssl = no
disable_plaintext_auth = no"
    imaps_listener=""
fi

cat >"$conf" <<CONF
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
info_log_path = $dir/dovecot.log
protocols = imap
listen = $address
auth_verbose = yes
auth_failure_delay = 0
default_login_user = dovenull
default_internal_user = dovecot
mail_location = maildir:~/Maildir
$ssl_block
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/users
}
userdb {
  driver = static
  args = uid=vmail gid=vmail home=$dir/mail/%u
}
service imap-login {
  inet_listener imap {
    address = $address
    port = $IMAP_PORT
  }
  $imaps_listener
}
service anvil {
  chroot =
  # No auth penalty: tests send wrong passwords on purpose, and anvil's growing
  # per-IP delay (up to 15 s) would only slow them down.
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
CONF

# Dovecot daemonises; keep its start-up output in a file so that no pipe of the
# caller stays open for the daemon's lifetime.
if ! dovecot -c "$conf" >"$dir/start.out" 2>&1; then
    cat "$dir/start.out" >&2
    exit 1
fi
