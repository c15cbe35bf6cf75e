"""Leak-lint: find secrets and stray files inside built distributions before they leave.

Every member of every sdist (``.tar.gz``) and wheel (``.whl``, zip) is checked, and
so is every member of an archive nested in it (``.zip``, ``.whl``, ``.egg``, ``.jar``,
``.tar``, ``.tar.gz``, ``.tgz``, ``.tar.bz2``, ``.tar.xz``; up to three levels deep,
reported as ``outer.zip!/inner/path``):

* by path (our rules): ``.env`` files, ``.netrc``/``_netrc`` files, AWS
  ``.aws/credentials`` files, a ``.pypirc`` holding a password, VCS folders
  (``.git/``, ``.hg/``, ``.svn/``, ``.bzr/``) and cache or tool folders
  (``__pycache__/``, ``.nox/``, ``.venv/``, ``.tox/``, ...); the folder rules apply
  to the dist's own members only;
* by content: our own rules for PyPI/TestPyPI API tokens (``pypi-AgE...`` macaroons),
  GitHub fine-grained tokens (``github_pat_``), private keys (a ``BEGIN ... PRIVATE
  KEY`` line followed by key material: a string that merely names the header is not
  a key), AWS secret access keys assigned to their usual names, and passwords in URLs
  (``scheme://user:password@host``, placeholders left alone); plus detect-secrets'
  token-format plugins (AWS key ids, GitHub, GitLab, Slack, Stripe, ...).  Its entropy
  and keyword plugins are left out: they flag every hash in a RECORD.  AWS's
  documented example keys (``AKIAIOSFODNN7EXAMPLE`` and its example secret) are not
  findings.

Text is read as UTF-8, or UTF-16 when the file says so (a byte-order mark, or the
NUL-every-other-byte shape of UTF-16 text).  A file with a NUL byte early is binary:
its printable runs (ASCII, and UTF-16LE as Windows binaries store strings) are
scanned instead.  Up to :data:`_MAX_READ` bytes of a member are scanned, a chunk at a time,
each with the last :data:`_OVERLAP` characters before it (from a line start when one is
near): a secret across a chunk's edge is found whole, and no member sits in memory whole.

A finding never carries the secret: :class:`Leak` keeps a redacted excerpt
(the first few characters and an ellipsis).  Deliberate fixtures are skipped
with ``leak-allow`` globs on member paths (relative to the sdist's top folder).
"""

from __future__ import annotations

import codecs
import fnmatch
import functools
import io
import itertools
import logging
import re
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import IO, Any

from releasekit.errors import DistCheckFailed, LeakFound

__all__ = ["Leak", "redact", "require_no_leaks", "scan_dists"]

log = logging.getLogger("releasekit")

_BINARY_SNIFF = 8192  # a NUL byte within this many bytes: not plain text
_MAX_READ = 64 * 1024 * 1024  # bytes read from one member (a bound for huge or hostile files)
_CHUNK = 4 * 1024 * 1024  # bytes of a member read and scanned at a time
# Characters of one chunk's text scanned again with the next: far longer than any match of
# our rules and the plugins' (the longest: a private key's headers, a PuTTY key's 64 lines).
_OVERLAP = 64 * 1024
_MAX_DEPTH = 3  # archives inside archives inside the dist
_MIN_RUN = 8  # shortest printable run taken from a binary file
_NESTED_SUFFIXES = (
    ".whl", ".zip", ".egg", ".jar", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz",
    ".txz",
)  # fmt: skip
_VCS_DIRS = frozenset({".git", ".hg", ".svn", ".bzr"})
_CACHE_DIRS = frozenset(
    {"__pycache__", ".nox", ".venv", ".tox", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
)


@dataclass(frozen=True)
class _Rule:
    """One of our content rules: a pattern, the group holding the secret, and a filter."""

    name: str
    pattern: re.Pattern[str]
    group: int = 0
    hints: tuple[str, ...] = ()  # literals one of which must occur for the pattern to match
    keep: Callable[[re.Match[str]], bool] = lambda match: True


def _is_example(secret: str) -> bool:
    """AWS's documented example keys (AKIAIOSFODNN7EXAMPLE, wJalrXUtnFEMI/...EXAMPLEKEY)."""
    return "EXAMPLE" in secret.upper()


def _placeholder(secret: str) -> bool:
    """Documentation filler: an EXAMPLE key, "xxxx...", "1111111111:...", "ACxxxxxxxx..."."""
    return _is_example(secret) or len(set(secret)) < 8 or re.search(r"(.)\1{5}", secret) is not None


def _looks_random(secret: str) -> bool:
    return not _is_example(secret) and all(
        any(test(char) for char in secret) for test in (str.isupper, str.islower, str.isdigit)
    )


# Passwords in URLs that are placeholders of documentation, templates or tests.
_PLACEHOLDER_WORDS = (
    "pass", "pwd", "secret", "token", "example", "changeme", "your", "xxx", "redacted",
    "dummy", "placeholder", "hunter2", "letmein",
)  # fmt: skip
_EXAMPLE_HOSTS = re.compile(
    r"(?:^|\.)(?:example\.(?:com|net|org)|example|invalid|test|localdomain)$|^(?:host|hostname"
    r"|server|domain|proxy|proxyhost|myproxy|hostname\.com)$",
    re.IGNORECASE,
)


def _real_url_password(match: re.Match[str]) -> bool:  # noqa: PLR0911  each kind of placeholder password is ruled out on its own line
    user, password, host = match.group("user"), match.group("password"), match.group("host")
    lowered = password.lower()
    if len(password) < 8 or password.isdigit() or password == user:
        return False  # "a:b@", a port number ("localhost:8000@"), "guest:guest@"
    if password.isalpha() and password.islower() and len(password) < 16:
        return False  # a word: "postgres://scott:tiger@", "amqp://guest:rabbitmq@"
    if user.lower() == "scott" and lowered.startswith("tiger"):
        return False  # the classic sample database account
    if any(char in password for char in "{}$%<>*[]()`|,;=&\\…"):
        return False  # a template or a format string: {password}, %s, $PASS, <pw>, ***
    if any(word in lowered for word in _PLACEHOLDER_WORDS):
        return False
    if re.fullmatch(r"(.)\1*", password) or "..." in password:
        return False  # xxxx, ****, pypi-...
    return not _EXAMPLE_HOSTS.search(host.rstrip("."))


# Between a key's lines: line breaks, written or escaped, and the joins of string literals
# ("...\n" b"..." or '...' + '...').
_PEM_GAP = r"""(?:\\[rn]|[\s"'+(,]|[bBrRuU]{1,2}(?=["']))"""

_OWN_RULES: tuple[_Rule, ...] = (
    # PyPI and TestPyPI API tokens are macaroons: "pypi-" then a long base64url body that
    # starts with "AgE" (pypi-AgEIcHlwaS5vcmc... for pypi.org, pypi-AgENdGVzdC5weXBpLm9yZw...
    # for TestPyPI); "pypi-simple" or "pypi-attestations" are names, not tokens.
    _Rule(
        "pypi-token",
        re.compile(r"pypi-AgE[A-Za-z0-9_-]{50,}"),
        hints=("pypi-AgE",),
        keep=lambda match: not _token_char_before(match, "-_"),
    ),
    # GitHub fine-grained personal access tokens (detect-secrets knows only ghp_/gho_/...).
    _Rule(
        "github-token",
        re.compile(r"github_pat_[A-Za-z0-9_]{22,}"),
        hints=("github_pat_",),
        keep=lambda match: not _token_char_before(match, "_"),
    ),
    # A private key is its BEGIN line *followed by key material* (after line breaks, written
    # or escaped in a string, and RFC 1421 headers such as Proc-Type): code that compares a
    # line with the header string holds no key.  PEM, OpenSSH, PGP and SSH2 blocks.
    _Rule(
        "private-key",
        re.compile(
            r"-{4,5} ?BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)? ?-{4,5}"
            rf"{_PEM_GAP}*(?:[A-Za-z][A-Za-z-]*: ?[^\n\\]*{_PEM_GAP}+)*"
            r"[A-Za-z0-9+/]{16,}"
        ),
        hints=("PRIVATE KEY",),
    ),
    # PuTTY key files: the private part follows its "Private-Lines: N" line.
    _Rule(
        "private-key",
        re.compile(
            r"PuTTY-User-Key-File-\d+:(?:.*\n){1,64}?Private-Lines: \d+\r?\n[A-Za-z0-9+/]{16,}"
        ),
        hints=("PuTTY-User-Key-File-",),
    ),
    # An AWS secret access key is 40 characters of base64 with no marker of its own: it is
    # found where it is assigned to one of its usual names (ini, env, shell, JSON, Python).
    _Rule(
        "aws-secret-key",
        re.compile(
            r"(?i:aws_?secret_?access_?key|aws_?secret_?key|secret_?access_?key)"
            r"[\"']?\s*[:=]{1,2}\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
        group=1,
        hints=("ecret", "ECRET"),
        keep=lambda match: _looks_random(match.group(1)),
    ),
    # A password in a URL's userinfo: scheme://user:password@host.
    _Rule(
        "url-password",
        re.compile(
            r"\b[A-Za-z][A-Za-z0-9+.-]{1,20}://(?P<user>[^\s:/?#@\"'<>\\]{0,64})"
            r":(?P<password>[^\s/?#@\"'<>\\]{1,128})@(?P<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])"
        ),
        group=2,
        hints=("://",),
        keep=_real_url_password,
    ),
)


def _token_char_before(match: re.Match[str], extra: str) -> bool:
    """Whether the match continues a longer word (then it is part of something else)."""
    start = match.start()
    if start == 0:
        return False
    before = match.string[start - 1]
    return before.isalnum() or before in extra


_PYPIRC_PASSWORD = re.compile(r"^[ \t]*password[ \t]*[:=][ \t]*(\S[^\r\n]*)", re.MULTILINE)

# detect-secrets plugins with a fixed token format: precise enough to block a release on.
# Left out: the entropy and keyword plugins (every RECORD hash and "password" in a docstring
# would block a release), Artifactory (matches ordinary words such as "APACHELICENSE2"),
# basic-auth URLs and private keys (our own rules above are sharper), and the
# IBM/Softlayer/Cloudant keyword rules.
_DETECT_SECRETS_PLUGINS = (
    "AWSKeyDetector",
    "AzureStorageKeyDetector",
    "DiscordBotTokenDetector",
    "GitHubTokenDetector",
    "GitLabTokenDetector",
    "MailchimpDetector",
    "NpmDetector",
    "OpenAIDetector",
    "PypiTokenDetector",
    "SendGridDetector",
    "SlackDetector",
    "SquareOAuthDetector",
    "StripeDetector",
    "TelegramBotTokenDetector",
    "TwilioKeyDetector",
)
# Cheap necessary conditions for each plugin's patterns: literals, or patterns that start
# with one (Python's re finds those fast), searched over the whole file; the plugin's own,
# slower patterns then run on the lines they hit only.
_GATES: dict[str, tuple[str, ...]] = {
    "AWSKeyDetector": ("A3T", "ABIA", "ACCA", "AKIA", "ASIA", "aws", "AWS", "Aws"),
    "AzureStorageKeyDetector": ("AccountKey=",),
    "DiscordBotTokenDetector": (r"\.[a-zA-Z\d_-]{6}\.[a-zA-Z\d_-]{27}",),
    "GitHubTokenDetector": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    "GitLabTokenDetector": (
        "glpat-", "gldt-", "glft-", "glsoat-", "glrt-", "GR1348941", "glcbt-", "glimt-",
        "glptt-", "glagent-", "gloas-",
    ),
    "MailchimpDetector": ("-us[0-9]",),
    "NpmDetector": ("_authToken",),
    "OpenAIDetector": ("T3BlbkFJ",),
    "PypiTokenDetector": ("pypi-AgE",),
    "SendGridDetector": (r"SG\.",),
    "SlackDetector": ("xox[abposr]-", r"hooks\.slack\.com"),
    "SquareOAuthDetector": ("sq0csp-",),
    "StripeDetector": ("k_live_",),
    "TelegramBotTokenDetector": (":[0-9A-Za-z_-]{35}",),
    "TwilioKeyDetector": ("AC[a-z0-9]{32}", "SK[a-z0-9]{32}"),
}  # fmt: skip
_RULE_NAMES = {
    "AWS Access Key": "aws-access-key",
    "GitHub Token": "github-token",
    "PyPI Token": "pypi-token",
}
_AWS_KEY_ID = re.compile(r"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}")


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
    gates: tuple[re.Pattern[str], ...]  # necessary conditions, searched over whole files
    prefilter: tuple[re.Pattern[str], ...]  # the plugin's own patterns, on the gated lines
    analyze: Callable[[str], Iterable[str]]  # the plugin itself, on lines its patterns hit


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
        name = plugin_class.__name__
        if name not in _DETECT_SECRETS_PLUGINS:
            continue
        plugin: Any = plugin_class()
        prefilter = tuple(
            re.compile(pattern.pattern, pattern.flags | re.MULTILINE)
            for pattern in getattr(plugin, "denylist", ())
        )
        gates = tuple(re.compile(gate) for gate in _GATES.get(name, ())) or prefilter
        detectors.append(
            _Detector(_rule_name(str(secret_type)), gates, prefilter, plugin.analyze_string)
        )
    return tuple(detectors)


def _lines_at(text: str, matches: Iterable[re.Match[str]]) -> list[str]:
    """The distinct lines of ``text`` holding ``matches``, in order."""
    lines: list[str] = []
    last_end = -1
    for match in matches:
        if match.start() <= last_end:
            continue
        begin = text.rfind("\n", 0, match.start()) + 1
        last_end = text.find("\n", match.end())
        if last_end < 0:
            last_end = len(text)
        lines.append(text[begin:last_end])
    return lines


def _content_findings(text: str) -> Iterator[tuple[str, str]]:
    """(rule, secret) for every secret in ``text``."""
    for rule in _OWN_RULES:
        if rule.hints and not any(hint in text for hint in rule.hints):
            continue
        for match in rule.pattern.finditer(text):
            if rule.keep(match):
                yield rule.name, match.group(rule.group)
    for detector in _detectors():
        hits = [match for gate in detector.gates for match in gate.finditer(text)]
        for line in _lines_at(text, sorted(hits, key=lambda match: match.start())):
            if not any(pattern.search(line) for pattern in detector.prefilter):
                continue
            # The plugins give the first group of a pattern that has one ("ghp" of a GitHub
            # token): judge and show the whole match that holds it.
            matches = [m.group(0) for pattern in detector.prefilter for m in pattern.finditer(line)]
            for found in detector.analyze(line):
                secret = str(found)
                whole = next((match for match in matches if secret in match), secret)
                if _placeholder(whole):
                    continue  # AWS's documented example keys, filler in docs and tests
                name = detector.rule
                if name == "aws-access-key" and not _AWS_KEY_ID.fullmatch(secret):
                    name = "aws-secret-key"  # the plugin's other pattern: a 40-character secret
                if name in {"aws-secret-key", "discord-bot-token"} and not _looks_random(secret):
                    continue  # a word-like run: identifiers, not a key
                yield name, secret if len(secret) >= 16 else whole


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_ASCII_RUN = re.compile(rb"[\t\n\r\x20-\x7e]{%d,}" % _MIN_RUN)
_UTF16LE_RUN = re.compile(rb"(?:[\t\n\r\x20-\x7e]\x00){%d,}" % _MIN_RUN)


def _utf16_without_bom(head: bytes) -> str | None:
    """``utf-16-le``/``-be`` when ``head`` has the NUL-every-other-byte shape of UTF-16."""
    even, odd = head[0::2], head[1::2]
    if len(odd) < 8:
        return None
    even_nuls, odd_nuls = even.count(0) / len(even), odd.count(0) / len(odd)
    if odd_nuls > 0.6 and even_nuls < 0.05:
        return "utf-16-le"
    if even_nuls > 0.6 and odd_nuls < 0.05:
        return "utf-16-be"
    return None


def _blocks(handle: IO[bytes]) -> Iterator[bytes]:
    """The first :data:`_MAX_READ` bytes of ``handle``, :data:`_CHUNK` bytes at a time."""
    for _ in range(_MAX_READ // _CHUNK):
        block = handle.read(_CHUNK)
        if not block:
            return
        yield block


def _overlapping(pieces: Iterable[str]) -> Iterator[str]:
    """Each piece of text with the end of the ones before it (a window to scan)."""
    tail = ""
    for piece in pieces:
        if not piece:
            continue
        window = tail + piece
        yield window
        start = window.rfind("\n", 0, max(len(window) - _OVERLAP, 0)) + 1
        if len(window) - start > 2 * _OVERLAP:
            start = len(window) - _OVERLAP  # no line start near: the last characters
        tail = window[start:]


def _binary_texts(first: bytes, rest: Iterator[bytes]) -> Iterator[str]:
    """The printable runs of a binary (compiled code, images, databases), window by window."""
    tail = b""
    for block in itertools.chain((first,), rest):
        window = tail + block
        yield b"\n".join(_ASCII_RUN.findall(window)).decode("ascii")
        wide = _UTF16LE_RUN.findall(window)
        if wide:
            yield "\n".join(run.decode("utf-16-le") for run in wide)
        tail = window[-2 * _OVERLAP :]  # UTF-16 text takes two bytes a character


def _texts(handle: IO[bytes]) -> Iterator[str]:
    """The text to scan in a member: decoded text, or the printable runs of a binary."""
    blocks = _blocks(handle)
    first = next(blocks, b"")
    if not first:
        return
    head = first[:_BINARY_SNIFF]
    encoding = "utf-8" if b"\0" not in head else _utf16_without_bom(head)
    if first.startswith(_UTF16_BOMS):
        encoding = "utf-16"
    if encoding is None:
        yield from _binary_texts(first, blocks)
        return
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    pieces = (decoder.decode(block) for block in itertools.chain((first,), blocks))
    yield from _overlapping(itertools.chain(pieces, (decoder.decode(b"", final=True),)))


def _path_findings(parts: Sequence[str], *, folders: bool = True) -> Iterator[tuple[str, str]]:
    """(rule, the offending path prefix) for a member's path."""
    if folders:
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
    elif name in {".netrc", "_netrc"}:
        yield ".netrc file", "/".join(parts)
    elif name == "credentials" and len(parts) > 1 and parts[-2] == ".aws":
        yield "aws credentials file", "/".join(parts)


_Opener = Callable[[], IO[bytes]]
_Members = Iterator[tuple[str, bool, _Opener]]


def _zip_members(archive: zipfile.ZipFile) -> _Members:
    for info in archive.infolist():
        yield info.filename, not info.is_dir(), functools.partial(archive.open, info)


def _tar_members(tar: tarfile.TarFile) -> _Members:
    for member in tar:

        def open_(member: tarfile.TarInfo = member) -> IO[bytes]:
            return tar.extractfile(member) or io.BytesIO()

        yield member.name, member.isfile(), open_


def _members(dist: Path) -> _Members:
    """(member path, is a regular file, reader) for every member of ``dist``."""
    name = dist.name
    try:
        if name.endswith((".whl", ".zip")):
            with zipfile.ZipFile(dist) as archive:
                yield from _zip_members(archive)
        elif name.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(dist) as tar:
                yield from _tar_members(tar)
        else:
            raise DistCheckFailed(
                f"cannot scan {name!r}: not a .tar.gz sdist or a .whl wheel",
                "pass the files that nox -s build wrote into dist/<name>/",
            )
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DistCheckFailed(
            f"cannot read {name!r} to scan it: {exc}",
            "rebuild the dists: nox -s build -- NAME",
        ) from None


def _nested_members(data: bytes) -> _Members:
    """The members of the archive held in ``data``, one at a time (read when opened)."""
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            yield from _zip_members(archive)
        return
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        yield from _tar_members(tar)


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

    def scan(member: str, handle: IO[bytes], depth: int) -> None:
        nonlocal scanned
        scanned += 1
        if depth < _MAX_DEPTH and member.lower().endswith(_NESTED_SUFFIXES):
            data = handle.read(_MAX_READ)  # an archive is read whole to list its members
            try:
                for path, is_file, open_ in _nested_members(data):
                    check(f"{member}!/{path}", is_file, open_, depth + 1)
                return
            except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError, ValueError):
                handle = io.BytesIO(data)  # not an archive after all (or a broken one): a file
        name = PurePosixPath(member).name
        for text in _texts(handle):
            for rule, secret in _content_findings(text):
                add(member, rule, redact(secret))
            if name == ".pypirc":
                for match in _PYPIRC_PASSWORD.finditer(text):
                    add(member, ".pypirc password", redact(match.group(1)))

    def check(member: str, is_file: bool, open_: _Opener, depth: int) -> None:
        if _allowed(dist, member, allow):
            return
        inner_path = member.rsplit("!/", 1)[-1]
        parts = PurePosixPath(inner_path).parts
        prefix = member[: len(member) - len(inner_path)]
        for rule, where in _path_findings(parts, folders=depth == 0):
            if rule.endswith("-directory"):
                add(prefix + where, rule, PurePosixPath(where).name + "/")
            else:
                add(member, rule, "")
        if is_file:
            with open_() as handle:
                scan(member, handle, depth)

    for member, is_file, open_ in _members(dist):
        check(member, is_file, open_, 0)
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
