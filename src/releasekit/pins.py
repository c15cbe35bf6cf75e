"""Sibling pins: when a package's version moves, the ``==`` pins on it in the workspace follow.

:func:`plan_pin_edits` finds every requirement on a package in the other
packages' ``dependencies``, ``optional-dependencies`` and
``dependency-groups``, moves ``==old`` to ``==new`` and reports the
specifiers that would exclude the new version.  Nothing here writes a file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import packaging.version
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from releasekit._text import shown_path
from releasekit.config import parse_toml
from releasekit.edits import FileEdit, planned_text
from releasekit.errors import ConfigError
from releasekit.version_source import same_kind_string
from releasekit.workspace import Package, Workspace

__all__ = ["plan_pin_edits"]

_PIN = re.compile(r"(?<![=<>!~])==(?!=)(?P<space>\s*)(?P<version>[^\s,;()\[\]]+)")


def _repin(text: str, old: Version, new: Version) -> str:
    """``text`` with every ``==old`` clause of its specifier turned into ``==new``."""
    head, sep, marker = text.partition(";")

    def swap(match: re.Match[str]) -> str:
        written = match["version"]
        if written.endswith(".*"):
            return match[0]
        try:
            same = Version(written) == old
        except packaging.version.InvalidVersion:
            return match[0]
        return f"=={match['space']}{new}" if same else match[0]

    return _PIN.sub(swap, head) + sep + marker


def _requirement_arrays(doc: Any) -> Iterator[tuple[str, Any]]:
    """(table name, tomlkit array) of every requirement list of a pyproject document."""
    project = doc.get("project", {})
    if isinstance(project.get("dependencies"), list):
        yield "project.dependencies", project["dependencies"]
    optional = project.get("optional-dependencies", {})
    for extra in optional if isinstance(optional, dict) else {}:
        if isinstance(optional[extra], list):
            yield f"project.optional-dependencies.{extra}", optional[extra]
    groups = doc.get("dependency-groups", {})
    for group in groups if isinstance(groups, dict) else {}:
        if isinstance(groups[group], list):
            yield f"dependency-groups.{group}", groups[group]


def plan_pin_edits(
    workspace: Workspace,
    package: Package,
    old: Version,
    new: Version,
    *,
    pending: Sequence[FileEdit] = (),
) -> tuple[list[FileEdit], list[str]]:
    """Move every sibling ``==old`` pin on ``package`` to ``==new``; report what excludes ``new``.

    Every other workspace package's pyproject (and the workspace root's when
    it is no package) is searched in ``dependencies``,
    ``optional-dependencies`` and ``dependency-groups``.  Extras, markers,
    comments and formatting are kept.  Returns one edit per changed file and
    one warning line per requirement on ``package`` that would exclude
    ``new`` (naming the file, the table and the requirement).
    """
    owners = {p.pyproject: p.name for p in workspace.packages if p is not package}
    root_pyproject = workspace.root / "pyproject.toml"
    if all(root_pyproject != p.pyproject for p in workspace.packages):
        owners[root_pyproject] = "workspace root"
    edits: list[FileEdit] = []
    warnings: list[str] = []
    for path, owner in owners.items():
        before = planned_text(path, pending)
        if before is None:
            continue
        shown = shown_path(path, package.workspace_root)
        doc: Any = parse_toml(before, shown)
        reasons: list[str] = []
        for table, array in _requirement_arrays(doc):
            for index, item in enumerate(list(array)):
                if not isinstance(item, str):
                    continue  # {include-group = "..."} in dependency-groups
                try:
                    requirement = Requirement(str(item))
                except InvalidRequirement as exc:
                    raise ConfigError(
                        f"{shown!r}: {table} has an invalid requirement {str(item)!r}: {exc}",
                        "fix the requirement string (PEP 508)",
                    ) from None
                if canonicalize_name(requirement.name) != package.canonical_name:
                    continue
                text = str(item)
                if requirement.url is None:
                    repinned = _repin(text, old, new)
                    if repinned != text:
                        array[index] = same_kind_string(item, repinned)
                        where = "" if table == "project.dependencies" else f" ({table})"
                        reasons.append(f"{text} -> {repinned}{where}")
                        text = repinned
                specifier = Requirement(text).specifier
                if str(specifier) and not specifier.contains(new, prereleases=True):
                    warnings.append(
                        f"{shown}: [{table}] {text!r} excludes {package.name} {new}; "
                        "widen it by hand if it should allow the new version"
                    )
        if reasons:
            reason = f"{owner}: " + "; ".join(reasons)
            edits.append(FileEdit(path, before, doc.as_string(), reason))
    return edits, warnings
