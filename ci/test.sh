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
