"""Hostile and broken input, with plain `requests`.

Every error answer must be a TAXII error message (§3.6.1: `title` required, `http_status`
a string equal to the HTTP status when present) with Content-Type
application/taxii+json;version=2.1 (the required header of every failure response in §4
and §5).  The last test checks that nothing stored was lost or added on the way.
"""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from conftest import (
    COL_MAIN, COL_PARTNERS, COL_PRIVATE, COL_SHARED, MAIN_MAX_CONTENT, PARTNERS_MAX_CONTENT,
    ROOT_MAIN, ROOT_PARTNERS,
)
from taxii_helpers import (
    TAXII_MEDIA, Client, assert_error, assert_taxii_content_type, check_envelope, check_status,
    items, parse_ts,
)

T = "2024-11-02T10:00:00.000Z"


def sid(t):
    return f"{t}--{uuid.uuid4()}"


def malware(name="loader", **kw):
    return dict({"type": "malware", "spec_version": "2.1", "id": sid("malware"), "created": T,
                 "modified": T, "name": name, "is_family": False}, **kw)


def campaign(name="campaign", **kw):
    return dict({"type": "campaign", "spec_version": "2.1", "id": sid("campaign"), "created": T,
                 "modified": T, "name": name}, **kw)


@pytest.fixture(scope="module")
def analyst(hub):
    return Client(auth=hub.analyst)


@pytest.fixture(scope="module")
def reader(hub):
    return Client(auth=hub.reader)


@pytest.fixture(scope="module")
def ledger(hub, analyst):
    """What each collection must hold: {collection: {(id, version)}}; seeded here."""
    book = {COL_MAIN: set(), COL_SHARED: set(), COL_PRIVATE: set(), COL_PARTNERS: set()}
    for col, root in ((COL_MAIN, ROOT_MAIN), (COL_SHARED, ROOT_MAIN), (COL_PRIVATE, ROOT_MAIN),
                      (COL_PARTNERS, ROOT_PARTNERS)):
        objs = [malware(f"seed {col[:4]}"), campaign(f"seed {col[:4]}")]
        st = analyst.post_envelope(hub.objects_url(col, root), objs)
        assert st["success_count"] == 2 and st["status"] == "complete", st
        book[col] |= {(o["id"], parse_ts(o["modified"])) for o in objs}
    return book


def stored(analyst, hub, col, root=ROOT_MAIN):
    out = set()
    for _, body in analyst.pages(hub.manifest_url(col, root), {"match[version]": "all"}, limit=100):
        out |= {(r["id"], parse_ts(r["version"])) for r in items(body)}
    return out


@pytest.fixture(scope="module")
def a_status_id(hub, analyst, ledger):
    obj = malware("for the status test")
    st = analyst.post_envelope(hub.objects_url(), [obj])
    ledger[COL_MAIN].add((obj["id"], parse_ts(T)))
    return st["id"]


# ---------------------------------------------------------------------------------------
# Malformed bodies and media types (§5.5, §3.1)
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b'{"objects": [',
    b"this is not json",
    b"",
    b"[]",
    b'{"objects": "not a list"}',
    b'\xff\xfe{"objects": []}',
], ids=["truncated", "text", "empty", "array", "objects-not-list", "bad-utf8"])
def test_malformed_body(hub, analyst, ledger, body):
    # §5.5: 400 "did not understand the request"; 422 "... when sending a malformed body".
    assert_error(analyst.post(hub.objects_url(), body), 400, 422)


def test_deeply_nested_json_is_refused_and_server_survives(hub, analyst, ledger):
    depth = 20000
    obj = malware("nested")
    body = ('{"objects":[' + json.dumps(dict(obj, x_deep=None))[:-1] + ',"x_nest":'
            + "[" * depth + "]" * depth + "}]}").encode()
    assert len(body) < PARTNERS_MAX_CONTENT
    r = analyst.post(hub.objects_url(COL_PARTNERS, ROOT_PARTNERS), body)
    if r.status_code == 202:  # parsed after all: then the object must have failed or been stored whole
        st = check_status(r.json())
        assert st["total_count"] == 1, st
        if st["success_count"] == 1:
            ledger[COL_PARTNERS].add((obj["id"], parse_ts(T)))
    else:
        assert_error(r, 400, 413, 422)
    analyst.get_ok(hub.objects_url(COL_PARTNERS, ROOT_PARTNERS))  # still serving


@pytest.mark.parametrize("ctype", [
    "application/json",
    "text/plain",
    "application/taxii+json;version=2.0",
    "application/stix+json;version=2.1",
])
def test_wrong_content_type_is_415(hub, analyst, ledger, ctype):
    r = analyst.post(hub.objects_url(), {"objects": [malware("wrong content type")]}, content_type=ctype)
    assert_error(r, 415)


def test_missing_content_type(hub, analyst, ledger):
    r = analyst.post(hub.objects_url(), {"objects": [malware("no content type")]}, content_type=None)
    # §3.1: "All TAXII POST requests MUST include a valid Accept and Content-Type header."
    assert_error(r, 400, 415)


ACCEPT_20 = "application/taxii+json;version=2.0"


@pytest.mark.parametrize("path", ["discovery", "root", "collections", "collection", "objects",
                                  "manifest", "object", "versions"])
def test_accept_taxii_2_0_is_406(hub, ledger, path):
    c = Client(auth=hub.analyst, accept=ACCEPT_20)
    some = next(iter(ledger[COL_MAIN]))[0]
    url = {
        "discovery": hub.discovery_url,
        "root": hub.root_url(),
        "collections": hub.root_url() + "collections/",
        "collection": hub.collection_url(),
        "objects": hub.objects_url(),
        "manifest": hub.manifest_url(),
        "object": hub.object_url(some),
        "versions": hub.object_url(some) + "versions/",
    }[path]
    assert_error(c.get(url), 406)


def test_accept_taxii_2_0_on_post_is_406(hub, ledger):
    c = Client(auth=hub.analyst, accept=ACCEPT_20)
    assert_error(c.post(hub.objects_url(), {"objects": [malware("accept 2.0")]}), 406)


@pytest.mark.parametrize("accept", [
    "application/taxii+json",                      # §1.6.8.2: latest version the server supports
    "application/taxii+json; version=2.1",
    "application/taxii+json;version=2.1,application/stix+json;version=2.1",  # §5.3 required header
    "text/html;q=0.9, application/taxii+json;version=2.1",
])
def test_defined_accept_values_are_served(hub, ledger, accept):
    """§3.1: 'Requests with media types in the Accept headers that are defined for that
    Endpoint MUST NOT result in an HTTP 406'."""
    c = Client(auth=hub.analyst, accept=accept)
    for url in (hub.objects_url(), hub.manifest_url(), hub.root_url() + "collections/"):
        r = c.get(url)
        assert r.status_code == 200, f"Accept {accept!r}: {url} -> {r.status_code} {r.text[:200]}"
        assert_taxii_content_type(r)


# ---------------------------------------------------------------------------------------
# max_content_length (§4.2.1, §5.5)
# ---------------------------------------------------------------------------------------

def padded_envelope(size: int) -> tuple[bytes, dict]:
    """A valid envelope of exactly `size` bytes (one campaign with a long description)."""
    obj = campaign("size test", description="")
    base = json.dumps({"objects": [obj]}, separators=(",", ":")).encode()
    pad = size - len(base)
    assert pad >= 0
    obj["description"] = "x" * pad
    body = json.dumps({"objects": [obj]}, separators=(",", ":")).encode()
    assert len(body) == size
    return body, obj


def test_body_below_max_content_length_is_accepted(hub, analyst, ledger):
    """§4.2.1: 'Requests with total body length values smaller than this value MUST NOT
    result in an HTTP 413'."""
    body, obj = padded_envelope(PARTNERS_MAX_CONTENT - 1)
    r = analyst.post(hub.objects_url(COL_PARTNERS, ROOT_PARTNERS), body)
    assert r.status_code == 202, f"{len(body)} bytes under max_content_length refused: {r.status_code} {r.text[:300]}"
    st = check_status(r.json())
    assert st["success_count"] == 1, st
    ledger[COL_PARTNERS].add((obj["id"], parse_ts(T)))


def post_expecting_413(send):
    """Sends an over-limit body once: the server must answer 413 with a TAXII error, and read
    (drain) the rest of the body so that the client receives that answer instead of a reset
    connection."""
    assert_error(send(), 413)


@pytest.mark.parametrize("col,root,limit", [
    (COL_PARTNERS, ROOT_PARTNERS, PARTNERS_MAX_CONTENT),
    (COL_MAIN, ROOT_MAIN, MAIN_MAX_CONTENT),
])
def test_body_over_max_content_length_is_413(hub, analyst, ledger, col, root, limit):
    body, _ = padded_envelope(limit + 1)
    post_expecting_413(lambda: Client(auth=hub.analyst).post(hub.objects_url(col, root), body))


def test_chunked_body_over_max_content_length_is_413(hub, analyst, ledger):
    """No Content-Length: the limit must hold on the bytes actually read."""
    body, _ = padded_envelope(PARTNERS_MAX_CONTENT + 4096)

    def chunks():
        for i in range(0, len(body), 8192):
            yield body[i:i + 8192]

    post_expecting_413(lambda: Client(auth=hub.analyst).s.post(
        hub.objects_url(COL_PARTNERS, ROOT_PARTNERS), data=chunks(),
        headers={"Content-Type": TAXII_MEDIA}, timeout=30))


# ---------------------------------------------------------------------------------------
# Invalid STIX inside a valid envelope: 202, failures listed, good objects stored
# ---------------------------------------------------------------------------------------

def test_invalid_stix_in_envelope(hub, analyst, ledger):
    good1, good2 = malware("good one"), campaign("good two")
    bad = {
        "no-name": {"type": "threat-actor", "spec_version": "2.1", "id": sid("threat-actor"),
                    "created": T, "modified": T},
        "bad-uuid": dict(malware("bad uuid"), id="malware--not-a-uuid"),
        "type-mismatch": dict(malware("type mismatch"), type="tool"),
        "modified-before-created": dict(campaign("time travel"), modified="2023-01-01T00:00:00.000Z"),
        "bad-timestamp": dict(campaign("bad month"), created="2024-13-01T00:00:00.000Z",
                              modified="2024-13-01T00:00:00.000Z"),
    }
    objs = [good1, bad["no-name"], bad["bad-uuid"], good2, bad["type-mismatch"],
            bad["modified-before-created"], bad["bad-timestamp"]]
    r = analyst.post(hub.objects_url(), {"objects": objs})
    assert r.status_code == 202, f"{r.status_code}: {r.text[:500]}"
    assert_taxii_content_type(r)
    st = check_status(r.json())
    if st["status"] == "pending":
        st = check_status(analyst.get_ok(hub.status_url(st["id"])).json())
    assert (st["total_count"], st["success_count"], st["failure_count"]) == (7, 2, 5), st
    failures = st.get("failures", [])
    assert {f["id"] for f in failures} == {o["id"] for o in bad.values()}, failures
    for f in failures:
        assert f.get("message"), f"failure without a reason: {f}"
    for good in (good1, good2):
        got = items(analyst.get_ok(hub.object_url(good["id"])).json())
        assert got == [good]
        ledger[COL_MAIN].add((good["id"], parse_ts(T)))
    for name, b in bad.items():
        if name == "bad-uuid":
            continue
        r = analyst.get(hub.object_url(b["id"]))
        assert r.status_code == 404 or "objects" not in r.json(), f"invalid object {name} was stored"


# ---------------------------------------------------------------------------------------
# Unknown resources (404)
# ---------------------------------------------------------------------------------------

def test_unknown_resources_are_404(hub, analyst, ledger, a_status_id):
    base = hub.base_url
    unknown_col = str(uuid.uuid4())
    some = next(iter(ledger[COL_MAIN]))[0]
    for url in (
        f"{base}/no-such-root/",
        f"{base}/no-such-root/collections/",
        f"{base}/no-such-root/collections/{COL_MAIN}/objects/",
        f"{base}/no-such-root/status/{a_status_id}/",
        hub.collection_url(unknown_col),
        hub.objects_url(unknown_col),
        hub.manifest_url(unknown_col),
        hub.object_url(some, unknown_col),
        hub.object_url(sid("malware")),
        hub.object_url(sid("malware")) + "versions/",
        hub.status_url(str(uuid.uuid4())),
        # a collection of the other API root is not found under this one
        hub.objects_url(COL_PARTNERS, ROOT_MAIN),
        hub.status_url(a_status_id, ROOT_PARTNERS),
    ):
        assert_error(analyst.get(url), 404)
    assert_error(analyst.post(hub.objects_url(unknown_col), {"objects": [malware()]}), 404)
    assert_error(analyst.delete(hub.object_url(sid("malware"))), 404)
    # A collection id that is not a UUID: not found, or not understood.
    assert_error(analyst.get(hub.objects_url("not-a-uuid")), 400, 404)


# ---------------------------------------------------------------------------------------
# Authentication (§1.6.9) and authorization (§5.3–§5.8)
# ---------------------------------------------------------------------------------------

def auth_urls(hub, some_id, status_id):
    return [
        ("GET", hub.root_url() + "collections/"),
        ("GET", hub.collection_url()),
        ("GET", hub.objects_url()),
        ("GET", hub.manifest_url()),
        ("GET", hub.object_url(some_id)),
        ("GET", hub.object_url(some_id) + "versions/"),
        ("GET", hub.status_url(status_id)),
        ("POST", hub.objects_url()),
        ("DELETE", hub.object_url(some_id)),
    ]


def send(client, method, url):
    if method == "POST":
        return client.post(url, {"objects": [malware("unauthenticated")]})
    if method == "DELETE":
        return client.delete(url)
    return client.get(url)


def assert_401(r):
    """§1.6.9: the server 'will respond with an HTTP 401 (Unauthorized) status code and a
    WWW-Authenticate HTTP header'."""
    assert_error(r, 401)
    challenge = r.headers.get("WWW-Authenticate")
    assert challenge, f"{r.request.method} {r.url}: 401 without WWW-Authenticate"
    assert "basic" in challenge.lower(), f"the challenge does not offer Basic: {challenge!r}"


@pytest.mark.parametrize("case", ["none", "wrong-password", "unknown-user", "garbage-basic",
                                  "wrong-bearer", "empty-password"])
def test_bad_credentials_are_401(hub, ledger, a_status_id, case):
    some = next(iter(ledger[COL_MAIN]))[0]
    if case == "none":
        c = Client()
    elif case == "wrong-password":
        c = Client(auth=(hub.analyst[0], hub.analyst[1] + "x"))
    elif case == "unknown-user":
        c = Client(auth=("nobody", "whatever-password"))
    elif case == "empty-password":
        c = Client(auth=(hub.analyst[0], ""))
    elif case == "garbage-basic":
        c = Client()
        c.s.headers["Authorization"] = "Basic !!!not-base64!!!"
    else:
        c = Client(bearer="x" * 40)
    for method, url in auth_urls(hub, some, a_status_id):
        assert_401(send(c, method, url))


def test_bearer_token_is_accepted(hub, ledger):
    c = Client(bearer=hub.analyst_token)
    r = c.get_ok(hub.objects_url())
    check_envelope(r.json())
    assert {i for i, _ in ledger[COL_MAIN]} <= {o["id"] for _, b in c.pages(hub.objects_url(), limit=100)
                                                 for o in items(b)}


def test_reader_may_read_but_not_write_its_read_only_collection(hub, reader, analyst, ledger):
    some = sorted(ledger[COL_SHARED])[0][0]
    r = reader.get_ok(hub.objects_url(COL_SHARED))
    assert some in {o["id"] for o in items(r.json())}
    # §5.5: can_write false -> 403 (or 404); relto answers 403 to a reader it lets read.
    assert_error(reader.post(hub.objects_url(COL_SHARED), {"objects": [malware("reader post")]}), 403)
    # §5.7 table: can_read true, can_write false -> HTTP 403 is the mandatory response.
    assert_error(reader.delete(hub.object_url(some, COL_SHARED)), 403)
    assert some in {o["id"] for o in items(reader.get_ok(hub.objects_url(COL_SHARED)).json())}


@pytest.mark.parametrize("what", ["collection", "objects", "manifest", "object", "versions"])
def test_reader_without_grant_cannot_read(hub, reader, ledger, what):
    """§5.3, §5.4, §5.6, §5.8: 'If the Collection specifies can_read as false for a
    particular client, this Endpoint MUST return an HTTP 403 (Forbidden) or HTTP 404 (Not
    Found) error.'  (§5.2 lists both for Get a Collection too.)"""
    some = sorted(ledger[COL_PRIVATE])[0][0]
    url = {
        "collection": hub.collection_url(COL_PRIVATE),
        "objects": hub.objects_url(COL_PRIVATE),
        "manifest": hub.manifest_url(COL_PRIVATE),
        "object": hub.object_url(some, COL_PRIVATE),
        "versions": hub.object_url(some, COL_PRIVATE) + "versions/",
    }[what]
    body = assert_error(reader.get(url), 403, 404)
    assert some not in json.dumps(body), "the error leaks the object id"


def test_reader_without_grant_cannot_write_or_delete(hub, reader, ledger):
    some = sorted(ledger[COL_PRIVATE])[0][0]
    # §5.5: can_write false -> 403 or 404.
    assert_error(reader.post(hub.objects_url(COL_PRIVATE), {"objects": [malware("intruder")]}), 403, 404)
    # §5.7 table: can_read false, can_write false -> HTTP 404 is the mandatory response.
    assert_error(reader.delete(hub.object_url(some, COL_PRIVATE)), 404)


def test_reader_cannot_read_the_status_of_anothers_request(hub, reader, a_status_id):
    """The status of the analyst's post names objects of a collection the reader cannot see
    (§4.3: 403 'does not have access to this resource' or 404)."""
    assert_error(reader.get(hub.status_url(a_status_id)), 403, 404)


# ---------------------------------------------------------------------------------------
# Malformed query parameters (§3.4: 'If any of the URL query parameters are malformed, the
# TAXII Server MUST return an HTTP 400 (Bad Request) status code.')
# ---------------------------------------------------------------------------------------

BAD_PAGED = [
    {"limit": "0"},
    {"limit": "abc"},
    {"limit": "-1"},
    {"limit": "1.5"},
    {"limit": ""},
    {"added_after": "yesterday"},
    {"added_after": "2024-13-01T00:00:00.000Z"},
    {"added_after": "2024-01-01"},
    {"added_after": "2024-01-01T00:00:00"},
    {"next": "garbage"},
    {"next": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
]


@pytest.mark.parametrize("params", BAD_PAGED, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()))
@pytest.mark.parametrize("endpoint", ["objects", "manifest", "object", "versions"])
def test_malformed_query_is_400(hub, analyst, ledger, endpoint, params):
    some = sorted(ledger[COL_MAIN])[0][0]
    url = {
        "objects": hub.objects_url(),
        "manifest": hub.manifest_url(),
        "object": hub.object_url(some),
        "versions": hub.object_url(some) + "versions/",
    }[endpoint]
    assert_error(analyst.get(url, params), 400)


@pytest.mark.parametrize("value", ["newest", "2024-01-01", "first,", "last;all"])
@pytest.mark.parametrize("endpoint", ["objects", "manifest", "object"])
def test_malformed_match_version_is_400(hub, analyst, ledger, endpoint, value):
    some = sorted(ledger[COL_MAIN])[0][0]
    url = {"objects": hub.objects_url(), "manifest": hub.manifest_url(), "object": hub.object_url(some)}[endpoint]
    assert_error(analyst.get(url, {"match[version]": value}), 400)


def test_tampered_cursor_is_400(hub, analyst, ledger):
    r = analyst.get_ok(hub.objects_url(), {"limit": "1", "match[version]": "all"})
    body = r.json()
    assert body.get("more") is True and body.get("next"), body
    nxt = body["next"]
    flipped = nxt[:-1] + ("A" if nxt[-1] != "A" else "B")
    assert_error(analyst.get(hub.objects_url(), {"limit": "1", "match[version]": "all", "next": flipped}), 400)
    # The untampered cursor still works.
    analyst.get_ok(hub.objects_url(), {"limit": "1", "match[version]": "all", "next": nxt})


# ---------------------------------------------------------------------------------------
# Nothing lost
# ---------------------------------------------------------------------------------------

def test_nothing_stored_was_lost(hub, analyst, ledger):
    """After all of the above, each collection holds exactly what was accepted."""
    for col, root in ((COL_MAIN, ROOT_MAIN), (COL_SHARED, ROOT_MAIN), (COL_PRIVATE, ROOT_MAIN),
                      (COL_PARTNERS, ROOT_PARTNERS)):
        have = stored(analyst, hub, col, root)
        assert have == ledger[col], (
            f"collection {col}: missing {ledger[col] - have}, unexpected {have - ledger[col]}"
        )
