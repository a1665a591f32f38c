#!/usr/bin/env bash
# Read throughput of one relto node against two nodes over the same PostgreSQL database.
#
#   bench/nodes.sh 100000        # needs: PostgreSQL (RELTO_BENCH_POSTGRES_URL), wrk (Debian)
#
# N objects of the shared peer workload are imported into a fresh database relto_nodes; then
# wrk sends GETs of random objects by id (and first pages of match[type]) for DURATION seconds,
# first with all connections to node A, then with half to A and half to B at once. Prints the
# requests/s of each and the ratio. Not a test: it prints figures.
set -euo pipefail
N=${1:-100000}
DURATION=${DURATION:-10}
CONNS=${CONNS:-8}
HERE=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED_PEERS:-$HERE/../shared/peers}
WORK=${PEERS_WORK:-$HERE/target/peers}/nodes
PG_ADMIN=${RELTO_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB="${PG_ADMIN%/*}/relto_nodes"
mkdir -p "$WORK"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
cd "$HERE"
cargo build --release --bin relto --quiet
RELTO=$HERE/target/release/relto
COLL=91a7b528-80eb-42ed-a74d-c6fbd5a26116  # the collection of bench/realm.toml
TOKEN=bench-nodes-token-0123456789abcdefghijklmnop
psql -q -X "$PG_ADMIN" -c "DROP DATABASE IF EXISTS relto_nodes WITH (FORCE)" -c "CREATE DATABASE relto_nodes"
export BENCH_TOKEN=$TOKEN RELTO_ADMIN_PASSWORD=admin-pass
"$RELTO" apply --database "$DB" "$HERE/bench/realm.toml" >/dev/null
python3 "$SHARED/workload.py" -n "$N" --seed 42 -o "$WORK/w.json"
"$RELTO" import --quiet --database "$DB" --collection "$COLL" --as bench "$WORK/w.json" >/dev/null
python3 - "$WORK/w.json" "$WORK/ids.lua" <<'PY'
import json, sys
ids = [o["id"] for o in json.load(open(sys.argv[1]))["objects"]][::7][:5000]
with open(sys.argv[2], "w") as f:
    f.write("ids = {" + ",".join('"%s"' % i for i in ids) + "}\n")
PY
cat >"$WORK/reads.lua" <<LUA
dofile("$WORK/ids.lua")
math.randomseed(os.time())
local n = 0
request = function()
  n = n + 1
  local path
  if n % 10 == 0 then
    path = "/api1/collections/$COLL/objects/?match[type]=indicator&limit=10"
  else
    path = "/api1/collections/$COLL/objects/" .. ids[math.random(#ids)] .. "/"
  end
  return wrk.format("GET", path, {["Authorization"] = "Bearer $TOKEN",
                                   ["Accept"] = "application/taxii+json;version=2.1"})
end
LUA
start_node() {  # name
  "$RELTO" serve --database "$DB" --listen 127.0.0.1:0 --log warn >"$WORK/$1.out" 2>"$WORK/$1.log" &
  echo $! >"$WORK/$1.pid"
  for _ in $(seq 1 100); do
    grep -q 'http://127.0.0.1:[0-9]*' "$WORK/$1.out" && break
    sleep 0.1
  done
  grep -o 'http://127.0.0.1:[0-9]*' "$WORK/$1.out"
}
A=$(start_node a); B=$(start_node b)
trap 'kill $(cat "$WORK/a.pid") $(cat "$WORK/b.pid") 2>/dev/null || true' EXIT
rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
wrk -t1 -c"$CONNS" -d3s -s "$WORK/reads.lua" "$A" >/dev/null   # warm both nodes' pools
wrk -t1 -c"$CONNS" -d3s -s "$WORK/reads.lua" "$B" >/dev/null
wrk -t2 -c"$CONNS" -d"${DURATION}s" -s "$WORK/reads.lua" "$A" >"$WORK/one.txt"
wrk -t1 -c$((CONNS / 2)) -d"${DURATION}s" -s "$WORK/reads.lua" "$A" >"$WORK/two-a.txt" &
first=$!
wrk -t1 -c$((CONNS / 2)) -d"${DURATION}s" -s "$WORK/reads.lua" "$B" >"$WORK/two-b.txt"
wait "$first"
one=$(rps "$WORK/one.txt"); ta=$(rps "$WORK/two-a.txt"); tb=$(rps "$WORK/two-b.txt")
python3 - "$N" "$CONNS" "$one" "$ta" "$tb" <<'PY'
import sys
n, conns, one, a, b = int(sys.argv[1]), int(sys.argv[2]), *map(float, sys.argv[3:])
print(f"| N = {n:,}, {conns} connections, GET by id (and every 10th a page) | requests/s |")
print("|---|---|")
print(f"| one node | {one:,.0f} |")
print(f"| two nodes (A {a:,.0f} + B {b:,.0f}) | {a + b:,.0f} |")
print(f"| two nodes / one node | {(a + b) / one:.2f} |")
PY
