"""Read one project page of a simple repository: PEP 691 JSON or PEP 503 HTML.

:func:`read_project_page` asks for ``endpoint + canonical name + "/"`` in
either form (JSON preferred), follows redirects as requests does, and returns
the files the page lists (:class:`ListedFile`), or None when the index answers
404 (no such project).  Other HTTP errors raise :class:`requests.HTTPError`; a
page that is neither form, or that is not valid in its form, raises
:class:`UnreadablePage` (its text says why).  The standard library and requests
only: reading an index costs no HTML or validation library.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import requests
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

__all__ = [
    "ACCEPT",
    "SUPPORTED_VERSION",
    "ListedFile",
    "UnreadablePage",
    "parse_html",
    "parse_json",
    "project_url",
    "read_project_page",
]

log = logging.getLogger("releasekit")

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPES = ("application/vnd.pypi.simple.v1+html", "text/html")
ACCEPT = f"{JSON_TYPE}, {HTML_TYPES[0]};q=0.2, {HTML_TYPES[1]};q=0.01"
SUPPORTED_VERSION = "1.4"  # PEP 629: a greater major version is refused, a minor one noted


class UnreadablePage(ValueError):
    """A page that is not a simple-repository page releasekit can read."""


@dataclass(frozen=True)
class ListedFile:
    """One file as a project page lists it."""

    filename: str
    url: str  # absolute, without a fragment
    sha256: str | None
    yanked: str | None  # None: not yanked; otherwise the reason ("" when none given)
    requires_python: str | None


def project_url(endpoint: str, name: str) -> str:
    """The URL of ``name``'s page under ``endpoint`` (which ends in ``/``)."""
    return endpoint + canonicalize_name(name) + "/"


def read_project_page(
    session: requests.Session, url: str, *, auth: tuple[str, str] | None = None
) -> list[ListedFile] | None:
    """The files the page at ``url`` lists; None when the index answers 404."""
    response = session.get(url, headers={"Accept": ACCEPT}, auth=auth)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    content_type, charset = _content_type(response.headers.get("Content-Type", "text/html"))
    if content_type == JSON_TYPE:
        return parse_json(response.content, response.url)
    if content_type in HTML_TYPES:
        return parse_html(response.content, response.url, charset)
    raise UnreadablePage(f"its Content-Type {content_type!r} is not a simple-repository page")


def _content_type(header: str) -> tuple[str, str | None]:
    """The media type (lower case) and the charset parameter of a Content-Type header."""
    kind, *params = header.split(";")
    charset = None
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    return kind.strip().lower(), charset


def check_version(declared: str) -> None:
    """Refuse a repository version whose major is above ours (PEP 629); note a newer minor."""
    try:
        version = Version(declared)
    except InvalidVersion:
        raise UnreadablePage(f"its repository version {declared!r} is not a version") from None
    supported = Version(SUPPORTED_VERSION)
    if (version.epoch, version.major) > (supported.epoch, supported.major):
        raise UnreadablePage(
            f"its repository version {declared} has a greater major component than "
            f"releasekit reads ({SUPPORTED_VERSION})"
        )
    if (version.epoch, version.major) == (supported.epoch, supported.major) and (
        version.minor > supported.minor
    ):
        log.debug("repository version %s is newer than %s; reading it", declared, SUPPORTED_VERSION)


# --- PEP 691 JSON --------------------------------------------------------------------------


def parse_json(content: bytes, page_url: str) -> list[ListedFile]:
    """The files of a PEP 691 project page (``content``, served at ``page_url``)."""
    try:
        data = json.loads(content)
    except ValueError as exc:  # not JSON, or not in a Unicode encoding
        raise UnreadablePage(f"it is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UnreadablePage(f"its JSON is a {type(data).__name__}, not an object")
    meta = data.get("meta", {})
    if not isinstance(meta, dict) or not isinstance(meta.get("api-version", "1.0"), str):
        raise UnreadablePage("its 'meta' has no api-version string")
    check_version(meta.get("api-version", "1.0"))
    entries = data.get("files")
    if not isinstance(entries, list):
        raise UnreadablePage("its JSON has no 'files' list")
    return [_json_file(position, entry, page_url) for position, entry in enumerate(entries)]


def _json_file(position: int, entry: Any, page_url: str) -> ListedFile:
    where = f"file {position + 1} of its 'files'"
    if not isinstance(entry, dict):
        raise UnreadablePage(f"{where} is not an object")
    filename, url, hashes = entry.get("filename"), entry.get("url"), entry.get("hashes", {})
    requires, yanked = entry.get("requires-python"), entry.get("yanked", False)
    if not isinstance(filename, str) or not isinstance(url, str):
        raise UnreadablePage(f"{where} has no 'filename' or 'url' string")
    if not isinstance(hashes, dict) or not all(isinstance(v, str) for v in hashes.values()):
        raise UnreadablePage(f"{where} ({filename!r}) has 'hashes' that are not strings")
    if requires is not None and not isinstance(requires, str):
        raise UnreadablePage(f"{where} ({filename!r}) has a 'requires-python' that is no string")
    if not isinstance(yanked, (bool, str)):
        raise UnreadablePage(f"{where} ({filename!r}) has a 'yanked' that is no bool or string")
    return ListedFile(
        filename=filename,
        url=urljoin(page_url, url),
        sha256=hashes.get("sha256"),
        yanked=yanked if isinstance(yanked, str) else ("" if yanked else None),
        requires_python=requires,
    )


# --- PEP 503 HTML --------------------------------------------------------------------------


class _LinkParser(HTMLParser):
    """Collects every ``<a href>`` (its attributes and text), the first ``<base href>``,
    and the ``pypi:repository-version`` meta tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # entities in text and attributes unescaped
        self.links: list[tuple[dict[str, str | None], list[str]]] = []
        self.base: str | None = None
        self.version: str | None = None
        self._text: list[str] | None = None  # the open link's text, while inside one

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href") is not None:
            self._text = []
            self.links.append((found, self._text))
        elif tag == "base" and self.base is None and found.get("href") is not None:
            self.base = found["href"]
        elif (
            tag == "meta"
            and found.get("name") == "pypi:repository-version"
            and self.version is None
        ):
            self.version = found.get("content")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def _decode(content: bytes, charset: str | None) -> str:
    """The page's text: in its declared charset, else UTF-8 (bad bytes replaced)."""
    try:
        return content.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return content.decode("utf-8", errors="replace")


def parse_html(content: bytes, page_url: str, charset: str | None = None) -> list[ListedFile]:
    """The files of a PEP 503 project page (``content``, served at ``page_url``)."""
    parser = _LinkParser()
    try:
        parser.feed(_decode(content, charset))
        parser.close()
    except (AssertionError, ValueError) as exc:  # markup html.parser gives up on
        raise UnreadablePage(f"its HTML cannot be parsed ({exc})") from None
    if parser.version is not None:
        check_version(parser.version)
    base = urljoin(page_url, parser.base) if parser.base is not None else page_url
    files = []
    for attrs, text in parser.links:
        url, fragment = urldefrag(urljoin(base, attrs["href"] or ""))
        digest_name, _, digest = fragment.partition("=")
        filename = "".join(text).strip() or unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        files.append(
            ListedFile(
                filename=filename,
                url=url,
                sha256=digest if digest_name == "sha256" and digest else None,
                yanked=(attrs["data-yanked"] or "") if "data-yanked" in attrs else None,
                requires_python=attrs.get("data-requires-python"),
            )
        )
    return files
