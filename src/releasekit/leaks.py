"""Leak-lint: find secrets and stray files inside built distributions before they leave.

Every member of every sdist (``.tar.gz``) and wheel (``.whl``, zip) is checked:

* by path (our rules): ``.env`` files, a ``.pypirc`` holding a password,
  VCS folders (``.git/``, ``.hg/``, ``.svn/``, ``.bzr/``) and cache or tool
  folders (``__pycache__/``, ``.nox/``, ``.venv/``, ``.tox/``, ...);
* by content, text members only: our own patterns for PyPI/TestPyPI API tokens
  (``pypi-`` macaroons), GitHub fine-grained tokens (``github_pat_``) and any
  ``-----BEGIN ... PRIVATE KEY-----`` block, plus detect-secrets' token-format
  plugins (AWS keys, GitHub, GitLab, Slack, Stripe, private keys, ...).  Its
  entropy and keyword plugins are left out: they flag every hash in a RECORD.

A finding never carries the secret: :class:`Leak` keeps a redacted excerpt
(the first few characters and an ellipsis).  Deliberate fixtures are skipped
with ``leak-allow`` globs on member paths (relative to the sdist's top folder).
"""

from __future__ import annotations

import fnmatch
import logging
import re
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from releasekit.errors import DistCheckFailed, LeakFound

__all__ = ["Leak", "redact", "require_no_leaks", "scan_dists"]

log = logging.getLogger("releasekit")

_BINARY_SNIFF = 8192
_VCS_DIRS = frozenset({".git", ".hg", ".svn", ".bzr"})
_CACHE_DIRS = frozenset(
    {"__pycache__", ".nox", ".venv", ".tox", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
)

# Our own content rules: (rule, pattern, group holding the secret).
_OWN_RULES: tuple[tuple[str, re.Pattern[str], int], ...] = (
    # PyPI and TestPyPI API tokens are macaroons: "pypi-" then a long base64url body
    # (pypi-AgEIcHlwaS5vcmc... for pypi.org, pypi-AgENdGVzdC5weXBpLm9yZw... for TestPyPI).
    ("pypi-token", re.compile(r"(?<![A-Za-z0-9_-])(pypi-[A-Za-z0-9_-]{50,})"), 1),
    # GitHub fine-grained personal access tokens (detect-secrets knows only ghp_/gho_/...).
    ("github-token", re.compile(r"(?<![A-Za-z0-9_])(github_pat_[A-Za-z0-9_]{22,})"), 1),
    # Any PEM private key, including ENCRYPTED and PGP blocks.
    ("private-key", re.compile(r"(-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----)"), 1),
)
_PYPIRC_PASSWORD = re.compile(r"^[ \t]*password[ \t]*[:=][ \t]*(\S[^\r\n]*)", re.MULTILINE)

# detect-secrets plugins with a fixed token format: precise enough to block a release on.
# Left out: the entropy and keyword plugins (every RECORD hash and "password" in a docstring
# would block a release), Artifactory (matches ordinary words such as "APACHELICENSE2"),
# basic-auth URLs (documentation examples) and the IBM/Softlayer/Cloudant keyword rules.
_DETECT_SECRETS_PLUGINS = (
    "AWSKeyDetector",
    "AzureStorageKeyDetector",
    "DiscordBotTokenDetector",
    "GitHubTokenDetector",
    "GitLabTokenDetector",
    "MailchimpDetector",
    "NpmDetector",
    "OpenAIDetector",
    "PrivateKeyDetector",
    "PypiTokenDetector",
    "SendGridDetector",
    "SlackDetector",
    "SquareOAuthDetector",
    "StripeDetector",
    "TelegramBotTokenDetector",
    "TwilioKeyDetector",
)
_RULE_NAMES = {
    "AWS Access Key": "aws-access-key",
    "GitHub Token": "github-token",
    "Private Key": "private-key",
    "PyPI Token": "pypi-token",
}


@dataclass(frozen=True)
class Leak:
    """One finding: which dist, which member, which rule, and a redacted excerpt."""

    dist: str  # the dist's file name
    member: str  # the path inside the archive
    rule: str  # e.g. "pypi-token", "private-key", ".env file", "vcs-directory"
    excerpt: str  # redacted: a short prefix and "…", never the secret

    def __str__(self) -> str:
        return f"{self.dist}: {self.member} ({self.rule})"


def redact(secret: str) -> str:
    """A secret shortened so it can be shown: its first few characters and an ellipsis."""
    secret = secret.strip()
    if len(secret) >= 20:
        return secret[:6] + "…"
    if len(secret) >= 12:
        return secret[:4] + "…"
    return "…"


@dataclass(frozen=True)
class _Detector:
    rule: str
    prefilter: tuple[re.Pattern[str], ...]  # the plugin's patterns, searched over whole files
    analyze: Callable[[str], Iterable[str]]  # the plugin itself, run on matching lines only


def _rule_name(secret_type: str) -> str:
    return _RULE_NAMES.get(secret_type) or re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip(
        "-"
    )


@lru_cache(maxsize=1)
def _detectors() -> tuple[_Detector, ...]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    detectors = []
    plugins: dict[str, Any] = get_mapping_from_secret_type_to_class()
    for secret_type, plugin_class in plugins.items():
        if plugin_class.__name__ not in _DETECT_SECRETS_PLUGINS:
            continue
        plugin: Any = plugin_class()
        prefilter = tuple(
            re.compile(pattern.pattern, pattern.flags | re.MULTILINE)
            for pattern in getattr(plugin, "denylist", ())
        )
        detectors.append(_Detector(_rule_name(str(secret_type)), prefilter, plugin.analyze_string))
    return tuple(detectors)


def _content_findings(text: str) -> Iterator[tuple[str, str]]:
    """(rule, secret) for every secret in ``text``."""
    for rule, pattern, group in _OWN_RULES:
        for match in pattern.finditer(text):
            yield rule, match.group(group)
    lines: list[str] | None = None
    for detector in _detectors():
        if not any(pattern.search(text) for pattern in detector.prefilter):
            continue
        lines = lines if lines is not None else text.splitlines()
        for line in lines:
            if any(pattern.search(line) for pattern in detector.prefilter):
                for secret in detector.analyze(line):
                    yield detector.rule, str(secret)


def _path_findings(parts: Sequence[str]) -> Iterator[tuple[str, str]]:
    """(rule, the offending path prefix) for a member's path."""
    for index, part in enumerate(parts):
        if part in _VCS_DIRS:
            yield "vcs-directory", "/".join(parts[: index + 1]) + "/"
            return
        if part in _CACHE_DIRS:
            yield "cache-directory", "/".join(parts[: index + 1]) + "/"
            return
    name = parts[-1] if parts else ""
    if name == ".env" or name.startswith(".env."):
        yield ".env file", "/".join(parts)


def _members(dist: Path) -> Iterator[tuple[str, bool, Callable[[], bytes]]]:
    """(member path, is a regular file, reader) for every member of ``dist``."""
    name = dist.name
    try:
        if name.endswith((".whl", ".zip")):
            with zipfile.ZipFile(dist) as archive:
                for info in archive.infolist():
                    yield (
                        info.filename,
                        not info.is_dir(),
                        lambda info=info: archive.read(info),  # type: ignore[misc]
                    )
        elif name.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(dist) as tar:
                for member in tar.getmembers():

                    def read(member: tarfile.TarInfo = member) -> bytes:
                        handle = tar.extractfile(member)
                        return handle.read() if handle is not None else b""

                    yield member.name, member.isfile(), read
        else:
            raise DistCheckFailed(
                f"cannot scan {name!r}: not a .tar.gz sdist or a .whl wheel",
                "pass the files that nox -s build wrote into dist/<name>/",
            )
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as exc:
        raise DistCheckFailed(
            f"cannot read {name!r} to scan it: {exc}",
            "rebuild the dists: nox -s build -- NAME",
        ) from None


def _relative(dist: Path, member: str) -> str:
    """The member path as a user writes it: without the sdist's top-level folder."""
    parts = PurePosixPath(member).parts
    if not dist.name.endswith(".whl") and len(parts) > 1:
        return "/".join(parts[1:])
    return "/".join(parts)


def _allowed(dist: Path, member: str, allow: Sequence[str]) -> bool:
    candidates = (member.rstrip("/"), _relative(dist, member).rstrip("/"))
    return any(fnmatch.fnmatchcase(path, glob) for glob in allow for path in candidates)


def _scan_one(dist: Path, allow: Sequence[str]) -> tuple[list[Leak], int]:
    found: dict[tuple[str, str], Leak] = {}  # one finding per member and rule is enough to act
    scanned = 0

    def add(member: str, rule: str, excerpt: str) -> None:
        found.setdefault((member, rule), Leak(dist.name, member, rule, excerpt))

    for member, is_file, read in _members(dist):
        if _allowed(dist, member, allow):
            continue
        parts = PurePosixPath(member).parts
        for rule, where in _path_findings(parts):
            excerpt = "" if rule == ".env file" else PurePosixPath(where).name + "/"
            add(where if rule != ".env file" else member, rule, excerpt)
        if not is_file:
            continue
        data = read()
        scanned += 1
        if b"\0" in data[:_BINARY_SNIFF]:
            continue  # binary (compiled code, images): no text secrets to read
        text = data.decode("utf-8", errors="replace")
        for rule, secret in _content_findings(text):
            add(member, rule, redact(secret))
        if parts and parts[-1] == ".pypirc":
            for match in _PYPIRC_PASSWORD.finditer(text):
                add(member, ".pypirc password", redact(match.group(1)))
    return list(found.values()), scanned


def scan_dists(dists: Sequence[Path], *, allow: Sequence[str] = ()) -> list[Leak]:
    """Every leak in ``dists``; members matching an ``allow`` glob are skipped.

    ``allow`` globs (``fnmatch``, e.g. ``"tests/fixtures/*"``) match the member
    path inside the archive or the path below the sdist's top-level folder.
    """
    leaks: list[Leak] = []
    for dist in dists:
        started = time.perf_counter()
        found, scanned = _scan_one(Path(dist), allow)
        log.info(
            "leak-lint %s: %d files scanned in %.2f s, %s",
            Path(dist).name,
            scanned,
            time.perf_counter() - started,
            f"{len(found)} finding(s)" if found else "clean",
        )
        leaks += found
    return leaks


def require_no_leaks(dists: Sequence[Path], *, allow: Sequence[str] = ()) -> None:
    """Scan ``dists``; any finding is a :class:`~releasekit.errors.LeakFound` listing all."""
    leaks = scan_dists(dists, allow=allow)
    if not leaks:
        return
    listed = "; ".join(str(leak) for leak in leaks)
    raise LeakFound(
        f"{len(leaks)} leak(s) found in the dists: {listed}",
        "remove the file from the source tree or exclude it from the sdist/wheel build config "
        "(and revoke any real secret); for a deliberate fixture add its path to leak-allow "
        'in [tool.releasekit], e.g. leak-allow = ["tests/fixtures/*"]',
        findings=leaks,
    )
