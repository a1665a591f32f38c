#!/usr/bin/env bash
# Runs every fuzz target: `fuzz/run.sh 5` gives each 5 seconds (the CI smoke run);
# `fuzz/run.sh 0 10000000` runs each for 10 million executions (the long runs).
# cargo-fuzz needs -Z flags: RUSTC_BOOTSTRAP=1 lets the stable toolchain take them. The code
# under test is Rust without `unsafe`, so the targets run without a sanitizer (-s none, ~3x
# faster): what they look for is panics, aborts, hangs and out-of-memory. Seeds come from the
# STIX corpus and the examples.
set -euo pipefail
SECONDS_EACH=${1:-5}
RUNS=${2:-0}
cd "$(dirname "$0")/.."
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O -s none >/dev/null 2>&1
mkdir -p target/fuzz-logs
for t in ${TARGETS:-envelope validate pattern taxii_query label realm draft}; do
  seeds=fuzz/seeds/$t
  mkdir -p "$seeds"
  case $t in
    envelope|validate|label) cp tests/stix-corpus/valid/*.json tests/stix-corpus/invalid/*.json "$seeds"/ ;;
    realm) cp examples/*.toml "$seeds"/ ;;
    draft) cp tests/fixtures/drafts/*.txt "$seeds"/ ;;
    pattern) grep -ho '"pattern": *"[^"]*"' tests/stix-corpus/valid/*.json | sed 's/"pattern": *"//; s/"$//' \
               | split -l 1 - "$seeds"/p- ;;
    taxii_query) printf 'match[type]=indicator&limit=10&added_after=2024-01-01T00:00:00Z' > "$seeds"/q1 ;;
  esac
  args=(-print_final_stats=1 -timeout=10 -rss_limit_mb=1024)
  [ "$t" = realm ] && args+=(-max_len=1024)
  if [ "$RUNS" != 0 ]; then args+=(-runs="$RUNS"); else args+=(-max_total_time="$SECONDS_EACH"); fi
  log=target/fuzz-logs/$t.log
  if ! cargo fuzz run -O -s none "$t" "$seeds" -- "${args[@]}" >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz target $t FAILED (artifact under fuzz/artifacts/$t)" >&2
    exit 1
  fi
  echo "$t: $(grep -E 'stat::number_of_executed_units' "$log" | awk '{print $2}') executions," \
       "$(grep -E 'stat::average_exec_per_sec' "$log" | awk '{print $2}')/s, no crash"
done
