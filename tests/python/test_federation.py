"""Federation (DESIGN §11, issue 16): three relto hubs on loopback ports, with the realms of
examples/federation/ — KOR's joint team pushes to NATO's and the EU's hubs, NATO's hub also
pulls from KOR and pushes back to it (a loop).

Each partner hub must end with exactly what KOR's release path serves the partner
organization (read at KOR by an account of that organization with the peer's clearances):
object by object and field by field, nothing more, nothing less, each version once, and
nothing marked TLP AMBER or RED.  Hubs are killed with SIGKILL and restarted while objects
are posted, and the exchange must still lose and duplicate nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import REPO_ROOT, relto_env, require_binary
from taxii_helpers import Client

EXAMPLES = REPO_ROOT / "examples" / "federation"
KOR_COLL = "d95d9fbf-6ffc-4dfc-bd9a-3bc1bb34c0d4"
NATO_COLL = "4b0c8a1e-2f3d-4e5a-9b6c-7d8e9f0a1b2c"
EU_COLL = "6e5d4c3b-2a19-4807-b6a5-94837261f0e1"
EXAMPLE_PORTS = {"kor": 9101, "nato": 9102, "eu": 9103}

SECRETS = {
    "RELTO_PW_NIS": "Nis-fed-passw0rd",
    "RELTO_PW_NIS_REL": "Nis-rel-passw0rd",
    "RELTO_PW_NIS_REL2": "Nis-rel2-passw0rd",
    "RELTO_PW_NATO_HUB": "Nato-hub-passw0rd",
    "RELTO_PW_INTCEN": "Intcen-passw0rd",
    "RELTO_PW_NATO_RELAY": "Nato-relay-passw0rd",
    "RELTO_PW_NATO_READER": "Nato-reader-passw0rd",
    "RELTO_PW_EU_READER": "Eu-reader-passw0rd",
    "RELTO_PEER_NATO_USER": "kor-relay",
    "RELTO_PEER_NATO_PW": "Kor-relay-nato-passw0rd",
    "RELTO_PEER_EU_USER": "kor-relay",
    "RELTO_PEER_EU_PW": "Kor-relay-eu-passw0rd",
    "RELTO_PEER_KOR_USER": "nato-hub",
    "RELTO_PEER_KOR_PW": "Nato-hub-passw0rd",
    "RELTO_PEER_KOR_RELAY_USER": "nato-relay",
    "RELTO_PEER_KOR_RELAY_PW": "Nato-relay-passw0rd",
    "RELTO_ADMIN_PASSWORD": "Admin-fed-passw0rd",
}
# KOR's relay account has a password of its own on each partner hub.
RELAY_PW = {"nato": "Kor-relay-nato-passw0rd", "eu": "Kor-relay-eu-passw0rd"}

# Labels of examples/situation-report.json, and who among the partners may receive each.
NR_ALL = "marking-definition--e05703d3-be5e-5bed-bdf9-c661e519c617"      # NATO and EU
NS_NATO = "marking-definition--79265d03-a7fe-5587-a043-e25d09796916"     # NATO
NS_ATOMAL = "marking-definition--8d012ce4-f16e-54fd-aaaa-104a9cfab299"   # neither (ATOMAL)
EUC_EU = "marking-definition--2e9b36dc-691d-560c-8fc4-13982ea37fc3"      # EU
KOR_USA = "marking-definition--4e515785-c3a6-5cb8-8abf-3e5091c562e1"     # neither
TLP_AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
TLP_RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
TLP_GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
NIS = "identity--db2e697d-e68a-51da-8b0a-6edb5d2575a4"


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class FedHub:
    """One hub of the federation: its realm from examples/federation/, its own port."""

    def __init__(self, name: str, base: Path, ports: dict[str, int], examples: Path = EXAMPLES,
                 public_keys: dict[str, str] | None = None, extra: list[str] | None = None):
        self.name = name
        self.port = ports[name]
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = base / name
        self.data.mkdir()
        realm = (examples / f"{name}.toml").read_text(encoding="utf-8")
        for hub, example in EXAMPLE_PORTS.items():
            if hub in ports:
                realm = realm.replace(f"127.0.0.1:{example}/", f"127.0.0.1:{ports[hub]}/")
        realm = realm.replace("interval_secs = 2", "interval_secs = 1")
        # Accounts of peer hubs whose writes must be signed: their public key goes in.
        for account, key in (public_keys or {}).items():
            realm = realm.replace(f'name = "{account}"\n', f'name = "{account}"\npublic_key = "{key}"\n', 1)
        # Each hub goes by its own name on hop paths (DESIGN §11).
        self.extra = ["--hub-name", name] + (extra or [])
        self.realm = base / f"{name}.toml"
        self.realm.write_text(realm, encoding="utf-8")
        self.env = relto_env(self.data) | SECRETS
        if name in RELAY_PW:
            self.env["RELTO_PW_KOR_RELAY"] = RELAY_PW[name]
        res = subprocess.run([require_binary(), "apply", "--data-dir", str(self.data), str(self.realm)],
                             env=self.env, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        self.proc = None
        self.starts = 0

    def start(self, extra: list[str] | None = None):
        self.starts += 1
        self.log = open(self.data.parent / f"{self.name}-{self.starts}.stderr", "wb")
        self.proc = subprocess.Popen(
            [require_binary(), "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data)]
            + self.extra + (extra or []),
            env=self.env, stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        assert "relto listening on" in line, f"{self.name} did not start: {line!r}"
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def kill(self):
        """SIGKILL: no shutdown, no flush."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(15)
            self.proc = None
            self.log.close()

    def peers(self) -> str:
        return subprocess.run([require_binary(), "peers", "--data-dir", str(self.data)], env=self.env,
                              capture_output=True, text=True, timeout=60).stdout

    def stderr(self) -> str:
        return "\n".join(p.read_text(errors="replace")
                         for p in sorted(self.data.parent.glob(f"{self.name}-*.stderr")))


def kor_hub_with_peers(base: Path, port: int, peers: list[tuple[str, str, str]], user_env: str) -> FedHub:
    """KOR's hub of examples/federation/kor.toml with other peers: (name, url, direction),
    each for NATO's International Staff, with the credentials named by `user_env`_USER/_PW."""
    realm = (EXAMPLES / "kor.toml").read_text(encoding="utf-8").split("[[peer]]")[0]
    for name, url, direction in peers:
        realm += f"""
[[peer]]
name = "{name}"
organization = "nato-is"
url = "{url}"
direction = "{direction}"
collection = "{KOR_COLL}"
account_env = "{user_env}_USER"
password_env = "{user_env}_PW"
interval_secs = 1
clearances = [{{ policy = "NATO", level = "NS", sensitivity = [] }}]
"""
    examples = base / "examples"
    examples.mkdir()
    (examples / "kor.toml").write_text(realm, encoding="utf-8")
    return FedHub("kor", base, {"kor": port}, examples=examples)


def read_all(url: str, auth) -> list[dict]:
    """Every version of every object the account receives (checked as served STIX)."""
    c = Client(auth=auth)
    out = []
    for _, body in c.pages(url, {"match[version]": "all"}, limit=500, max_pages=1000):
        out.extend(body.get("objects", []))
    return out


def version_key(o: dict) -> tuple[str, str]:
    return o["id"], o.get("modified") or o.get("created") or ""


def by_version(objects: list[dict]) -> dict:
    keyed = {}
    for o in objects:
        k = version_key(o)
        assert k not in keyed, f"{k} served twice"
        keyed[k] = o
    return keyed


def withheld_by_tlp(o: dict) -> bool:
    refs = list(o.get("object_marking_refs", [])) + [g.get("marking_ref") for g in o.get("granular_markings", [])]
    return any(r in (TLP_AMBER, TLP_RED) for r in refs)


def indicator(n: int, labels: list[str], modified: str = "2026-12-01T00:00:00.000Z") -> dict:
    return {
        "type": "indicator", "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, f'fed-{n}')}",
        "created": "2026-12-01T00:00:00.000Z", "modified": modified,
        "created_by_ref": NIS,
        "name": f"Storm Corps staging area {n}",
        "pattern": f"[ipv4-addr:value = '203.0.113.{n % 250}']",
        "pattern_type": "stix", "valid_from": "2026-12-01T00:00:00Z",
        "object_marking_refs": labels,
    }


LABEL_MIX = [[NR_ALL], [NS_NATO], [EUC_EU], [KOR_USA], [NS_ATOMAL], [NR_ALL, TLP_AMBER],
             [NR_ALL, TLP_GREEN], [NS_NATO, TLP_RED], []]


@pytest.fixture(scope="module")
def federation(tmp_path_factory):
    base = tmp_path_factory.mktemp("federation")
    kor_port, nato_port, eu_port = free_ports(3)
    ports = {"kor": kor_port, "nato": nato_port, "eu": eu_port}
    # KOR's hub signs what it sends; NATO's hub requires it of KOR's relay (the EU's does not).
    key = base / "kor.key"
    made = subprocess.run([require_binary(), "key", "create", "--out", str(key)], capture_output=True,
                          text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    public_key = made.stdout.split('"')[1]
    hubs = {"nato": FedHub("nato", base, ports, public_keys={"kor-relay": public_key}),
            "eu": FedHub("eu", base, ports),
            "kor": FedHub("kor", base, ports, extra=["--signing-key", str(key)])}
    for h in hubs.values():
        h.start()
    hubs["kor"].public_key = public_key
    yield hubs
    for h in hubs.values():
        h.kill()


def kor_analyst():
    return Client(auth=("nis-analyst", SECRETS["RELTO_PW_NIS"]))


def expected_and_received(hubs, partner: str):
    kor = hubs["kor"]
    if partner == "nato":
        view = read_all(f"{kor.url}/coalition/collections/{KOR_COLL}/objects/",
                        ("nato-hub", SECRETS["RELTO_PW_NATO_HUB"]))
        got = read_all(f"{hubs['nato'].url}/nato/collections/{NATO_COLL}/objects/",
                       ("kor-relay", RELAY_PW["nato"]))
    else:
        view = read_all(f"{kor.url}/coalition/collections/{KOR_COLL}/objects/",
                        ("intcen-reader", SECRETS["RELTO_PW_INTCEN"]))
        got = read_all(f"{hubs['eu'].url}/eu/collections/{EU_COLL}/objects/",
                       ("kor-relay", RELAY_PW["eu"]))
    expected = by_version([o for o in view if not withheld_by_tlp(o)])
    return expected, by_version(got)


def wait_converged(hubs, partner: str, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while True:
        expected, got = expected_and_received(hubs, partner)
        if expected == got or time.monotonic() > deadline:
            return expected, got
        time.sleep(0.5)


def assert_exactly(expected: dict, got: dict, partner: str, hubs):
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    assert not missing and not extra, (
        f"{partner}: {len(missing)} missing, {len(extra)} more than decide() allows: "
        f"{missing[:3]} {extra[:3]}\nKOR peers:\n{hubs['kor'].peers()}\n{partner} log:\n{hubs[partner].stderr()[-3000:]}")
    for k, o in expected.items():
        assert got[k] == o, f"{partner}: {k} differs field by field:\nexpected {o}\nreceived {got[k]}"


def test_partner_hubs_receive_exactly_their_view(federation):
    hubs = federation
    report = json.loads((REPO_ROOT / "examples" / "situation-report.json").read_text())
    kor = hubs["kor"]
    objects_url = f"{kor.url}/coalition/collections/{KOR_COLL}/objects/"
    kor_analyst().post_envelope(objects_url, report["objects"])
    kor_analyst().post_envelope(objects_url, [indicator(n, LABEL_MIX[n % len(LABEL_MIX)]) for n in range(60)])
    for partner in ("nato", "eu"):
        expected, got = wait_converged(hubs, partner)
        assert_exactly(expected, got, partner, hubs)
        # The report reached both partners redacted as KOR's release path redacts it.
        assert any(k[0].startswith("report--") for k in got), partner
        assert not any(withheld_by_tlp(o) for o in got.values()), partner
    nato_ids = {k[0] for k in expected_and_received(hubs, "nato")[1]}
    eu_ids = {k[0] for k in expected_and_received(hubs, "eu")[1]}
    assert indicator(1, [])["id"] in nato_ids and indicator(1, [])["id"] not in eu_ids   # NS REL NATO
    assert indicator(2, [])["id"] in eu_ids and indicator(2, [])["id"] not in nato_ids   # EU-C REL EU
    assert indicator(0, [])["id"] in nato_ids | eu_ids and indicator(0, [])["id"] in eu_ids
    for n in (3, 4, 5, 7):   # KOR-USA, ATOMAL, TLP AMBER, TLP RED: nobody
        assert indicator(n, [])["id"] not in nato_ids | eu_ids, n
    peers = kor.peers()
    assert "nato-hub  push" in peers and "withheld" in peers, peers


def test_a_stage_released_to_nato_and_withdrawn_on_kor_is_withdrawn_on_natos_hub(federation):
    """SITREP 2 is posted KOR-only; stage 1 of examples/situation-plan.toml, signed by two
    releasing officers, releases it to NATO, whose hub then holds it; withdrawn on KOR, it is
    withdrawn from NATO's hub too (TAXII DELETE as KOR's relay), and the hub ends, again,
    with exactly NATO's view."""
    hubs = federation
    kor = hubs["kor"]
    sitrep2 = "report--9d8c7b6a-5f4e-4d3c-a2b1-0f9e8d7c6b5a"
    update = json.loads((REPO_ROOT / "examples" / "situation-update.json").read_text())
    kor_analyst().post_envelope(f"{kor.url}/coalition/collections/{KOR_COLL}/objects/", update["objects"])

    def relto(*args, password):
        res = subprocess.run([require_binary(), *args, "--data-dir", str(kor.data)], env=kor.env,
                             input=password + "\n", capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        return res.stdout

    def at_nato():
        return {k[0] for k in expected_and_received(hubs, "nato")[1]}

    assert sitrep2 not in at_nato()
    sid = json.loads(relto("plan", "create", "--as", "nis-analyst", str(REPO_ROOT / "examples" / "situation-plan.toml"),
                           password=SECRETS["RELTO_PW_NIS"]))["id"]
    relto("plan", "approve", sid, "1", "--as", "nis-releaser", password=SECRETS["RELTO_PW_NIS_REL"])
    relto("plan", "approve", sid, "1", "--as", "nis-releaser-2", password=SECRETS["RELTO_PW_NIS_REL2"])
    expected, got = wait_converged(hubs, "nato")
    assert_exactly(expected, got, "nato", hubs)
    assert sitrep2 in {k[0] for k in got}, "stage 1 released SITREP 2 to NATO's hub"
    relto("plan", "withdraw", sid, "1", "--as", "nis-releaser", password=SECRETS["RELTO_PW_NIS_REL"])
    expected, got = wait_converged(hubs, "nato")
    assert_exactly(expected, got, "nato", hubs)
    assert sitrep2 not in {k[0] for k in got}, "the withdrawal reached NATO's hub"
    audit = subprocess.run([require_binary(), "audit", "export", "--data-dir", str(kor.data)], env=kor.env,
                           capture_output=True, text=True, timeout=120).stdout
    assert any(sitrep2 in line and "withdrawn from peer nato-hub" in line for line in audit.splitlines())
    # NATO's hub took the withdrawal in one batch (POST /api/v1/withdrawals), from KOR's relay.
    nato = hubs["nato"]
    audit = subprocess.run([require_binary(), "audit", "export", "--data-dir", str(nato.data)], env=nato.env,
                           capture_output=True, text=True, timeout=120).stdout
    assert any(sitrep2 in line and "withdrawn by peer hub kor-relay" in line for line in audit.splitlines())


def test_sigkill_of_any_hub_mid_transfer_loses_and_duplicates_nothing(federation):
    hubs = federation
    kor = hubs["kor"]
    objects_url = f"{kor.url}/coalition/collections/{KOR_COLL}/objects/"
    rng = random.Random(16)
    kills = 0
    n = 1000
    for round_ in range(12):
        batch = []
        for _ in range(40):
            n += 1
            batch.append(indicator(n, LABEL_MIX[n % len(LABEL_MIX)]))
        # New versions of earlier objects too (the cursor is date_added, not modified).
        batch.append(indicator(1000 + round_ + 1, LABEL_MIX[(1000 + round_ + 1) % len(LABEL_MIX)],
                               modified=f"2026-12-02T00:00:{round_:02d}.000Z"))
        if kor.proc is None:
            kor.start()
        kor_analyst().post_envelope(objects_url, batch)
        time.sleep(rng.uniform(0.2, 1.5))
        victim = hubs[rng.choice(["kor", "nato", "eu"])]
        victim.kill()
        kills += 1
        time.sleep(rng.uniform(0.1, 1.0))
        victim.start()
    assert kills >= 10
    for partner in ("nato", "eu"):
        expected, got = wait_converged(hubs, partner, timeout=120)
        assert_exactly(expected, got, partner, hubs)
    # The loop NATO → KOR brought nothing back: KOR holds each version once, only its own.
    mine = by_version(read_all(objects_url, ("nis-analyst", SECRETS["RELTO_PW_NIS"])))
    assert all(o.get("created_by_ref") in (None, NIS) or o["type"] == "identity" for o in mine.values())
    for name in ("kor", "nato", "eu"):
        assert "panicked" not in hubs[name].stderr(), name


def test_two_nodes_of_one_hub_push_each_object_once(tmp_path_factory):
    """Two `relto serve` nodes on KOR's one store (one PostgreSQL database, or one SQLite data
    directory) both run the peers' workers; the lease lets one push at a time, so each object
    version is released to the NATO hub once (KOR's audit says so), and NATO has them all."""
    base = tmp_path_factory.mktemp("two-nodes")
    kor_port, second_port, nato_port, eu_port = free_ports(4)
    ports = {"kor": kor_port, "nato": nato_port, "eu": eu_port}
    nato = FedHub("nato", base, ports)
    kor = FedHub("kor", base, ports)
    nato.start()
    kor.start()
    second = subprocess.Popen(
        [require_binary(), "serve", "--listen", f"127.0.0.1:{second_port}", "--data-dir", str(kor.data)],
        env=kor.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        report = json.loads((REPO_ROOT / "examples" / "situation-report.json").read_text())
        objects_url = f"{kor.url}/coalition/collections/{KOR_COLL}/objects/"
        kor_analyst().post_envelope(objects_url, report["objects"])
        second_url = f"http://127.0.0.1:{second_port}/coalition/collections/{KOR_COLL}/objects/"
        for start in range(0, 300, 50):
            # Half the writes through each node.
            url = objects_url if start % 100 else second_url
            kor_analyst().post_envelope(url, [indicator(n, [NR_ALL]) for n in range(start, start + 50)])
            time.sleep(0.3)
        expected, got = wait_converged({"kor": kor, "nato": nato}, "nato")
        assert_exactly(expected, got, "nato", {"kor": kor, "nato": nato})
        audit = subprocess.run([require_binary(), "audit", "export", "--data-dir", str(kor.data)],
                               env=kor.env, capture_output=True, text=True, timeout=120).stdout
        pushed = {}
        for line in audit.splitlines():
            r = json.loads(line)
            if r["kind"] == "object.release" and r["detail"].startswith("push to peer nato-hub"):
                k = (r["object_id"], r["object_version"])
                pushed[k] = pushed.get(k, 0) + 1
        assert len(pushed) == len(expected), (len(pushed), len(expected))
        twice = {k: n for k, n in pushed.items() if n > 1}
        assert not twice, f"pushed more than once: {list(twice.items())[:5]}"
    finally:
        second.kill()
        second.wait(15)
        kor.kill()
        nato.kill()


def test_hubs_keep_each_others_audit_chain_heads_as_witnesses(federation):
    """Each exchange also exchanges audit chain heads (POST /api/v1/witness): NATO's hub keeps
    KOR's, KOR's keeps NATO's, each in its own chain. KOR's operator checks KOR's chain
    against what NATO kept (`relto audit witnesses`, then `relto audit verify
    --checkpoints`), and the other way round; another hub's chain fails the check, as a
    chain rebuilt from scratch would."""
    hubs = federation
    kor, nato, eu = hubs["kor"], hubs["nato"], hubs["eu"]

    def cli(hub, *args):
        return subprocess.run([require_binary(), *args, "--data-dir", str(hub.data)], env=hub.env,
                              capture_output=True, text=True, timeout=120)

    def kept(hub, of):
        deadline = time.monotonic() + 30
        while True:
            res = cli(hub, "audit", "witnesses", "--of", of)
            if res.returncode == 0 or time.monotonic() > deadline:
                assert res.returncode == 0, res.stderr
                lines = res.stdout.splitlines()
                assert lines and all(json.loads(l)["seq"] >= 1 for l in lines), res.stdout
                path = hub.data.parent / f"witnesses-{hub.name}-{of.replace(':', '-')}.jsonl"
                path.write_text(res.stdout)
                return path
            time.sleep(0.5)

    kor_at_nato = kept(nato, "kor-relay")        # KOR's heads, kept by NATO (KOR pushes)
    nato_at_kor = kept(kor, "peer:nato-hub")     # NATO's heads, kept by KOR
    for hub, witnesses in ((kor, kor_at_nato), (nato, nato_at_kor)):
        res = cli(hub, "audit", "verify", "--checkpoints", str(witnesses))
        assert res.returncode == 0 and "intact" in res.stdout, (hub.name, res.stdout, res.stderr)
    res = cli(eu, "audit", "verify", "--checkpoints", str(kor_at_nato))
    assert res.returncode == 1 and "BROKEN" in res.stdout, res.stdout
    # A head that is not one is refused with a TAXII error body, and nothing is kept.
    for bad in ('{"seq": 0, "hash": "00"}', "not json", '{"seq": 3, "hash": "' + "G" * 64 + '"}'):
        r = kor_analyst().post(f"{kor.url}/api/v1/witness", bad, content_type="application/json")
        assert r.status_code == 400 and "audit chain's head" in r.json()["description"], r.text
    res = cli(kor, "audit", "witnesses", "--of", "nis-analyst")
    assert res.returncode != 0, res.stdout
    res = cli(nato, "audit", "witnesses", "--of", "nobody")
    assert res.returncode != 0 and "no chain head of 'nobody'" in res.stderr, res.stderr


def test_a_peer_hubs_writes_must_be_signed_by_its_key(federation):
    """NATO's realm names KOR's public key on kor-relay: its pushes arrive signed (the other
    tests pass through it). The same account's password without the key is refused (401,
    audited), whether unsigned, signed with garbage, or with a body other than the one
    signed; nothing is stored."""
    hubs = federation
    nato = hubs["nato"]
    url = f"{nato.url}/nato/collections/{NATO_COLL}/objects/"
    body = json.dumps({"objects": [indicator(4242, [NR_ALL])]}).encode()
    relay = Client(auth=("kor-relay", RELAY_PW["nato"]))
    digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
    signed_input = ('relto=("@method" "@authority" "@path" "@query" "content-digest");created='
                    f'{int(time.time())};keyid="x";alg="ed25519"')
    garbage = "relto=:" + base64.b64encode(b"\x01" * 64).decode() + ":"
    cases = {
        "unsigned": ({}, "not signed"),
        "signed with garbage": ({"Content-Digest": digest, "Signature-Input": signed_input,
                                 "Signature": garbage}, "does not match"),
        "another body": ({"Content-Digest": "sha-256=:" + base64.b64encode(b"0" * 32).decode() + ":",
                          "Signature-Input": signed_input, "Signature": garbage}, "Content-Digest"),
    }
    for what, (headers, says) in cases.items():
        r = relay.post(url, body, headers=headers)
        assert r.status_code == 401, (what, r.status_code, r.text)
        assert r.json()["title"] == "Signature required" and says in r.json()["description"], (what, r.text)
    got = {k[0] for k in expected_and_received(hubs, "nato")[1]}
    assert indicator(4242, [])["id"] not in got
    audit = subprocess.run([require_binary(), "audit", "export", "--data-dir", str(nato.data)], env=nato.env,
                           capture_output=True, text=True, timeout=120).stdout
    assert sum("unsigned or badly signed write of a peer hub" in line for line in audit.splitlines()) >= 3


def test_hop_paths_name_where_each_object_came_from_and_nothing_goes_round(federation):
    """Every push and pull between relto hubs names the hubs what it carries passed through
    (Relto-Origin, Relto-Hops; signed with the rest). NATO's hub keeps, for each object it has
    from KOR, the path kor, and tells a peer hub that asks kor,nato; NATO's push back to KOR
    names kor,nato, and KOR refuses to take back what passed through it (audited), where it
    counted duplicates before. Bad paths are refused with the reason."""
    hubs = federation
    kor, nato = hubs["kor"], hubs["nato"]
    expected, _ = wait_converged(hubs, "nato")
    relay = Client(auth=("kor-relay", RELAY_PW["nato"]))
    r = relay.get(f"{nato.url}/nato/collections/{NATO_COLL}/objects/", {"limit": "200"},
                  headers={"Relto-Origin": "kor", "Relto-Hops": "kor"})
    objects = r.json().get("objects", [])
    assert objects, r.text
    paths = r.headers["Relto-Hops"].split(";")
    assert len(paths) == len(objects), (len(paths), len(objects))
    assert set(paths) == {"kor,nato"}, set(paths)
    # A reader that is no peer hub is told nothing of paths.
    plain = relay.get(f"{nato.url}/nato/collections/{NATO_COLL}/objects/", {"limit": "5"})
    assert "Relto-Hops" not in plain.headers

    def kor_audit():
        return subprocess.run([require_binary(), "audit", "export", "--data-dir", str(kor.data)], env=kor.env,
                              capture_output=True, text=True, timeout=120).stdout.splitlines()

    deadline = time.monotonic() + 60
    while True:
        looped = [json.loads(l) for l in kor_audit() if "not taken back" in l]
        if looped or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert looped, "NATO's push back to KOR was not refused as a loop"
    assert all(e["actor"] == "nato-relay" and e["outcome"] == "rejected" for e in looped), looped[:2]
    assert all("kor,nato" in e["detail"] for e in looped), looped[:2]

    url = f"{kor.url}/coalition/collections/{KOR_COLL}/objects/"
    nato_relay = Client(auth=("nato-relay", SECRETS["RELTO_PW_NATO_RELAY"]))
    envelope = {"objects": [indicator(5151, [NR_ALL])]}
    r = nato_relay.post(url, envelope, headers={"Relto-Origin": "eu", "Relto-Hops": "eu,kor,nato"})
    assert r.status_code == 202, r.text
    assert r.json()["failure_count"] == 1 and "not taken back" in r.json()["failures"][0]["message"]
    for headers, says in (({"Relto-Origin": "eu", "Relto-Hops": "nato,eu"}, "first hub"),
                          ({"Relto-Hops": "eu"}, "together"),
                          ({"Relto-Origin": "eu", "Relto-Hops": "eu,EU"}, "not a hub name"),
                          ({"Relto-Origin": "eu", "Relto-Hops": "eu,nato,eu"}, "twice")):
        r = nato_relay.post(url, envelope, headers=headers)
        assert r.status_code == 400 and says in r.json()["description"], (headers, r.text)
    r = kor_analyst().post(url, envelope, headers={"Relto-Origin": "eu", "Relto-Hops": "eu"})
    assert r.status_code == 403 and "relay" in r.json()["description"], r.text
    mine = {k[0] for k in by_version(read_all(url, ("nis-analyst", SECRETS["RELTO_PW_NIS"])))}
    assert indicator(5151, [])["id"] not in mine, "a refused post was stored"


def test_withdrawals_between_hubs_are_checked(federation):
    """POST /api/v1/withdrawals takes only a well-formed batch, from the organization that
    created the versions; anything else is refused with the reason and removes nothing."""
    hubs = federation
    nato = hubs["nato"]
    url = f"{nato.url}/api/v1/withdrawals"
    relay = Client(auth=("nato-reader", SECRETS["RELTO_PW_NATO_READER"]))
    before = expected_and_received(hubs, "nato")[1]
    some = next(iter(before))
    for body, status, says in (
            ("not json", 400, "the body must be"),
            ({"collection": NATO_COLL, "objects": []}, 400, "1 to 500"),
            ({"collection": NATO_COLL, "objects": [{"id": some[0], "versions": ["soon"]}]}, 400, some[0]),
            ({"collection": "no-such", "objects": [{"id": some[0], "versions": [some[1]]}]}, 404, "no-such"),
            ({"collection": NATO_COLL, "objects": [{"id": some[0], "versions": [some[1]]}]}, 403, "")):
        r = relay.post(url, body, content_type="application/json")
        assert r.status_code == status and says in r.text, (body, r.status_code, r.text)
    assert expected_and_received(hubs, "nato")[1].keys() == before.keys()
