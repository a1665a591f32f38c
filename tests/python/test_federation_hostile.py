"""Hostile or broken peers (issue 16): a TAXII server that redirects, answers malformed JSON,
a page larger than relto takes, a body that never ends, a cursor that goes backwards, or a
status that never completes.  Each must give a clear error in `relto peers` and the log, a
failure in the metrics, no object taken or counted as sent, and no harm to the hub."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import REPO_ROOT
from test_federation import (KOR_COLL, NR_ALL, SECRETS, free_ports, indicator, kor_analyst,
                             kor_hub_with_peers, read_all)

# Each case is a collection of the fake server: (peer direction, what relto must report).
CASES = {
    "redirect": ("pull", "relto does not follow redirects"),
    "malformed": ("pull", "is not a TAXII envelope"),
    "huge": ("pull", "larger than 64 MiB"),
    "endless": ("pull", "larger than 64 MiB"),
    "backwards": ("pull", "for added_after"),
    "nonsense-status": ("push", "not a TAXII status"),
    "post-redirect": ("push", "relto does not follow redirects"),
}
UUIDS = {name: f"00000000-0000-4000-8000-{i:012d}" for i, name in enumerate(CASES, 1)}
OBJECT = json.dumps(indicator(7777, []))
# Refused by relto's validation (modified before created): the sweep completes, nothing is taken.
INVALID = json.dumps(indicator(7778, []) | {"modified": "2020-01-01T00:00:00.000Z"})


class Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    followed: list[str] = []

    def log_message(self, *args):
        pass

    def case(self) -> str:
        m = re.search(r"/collections/([0-9a-f-]+)/", self.path)
        return next((n for n, u in UUIDS.items() if m and u == m.group(1)), "")

    def send(self, status: int, body: bytes, headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", "application/taxii+json;version=2.1")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/elsewhere/"):
            Hostile.followed.append(self.path)
            return self.send(200, b'{"objects":[' + OBJECT.encode() + b']}')
        case = self.case()
        if case == "redirect":
            return self.send(302, b"", {"Location": f"http://127.0.0.1:{self.server.server_port}/elsewhere/"})
        if case == "malformed":
            return self.send(200, b'{"more": false, "objects": [{"type": "indicator",')
        if case == "huge":
            self.send_response(200)
            self.send_header("Content-Type", "application/taxii+json;version=2.1")
            self.send_header("Content-Length", str(80 << 20))
            self.end_headers()
            chunk = b" " * (1 << 20)
            try:
                for _ in range(80):
                    self.wfile.write(chunk)
            except OSError:
                pass
            return
        if case == "endless":
            self.send_response(200)
            self.send_header("Content-Type", "application/taxii+json;version=2.1")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b" " * 65536
            try:
                while True:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                return
        if case == "backwards":
            added_after = "added_after=" in self.path
            return self.send(200, b'{"more":false,"objects":[' + INVALID.encode() + b']}',
                             {"X-TAXII-Date-Added-First": "2020-01-01T00:00:00.000000Z",
                              "X-TAXII-Date-Added-Last": "2020-01-01T00:00:00.000000Z" if added_after
                              else "2026-01-01T00:00:00.000000Z"})
        return self.send(404, b'{"title":"no such collection"}')

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        case = self.case()
        if case == "post-redirect":
            return self.send(307, b"", {"Location": f"http://127.0.0.1:{self.server.server_port}/elsewhere/"})
        if case == "nonsense-status":
            return self.send(202, b"<html>accepted</html>")
        return self.send(404, b"{}")


@pytest.fixture(scope="module")
def hostile_and_kor(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    kor_port, metrics_port = free_ports(2)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/bad/collections/"
    kor = kor_hub_with_peers(base, kor_port, [(name, f"{url}{UUIDS[name]}/", direction)
                                              for name, (direction, _) in CASES.items()],
                             "RELTO_PEER_NATO")
    kor.start(["--metrics-listen", f"127.0.0.1:{metrics_port}"])
    yield kor, f"http://127.0.0.1:{metrics_port}/metrics"
    kor.kill()
    server.shutdown()


def test_each_broken_peer_is_named_counted_and_harmless(hostile_and_kor):
    kor, metrics_url = hostile_and_kor
    objects_url = f"{kor.url}/coalition/collections/{KOR_COLL}/objects/"
    # Releasable to NATO: the push peers have something to send.
    report = json.loads((REPO_ROOT / "examples" / "situation-report.json").read_text())
    markings = [o for o in report["objects"] if o["type"] == "marking-definition"]
    status = kor_analyst().post_envelope(objects_url, markings + [indicator(n, [NR_ALL]) for n in range(5)])
    assert status["failure_count"] == 0, status
    before = read_all(objects_url, ("nis-analyst", SECRETS["RELTO_PW_NIS"]))
    deadline = time.monotonic() + 60
    while True:
        peers = kor.peers()
        blocks = dict(re.findall(r"^(\S+)  (?:push|pull).*\n(.*)", peers, re.M))
        if all(why in blocks.get(name, "") for name, (_, why) in CASES.items()) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for name, (_, why) in CASES.items():
        state = blocks.get(name, "")
        assert why in state, f"{name}: {state!r}\n{kor.stderr()[-3000:]}"
        assert re.search(r"\b0 objects (sent|taken)", state), f"{name}: {state!r}"
    # Nothing taken in, nothing followed elsewhere, and the hub still serves.
    assert Hostile.followed == []
    assert read_all(objects_url, ("nis-analyst", SECRETS["RELTO_PW_NIS"])) == before
    with urllib.request.urlopen(f"{kor.url}/healthz", timeout=10) as r:
        assert r.status == 200
    metrics = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
    for name in CASES:
        m = re.search(rf'^relto_peer_failures_total{{peer="{re.escape(name)}"}} (\d+)', metrics, re.M)
        assert m and int(m.group(1)) >= 1, f"{name}: {metrics[-2000:]}"
    log = kor.stderr()
    for name, (_, why) in CASES.items():
        assert re.search(rf"exchange with peer failed.*peer\S*=\S*{re.escape(name)}\b.*{re.escape(why)}",
                         re.sub(r"\x1b\[[0-9;]*m", "", log)), name
