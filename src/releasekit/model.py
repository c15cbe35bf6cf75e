"""What a release run is: the steps' interface and the state every step is handed.

A :class:`Step` is a name, a function of ``(release, target)`` and whether it
leaves the machine.  The function gets the :class:`ReleaseRun` (workspace,
options, index, every target) and one :class:`Target` (a package at its
version, its tag, its dist folder, what earlier steps learned about it); it
returns a line for the summary, raises :class:`SkipStep` when it has nothing
to do, or a :class:`~releasekit.errors.ReleaseError` to stop the release.
The outcome of a run is a :class:`ReleaseReport`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from releasekit.config import IndexConfig
from releasekit.errors import ReleaseError
from releasekit.report import format_duration, format_table
from releasekit.workspace import Package, Workspace

if TYPE_CHECKING:
    from releasekit.dists import Dists

__all__ = [
    "CommandRunner",
    "ReleaseOptions",
    "ReleaseReport",
    "ReleaseRun",
    "SkipStep",
    "Step",
    "StepRecord",
    "Target",
    "target_dists",
]

CommandRunner = Callable[[Sequence[str], Path], None]


class SkipStep(Exception):
    """Raised by a step that has nothing to do; the reason is shown in the summary."""


@dataclass(frozen=True)
class Step:
    """One named stage of the pipeline."""

    name: str
    action: Callable[[ReleaseRun, Target], str | None]
    remote: bool = False  # True: it changes something off this machine
    description: str = ""
    # True: safe to run for several packages at once (threads, at most one per core);
    # its output still comes in one block per package, in dependency order
    concurrent: bool = False


@dataclass
class Target:
    """One package of the release, and what the steps learned about it."""

    package: Package
    version: Version
    tag: str
    dist_dir: Path
    dists: Dists | None = None  # once built (or found in the dist folder)
    built: bool = False  # dists built by this run's build step (the wheel from the sdist)
    skip_reason: str | None = None
    published_to: list[str] = field(default_factory=list)
    signed: bool = False
    uploaded: dict[str, list[str]] = field(default_factory=dict)  # index -> files sent now
    already: dict[str, list[str]] = field(default_factory=dict)  # index -> files there before
    tag_made: bool = False  # made by this run (or found at HEAD)
    tag_pushed: bool = False  # on the remote (pushed now or found there)
    reproducible: str | None = None  # verify's line comparing the rebuilt and published wheel


@dataclass(frozen=True)
class ReleaseOptions:
    """What the user asked for (nox flags map one to one)."""

    index: str = "pypi"
    rehearse: bool = False
    sign: bool | None = None  # None: on when [tool.releasekit.signing] is configured
    staging: bool = False
    yes: bool = False
    testpypi_first: bool = False
    push: bool = True
    remote: str = "origin"
    verify_timeout: float | None = None
    upload_retries: int = 3  # per file, on transient failures (5xx, resets)
    upload_backoff: float = 1.0  # seconds before the first retry, doubled each time
    github_release: bool | None = None  # None: on inside GitHub Actions (GITHUB_ACTIONS=true)
    interactive: bool = False  # someone can answer questions (the adapter decides: a terminal)


@dataclass
class StepRecord:
    """One line of the summary table."""

    step: str
    package: str
    result: str  # "ok", "skipped", "FAILED"
    seconds: float
    detail: str = ""


@dataclass
class ReleaseRun:
    """The state of one pipeline run, handed to every step."""

    workspace: Workspace
    targets: list[Target]
    options: ReleaseOptions
    index: IndexConfig
    command_runner: CommandRunner
    confirm: Callable[[str], bool] | None = None
    records: list[StepRecord] = field(default_factory=list)
    testpypi: IndexConfig | None = None
    identity_token: Any = None  # sigstore IdentityToken once the sign step got one
    rerun_command: str | None = None  # what repeats this run (the adapter knows it)
    publishing: bool = True  # the steps include remote ones (set by run_release)
    steps: tuple[Step, ...] = ()  # the steps of this run (set by run_release)
    whole_run: dict[str, dict[str, str]] = field(default_factory=dict)  # step -> package -> detail
    # an embedded index still starting: waits until it answers, returns its config
    index_starting: Callable[[], IndexConfig] | None = None

    def ready_index(self) -> IndexConfig:
        """:attr:`index`, answering: an embedded index still starting is waited for first.

        A rehearsal starts its embedded index and goes on with the local steps
        meanwhile; what reads the index calls this (``run_release`` does before
        the first step that is not a stock local one).  The index may then be on
        another port than :attr:`index` said before: the port it started on was
        taken.  Its failure to start raises :class:`~releasekit.errors.IndexUnreachable`.
        """
        if self.index_starting is not None:
            self.index = self.index_starting()
            self.index_starting = None
        return self.index

    @property
    def staging(self) -> bool:
        """sigstore's staging instance: --staging or [tool.releasekit.signing] staging."""
        signing = self.workspace.config.signing
        return self.options.staging or bool(signing and signing.staging)

    @property
    def signing_on(self) -> bool:
        if self.options.sign is not None:
            return self.options.sign
        return self.workspace.config.signing is not None


@dataclass
class ReleaseReport:
    """The outcome: the records, and on failure which step failed, why, what next."""

    records: list[StepRecord]
    failed_step: str | None = None
    failed_package: str | None = None
    error: ReleaseError | None = None
    next_command: str | None = None
    unsigned: bool = False
    sent: bool = False  # a remote step ran: something may have left the machine
    left: list[str] = field(default_factory=list)  # on failure after sending: what left
    notes: list[str] = field(default_factory=list)  # lines under the table (reproducible...)
    seconds: float | None = None  # the run's wall clock (steps of packages may overlap)

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> str:
        """The table (step, package, result, time, detail), then the failure block."""
        rows = [
            (r.step, r.package, r.result, format_duration(r.seconds), _concise(r.detail))
            for r in self.records
        ]
        text = format_table(("step", "package", "result", "time", "detail"), rows)
        total = sum(r.seconds for r in self.records)
        wall = total if self.seconds is None else self.seconds
        text += f"\n{len(self.records)} step(s) in {format_duration(wall)}"
        if total - wall >= 0.1:
            text += f" ({format_duration(total)} of step time: packages ran side by side)"
        for note in self.notes:
            text += f"\n{note}"
        if self.unsigned and self.ok:
            text += "\nnote: this release is unsigned (no [tool.releasekit.signing], no --sign)"
        if not self.ok and self.error is not None:
            text += "\n\n" + self.failure()
        return text

    def failure(self) -> str:
        """On failure: the step that failed, why (the whole message), what to run next."""
        if self.error is None:
            return ""
        where = f"FAILED at step {self.failed_step!r}"
        if self.failed_package:
            where += f" ({self.failed_package})"
        first, *rest = self.error.message.splitlines() or [""]
        lines = [where, f"why: {first}", *(f"  {line}" for line in rest)]
        if self.error.hint:
            lines.append(f"hint: {self.error.hint}")
        if not self.sent:
            lines.append("nothing left this machine: no upload, no tag")
        elif self.left:
            lines.append("what left this machine:")
            lines.extend(f"  {line}" for line in self.left)
        if self.next_command:
            lines.append(f"then run: {self.next_command}")
        return "\n".join(lines)


def target_dists(target: Target) -> Dists:
    """The target's sdist and wheels: those built by this run, else found in its dist dir."""
    from releasekit.dists import find_dists  # deferred: build and twine load slowly

    if target.dists is None:
        target.dists = find_dists(target.package, str(target.version), out_dir=target.dist_dir)
    return target.dists


def _concise(detail: str) -> str:
    """A detail for the summary table: one line, no indent (the table wraps it, whole)."""
    return " ".join(detail.split())
