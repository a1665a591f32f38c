"""TAXII 2.1 conformance of relto, driven by the OASIS client (taxii2client.v21).

Every response is checked against the TAXII 2.1 specification (OASIS Standard, 10 June
2021); section numbers in messages refer to it.  The tests of this module share one hub
and run in file order: posting, reading with every filter, deleting, then restarting.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from types import SimpleNamespace
from urllib.parse import urljoin

import pytest
import requests
from taxii2client.v21 import ApiRoot, Collection, Server, Status, as_pages

from conftest import (
    COL_MAIN, COL_PARTNERS, COL_PRIVATE, COL_SHARED, MAIN_MAX_CONTENT, PARTNERS_MAX_CONTENT,
    ROOT_MAIN, ROOT_MAIN_TITLE, ROOT_PARTNERS, ROOT_PARTNERS_TITLE, run_apply,
)
from taxii_helpers import (
    TAXII_MEDIA, Client, assert_error, assert_taxii_content_type, assert_taxii_ts,
    check_envelope, check_manifest, check_status, check_versions, items, norm_media, parse_ts,
)


def sid(t: str) -> str:
    return f"{t}--{uuid.uuid4()}"


# ---------------------------------------------------------------------------------------
# The data set
# ---------------------------------------------------------------------------------------

IND = sid("indicator")
MAL = sid("malware")
TA = sid("threat-actor")
AP = sid("attack-pattern")
REL = sid("relationship")
REP = sid("report")
SCO = sid("ipv4-addr")
BAD = sid("indicator")
CAMP = sid("campaign")
DEL1 = sid("tool")
DEL2 = sid("infrastructure")

V1, V2, V3 = "2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"
T_OTHER = "2024-10-20T08:00:00.000Z"


def indicator(modified):
    return {
        "type": "indicator", "spec_version": "2.1", "id": IND,
        "created": V1, "modified": modified,
        "name": "KN-23 launcher convoy near Wonsan",
        "indicator_types": ["malicious-activity"],
        "pattern": "[ipv4-addr:value = '203.0.113.7']", "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
    }


IND_V1, IND_V2, IND_V3 = indicator(V1), indicator(V2), indicator(V3)
OBJ_MAL = {"type": "malware", "spec_version": "2.1", "id": MAL, "created": T_OTHER,
           "modified": T_OTHER, "name": "RUSTY-LAZARUS loader", "is_family": False}
OBJ_TA = {"type": "threat-actor", "spec_version": "2.1", "id": TA, "created": T_OTHER,
          "modified": T_OTHER, "name": "Reconnaissance General Bureau unit 121",
          "threat_actor_types": ["nation-state"]}
OBJ_AP = {"type": "attack-pattern", "spec_version": "2.1", "id": AP, "created": T_OTHER,
          "modified": T_OTHER, "name": "Spear-phishing of shipping agents"}
OBJ_REL = {"type": "relationship", "spec_version": "2.1", "id": REL, "created": T_OTHER,
           "modified": T_OTHER, "relationship_type": "uses", "source_ref": TA, "target_ref": MAL}
OBJ_REP = {"type": "report", "spec_version": "2.1", "id": REP, "created": T_OTHER,
           "modified": T_OTHER, "name": "Munitions transfers, October", "report_types": ["threat-report"],
           "published": T_OTHER, "object_refs": [IND, MAL, TA]}
OBJ_SCO = {"type": "ipv4-addr", "spec_version": "2.1", "id": SCO, "value": "203.0.113.7"}
# Invalid: an indicator without its required `pattern` and `pattern_type`.
OBJ_BAD = {"type": "indicator", "spec_version": "2.1", "id": BAD, "created": T_OTHER,
           "modified": T_OTHER, "name": "broken", "valid_from": T_OTHER}

POST1 = [IND_V1, OBJ_MAL, OBJ_TA, OBJ_AP, OBJ_REL, OBJ_BAD, OBJ_REP, IND_V3, OBJ_SCO]
POST2 = [IND_V2]

# Byte-identical round trip: a timestamp written as "…00.1Z" (first_seen: STIX 2.1 requires
# millisecond precision only of created/modified), keys in an unusual order, an escaped
# quote, a \u escape, raw UTF-8 and a number whose text a re-serialiser would change (1.50).
CAMP_TS = "2024-10-25T09:00:00.100Z"
CAMP_SEEN = "2024-10-25T09:00:00.1Z"
CAMP_TEXT = (
    '{"modified":"' + CAMP_TS + '","name":"Wonsan\\u2013Vladivostok shipments \\"Op. 북풍\\"",'
    '"first_seen":"' + CAMP_SEEN + '","x_relto_test_score":1.50,"id":"' + CAMP + '",'
    '"created":"' + CAMP_TS + '","spec_version":"2.1","description":"Rail and sea transfers – 열차",'
    '"type":"campaign"}'
)
POST3_TEXT = '{"objects":[' + CAMP_TEXT + "]}"

DEL2_V1, DEL2_V2 = "2024-05-01T00:00:00.000Z", "2024-06-01T00:00:00.000Z"
OBJ_DEL1 = {"type": "tool", "spec_version": "2.1", "id": DEL1, "created": T_OTHER,
            "modified": T_OTHER, "name": "nmap"}


def infrastructure(modified):
    return {"type": "infrastructure", "spec_version": "2.1", "id": DEL2, "created": DEL2_V1,
            "modified": modified, "name": "Staging server"}


POST4 = [OBJ_DEL1, infrastructure(DEL2_V1), infrastructure(DEL2_V2)]

# What Get Objects returns before any delete, with the default `match[version]=last`.
LATEST_IDS = {IND, MAL, TA, AP, REL, REP, SCO, CAMP, DEL1, DEL2}
ALL_RECORDS = 13  # every version of every stored object


def version_of(o) -> dt.datetime | None:
    v = o.get("modified") or o.get("created")
    return parse_ts(v) if v else None


# ---------------------------------------------------------------------------------------
# Response recording: every response the taxii2client receives is kept for checks.
# ---------------------------------------------------------------------------------------

class Recorder:
    def __init__(self):
        self.responses: list[requests.Response] = []
        self.checked = 0

    def hook(self, endpoint):
        endpoint._conn.session.hooks["response"].append(self._record)
        return endpoint

    def _record(self, resp, *args, **kwargs):
        self.responses.append(resp)

    def last(self) -> requests.Response:
        return self.responses[-1]

    def check_new(self):
        """§3.1: every TAXII response carries Content-Type application/taxii+json;version=2.1."""
        new = self.responses[self.checked:]
        self.checked = len(self.responses)
        for r in new:
            assert_taxii_content_type(r)


@pytest.fixture(scope="module")
def rec():
    return Recorder()


@pytest.fixture(scope="module")
def analyst_col(hub, rec):
    return rec.hook(Collection(hub.collection_url(COL_MAIN), user=hub.analyst[0], password=hub.analyst[1]))


@pytest.fixture(scope="module")
def raw(hub):
    return Client(auth=hub.analyst)


@pytest.fixture(scope="module")
def posted(hub, analyst_col, rec):
    """Posts the data set in four requests (each a later date_added than the last)."""
    started = dt.datetime.now(dt.timezone.utc)
    statuses = []
    for body in ({"objects": POST1}, {"objects": POST2}, POST3_TEXT.encode("utf-8"), {"objects": POST4}):
        st = analyst_col.add_objects(body, wait_for_completion=True, poll_interval=0.2, timeout=20)
        statuses.append(st)
        time.sleep(0.02)
    return SimpleNamespace(statuses=statuses, started=started)


def all_manifest(raw, hub, params=None, col=COL_MAIN):
    recs = []
    for _, body in raw.pages(hub.manifest_url(col), params=params, limit=100):
        check_manifest(body)
        recs.extend(items(body))
    return recs


@pytest.fixture(scope="module")
def added(posted, raw, hub):
    """(id, version) -> date_added from the full manifest, and the records in order."""
    recs = all_manifest(raw, hub, {"match[version]": "all"})
    table = {}
    for r in recs:
        table[(r["id"], parse_ts(r["version"]) if r["id"] != SCO else None)] = parse_ts(r["date_added"])
    return SimpleNamespace(records=recs, table=table)


def date_added_of(added, obj) -> dt.datetime:
    key = (obj["id"], None if obj["id"] == SCO else version_of(obj))
    assert key in added.table, f"no manifest record for {key}"
    return added.table[key]


def assert_date_headers(resp, first: dt.datetime, last: dt.datetime):
    """§3.2: X-TAXII-Date-Added-First/Last are the date_added of the first/last object of
    the response, as TAXII timestamps (microsecond precision)."""
    h_first = resp.headers.get("X-TAXII-Date-Added-First")
    h_last = resp.headers.get("X-TAXII-Date-Added-Last")
    assert h_first is not None, f"{resp.url}: X-TAXII-Date-Added-First missing (§3.2 MUST)"
    assert h_last is not None, f"{resp.url}: X-TAXII-Date-Added-Last missing (§3.2 MUST)"
    assert_taxii_ts(h_first, "X-TAXII-Date-Added-First")
    assert_taxii_ts(h_last, "X-TAXII-Date-Added-Last")
    assert parse_ts(h_first) == first, f"{resp.url}: X-TAXII-Date-Added-First {h_first} != {first}"
    assert parse_ts(h_last) == last, f"{resp.url}: X-TAXII-Date-Added-Last {h_last} != {last}"


def assert_ascending(dates, what):
    assert all(a <= b for a, b in zip(dates, dates[1:])), f"{what} not ascending by date_added (§3.3): {dates}"


def check_objects_page(resp, body, added):
    """Envelope shape, ascending date_added and the date headers of one objects page."""
    check_envelope(body)
    objs = items(body)
    if objs:
        dates = [date_added_of(added, o) for o in objs]
        assert_ascending(dates, resp.url)
        assert_date_headers(resp, dates[0], dates[-1])
    return objs


# ---------------------------------------------------------------------------------------
# Discovery, API roots, collections
# ---------------------------------------------------------------------------------------

def test_discovery(hub, rec):
    server = rec.hook(Server(hub.discovery_url, user=hub.analyst[0], password=hub.analyst[1]))
    assert isinstance(server.title, str) and server.title
    raw_doc = server._raw
    roots = raw_doc.get("api_roots")
    assert isinstance(roots, list) and roots, f"discovery lists no API roots: {raw_doc}"
    for u in roots:
        # §4.1.1: "API Root URLs MUST be HTTPS absolute URLs or relative URLs. API Root relative
        # URLs MUST begin with a single `/` character and MUST NOT begin with `//` or '../'."
        assert u.startswith("https://") or (u.startswith("/") and not u.startswith("//")), (
            f"api_roots entry {u!r}: §4.1.1 allows only HTTPS absolute URLs or relative URLs "
            f"beginning with a single '/'"
        )
        assert "?" not in u, f"API root URL with a query component: {u}"
    resolved = {r.url for r in server.api_roots}
    assert hub.root_url(ROOT_MAIN) in resolved and hub.root_url(ROOT_PARTNERS) in resolved, resolved
    if "default" in raw_doc:
        assert raw_doc["default"] in roots, "§4.1.1: default MUST be an item in api_roots"
    rec.check_new()


@pytest.mark.parametrize("root,title,max_len", [
    (ROOT_MAIN, ROOT_MAIN_TITLE, MAIN_MAX_CONTENT),
    (ROOT_PARTNERS, ROOT_PARTNERS_TITLE, PARTNERS_MAX_CONTENT),
])
def test_api_root_information(hub, rec, root, title, max_len):
    api = rec.hook(ApiRoot(hub.root_url(root), user=hub.analyst[0], password=hub.analyst[1]))
    assert api.title == title
    assert TAXII_MEDIA in api.versions, f"§4.2.1: versions MUST include {TAXII_MEDIA}: {api.versions}"
    assert api.max_content_length == max_len
    assert isinstance(api._raw["max_content_length"], int)
    rec.check_new()


def test_collections_of_the_analyst(hub, rec):
    api = rec.hook(ApiRoot(hub.root_url(ROOT_MAIN), user=hub.analyst[0], password=hub.analyst[1]))
    cols = {c.id: c for c in api.collections}
    assert {COL_MAIN, COL_SHARED, COL_PRIVATE} <= set(cols), cols.keys()
    assert COL_PARTNERS not in cols, "a collection of another API root is listed"
    assert cols[COL_MAIN].title == "Situation reports"
    for cid in (COL_MAIN, COL_SHARED, COL_PRIVATE):
        c = cols[cid]
        assert c.can_read is True and c.can_write is True, (cid, c.can_read, c.can_write)
        if c.media_types:
            assert all(isinstance(m, str) for m in c.media_types)
        # Get a Collection (§5.2) agrees with the list (§5.1).
        single = rec.hook(Collection(hub.collection_url(cid), user=hub.analyst[0], password=hub.analyst[1]))
        assert (single.id, single.title, single.can_read, single.can_write) == (c.id, c.title, c.can_read, c.can_write)
    # §3.3: "The Collections Endpoint MUST return Collection Resources in a consistent sort order".
    first = [c.id for c in api.collections]
    api.refresh_collections()
    assert [c.id for c in api.collections] == first
    partners = rec.hook(ApiRoot(hub.root_url(ROOT_PARTNERS), user=hub.analyst[0], password=hub.analyst[1]))
    assert [c.id for c in partners.collections] == [COL_PARTNERS]
    rec.check_new()


def test_collections_of_the_reader(hub, rec):
    api = rec.hook(ApiRoot(hub.root_url(ROOT_MAIN), user=hub.reader[0], password=hub.reader[1]))
    cols = {c.id: c for c in api.collections}
    assert COL_SHARED in cols, f"the reader's read-only collection is not listed: {list(cols)}"
    assert cols[COL_SHARED].can_read is True and cols[COL_SHARED].can_write is False
    for hidden in (COL_MAIN, COL_PRIVATE):
        if hidden in cols:  # listing it is allowed only as neither readable nor writable
            assert cols[hidden].can_read is False and cols[hidden].can_write is False, hidden
    rec.check_new()


# ---------------------------------------------------------------------------------------
# Add Objects and Status
# ---------------------------------------------------------------------------------------

def test_add_objects_status(posted, rec):
    st1, st2, st3, st4 = posted.statuses
    for st in posted.statuses:
        check_status(st._raw)
        assert st.status == "complete", st._raw
        assert st.pending_count == 0
    assert (st1.total_count, st1.success_count, st1.failure_count) == (9, 8, 1), st1._raw
    assert len(st1.failures) == 1, "the failure is not listed in failures"
    f = st1.failures[0]
    assert f["id"] == BAD
    assert parse_ts(f["version"]) == parse_ts(OBJ_BAD["modified"]), "§4.3.1: version MUST be the modified"
    assert f.get("message"), "the failure gives no reason (status-details message)"
    assert "pattern" in f["message"].lower(), f"the reason does not name the missing property: {f['message']!r}"
    if st1.successes:
        got = {(s["id"], s["version"]) for s in st1.successes}
        assert {s["id"] for s in st1.successes} == {o["id"] for o in POST1 if o is not OBJ_BAD}
        for o in POST1:
            if o is OBJ_BAD or o["id"] == SCO:
                continue
            assert any(i == o["id"] and parse_ts(v) == version_of(o) for i, v in got), (o["id"], got)
        assert BAD not in {s["id"] for s in st1.successes}
    assert (st2.total_count, st2.success_count, st2.failure_count) == (1, 1, 0), st2._raw
    assert (st3.total_count, st3.success_count, st3.failure_count) == (1, 1, 0), st3._raw
    assert (st4.total_count, st4.success_count, st4.failure_count) == (3, 3, 0), st4._raw
    assert len({st.id for st in posted.statuses}) == 4, "status ids are not unique"
    rec.check_new()


def test_get_status(hub, posted, rec):
    api = rec.hook(ApiRoot(hub.root_url(ROOT_MAIN), user=hub.analyst[0], password=hub.analyst[1]))
    for st in posted.statuses:
        again = api.get_status(st.id)
        check_status(again._raw)
        for k in ("id", "status", "total_count", "success_count", "failure_count", "pending_count"):
            assert again._raw[k] == st._raw[k], (k, again._raw, st._raw)
    st1 = posted.statuses[0]
    via_class = rec.hook(Status(hub.status_url(st1.id), user=hub.analyst[0], password=hub.analyst[1]))
    assert via_class.failures and via_class.failures[0]["id"] == BAD
    rec.check_new()


def test_duplicate_post_is_not_an_error(hub, rec):
    """§5.5: 'If a client publishes an exact duplicate of an Object already present in the
    Collection, the server MUST not return an error for that Object.'"""
    col = rec.hook(Collection(hub.collection_url(COL_SHARED), user=hub.analyst[0], password=hub.analyst[1]))
    obj = dict(OBJ_MAL, id=sid("malware"), name="duplicate test")
    first = col.add_objects({"objects": [obj]}, poll_interval=0.2, timeout=20)
    second = col.add_objects({"objects": [obj]}, poll_interval=0.2, timeout=20)
    assert first.failure_count == 0 and first.success_count == 1, first._raw
    assert second.failure_count == 0, f"exact duplicate reported as a failure: {second._raw}"
    # The reader's read-only grant lets it read what the analyst shared.
    reader = rec.hook(Collection(hub.collection_url(COL_SHARED), user=hub.reader[0], password=hub.reader[1]))
    assert reader.can_read and not reader.can_write
    got = reader.get_object(obj["id"])
    assert [o["id"] for o in items(got)] == [obj["id"]]
    rec.check_new()


def test_bulk_post_and_server_paging(hub, rec):
    """500 objects in one envelope; walking the collection with the server's own page size
    (no limit) and with next must give every object exactly once, ascending."""
    col = rec.hook(Collection(hub.collection_url(COL_SHARED), user=hub.analyst[0], password=hub.analyst[1]))
    objs = [dict(OBJ_AP, id=sid("attack-pattern"), name=f"bulk {i}") for i in range(500)]
    st = col.add_objects({"objects": objs}, poll_interval=0.2, timeout=60)
    assert (st.total_count, st.success_count, st.failure_count) == (500, 500, 0), st._raw
    raw = Client(auth=hub.analyst)
    seen, dates = [], []
    for resp, body in raw.pages(hub.manifest_url(COL_SHARED), {"match[type]": "attack-pattern"}):
        check_manifest(body)
        recs = items(body)
        if recs:
            assert_date_headers(resp, parse_ts(recs[0]["date_added"]), parse_ts(recs[-1]["date_added"]))
        seen += [r["id"] for r in recs]
        dates += [parse_ts(r["date_added"]) for r in recs]
    assert len(seen) == len(set(seen)) == 500
    assert set(seen) == {o["id"] for o in objs}
    assert_ascending(dates, "bulk manifest")
    got = [o["id"] for page in as_pages(col.get_objects, per_request=128, type="attack-pattern") for o in items(page)]
    assert sorted(got) == sorted(o["id"] for o in objs)
    rec.check_new()


def test_paging_while_objects_are_added(hub):
    """A cursor is a position: objects added between pages appear once, at the end, and
    nothing before them is skipped or repeated (§3.3 ascending order, §3.5)."""
    raw = Client(auth=hub.analyst)
    url = hub.objects_url(COL_SHARED)
    first = [dict(OBJ_TA, id=sid("threat-actor"), name=f"paging {i}") for i in range(6)]
    raw.post_envelope(url, first)
    params = {"match[type]": "threat-actor", "limit": "2"}
    r = raw.get_ok(url, params)
    b = r.json()
    ids = [o["id"] for o in items(b)]
    later = [dict(OBJ_TA, id=sid("threat-actor"), name=f"paging late {i}") for i in range(3)]
    raw.post_envelope(url, later)
    while b.get("more"):
        r = raw.get_ok(url, {**params, "next": b["next"]})
        b = r.json()
        ids += [o["id"] for o in items(b)]
    assert len(ids) == len(set(ids)), f"an object was served twice: {ids}"
    want_first = [o["id"] for o in first]
    assert sorted(ids[:6]) == sorted(want_first), ids
    assert sorted(ids[6:]) == sorted(o["id"] for o in later), ids


def test_collections_are_isolated(hub):
    """One STIX id in two collections: each collection serves its own version only, and a
    reader of one never sees the other's."""
    shared_id = sid("campaign")
    analyst = Client(auth=hub.analyst)
    in_main = dict(json.loads(CAMP_TEXT), id=shared_id, modified="2024-11-01T00:00:00.000Z",
                   name="main only")
    in_shared = dict(json.loads(CAMP_TEXT), id=shared_id, modified="2024-11-02T00:00:00.000Z",
                     name="shared copy")
    analyst.post_envelope(hub.objects_url(COL_PRIVATE), [in_main])
    analyst.post_envelope(hub.objects_url(COL_SHARED), [in_shared])
    reader = Client(auth=hub.reader)
    r = reader.get_ok(hub.object_url(shared_id, COL_SHARED), {"match[version]": "all"})
    assert [o["name"] for o in items(r.json())] == ["shared copy"]
    r = reader.get_ok(hub.objects_url(COL_SHARED), {"match[id]": shared_id, "match[version]": "all"})
    assert [o["name"] for o in items(r.json())] == ["shared copy"]
    r = analyst.get_ok(hub.object_url(shared_id, COL_PRIVATE) + "versions/")
    assert [parse_ts(v) for v in r.json()["versions"]] == [parse_ts("2024-11-01T00:00:00.000Z")]
    # clean up, so that the empty-collection test below still sees COL_PRIVATE empty
    assert analyst.delete(hub.object_url(shared_id, COL_PRIVATE)).status_code == 200
    r = reader.get_ok(hub.object_url(shared_id, COL_SHARED))
    assert [o["name"] for o in items(r.json())] == ["shared copy"], "a delete in one collection removed another's"


# ---------------------------------------------------------------------------------------
# Manifest (§5.3)
# ---------------------------------------------------------------------------------------

def test_manifest_records_and_order(hub, posted, added, analyst_col, rec):
    recs = added.records
    assert len(recs) == ALL_RECORDS, [(r["id"], r["version"]) for r in recs]
    dates = [parse_ts(r["date_added"]) for r in recs]
    assert_ascending(dates, "manifest")
    now = dt.datetime.now(dt.timezone.utc)
    for d in dates:
        assert posted.started - dt.timedelta(minutes=5) <= d <= now + dt.timedelta(minutes=5), (
            f"date_added {d} is not the time the object was added"
        )
    # Each request's objects were added after every object of the requests before it.
    batches = [POST1, POST2, [{"id": CAMP, "modified": CAMP_TS}], POST4]
    spans = []
    for b in batches:
        ds = [date_added_of(added, o) for o in b if o is not OBJ_BAD]
        spans.append((min(ds), max(ds)))
    for (_, hi), (lo, _) in zip(spans, spans[1:]):
        assert hi < lo, f"date_added of later requests is not later: {spans}"
    ind_versions = sorted(parse_ts(r["version"]) for r in recs if r["id"] == IND)
    assert ind_versions == [parse_ts(V1), parse_ts(V2), parse_ts(V3)]
    assert BAD not in {r["id"] for r in recs}, "the invalid object was stored"
    camp = [r for r in recs if r["id"] == CAMP]
    assert len(camp) == 1 and parse_ts(camp[0]["version"]) == parse_ts(CAMP_TS)

    # Default is the latest version of each object (§3.4.1 version).
    m = analyst_col.get_manifest()
    check_manifest(m, analyst_col.media_types)
    latest = items(m)
    assert {r["id"] for r in latest} == LATEST_IDS
    assert len(latest) == len(LATEST_IDS)
    assert [parse_ts(r["version"]) for r in latest if r["id"] == IND] == [parse_ts(V3)]
    resp = rec.last()
    assert_date_headers(resp, parse_ts(latest[0]["date_added"]), parse_ts(latest[-1]["date_added"]))
    rec.check_new()


def test_manifest_pagination_as_pages(added, analyst_col, rec):
    seen = []
    before = len(rec.responses)
    pages = list(as_pages(analyst_col.get_manifest, per_request=4, version="all"))
    resps = rec.responses[before:]
    assert len(resps) == len(pages)
    assert len(pages) == 4, f"13 records by 4 should be 4 pages, got {len(pages)}"
    for i, (page, resp) in enumerate(zip(pages, resps)):
        check_manifest(page)
        recs = items(page)
        assert 1 <= len(recs) <= 4
        last_page = i == len(pages) - 1
        assert page.get("more", False) is (not last_page), (i, page.get("more"))
        assert_date_headers(resp, parse_ts(recs[0]["date_added"]), parse_ts(recs[-1]["date_added"]))
        seen.extend(recs)
    assert [(r["id"], r["version"], r["date_added"]) for r in seen] == \
        [(r["id"], r["version"], r["date_added"]) for r in added.records], "paging changed the records"
    rec.check_new()


def test_manifest_filters(raw, hub, added):
    by_type = all_manifest(raw, hub, {"match[type]": "indicator", "match[version]": "all"})
    assert sorted(parse_ts(r["version"]) for r in by_type) == [parse_ts(V1), parse_ts(V2), parse_ts(V3)]
    assert {r["id"] for r in by_type} == {IND}
    first = all_manifest(raw, hub, {"match[id]": f"{IND},{DEL2}", "match[version]": "first"})
    assert {(r["id"], parse_ts(r["version"])) for r in first} == {(IND, parse_ts(V1)), (DEL2, parse_ts(DEL2_V1))}


# ---------------------------------------------------------------------------------------
# Get Objects (§5.4), pagination (§3.5) and filters (§3.4)
# ---------------------------------------------------------------------------------------

def test_objects_default_latest(added, analyst_col, rec):
    env = analyst_col.get_objects()
    resp = rec.last()
    objs = check_objects_page(resp, env, added)
    assert not env.get("more", False)
    assert {o["id"] for o in objs} == LATEST_IDS
    assert len(objs) == len(LATEST_IDS), "more than one version of an object by default"
    ind = [o for o in objs if o["id"] == IND]
    assert [o["modified"] for o in ind] == [V3], (
        "§3.4.1: without match[version] the latest version (greatest modified) is returned, "
        f"got {[o['modified'] for o in ind]}"
    )
    assert [o["modified"] for o in objs if o["id"] == DEL2] == [DEL2_V2]
    for o in objs:
        if o["id"] != CAMP:
            src = next(p for p in POST1 + POST2 + POST4 if p["id"] == o["id"] and version_of(p) == version_of(o))
            assert o == src, f"object changed in storage: {o} != {src}"
    rec.check_new()


@pytest.mark.parametrize("per_request", [1, 3, 4])
def test_objects_pagination_as_pages(added, analyst_col, rec, per_request):
    before = len(rec.responses)
    pages = list(as_pages(analyst_col.get_objects, per_request=per_request))
    resps = rec.responses[before:]
    assert len(resps) == len(pages)
    expected_pages = -(-len(LATEST_IDS) // per_request)
    assert len(pages) == expected_pages, (per_request, len(pages))
    all_objs, all_dates = [], []
    for i, (page, resp) in enumerate(zip(pages, resps)):
        objs = check_objects_page(resp, page, added)
        assert 1 <= len(objs) <= per_request, "§3.4 limit: MUST NOT contain more objects than requested"
        last_page = i == len(pages) - 1
        assert page.get("more", False) is (not last_page), f"page {i}: more={page.get('more')}"
        if not last_page:
            assert page.get("next"), f"page {i}: more=true without next"
        all_objs.extend(objs)
        all_dates.extend(date_added_of(added, o) for o in objs)
    ids = [o["id"] for o in all_objs]
    assert len(ids) == len(set(ids)), f"an object was served twice while paging: {ids}"
    assert set(ids) == LATEST_IDS
    assert_ascending(all_dates, "objects across pages")
    rec.check_new()


def ids_of(env):
    return sorted(o["id"] for o in items(env))


def versions_of(env, obj_id):
    return sorted(version_of(o) for o in items(env) if o["id"] == obj_id)


def test_filter_match_type(added, analyst_col, rec):
    env = analyst_col.get_objects(type="indicator")
    check_objects_page(rec.last(), env, added)
    assert ids_of(env) == [IND]
    env = analyst_col.get_objects(type=["indicator", "malware"])  # comma list: OR
    assert "match%5Btype%5D=indicator%2Cmalware" in rec.last().url or "match[type]=indicator,malware" in rec.last().url
    check_objects_page(rec.last(), env, added)
    assert ids_of(env) == sorted([IND, MAL])
    # §3.4.1: "Requests for types defined in STIX 2.1 MUST NOT result in an error".
    env = analyst_col.get_objects(type="grouping")
    check_envelope(env)
    assert "objects" not in env, f"§3.7: an empty response has no objects property: {env}"
    rec.check_new()


def test_filter_match_id(added, analyst_col, rec):
    env = analyst_col.get_objects(id=[IND, TA])
    check_objects_page(rec.last(), env, added)
    assert ids_of(env) == sorted([IND, TA])
    assert versions_of(env, IND) == [parse_ts(V3)]
    env = analyst_col.get_objects(id=sid("indicator"))
    check_envelope(env)
    assert "objects" not in env
    rec.check_new()


@pytest.mark.parametrize("version,expected", [
    ("first", [V1]),
    ("last", [V3]),
    ("all", [V1, V2, V3]),
    (V2, [V2]),
    (["first", "last"], [V1, V3]),
    (["first", V2], [V1, V2]),
    ([V1, V3], [V1, V3]),
])
def test_filter_match_version(added, analyst_col, rec, version, expected):
    env = analyst_col.get_objects(id=IND, version=version)
    check_objects_page(rec.last(), env, added)
    assert versions_of(env, IND) == [parse_ts(v) for v in expected], (version, [o["modified"] for o in items(env)])
    assert ids_of(env) == [IND] * len(expected)
    rec.check_new()


def test_filter_match_version_exact_across_collection(added, analyst_col, rec):
    env = analyst_col.get_objects(version=V3)
    check_objects_page(rec.last(), env, added)
    assert ids_of(env) == [IND]
    env = analyst_col.get_objects(version="all", type="infrastructure")
    assert versions_of(env, DEL2) == [parse_ts(DEL2_V1), parse_ts(DEL2_V2)]
    rec.check_new()


def test_filter_match_spec_version(added, analyst_col, rec):
    env = analyst_col.get_objects(spec_version="2.1")
    check_objects_page(rec.last(), env, added)
    assert set(ids_of(env)) == LATEST_IDS
    env = analyst_col.get_objects(spec_version="2.0")
    check_envelope(env)
    assert "objects" not in env, f"2.0 filter returned 2.1 objects: {ids_of(env)}"
    env = analyst_col.get_objects(spec_version=["2.0", "2.1"])
    assert set(ids_of(env)) == LATEST_IDS
    rec.check_new()


def test_filter_added_after(added, analyst_col, raw, hub, rec):
    post1_last = max(date_added_of(added, o) for o in POST1 if o is not OBJ_BAD)
    after = post1_last.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    env = analyst_col.get_objects(added_after=after, version="all")
    objs = check_objects_page(rec.last(), env, added)
    got = sorted((o["id"], version_of(o)) for o in objs)
    want = sorted([(IND, parse_ts(V2)), (CAMP, parse_ts(CAMP_TS)), (DEL1, parse_ts(T_OTHER)),
                   (DEL2, parse_ts(DEL2_V1)), (DEL2, parse_ts(DEL2_V2))])
    assert got == want
    for o in objs:
        assert date_added_of(added, o) > post1_last
    # The same on the manifest.
    recs = all_manifest(raw, hub, {"added_after": after, "match[version]": "all"})
    assert sorted((r["id"], parse_ts(r["version"])) for r in recs) == want
    # Nothing was added after the last object.
    last = added.records[-1]["date_added"]
    env = analyst_col.get_objects(added_after=last, version="all")
    check_envelope(env)
    assert "objects" not in env, env
    rec.check_new()


def test_filter_limit(added, analyst_col, rec):
    env = analyst_col.get_objects(limit=1)
    objs = check_objects_page(rec.last(), env, added)
    assert len(objs) == 1
    assert env.get("more") is True, "§3.4 limit: more objects are available, more MUST be true"
    env = analyst_col.get_objects(limit=len(LATEST_IDS))
    assert len(items(env)) == len(LATEST_IDS) and not env.get("more", False)
    rec.check_new()


def test_filter_next_continues_with_same_filters(added, raw, hub):
    r1 = raw.get_ok(hub.objects_url(), {"match[version]": "all", "match[type]": "indicator,infrastructure", "limit": "2"})
    b1 = r1.json()
    check_objects_page(r1, b1, added)
    assert b1.get("more") is True and b1.get("next")
    r2 = raw.get_ok(hub.objects_url(), {"match[version]": "all", "match[type]": "indicator,infrastructure",
                                        "limit": "2", "next": b1["next"]})
    b2 = r2.json()
    check_objects_page(r2, b2, added)
    r3 = raw.get_ok(hub.objects_url(), {"match[version]": "all", "match[type]": "indicator,infrastructure",
                                        "limit": "2", "next": b2["next"]})
    b3 = r3.json()
    check_objects_page(r3, b3, added)
    assert not b3.get("more", False)
    got = [(o["id"], version_of(o)) for b in (b1, b2, b3) for o in items(b)]
    assert sorted(got) == sorted([(IND, parse_ts(V1)), (IND, parse_ts(V2)), (IND, parse_ts(V3)),
                                  (DEL2, parse_ts(DEL2_V1)), (DEL2, parse_ts(DEL2_V2))])
    dates = [date_added_of(added, o) for b in (b1, b2, b3) for o in items(b)]
    assert_ascending(dates, "paged filtered objects")


def test_filters_are_anded(added, analyst_col, rec):
    """§3.4: 'all match fields are ANDed together'."""
    env = analyst_col.get_objects(id=IND, type="malware")
    check_envelope(env)
    assert "objects" not in env, ids_of(env)
    env = analyst_col.get_objects(id=[IND, MAL, TA], type=["malware", "threat-actor"], version="all")
    assert ids_of(env) == sorted([MAL, TA])
    rec.check_new()


def test_limit_larger_than_the_collection(added, raw, hub):
    r = raw.get_ok(hub.objects_url(), {"limit": "100000"})
    body = r.json()
    objs = check_objects_page(r, body, added)
    # §3.4 limit: "If the number of objects available for the response is less than or equal
    # to both the client requested and server-imposed limit, then all objects MUST be included"
    # -- or the server imposes a smaller limit and says more.
    if body.get("more"):
        assert len(objs) < len(LATEST_IDS)
    else:
        assert {o["id"] for o in objs} == LATEST_IDS


def test_empty_collection_gives_empty_resources(hub, raw, posted):
    """§3.7 and §5.3.1: no objects -> an empty envelope/manifest, without an `objects` key."""
    for url in (hub.objects_url(COL_PRIVATE), hub.manifest_url(COL_PRIVATE)):
        r = raw.get_ok(url)
        body = r.json()
        check_envelope(body)
        assert "objects" not in body, f"{url}: {body}"
        assert not body.get("more", False)


def test_collections_resource_without_collections(hub):
    """§5.1.1: 'If there are no Collections in the list, this key MUST be omitted, and the
    response is an empty object.'  The reader has no grant in the partners API root."""
    r = Client(auth=hub.reader).get(hub.root_url(ROOT_PARTNERS) + "collections/")
    if r.status_code != 200:
        assert_error(r, 403, 404)
        return
    assert_taxii_content_type(r)
    body = r.json()
    cols = body.get("collections")
    assert cols is None or (cols and all(not c["can_read"] and not c["can_write"] for c in cols)), body


def test_versions_filters(added, raw, hub):
    v3_added = added.table[(IND, parse_ts(V3))]
    r = raw.get_ok(hub.object_url(IND) + "versions/", {"added_after": v3_added.strftime("%Y-%m-%dT%H:%M:%S.%fZ")})
    body = check_versions(r.json())
    assert [parse_ts(v) for v in body.get("versions", [])] == [parse_ts(V2)]
    r = raw.get_ok(hub.object_url(IND) + "versions/", {"match[spec_version]": "2.1"})
    assert len(check_versions(r.json()).get("versions", [])) == 3
    r = raw.get_ok(hub.object_url(IND), {"added_after": v3_added.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                                         "match[version]": "all"})
    assert [o["modified"] for o in items(check_envelope(r.json()))] == [V2]


def test_literal_brackets_in_query(added, raw, hub):
    """The query as the specification writes it: ?match[type]=incident,malware."""
    r = raw.get_ok(hub.objects_url() + "?match[type]=indicator,malware&match[version]=first")
    objs = check_objects_page(r, r.json(), added)
    assert sorted((o["id"], o["modified"]) for o in objs) == sorted([(IND, V1), (MAL, T_OTHER)])


# ---------------------------------------------------------------------------------------
# Get an Object (§5.6), Get Object Versions (§5.8)
# ---------------------------------------------------------------------------------------

def test_get_object(added, analyst_col, rec):
    env = analyst_col.get_object(IND)
    objs = check_objects_page(rec.last(), env, added)
    assert [(o["id"], o["modified"]) for o in objs] == [(IND, V3)]
    assert objs[0] == IND_V3
    env = analyst_col.get_object(IND, version="all")
    check_objects_page(rec.last(), env, added)
    assert versions_of(env, IND) == [parse_ts(V1), parse_ts(V2), parse_ts(V3)]
    env = analyst_col.get_object(IND, version="first")
    assert [o["modified"] for o in items(env)] == [V1]
    env = analyst_col.get_object(IND, version=V2)
    assert [o["modified"] for o in items(env)] == [V2]
    env = analyst_col.get_object(IND, spec_version="2.1")
    assert [o["modified"] for o in items(env)] == [V3]
    env = analyst_col.get_object(SCO)
    check_objects_page(rec.last(), env, added)
    assert items(env) == [OBJ_SCO]
    rec.check_new()


def test_get_object_paginates(added, raw, hub):
    r = raw.get_ok(hub.object_url(IND), {"match[version]": "all", "limit": "2"})
    b = r.json()
    check_objects_page(r, b, added)
    assert len(items(b)) == 2 and b.get("more") is True and b.get("next")
    r2 = raw.get_ok(hub.object_url(IND), {"match[version]": "all", "limit": "2", "next": b["next"]})
    b2 = r2.json()
    check_objects_page(r2, b2, added)
    assert len(items(b2)) == 1 and not b2.get("more", False)
    assert sorted(o["modified"] for o in items(b) + items(b2)) == [V1, V2, V3]


def test_object_versions(added, analyst_col, rec):
    body = analyst_col.object_versions(IND)
    resp = rec.last()
    check_versions(body)
    vs = body.get("versions", [])
    assert sorted(parse_ts(v) for v in vs) == [parse_ts(V1), parse_ts(V2), parse_ts(V3)]
    dates = [added.table[(IND, parse_ts(v))] for v in vs]
    # §3.5: paginated endpoints return results sorted ascending by date added; v2 was added
    # after v1 and v3.
    assert_ascending(dates, "versions")
    assert parse_ts(vs[-1]) == parse_ts(V2)
    assert_date_headers(resp, dates[0], dates[-1])
    body = analyst_col.object_versions(MAL)
    check_versions(body)
    assert [parse_ts(v) for v in body["versions"]] == [parse_ts(T_OTHER)]
    rec.check_new()


def test_object_versions_paginate(added, raw, hub):
    # (taxii2client's as_pages counts "objects", so it cannot page a versions resource.)
    pages = raw.pages(hub.object_url(IND) + "versions/", limit=1)
    assert len(pages) == 3, [b for _, b in pages]
    seen = []
    for resp, body in pages:
        check_versions(body)
        assert len(body.get("versions", [])) == 1
        v = parse_ts(body["versions"][0])
        d = added.table[(IND, v)]
        assert_date_headers(resp, d, d)
        seen.append(v)
    assert sorted(seen) == [parse_ts(V1), parse_ts(V2), parse_ts(V3)]
    assert seen[-1] == parse_ts(V2), "versions not in date_added order across pages (§3.5)"


# ---------------------------------------------------------------------------------------
# Byte-identical round trip
# ---------------------------------------------------------------------------------------

def test_round_trip_is_byte_identical(added, raw, hub):
    want = CAMP_TEXT.encode("utf-8")
    r = raw.get_ok(hub.object_url(CAMP))
    assert want in r.content, (
        "the object is not served with the bytes it was posted with:\n"
        f"posted: {CAMP_TEXT}\nserved: {r.text}"
    )
    obj = items(r.json())[0]
    assert obj["x_relto_test_score"] == 1.5 and obj["first_seen"] == CAMP_SEEN
    r = raw.get_ok(hub.objects_url(), {"match[id]": CAMP})
    assert want in r.content
    r = raw.get_ok(hub.objects_url(), {"match[type]": "campaign,malware"})
    assert want in r.content
    # The version is the modified timestamp; .100Z and .1Z name the same instant.
    for v in (CAMP_TS, "2024-10-25T09:00:00.1Z", "2024-10-25T09:00:00.100000Z"):
        r = raw.get_ok(hub.objects_url(), {"match[id]": CAMP, "match[version]": v})
        assert want in r.content, f"match[version]={v} did not select the object"


# ---------------------------------------------------------------------------------------
# Delete an Object (§5.7)
# ---------------------------------------------------------------------------------------

def test_delete_object(added, analyst_col, raw, hub, rec):
    assert analyst_col.delete_object(DEL1) is None  # raises on a non-2xx answer
    resp = rec.last()
    assert resp.status_code == 200, resp.status_code
    assert_taxii_content_type(resp)
    # §5.7: later fetches of the object MUST return 404 ...
    assert_error(raw.get(hub.object_url(DEL1)), 404)
    assert_error(raw.get(hub.object_url(DEL1), {"match[version]": "all"}), 404)
    # ... and the manifest and contents MUST NOT return it.
    assert DEL1 not in {r["id"] for r in all_manifest(raw, hub, {"match[version]": "all"})}
    env = analyst_col.get_objects(version="all")
    assert DEL1 not in ids_of(env)
    env = analyst_col.get_objects(id=DEL1)
    assert "objects" not in env
    rec.check_new()


def test_delete_one_version(added, analyst_col, raw, hub, rec):
    analyst_col.delete_object(DEL2, version="first")
    assert rec.last().status_code == 200
    env = analyst_col.get_object(DEL2, version="all")
    assert [o["modified"] for o in items(env)] == [DEL2_V2]
    body = analyst_col.object_versions(DEL2)
    assert [parse_ts(v) for v in body["versions"]] == [parse_ts(DEL2_V2)]
    assert_error(raw.get(hub.object_url(DEL2), {"match[version]": DEL2_V1}), 404)
    rec.check_new()


def test_delete_unknown_object_is_404(raw, hub):
    assert_error(raw.delete(hub.object_url(sid("tool"))), 404)


# ---------------------------------------------------------------------------------------
# Persistence across a restart (run last: it restarts the hub)
# ---------------------------------------------------------------------------------------

def test_restart_keeps_cursor_status_and_objects(hub, posted, added, raw, rec):
    params = {"match[version]": "all", "limit": "3"}
    r1 = raw.get_ok(hub.objects_url(), params)
    b1 = r1.json()
    assert b1.get("more") is True and b1.get("next")
    full = [(o["id"], o.get("modified")) for _, b in raw.pages(hub.objects_url(), {"match[version]": "all"}, limit=100)
            for o in items(b)]
    manifest_before = all_manifest(raw, hub, {"match[version]": "all"})
    status_before = [raw.get_ok(hub.status_url(st.id)).json() for st in posted.statuses]
    old_url = hub.base_url

    hub.stop()
    res = run_apply(hub.data_dir, hub.realm_file)  # apply is idempotent
    assert res.returncode == 0, f"second apply failed: {res.stdout} {res.stderr}"
    hub.start()
    assert hub.base_url

    # The cursor issued before the restart continues where it stopped.
    r2 = raw.get(hub.objects_url(), params={**params, "next": b1["next"]})
    assert r2.status_code == 200, f"cursor from before the restart refused: {r2.status_code} {r2.text[:300]}"
    b2 = r2.json()
    check_envelope(b2)
    got = [(o["id"], o.get("modified")) for o in items(b2)]
    assert got == full[3:6], f"continuation after restart: {got} != {full[3:6]}"
    # Status resources survive (§4.3: SHOULD be available for at least 24 hours).
    for st, before in zip(posted.statuses, status_before):
        after = raw.get_ok(hub.status_url(st.id)).json()
        check_status(after)
        assert after == before
    assert all_manifest(raw, hub, {"match[version]": "all"}) == manifest_before
    # The round-trip object is still byte-identical.
    assert CAMP_TEXT.encode() in raw.get_ok(hub.object_url(CAMP)).content
    # Collections and grants are unchanged by the second apply.
    api = ApiRoot(hub.root_url(ROOT_MAIN), user=hub.reader[0], password=hub.reader[1])
    cols = {c.id: c for c in api.collections}
    assert COL_SHARED in cols and cols[COL_SHARED].can_write is False
    assert old_url  # (the port may differ after the restart)
