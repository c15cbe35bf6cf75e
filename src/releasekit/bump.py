"""One bump, planned whole: the version source, sibling pins, the notes entry.

:func:`plan_version_change` computes every file edit a bump makes without
writing anything; :func:`releasekit.edits.apply_edits` then writes them all or
none.  The invoke ``bump`` task and the rollback republish share this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from packaging.version import Version

from releasekit.edits import FileEdit, merge_edits
from releasekit.notes import plan_notes
from releasekit.versioning import (
    LITERAL_FIX_HINT,
    BumpRequest,
    VersionLiteral,
    VersionSource,
    find_version_literals,
    find_version_source,
    plan_bump,
    plan_pin_edits,
    plan_version_edit,
    plan_version_files_edits,
    read_version,
)
from releasekit.workspace import Package, Workspace

__all__ = ["VersionChange", "plan_version_change"]


@dataclass(frozen=True)
class VersionChange:
    """Everything one bump of one package changes, before it is written."""

    package: Package
    old: Version
    new: Version
    source: VersionSource
    edits: tuple[FileEdit, ...]
    warnings: tuple[str, ...]
    literals: tuple[VersionLiteral, ...]

    @property
    def notes_only_tag(self) -> bool:
        """True when the version comes from git tags: nothing is written for it."""
        return self.source.kind == "tag"

    def describe(self) -> list[str]:
        """Lines telling the user what the bump changes (or would change)."""
        lines = [f"{self.package.name}: {self.old} -> {self.new}"]
        if self.notes_only_tag:
            lines.append(
                f"  the version comes from {self.source.detail}: the new version is the tag "
                f"{self.package.tag(str(self.new))!r}"
            )
        root = self.package.workspace_root
        for edit in self.edits:
            try:
                shown = edit.path.relative_to(root).as_posix()
            except ValueError:
                shown = str(edit.path)
            verb = "create" if edit.before is None else "edit"
            lines.append(f"  {verb} {shown}: {edit.reason}")
        lines.extend(f"  warning: {w}" for w in self.warnings)
        for literal in self.literals:
            lines.append(
                f"  warning: hardcoded __version__ = {literal.value!r} in "
                f"{literal.path.relative_to(root).as_posix()}:{literal.line} — {LITERAL_FIX_HINT}"
            )
        return lines


def plan_version_change(
    workspace: Workspace,
    package: Package,
    request: BumpRequest,
    *,
    today: date | None = None,
) -> VersionChange:
    """Plan the bump of ``package``: new version, source edit, sibling pins, notes stub."""
    old = read_version(package)
    new = plan_bump(old, request)
    source = find_version_source(package)
    edits = list(plan_version_edit(package, new))
    edits.extend(plan_version_files_edits(package, new, pending=edits))
    pin_edits, warnings = plan_pin_edits(workspace, package, old, new, pending=edits)
    edits.extend(pin_edits)
    edits.extend(plan_notes(package, new, today=today, pending=edits))
    return VersionChange(
        package=package,
        old=old,
        new=new,
        source=source,
        edits=tuple(merge_edits(edits)),
        warnings=tuple(warnings),
        literals=tuple(find_version_literals(package)),
    )
