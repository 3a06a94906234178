#!/usr/bin/env bash
# Installs the package into a fresh Debian root and checks it as an
# administrator would use it, then purges it and checks nothing of it is left.
#
#   ci/deb/install-test.sh target/debian/authbridge_*.deb
#
# The root is made by mmdebstrap (minbase, from this machine's apt sources) and
# used through chroot inside a private mount namespace: /proc, /dev and /run
# mounted there never show outside. Its daemon speaks only on its unix socket
# (the OCS API off). lintian checks the package from outside, systemd-analyze
# the unit inside.
set -euo pipefail

deb=$(realpath "${1:?usage: install-test.sh DEB}")
here=$(cd "$(dirname "$0")" && pwd)

echo "== lintian"
# Errors fail; the warnings kept are listed in bridge/cli/debian/lintian-overrides
# or explained in the README.
lintian --fail-on error --suppress-tags initial-upload-closes-no-bugs "$deb"

work=$(mktemp -d /tmp/abdeb.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root

echo "== mmdebstrap"
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -s "$f" ] && sources+=("$f")
done
# systemd and procps as on any standard system: the unit is verified in there.
mmdebstrap --quiet --variant=minbase \
    --include=pamtester,libpam-runtime,ca-certificates,systemd,procps \
    bookworm "$root" "${sources[@]}"

unshare --mount --propagation private bash "$here/in-root.sh" "$root" "$deb"

echo "== the package installed, worked and purged without a trace"
