#!/usr/bin/env bash
# The main job on its embedded default, on a fresh machine: installs what it needs,
# starts a private Dovecot on 127.0.0.1 with one mail user, writes an authbridge
# config for it, and checks passwords with `authbridge check` against the mail
# server, a local user and an app password in the embedded SQLite store; then runs
# the daemon on its embedded default socket and asks it through the real PAM and
# NSS modules (pam_wrapper and nss_wrapper keep /etc untouched), the OCS API, and
# ocs-conformance against that API.
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/install-deps.sh
cargo build --release --locked -p authbridge -p pam-authbridge -p nss-authbridge -p ocs-conformance

demo=$(mktemp -d /tmp/authbridge-demo.XXXXXX)
chmod 755 "$demo"
daemon=""
finish() {
    status=$?
    if [ -n "$daemon" ]; then
        kill "$daemon" 2>/dev/null || true
        [ "$status" = 0 ] || { echo "== daemon log"; cat "$demo/daemon.log"; }
    fi
    bash ci/servers/dovecot.sh stop "$demo"
    rm -rf "$demo"
}
trap finish EXIT

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
OC_PASS='quartz-lantern-88' ab user add --password-from-env --display-name "Layla Smith" -g physics layla
AUTHBRIDGE_PASSWORD='quartz-lantern-88' ab check --password-from-env layla
token=$(ab user auth-tokens add --name demo alice | sed -n 's/^app password: //p')
AUTHBRIDGE_PASSWORD="$token" ab check --password-from-env alice
ab user auth-tokens list alice
echo "== the daemon, on the embedded default socket $demo/data/authbridge.sock"
# Started directly (not through the ab function), so that $! is the daemon itself.
./target/release/authbridge --config "$demo/config.toml" --data-dir "$demo/data" serve \
    --listen 127.0.0.1:18080 </dev/null >"$demo/daemon.out" 2>"$demo/daemon.log" &
daemon=$!
for _ in $(seq 100); do [ -S "$demo/data/authbridge.sock" ] && break; sleep 0.1; done
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/18080) 2>/dev/null && break; sleep 0.1; done
mkdir "$demo/pam.d"
echo "auth required $PWD/target/release/libpam_authbridge.so socket=$demo/data/authbridge.sock
account required $PWD/target/release/libpam_authbridge.so socket=$demo/data/authbridge.sock" >"$demo/pam.d/demo"
pam() {
    env PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$demo/pam.d" \
        LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libpam_wrapper.so pamtester demo "$@" 2>&1 | grep -v PWRAP_
}
echo "== PAM: alice's mail password, then layla's local password, through pam_authbridge.so"
printf 'correct horse battery\n' | pam alice authenticate acct_mgmt
printf 'quartz-lantern-88\n' | pam layla authenticate acct_mgmt
cp target/release/libnss_authbridge.so "$demo/libnss_authbridge.so.2"
echo 'root:x:0:0:root:/root:/bin/bash' >"$demo/passwd"
echo 'root:x:0:' >"$demo/group"
nss() {
    env LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libnss_wrapper.so NSS_WRAPPER_PASSWD="$demo/passwd" \
        NSS_WRAPPER_GROUP="$demo/group" NSS_WRAPPER_MODULE_SO_PATH="$demo/libnss_authbridge.so.2" \
        NSS_WRAPPER_MODULE_FN_PREFIX=authbridge AUTHBRIDGE_SOCKET="$demo/data/authbridge.sock" "$@"
}
echo "== NSS: the store's users and groups through libnss_authbridge.so.2"
nss getent passwd alice layla
nss id layla
echo "== the OCS Provisioning API on 127.0.0.1:18080, as an admin made with the CLI"
# (The store is not empty, so the daemon made no first admin of its own.)
OC_PASS='ledger-harbour-71' ab user add --password-from-env -g admin boss
admin_token=$(ab user auth-tokens add --name provisioning boss | sed -n 's/^app password: //p')
ocs() { curl -fsS -u "boss:$admin_token" -H 'OCS-APIRequest: true' "$@"; echo; }
ocs -d userid=frank -d password=frankspassword-42 -d 'groups[]=physics' http://127.0.0.1:18080/ocs/v2.php/cloud/users
ocs 'http://127.0.0.1:18080/ocs/v2.php/cloud/users?search=fr&format=json' | tee "$demo/search.json"
grep -q '"users":\["frank"\]' "$demo/search.json"
echo "== /auth/check: frank's password (204), then a wrong one (401)"
[ "$(curl -sS -o /dev/null -w '%{http_code}' -u frank:frankspassword-42 http://127.0.0.1:18080/auth/check)" = 204 ]
[ "$(curl -sS -o /dev/null -w '%{http_code}' -u frank:wrong http://127.0.0.1:18080/auth/check)" = 401 ]
echo "204, then 401"
echo "== the daemon's decision log"
grep ' decision ' "$demo/daemon.log"

echo "== disabled: every way in fails at once (exit code 1 expected)"
ab user disable alice
if AUTHBRIDGE_PASSWORD="$token" ab check --password-from-env alice; then
    echo "unexpected: a disabled user's app password was accepted" >&2
    exit 1
fi
if printf 'correct horse battery\n' | pam alice authenticate | grep -q successfully; then
    echo "unexpected: PAM let a disabled user in" >&2
    exit 1
fi
ab user list --info

echo "== ocs-conformance against this OCS API: the groups fixtures, v1 and v2, XML and JSON"
OCS_ADMIN_PASSWORD="$admin_token" target/release/ocs-conformance run \
    --base-url http://127.0.0.1:18080 --admin-user boss --admin-password-env OCS_ADMIN_PASSWORD \
    --filter groups/ --junit "$demo/conformance.xml"
grep -o '<testsuites [^>]*>' "$demo/conformance.xml"
