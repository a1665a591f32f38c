#!/usr/bin/env bash
# relto's scale curve: relto-bench at 10,000, 100,000 and 1,000,000 objects, each with its
# floors (raw SQLite insert of the same rows, the same bytes read without HTTP) in the same run.
#
#   bench/scale.sh                    # SQLite (the default store)
#   SIZES="10000 100000" bench/scale.sh
#   DATABASE=postgres://postgres@127.0.0.1/relto_scale bench/scale.sh   # an empty PostgreSQL db
#
# Prints each run's Markdown row; the JSON of each run goes to target/bench/scale-N.json.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"
cargo build --release --quiet --bin relto --bin relto-bench
mkdir -p target/bench
header=1
for n in ${SIZES:-10000 100000 1000000}; do
  extra=()
  if [ -n "${DATABASE:-}" ]; then
    admin="${DATABASE%/*}/postgres"; db="${DATABASE##*/}"
    psql -q -X "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
    extra=(--database "$DATABASE")
  fi
  target/release/relto-bench --n "$n" --json "target/bench/scale-$n.json" "${extra[@]}" >"target/bench/scale-$n.out"
  if [ $header = 1 ]; then
    grep '^|' "target/bench/scale-$n.out" | head -2
    header=0
  fi
  grep '^|' "target/bench/scale-$n.out" | tail -1
done
