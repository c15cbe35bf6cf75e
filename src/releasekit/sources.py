"""Where a package's version lives: every common version source of the build backends.

:func:`find_version_source` reads a package's ``pyproject.toml`` (and its
``setup.cfg``) the way its build backend does and says where the version is
written:

- ``static``: a TOML value: ``[project] version``, or ``[tool.poetry] version``
  (poetry-core);
- ``file``: a line of a text file found with a regular expression whose group
  ``version`` is the version: hatch's ``[tool.hatch.version] path`` (and
  ``pattern``), flit's module ``__version__``, setuptools' ``attr:`` and
  ``file:`` (in ``[tool.setuptools.dynamic]`` or ``setup.cfg``), a literal
  ``version`` in ``setup.cfg``, pdm-backend's ``source = "file"``;
- ``tag``: git tags (setuptools-scm, hatch-vcs, pdm-backend ``scm``,
  versioningit, poetry-dynamic-versioning, uv-dynamic-versioning): a bump
  is the next tag and writes no file;
- ``backend``: a source releasekit does not know; the version is read by
  asking the build backend for the wheel's metadata (PEP 517
  ``prepare_metadata_for_build_wheel``), and a bump needs ``version-files``.

Reading never needs the source to be writable: only a bump does.  Nothing
here runs a process or writes a file.  Reading and writing the version of a
workspace package at its source is :mod:`releasekit.version_source`.
"""

from __future__ import annotations

import ast
import configparser
import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from releasekit.config import read_pyproject
from releasekit.errors import ConfigError

__all__ = [
    "DEFAULT_FILE_PATTERN",
    "SourceKind",
    "VersionFile",
    "VersionSource",
    "find_version_source",
    "generated_version_files",
    "version_files",
]

SourceKind = Literal["static", "file", "tag", "backend"]

# hatchling's default pattern for [tool.hatch.version] path (hatchling/version/source/regex.py)
HATCH_PATTERN = r"""(?i)^(__version__|VERSION) *= *(['"])v?(?P<version>.+?)\2"""

DEFAULT_FILE_PATTERN = (
    r"""(?im)^\s*(?:__version__|version)\s*(?::\s*[\w.\[\]]+\s*)?="""
    r"""(?:\s*\w+\s*=)*\s*(['"])v?(?P<version>[^'"\n]+)\1"""
)
"""The default pattern of a ``version-files`` entry: ``__version__ = "1.0"``,
``VERSION: str = '1.0'``, ``__version__ = version = '1.0'`` (setuptools-scm's
generated file) — the first such line of the file."""

# setup.cfg: the `version = 1.2.3` line of the [metadata] section
_SETUP_CFG_VERSION = (
    r"(?ms)^\[metadata\][ \t]*$(?:(?!^\[).)*?^version[ \t]*[=:][ \t]*(?P<version>[^\s#;]+)"
)
_WHOLE_FILE = r"\A\s*v?(?P<version>[^\s]+)"

# build requirements that make the version come from git tags
_TAG_REQUIRES = {
    "setuptools-scm": "setuptools-scm",
    "hatch-vcs": "hatch-vcs",
    "versioningit": "versioningit",
    "poetry-dynamic-versioning": "poetry-dynamic-versioning",
    "uv-dynamic-versioning": "uv-dynamic-versioning",
    "setuptools-git-versioning": "setuptools-git-versioning",
    "dunamai": "dunamai",
}
# [tool.hatch.version] source values that read git tags
_HATCH_TAG_SOURCES = {
    "vcs": "hatch-vcs",
    "uv-dynamic-versioning": "uv-dynamic-versioning",
    "versioningit": "versioningit",
    "vcs-versioning": "hatch-vcs",
}


@dataclass(frozen=True)
class VersionSource:
    """Where a package's version is written (see the module's docstring for the kinds).

    ``path``: the file holding it (None for ``tag`` and ``backend``);
    ``keys``: for ``static``, the TOML keys leading to the value;
    ``pattern``: for ``file``, the regular expression with a ``version`` group;
    ``detail``: the source in words, naming the configuration it came from;
    ``tool``: the backend or plugin that reads it (``hatchling``, ``flit``,
    ``setuptools``, ``poetry``, ``pdm``, ``setuptools-scm``, ...);
    ``generated``: files the backend writes at build time (a setuptools-scm
    ``version_file``): no hand-kept copy, never a stale literal.
    """

    kind: SourceKind
    path: Path | None
    detail: str
    pattern: str = HATCH_PATTERN
    keys: tuple[str, ...] = ("project", "version")
    tool: str = ""
    generated: tuple[Path, ...] = ()

    @property
    def writable(self) -> bool:
        """True when a bump can write this source (a tag counts: the bump makes the tag)."""
        return self.kind != "backend"


@dataclass(frozen=True)
class VersionFile:
    """One more file holding the version (``version-files``): bump writes, preflight checks."""

    path: Path
    pattern: str = DEFAULT_FILE_PATTERN
    shown: str = field(default="", compare=False)


def _table(data: Any, *keys: str) -> dict[str, Any]:
    for key in keys:
        data = data.get(key, {}) if isinstance(data, dict) else {}
    return data if isinstance(data, dict) else {}


def _shown(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _build_requires(data: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    requires = _table(data, "build-system").get("requires", [])
    for text in requires if isinstance(requires, list) else []:
        with contextlib.suppress(InvalidRequirement, TypeError):
            names.add(canonicalize_name(Requirement(text).name))
    return names


def _backend(data: dict[str, Any]) -> str:
    value = _table(data, "build-system").get("build-backend", "")
    return value if isinstance(value, str) else ""


def read_setup_cfg(root: Path) -> configparser.ConfigParser | None:
    """The package's ``setup.cfg`` parsed (interpolation off), or None when there is none."""
    path = root / "setup.cfg"
    if not path.is_file():
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{str(path)!r} cannot be read as an INI file: {exc}",
            "fix setup.cfg (it must parse with configparser, as setuptools reads it)",
        ) from None
    return parser


def _assignment_pattern(name: str) -> str:
    """A pattern for ``NAME = "1.0"`` (also annotated, also ``NAME = other = "1.0"``)."""
    return (
        rf"""(?m)^{re.escape(name)}\s*(?::\s*[\w.\[\]]+\s*)?="""
        r"""(?:\s*\w+\s*=)*\s*(['"])(?P<version>[^'"\n]+)\1"""
    )


def _module_files(bases: list[Path], module: str) -> list[Path]:
    parts = module.split(".")
    found = []
    for base in bases:
        stem = base.joinpath(*parts)
        for candidate in (stem / "__init__.py", stem.with_name(stem.name + ".py")):
            if candidate.is_file():
                found.append(candidate)
    return found


def _literal_in_module(path: Path, name: str) -> tuple[str, str | None]:
    """('literal', None) when ``name`` is a string literal at module level of ``path``;
    ('import', MODULE) when it is imported ``from MODULE import name``; ('other', None) else.
    """
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return "other", None
    result: tuple[str, str | None] = ("other", None)
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    prefix = "." * node.level
                    result = ("import", prefix + (node.module or ""))
            continue
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                result = ("literal", None)
            else:
                result = ("other", None)
    return result


def _resolve_module(current: str, path: Path, target: str) -> str:
    """The absolute module name of ``target`` (maybe relative) imported in ``current``."""
    if not target.startswith("."):
        return target
    level = len(target) - len(target.lstrip("."))
    package = current if path.name == "__init__.py" else current.rpartition(".")[0]
    base = package.split(".")
    if level > 1:
        base = base[: -(level - 1)] if level - 1 < len(base) else []
    rest = target.lstrip(".")
    return ".".join([*base, rest] if rest else base)


def _package_bases(
    root: Path, data: dict[str, Any], cfg: configparser.ConfigParser | None
) -> list[Path]:
    bases: list[Path] = []
    package_dir = _table(data, "tool", "setuptools", "package-dir").get("")
    if isinstance(package_dir, str):
        bases.append(root / package_dir)
    if cfg is not None and cfg.has_option("options", "package_dir"):
        for line in cfg.get("options", "package_dir").splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.strip() and value.strip():
                bases.append(root / value.strip())
    for default in (root / "src", root):
        if default not in bases:
            bases.append(default)
    return bases


def _attr_source(root: Path, attr: str, where: str, bases: list[Path], tool: str) -> VersionSource:
    """The file holding ``attr`` (``pkg.__version__``) as a literal, following imports twice."""
    module, _, name = attr.strip().rpartition(".")
    seen: list[str] = []
    for _hop in range(3):
        files = _module_files(bases, module) if module else []
        if not files:
            break
        path = files[0]
        kind, imported = _literal_in_module(path, name)
        seen.append(_shown(root, path))
        if kind == "literal":
            return VersionSource(
                "file",
                path,
                f"{where} -> {name} in {_shown(root, path)}",
                _assignment_pattern(name),
                tool=tool,
            )
        if kind != "import" or imported is None:
            break
        module = _resolve_module(module, path, imported)
    looked = f" (looked in {', '.join(seen)})" if seen else f" (no module {module!r} found)"
    return VersionSource(
        "backend", None, f"{where}: {attr!r} is not a string literal{looked}", tool=tool
    )


def _file_source(root: Path, value: object, where: str, tool: str) -> VersionSource:
    files = value if isinstance(value, list) else [value]
    if len(files) != 1 or not isinstance(files[0], str):
        return VersionSource("backend", None, f"{where} = {value!r}", tool=tool)
    path = root / files[0].strip()
    return VersionSource(
        "file", path, f"{where} = {files[0].strip()!r} (the whole file)", _WHOLE_FILE, tool=tool
    )


def _tag_source(detail: str, tool: str, generated: tuple[Path, ...] = ()) -> VersionSource:
    return VersionSource("tag", None, detail, tool=tool, generated=generated)


def _scm_generated(root: Path, data: dict[str, Any]) -> tuple[Path, ...]:
    """Files setuptools-scm, hatch-vcs and pdm write the version into at build time."""
    found: list[Path] = []
    scm = _table(data, "tool", "setuptools_scm")
    for key in ("version_file", "write_to", "version-file"):
        if isinstance(scm.get(key), str):
            found.append(root / scm[key])
    hook = _table(data, "tool", "hatch", "build", "hooks", "vcs")
    if isinstance(hook.get("version-file"), str):
        found.append(root / hook["version-file"])
    pdm = _table(data, "tool", "pdm", "version")
    if isinstance(pdm.get("write_to"), str):
        found.extend([root / pdm["write_to"], root / "src" / pdm["write_to"]])
    return tuple(found)


@dataclass(frozen=True)
class _Project:
    """What the finders of :func:`find_version_source` read, parsed once."""

    root: Path
    name: str
    top: Path  # paths are shown relative to this
    data: dict[str, Any]
    cfg: configparser.ConfigParser | None

    @property
    def pyproject(self) -> Path:
        return self.root / "pyproject.toml"

    @property
    def shown(self) -> str:
        return _shown(self.top, self.pyproject)

    @property
    def project(self) -> dict[str, Any]:
        return _table(self.data, "project")

    @property
    def dynamic(self) -> list[Any]:
        dynamic = self.project.get("dynamic", [])
        return dynamic if isinstance(dynamic, list) else []

    @property
    def tool(self) -> dict[str, Any]:
        return _table(self.data, "tool")

    @property
    def generated(self) -> tuple[Path, ...]:
        return _scm_generated(self.root, self.data)

    @property
    def bases(self) -> list[Path]:
        return _package_bases(self.root, self.data, self.cfg)


def _static(p: _Project) -> VersionSource | None:
    """``[project] version``; a [project] table with neither it nor dynamic version: an error."""
    if not p.project or "version" in p.dynamic:
        return None
    if "version" in p.project:
        return VersionSource("static", p.pyproject, f"[project] version in {p.shown}")
    raise ConfigError(
        f"{p.name or p.shown}: {p.shown} has no [project] version",
        'add version = "0.1.0" to [project], or list "version" in [project] dynamic '
        "and configure its source (hatch path, setuptools attr, setuptools-scm...)",
    )


def _hatch(p: _Project) -> VersionSource | None:
    """hatchling: ``[tool.hatch.version]`` (a regex ``path``, or a tag plugin's source)."""
    hatch = _table(p.tool, "hatch", "version")
    if not hatch:
        return None
    source = hatch.get("source", "regex")
    if source in _HATCH_TAG_SOURCES:
        plugin = _HATCH_TAG_SOURCES[str(source)]
        where = f"[tool.hatch.version] in {p.shown}"
        return _tag_source(f"git tags ({plugin}, {where})", plugin, p.generated)
    if source == "regex" and isinstance(hatch.get("path"), str):
        pattern = hatch.get("pattern")
        if not isinstance(pattern, str):  # absent, or `pattern = true`: hatchling's default
            pattern = HATCH_PATTERN
        return VersionSource(
            "file",
            p.root / hatch["path"],
            f"[tool.hatch.version] path = {hatch['path']!r} in {p.shown}",
            pattern,
            tool="hatchling",
        )
    detail = f"[tool.hatch.version] source = {source!r} in {p.shown}"
    return VersionSource("backend", None, detail, tool="hatchling")


def _pdm(p: _Project) -> VersionSource | None:
    """pdm-backend: ``[tool.pdm.version]`` (``scm`` or ``file``)."""
    pdm = _table(p.tool, "pdm", "version")
    if not pdm:
        return None
    source = pdm.get("source")
    if source == "scm":
        detail = f"git tags (pdm-backend, [tool.pdm.version] in {p.shown})"
        return _tag_source(detail, "pdm", p.generated)
    if source == "file" and isinstance(pdm.get("path"), str):
        return VersionSource(
            "file",
            p.root / pdm["path"],
            f"[tool.pdm.version] path = {pdm['path']!r} in {p.shown}",
            _assignment_pattern("__version__"),
            tool="pdm",
        )
    detail = f"[tool.pdm.version] source = {source!r} in {p.shown}"
    return VersionSource("backend", None, detail, tool="pdm")


def _setuptools_dynamic(p: _Project) -> VersionSource | None:
    """setuptools: ``[tool.setuptools.dynamic] version = {attr = ...}`` or ``{file = ...}``."""
    dyn = _table(p.tool, "setuptools", "dynamic").get("version")
    if not isinstance(dyn, dict):
        return None
    where = f"[tool.setuptools.dynamic] version in {p.shown}"
    if isinstance(dyn.get("attr"), str):
        attr = dyn["attr"]
        return _attr_source(p.top, attr, f"{where}: attr = {attr!r}", p.bases, "setuptools")
    if "file" in dyn:
        return _file_source(p.root, dyn["file"], f"{where}: file", "setuptools")
    return None


def _poetry(p: _Project) -> VersionSource | None:
    """poetry-core: ``[tool.poetry] version``; with poetry-dynamic-versioning on: git tags."""
    if _table(p.tool, "poetry-dynamic-versioning").get("enable") is True:
        return _tag_source(
            f"git tags (poetry-dynamic-versioning, [tool.poetry-dynamic-versioning] in {p.shown})",
            "poetry-dynamic-versioning",
        )
    poetry = _table(p.tool, "poetry")
    if isinstance(poetry.get("version"), str) and (not p.project or "version" in p.dynamic):
        return VersionSource(
            "static",
            p.pyproject,
            f"[tool.poetry] version in {p.shown}",
            keys=("tool", "poetry", "version"),
            tool="poetry",
        )
    return None


def _setup_cfg(p: _Project) -> VersionSource | None:
    """setuptools: ``setup.cfg`` ``[metadata] version`` (``attr:``, ``file:`` or a literal)."""
    if p.cfg is None or not p.cfg.has_option("metadata", "version"):
        return None
    value = p.cfg.get("metadata", "version").strip()
    cfg_path = p.root / "setup.cfg"
    cfg_shown = _shown(p.top, cfg_path)
    if value.startswith("attr:"):
        attr = value.removeprefix("attr:").strip()
        where = f"{cfg_shown} [metadata] version = attr: {attr}"
        return _attr_source(p.top, attr, where, p.bases, "setuptools")
    if value.startswith("file:"):
        files = [f.strip() for f in value.removeprefix("file:").split(",") if f.strip()]
        return _file_source(p.root, files, f"{cfg_shown} [metadata] version = file:", "setuptools")
    if value:
        return VersionSource(
            "file",
            cfg_path,
            f"{cfg_shown} [metadata] version",
            _SETUP_CFG_VERSION,
            tool="setuptools",
        )
    return None


def _tag_plugins(p: _Project) -> VersionSource | None:
    """A tag-driven plugin, by its configuration table or by a build requirement."""
    if "setuptools_scm" in p.tool or "setuptools-scm" in p.tool:
        detail = f"git tags (setuptools-scm, [tool.setuptools_scm] in {p.shown})"
        return _tag_source(detail, "setuptools-scm", p.generated)
    if "versioningit" in p.tool:
        detail = f"git tags (versioningit, [tool.versioningit] in {p.shown})"
        return _tag_source(detail, "versioningit", p.generated)
    requires = _build_requires(p.data)
    for requirement, plugin in _TAG_REQUIRES.items():
        if requirement in requires:
            detail = f"git tags ({plugin}, a build requirement in {p.shown})"
            return _tag_source(detail, plugin, p.generated)
    return None


def _flit(p: _Project) -> VersionSource | None:
    """flit: the ``__version__`` of the module named like the distribution (or ``[tool.flit]``)."""
    requires = _build_requires(p.data)
    if not (_backend(p.data).startswith("flit_core") or requires & {"flit-core", "flit"}):
        return None
    module = _table(p.tool, "flit", "module").get("name") or p.name.replace("-", "_")
    modules = _module_files(p.bases, str(module)) if module else []
    if modules:
        return VersionSource(
            "file",
            modules[0],
            f"__version__ in {_shown(p.top, modules[0])} (flit's module)",
            _assignment_pattern("__version__"),
            tool="flit",
        )
    return VersionSource("backend", None, f"flit module {module!r} (not found)", tool="flit")


_FINDERS = (
    _static,
    _hatch,
    _pdm,
    _setuptools_dynamic,
    _poetry,
    _setup_cfg,
    _tag_plugins,
    _flit,
)
"""The sources in the order they are tried: the first that knows the package decides."""


def find_version_source(
    root: Path, *, name: str = "", shown_from: Path | None = None
) -> VersionSource:
    """Where the package rooted at ``root`` keeps its version, as its build backend reads it.

    ``name`` is the distribution name (flit looks for the module of that
    name); ``shown_from`` is the directory paths are shown relative to.
    Raises :class:`~releasekit.errors.ConfigError` only when there is no
    version at all; a source releasekit does not know is a ``backend``
    source (readable through the backend, not bumpable without
    ``version-files``).
    """
    project = _Project(
        root=root,
        name=name,
        top=shown_from or root,
        data=read_pyproject(root / "pyproject.toml"),
        cfg=read_setup_cfg(root),
    )
    for finder in _FINDERS:
        source = finder(project)
        if source is not None:
            return source
    shown = project.shown
    found = (
        f"dynamic = ['version'] in {shown}" if project.project else f"no [project] table in {shown}"
    )
    backend = _backend(project.data)
    if backend:
        found += f", build-backend {backend!r}"
    return VersionSource("backend", None, found, tool=backend or "setuptools")


def generated_version_files(source: VersionSource) -> tuple[Path, ...]:
    """Files the source's own tool writes (not hand-kept literals)."""
    return source.generated


def version_files(
    root: Path, entries: tuple[tuple[str, str | None], ...], shown_from: Path | None = None
) -> list[VersionFile]:
    """The ``version-files`` entries of a package, ``(path, pattern or None)``, resolved."""
    found = []
    for path, pattern in entries:
        full = root / path
        found.append(
            VersionFile(full, pattern or DEFAULT_FILE_PATTERN, _shown(shown_from or root, full))
        )
    return found
