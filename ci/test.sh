#!/usr/bin/env bash
# The project's whole test suite, from a fresh clone: installs what it needs, then
# builds and runs every test (unit tests and the tests against real Dovecot, Samba
# and FTP servers, which they start on 127.0.0.1 and stop themselves).
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/install-deps.sh
cargo fetch --locked
cargo build --workspace --all-targets --locked
cargo test --workspace --locked

# The Debian package, built from the test build's binaries (the layout, the
# scripts and the wiring are what is tested; `ci/deb/build.sh` alone builds the
# release package), installed into a fresh Debian root and purged again.
bash ci/deb/build.sh dev
bash ci/deb/install-test.sh target/debian/authbridge_*_amd64.deb
