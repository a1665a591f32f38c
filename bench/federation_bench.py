#!/usr/bin/env python3
"""Federation benchmark (issue 16): figures printed, nothing asserted.

Two release builds of relto on loopback, with the realms of examples/federation/: KOR's hub
pushes to NATO's (KOR's other peers left out, so that the push alone is measured).

1. Local ingest: N objects of the shared peer workload (../shared/peers), relabelled as in
   release_bench.py (70% NATO SECRET REL TO NATO, which the NATO hub receives; 20% KOR-only;
   the rest TLP only, AMBER and RED among them, which are never pushed), posted to KOR's
   hub over TAXII in envelopes of --envelope objects: objects/s.
2. Push: KOR's hub is restarted with the peer declared and NATO's hub up; the time until
   KOR's metrics say the push caught up: objects sent per second, end to end, and that rate
   as a fraction of the local ingest rate. The NATO hub's count is checked.
3. Lag: objects posted to KOR at --rate per second for --seconds while NATO's live stream is
   read; the time from each post to its arrival in NATO's stream, p50 and p99.

    cargo build --release
    python bench/federation_bench.py -n 100000
"""
import argparse
import base64
import json
import os
import re
import shutil
import socket
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
from release_bench import pct, relabel  # noqa: E402

TAXII = "application/taxii+json;version=2.1"
KOR_COLL = "d95d9fbf-6ffc-4dfc-bd9a-3bc1bb34c0d4"
NATO_COLL = "4b0c8a1e-2f3d-4e5a-9b6c-7d8e9f0a1b2c"
ENV = {
    "RELTO_PW_NIS": "bench-nis", "RELTO_PW_NATO_HUB": "bench-nato-hub", "RELTO_PW_INTCEN": "bench-intcen",
    "RELTO_PW_NIS_REL": "bench-rel", "RELTO_PW_NIS_REL2": "bench-rel2",
    "RELTO_PW_NATO_RELAY": "bench-nato-relay", "RELTO_PW_NATO_READER": "bench-nato-reader",
    "RELTO_PW_KOR_RELAY": "bench-kor-relay", "RELTO_PEER_NATO_USER": "kor-relay",
    "RELTO_PEER_NATO_PW": "bench-kor-relay", "RELTO_PEER_EU_USER": "x", "RELTO_PEER_EU_PW": "x",
    "RELTO_ADMIN_PASSWORD": "bench-admin-password",
}
SEQ = re.compile(rb'"fed-bench-(\d+)"')


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def realm(name, ports, peers):
    text = open(os.path.join(ROOT, "examples", "federation", f"{name}.toml")).read()
    head, *blocks = text.split("[[peer]]")
    kept = [b for b in blocks if any(f'name = "{p}"' in b for p in peers)]
    text = head + "".join("[[peer]]" + b for b in kept)
    for hub, example in (("kor", 9101), ("nato", 9102), ("eu", 9103)):
        text = text.replace(f"127.0.0.1:{example}/", f"127.0.0.1:{ports[hub]}/")
    return text.replace("interval_secs = 2", "interval_secs = 1")


def apply(binary, data, text):
    path = os.path.join(data, "realm.toml")
    with open(path, "w") as f:
        f.write(text)
    subprocess.run([binary, "apply", "--data-dir", data, path], env=dict(os.environ, **ENV), check=True,
                   stdout=subprocess.DEVNULL)


def serve(binary, data, port, metrics=None):
    # Each hub goes by its data directory's name on hop paths, as in the federation example.
    args = [binary, "serve", "--data-dir", data, "--listen", f"127.0.0.1:{port}", "--log", "warn",
            "--hub-name", os.path.basename(os.path.normpath(data)).lower()]
    if metrics:
        args += ["--metrics-listen", f"127.0.0.1:{metrics}"]
    srv = subprocess.Popen(args, env=dict(os.environ, **ENV), stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    for line in srv.stdout:
        if line.startswith("relto listening on "):
            threading.Thread(target=srv.stdout.read, daemon=True).start()
            return srv
    raise SystemExit(f"relto serve {data} did not start")


def post(session, url, objs):
    r = session.post(url, data=json.dumps({"objects": objs}), headers={"Content-Type": TAXII}, timeout=600)
    assert r.status_code == 202, r.text[:300]
    return r.json()


def metric(url, name, peer="nato-hub"):
    text = requests.get(url, timeout=10).text
    m = re.search(rf'^{name}{{peer="{peer}"}} (\S+)', text, re.M)
    return float(m.group(1)) if m else None


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=100000)
    ap.add_argument("--envelope", type=int, default=1000)
    ap.add_argument("--rate", type=int, default=1000, help="objects per second in the lag phase")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "relto"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="relto-federation-bench-")
    kor_dir, nato_dir = os.path.join(work, "kor"), os.path.join(work, "nato")
    os.makedirs(kor_dir)
    os.makedirs(nato_dir)
    ports = {"kor": free_port(), "nato": free_port(), "eu": free_port()}
    metrics_port = free_port()
    kor_url = f"http://127.0.0.1:{ports['kor']}/coalition/collections/{KOR_COLL}/objects/"
    nato_base = f"http://127.0.0.1:{ports['nato']}"
    servers = []
    try:
        apply(args.bin, nato_dir, realm("nato", ports, []))
        apply(args.bin, kor_dir, realm("kor", ports, []))
        objs = relabel(workload.generate(args.n, 42), 42)
        # Labels pass for nis-analyst; the workload's identities are not KOR's: posted unsigned.
        kor = serve(args.bin, kor_dir, ports["kor"])
        servers.append(kor)
        s = requests.Session()
        s.auth = ("nis-analyst", ENV["RELTO_PW_NIS"])
        s.headers["Accept"] = TAXII
        t = time.monotonic()
        refused = 0
        for i in range(0, len(objs), args.envelope):
            refused += post(s, kor_url, objs[i:i + args.envelope])["failure_count"]
        ingest_s = time.monotonic() - t
        stored = len(objs) - refused
        kor.terminate()
        kor.wait(30)
        servers.remove(kor)

        # The push: KOR restarted with the NATO hub as a peer.
        apply(args.bin, kor_dir, realm("kor", ports, ["nato-hub"]))
        nato = serve(args.bin, nato_dir, ports["nato"])
        servers.append(nato)
        t = time.monotonic()
        kor = serve(args.bin, kor_dir, ports["kor"], metrics_port)
        servers.append(kor)
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        peak_kor = peak_nato = 0
        while metric(metrics_url, "relto_peer_lag_seconds") is None:
            peak_kor, peak_nato = max(peak_kor, rss_mib(kor.pid)), max(peak_nato, rss_mib(nato.pid))
            time.sleep(0.2)
        push_s = time.monotonic() - t
        sent = metric(metrics_url, "relto_peer_objects_sent_total") or 0
        withheld = metric(metrics_url, "relto_peer_objects_withheld_total") or 0
        r = requests.get(f"{nato_base}/nato/collections/{NATO_COLL}/manifest/", params={"limit": 1},
                         auth=("kor-relay", ENV["RELTO_PW_KOR_RELAY"]), headers={"Accept": TAXII}, timeout=60)
        assert r.status_code == 200, r.text[:300]

        # Lag under a steady rate: NATO's live stream read while KOR is posted to.
        arrived = {}
        stop = threading.Event()

        def read_stream():
            with socket.create_connection(("127.0.0.1", ports["nato"])) as c:
                cred = base64.b64encode(f"kor-relay:{ENV['RELTO_PW_KOR_RELAY']}".encode()).decode()
                c.sendall((f"GET /api/v1/collections/{NATO_COLL}/stream HTTP/1.1\r\nHost: x\r\n"
                           f"Authorization: Basic {cred}\r\nAccept: text/event-stream\r\n\r\n").encode())
                c.settimeout(1.0)
                rest = b""
                while not stop.is_set():
                    try:
                        chunk = c.recv(1 << 20)
                    except socket.timeout:
                        continue
                    if not chunk:
                        return
                    now = time.monotonic()
                    # Whole lines only: a name cut between two reads is matched with the next.
                    whole, _, rest = (rest + chunk).rpartition(b"\n")
                    for m in SEQ.finditer(whole):
                        arrived.setdefault(int(m.group(1)), now)

        reader = threading.Thread(target=read_stream, daemon=True)
        reader.start()
        time.sleep(1)
        nato_label = objs[0]["id"]   # the NATO SECRET REL TO NATO marking-definition
        sent_at = {}
        batch = max(1, args.rate // 10)
        seq = 0
        start = time.monotonic()
        while time.monotonic() - start < args.seconds:
            tick = time.monotonic()
            chunk = []
            for _ in range(batch):
                seq += 1
                chunk.append({"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
                              "created": "2026-12-01T00:00:00.000Z", "modified": "2026-12-01T00:00:00.000Z",
                              "name": f"fed-bench-{seq}", "pattern": "[ipv4-addr:value = '203.0.113.9']",
                              "pattern_type": "stix", "valid_from": "2026-12-01T00:00:00Z",
                              "object_marking_refs": [nato_label]})
            for o in chunk:
                sent_at[int(o["name"].rsplit("-", 1)[1])] = time.monotonic()
            post(s, kor_url, chunk)
            time.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))
        posted_s = time.monotonic() - start
        deadline = time.monotonic() + 60
        while len(arrived) < len(sent_at) and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        lags = [arrived[k] - sent_at[k] for k in sent_at if k in arrived]
        result = {
            "n": args.n, "stored_at_kor": stored,
            "local_ingest_objects_per_s": round(stored / ingest_s),
            "push_s": round(push_s, 1), "pushed": int(sent), "withheld": int(withheld),
            "push_objects_per_s": round(sent / push_s),
            "push_examined_per_s": round((sent + withheld) / push_s),
            "push_rate_over_local_ingest": round((sent / push_s) / (stored / ingest_s), 2),
            "peak_rss_mib": {"kor": peak_kor, "nato": peak_nato},
            "lag": {"rate": args.rate, "seconds": args.seconds, "posted_s": round(posted_s, 1),
                    "posted": len(sent_at), "arrived": len(lags),
                    "p50_s": round(pct(lags, 50), 2) if lags else None,
                    "p99_s": round(pct(lags, 99), 2) if lags else None},
        }
        print(json.dumps(result, indent=1))
        print(f"local ingest {result['local_ingest_objects_per_s']} objects/s; push {result['pushed']} objects "
              f"({result['withheld']} withheld) in {result['push_s']} s = {result['push_objects_per_s']} objects/s "
              f"({result['push_rate_over_local_ingest']:.0%} of local ingest); lag at {args.rate}/s: "
              f"p50 {result['lag']['p50_s']} s, p99 {result['lag']['p99_s']} s "
              f"({result['lag']['arrived']} of {result['lag']['posted']} arrived)")
    finally:
        for srv in servers:
            srv.kill()
            srv.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
