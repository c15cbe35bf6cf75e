"""The packages of a workspace: discovery, selection, dependency order.

A workspace is the directory holding the root ``pyproject.toml`` with
``[tool.releasekit]``.  Its ``packages`` globs name package roots (each with
its own ``pyproject.toml``).  Packages are selected by distribution name (any
spelling that normalizes to the same name) or by path relative to the root.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from releasekit.config import (
    Config,
    PackageSettings,
    load_config,
    read_pyproject,
    render_template,
    resolve_package_settings,
    split_command,
)
from releasekit.errors import ConfigError, GitError, PackageNotFound, WorkspaceError
from releasekit.sources import read_setup_cfg

__all__ = [
    "DETECTABLE_TAG_FORMATS",
    "Package",
    "RequirementSite",
    "Workspace",
    "detect_tag_format",
    "distribution_name",
    "find_root",
    "load_workspace",
    "name_spellings",
    "tag_pattern",
]


@dataclass(frozen=True)
class RequirementSite:
    """One requirement string in a pyproject, and where it sits.

    ``table`` is ``"dependencies"``, ``"optional-dependencies.NAME"`` or
    ``"dependency-groups.NAME"``.
    """

    table: str
    text: str
    requirement: Requirement


@dataclass(frozen=True)
class Package:
    """One distribution of the workspace."""

    name: str  # as written in [project] name
    root: Path  # absolute package root
    rel: str  # root relative to the workspace root, posix ("." for the root package)
    workspace_root: Path
    settings: PackageSettings
    tag_format: str
    data: dict[str, Any] = field(repr=False, compare=False, hash=False)
    # how tag_format was decided: "configured", "detected" (from the repo's tags) or "default"
    tag_format_origin: str = field(default="configured", compare=False)

    @property
    def canonical_name(self) -> str:
        return canonicalize_name(self.name)

    @property
    def pyproject(self) -> Path:
        return self.root / "pyproject.toml"

    @property
    def dist_dir(self) -> Path:
        """Where ``nox -s build`` puts this package's files: ``<root>/dist/<name>/``."""
        return self.workspace_root / "dist" / self.canonical_name

    def tag(self, version: str) -> str:
        """The git tag of ``version`` per ``tag-format``."""
        return render_template(self.tag_format, name=self.name, version=str(version))

    def template(self, template: str, version: str = "", **extra: str) -> str:
        return render_template(template, **self._fields(version, extra))

    def command(self, template: str, version: str = "", **extra: str) -> list[str]:
        """A configured command as an argument list: split first, then each part filled in.

        ``{path}`` holding a space stays one argument; unknown fields
        (``{script}``) are left for the caller.
        """
        return split_command(template, **self._fields(version, extra))

    def _fields(self, version: str, extra: dict[str, str]) -> dict[str, str]:
        fields = {"name": self.name, "path": str(self.root), **extra}
        if version:
            fields["version"] = str(version)
            fields["tag"] = self.tag(version)
        return fields

    @cached_property
    def requirements(self) -> tuple[RequirementSite, ...]:
        """Every requirement the pyproject declares, with the table it sits in."""
        return tuple(_requirement_sites(self.data, self.pyproject))

    @property
    def console_scripts(self) -> tuple[str, ...]:
        scripts = self.data.get("project", {}).get("scripts", {})
        return tuple(scripts) if isinstance(scripts, dict) else ()

    def __str__(self) -> str:
        return self.name


def _requirement_sites(data: dict[str, Any], where: Path) -> Iterable[RequirementSite]:
    project = data.get("project", {})
    tables: list[tuple[str, Any]] = [("dependencies", project.get("dependencies", []))]
    for extra, reqs in project.get("optional-dependencies", {}).items():
        tables.append((f"optional-dependencies.{extra}", reqs))
    for group, reqs in data.get("dependency-groups", {}).items():
        tables.append((f"dependency-groups.{group}", reqs))
    for table, reqs in tables:
        for text in reqs if isinstance(reqs, list) else []:
            if not isinstance(text, str):
                continue  # {include-group = "..."} entries of dependency-groups
            try:
                yield RequirementSite(table, text, Requirement(text))
            except InvalidRequirement as exc:
                raise ConfigError(
                    f"{str(where)!r}: {table} has an invalid requirement {text!r}: {exc}",
                    "fix the requirement string (PEP 508)",
                ) from None


@dataclass(frozen=True)
class Workspace:
    """The configuration and packages of one repository."""

    config: Config
    packages: tuple[Package, ...]

    @property
    def root(self) -> Path:
        return self.config.root

    def get(self, name_or_path: str) -> Package:
        """The package called ``name_or_path`` (any spelling) or rooted there."""
        wanted = canonicalize_name(name_or_path.split("==", maxsplit=1)[0].strip())
        for package in self.packages:
            if package.canonical_name == wanted:
                return package
        candidate = (Path.cwd() / name_or_path).resolve()
        rel = name_or_path.strip().rstrip("/") or "."
        for package in self.packages:
            if package.rel == Path(rel).as_posix() or package.root == candidate:
                return package
        known = ", ".join(f"{p.name} ({p.rel})" for p in self.packages)
        raise PackageNotFound(
            f"no package {name_or_path!r} in this workspace",
            f"known packages: {known}",
        )

    def select(self, names: Sequence[str] = (), *, all_packages: bool = False) -> list[Package]:
        """The packages to work on, in dependency order.

        No names: :meth:`default_package`.  ``all_packages``: every package.
        """
        if all_packages:
            return self.in_dependency_order(self.packages)
        if not names:
            return [self.default_package()]
        chosen: list[Package] = []
        for name in names:
            package = self.get(name)
            if package not in chosen:
                chosen.append(package)
        return self.in_dependency_order(chosen)

    def default_package(self, cwd: Path | None = None) -> Package:
        """The package worked on when none is named.

        The only package of a one-package workspace; otherwise the package
        whose root is the nearest directory at or above ``cwd``.
        """
        if len(self.packages) == 1:
            return self.packages[0]
        here = (cwd or Path.cwd()).resolve()
        enclosing = [p for p in self.packages if here == p.root or p.root in here.parents]
        if enclosing:
            return max(enclosing, key=lambda p: len(p.root.parts))
        known = ", ".join(p.name for p in self.packages)
        raise PackageNotFound(
            "this workspace has several packages and the current directory is in none of them",
            f"name one of: {known} (or --all)",
        )

    def internal_requirements(self, package: Package) -> list[tuple[RequirementSite, Package]]:
        """The requirements of ``package`` that name another package of the workspace."""
        by_name = {p.canonical_name: p for p in self.packages}
        found = []
        for site in package.requirements:
            other = by_name.get(canonicalize_name(site.requirement.name))
            if other is not None and other is not package:
                found.append((site, other))
        return found

    def dependents(self, package: Package) -> list[tuple[Package, RequirementSite]]:
        """Packages of the workspace that require ``package``, with the requirement."""
        found = []
        for other in self.packages:
            for site, target in self.internal_requirements(other):
                if target is package:
                    found.append((other, site))
        return found

    def in_dependency_order(self, packages: Iterable[Package]) -> list[Package]:
        """``packages`` sorted so every package comes after the siblings it needs at run time.

        Only ``[project] dependencies`` order packages: an extra or a dependency
        group may point back at a package that depends on it (the loop is legal
        and installable, see :meth:`sibling_loops`).  A loop of runtime
        requirements is a :class:`~releasekit.errors.WorkspaceError`.
        """
        wanted = list(packages)
        order: list[Package] = []
        state: dict[str, str] = {}

        def visit(package: Package, path: list[Package]) -> None:
            mark = state.get(package.canonical_name)
            if mark == "done":
                return
            if mark == "visiting":
                cycle = [*path[path.index(package) :], package]
                raise WorkspaceError(
                    "dependency cycle between packages: " + " -> ".join(p.name for p in cycle),
                    "runtime requirements ([project] dependencies) must form a tree; remove one "
                    "requirement of the cycle, or move it to an extra or a dependency group",
                )
            state[package.canonical_name] = "visiting"
            for site, dep in self.internal_requirements(package):
                if site.table == "dependencies":
                    visit(dep, [*path, package])
            state[package.canonical_name] = "done"
            order.append(package)

        for package in sorted(self.packages, key=lambda p: p.rel):
            visit(package, [])
        return [p for p in order if p in wanted]

    def sibling_loops(self) -> list[list[Package]]:
        """Loops among siblings through extras or dependency groups: information, never an error.

        One loop per strongly connected group of packages, as the path
        ``[a, b, a]``.  Runtime loops never get here (they are refused when the
        workspace loads).
        """
        names = {p.canonical_name: p for p in self.packages}
        edges = {
            p.canonical_name: [d.canonical_name for _s, d in self.internal_requirements(p)]
            for p in self.packages
        }
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        groups: list[list[str]] = []

        def strongconnect(node: str) -> None:  # Tarjan's algorithm
            index[node] = low[node] = len(index)
            stack.append(node)
            for dep in edges[node]:
                if dep not in index:
                    strongconnect(dep)
                    low[node] = min(low[node], low[dep])
                elif dep in stack:
                    low[node] = min(low[node], index[dep])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(group)

        for package in sorted(self.packages, key=lambda p: p.rel):
            if package.canonical_name not in index:
                strongconnect(package.canonical_name)
        loops = []
        rank = {p.canonical_name: i for i, p in enumerate(self.in_dependency_order(self.packages))}
        for group in groups:
            start = min(group, key=rank.__getitem__)  # the one released first
            members = set(group)
            paths = {start: [start]}
            todo = [start]
            loop: list[str] = []
            while todo and not loop:  # breadth first: the shortest way back to the start
                node = todo.pop(0)
                for dep in edges[node]:
                    if dep == start:
                        loop = [*paths[node], start]
                        break
                    if dep in members and dep not in paths:
                        paths[dep] = [*paths[node], dep]
                        todo.append(dep)
            loops.append([names[n] for n in loop])
        return loops


def find_root(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` whose pyproject has ``[tool.releasekit]``.

    Falls back to the nearest directory with a ``pyproject.toml`` at all.
    """
    start = (start or Path.cwd()).resolve()
    first: Path | None = None
    for directory in [start, *start.parents]:
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            first = first or directory
            try:
                data = read_pyproject(candidate)
            except ConfigError:
                if first == directory:
                    raise
                continue
            if "releasekit" in data.get("tool", {}):
                return directory
    if first is not None:
        return first
    raise ConfigError(
        f"no pyproject.toml in {str(start)!r} or any directory above it",
        "run releasekit from your project's directory",
    )


DETECTABLE_TAG_FORMATS = (
    "v{version}",
    "{version}",
    "{name}-v{version}",
    "{name}-{version}",
    "{name}@{version}",
    "{name}@v{version}",
    "{name}/v{version}",
)
"""The tag forms recognized in a repository when ``tag-format`` is not configured."""

_VERSION_IN_TAG = r"(?P<version>(?:\d+!)?\d[^\s]*)"


def name_spellings(name: str) -> list[str]:
    """The spellings of a distribution name tags may use: as written, normalized, underscored."""
    canonical = canonicalize_name(name)
    return [name, canonical, canonical.replace("-", "_")]


def tag_pattern(tag_format: str, names: Sequence[str]) -> re.Pattern[str]:
    """A regex matching the tags ``tag_format`` makes for a package called any of ``names``.

    The version part must start with a digit (or an epoch), so ``v{version}``
    and ``{version}`` never match each other's tags.
    """
    spellings = sorted(set(names), key=len, reverse=True)
    out = ""
    for piece in re.split(r"(\{name\}|\{version\})", tag_format):
        if piece == "{name}":
            out += "(?:" + "|".join(re.escape(n) for n in spellings) + ")"
        elif piece == "{version}":
            out += _VERSION_IN_TAG
        else:
            out += re.escape(piece)
    return re.compile(out)


def detect_tag_format(tags: Sequence[str], name: str, default: str) -> str:
    """The tag form most of ``tags`` take for the package ``name``; ``default`` when none does.

    A tie keeps ``default`` when it is among the best, else the earlier form of
    :data:`DETECTABLE_TAG_FORMATS`.
    """
    spellings = name_spellings(name)
    counts = {
        form: sum(1 for tag in tags if tag_pattern(form, spellings).fullmatch(tag))
        for form in DETECTABLE_TAG_FORMATS
    }
    best = max(counts.values())
    if best == 0 or counts.get(default, 0) == best:
        return default
    return next(form for form in DETECTABLE_TAG_FORMATS if counts[form] == best)


def _repo_tags(root: Path) -> list[str]:
    """The repository's tags (none outside a git repository)."""
    from releasekit import git

    try:
        return git.tags(root)
    except GitError:
        return []


def distribution_name(package_root: Path, data: dict[str, Any]) -> str:
    """The package's name: ``[project] name``, else ``[tool.poetry] name``, else setup.cfg's."""
    name = data.get("project", {}).get("name")
    if not name:
        name = data.get("tool", {}).get("poetry", {}).get("name")
    if not name:
        cfg = read_setup_cfg(package_root)
        if cfg is not None and cfg.has_option("metadata", "name"):
            name = cfg.get("metadata", "name").strip()
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"{str(package_root / 'pyproject.toml')!r} has no [project] name",
            'every package root needs [project] name = "..." (or a setup.cfg [metadata] name)',
        )
    return name


def _expand(root: Path, pattern: str) -> list[Path]:
    if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
        raise ConfigError(
            f"tool.releasekit.packages: {pattern!r} must be a glob relative to the project root",
            "write package roots like '.' or 'adapters/*'",
        )
    if pattern in {".", "./"}:
        return [root]
    matches = sorted(root.glob(pattern))
    return [m for m in matches if (m / "pyproject.toml").is_file()]


def _uv_workspace(root: Path) -> list[Path] | None:
    """The package roots of a uv workspace (``[tool.uv.workspace]`` members less ``exclude``).

    None when ``[tool.releasekit] packages`` is configured (it wins) or the
    root declares no uv workspace.  The root is a package when it has a
    ``[project]`` table and no ``[tool.uv] package = false``, as in uv.
    """
    data = read_pyproject(root / "pyproject.toml")
    tool = data.get("tool", {})
    if "packages" in tool.get("releasekit", {}):
        return None
    uv = tool.get("uv", {}).get("workspace")
    if not isinstance(uv, dict):
        return None
    members = uv.get("members", [])
    exclude = uv.get("exclude", [])
    if not isinstance(members, list) or not isinstance(exclude, list):
        raise ConfigError(
            "tool.uv.workspace: members and exclude must be lists of globs",
            'write members = ["packages/*"] (and exclude = [...])',
        )
    excluded = {m.resolve() for pattern in exclude for m in _expand(root, str(pattern))}
    virtual = tool.get("uv", {}).get("package") is False  # `package = false`: not built
    roots = [root] if isinstance(data.get("project"), dict) and not virtual else []
    for pattern in members:
        for match in _expand(root, str(pattern)):
            resolved = match.resolve()
            if resolved not in excluded and resolved not in roots:
                roots.append(resolved)
    return roots


def load_workspace(root: Path | None = None) -> Workspace:
    """Load the workspace at ``root`` (default: found from the current directory)."""
    root = (root or find_root()).resolve()
    config = load_config(root)
    roots: list[Path] = []
    uv_members = _uv_workspace(root)
    if uv_members is not None:
        roots = uv_members
    for pattern in config.packages if uv_members is None else ():
        matches = _expand(root, pattern)
        if not matches:
            raise ConfigError(
                f"tool.releasekit.packages: {pattern!r} matches no directory with a pyproject.toml",
                "fix the glob, or create the package's pyproject.toml",
            )
        roots.extend(m.resolve() for m in matches if m.resolve() not in roots)
    raw: list[tuple[Path, dict[str, Any], PackageSettings, str]] = []
    for package_root in roots:
        data = read_pyproject(package_root / "pyproject.toml")
        name = distribution_name(package_root, data)
        settings = resolve_package_settings(config, package_root, data)
        raw.append((package_root, data, settings, name))
    default_tag = "v{version}" if len(raw) == 1 else "{name}-v{version}"
    tags = _repo_tags(root) if any(s.tag_format is None for _r, _d, s, _n in raw) else []
    packages = []
    for package_root, data, settings, name in raw:
        if settings.tag_format:
            tag_format, origin = settings.tag_format, "configured"
        else:
            tag_format = detect_tag_format(tags, name, default_tag)
            origin = "default" if tag_format == default_tag else "detected"
        packages.append(
            Package(
                name=name,
                root=package_root,
                rel=package_root.relative_to(root).as_posix(),
                workspace_root=root,
                settings=settings,
                tag_format=tag_format,
                data=data,
                tag_format_origin=origin,
            )
        )
    seen: dict[str, Package] = {}
    for package in packages:
        if package.canonical_name in seen:
            raise WorkspaceError(
                f"two packages are called {package.name!r}: "
                f"{seen[package.canonical_name].rel!r} and {package.rel!r}",
                "every distribution name in a workspace must be unique",
            )
        seen[package.canonical_name] = package
    workspace = Workspace(config, tuple(packages))
    workspace.in_dependency_order(packages)  # a runtime cycle is an error as soon as it exists
    return workspace
