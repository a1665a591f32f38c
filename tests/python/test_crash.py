"""Crash safety: SIGKILL the server at random moments during heavy ingest, many times over.
After every restart, each object whose status said success is present and byte-identical,
nothing half-written is served, and `relto audit verify` passes."""
import json
import os
import random
import signal
import subprocess
import tempfile
import threading
import time

import requests

from conftest import database_for
from taxii_helpers import check_served_objects

BIN = os.environ.get("RELTO_BIN", "/work/main/target/debug/relto")
TAXII = "application/taxii+json;version=2.1"
COLL = "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d"
TOKEN = "crash-test-token-0123456789abcdefghijklmnop"
KILLS = int(os.environ.get("RELTO_KILLS", "24"))

REALM = f"""
[hub]
nation = "KOR"
[[api_root]]
path = "crash"
title = "Crash test"
[[organization]]
slug = "kor-nis"
name = "National Intelligence Service"
nation = "KOR"
[[account]]
name = "writer"
organization = "kor-nis"
roles = ["analyst"]
token_env = "CRASH_TOKEN"
[[collection]]
id = "{COLL}"
api_root = "crash"
title = "Crash"
readers = ["org:kor-nis"]
writers = ["org:kor-nis"]
"""


def start(data, env):
    p = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--log", "error"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in p.stdout:
        if line.startswith("relto listening on "):
            return p, line.split()[-1]
    raise AssertionError("the server did not start")


def note(rng, k):
    # Odd spacing and key order, so that byte identity means something.
    oid = "note--%08x-0000-4000-8000-%012x" % (rng.getrandbits(32), k)
    return oid, ('{"type":"note", "spec_version":"2.1","id":"%s","created":"2024-10-25T00:00:00.000Z",'
                 '"modified":"2024-10-25T00:00:00.000Z","content":"intercept %d: %s",'
                 '"object_refs":["%s"],"object_marking_refs":["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"]}'
                 % (oid, k, "x" * rng.randint(10, 400), oid))


def writer(base, rng, acked, stop, counter):
    s = requests.Session()
    s.headers.update({"Authorization": "Bearer " + TOKEN, "Content-Type": TAXII, "Accept": TAXII})
    url = f"{base}/crash/collections/{COLL}/objects/"
    while not stop.is_set():
        batch = []
        for _ in range(50):
            counter[0] += 1
            batch.append(note(rng, counter[0]))
        body = '{"objects":[' + ",".join(raw for _, raw in batch) + "]}"
        try:
            r = s.post(url, data=body, timeout=5)
        except requests.RequestException:
            return  # killed mid-request: nothing of this envelope was acknowledged
        if r.status_code != 202:
            return
        ok = {x["id"] for x in r.json().get("successes", [])}
        for oid, raw in batch:
            if oid in ok:
                acked[oid] = raw


def read_ids(base, ids):
    """The stored objects with these ids, 100 per request (match[id]), and for each the raw
    text of the page that served it."""
    s = requests.Session()
    s.headers.update({"Authorization": "Bearer " + TOKEN, "Accept": TAXII})
    url = f"{base}/crash/collections/{COLL}/objects/"
    served, page_of = {}, {}
    for i in range(0, len(ids), 100):
        r = s.get(url, params={"match[id]": ",".join(ids[i:i + 100]), "limit": 1000}, timeout=30)
        assert r.status_code == 200, r.text
        check_served_objects(r.json().get("objects", []), f"writer: GET {url} (match[id], after a kill)")
        for o in r.json().get("objects", []):
            served[o["id"]] = o
            page_of[o["id"]] = r.text
    return served, page_of


def test_sigkill_during_ingest_loses_nothing_acknowledged():
    rng = random.Random(20261125)
    with tempfile.TemporaryDirectory() as data:
        env = dict(os.environ, RELTO_DATA_DIR=data, CRASH_TOKEN=TOKEN, RELTO_ADMIN_PASSWORD="admin-pw")
        database = database_for(data)  # PostgreSQL runs: a fresh database
        if database:
            env["RELTO_DATABASE"] = database
        realm = os.path.join(data, "realm.toml")
        with open(realm, "w") as f:
            f.write(REALM)
        subprocess.run([BIN, "apply", realm], env=env, check=True, stdout=subprocess.DEVNULL)
        acked, checked = {}, set()
        counter = [0]
        for kill in range(KILLS):
            proc, base = start(data, env)
            stop = threading.Event()
            t = threading.Thread(target=writer, args=(base, rng, acked, stop, counter))
            t.start()
            time.sleep(rng.uniform(0.05, 0.6))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            stop.set()
            t.join()
            # Restart; check what was acknowledged since the last check, and a sample of the
            # older ones (each read is audited, so the chain grows with every check).
            proc, base = start(data, env)
            try:
                fresh = [oid for oid in acked if oid not in checked]
                older = rng.sample(sorted(checked), min(200, len(checked)))
                served, page_of = read_ids(base, fresh + older)
                missing = [oid for oid in fresh + older if oid not in served]
                assert not missing, f"kill {kill}: {len(missing)} acknowledged objects lost, e.g. {missing[:3]}"
                for oid in fresh + older:
                    raw = acked[oid]
                    assert served[oid] == json.loads(raw), f"kill {kill}: {oid} differs"
                    assert raw in page_of[oid], f"kill {kill}: {oid} is not byte-identical"
                # Nothing half-written: every served object is one that was posted, whole.
                for o in served.values():
                    assert o["content"].startswith("intercept "), o
                checked.update(fresh)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait()
            out = subprocess.run([BIN, "audit", "verify"], env=env, capture_output=True, text=True)
            assert out.returncode == 0, f"kill {kill}: {out.stdout} {out.stderr}"
        assert len(acked) > 1000, f"only {len(acked)} objects acknowledged over {KILLS} kills"
