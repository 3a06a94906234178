#!/usr/bin/env bash
# The main job on its embedded default, on a fresh machine: installs what it needs,
# starts a private Dovecot on 127.0.0.1 with one mail user, writes an authbridge
# config for it and checks that user's password with `authbridge check`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/install-deps.sh
cargo build --release --locked -p authbridge

demo=$(mktemp -d /tmp/authbridge-demo.XXXXXX)
chmod 755 "$demo"
trap 'bash ci/servers/dovecot.sh stop "$demo"; rm -rf "$demo"' EXIT

printf 'alice:{PLAIN}correct horse battery::::::\n' >"$demo/users"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext 'subjectAltName=IP:127.0.0.1' \
    -keyout "$demo/server.key" -out "$demo/server.crt" 2>/dev/null
IMAP_PORT=10143 IMAPS_PORT=10993 bash ci/servers/dovecot.sh start "$demo"
for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/10993) 2>/dev/null && break
    sleep 0.1
done

cat >"$demo/config.toml" <<CONF
[[backend]]
type = "imap"
mailbox = "{127.0.0.1:10993/imap/ssl}"
ca_file = "$demo/server.crt"
CONF

echo "== right password"
AUTHBRIDGE_PASSWORD='correct horse battery' \
    ./target/release/authbridge --config "$demo/config.toml" check --password-from-env alice
echo "== wrong password (exit code 1 expected)"
if AUTHBRIDGE_PASSWORD='wrong' \
    ./target/release/authbridge --config "$demo/config.toml" check --password-from-env alice; then
    echo "unexpected: a wrong password was accepted" >&2
    exit 1
fi
