#!/usr/bin/env bash
# The part of install-test.sh that runs in its private mount namespace.
set -euo pipefail
root=${1:?}
deb=${2:?}

mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --make-rslave "$root/dev"
mount -t tmpfs tmpfs "$root/run"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/tmp/authbridge.deb"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 "$@"; }
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# What the system looks like before the package: everything but apt's and
# dpkg's own books, logs and scratch space.
snapshot() {
    (cd "$root" && find . -xdev \
        \( -path ./proc -o -path ./dev -o -path ./run -o -path ./tmp \
        -o -path ./var/cache -o -path ./var/lib/apt -o -path ./var/lib/dpkg -o -path ./var/log \) -prune \
        -o -printf '%p %m %u %g %s\n' | sort)
    (cd "$root/etc" && find . -type f -exec md5sum {} + | sort)
}

echo "== dependencies first, so that the snapshot holds them"
in_root apt-get update -q >/dev/null
deps=$(dpkg-deb -f "$deb" Depends | sed 's/([^)]*)//g; s/,/ /g')
in_root apt-get install -y -q --no-install-recommends $deps >/dev/null
snapshot >"$root/../before"

echo "== install"
DEBIAN_FRONTEND=noninteractive in_root apt-get install -y -q --no-install-recommends /tmp/authbridge.deb >/dev/null
in_root dpkg -L authbridge | while read -r path; do
    [ -e "$root$path" ] || fail "dpkg -L names $path, which is missing"
done
[ "$(stat -c %a "$root/etc/authbridge/config.toml")" = 600 ] || fail "config.toml is not 0600"
[ "$(stat -c %a "$root/var/lib/authbridge")" = 700 ] || fail "/var/lib/authbridge is not 0700"
grep -q pam_authbridge "$root"/etc/pam.d/common-* && fail "installing enabled the PAM module"
grep -q authbridge "$root/etc/nsswitch.conf" && fail "installing touched nsswitch.conf"
in_root authbridge --version | grep -q '^authbridge ' || fail "authbridge --version"
in_root man -w authbridge >/dev/null 2>&1 || [ -f "$root/usr/share/man/man8/authbridge.8.gz" ] || fail "no authbridge(8)"

echo "== the daemon, as the unit would start it (OCS API off)"
printf '\n[http]\nenabled = false\n' >>"$root/etc/authbridge/config.toml"
in_root sh -c 'printf "%s" Alice-pass-123 | OC_PASS=$(cat) authbridge user add --password-from-env alice' >/dev/null
mkdir -p "$root/run/authbridge"
# chroot and env exec into the daemon: $! is the daemon itself.
chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
    authbridge serve >"$root/../daemon.log" 2>&1 &
daemon=$!
stop_daemon() { kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true; }
trap stop_daemon EXIT
# No process of the root may outlive the test (its /dev and /proc stay busy).
left_in_root() {
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && echo "${p#/proc/}"
    done
    true
}
for _ in $(seq 1 100); do
    [ -S "$root/run/authbridge/authbridge.sock" ] && break
    sleep 0.1
done
[ -S "$root/run/authbridge/authbridge.sock" ] || { cat "$root/../daemon.log"; fail "no socket"; }

echo "== PAM: pam-auth-update --enable authbridge, then pamtester"
in_root pam-auth-update --enable authbridge
grep -q pam_authbridge "$root/etc/pam.d/common-auth" || fail "common-auth has no pam_authbridge"
printf '@include common-auth\n' >"$root/etc/pam.d/abtest"
printf 'Alice-pass-123\n' | in_root pamtester abtest alice authenticate || fail "alice's password refused"
if printf 'Wrong-pass-123\n' | in_root pamtester abtest alice authenticate 2>/dev/null; then
    fail "a wrong password accepted"
fi
rm "$root/etc/pam.d/abtest"

echo "== NSS: authbridge nss enable, then getent"
in_root getent passwd alice >/dev/null && fail "alice known before nss enable"
in_root authbridge nss enable >/dev/null
in_root getent passwd alice | grep -q '^alice:\*:' || fail "getent passwd alice"
in_root getent passwd root | grep -q '^root:x:0:0:' || fail "root no longer from files"

echo "== authbridge doctor: every check passes on a wired installation"
in_root authbridge doctor || fail "authbridge doctor found a problem"

echo "== systemd-analyze verify"
in_root systemd-analyze verify /usr/lib/systemd/system/authbridge.service \
    || fail "systemd-analyze verify"

echo "== purge"
stop_daemon
[ -z "$(left_in_root)" ] || fail "processes left in the root: $(left_in_root)"
DEBIAN_FRONTEND=noninteractive in_root apt-get purge -y -q authbridge >/dev/null
grep -q pam_authbridge "$root"/etc/pam.d/common-* && fail "purge left pam_authbridge in the stack"
snapshot >"$root/../after"
if ! diff -u "$root/../before" "$root/../after"; then
    fail "the purge left the differences above"
fi
