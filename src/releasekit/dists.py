"""Build a package's sdist and wheel, check them, and smoke-test the wheel locally.

``build_dists`` builds the sdist with pypa/build in an isolated environment,
unpacks it, and builds the wheel *from the unpacked sdist*: a file the sdist
forgot breaks the build here, not on a user's machine.  ``check_dists`` runs
the checks an index would (``twine check --strict``, file names, metadata name
and version) plus one an index would not: the wheel must contain the package's
code.  ``smoke_test`` installs the wheel into a fresh venv outside the
repository and proves the version (see :mod:`releasekit.venvs`).  Leak-lint is
in :mod:`releasekit.leaks`.
"""

from __future__ import annotations

import contextlib
import email.message
import email.parser
import io
import logging
import os
import re
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal, Protocol

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import sys_tags
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion as _PackagingInvalidVersion
from packaging.version import Version

from releasekit._process import find_uv, run
from releasekit._text import last_line, output_tail
from releasekit.errors import (
    BuildFailed,
    CommandFailed,
    DeadlineExceeded,
    DistCheckFailed,
    InstallFailed,
    InvalidVersion,
    SmokeFailed,
)
from releasekit.session_names import nox_command
from releasekit.venvs import Proof, Venv, create_venv, install, prove_installed
from releasekit.workspace import Package

if TYPE_CHECKING:
    import build

__all__ = [
    "Dists",
    "backend_version",
    "build_dists",
    "build_wheel_from_sdist",
    "check_dists",
    "find_dists",
    "smoke_test",
]

log = logging.getLogger("releasekit")

# What build_dists removes from the output folder before a build: dists and
# the files made from them (signatures, attestations), nothing else.
_BUILT_SUFFIXES = (".tar.gz", ".zip", ".whl", ".sigstore.json", ".sigstore", ".attestation")
_TAIL_LINES = 15


@dataclass(frozen=True)
class Dists:
    """The files of one release of one package: an sdist and its wheel(s)."""

    sdist: Path
    wheels: tuple[Path, ...]

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.sdist, *self.wheels)


def _version(version: str) -> Version:
    try:
        return Version(str(version))
    except _PackagingInvalidVersion:
        raise InvalidVersion(
            f"not a PEP 440 version: {version!r}", "write versions like 1.2.3, 0.1.0a2 or 1.0.0rc1"
        ) from None


# --- build -------------------------------------------------------------------------


def _backend_runner(
    cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None
) -> None:
    """pyproject-hooks runner: the backend runs through releasekit's one process runner."""
    run(
        cmd,
        cwd=Path(cwd) if cwd else None,
        env={**os.environ, **(extra_environ or {})},
        what="the build backend",
    )


def _build_failed(exc: Exception, what: str, name: str, fix: str) -> BuildFailed:
    """Turn pypa/build's exceptions into a BuildFailed with the backend's own words."""
    import build

    cause: BaseException = exc
    if isinstance(exc, build.BuildBackendException):
        cause = exc.exception
    output = ""
    if isinstance(cause, CommandFailed):
        output = cause.output
    elif isinstance(cause, subprocess.CalledProcessError):
        for stream in (cause.stdout, cause.stderr):
            if stream:
                output += stream.decode(errors="replace") if isinstance(stream, bytes) else stream
    fallback = cause.message if isinstance(cause, CommandFailed) else str(exc)
    reason = last_line(output) or fallback or type(exc).__name__
    message = f"building the {what} of {name!r} failed: {reason}"
    if output and output_tail(output, _TAIL_LINES) != reason:
        message += "\n" + output_tail(output, _TAIL_LINES)
    if any(marker in reason for marker in _OUT_OF_SPACE):
        fix = (
            "the disk (or a file-size limit) ran out while building, in the temporary folder "
            "(TMPDIR): free some space and build again; dist/ was left as it was"
        )
    return BuildFailed(message, fix)


_OUT_OF_SPACE = ("No space left on device", "File too large", "Disk quota exceeded")


@contextlib.contextmanager
def _build_errors(what: str, package: Package | None, name: str = "") -> Iterator[None]:
    import build

    try:
        yield
    except (
        build.BuildException,
        build.BuildBackendException,
        CommandFailed,  # installing the build requirements (uv)
        subprocess.CalledProcessError,
        OSError,
        RuntimeError,
    ) as exc:
        cause = exc.exception if isinstance(exc, build.BuildBackendException) else exc
        if isinstance(cause, DeadlineExceeded):
            raise cause from None  # out of time, not a broken build
        if package is not None:
            fix = (
                f"fix the build configuration in {str(package.pyproject)!r}, then run "
                f"'nox -s build -- {package.name}' again"
            )
            raise _build_failed(exc, what, package.name, fix) from exc
        fix = "the published sdist does not build: fix the project and release a new version"
        raise _build_failed(exc, what, name, fix) from exc


def _clean(out_dir: Path, keep: Collection[Path] = ()) -> None:
    if not out_dir.is_dir():
        return
    for path in out_dir.iterdir():
        if path in keep:
            continue
        if path.is_file() and path.name.endswith(_BUILT_SUFFIXES):
            if not path.name.startswith(_PARTIAL):
                log.info("removing old %s", path)
            path.unlink()


def _unpack_sdist(sdist: Path, into: Path) -> Path:
    """Unpack ``sdist`` under ``into``; return its single top-level directory."""
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(into, filter="data")
        else:  # pragma: no cover - Pythons before the extraction filters (3.10.11 and older)
            for member in archive.getmembers():
                if member.name.startswith("/") or ".." in PurePosixPath(member.name).parts:
                    raise BuildFailed(
                        f"sdist {sdist.name!r} has an unsafe member {member.name!r}",
                        "the build backend wrote a path outside the archive; report it upstream",
                    )
            archive.extractall(into)  # noqa: S202 - members checked just above
    tops = [path for path in into.iterdir() if path.is_dir()]
    if len(tops) != 1 or not (tops[0] / "pyproject.toml").is_file():
        raise BuildFailed(
            f"sdist {sdist.name!r} has no single top-level folder with a pyproject.toml",
            "the sdist must contain pyproject.toml: check the sdist include settings",
        )
    return tops[0]


class _BuildEnv(Protocol):
    """An isolated build environment: pypa/build's ``IsolatedEnv`` that can install."""

    @property
    def python_executable(self) -> str: ...

    def make_extra_environ(self) -> Mapping[str, str] | None: ...

    def install(self, requirements: Collection[str]) -> None: ...


# Requirement sets a uv install in this process has resolved online: the uv cache holds
# them, so a later environment with the same set is filled from the cache (--offline)
# instead of asking the index again (a round trip per install, ~0.2 s on PyPI).
_RESOLVED_ONLINE: set[frozenset[str]] = set()


class _BuildVenv:
    """An isolated build environment made and filled through releasekit's runner.

    The venv comes from :func:`releasekit.venvs.create_venv` (the one venv path);
    the build requirements are installed with uv when ``uv`` is given, else with
    the venv's pip, each with the installer's usual configuration, as pypa/build's
    own environments do.  Going through the runner means the installer and the
    backend get no credentials (see :mod:`releasekit._process`).
    """

    def __init__(self, uv: str | None, path: Path) -> None:
        self._uv = uv
        self._venv: Venv = create_venv(path)

    @property
    def python_executable(self) -> str:
        return str(self._venv.python)

    def make_extra_environ(self) -> dict[str, str]:
        path = os.environ.get("PATH")
        scripts = str(self._venv.bin_dir)
        # an empty PYTHONPATH overrides the caller's: the backend sees only this env
        return {"PATH": os.pathsep.join([scripts, path]) if path else scripts, "PYTHONPATH": ""}

    def install(self, requirements: Collection[str]) -> None:
        if not requirements:
            return
        wanted = frozenset(requirements)
        tool = "uv" if self._uv else "pip"
        log.info("installing the build requirements %s (%s)", ", ".join(sorted(wanted)), tool)
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        env["VIRTUAL_ENV"] = str(self._venv.path)
        keyring_setting = "UV_KEYRING_PROVIDER" if self._uv else "PIP_KEYRING_PROVIDER"
        if keyring_setting not in env and shutil.which("keyring"):
            env[keyring_setting] = "subprocess"  # as pypa/build does: private indexes
        if self._uv is None:
            # pip honours environment markers from a requirements file, not from arguments
            listed = self._venv.path / "build-requirements.txt"
            listed.write_text("\n".join(sorted(wanted)) + "\n", encoding="utf-8")
            run(
                [self.python_executable, "-Im", "pip", "install", "--use-pep517",
                 "--no-warn-script-location", "--no-compile", "--no-input", "-r", str(listed)],
                env=env,
                what="installing the build requirements",
                hint="the build backend must be installable with your usual pip configuration",
            )  # fmt: skip
            return
        command = [self._uv, "pip", "install", "--python", self.python_executable]
        if wanted in _RESOLVED_ONLINE:
            try:
                run([*command, "--offline", *sorted(wanted)], env=env, what="uv (from its cache)")
                return
            except CommandFailed:
                log.debug("the uv cache lacks %s now: asking the index", sorted(wanted))
        run(
            [*command, *sorted(wanted)],
            env=env,
            what="installing the build requirements",
            hint="the build backend must be installable with your usual uv/pip configuration",
        )
        _RESOLVED_ONLINE.add(wanted)


@contextlib.contextmanager
def _isolated_env(scratch: Path) -> Iterator[_BuildEnv]:
    """A fresh isolated build environment, filled with uv when uv is there, else with pip."""
    yield _BuildVenv(find_uv(), scratch / "build-env")


def _build(
    env: _BuildEnv,
    builder: build.ProjectBuilder,
    distribution: Literal["sdist", "wheel"],
    out_dir: Path,
    installed: set[str],
) -> Path:
    """Build ``distribution`` with ``builder``; ``installed``: what ``env`` already has."""

    def install(requirements: Collection[str]) -> None:
        missing = set(requirements) - installed
        env.install(missing)
        installed.update(missing)

    install(builder.build_system_requires)
    install(builder.get_requires_for_build(distribution))  # asks the backend: after the above
    return Path(builder.build(distribution, out_dir))


_BACKEND_VERSIONS: dict[tuple[str, ...], Version] = {}


def backend_version(package: Package, detail: str = "") -> Version:
    """The version the build backend gives ``package`` (PEP 517 metadata hook), cached.

    For a version source releasekit does not know: the backend is installed
    into an isolated environment and asked for the wheel's metadata
    (``prepare_metadata_for_build_wheel``, or a wheel build when the backend
    lacks that hook), exactly as pypa/build does.  The answer is cached per
    package root and the texts of its pyproject, setup files and
    ``version-files`` for the life of the process.
    """
    import build

    from releasekit.versioning import package_version_files

    watched = [package.pyproject, package.root / "setup.py", package.root / "setup.cfg"]
    watched += [entry.path for entry in package_version_files(package)]
    key = (str(package.root), *(p.read_text("utf-8") if p.is_file() else "" for p in watched))
    if key in _BACKEND_VERSIONS:
        return _BACKEND_VERSIONS[key]
    log.info("asking the build backend of %s for its version (%s)", package.name, detail)
    with tempfile.TemporaryDirectory(prefix="releasekit-metadata-") as scratch:
        with (
            _build_errors("metadata", package),
            _isolated_env(Path(scratch)) as env,
        ):
            builder = build.ProjectBuilder.from_isolated_env(
                env, package.root, runner=_backend_runner
            )
            env.install(builder.build_system_requires)
            env.install(builder.get_requires_for_build("wheel"))
            info = Path(builder.metadata_path(Path(scratch) / "out"))
        metadata = email.parser.BytesParser().parsebytes((info / "METADATA").read_bytes())
    text = metadata.get("Version", "")
    try:
        version = Version(text)
    except _PackagingInvalidVersion:
        raise InvalidVersion(
            f"{package.name}: the build backend says the version is {text!r}, "
            "not a PEP 440 version",
            f"fix the version source ({detail})",
        ) from None
    _BACKEND_VERSIONS[key] = version
    return version


def build_dists(package: Package, version: str, *, out_dir: Path | None = None) -> Dists:
    """Build the sdist of ``package``, then its wheel from that sdist, into ``out_dir``.

    ``out_dir`` defaults to ``dist/<name>/`` at the workspace root.  The
    build writes into a temporary folder; only finished files are moved into
    ``out_dir``, and only then are the old dists, signatures and attestations
    there removed (other files are not touched): a failed or interrupted
    build, or a full disk, leaves ``out_dir`` as it was.  The build backend
    is installed into an isolated environment (with uv when available, else
    pip); the wheel is built in the same
    environment when the sdist asks for the same build system (it normally
    does), else in a fresh one.  ``version`` is what the source must build:
    another version in the file names is a :class:`BuildFailed`.
    """
    import build

    wanted = _version(version)
    out_dir = Path(out_dir) if out_dir is not None else package.dist_dir
    installer = "uv" if find_uv() else "pip"
    with (
        tempfile.TemporaryDirectory(prefix="releasekit-build-") as scratch,
        contextlib.ExitStack() as envs,
    ):
        built_dir = Path(scratch) / "built"  # finished files move to out_dir at the end
        with _build_errors("sdist", package):
            log.info(
                "building the sdist of %s %s (backend via %s)", package.name, version, installer
            )
            env = envs.enter_context(_isolated_env(Path(scratch)))
            installed: set[str] = set()
            builder = build.ProjectBuilder.from_isolated_env(
                env, package.root, runner=_backend_runner
            )
            sdist = _build(env, builder, "sdist", built_dir, installed)
            _, built_version = parse_sdist_filename(sdist.name)
            if built_version != wanted:
                raise BuildFailed(
                    f"the sdist of {package.name!r} is version {str(built_version)!r}, "
                    f"not {version!r}: {sdist.name!r}",
                    "the version at the source differs: bump it, or build the version it has",
                )
            log.info("building the wheel of %s %s from the unpacked sdist", package.name, version)
            unpacked = _unpack_sdist(sdist, Path(scratch) / "sdist")
        with _build_errors("wheel (from the sdist)", package):
            wheel_builder = build.ProjectBuilder.from_isolated_env(
                env, unpacked, runner=_backend_runner
            )
            if set(wheel_builder.build_system_requires) != set(builder.build_system_requires):
                log.info("the sdist asks for another build system: a fresh build environment")
                env = envs.enter_context(_isolated_env(Path(scratch) / "wheel"))
                wheel_builder = build.ProjectBuilder.from_isolated_env(
                    env, unpacked, runner=_backend_runner
                )
                installed = set()
            wheel = _build(env, wheel_builder, "wheel", built_dir, installed)
        sdist, wheel = _deliver([sdist, wheel], out_dir, package.name)
    log.info("built %s and %s in %s", sdist.name, wheel.name, out_dir)
    return Dists(sdist=sdist, wheels=(wheel,))


_PARTIAL = ".rk-partial-"  # a file being copied into dist/; never a dist name


def _deliver(built: Sequence[Path], out_dir: Path, name: str) -> list[Path]:
    """Move finished dists into ``out_dir``: all of them, or none and ``out_dir`` unchanged.

    Each file is first copied beside its final place under a hidden partial
    name (a full disk fails here, and the partial copies are removed); only
    when every copy is complete are the old dists removed and the copies
    renamed into place (a rename neither writes data nor fails half-done).
    """
    staged: list[tuple[Path, Path]] = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for path in built:
            partial = out_dir / f"{_PARTIAL}{path.name}"
            staged.append((partial, out_dir / path.name))
            shutil.copyfile(path, partial)
    except OSError as exc:
        for partial, _ in staged:
            partial.unlink(missing_ok=True)
        raise BuildFailed(
            f"writing the dists of {name!r} into {str(out_dir)!r} failed: {exc.strerror or exc}",
            f"free some space there (or fix its permissions) and build again; "
            f"{str(out_dir)!r} was left as it was",
        ) from None
    except BaseException:  # interrupted: no partial file stays behind
        for partial, _ in staged:
            partial.unlink(missing_ok=True)
        raise
    _clean(out_dir, keep=[partial for partial, _ in staged])
    for partial, final in staged:
        partial.replace(final)
    return [final for _, final in staged]


def build_wheel_from_sdist(sdist: Path, out_dir: Path) -> Path:
    """Build a wheel from an sdist file (as pip would to install it) into ``out_dir``.

    The build backend is installed into a fresh isolated environment the same
    way :func:`build_dists` installs it (uv when available, else pip, with the
    installer's usual configuration).  Verify uses this to prove a published
    sdist builds and installs.
    """
    import build

    name = sdist.name.removesuffix(".tar.gz")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="releasekit-sdist-") as scratch:
        unpacked = _unpack_sdist(sdist, Path(scratch) / "sdist")
        log.info("building a wheel from the published sdist %s", sdist.name)
        with (
            _build_errors("wheel (from the published sdist)", None, name),
            _isolated_env(Path(scratch)) as env,
        ):
            builder = build.ProjectBuilder.from_isolated_env(env, unpacked, runner=_backend_runner)
            return _build(env, builder, "wheel", out_dir, set())


def find_dists(package: Package, version: str, *, out_dir: Path | None = None) -> Dists:
    """The sdist and wheels of ``package`` ``version`` already built in ``out_dir``."""
    wanted = _version(version)
    out_dir = Path(out_dir) if out_dir is not None else package.dist_dir
    sdists: list[Path] = []
    wheels: list[Path] = []
    for path in sorted(out_dir.iterdir()) if out_dir.is_dir() else []:
        with contextlib.suppress(InvalidSdistFilename, InvalidWheelFilename):
            if path.name.endswith(".whl"):
                name, found, _, _ = parse_wheel_filename(path.name)
                if name == package.canonical_name and found == wanted:
                    wheels.append(path)
            elif path.name.endswith((".tar.gz", ".zip")):
                name, found = parse_sdist_filename(path.name)
                if name == package.canonical_name and found == wanted:
                    sdists.append(path)
    if not sdists or not wheels:
        missing = " and ".join(
            kind for kind, found_files in (("sdist", sdists), ("wheel", wheels)) if not found_files
        )
        raise DistCheckFailed(
            f"no {missing} of {package.name} {version} in {str(out_dir)!r}",
            f"build them first: nox -s build -- {package.name}",
        )
    sdists.sort(key=lambda path: not path.name.endswith(".tar.gz"))
    return Dists(sdist=sdists[0], wheels=tuple(wheels))


# --- check -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Problem:
    message: str
    hint: str


def _twine_check(path: Path) -> tuple[bool, list[str]]:
    """``twine check --strict`` of one file, in-process: (failed, what twine logged).

    twine prints its status line with rich (wrapped to the console width): that
    is swallowed, and the status is taken from the return value instead.
    """
    from twine.commands.check import check
    from twine.exceptions import TwineException

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    twine_log = logging.getLogger("twine")
    old_propagate = twine_log.propagate
    twine_log.addHandler(handler)
    twine_log.propagate = False
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            failed = check([str(path)], strict=True)
    except TwineException as exc:
        return True, [f"{type(exc).__name__}: {exc}"]
    finally:
        twine_log.removeHandler(handler)
        twine_log.propagate = old_propagate
    lines = [line.strip() for line in buffer.getvalue().splitlines() if line.strip()]
    return bool(failed), [line.replace(str(path), path.name) for line in lines]


def _read_wheel(wheel: Path) -> tuple[email.message.Message, list[str], str]:
    """A wheel's METADATA, its member names, and its entry_points.txt ("" when absent)."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        if len(metadata) != 1:
            raise DistCheckFailed(
                f"wheel {wheel.name!r} has {len(metadata)} .dist-info/METADATA files, not one",
                "rebuild the wheel; the build backend produced a malformed wheel",
            )
        text = archive.read(metadata[0]).decode("utf-8", errors="replace")
        entry_points = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points[0]).decode(errors="replace") if entry_points else ""
    return email.parser.Parser().parsestr(text), names, scripts


def _metadata_from_sdist(sdist: Path) -> email.message.Message | None:
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            if (
                member.isfile()
                and member.name.count("/") == 1
                and member.name.endswith("/PKG-INFO")
            ):
                handle = archive.extractfile(member)
                if handle is not None:
                    text = handle.read().decode("utf-8", errors="replace")
                    return email.parser.Parser().parsestr(text)
    return None


def _metadata_problems(
    package: Package, version: str, wanted: Version, where: str, metadata: email.message.Message
) -> list[_Problem]:
    problems = []
    name = metadata.get("Name", "")
    found = metadata.get("Version", "")
    if canonicalize_name(name) != package.canonical_name:
        problems.append(
            _Problem(
                f"{where} metadata says Name {name!r}, not {package.name!r}",
                "the [project] name and the built metadata must agree: rebuild from a clean tree",
            )
        )
    try:
        same = Version(found) == wanted
    except _PackagingInvalidVersion:
        same = False
    if not same:
        problems.append(
            _Problem(
                f"{where} metadata says Version {found!r}, not {version!r}",
                "rebuild: nox -s build -- " + package.name,
            )
        )
    return problems


def _import_names(names: Sequence[str]) -> set[str]:
    """Top-level import packages and modules among a wheel's member names."""
    found = set()
    for member in names:
        parts = PurePosixPath(member).parts
        if not parts or parts[0].endswith((".dist-info", ".data")):
            continue
        if len(parts) > 1:
            if parts[-1].endswith((".py", ".so", ".pyd", ".pyi")):
                found.add(parts[0])
        elif parts[0].endswith((".py", ".so", ".pyd")):
            found.add(parts[0].split(".")[0])
    return found


def _console_script_modules(entry_points: str) -> dict[str, str]:
    modules: dict[str, str] = {}
    section = ""
    for raw in entry_points.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section in {"console_scripts", "gui_scripts"} and "=" in line:
            script, target = (part.strip() for part in line.split("=", 1))
            modules[script] = target.split(":")[0].strip()
    return modules


def _wheel_content_problems(
    package: Package, wheel: Path, names: Sequence[str], entry_points: str
) -> list[_Problem]:
    problems = []
    members = set(names)
    imports = _import_names(names)
    config_hint = (
        "check which packages the wheel target includes "
        "([tool.hatch.build.targets.wheel] packages, or [tool.setuptools] packages)"
    )
    if not imports:
        problems.append(
            _Problem(
                f"wheel {wheel.name!r} contains no import package or module, only its .dist-info "
                "(broken build config)",
                config_hint,
            )
        )
        return problems
    expected = package.canonical_name.replace("-", "_")
    for layout in (package.root / "src" / expected, package.root / expected):
        if (layout / "__init__.py").is_file() and expected not in imports:
            problems.append(
                _Problem(
                    f"wheel {wheel.name!r} lacks the import package {expected!r} "
                    f"(found at {str(layout)!r}); it has {sorted(imports)!r}",
                    config_hint,
                )
            )
    for script, module in _console_script_modules(entry_points).items():
        path = module.replace(".", "/")
        if (
            f"{path}.py" not in members
            and f"{path}/__init__.py" not in members
            and not any(
                member.startswith(f"{path}.") and member.endswith((".so", ".pyd"))
                for member in members
            )
        ):
            problems.append(
                _Problem(
                    f"console script {script!r} runs {module!r}, which wheel {wheel.name!r} "
                    "does not contain",
                    config_hint,
                )
            )
    return problems


def check_dists(package: Package, version: str, dists: Dists) -> list[str]:
    """Check the dists of ``package`` ``version``; return one line per check that passed.

    Exactly one sdist and at least one wheel; file names that parse to the
    package's name and version; ``twine check --strict``; the name and version
    in the wheel's METADATA and the sdist's PKG-INFO; the wheel contains the
    package's import package and the modules its console scripts run.  All
    problems are collected into one :class:`~releasekit.errors.DistCheckFailed`.
    """
    wanted = _version(version)
    passed: list[str] = []
    problems: list[_Problem] = []
    rebuild = f"rebuild them: nox -s build -- {package.name}"

    if not dists.wheels:
        problems.append(_Problem(f"no wheel beside {dists.sdist.name!r}", rebuild))
    missing = [path for path in dists.files if not path.is_file()]
    if missing:
        raise DistCheckFailed(f"dist file {str(missing[0])!r} does not exist", rebuild)
    passed.append(f"files: 1 sdist, {len(dists.wheels)} wheel(s)")

    names_ok = True
    for path in dists.files:
        try:
            if path.name.endswith(".whl"):
                name, found, _, _ = parse_wheel_filename(path.name)
            else:
                name, found = parse_sdist_filename(path.name)
        except (InvalidSdistFilename, InvalidWheelFilename) as exc:
            problems.append(_Problem(f"dist file name {path.name!r} is invalid: {exc}", rebuild))
            names_ok = False
            continue
        if name != package.canonical_name or found != wanted:
            problems.append(
                _Problem(
                    f"dist file {path.name!r} is {name} {found}, "
                    f"not {package.canonical_name} {version}",
                    f"remove stale files from {str(path.parent)!r} and {rebuild}",
                )
            )
            names_ok = False
    if names_ok:
        passed.append(f"file names: {', '.join(path.name for path in dists.files)}")

    twine_failures: list[str] = []
    for path in dists.files:
        failed, messages = _twine_check(path)
        if failed:
            twine_failures += [f"{path.name}: FAILED", *messages]
    if twine_failures:
        details = " | ".join(dict.fromkeys(twine_failures))
        problems.append(
            _Problem(
                f"twine check --strict failed: {details}",
                "fix the long description (readme) and its content-type so PyPI can render it",
            )
        )
    else:
        passed.append("twine check --strict: PASSED")

    metadata_problems: list[_Problem] = []
    for wheel in dists.wheels:
        try:
            metadata, names, entry_points = _read_wheel(wheel)
        except zipfile.BadZipFile as exc:
            problems.append(_Problem(f"wheel {wheel.name!r} is not a zip file: {exc}", rebuild))
            continue
        metadata_problems += _metadata_problems(package, version, wanted, wheel.name, metadata)
        content = _wheel_content_problems(package, wheel, names, entry_points)
        problems += content
        if not content:
            passed.append(f"{wheel.name} contains {', '.join(sorted(_import_names(names)))}")
    try:
        pkg_info = _metadata_from_sdist(dists.sdist)
    except (tarfile.TarError, OSError) as exc:
        problems.append(_Problem(f"sdist {dists.sdist.name!r} cannot be read: {exc}", rebuild))
    else:
        if pkg_info is None:
            metadata_problems.append(
                _Problem(f"sdist {dists.sdist.name!r} has no PKG-INFO", rebuild)
            )
        else:
            metadata_problems += _metadata_problems(
                package, version, wanted, dists.sdist.name, pkg_info
            )
    problems += metadata_problems
    if not metadata_problems:
        passed.append(f"metadata: Name {package.name}, Version {version} in every file")

    if problems:
        if len(problems) == 1:
            message = problems[0].message
        else:
            message = f"{len(problems)} problems with the dists of {package.name} {version}: " + (
                "; ".join(problem.message for problem in problems)
            )
        raise DistCheckFailed(message, "; ".join(dict.fromkeys(p.hint for p in problems)))
    for line in passed:
        log.info("check %s: %s", package.name, line)
    return passed


# --- smoke -------------------------------------------------------------------------


def _installable_wheel(dists: Dists) -> Path:
    supported = set(sys_tags())
    for wheel in dists.wheels:
        _, _, _, tags = parse_wheel_filename(wheel.name)
        if tags & supported:
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
            with contextlib.suppress(InvalidSdistFilename, InvalidWheelFilename):
                if path.name.endswith(".whl"):
                    names.add(parse_wheel_filename(path.name)[0])
                elif path.name.endswith((".tar.gz", ".zip")):
                    names.add(parse_sdist_filename(path.name)[0])
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
            with contextlib.suppress(InvalidWheelFilename):
                name, version, _build, _tags = parse_wheel_filename(path.name)
                found[name] = max(version, found.get(name, version))
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
    there).  Then :func:`releasekit.venvs.prove_installed` runs with the
    package's console scripts and ``smoke`` commands.
    """
    wheel = _installable_wheel(dists)
    requirements = _requirements(package)
    folders = [wheel.parent.absolute(), *(Path(folder).absolute() for folder in find_links)]
    for requirement in requirements:
        sibling = package.workspace_root / "dist" / canonicalize_name(requirement.name)
        if sibling.is_dir() and sibling.absolute() not in folders:
            folders.append(sibling.absolute())
    local = _names_in(folders)
    external = [str(r) for r in requirements if canonicalize_name(r.name) not in local]
    # a package of the workspace built here is installed as built, whatever else an
    # index offers under its name
    ours = {package.canonical_name, *(canonicalize_name(n) for n in own_names)}
    built = [
        f"{name}=={version}" for name, version in _versions_in(folders).items() if name in ours
    ]
    with contextlib.ExitStack() as stack:
        if work_dir is None:
            work = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="releasekit-smoke-"))
            )
        else:
            work = Path(work_dir).absolute()
            if work.resolve().is_relative_to(package.workspace_root.resolve()):
                raise SmokeFailed(
                    f"the smoke test folder {str(work)!r} is inside the repository",
                    "pass a work_dir outside the repository (or none: a temporary folder is used)",
                )
            work.mkdir(parents=True, exist_ok=True)
        venv = create_venv(work / "venv")
        if external:
            log.info(
                "%s needs %s, not built here: installing those from %s",
                package.name,
                ", ".join(external),
                " then ".join(u for u in (index_url, dependency_index_url) if u)
                or "the default index (PyPI)",
            )
        try:
            install(
                venv,
                [str(wheel.absolute())],
                cwd=work,
                find_links=folders,
                no_index=not external,
                index_url=index_url,
                dependency_index_url=dependency_index_url,
                own_names=ours,
                logins=logins,
                constraints=built if external else (),
            )
        except CommandFailed as exc:
            raise _smoke_install_failed(exc, wheel, requirements, own_names) from exc
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
