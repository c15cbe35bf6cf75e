"""The release pipeline: ordered, gated steps, a plan, a rehearsal.

The default steps are::

    preflight -> lint -> test -> build -> check -> smoke -> sign -> gate
      -> publish -> verify -> tag -> github-release (in GitHub Actions, or with --github-release)

The ``gate`` is the last step on this machine: for every package at once it
reads the index (a burnt version is refused), checks the upload credentials,
asks the git remote whether it would take the tag (``git push --dry-run``),
checks the tag names and the signing identity, and reports every problem of
every package in one error.  A pipeline composed without it gets it before
its first remote step (:func:`with_gate`).

Each is a :class:`Step` — a name, a function of ``(release, target)`` and
whether it leaves the machine.  Steps run step by step over every package
of the release in dependency order, so every local step has passed for
every package before the first upload (all or nothing).  A project composes
its own pipeline from :data:`DEFAULT_STEPS` — drop, reorder or add steps —
and passes it to :func:`run_release` (from nox: ``releasekit.nox.run_pipeline``);
a local step placed after a remote one is refused (:func:`check_step_order`).
A pipeline of local steps only (``nox -s build``) never reads an index.

Running the same release again resumes it: publish skips files already on
the index with the same sha256, tag and push are skipped when done, and a
package whose version is fully published and tagged is skipped whole.

Where each part lives: :mod:`releasekit.model` (Step, Target, the run and its
report), :mod:`releasekit.steps` (the stock steps, :data:`DEFAULT_STEPS`),
:mod:`releasekit.gate` (preflight and the gate, every package at once),
:mod:`releasekit.commands` (lint and test commands), :mod:`releasekit.resume`
(what an earlier run already did).  This module plans and runs; it re-exports
the names a project composes its own pipeline from.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from packaging.version import Version

from releasekit import checks, git
from releasekit.build_envs import prepare_build_envs
from releasekit.commands import default_test_commands, run_in_environment
from releasekit.concurrency import run_concurrently
from releasekit.config import IndexConfig
from releasekit.errors import ConfigError, DigestMismatch, ReleaseError, VersionBurnt
from releasekit.interrupt import unwind_on_signals
from releasekit.model import (
    CommandRunner,
    ReleaseOptions,
    ReleaseReport,
    ReleaseRun,
    SkipStep,
    Step,
    StepRecord,
    Target,
    target_dists,
)
from releasekit.preload import preload
from releasekit.report import format_table
from releasekit.resume import fully_published
from releasekit.session_names import nox_command
from releasekit.smoke_ahead import smoke_ahead
from releasekit.steps import (
    DEFAULT_STEPS,
    GATE,
    STOCK_LOCAL_STEPS,
    build_epoch,
    step_build,
    step_check,
    step_gate,
    step_github_release,
    step_lint,
    step_preflight,
    step_publish,
    step_sign,
    step_smoke,
    step_tag,
    step_test,
    step_testpypi,
    step_verify,
)
from releasekit.version_source import version_to_release
from releasekit.workspace import Package, Workspace

__all__ = [
    "DEFAULT_STEPS",
    "GATE",
    "CommandRunner",
    "ReleaseOptions",
    "ReleaseReport",
    "ReleaseRun",
    "SkipStep",
    "Step",
    "StepRecord",
    "Target",
    "build_epoch",
    "check_step_order",
    "default_test_commands",
    "describe_plan",
    "plan_findings",
    "plan_release",
    "release_run",
    "run_in_environment",
    "run_release",
    "step_build",
    "step_check",
    "step_gate",
    "step_github_release",
    "step_lint",
    "step_preflight",
    "step_publish",
    "step_sign",
    "step_smoke",
    "step_tag",
    "step_test",
    "step_testpypi",
    "step_verify",
    "target_dists",
    "with_gate",
]

log = logging.getLogger("releasekit")


# --- planning ------------------------------------------------------------------------------


def with_gate(steps: Sequence[Step]) -> tuple[Step, ...]:
    """``steps`` with the gate right before the first remote step, unless it is there.

    A pipeline composed from :data:`DEFAULT_STEPS` without the gate (or one of
    local steps only) is returned as it was or with the gate added, so nothing
    leaves the machine before the gate has passed for every package.
    """
    steps = tuple(steps)
    if any(step.name == GATE.name for step in steps):
        return steps
    first_remote = next((n for n, step in enumerate(steps) if step.remote), None)
    if first_remote is None:
        return steps
    return (*steps[:first_remote], GATE, *steps[first_remote:])


def check_step_order(steps: Sequence[Step]) -> None:
    """Refuse a pipeline that is not all or nothing: a local step after a remote one.

    Also refuses an empty pipeline and two steps of the same name (the summary
    and the "then run" advice name steps).
    """
    if not steps:
        raise ConfigError("the pipeline has no steps", "pass pipeline.DEFAULT_STEPS or a part")
    names = [step.name for step in steps]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ConfigError(
            f"the pipeline has two steps named {twice[0]!r}",
            "give every step its own name: Step('my-check', ...)",
        )
    seen_remote = None  # the nearest remote step before the one looked at
    for step in steps:
        if step.remote:
            seen_remote = step.name
        elif seen_remote is not None:
            raise ConfigError(
                f"local step {step.name!r} comes after {seen_remote!r}, which leaves the "
                "machine: every local step must pass before anything is uploaded or pushed",
                f"move {step.name!r} before {seen_remote!r} (or mark it Step(..., remote=True) "
                "if it changes something off this machine)",
            )


def plan_release(
    workspace: Workspace,
    packages: Sequence[Package],
    *,
    options: ReleaseOptions,
    versions: dict[str, Version] | None = None,
    steps: Sequence[Step] = DEFAULT_STEPS,
    dist_root: Path | None = None,
) -> list[Target]:
    """The targets of a release, in dependency order; runs nothing."""
    check_step_order(steps)
    targets = []
    for package in workspace.in_dependency_order(packages):
        version = version_to_release(package, (versions or {}).get(package.canonical_name))
        dist_dir = (dist_root / package.canonical_name) if dist_root else package.dist_dir
        targets.append(Target(package, version, package.tag(str(version)), dist_dir))
    return targets


def plan_findings(
    workspace: Workspace,
    targets: Sequence[Target],
    options: ReleaseOptions,
    steps: Sequence[Step] = DEFAULT_STEPS,
) -> list[checks.Finding]:
    """What ``--plan`` checks without the network: index names, tag names, local tags.

    An unknown index or a tag name git refuses is an error finding; a version
    whose tag exists here already is an ``ok`` finding of check ``"released"``
    (the run would skip it if the index holds its files; the index is not read).
    """
    findings: list[checks.Finding] = []
    names = {step.name for step in steps}
    if any(step.remote for step in steps) and not options.rehearse:
        wanted = [options.index] + (["testpypi"] if options.testpypi_first else [])
        for name in wanted:
            try:
                workspace.config.index(name)
            except ReleaseError as exc:
                findings.append(checks.Finding("index", "error", exc.message, exc.hint))
    for target in targets:
        package = target.package.name
        if "tag" in names:
            findings += [
                replace(f, package=package) for f in checks.check_tag_name(workspace, target.tag)
            ]
        if options.rehearse:
            continue
        tagged = git.tag_target(workspace.root, target.tag)
        if tagged is not None:
            at = "at HEAD" if tagged == git.head(workspace.root) else f"at {tagged[:12]}"
            findings.append(
                checks.Finding(
                    "released",
                    "ok",
                    f"tag {target.tag} exists ({at}): "
                    f"skipped as already released if {options.index} holds its files",
                    package=package,
                )
            )
    return findings


def describe_plan(
    targets: Sequence[Target],
    options: ReleaseOptions,
    steps: Sequence[Step] = DEFAULT_STEPS,
    findings: Sequence[checks.Finding] = (),
) -> str:
    """``--plan``: the steps, packages, versions, index and tags — nothing is run.

    With ``findings`` (from :func:`plan_findings`) it also says which packages
    would be skipped as released and lists the problems found.
    """
    steps = with_gate(steps)
    index = "local (embedded, throwaway)" if options.rehearse else options.index
    publishing = any(step.remote for step in steps)
    lines = [
        f"release plan ({'rehearsal' if options.rehearse else 'real release'})"
        + (f", index: {index}" if publishing else ", nothing leaves this machine"),
        format_table(
            ("package", "version", "tag", "dists into"),
            [
                (
                    t.package.name,
                    str(t.version),
                    (t.tag + (" (not made: rehearsal)" if options.rehearse else ""))
                    if any(step.name == "tag" for step in steps)
                    else "-",
                    "a temp dir" if options.rehearse else str(t.dist_dir),
                )
                for t in targets
            ],
        ),
        "steps:",
    ]
    shown = [s for s in steps if s.name != "testpypi" or options.testpypi_first]
    width = max(len(step.name) for step in shown) if shown else 0
    for n, step in enumerate(shown, 1):
        where = "leaves the machine" if step.remote else "local"
        about = step.description or (step.action.__doc__ or "").strip().split("\n")[0]
        lines.append(f"  {n:2}. {step.name:<{width}}  {about} [{where}]".rstrip())
    released = [f for f in findings if f.check == "released"]
    if publishing and not options.rehearse:
        lines.append(
            "checked without the network: configuration, index names, tag names; "
            "the index and the remote are not read (the gate reads them before any upload)"
        )
        if released:
            lines.append("already released here (local tags):")
            lines += [f"  {f.package}: {f.message}" for f in released]
        else:
            lines.append("already released here (local tags): none")
    problems = [f for f in findings if f.severity != "ok"]
    if problems:
        lines.append("problems the release would stop at:")
        lines.append(checks.format_findings(problems))
    lines.append("nothing was run (--plan)")
    return "\n".join(lines)


# --- running -------------------------------------------------------------------------------


def _notes(run: ReleaseRun) -> list[str]:
    """The lines under the summary table: whether each verified wheel is reproducible."""
    return [
        f"{t.package.name} {t.version}: {t.reproducible}" for t in run.targets if t.reproducible
    ]


def _failed_packages(exc: ReleaseError, targets: Sequence[Target]) -> str:
    """The packages an error with findings (preflight, gate) is about, in release order."""
    named: set[str] = set()
    for finding in getattr(exc, "findings", []):
        named.update(str(getattr(finding, "package", "")).split(", "))
    return ", ".join(t.package.name for t in targets if t.package.name in named)


def _what_left(run: ReleaseRun) -> list[str]:
    """After a failure once something was sent: per package, which files and which tag left."""
    lines = []
    for target in run.targets:
        name = f"{target.package.name} {target.version}"
        if target.skip_reason:
            lines.append(f"{name}: already released before this run")
            continue
        parts = []
        for index in dict.fromkeys([*target.already, *target.uploaded]):
            now = target.uploaded.get(index, [])
            before = target.already.get(index, [])
            there = [f"{file} (uploaded now)" for file in now] + [
                f"{file} (there before)" for file in before
            ]
            parts.append(f"on {index}: {', '.join(there) or 'nothing'}")
        if not parts:
            parts.append("nothing uploaded")
        if run.options.rehearse or not any(step.name == "tag" for step in run.steps):
            pass
        elif target.tag_pushed:
            parts.append(f"tag {target.tag} pushed to {run.options.remote}")
        elif target.tag_made:
            parts.append(f"tag {target.tag} made here, not pushed")
        else:
            parts.append(f"tag {target.tag} not made")
        lines.append(f"{name}: " + "; ".join(parts))
    return lines


def _next_command(run: ReleaseRun, step: Step) -> str:
    """The same command again: after a fix (local step) or as is (remote step)."""
    command = run.rerun_command
    if command is None:
        names = " ".join(t.package.name for t in run.targets)
        flags = []
        if run.options.rehearse:
            flags.append("--rehearse")
        elif run.options.index != "pypi":
            flags.append(f"--index {run.options.index}")
        if run.options.testpypi_first:
            flags.append("--testpypi-first")
        command = nox_command("release", f"{names} {' '.join(flags)}".rstrip())
    if step.remote:
        return command + "   (safe to repeat: finished work is skipped)"
    return command


def run_release(
    run: ReleaseRun,
    steps: Sequence[Step] = DEFAULT_STEPS,
    *,
    on_step: Callable[[Step, Target], None] | None = None,
    on_record: Callable[[StepRecord], None] | None = None,
) -> ReleaseReport:
    """Run ``steps`` over every target; never raises a ReleaseError (it is in the report).

    Step by step: each step runs for every target (in dependency order) before
    the next step starts, so every local step has passed for every package
    before the first remote step runs.  The first failure stops the run.  When
    the steps include remote ones, a target whose version is already on the
    index and tagged is reported and skipped whole.  ``on_step`` is called
    before each step of each target, ``on_record`` with each result.
    """
    steps = with_gate(steps)
    check_step_order(steps)
    run.steps = steps
    run.publishing = any(step.remote for step in steps)
    signs = any(step.name == "sign" for step in steps)  # a plain publish signs nothing
    report = ReleaseReport(run.records, unsigned=run.publishing and signs and not run.signing_on)
    started = time.monotonic()
    if not _skip_released(run, steps, report):
        report.seconds = time.monotonic() - started
        return report
    preload(step.name for step in steps)  # while the first steps wait on their processes
    for step in steps:
        if step.name == "testpypi" and run.testpypi is None:
            continue
        if not _index_ready_for(run, step, report):  # the embedded index did not start
            report.seconds = time.monotonic() - started
            return report
        targets = [t for t in run.targets if not t.skip_reason]
        report.sent = report.sent or (bool(targets) and step.remote and not run.options.rehearse)
        failures: list[tuple[Target, ReleaseError]] = []
        for target, record, error in _outcomes(run, step, targets, on_step):
            run.records.append(record)
            if on_record is not None:
                on_record(record)
            if error is not None:
                failures.append((target, error))
                if not (step.concurrent and len(targets) > 1):
                    break  # one after another: the first failure stops the step
        if failures:
            first_error = failures[0][1]
            failed = [_failed_packages(e, run.targets) or t.package.name for t, e in failures]
            report.failed_step = step.name
            report.failed_package = ", ".join(dict.fromkeys(failed))
            report.error = first_error
            # a burnt version is never repeated: its hint says to bump, and nothing else
            burnt = isinstance(first_error, VersionBurnt)
            report.next_command = None if burnt else _next_command(run, step)
            if report.sent:
                report.left = _what_left(run)
            report.notes = _notes(run)
            report.seconds = time.monotonic() - started
            return report
    report.notes = _notes(run)
    report.unsigned = (
        run.publishing
        and signs
        and not any(t.signed for t in run.targets)
        and any(not t.skip_reason for t in run.targets)
    )
    report.seconds = time.monotonic() - started
    return report


def _skip_released(run: ReleaseRun, steps: Sequence[Step], report: ReleaseReport) -> bool:
    """Mark the targets already released (the run skips them); False when the index could
    not tell (the report says why)."""
    for target in run.targets:
        try:
            target.skip_reason = fully_published(run, target)
        except ReleaseError as exc:
            first = "verify" if isinstance(exc, DigestMismatch) else steps[0].name
            report.failed_step, report.error = first, exc
            report.failed_package = target.package.name if first == "verify" else None
            report.next_command = _next_command(run, steps[0])
            return False
        if target.skip_reason:
            log.info("%s: skipped", target.skip_reason)
            run.records.append(
                StepRecord("all", target.package.name, "skipped", 0.0, target.skip_reason)
            )
    return True


def _index_ready_for(run: ReleaseRun, step: Step, report: ReleaseReport) -> bool:
    """Before ``step``: the embedded index still starting is waited for, unless ``step`` is
    a stock local one; False when it did not start (the report says why; nothing was sent:
    the steps before were local)."""
    if run.index_starting is None or any(step is stock for stock in STOCK_LOCAL_STEPS):
        return True
    try:
        run.ready_index()
    except ReleaseError as exc:
        report.failed_step, report.error = step.name, exc
        report.next_command = _next_command(run, step)
        report.notes = _notes(run)
        return False
    return True


def _attempt(run: ReleaseRun, step: Step, target: Target) -> tuple[StepRecord, ReleaseError | None]:
    """Run ``step`` for ``target``: its summary line, and the error that stops the release."""
    started = time.monotonic()
    name = target.package.name
    try:
        detail = step.action(run, target) or ""
    except SkipStep as skip:
        return StepRecord(step.name, name, "skipped", time.monotonic() - started, str(skip)), None
    except ReleaseError as exc:
        first = exc.message.splitlines()[0]
        return StepRecord(step.name, name, "FAILED", time.monotonic() - started, first), exc
    return StepRecord(step.name, name, "ok", time.monotonic() - started, detail), None


def _outcomes(
    run: ReleaseRun,
    step: Step,
    targets: Sequence[Target],
    on_step: Callable[[Step, Target], None] | None,
) -> Iterator[tuple[Target, StepRecord, ReleaseError | None]]:
    """``step`` for each target, in order: one after another, or all at once.

    A concurrent step with several targets runs them in threads (at most one
    per core); every target runs to its end, and each one's output (its log
    records, held meanwhile) follows ``on_step`` in the targets' order, so the
    output reads one block per package as one after another would.
    """
    if not (step.concurrent and len(targets) > 1):
        for target in targets:
            if on_step is not None:
                on_step(step, target)
            yield (target, *_attempt(run, step, target))
        return
    for outcome in run_concurrently(targets, lambda target: _attempt(run, step, target)):
        if on_step is not None:
            on_step(step, outcome.item)
        outcome.replay()
        if outcome.error is not None or outcome.value is None:  # not a ReleaseError: a bug
            raise outcome.error or RuntimeError(f"step {step.name!r} gave no outcome")
        yield (outcome.item, *outcome.value)


@contextlib.contextmanager
def release_run(
    workspace: Workspace,
    packages: Sequence[Package],
    *,
    options: ReleaseOptions,
    command_runner: CommandRunner | None = None,
    confirm: Callable[[str], bool] | None = None,
    versions: dict[str, Version] | None = None,
    steps: Sequence[Step] = DEFAULT_STEPS,
    rerun_command: str | None = None,
) -> Iterator[ReleaseRun]:
    """Set up a run: the index (the embedded one for a rehearsal), dist dirs, runner.

    A rehearsal builds into a temporary directory and publishes to a fresh
    embedded index; both are gone when the block ends.  The embedded index is
    started here and waited for later (:meth:`ReleaseRun.ready_index`, which
    :func:`run_release` calls before the first step that is not a stock local
    one), so the local steps overlap its start.  ``rerun_command`` is
    what the failure block tells the user to run next (default: the
    ``nox -s release`` line for these packages and options).
    """
    with contextlib.ExitStack() as stack:
        stack.enter_context(unwind_on_signals())  # SIGTERM/SIGHUP unwind this block too
        stack.enter_context(smoke_ahead())  # smoke venvs made during check: removed at the end
        dist_root = None
        index = workspace.config.index(options.index)
        index_starting: Callable[[], IndexConfig] | None = None
        if options.rehearse or index.embedded:
            from releasekit.embedded_index import start_local_index

            if options.rehearse:
                dist_root = Path(
                    stack.enter_context(tempfile.TemporaryDirectory(prefix="rk-dist-"))
                )
            # started here, in the thread that runs the release (the server dies with the
            # thread that starts it); waited for before the first step that needs it
            server = stack.enter_context(
                start_local_index(remove_on_orphan=[dist_root] if dist_root else [])
            )
            # a rehearsal: third-party dependencies as the real release would get them
            dependency_url = index.dependency_url if options.rehearse else None
            index = _embedded(server.config, workspace, dependency_url)

            def wait_for_index() -> IndexConfig:
                return _embedded(server.wait(), workspace, dependency_url)

            index_starting = wait_for_index
            if options.rehearse:
                options = replace(options, index="local", push=False)
        testpypi = workspace.config.index("testpypi") if options.testpypi_first else None
        targets = plan_release(
            workspace,
            packages,
            options=options,
            versions=versions,
            steps=steps,
            dist_root=dist_root,
        )
        stack.enter_context(prepare_build_envs(workspace, targets, with_gate(steps), options))
        yield ReleaseRun(
            workspace=workspace,
            targets=targets,
            options=options,
            index=index,
            command_runner=command_runner or run_in_environment,
            confirm=confirm,
            testpypi=testpypi,
            rerun_command=rerun_command,
            publishing=any(step.remote for step in steps),
            index_starting=index_starting,
        )


def _embedded(index: IndexConfig, workspace: Workspace, dependency_url: str | None) -> IndexConfig:
    """The embedded index as a run uses it: the timeouts configured for ``local``, and (a
    rehearsal) the dependency index of the index the real release would go to."""
    configured = workspace.config.index("local")
    return replace(
        index,
        connect_timeout=configured.connect_timeout,
        read_timeout=configured.read_timeout,
        dependency_url=dependency_url,
    )
