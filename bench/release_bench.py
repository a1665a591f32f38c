#!/usr/bin/env python3
"""Releasability benchmark: the same reads by a filtered partner reader and by the originator.

A release build of relto holds N objects of the shared peer workload (../shared/peers), each
relabelled with relto confidentiality labels: most releasable to NATO at NATO SECRET, some
KOR-only, some without a label, some with a field-level marking the partner fails. The
originator (kor-nis, cleared for everything) and a partner (deu-bnd, NATO SECRET, accredited
to NATO) then run the same reads, request by request in turn; the figures and their ratio
are printed (JSON and a table). The reads run twice: with the server's cache of redacted
copies (a page read again before the next write is not redacted again) and without it
(RELTO_RELEASE_CACHE_MIB=0: every partner page is computed).

With --stages K, release plans (DESIGN §9) come first: K situations of one stage each (NATO
SECRET, REL TO NATO) over --holdings KOR-only objects in all, each approved by two releasing
officers over the API, so that the partner receives those objects through the stages alone;
then one more stage over all --holdings objects, whose activating approval is timed.

    python bench/release_bench.py -n 100000          # needs: cargo build --release
    python bench/release_bench.py -n 100000 --stages 10 --holdings 20000
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
          "bnd-reader": "bench-token-partner-0123456789abcdefghij",
          "nis-officer-1": "bench-token-officer-one-0123456789abcdef",
          "nis-officer-2": "bench-token-officer-two-0123456789abcdef"}

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
name = "nis-officer-1"
organization = "kor-nis"
roles = ["releaser"]
token_env = "TOKEN_OFFICER_1"
clearances = [{{ policy = "KOR", level = "I" }}, {{ policy = "NATO", level = "CTS", sensitivity = ["ATOMAL"] }}]
[[account]]
name = "nis-officer-2"
organization = "kor-nis"
roles = ["releaser"]
token_env = "TOKEN_OFFICER_2"
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


def relabel(objs, seed, kor_share=0.2):
    """70% NATO NS REL TO NATO (the partner passes), 20% KOR II REL TO KOR (denied; with
    release plans 25%, so that 20,000 of 100,000 can be held), the rest as generated (TLP
    only: visible); 10% of all get a KOR-only granular marking on a field."""
    rng = random.Random(seed)
    nato = "marking-definition--" + str(uuid.UUID(int=1, version=4))
    kor = "marking-definition--" + str(uuid.UUID(int=2, version=4))
    out = [label(nato, "NATO", "NS", ["NATO"]), label(kor, "KOR", "II", ["KOR"])]
    for o in objs:
        o = dict(o)
        r = rng.random()
        if r < 0.7:
            o["object_marking_refs"] = [nato]
        elif r < 0.7 + kor_share:
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


def session(account):
    s = requests.Session()
    s.headers.update({"Authorization": "Bearer " + TOKENS[account], "Accept": TAXII})
    return s


def timed_get(s, url, params=None):
    t = time.monotonic()
    r = s.get(url, params=params, timeout=120)
    r.content  # noqa: B018  (the whole body has arrived)
    return r, time.monotonic() - t


def summary(lat):
    ms = [x * 1000 for x in lat]
    return {"p50_ms": round(pct(ms, 50), 3), "p99_ms": round(pct(ms, 99), 3)}


def measure(base, ids, args):
    """The same reads by the originator and the partner, request by request in turn (the
    order swapped each time), so that both see the same machine: on a shared 2-core machine
    the background load drifts within seconds, and reading one account after the other
    showed ratios from 0.7 to 1.1 for the same build."""
    accounts = ("nis-analyst", "bnd-reader")
    sessions = {a: session(a) for a in accounts}
    url = f"{base}/bench/collections/{COLL}/objects/"
    res = {a: {} for a in accounts}
    # Full paginated read: a page of each in turn until both reach the end.
    state = {a: {"n": 0, "pages": 0, "next": None, "done": False, "lat": []} for a in accounts}
    turn = 0
    while not all(st["done"] for st in state.values()):
        order = accounts if turn % 2 == 0 else accounts[::-1]
        turn += 1
        for a in order:
            st = state[a]
            if st["done"]:
                continue
            p = {"limit": args.page}
            if st["next"]:
                p["next"] = st["next"]
            r, dt = timed_get(sessions[a], url, p)
            env = r.json()
            st["lat"].append(dt)
            st["n"] += len(env.get("objects", []))
            st["pages"] += 1
            st["next"] = env.get("next")
            st["done"] = not env.get("more")
    for a, st in state.items():
        busy = sum(st["lat"])
        res[a]["readback"] = {"objects": st["n"], "pages": st["pages"],
                              "objects_per_s": round(st["n"] / busy, 1),
                              "pages_per_s": round(st["pages"] / busy, 1),
                              "page_p50_ms": round(statistics.median(st["lat"]) * 1000, 3)}
    # First pages of a type filter, and objects by id (ids both may see).
    reads = {"match_type_indicator": lambda i: (url, {"match[type]": "indicator", "limit": args.page}),
             "match_type_report": lambda i: (url, {"match[type]": "report", "limit": args.page})}
    rng = random.Random(7)
    by_id = [rng.choice(ids) for _ in range(args.repeats * 5)]
    reads["by_id"] = lambda i: (f"{url}{by_id[i]}/", None)
    for name, target in reads.items():
        lat = {a: [] for a in accounts}
        n = args.repeats * (5 if name == "by_id" else 1)
        for i in range(n):
            for a in (accounts if i % 2 == 0 else accounts[::-1]):
                r, dt = timed_get(sessions[a], *target(i))
                assert r.status_code == 200, (a, name, r.status_code)
                lat[a].append(dt)
        for a in accounts:
            res[a][name] = summary(lat[a])
    return res


def release_plans(base, objs, args):
    """K stages over `holdings` KOR-only objects (what they reference is held with them),
    approved by two officers; then one stage over all of them, its activating approval timed."""
    kor = "marking-definition--" + str(uuid.UUID(int=2, version=4))
    plain = [o["id"] for o in objs if o.get("object_marking_refs") == [kor]
             and not o.get("granular_markings")]
    held = plain[:args.holdings]
    stage = {"label": {"policy": "NATO", "classification": "NS", "releasable_to": ["NATO"]}}

    def call(account, method, path, body=None):
        r = session(account).request(method, f"{base}/api/v1/{path}", json=body, timeout=600)
        assert r.status_code in (200, 201), (path, r.status_code, r.text[:500])
        return r.json()

    def situation(ids):
        s = call("nis-analyst", "POST", "situations",
                 {"title": "bench", "collection": COLL, "holdings": ids, "stages": [stage]})
        return s["id"]

    def approve(sid):
        snap = call("nis-officer-1", "GET", f"situations/{sid}/stages/1/preview")["snapshot"]
        call("nis-officer-1", "POST", f"situations/{sid}/stages/1/approve", {"snapshot": snap})
        t = time.monotonic()
        s = call("nis-officer-2", "POST", f"situations/{sid}/stages/1/approve", {"snapshot": snap})
        took = time.monotonic() - t
        assert s["stages"][0]["state"] == "active", s
        return took

    per = max(1, len(held) // args.stages)
    for k in range(args.stages):
        approve(situation(held[k * per:(k + 1) * per]))
    activation_s = approve(situation(held))
    return {"stages": args.stages + 1, "holdings": len(held),
            "activation_of_a_stage_over_all_holdings_s": round(activation_s, 2)}


def start_server(binary, env):
    srv = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--log", "warn"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in srv.stdout:
        if line.startswith("relto listening on "):
            return srv, line.split()[-1]
    raise SystemExit("relto serve did not start")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=100000)
    ap.add_argument("--page", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=100)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "relto"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--stages", type=int, default=0, help="release-plan stages before the reads")
    ap.add_argument("--holdings", type=int, default=20000, help="KOR-only objects the stages cover")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="relto-release-bench-")
    env = dict(os.environ, TOKEN_NIS=TOKENS["nis-analyst"], TOKEN_BND=TOKENS["bnd-reader"],
               TOKEN_OFFICER_1=TOKENS["nis-officer-1"], TOKEN_OFFICER_2=TOKENS["nis-officer-2"],
               RELTO_ADMIN_PASSWORD="bench-admin", RELTO_DATA_DIR=work)
    try:
        with open(os.path.join(work, "realm.toml"), "w") as f:
            f.write(REALM)
        subprocess.run([args.bin, "apply", os.path.join(work, "realm.toml")], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        objs = relabel(workload.generate(args.n, 42), 42, 0.25 if args.stages else 0.2)
        bundle = os.path.join(work, "bundle.json")
        with open(bundle, "w") as f:
            json.dump({"type": "bundle", "id": "bundle--" + str(uuid.uuid4()), "objects": objs}, f)
        t = time.monotonic()
        subprocess.run([args.bin, "import", "--quiet", "--collection", COLL, "--as", "nis-analyst", bundle],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        import_s = time.monotonic() - t
        visible = [o["id"] for o in objs if o.get("object_marking_refs", [""])[0].endswith("000000000001")
                   and o["type"] not in ("relationship", "report", "note")]
        result = {"n": args.n, "page": args.page, "import_s": round(import_s, 1)}
        if args.stages:
            srv, base = start_server(args.bin, env)
            try:
                result["plans"] = release_plans(base, objs, args)
            finally:
                srv.terminate()
                srv.wait(10)
        srv, base = start_server(args.bin, env)
        try:
            both = measure(base, visible, args)
        finally:
            srv.terminate()
            srv.wait(10)
        result["originator"], result["partner"] = both["nis-analyst"], both["bnd-reader"]
        # The same reads with no redacted copies kept: every partner page is computed.
        srv, base = start_server(args.bin, dict(env, RELTO_RELEASE_CACHE_MIB="0"))
        try:
            cold = measure(base, visible, args)
        finally:
            srv.terminate()
            srv.wait(10)
        result["uncached"] = {"originator": cold["nis-analyst"], "partner": cold["bnd-reader"]}
        def ratios(o, p):
            return {
                "readback_pages_per_s": round(p["readback"]["pages_per_s"] / o["readback"]["pages_per_s"], 3),
                "readback_objects_per_s": round(p["readback"]["objects_per_s"] / o["readback"]["objects_per_s"], 3),
                "match_type_indicator_p50": round(o["match_type_indicator"]["p50_ms"] / p["match_type_indicator"]["p50_ms"], 3),
                "match_type_report_p50": round(o["match_type_report"]["p50_ms"] / p["match_type_report"]["p50_ms"], 3),
                "by_id_p50": round(o["by_id"]["p50_ms"] / p["by_id"]["p50_ms"], 3),
            }
        o, p = result["originator"], result["partner"]
        result["ratios"] = ratios(o, p)
        cold = result["uncached"]
        result["uncached"]["ratios"] = ratios(cold["originator"], cold["partner"])
        print(json.dumps(result, indent=2))
        print()
        if "plans" in result:
            pl = result["plans"]
            print("release plans: %d stages in effect over %d KOR-only holdings; activating one stage over all of them: %.2f s" % (pl["stages"], pl["holdings"], pl["activation_of_a_stage_over_all_holdings_s"]))
        print("| read (N=%d, pages of %d) | originator | partner (filtered) | partner / originator speed | same, no copies kept |" % (args.n, args.page))
        print("|---|---|---|---|---|")
        rc = result["uncached"]["ratios"]
        print("| full read-back, pages/s | %s | %s | %.2f | %.2f |" % (o["readback"]["pages_per_s"], p["readback"]["pages_per_s"], result["ratios"]["readback_pages_per_s"], rc["readback_pages_per_s"]))
        print("| full read-back, objects/s (partner sees %d of %d) | %s | %s | %.2f | %.2f |" % (p["readback"]["objects"], o["readback"]["objects"], o["readback"]["objects_per_s"], p["readback"]["objects_per_s"], result["ratios"]["readback_objects_per_s"], rc["readback_objects_per_s"]))
        for k in ("match_type_indicator", "match_type_report", "by_id"):
            print("| %s p50 ms | %s | %s | %.2f | %.2f |" % (k, o[k]["p50_ms"], p[k]["p50_ms"], result["ratios"][k + "_p50"], rc[k + "_p50"]))
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
