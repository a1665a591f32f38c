"""Federation with medallion, the OASIS TAXII 2.1 reference server (issue 16): relto pushes
the peer organization's view into a medallion collection and pulls another medallion
collection through its one ingest path, and what medallion's own client (taxii2-client)
sees matches what relto's release path serves that organization.

medallion's ways are its own: one date_added for every object of a POST, a stateful `next`
(a repeated request skips a page), pages of at most 100 objects, a re-post answered as a
failure.  The pull must take every object once, including one that arrives late with an
old `modified`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from taxii2client.v21 import Collection, as_pages

from conftest import REPO_ROOT
from test_federation import (KOR_COLL, LABEL_MIX, NIS, SECRETS, by_version, free_ports, indicator,
                             kor_analyst, kor_hub_with_peers, read_all, withheld_by_tlp)

PUSHED = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"   # relto pushes here
OFFERED = "0d2e4c6a-8b1f-4a3c-9e5d-7f6a8b9c0d1e"  # a partner posts here; relto pulls it
MEDALLION_USER = ("partner", "Partner-medallion-passw0rd")


def medallion_config(out: Path, port: int) -> Path:
    root = f"http://127.0.0.1:{port}/api1/"
    collection = lambda cid, title: {
        "id": cid, "title": title, "can_read": True, "can_write": True,
        "media_types": ["application/stix+json;version=2.1"], "objects": [], "manifest": []}
    data = {
        "/discovery": {"title": "partner medallion", "default": root, "api_roots": [root]},
        "api1": {
            "information": {"title": "partner", "versions": ["application/taxii+json;version=2.1"],
                            "max_content_length": 104857600},
            "status": [],
            "collections": [collection(PUSHED, "from KOR"), collection(OFFERED, "for KOR")],
        },
    }
    (out / "data.json").write_text(json.dumps(data))
    config = {
        "backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                    "filename": str(out / "data.json"), "session_timeout": 3600, "check_interval": 10},
        "users": {MEDALLION_USER[0]: MEDALLION_USER[1]},
        "taxii": {"max_page_size": 100},
    }
    (out / "config.json").write_text(json.dumps(config))
    return out / "config.json"


@pytest.fixture(scope="module")
def medallion_and_kor(tmp_path_factory):
    base = tmp_path_factory.mktemp("medallion")
    kor_port, med_port = free_ports(2)
    exe = shutil.which("medallion", path=str(Path(sys.executable).parent))
    assert exe, "medallion is not installed in the test virtualenv (tests/requirements.txt)"
    log = open(base / "medallion.log", "wb")
    med = subprocess.Popen([exe, "--host", "127.0.0.1", "--port", str(med_port),
                            str(medallion_config(base, med_port))], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{med_port}/api1/"
    deadline = time.monotonic() + 30
    while True:
        try:
            Collection(f"{url}collections/{PUSHED}/", user=MEDALLION_USER[0],
                       password=MEDALLION_USER[1]).get_objects()
            break
        except Exception:
            assert med.poll() is None and time.monotonic() < deadline, \
                (base / "medallion.log").read_text(errors="replace")
            time.sleep(0.2)
    # KOR's realm of examples/federation/, its peers replaced by the medallion ones.
    SECRETS.update(RELTO_PEER_MED_USER=MEDALLION_USER[0], RELTO_PEER_MED_PW=MEDALLION_USER[1])
    kor = kor_hub_with_peers(base, kor_port, [("partner-push", f"{url}collections/{PUSHED}/", "push"),
                                              ("partner-pull", f"{url}collections/{OFFERED}/", "pull")],
                             "RELTO_PEER_MED")
    kor.start()
    yield kor, url
    kor.kill()
    med.kill()
    med.wait(15)
    log.close()


def medallion_objects(url: str, collection: str) -> list[dict]:
    """Every version in a medallion collection, as taxii2-client reads it (page by page)."""
    c = Collection(f"{url}collections/{collection}/", user=MEDALLION_USER[0], password=MEDALLION_USER[1])
    out = []
    for envelope in as_pages(c.get_objects, per_request=100, **{"match[version]": "all"}):
        out.extend(envelope.get("objects", []))
    return out


def test_relto_pushes_to_medallion_exactly_the_partners_view(medallion_and_kor):
    kor, url = medallion_and_kor
    objects_url = f"{kor.url}/coalition/collections/{KOR_COLL}/objects/"
    report = json.loads((REPO_ROOT / "examples" / "situation-report.json").read_text())
    kor_analyst().post_envelope(objects_url, report["objects"])
    kor_analyst().post_envelope(objects_url, [indicator(n, LABEL_MIX[n % len(LABEL_MIX)]) for n in range(250)])
    view = read_all(objects_url, ("nato-hub", SECRETS["RELTO_PW_NATO_HUB"]))
    # What KOR itself wrote (objects pulled from medallion, in the other test, are left out).
    ours = lambda o: not o["id"].startswith("indicator--") or o.get("created_by_ref") == NIS
    expected = by_version([o for o in view if not withheld_by_tlp(o) and ours(o)])
    deadline = time.monotonic() + 90
    while True:
        got = by_version([o for o in medallion_objects(url, PUSHED) if ours(o)])
        if got == expected or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    missing, extra = set(expected) - set(got), set(got) - set(expected)
    assert not missing and not extra, f"{len(missing)} missing {sorted(missing)[:3]}, {len(extra)} extra {sorted(extra)[:3]}\n{kor.peers()}"
    for k in expected:
        assert got[k] == expected[k], k
    assert "partner-push  push" in kor.peers()


def test_relto_pulls_from_medallion_every_object_once_late_ones_included(medallion_and_kor):
    kor, url = medallion_and_kor
    offered = Collection(f"{url}collections/{OFFERED}/", user=MEDALLION_USER[0], password=MEDALLION_USER[1])

    def partner_indicator(n: int, modified: str) -> dict:
        return {"type": "indicator", "spec_version": "2.1",
                "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, f'medallion-{n}')}",
                "created": modified, "modified": modified,
                "name": f"Partner sighting {n}", "pattern": f"[domain-name:value = 'c2-{n}.example']",
                "pattern_type": "stix", "valid_from": "2026-11-01T00:00:00Z"}

    first = [partner_indicator(n, "2026-11-01T00:00:00.000Z") for n in range(230)]
    offered.add_objects({"objects": first})
    mine = lambda: {o["id"]: o for o in read_all(f"{kor.url}/coalition/collections/{KOR_COLL}/objects/",
                                                ("nis-analyst", SECRETS["RELTO_PW_NIS"]))
                    if o.get("name", "").startswith("Partner sighting")}
    deadline = time.monotonic() + 60
    while len(mine()) < len(first) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert set(mine()) == {o["id"] for o in first}, kor.peers()
    # Late: an object whose `modified` is older than everything taken so far.
    late = partner_indicator(999, "2020-01-01T00:00:00.000Z")
    offered.add_objects({"objects": [late]})
    deadline = time.monotonic() + 60
    while late["id"] not in mine() and time.monotonic() < deadline:
        time.sleep(0.5)
    got = mine()
    assert late["id"] in got, kor.peers()
    assert got[late["id"]] == late
    versions = read_all(f"{kor.url}/coalition/collections/{KOR_COLL}/objects/",
                        ("nis-analyst", SECRETS["RELTO_PW_NIS"]))
    by_version([o for o in versions if o.get("name", "").startswith("Partner sighting")])   # each once
    peers = kor.peers()
    assert "partner-pull  pull" in peers and "231 objects" in peers.split("partner-pull")[1], peers
