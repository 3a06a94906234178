#!/usr/bin/env bash
# End to end: an IMAP-only user logs into Linux over ssh through pam_authbridge.so
# and libnss_authbridge.so.2. Run inside a private mount namespace
# (`unshare -m --propagation private`), so that nothing here touches the machine:
# /run, /etc/pam.d, /etc/nsswitch.conf and the library directory are replaced
# only for the processes started below.
#
# Environment (all required):
#   AUTHBRIDGE          the authbridge binary
#   PAM_MODULE          target/.../libpam_authbridge.so
#   NSS_MODULE          target/.../libnss_authbridge.so
#   AUTHBRIDGE_CONFIG   config with the IMAP backend (Dovecot already running)
#   AUTHBRIDGE_DATA_DIR the store
#   WORK                a scratch directory
#   SSH_PORT            a free port on 127.0.0.1
#   ALICE_PASSWORD      alice's mail password on the IMAP server
#   PAM_STACK           "own" (a minimal sshd stack naming the module by path) or
#                       "debian" (Debian's own /etc/pam.d with the repository's
#                       pam-auth-update profile enabled by pam-auth-update)
#   PAM_PROFILE         bridge/pam/dist/authbridge (for PAM_STACK=debian)
# Prints one "ok: ..." line per step; exits non-zero at the first failure.
set -euo pipefail

for v in AUTHBRIDGE PAM_MODULE NSS_MODULE AUTHBRIDGE_CONFIG AUTHBRIDGE_DATA_DIR WORK SSH_PORT ALICE_PASSWORD PAM_STACK; do
    [ -n "${!v:-}" ] || { echo "ssh.sh: $v is not set" >&2; exit 2; }
done
libdir=/usr/lib/x86_64-linux-gnu
[ "$(findmnt -no PROPAGATION / 2>/dev/null || echo private)" = private ] || {
    echo "ssh.sh: run me in a private mount namespace (unshare -m --propagation private)" >&2
    exit 2
}

daemon_pid=""
cleanup() {
    [ -f "$WORK/sshd.pid" ] && kill "$(cat "$WORK/sshd.pid")" 2>/dev/null || true
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    echo "--- daemon log" >&2; cat "$WORK/daemon.log" >&2 || true
    echo "--- sshd log" >&2; cat "$WORK/sshd.log" >&2 || true
    exit 1
}

# A private /run: the daemon's default socket and sshd's privilege-separation dir.
mount -t tmpfs tmpfs /run
mkdir -p /run/sshd /run/authbridge
chmod 755 /run/sshd

# glibc dlopens libnss_authbridge.so.2 from the library directory, libpam finds
# pam_authbridge.so in its security/ subdirectory: overlay both there.
mkdir -p "$WORK/lib/security"
cp "$NSS_MODULE" "$WORK/lib/libnss_authbridge.so.2"
cp "$PAM_MODULE" "$WORK/lib/security/pam_authbridge.so"
mount -t overlay overlay -o "lowerdir=$WORK/lib:$libdir" "$libdir"

sed -E 's/^(passwd|group):.*/\1: files authbridge/' /etc/nsswitch.conf >"$WORK/nsswitch.conf"
grep -q '^passwd: files authbridge' "$WORK/nsswitch.conf" || echo "passwd: files authbridge" >>"$WORK/nsswitch.conf"
grep -q '^group: files authbridge' "$WORK/nsswitch.conf" || echo "group: files authbridge" >>"$WORK/nsswitch.conf"
mount --bind "$WORK/nsswitch.conf" /etc/nsswitch.conf

case "$PAM_STACK" in
own)
    mkdir -p "$WORK/pam.d"
    cat >"$WORK/pam.d/sshd" <<PAM
auth     required  $PAM_MODULE
account  required  $PAM_MODULE
session  optional  $PAM_MODULE
session  required  pam_permit.so
password required  $PAM_MODULE
PAM
    printf 'auth required pam_deny.so\naccount required pam_deny.so\npassword required pam_deny.so\nsession required pam_deny.so\n' >"$WORK/pam.d/other"
    mount --bind "$WORK/pam.d" /etc/pam.d
    ;;
debian)
    # Copies of the machine's PAM files, changed only by pam-auth-update itself.
    cp -a /etc/pam.d "$WORK/pam.d"
    cp -a /usr/share/pam-configs "$WORK/pam-configs"
    cp -a /var/lib/pam "$WORK/pam-state"
    cp "${PAM_PROFILE:?PAM_PROFILE is required for PAM_STACK=debian}" "$WORK/pam-configs/authbridge"
    mount --bind "$WORK/pam.d" /etc/pam.d
    mount --bind "$WORK/pam-configs" /usr/share/pam-configs
    mount --bind "$WORK/pam-state" /var/lib/pam
    DEBIAN_FRONTEND=noninteractive pam-auth-update --enable authbridge || fail "pam-auth-update"
    grep -q pam_authbridge.so /etc/pam.d/common-auth || fail "the profile is not in common-auth"
    echo "ok: pam-auth-update enabled the profile: $(grep -c pam_authbridge.so /etc/pam.d/common-*| tr '\n' ' ')"
    ;;
*) fail "PAM_STACK must be own or debian" ;;
esac

"$AUTHBRIDGE" serve --socket /run/authbridge/authbridge.sock 2>"$WORK/daemon.log" &
daemon_pid=$!
for _ in $(seq 200); do [ -S /run/authbridge/authbridge.sock ] && break; sleep 0.05; done
[ -S /run/authbridge/authbridge.sock ] || fail "the daemon did not start"

# sshd looks a user up before authenticating: alice is provisioned as an IMAP
# account (her password stays on the mail server).
"$AUTHBRIDGE" user add --backend imap -g mailusers alice >/dev/null
entry=$(getent passwd alice) || fail "getent passwd alice"
uid=$(echo "$entry" | cut -d: -f3)
[ "$uid" -ge 200000 ] && [ "$uid" -le 299999 ] || fail "uid $uid outside 200000-299999"
echo "ok: getent passwd alice -> $entry"

ssh-keygen -q -t ed25519 -N '' -f "$WORK/host_key"
cat >"$WORK/sshd_config" <<SSHD
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $WORK/host_key
PidFile $WORK/sshd.pid
UsePAM yes
PasswordAuthentication yes
KbdInteractiveAuthentication yes
PubkeyAuthentication no
PermitRootLogin no
StrictModes no
UseDNS no
LogLevel VERBOSE
SSHD
/usr/sbin/sshd -f "$WORK/sshd_config" -E "$WORK/sshd.log" || fail "sshd did not start"
for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$SSH_PORT") 2>/dev/null && break; sleep 0.05; done

ssh_as() { # ssh_as PASSWORD USER COMMAND
    SSHPASS="$1" sshpass -e ssh -p "$SSH_PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o PreferredAuthentications=password -o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1 \
        -o LogLevel=ERROR -o ConnectTimeout=20 "$2@127.0.0.1" "$3"
}

out=$(ssh_as "$ALICE_PASSWORD" alice id) || fail "ssh with alice's mail password"
echo "$out" | grep -q "^uid=$uid(alice) gid=$uid(alice) groups=$uid(alice),[0-9]*(mailusers)$" ||
    fail "unexpected id output: $out"
echo "ok: ssh alice (mail password) -> $out"

if ssh_as "not-$ALICE_PASSWORD" alice id >/dev/null 2>&1; then fail "a wrong password logged in"; fi
echo "ok: a wrong password is refused"

app=$("$AUTHBRIDGE" user auth-tokens add --name e2e alice | grep -Eo '[A-Za-z0-9]{5}(-[A-Za-z0-9]{5}){4}') ||
    fail "no app password printed"
out=$(ssh_as "$app" alice id) || fail "ssh with an app password"
echo "ok: ssh alice (app password) -> $out"

# Two-factor authentication: keyboard-interactive carries both prompts; an
# askpass script answers each by its words (ssh runs it once per prompt).
cat >"$WORK/askpass" <<'ASKPASS'
#!/bin/sh
case "$1" in
*"Verification code"*) printf '%s\n' "$TWOFA_CODE" ;;
*) printf '%s\n' "$TWOFA_PASSWORD" ;;
esac
ASKPASS
chmod 755 "$WORK/askpass"
ssh_2fa() { # ssh_2fa PASSWORD CODE USER COMMAND
    TWOFA_PASSWORD="$1" TWOFA_CODE="$2" SSH_ASKPASS="$WORK/askpass" SSH_ASKPASS_REQUIRE=force \
        ssh -p "$SSH_PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o PreferredAuthentications=keyboard-interactive -o PubkeyAuthentication=no \
        -o NumberOfPasswordPrompts=1 -o LogLevel=ERROR -o ConnectTimeout=20 "$3@127.0.0.1" "$4" </dev/null
}
totp_at() { oathtool --totp --base32 "$secret" --now "@$(($(date +%s) + $1))"; }
secret=$("$AUTHBRIDGE" twofactorauth totp setup alice | sed -n 's/^Secret: //p')
[ -n "$secret" ] || fail "no TOTP secret printed"
code=$(totp_at 0)
out=$(ssh_2fa "$ALICE_PASSWORD" "$code" alice id) || fail "ssh with the password and a TOTP code"
echo "$out" | grep -q "^uid=$uid(alice)" || fail "unexpected id output: $out"
echo "ok: ssh alice (mail password, then a TOTP code from oathtool) -> $out"
if ssh_2fa "$ALICE_PASSWORD" "$code" alice id >/dev/null 2>&1; then fail "a replayed code logged in"; fi
echo "ok: a replayed TOTP code is refused"
wrong=$(printf '%06d' $(((10#$(totp_at 30) + 500000) % 1000000)))
if ssh_2fa "$ALICE_PASSWORD" "$wrong" alice id >/dev/null 2>&1; then fail "a wrong code logged in"; fi
echo "ok: a wrong TOTP code is refused"
if ssh_as "$ALICE_PASSWORD" alice id >/dev/null 2>&1; then fail "the password alone logged in"; fi
echo "ok: the password alone is refused once TOTP is on"
# su, run by an unprivileged user (setuid root, the real uid nobody's): the
# password, then the code, through su's own conversation on stdin.
if [ "$PAM_STACK" = own ]; then
    printf 'auth required %s\naccount required %s\nsession required pam_permit.so\n' \
        "$PAM_MODULE" "$PAM_MODULE" >/etc/pam.d/su
fi
out=$(printf '%s\n%s\n' "$ALICE_PASSWORD" "$(totp_at 30)" |
    setpriv --reuid=65534 --regid=65534 --clear-groups su alice -c id 2>&1) || fail "su with the password and a code: $out"
echo "$out" | grep -q "uid=$uid(alice)" || fail "su: $out"
echo "ok: su alice (as nobody: mail password, then a TOTP code) -> $(echo "$out" | grep -o 'uid=.*')"
backup=$("$AUTHBRIDGE" twofactorauth backup-codes generate alice | sed -n 2p)
out=$(ssh_2fa "$ALICE_PASSWORD" "$backup" alice id) || fail "ssh with a backup code"
echo "ok: ssh alice (mail password, then a backup code) -> $out"
if ssh_2fa "$ALICE_PASSWORD" "$backup" alice id >/dev/null 2>&1; then fail "a used backup code logged in"; fi
echo "ok: a used backup code is refused"
"$AUTHBRIDGE" twofactorauth disable alice totp >/dev/null
"$AUTHBRIDGE" twofactorauth cleanup backup_codes >/dev/null
out=$(ssh_as "$ALICE_PASSWORD" alice id) || fail "ssh after the second factor was disabled"
echo "ok: without a second factor the password alone logs in again -> $out"

"$AUTHBRIDGE" user disable alice >/dev/null
if ssh_as "$ALICE_PASSWORD" alice id >/dev/null 2>&1; then fail "a disabled user logged in"; fi
if ssh_as "$app" alice id >/dev/null 2>&1; then fail "a disabled user's app password logged in"; fi
echo "ok: after user disable alice, ssh is refused"
