#!/usr/bin/env bash
# Installs everything authbridge's build and tests need on a fresh Debian 12 machine
# (run as root): the real servers the tests start (Dovecot, Samba, pyftpdlib,
# OpenSSH, nginx for auth_request), libsmbclient, libpam and libcurl for linking, pam_wrapper, pamtester and
# nss_wrapper for PAM and NSS tests without touching the machine's own files; DejaVu Sans,
# which the daemon draws generated avatars with; oathtool, an independent TOTP
# implementation the second-factor tests take codes from; man-db and groff, which
# render the man pages under test; prometheus for promtool, which checks /metrics;
# dpkg-dev, mmdebstrap and lintian, which build, install and check the .deb.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
# Packages must not start their services (sshd on port 22, smbd, dovecot): the
# tests start private instances on loopback. policy-rc.d says so to invoke-rc.d.
own_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    own_policy=yes
fi
trap '[ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update
apt-get install -y --no-install-recommends \
    ca-certificates openssl pkg-config gcc util-linux curl \
    dovecot-imapd \
    samba smbclient libsmbclient-dev \
    libnss-wrapper libpam-wrapper pamtester libpam0g-dev \
    openssh-server openssh-client sshpass nginx-light \
    libcurl4-openssl-dev \
    fonts-dejavu-core \
    python3 python3-pip python3-venv python3-aiosmtpd \
    oathtool \
    postgresql \
    man-db groff-base \
    prometheus \
    dpkg-dev mmdebstrap lintian

# pyftpdlib from PyPI, for whichever python3 is first on PATH (the tests run that one).
python3 -m pip install --quiet --disable-pip-version-check 'pyftpdlib==2.2.0' 'pyopenssl>=24'

# The real third-party OCS clients (nc_py_api, pyocclient) and pytest, pinned, in
# their own venv: bridge/cli/tests/real_clients.rs runs ci/clients/test_*.py with
# ci/clients/.venv/bin/python. A venv whose python no longer runs (python3
# replaced) is made anew; otherwise it is kept and brought to the pins.
clients="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/clients"
if ! "$clients/.venv/bin/python" -c 'import sys' 2>/dev/null; then
    rm -rf "$clients/.venv"
    python3 -m venv "$clients/.venv"
fi
"$clients/.venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$clients/requirements.txt"
