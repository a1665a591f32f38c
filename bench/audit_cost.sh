#!/usr/bin/env bash
# What auditing costs: the shared peer workload (bench/peers.sh) with the audit chain on,
# then off (RELTO_AUDIT=off, for this measurement only), and the ratios on/off.
set -euo pipefail
N=${1:-10000}
HERE=$(cd "$(dirname "$0")/.." && pwd)
OUT=$HERE/target/bench
mkdir -p "$OUT"
R=$HERE/target/peers/results
for mode in on off; do
  RELTO_AUDIT=$mode bash "$HERE/bench/peers.sh" "$N" >/dev/null
  cp "$R/relto-$N.json" "$OUT/audit-$mode-basic-$N.json"
  cp "$R/relto-token-$N.json" "$OUT/audit-$mode-token-$N.json"
done
python3 - "$OUT" "$N" <<'PY'
import json, sys
out, n = sys.argv[1], sys.argv[2]
def fig(mode, auth):
    p = json.load(open(f"{out}/audit-{mode}-{auth}-{n}.json"))["phases"]
    return {"ingest obj/s": p["ingest"]["objects_per_s"], "read-back obj/s": p["readback"]["objects_per_s"],
            "4 readers req/s": p["concurrent"]["requests_per_s"]}
print(f"| N={n} | auth | audit on | audit off | on / off |")
print("|---|---|---|---|---|")
for auth in ("basic", "token"):
    on, off = fig("on", auth), fig("off", auth)
    for k in on:
        print(f"| {k} | {auth} | {on[k]} | {off[k]} | {on[k] / off[k]:.2f} |")
PY
