"""Every reader's view of the running example is STIX 2.1 that the OASIS tools accept.

The README's "One report, two partners": examples/coalition.toml applied with the demo
passwords of its header, examples/situation-report.json imported as nis-analyst, then
`relto serve`.  For every account of the realm that may read the collection: the whole
collection over TAXII with taxii2client (pages of 5; latest and all versions), stix2's
TAXIICollectionSource (what partners' tools do) and `relto export --as ACCOUNT`.  Every
object served is checked with stix2.parse and stix2validator (taxii_helpers.
check_served_objects; conftest.py applies it to every taxii2client read), and the TAXII and
export views must hold the same objects.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib

import pytest
import requests
import stix2
from taxii2client.v21 import Collection, as_pages

from conftest import REPO_ROOT, Hub, relto_env, require_binary
from taxii_helpers import check_served_objects, items

COALITION = REPO_ROOT / "examples" / "coalition.toml"
REPORT = REPO_ROOT / "examples" / "situation-report.json"
COL = "d95d9fbf-6ffc-4dfc-bd9a-3bc1bb34c0d4"
REALM = tomllib.loads(COALITION.read_text(encoding="utf-8"))
# The demo passwords: the `export RELTO_PW_…=…` line of the file's header comments.
DEMO_ENV = dict(re.findall(r"\b(RELTO_PW_\w+)=(\S+)", COALITION.read_text(encoding="utf-8")))
ACCOUNTS = {a["name"]: a for a in REALM["account"]}
ORGS = {o["slug"]: o for o in REALM["organization"]}
COLLECTION = next(c for c in REALM["collection"] if c["id"] == COL)
ROOT = COLLECTION["api_root"]
# What the README says the NATO and the EU reader receive.
README_COUNTS = {"dia-reader": 17, "aut-reader": 15}


def may_read(name: str) -> bool:
    """Whether the realm file names the account among the collection's readers: itself, its
    organization, or a community its organization is accredited to."""
    acct = ACCOUNTS[name]
    org = ORGS[acct["organization"]]
    grants = {f"account:{name}", f"org:{org['slug']}"} | {f"community:{c}" for c in org.get("accredited", [])}
    return bool(grants & set(COLLECTION["readers"]))


READERS = [n for n in ACCOUNTS if may_read(n)]


def password(name: str) -> str:
    return DEMO_ENV[ACCOUNTS[name]["password_env"]]


def relto(data_dir, *args) -> str:
    env = relto_env(data_dir) | DEMO_ENV
    res = subprocess.run([require_binary(), *args, "--data-dir", str(data_dir)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"relto {' '.join(args)} failed ({res.returncode}): {res.stderr[-2000:]}"
    return res.stdout


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    base = tmp_path_factory.mktemp("served_stix")
    data_dir = base / "data"
    data_dir.mkdir()
    relto(data_dir, "apply", str(COALITION))
    relto(data_dir, "import", "--quiet", "--collection", COL, "--as", "nis-analyst", str(REPORT))
    hub = Hub(data_dir=data_dir, realm_file=COALITION, log_dir=base)
    hub.start()
    yield hub
    hub.stop()


def collection(hub, name) -> Collection:
    return Collection(hub.collection_url(COL, ROOT), user=name, password=password(name))


def taxii_view(hub, name, **filters) -> list:
    """The whole collection as `name` reads it, in pages of 5 (each object checked by the
    taxii2client wrapper in conftest.py)."""
    objs = [o for page in as_pages(collection(hub, name).get_objects, per_request=5, **filters)
            for o in items(page)]
    keys = [(o["id"], o.get("modified")) for o in objs]
    assert len(keys) == len(set(keys)), f"{name}: an object was served twice while paging: {keys}"
    return objs


def export_view(hub, name, *flags) -> list:
    bundle = json.loads(relto(hub.data_dir, "export", "--collection", COL, "--as", name, *flags))
    assert bundle.get("type") == "bundle", f"relto export --as {name} did not print a bundle"
    objs = bundle.get("objects", [])
    check_served_objects(objs, f"{name}: relto export --as {name} {' '.join(flags)}")
    check_served_objects([bundle], f"{name}: the bundle of relto export --as {name} {' '.join(flags)}")
    return objs


def canonical(objs) -> list:
    return sorted(json.dumps(o, sort_keys=True) for o in objs)


def ids(objs) -> list:
    return sorted(o["id"] for o in objs)


def test_the_realm_has_readers():
    assert set(README_COUNTS) <= set(READERS), READERS
    missing = {a["password_env"] for a in ACCOUNTS.values()} - set(DEMO_ENV)
    assert not missing, f"the header of {COALITION.name} exports no demo password for {missing}"


@pytest.mark.parametrize("name", list(ACCOUNTS))
def test_can_read_as_the_realm_says(example, name):
    try:
        can_read = collection(example, name).can_read
    except requests.HTTPError as e:  # a collection one may not read may also be hidden (403/404)
        assert e.response.status_code in (403, 404), e
        can_read = False
    assert can_read is may_read(name), f"{name}: can_read {can_read}, the realm file says {may_read(name)}"


@pytest.mark.parametrize("name", READERS)
def test_reader_views_are_valid_and_agree(example, name):
    latest, exported = taxii_view(example, name), export_view(example, name)
    assert latest, f"{name} receives nothing"
    assert canonical(latest) == canonical(exported), (
        f"{name}: TAXII and `relto export --as {name}` serve different objects: "
        f"TAXII {ids(latest)}, export {ids(exported)}"
    )
    every, exported = taxii_view(example, name, version="all"), export_view(example, name, "--all-versions")
    assert canonical(every) == canonical(exported), (
        f"{name}: TAXII match[version]=all and `relto export --as {name} --all-versions` differ: "
        f"TAXII {ids(every)}, export {ids(exported)}"
    )


@pytest.mark.parametrize("name", READERS)
def test_taxii_collection_source(example, name):
    """stix2's TAXIICollectionSource, as partners' tools use it: query() and get()."""
    source = stix2.TAXIICollectionSource(collection(example, name))
    want = taxii_view(example, name)
    got = source.query()
    assert sorted(o.id for o in got) == ids(want), f"{name}: TAXIICollectionSource.query()"
    for o in want:
        assert source.get(o["id"]).id == o["id"], f"{name}: TAXIICollectionSource.get({o['id']})"


@pytest.mark.parametrize("name,count", README_COUNTS.items())
def test_readme_counts(example, name, count):
    served, exported = len(taxii_view(example, name)), len(export_view(example, name))
    assert (served, exported) == (count, count), (
        f"README says {name} receives {count} objects; TAXII serves {served}, export gives {exported}")
