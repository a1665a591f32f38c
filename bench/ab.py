#!/usr/bin/env python3
"""Two relto builds side by side, request by request: is B slower or faster than A?

On a shared 2-core machine the speed drifts by tens of percent between runs, so comparing a
run of build A with a later run of build B says little. Here both builds serve copies of one
hub at the same time and every read goes to A and to B in turn (the order swapped each time);
imports alternate the same way, each into a fresh data directory. Prints medians and B/A.

    python bench/ab.py --a OLD/relto --b target/release/relto -n 100000

The hub is made by build A (B migrates its copy when it starts): the shared peer workload
(../shared/peers), every object posted by the one account of bench/realm.toml.
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
import uuid

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "shared", "peers"))
import workload  # noqa: E402  (the shared peer workload generator)

TAXII = "application/taxii+json;version=2.1"
COLL = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
TOKEN = "relto-bench-token-0123456789abcdefghijklmnopq"
REALM = os.path.join(HERE, "realm.toml")


def env_for(data_dir):
    return dict(os.environ, BENCH_TOKEN=TOKEN, RELTO_ADMIN_PASSWORD="ab-admin", RELTO_DATA_DIR=data_dir)


def run(binary, data_dir, *args):
    subprocess.run([binary, *args], env=env_for(data_dir), check=True, stdout=subprocess.DEVNULL)


def import_seconds(binary, bundle, work):
    d = tempfile.mkdtemp(dir=work)
    run(binary, d, "apply", REALM)
    t = time.monotonic()
    run(binary, d, "import", "--quiet", "--collection", COLL, "--as", "bench", bundle)
    took = time.monotonic() - t
    shutil.rmtree(d, ignore_errors=True)
    return took


def serve(binary, data_dir):
    srv = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--log", "warn"],
                           env=env_for(data_dir), stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    for line in srv.stdout:
        if line.startswith("relto listening on "):
            return srv, line.split()[-1]
    raise SystemExit(f"{binary} serve did not start")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, help="build A's relto binary (the baseline)")
    ap.add_argument("--b", required=True, help="build B's relto binary")
    ap.add_argument("-n", type=int, default=100000, help="objects in the hub")
    ap.add_argument("--requests", type=int, default=400, help="requests per read, per build")
    ap.add_argument("--imports", type=int, default=3, help="imports per build")
    ap.add_argument("--import-n", type=int, default=30000, help="objects per import")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="relto-ab-")
    servers = []
    try:
        bundle = os.path.join(work, "bundle.json")
        with open(bundle, "w") as f:
            json.dump({"type": "bundle", "id": "bundle--" + str(uuid.uuid4()),
                       "objects": workload.generate(args.n, 42)}, f)
        hub_a = os.path.join(work, "a")
        os.makedirs(hub_a)
        run(args.a, hub_a, "apply", REALM)
        run(args.a, hub_a, "import", "--quiet", "--collection", COLL, "--as", "bench", bundle)
        hub_b = os.path.join(work, "b")
        shutil.copytree(hub_a, hub_b)
        bases = {}
        for name, binary, hub in (("A", args.a, hub_a), ("B", args.b, hub_b)):
            srv, base = serve(binary, hub)
            servers.append(srv)
            bases[name] = base
        sessions = {}
        for name in bases:
            s = requests.Session()
            s.headers.update({"Authorization": "Bearer " + TOKEN, "Accept": TAXII})
            sessions[name] = s
        url = {n: f"{b}/api1/collections/{COLL}/objects/" for n, b in bases.items()}
        first = sessions["A"].get(url["A"], params={"limit": 1}).json()["objects"][0]["id"]
        # added_after: after the first page's last object.
        after = sessions["A"].get(url["A"], params={"limit": 100}).headers["X-TAXII-Date-Added-Last"]
        reads = {
            "first page (100)": ("", {"limit": 100}),
            "match[type]=indicator (100)": ("", {"limit": 100, "match[type]": "indicator"}),
            "added_after (100)": ("", {"limit": 100, "added_after": after}),
            "one object": (f"{first}/", None),
        }
        rows = []
        for label, (suffix, params) in reads.items():
            lat = {"A": [], "B": []}
            for i in range(args.requests):
                for name in (("A", "B") if i % 2 == 0 else ("B", "A")):
                    t = time.perf_counter()
                    r = sessions[name].get(url[name] + suffix, params=params, timeout=60)
                    r.content  # noqa: B018  (the whole body has arrived)
                    lat[name].append(time.perf_counter() - t)
                    if r.status_code != 200:
                        raise SystemExit(f"{label}: build {name} answered {r.status_code}")
            a, b = (statistics.median(lat[n]) * 1000 for n in ("A", "B"))
            rows.append((label + ", p50 ms", a, b))
        for srv in servers:
            srv.terminate()
            srv.wait(10)
        servers.clear()
        small = os.path.join(work, "small.json")
        with open(small, "w") as f:
            json.dump({"type": "bundle", "id": "bundle--" + str(uuid.uuid4()),
                       "objects": workload.generate(args.import_n, 7)}, f)
        took = {"A": [], "B": []}
        for i in range(args.imports):
            for name, binary in ((("A", args.a), ("B", args.b)) if i % 2 == 0 else (("B", args.b), ("A", args.a))):
                took[name].append(import_seconds(binary, small, work))
        rows.append((f"import of {args.import_n} objects, s", statistics.median(took["A"]), statistics.median(took["B"])))
        print(f"| N={args.n} | A | B | B / A |")
        print("|---|---|---|---|")
        for label, a, b in rows:
            print(f"| {label} | {a:.3f} | {b:.3f} | {b / a:.2f} |")
    finally:
        for srv in servers:
            srv.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
