#!/usr/bin/env bash
# Installs everything authbridge's build and tests need on a fresh Debian 12 machine
# (run as root): the real servers the tests start (Dovecot, Samba, pyftpdlib),
# libsmbclient and libcurl for linking, nss_wrapper for the private Samba accounts.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
    ca-certificates openssl pkg-config gcc \
    dovecot-imapd \
    samba smbclient libsmbclient-dev \
    libnss-wrapper \
    libcurl4-openssl-dev \
    python3 python3-pip

# pyftpdlib from PyPI, for whichever python3 is first on PATH (the tests run that one).
python3 -m pip install --quiet --disable-pip-version-check 'pyftpdlib==2.2.0' 'pyopenssl>=24'
