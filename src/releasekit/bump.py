"""One bump, planned whole: the version source, sibling pins, the notes entry.

:func:`plan_version_change` computes every file edit a bump makes without
writing anything; :func:`releasekit.edits.apply_edits` then writes them all or
none.  :func:`plan_version_move` (the version source, ``version-files`` and
sibling pins) is shared with the rollback's republish.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from packaging.version import Version

from releasekit._process import find_uv, run
from releasekit.edits import FileEdit, apply_edits, merge_edits
from releasekit.errors import CommandFailed, EditFailed
from releasekit.literals import VersionLiteral, find_version_literals, literal_fix_hint
from releasekit.news import plan_collect_news
from releasekit.notes import plan_notes
from releasekit.pins import plan_pin_edits
from releasekit.version_source import (
    VersionSource,
    find_version_source,
    plan_version_edit,
    plan_version_files_edits,
    read_version,
)
from releasekit.versions import BumpRequest, plan_bump
from releasekit.workspace import Package, Workspace

__all__ = [
    "VersionChange",
    "apply_version_changes",
    "dependent_request",
    "plan_bumps",
    "plan_version_change",
    "plan_version_move",
    "uv_lock_path",
]


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
            verb = "create" if edit.before is None else "remove" if edit.removes else "edit"
            lines.append(f"  {verb} {shown}: {edit.reason}")
        lines.extend(f"  warning: {w}" for w in self.warnings)
        for literal in self.literals:
            lines.append(
                f"  warning: hardcoded __version__ = {literal.value!r} in "
                f"{literal.path.relative_to(root).as_posix()}:{literal.line} — "
                f"{literal_fix_hint(self.package.name)}"
            )
        return lines


def plan_version_change(
    workspace: Workspace,
    package: Package,
    request: BumpRequest,
    *,
    today: date | None = None,
    pending: Sequence[FileEdit] = (),
) -> VersionChange:
    """Plan the bump of ``package``: new version, source edit, sibling pins, notes entry.

    ``pending``: edits of bumps planned before this one (several packages
    bumped at once), which this plan builds on.

    The package's news fragments go into the new notes entry, and their files
    are removed, in the same plan (:func:`releasekit.news.plan_collect_news`).
    """
    old = read_version(package)
    new = plan_bump(old, request)
    source = find_version_source(package)
    edits, warnings = plan_version_move(workspace, package, new, pinned=[old], pending=pending)
    edits.extend(plan_notes(package, new, today=today, pending=[*pending, *edits]))
    edits.extend(plan_collect_news(package, new, today=today, pending=[*pending, *edits]))
    return VersionChange(
        package=package,
        old=old,
        new=new,
        source=source,
        edits=tuple(merge_edits(edits)),
        warnings=tuple(warnings),
        literals=tuple(find_version_literals(package)),
    )


def plan_version_move(
    workspace: Workspace,
    package: Package,
    new: Version,
    *,
    pinned: Sequence[Version],
    pending: Sequence[FileEdit] = (),
) -> tuple[list[FileEdit], list[str]]:
    """The edits that move ``package`` to ``new``, and the warnings about sibling specifiers.

    The version source and every ``version-files`` entry get ``new``; every
    sibling pin ``==V`` for each ``V`` in ``pinned`` becomes ``==new``.  A
    bump passes the old version; a rollback also the bad one.  Built on top
    of ``pending``.
    """
    edits = list(plan_version_edit(package, new, pending=pending))
    edits.extend(plan_version_files_edits(package, new, pending=[*pending, *edits]))
    warnings: list[str] = []
    for old in dict.fromkeys(pinned):
        pins, found = plan_pin_edits(workspace, package, old, new, pending=[*pending, *edits])
        edits.extend(pins)
        warnings.extend(found)
    return edits, list(dict.fromkeys(warnings))


def _pins_exactly(workspace: Workspace, dependent: Package, bumped: Package) -> bool:
    """True when ``dependent`` pins ``bumped`` with ``==`` in what it publishes.

    ``dependencies`` and ``optional-dependencies`` are published metadata; a
    dependency group is not, so it never calls for a new release.
    """
    for site, target in workspace.internal_requirements(dependent):
        if target is not bumped or site.table.startswith("dependency-groups"):
            continue
        if any(spec.operator in {"==", "==="} for spec in site.requirement.specifier):
            return True
    return False


def dependent_request(current: Version) -> BumpRequest:
    """The bump a dependent gets with ``--with-dependents``: the next pre-release number
    when it is at a pre-release, else the next patch (as changesets does for JS)."""
    if current.is_prerelease and current.pre is not None:
        return BumpRequest(pre="")
    return BumpRequest(patch=True)


def plan_bumps(
    workspace: Workspace,
    packages: Sequence[Package],
    request: BumpRequest,
    *,
    with_dependents: bool = False,
    today: date | None = None,
) -> list[VersionChange]:
    """Plan the bump of several packages at once, in dependency order, each on top of the last.

    Sibling pins on every bumped package follow.  ``with_dependents``: a
    sibling that pins a bumped package with ``==`` (in its dependencies or
    extras) is bumped too, by :func:`dependent_request`, and so on until no
    more are found.
    """
    chosen = {p.canonical_name: request for p in packages}
    if with_dependents:
        todo = list(packages)
        while todo:
            bumped = todo.pop()
            for other in workspace.packages:
                if other.canonical_name in chosen or not _pins_exactly(workspace, other, bumped):
                    continue
                chosen[other.canonical_name] = dependent_request(read_version(other))
                todo.append(other)
    order = workspace.in_dependency_order(
        p for p in workspace.packages if p.canonical_name in chosen
    )
    changes: list[VersionChange] = []
    pending: list[FileEdit] = []
    for package in order:
        change = plan_version_change(
            workspace, package, chosen[package.canonical_name], today=today, pending=pending
        )
        changes.append(change)
        pending.extend(change.edits)
    return changes


def uv_lock_path(workspace: Workspace) -> Path | None:
    """The workspace's ``uv.lock`` when there is one: a bump refreshes it."""
    path = workspace.root / "uv.lock"
    return path if path.is_file() else None


def apply_version_changes(workspace: Workspace, changes: Sequence[VersionChange]) -> list[str]:
    """Write every change's edits, then refresh ``uv.lock``: all of it, or none of it.

    With a ``uv.lock`` at the workspace root, ``uv lock`` runs after the
    files are written (offline when ``UV_OFFLINE`` is set, as uv does); if it
    fails, every file the bump wrote gets its old bytes back, ``uv.lock``
    included, and the error says why.  Returns lines saying what was done
    beyond the edits.
    """
    edits = merge_edits([edit for change in changes for edit in change.edits])
    lock = uv_lock_path(workspace)
    if lock is None:
        apply_edits(edits)
        return []
    uv = find_uv()
    if uv is None:
        raise EditFailed(
            "this workspace has a uv.lock, and uv was not found to refresh it; nothing was written",
            "install uv (pip install uv) and bump again",
        )
    lock_bytes = lock.read_bytes()
    apply_edits(edits)
    try:
        run([uv, "lock"], cwd=workspace.root, what="uv lock")
    except (CommandFailed, KeyboardInterrupt) as exc:
        undo = [
            FileEdit(e.path, e.after, e.before, f"undo: {e.reason}")
            for e in edits
            if e.before is not None
        ]
        apply_edits(undo)
        for edit in edits:
            if edit.before is None:  # created by the bump: removed, with its new folders
                with contextlib.suppress(FileNotFoundError):
                    edit.path.unlink()
                for folder in edit.path.parents:
                    if folder == workspace.root or workspace.root not in folder.parents:
                        break
                    with contextlib.suppress(OSError):
                        folder.rmdir()
        lock.write_bytes(lock_bytes)
        if isinstance(exc, KeyboardInterrupt):
            raise
        last = exc.output.strip().splitlines()[-1] if exc.output.strip() else exc.message
        raise EditFailed(
            f"uv lock failed after the bump, so every file was restored: {last}",
            "run `uv lock` yourself to see why (an index it cannot reach: set UV_OFFLINE=1 "
            "or fix the index), then bump again",
        ) from None
    after = lock.read_bytes()
    return ["refreshed uv.lock (uv lock)" if after != lock_bytes else "uv.lock already up to date"]
