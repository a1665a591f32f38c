#!/usr/bin/env python3
"""Releasability benchmark: the same reads by a filtered partner reader and by the originator.

A release build of relto holds N objects of the shared peer workload (../shared/peers), each
relabelled with relto confidentiality labels: most releasable to NATO at NATO SECRET, some
KOR-only, some without a label, some with a field-level marking the partner fails. The
originator (kor-nis, cleared for everything) and a partner (deu-bnd, NATO SECRET, accredited
to NATO) then run the same reads; the figures and their ratio are printed (JSON and a table).

    python bench/release_bench.py -n 100000          # needs: cargo build --release
"""
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "..", "shared", "peers"))
import workload  # noqa: E402  (the shared peer workload generator)

TAXII = "application/taxii+json;version=2.1"
COLL = "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c"
EXT = "extension-definition--e40c05f5-cb0e-4b28-8c2a-db52ed2bc0e2"
TOKENS = {"nis-analyst": "bench-token-originator-0123456789abcdef",
          "bnd-reader": "bench-token-partner-0123456789abcdefghij"}

REALM = f"""
[hub]
nation = "KOR"
[[api_root]]
path = "bench"
title = "Release benchmark"
max_content_length = 104857600
[[organization]]
slug = "kor-nis"
name = "National Intelligence Service"
nation = "KOR"
[[organization]]
slug = "deu-bnd"
name = "Bundesnachrichtendienst"
nation = "DEU"
accredited = ["NATO", "EU"]
[[account]]
name = "nis-analyst"
organization = "kor-nis"
roles = ["analyst"]
token_env = "TOKEN_NIS"
clearances = [{{ policy = "KOR", level = "I" }}, {{ policy = "NATO", level = "CTS", sensitivity = ["ATOMAL"] }}]
[[account]]
name = "bnd-reader"
organization = "deu-bnd"
roles = ["reader"]
token_env = "TOKEN_BND"
clearances = [{{ policy = "NATO", level = "NS" }}]
[[collection]]
id = "{COLL}"
api_root = "bench"
title = "Bench"
readers = ["org:kor-nis", "org:deu-bnd"]
writers = ["org:kor-nis"]
"""


def label(mid, policy, level, rel, sens=()):
    ext = {"extension_type": "property-extension", "policy": policy, "classification": level}
    if rel:
        ext["releasable_to"] = list(rel)
    if sens:
        ext["sensitivity"] = list(sens)
    return {"type": "marking-definition", "spec_version": "2.1", "id": mid,
            "created": "2024-01-01T00:00:00.000Z", "name": f"{policy}:{level}",
            "extensions": {EXT: ext}}


def relabel(objs, seed):
    """70% NATO NS REL TO NATO (the partner passes), 20% KOR II REL TO KOR (denied), 10% as
    generated (TLP only: visible); 10% of all get a KOR-only granular marking on a field."""
    rng = random.Random(seed)
    nato = "marking-definition--" + str(uuid.UUID(int=1, version=4))
    kor = "marking-definition--" + str(uuid.UUID(int=2, version=4))
    out = [label(nato, "NATO", "NS", ["NATO"]), label(kor, "KOR", "II", ["KOR"])]
    for o in objs:
        o = dict(o)
        r = rng.random()
        if r < 0.7:
            o["object_marking_refs"] = [nato]
        elif r < 0.9:
            o["object_marking_refs"] = [kor]
        field = "description" if "description" in o else ("content" if o["type"] == "note" else None)
        if field and field != "content" and rng.random() < 0.1:
            o["granular_markings"] = [{"marking_ref": kor, "selectors": [field]}]
        o.pop("created_by_ref", None)  # all posted as kor-nis
        out.append(o)
    return out


def pct(vals, p):
    s = sorted(vals)
    return s[max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))]


def measure(base, account, ids, args):
    s = requests.Session()
    s.headers.update({"Authorization": "Bearer " + TOKENS[account], "Accept": TAXII})
    url = f"{base}/bench/collections/{COLL}/objects/"
    res = {}
    # Full paginated read.
    t0 = time.monotonic()
    n, pages, nxt, lat = 0, 0, None, []
    while True:
        p = {"limit": args.page}
        if nxt:
            p["next"] = nxt
        t = time.monotonic()
        env = s.get(url, params=p, timeout=120).json()
        lat.append(time.monotonic() - t)
        n += len(env.get("objects", []))
        pages += 1
        if not env.get("more"):
            break
        nxt = env["next"]
    wall = time.monotonic() - t0
    res["readback"] = {"objects": n, "pages": pages, "objects_per_s": round(n / wall, 1),
                       "pages_per_s": round(pages / wall, 1),
                       "page_p50_ms": round(statistics.median(lat) * 1000, 3)}
    # First page of a type filter, and of added_after the middle.
    for name, params in (("match_type_indicator", {"match[type]": "indicator", "limit": args.page}),
                         ("match_type_report", {"match[type]": "report", "limit": args.page})):
        lat = []
        for _ in range(args.repeats):
            t = time.monotonic()
            r = s.get(url, params=params, timeout=60)
            lat.append(time.monotonic() - t)
            assert r.status_code == 200
        res[name] = {"p50_ms": round(pct([x * 1000 for x in lat], 50), 3),
                     "p99_ms": round(pct([x * 1000 for x in lat], 99), 3)}
    # Objects by id (ids the reader may see).
    rng = random.Random(7)
    lat = []
    for _ in range(args.repeats * 5):
        oid = rng.choice(ids)
        t = time.monotonic()
        r = s.get(f"{url}{oid}/", timeout=60)
        lat.append(time.monotonic() - t)
        assert r.status_code == 200, (account, oid, r.status_code)
    res["by_id"] = {"p50_ms": round(pct([x * 1000 for x in lat], 50), 3),
                    "p99_ms": round(pct([x * 1000 for x in lat], 99), 3)}
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=100000)
    ap.add_argument("--page", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=100)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "relto"))
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="relto-release-bench-")
    env = dict(os.environ, TOKEN_NIS=TOKENS["nis-analyst"], TOKEN_BND=TOKENS["bnd-reader"],
               RELTO_ADMIN_PASSWORD="bench-admin", RELTO_DATA_DIR=work)
    try:
        with open(os.path.join(work, "realm.toml"), "w") as f:
            f.write(REALM)
        subprocess.run([args.bin, "apply", os.path.join(work, "realm.toml")], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        objs = relabel(workload.generate(args.n, 42), 42)
        bundle = os.path.join(work, "bundle.json")
        with open(bundle, "w") as f:
            json.dump({"type": "bundle", "id": "bundle--" + str(uuid.uuid4()), "objects": objs}, f)
        t = time.monotonic()
        subprocess.run([args.bin, "import", "--quiet", "--collection", COLL, "--as", "nis-analyst", bundle],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        import_s = time.monotonic() - t
        srv = subprocess.Popen([args.bin, "serve", "--listen", "127.0.0.1:0", "--log", "warn"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            base = None
            for line in srv.stdout:
                if line.startswith("relto listening on "):
                    base = line.split()[-1]
                    break
            visible = [o["id"] for o in objs if o.get("object_marking_refs", [""])[0].endswith("000000000001")
                       and o["type"] not in ("relationship", "report", "note")]
            result = {"n": args.n, "page": args.page, "import_s": round(import_s, 1)}
            result["originator"] = measure(base, "nis-analyst", visible, args)
            result["partner"] = measure(base, "bnd-reader", visible, args)
        finally:
            srv.terminate()
            srv.wait(10)
        o, p = result["originator"], result["partner"]
        result["ratios"] = {
            "readback_pages_per_s": round(p["readback"]["pages_per_s"] / o["readback"]["pages_per_s"], 3),
            "readback_objects_per_s": round(p["readback"]["objects_per_s"] / o["readback"]["objects_per_s"], 3),
            "match_type_indicator_p50": round(o["match_type_indicator"]["p50_ms"] / p["match_type_indicator"]["p50_ms"], 3),
            "match_type_report_p50": round(o["match_type_report"]["p50_ms"] / p["match_type_report"]["p50_ms"], 3),
            "by_id_p50": round(o["by_id"]["p50_ms"] / p["by_id"]["p50_ms"], 3),
        }
        print(json.dumps(result, indent=2))
        print()
        print("| read (N=%d, pages of %d) | originator | partner (filtered) | partner / originator speed |" % (args.n, args.page))
        print("|---|---|---|---|")
        print("| full read-back, pages/s | %s | %s | %.2f |" % (o["readback"]["pages_per_s"], p["readback"]["pages_per_s"], result["ratios"]["readback_pages_per_s"]))
        print("| full read-back, objects/s (partner sees %d of %d) | %s | %s | %.2f |" % (p["readback"]["objects"], o["readback"]["objects"], o["readback"]["objects_per_s"], p["readback"]["objects_per_s"], result["ratios"]["readback_objects_per_s"]))
        for k in ("match_type_indicator", "match_type_report", "by_id"):
            print("| %s p50 ms | %s | %s | %.2f |" % (k, o[k]["p50_ms"], p[k]["p50_ms"], result["ratios"][k + "_p50"]))
        if args.out:
            with open(args.out, "w") as f:
                json.dump(result, f, indent=2)
    finally:
        if os.environ.get("RELTO_BENCH_KEEP"):
            print("kept", work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
