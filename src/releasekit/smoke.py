"""Prove that a version installed and says so; the smoke test of freshly built dists.

:func:`prove_installed` asks a venv itself what got installed and checks
what a user would notice: the installed metadata version, ``__version__`` of
the import packages, and the console scripts (or the configured ``smoke``
commands) printing the version.  Verify runs it after installing from an
index; :func:`smoke_test` runs it after installing the freshly built wheel
into a fresh venv outside the repository (see :mod:`releasekit.venvs`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import sys_tags
from packaging.utils import canonicalize_name
from packaging.version import Version

from releasekit._dist_names import dist_filename_or_none, parse_dist_filename
from releasekit._probe import PROBE, PROBE_MARKER
from releasekit._process import run
from releasekit._text import last_line
from releasekit.errors import CommandFailed, ConfigError, InstallFailed, SmokeFailed
from releasekit.session_names import nox_command
from releasekit.venvs import InstallOptions, Venv, create_venv, install_into, isolated_env
from releasekit.versions import parse_version, same_version
from releasekit.workspace import Package

if TYPE_CHECKING:
    from releasekit.dists import Dists

__all__ = ["Proof", "prove_installed", "smoke_test"]

log = logging.getLogger("releasekit")

_SMOKE_TIMEOUT = 120.0


@dataclass(frozen=True)
class Proof:
    """The evidence that a version installed and proves itself, one line per check."""

    lines: tuple[str, ...]

    def __str__(self) -> str:
        return "\n".join(self.lines)


def _prints_version(output: str, version: str, wanted: Version) -> bool:
    for spelling in {version, str(wanted)}:
        pattern = rf"(?<![\w.+-])v?{re.escape(spelling)}(?![\w+]|\.\w)"
        if re.search(pattern, output):
            return True
    return False


def _summary(output: str) -> str:
    """The output as one line: up to its first three non-empty lines."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return " | ".join(lines[:3])


def _probe(
    venv: Venv, name: str, import_names: Sequence[str] | None, cwd: Path
) -> dict[str, object]:
    wanted = json.dumps(None if import_names is None else list(import_names))
    script = venv.path / "releasekit-probe.py"  # in the venv's root, never on sys.path (-I)
    script.write_text(PROBE, encoding="utf-8")
    proc = run(
        [str(venv.python), "-I", str(script), name, wanted],
        cwd=cwd,
        env=isolated_env(),
        what=f"inspecting the installed {name}",
        hint="the venv's interpreter could not run; recreate the venv",
        timeout=_SMOKE_TIMEOUT,
    )
    for line in reversed((proc.stdout or "").splitlines()):
        if line.startswith(PROBE_MARKER):
            result: dict[str, object] = json.loads(line[len(PROBE_MARKER) :])
            return result
    raise SmokeFailed(
        f"inspecting the installed {name!r} printed no result: {_summary(proc.stdout or '')!r}",
        "run the venv's python by hand and import the package to see what happens",
    )


def _smoke_commands(
    name: str, version: str, console_scripts: Sequence[str], smoke: Sequence[str]
) -> list[tuple[str, str | None]]:
    """(command line, console script it runs or None) for every check to run."""
    templates = list(smoke) or ["{script} --version"]
    commands: list[tuple[str, str | None]] = []
    for template in templates:
        filled = template.replace("{name}", name).replace("{version}", version)
        if "{script}" in filled:
            if not console_scripts and smoke:
                raise ConfigError(
                    f"smoke command {template!r} uses {{script}}, "
                    f"but {name!r} has no console scripts",
                    "drop {script} from the smoke commands, or add [project.scripts]",
                )
            commands += [(filled.replace("{script}", script), script) for script in console_scripts]
        else:
            commands.append((filled, None))
    return commands


@dataclass
class _Proving:
    """The checklist of one proof: what passed, what failed and what to do about it."""

    name: str
    version: str
    wanted: Version
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    def passed(self, line: str) -> None:
        self.lines.append(line)

    def failed(self, problem: str, hint: str) -> None:
        self.problems.append(problem)
        self.hints.append(hint)


def prove_installed(
    venv: Venv,
    name: str,
    version: str,
    *,
    cwd: Path,
    console_scripts: Sequence[str] = (),
    smoke: Sequence[str] = (),
    import_names: Sequence[str] | None = None,
) -> Proof:
    """Prove that ``name`` ``version`` is what ``venv`` has installed, and that it says so.

    Checks, all run with ``cwd`` (outside any repository) and an isolated
    environment: the installed metadata version; ``__version__`` of each
    top-level import package (``import_names``, or those the distribution's
    RECORD lists) where it is defined; then every ``smoke`` command (templates
    with ``{script}``, ``{name}``, ``{version}``; the venv's scripts folder first
    on ``PATH``), or ``SCRIPT --version`` for each console script when ``smoke``
    is empty.  Each command must exit 0 and print the version.  Every failure
    is collected into one :class:`~releasekit.errors.SmokeFailed`.
    """
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    proving = _Proving(name, version, parse_version(version))
    commands = _Proving(name, version, proving.wanted)
    # The probe and the smoke commands are processes that share nothing but the venv, which
    # they only read: they run side by side (each in this context: the deadline goes along).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="releasekit-smoke") as pool:
        smoked = pool.submit(
            contextvars.copy_context().run,
            _check_smoke_commands, commands, venv, cwd, console_scripts, smoke,
        )  # fmt: skip
        result = _probe(venv, name, import_names, cwd)
    installed = result.get("installed")
    if not isinstance(installed, str):
        raise SmokeFailed(
            f"{name!r} is not installed in the venv at {str(venv.path)!r}",
            "check the distribution name; the install step must have put it there",
        )
    _check_metadata_version(proving, installed)
    _check_import_versions(proving, installed, result, venv)
    smoked.result()
    proving.lines += commands.lines
    proving.problems += commands.problems
    proving.hints += commands.hints
    if proving.problems:
        raise SmokeFailed(
            f"{name} {version} does not prove its version: " + "; ".join(proving.problems),
            "; ".join(dict.fromkeys(proving.hints)),
        )
    return Proof(tuple(proving.lines))


def _check_metadata_version(proving: _Proving, installed: str) -> None:
    """The installed distribution's metadata carries the version."""
    if same_version(installed, proving.wanted):
        proving.passed(f"installed {proving.name} {installed}")
    else:
        proving.failed(
            f"the installed {proving.name} is {installed!r}, not {proving.version!r}",
            "the install picked another version: check the index and the pins",
        )


def _check_import_versions(
    proving: _Proving, installed: str, result: Mapping[str, object], venv: Venv
) -> None:
    """Each import package imports from the venv, and its ``__version__`` (if any) agrees."""
    modules = result.get("modules")
    prefix = Path(str(result.get("prefix", venv.path))).resolve()
    for module, info in (modules if isinstance(modules, dict) else {}).items():
        if not isinstance(info, dict):
            continue
        if "error" in info:
            proving.failed(
                f"import {module} failed: {info['error']}",
                f"install the wheel by hand and run python -c 'import {module}'",
            )
            continue
        where = info.get("file")
        if isinstance(where, str) and not Path(where).resolve().is_relative_to(prefix):
            proving.failed(
                f"{module} was imported from {where!r}, outside the venv",
                "run from a directory outside the repository",
            )
            continue
        module_version = info.get("version")
        if module_version is None:
            proving.passed(f"import {module} (no __version__; its metadata says {installed})")
        elif same_version(module_version, proving.wanted):
            proving.passed(f"{module}.__version__ == {module_version}")
        else:
            proving.failed(
                f"{module}.__version__ is {module_version!r}, not {proving.version!r}",
                f"a hardcoded __version__ in {module}: use "
                f"importlib.metadata.version({proving.name!r}) instead of a literal",
            )


def _check_smoke_commands(
    proving: _Proving,
    venv: Venv,
    cwd: Path,
    console_scripts: Sequence[str],
    smoke: Sequence[str],
) -> None:
    """Every smoke command (or ``SCRIPT --version``) runs in the venv and prints the version."""
    path = os.pathsep.join([str(venv.bin_dir), os.environ.get("PATH", "")])
    env = isolated_env(PATH=path, VIRTUAL_ENV=str(venv.path))
    name, version = proving.name, proving.version
    for command_line, script in _smoke_commands(name, version, console_scripts, smoke):
        if script is not None and not venv.script(script).exists():
            proving.failed(
                f"console script {script!r} was not installed",
                "check [project.scripts] and that the wheel contains its module",
            )
            continue
        argv = shlex.split(command_line)
        executable = shutil.which(argv[0], path=path) if argv else None
        if executable is None:
            proving.failed(
                f"smoke command {command_line!r}: {argv[0] if argv else ''!r} not found",
                "smoke commands run in the fresh venv: name a console script or python",
            )
            continue
        proc = run(
            [executable, *argv[1:]],
            cwd=cwd,
            env=env,
            check=False,
            what=f"smoke command {command_line!r}",
            timeout=_SMOKE_TIMEOUT,
        )
        _judge_smoke_output(proving, command_line, script, proc.returncode, proc.stdout or "")


def _judge_smoke_output(
    proving: _Proving, command_line: str, script: str | None, returncode: int, output: str
) -> None:
    """A smoke command passes when it exits 0 and prints the version."""
    shown = _summary(output)
    if returncode != 0:
        proving.failed(
            f"{command_line!r} exited {returncode}: {shown!r}",
            f"run {command_line!r} in a fresh venv to see the error",
        )
    elif not _prints_version(output, proving.version, proving.wanted):
        proving.failed(
            f"{command_line!r} printed {shown!r}, not the version {proving.version!r}",
            f"the version shown by {script!r} must come from "
            f"importlib.metadata.version({proving.name!r}), not a literal"
            if script is not None
            else "make the smoke command print the installed version",
        )
    else:
        proving.passed(f"{command_line} -> {shown}")


# --- the smoke test of built dists ------------------------------------------------


def _installable_wheel(dists: Dists) -> Path:
    supported = set(sys_tags())
    for wheel in dists.wheels:
        if parse_dist_filename(wheel.name).tags & supported:
            return wheel
    raise SmokeFailed(
        f"no wheel of {dists.sdist.name!r} installs on this interpreter: "
        f"{[wheel.name for wheel in dists.wheels]!r}",
        "run the smoke test on a platform one of the wheels is built for",
    )


def _requirements(package: Package) -> list[Requirement]:
    environment = {key: str(value) for key, value in default_environment().items()}
    environment["extra"] = ""
    found = []
    for text in package.data.get("project", {}).get("dependencies", []) or []:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue  # the workspace loader reports invalid requirements
        if requirement.marker is None or requirement.marker.evaluate(environment):
            found.append(requirement)
    return found


def _names_in(folders: Sequence[Path]) -> set[str]:
    names: set[str] = set()
    for folder in folders:
        for path in folder.iterdir() if folder.is_dir() else []:
            parsed = dist_filename_or_none(path.name)
            if parsed is not None:
                names.add(parsed.name)
    return names


def _smoke_install_failed(
    exc: CommandFailed,
    wheel: Path,
    requirements: Sequence[Requirement],
    own_names: Collection[str],
) -> SmokeFailed:
    missing = exc.missing if isinstance(exc, InstallFailed) else None
    if missing is None:
        reason = last_line(exc.output) or exc.message
        siblings = ", ".join(str(r) for r in requirements) or "none"
        return SmokeFailed(
            f"the wheel {wheel.name!r} does not install in a fresh venv: {reason}",
            f"its requirements ({siblings}) must be built ({nox_command('build', 'NAME')}) "
            "or be on the index",
        )
    looked_in = exc.looked_in if isinstance(exc, InstallFailed) else "the index"
    name = canonicalize_name(re.split(r"[\s<>=!~;\[(@]", missing, maxsplit=1)[0])
    # the requirement as the package states it, when it is a direct one
    stated = next((str(r) for r in requirements if canonicalize_name(r.name) == name), missing)
    third_party = (
        "set dependency-index in [tool.releasekit.indexes.NAME] to an index that has it "
        '(for PyPI: "https://pypi.org/simple/"), or upload it to the index you release to'
    )
    if name in {canonicalize_name(n) for n in own_names}:
        hint = f"{name} is a package of this workspace: build it too ({nox_command('build', name)})"
    elif own_names:
        hint = f"{stated!r} is a third-party requirement: {third_party}"
    else:
        hint = (
            f"{stated!r}: build it too ({nox_command('build', name)}) when it is a package "
            f"of this workspace; otherwise {third_party}"
        )
    return SmokeFailed(
        f"the wheel {wheel.name!r} does not install in a fresh venv: the requirement "
        f"{stated!r} was not found (looked in {looked_in})",
        hint,
    )


def _versions_in(folders: Sequence[Path]) -> dict[str, Version]:
    """The newest version of each distribution whose wheel is in ``folders``."""
    found: dict[str, Version] = {}
    for folder in folders:
        for path in folder.glob("*.whl") if folder.is_dir() else []:
            parsed = dist_filename_or_none(path.name)
            if parsed is not None:
                found[parsed.name] = max(parsed.version, found.get(parsed.name, parsed.version))
    return found


def smoke_test(
    package: Package,
    version: str,
    dists: Dists,
    *,
    work_dir: Path | None = None,
    find_links: Sequence[Path] = (),
    index_url: str | None = None,
    dependency_index_url: str | None = None,
    own_names: Collection[str] = (),
    logins: Mapping[str, tuple[str, str]] | None = None,
) -> Proof:
    """Install the wheel into a fresh venv outside the repository and prove the version.

    The venv lives in ``work_dir`` (default: a temporary folder, removed after)
    and every command runs there, with pip and uv configuration ignored.
    Requirements are looked up in ``find_links`` and in the ``dist/<name>/``
    folders of sibling packages; when all of them are found there, the install
    uses no index at all (an unreleased sibling pin such as
    ``oxi-core==0.1.0a2`` is satisfied by the sibling's fresh build).  When
    some requirement is not built locally, ``index_url`` (default: PyPI) is
    used for it, and ``dependency_index_url`` after it for third-party
    requirements (``own_names``, the workspace's packages, never come from
    there).  Then :func:`prove_installed` runs with the
    package's console scripts and ``smoke`` commands.
    """
    from releasekit import smoke_ahead

    wheel = _installable_wheel(dists)
    where = (find_links, index_url, dependency_index_url, own_names, logins)
    key = smoke_ahead.wheel_key(wheel, *where) if work_dir is None else None
    prepared = smoke_ahead.take(key, package.name)
    with contextlib.ExitStack() as stack:
        if prepared is not None:
            stack.enter_context(prepared.stack)
            work, venv = prepared.work, prepared.venv
        else:
            work = _smoke_work_dir(stack, package, work_dir)
            venv = install_for_smoke(work, package, wheel, *where)
        proof = prove_installed(
            venv,
            package.name,
            version,
            cwd=work,
            console_scripts=package.console_scripts,
            smoke=[shlex.join(package.command(s, version)) for s in package.settings.smoke],
        )
    log.info("smoke test of %s %s passed", package.name, version)
    return Proof((f"{wheel.name} installed in a fresh venv", *proof.lines))


def start_smoke_ahead(
    package: Package,
    dists: Dists,
    *,
    find_links: Sequence[Path] = (),
    index_url: str | None = None,
    dependency_index_url: str | None = None,
    own_names: Collection[str] = (),
    logins: Mapping[str, tuple[str, str]] | None = None,
) -> None:
    """Make the venv :func:`smoke_test` with these arguments will take, in the background
    (see :mod:`releasekit.smoke_ahead`); nothing when the wheel is missing."""
    from releasekit import smoke_ahead

    try:
        wheel = _installable_wheel(dists)
    except SmokeFailed:
        return
    where = (find_links, index_url, dependency_index_url, own_names, logins)
    smoke_ahead.start(
        smoke_ahead.wheel_key(wheel, *where),
        lambda work: install_for_smoke(work, package, wheel, *where),
        package.name,
    )


def install_for_smoke(  # noqa: PLR0917 - smoke_test's own arguments, passed on
    work: Path,
    package: Package,
    wheel: Path,
    find_links: Sequence[Path],
    index_url: str | None,
    dependency_index_url: str | None,
    own_names: Collection[str],
    logins: Mapping[str, tuple[str, str]] | None,
) -> Venv:
    """A fresh venv in ``work`` with ``wheel`` installed (requirements as smoke_test says)."""
    requirements = _requirements(package)
    options, external = _smoke_install_options(
        package,
        wheel,
        requirements,
        find_links=find_links,
        own_names=own_names,
        index_url=index_url,
        dependency_index_url=dependency_index_url,
        logins=logins or {},
    )
    if external:
        log.info(
            "%s needs %s, not built here: installing those from %s",
            package.name,
            ", ".join(external),
            " then ".join(u for u in (index_url, dependency_index_url) if u)
            or "the default index (PyPI)",
        )
    venv = create_venv(work / "venv")
    try:
        install_into(venv, [str(wheel.absolute())], cwd=work, options=options)
    except CommandFailed as exc:
        raise _smoke_install_failed(exc, wheel, requirements, own_names) from exc
    return venv


def _smoke_install_options(
    package: Package,
    wheel: Path,
    requirements: Sequence[Requirement],
    *,
    find_links: Sequence[Path],
    own_names: Collection[str],
    index_url: str | None,
    dependency_index_url: str | None,
    logins: Mapping[str, tuple[str, str]],
) -> tuple[InstallOptions, list[str]]:
    """Where the smoke install looks, and the requirements no local folder holds.

    The wheel's folder, ``find_links`` and the ``dist/<name>/`` folders of the
    siblings it requires; with every requirement there, no index at all.
    Otherwise the indexes are asked for the rest, and a package of the
    workspace built here is still installed as built (a constraint), whatever
    else an index offers under its name.
    """
    folders = [wheel.parent.absolute(), *(Path(folder).absolute() for folder in find_links)]
    for requirement in requirements:
        sibling = package.workspace_root / "dist" / canonicalize_name(requirement.name)
        if sibling.is_dir() and sibling.absolute() not in folders:
            folders.append(sibling.absolute())
    local = _names_in(folders)
    external = [str(r) for r in requirements if canonicalize_name(r.name) not in local]
    ours = {package.canonical_name, *(canonicalize_name(n) for n in own_names)}
    built = [
        f"{name}=={version}" for name, version in _versions_in(folders).items() if name in ours
    ]
    options = InstallOptions(
        index_url=index_url,
        dependency_index_url=dependency_index_url,
        own_names=ours,
        logins=logins,
        find_links=folders,
        no_index=not external,
        constraints=built if external else (),
    )
    return options, external


def _smoke_work_dir(
    stack: contextlib.ExitStack[bool | None], package: Package, work_dir: Path | None
) -> Path:
    """``work_dir`` (outside the repository), or a temporary folder removed on leaving ``stack``."""
    if work_dir is None:
        return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="releasekit-smoke-")))
    work = Path(work_dir).absolute()
    if work.resolve().is_relative_to(package.workspace_root.resolve()):
        raise SmokeFailed(
            f"the smoke test folder {str(work)!r} is inside the repository",
            "pass a work_dir outside the repository (or none: a temporary folder is used)",
        )
    work.mkdir(parents=True, exist_ok=True)
    return work
