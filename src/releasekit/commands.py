"""The lint and test commands of a package: which ones, the tools they name, running them.

A package's ``lint`` and ``test`` keys list its commands; when a key is
absent the defaults apply (ruff for lint; pytest on the package's test
folders for test).  They run in the package's root, through a
:data:`~releasekit.model.CommandRunner` (the nox session's venv, or this
interpreter's environment: :func:`run_in_environment`).
"""

from __future__ import annotations

import configparser
import contextlib
import logging
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from releasekit._process import run as run_process
from releasekit._text import output_tail
from releasekit.config import DEFAULT_LINT, read_pyproject
from releasekit.errors import CommandFailed, ReleaseError, ToolNotFound
from releasekit.model import CommandRunner, SkipStep, Target
from releasekit.workspace import Package

__all__ = [
    "configured_commands",
    "default_test_commands",
    "run_commands",
    "run_in_environment",
    "tools_named",
]

log = logging.getLogger("releasekit")


def _pytest_testpaths(root: Path) -> tuple[str, ...]:
    """``testpaths`` from the package's pytest configuration (pyproject, pytest.ini, ...)."""
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


def configured_commands(package: Package, kind: str) -> Sequence[str]:
    """The ``kind`` ("lint" or "test") commands of ``package``: configured, else the defaults."""
    configured: Sequence[str] | None = getattr(package.settings, kind)
    if configured is not None:
        return configured
    return DEFAULT_LINT if kind == "lint" else default_test_commands(package.root)


def tools_named(packages: Sequence[Package], kinds: Sequence[str]) -> list[str]:
    """The tools the ``kinds`` commands of ``packages`` run (``ruff``, ``pytest``...), by name."""
    tools: set[str] = set()
    for package in packages:
        for kind in kinds:
            for command in configured_commands(package, kind):
                words = shlex.split(command)
                if words[:2] == ["python", "-m"] and len(words) > 2:
                    tools.add(words[2])
                elif words and words[0] != "python":
                    tools.add(words[0])
    return sorted(tools)


def _commands(target: Target, kind: str) -> list[tuple[str, list[str]]]:
    """(the command with its fields filled in, for messages; its argument list)."""
    package = target.package
    version = str(target.version)
    return [
        (package.template(cmd, version), package.command(cmd, version))
        for cmd in configured_commands(package, kind)
    ]


def run_commands(runner: CommandRunner, target: Target, kind: str) -> str:
    """Run the ``kind`` commands of ``target`` in its root with ``runner``; first failure stops."""
    commands = _commands(target, kind)
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
            runner(args, target.package.root)
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


def run_in_environment(command: Sequence[str], cwd: Path, *, capture: bool = False) -> None:
    """Run a lint/test command in ``cwd`` with this interpreter's scripts first on PATH.

    Its output goes to the terminal as it comes; with ``capture`` it is kept,
    and shown only in the error if the command fails.
    """
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    args = list(command)
    if args and args[0] == "python":
        args[0] = sys.executable
    run_process(args, cwd=cwd, env=env, capture=capture, what=shlex.join(args))
