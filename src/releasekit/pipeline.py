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

Each is a :class:`Step` — a name, a function of ``(run, target)`` and
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
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from releasekit import checks, git
from releasekit._process import run as run_process
from releasekit._text import output_tail, shown_path
from releasekit.config import IndexConfig
from releasekit.errors import CommandFailed, ConfigError, ReleaseError, ToolNotFound
from releasekit.report import format_duration, format_table
from releasekit.session_names import nox_command
from releasekit.versioning import read_version
from releasekit.workspace import Package, Workspace

if TYPE_CHECKING:
    from releasekit.dists import Dists

__all__ = [
    "DEFAULT_STEPS",
    "GATE",
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


@dataclass
class Target:
    """One package of the release, and what the steps learned about it."""

    package: Package
    version: Version
    tag: str
    dist_dir: Path
    dists: Dists | None = None  # once built (or found in the dist folder)
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
        text += f"\n{len(self.records)} step(s) in {format_duration(total)}"
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


_DETAIL_WIDTH = 90


def _concise(detail: str) -> str:
    """A detail for the summary table: one line, no indent, at most _DETAIL_WIDTH long."""
    line = " ".join(detail.split())
    if len(line) > _DETAIL_WIDTH:
        line = line[: _DETAIL_WIDTH - 3].rstrip() + "..."
    return line


# --- the steps -----------------------------------------------------------------------------


def _once_for_all(
    run: ReleaseRun, name: str, target: Target, check_all: Callable[[ReleaseRun], dict[str, str]]
) -> str:
    """Run ``check_all`` once, for every package of the run; return ``target``'s detail.

    Steps that must report every problem of every package at once (preflight,
    the gate) do all their work when called for the first package and raise
    one error naming every package; the other packages get their line.
    """
    if name not in run.whole_run:
        run.whole_run[name] = check_all(run)
    return run.whole_run[name].get(target.package.name, "")


def _merged(findings: Sequence[checks.Finding]) -> list[checks.Finding]:
    """The same finding for several packages (a dirty tree) once, naming them all."""
    merged: dict[tuple[str, str, str], list[checks.Finding]] = {}
    for finding in findings:
        merged.setdefault((finding.check, finding.severity, finding.message), []).append(finding)
    out = []
    for same in merged.values():
        packages = ", ".join(dict.fromkeys(f.package for f in same if f.package))
        first = same[0]
        out.append(checks.Finding(first.check, first.severity, first.message, first.hint, packages))
    return out


def _detail(findings: Sequence[checks.Finding], package: str) -> str:
    mine = [f for f in findings if package in f.package.split(", ")]
    passed = sum(1 for f in mine if f.severity == "ok")
    warned = sum(1 for f in mine if f.severity == "warning")
    return f"{passed} checks passed" + (f", {warned} warning(s)" if warned else "")


def _preflight_all(run: ReleaseRun) -> dict[str, str]:
    releasing = {t.package.canonical_name: t.version for t in run.targets}

    def on_index(sibling: Package, version: Version) -> bool:
        from releasekit.index import files_on_index

        return bool(files_on_index(run.index, sibling.canonical_name, str(version)))

    findings: list[checks.Finding] = []
    active = [t for t in run.targets if not t.skip_reason]
    for target in active:
        findings += checks.preflight(
            run.workspace,
            target.package,
            target.version,
            rehearse=run.options.rehearse,
            releasing=releasing,
            index=run.index,
            on_index=on_index,
        )
    findings = _merged(findings)
    warnings = checks.require_preflight(findings)
    for warning in warnings:
        log.info("warning: %s: %s (%s)", warning.check, warning.message, warning.hint)
    return {t.package.name: _detail(findings, t.package.name) for t in active}


def step_preflight(run: ReleaseRun, target: Target) -> str:
    """Clean tree, branch, version, literals, notes, tag, sibling pins: every package at once."""
    return _once_for_all(run, "preflight", target, _preflight_all)


def _pytest_testpaths(root: Path) -> tuple[str, ...]:
    """``testpaths`` from the package's pytest configuration (pyproject, pytest.ini, ...)."""
    import configparser

    from releasekit.config import read_pyproject

    if (root / "pyproject.toml").is_file():
        with contextlib.suppress(ReleaseError):
            tool = read_pyproject(root / "pyproject.toml").get("tool", {})
            options = tool.get("pytest", {}).get("ini_options", {})
            paths = options.get("testpaths") if isinstance(options, dict) else None
            if isinstance(paths, str):
                return tuple(paths.split())
            if isinstance(paths, list) and paths:
                return tuple(str(p) for p in paths)
    for filename, section in (
        ("pytest.ini", "pytest"),
        ("tox.ini", "pytest"),
        ("setup.cfg", "tool:pytest"),
    ):
        if not (root / filename).is_file():
            continue
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(root / filename, encoding="utf-8")
        except configparser.Error:
            continue
        if parser.has_option(section, "testpaths"):
            return tuple(parser.get(section, "testpaths").split())
    return ()


def default_test_commands(root: Path) -> tuple[str, ...]:
    """The test commands used when ``test`` is not configured, for the package at ``root``.

    pytest on the folders named by pytest's own ``testpaths`` setting when any
    exists, else on ``tests/``, else on ``testing/``; none when there are no tests.
    """
    testpaths = _pytest_testpaths(root)
    found = [p for p in testpaths if any(root.glob(p))] if testpaths else []
    if found:
        return ("pytest",)  # pytest reads its testpaths itself, from the package root
    for folder in ("tests", "testing"):
        if (root / folder).is_dir():
            return (f"pytest {{path}}/{folder}",)
    return ()


def _commands(run: ReleaseRun, target: Target, kind: str) -> list[tuple[str, list[str]]]:
    """(the command with its fields filled in, for messages; its argument list)."""
    package = target.package
    configured = getattr(package.settings, kind)
    if configured is None:
        from releasekit.config import DEFAULT_LINT

        configured = DEFAULT_LINT if kind == "lint" else default_test_commands(package.root)
    version = str(target.version)
    return [(package.template(cmd, version), package.command(cmd, version)) for cmd in configured]


def _run_commands(run: ReleaseRun, target: Target, kind: str) -> str:
    commands = _commands(run, target, kind)
    if not commands:
        if kind == "test" and target.package.settings.test is None:
            raise SkipStep(
                "no tests found (pytest testpaths, tests/, testing/); set test = [...] to run some"
            )
        raise SkipStep(f"no {kind} commands configured")
    configured = getattr(target.package.settings, kind) is not None
    for command, args in commands:
        log.info("%s: %s", kind, shlex.join(args))
        try:
            run.command_runner(args, target.package.root)
        except CommandFailed as exc:
            if exc.returncode == 127 and "not found" in exc.message:
                tool = args[0]
                where = "your" if configured else "the default"
                raise ToolNotFound(
                    f"{kind} command {command!r} ({where} {kind}) needs {tool!r}, "
                    "which is not installed here",
                    f"install {tool!r} beside releasekit (e.g. add it to your dev dependencies), "
                    f"or set {kind} = [...] in [tool.releasekit] to the commands you use "
                    f"({kind} = [] for none)",
                    command=exc.command,
                    returncode=exc.returncode,
                ) from None
            shown = output_tail(exc.output or "")
            root = target.package.rel
            raise CommandFailed(
                f"{kind} command {command!r} failed (exit {exc.returncode})"
                + (f"\n{shown}" if shown else ""),
                f"run it in {root!r} to see why ({command}), fix the cause, commit, and run again",
                command=exc.command,
                returncode=exc.returncode,
                output=exc.output,
            ) from None
    return f"{len(commands)} command(s) passed"


def step_lint(run: ReleaseRun, target: Target) -> str:
    """The package's ``lint`` commands, in its root; the first failure stops."""
    return _run_commands(run, target, "lint")


def step_test(run: ReleaseRun, target: Target) -> str:
    """The package's ``test`` commands, in its root; the first failure stops."""
    return _run_commands(run, target, "test")


@contextlib.contextmanager
def source_date_epoch(repo: Path) -> Iterator[None]:
    """Set SOURCE_DATE_EPOCH to HEAD's commit time while building (reproducible dists)."""
    if "SOURCE_DATE_EPOCH" in os.environ:
        yield
        return
    os.environ["SOURCE_DATE_EPOCH"] = str(git.commit_time(repo, "HEAD"))
    try:
        yield
    finally:
        os.environ.pop("SOURCE_DATE_EPOCH", None)


def _resume_dists(run: ReleaseRun, target: Target) -> Dists | None:
    """Dists of an interrupted run that match what the index already holds, if any."""
    from releasekit.dists import find_dists
    from releasekit.index import file_sha256, files_on_index

    if run.options.rehearse or not run.publishing:
        return None
    remote = {
        f.filename: f.sha256
        for f in files_on_index(run.index, target.package.canonical_name, str(target.version))
    }
    if not remote:
        return None
    try:
        dists = find_dists(target.package, str(target.version), out_dir=target.dist_dir)
    except ReleaseError:
        return None
    local = {p.name: file_sha256(p) for p in dists.files}
    if all(remote.get(name) in (None, digest) for name, digest in local.items()) and any(
        name in remote for name in local
    ):
        return dists
    return None


def step_build(run: ReleaseRun, target: Target) -> str:
    """sdist, then the wheel from the sdist; an interrupted release reuses its files."""
    from releasekit.dists import build_dists

    resumed = _resume_dists(run, target)
    if resumed is not None:
        target.dists = resumed
        where = shown_path(target.dist_dir, run.workspace.root)
        raise SkipStep(f"resuming: the files in {where}/ match those on {run.index.name}")
    with source_date_epoch(run.workspace.root):
        dists = build_dists(target.package, str(target.version), out_dir=target.dist_dir)
    target.dists = dists
    return ", ".join(p.name for p in dists.files)


def target_dists(target: Target) -> Dists:
    """The target's sdist and wheels: those built by this run, else found in its dist dir."""
    from releasekit.dists import find_dists

    if target.dists is None:
        target.dists = find_dists(target.package, str(target.version), out_dir=target.dist_dir)
    return target.dists


def step_check(run: ReleaseRun, target: Target) -> str:
    """File names, twine check --strict, metadata, leak-lint."""
    from releasekit.dists import check_dists
    from releasekit.leaks import require_no_leaks

    dists = target_dists(target)
    lines = check_dists(target.package, str(target.version), dists)
    require_no_leaks(dists.files, allow=target.package.settings.leak_allow)
    return f"{len(lines)} checks passed, no leaks"


def step_smoke(run: ReleaseRun, target: Target) -> str:
    """Install the wheel in a fresh venv outside the repo; prove its version."""
    from releasekit.dists import smoke_test

    siblings = [
        t.dist_dir
        for t in run.targets
        if t is not target and not t.skip_reason and t.dist_dir.is_dir()
    ]
    # a requirement not built in this run comes from the index the release goes to
    # (third-party ones from its dependency index, when it has one); a rehearsal or a
    # build takes them from the dependency index, else PyPI
    if run.publishing and not run.options.rehearse:
        index_url, dependency_url = run.index.simple_url, run.index.dependency_url
    else:
        index_url, dependency_url = run.index.dependency_url, None
    proof = smoke_test(
        target.package,
        str(target.version),
        target_dists(target),
        find_links=siblings,
        index_url=index_url,
        dependency_index_url=dependency_url,
        own_names=[p.canonical_name for p in run.workspace.packages],
        logins=_logins(run.index),
    )
    return "; ".join(proof.lines[-2:])


def _logins(index: IndexConfig) -> dict[str, tuple[str, str]]:
    """The read logins of an index and of its dependency index, by URL (never shown)."""
    from releasekit.index import read_login

    logins: dict[str, tuple[str, str]] = {}
    for source in (index, index.dependency_index):
        login = read_login(source) if source is not None else None
        if login is not None and source is not None and source.simple_url:
            logins[source.simple_url] = (login.username, login.password)
    return logins


def step_sign(run: ReleaseRun, target: Target) -> str:
    """A sigstore bundle per file, verified at once (skipped when signing is off)."""
    from releasekit import signing

    if not run.signing_on:
        raise SkipStep("unsigned: no [tool.releasekit.signing] and no --sign")
    staging = run.staging
    if run.identity_token is not None:
        token = run.identity_token
    elif run.options.rehearse:
        try:
            token = signing.identity_token(staging=staging, interactive=False)
        except ReleaseError as exc:
            raise SkipStep(
                f"rehearsal without an identity token: not signed ({exc.message})"
            ) from None
    else:
        token = signing.identity_token(staging=staging)
    run.identity_token = token
    bundles = signing.sign_files(target_dists(target).files, token=token, staging=staging)
    target.signed = True
    return f"{len(bundles)} bundle(s) signed and verified"


def _gate_indexes(run: ReleaseRun) -> list[IndexConfig]:
    """The indexes the remote steps of this run upload to."""
    names = {step.name for step in run.steps}
    indexes = []
    if "testpypi" in names and run.testpypi is not None:
        indexes.append(run.testpypi)
    if "publish" in names:
        indexes.append(run.index)
    return indexes


def _signing_findings(run: ReleaseRun, active: Sequence[Target]) -> list[checks.Finding]:
    """Signing on: every package signed, and the identity token still usable for uploads."""
    if not run.signing_on or run.options.rehearse:
        return []
    findings = []
    if any(step.name == "sign" for step in run.steps):
        for target in active:
            if not target.signed:
                findings.append(
                    checks.Finding(
                        "signing identity",
                        "error",
                        f"{target.package.name} {target.version} was not signed",
                        "signing is on: get an identity token (docs/how-to/signing.md) "
                        "or release without --sign / [tool.releasekit.signing]",
                        target.package.name,
                    )
                )
    token = run.identity_token
    in_validity = getattr(token, "in_validity_period", None)
    if token is not None and callable(in_validity) and not in_validity():
        findings.append(
            checks.Finding(
                "signing identity",
                "error",
                "the sigstore identity token expired before the upload",
                "identity tokens live minutes: run again with a fresh token "
                "(SIGSTORE_IDENTITY_TOKEN, or the CI's id-token permission)",
            )
        )
    return findings


def _gate_all(run: ReleaseRun) -> dict[str, str]:
    """Every check that needs the index, the remote or a credential; every package at once."""
    active = [t for t in run.targets if not t.skip_reason]
    names = {step.name for step in run.steps}
    findings: list[checks.Finding] = []

    def add(package: str, found: Sequence[checks.Finding]) -> None:
        findings.extend(
            checks.Finding(f.check, f.severity, f.message, f.hint, package or f.package)
            for f in found
        )

    indexes = _gate_indexes(run)
    for index in indexes:
        uploads = False
        for target in active:
            try:
                files = list(target_dists(target).files)
            except ReleaseError as exc:
                add(target.package.name, [checks.Finding("dists", "error", exc.message, exc.hint)])
                continue
            found, count = checks.check_index(
                index, target.package.canonical_name, target.version, files
            )
            add(target.package.name, found)
            uploads = uploads or count > 0
        if uploads:
            add("", checks.check_credentials(index))
    if "tag" in names:
        for target in active:
            add(target.package.name, checks.check_tag_name(run.workspace, target.tag))
            if run.options.rehearse:
                continue
            add(target.package.name, checks.check_git_identity(run.workspace, target.tag))
            if run.options.push:
                add(
                    target.package.name,
                    checks.check_remote_tag(run.workspace, target.tag, run.options.remote),
                )
    if "github-release" in names and not run.options.rehearse and _github_release_wanted(run):
        add("", checks.check_github_credentials(run.workspace))
    findings += _signing_findings(run, active)
    checks.require_gate(findings)
    details = {}
    for target in active:
        mine = [f for f in findings if f.package in {target.package.name, ""}]
        reads = [f"{f.check[6:]}: {f.message}" for f in mine if f.check.startswith("index ")]
        details[target.package.name] = "; ".join([f"{len(mine)} checks passed", *reads])
    return details


def step_gate(run: ReleaseRun, target: Target) -> str:
    """Before anything leaves: index, credentials, remote, tag names, signing; all packages."""
    return _once_for_all(run, "gate", target, _gate_all)


def build_epoch(run: ReleaseRun) -> int:
    """The SOURCE_DATE_EPOCH the build step uses: the environment's, else HEAD's commit time."""
    given = os.environ.get("SOURCE_DATE_EPOCH", "")
    return int(given) if given.isdigit() else git.commit_time(run.workspace.root, "HEAD")


def _publish_to(run: ReleaseRun, target: Target, index: IndexConfig) -> str:
    from releasekit.publish import needs_confirmation, plan_publish, publish
    from releasekit.record import record_of, write_record

    dists = target_dists(target)
    files = list(dists.files)
    plan = plan_publish(index, target.package.canonical_name, str(target.version), files)
    # the release record: what is published, for `nox -s verify` and later runs to prove
    write_record(
        target.dist_dir,
        record_of(
            target.package.name,
            str(target.version),
            files,
            commit=git.head(run.workspace.root),
            tag=target.tag,
            source_date_epoch=build_epoch(run),
        ),
    )
    target.already[index.name] = [p.name for p in plan.already]
    if not plan.to_upload:
        target.published_to.append(index.name)
        raise SkipStep(f"already published on {index.name}: {len(plan.already)} file(s) match")
    interactive = sys.stdin is not None and sys.stdin.isatty()
    if needs_confirmation(index, yes=run.options.yes, interactive=interactive):
        question = (
            f"upload {len(plan.to_upload)} file(s) of {target.package.name} {target.version} "
            f"to {index.name}? This cannot be undone."
        )
        if run.confirm is None or not run.confirm(question):
            from releasekit.errors import CredentialsError

            raise CredentialsError(
                f"upload to {index.name} not confirmed",
                "answer 'y', or pass --yes (CI=true implies it)",
            )
    attestations = False
    from releasekit import signing

    # signed in this run, or by an earlier job that handed its files and bundles along
    signed = target.signed or (
        run.signing_on and all(signing.bundle_path(f).is_file() for f in files)
    )
    if index.is_pypi and signed:
        from releasekit.publish import upload_credentials

        if upload_credentials(index).password is None:  # trusted publishing
            if run.identity_token is None:
                run.identity_token = signing.identity_token(staging=run.staging, interactive=False)
            signing.make_attestations(files, token=run.identity_token, staging=run.staging)
            attestations = True
        else:
            log.info(
                "no PEP 740 attestations: %s takes them only with trusted publishing, "
                "and this upload uses a token",
                index.name,
            )
    result = publish(
        index,
        files,
        name=target.package.canonical_name,
        version=str(target.version),
        attestations=attestations,
        retries=run.options.upload_retries,
        backoff=run.options.upload_backoff,
        on_upload=target.uploaded.setdefault(index.name, []).append,
    )
    target.published_to.append(index.name)
    done = f"uploaded {len(result.uploaded)}"
    return done + (f", {len(result.skipped)} already there" if result.skipped else "")


def _verify_on(run: ReleaseRun, target: Target, index: IndexConfig) -> str:
    from releasekit.index import file_sha256
    from releasekit.verify import verify_published

    package = target.package
    from releasekit.signing import bundle_check

    # Signing configured and bundles beside the dists: every file the index serves
    # is checked against its bundle before it is installed.
    before_install = bundle_check(
        run.workspace.config.signing,
        bundle_dir=target.dist_dir,
        name=package.name,
        version=str(target.version),
        tag=target.tag,
        offline=run.options.rehearse,
    )
    dependency_index = index.dependency_index
    if dependency_index is None and index.embedded:
        # the throwaway embedded index holds our packages, not their third-party
        # dependencies: those may come from PyPI (ours still only from this index)
        dependency_index = run.workspace.config.index("pypi")
    report = verify_published(
        index,
        package.canonical_name,
        str(target.version),
        console_scripts=package.console_scripts,
        smoke=[shlex.join(package.command(s, str(target.version))) for s in package.settings.smoke],
        timeout=run.options.verify_timeout or package.settings.verify_timeout,
        dependency_index=dependency_index,
        own_names=[p.canonical_name for p in run.workspace.packages],
        before_install=before_install,
        expected={path.name: file_sha256(path) for path in target_dists(target).files},
        expected_source="the files this run built",
        source_date_epoch=build_epoch(run),
        require_reproducible=package.settings.reproducible,
    )
    target.reproducible = report.reproducible
    proofs = [line.strip() for line in report.lines if line.startswith(" ")]
    where = f"{' + '.join(report.checked)} from {index.name}"
    return f"{where}: {proofs[-1]}" if proofs else where


def step_testpypi(run: ReleaseRun, target: Target) -> str:
    """With --testpypi-first: publish to TestPyPI and verify from there."""
    if run.testpypi is None:
        raise SkipStep("no --testpypi-first")
    published = _publish_to(run, target, run.testpypi)
    verified = _verify_on(run, target, run.testpypi)
    return f"{published}; {verified}"


def step_publish(run: ReleaseRun, target: Target) -> str:
    """Upload the files the index lacks; files already there (same sha256) are skipped."""
    return _publish_to(run, target, run.index)


def step_verify(run: ReleaseRun, target: Target) -> str:
    """Fresh venvs, install the wheel and the sdist from the index only, prove the version."""
    return _verify_on(run, target, run.index)


def step_tag(run: ReleaseRun, target: Target) -> str:
    """The annotated tag, pushed (each skipped when done; not made in a rehearsal)."""
    root = run.workspace.root
    if run.options.rehearse:
        raise SkipStep(f"rehearsal: would tag {target.tag} and push it to {run.options.remote}")
    made = git.create_tag(root, target.tag, f"Release {target.package.name} {target.version}")
    target.tag_made = True
    line = "tagged" if made else "tag already there"
    if run.options.push:
        pushed = git.push_tag(root, target.tag, run.options.remote)
        target.tag_pushed = True
        line += f", {'pushed to' if pushed else 'already on'} {run.options.remote}"
    return f"{target.tag}: {line}"


def _github_release_wanted(run: ReleaseRun) -> bool:
    """--github-release, or inside GitHub Actions unless --no-github-release."""
    wanted = run.options.github_release
    if wanted is None:
        wanted = os.environ.get("GITHUB_ACTIONS") == "true"
    return wanted


def step_github_release(run: ReleaseRun, target: Target) -> str:
    """The GitHub release of the tag: notes, files and bundles (in GitHub Actions or asked)."""
    wanted = _github_release_wanted(run)
    if run.options.rehearse:
        raise SkipStep(f"rehearsal: would make the GitHub release of {target.tag}")
    if not wanted:
        raise SkipStep(
            "not in GitHub Actions: --github-release makes it, "
            "or later: " + nox_command("github-release", f"{target.package.name} {target.version}")
        )
    from releasekit.github import release_package

    result = release_package(
        run.workspace.root, target.package, target.version, target_dists(target).files
    )
    if not result.changed:
        raise SkipStep(result.describe())
    return result.describe()


DEFAULT_STEPS: tuple[Step, ...] = (
    Step("preflight", step_preflight, description="clean tree, branch, version, notes, tag, pins"),
    Step("lint", step_lint, description="the configured lint commands"),
    Step("test", step_test, description="the configured test commands"),
    Step("build", step_build, description="sdist, then the wheel from the sdist"),
    Step("check", step_check, description="twine check --strict, metadata, leak-lint"),
    Step("smoke", step_smoke, description="install the wheel in a fresh venv and prove it"),
    Step("sign", step_sign, description="sigstore bundle per file (when signing is on)"),
    Step(
        "gate", step_gate, description="index, credentials, remote, tag names, signing: all at once"
    ),
    Step("testpypi", step_testpypi, remote=True, description="publish + verify on TestPyPI"),
    Step("publish", step_publish, remote=True, description="upload what the index lacks"),
    Step("verify", step_verify, remote=True, description="install from the index, prove it"),
    Step("tag", step_tag, remote=True, description="annotated tag, pushed"),
    Step(
        "github-release",
        step_github_release,
        remote=True,
        description="GitHub release: notes, files, bundles (in GitHub Actions)",
    ),
)


# --- planning and running --------------------------------------------------------------------

GATE: Step = next(step for step in DEFAULT_STEPS if step.name == "gate")


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
        version = read_version(package)
        wanted = (versions or {}).get(package.canonical_name)
        if wanted is not None and wanted != version:
            from releasekit.errors import VersionError

            raise VersionError(
                f"{package.name} is at {version} in its source, not {wanted}",
                f"bump first (invoke bump --package {package.name} --to {wanted}) "
                "or leave the version out",
            )
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


def _fully_published(run: ReleaseRun, target: Target) -> str | None:
    """Why ``target`` needs nothing, or None: on the index (sdist + wheel) and tagged."""
    from releasekit.index import files_on_index

    if run.options.rehearse or not run.publishing:
        return None
    files = files_on_index(run.index, target.package.canonical_name, str(target.version))
    has_sdist = any(f.filename.endswith(".tar.gz") for f in files)
    has_wheel = any(f.filename.endswith(".whl") for f in files)
    if not (has_sdist and has_wheel):
        return None
    root = run.workspace.root
    local = git.tag_target(root, target.tag)
    if local is None:
        return None
    if run.options.push and git.remote_tag_target(root, target.tag, run.options.remote) != local:
        return None
    from releasekit.record import check_served, read_record, record_path

    name = f"{target.package.name} {target.version}"
    record = read_record(target.dist_dir, target.package.name, str(target.version))
    if record is None:
        log.info(
            "%s is on %s and tagged, but there is no release record here to compare with: "
            "the steps run and compare what they build with the index",
            name,
            run.index.name,
        )
        return None
    where = shown_path(record_path(target.dist_dir, target.package.name, str(target.version)), root)
    check_served(record.files, files, index=run.index.name, source=f"the record {where}")
    return f"{name} is already published on {run.index.name} (sha256 as recorded) and tagged"


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
    report = ReleaseReport(run.records, unsigned=run.publishing and not run.signing_on)
    for target in run.targets:
        try:
            target.skip_reason = _fully_published(run, target)
        except ReleaseError as exc:
            from releasekit.errors import DigestMismatch

            first = "verify" if isinstance(exc, DigestMismatch) else steps[0].name
            report.failed_step, report.error = first, exc
            report.failed_package = target.package.name if first == "verify" else None
            report.next_command = _next_command(run, steps[0])
            return report
        if target.skip_reason:
            log.info("%s: skipped", target.skip_reason)
            run.records.append(
                StepRecord("all", target.package.name, "skipped", 0.0, target.skip_reason)
            )
    for step in steps:
        if step.name == "testpypi" and run.testpypi is None:
            continue
        for target in run.targets:
            if target.skip_reason:
                continue
            if on_step is not None:
                on_step(step, target)
            report.sent = report.sent or (step.remote and not run.options.rehearse)
            started = time.monotonic()
            try:
                detail = step.action(run, target) or ""
                record = StepRecord(
                    step.name, target.package.name, "ok", time.monotonic() - started, detail
                )
            except SkipStep as skip:
                record = StepRecord(
                    step.name, target.package.name, "skipped", time.monotonic() - started, str(skip)
                )
            except ReleaseError as exc:
                record = StepRecord(
                    step.name,
                    target.package.name,
                    "FAILED",
                    time.monotonic() - started,
                    exc.message.splitlines()[0],
                )
                run.records.append(record)
                if on_record is not None:
                    on_record(record)
                report.failed_step = step.name
                report.failed_package = _failed_packages(exc, run.targets) or target.package.name
                report.error = exc
                report.next_command = _next_command(run, step)
                if report.sent:
                    report.left = _what_left(run)
                report.notes = _notes(run)
                return report
            run.records.append(record)
            if on_record is not None:
                on_record(record)
    report.notes = _notes(run)
    report.unsigned = (
        run.publishing
        and not any(t.signed for t in run.targets)
        and any(not t.skip_reason for t in run.targets)
    )
    return report


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
    embedded index; both are gone when the block ends.  ``rerun_command`` is
    what the failure block tells the user to run next (default: the
    ``nox -s release`` line for these packages and options).
    """
    from releasekit.interrupt import unwind_on_signals

    with contextlib.ExitStack() as stack:
        stack.enter_context(unwind_on_signals())  # SIGTERM/SIGHUP unwind this block too
        dist_root = None
        if options.rehearse:
            from releasekit.index import local_index

            dist_root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rk-dist-")))
            rehearsal_index = local_index(remove_on_orphan=[dist_root])
            # third-party dependencies as the real release would get them
            dependency_url = workspace.config.index(options.index).dependency_url
            index = _with_timeouts(stack.enter_context(rehearsal_index), workspace)
            index = replace(index, dependency_url=dependency_url)
            options = replace(options, index="local", push=False)
        else:
            config_index = workspace.config.index(options.index)
            if config_index.embedded:
                from releasekit.index import local_index

                index = _with_timeouts(stack.enter_context(local_index()), workspace)
            else:
                index = config_index
        testpypi = workspace.config.index("testpypi") if options.testpypi_first else None
        targets = plan_release(
            workspace,
            packages,
            options=options,
            versions=versions,
            steps=steps,
            dist_root=dist_root,
        )
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
        )


def _with_timeouts(index: IndexConfig, workspace: Workspace) -> IndexConfig:
    """The embedded index, with the connect/read timeouts configured for ``local``."""
    configured = workspace.config.index("local")
    return replace(
        index, connect_timeout=configured.connect_timeout, read_timeout=configured.read_timeout
    )


def run_in_environment(command: Sequence[str], cwd: Path) -> None:
    """Run a lint/test command in ``cwd`` with this interpreter's scripts first on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    args = list(command)
    if args and args[0] == "python":
        args[0] = sys.executable
    run_process(args, cwd=cwd, env=env, capture=False, what=shlex.join(args))
