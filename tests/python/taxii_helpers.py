"""Checks of TAXII 2.1 resources against the specification (OASIS Standard, 10 June 2021).

Section numbers refer to that document.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import uuid
from urllib.parse import urlsplit

import requests
import stix2
from stix2validator import ValidationOptions, validate_instance

TAXII_MEDIA = "application/taxii+json;version=2.1"

# §2 `timestamp`: "YYYY-MM-DDTHH:MM:SS.ssssssZ ... MUST have microsecond precision", UTC, "Z".
TAXII_TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
# STIX 2.1 timestamp: any number of fraction digits, "Z".
STIX_TS_RE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z$")


def parse_ts(text: str) -> dt.datetime:
    """Parses a STIX/TAXII timestamp (any fraction length) to an aware datetime (µs)."""
    m = STIX_TS_RE.match(text)
    assert m, f"not an RFC 3339 UTC timestamp: {text!r}"
    y, mo, d, h, mi, s, frac = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        return dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tzinfo=dt.timezone.utc)
    except ValueError as e:
        raise AssertionError(f"not a valid timestamp: {text!r} ({e})")


def fmt_ts(t: dt.datetime) -> str:
    """Formats as a TAXII timestamp (microseconds)."""
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def assert_taxii_ts(text, what="timestamp"):
    assert isinstance(text, str) and TAXII_TS_RE.match(text), (
        f"{what} {text!r} is not a TAXII timestamp YYYY-MM-DDTHH:MM:SS.ssssssZ (spec §2)"
    )


def norm_media(value: str | None) -> str:
    return (value or "").replace(" ", "").lower()


def assert_taxii_content_type(resp: requests.Response):
    """§3.1: 'All TAXII responses MUST include the appropriate media type and version
    parameter in the Content-Type header'."""
    ct = resp.headers.get("Content-Type")
    assert norm_media(ct) == TAXII_MEDIA, (
        f"{resp.request.method} {resp.url} -> {resp.status_code}: Content-Type {ct!r}, "
        f"expected {TAXII_MEDIA!r}"
    )


def assert_error(resp: requests.Response, *statuses: int):
    """An HTTP error whose body is a TAXII error message (§3.6.1) with the TAXII
    Content-Type (required header of every failure response in §4 and §5)."""
    assert resp.status_code in statuses, (
        f"{resp.request.method} {resp.url}: expected {statuses}, got {resp.status_code}: "
        f"{resp.text[:500]}"
    )
    assert_taxii_content_type(resp)
    try:
        body = resp.json()
    except ValueError:
        raise AssertionError(f"error body is not JSON: {resp.text[:300]!r}")
    assert isinstance(body, dict), f"error body is not a JSON object: {body!r}"
    assert isinstance(body.get("title"), str) and body["title"], f"error has no title: {body}"
    if "http_status" in body:
        assert isinstance(body["http_status"], str), f"http_status must be a string: {body}"
        assert body["http_status"] == str(resp.status_code), (
            f"http_status {body['http_status']!r} does not match HTTP {resp.status_code} (§3.6.1)"
        )
    for key in ("description", "error_id", "error_code", "external_details"):
        if key in body:
            assert isinstance(body[key], str), f"{key} must be a string: {body}"
    if "details" in body:
        assert isinstance(body["details"], dict), f"details must be a dictionary: {body}"
    return body


def assert_no_empty_lists(doc, path="$"):
    """§2 list: 'Empty lists are prohibited in TAXII and MUST NOT be used as a substitute
    for omitting optional properties.'"""
    if isinstance(doc, dict):
        for k, v in doc.items():
            if isinstance(v, list):
                assert v, f"empty list at {path}.{k} (spec §2: empty lists are prohibited)"
    return doc


def check_envelope(body) -> dict:
    """§3.7 envelope: more (bool, optional), next (string, optional), objects (list,
    optional)."""
    assert isinstance(body, dict), f"envelope is not an object: {body!r}"
    assert_no_empty_lists(body)
    if "more" in body:
        assert isinstance(body["more"], bool), f"more must be a boolean: {body['more']!r}"
    if "next" in body:
        assert isinstance(body["next"], str) and body["next"], f"next must be a string: {body}"
    if "objects" in body:
        assert isinstance(body["objects"], list)
        for o in body["objects"]:
            assert isinstance(o, dict) and isinstance(o.get("type"), str) and isinstance(o.get("id"), str), o
    return body


def check_manifest(body, collection_media_types=None) -> dict:
    """§5.3.1 manifest: more, objects (list of manifest-record: id, date_added, version,
    media_type?)."""
    assert isinstance(body, dict), f"manifest is not an object: {body!r}"
    assert_no_empty_lists(body)
    if "more" in body:
        assert isinstance(body["more"], bool)
    for rec in body.get("objects", []):
        assert isinstance(rec, dict)
        for req in ("id", "date_added", "version"):
            assert req in rec, f"manifest-record lacks required {req}: {rec}"
        assert isinstance(rec["id"], str) and isinstance(rec["version"], str)
        assert_taxii_ts(rec["date_added"], "manifest-record date_added")
        if "media_type" in rec:
            assert isinstance(rec["media_type"], str)
            if collection_media_types:
                assert rec["media_type"] in collection_media_types, (
                    f"media_type {rec['media_type']!r} is not one of the collection's "
                    f"{collection_media_types} (§5.3.1)"
                )
    return body


def check_versions(body) -> dict:
    """§5.8.1 versions: more, versions (list of string)."""
    assert isinstance(body, dict), f"versions resource is not an object: {body!r}"
    assert_no_empty_lists(body)
    if "more" in body:
        assert isinstance(body["more"], bool)
    for v in body.get("versions", []):
        assert isinstance(v, str)
        parse_ts(v)
    return body


def check_status(body) -> dict:
    """§4.3.1 status resource."""
    assert isinstance(body, dict), body
    assert_no_empty_lists(body)
    for req in ("id", "status", "total_count", "success_count", "failure_count", "pending_count"):
        assert req in body, f"status lacks required {req}: {body}"
    u = uuid.UUID(body["id"])
    assert u.version == 4, f"status id must be an RFC 4122 version 4 UUID (§2 identifier): {body['id']}"
    assert body["status"] in ("complete", "pending"), body["status"]
    for c in ("total_count", "success_count", "failure_count", "pending_count"):
        assert isinstance(body[c], int) and not isinstance(body[c], bool) and body[c] >= 0, (c, body[c])
    if "request_timestamp" in body:
        assert_taxii_ts(body["request_timestamp"], "status request_timestamp")
    for lst, cnt in (("successes", "success_count"), ("failures", "failure_count"),
                     ("pendings", "pending_count")):
        if lst in body:
            assert isinstance(body[lst], list)
            assert len(body[lst]) == body[cnt], f"{lst} has {len(body[lst])} entries, {cnt}={body[cnt]}"
            for d in body[lst]:
                assert isinstance(d.get("id"), str), f"status-details lacks id: {d}"
                assert isinstance(d.get("version"), str), f"status-details lacks version (required): {d}"
                if "message" in d:
                    assert isinstance(d["message"], str)
    assert body["success_count"] + body["failure_count"] + body["pending_count"] == body["total_count"], body
    return body


# ---------------------------------------------------------------------------------------
# Served STIX: every object the hub serves must be STIX 2.1 that the OASIS tools accept.
# ---------------------------------------------------------------------------------------

STIX_OPTIONS = ValidationOptions(version="2.1")  # as in test_stix_agreement.py
# Get Objects (§5.4) and Get an Object (§5.6); not .../versions/.
OBJECTS_PATH_RE = re.compile(r"/collections/[^/]+/objects/(?:[^/]+/)?$")
# Counts for the end-of-run summary (conftest.py): objects checked, and the distinct ones.
SERVED_STIX = {"checked": 0, "distinct": set()}


def check_served_objects(objects, where: str) -> None:
    """Each object must parse with stix2.parse(allow_custom=True) and pass stix2validator
    (errors only; warnings do not count).  `where` names the reader and the request."""
    for obj in objects:
        SERVED_STIX["checked"] += 1
        key = json.dumps(obj, sort_keys=True)
        if key in SERVED_STIX["distinct"]:
            continue
        oid = obj.get("id") if isinstance(obj, dict) else obj
        try:
            stix2.parse(copy.deepcopy(obj), allow_custom=True)
        except Exception as e:
            raise AssertionError(f"served object {oid} ({where}) does not parse with stix2: "
                                 f"{type(e).__name__}: {e}") from None
        result = validate_instance(copy.deepcopy(obj), STIX_OPTIONS)
        assert result.is_valid, (f"served object {oid} ({where}) fails stix2validator: "
                                 + "; ".join(str(e) for e in result.errors))
        SERVED_STIX["distinct"].add(key)


def check_served_response(resp: requests.Response, who: str) -> None:
    """Checks the objects of a successful GET of an objects or object endpoint."""
    if resp.request.method == "GET" and resp.status_code == 200 and OBJECTS_PATH_RE.search(urlsplit(resp.url).path):
        check_served_objects(resp.json().get("objects", []), f"{who}: GET {resp.url}")


class Client:
    """A thin `requests` client that sends the TAXII Accept header and basic auth."""

    def __init__(self, auth=None, accept=TAXII_MEDIA, bearer=None):
        self.s = requests.Session()
        self.who = auth[0] if auth else "bearer token" if bearer else "anonymous"
        if auth:
            self.s.auth = auth
        if bearer:
            self.s.headers["Authorization"] = f"Bearer {bearer}"
        if accept is not None:
            self.s.headers["Accept"] = accept

    def get(self, url, params=None, **kw):
        r = self.s.get(url, params=params, timeout=30, **kw)
        check_served_response(r, self.who)
        return r

    def delete(self, url, params=None, **kw):
        return self.s.delete(url, params=params, timeout=30, **kw)

    def post(self, url, body, content_type=TAXII_MEDIA, **kw):
        headers = dict(kw.pop("headers", {}) or {})
        if content_type is not None:
            headers["Content-Type"] = content_type
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        return self.s.post(url, data=body, headers=headers, timeout=60, **kw)

    def get_ok(self, url, params=None):
        r = self.get(url, params)
        assert r.status_code == 200, f"GET {r.url} -> {r.status_code}: {r.text[:500]}"
        assert_taxii_content_type(r)
        return r

    def post_envelope(self, url, objects_or_text):
        body = objects_or_text if isinstance(objects_or_text, (str, bytes)) else {"objects": objects_or_text}
        r = self.post(url, body)
        assert r.status_code == 202, f"POST {url} -> {r.status_code}: {r.text[:800]}"
        assert_taxii_content_type(r)
        return check_status(r.json())

    def pages(self, url, params=None, limit=None, max_pages=200):
        """Follows `next` to the end; returns the list of (response, body) pages."""
        params = dict(params or {})
        if limit is not None:
            params["limit"] = str(limit)
        out = []
        nxt = None
        for _ in range(max_pages):
            p = dict(params)
            if nxt is not None:
                p["next"] = nxt
            r = self.get_ok(url, p)
            body = r.json()
            out.append((r, body))
            if not body.get("more", False):
                return out
            assert "next" in body, (
                f"more=true without next on {r.url}; this suite relies on next (§3.5 makes it MAY)"
            )
            nxt = body["next"]
        raise AssertionError(f"more than {max_pages} pages from {url}")


def items(body, key="objects"):
    return body.get(key, [])
