"""nox sessions: lint, build, sign, testpypi, publish, verify, release, github-release.

Use from a project's ``noxfile.py``::

    import releasekit.nox
    releasekit.nox.install()                       # every session
    releasekit.nox.install(sessions=["build", "verify"], python="3.12")

Sessions run releasekit's core inside the nox process (releasekit is a dev
dependency beside nox); they never install releasekit into a session venv.
By default they make no venv at all (``venv_backend="none"``) and take the
tools that lint/test commands name from the environment.  Give ``python=``
(or ``backend=``) and each session gets its own venv — nox's uv backend
when uv is present — and the tools the lint/test commands name (``ruff``,
``pytest``...) are installed into it by name.

Arguments after ``--``: packages by name or path (or ``--all``), a version
where it applies (``0.1.0a2`` or ``oxi-core==0.1.0a2``), and options.  A
:class:`~releasekit.errors.ReleaseError` ends the session with one error
line and a hint; ``--debug`` shows the traceback instead.

A project that wants its own pipeline calls :func:`run_pipeline` from its own
session with a step list composed from :data:`releasekit.pipeline.DEFAULT_STEPS`
(see docs/how-to/custom-pipeline.md).
"""

from __future__ import annotations

import argparse
import contextvars
import difflib
import functools
import logging
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import nox
from nox.command import CommandFailed as NoxCommandFailed
from packaging.version import InvalidVersion as PackagingInvalidVersion
from packaging.version import Version

from releasekit import checks, commands, console, model, output, pipeline, steps
from releasekit._process import find_uv
from releasekit._secrets import scrubbed_env
from releasekit.errors import CommandFailed, ReleaseError, SessionClash, UnknownSession
from releasekit.interrupt import unwind_on_signals
from releasekit.report import format_duration
from releasekit.session_names import set_session_names
from releasekit.version_source import read_version
from releasekit.versions import parse_version
from releasekit.workflow import package_for_tag
from releasekit.workspace import Package, Workspace, load_workspace

__all__ = ["SESSIONS", "install", "run_pipeline"]

# record, dists and github are imported in the sessions that use them: they load requests,
# build and twine, which every `nox -l` (the noxfile imports this module) would pay for


class _UsageError(ReleaseError):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that raises a ReleaseError instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: {message}", f"see the flags: nox -s {self.prog} -- --help")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            print(message, file=sys.stderr)
        raise _HelpShown


class _HelpShown(Exception):
    pass


@dataclass
class Args:
    """What the positional arguments and options of a session mean."""

    packages: list[str] = field(default_factory=list)
    versions: dict[str, Version] = field(default_factory=dict)
    version: Version | None = None
    options: argparse.Namespace = field(default_factory=argparse.Namespace)


def _parser(name: str, *, index: bool = False) -> _Parser:
    parser = _Parser(prog=name, add_help=True)
    parser.add_argument(
        "targets",
        nargs="*",
        metavar="PACKAGE|VERSION",
        help="package by name or path; a version (0.1.0a2) or name==version where it applies",
    )
    parser.add_argument("--all", action="store_true", help="every package, in dependency order")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", help="errors and the result only")
    parser.add_argument("-v", "--verbose", action="store_true", help="also every command run")
    parser.add_argument("--plan", action="store_true", help="print the steps, run nothing")
    parser.add_argument(
        "--json", action="store_true", help="one JSON document on stdout, human output on stderr"
    )
    if index:
        parser.add_argument("--index", default="pypi", help="pypi, testpypi, local or NAME")
        parser.add_argument("--yes", action="store_true", help="no confirmation (CI implies it)")
    return parser


def _split_targets(workspace: Workspace, tokens: Sequence[str]) -> Args:
    args = Args()
    for token in tokens:
        if "==" in token:
            name, _, text = token.partition("==")
            package = workspace.get(name)
            args.packages.append(name)
            args.versions[package.canonical_name] = parse_version(text)
            continue
        try:
            workspace.get(token)
        except ReleaseError as not_a_package:
            tagged = package_for_tag(workspace, token)
            if tagged is not None:  # a release tag: its package at its version
                args.packages.append(tagged[0].name)
                args.versions[tagged[0].canonical_name] = tagged[1]
                continue
            try:
                args.version = Version(token)
            except PackagingInvalidVersion:
                raise not_a_package from None  # neither a package, a tag, nor a version
            continue
        args.packages.append(token)
    return args


def _select(workspace: Workspace, args: Args, all_: bool) -> list[Package]:
    packages = workspace.select(args.packages, all_packages=all_)
    if args.version is not None:
        if len(packages) != 1:
            raise _UsageError(
                f"a bare version ({args.version}) is ambiguous with several packages",
                "write it as NAME==VERSION",
            )
        args.versions[packages[0].canonical_name] = args.version
    return packages


_emit: contextvars.ContextVar[Callable[[dict[str, Any]], None]] = contextvars.ContextVar("emit")


def _emit_json(doc: dict[str, Any]) -> None:
    """Hand ``doc`` to the one JSON document of this session (with --json)."""
    emit = _emit.get(None)
    if emit is not None:
        emit(doc)


def _report_errors(session: nox.Session, body: Callable[[], None]) -> None:
    """Run ``body``; a ReleaseError ends the session with its message and hint.

    With ``--json`` everything but the one JSON document goes to stderr, and a
    ReleaseError is also that document (``ok: false`` with the error and hint).
    """
    debug = "--debug" in session.posargs or bool(os.environ.get("RELEASEKIT_DEBUG"))
    json_mode = "--json" in session.posargs
    console.show_progress(sys.stderr, debug=debug, verbosity=console.verbosity(session.posargs))
    logging.getLogger("charset_normalizer").setLevel(logging.DEBUG if debug else logging.WARNING)
    with output.json_stdout(json_mode) as emit:
        token = _emit.set(emit) if json_mode else None
        try:
            with unwind_on_signals():  # SIGTERM/SIGHUP clean up as Ctrl-C does
                body()
        except _HelpShown:
            return
        except ReleaseError as exc:
            if debug:
                raise
            if json_mode:
                emit(output.error_document(_KINDS.get(session.name, "release"), exc))
            console.say(f"error: {exc.render()}", sys.stderr)  # not run into nox's "(took...)"
            session.error("see the error above")
        finally:
            if token is not None:
                _emit.reset(token)


_KINDS = {"verify": "verify"}


def _guarded(body: Callable[[nox.Session], None]) -> Callable[[nox.Session], None]:
    @functools.wraps(body)
    def session_body(session: nox.Session) -> None:
        _report_errors(session, lambda: body(session))

    return session_body


def _child_env(session: nox.Session) -> dict[str, str | None]:
    """The environment of a command nox runs for us: no credentials (see releasekit._secrets)."""
    return {**scrubbed_env(), **session.env}  # the session venv's own variables win


def _runner(session: nox.Session, *, quiet: bool = False) -> model.CommandRunner:
    """Run lint/test commands in the session's venv when it has one."""
    if not isinstance(session.virtualenv, nox.virtualenv.PassthroughEnv):

        def in_session(command: Sequence[str], cwd: Path) -> None:
            with session.chdir(cwd):
                try:
                    session.run(*command, env=_child_env(session), include_outer_env=False)
                except NoxCommandFailed as exc:
                    reason = exc.reason or ""
                    if reason.startswith("Program ") and reason.endswith("not found"):
                        raise CommandFailed(
                            f"{command[0]!r} was not found",
                            f"install {command[0]!r}",
                            command=command,
                            returncode=127,
                        ) from None
                    raise CommandFailed(
                        f"{shlex.join(command)} failed: {exc.reason or 'non-zero exit'}",
                        "read its output above, fix the cause, and run again",
                        command=command,
                    ) from None

        return in_session
    return functools.partial(commands.run_in_environment, capture=quiet)


def _install_tools(session: nox.Session, packages: Sequence[Package], kinds: Sequence[str]) -> None:
    """In a session venv, install the tools the lint/test commands name."""
    if isinstance(session.virtualenv, nox.virtualenv.PassthroughEnv):
        return
    tools = commands.tools_named(packages, kinds)
    if tools:
        session.install(*tools, env=_child_env(session), include_outer_env=False)


def _confirm(question: str) -> bool:
    try:
        return input(f"{question} [y/N] ").strip().lower() in {"y", "yes"}
    except EOFError:
        return False


def _interactive() -> bool:
    """Whether someone can answer a question or sign in at a browser: a terminal, not CI."""
    return sys.stdin is not None and sys.stdin.isatty() and not os.environ.get("CI")


def _release_options(ns: argparse.Namespace, **overrides: Any) -> pipeline.ReleaseOptions:
    values: dict[str, Any] = {
        "index": getattr(ns, "index", "pypi"),
        "rehearse": getattr(ns, "rehearse", False),
        "sign": True if getattr(ns, "sign", False) else None,
        "staging": getattr(ns, "staging", False),
        "yes": getattr(ns, "yes", False) or bool(os.environ.get("CI")),
        "testpypi_first": getattr(ns, "testpypi_first", False),
        "push": not getattr(ns, "no_push", False),
        "verify_timeout": getattr(ns, "timeout", None),
        "github_release": getattr(ns, "github_release", None),
        "interactive": _interactive(),
    }
    if getattr(ns, "retries", None) is not None:
        values["upload_retries"] = ns.retries
    values.update(overrides)
    return pipeline.ReleaseOptions(**values)


def _run_steps(
    session: nox.Session,
    name: str,
    steps: Sequence[pipeline.Step],
    parser: _Parser,
    **overrides: Any,
) -> None:
    """Parse, plan and run ``steps``; print the summary; fail the session on failure."""
    steps = pipeline.with_gate(steps)
    pipeline.check_step_order(steps)
    ns = parser.parse_args(session.posargs)
    workspace = load_workspace()
    args = _split_targets(workspace, ns.targets)
    packages = _select(workspace, args, ns.all)
    options = _release_options(ns, **overrides)
    if ns.plan:
        targets = pipeline.plan_release(
            workspace, packages, options=options, versions=args.versions, steps=steps
        )
        findings = pipeline.plan_findings(workspace, targets, options, steps)
        print(pipeline.describe_plan(targets, options, steps, findings), flush=True)
        if ns.json:
            _emit_json(output.plan_document(name, targets, options, steps))
        checks.require_gate(findings, planned=True)
        return
    _install_tools(session, packages, [s.name for s in steps if s.name in {"lint", "test"}])
    rerun = f"nox -s {session.name}" + (
        f" -- {shlex.join(session.posargs)}" if session.posargs else ""
    )
    with pipeline.release_run(
        workspace,
        packages,
        options=options,
        command_runner=_runner(session, quiet=console.verbosity(session.posargs) < 0),
        confirm=_confirm,
        versions=args.versions,
        steps=steps,
        rerun_command=rerun,
    ) as run:
        what = ", ".join(f"{t.package.name} {t.version}" for t in run.targets)
        where = (
            f"index: {run.index.name}{' (rehearsal)' if options.rehearse else ''}"
            if run.publishing
            else "local steps only"
        )
        names = [s.name for s in steps if s.name != "testpypi" or run.testpypi is not None]
        say = console.unless_quiet(session.log, session.posargs)
        say(f"{name}: {what} ({where}); steps: {', '.join(names)}")

        def on_step(step: pipeline.Step, target: pipeline.Target) -> None:
            say(f"── {step.name} · {target.package.name} {target.version} ──")

        def on_record(record: pipeline.StepRecord) -> None:
            detail = f": {record.detail}" if record.detail else ""
            say(f"   {record.step} {record.result} in {format_duration(record.seconds)}{detail}")

        report = pipeline.run_release(run, steps, on_step=on_step, on_record=on_record)
        doc = output.release_document(name, run, report, steps)  # while the files are there
    console.show_summary(report, console.verbosity(session.posargs), f"{name} ok: {what} ({where})")
    if ns.json:
        _emit_json(doc)
    output.write_actions_files(doc)
    if not report.ok:
        if ns.debug and report.error is not None:
            raise report.error
        session.error(f"{name} failed at step {report.failed_step!r}: see above")


def _steps(*names: str) -> list[pipeline.Step]:
    by_name = {s.name: s for s in pipeline.DEFAULT_STEPS}
    return [by_name[n] for n in names]


# --- the sessions --------------------------------------------------------------------------------


def lint(session: nox.Session) -> None:
    """Run the configured lint commands on the selected packages (-- PACKAGE... | --all)."""
    _run_steps(session, "lint", _steps("lint"), _parser("lint"))


def build(session: nox.Session) -> None:
    """Build sdist + wheel (from the sdist) into dist/<name>/, check, leak-lint, smoke-test.

    --preflight runs preflight, lint and test first (the release workflow's build job).
    """
    parser = _parser("build")
    parser.add_argument(
        "--preflight", action="store_true", help="preflight, lint and test first (as in CI)"
    )
    names: tuple[str, ...] = ("build", "check", "smoke")
    if "--preflight" in session.posargs:
        names = ("preflight", "lint", "test", *names)
    _run_steps(session, "build", _steps(*names), parser)


def sign(session: nox.Session) -> None:
    """Sign every dist in dist/<name>/ with sigstore (<file>.sigstore.json) and verify it."""
    parser = _parser("sign")
    parser.add_argument("--staging", action="store_true", help="sigstore's staging instance")
    _run_steps(session, "sign", _steps("sign"), parser, sign=True)


def testpypi(session: nox.Session) -> None:
    """Publish dist/<name>/ to TestPyPI, then verify the version from there."""
    parser = _parser("testpypi")
    parser.add_argument("--yes", action="store_true", help="no confirmation")
    parser.add_argument("--timeout", type=float, default=None, help="verify wait, seconds")
    _run_steps(session, "testpypi", _steps("publish", "verify"), parser, index="testpypi")


def publish(session: nox.Session) -> None:
    """Upload dist/<name>/ to --index (default pypi); skips files already there; resumable."""
    parser = _parser("publish", index=True)
    _add_retries(parser)
    _run_steps(session, "publish", _steps("publish"), parser)


def verify(session: nox.Session) -> None:
    """Install [PACKAGE] VERSION from --index into a fresh venv and prove it (--wheel/--sdist)."""
    parser = _parser("verify", index=True)
    parser.add_argument("--wheel", action="store_true", help="verify the wheel only")
    parser.add_argument("--sdist", action="store_true", help="verify the sdist only")
    parser.add_argument("--timeout", type=float, default=None, help="seconds to wait for the index")
    parser.add_argument(
        "--bundles",
        default=None,
        metavar="DIR",
        help="where the release record and sigstore bundles are (default: dist/<name>/)",
    )
    ns = parser.parse_args(session.posargs)
    workspace = load_workspace()
    args = _split_targets(workspace, ns.targets)
    packages = _select(workspace, args, ns.all)
    from releasekit.record import verify_basis

    kinds: list[Any] = [k for k, on in (("wheel", ns.wheel), ("sdist", ns.sdist)) if on]
    kinds = kinds or ["wheel", "sdist"]
    index = workspace.config.index(ns.index)
    if index.embedded:
        raise _UsageError(
            "the embedded local index lives only inside one session",
            "verify against a running index (--index NAME), "
            "or rehearse: nox -s release -- --rehearse",
        )
    reports = []
    for package in packages:
        wanted = str(args.versions.get(package.canonical_name) or read_version(package))
        if ns.plan:
            print(f"would verify {package.name} {wanted} from {index.name} ({', '.join(kinds)})")
            continue
        record_dir = Path(ns.bundles).resolve() if ns.bundles else package.dist_dir
        basis = verify_basis(workspace.root, package.name, wanted, package.tag(wanted), record_dir)
        if basis.note:
            session.log(basis.note)
        report = steps.verify_package(
            workspace, package, wanted, index, basis,
            bundle_dir=record_dir, kinds=kinds, timeout=ns.timeout,
        )  # fmt: skip
        for line in report.lines:
            session.log(line)
        session.log(f"verified {package.name} {wanted} on {index.name}")
        reports.append(report)
    if ns.json and not ns.plan:
        _emit_json(output.verify_document(index.name, reports))


def _add_retries(parser: _Parser) -> None:
    parser.add_argument(
        "--retries",
        type=int,
        default=None,
        metavar="N",
        help="retries per file on a transient upload failure (default 3)",
    )


def _release_parser(name: str) -> _Parser:
    parser = _parser(name, index=True)
    parser.add_argument("--rehearse", action="store_true", help="embedded index, no tag, no trace")
    parser.add_argument("--sign", action="store_true", help="sign even without [signing] config")
    parser.add_argument("--staging", action="store_true", help="sigstore's staging instance")
    parser.add_argument(
        "--testpypi-first",
        action="store_true",
        help="publish and verify on TestPyPI before --index",
    )
    parser.add_argument("--no-push", action="store_true", help="tag locally, do not push")
    parser.add_argument(
        "--github-release",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="make the GitHub release after the tag (default: only in GitHub Actions)",
    )
    parser.add_argument("--timeout", type=float, default=None, help="verify wait, seconds")
    _add_retries(parser)
    return parser


def release(session: nox.Session) -> None:
    """The whole pipeline: preflight, lint, test, build, check, smoke, sign, publish, verify, tag.

    --rehearse runs it all against a throwaway embedded index and leaves no trace.
    """
    _run_steps(session, "release", pipeline.DEFAULT_STEPS, _release_parser("release"))


def run_pipeline(
    session: nox.Session, steps: Sequence[pipeline.Step] = pipeline.DEFAULT_STEPS
) -> None:
    """Run ``steps`` as the ``release`` session does, from a session of your own.

    Takes the same arguments and flags as ``nox -s release`` (packages,
    ``--all``, ``--index``, ``--rehearse``, ``--plan``...), prints the same
    step headers, summary table and failure block, and turns a
    :class:`~releasekit.errors.ReleaseError` into ``session.error``.  A step
    list whose local steps do not all come before its remote ones is refused.
    """
    _report_errors(
        session,
        lambda: _run_steps(session, session.name, steps, _release_parser(session.name)),
    )


def github_release(session: nox.Session) -> None:
    """Create or update the GitHub release of [PACKAGE] [VERSION]: notes, dists, bundles."""
    parser = _parser("github-release")
    ns = parser.parse_args(session.posargs)
    workspace = load_workspace()
    args = _split_targets(workspace, ns.targets)
    packages = _select(workspace, args, ns.all)
    from releasekit.dists import find_dists
    from releasekit.github import release_assets, release_package

    for package in packages:
        version = args.versions.get(package.canonical_name) or read_version(package)
        files = find_dists(package, str(version)).files
        if ns.plan:
            names = ", ".join(p.name for p in release_assets(files))
            print(f"would make the GitHub release {package.tag(str(version))}: {names}")
            continue
        result = release_package(workspace.root, package, version, files)
        session.log(result.describe() + (f": {result.url}" if result.url else ""))


def _unknown_sessions(unknown: Sequence[str]) -> UnknownSession:
    nearest = [m for name in unknown for m in difflib.get_close_matches(name, SESSIONS, 1)]
    return UnknownSession(
        f"releasekit.nox.install() has no session(s) {', '.join(repr(u) for u in unknown)}"
        + (f" (did you mean {', '.join(repr(n) for n in nearest)}?)" if nearest else ""),
        f"releasekit's sessions are {', '.join(SESSIONS)}: "
        "pass some of them to install(sessions=[...])",
    )


SESSIONS: dict[str, Callable[[nox.Session], None]] = {
    "lint": lint,
    "build": build,
    "sign": sign,
    "testpypi": testpypi,
    "publish": publish,
    "verify": verify,
    "release": release,
    "github-release": github_release,
}


def install(
    sessions: Sequence[str] | None = None,
    *,
    python: str | Sequence[str] | bool | None = None,
    backend: str | None = None,
    prefix: str = "",
) -> list[str]:
    """Register releasekit's sessions in the calling noxfile; returns their names.

    ``sessions`` picks some (default: all).  ``python``/``backend`` give each
    session its own venv (uv backend when uv is present); by default sessions
    run in nox's own environment.  ``prefix`` renames them (``rk-build``...).
    """
    chosen = list(sessions) if sessions is not None else list(SESSIONS)
    unknown = [s for s in chosen if s not in SESSIONS]
    if unknown:
        # the noxfile is still loading: end nox with the two lines, as for a clash below
        raise SystemExit(_unknown_sessions(unknown).render())
    if python is None and backend is None:
        venv_backend: str | None = "none"
    else:
        venv_backend = backend or ("uv" if find_uv() else "virtualenv")
    existing = nox.registry.get()
    clashes = [f"{prefix}{name}" for name in chosen if f"{prefix}{name}" in existing]
    if clashes:
        listed = ", ".join(repr(c) for c in clashes)
        mine = [n for n in chosen if f"{prefix}{n}" not in existing]
        clash = SessionClash(
            f"releasekit.nox.install() would replace the session(s) {listed} "
            "that this noxfile already defines",
            'keep yours and give releasekit\'s another name with install(prefix="rk-"), '
            f"or install only the others: install(sessions={mine!r})",
        )
        # the noxfile is still loading: no session to fail, so end nox the way it ends
        # on a bad noxfile, with the two lines and no traceback
        raise SystemExit(clash.render())
    registered = []
    for name in chosen:
        body = _guarded(SESSIONS[name])
        full = f"{prefix}{name}"
        nox.session(python=python, name=full, venv_backend=venv_backend, default=False)(body)
        registered.append(full)
    set_session_names({name: f"{prefix}{name}" for name in chosen})
    return registered
