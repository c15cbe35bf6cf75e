"""The pieces :func:`releasekit.rollback.plan_rollback` puts together; nothing here changes a thing.

- what was released (:func:`released_versions`), and the checks of what the
  user asked for (:func:`refuse_tag_deletion`, :func:`check_request`);
- the restore of a good version's files (:func:`plan_restore`);
- the republish: the new version moved in with ``invoke bump``'s own plan
  (:func:`releasekit.bump.plan_version_move`), the notes written with
  :mod:`releasekit.notes`, the siblings whose pin moved, the next steps
  (:func:`plan_republish`);
- the errata-only and escalate outcomes' edits and steps.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from packaging.version import Version

from releasekit import git
from releasekit._text import shown_path
from releasekit.bump import plan_version_move
from releasekit.config import BUILTIN_INDEXES, IndexConfig
from releasekit.edits import FileEdit, merge_edits, planned_text
from releasekit.errors import DirtyWorkingTree, GitError, ReleaseError, RollbackRefused
from releasekit.index import versions_on_index
from releasekit.literals import find_version_literals, literal_fix_hint
from releasekit.notes import notes_style, plan_errata, plan_notes_entry
from releasekit.session_names import nox_command
from releasekit.version_source import find_version_source, read_version, tagged_versions
from releasekit.versions import BumpRequest, is_final, plan_bump
from releasekit.workspace import Package, Workspace

__all__ = [
    "Decision",
    "Released",
    "Republish",
    "Restore",
    "check_request",
    "errata_outcome",
    "escalate_steps",
    "next_free",
    "plan_republish",
    "plan_restore",
    "refuse_tag_deletion",
    "released_versions",
    "yank_url",
]

log = logging.getLogger("releasekit")

Decision = Literal["yank", "republish", "errata", "escalate"]


def yank_url(package: Package, version: Version, index: IndexConfig | None = None) -> str | None:
    """The page where a maintainer yanks ``version`` by hand (PyPI and TestPyPI only).

    PyPI's management page of one release:
    ``https://pypi.org/manage/project/<name>/release/<version>/``.
    """
    index = index or BUILTIN_INDEXES["pypi"]
    hosts = {"pypi": "https://pypi.org", "testpypi": "https://test.pypi.org"}
    host = hosts.get(index.name)
    if host is None:
        return None
    return f"{host}/manage/project/{package.canonical_name}/release/{version}/"


# --- what was released ---------------------------------------------------------------------


@dataclass(frozen=True)
class Released:
    """What is known to be released of one package: git tags, and the index when it answered."""

    tagged: frozenset[Version]
    on_index: frozenset[Version] | None  # None: no index asked, or it could not be read
    index_name: str | None

    def burnt(self, version: Version) -> bool:
        """True when ``version`` was released (tagged, or on the index): never reused."""
        return version in self.tagged or (self.on_index is not None and version in self.on_index)

    def where(self, package: Package, version: Version) -> str:
        """Where ``version`` was found released, in words."""
        places = []
        if version in self.tagged:
            places.append(f"tag {package.tag(str(version))!r}")
        if self.on_index is not None and version in self.on_index:
            places.append(f"on index {self.index_name!r}")
        return " and ".join(places)


def released_versions(package: Package, index: IndexConfig | None, warnings: list[str]) -> Released:
    """The package's tagged versions, and those on ``index`` (unreadable: a warning)."""
    tagged = frozenset(tagged_versions(package))
    on_index: frozenset[Version] | None = None
    if index is not None:
        try:
            on_index = frozenset(versions_on_index(index, package.name))
        except ReleaseError as exc:
            warnings.append(
                f"index {index.name!r} could not be read ({exc.message}); "
                f"only git tags were checked for {package.name}"
            )
    return Released(tagged, on_index, index.name if index else None)


def next_free(start: Version, released: Released) -> Version:
    """The first version after ``start`` that was never released.

    The default step: the next pre-release number for a pre-release, else
    the next patch.
    """
    request = BumpRequest(pre="") if start.is_prerelease else BumpRequest(patch=True)
    candidate = plan_bump(start, request)
    while released.burnt(candidate):
        candidate = plan_bump(candidate, request)
    return candidate


# --- checks of what the user asked for -----------------------------------------------------


def refuse_tag_deletion(package: Package, bad: Version) -> None:
    """Rollback never deletes a tag: always raises, saying what to do instead."""
    name, tag = package.name, package.tag(str(bad))
    if is_final(bad):
        raise RollbackRefused(
            f"{tag!r} tags the final release {name} {bad}: final tags are never deleted or moved",
            f"roll forward instead: invoke rollback {name} {bad} --user-visible (or the answer "
            "that fits) and release the new version",
        )
    raise RollbackRefused(
        f"rollback never deletes tags: {tag!r} marks what was released as {name} {bad}",
        "roll forward with a new version; a pre-release tag that never reached an index "
        f"can be removed with `invoke untag --package {name} --version {bad}`",
    )


def _check_released(package: Package, bad: Version, released: Released) -> None:
    if released.burnt(bad):
        return
    checked = f"no tag {package.tag(str(bad))!r} in git"
    if released.on_index is not None:
        checked += f" and not on index {released.index_name!r}"
    known = ", ".join(str(v) for v in sorted(released.tagged)) or "none"
    raise RollbackRefused(
        f"{package.name} {bad} was never released: {checked}",
        f"name a released version (tagged: {known}); an unreleased version needs no "
        "rollback: fix it and release it",
    )


def _check_to(package: Package, bad: Version, to: Version, released: Released) -> None:
    if to <= bad:
        raise RollbackRefused(
            f"--to {to}: {to} is not above the bad version {bad}; versions only move forward",
            f"pick a version above {bad}, e.g. --to {next_free(bad, released)}",
        )
    if to.local is not None:
        raise RollbackRefused(
            f"--to {to}: a local version (+{to.local}) cannot be published",
            f"drop the '+{to.local}' part: --to {to.public}",
        )
    if released.burnt(to):
        raise RollbackRefused(
            f"--to {to}: {package.name} {to} was already released "
            f"({released.where(package, to)}); a version number is never reused",
            f"pick a version never released, e.g. --to {next_free(to, released)}",
        )


def _check_from_good(
    repo: Path, package: Package, bad: Version, good: Version, released: Released
) -> str:
    """The tag of ``good``; refuses a version without one, or one not older than ``bad``."""
    tag = package.tag(str(good))
    if git.tag_target(repo, tag) is None:
        known = ", ".join(str(v) for v in sorted(released.tagged)) or "none"
        raise RollbackRefused(
            f"--from-good {good}: there is no tag {tag!r} to restore from",
            f"name a tagged version older than {bad} (tagged: {known})",
        )
    if good >= bad:
        raise RollbackRefused(
            f"--from-good {good} is not older than the bad version {bad}",
            f"restore a release made before {bad}, e.g. the one it replaced",
        )
    return tag


def check_request(
    repo: Path,
    package: Package,
    bad: Version,
    released: Released,
    *,
    to: Version | None,
    from_good: Version | None,
) -> str | None:
    """Refuse a ``bad`` never released, a ``to`` not above it or burnt, a bad ``from_good``.

    Returns the tag of ``from_good`` (None without it).
    """
    _check_released(package, bad, released)
    if to is not None:
        _check_to(package, bad, to, released)
    if from_good is None:
        return None
    return _check_from_good(repo, package, bad, from_good, released)


# --- the outcomes that publish nothing -----------------------------------------------------


def escalate_steps(package: Package, bad: Version) -> tuple[str, ...]:
    """What to do when no question of the decision tree was answered yes."""
    name = package.name
    return (
        f"open an issue: what is wrong with {name} {bad}, who is affected, since when",
        "decide with the team which branch of the decision tree it is",
        f"invoke rollback {name} {bad} --security|--data-loss|--user-visible|--cosmetic "
        '--reason "..."',
    )


def errata_outcome(
    workspace: Workspace, package: Package, bad: Version, reason: str
) -> tuple[tuple[FileEdit, ...], tuple[str, ...]]:
    """The errata line in the bad version's notes (none when written before), and the steps."""
    name = package.name
    errata = plan_errata(package, bad, reason)
    shown = shown_path(errata.path, workspace.root)
    edits = () if f"- {reason}" in (errata.before or "") else (errata,)
    steps = (
        f"review the errata: git diff -- {shown}",
        f'git commit -am "notes: errata for {name} {bad}"',
        "git push",
        f"to republish anyway: invoke rollback {name} {bad} --cosmetic --to VERSION",
    )
    return edits, steps


# --- the restore of a good version ---------------------------------------------------------


@dataclass(frozen=True)
class Restore:
    """The restore of a good version planned on the current HEAD."""

    base_commit: str
    paths: tuple[str, ...]
    pending: tuple[FileEdit, ...]  # the version's files as the good tag has them


def _repo_rel(path: Path, repo: Path) -> str:
    """``path`` (which need not exist; may hold ``*``) relative to the repository, posix."""
    return path.resolve().relative_to(repo.resolve()).as_posix()


def _notes_globs(package: Package, repo: Path) -> list[str]:
    """Repo-relative glob patterns of every notes file of ``package`` (kept out of a restore)."""
    patterns = []
    for template in (package.settings.release_notes, package.settings.changelog):
        if not template:
            continue
        pattern = template.replace("{version}", "*").replace("{tag}", "*")
        pattern = pattern.replace("{name}", package.name)
        patterns.append(_repo_rel(package.root / pattern, repo))
    if not package.settings.release_notes and not package.settings.changelog:
        _style, template = notes_style(package)
        patterns.append(_repo_rel(package.root / template.replace("{version}", "*"), repo))
    return patterns


def _package_pathspec(workspace: Workspace, package: Package, repo: Path) -> list[str]:
    """The package's files: its root minus nested packages' roots and the notes files."""
    root = package.root.resolve()
    rel = root.relative_to(repo.resolve()).as_posix()
    spec = [rel if rel != "." else "."]
    for other in workspace.packages:
        other_root = other.root.resolve()
        if other is not package and root in other_root.parents:
            spec.append(f":(exclude){other_root.relative_to(repo.resolve()).as_posix()}")
    spec.extend(f":(exclude,glob){pattern}" for pattern in _notes_globs(package, repo))
    return spec


def _restore_pending(
    package: Package, repo: Path, tag: str, changes: Sequence[tuple[str, str]]
) -> list[FileEdit]:
    """The files holding the version as the good tag has them, to plan on top of the restore."""
    source = find_version_source(package).path
    wanted = {_repo_rel(p, repo) for p in (package.pyproject, source) if p is not None}
    pending = []
    for status, path in changes:
        if path in wanted and status in {"M", "T"}:
            good_text = git.file_at(repo, f"refs/tags/{tag}", path)
            now = planned_text(repo / path)
            pending.append(FileEdit(repo / path, now, good_text, f"restored from {tag}"))
    return pending


def plan_restore(
    workspace: Workspace, package: Package, repo: Path, good: Version, tag: str
) -> Restore:
    """Which of the package's files differ from ``good``'s tag; needs a clean tree on a branch."""
    try:
        git.require_clean(repo)
    except DirtyWorkingTree as exc:
        raise DirtyWorkingTree(
            f"--from-good restores {package.name} {good} in a new commit and needs a clean "
            f"tree; {exc.message}",
            exc.hint,
        ) from None
    if git.current_branch(repo) is None:
        raise GitError(
            "HEAD is detached: the restore commit would belong to no branch",
            f"switch to the release branch first: git switch {package.settings.branch}",
        )
    pathspec = _package_pathspec(workspace, package, repo)
    changes = git.diff_status(repo, f"refs/tags/{tag}", pathspec)
    return Restore(
        base_commit=git.head(repo),
        paths=tuple(path for _status, path in changes),
        pending=tuple(_restore_pending(package, repo, tag, changes)),
    )


# --- the republish -------------------------------------------------------------------------


@dataclass(frozen=True)
class Republish:
    """The new version and everything that moves with it (the yank path republishes too)."""

    new: Version
    edits: tuple[FileEdit, ...]
    restore: Restore | None
    url: str | None
    steps: tuple[str, ...]


def _release_arg(package: Package) -> str:
    """How the package is named on a command line: its name at the root, else its path."""
    return package.name if package.rel == "." else package.rel


def _status_sentence(
    package: Package, bad: Version, new: Version, decision: Decision, reason: str
) -> str:
    if decision == "yank":
        return (
            f"Status of {package.name} {bad}: yanked: {reason}. Installers skip it unless it is "
            f"pinned exactly; upgrade to {new}."
        )
    return (
        f"Status of {package.name} {bad}: still on the index, still installable, not yanked. "
        f"It is a bad release: upgrade to {new}."
    )


def _notes_edits(
    package: Package,
    bad: Version,
    new: Version,
    decision: tuple[Decision, str],
    *,
    reason: str,
    good: tuple[Version, str] | None,
    pending: Sequence[FileEdit],
) -> list[FileEdit]:
    """The new version's notes (what it replaces, and why) and the bad version's errata mark."""
    name, (outcome, why) = package.name, decision
    verb = "yanked" if outcome == "yank" else "marked bad"
    entry = [f"Republishes {name} in place of {bad}, which was {verb}: {reason}."]
    if good is not None:
        entry.append(f"This release carries the code of {name} {good[0]} (tag {good[1]}).")
    entry.append(_status_sentence(package, bad, new, outcome, reason))
    entry.append(f"Decision: {outcome}: {why}.")
    edits = plan_notes_entry(
        package, new, entry, reason=f"release notes of {name} {new} (replaces {bad})",
        pending=pending,
    )  # fmt: skip
    yanked = outcome == "yank"
    text = f"yanked: {reason}. Fixed in {new}." if yanked else f"{reason}. Fixed in {new}."
    mark = plan_errata(
        package, bad, text, status="yanked" if yanked else "bad", pending=[*pending, *edits]
    )
    if text not in (mark.before or ""):
        edits.append(mark)
    return edits


def _plan_dependent(
    workspace: Workspace,
    other: Package,
    plan_so_far: list[FileEdit],
    *,
    index: IndexConfig | None,
    warnings: list[str],
    follows: str,
) -> list[FileEdit]:
    """A new version of a sibling whose pin moved, when its own version is already out."""
    released = released_versions(other, index, warnings)
    old = read_version(other)
    if not released.burnt(old):
        return []  # its version at source is unreleased: the moved pin is all it needs
    new = next_free(old, released)
    edits, found = plan_version_move(workspace, other, new, pinned=[old], pending=plan_so_far)
    warnings.extend(found)
    edits += plan_notes_entry(
        other,
        new,
        [f"{follows} {other.name} {old} pins the bad release; upgrade to {new}."],
        reason=f"release notes of {other.name} {new} (its pin on the bad release moved)",
        pending=[*plan_so_far, *edits],
    )
    log.info("%s %s -> %s: its pin moved and %s is released", other.name, old, new, old)
    return edits


def _republish_steps(
    package: Package,
    bad: Version,
    new: Version,
    decision: Decision,
    *,
    reason: str,
    url: str | None,
    index: IndexConfig | None,
    restored: bool,
    releasing: Sequence[Package],
) -> list[str]:
    name = package.name
    verb = "yanked" if decision == "yank" else "bad"
    steps = []
    if decision == "yank":
        if url:
            where = f"open {url} , press Yank,"
        else:
            where = f"yank it on {index.name!r} by hand," if index else "yank it by hand,"
        steps.append(f"yank {name} {bad} now: {where} reason: {reason}")
        steps.append(
            "open a security advisory before announcing it (GitHub: Security -> Advisories -> "
            "New draft security advisory), naming the affected and the fixed versions"
        )
    if restored:
        steps.append("review the restore commit (git show --stat HEAD) and the edits (git diff)")
    else:
        steps.append("fix the bug (version, pins and notes are already edited: git diff)")
    steps.append(f'git commit -am "rollback: {name} {bad} is {verb}; republish as {new}"')
    steps.append("git push")
    flag = f" --index {index.name}" if index is not None and index.name != "pypi" else ""
    steps.append(nox_command("release", " ".join(_release_arg(p) for p in releasing)) + flag)
    steps.append(nox_command("verify", f"{_release_arg(package)} {new}") + flag)
    steps.append(f"tell users (release page, issue): {name} {bad} is {verb}; upgrade to {new}")
    return steps


def plan_republish(
    workspace: Workspace,
    package: Package,
    bad: Version,
    decision: tuple[Decision, str],
    *,
    reason: str,
    new: Version,
    restore: Restore | None,
    good: tuple[Version, str] | None,
    index: IndexConfig | None,
    warnings: list[str],
) -> Republish:
    """Move ``package`` from ``bad`` to ``new``: version, pins, notes, siblings, next steps.

    The version and pins move as ``invoke bump`` moves them; the pins on the
    version at source and on ``bad`` both become ``==new``.  A sibling whose
    pin moved gets a new version too when its own is already released.
    ``decision``: (outcome, why); ``good``: (version, tag) restored.
    """
    pending = list(restore.pending) if restore else []
    current = read_version(package)  # at source now, before any restore: what siblings pin
    edits, found = plan_version_move(
        workspace, package, new, pinned=[current, bad], pending=pending
    )
    warnings.extend(found)
    pinned = {e.path.resolve() for e in edits}
    moved = [p for p in workspace.packages if p is not package and p.pyproject.resolve() in pinned]
    edits += _notes_edits(
        package, bad, new, decision, reason=reason, good=good, pending=[*pending, *edits]
    )
    releasing = [package]
    follows = f"Requires {package.name}=={new}, which replaces the bad {package.name} {bad} "
    for other in workspace.in_dependency_order(moved):
        edits += _plan_dependent(
            workspace, other, [*pending, *edits], index=index, warnings=warnings,
            follows=f"{follows}({reason}).",
        )  # fmt: skip
        releasing.append(other)
    warnings.extend(
        f"hardcoded __version__ = {lit.value!r} in {shown_path(lit.path, workspace.root)}:"
        f"{lit.line}: {literal_fix_hint(package.name)}"
        for lit in find_version_literals(package)
    )
    url = yank_url(package, bad, index) if decision[0] == "yank" else None
    steps = _republish_steps(
        package, bad, new, decision[0], reason=reason, url=url, index=index,
        restored=restore is not None, releasing=releasing,
    )  # fmt: skip
    return Republish(
        new=new,
        edits=tuple(e for e in merge_edits(edits) if e.before != e.after),
        restore=restore,
        url=url,
        steps=tuple(steps),
    )
