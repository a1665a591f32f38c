"""The README's "Step by step: a release plan", as users do it: the coalition example applied
with its demo passwords, SITREP 2 posted KOR-only, the plan of examples/situation-plan.toml
proposed with `relto plan create`, each stage signed by KOR-NIS's two releasing officers (one
over the JSON API, one with `relto plan approve`), and what NATO's and the EU's readers
receive over TAXII with the OASIS client before, between and after, every object checked with
stix2 and stix2-validator.  Runs on the store the suite runs on."""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest
import requests
from taxii2client.v21 import Collection, as_pages

from conftest import REPO_ROOT, Hub, relto_env, require_binary
from taxii_helpers import check_served_objects, items
from test_served_stix import COALITION, COL, DEMO_ENV, REPORT, ROOT, password

UPDATE = REPO_ROOT / "examples" / "situation-update.json"
PLAN = REPO_ROOT / "examples" / "situation-plan.toml"
SITREP2 = "report--9d8c7b6a-5f4e-4d3c-a2b1-0f9e8d7c6b5a"


def relto(data_dir, *args, stdin: str | None = None, ok: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run([require_binary(), *args, "--data-dir", str(data_dir)],
                         env=relto_env(data_dir) | DEMO_ENV, input=stdin,
                         capture_output=True, text=True, timeout=120)
    if ok:
        assert res.returncode == 0, f"relto {' '.join(args)} failed ({res.returncode}): {res.stderr[-2000:]}"
    return res


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    base = tmp_path_factory.mktemp("release_plan")
    data_dir = base / "data"
    data_dir.mkdir()
    relto(data_dir, "apply", str(COALITION))
    for bundle in (REPORT, UPDATE):
        relto(data_dir, "import", "--quiet", "--collection", COL, "--as", "nis-analyst", str(bundle))
    h = Hub(data_dir=data_dir, realm_file=COALITION, log_dir=base)
    h.start()
    yield h
    h.stop()


def view(hub, name) -> dict:
    """What `name` receives of the collection over TAXII, by id; every object checked."""
    col = Collection(hub.collection_url(COL, ROOT), user=name, password=password(name))
    objs = [o for page in as_pages(col.get_objects, per_request=7) for o in items(page)]
    check_served_objects(objs, f"{name}: TAXII objects under a release plan")
    return {o["id"]: o for o in objs}


def api(hub, name, method, path, body=None):
    url = f"{hub.base_url}/api/v1/{path}"
    resp = requests.request(method, url, auth=(name, password(name)), json=body, timeout=30)
    return resp.status_code, resp.json()


def until(check, what: str, seconds: float = 5.0):
    """Servers pick up a change written by the CLI within a second."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


class Stream:
    """A reader's live stream (GET /api/v1/collections/{id}/stream, as an EventSource asks
    for it), its events collected in the background as (event, data)."""

    def __init__(self, hub, name):
        self.events: list[tuple[str, dict]] = []
        self.resp = requests.get(f"{hub.base_url}/api/v1/collections/{COL}/stream",
                                 auth=(name, password(name)), headers={"Accept": "text/event-stream"},
                                 stream=True, timeout=(10, None))
        assert self.resp.status_code == 200, self.resp.text
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        kind, data = "", []
        try:
            for line in self.resp.iter_lines(decode_unicode=True):
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
                elif line == "" and kind:
                    self.events.append((kind, json.loads("\n".join(data))))
                    kind, data = "", []
        except Exception:  # the connection closed at teardown
            pass

    def objects(self, oid):
        return [d for k, d in self.events if k == "object" and d.get("id") == oid]

    def withdrawn(self, oid):
        return [d for k, d in self.events if k == "withdrawn" and d.get("id") == oid]


def test_a_plan_widens_release_stage_by_stage(hub):
    data = hub.data_dir
    streams = {name: Stream(hub, name) for name in ("dia-reader", "intcen-reader")}
    assert SITREP2 not in view(hub, "dia-reader"), "posted KOR-only"
    # An analyst proposes; the CLI asks for the password (here on standard input).
    wrong = relto(data, "plan", "create", "--as", "nis-analyst", str(PLAN), stdin="nope\n", ok=False)
    assert wrong.returncode != 0 and "wrong password" in wrong.stderr, wrong.stderr
    created = json.loads(relto(data, "plan", "create", "--as", "nis-analyst", str(PLAN),
                               stdin=password("nis-analyst") + "\n").stdout)
    sid = created["id"]
    # A plan file that is not TOML, or names a policy the realm does not know: refused, with
    # the file and what to fix named, and nothing proposed.
    for text, says in (('title = "x"\nstages = [[', "bad-plan.toml"),
                       (PLAN.read_text(encoding="utf-8").replace('"NATO", classification', '"NAT0", classification'),
                        "unknown policy 'NAT0'")):
        bad = hub.data_dir.parent / "bad-plan.toml"
        bad.write_text(text, encoding="utf-8")
        res = relto(data, "plan", "create", "--as", "nis-analyst", str(bad),
                    stdin=password("nis-analyst") + "\n", ok=False)
        assert res.returncode != 0 and says in res.stderr, res.stderr
    assert [s["state"] for s in created["stages"]] == ["proposed", "proposed"]

    # Stage 1 (NATO): the preview over the API names who receives what.
    status, preview = api(hub, "nis-releaser", "GET", f"situations/{sid}/stages/1/preview")
    assert status == 200, preview
    audiences = {c["audience"] for c in preview["changes"] if c["id"] == SITREP2}
    assert "usa-dia" in audiences and "eu-intcen" not in audiences, preview
    status, answer = api(hub, "nis-releaser", "POST", f"situations/{sid}/stages/1/approve",
                         {"snapshot": preview["snapshot"]})
    assert status == 200 and answer["stages"][0]["state"] == "proposed", answer
    assert SITREP2 not in view(hub, "dia-reader"), "one signature releases nothing"
    # The second officer signs with the CLI, which shows the same preview first.
    signed = relto(data, "plan", "approve", sid, "1", "--as", "nis-releaser-2",
                   stdin=password("nis-releaser-2") + "\n")
    assert preview["snapshot"] in signed.stderr
    assert json.loads(signed.stdout)["stages"][0]["state"] == "active"
    until(lambda: SITREP2 in view(hub, "dia-reader"), "NATO receives SITREP 2 after two signatures")
    nato = view(hub, "dia-reader")
    assert "external_references" in nato[SITREP2]
    assert set(nato[SITREP2]["object_refs"]) <= set(nato), "every reference it keeps is served"
    assert SITREP2 not in view(hub, "intcen-reader"), "not yet the EU"

    # Stage 2 (the EU, without the sources), both officers over the API.
    status, preview = api(hub, "nis-releaser", "GET", f"situations/{sid}/stages/2/preview")
    assert status == 200, preview
    mine = [c for c in preview["changes"] if c["id"] == SITREP2 and c["audience"] == "eu-intcen"]
    assert mine and mine[0]["outcome"] == "redact" and mine[0]["withheld"] == ["external_references"], preview
    for officer in ("nis-releaser", "nis-releaser-2"):
        status, answer = api(hub, officer, "POST", f"situations/{sid}/stages/2/approve",
                             {"snapshot": preview["snapshot"]})
        assert status == 200, answer
    eu = view(hub, "intcen-reader")
    assert SITREP2 in eu and "external_references" not in eu[SITREP2], eu.get(SITREP2)

    # Withdrawal: one officer; NATO's readers no longer receive it, the EU's still do.
    status, answer = api(hub, "nis-releaser-2", "POST", f"situations/{sid}/stages/1/withdraw")
    assert status == 200 and answer["stages"][0]["state"] == "withdrawn", answer
    assert SITREP2 not in view(hub, "dia-reader")
    assert SITREP2 in view(hub, "intcen-reader")

    # The live streams followed: what each stage released arrived as the reader's view (stix2
    # and the validator accept every object sent), and the withdrawal as `withdrawn`.
    dia, intcen = streams["dia-reader"], streams["intcen-reader"]
    until(lambda: dia.withdrawn(SITREP2) and intcen.objects(SITREP2), "the streams' events")
    for name, st in streams.items():
        check_served_objects([d for k, d in st.events if k == "object"], f"{name}: live stream")
    assert "external_references" in dia.objects(SITREP2)[0]
    assert all("external_references" not in o for o in intcen.objects(SITREP2))
    assert not intcen.withdrawn(SITREP2), "stage 2 still releases it to the EU"
    for st in streams.values():
        st.resp.close()

    # The ledger names the stage that released each copy.
    ledger = relto(data, "audit", "ledger", SITREP2).stdout
    assert "dia-reader" in ledger and "admitted by stage 1 of situation " + sid in ledger, ledger
    assert "intcen-reader" in ledger and "admitted by stage 2" in ledger, ledger
