"""Check built dists the way an index would, and for what an index would not.

``check_dists`` runs ``twine check --strict``, checks the file names and the
name and version in the metadata of every file, and that the wheel contains
the package's code: its import package and the modules its console scripts
run.  Every problem is collected into one
:class:`~releasekit.errors.DistCheckFailed`.  Leak-lint is in
:mod:`releasekit.leaks`.
"""

from __future__ import annotations

import contextlib
import email.message
import email.parser
import io
import logging
import tarfile
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, canonicalize_name
from packaging.version import Version

from releasekit._dist_names import parse_dist_filename
from releasekit.errors import DistCheckFailed
from releasekit.versions import parse_version, same_version
from releasekit.workspace import Package

if TYPE_CHECKING:
    from releasekit.dists import Dists

__all__ = ["check_dists"]

log = logging.getLogger("releasekit")


_TWINE_LOCK = threading.Lock()


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

    # twine's logger and sys.stdout belong to the whole process: one check at a time
    # (the packages of a release are checked concurrently)
    with _TWINE_LOCK:
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
    if not same_version(found, wanted):
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
    checklist = _Checklist(package, version, parse_version(version))
    _check_files(checklist, dists)
    _check_file_names(checklist, dists)
    _check_twine(checklist, dists)
    metadata = _check_wheels(checklist, dists)
    metadata += _sdist_metadata_problems(checklist, dists.sdist)
    checklist.problems += metadata
    if not metadata:
        checklist.passed.append(f"metadata: Name {package.name}, Version {version} in every file")
    checklist.raise_problems()
    for line in checklist.passed:
        log.info("check %s: %s", package.name, line)
    return checklist.passed


@dataclass
class _Checklist:
    """The dists' checks so far: the lines of those that passed, the problems found."""

    package: Package
    version: str
    wanted: Version
    passed: list[str] = field(default_factory=list)
    problems: list[_Problem] = field(default_factory=list)

    @property
    def rebuild(self) -> str:
        return f"rebuild them: nox -s build -- {self.package.name}"

    def raise_problems(self) -> None:
        """One :class:`DistCheckFailed` with every problem found, if there is any."""
        problems = self.problems
        if not problems:
            return
        if len(problems) == 1:
            message = problems[0].message
        else:
            message = (
                f"{len(problems)} problems with the dists of {self.package.name} {self.version}: "
                + "; ".join(problem.message for problem in problems)
            )
        raise DistCheckFailed(message, "; ".join(dict.fromkeys(p.hint for p in problems)))


def _check_files(checklist: _Checklist, dists: Dists) -> None:
    """One sdist and at least one wheel, every one of them there."""
    if not dists.wheels:
        checklist.problems.append(
            _Problem(f"no wheel beside {dists.sdist.name!r}", checklist.rebuild)
        )
    missing = [path for path in dists.files if not path.is_file()]
    if missing:
        raise DistCheckFailed(f"dist file {str(missing[0])!r} does not exist", checklist.rebuild)
    checklist.passed.append(f"files: 1 sdist, {len(dists.wheels)} wheel(s)")


def _check_file_names(checklist: _Checklist, dists: Dists) -> None:
    """Every file name parses, to the package's name and the version checked."""
    package, rebuild = checklist.package, checklist.rebuild
    names_ok = True
    for path in dists.files:
        try:
            parsed = parse_dist_filename(path.name)
        except (InvalidSdistFilename, InvalidWheelFilename) as exc:
            checklist.problems.append(
                _Problem(f"dist file name {path.name!r} is invalid: {exc}", rebuild)
            )
            names_ok = False
            continue
        if parsed.name != package.canonical_name or parsed.version != checklist.wanted:
            checklist.problems.append(
                _Problem(
                    f"dist file {path.name!r} is {parsed.name} {parsed.version}, "
                    f"not {package.canonical_name} {checklist.version}",
                    f"remove stale files from {str(path.parent)!r} and {rebuild}",
                )
            )
            names_ok = False
    if names_ok:
        checklist.passed.append(f"file names: {', '.join(path.name for path in dists.files)}")


def _check_twine(checklist: _Checklist, dists: Dists) -> None:
    """``twine check --strict`` passes for every file (PyPI can render the description)."""
    twine_failures: list[str] = []
    for path in dists.files:
        failed, messages = _twine_check(path)
        if failed:
            twine_failures += [f"{path.name}: FAILED", *messages]
    if twine_failures:
        details = " | ".join(dict.fromkeys(twine_failures))
        checklist.problems.append(
            _Problem(
                f"twine check --strict failed: {details}",
                "fix the long description (readme) and its content-type so PyPI can render it",
            )
        )
    else:
        checklist.passed.append("twine check --strict: PASSED")


def _check_wheels(checklist: _Checklist, dists: Dists) -> list[_Problem]:
    """Each wheel reads and holds the package's code; return its metadata's problems."""
    package, version, wanted = checklist.package, checklist.version, checklist.wanted
    metadata_problems: list[_Problem] = []
    for wheel in dists.wheels:
        try:
            metadata, names, entry_points = _read_wheel(wheel)
        except zipfile.BadZipFile as exc:
            checklist.problems.append(
                _Problem(f"wheel {wheel.name!r} is not a zip file: {exc}", checklist.rebuild)
            )
            continue
        metadata_problems += _metadata_problems(package, version, wanted, wheel.name, metadata)
        content = _wheel_content_problems(package, wheel, names, entry_points)
        checklist.problems += content
        if not content:
            contains = ", ".join(sorted(_import_names(names)))
            checklist.passed.append(f"{wheel.name} contains {contains}")
    return metadata_problems


def _sdist_metadata_problems(checklist: _Checklist, sdist: Path) -> list[_Problem]:
    """The problems of the sdist's PKG-INFO (an unreadable sdist is a problem of its own)."""
    try:
        pkg_info = _metadata_from_sdist(sdist)
    except (tarfile.TarError, OSError) as exc:
        checklist.problems.append(
            _Problem(f"sdist {sdist.name!r} cannot be read: {exc}", checklist.rebuild)
        )
        return []
    if pkg_info is None:
        return [_Problem(f"sdist {sdist.name!r} has no PKG-INFO", checklist.rebuild)]
    return _metadata_problems(
        checklist.package, checklist.version, checklist.wanted, sdist.name, pkg_info
    )
