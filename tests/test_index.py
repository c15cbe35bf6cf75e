"""index.py: reading a real index's pages, and the embedded pypiserver's life cycle."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from packaging.version import Version

from releasekit.config import IndexConfig
from releasekit.errors import ConfigError, IndexFailure, IndexUnreachable, ReleaseError
from releasekit.index import (
    IndexFile,
    download_from_index,
    files_on_index,
    local_index,
    versions_on_index,
)

if TYPE_CHECKING:
    from tests.pypiserver_fixtures import Dists, PypiServer

pytest_plugins = ["tests.pypiserver_fixtures"]


def _server_pids(port: int) -> list[int]:
    """Processes whose command line is a pypiserver on ``port`` (read from /proc)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"pypiserver" in args and str(port).encode() in args:
            pids.append(int(cmdline.parent.name))
    return pids


def _port(index: IndexConfig) -> int:
    assert index.upload_url is not None
    return int(index.upload_url.rstrip("/").rsplit(":", 1)[1])


def _answers(index: IndexConfig) -> bool:
    try:
        with urllib.request.urlopen(f"{index.upload_url}health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


needs_proc = pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")


@needs_proc
def test_local_index_runs_on_loopback_and_its_process_is_gone_after(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="releasekit")
    with local_index() as index:
        port = _port(index)
        assert index.name == "local"
        assert index.upload_url == f"http://127.0.0.1:{port}/"
        assert index.simple_url == f"http://127.0.0.1:{port}/simple/"
        assert _answers(index)
        assert len(_server_pids(port)) == 1
        (started,) = [r.getMessage() for r in caplog.records if "local index at" in r.getMessage()]
        served = Path(started.rsplit(" serving ", 1)[1])
        assert served.is_dir()
    assert _server_pids(port) == []
    assert not _answers(index)
    assert not served.exists(), "the default package directory is a temporary one"


@needs_proc
def test_local_index_is_stopped_when_the_block_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), local_index(tmp_path / "pkgs") as index:
        port = _port(index)
        assert _server_pids(port)
        raise RuntimeError("boom")
    assert _server_pids(port) == []
    assert (tmp_path / "pkgs").is_dir(), "a directory the caller gave is kept"


def test_local_index_does_not_fall_back_to_pypi() -> None:
    with local_index() as index:
        assert files_on_index(index, "requests") == []


def test_local_index_on_a_taken_port_fails_with_the_server_output(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(IndexUnreachable) as excinfo, local_index(port=port):
            pytest.fail("the block must not run")
    message = str(excinfo.value)
    assert f"127.0.0.1:{port}" in message
    assert "exited" in message
    assert "in use" in message.lower(), "the server's own output tail explains why"
    assert excinfo.value.hint


def test_files_on_index_lists_a_version_with_hashes(
    pypiserver: PypiServer, oxi_dists: Dists
) -> None:
    index = pypiserver.index
    assert files_on_index(index, "oxi-core") == []
    assert versions_on_index(index, "oxi-core") == []
    pypiserver.put(oxi_dists.sdist)
    pypiserver.put(oxi_dists.wheel)
    other = oxi_dists.sdist.with_name("oxi_core-0.1.0a2.tar.gz")
    other.write_bytes(oxi_dists.sdist.read_bytes())
    pypiserver.put(other)

    files = files_on_index(index, "oxi-core", "0.1.0a1")
    by_name = {f.filename: f for f in files}
    assert sorted(by_name) == sorted([oxi_dists.sdist.name, oxi_dists.wheel.name])
    for dist in oxi_dists.files:
        listed = by_name[dist.name]
        assert listed.sha256 == hashlib.sha256(dist.read_bytes()).hexdigest()
        assert listed.yanked is None
        assert listed.url.startswith(index.upload_url or "")
    assert {f.kind for f in files} == {"wheel", "sdist"}
    # any spelling of name and version that normalizes the same
    assert files_on_index(index, "Oxi_Core", "0.1.0.a1") == files
    assert [f.filename for f in files_on_index(index, "oxi-core", "0.1.0a2")] == [other.name]
    assert files_on_index(index, "oxi-core", "0.1.0a3") == []
    assert len(files_on_index(index, "oxi-core")) == 3
    assert versions_on_index(index, "oxi-core") == [Version("0.1.0a1"), Version("0.1.0a2")]


def test_an_index_that_is_down_is_unreachable(dead_index: IndexConfig) -> None:
    with pytest.raises(IndexUnreachable) as excinfo:
        files_on_index(dead_index, "oxi-core", timeout=5)
    assert repr(f"{dead_index.simple_url}oxi-core/") in str(excinfo.value)
    assert excinfo.value.hint


def test_the_local_index_has_no_url_before_it_runs() -> None:
    with pytest.raises(ConfigError, match="'local'"):
        files_on_index(IndexConfig("local", None, None), "oxi-core")


# --- a PEP 691 JSON index, yanked files, files without hashes ------------------------


@pytest.fixture
def json_index(tmp_path: Path) -> Iterator[tuple[IndexConfig, dict[str, bytes]]]:
    """A tiny PEP 691 index: one good file, one yanked, one listed with a wrong hash."""
    blobs = {
        "oxi_core-1.0.tar.gz": b"sdist bytes",
        "oxi_core-1.0-py3-none-any.whl": b"wheel bytes",
        "oxi_core-0.9.tar.gz": b"old sdist",
    }
    seen_accept: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            base = f"http://{self.headers['Host']}"
            if self.path == "/simple/oxi-core/":
                seen_accept.append(self.headers.get("Accept", ""))
                page = {
                    "meta": {"api-version": "1.1"},
                    "name": "oxi-core",
                    "files": [
                        {
                            "filename": "oxi_core-1.0.tar.gz",
                            "url": f"{base}/files/oxi_core-1.0.tar.gz",
                            "hashes": {"sha256": hashlib.sha256(b"sdist bytes").hexdigest()},
                            "requires-python": ">=3.10",
                        },
                        {
                            "filename": "oxi_core-1.0-py3-none-any.whl",
                            "url": f"{base}/files/oxi_core-1.0-py3-none-any.whl",
                            "hashes": {"sha256": "0" * 64},
                        },
                        {
                            "filename": "oxi_core-0.9.tar.gz",
                            "url": f"{base}/files/oxi_core-0.9.tar.gz",
                            "hashes": {},
                            "yanked": "broken metadata",
                        },
                    ],
                }
                body = json.dumps(page).encode()
                content_type = "application/vnd.pypi.simple.v1+json"
            elif self.path.startswith("/files/") and self.path[7:] in blobs:
                body, content_type = blobs[self.path[7:]], "application/octet-stream"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    yield (
        IndexConfig("json", f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/simple/"),
        blobs,
    )
    server.shutdown()
    server.server_close()
    assert all("application/vnd.pypi.simple.v1+json" in a and "text/html" in a for a in seen_accept)


def test_files_on_index_reads_pep691_json_with_yanked_and_unhashed_files(
    json_index: tuple[IndexConfig, dict[str, bytes]], tmp_path: Path
) -> None:
    index, blobs = json_index
    (old,) = files_on_index(index, "oxi-core", "0.9")
    assert old.yanked == "broken metadata"
    assert old.sha256 is None
    sdist = next(f for f in files_on_index(index, "oxi-core", "1.0") if f.kind == "sdist")
    assert sdist.yanked is None
    assert sdist.requires_python == ">=3.10"
    assert versions_on_index(index, "oxi-core") == [Version("0.9"), Version("1.0")]

    got = download_from_index(index, sdist, tmp_path / "dl")
    assert got.read_bytes() == blobs[sdist.filename]
    unhashed = download_from_index(index, old, tmp_path / "dl")
    assert unhashed.read_bytes() == blobs[old.filename]


def test_a_download_that_does_not_match_the_listed_hash_is_refused(
    json_index: tuple[IndexConfig, dict[str, bytes]], tmp_path: Path
) -> None:
    index, _ = json_index
    wheel = next(f for f in files_on_index(index, "oxi-core", "1.0") if f.kind == "wheel")
    with pytest.raises(IndexFailure, match="sha256") as excinfo:
        download_from_index(index, wheel, tmp_path / "dl")
    assert repr(wheel.filename) in str(excinfo.value)
    assert not (tmp_path / "dl" / wheel.filename).exists(), "a bad download is not left behind"


def test_index_file_kind_comes_from_the_file_name() -> None:
    assert IndexFile("a-1-py3-none-any.whl", "u", None, None).kind == "wheel"
    assert IndexFile("a-1.tar.gz", "u", None, None).kind == "sdist"


# --- a listed file the index answers with an HTTP error --------------------------------


@pytest.fixture
def failing_downloads(tmp_path: Path) -> Iterator[tuple[IndexConfig, list[int]]]:
    """A PEP 691 index listing oxi-core 1.0 whose file downloads answer ``statuses[0]``."""
    statuses = [404]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            base = f"http://{self.headers['Host']}"
            if self.path != "/simple/oxi-core/":
                self.send_error(statuses[0])
                return
            files: list[dict[str, object]] = [
                {"filename": filename, "url": f"{base}/files/{filename}", "hashes": {}}
                for filename in ("oxi_core-1.0.tar.gz", "oxi_core-1.0-py3-none-any.whl")
            ]
            body = json.dumps(
                {"meta": {"api-version": "1.1"}, "name": "oxi-core", "files": files}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    yield (
        IndexConfig("mirror", f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/simple/"),
        statuses,
    )
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("status", "hint"),
    [(404, "lists a file it does not serve"), (503, "failed while serving the file")],
)
def test_a_download_answered_with_an_http_error_names_the_file_the_index_and_the_status(
    failing_downloads: tuple[IndexConfig, list[int]], tmp_path: Path, status: int, hint: str
) -> None:
    index, statuses = failing_downloads
    statuses[0] = status
    sdist = next(f for f in files_on_index(index, "oxi-core", "1.0") if f.kind == "sdist")
    with pytest.raises(ReleaseError) as excinfo:
        download_from_index(index, sdist, tmp_path / "dl")
    error = excinfo.value
    assert f"HTTP {status}" in error.message
    assert "'oxi_core-1.0.tar.gz'" in error.message and "'mirror'" in error.message
    assert hint in error.hint
    assert not (tmp_path / "dl" / sdist.filename).exists(), "no partial file stays behind"


def test_verify_stops_at_a_download_the_index_answers_with_an_http_error(
    failing_downloads: tuple[IndexConfig, list[int]],
) -> None:
    from releasekit.verify import verify_published

    index, statuses = failing_downloads
    statuses[0] = 500
    with pytest.raises(ReleaseError) as excinfo:
        verify_published(index, "oxi-core", "1.0", kinds=["sdist"], timeout=60)
    error = excinfo.value
    assert "HTTP 500" in error.message and "'oxi_core-1.0.tar.gz'" in error.message
    assert "'mirror'" in error.message
    assert "re-run" in error.hint
