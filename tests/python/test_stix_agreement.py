"""`relto validate` against the OASIS STIX 2.1 validator (stix2validator) on the corpus.

For every file under tests/stix-corpus/valid and tests/stix-corpus/invalid, relto's
verdict must equal stix2validator's (only errors count; warnings do not), object by
object, except for the files listed in tests/stix-corpus/EXPECTED.md, where relto's
verdict must be the one documented there.  relto's verdict must also match the folder the
file is in.  A missing corpus is a failure.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from stix2validator import ValidationOptions, validate_instance

from conftest import REPO_ROOT, require_binary

CORPUS = REPO_ROOT / "tests" / "stix-corpus"
EXPECTED_MD = CORPUS / "EXPECTED.md"
OPTIONS = ValidationOptions(version="2.1")


def corpus_files() -> list[Path]:
    files = []
    for sub in ("valid", "invalid"):
        d = CORPUS / sub
        if d.is_dir():
            files += sorted(p for p in d.rglob("*")
                            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() != ".md")
    return files


FILES = corpus_files()


def rel(p: Path) -> str:
    return p.relative_to(CORPUS).as_posix()


# ---------------------------------------------------------------------------------------
# EXPECTED.md
# ---------------------------------------------------------------------------------------

VERDICT_WORDS = {
    "invalid": False, "reject": False, "rejected": False, "rejects": False, "fail": False,
    "fails": False, "error": False, "✗": False, "❌": False,
    "valid": True, "accept": True, "accepted": True, "accepts": True, "pass": True,
    "passes": True, "ok": True, "✓": True, "✅": True,
}
FILE_RE = re.compile(r"[\w][\w.\-/]*\.[A-Za-z0-9]+")


def verdict_of(cell: str):
    words = re.findall(r"[a-z]+|[✗❌✓✅]", cell.lower().replace("`", " ").replace("*", " "))
    found = {VERDICT_WORDS[w] for w in words if w in VERDICT_WORDS}
    if len(found) == 1:
        return found.pop()
    return None


def parse_expected(text: str) -> dict[str, bool]:
    """Rows of the markdown table(s): a file name cell and relto's verdict.  The verdict
    column is the one whose header mentions relto."""
    out: dict[str, bool] = {}
    header = None
    for line in text.splitlines():
        s = line.strip()
        if not s.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in s.strip("|").split("|")]
        if all(re.fullmatch(r":?-{2,}:?", c) or not c for c in cells):
            continue
        names = [m.group(0) for c in cells for m in FILE_RE.finditer(c.replace("`", ""))
                 if (CORPUS / m.group(0)).exists() or any(f.name == Path(m.group(0)).name for f in FILES)]
        if header is None and not names:
            header = [c.lower() for c in cells]
            continue
        if not names:
            continue
        col = None
        if header:
            relto_cols = [i for i, h in enumerate(header) if "relto" in h]
            if relto_cols:
                col = relto_cols[0]
        assert col is not None and col < len(cells), (
            f"EXPECTED.md: cannot tell which column is relto's verdict for row {s!r} (header {header})"
        )
        v = verdict_of(cells[col])
        assert v is not None, f"EXPECTED.md: no valid/invalid verdict in {cells[col]!r} (row {s!r})"
        for n in names:
            out[n] = v
    return out


@functools.lru_cache(maxsize=1)
def expected_verdicts() -> dict[str, bool]:
    if not EXPECTED_MD.exists():
        return {}
    return parse_expected(EXPECTED_MD.read_text(encoding="utf-8"))


def documented(expected: dict[str, bool], p: Path):
    if rel(p) in expected:
        return expected[rel(p)]
    by_name = [v for k, v in expected.items() if Path(k).name == p.name and "/" not in k]
    return by_name[0] if by_name else None


# ---------------------------------------------------------------------------------------
# The two validators
# ---------------------------------------------------------------------------------------

@dataclass
class Relto:
    rc: int
    lines: list = field(default_factory=list)
    stderr: str = ""
    bad_output: list = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.rc == 0


def run_relto(*paths: str) -> Relto:
    res = subprocess.run([require_binary(), "validate", *paths], capture_output=True, text=True, timeout=60)
    out = Relto(rc=res.returncode, stderr=res.stderr)
    for line in res.stdout.splitlines():
        if not line.strip():
            continue
        try:
            out.lines.append(json.loads(line))
        except ValueError:
            out.bad_output.append(line)
    return out


def split_objects(doc):
    """(kind, objects) of a file: one object, a bundle or a TAXII envelope."""
    if isinstance(doc, dict) and doc.get("type") == "bundle":
        return "bundle", doc.get("objects") if isinstance(doc.get("objects"), list) else []
    if isinstance(doc, dict) and "type" not in doc and isinstance(doc.get("objects"), list):
        return "envelope", doc["objects"]
    return "object", [doc]


def oasis_validate(obj) -> tuple[bool, str]:
    try:
        r = validate_instance(obj, OPTIONS)
    except Exception as e:  # not a STIX object at all, schema trouble, ...
        return False, f"{type(e).__name__}: {e}"
    return bool(r.is_valid), "; ".join(str(e) for e in r.errors)


@dataclass
class Oasis:
    parsed: bool
    kind: str = ""
    per_object: list = field(default_factory=list)  # [(valid, message)]
    wrapper: tuple = (True, "")

    @property
    def valid(self) -> bool:
        return self.parsed and self.wrapper[0] and all(v for v, _ in self.per_object) and bool(self.per_object)


def run_oasis(p: Path) -> Oasis:
    try:
        doc = json.loads(p.read_bytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return Oasis(parsed=False)
    kind, objs = split_objects(doc)
    o = Oasis(parsed=True, kind=kind, per_object=[oasis_validate(x) for x in objs])
    if kind == "bundle":
        o.wrapper = oasis_validate(doc)
    return o


@pytest.fixture(scope="module")
def verdicts():
    require_binary()
    with ThreadPoolExecutor(4) as ex:
        relto = dict(zip(FILES, ex.map(lambda p: run_relto(str(p)), FILES)))
    oasis = {p: run_oasis(p) for p in FILES}
    return relto, oasis


# ---------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------

def test_corpus_exists():
    for sub in ("valid", "invalid"):
        d = CORPUS / sub
        assert d.is_dir(), f"the STIX corpus folder {d} is missing"
        assert any(p.parent == d or d in p.parents for p in FILES), f"{d} holds no files"


def test_expected_md_names_corpus_files():
    exp = expected_verdicts()
    for name in exp:
        assert (CORPUS / name).is_file() or any(f.name == Path(name).name for f in FILES), (
            f"EXPECTED.md lists {name}, which is not in the corpus"
        )


def check_output_shape(p: Path, r: Relto):
    assert not r.bad_output, f"relto validate printed non-JSON lines: {r.bad_output}"
    for line in r.lines:
        assert set(line) >= {"file", "index", "id", "valid"}, f"output line lacks fields: {line}"
        assert isinstance(line["valid"], bool) and isinstance(line["index"], int), line
        assert Path(line["file"]).name == p.name, line
        if not line["valid"]:
            assert isinstance(line.get("error"), str) and line["error"], f"invalid without an error: {line}"
    assert r.rc in (0, 1, 2), f"exit status {r.rc}; stderr: {r.stderr[-500:]}"
    if r.rc == 0:
        assert r.lines and all(l["valid"] for l in r.lines), f"exit 0 but: {r.lines}"
    elif r.rc == 1:
        assert any(not l["valid"] for l in r.lines), f"exit 1 but every line is valid: {r.lines}"


@pytest.mark.parametrize("path", FILES or [None], ids=[rel(p) for p in FILES] or ["corpus-missing"])
def test_relto_agrees_with_oasis_validator(verdicts, path):
    assert path is not None, f"no corpus files under {CORPUS}/valid and /invalid"
    relto, oasis = verdicts
    r, o = relto[path], oasis[path]
    check_output_shape(path, r)
    if r.rc == 2:
        assert not o.parsed, (
            f"relto validate exited 2 (usage/IO error) on a readable JSON file; stderr: {r.stderr[-500:]}"
        )
    exp = documented(expected_verdicts(), path)
    detail = (f"relto: rc={r.rc} {json.dumps(r.lines, ensure_ascii=False)[:1500]}\n"
              f"stix2validator: {'unparsable' if not o.parsed else o.per_object}{'' if o.wrapper[0] else ' bundle: ' + o.wrapper[1]}")
    if exp is not None:
        assert r.valid == exp, (
            f"{rel(path)}: EXPECTED.md documents relto's verdict as {'valid' if exp else 'invalid'}, "
            f"relto says {'valid' if r.valid else 'invalid'}\n{detail}"
        )
        return
    assert r.valid == o.valid, (
        f"{rel(path)}: relto says {'valid' if r.valid else 'invalid'}, stix2validator says "
        f"{'valid' if o.valid else 'invalid'} (not listed in EXPECTED.md)\n{detail}"
    )
    if o.parsed and r.rc != 2:
        assert len(r.lines) == len(o.per_object), (
            f"{rel(path)}: relto printed {len(r.lines)} lines for {len(o.per_object)} objects\n{detail}"
        )
        by_index = sorted(r.lines, key=lambda l: l["index"])
        assert [l["index"] for l in by_index] == list(range(len(by_index))), f"indexes: {detail}"
        for line, (ok, msg) in zip(by_index, o.per_object):
            assert line["valid"] == ok, (
                f"{rel(path)} object {line['index']} ({line.get('id')}): relto "
                f"{'valid' if line['valid'] else 'invalid: ' + line.get('error', '')}, stix2validator "
                f"{'valid' if ok else 'invalid: ' + msg}"
            )


@pytest.mark.parametrize("path", FILES or [None], ids=[rel(p) for p in FILES] or ["corpus-missing"])
def test_relto_verdict_matches_folder(verdicts, path):
    assert path is not None, f"no corpus files under {CORPUS}"
    relto, _ = verdicts
    r = relto[path]
    want_valid = rel(path).startswith("valid/")
    assert r.valid == want_valid, (
        f"{rel(path)} is in {'valid' if want_valid else 'invalid'}/ but relto validate says "
        f"{'valid' if r.valid else 'invalid'} (rc={r.rc}): {json.dumps(r.lines, ensure_ascii=False)[:800]}"
    )


def test_validate_exit_status_and_batch(verdicts):
    relto, _ = verdicts
    valid = [p for p in FILES if relto[p].rc == 0][:5]
    invalid = [p for p in FILES if relto[p].rc == 1][:5]
    assert valid and invalid, "the corpus needs valid and invalid files"
    r = run_relto(*map(str, valid))
    assert r.rc == 0 and len(r.lines) == sum(len(relto[p].lines) for p in valid), r
    r = run_relto(*map(str, valid + invalid))
    assert r.rc == 1, r
    assert len(r.lines) == sum(len(relto[p].lines) for p in valid + invalid)
    got_files = {Path(l["file"]).name for l in r.lines}
    assert got_files == {p.name for p in valid + invalid}


def test_validate_usage_and_io_errors(tmp_path):
    assert run_relto(str(tmp_path / "does-not-exist.json")).rc == 2
    assert run_relto().rc == 2, "validate without files is a usage error"
