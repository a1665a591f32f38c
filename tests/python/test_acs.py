"""ACS 3.0 markings (issue 17): CISA AIS's marking extension read as relto labels on ingest,
and written beside relto's labels by `relto export --acs`.

The running example's realm declares a USA policy (U < C < S < TS), its equivalences with
NATO, KOR and the EU, and the community USA.USG (the DIA). tests/fixtures/acs/ais-bundle.json
holds seven ACS markings in the shape AIS writes them, each on one indicator, and an
indicator whose description alone is NOFORN. The table below is docs/interop.md's, applied:
the label each marking reads as (or the default label, with the reason), and who then
receives each indicator. misp-stix, MISP's own STIX importer, is a second reader of the same
markings: the classification it tags must be the one relto reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import REPO_ROOT
from taxii_helpers import check_served_objects
from test_misp import relto
from test_served_stix import COALITION, COL, password

ACS = "extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce"
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "acs" / "ais-bundle.json"
SITUATION = REPO_ROOT / "examples" / "situation-report.json"


def marking(n: int) -> str:
    return f"marking-definition--6a1c{n:04x}-5b2d-4e3f-8a4b-5c6d7e8f9a0b"


def indicator(n: int) -> str:
    return f"indicator--7b2d{n:04x}-6c3e-4f40-9b5c-6d7e8f9a0b1c"


DEFAULT = "the default label KOR:II // REL TO KOR applies"
# Each fixture marking: what relto reads it as.
READINGS = {
    1: "ACS marking read as USA:U // REL TO USA.USG",  # AIS's usual: further sharing USA.USG
    2: "ACS marking read as USA:U // REL TO DEU, KOR, USA",
    3: "ACS marking read as USA:S // REL TO USA",  # NOFORN
    4: "ACS marking read as USA:U",  # public release
    5: f"ACS marking not mapped (access_privilege[0].privilege_scope.shareability limits readers to LE, which relto cannot check): {DEFAULT}",
    6: f"ACS marking not mapped (access_privilege[0].privilege_scope.permitted_nationalities names an unknown nation ZZZ): {DEFAULT}",
    7: "ACS marking read as USA:C // PII",
}
# Who receives each indicator besides KOR-NIS (its originator), by the labels above and the
# realm's clearances and equivalences: USA:U needs a clearance equal to USA:C or above
# (irl-reader's EU-R and jpn-reader's JPN:HI are not), USA.USG is the DIA.
EVERYONE_CLEARED = {"army-analyst", "mofa-releaser", "nato-is-reader", "dia-reader", "nor-reader",
                    "dgse-reader", "bnd-reader", "intcen-reader", "aut-reader"}
RECEIVERS = {
    1: {"dia-reader"},
    2: {"army-analyst", "mofa-releaser", "bnd-reader", "dia-reader"},
    3: {"dia-reader"},
    4: EVERYONE_CLEARED,
    5: {"army-analyst", "mofa-releaser"},
    6: {"army-analyst", "mofa-releaser"},
    # 7 is refused at ingest: its poster holds no PII category (the write rule).
    8: EVERYONE_CLEARED,
}
READERS = sorted(EVERYONE_CLEARED | {"irl-reader", "jpn-reader"})


RELTO_LABEL = "extension-definition--e40c05f5-cb0e-4b28-8c2a-db52ed2bc0e2"


def label_words(ext: dict) -> str:
    """A relto label as relto names it: `NATO:NS // REL TO KOR, NATO // ATOMAL`."""
    words = f"{ext['policy']}:{ext['classification']}"
    if ext.get("releasable_to"):
        words += " // REL TO " + ", ".join(sorted(ext["releasable_to"]))
    if ext.get("sensitivity"):
        words += " // " + ", ".join(sorted(ext["sensitivity"]))
    return words


def new_hub(tmp_path_factory, name: str) -> Path:
    data_dir = tmp_path_factory.mktemp(name) / "data"
    data_dir.mkdir()
    relto(data_dir, "apply", str(COALITION))
    return data_dir


@pytest.fixture(scope="module")
def hub_dir(tmp_path_factory):
    data_dir = new_hub(tmp_path_factory, "acs")
    res = relto(data_dir, "import", "--collection", COL, "--as", "nis-analyst", str(FIXTURE), check=False)
    return data_dir, res


def export(data_dir, *flags) -> list[dict]:
    return json.loads(relto(data_dir, "export", "--collection", COL, *flags).stdout).get("objects", [])


def test_ais_markings_read_as_the_table(hub_dir):
    data_dir, res = hub_dir
    for n, reading in READINGS.items():
        assert f"{marking(n)}: {reading}" in res.stderr, (n, res.stderr)
    # The one refusal: the poster may not apply a category it does not hold.
    assert res.returncode == 1 and "imported 14 objects" in res.stdout and "1 rejected" in res.stdout, res.stdout
    assert f"rejected {indicator(7)}: you may not apply marking {marking(7)}: sensitivity: PII not held" in res.stderr
    for name in READERS:
        objects = export(data_dir, "--as", name)
        check_served_objects(objects, f"{name}: export")
        got = {int(o["id"][18]) for o in objects if o["id"].startswith("indicator--7b2d")}
        want = {n for n, who in RECEIVERS.items() if name in who}
        assert got == want, f"{name} receives indicators {sorted(got)}, the table says {sorted(want)}"
        # The ACS definitions themselves are served to every reader (they carry no
        # intelligence), so that readers can read the markings of what they receive.
        assert {o["id"] for o in objects if o["type"] == "marking-definition"} >= {marking(n) for n in range(1, 8)}
        # Indicator 8 is public but its description is NOFORN: only the DIA reads it.
        eight = next((o for o in objects if o["id"] == indicator(8)), None)
        if eight is not None:
            assert ("description" in eight) == (name == "dia-reader"), (name, eight)


def test_the_status_of_a_post_says_how_each_acs_marking_was_read(tmp_path_factory, tmp_path):
    import requests
    from conftest import Hub

    data_dir = new_hub(tmp_path_factory, "acs-api")
    hub = Hub(data_dir=data_dir, realm_file=COALITION, log_dir=tmp_path)
    hub.start()
    try:
        bundle = json.loads(FIXTURE.read_text())
        objects = [o for o in bundle["objects"] if o["id"] != indicator(7)]
        r = requests.post(f"{hub.base_url}/coalition/collections/{COL}/objects/",
                          json={"objects": objects}, auth=("nis-analyst", password("nis-analyst")),
                          headers={"Content-Type": "application/taxii+json;version=2.1",
                                   "Accept": "application/taxii+json;version=2.1"}, timeout=60)
        assert r.status_code == 202, r.text
        status = r.json()
        assert status["failure_count"] == 0, status
        messages = {s["id"]: s.get("message") for s in status["successes"]}
        for n, reading in READINGS.items():
            assert messages[marking(n)] == reading, (n, messages[marking(n)])
        assert messages[indicator(1)] is None
        # The console names each ACS marking by what it reads as, whole and in part.
        import re
        console = requests.Session()
        first = console.get(f"{hub.base_url}/ui/", timeout=30)
        csrf = re.search(r'name="csrf" value="([^"]+)"', first.text).group(1)
        signed = console.post(f"{hub.base_url}/ui/login", timeout=30, allow_redirects=False,
                              data={"username": "nis-analyst", "password": password("nis-analyst"), "csrf": csrf})
        assert signed.status_code == 303, signed.text
        for n, words in ((6, "ACS, not mapped: KOR:II // REL TO KOR"), (2, "ACS: USA:U // REL TO DEU, KOR, USA"),
                         (8, "ACS: USA:S // REL TO USA")):
            page = console.get(f"{hub.base_url}/ui/objects/{indicator(n)}", params={"collection": COL}, timeout=30)
            assert page.status_code == 200 and words in page.text, (n, page.status_code, page.text[:3000])
    finally:
        hub.stop()


def test_bad_acs_markings_fall_back_or_are_refused_and_change_nothing(hub_dir, tmp_path):
    data_dir, _ = hub_dir
    before = export(data_dir)
    base = json.loads(FIXTURE.read_text())["objects"][0]

    def post(md: dict, *flags):
        path = tmp_path / "bad.json"
        path.write_text(json.dumps({"type": "bundle", "id": "bundle--8c3e0000-7d4f-4a51-8c6d-7e8f9a0b1c2e",
                                    "objects": [md]}))
        return relto(data_dir, "import", "--collection", COL, "--as", "nis-analyst", str(path), *flags, check=False)

    # Redefining a stored ACS marking: refused, the stored one stays.
    changed = json.loads(json.dumps(base))
    changed["extensions"][ACS]["control_set"]["classification"] = "TS"
    res = post(changed)
    assert res.returncode == 1 and "already defined differently" in res.stderr, res.stderr
    # A name-based (UUIDv5) id is a relto label's: an ACS marking may not take one.
    v5 = json.loads(json.dumps(base))
    v5["id"] = "marking-definition--6a1c0009-5b2d-5e3f-8a4b-5c6d7e8f9a0b"
    res = post(v5)
    assert res.returncode == 1 and "name-based (UUIDv5) id" in res.stderr, res.stderr
    assert export(data_dir) == before
    # Nonsense inside the extension: stored (the definition is valid STIX), read as the
    # default label with the reason.
    for n, (change, reason) in enumerate((
            (lambda e: e["control_set"].__setitem__("classification", "ZZ"), "control_set.classification must be U, C, S or TS"),
            (lambda e: e.__setitem__("x_vendor", 1), "carries 'x_vendor', which ACS 3.0 does not define"),
            (lambda e: e.__setitem__("policy_reference", "urn:isa:policy:acs:ns:v3.0?privdefault=maybe"), "policy_reference 'urn:isa:policy:acs:ns:v3.0?privdefault=maybe' gives no privdefault of permit or deny"),
            (lambda e: e["access_privilege"][0].__setitem__("rule_effect", "maybe"), "access_privilege[0].rule_effect must be permit or deny"),
    ), start=10):
        md = json.loads(json.dumps(base))
        md["id"] = marking(n)
        change(md["extensions"][ACS])
        res = post(md)
        assert res.returncode == 0, res.stderr
        assert f"{marking(n)}: ACS marking not mapped ({reason}): {DEFAULT}" in res.stderr, res.stderr


def test_export_acs_adds_markings_stix2_validator_accepts_and_relto_reads_back(hub_dir, tmp_path_factory):
    """`relto export --acs`: beside each relto label an ACS marking of the same reach (its
    nations; its level through the realm's equivalences), valid STIX that stix2 and the
    stix2-validator accept. Labels ACS cannot say (ATOMAL, organizations) are named on
    standard error and their objects keep the relto label alone. Imported into another hub,
    each ACS marking reads back as the level and nations it was written from."""
    data_dir, _ = hub_dir
    relto(data_dir, "import", "--quiet", "--collection", COL, "--as", "nis-analyst", str(SITUATION))
    res = relto(data_dir, "export", "--collection", COL, "--as", "nis-analyst", "--acs")
    objects = json.loads(res.stdout)["objects"]
    check_served_objects(objects, "export --acs as nis-analyst")
    from stix2validator import ValidationOptions, validate_string
    result = validate_string(res.stdout, ValidationOptions(version="2.1"))
    assert result.is_valid, [str(e) for e in result.errors]
    by_id = {o["id"]: o for o in objects}
    acs_defs = {i: o for i, o in by_id.items() if o["type"] == "marking-definition" and ACS in o.get("extensions", {})}
    written = {i for i in acs_defs if not i.startswith("marking-definition--6a1c")}
    assert written, res.stderr
    relto_labels = {i: label_words(o["extensions"][RELTO_LABEL]) for i, o in by_id.items()
                    if o["type"] == "marking-definition" and RELTO_LABEL in o.get("extensions", {})}
    refused = [line for line in res.stderr.splitlines() if line.startswith("no ACS marking for ")]
    # REL TO NATO names the organizations accredited to NATO, not every organization of its
    # nations: ACS cannot say it without saying more.
    assert any("a community of accredited organizations, which ACS cannot list" in line for line in refused), res.stderr
    assert f"added {len(written)} ACS marking-definitions" in res.stderr
    for o in objects:
        labels = [m for m in o.get("object_marking_refs", []) if m in relto_labels]
        acs_refs = [m for m in o.get("object_marking_refs", []) if m in written]
        # One ACS marking per label ACS can say; none for the others.
        sayable = [m for m in labels if not any(line.startswith(f"no ACS marking for {relto_labels[m]}:") for line in refused)]
        assert len(acs_refs) == len(sayable), (o["id"], labels, acs_refs, refused)
        for g in o.get("granular_markings", []):
            assert g["marking_ref"] in by_id, (o["id"], g)
    # Read back by another hub: every written marking maps (none falls back).
    other = new_hub(tmp_path_factory, "acs-back")
    path = tmp_path_factory.mktemp("acs-export") / "export.json"
    path.write_text(res.stdout)
    back = relto(other, "import", "--collection", COL, "--as", "nis-analyst", str(path))
    for i, md in acs_defs.items():
        if i not in written:
            continue
        name = md["extensions"][ACS]["name"]  # the relto label it was written from
        line = next(l for l in back.stderr.splitlines() if l.startswith(f"{i}: "))
        assert "ACS marking read as USA:" in line, line
        level = md["extensions"][ACS]["control_set"]["classification"]
        nations = md["extensions"][ACS]["access_privilege"][0]["privilege_scope"]["permitted_nationalities"]
        rel = "" if nations == ["ALL"] else " // REL TO " + ", ".join(sorted(nations))
        assert line.endswith(f"read as USA:{level}{rel}"), (name, line)
    # Each reader of the second hub receives no more than of the first: an ACS marking only
    # ever narrows what its relto label allows.
    # (The ACS marking-definitions themselves are new in the second hub.)
    def intelligence(d, name):
        return {o["id"] for o in export(d, "--as", name) if o["type"] != "marking-definition"}

    for name in READERS:
        first, second = intelligence(data_dir, name), intelligence(other, name)
        assert second <= first, (name, sorted(second - first))


def test_misp_stix_reads_the_classification_relto_reads(hub_dir, tmp_path):
    """MISP's own STIX 2.1 importer tags each attribute with the ACS marking's
    classification: the level relto's reading gives (READINGS), for the fixture's markings
    and for the ones `relto export --acs` writes."""
    from misp_stix_converter.stix2misp.external_stix2_to_misp import ExternalSTIX2toMISPParser
    from misp_stix_converter.tools.stix2_loading_helpers import load_stix2_file

    def classifications(path: Path) -> dict[str, set[str]]:
        parser = ExternalSTIX2toMISPParser()
        parser.load_stix_bundle(load_stix2_file(str(path)))
        parser.parse_stix_bundle()
        out = {}
        for a in parser.misp_event.attributes:
            out[a.value] = {t.name for t in a.tags if t.name.startswith("acs-marking:classification=")}
        for o in parser.misp_event.objects:
            for a in o.attributes:
                out.setdefault(a.value, set()).update(t.name for t in a.tags if t.name.startswith("acs-marking:classification="))
        return out

    tags = classifications(FIXTURE)
    for n, reading in READINGS.items():
        if "read as" not in reading:
            continue
        level = reading.split("USA:")[1].split(" ")[0]
        assert tags.get(f"203.0.113.{n}") == {f'acs-marking:classification="{level}"'}, (n, tags)
    data_dir, _ = hub_dir
    res = relto(data_dir, "export", "--collection", COL, "--as", "dia-reader", "--acs")
    path = tmp_path / "export.json"
    path.write_text(res.stdout)
    objects = json.loads(res.stdout)["objects"]
    levels = {o["id"]: o["extensions"][ACS]["control_set"]["classification"]
              for o in objects if o["type"] == "marking-definition" and ACS in o.get("extensions", {})}
    tagged = classifications(path)
    compared = 0
    for o in objects:
        if o["type"] != "indicator" or "[ipv4-addr:value = '" not in o.get("pattern", ""):
            continue
        value = o["pattern"].split("'")[1]
        want = {f'acs-marking:classification="{levels[m]}"' for m in o.get("object_marking_refs", []) if m in levels}
        assert tagged.get(value, set()) == want, (o["id"], tagged.get(value), want)
        compared += 1
    assert compared >= 5, compared


def test_export_acs_with_misp_format_is_refused(hub_dir):
    data_dir, _ = hub_dir
    res = relto(data_dir, "export", "--collection", COL, "--acs", "--format", "misp", check=False)
    assert res.returncode != 0 and "--acs adds ACS markings to a STIX bundle" in res.stderr, res.stderr
