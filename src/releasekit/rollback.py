"""After a bad release: decide yank or republish, then roll forward — never delete.

A release that reached an index cannot be recalled: mirrors, caches and
lock files keep it.  So releasekit never deletes a tag or a file and never
reuses a version number; a bad release is followed by a new one.

:func:`decide` is the decision tree of ``docs/runbooks/rollback.md`` as a
pure function of an :class:`Assessment`.  :func:`plan_rollback` checks what
the user asked for (the bad version was released, the new number is free,
the good version to restore exists) and plans every change without making
one: a :class:`RollbackPlan` that can be shown (``--dry``).
:func:`apply_rollback` carries it out: the optional restore of a good
version's files in a new commit, then the version, pin and notes edits,
left uncommitted for review like ``invoke bump``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from packaging.version import Version

from releasekit import git
from releasekit._text import shown_path
from releasekit.config import BUILTIN_INDEXES, IndexConfig
from releasekit.edits import FileEdit, apply_edits, merge_edits, planned_text
from releasekit.errors import (
    DirtyWorkingTree,
    GitError,
    ReleaseError,
    RollbackRefused,
)
from releasekit.index import versions_on_index
from releasekit.literals import find_version_literals, literal_fix_hint
from releasekit.notes import STUB_MARKER, notes_location, notes_style, plan_errata, plan_notes
from releasekit.pins import plan_pin_edits
from releasekit.session_names import nox_command
from releasekit.version_source import (
    find_version_source,
    plan_version_edit,
    read_version,
    tagged_versions,
)
from releasekit.versions import BumpRequest, plan_bump
from releasekit.workspace import Package, Workspace

__all__ = [
    "QUESTIONS",
    "Assessment",
    "Decision",
    "RollbackDecision",
    "RollbackPlan",
    "apply_rollback",
    "decide",
    "plan_rollback",
    "yank_url",
]

log = logging.getLogger("releasekit")

Decision = Literal["yank", "republish", "errata", "escalate"]


@dataclass(frozen=True)
class Assessment:
    """What the user knows about the bad release (the answers to :data:`QUESTIONS`)."""

    security: bool = False  # data loss, secret exposure or a security regression -> yank path
    data_loss: bool = False
    user_visible: bool = False  # crash, wrong output, broken install in normal use -> republish
    cosmetic: bool = False  # cosmetic / edge case -> errata may be enough, republish optional
    reason: str = ""


QUESTIONS: tuple[tuple[str, str], ...] = (
    (
        "security",
        "Did the release open a security hole or expose a secret "
        "(a removed guard, a leaked token)?",
    ),
    ("data_loss", "Does it lose or corrupt users' data?"),
    (
        "user_visible",
        "Do users hit the bug in normal use (a crash, wrong output, a broken install)?",
    ),
    (
        "cosmetic",
        "Is it cosmetic or an edge case that will not confuse users who already installed it?",
    ),
)
"""(Assessment field, question) in the order of the decision tree; the first "yes" decides."""


@dataclass(frozen=True)
class RollbackDecision:
    """The branch of the decision tree taken, and why (shown, and written into the notes)."""

    decision: Decision
    why: str


def decide(assessment: Assessment, bad: Version) -> RollbackDecision:
    """The runbook's decision tree: the first question answered "yes" decides.

    Security or data loss yanks, also for a pre-release: the first branch of
    the tree has no exception, and a pre-release is installed by anyone who
    asks for ``--pre`` or pins it.  Everything else rolls forward without a
    yank — for alphas, betas and release candidates that is the stated
    default ("prefer republish over yank": their users are told to stay on
    the latest, and a yank is permanent).
    """
    pre = bad.is_prerelease
    if assessment.security or assessment.data_loss:
        what = "a security regression or exposed secret" if assessment.security else "data loss"
        return RollbackDecision(
            "yank",
            f"{what}: yank {bad} so installers stop choosing it, open a security advisory, "
            "and release the fix under a new version"
            + (
                " (a pre-release is yanked too: anyone on --pre or a pin still gets it)"
                if pre
                else ""
            ),
        )
    if assessment.user_visible:
        return RollbackDecision(
            "republish",
            f"a bug users hit in normal use: roll forward to a new version; {bad} stays "
            "installable for anyone pinned to it (a yank is permanent and would break their "
            "installs without fixing anything)"
            + (
                " — a pre-release: republish, never yank; its users are told to stay on the latest"
                if pre
                else ""
            ),
        )
    if assessment.cosmetic:
        return RollbackDecision(
            "errata",
            f"cosmetic or an edge case: an errata note in the release notes of {bad} is enough; "
            "a republish is optional (give --to or --from-good to republish anyway)",
        )
    return RollbackDecision(
        "escalate",
        "no question of the decision tree was answered yes: open an issue and decide with the "
        "team, then run rollback again with the answer; nothing was changed",
    )


@dataclass(frozen=True)
class RollbackPlan:
    """Everything a rollback would change, before anything is changed.

    ``edits`` are applied after the restore commit (``restore_paths`` from
    the ``from_good`` tag); they were planned on the restored files.
    ``base_commit`` is the HEAD the plan was made on (checked again before a
    restore); ``warnings`` are shown with the plan.
    """

    package: Package
    bad: Version
    decision: RollbackDecision
    new: Version | None
    from_good: Version | None
    edits: tuple[FileEdit, ...]
    restore_paths: tuple[str, ...]
    yank_url: str | None
    yank_reason: str | None
    next_steps: tuple[str, ...]
    base_commit: str | None = None
    warnings: tuple[str, ...] = field(default=())
    reason: str = ""

    @property
    def restore_commit_message(self) -> str:
        """The message of the commit that restores ``from_good``'s files."""
        return (
            f"rollback: restore {self.package.name} {self.from_good} code for republish "
            f"(bad: {self.bad})"
        )

    def describe(self) -> list[str]:
        """The decision, the plan and the next steps, as lines for the user."""
        name = self.package.name
        lines = [
            f"{name} {self.bad}: {self.decision.decision}",
            f"  why: {self.decision.why}",
        ]
        if self.reason:
            lines.append(f"  reason: {self.reason}")
        if self.decision.decision == "yank":
            if self.yank_url:
                lines.append(
                    f"  yank (by hand, no API does it): open {self.yank_url} , press Yank, "
                    f"paste the reason: {self.yank_reason}"
                )
            else:
                lines.append(
                    f"  yank {name} {self.bad} on your index by hand, reason: {self.yank_reason}"
                )
        if self.from_good is not None and self.decision.decision != "escalate":
            tag = self.package.tag(str(self.from_good))
            if self.restore_paths:
                lines.append(
                    f"  restore {len(self.restore_paths)} file(s) from {tag} in a new commit "
                    f"({self.restore_commit_message!r}):"
                )
                lines.extend(f"    {path}" for path in self.restore_paths)
            else:
                lines.append(f"  restore from {tag}: the package's files already match it")
        if self.new is not None:
            lines.append(f"  new version: {self.new} (never {self.bad} again: numbers are burnt)")
        root = self.package.workspace_root
        for edit in self.edits:
            verb = "create" if edit.creates else "edit"
            lines.append(f"  {verb} {shown_path(edit.path, root)}: {edit.reason}")
        if not self.edits and self.decision.decision == "escalate":
            lines.append("  nothing will be changed")
        lines.extend(f"  warning: {w}" for w in self.warnings)
        if self.next_steps:
            lines.append("next steps:")
            lines.extend(f"  {n}. {step}" for n, step in enumerate(self.next_steps, 1))
        return lines


# --- helpers -------------------------------------------------------------------------------


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


def _git_out(repo: Path, *args: str, what: str, hint: str = "") -> str:
    return git.run_git(repo, *args, what=what, hint=hint)


@dataclass(frozen=True)
class _Released:
    """What is known to be released of one package: git tags, and the index when it answered."""

    tagged: frozenset[Version]
    on_index: frozenset[Version] | None  # None: no index asked, or it could not be read
    index_name: str | None

    def burnt(self, version: Version) -> bool:
        return version in self.tagged or (self.on_index is not None and version in self.on_index)

    def where(self, package: Package, version: Version) -> str:
        places = []
        if version in self.tagged:
            places.append(f"tag {package.tag(str(version))!r}")
        if self.on_index is not None and version in self.on_index:
            places.append(f"on index {self.index_name!r}")
        return " and ".join(places)


def _released(package: Package, index: IndexConfig | None, warnings: list[str]) -> _Released:
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
    return _Released(tagged, on_index, index.name if index else None)


def _default_request(version: Version) -> BumpRequest:
    """The next pre-release number for a pre-release, else the next patch."""
    return BumpRequest(pre="") if version.is_prerelease else BumpRequest(patch=True)


def _next_free(start: Version, released: _Released) -> Version:
    """The first version after ``start`` by the default bump rule that was never released."""
    request = _default_request(start)
    candidate = plan_bump(start, request)
    while released.burnt(candidate):
        candidate = plan_bump(candidate, request)
    return candidate


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


def _repo_rel(path: Path, repo: Path) -> str:
    """``path`` (which need not exist; may hold ``*``) relative to the repository, posix."""
    return path.resolve().relative_to(repo.resolve()).as_posix()


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


def _restore_changes(
    workspace: Workspace, package: Package, repo: Path, tag: str
) -> list[tuple[str, str]]:
    """(status, path) of every package file that differs between ``tag`` and HEAD.

    ``A``: added since the tag (removed by the restore); ``M``/``T``/``D``:
    changed or deleted since the tag (checked out from it).
    """
    out = _git_out(
        repo,
        "diff",
        "--name-status",
        "--no-renames",
        "-z",
        f"refs/tags/{tag}",
        "HEAD",
        "--",
        *_package_pathspec(workspace, package, repo),
        what="git diff",
    )
    parts = [p for p in out.split("\0") if p]
    return [(parts[i][0], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]


def _restore_pending(
    package: Package, repo: Path, tag: str, changes: Sequence[tuple[str, str]]
) -> list[FileEdit]:
    """The files holding the version as the good tag has them, to plan on top of the restore."""
    source = find_version_source(package).path
    wanted = {_repo_rel(p, repo) for p in (package.pyproject, source) if p is not None}
    pending = []
    for status, path in changes:
        if path in wanted and status in {"M", "T"}:
            good_text = _git_out(repo, "show", f"refs/tags/{tag}:{path}", what="git show")
            now = planned_text(repo / path)
            pending.append(FileEdit(repo / path, now, good_text, f"restored from {tag}"))
    return pending


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


def _plan_entry(
    package: Package,
    version: Version,
    block: Sequence[str],
    pending: Sequence[FileEdit],
    reason: str,
) -> list[FileEdit]:
    """The notes entry of ``version`` holding ``block`` (paragraphs), created when missing.

    The paragraphs replace the stub's placeholder line, or follow what the
    entry already says.  Not a stub: the entry passes ``invoke notes --check``.
    """
    style, _template = notes_style(package)
    path = notes_location(package, version)
    before = planned_text(path, pending)
    stub = plan_notes(package, version, pending=pending)
    text = stub[0].after if stub else before
    if text is None or block[0] in text:
        return []  # already written by an earlier run
    nl = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    start, end = 0, len(lines)
    if style == "changelog":
        for i, line in enumerate(lines):
            match = _CHANGELOG_HEADING.match(line)
            if match and _same_version(match["label"], version):
                start = i + 1
                end = next(
                    (j for j in range(i + 1, len(lines)) if lines[j].startswith(("## ", "# "))),
                    len(lines),
                )
                break
    paragraphs: list[str] = []
    for n, paragraph in enumerate(block):
        paragraphs += [*([nl] if n else []), paragraph + nl]
    marker = next((i for i in range(start, end) if lines[i].strip() == STUB_MARKER), None)
    if marker is not None:
        lines[marker : marker + 1] = paragraphs
    else:
        last = max(
            (i for i in range(start, end) if lines[i].strip() and not lines[i].startswith("[")),
            default=start - 1,
        )
        if last >= 0 and not lines[last].endswith(("\n", "\r")):
            lines[last] += nl
        after = last + 1
        if after < len(lines) and lines[after].strip():
            paragraphs.append(nl)  # keep a blank line before what follows
        lines[after:after] = [nl, *paragraphs]
    shown = shown_path(path, package.workspace_root)
    return [FileEdit(path, before, "".join(lines), f"{reason} in {shown}")]


_CHANGELOG_HEADING = re.compile(r"^##[ \t]+\[?(?P<label>[^\]\s]+)\]?")


def _same_version(label: str, version: Version) -> bool:
    try:
        return Version(label.removeprefix("v")) == version
    except ValueError:
        return False


def _release_arg(package: Package) -> str:
    """How the package is named on a command line: its name at the root, else its path."""
    return package.name if package.rel == "." else package.rel


# --- plan: checks ----------------------------------------------------------------------------


def _refuse_tag_deletion(package: Package, bad: Version) -> None:
    """Rollback never deletes a tag: always raises."""
    name, tag = package.name, package.tag(str(bad))
    if git.is_final_version(str(bad)):
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


def _check_released(package: Package, bad: Version, released: _Released) -> None:
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


def _check_to(package: Package, bad: Version, to: Version, released: _Released) -> None:
    if to <= bad:
        raise RollbackRefused(
            f"--to {to}: {to} is not above the bad version {bad}; versions only move forward",
            f"pick a version above {bad}, e.g. --to {_next_free(bad, released)}",
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
            f"pick a version never released, e.g. --to {_next_free(to, released)}",
        )


def _check_from_good(
    repo: Path, package: Package, bad: Version, good: Version, released: _Released
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


def _final_decision(
    assessment: Assessment, bad: Version, to: Version | None, from_good: Version | None
) -> RollbackDecision:
    decision = decide(assessment, bad)
    if decision.decision == "errata" and (to is not None or from_good is not None):
        given = "--to" if to is not None else "--from-good"
        return RollbackDecision(
            "republish", f"{decision.why}; republishing because {given} was given"
        )
    return decision


def _reason(assessment: Assessment, decision: Decision, warnings: list[str]) -> str:
    reason = assessment.reason.strip().rstrip(".")
    if reason or decision == "escalate":
        return reason
    reason = {
        "yank": "a security regression" if assessment.security else "data loss",
        "republish": "a bug users hit in normal use",
        "errata": "a cosmetic issue",
    }[decision]
    warnings.append(
        f"no --reason given: the notes will only say {reason!r}; "
        "edit them before committing, or run again with --reason"
    )
    return reason


# --- plan: the republish ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Restore:
    """The restore of a good version planned on the current HEAD."""

    base_commit: str
    paths: tuple[str, ...]
    pending: tuple[FileEdit, ...]  # the version's files as the good tag has them


def _plan_restore(
    workspace: Workspace, package: Package, repo: Path, good: Version, tag: str
) -> _Restore:
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
    changes = _restore_changes(workspace, package, repo, tag)
    return _Restore(
        base_commit=git.head(repo),
        paths=tuple(path for _status, path in changes),
        pending=tuple(_restore_pending(package, repo, tag, changes)),
    )


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
    released = _released(other, index, warnings)
    old = read_version(other)
    if not released.burnt(old):
        return []  # its version at source is unreleased: the moved pin is all it needs
    new = _next_free(old, released)
    edits = plan_version_edit(other, new, pending=plan_so_far)
    pins, pin_warnings = plan_pin_edits(workspace, other, old, new, pending=[*plan_so_far, *edits])
    edits += pins
    warnings.extend(pin_warnings)
    edits += _plan_entry(
        other,
        new,
        [f"{follows} {other.name} {old} pins the bad release; upgrade to {new}."],
        [*plan_so_far, *edits],
        f"release notes of {other.name} {new} (its pin on the bad release moved)",
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
        where = (
            f"open {url} , press Yank,"
            if url
            else f"yank it on {index.name!r} by hand,"
            if (index)
            else "yank it by hand,"
        )
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


# --- plan --------------------------------------------------------------------------------------


def plan_rollback(
    workspace: Workspace,
    package: Package,
    bad: Version,
    assessment: Assessment,
    *,
    to: Version | None = None,
    from_good: Version | None = None,
    index: IndexConfig | None = None,
    delete_tag: bool = False,
) -> RollbackPlan:
    """Decide and plan the rollback of ``package`` ``bad``; change nothing.

    Refuses (:class:`~releasekit.errors.RollbackRefused`, or
    :class:`~releasekit.errors.DirtyWorkingTree` for a restore on a dirty
    tree) a ``bad`` version never tagged nor on ``index``, a ``to`` not above
    ``bad`` or already released, a ``from_good`` without a tag or not older
    than ``bad``, and ``delete_tag`` (a released tag is never deleted).
    ``index`` is read when given; an unreachable index counts as unknown
    (a warning), so only git tags decide.
    """
    if delete_tag:
        _refuse_tag_deletion(package, bad)
    repo = git.repo_root(workspace.root)
    name = package.name
    warnings: list[str] = []
    released = _released(package, index, warnings)
    _check_released(package, bad, released)
    if to is not None:
        _check_to(package, bad, to, released)
    good_tag = _check_from_good(repo, package, bad, from_good, released) if from_good else None
    decision = _final_decision(assessment, bad, to, from_good)
    reason = _reason(assessment, decision.decision, warnings)

    def without_new_version(
        edits: tuple[FileEdit, ...], steps: tuple[str, ...], good: Version | None
    ) -> RollbackPlan:
        return RollbackPlan(
            package=package, bad=bad, decision=decision, new=None, from_good=good, edits=edits,
            restore_paths=(), yank_url=None, yank_reason=None, next_steps=steps,
            warnings=tuple(warnings), reason=reason,
        )  # fmt: skip

    if decision.decision == "escalate":
        return without_new_version(
            (),
            (
                f"open an issue: what is wrong with {name} {bad}, who is affected, since when",
                "decide with the team which branch of the decision tree it is",
                f"invoke rollback {name} {bad} --security|--data-loss|--user-visible|--cosmetic "
                '--reason "..."',
            ),
            from_good,
        )
    if decision.decision == "errata":
        errata = plan_errata(package, bad, reason)
        shown = shown_path(errata.path, workspace.root)
        return without_new_version(
            () if f"- {reason}" in (errata.before or "") else (errata,),
            (
                f"review the errata: git diff -- {shown}",
                f'git commit -am "notes: errata for {name} {bad}"',
                "git push",
                f"to republish anyway: invoke rollback {name} {bad} --cosmetic --to VERSION",
            ),
            None,
        )

    # republish; the yank path republishes too
    restore = (
        _plan_restore(workspace, package, repo, from_good, good_tag)
        if (from_good is not None and good_tag is not None)
        else None
    )
    pending = list(restore.pending) if restore else []
    current = read_version(package)  # at source now, before any restore: what siblings pin
    new = to if to is not None else _next_free(bad, released)
    edits = plan_version_edit(package, new, pending=pending)
    for old in dict.fromkeys([current, bad]):
        pins, pin_warnings = plan_pin_edits(workspace, package, old, new, pending=pending + edits)
        edits += pins
        warnings.extend(pin_warnings)
    pinned = {e.path.resolve() for e in edits}
    moved = [p for p in workspace.packages if p is not package and p.pyproject.resolve() in pinned]

    verb = "yanked" if decision.decision == "yank" else "marked bad"
    entry = [f"Republishes {name} in place of {bad}, which was {verb}: {reason}."]
    if from_good is not None:
        entry.append(f"This release carries the code of {name} {from_good} (tag {good_tag}).")
    entry.append(_status_sentence(package, bad, new, decision.decision, reason))
    entry.append(f"Decision: {decision.decision}: {decision.why}.")
    edits += _plan_entry(
        package, new, entry, pending + edits, f"release notes of {name} {new} (replaces {bad})"
    )
    yanked = decision.decision == "yank"
    text = f"yanked: {reason}. Fixed in {new}." if yanked else f"{reason}. Fixed in {new}."
    mark = plan_errata(
        package, bad, text, status="yanked" if yanked else "bad", pending=pending + edits
    )
    if text not in (mark.before or ""):
        edits.append(mark)

    releasing = [package]
    for other in workspace.in_dependency_order(moved):
        edits += _plan_dependent(
            workspace,
            other,
            pending + edits,
            index=index,
            warnings=warnings,
            follows=f"Requires {name}=={new}, which replaces the bad {name} {bad} ({reason}).",
        )
        releasing.append(other)
    warnings.extend(
        f"hardcoded __version__ = {lit.value!r} in {shown_path(lit.path, workspace.root)}:"
        f"{lit.line}: {literal_fix_hint(package.name)}"
        for lit in find_version_literals(package)
    )
    url = yank_url(package, bad, index) if yanked else None
    steps = _republish_steps(
        package, bad, new, decision.decision, reason=reason, url=url, index=index,
        restored=restore is not None, releasing=releasing,
    )  # fmt: skip
    return RollbackPlan(
        package=package,
        bad=bad,
        decision=decision,
        new=new,
        from_good=from_good,
        edits=tuple(e for e in merge_edits(edits) if e.before != e.after),
        restore_paths=restore.paths if restore else (),
        yank_url=url,
        yank_reason=reason if yanked else None,
        next_steps=tuple(steps),
        base_commit=restore.base_commit if restore else None,
        warnings=tuple(warnings),
        reason=reason,
    )


# --- apply -----------------------------------------------------------------------------------


def _restore(repo: Path, plan: RollbackPlan) -> str | None:
    """Check out ``from_good``'s files and commit them; None when nothing differed."""
    if plan.from_good is None or not plan.restore_paths:
        return None
    tag = plan.package.tag(str(plan.from_good))
    git.require_clean(repo)
    if plan.base_commit is not None and git.head(repo) != plan.base_commit:
        raise RollbackRefused(
            f"HEAD moved since the rollback was planned (planned on {plan.base_commit[:12]})",
            "run the rollback command again to plan from the current commit",
        )
    at_good = set(
        _git_out(
            repo, "ls-tree", "-r", "-z", "--name-only", f"refs/tags/{tag}", "--",
            *plan.restore_paths, what="git ls-tree",
        ).split("\0")
    )  # fmt: skip
    checkout = [p for p in plan.restore_paths if p in at_good]
    remove = [p for p in plan.restore_paths if p not in at_good]
    try:
        if checkout:
            _git_out(repo, "checkout", f"refs/tags/{tag}", "--", *checkout, what="git checkout")
        if remove:
            _git_out(repo, "rm", "-q", "--", *remove, what="git rm")
        _git_out(
            repo,
            "commit",
            "-q",
            "-m",
            plan.restore_commit_message,
            what="git commit",
            hint="set user.name and user.email in git config, or fix what the hook reports",
        )
    except BaseException:
        # the tree was clean before: put every file back as HEAD has it
        git.reset_hard(repo)
        raise
    commit = git.head(repo)
    log.info("restored %d file(s) from %s in %s", len(plan.restore_paths), tag, commit[:12])
    return commit


def apply_rollback(workspace: Workspace, plan: RollbackPlan) -> list[str]:
    """Carry out ``plan``; returns lines saying what was done.

    Escalate changes nothing.  With ``from_good`` the good files are
    restored in a new commit on top of the branch (history only moves
    forward), then the edits are written all or nothing and left
    uncommitted for review; new files are marked ``git add --intent-to-add``
    so ``git commit -a`` takes them.  No tag is created, moved or deleted.
    """
    name = plan.package.name
    if plan.decision.decision == "escalate":
        return [f"{name} {plan.bad}: escalate — nothing was changed"]
    repo = git.repo_root(workspace.root)
    done: list[str] = []
    commit = _restore(repo, plan)
    if commit is not None:
        done.append(
            f"committed {commit[:12]}: {plan.restore_commit_message} "
            f"({len(plan.restore_paths)} file(s))"
        )
    apply_edits(plan.edits)
    for edit in plan.edits:
        if edit.before != edit.after:
            verb = "created" if edit.creates else "wrote"
            done.append(f"{verb} {shown_path(edit.path, workspace.root)}: {edit.reason}")
    created = [str(e.path) for e in plan.edits if e.creates]
    if created:
        _git_out(repo, "add", "--intent-to-add", "--", *created, what="git add --intent-to-add")
        done.append(f"new files marked for `git commit -a`: {len(created)}")
    if plan.decision.decision == "yank":
        where = plan.yank_url or "your index"
        done.append(f"NOT done (by hand): yank {name} {plan.bad} at {where}")
    if plan.next_steps:
        done.append(f"next: {plan.next_steps[0]} (all steps listed above)")
    return done
