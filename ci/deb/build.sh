#!/usr/bin/env bash
# Builds the Debian package into target/debian/authbridge_VERSION-1_amd64.deb:
# the binaries and modules, then the man pages and completions they generate,
# then cargo-deb (installed first when missing) with the metadata in
# bridge/cli/Cargo.toml.
#
#   ci/deb/build.sh [PROFILE]   # release (default); the tests use dev
set -euo pipefail
cd "$(dirname "$0")/../.."

profile=${1:-release}
case "$profile" in
dev) dir=target/debug ;;
*) dir=target/$profile ;;
esac

command -v cargo-deb >/dev/null || cargo install --locked cargo-deb@3.8.0
cargo build --locked --profile "$profile" \
    -p authbridge -p ocs-conformance -p pam-authbridge -p nss-authbridge

extra=target/deb-extra
rm -rf "$extra"
mkdir -p "$extra"/man1 "$extra"/man5 "$extra"/man8 "$extra"/completions "$extra"/lib
# The modules under their installed names, stripped (cargo-deb strips only
# the programs it builds).
strip --strip-unneeded -o "$extra"/lib/pam_authbridge.so "$dir"/libpam_authbridge.so
strip --strip-unneeded -o "$extra"/lib/libnss_authbridge.so.2 "$dir"/libnss_authbridge.so
"$dir"/authbridge generate man "$extra"/man8
"$dir"/ocs-conformance generate man "$extra"/man1
cp bridge/pam/pam_authbridge.8 "$extra"/man8/
cp bridge/nss/nss_authbridge.5 "$extra"/man5/
gzip -9n "$extra"/man*/*
"$dir"/authbridge generate completion bash >"$extra"/completions/authbridge
"$dir"/ocs-conformance generate completion bash >"$extra"/completions/ocs-conformance
"$dir"/authbridge generate completion zsh >"$extra"/completions/_authbridge
"$dir"/authbridge generate completion fish >"$extra"/completions/authbridge.fish

# Stripped whatever the profile keeps for debugging (release keeps line tables).
cargo deb --locked -p authbridge --no-build --strip --profile "$profile"
