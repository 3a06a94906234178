#!/usr/bin/env bash
# Runs ocs-conformance against an OCS server, for a CI pipeline
# (ci/github/ocs-conformance.yml is a sample that calls it).
#
# Environment:
#   OCS_BASE_URL         the server's root URL (required), e.g. https://staging.example.com
#   OCS_ADMIN_USER       an admin account on it (required)
#   OCS_ADMIN_PASSWORD   its password or app password (required; a CI secret)
#   OCS_EXPECT           whose answers to expect: documented (the default) or nextcloud
#                        (today's Nextcloud's, where a fixture says it differs)
#   OCS_TARGET           snapshot folder name (default: staging, or staging-nextcloud with
#                        OCS_EXPECT=nextcloud); a run compares its answers with the snapshots
#                        in $OCS_SNAPSHOT_DIR/$OCS_TARGET and records the missing ones (commit
#                        them, so the next run shows what changed)
#   OCS_SNAPSHOT_DIR     default: ci/conformance-snapshots
#   OCS_EXPECTED_FAILURES  a file of known deviations (default: ci/expected-failures/$OCS_TARGET.txt if present)
#   OCS_REPORT_DIR       where report.xml (JUnit) and report.json go (default: conformance-report);
#                        written also when the pre-flight refuses the server (one error case)
#   OCS_EXTRA_ARGS       more arguments, e.g. "--allow-global-changes --toggle-app files_texteditor --mail fails"
#   OCS_CONFORMANCE_BIN  a built ocs-conformance (default: built here with cargo --release)
#
# Exit status: ocs-conformance's own (0 passed, 1 a fixture failed, 2 could not run).
set -euo pipefail
cd "$(dirname "$0")/.."

: "${OCS_BASE_URL:?set OCS_BASE_URL to the server under test}"
: "${OCS_ADMIN_USER:?set OCS_ADMIN_USER}"
: "${OCS_ADMIN_PASSWORD:?set OCS_ADMIN_PASSWORD (from the CI secret store)}"
expect=${OCS_EXPECT:-documented}
case $expect in
    documented) target=${OCS_TARGET:-staging} ;;
    nextcloud) target=${OCS_TARGET:-staging-nextcloud} ;;
    *) echo "OCS_EXPECT=$expect: give documented or nextcloud" >&2; exit 2 ;;
esac
reports=${OCS_REPORT_DIR:-conformance-report}
expected=${OCS_EXPECTED_FAILURES:-ci/expected-failures/$target.txt}

bin=${OCS_CONFORMANCE_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release --locked -p ocs-conformance
    bin=target/release/ocs-conformance
fi

mkdir -p "$reports"
args=(run --base-url "$OCS_BASE_URL" --admin-user "$OCS_ADMIN_USER"
    --admin-password-env OCS_ADMIN_PASSWORD --expect "$expect"
    --junit "$reports/report.xml" --json "$reports/report.json"
    --target "$target" --snapshot-dir "${OCS_SNAPSHOT_DIR:-ci/conformance-snapshots}")
if [ -f "$expected" ]; then
    args+=(--expected-failures "$expected")
fi
# shellcheck disable=SC2206 # word splitting of the extra arguments is wanted
args+=(${OCS_EXTRA_ARGS:-})
exec "$bin" "${args[@]}"
