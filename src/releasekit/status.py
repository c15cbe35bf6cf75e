"""Where each package stands: version, literals, tag, notes, indexes, pins, next action."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name

from releasekit import git
from releasekit.config import IndexConfig
from releasekit.errors import ReleaseError
from releasekit.literals import find_version_literals
from releasekit.notes import notes_state, release_marks
from releasekit.session_names import nox_command
from releasekit.version_source import find_version_source, read_version, tagged_versions
from releasekit.versions import same_version
from releasekit.workspace import Package, Workspace

__all__ = ["PackageStatus", "package_status", "pin_problems"]

log = logging.getLogger("releasekit")


@dataclass(frozen=True)
class PackageStatus:
    """One row of ``invoke status``."""

    package: Package
    version: str
    source: str  # where the version comes from, in words
    literals: tuple[str, ...]
    tag: str
    tag_state: str  # "at HEAD", "at <sha>", "missing"
    notes: str  # "filled", "stub", "missing", plus ", marked bad/yanked"
    indexes: dict[str, str] = field(default_factory=dict)  # index -> latest version or a state
    pins: str = "ok"
    next_action: str = ""
    marked: tuple[str, ...] = ()  # earlier versions a rollback marked bad or yanked


def pin_problems(workspace: Workspace, package: Package) -> list[str]:
    """Internal ``==`` pins of ``package`` that do not match the sibling's version at source."""
    problems = []
    for site, sibling in workspace.internal_requirements(package):
        pinned = [s.version for s in site.requirement.specifier if s.operator in {"==", "==="}]
        current = read_version(sibling)
        if pinned and not any(same_version(p, current) for p in pinned if "*" not in p):
            problems.append(f"{site.text!r} but {sibling.name} is at {current}")
        elif not site.requirement.specifier.contains(current, prereleases=True):
            problems.append(f"{site.text!r} excludes {sibling.name} {current}")
    return problems


def _latest(index: IndexConfig, name: str) -> str:
    from releasekit.index import versions_on_index

    try:
        versions = versions_on_index(index, name)
    except ReleaseError as exc:
        log.debug("status: %s: %s", index.name, exc)
        return "unreachable"
    return str(max(versions)) if versions else "none"


def package_status(
    workspace: Workspace, package: Package, *, indexes: Sequence[IndexConfig] = ()
) -> PackageStatus:
    """Gather the status of ``package`` (reads files, git, and the given indexes)."""
    version = read_version(package)
    source = find_version_source(package)
    literals = tuple(
        f"{lit.path.relative_to(workspace.root).as_posix()}:{lit.line} = {lit.value!r}"
        for lit in find_version_literals(package)
    )
    tag = package.tag(str(version))
    target = git.tag_target(workspace.root, tag)
    head = git.head(workspace.root)
    tag_state = (
        "missing" if target is None else ("at HEAD" if target == head else f"at {target[:8]}")
    )
    notes = notes_state(package, version)
    mark = release_marks(package, version)
    notes_text = notes + (f", marked {mark}" if mark else "")
    latest = {index.name: _latest(index, canonicalize_name(package.name)) for index in indexes}
    pins = pin_problems(workspace, package)
    marked = tuple(
        f"{v} {mark}" for v in tagged_versions(package) if (mark := release_marks(package, v))
    )
    if literals:
        action = "replace the __version__ literal with importlib.metadata.version()"
    elif pins:
        action = f"fix the sibling pin: {pins[0]}"
    elif notes != "filled":
        action = f"write the release notes (invoke notes --package {package.name})"
    elif any(v == str(version) for v in latest.values()):
        action = f"released; next: invoke bump --package {package.name}"
    elif target is None:
        action = f"release: {nox_command('release', package.name)}"
    elif target == head:
        action = f"tagged; publish/verify: {nox_command('release', package.name)}"
    else:
        action = f"tag {tag} is at another commit: invoke bump --package {package.name}"
    return PackageStatus(
        package=package,
        version=str(version),
        source=source.detail,
        literals=literals,
        tag=tag,
        tag_state=tag_state,
        notes=notes_text,
        indexes=latest,
        pins="; ".join(pins) if pins else "ok",
        next_action=action,
        marked=marked,
    )
