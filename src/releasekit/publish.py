"""Upload a version's files to an index: resumable, idempotent, never leaking a token.

Before anything is sent the index is read (:func:`plan_publish`): a file
already there with the same sha256 is skipped, a missing one is uploaded, and
a file there with *different* bytes stops everything (the version is burnt).
Files are uploaded one at a time with twine, in this process, so a failure
after a partial upload is completed by running the same publish again, and
transient failures (connection resets, 5xx) are retried per file.

Credentials come from the environment (``TWINE_USERNAME`` /
``TWINE_PASSWORD``), else keyring, else - on PyPI and TestPyPI inside CI -
trusted publishing: releasekit trades the job's OIDC identity for a short-lived
upload token (:mod:`releasekit.trusted`) and hands twine that token.  They are
never taken from a command line, never logged, and are redacted from every error.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests
from packaging.utils import canonicalize_name

from releasekit._process import redact_text
from releasekit._secrets import register_secret
from releasekit._twine import one_attempt_settings, twine_quietly
from releasekit.config import IndexConfig
from releasekit.errors import (
    ConfigError,
    CredentialsError,
    DistCheckFailed,
    IndexFailure,
    IndexTimeout,
    IndexUnreachable,
    SigningError,
    UploadRejected,
    VersionBurnt,
    VersionExists,
)
from releasekit.index import (
    IndexFile,
    download_from_index,
    file_sha256,
    files_on_index,
    parse_dist_filename,
)
from releasekit.network import describe_failure, is_refused
from releasekit.progress import MIN_BYTES
from releasekit.versions import parse_version

__all__ = [
    "PublishPlan",
    "PublishResult",
    "UploadCredentials",
    "needs_confirmation",
    "plan_publish",
    "publish",
    "upload_credentials",
]

log = logging.getLogger("releasekit")

TOKEN_USERNAME = "__token__"  # noqa: S105 - the fixed user name for API tokens, not a secret
_ANONYMOUS = ("releasekit", "anonymous")  # twine needs some pair; an open index ignores it
_SIDE_FILES = (".sigstore.json", ".attestation", ".asc")  # beside dists, never uploaded alone
_ALREADY_EXISTS = ("already exist", "already been used")  # pypiserver; PyPI, also after deletion


@dataclass(frozen=True)
class PublishPlan:
    """What :func:`publish` will do, decided from the index before any upload."""

    index: IndexConfig
    to_upload: tuple[Path, ...]
    already: tuple[Path, ...]  # on the index with the same sha256


@dataclass(frozen=True)
class PublishResult:
    """File names uploaded now, and those the index already had (same bytes)."""

    uploaded: tuple[str, ...]
    skipped: tuple[str, ...]


@dataclass(frozen=True)
class UploadCredentials:
    """Who publish authenticates as, and where that came from (for error messages).

    ``password`` is None when twine is to obtain it itself (trusted publishing).
    """

    username: str
    password: str | None = None
    source: str = ""

    def __repr__(self) -> str:  # never show the password, even in a debugger or a log
        return f"UploadCredentials(username={self.username!r}, source={self.source!r})"


def _in_ci() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("GITHUB_ACTIONS"))


def _keyring_password(url: str, username: str) -> str | None:
    try:
        import keyring

        password = keyring.get_password(url, username)
    except Exception as exc:  # any keyring backend failure means "not there"
        log.debug("keyring lookup for %s failed: %s", url, exc.__class__.__name__)
        return None
    return password or None


def upload_credentials(index: IndexConfig) -> UploadCredentials:
    """The credentials publish will use for ``index``, and their source.

    Order: ``TWINE_USERNAME``/``TWINE_PASSWORD`` from the environment, then
    keyring (service = the upload URL, like twine), then trusted publishing
    for PyPI/TestPyPI when running in CI.  Another index with none of these is
    uploaded to anonymously (an open index).  The embedded ``local`` index is
    never looked up in keyring: its URL has a new port on every run.
    """
    upload_url = index.upload_url or ""
    username = os.environ.get("TWINE_USERNAME") or TOKEN_USERNAME
    password = os.environ.get("TWINE_PASSWORD")
    if password:
        return UploadCredentials(username, password, f"env TWINE_USERNAME={username!r}")
    if index.embedded:
        # the embedded index listens on a new port each run: no keyring entry can name it
        return UploadCredentials(*_ANONYMOUS, source="no credentials (anonymous upload)")
    from_keyring = _keyring_password(upload_url, username)
    if from_keyring:
        register_secret(from_keyring, username=username)  # hidden from every output from now on
        return UploadCredentials(username, from_keyring, f"keyring (username {username!r})")
    if index.is_pypi or os.environ.get("RELEASEKIT_TRUSTED_PUBLISHING") == "1":
        if _in_ci():
            return UploadCredentials(TOKEN_USERNAME, None, "trusted publishing (OIDC from CI)")
        raise CredentialsError(
            f"no credentials for {index.name!r}: TWINE_PASSWORD is unset, keyring has none "
            f"for {upload_url!r}, and this is not CI (no trusted publishing)",
            "set TWINE_USERNAME=__token__ and TWINE_PASSWORD to a project-scoped token in the "
            f"environment, or `keyring set {upload_url} __token__`; see docs/how-to/credentials.md",
        )
    return UploadCredentials(*_ANONYMOUS, source="no credentials (anonymous upload)")


def needs_confirmation(index: IndexConfig, *, yes: bool, interactive: bool) -> bool:
    """Whether an adapter must ask before publishing: PyPI, a terminal, no --yes, not CI."""
    return index.name == "pypi" and interactive and not yes and not os.environ.get("CI")


# --- planning -------------------------------------------------------------------------


def _dists_of(name: str, version: str, files: Sequence[Path]) -> list[Path]:
    """The wheels and sdists among ``files``, checked to be ``name`` ``version``."""
    wanted = parse_version(version)
    dists: list[Path] = []
    for path in files:
        if path.name.endswith(_SIDE_FILES):
            continue
        parsed = parse_dist_filename(path.name)
        if parsed is None:
            raise DistCheckFailed(
                f"{str(path)!r} is not a wheel or sdist",
                "publish only the files `nox -s build` made in dist/<name>/",
            )
        if parsed != (canonicalize_name(name), wanted):
            raise DistCheckFailed(
                f"{path.name!r} is not a file of {name} {version}",
                f"publish only {name} {version}'s files; rebuild with `nox -s build -- {name}`",
            )
        if not path.is_file():
            raise DistCheckFailed(
                f"{str(path)!r} does not exist", f"build it first: `nox -s build -- {name}`"
            )
        dists.append(path)
    if not dists:
        raise DistCheckFailed(
            f"no wheel or sdist of {name} {version} to publish",
            f"build them first: `nox -s build -- {name}`",
        )
    # the sdist first, then wheels: a partial upload leaves the source, which builds anywhere
    return sorted(dists, key=lambda p: (p.name.endswith(".whl"), p.name))


def _burnt_hint(name: str, version: str, index: IndexConfig) -> str:
    return (
        f"{name} {version} is burnt on {index.name!r} forever (an index never takes new bytes "
        "under a file name it has seen, even after deletion): bump the version "
        "(e.g. `invoke bump --pre`) and release that"
    )


def _index_sha256(index: IndexConfig, file: IndexFile) -> str:
    if file.sha256 is not None:
        return file.sha256
    # the index lists the file without a hash: fetch it and hash what it serves
    import tempfile

    with tempfile.TemporaryDirectory(prefix="releasekit-hash-") as scratch:
        return file_sha256(download_from_index(index, file, Path(scratch)))


def plan_publish(index: IndexConfig, name: str, version: str, files: Sequence[Path]) -> PublishPlan:
    """Read the index and sort ``files`` into to-upload and already-there.

    Raises :class:`VersionBurnt` (before anything is uploaded) when the index
    holds a file of the same name with different content.
    """
    dists = _dists_of(name, version, files)
    remote = {f.filename: f for f in files_on_index(index, name, version)}
    to_upload: list[Path] = []
    already: list[Path] = []
    burnt: list[str] = []
    for path in dists:
        listed = remote.get(path.name)
        if listed is None:
            to_upload.append(path)
            continue
        local_sha, index_sha = file_sha256(path), _index_sha256(index, listed)
        if local_sha == index_sha:
            if listed.yanked is not None:
                log.warning("%s is on %s but yanked (%r)", path.name, index.name, listed.yanked)
            already.append(path)
        else:
            burnt.append(
                f"{path.name!r} (index sha256 {index_sha[:12]}..., local {local_sha[:12]}...)"
            )
    if burnt:
        raise VersionBurnt(
            f"{index.name!r} already has different content for {', '.join(burnt)}",
            _burnt_hint(name, version, index),
        )
    return PublishPlan(index, tuple(to_upload), tuple(already))


# --- uploading ------------------------------------------------------------------------


class _Transient(Exception):
    """An upload failure worth retrying (connection reset, timeout, 5xx)."""


def _reason(index: IndexConfig, exc: BaseException) -> str:
    return describe_failure(exc, connect=index.connect_timeout, read=index.read_timeout)


def _attestations_of(path: Path) -> list[str]:
    prefix = path.name + "."
    return sorted(
        str(p)
        for p in path.parent.iterdir()
        if p.name.startswith(prefix) and p.name.endswith(".attestation")
    )


def _credentials_hint(index: IndexConfig, name: str) -> str:
    if index.is_pypi:
        return (
            f"check the token's scope: a project-scoped API token for {name!r} on {index.name} "
            "(username __token__), or a trusted publisher for this workflow; "
            "see docs/how-to/credentials.md"
        )
    return (
        f"check the user name and password {index.name!r} expects for uploads of {name!r} "
        "(TWINE_USERNAME / TWINE_PASSWORD or keyring); see docs/how-to/credentials.md"
    )


@dataclass(frozen=True)
class _Upload:
    """One file's upload: where, as whom, with what; what errors must never show."""

    index: IndexConfig
    name: str  # the distribution's name, for hints
    path: Path
    credentials: UploadCredentials
    attestations: bool
    secrets: Sequence[str]

    def redact(self, text: str) -> str:
        return redact_text(text, self.secrets)


def _files_to_send(upload: _Upload) -> list[str]:
    """The dist, and with attestations on, its ``<file>.*.attestation`` files (required)."""
    path = upload.path
    if not upload.attestations:
        return [str(path)]
    found = _attestations_of(path)
    if not found:
        raise SigningError(
            f"no attestation beside {path.name!r} (looked for {path.name}.*.attestation)",
            "run `nox -s sign` first, or publish without attestations",
        )
    return [str(path), *found]


def _http_failure(upload: _Upload, exc: requests.HTTPError) -> Exception:
    """What an index's HTTP error answer means: retry (5xx), credentials, burnt, rejected."""
    response, index, name = exc.response, upload.index, upload.path.name
    status = response.status_code if response is not None else 0
    reason = (response.reason or "") if response is not None else ""
    body = (response.text or "") if response is not None else ""
    said = upload.redact(f"HTTP {status} {reason}".strip())
    if status >= 500:
        return _Transient(said)
    if status in (401, 403):
        return CredentialsError(
            f"{index.name!r} refused the upload of {name!r} ({said}); "
            f"credentials from {upload.credentials.source}",
            _credentials_hint(index, upload.name),
        )
    if status == 400 and any(m in (reason + body).lower() for m in _ALREADY_EXISTS):
        return VersionExists(
            f"{index.name!r} already has {name!r} ({said})",
            "re-run the same publish: it compares the index's sha256 with yours and skips "
            "the file if they match",
        )
    first_line = body.strip().splitlines()[0] if body.strip() else ""
    detail = upload.redact(reason or first_line)
    return UploadRejected(
        f"{index.name!r} rejected {name!r}: HTTP {status} {detail}".rstrip(),
        "fix what the index names, rebuild (`nox -s build` checks the files), and publish again",
    )


def _connection_failure(upload: _Upload, exc: requests.RequestException) -> Exception:
    """A failure before any answer: TLS and a refused connection are final, the rest transient."""
    index, url = upload.index, upload.index.upload_url or ""
    if isinstance(exc, requests.exceptions.SSLError):
        return IndexUnreachable(
            f"TLS to {index.name!r} at {url!r} failed (certificate not trusted?)",
            "check the URL; for a private CA set REQUESTS_CA_BUNDLE to its certificate bundle",
        )
    if isinstance(exc, requests.ConnectionError) and is_refused(exc):
        return IndexUnreachable(
            f"index {index.name!r} could not be reached at {url!r} (connection refused)",
            "check the upload URL and that the index is up; re-run publish to resume",
        )
    return _Transient(_reason(index, exc))  # reset, timed out, cut off mid-answer


def _twine_failure(upload: _Upload, exc: Exception) -> Exception:
    """twine's own exceptions, as releasekit's errors."""
    from twine import exceptions as twine_exceptions

    index, name, said = upload.index, upload.path.name, upload.redact(str(exc))
    if isinstance(exc, twine_exceptions.NonInteractive):
        return CredentialsError(
            f"no credentials for {index.name!r} (tried {upload.credentials.source})",
            "set TWINE_USERNAME and TWINE_PASSWORD in the environment, or store them in keyring",
        )
    if isinstance(exc, twine_exceptions.TrustedPublishingFailure):
        return CredentialsError(
            f"trusted publishing to {index.name!r} failed: {said.splitlines()[0]}",
            "check the trusted publisher on the index (owner, repository, workflow, environment) "
            "and that the job has `id-token: write`",
        )
    if isinstance(exc, twine_exceptions.InvalidDistribution):
        return DistCheckFailed(
            f"twine refused {name!r}: {said}", "rebuild with `nox -s build` and check the file"
        )
    if isinstance(exc, twine_exceptions.InvalidConfiguration):
        return ConfigError(
            f"twine cannot upload to {index.upload_url!r}: {said}",
            "check upload-url in [tool.releasekit.indexes] (it must end with '/')",
        )
    return UploadRejected(
        f"upload of {name!r} to {index.name!r} failed: {said}",
        "fix the cause twine names, then publish again: files already uploaded are skipped",
    )


def _upload_one(upload: _Upload) -> None:
    """Upload one dist with twine; raise a ReleaseError, or _Transient to retry."""
    from twine import exceptions as twine_exceptions
    from twine.commands.upload import upload as twine_upload

    files = _files_to_send(upload)
    settings = one_attempt_settings(
        upload.index,
        upload.path.name,
        repository_url=upload.index.upload_url or "",
        username=upload.credentials.username,
        password=upload.credentials.password,
        non_interactive=True,
        disable_progress_bar=True,  # releasekit reports the bytes itself
        attestations=upload.attestations,
    )
    try:
        with twine_quietly(upload.secrets):
            twine_upload(settings, files)
    except requests.HTTPError as exc:
        raise _http_failure(upload, exc) from None
    except requests.RequestException as exc:
        raise _connection_failure(upload, exc) from None
    except twine_exceptions.TwineException as exc:
        raise _twine_failure(upload, exc) from None


def _confirm_on_index(index: IndexConfig, name: str, version: str, path: Path) -> bool:
    """After 'already exists': True if the index holds exactly these bytes."""
    for listed in files_on_index(index, name, version):
        if listed.filename == path.name:
            if _index_sha256(index, listed) == file_sha256(path):
                return True
            raise VersionBurnt(
                f"{index.name!r} already has different content for {path.name!r}",
                _burnt_hint(name, version, index),
            )
    return False


def _gave_up(upload: _Upload, exc: _Transient, attempts: int, there: Sequence[str]) -> Exception:
    """The error after the last retry: a silent index (timeout) or a failing one."""
    failed = (
        f"upload of {upload.path.name!r} to {upload.index.name!r} failed after {attempts} "
        f"attempts: {exc}; on the index: {', '.join(there) or 'none'}"
    )
    if "-timeout)" in str(exc):
        return IndexTimeout(
            failed,
            "the index accepted the upload but never answered: re-run the same publish later "
            "(files already there are skipped); for a slow index, raise read-timeout in "
            "[tool.releasekit]",
        )
    return IndexFailure(
        failed,
        "the index is failing; re-run the same publish later: files already there are skipped "
        "and the rest uploaded",
    )


def _upload_with_retries(
    upload: _Upload, version: str, *, retries: int, backoff: float, there: Sequence[str]
) -> None:
    """Upload, retrying transient failures with backoff; 'already there, same bytes' is done."""
    for attempt in range(retries + 1):
        try:
            _upload_one(upload)
        except VersionExists as exc:
            if _confirm_on_index(upload.index, upload.name, version, upload.path):
                log.info("%s reached %s (same sha256)", upload.path.name, upload.index.name)
                return
            # refused as taken yet not listed: the name was used before (deleted files count)
            raise VersionBurnt(
                f"{exc.message}, and does not list it: the file name was used before",
                _burnt_hint(upload.name, version, upload.index),
            ) from None
        except _Transient as exc:
            if attempt == retries:
                raise _gave_up(upload, exc, retries + 1, there) from None
            delay = backoff * 2**attempt
            log.warning(
                "upload of %s to %s failed (%s); retry %d of %d in %.1f s",
                upload.path.name, upload.index.name, exc, attempt + 1, retries, delay,
            )  # fmt: skip
            time.sleep(delay)
            continue
        if upload.path.stat().st_size < MIN_BYTES:  # a larger one's meter said it is done
            log.info("uploaded %s to %s", upload.path.name, upload.index.name)
        return


def _how(credentials: UploadCredentials) -> str:
    if credentials.username == _ANONYMOUS[0] and credentials.password == _ANONYMOUS[1]:
        return "anonymously (no credentials set; an open index takes that)"
    return f"with credentials from {credentials.source}"


def _credentials_for(index: IndexConfig) -> UploadCredentials:
    """:func:`upload_credentials`, with trusted publishing's token minted now."""
    credentials = upload_credentials(index)
    if credentials.password is not None:
        return credentials
    from releasekit.trusted import mint_upload_token  # the exchange is ours, not twine's

    return UploadCredentials(
        TOKEN_USERNAME, mint_upload_token(index), "trusted publishing (token minted for this job)"
    )


def publish(
    index: IndexConfig,
    files: Sequence[Path],
    *,
    name: str,
    version: str,
    attestations: bool = False,
    retries: int = 3,
    backoff: float = 1.0,
    on_upload: Callable[[str], None] | None = None,
) -> PublishResult:
    """Upload the files of ``name`` ``version`` that ``index`` does not have yet.

    Idempotent: files already there with the same sha256 are skipped; a re-run
    after a failure completes the upload.  Each file is retried up to
    ``retries`` times on transient failures, waiting ``backoff``, then twice
    that, and so on.  ``on_upload`` is called with each file name as soon as the
    index has it (the caller's record of what left).  With ``attestations``,
    each dist's ``<file>.*.attestation`` files go with it (PyPI and TestPyPI
    only; other indexes get the dists alone).  Files of 3 MB and more report
    their bytes as they go (:mod:`releasekit.progress`).
    """
    if not index.upload_url:
        raise ConfigError(
            f"index {index.name!r} has no upload URL",
            "the embedded 'local' index exists only inside a rehearsal: "
            "nox -s release -- --rehearse, or publish with --index NAME",
        )
    plan = plan_publish(index, name, version, files)
    for path in plan.already:
        log.info("%s is already on %s with the same sha256: skipped", path.name, index.name)
    if not plan.to_upload:
        log.info("%s %s: every file is already on %s", name, version, index.name)
        return PublishResult((), tuple(p.name for p in plan.already))
    if attestations and not index.is_pypi:
        log.warning(
            "index %r does not take attestations (only PyPI and TestPyPI do): "
            "uploading the files without them",
            index.name,
        )
        attestations = False
    credentials = _credentials_for(index)
    secrets = [credentials.password] if credentials.password else []
    log.info("uploading to %s (%s) %s", index.name, index.upload_url, _how(credentials))
    uploaded: list[str] = []
    skipped = [p.name for p in plan.already]
    for path in plan.to_upload:
        upload = _Upload(index, name, path, credentials, attestations, secrets)
        _upload_with_retries(
            upload, version, retries=retries, backoff=backoff, there=uploaded + skipped
        )
        uploaded.append(path.name)
        if on_upload is not None:
            on_upload(path.name)
    return PublishResult(tuple(uploaded), tuple(skipped))
