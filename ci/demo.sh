#!/usr/bin/env bash
# The main job on its embedded default, on a fresh machine: installs what it needs,
# starts a private Dovecot on 127.0.0.1 with one mail user, writes an authbridge
# config for it, and checks passwords with `authbridge check` against the mail
# server, a local user and an app password in the embedded SQLite store.
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/install-deps.sh
cargo build --release --locked -p authbridge

demo=$(mktemp -d /tmp/authbridge-demo.XXXXXX)
chmod 755 "$demo"
trap 'bash ci/servers/dovecot.sh stop "$demo"; rm -rf "$demo"' EXIT

printf 'alice:{PLAIN}correct horse battery::::::\n' >"$demo/users"
# A throw-away CA and a server certificate it signed (a self-signed CA certificate
# may not serve as the server's own: rustls refuses a CA used as an end entity).
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=authbridge-demo-ca \
    -keyout "$demo/ca.key" -out "$demo/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
    -keyout "$demo/server.key" -out "$demo/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$demo/server.ext"
openssl x509 -req -in "$demo/server.csr" -CA "$demo/ca.crt" -CAkey "$demo/ca.key" \
    -CAcreateserial -days 1 -extfile "$demo/server.ext" -out "$demo/server.crt" 2>/dev/null
IMAP_PORT=10143 IMAPS_PORT=10993 bash ci/servers/dovecot.sh start "$demo"
for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/10993) 2>/dev/null && break
    sleep 0.1
done

cat >"$demo/config.toml" <<CONF
[[backend]]
type = "imap"
mailbox = "{127.0.0.1:10993/imap/ssl}"
ca_file = "$demo/ca.crt"
CONF

ab() { ./target/release/authbridge --config "$demo/config.toml" --data-dir "$demo/data" "$@"; }

echo "== alice's mail password (IMAP)"
AUTHBRIDGE_PASSWORD='correct horse battery' ab check --password-from-env alice
echo "== a wrong password (exit code 1 expected)"
if AUTHBRIDGE_PASSWORD='wrong' ab check --password-from-env alice; then
    echo "unexpected: a wrong password was accepted" >&2
    exit 1
fi
echo "== alice was recorded as an IMAP user"
ab user info alice

echo "== a local user and an app password"
OC_PASS='quartz-lantern-88' ab user add --password-from-env --display-name "Layla Smith" -g staff layla
AUTHBRIDGE_PASSWORD='quartz-lantern-88' ab check --password-from-env layla
token=$(ab user auth-tokens add --name demo alice | sed -n 's/^app password: //p')
AUTHBRIDGE_PASSWORD="$token" ab check --password-from-env alice
ab user auth-tokens list alice
echo "== disabled: every way in fails at once (exit code 1 expected)"
ab user disable alice
if AUTHBRIDGE_PASSWORD="$token" ab check --password-from-env alice; then
    echo "unexpected: a disabled user's app password was accepted" >&2
    exit 1
fi
ab user list --info
