#!/usr/bin/env bash
# Runs every test of relto: formatting, lints, the Rust suites (unit, property, storage
# conformance, server integration, the leak test, audit tampering), a short run of every
# fuzz target, then the Python end-to-end suites that drive the built binary with the OASIS
# reference tools (taxii2-client, stix2-validator) and the SIGKILL crash test, and the
# console's browser tests (Debian's Chromium, playwright-core). The storage
# conformance suite, the server suites and the end-to-end suites run twice: on SQLite and on
# PostgreSQL (fresh databases on the server at $RELTO_TEST_POSTGRES_URL, started if down).
# Installs what it needs itself (a virtualenv in .venv, cargo-fuzz, chromium, playwright-core).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -r tests/requirements.txt

export RELTO_TEST_POSTGRES_URL="${RELTO_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
bash scripts/postgres-up.sh "$RELTO_TEST_POSTGRES_URL"
# The suites' databases are named relto_test_*: drop those of earlier runs (a killed run
# leaves some behind) and, at the end, this run's.
drop_test_databases() {
  psql -q -X -At "$RELTO_TEST_POSTGRES_URL" \
    -c "SELECT datname FROM pg_database WHERE datname LIKE 'relto\_test\_%'" |
    while read -r db; do
      psql -q -X "$RELTO_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
    done
}
drop_test_databases
trap drop_test_databases EXIT

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo build --workspace --bins --quiet
cargo test --workspace --quiet
RELTO_TEST_BACKEND=postgres cargo test --quiet -p relto-server -p relto
bash fuzz/run.sh "${RELTO_FUZZ_SECONDS:-5}"
export RELTO_BIN="$PWD/target/debug/relto"
.venv/bin/python -m pytest -q -p no:cacheprovider tests/python
RELTO_TEST_BACKEND=postgres .venv/bin/python -m pytest -q -p no:cacheprovider tests/python \
  --ignore=tests/python/test_stix_agreement.py
# The console in Debian's Chromium, driven by playwright-core (never a browser download).
bash scripts/browser-test.sh
