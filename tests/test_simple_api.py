"""simple_api.py through files_on_index: project pages in the shapes real indexes serve.

A loopback stand-in serves each page (PEP 691 JSON; PEP 503 HTML as PyPI, devpi or
Artifactory write it); the pypiserver tests in test_index.py cover a real index.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from releasekit.config import IndexConfig
from releasekit.errors import IndexFailure
from releasekit.index import IndexFile, download_from_index, files_on_index
from tests.standin import StandInHandler, serving, url_of

SDIST_BYTES = b"oxi-core 1.0 sdist"
SDIST_SHA = hashlib.sha256(SDIST_BYTES).hexdigest()
OLD_SHA = "a" * 64
META_SHA = "d" * 64
MD5 = "0" * 32
OTHER_HOST = "http://files.example.invalid"  # never fetched: only read as a URL


@dataclass
class Pages:
    """What the stand-in answers: path -> (status, content type, body); and what it saw."""

    base: str = ""
    answers: dict[str, tuple[int, str | None, bytes]] = field(default_factory=dict)
    accepts: list[str] = field(default_factory=list)

    def page(self, path: str, body: str | bytes, content_type: str | None = "text/html") -> None:
        data = body.encode() if isinstance(body, str) else body
        self.answers[path] = (200, content_type, data)

    def index(self) -> IndexConfig:
        return IndexConfig("mirror", f"{self.base}/", f"{self.base}/simple/")


@pytest.fixture
def pages() -> Iterator[Pages]:
    state = Pages()

    class Handler(StandInHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/simple/"):
                state.accepts.append(self.headers.get("Accept", ""))
            if self.path.startswith("/simple/moved"):  # /simple/moved*/ -> /elsewhere/project/
                self.send_response(301)
                self.send_header("Location", "/elsewhere/project" + self.path[len("/simple") :])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status, content_type, body = state.answers.get(self.path, (404, "text/plain", b""))
            self.send_bytes(status, body, content_type)

    with serving(Handler, "simple-api stand-in") as server:
        state.base = url_of(server)
        yield state


def _by_name(files: list[IndexFile]) -> dict[str, IndexFile]:
    return {f.filename: f for f in files}


# --- PEP 691 JSON ------------------------------------------------------------------------


def _json_page(api_version: str, base: str) -> str:
    return json.dumps(
        {
            "meta": {"api-version": api_version, "_last-serial": 7},
            "name": "oxi-core",
            "files": [
                {
                    "filename": "oxi_core-1.0.tar.gz",
                    "url": "../../files/oxi_core-1.0.tar.gz",  # relative to the page
                    "hashes": {"sha256": SDIST_SHA, "md5": "0" * 32},
                    "requires-python": ">=3.10",
                    "core-metadata": False,
                    "size": len(SDIST_BYTES),
                },
                {
                    "filename": "oxi_core-1.0-py3-none-any.whl",
                    "url": f"{base}/files/oxi_core-1.0-py3-none-any.whl",
                    "hashes": {"sha256": "b" * 64},
                    "yanked": True,
                },
                {
                    "filename": "oxi_core-0.9.tar.gz",
                    "url": "/files/oxi_core-0.9.tar.gz",
                    "hashes": {"blake2b": "c" * 128},
                    "yanked": "broken metadata",
                },
            ],
        }
    )


def test_a_pep691_page_is_read_with_relative_urls_yanked_files_and_requires_python(
    pages: Pages, tmp_path: Path
) -> None:
    pages.page(
        "/simple/oxi-core/", _json_page("1.1", pages.base), "application/vnd.pypi.simple.v1+json"
    )
    pages.page("/files/oxi_core-1.0.tar.gz", SDIST_BYTES, "application/octet-stream")
    files = _by_name(files_on_index(pages.index(), "Oxi.Core"))
    assert files == {
        "oxi_core-1.0.tar.gz": IndexFile(
            "oxi_core-1.0.tar.gz",
            f"{pages.base}/files/oxi_core-1.0.tar.gz",
            SDIST_SHA,
            None,
            ">=3.10",
        ),
        "oxi_core-1.0-py3-none-any.whl": IndexFile(
            "oxi_core-1.0-py3-none-any.whl",
            f"{pages.base}/files/oxi_core-1.0-py3-none-any.whl",
            "b" * 64,
            "",
        ),
        "oxi_core-0.9.tar.gz": IndexFile(
            "oxi_core-0.9.tar.gz",
            f"{pages.base}/files/oxi_core-0.9.tar.gz",
            None,
            "broken metadata",
        ),
    }
    assert all(
        "application/vnd.pypi.simple.v1+json" in a and "text/html" in a for a in pages.accepts
    )
    # the resolved relative URL is the file itself: it downloads and matches its sha256
    got = download_from_index(pages.index(), files["oxi_core-1.0.tar.gz"], tmp_path)
    assert got.read_bytes() == SDIST_BYTES


def test_a_pep691_page_of_a_newer_major_api_version_is_refused(pages: Pages) -> None:
    pages.page(
        "/simple/oxi-core/", _json_page("2.0", pages.base), "application/vnd.pypi.simple.v1+json"
    )
    with pytest.raises(IndexFailure) as excinfo:
        files_on_index(pages.index(), "oxi-core")
    message = str(excinfo.value)
    assert (
        f"index 'mirror' sent a page releasekit cannot read at '{pages.base}/simple/oxi-core/'"
        in message
    )
    assert "2.0" in message and "major" in message
    assert "PEP 503/691" in excinfo.value.hint


# --- PEP 503 HTML as real indexes write it -----------------------------------------------

PYPI_PAGE = f"""<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.3">
    <meta name="pypi:project-status" content="active">
    <title>Links for oxi-core</title>
  </head>
  <body>
    <h1>Links for oxi-core</h1>
    <a href="{OTHER_HOST}/packages/6a/2f/oxi_core-0.9.tar.gz#sha256={OLD_SHA}"
      data-requires-python="&gt;=3.8" data-dist-info-metadata="sha256={META_SHA}"
      data-core-metadata="sha256={META_SHA}">oxi_core-0.9.tar.gz</a><br />
    <a href="{OTHER_HOST}/packages/1b/07/oxi_core-0.9-py3-none-any.whl#sha256={"e" * 64}"
      data-requires-python="&gt;=3.8,&lt;4" data-yanked="">oxi_core-0.9-py3-none-any.whl</a><br />
    <a href="{OTHER_HOST}/packages/77/31/oxi_core-1.0.tar.gz#sha256={SDIST_SHA}"
      data-yanked="broken &amp; withdrawn">oxi_core-1.0.tar.gz</a><br />
    <a href="{OTHER_HOST}/packages/0c/e2/oxi_core-1.0-py3-none-any.whl#sha256={"f" * 64}"
      data-yanked>oxi_core-1.0-py3-none-any.whl</a><br />
  </body>
</html>
<!--SERIAL 7-->
"""


def test_a_pypi_page_gives_unescaped_requires_python_and_yanked_with_and_without_reason(
    pages: Pages,
) -> None:
    pages.page("/simple/oxi-core/", PYPI_PAGE, "application/vnd.pypi.simple.v1+html")
    files = _by_name(files_on_index(pages.index(), "oxi-core"))
    sdist = files["oxi_core-0.9.tar.gz"]
    assert sdist == IndexFile(
        "oxi_core-0.9.tar.gz",
        f"{OTHER_HOST}/packages/6a/2f/oxi_core-0.9.tar.gz",
        OLD_SHA,
        None,
        ">=3.8",
    )
    assert files["oxi_core-0.9-py3-none-any.whl"].requires_python == ">=3.8,<4"
    assert files["oxi_core-0.9-py3-none-any.whl"].yanked == ""
    assert files["oxi_core-1.0.tar.gz"].yanked == "broken & withdrawn"
    assert files["oxi_core-1.0.tar.gz"].sha256 == SDIST_SHA
    assert files["oxi_core-1.0-py3-none-any.whl"].yanked == ""
    assert [f.filename for f in files_on_index(pages.index(), "oxi-core", "1.0")] == [
        "oxi_core-1.0.tar.gz",
        "oxi_core-1.0-py3-none-any.whl",
    ]


def test_a_devpi_or_artifactory_page_with_absolute_urls_and_links_without_sha256(
    pages: Pages,
) -> None:
    page = f"""<html><head><title>oxi-core</title></head><body>
    <a href="{OTHER_HOST}/root/pypi/+f/e3b/oxi_core-1.0.tar.gz#sha256={SDIST_SHA}"
      rel="internal">oxi_core-1.0.tar.gz</a>
    <a href="{OTHER_HOST}/root/pypi/+f/1c2/oxi_core-0.9.tar.gz#md5={MD5}">oxi_core-0.9.tar.gz</a>
    <a href="../../api/pypi/packages/oxi_core-0.8.tar.gz">oxi_core-0.8.tar.gz</a>
    <a href="../../api/pypi/packages/oxi_core-0.7.tar.gz#sha256=">oxi_core-0.7.tar.gz</a>
    </body></html>"""
    pages.page("/simple/oxi-core/", page, "text/html; charset=utf-8")
    files = _by_name(files_on_index(pages.index(), "oxi-core"))
    assert files["oxi_core-1.0.tar.gz"].url == f"{OTHER_HOST}/root/pypi/+f/e3b/oxi_core-1.0.tar.gz"
    assert files["oxi_core-1.0.tar.gz"].sha256 == SDIST_SHA
    # another hash name or none at all: no sha256, and the fragment is not part of the URL
    assert files["oxi_core-0.9.tar.gz"].url == f"{OTHER_HOST}/root/pypi/+f/1c2/oxi_core-0.9.tar.gz"
    assert files["oxi_core-0.9.tar.gz"].sha256 is None
    assert files["oxi_core-0.8.tar.gz"].url == f"{pages.base}/api/pypi/packages/oxi_core-0.8.tar.gz"
    assert files["oxi_core-0.8.tar.gz"].sha256 is None
    assert files["oxi_core-0.7.tar.gz"].sha256 is None
    assert all(f.yanked is None and f.requires_python is None for f in files.values())


def test_links_resolve_against_a_base_href_and_after_a_redirect(pages: Pages) -> None:
    with_base = f"""<html><head><base href="../../pool/o/"></head><body>
    <a href="oxi_core-1.0.tar.gz#sha256={SDIST_SHA}">oxi_core-1.0.tar.gz</a>
    <a href="{OTHER_HOST}/x/oxi_core-0.9.tar.gz">oxi_core-0.9.tar.gz</a>
    </body></html>"""
    pages.page("/simple/oxi-core/", with_base)
    assert {f.filename: f.url for f in files_on_index(pages.index(), "oxi-core")} == {
        "oxi_core-1.0.tar.gz": f"{pages.base}/pool/o/oxi_core-1.0.tar.gz",
        "oxi_core-0.9.tar.gz": f"{OTHER_HOST}/x/oxi_core-0.9.tar.gz",
    }
    # /simple/moved*/ answer 301 to /elsewhere/project/moved*/: relative links follow the move
    pages.page(
        "/elsewhere/project/moved/", '<a href="../../files/moved-1.0.tar.gz">moved-1.0.tar.gz</a>'
    )
    (moved,) = files_on_index(pages.index(), "moved")
    assert moved.url == f"{pages.base}/elsewhere/files/moved-1.0.tar.gz"
    listing = {"meta": {"api-version": "1.0"}, "files": [{"filename": "moved_json-1.0.tar.gz",
               "url": "../files/moved_json-1.0.tar.gz", "hashes": {}}]}  # fmt: skip
    pages.page(
        "/elsewhere/project/moved-json/", json.dumps(listing), "application/vnd.pypi.simple.v1+json"
    )
    (moved,) = files_on_index(pages.index(), "moved-json")
    assert moved.url == f"{pages.base}/elsewhere/project/files/moved_json-1.0.tar.gz"


def test_the_file_name_is_the_link_text_or_else_the_url_s_last_segment(pages: Pages) -> None:
    page = """<html><body>
    <a href="/files/oxi_core-1.0.tar.gz"> OXI_Core-1.0.tar.gz </a>
    <a href="/files/oxi_core-0.9%2Blocal.tar.gz#sha256=abc"></a>
    <a href="/files/oxi_core-0.8.tar.gz"><span>oxi_core-0.8</span>.tar.gz</a>
    <a name="no-href">not a file</a>
    </body></html>"""
    pages.page("/simple/oxi-core/", page)
    files = files_on_index(pages.index(), "oxi-core")
    assert [f.filename for f in files] == [
        "OXI_Core-1.0.tar.gz",
        "oxi_core-0.9+local.tar.gz",
        "oxi_core-0.8.tar.gz",
    ]
    assert files[1].url == f"{pages.base}/files/oxi_core-0.9%2Blocal.tar.gz"
    # the version filter reads the name as PEP 625/427 do: case is no difference
    assert [f.filename for f in files_on_index(pages.index(), "oxi-core", "1.0")] == [
        "OXI_Core-1.0.tar.gz"
    ]


def test_an_html_page_of_a_newer_major_repository_version_is_refused(pages: Pages) -> None:
    pages.page(
        "/simple/oxi-core/",
        '<html><head><meta name="pypi:repository-version" content="2.0"></head>'
        '<body><a href="/f/oxi_core-1.0.tar.gz">oxi_core-1.0.tar.gz</a></body></html>',
    )
    with pytest.raises(IndexFailure, match=r"cannot read at .*2\.0.*major"):
        files_on_index(pages.index(), "oxi-core")


# --- answers that are not a project page -------------------------------------------------


def test_a_project_the_index_does_not_know_has_no_files(pages: Pages) -> None:
    assert files_on_index(pages.index(), "nothing-here") == []


def test_an_http_error_is_an_index_failure_naming_the_status(pages: Pages) -> None:
    pages.answers["/simple/oxi-core/"] = (500, "text/html", b"<h1>oops</h1>")
    with pytest.raises(IndexFailure) as excinfo:
        files_on_index(pages.index(), "oxi-core")
    assert str(excinfo.value).startswith(
        f"index 'mirror' answered HTTP 500 for '{pages.base}/simple/oxi-core/'"
    )
    assert "[tool.releasekit.indexes]" in excinfo.value.hint


@pytest.mark.parametrize(
    ("content_type", "body", "why"),
    [
        ("text/plain", "oxi_core-1.0.tar.gz\n", "'text/plain'"),
        ("application/vnd.pypi.simple.v1+json", "[1, 2]", "list, not an object"),
        ("application/vnd.pypi.simple.v1+json", "{not json", "not valid JSON"),
        ("application/vnd.pypi.simple.v1+json", '{"meta": {"api-version": "1.0"}}', "'files'"),
        (
            "application/vnd.pypi.simple.v1+json",
            '{"meta": {"api-version": "1.0"}, "files": [{"filename": "a-1.tar.gz"}]}',
            "'url'",
        ),
    ],
)
def test_a_page_that_is_no_simple_page_is_an_index_failure(
    pages: Pages, content_type: str, body: str, why: str
) -> None:
    pages.page("/simple/oxi-core/", body, content_type)
    with pytest.raises(IndexFailure) as excinfo:
        files_on_index(pages.index(), "oxi-core")
    message = str(excinfo.value)
    assert message.startswith(
        f"index 'mirror' sent a page releasekit cannot read at '{pages.base}/simple/oxi-core/': "
    )
    assert why in message
    assert "simple-url must point at a PEP 503/691 simple index" in excinfo.value.hint
