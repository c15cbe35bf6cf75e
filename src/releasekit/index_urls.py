"""The rules for an index URL in ``[tool.releasekit.indexes.NAME]``.

An index URL is http(s) with a host; it holds no login (a credential in
pyproject.toml is committed and shipped in the sdist: it is registered as a
secret so that no later message shows it, and the error shows the URL masked);
and it is https unless the host is loopback or the index opts in with
``allow-http = true``.
"""

from __future__ import annotations

import ipaddress
import urllib.parse

from releasekit._secrets import register_secret
from releasekit.errors import ConfigError

__all__ = ["check_index_url"]


def _netloc(url: str) -> str:
    """The ``[userinfo@]host[:port]`` part of ``url`` (with or without a scheme)."""
    rest = url.partition("://")[2] if "://" in url else url
    for end in "/?#":
        rest = rest.partition(end)[0]
    return rest


def _masked_url(url: str) -> str:
    """``url`` with its user name and password (if any) shown as ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    netloc = _netloc(url)
    path = rest[len(netloc) :]
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    return f"{scheme}{sep}{netloc}{path}"


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_index_url(
    where: str, key: str, value: object, *, allow_http: bool, login_env: str = ""
) -> None:
    """An index URL: http(s), a host, no credentials in it, https unless loopback or opted in."""
    netloc = _netloc(value) if isinstance(value, str) else ""
    if isinstance(value, str) and "@" in netloc:
        userinfo = netloc.rpartition("@")[0]
        for secret in (userinfo, userinfo.partition(":")[2]):
            # never shown, even by a later error quoting the file
            register_secret(secret)
            register_secret(urllib.parse.unquote(secret))
        raise ConfigError(
            f"{where}.{key} must not hold a login (user:password@): {_masked_url(value)!r}",
            "remove it from the URL: give upload credentials as TWINE_USERNAME / TWINE_PASSWORD"
            + (f", a read login as {login_env}USERNAME / {login_env}PASSWORD" if login_env else "")
            + ", or keep them in keyring; a credential in pyproject.toml is committed and "
            "shipped in the sdist (see docs/how-to/credentials.md)",
        )
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ConfigError(
            f"{where}.{key} must be an http(s) URL, not {value!r}",
            f'set {key} = "https://.../" in [{where}]',
        )
    host = urllib.parse.urlsplit(value).hostname
    if not host:
        raise ConfigError(
            f"{where}.{key} {value!r} names no host",
            f'set {key} = "https://HOST/..." in [{where}]',
        )
    if value.startswith("http://") and not allow_http and not _is_loopback(host):
        raise ConfigError(
            f"{where}.{key} {value!r} is plain http to {host!r}: credentials and files "
            "would cross the network unencrypted and could be changed on the way",
            "use https://, or if this index is on a network you trust, "
            f"add allow-http = true to [{where}]",
        )
