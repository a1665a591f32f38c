#!/usr/bin/env python3
"""Console and live-stream benchmark (issue 15): figures printed, nothing asserted.

A release build of relto holds N objects of the shared peer workload (../shared/peers),
labelled as in release_bench.py (most NATO SECRET REL TO NATO, some KOR-only, some with a
KOR-only field), in a realm of the joint team and 60 partner organizations (one reader each,
NATO or EU). Then:

1. Console pages, each requested --repeats times, p50/p99: the object list's first page and
   its 20th (keyset paging), filtered by type and by text, for a partner and the originator;
   one object with its release matrix (61 organizations, 3 communities) for a releasing
   officer, and as a partner sees it.
2. The live stream: --subscribers concurrent subscribers (the readers in turn, the originator
   among them) on GET /api/v1/collections/{id}/stream while objects are posted at --rate per
   second for --seconds; the delivery latency (post sent → event read) per event, p50 and
   p99, the events each subscriber should have received and did, and the server's resident
   memory before, at its peak and with one more subscriber that never reads.

    cargo build --release
    python bench/console_bench.py -n 100000
    python bench/console_bench.py -n 100000 --subscribers 1000 --rate 1000 --seconds 20
"""
import argparse
import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "..", "shared", "peers"))
import workload  # noqa: E402
from release_bench import label, pct, relabel  # noqa: E402

TAXII = "application/taxii+json;version=2.1"
COLL = "6f5e4d3c-2b1a-4098-8f7e-6d5c4b3a2918"
NATO_NATIONS = ["DEU", "FRA", "NOR", "USA", "GBR", "ITA", "ESP", "POL", "NLD", "DNK"]
EU_NATIONS = ["AUT", "IRL", "SWE", "FIN", "MLT", "CYP"]
PARTNERS = 60
SEQ = re.compile(rb'"stream-bench-(\d+)"')


def token(account):
    return f"console-bench-token-{account}-0123456789abcdef"


def realm():
    orgs = ['[hub]\nnation = "KOR"\n[[api_root]]\npath = "bench"\ntitle = "Console benchmark"\nmax_content_length = 104857600',
            '[[organization]]\nslug = "kor-nis"\nname = "NIS"\nnation = "KOR"']
    top = '[{ policy = "KOR", level = "I" }, { policy = "NATO", level = "CTS", sensitivity = ["ATOMAL"] }, { policy = "EU", level = "EU-TS" }]'
    accounts = [f'[[account]]\nname = "nis-analyst"\norganization = "kor-nis"\nroles = ["analyst"]\ntoken_env = "T_NIS_ANALYST"\nclearances = {top}',
                f'[[account]]\nname = "nis-officer"\norganization = "kor-nis"\nroles = ["releaser"]\ntoken_env = "T_NIS_OFFICER"\nclearances = {top}']
    readers = []
    for i in range(PARTNERS):
        nato = i % 3 != 2
        nation = (NATO_NATIONS if nato else EU_NATIONS)[i % (10 if nato else 6)]
        slug = f"p{i:02d}-{nation.lower()}"
        acc = "NATO" if nato else "EU"
        orgs.append(f'[[organization]]\nslug = "{slug}"\nname = "Partner {i}"\nnation = "{nation}"\naccredited = ["{acc}"]')
        clearance = '{ policy = "NATO", level = "NS" }' if nato else '{ policy = "EU", level = "EU-S" }'
        name = f"reader-{i:02d}"
        accounts.append(f'[[account]]\nname = "{name}"\norganization = "{slug}"\nroles = ["reader"]\ntoken_env = "T_{name.upper().replace("-", "_")}"\nclearances = [{clearance}]')
        readers.append((name, slug))
    all_orgs = ", ".join(f'"org:{s}"' for _, s in readers)
    coll = f'[[collection]]\nid = "{COLL}"\napi_root = "bench"\ntitle = "Bench"\nreaders = ["org:kor-nis", {all_orgs}]\nwriters = ["org:kor-nis"]'
    return "\n".join(orgs + accounts + [coll]) + "\n", readers


def env_for(readers, work):
    env = dict(os.environ, RELTO_ADMIN_PASSWORD="bench-admin", RELTO_DATA_DIR=work,
               T_NIS_ANALYST=token("nis-analyst"), T_NIS_OFFICER=token("nis-officer"))
    for name, _ in readers:
        env["T_" + name.upper().replace("-", "_")] = token(name)
    return env


def start_server(binary, env, config):
    srv = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--log", "warn", "--config", config],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in srv.stdout:
        if line.startswith("relto listening on "):
            return srv, line.split()[-1]
    raise SystemExit("relto serve did not start")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def timed(s, url, params=None):
    t = time.monotonic()
    r = s.get(url, params=params, timeout=120)
    r.content  # noqa: B018
    assert r.status_code == 200, (url, r.status_code, r.text[:300])
    return r, time.monotonic() - t


def summary(lat):
    ms = [x * 1000 for x in lat]
    return {"p50_ms": round(pct(ms, 50), 2), "p99_ms": round(pct(ms, 99), 2), "n": len(ms)}


def console(account):
    s = requests.Session()
    s.cookies.set("relto_session", token(account), path="/ui")
    return s


def next_link(html):
    i = html.find('rel="next"')
    if i < 0:
        return None
    start = html.rfind('href="', 0, i) + 6
    return html[start:html.index('"', start)].replace("&amp;", "&")


def pages(base, ids, args):
    out = {}
    partner, originator, officer = console("reader-00"), console("nis-analyst"), console("nis-officer")
    list_url = f"{base}/ui/collections/{COLL}"
    for who, s in (("partner", partner), ("originator", originator)):
        out[f"list_first_page_{who}"] = summary([timed(s, list_url)[1] for _ in range(args.repeats)])
        # The 20th page: walk there once, then time it.
        url = list_url
        for _ in range(19):
            url = base + next_link(timed(s, url)[0].text)
        out[f"list_page_20_{who}"] = summary([timed(s, url)[1] for _ in range(args.repeats)])
        out[f"list_type_indicator_{who}"] = summary([timed(s, list_url, {"type": "indicator"})[1] for _ in range(args.repeats)])
        out[f"list_text_search_{who}"] = summary([timed(s, list_url, {"text": "malware"})[1] for _ in range(max(5, args.repeats // 5))])
    rng = random.Random(7)
    sample = [rng.choice(ids) for _ in range(args.repeats)]
    lat = []
    for oid in sample:
        r, t = timed(officer, f"{base}/ui/objects/{oid}")
        assert "Release matrix" in r.text
        lat.append(t)
    out["object_with_matrix_officer"] = summary(lat)
    out["object_partner"] = summary([timed(partner, f"{base}/ui/objects/{oid}")[1] for oid in sample])
    return out


async def subscribe(host, port, account, got, ready, stop):
    r, w = await asyncio.open_connection(host, port)
    w.write((f"GET /api/v1/collections/{COLL}/stream HTTP/1.1\r\nHost: {host}\r\n"
             f"Authorization: Bearer {token(account)}\r\nAccept: text/event-stream\r\n\r\n").encode())
    await w.drain()
    status = await r.readline()
    assert b" 200 " in status, status
    while (await r.readline()) not in (b"\r\n", b""):
        pass
    ready()
    buf = b""
    while not stop.is_set():
        size_line = await r.readline()
        if not size_line:
            break
        size = int(size_line.strip() or b"0", 16)
        if size == 0:
            break
        chunk = await r.readexactly(size + 2)
        buf += chunk[:-2]
        end = buf.rfind(b"\n\n")
        if end >= 0:
            whole, buf = buf[:end], buf[end + 2:]
            now = time.monotonic()
            # The sequence numbers from the names, by one regular expression over the events
            # that arrived whole, without parsing JSON: the client shares the machine's two
            # cores with the server, and parsing would measure the client.
            got.extend((int(seq), now) for seq in SEQ.findall(whole))
    w.close()


async def never_reads(host, port, account):
    r, w = await asyncio.open_connection(host, port, limit=1024)
    w.write((f"GET /api/v1/collections/{COLL}/stream HTTP/1.1\r\nHost: {host}\r\n"
             f"Authorization: Bearer {token(account)}\r\n\r\n").encode())
    await w.drain()
    return r, w


def poster(base, args, marks, sent, done):
    """Posts --rate objects per second in envelopes every 100 ms; records when each left."""
    s = requests.Session()
    s.headers.update({"Authorization": "Bearer " + token("nis-analyst"), "Content-Type": TAXII, "Accept": TAXII})
    per = max(1, args.rate // 10)
    seq = 0
    start = time.monotonic()
    for tick in range(args.seconds * 10):
        objs = []
        for _ in range(per):
            nato = seq % 10 < 7
            objs.append({"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
                         "created": "2026-12-01T00:00:00.000Z", "modified": "2026-12-01T00:00:00.000Z",
                         "name": f"stream-bench-{seq}", "pattern": "[ipv4-addr:value = '203.0.113.1']",
                         "pattern_type": "stix", "valid_from": "2026-12-01T00:00:00Z",
                         "object_marking_refs": [marks["nato" if nato else "kor"]]})
            seq += 1
        t = time.monotonic()
        for o in objs:
            sent[int(o["name"].rsplit("-", 1)[1])] = t
        r = s.post(f"{base}/bench/collections/{COLL}/objects/", data=json.dumps({"objects": objs}), timeout=60)
        assert r.status_code == 202, r.text[:300]
        delay = start + (tick + 1) / 10 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    done["posted"] = seq
    done["post_seconds"] = time.monotonic() - start


async def stream(base, pid, readers, marks, args):
    host, port = base.split("//")[1].split(":")
    port = int(port)
    accounts = ["nis-analyst"] + [name for name, _ in readers]
    stop = asyncio.Event()
    got = {}
    n_ready = [0]
    rss_before = rss_mib(pid)
    tasks = []
    for i in range(args.subscribers):
        account = accounts[i % len(accounts)]
        lst = []
        got[i] = (account, lst)
        tasks.append(asyncio.create_task(subscribe(host, port, account, lst, lambda: n_ready.__setitem__(0, n_ready[0] + 1), stop)))
    while n_ready[0] < args.subscribers:
        await asyncio.sleep(0.1)
    rss_connected = rss_mib(pid)
    slow = await never_reads(host, port, "nis-analyst")
    sent, done = {}, {}
    th = threading.Thread(target=poster, args=(base, args, marks, sent, done))
    th.start()
    peak = rss_connected
    while th.is_alive():
        peak = max(peak, rss_mib(pid))
        await asyncio.sleep(0.5)
    # Let the last events arrive.
    deadline = time.monotonic() + 30
    def expected(account):
        if account == "nis-analyst":
            return done["posted"]
        # NATO readers receive the NATO-labelled 70%, EU readers none of them.
        return sum(1 for s in range(done["posted"]) if s % 10 < 7) if int(account[-2:]) % 3 != 2 else 0
    while time.monotonic() < deadline and any(len(l) < expected(a) for a, l in got.values()):
        peak = max(peak, rss_mib(pid))
        await asyncio.sleep(0.5)
    rss_end = rss_mib(pid)
    stop.set()
    for t in tasks:
        t.cancel()
    slow[1].close()
    want = sum(expected(a) for a, _ in got.values())
    received = sum(len(l) for _, l in got.values())
    lat = [at - sent[seq] for _, l in got.values() for seq, at in l]
    span = (max(at for _, l in got.values() for _, at in l) - min(sent.values())) if lat else 0
    return {"subscribers": args.subscribers, "rate_per_s": args.rate, "seconds": args.seconds,
            "posted": done["posted"], "post_seconds": round(done["post_seconds"], 1),
            "events_expected": want, "events_received": received,
            "latency": summary(lat) if lat else None,
            "delivered_per_s": round(received / span) if span else None,
            "rss_mib": {"before": round(rss_before, 1), "subscribers_connected": round(rss_connected, 1),
                        "peak": round(peak, 1), "end_with_a_subscriber_that_never_read": round(rss_end, 1)}}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=100000)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "relto"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="relto-console-bench-")
    text, readers = realm()
    env = env_for(readers, work)
    try:
        with open(os.path.join(work, "realm.toml"), "w") as f:
            f.write(text)
        config = os.path.join(work, "relto.toml")
        with open(config, "w") as f:
            f.write("[limits]\nmax_connections = 4096\n")
        subprocess.run([args.bin, "apply", os.path.join(work, "realm.toml")], env=env, check=True, stdout=subprocess.DEVNULL)
        objs = relabel(workload.generate(args.n, 42), 42)
        marks = {"nato": objs[0]["id"], "kor": objs[1]["id"]}
        bundle = os.path.join(work, "bundle.json")
        with open(bundle, "w") as f:
            json.dump({"type": "bundle", "id": "bundle--" + str(uuid.uuid4()), "objects": objs}, f)
        subprocess.run([args.bin, "import", "--quiet", "--collection", COLL, "--as", "nis-analyst", bundle],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        # Objects the partner receives for sure: NATO-labelled, standing on no reference.
        ids = [o["id"] for o in objs[2:] if o.get("object_marking_refs", [""])[0] == marks["nato"]
               and o["type"] not in ("relationship", "report", "note")]
        srv, base = start_server(args.bin, env, config)
        try:
            result = {"n": args.n, "organizations": PARTNERS + 1, "pages": pages(base, ids, args)}
            if args.subscribers:
                result["stream"] = asyncio.run(stream(base, srv.pid, readers, marks, args))
        finally:
            srv.terminate()
            srv.wait(10)
        print(json.dumps(result, indent=2))
        print()
        print("| console page (N=%d) | p50 ms | p99 ms |" % args.n)
        print("|---|---|---|")
        for k, v in result["pages"].items():
            print("| %s | %s | %s |" % (k.replace("_", " "), v["p50_ms"], v["p99_ms"]))
        if "stream" in result:
            s = result["stream"]
            print()
            print("stream: %d subscribers, %d objects/s for %d s (posted in %s s; %s events delivered per s): %d of %d events delivered; latency p50 %s ms, p99 %s ms; server RSS %s MiB before, %s connected, peak %s, end (one subscriber never reading) %s" % (
                s["subscribers"], s["rate_per_s"], s["seconds"], s["post_seconds"], s["delivered_per_s"], s["events_received"], s["events_expected"],
                s["latency"]["p50_ms"] if s["latency"] else "-", s["latency"]["p99_ms"] if s["latency"] else "-",
                s["rss_mib"]["before"], s["rss_mib"]["subscribers_connected"], s["rss_mib"]["peak"],
                s["rss_mib"]["end_with_a_subscriber_that_never_read"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
