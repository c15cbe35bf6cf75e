"""pytest fixtures around real package indexes on loopback.

- ``pypiserver``: a real pypiserver (``releasekit.index.local_index``) on
  127.0.0.1 with htpasswd auth for uploads (user ``USERNAME``, password
  ``PASSWORD``), serving a per-test directory.
- ``upload_env``: the same server, with ``TWINE_USERNAME``/``TWINE_PASSWORD`` set.
- ``flaky_front``: a factory for a small HTTP proxy in front of that server that
  forwards everything but answers 500 to the wheel's upload the first N times.
- ``fault_proxy``: a factory for a fault-injecting proxy in front of that server
  (hangs, drips, resets, swapped files: see tests/fault_proxy.py).
- ``dead_index``: an index on a loopback port where nothing listens.
- ``oxi_dists``: per-test copies of the example's oxi-core sdist and wheel,
  built once per session (per xdist worker).
- ``build_backend_wheels``: the build backends (conftest's ``BACKENDS``) and
  their dependencies as wheels (from conftest's offline wheelhouse), to put on a
  test index so an sdist can be built from that index alone.
- ``make_wheel``: a small valid wheel written by hand (no build).

Use it with ``pytest_plugins = ["tests.pypiserver_fixtures"]`` in conftest, or
by importing the fixtures into a test module.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import shutil
import socket
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from packaging.utils import canonicalize_name

from releasekit.config import IndexConfig
from releasekit.index import local_index
from tests.conftest import BACKENDS, closure, make_wheel
from tests.fault_proxy import Fault, FaultProxy
from tests.standin import StandInHandler, serving, url_of

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "oxi"
USERNAME = "uploader"
PASSWORD = "pw-Kq8v-upload-secret-1b7e"  # distinctive, so tests can look for leaks

__all__ = [
    "PASSWORD",
    "USERNAME",
    "Dists",
    "Fault",
    "FaultProxy",
    "FlakyFront",
    "PypiServer",
    "build_backend_wheels",
    "dead_index",
    "fault_proxy",
    "flaky_front",
    "free_port",
    "make_wheel",
    "oxi_dists",
    "oxi_dists_built",
    "pypiserver",
    "upload_env",
]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class PypiServer:
    """A running pypiserver: its index, the directory it serves, who may upload."""

    index: IndexConfig
    directory: Path
    username: str = USERNAME
    password: str = PASSWORD

    def listing(self) -> dict[str, str]:
        """What the server holds: file name -> sha256 (read from its directory)."""
        return {p.name: sha256(p) for p in sorted(self.directory.rglob("*")) if p.is_file()}

    def put(self, path: Path) -> None:
        """Place a file on the index directly (as if uploaded earlier)."""
        shutil.copy2(path, self.directory / path.name)


@pytest.fixture
def pypiserver(tmp_path: Path) -> Iterator[PypiServer]:
    """A real pypiserver on 127.0.0.1: uploads need USERNAME/PASSWORD, reads are open."""
    with warnings.catch_warnings():  # passlib imports the deprecated crypt module
        warnings.simplefilter("ignore", DeprecationWarning)
        from passlib.apache import HtpasswdFile
    htpasswd = tmp_path / "htpasswd"
    users = HtpasswdFile(str(htpasswd), new=True)
    users.set_password(USERNAME, PASSWORD)
    users.save()
    directory = tmp_path / "index-packages"
    with local_index(directory, htpasswd=htpasswd) as index:
        yield PypiServer(index, directory)


@pytest.fixture
def upload_env(pypiserver: PypiServer, monkeypatch: pytest.MonkeyPatch) -> PypiServer:
    """``pypiserver`` with TWINE_USERNAME / TWINE_PASSWORD set for it."""
    monkeypatch.setenv("TWINE_USERNAME", pypiserver.username)
    monkeypatch.setenv("TWINE_PASSWORD", pypiserver.password)
    return pypiserver


# --- a flaky front ----------------------------------------------------------------


@dataclass
class FlakyFront:
    """A loopback HTTP proxy to ``target`` that fails the wheel's upload ``failures`` times.

    ``failures=None`` fails it every time.  With ``store_first`` the upload is
    passed on (the index keeps the file) and the 500 sent anyway, like a gateway
    timing out after the index answered.  ``failed`` counts the 500s sent,
    ``forwarded_uploads`` the upload requests passed on to the real server.
    """

    target: str
    failures: int | None
    store_first: bool = False
    index: IndexConfig = field(init=False)
    failed: int = 0
    forwarded_uploads: int = 0
    _serving: contextlib.ExitStack = field(default_factory=contextlib.ExitStack, repr=False)

    def start(self) -> FlakyFront:
        front = self
        target = urlsplit(self.target)

        class Handler(StandInHandler):
            def _forward(self) -> None:
                body = self.read_body() or None
                if self.command == "POST" and body is not None:
                    is_wheel = b'.whl"' in body
                    fail = is_wheel and (front.failures is None or front.failed < front.failures)
                    if fail and front.store_first:
                        self._pass_on(body)
                    if fail:
                        front.failed += 1
                        self.send_response(500, "Internal Server Error")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                response, payload = self._pass_on(body)
                self.send_response(response.status, response.reason)
                for key, value in response.getheaders():
                    if key.lower() not in {"transfer-encoding", "connection", "content-length"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _pass_on(self, body: bytes | None) -> tuple[http.client.HTTPResponse, bytes]:
                if self.command == "POST":
                    front.forwarded_uploads += 1
                conn = http.client.HTTPConnection(target.hostname or "", target.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                conn.close()
                return response, payload

            do_GET = _forward
            do_POST = _forward

        url = url_of(self._serving.enter_context(serving(Handler, "flaky-front")))
        self.index = IndexConfig("flaky", upload_url=f"{url}/", simple_url=f"{url}/simple/")
        return self

    def stop(self) -> None:
        self._serving.close()


@pytest.fixture
def flaky_front(pypiserver: PypiServer) -> Iterator[Callable[..., FlakyFront]]:
    """A factory: ``flaky_front(n, store_first=False)`` -> a front to ``pypiserver``
    failing the wheel's upload n times (``None``: always)."""
    fronts: list[FlakyFront] = []

    def make(failures: int | None, *, store_first: bool = False) -> FlakyFront:
        front = FlakyFront(pypiserver.index.upload_url or "", failures, store_first).start()
        fronts.append(front)
        return front

    yield make
    for front in fronts:
        front.stop()


@pytest.fixture
def fault_proxy(request: pytest.FixtureRequest) -> Iterator[Callable[..., FaultProxy]]:
    """A factory: ``fault_proxy(*faults, target=None)`` -> a started proxy, stopped after.

    The target defaults to the test's ``pypiserver``.
    """
    proxies: list[FaultProxy] = []

    def make(*faults: Fault, target: str | None = None, hold_limit: float = 120.0) -> FaultProxy:
        if target is None:
            server: PypiServer = request.getfixturevalue("pypiserver")
            target = server.index.upload_url or ""
        proxy = FaultProxy(target, list(faults), hold_limit=hold_limit).start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.stop()


@pytest.fixture
def dead_index() -> IndexConfig:
    """An index on a loopback port where nothing listens (connection refused)."""
    port = free_port()
    return IndexConfig("dead", f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/simple/")


# --- the example's dists -------------------------------------------------------------


@dataclass(frozen=True)
class Dists:
    """oxi-core's sdist and wheel in a directory of the test's own."""

    sdist: Path
    wheel: Path
    version: str = "0.1.0a1"
    name: str = "oxi-core"

    @property
    def files(self) -> tuple[Path, Path]:
        return (self.sdist, self.wheel)


@pytest.fixture(scope="session")
def oxi_dists_built(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """oxi-core 0.1.0a1 built once (``python -m build`` on a copy of examples/oxi)."""
    work = tmp_path_factory.mktemp("oxi-build")
    source = work / "oxi"
    shutil.copytree(
        EXAMPLE, source, ignore=shutil.ignore_patterns("dist", ".nox", "__pycache__", "adapters")
    )
    out = work / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return Dists(sdist, wheel)


@pytest.fixture
def oxi_dists(oxi_dists_built: Dists, tmp_path: Path) -> Dists:
    """A per-test copy of the built oxi-core dists (tests may change or delete them)."""
    dest = tmp_path / "dist"
    dest.mkdir()
    return Dists(
        Path(shutil.copy2(oxi_dists_built.sdist, dest)),
        Path(shutil.copy2(oxi_dists_built.wheel, dest)),
    )


@pytest.fixture(scope="session")
def build_backend_wheels(backend_wheelhouse: Path) -> tuple[Path, ...]:
    """The build backends and their dependencies as wheels (conftest's offline wheelhouse)."""
    names = {canonicalize_name(dist.metadata["Name"]) for dist in closure(BACKENDS)}
    return tuple(
        sorted(
            wheel
            for wheel in backend_wheelhouse.glob("*.whl")
            if canonicalize_name(wheel.name.split("-")[0]) in names
        )
    )
