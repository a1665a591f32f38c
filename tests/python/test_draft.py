"""Drafting a report (issue 17): `relto draft` and POST /api/v1/drafts on the running
example's hub (examples/coalition.toml, examples/situation-report.json imported).

Every corpus report (tests/fixtures/drafts/) drafts to a bundle that the OASIS tools accept
(stix2.parse and stix2validator) and that relto itself takes back (`relto import` stores
every object); everything carries the realm's default label or the one asked for. The API
recognises a threat actor of the collection only when the caller may read it: what each
reader's draft names of the collection's actors is exactly what its TAXII view holds.
Bad input is refused with the reason and the right status.
"""

from __future__ import annotations

import json
import subprocess

import requests

from conftest import REPO_ROOT, relto_env, require_binary
from taxii_helpers import check_served_objects
from test_served_stix import COL, DEMO_ENV, READERS, ROOT, example, password  # noqa: F401 (fixture)

DRAFTS = REPO_ROOT / "tests" / "fixtures" / "drafts"
CORPUS = sorted(DRAFTS.glob("*.txt"))
# Labels the example's report defines: NATO RESTRICTED // REL TO KOR, NATO, EU, IP4, and
# NATO SECRET // REL TO KOR, NATO // ATOMAL.
NR_ALL = "marking-definition--e05703d3-be5e-5bed-bdf9-c661e519c617"
NS_ATOMAL = "marking-definition--8d012ce4-f16e-54fd-aaaa-104a9cfab299"


def relto(data_dir, *args, check=True):
    env = relto_env(data_dir) | DEMO_ENV
    res = subprocess.run([require_binary(), *args, "--data-dir", str(data_dir)], env=env,
                         capture_output=True, timeout=120)
    if check:
        assert res.returncode == 0, f"relto {' '.join(map(str, args))}: {res.stderr.decode()[-2000:]}"
    return res


def test_every_corpus_report_drafts_to_stix_the_oasis_tools_and_relto_accept(example, tmp_path):
    assert len(CORPUS) >= 30
    labels = set()
    for report in CORPUS:
        res = relto(example.data_dir, "draft", "--collection", COL, str(report))
        bundle = json.loads(res.stdout)
        assert bundle["type"] == "bundle"
        objects = bundle["objects"]
        check_served_objects(objects, f"relto draft {report.name}")
        assert objects[-1]["type"] == "report" and objects[-1]["description"] == report.read_text()
        labels |= {tuple(o["object_marking_refs"]) for o in objects if o["type"] != "marking-definition"}
        assert b"drafted the bundle above" in res.stderr, res.stderr
        # relto takes it back: every object stored (or already there, for a second draft).
        path = tmp_path / f"{report.stem}.json"
        path.write_text(res.stdout.decode())
        relto(example.data_dir, "import", "--quiet", "--collection", COL, "--as", "nis-analyst", str(path))
    assert len(labels) == 1 and len(next(iter(labels))) == 1, labels
    # Another label when asked for; an unknown one is refused by name.
    res = relto(example.data_dir, "draft", "--label", NR_ALL, str(CORPUS[0]))
    assert {tuple(o["object_marking_refs"]) for o in json.loads(res.stdout)["objects"]
            if o["type"] != "marking-definition"} == {(NR_ALL,)}
    res = relto(example.data_dir, "draft", "--label", "marking-definition--00000000-0000-4000-8000-000000000000",
                str(CORPUS[0]), check=False)
    assert res.returncode != 0 and b"is not a marking-definition this hub knows" in res.stderr


def draft_as(hub, name, text: bytes, **params):
    return requests.post(f"{hub.base_url}/api/v1/drafts", params=params, data=text,
                         headers={"Content-Type": "text/plain; charset=utf-8"},
                         auth=(name, password(name)), timeout=60)


def test_the_api_recognises_only_the_actors_the_caller_may_read(example):
    """The example's collection holds the threat actor 'KPA expeditionary force', and the
    test adds 'Storm Corps' under NATO SECRET // ATOMAL. A draft naming both refers to each
    for exactly the readers whose TAXII view holds it; for the others, neither the hidden
    actor's id nor its name as a recognised actor appears anywhere in the answer."""
    # A second actor, NATO SECRET // ATOMAL: only readers cleared for ATOMAL receive it.
    storm = {"type": "threat-actor", "spec_version": "2.1", "name": "Storm Corps",
             "id": "threat-actor--5b7e6f0a-3c1d-4e2f-9a8b-7c6d5e4f3a2b",
             "created": "2026-11-25T00:00:00.000Z", "modified": "2026-11-25T00:00:00.000Z",
             "object_marking_refs": [NS_ATOMAL]}
    r = requests.post(f"{example.base_url}/{ROOT}/collections/{COL}/objects/", json={"objects": [storm]},
                      headers={"Content-Type": "application/taxii+json;version=2.1",
                               "Accept": "application/taxii+json;version=2.1"},
                      auth=("nis-analyst", password("nis-analyst")), timeout=60)
    assert r.status_code == 202 and r.json()["success_count"] == 1, r.text
    text = ("KPA movements\nSeoul, 2 December 2026\n\nThe KPA expeditionary force is stationed in "
            "Kursk, according to the National Intelligence Service. The Storm Corps follows.").encode()
    seen_by = {}
    for name in READERS:
        view = requests.get(f"{example.base_url}/{ROOT}/collections/{COL}/objects/",
                            params={"match[type]": "threat-actor"}, auth=(name, password(name)),
                            headers={"Accept": "application/taxii+json;version=2.1"}, timeout=60)
        assert view.status_code == 200, view.text
        visible = {o["id"] for o in view.json().get("objects", [])}
        r = draft_as(example, name, text, collection=COL)
        assert r.status_code == 200, (name, r.text)
        body = r.json()
        check_served_objects(body["bundle"]["objects"], f"{name}: POST /api/v1/drafts")
        actors = {e["id"] for e in body["extractions"] if e["key"].startswith("threat-actor:")}
        assert actors == visible, (name, actors, visible)
        seen_by[name] = storm["id"] in visible
        if storm["id"] not in visible:
            assert storm["id"] not in r.text and "threat-actor:Storm Corps" not in r.text
        if visible:
            assert "located-at:threat-actor:KPA expeditionary force->city:Kursk" in body["relationships"]
        assert body["published"] == "2026-12-02"
    # Some readers are cleared for ATOMAL, some are not.
    assert True in seen_by.values() and False in seen_by.values(), seen_by


def test_bad_drafts_are_refused_with_the_reason(example, tmp_path):
    for body, headers, status, says in (
            (b"\x00\x01\x02binary\xff", {}, 422, "not text"),
            (b"   \n", {}, 422, "empty"),
            (b"nothing named here at all", {}, 422, "nothing in the report"),
            (b"Report", {"Content-Type": "application/json"}, 415, "text/plain"),
            (b"x" * (8 * 1024 * 1024 + 1), {}, 413, ""),
    ):
        r = requests.post(f"{example.base_url}/api/v1/drafts", data=body,
                          headers={"Content-Type": "text/plain", **headers},
                          auth=("nis-analyst", password("nis-analyst")), timeout=60)
        assert r.status_code == status and says in r.text, (body[:20], r.status_code, r.text[:300])
    r = requests.post(f"{example.base_url}/api/v1/drafts", data=b"NATO", params={"label": "nope"},
                      auth=("nis-analyst", password("nis-analyst")), timeout=60)
    assert r.status_code == 422 and "is not a marking-definition" in r.text
    r = requests.post(f"{example.base_url}/api/v1/drafts", data=b"NATO", timeout=60)
    assert r.status_code == 401
    # The CLI: 50 MB of text and a binary file are refused with what to do, quickly.
    big = tmp_path / "big.txt"
    big.write_bytes(b"The North Atlantic Council met in Brussels. " * (50 * 1024 * 1024 // 44))
    res = relto(example.data_dir, "draft", str(big), check=False)
    assert res.returncode != 0 and b"at most" in res.stderr and b"split it" in res.stderr, res.stderr
    binary = tmp_path / "image.png"
    binary.write_bytes(bytes(range(256)) * 64)
    res = relto(example.data_dir, "draft", str(binary), check=False)
    assert res.returncode != 0 and b"not text" in res.stderr, res.stderr
