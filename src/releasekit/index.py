"""Package indexes: read what an index holds, and run the embedded local index.

:func:`files_on_index` reads a project's page through the simple API (PEP 503
HTML or PEP 691 JSON, whichever the index serves) and returns the files of
one version with their sha256 and yanked state; publish and verify decide
from it.  :func:`local_index` starts a real pypiserver on 127.0.0.1 for
rehearsals and tests, and stops it, by its own process id, on the way out
(:func:`start_local_index` starts it without waiting for it to answer; both live
in :mod:`releasekit.embedded_index`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
from packaging.utils import canonicalize_name
from packaging.version import Version

from releasekit._dist_names import dist_filename_or_none
from releasekit.config import IndexConfig
from releasekit.deadline import SLACK, active_deadline, time_left
from releasekit.embedded_index import LocalIndex, local_index, start_local_index
from releasekit.errors import (
    ConfigError,
    CredentialsError,
    DeadlineExceeded,
    IndexFailure,
    IndexTimeout,
    IndexUnreachable,
)
from releasekit.network import describe_failure, http_session, is_refused, is_timeout
from releasekit.simple_api import ListedFile, UnreadablePage, project_url, read_project_page

__all__ = [
    "IndexFile",
    "LocalIndex",
    "ReadLogin",
    "download_from_index",
    "file_sha256",
    "files_on_index",
    "local_index",
    "parse_dist_filename",
    "read_login",
    "start_local_index",
    "versions_on_index",
]

log = logging.getLogger("releasekit")

LIST_ATTEMPTS = 3  # reads of a project page, when the index hangs or cuts off


@dataclass(frozen=True)
class IndexFile:
    """One file of a project page, as the index lists it."""

    filename: str
    url: str
    sha256: str | None
    yanked: str | None  # None: not yanked; otherwise the reason ("" when none given)
    requires_python: str | None = None

    @property
    def kind(self) -> str:
        """``"wheel"`` or ``"sdist"`` (from the file name)."""
        return "wheel" if self.filename.endswith(".whl") else "sdist"


def file_sha256(path: Path) -> str:
    """The hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parse_dist_filename(filename: str) -> tuple[str, Version] | None:
    """The (canonical name, version) of a wheel or sdist file name; None for other files."""
    parsed = dist_filename_or_none(filename)
    return None if parsed is None else (str(parsed.name), parsed.version)


@dataclass(frozen=True)
class ReadLogin:
    """A login for reading an index (its simple pages and files); never shown."""

    username: str
    password: str
    source: str

    def __repr__(self) -> str:  # never show the password, even in a debugger or a log
        return f"ReadLogin(username={self.username!r}, source={self.source!r})"


def _keyring_login(url: str, username: str | None) -> tuple[str, str] | None:
    try:
        import keyring

        if username:
            password = keyring.get_password(url, username)
            return (username, password) if password else None
        credential = keyring.get_credential(url, None)
    except Exception as exc:  # any keyring backend failure means "not there"
        log.debug("keyring lookup for %s failed: %s", url, exc.__class__.__name__)
        return None
    if credential is None or not credential.password:
        return None
    return credential.username, credential.password


def read_login(index: IndexConfig, url: str | None = None) -> ReadLogin | None:
    """The login for reading ``url`` (default: the index's simple URL), when one is given.

    Order: ``RELEASEKIT_INDEX_<NAME>_USERNAME`` / ``..._PASSWORD`` in the
    environment (for the index's own URL), then keyring (service = the URL).
    ``~/.netrc`` needs nothing here: requests, pip and uv read it themselves.
    PyPI, TestPyPI and the embedded index are read without a login.
    """
    if index.is_pypi or index.embedded:
        return None
    url = url or index.simple_url
    if not url:
        return None
    username = None
    if url == index.simple_url:
        username = os.environ.get(index.env_prefix + "USERNAME") or None
        password = os.environ.get(index.env_prefix + "PASSWORD")
        if password:
            return ReadLogin(username or "__token__", password, f"env {index.env_prefix}PASSWORD")
    found = _keyring_login(url, username)
    if found is not None:
        return ReadLogin(found[0], found[1], f"keyring ({url})")
    return None


def _auth(login: ReadLogin | None) -> tuple[str, str] | None:
    return (login.username, login.password) if login is not None else None


def _needs_login(index: IndexConfig, url: str, status: object, login: ReadLogin | None) -> None:
    """Raise CredentialsError for a 401/403 answer: what to set, never the secret."""
    if status not in (401, 403):
        return
    if login is None:
        raise CredentialsError(
            f"index {index.name!r} needs a login to read {url!r} (HTTP {status})",
            f"set {index.env_prefix}USERNAME and {index.env_prefix}PASSWORD in the environment, "
            f"or `keyring set {index.simple_url} USERNAME`, or a ~/.netrc entry for its host; "
            "see docs/how-to/credentials.md",
        )
    raise CredentialsError(
        f"index {index.name!r} refused the login from {login.source} "
        f"(user {login.username!r}) for {url!r} (HTTP {status})",
        "check the user name and password (or token) and that it may read this index",
    )


def _simple_url(index: IndexConfig) -> str:
    if not index.simple_url:
        raise ConfigError(
            f"index {index.name!r} has no simple URL",
            "the embedded 'local' index gets its URL when it starts: use index.local_index()",
        )
    return index.simple_url


def _unreachable(index: IndexConfig, url: str, exc: BaseException) -> IndexUnreachable:
    reason = describe_failure(exc, connect=index.connect_timeout, read=index.read_timeout)
    if is_timeout(exc):
        return IndexTimeout(
            f"index {index.name!r} at {url!r}: {reason}",
            "the index is hanging or very slow: re-run later; a slow index may be given more "
            "time with connect-timeout / read-timeout in [tool.releasekit]",
        )
    return IndexUnreachable(
        f"index {index.name!r} could not be reached at {url!r} ({reason})",
        "check the URL and your network; re-run when the index answers",
    )


def _out_of_time(index: IndexConfig, url: str) -> DeadlineExceeded | None:
    """The active deadline's error when it has passed (the cause of any failure then)."""
    deadline = active_deadline()
    if deadline is None or not deadline.expired(SLACK):
        return None
    return deadline.exceeded(f"reading {url!r} from index {index.name!r}")


def _transient(exc: BaseException) -> bool:
    """A hang or a cut-off connection: worth another try; a refusal is not."""
    return isinstance(exc, (requests.ConnectionError, requests.Timeout)) and not is_refused(exc)


def _read_page(
    index: IndexConfig, endpoint: str, name: str, timeout: float | None
) -> list[ListedFile] | None:
    """One try at ``name``'s project page: its files, or None when the index has no such project."""
    read = min(index.read_timeout, timeout) if timeout is not None else index.read_timeout
    login = read_login(index)
    url = project_url(endpoint, name)
    with http_session(connect=index.connect_timeout, read=read) as session:
        try:
            return read_project_page(session, url, auth=_auth(login))
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            _needs_login(index, url, status, login)
            raise IndexFailure(
                f"index {index.name!r} answered HTTP {status} for {url!r}",
                "check the index URL in [tool.releasekit.indexes] and that it is a simple index",
            ) from None
        except UnreadablePage as exc:
            raise IndexFailure(
                f"index {index.name!r} sent a page releasekit cannot read at {url!r}: {exc}",
                "simple-url must point at a PEP 503/691 simple index (it usually ends in /simple/)",
            ) from None


def files_on_index(
    index: IndexConfig, name: str, version: str | None = None, *, timeout: float | None = None
) -> list[IndexFile]:
    """The files ``index`` lists for project ``name`` (only ``version``'s when given).

    A project the index does not know gives ``[]``.  Versions compare as PEP
    440 versions (``0.1.0a2`` matches ``0.1.0.a2``); files whose names are not
    wheels or sdists are left out when filtering by version.  The index's
    connect and read timeouts apply (``timeout`` may shorten the read one); a
    hang or a cut-off connection is tried again (:data:`LIST_ATTEMPTS` times
    in all, waiting 1 s, then 2 s), a refused one is not.
    """
    endpoint = _simple_url(index)
    url = endpoint + canonicalize_name(name) + "/"
    wanted = Version(version) if version is not None else None
    for attempt in range(1, LIST_ATTEMPTS + 1):
        try:
            page = _read_page(index, endpoint, name, timeout)
            # A page that ends after the deadline may be one the deadline cut off
            # (its connection shut down mid-answer): never take it as the listing.
            late = _out_of_time(index, url)
            if late is not None:
                raise late
            break
        except requests.RequestException as exc:  # refused, timed out, cut off mid-answer
            late = _out_of_time(index, url)
            if late is not None:
                raise late from None
            if attempt == LIST_ATTEMPTS or not _transient(exc):
                raise _unreachable(index, url, exc) from None
            delay = min(2.0 ** (attempt - 1), time_left(60.0) or 0.0)
            log.warning(
                "reading %s from %s failed (%s); retry %d of %d in %.1f s",
                url, index.name,
                describe_failure(exc, connect=index.connect_timeout, read=index.read_timeout),
                attempt, LIST_ATTEMPTS - 1, delay,
            )  # fmt: skip
            time.sleep(delay)
    if page is None:
        return []
    files: list[IndexFile] = []
    for listed in page:
        if wanted is not None:
            parsed = parse_dist_filename(listed.filename)
            if parsed is None or parsed[0] != canonicalize_name(name) or parsed[1] != wanted:
                continue
        files.append(
            IndexFile(
                filename=listed.filename,
                url=listed.url,
                sha256=listed.sha256,
                yanked=listed.yanked,
                requires_python=listed.requires_python,
            )
        )
    return files


def versions_on_index(index: IndexConfig, name: str) -> list[Version]:
    """Every version ``index`` has a wheel or sdist of, oldest first (yanked included)."""
    versions: set[Version] = set()
    for file in files_on_index(index, name):
        parsed = parse_dist_filename(file.filename)
        if parsed is not None and parsed[0] == canonicalize_name(name):
            versions.add(parsed[1])
    return sorted(versions)


def download_from_index(
    index: IndexConfig,
    file: IndexFile,
    dest_dir: Path,
    *,
    timeout: float | None = None,
    on_bytes: Callable[[int, int], None] | None = None,
) -> Path:
    """Download ``file`` into ``dest_dir``; its sha256 must match the index's when listed.

    ``on_bytes(done, total)`` is called as the bytes arrive (total 0 when unknown).
    """
    if Path(file.filename).name != file.filename or file.filename in {"", ".", ".."}:
        raise IndexFailure(
            f"index {index.name!r} lists a file name that is a path: {file.filename!r}",
            "do not trust this index; report it to its operator",
        )
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / file.filename
    digest = hashlib.sha256()
    read = min(index.read_timeout, timeout) if timeout is not None else index.read_timeout
    login = read_login(index)
    try:
        with (
            http_session(connect=index.connect_timeout, read=read) as session,
            session.get(file.url, stream=True, auth=_auth(login)) as response,
        ):
            if response.status_code in (401, 403):
                _needs_login(index, file.url, response.status_code, login)
            response.raise_for_status()
            total, done = int(response.headers.get("Content-Length") or 0), 0
            with target.open("wb") as stream:
                for chunk in response.iter_content(1 << 16):
                    stream.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if on_bytes is not None:
                        on_bytes(done, total)
    except requests.HTTPError as exc:
        target.unlink(missing_ok=True)
        raise _download_refused(index, file, exc) from None
    except requests.RequestException as exc:  # refused, timed out, cut off
        target.unlink(missing_ok=True)
        late = _out_of_time(index, file.url)
        if late is not None:
            raise late from None
        raise _unreachable(index, file.url, exc) from None
    except BaseException:  # interrupted, disk full: no partial file stays behind
        target.unlink(missing_ok=True)
        raise
    if file.sha256 is not None and digest.hexdigest() != file.sha256:
        target.unlink()
        raise IndexFailure(
            f"{file.filename!r} from {index.name!r} has sha256 {digest.hexdigest()[:12]}..., "
            f"the index lists {file.sha256[:12]}...",
            "the download was altered on the way or the index is inconsistent: re-run, "
            "and report it to the index if it persists",
        )
    return target


def _download_refused(index: IndexConfig, file: IndexFile, exc: requests.HTTPError) -> IndexFailure:
    """The error for a listed file the index answers with an HTTP error status."""
    status = exc.response.status_code if exc.response is not None else None
    if status is not None and status >= 500:  # HTTP 5xx: the server failed
        hint = (
            "the index failed while serving the file: wait a moment and re-run; "
            "if it persists, tell the index's operator"
        )
    else:
        hint = "the index lists a file it does not serve: check the index, then re-run"
    return IndexFailure(
        f"index {index.name!r} answered HTTP {status or '?'} for {file.filename!r} "
        f"(at {file.url!r})",
        hint,
    )
