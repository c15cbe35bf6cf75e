"""``[tool.releasekit]``: load, validate, resolve.

The root ``pyproject.toml`` holds the workspace keys (``packages``,
``indexes``, ``signing``) and defaults for the per-package keys; a package's
own ``pyproject.toml`` may override the per-package keys.  Every problem is a
:class:`~releasekit.errors.ConfigError` that names the key and, for a typo,
the nearest valid one.  What makes an index URL acceptable (https, no login in
it) is :mod:`releasekit.index_urls`.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
import tomlkit.toml_document

from releasekit.errors import ConfigError
from releasekit.index_urls import check_index_url

__all__ = [
    "BUILTIN_INDEXES",
    "DEFAULT_LINT",
    "DEFAULT_SMOKE",
    "DEFAULT_TEST",
    "PACKAGE_KEYS",
    "WORKSPACE_KEYS",
    "Config",
    "IndexConfig",
    "PackageSettings",
    "SigningConfig",
    "load_config",
    "parse_toml",
    "read_pyproject",
    "resolve_package_settings",
    "split_command",
]

DEFAULT_LINT = ("ruff check {path}", "ruff format --check {path}")
DEFAULT_TEST = ("pytest {path}/tests",)
DEFAULT_SMOKE: tuple[str, ...] = ()  # empty: every console script is run with --version
DEFAULT_VERIFY_TIMEOUT = 180.0
DEFAULT_CONNECT_TIMEOUT = 10.0  # seconds to open a connection to an index
DEFAULT_READ_TIMEOUT = 60.0  # seconds an index may stay silent while answering


@dataclass(frozen=True)
class IndexConfig:
    """A package index: where to upload, where to read (PEP 503 simple API).

    ``local`` is the embedded pypiserver: its URLs are known only once it runs
    (see :func:`releasekit.index.local_index`), so they are ``None`` here.
    """

    name: str
    upload_url: str | None
    simple_url: str | None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    # where smoke and verify take third-party dependencies from (None: this index only);
    # the workspace's own packages always come from this index
    dependency_url: str | None = None

    @property
    def env_prefix(self) -> str:
        """``RELEASEKIT_INDEX_<NAME>_``: the environment variables of this index's login."""
        return "RELEASEKIT_INDEX_" + re.sub(r"[^A-Za-z0-9]", "_", self.name).upper() + "_"

    @property
    def dependency_index(self) -> IndexConfig | None:
        """The dependency index as an index of its own (``<name>-deps``), if there is one."""
        if not self.dependency_url:
            return None
        return replace(
            self,
            name=f"{self.name}-deps",
            upload_url=None,
            simple_url=self.dependency_url,
            dependency_url=None,
        )

    @property
    def embedded(self) -> bool:
        return self.name == "local"

    @property
    def is_pypi(self) -> bool:
        """PyPI or TestPyPI: the indexes that take trusted publishing and attestations."""
        return self.name in {"pypi", "testpypi"}


BUILTIN_INDEXES: Mapping[str, IndexConfig] = {
    "pypi": IndexConfig("pypi", "https://upload.pypi.org/legacy/", "https://pypi.org/simple/"),
    "testpypi": IndexConfig(
        "testpypi",
        "https://test.pypi.org/legacy/",
        "https://test.pypi.org/simple/",
        dependency_url="https://pypi.org/simple/",  # TestPyPI holds few real dependencies
    ),
    "local": IndexConfig("local", None, None),
}


@dataclass(frozen=True)
class SigningConfig:
    """Who is expected to have signed a release (``[tool.releasekit.signing]``).

    ``identity`` may contain ``{tag}``, ``{name}``, ``{version}``; with
    ``identity_is_regexp`` it is matched as a regular expression, like
    ``sigstore verify identity --cert-identity-regexp``.
    """

    identity: str
    issuer: str
    identity_is_regexp: bool = False
    staging: bool = False


@dataclass(frozen=True)
class PackageSettings:
    """The per-package keys, after root defaults and package overrides are merged."""

    tag_format: str | None = None  # None: decided by the workspace (one package or several)
    release_notes: str | None = None
    changelog: str | None = None
    news_dir: str = "changes"
    branch: str = "main"
    lint: tuple[str, ...] | None = None  # None: the defaults apply
    test: tuple[str, ...] | None = None
    smoke: tuple[str, ...] = DEFAULT_SMOKE
    leak_allow: tuple[str, ...] = ()
    verify_timeout: float = DEFAULT_VERIFY_TIMEOUT
    reproducible: bool = False  # True: a wheel rebuilt from the sdist must be byte-identical
    # more files holding the version: (path, pattern or None), from `version-files`
    version_files: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True)
class Config:
    """The workspace configuration read from the root ``pyproject.toml``."""

    root: Path
    packages: tuple[str, ...] = (".",)
    defaults: PackageSettings = field(default_factory=PackageSettings)
    indexes: Mapping[str, IndexConfig] = field(default_factory=lambda: dict(BUILTIN_INDEXES))
    signing: SigningConfig | None = None
    raw_package_keys: Mapping[str, Any] = field(default_factory=dict)

    def index(self, name: str) -> IndexConfig:
        """The index called ``name``; an unknown name lists the known ones."""
        try:
            return self.indexes[name]
        except KeyError:
            known = ", ".join(sorted(self.indexes))
            raise ConfigError(
                f"unknown index {name!r}{_nearest(name, self.indexes)}",
                f"known indexes: {known}; add others under [tool.releasekit.indexes.NAME]",
            ) from None


# key -> (expected python type(s), description used in errors)
PACKAGE_KEYS: Mapping[str, tuple[type | tuple[type, ...], str]] = {
    "tag-format": (str, "a string such as '{name}-v{version}'"),
    "release-notes": (str, "a path template such as 'docs/release-notes/v{version}.md'"),
    "changelog": (str, "a path such as 'CHANGELOG.md'"),
    "news-dir": (str, "a folder such as 'changes' (news fragments)"),
    "branch": (str, "a branch name such as 'main'"),
    "lint": (list, "a list of command strings"),
    "test": (list, "a list of command strings"),
    "smoke": (list, "a list of command strings"),
    "leak-allow": (list, "a list of glob patterns of dist member paths"),
    "verify-timeout": ((int, float), "a number of seconds"),
    "reproducible": (bool, "true or false"),
    "version-files": (
        list,
        "a list of paths, or of {path = '...', pattern = '...'} tables, "
        "such as ['src/pkg/_version.py']",
    ),
}
WORKSPACE_KEYS: Mapping[str, tuple[type | tuple[type, ...], str]] = {
    "packages": (list, "a list of package root globs such as ['.', 'adapters/*']"),
    "indexes": (dict, "a table of [tool.releasekit.indexes.NAME] tables"),
    "signing": (dict, "a table with 'identity' and 'issuer'"),
    "workflow": (dict, "a table of release-workflow settings (see `invoke workflow`)"),
    "connect-timeout": ((int, float), "a number of seconds"),
    "read-timeout": ((int, float), "a number of seconds"),
}
TIMEOUT_KEYS = ("connect-timeout", "read-timeout")
INDEX_URL_KEYS = ("upload-url", "simple-url")
INDEX_KEYS = (*INDEX_URL_KEYS, "dependency-index", *TIMEOUT_KEYS, "allow-http")
SIGNING_KEYS = ("identity", "identity-regexp", "issuer", "staging")
_COMMAND_KEYS = ("lint", "test", "smoke")
_TEMPLATE_FIELDS = ("{name}", "{version}", "{tag}", "{path}", "{script}")


def _nearest(key: str, valid: object) -> str:
    matches = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.5)  # type: ignore[call-overload]
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def parse_toml(text: str, shown: str) -> tomlkit.toml_document.TOMLDocument:
    """Parse ``text`` (the file ``shown``) with tomlkit; every tomlkit error is a ConfigError.

    tomlkit raises ``ParseError`` for bad syntax but ``KeyAlreadyPresent`` (not
    a ParseError) for some duplicate keys: both are one error line here.
    """
    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError as exc:
        if isinstance(exc, tomlkit.exceptions.KeyAlreadyPresent) or "already exists" in str(exc):
            hint = "a key or table may appear only once: remove or merge the duplicate"
        else:
            hint = "fix the TOML syntax at the line and column shown"
        raise ConfigError(f"{shown!r} is not valid TOML: {exc}", hint) from None


def read_pyproject(path: Path) -> dict[str, Any]:
    """Parse ``path`` as TOML; missing or malformed files are ConfigErrors."""
    if path.is_dir():
        path = path / "pyproject.toml"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"no pyproject.toml at {str(path.parent)!r}",
            "run releasekit from the project root, or create pyproject.toml there",
        ) from None
    data: dict[str, Any] = parse_toml(text, str(path)).unwrap()
    return data


def _check_type(
    where: str, key: str, value: object, spec: tuple[type | tuple[type, ...], str]
) -> None:
    expected, description = spec
    ok = isinstance(value, expected) and not (
        isinstance(value, bool) and expected != bool  # noqa: E721 - bool is an int subclass
    )
    if not ok:
        raise ConfigError(
            f"{where}.{key} must be {description}, not {type(value).__name__} {value!r}",
            f"set {key} = ... to {description} in pyproject.toml",
        )
    if isinstance(value, list) and key == "version-files":
        _check_version_files(where, value)
    elif isinstance(value, list):
        for item in value:
            if not isinstance(item, str):
                raise ConfigError(
                    f"{where}.{key} must be {description}; item {item!r} is not a string",
                    f"write every item of {key} as a quoted string",
                )


def _check_version_files(where: str, value: list[Any]) -> None:
    """Each entry: a relative path, or a table with ``path`` and an optional ``pattern``."""
    import re

    example = (
        'version-files = ["src/pkg/_version.py"] or '
        '[{path = "VERSION", pattern = "(?P<version>.+)"}]'
    )
    for item in value:
        if isinstance(item, dict):
            unknown = [k for k in item if k not in {"path", "pattern"}]
            if unknown:
                raise ConfigError(
                    f"{where}.version-files: unknown key {unknown[0]!r}"
                    f"{_nearest(unknown[0], ['path', 'pattern'])} in {item!r}",
                    "an entry is {path = '...', pattern = '...'} (pattern optional)",
                )
            path, pattern = item.get("path"), item.get("pattern")
        else:
            path, pattern = item, None
        if not isinstance(path, str) or not path:
            raise ConfigError(
                f"{where}.version-files: {item!r} is not a path or a table with a path",
                example,
            )
        if Path(path).is_absolute() or ".." in Path(path).parts:
            raise ConfigError(
                f"{where}.version-files: {path!r} must be a path inside the package",
                "write it relative to the package root, e.g. 'src/pkg/_version.py'",
            )
        if pattern is not None:
            try:
                compiled = re.compile(pattern) if isinstance(pattern, str) else None
            except re.error as exc:
                raise ConfigError(
                    f"{where}.version-files: the pattern for {path!r} is not a valid "
                    f"regular expression: {exc}",
                    "fix it; it needs a group named 'version'",
                ) from None
            if compiled is None or "version" not in compiled.groupindex:
                raise ConfigError(
                    f"{where}.version-files: the pattern for {path!r} has no group named "
                    f"'version': {pattern!r}",
                    "mark the version with (?P<version>...), e.g. "
                    '\'VERSION = "(?P<version>[^"]+)"\'',
                )


def _check_command(where: str, key: str, command: str) -> None:
    """A configured command must split into arguments the way a shell would."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise ConfigError(
            f"{where}.{key}: the command {command!r} cannot be split into arguments "
            f"({str(exc).lower()})",
            "close the quote, or escape a literal quote with a backslash (\\\" or \\')",
        ) from None
    if not words:
        raise ConfigError(
            f"{where}.{key} has an empty command {command!r}",
            f"remove it from {key}, or write the command to run",
        )


def split_command(template: str, **fields: str) -> list[str]:
    """The argument list of a configured command, its ``{fields}`` filled in.

    The template is split first (as a shell would), then each argument is
    filled: a value such as a path with a space stays one argument.
    """
    return [render_template(word, **fields) for word in shlex.split(template)]


def _check_keys(where: str, table: Mapping[str, Any], valid: object) -> None:
    valid_keys = list(valid)  # type: ignore[call-overload]
    for key in table:
        if key not in valid_keys:
            raise ConfigError(
                f"unknown key {where}.{key}{_nearest(key, valid_keys)}",
                f"valid keys here: {', '.join(valid_keys)}",
            )


def _package_settings(
    where: str, table: Mapping[str, Any], base: PackageSettings
) -> PackageSettings:
    values: dict[str, Any] = {}
    for key, value in table.items():
        _check_type(where, key, value, PACKAGE_KEYS[key])
        attr = key.replace("-", "_")
        converted: Any = tuple(value) if isinstance(value, list) else value
        if key == "version-files":
            converted = tuple(
                (item, None) if isinstance(item, str) else (item["path"], item.get("pattern"))
                for item in value
            )
        if key in _COMMAND_KEYS:
            for command in value:
                _check_command(where, key, command)
        if key == "verify-timeout":
            converted = float(value)
            if converted <= 0:
                raise ConfigError(
                    f"{where}.verify-timeout must be positive, not {value!r}",
                    "set verify-timeout to a number of seconds such as 180",
                )
        values[attr] = converted
    if "tag-format" in table and "{version}" not in table["tag-format"]:
        raise ConfigError(
            f"{where}.tag-format {table['tag-format']!r} has no '{{version}}'",
            "a tag must name the version, e.g. 'v{version}' or '{name}-v{version}'",
        )
    if "tag-format" in table:
        _check_tag_format(where, table["tag-format"])
    merged = {**base.__dict__, **values}
    return PackageSettings(**merged)


def _check_tag_format(where: str, tag_format: str) -> None:
    """A tag-format whose tags git would refuse is an error now, not after an upload."""
    from releasekit.git import tag_name_problem

    sample = render_template(tag_format, name="oxi-core", version="1.2.0rc1")
    problem = tag_name_problem(sample)
    if problem is not None:
        raise ConfigError(
            f"{where}.tag-format {tag_format!r} makes tags git refuses "
            f"(e.g. {sample!r}: {problem})",
            "use only letters, digits and . _ - / around {name} and {version}, "
            "e.g. '{name}-v{version}'",
        )


def _timeouts(where: str, table: Mapping[str, Any], base: IndexConfig) -> IndexConfig:
    """``base`` with the connect-timeout / read-timeout that ``table`` sets (checked)."""
    for key in TIMEOUT_KEYS:
        if key not in table:
            continue
        value = table[key]
        _check_type(where, key, value, ((int, float), "a number of seconds"))
        if value <= 0:
            raise ConfigError(
                f"{where}.{key} must be a positive number of seconds, not {value!r}",
                f"set {key} = 10 (connect) or 60 (read), for example",
            )
        if key == "connect-timeout":
            base = replace(base, connect_timeout=float(value))
        else:
            base = replace(base, read_timeout=float(value))
    return base


def _indexes(table: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, IndexConfig]:
    where_defaults = "tool.releasekit"
    indexes = {
        name: _timeouts(where_defaults, defaults, index) for name, index in BUILTIN_INDEXES.items()
    }
    for name, spec in table.items():
        where = f"tool.releasekit.indexes.{name}"
        if not isinstance(spec, dict):
            raise ConfigError(
                f"{where} must be a table with upload-url and simple-url, not {spec!r}",
                f"write it as [{where}] with upload-url = ... and simple-url = ...",
            )
        if name in BUILTIN_INDEXES:
            raise ConfigError(
                f"{where}: {name!r} is a built-in index and cannot be redefined",
                "give your index another name, e.g. 'staging'",
            )
        _check_keys(where, spec, INDEX_KEYS)
        allow_http = spec.get("allow-http", False)
        if not isinstance(allow_http, bool):
            raise ConfigError(
                f"{where}.allow-http must be true or false, not {allow_http!r}",
                "write allow-http = true (reach this index over plain http) or false",
            )
        urls: dict[str, str] = {}
        for key in (*INDEX_URL_KEYS, "dependency-index"):
            if key == "dependency-index" and key not in spec:
                continue
            value = spec.get(key)
            login_env = IndexConfig(name, None, None).env_prefix
            check_index_url(where, key, value, allow_http=allow_http, login_env=login_env)
            assert isinstance(value, str)  # noqa: S101 - checked just above
            urls[key] = value if value.endswith("/") else value + "/"
        index = IndexConfig(
            name,
            urls["upload-url"],
            urls["simple-url"],
            dependency_url=urls.get("dependency-index"),
        )
        index = _timeouts(where_defaults, defaults, index)
        indexes[name] = _timeouts(where, spec, index)
    return indexes


def _signing(table: Mapping[str, Any]) -> SigningConfig:
    where = "tool.releasekit.signing"
    _check_keys(where, table, SIGNING_KEYS)
    if ("identity" in table) == ("identity-regexp" in table):
        raise ConfigError(
            f"{where} needs exactly one of 'identity' or 'identity-regexp'",
            'identity = "https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/tags/{tag}"',
        )
    issuer = table.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        raise ConfigError(
            f"{where}.issuer must be the OIDC issuer URL, not {issuer!r}",
            'for GitHub Actions: issuer = "https://token.actions.githubusercontent.com"',
        )
    regexp = "identity-regexp" in table
    identity = table["identity-regexp" if regexp else "identity"]
    if not isinstance(identity, str) or not identity:
        raise ConfigError(
            f"{where}.{'identity-regexp' if regexp else 'identity'} must be a non-empty string",
            "set it to the certificate identity (SAN) that signs your releases",
        )
    staging = table.get("staging", False)
    if not isinstance(staging, bool):
        raise ConfigError(
            f"{where}.staging must be true or false, not {staging!r}", "staging = false"
        )
    return SigningConfig(identity, issuer, identity_is_regexp=regexp, staging=staging)


def load_config(root: Path) -> Config:
    """Read and validate ``[tool.releasekit]`` of the root ``pyproject.toml``."""
    root = root.resolve()
    data = read_pyproject(root / "pyproject.toml")
    tool = data.get("tool", {}).get("releasekit", {})
    where = "tool.releasekit"
    if not isinstance(tool, dict):
        raise ConfigError(f"{where} must be a table", "write it as [tool.releasekit]")
    valid = {**WORKSPACE_KEYS, **PACKAGE_KEYS}
    _check_keys(where, tool, valid)
    for key in WORKSPACE_KEYS:
        if key in tool:
            _check_type(where, key, tool[key], WORKSPACE_KEYS[key])
    packages = tuple(tool.get("packages", ["."]))
    if not packages:
        raise ConfigError(
            f"{where}.packages is empty", "list at least one package root, e.g. ['.']"
        )
    package_table = {k: v for k, v in tool.items() if k in PACKAGE_KEYS}
    defaults = _package_settings(where, package_table, PackageSettings())
    return Config(
        root=root,
        packages=packages,
        defaults=defaults,
        indexes=_indexes(tool.get("indexes", {}), tool),
        signing=_signing(tool["signing"]) if "signing" in tool else None,
        raw_package_keys=package_table,
    )


def resolve_package_settings(
    config: Config, package_root: Path, data: Mapping[str, Any]
) -> PackageSettings:
    """The settings of the package at ``package_root`` (its pyproject parsed as ``data``)."""
    if package_root.resolve() == config.root:
        return config.defaults
    tool = data.get("tool", {}).get("releasekit", {})
    rel = package_root.resolve().relative_to(config.root).as_posix()
    where = f"{rel}/pyproject.toml: tool.releasekit"
    if not isinstance(tool, dict):
        raise ConfigError(f"{where} must be a table", "write it as [tool.releasekit]")
    for key in tool:
        if key in WORKSPACE_KEYS:
            raise ConfigError(
                f"{where}.{key} is a workspace key and only allowed in the root pyproject.toml",
                f"move {key} to [tool.releasekit] in {str(config.root / 'pyproject.toml')!r}",
            )
    _check_keys(where, tool, PACKAGE_KEYS)
    return _package_settings(where, tool, config.defaults)


def render_template(template: str, **fields: str) -> str:
    """Fill ``{name}``, ``{version}``, ``{tag}``, ``{path}``... in a config template."""
    out = template
    for key, value in fields.items():
        out = out.replace("{" + key + "}", value)
    return out
