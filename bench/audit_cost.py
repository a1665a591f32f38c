#!/usr/bin/env python3
"""What the audit chain costs: ingest and full read-back of the shared peer workload with
auditing on and off (RELTO_AUDIT=off, for this measurement only), alternating modes over
several rounds and reporting medians, since one short run on a 2-core machine is noisy.

    python bench/audit_cost.py -n 20000 --rounds 3        # needs: cargo build --release
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "..", "shared", "peers"))
import workload  # noqa: E402

TAXII = "application/taxii+json;version=2.1"
COLL = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"  # the collection of bench/realm.toml
TOKEN = "audit-cost-token-0123456789abcdefghijklmnop"


def run(binary, objs, audit, page):
    work = tempfile.mkdtemp(prefix="relto-audit-cost-")
    env = dict(os.environ, RELTO_DATA_DIR=work, BENCH_TOKEN=TOKEN, RELTO_ADMIN_PASSWORD="x",
               RELTO_AUDIT="on" if audit else "off")
    try:
        subprocess.run([binary, "apply", os.path.join(HERE, "realm.toml")], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        srv = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--log", "warn"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            base = next(l.split()[-1] for l in srv.stdout if l.startswith("relto listening on "))
            s = requests.Session()
            s.headers.update({"Authorization": "Bearer " + TOKEN, "Accept": TAXII, "Content-Type": TAXII})
            url = f"{base}/api1/collections/{COLL}/objects/"
            bodies = [json.dumps({"objects": objs[i:i + 100]}, separators=(",", ":"))
                      for i in range(0, len(objs), 100)]
            t = time.monotonic()
            for b in bodies:
                r = s.post(url, data=b, timeout=60)
                assert r.status_code == 202 and r.json()["failure_count"] == 0, r.text[:300]
            ingest = len(objs) / (time.monotonic() - t)
            reads = []
            for _ in range(3):
                t, n, nxt = time.monotonic(), 0, None
                while True:
                    p = {"limit": page}
                    if nxt:
                        p["next"] = nxt
                    env_ = s.get(url, params=p, timeout=60).json()
                    n += len(env_.get("objects", []))
                    if not env_.get("more"):
                        break
                    nxt = env_["next"]
                assert n == len(objs), n
                reads.append(n / (time.monotonic() - t))
            return ingest, statistics.median(reads)
        finally:
            srv.terminate()
            srv.wait(10)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--page", type=int, default=100)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "relto"))
    args = ap.parse_args()
    objs = workload.generate(args.n, 42)
    res = {True: [], False: []}
    for r in range(args.rounds):
        for audit in ((True, False) if r % 2 == 0 else (False, True)):
            res[audit].append(run(args.bin, objs, audit, args.page))
    med = {a: (statistics.median(x[0] for x in res[a]), statistics.median(x[1] for x in res[a])) for a in res}
    print(json.dumps({"n": args.n, "rounds": args.rounds, "on": res[True], "off": res[False]}))
    print()
    print(f"| N={args.n}, median of {args.rounds} rounds | audit on | audit off | on / off |")
    print("|---|---|---|---|")
    print(f"| ingest obj/s | {med[True][0]:.0f} | {med[False][0]:.0f} | {med[True][0] / med[False][0]:.2f} |")
    print(f"| full read-back obj/s (pages of {args.page}) | {med[True][1]:.0f} | {med[False][1]:.0f} | {med[True][1] / med[False][1]:.2f} |")


if __name__ == "__main__":
    main()
