"""After a bad release: decide yank or republish, then roll forward — never delete.

A release that reached an index cannot be recalled: mirrors, caches and
lock files keep it.  So releasekit never deletes a tag or a file and never
reuses a version number; a bad release is followed by a new one.

Three parts, in the order a rollback runs them:

- **decide**: :func:`assess` turns the flags (or, when the adapter allows
  it, the answers to :data:`QUESTIONS`) into an :class:`Assessment`;
  :func:`decide` is the decision tree of ``docs/runbooks/rollback.md`` as a
  pure function of it;
- **plan**: :func:`plan_rollback` checks what the user asked for (the bad
  version was released, the new number is free, the good version to restore
  exists) and plans every change without making one: a
  :class:`RollbackPlan` that can be shown (``--dry``).  Its pieces are in
  :mod:`releasekit.rollback_plan`;
- **apply**: :func:`apply_rollback` carries it out: the optional restore of
  a good version's files in a new commit, then the version, pin and notes
  edits, left uncommitted for review like ``invoke bump``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from packaging.version import Version

from releasekit import git
from releasekit._text import shown_path
from releasekit.config import IndexConfig
from releasekit.edits import FileEdit, apply_edits
from releasekit.errors import RollbackRefused
from releasekit.rollback_plan import (
    Decision,
    check_request,
    errata_outcome,
    escalate_steps,
    next_free,
    plan_republish,
    plan_restore,
    refuse_tag_deletion,
    released_versions,
    yank_url,
)
from releasekit.workspace import Package, Workspace

__all__ = [
    "QUESTIONS",
    "Ask",
    "Assessment",
    "Decision",
    "RollbackDecision",
    "RollbackPlan",
    "apply_rollback",
    "assess",
    "decide",
    "plan_rollback",
    "yank_url",
]

log = logging.getLogger("releasekit")

Ask = Callable[[str], str]
"""Asks the user one question and returns the reply (an interactive adapter passes ``input``)."""


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


# --- decide --------------------------------------------------------------------------------


def _is_yes(reply: str) -> bool:
    return reply.strip().lower() in {"y", "yes"}


def assess(
    *,
    security: bool = False,
    data_loss: bool = False,
    user_visible: bool = False,
    cosmetic: bool = False,
    reason: str | None = None,
    ask: Ask | None = None,
) -> Assessment:
    """The assessment the user gave as flags; asked for when none was given and ``ask`` is.

    With no answer among the flags and an ``ask`` (the adapter allows
    prompts), the questions of :data:`QUESTIONS` are asked in order until
    the first "yes" (``y``/``yes``; anything else is no), then the reason
    when ``reason`` was not given.  Without ``ask`` nothing is asked: no
    answer leads to "escalate".
    """
    answers = {
        "security": security,
        "data_loss": data_loss,
        "user_visible": user_visible,
        "cosmetic": cosmetic,
    }
    if not any(answers.values()) and ask is not None:
        for name, question in QUESTIONS:
            answers[name] = _is_yes(ask(f"{question} [y/N] "))
            if answers[name]:
                break
        if reason is None:
            reason = ask("In one line, what is wrong? ").strip()
    return Assessment(**answers, reason=reason or "")


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


# --- plan ----------------------------------------------------------------------------------


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

    | decision  | edits                                   | new version         |
    |-----------|-----------------------------------------|---------------------|
    | escalate  | none                                    | none                |
    | errata    | an errata line in the bad version's notes | none              |
    | republish | restore?, version, pins, notes, siblings | ``to`` or next free |
    | yank      | as republish, the yank by hand          | ``to`` or next free |
    """
    if delete_tag:
        refuse_tag_deletion(package, bad)
    repo = git.repo_root(workspace.root)
    warnings: list[str] = []
    released = released_versions(package, index, warnings)
    good_tag = check_request(repo, package, bad, released, to=to, from_good=from_good)
    decision = _final_decision(assessment, bad, to, from_good)
    reason = _reason(assessment, decision.decision, warnings)
    plan = RollbackPlan(
        package=package, bad=bad, decision=decision, new=None, from_good=None, edits=(),
        restore_paths=(), yank_url=None, yank_reason=None, next_steps=(), reason=reason,
    )  # fmt: skip
    if decision.decision == "escalate":
        plan = replace(plan, from_good=from_good, next_steps=escalate_steps(package, bad))
    elif decision.decision == "errata":
        edits, steps = errata_outcome(workspace, package, bad, reason)
        plan = replace(plan, edits=edits, next_steps=steps)
    else:
        good = (from_good, good_tag) if from_good is not None and good_tag is not None else None
        restore = plan_restore(workspace, package, repo, *good) if good else None
        republish = plan_republish(
            workspace, package, bad, (decision.decision, decision.why), reason=reason,
            new=to if to is not None else next_free(bad, released), restore=restore,
            good=good, index=index, warnings=warnings,
        )  # fmt: skip
        yanked = decision.decision == "yank"
        plan = replace(
            plan, new=republish.new, from_good=from_good, edits=republish.edits,
            restore_paths=restore.paths if restore else (), yank_url=republish.url,
            yank_reason=reason if yanked else None, next_steps=republish.steps,
            base_commit=restore.base_commit if restore else None,
        )  # fmt: skip
    return replace(plan, warnings=tuple(warnings))


# --- apply ---------------------------------------------------------------------------------


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
    commit = git.restore_from(
        repo, f"refs/tags/{tag}", plan.restore_paths, plan.restore_commit_message
    )
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
        git.intend_to_add(repo, created)
        done.append(f"new files marked for `git commit -a`: {len(created)}")
    if plan.decision.decision == "yank":
        where = plan.yank_url or "your index"
        done.append(f"NOT done (by hand): yank {name} {plan.bad} at {where}")
    if plan.next_steps:
        done.append(f"next: {plan.next_steps[0]} (all steps listed above)")
    return done
