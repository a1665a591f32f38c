#!/usr/bin/env bash
# Runs every test of relto: formatting, lints, the Rust suites (unit, property, storage
# conformance, server integration, the leak test, audit tampering), the Python end-to-end
# suites that drive the built binary with the OASIS reference tools (taxii2-client,
# stix2-validator) and the SIGKILL crash test, then a short run of every fuzz target.
# Installs what it needs itself (a virtualenv in .venv, cargo-fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -r tests/requirements.txt

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo build --workspace --bins --quiet
cargo test --workspace --quiet
bash fuzz/run.sh "${RELTO_FUZZ_SECONDS:-5}"
RELTO_BIN="$PWD/target/debug/relto" .venv/bin/python -m pytest -q -p no:cacheprovider tests/python
