"""Fixtures for the relto end-to-end suite.

Each test module gets its own hub: a fresh data directory, a realm applied with
`relto apply`, and `relto serve` listening on an ephemeral loopback port.  The hub can be
stopped and started again on the same data directory (`hub.restart()`) to test that
cursors, status resources and objects survive a restart.

The binary comes from $RELTO_BIN (default /work/main/target/debug/relto).  A missing
binary is a failure, not a skip.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from taxii2client.v21 import Collection

from taxii_helpers import SERVED_STIX, check_served_objects

RELTO_BIN = os.environ.get("RELTO_BIN", "/work/main/target/debug/relto")
REPO_ROOT = Path(__file__).resolve().parents[2]

TAXII_MEDIA = "application/taxii+json;version=2.1"

# Collection ids: version 4 UUIDs (a TAXII `identifier`, spec §2).
COL_MAIN = "2f6e6c5e-3d43-4a0e-9c7d-0a1b2c3d4e5f"      # analyst read+write; reader: no grant
COL_SHARED = "7b1c9a52-6f0e-4c1d-8a3b-5e2f9d4c1a07"    # analyst read+write; reader read-only
COL_PRIVATE = "c3d8e1f4-2a6b-4e9c-9d7f-1b0a3c5e7f92"   # analyst read+write; reader: no grant
COL_PARTNERS = "5a9e3c71-8b2d-4f6a-b1c0-d4e7f8a9b2c3"  # second API root, small max_content_length

ROOT_MAIN = "coalition"
ROOT_PARTNERS = "partners"
ROOT_MAIN_TITLE = "DPRK–Russia military cooperation"
ROOT_PARTNERS_TITLE = "Partner briefings"
MAIN_MAX_CONTENT = 1048576
PARTNERS_MAX_CONTENT = 65536

ANALYST = "nis-analyst"
READER = "mofa-reader"
ANALYST_PW = "Nis-analyst-passw0rd-for-tests"
READER_PW = "Mofa-reader-passw0rd-for-tests"
ADMIN_PW = "Admin-passw0rd-for-relto-tests"
ANALYST_TOKEN = "rt_test_token_0123456789abcdefghijklmnopqrstuv"

REALM = f"""
[hub]
nation = "KOR"

[[api_root]]
path = "{ROOT_MAIN}"
title = "{ROOT_MAIN_TITLE}"
max_content_length = {MAIN_MAX_CONTENT}

[[api_root]]
path = "{ROOT_PARTNERS}"
title = "{ROOT_PARTNERS_TITLE}"
max_content_length = {PARTNERS_MAX_CONTENT}

[[organization]]
slug = "kor-nis"
name = "National Intelligence Service"
nation = "KOR"

[[organization]]
slug = "kor-mofa"
name = "Ministry of Foreign Affairs"
nation = "KOR"

[[account]]
name = "{ANALYST}"
organization = "kor-nis"
roles = ["analyst"]
password_env = "RELTO_PW_NIS"
token_env = "RELTO_TOKEN_NIS"

[[account]]
name = "{READER}"
organization = "kor-mofa"
roles = ["reader"]
password_env = "RELTO_PW_MOFA"

[[collection]]
id = "{COL_MAIN}"
api_root = "{ROOT_MAIN}"
title = "Situation reports"
readers = ["org:kor-nis"]
writers = ["org:kor-nis"]

[[collection]]
id = "{COL_SHARED}"
api_root = "{ROOT_MAIN}"
title = "Briefings for the foreign ministry"
readers = ["org:kor-nis", "account:{READER}"]
writers = ["org:kor-nis"]

[[collection]]
id = "{COL_PRIVATE}"
api_root = "{ROOT_MAIN}"
title = "NIS internal"
readers = ["org:kor-nis"]
writers = ["org:kor-nis"]

[[collection]]
id = "{COL_PARTNERS}"
api_root = "{ROOT_PARTNERS}"
title = "Partner feed"
readers = ["org:kor-nis"]
writers = ["org:kor-nis"]
"""

# Every object that taxii2client's Collection reads (get_objects, get_object, as_pages and
# stix2's TAXIICollectionSource use these two) is checked as served STIX; raw reads are
# checked in taxii_helpers.Client.get.
def _checking(read):
    @functools.wraps(read)
    def checked(self, *args, **kwargs):
        envelope = read(self, *args, **kwargs)
        who = getattr(self._conn.session.auth, "username", None) or "anonymous"
        check_served_objects(envelope.get("objects", []),
                             f"{who}: taxii2client Collection.{read.__name__} {args} {kwargs} at {self.url}")
        return envelope
    return checked


Collection.get_objects = _checking(Collection.get_objects)
Collection.get_object = _checking(Collection.get_object)


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"served STIX objects checked with stix2 and stix2validator: "
                                f"{SERVED_STIX['checked']} ({len(SERVED_STIX['distinct'])} distinct)")


LISTEN_RE = re.compile(r"relto listening on (http://127\.0\.0\.1:(\d+))")


# RELTO_TEST_BACKEND=postgres runs every hub on a fresh PostgreSQL database (created from
# RELTO_TEST_POSTGRES_URL, the server's admin URL) instead of the SQLite data directory.
POSTGRES = os.environ.get("RELTO_TEST_BACKEND") == "postgres"
_databases: dict[str, str] = {}


def database_for(data_dir) -> str | None:
    """The PostgreSQL database of a data directory (created on first use), or None on SQLite."""
    if not POSTGRES:
        return None
    key = str(data_dir)
    if key not in _databases:
        admin = os.environ.get("RELTO_TEST_POSTGRES_URL")
        if not admin:
            pytest.fail("RELTO_TEST_BACKEND=postgres needs RELTO_TEST_POSTGRES_URL", pytrace=False)
        name = f"relto_test_py_{os.getpid()}_{len(_databases)}_{int(time.time())}"
        subprocess.run(["psql", "-q", "-X", admin, "-c", f"CREATE DATABASE {name}"], check=True,
                       capture_output=True)
        _databases[key] = admin.rsplit("/", 1)[0] + "/" + name
    return _databases[key]


def relto_env(data_dir=None) -> dict:
    env = dict(os.environ)
    database = database_for(data_dir) if data_dir is not None else None
    if database:
        env["RELTO_DATABASE"] = database
    env.update(
        RELTO_PW_NIS=ANALYST_PW,
        RELTO_PW_MOFA=READER_PW,
        RELTO_TOKEN_NIS=ANALYST_TOKEN,
        RELTO_ADMIN_PASSWORD=ADMIN_PW,
    )
    env.setdefault("RUST_BACKTRACE", "1")
    return env


def require_binary() -> str:
    if not (os.path.isfile(RELTO_BIN) and os.access(RELTO_BIN, os.X_OK)):
        pytest.fail(f"relto binary not found at {RELTO_BIN} (set RELTO_BIN)", pytrace=False)
    return RELTO_BIN


def run_apply(data_dir: Path, realm_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [require_binary(), "apply", "--data-dir", str(data_dir), str(realm_file)],
        env=relto_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )


@dataclass
class Hub:
    """A running `relto serve` on a data directory."""

    data_dir: Path
    realm_file: Path
    log_dir: Path
    proc: subprocess.Popen | None = None
    base_url: str = ""
    starts: int = 0
    _stdout_lines: list = field(default_factory=list)

    # -- credentials -------------------------------------------------------------------
    analyst = (ANALYST, ANALYST_PW)
    reader = (READER, READER_PW)
    admin = ("admin", ADMIN_PW)
    analyst_token = ANALYST_TOKEN

    # -- urls ----------------------------------------------------------------------------
    def root_url(self, root: str = ROOT_MAIN) -> str:
        return f"{self.base_url}/{root}/"

    def collection_url(self, col: str = COL_MAIN, root: str = ROOT_MAIN) -> str:
        return f"{self.base_url}/{root}/collections/{col}/"

    def objects_url(self, col: str = COL_MAIN, root: str = ROOT_MAIN) -> str:
        return self.collection_url(col, root) + "objects/"

    def object_url(self, obj_id: str, col: str = COL_MAIN, root: str = ROOT_MAIN) -> str:
        return self.objects_url(col, root) + f"{obj_id}/"

    def manifest_url(self, col: str = COL_MAIN, root: str = ROOT_MAIN) -> str:
        return self.collection_url(col, root) + "manifest/"

    def status_url(self, status_id: str, root: str = ROOT_MAIN) -> str:
        return f"{self.base_url}/{root}/status/{status_id}/"

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}/taxii2/"

    # -- process control -------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> None:
        assert self.proc is None, "hub already running"
        self.starts += 1
        stderr = open(self.log_dir / f"serve-{self.starts}.stderr", "wb")
        self.proc = subprocess.Popen(
            [require_binary(), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir)],
            env=relto_env(self.data_dir),
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
        )
        stderr.close()
        found = threading.Event()
        lines = self._stdout_lines = []

        def pump(stream):
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                lines.append(line)
                m = LISTEN_RE.search(line)
                if m and not found.is_set():
                    self.base_url = m.group(1)
                    found.set()
            stream.close()

        threading.Thread(target=pump, args=(self.proc.stdout,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not found.is_set():
            rc = self.proc.poll()
            if rc is not None:
                err = (self.log_dir / f"serve-{self.starts}.stderr").read_text(errors="replace")
                self.proc = None
                pytest.fail(
                    f"relto serve exited with status {rc} before listening\n"
                    f"stdout: {lines}\nstderr: {err[-4000:]}",
                    pytrace=False,
                )
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"relto serve did not print its listening line in {timeout}s: {lines}",
                            pytrace=False)
            found.wait(0.05)

    def stop(self) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        proc.terminate()
        try:
            return proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(15)

    def restart(self) -> None:
        self.stop()
        self.start()

    def stderr_text(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.log_dir.glob("serve-*.stderr"))
        )


def make_hub(tmp_path_factory, name: str) -> Hub:
    base = tmp_path_factory.mktemp(name)
    data_dir = base / "data"
    data_dir.mkdir()
    realm_file = base / "realm.toml"
    realm_file.write_text(REALM, encoding="utf-8")
    res = run_apply(data_dir, realm_file)
    if res.returncode != 0:
        pytest.fail(
            f"relto apply failed ({res.returncode})\nstdout: {res.stdout}\nstderr: {res.stderr}",
            pytrace=False,
        )
    hub = Hub(data_dir=data_dir, realm_file=realm_file, log_dir=base)
    hub.start()
    return hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory, request):
    """A hub of its own for each test module; killed at teardown."""
    h = make_hub(tmp_path_factory, request.module.__name__.rsplit(".", 1)[-1])
    yield h
    h.stop()


@pytest.fixture(scope="module")
def fresh_hub_factory(tmp_path_factory):
    """Makes more hubs on demand (each on its own data dir); all stopped at teardown."""
    made = []

    def factory(name="extra"):
        h = make_hub(tmp_path_factory, name)
        made.append(h)
        return h

    yield factory
    for h in made:
        h.stop()
