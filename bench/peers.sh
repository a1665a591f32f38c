#!/usr/bin/env bash
# The shared peer benchmark (../shared/peers) against relto, and optionally its peers, in one run.
#
#   bench/peers.sh 10000                      # relto (Basic and bearer token)
#   PEERS="medallion opentaxii" bench/peers.sh 10000   # and the peers, same workload, same run
#   BACKENDS="sqlite postgres" bench/peers.sh 100000     # relto on SQLite and on PostgreSQL
#     (PostgreSQL: a fresh database relto_bench on $RELTO_BENCH_POSTGRES_URL, default the local server)
#
# Results: target/peers/results/*.json and a Markdown table on standard output.
# Not a test: it prints figures. Needs ../shared/peers (read-only) beside the project.
set -euo pipefail
N=${1:-10000}
HERE=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED_PEERS:-$HERE/../shared/peers}
export PEERS_WORK=${PEERS_WORK:-$HERE/target/peers}
mkdir -p "$PEERS_WORK/results" "$PEERS_WORK/logs"
[ -x "$PEERS_WORK/.venv/bin/python" ] || bash "$SHARED/setup.sh"
PY=$PEERS_WORK/.venv/bin/python

cd "$HERE"
cargo build --release --bin relto --quiet
RELTO=$HERE/target/release/relto
DATA=$PEERS_WORK/data/relto
rm -rf "$DATA"; mkdir -p "$DATA"
COLL=91a7b528-80eb-42ed-a74d-c6fbd5a26116  # the collection of bench/realm.toml
TOKEN=$(head -c 32 /dev/urandom | base64 | tr -d '/+=' | head -c 43)
# bench/realm.toml, and a password for the runs with HTTP Basic.
sed 's/^token_env = "BENCH_TOKEN"$/&\npassword_env = "BENCH_PW"/' "$HERE/bench/realm.toml" >"$DATA/realm.toml"

PG_ADMIN=${RELTO_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
run_relto() {  # label, auth, backend
  local label=$1 auth=$2 backend=${3:-sqlite}
  rm -f "$DATA/relto.db"* "$DATA/relto.audit.db"*
  local store=(--data-dir "$DATA")
  if [ "$backend" = postgres ]; then
    psql -q -X "$PG_ADMIN" -c "DROP DATABASE IF EXISTS relto_bench WITH (FORCE)" -c "CREATE DATABASE relto_bench"
    store=(--database "${PG_ADMIN%/*}/relto_bench")
  fi
  BENCH_PW=bench-pass BENCH_TOKEN=$TOKEN "$RELTO" apply "${store[@]}" "$DATA/realm.toml" >/dev/null
  RELTO_ADMIN_PASSWORD=admin-pass "$RELTO" serve "${store[@]}" --listen 127.0.0.1:0 --log warn \
    >"$PEERS_WORK/logs/$label.out" 2>"$PEERS_WORK/logs/$label.log" &
  local pid=$!
  local base=""
  for _ in $(seq 1 100); do
    base=$(grep -o 'http://127.0.0.1:[0-9]*' "$PEERS_WORK/logs/$label.out" || true)
    [ -n "$base" ] && break
    sleep 0.1
  done
  [ -n "$base" ] || { echo "relto did not start" >&2; kill $pid; return 1; }
  local authargs=(--auth basic)
  [ "$auth" = token ] && authargs=(--auth opentaxii-token)
  "$PY" "$SHARED/bench.py" --label "$label" "${authargs[@]}" --base "$base" --api-root /api1/ \
    --collection "$COLL" --user bench --password bench-pass -n "$N" --server-pid "$pid" \
    --filtered-timeout 300 --out "$PEERS_WORK/results/$label-$N.json" 2>"$PEERS_WORK/logs/bench-$label-$N.log"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

"$PY" "$SHARED/workload.py" -n "$N" --seed 42 -o "$PEERS_WORK/w-$N.json" >/dev/null 2>&1 || true
results=()
for backend in ${BACKENDS:-sqlite}; do
  suffix=""
  [ "$backend" = postgres ] && suffix="-pg"
  run_relto "relto$suffix" basic "$backend"
  run_relto "relto$suffix-token" token "$backend"
  results+=("$PEERS_WORK/results/relto$suffix-$N.json" "$PEERS_WORK/results/relto$suffix-token-$N.json")
done
for peer in ${PEERS:-}; do
  RUNS="$peer:$N" bash "$SHARED/run_all.sh" >/dev/null
  results+=("$PEERS_WORK/results/$peer-$N.json")
done
"$PY" "$SHARED/summarize.py" "${results[@]}"
