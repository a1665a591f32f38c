#!/usr/bin/env bash
# Runs every test of relto: formatting, lints, the Rust suites (unit, storage conformance,
# server integration), then the Python end-to-end suites that drive the built binary with the
# OASIS reference tools (taxii2-client, stix2-validator). Installs what it needs itself.
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
RELTO_BIN="$PWD/target/debug/relto" .venv/bin/python -m pytest -q tests/python
