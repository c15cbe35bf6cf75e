"""Build a package's sdist and wheel, and find dists already built.

``build_dists`` builds the sdist with pypa/build in an isolated environment,
unpacks it, and builds the wheel *from the unpacked sdist*: a file the sdist
forgot breaks the build here, not on a user's machine.  The checks of the
built files are in :mod:`releasekit.dist_checks` (``check_dists``), the local
smoke test in :mod:`releasekit.smoke` (``smoke_test``), leak-lint in
:mod:`releasekit.leaks`; ``check_dists`` and ``smoke_test`` are importable
from here too.
"""

from __future__ import annotations

import contextlib
import email.parser
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal

from packaging.version import InvalidVersion as _PackagingInvalidVersion
from packaging.version import Version

from releasekit._dist_names import dist_filename_or_none, parse_dist_filename
from releasekit._hook_runner import HookRunner
from releasekit._process import find_uv, run
from releasekit._text import last_line, output_tail
from releasekit.dist_checks import check_dists
from releasekit.errors import (
    BuildFailed,
    CommandFailed,
    DeadlineExceeded,
    DistCheckFailed,
    InvalidVersion,
)
from releasekit.smoke import smoke_test
from releasekit.versions import parse_version
from releasekit.workspace import Package

if TYPE_CHECKING:
    import build
    from build.env import DefaultIsolatedEnv

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


# --- build -------------------------------------------------------------------------


def _build_failed(exc: Exception, what: str, name: str, fix: str) -> BuildFailed:
    """Turn pypa/build's exceptions into a BuildFailed with the backend's own words."""
    import build

    cause: BaseException = exc
    if isinstance(exc, (build.BuildBackendException, build.FailedProcessError)):
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
        build.FailedProcessError,  # build could not create its isolated environment
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


# Requirement sets a uv install in this process has resolved online: the uv cache holds
# them, so a later environment with the same set is filled from the cache (--offline)
# instead of asking the index again (a round trip per install, ~0.2 s on PyPI).
_RESOLVED_ONLINE: set[frozenset[str]] = set()


class _BuildEnv:
    """pypa/build's isolated environment, its build requirements installed through our runner.

    The environment is build's own ``DefaultIsolatedEnv`` (with ``installer="uv"``
    when uv is there, else pip): its interpreter and the variables the backend
    runs with come from it.  The requirements are installed with that installer
    and its usual configuration, as build does, but through
    :func:`releasekit._process.run`: the installer gets no credentials, its
    command is logged, and a deadline bounds it.  The backend's hooks run
    through ``runner`` (:class:`releasekit._hook_runner.HookRunner`: forked
    from one process that imported the backend once); installing anything
    stops its servers, so no hook runs with a backend imported before.
    """

    def __init__(self, env: DefaultIsolatedEnv, uv: str | None, runner: HookRunner) -> None:
        self._env = env
        self._uv = uv
        self.runner = runner

    @property
    def python_executable(self) -> str:
        return self._env.python_executable

    @property
    def path(self) -> str:
        return self._env.path

    def make_extra_environ(self) -> Mapping[str, str]:
        return self._env.make_extra_environ()

    def install(self, requirements: Collection[str]) -> None:
        if not requirements:
            return
        wanted = frozenset(requirements)
        self.runner.forget()
        tool = "uv" if self._uv else "pip"
        log.info("installing the build requirements %s (%s)", ", ".join(sorted(wanted)), tool)
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        env["VIRTUAL_ENV"] = self._env.path
        keyring_setting = "UV_KEYRING_PROVIDER" if self._uv else "PIP_KEYRING_PROVIDER"
        if keyring_setting not in env and shutil.which("keyring"):
            env[keyring_setting] = "subprocess"  # as pypa/build does: private indexes
        if self._uv is None:
            self._pip_install(wanted, env)
        else:
            self._uv_install(self._uv, wanted, env)

    def _pip_install(self, wanted: frozenset[str], env: Mapping[str, str]) -> None:
        # build makes the venv without pip when the running interpreter's pip can
        # install into it (``pip --python``), with pip otherwise
        scripts = Path(self.python_executable).parent
        if (scripts / ("pip.exe" if os.name == "nt" else "pip")).exists():
            pip = [self.python_executable, "-Im", "pip"]
        else:
            pip = [sys.executable, "-m", "pip", "--python", self.python_executable]
        # pip honours environment markers from a requirements file, not from arguments
        listed = Path(self._env.path) / "build-requirements.txt"
        listed.write_text("\n".join(sorted(wanted)) + "\n", encoding="utf-8")
        run(
            [*pip, "install", "--use-pep517", "--no-warn-script-location", "--no-compile",
             "--no-input", "-r", str(listed)],
            env=env,
            what="installing the build requirements",
            hint="the build backend must be installable with your usual pip configuration",
        )  # fmt: skip

    def _uv_install(self, uv: str, wanted: frozenset[str], env: Mapping[str, str]) -> None:
        command = [uv, "pip", "install", "--python", self.python_executable]
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
def _isolated_env() -> Iterator[_BuildEnv]:
    """A fresh isolated build environment, filled with uv when uv is there, else with pip."""
    from build.env import DefaultIsolatedEnv

    uv = find_uv()
    with DefaultIsolatedEnv(installer="uv" if uv else "pip") as env, HookRunner() as runner:
        yield _BuildEnv(env, uv, runner)


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

    from releasekit.version_source import package_version_files

    watched = [package.pyproject, package.root / "setup.py", package.root / "setup.cfg"]
    watched += [entry.path for entry in package_version_files(package)]
    key = (str(package.root), *(p.read_text("utf-8") if p.is_file() else "" for p in watched))
    if key in _BACKEND_VERSIONS:
        return _BACKEND_VERSIONS[key]
    log.info("asking the build backend of %s for its version (%s)", package.name, detail)
    with tempfile.TemporaryDirectory(prefix="releasekit-metadata-") as scratch:
        with (
            _build_errors("metadata", package),
            _isolated_env() as env,
        ):
            builder = build.ProjectBuilder.from_isolated_env(env, package.root, runner=env.runner)
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

    wanted = parse_version(version)
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
            env, installed = _sdist_env(package, envs)
            builder = build.ProjectBuilder.from_isolated_env(env, package.root, runner=env.runner)
            sdist = _build(env, builder, "sdist", built_dir, installed)
            built_version = parse_dist_filename(sdist.name).version
            if built_version != wanted:
                raise BuildFailed(
                    f"the sdist of {package.name!r} is version {str(built_version)!r}, "
                    f"not {version!r}: {sdist.name!r}",
                    "the version at the source differs: bump it, or build the version it has",
                )
            log.info("building the wheel of %s %s from the unpacked sdist", package.name, version)
            unpacked = _unpack_sdist(sdist, Path(scratch) / "sdist")
        with _build_errors("wheel (from the sdist)", package):
            wheel_builder = build.ProjectBuilder.from_isolated_env(env, unpacked, runner=env.runner)
            if set(wheel_builder.build_system_requires) != set(builder.build_system_requires):
                log.info("the sdist asks for another build system: a fresh build environment")
                env = envs.enter_context(_isolated_env())
                wheel_builder = build.ProjectBuilder.from_isolated_env(
                    env, unpacked, runner=env.runner
                )
                installed = set()
            wheel = _build(env, wheel_builder, "wheel", built_dir, installed)
        sdist, wheel = _deliver([sdist, wheel], out_dir, package.name)
    log.info("built %s and %s in %s", sdist.name, wheel.name, out_dir)
    return Dists(sdist=sdist, wheels=(wheel,))


def _sdist_env(package: Package, envs: contextlib.ExitStack) -> tuple[_BuildEnv, set[str]]:
    """The environment prepared for ``package`` during the steps before the build
    (:mod:`releasekit.build_envs`) when it has the requirements the build asks for, else a
    fresh one; and what it has installed."""
    import build

    from releasekit.build_envs import take_prepared

    requires = build.ProjectBuilder(package.root).build_system_requires
    prepared = take_prepared(package, requires)
    if prepared is None:
        return envs.enter_context(_isolated_env()), set()
    return envs.enter_context(prepared), set(requires)


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
            _isolated_env() as env,
        ):
            builder = build.ProjectBuilder.from_isolated_env(env, unpacked, runner=env.runner)
            return _build(env, builder, "wheel", out_dir, set())


def find_dists(package: Package, version: str, *, out_dir: Path | None = None) -> Dists:
    """The sdist and wheels of ``package`` ``version`` already built in ``out_dir``."""
    wanted = parse_version(version)
    out_dir = Path(out_dir) if out_dir is not None else package.dist_dir
    sdists: list[Path] = []
    wheels: list[Path] = []
    for path in sorted(out_dir.iterdir()) if out_dir.is_dir() else []:
        parsed = dist_filename_or_none(path.name)
        if parsed is None or (parsed.name, parsed.version) != (package.canonical_name, wanted):
            continue
        (wheels if parsed.kind == "wheel" else sdists).append(path)
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
