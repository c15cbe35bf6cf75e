"""Which values are credentials, how to hide them, and how to keep them from children.

Upload and signing credentials belong to releasekit's own in-process code
(the upload, trusted publishing, signing).  Every process releasekit starts
runs code it does not own (lint and test commands, the build backend,
installers, smoke commands, uv, git), so :func:`scrubbed_env` removes them
from the environment those processes get, and :func:`redact` hides them -
in clear and in the encoded forms an HTTP client or server shows them
(base64 of ``user:password`` as in a ``Basic`` header, URL-encoded) - from
process output, errors and logs.

This module imports nothing of releasekit, so :mod:`releasekit.errors` can use it.
"""

from __future__ import annotations

import base64
import logging
import os
import urllib.parse
from collections.abc import Iterable, Mapping

__all__ = [
    "CREDENTIAL_NAMES",
    "CREDENTIAL_PREFIXES",
    "is_credential_name",
    "known_secrets",
    "redact",
    "register_secret",
    "scrubbed_env",
]

# Variables that hold upload, signing or forge credentials.
CREDENTIAL_PREFIXES = ("TWINE_", "PYPI_", "TEST_PYPI_", "TESTPYPI_", "SIGSTORE_")
CREDENTIAL_NAMES = frozenset(
    {
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "GH_ENTERPRISE_TOKEN",
        "GITHUB_ENTERPRISE_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",  # GitHub Actions OIDC (trusted publishing, sigstore)
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_RUNTIME_TOKEN",
        "CI_JOB_JWT",  # GitLab OIDC
        "CI_JOB_JWT_V1",
        "CI_JOB_JWT_V2",
        "CI_JOB_TOKEN",
        "BUILDKITE_OIDC_TOKEN",
    }
)
_SECRET_WORDS = ("PASSWORD", "TOKEN", "SECRET", "JWT", "KEY")
_USERNAMES = ("__token__",)  # user names whose pairs with a password are worth hiding
# Shorter values are not treated as credentials when met elsewhere ("1", "true" ...).
_MIN_SECRET = 6
_MASK = "***"

# Secrets met at run time that no environment variable holds (a keyring password,
# an identity token): (secret, user name or "")
_registered: set[tuple[str, str]] = set()


def is_credential_name(name: str) -> bool:
    """True for a variable that holds an upload, signing or forge credential."""
    upper = name.upper()
    return upper in CREDENTIAL_NAMES or upper.startswith(CREDENTIAL_PREFIXES)


def _holds_secret(name: str) -> bool:
    """A credential variable whose value is itself secret (not a user name or a URL)."""
    upper = name.upper()
    return (
        is_credential_name(name)
        and any(word in upper for word in _SECRET_WORDS)
        and not upper.endswith(("_URL", "_USERNAME"))
    )


def register_secret(secret: str | None, *, username: str = "") -> None:
    """Remember ``secret`` (with the user name it goes with) so it is never shown again."""
    if secret:
        _registered.add((secret, username))


def _pairs(environ: Mapping[str, str]) -> set[tuple[str, str]]:
    pairs = set(_registered)
    username = environ.get("TWINE_USERNAME", "")
    for name, value in environ.items():
        if value and _holds_secret(name):
            pairs.add((value, username))
    return pairs


def known_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """Every credential value known now: from the environment, and those registered."""
    environ = os.environ if environ is None else environ
    return sorted({secret for secret, _ in _pairs(environ)}, key=len, reverse=True)


def _b64(text: str) -> list[str]:
    raw = text.encode()
    forms = []
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        encoded = encode(raw).decode("ascii")
        forms += [encoded, encoded.rstrip("=")]
    return forms


def _forms(secret: str, usernames: Iterable[str]) -> set[str]:
    """``secret`` as it may be written: in clear, URL-encoded, base64, ``user:secret`` in base64."""
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret)}
    forms.add(urllib.parse.quote_plus(secret))
    forms.update(_b64(secret))
    for username in usernames:
        forms.update(_b64(f"{username}:{secret}"))
    return {form for form in forms if form}


def redact(text: str, secrets: Iterable[str] = (), *, username: str = "") -> str:
    """``text`` with every secret - given or known - replaced by ``***``, in every form.

    Given ``secrets`` are hidden whatever their length; the known ones (from
    the environment and :func:`register_secret`) when at least six characters
    long, so a trivial value such as ``1`` does not blank out everything.
    """
    if not text:
        return text
    usernames = {*_USERNAMES, os.environ.get("TWINE_USERNAME", ""), username} - {""}
    wanted: dict[str, set[str]] = {}
    for secret in secrets:
        if secret:
            wanted.setdefault(secret, set()).update(usernames)
    for secret, user in _pairs(os.environ):
        if len(secret) >= _MIN_SECRET:
            wanted.setdefault(secret, set()).update(usernames | ({user} - {""}))
    forms: set[str] = set()
    for secret, users in wanted.items():
        forms |= _forms(secret, users)
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, _MASK)
    return text


def scrubbed_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default ``os.environ``) without any credential.

    Drops every variable named in :data:`CREDENTIAL_NAMES` or starting with one
    of :data:`CREDENTIAL_PREFIXES`, and every other variable whose value holds
    a known credential (copied under another name, or inside a URL).
    """
    source = dict(os.environ if environ is None else environ)
    secrets = [
        s for s in {*known_secrets(os.environ), *known_secrets(source)} if len(s) >= _MIN_SECRET
    ]
    kept: dict[str, str] = {}
    for name, value in source.items():
        if is_credential_name(name):
            continue
        if value and any(secret in value for secret in secrets):
            continue
        kept[name] = value
    return kept


class RedactingFilter(logging.Filter):
    """A logging filter that hides known credentials in each record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = redact(message)
        if hidden != message:
            record.msg, record.args = hidden, None
        return True


_FILTER = RedactingFilter()
# releasekit's own logger, and the loggers of the upload client it runs in-process
_REDACTED_LOGGERS = (
    "releasekit",
    "twine",
    "twine.repository",
    "twine.utils",
    "twine.auth",
    "twine.commands.upload",
    "twine.commands.check",
    "twine.package",
)
for _name in _REDACTED_LOGGERS:
    logging.getLogger(_name).addFilter(_FILTER)
